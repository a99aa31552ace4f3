"""
Quick start: skdeep beside scikit-learn's MLP
=============================================

skdeep's ``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's parameters
and return scikit-learn's attributes: change the import, keep the code. This
script trains both implementations with the same settings on data that ships
with scikit-learn and prints their test scores and fit times, then trains what
scikit-learn's MLP cannot: a convolutional network with batch normalisation,
dropout, AdamW and a learning-rate schedule.

The fit times are the median of three fits of the whole pipeline (the
scaler included), the two implementations taking turns so that a slow spell
of the machine hits both alike, after one fit of each that is not timed (the
first fit in a process pays one-time start-up costs, torch's most of all).
They are this machine's, now: other programs running beside them slow both,
scikit-learn's most (its matrix products wait for every core). The
documentation's copy of this page shows no times, since it is built while
other examples run.
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

try:  # matplotlib is optional (pip install -c constraints.txt -e ".[plot]"): without it, no figure at the end
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


def fit_and_score(estimators, X_train, X_test, y_train, y_test):
    """{implementation: (test score, median time of three fits, None in a docs build)}, fitted in turns."""
    models = {name: make_pipeline(StandardScaler(), estimator) for name, estimator in estimators.items()}
    times = {name: [] for name in models}
    for _ in range(3 if TIMED else 1):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(X_train, y_train)
            times[name].append(time.perf_counter() - start)
    return {name: (model.score(X_test, y_test), statistics.median(times[name]) if TIMED else None)
            for name, model in models.items()}


X_first, y_first = load_breast_cancer(return_X_y=True)
for library in (sknn, skdeep):  # the untimed first fits: one-time start-up costs
    library.MLPClassifier(max_iter=5).fit(X_first, y_first)

print(f"{'data set':<18}{'implementation':<16}{'test score':>11}{'fit time (s)':>14}")
scores = {}  # (data set, implementation): test score
for name, load, estimator_name, params in CASES:
    X, y = load(return_X_y=True)
    if estimator_name == "MLPRegressor":
        y = y / 100
    split = train_test_split(X, y, test_size=0.25, random_state=0)
    estimators = {library.__name__.split(".")[0]: getattr(library, estimator_name)(random_state=0, **params)
                  for library in (sknn, skdeep)}
    for library, (score, seconds) in fit_and_score(estimators, *split).items():
        scores[name, library] = score
        fit_time = f"{seconds:>14.2f}" if TIMED else f"{'-':>14}"
        print(f"{name:<18}{library:<16}{score:>11.3f}{fit_time}")
if TIMED:
    print("fit time: the median of 3 fits of each pipeline, the two implementations taking turns, on this machine\n"
          "now; programs running beside this one slow both, scikit-learn's most (its matrix products wait for\n"
          "every core).")

# %%
# What scikit-learn's MLP cannot do
# ---------------------------------
# A convolutional network on the digits as the 8x8 images they are, with
# batch normalisation, dropout, AdamW and a cosine learning-rate schedule, on
# whatever device is available; the same split as above.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
cnn = skdeep.CNNClassifier(input_shape=(1, 8, 8), batch_norm=True, dropout=0.2, solver="adamw",
                           learning_rate="cosine", max_iter=30, random_state=0).fit(X_train, y_train)
print(f"\nskdeep's CNNClassifier on the digits images: test accuracy {cnn.score(X_test, y_test):.3f} "
      f"(scikit-learn's MLP: {scores['digits', 'sklearn']:.3f}), {cnn.n_iter_} epochs on {cnn.device_}")
print(cnn.history_.tail(3).to_string(index=False))

# %%
# The test scores side by side (accuracy; R^2 for diabetes), and the training
# history of the CNN.
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
    skdeep.TrainingHistoryDisplay.from_estimator(cnn, ax=right, name="CNNClassifier on the digits images")
    plt.show()
