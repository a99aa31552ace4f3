"""
Pipelines and grid search
=========================

skdeep's estimators are ordinary scikit-learn estimators: they go in a
``Pipeline`` behind a scaler, and ``GridSearchCV`` clones, tunes and scores
them with parallel workers like any other.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier

X, y = load_wine(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipe = make_pipeline(StandardScaler(), MLPClassifier(learning_rate_init=0.01, max_iter=100, random_state=0))
search = GridSearchCV(
    pipe,
    {
        "mlpclassifier__hidden_layer_sizes": [(16,), (64, 32)],
        "mlpclassifier__dropout": [0.0, 0.3],
        "mlpclassifier__alpha": [1e-4, 1e-1],
    },
    cv=3,
    n_jobs=2,
).fit(X_train, y_train)

# %%
results = pd.DataFrame(search.cv_results_).sort_values("rank_test_score")
print(results[["param_mlpclassifier__hidden_layer_sizes", "param_mlpclassifier__dropout",
               "param_mlpclassifier__alpha", "mean_test_score"]].head().to_string(index=False))
print(f"best: {search.best_params_}")
print(f"test accuracy of the refitted best pipeline: {search.score(X_test, y_test):.3f}")

# %%
# Every candidate's mean accuracy over the three folds, with its standard
# deviation; the best one, which the search refits on the whole training set,
# in orange (of tied candidates, the first in the grid).
labels = [f"{p['mlpclassifier__hidden_layer_sizes']}, dropout {p['mlpclassifier__dropout']}, "
          f"alpha {p['mlpclassifier__alpha']:g}" for p in results["params"]]
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.barh(labels, results["mean_test_score"], xerr=results["std_test_score"],
        color=["C1" if i == search.best_index_ else "C0" for i in results.index])
ax.invert_yaxis()
ax.set_xlim(0.8, 1.0)
ax.set_xlabel("mean cross-validated accuracy (wine)")
ax.set_title("GridSearchCV over a Pipeline(StandardScaler, MLPClassifier)")
plt.show()
