"""
Quick start: skdeep beside scikit-learn's MLP
=============================================

skdeep's ``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's parameters
and return scikit-learn's attributes: change the import, keep the code. This
script trains both implementations with the same settings on data that ships
with scikit-learn and prints their test scores and fit times, then shows a few
things only skdeep does.

The fit times are the median of three fits, after one fit of each
implementation that is not timed (the first fit in a process pays one-time
start-up costs, torch's most of all), on this machine, now: other programs
running beside it slow both. The documentation's copy of this page shows
no times, since it is built while other examples run.
"""

# %%
# The same model, two implementations
# -----------------------------------
import os
import statistics
import time
import warnings

import numpy as np
import sklearn.neural_network as sknn
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skdeep

try:  # matplotlib is optional (pip install scikit-deep[plot]): without it, no figure at the end
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

warnings.filterwarnings("ignore", category=ConvergenceWarning)

CASES = [
    ("digits", load_digits, "MLPClassifier", dict(hidden_layer_sizes=(128,))),
    ("breast_cancer", load_breast_cancer, "MLPClassifier", dict(hidden_layer_sizes=(100,))),
    ("diabetes (y/100)", load_diabetes, "MLPRegressor",
     dict(hidden_layer_sizes=(16,), alpha=10.0, learning_rate_init=0.01)),
]


TIMED = not os.environ.get("SKDEEP_DOCS_BUILD")  # times taken during a docs build mean nothing


def fit_and_score(estimator, X_train, X_test, y_train, y_test):
    """Test score, and the median time of three fits (None in a docs build)."""
    model = make_pipeline(StandardScaler(), estimator)
    times = []
    for _ in range(3 if TIMED else 1):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        times.append(time.perf_counter() - start)
    return model.score(X_test, y_test), statistics.median(times) if TIMED else None


X_first, y_first = load_breast_cancer(return_X_y=True)
for library in (sknn, skdeep):  # the untimed first fits: one-time start-up costs
    library.MLPClassifier(max_iter=5).fit(X_first, y_first)

print(f"{'data set':<18}{'implementation':<16}{'test score':>11}{'fit time':>10}")
scores = {}  # (data set, implementation): test score
for name, load, estimator_name, params in CASES:
    X, y = load(return_X_y=True)
    if estimator_name == "MLPRegressor":
        y = y / 100
    split = train_test_split(X, y, test_size=0.25, random_state=0)
    for library in (sknn, skdeep):
        estimator = getattr(library, estimator_name)(random_state=0, **params)
        score, seconds = fit_and_score(estimator, *split)
        scores[name, library.__name__.split(".")[0]] = score
        fit_time = f"{seconds:>9.2f}s" if TIMED else f"{'-':>10}"
        print(f"{name:<18}{library.__name__.split('.')[0]:<16}{score:>11.3f}{fit_time}")

# %%
# What scikit-learn's MLP cannot do
# ---------------------------------
# Dropout, batch normalisation, modern activations and optimizers, a learning
# rate schedule and early stopping, on whatever device is available.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
clf = skdeep.MLPClassifier(
    hidden_layer_sizes=(256, 128),
    activation="gelu",
    solver="adamw",
    learning_rate="cosine",
    learning_rate_init=0.003,
    dropout=0.2,
    batch_norm=True,
    early_stopping=True,
    max_iter=100,
    random_state=0,
)
model = make_pipeline(StandardScaler(), clf).fit(X_train, y_train)
print(f"\nskdeep extras on digits: test accuracy {model.score(X_test, y_test):.3f} after "
      f"{clf.n_iter_} epochs on {clf.device_}")
print(clf.history_.tail(3).to_string(index=False))

# %%
# The test scores side by side (accuracy; R^2 for diabetes), and the training
# history of the model with skdeep's extras.
if plt is not None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    data_sets = [case[0] for case in CASES]
    positions = np.arange(len(data_sets))
    for offset, library in ((-0.2, "sklearn"), (0.2, "skdeep")):
        library_scores = [scores[name, library] for name in data_sets]
        bars = left.bar(positions + offset, library_scores, width=0.4, label=library)
        left.bar_label(bars, fmt="%.3f", fontsize="small")
    left.set_xticks(positions, data_sets)
    left.set(ylim=(0, 1.2), ylabel="test score", title="The same MLP, two implementations")
    left.legend(loc="upper right", ncol=2)
    skdeep.TrainingHistoryDisplay.from_estimator(model, ax=right, name="skdeep extras on digits")
    plt.show()
