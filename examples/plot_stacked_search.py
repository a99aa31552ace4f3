"""
Stacked grid search: 48 networks trained as one
===============================================

``skdeep.model_selection.GridSearchCV`` is scikit-learn's ``GridSearchCV``.
Over a skdeep MLP, the fits of every candidate and fold whose networks share
their shape train together, as one stacked network, each exactly as its own
``fit`` would: the search gives scikit-learn's results in a fraction of the
time. Here, 4 penalties x 4 learning rates x 3 folds = 48 fits of a pipeline.
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn import model_selection
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier
from skdeep.model_selection import GridSearchCV

TIMED = not os.environ.get("SKDEEP_DOCS_BUILD")  # times taken during a docs build mean nothing
warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the smallest rates need more than 100 epochs

X, y = load_breast_cancer(return_X_y=True)
model = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=100, precision="float64", random_state=0))
grid = {"mlpclassifier__alpha": [1e-4, 1e-3, 1e-2, 1e-1],
        "mlpclassifier__learning_rate_init": [1e-4, 1e-3, 3e-3, 1e-2]}

searches, seconds = {}, {}
for name, search in [("skdeep, stacked", GridSearchCV), ("scikit-learn's loop", model_selection.GridSearchCV)]:
    start = time.perf_counter()
    searches[name] = search(model, grid, cv=3, scoring="neg_log_loss").fit(X, y)
    seconds[name] = time.perf_counter() - start

stacked, reference = searches.values()
print(f"fits trained stacked: {stacked.n_stacked_fits_} of {len(stacked.cv_results_['params']) * stacked.n_splits_}")
difference = np.abs(stacked.cv_results_["mean_test_score"] - reference.cv_results_["mean_test_score"]).max()
print(f"largest difference between the two searches' mean test log-losses: {difference:.1e}")
print(f"same best parameters: {stacked.best_params_ == reference.best_params_}: {stacked.best_params_}")
if TIMED:
    print(", ".join(f"{name}: {time_taken:.1f} s" for name, time_taken in seconds.items()))

# %%
# The mean cross-validated log-loss of every candidate. Each cell is the mean
# of three networks, each trained as its own fit would have trained it.
results = pd.DataFrame(stacked.cv_results_)
table = results.pivot_table(index="param_mlpclassifier__alpha", columns="param_mlpclassifier__learning_rate_init",
                            values="mean_test_score")
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
image = ax.imshow(-table.to_numpy(), cmap="viridis_r")
ax.set_xticks(range(table.shape[1]), [f"{rate:g}" for rate in table.columns])
ax.set_yticks(range(table.shape[0]), [f"{alpha:g}" for alpha in table.index])
ax.set_xlabel("learning_rate_init")
ax.set_ylabel("alpha")
for (row, column), value in np.ndenumerate(-table.to_numpy()):
    ax.text(column, row, f"{value:.3f}", ha="center", va="center", color="white" if value > 0.2 else "black")
fig.colorbar(image, label="mean cross-validated log-loss")
ax.set_title("breast_cancer: 48 fits, trained as one stacked network")
plt.show()
