"""
Categorical columns as embeddings, against one-hot encoding
===========================================================

On the Palmer penguins (``pip install palmerpenguins``; the data ships with
the package), the island and sex of each bird are categorical, the bill,
flipper and mass measurements numeric. ``categorical_features="from_dtype"``
learns an embedding for each pandas ``category`` column; a ``ColumnTransformer``
with pandas output passes those columns through untouched. A grid search
compares it with one-hot encoding, in the same pipeline.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from palmerpenguins import load_penguins
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdeep import MLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # some fits use all of the default 200 epochs

numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
penguins = load_penguins()
X = penguins[["island", "sex", *numeric]].astype({"island": "category", "sex": "category"})
y = penguins["species"]
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

scale_numeric = make_pipeline(SimpleImputer(), StandardScaler())  # numeric NaN: impute first
embeddings = ColumnTransformer(
    [("numeric", scale_numeric, numeric),
     ("categories", "passthrough", make_column_selector(dtype_include="category"))],
    verbose_feature_names_out=False,
).set_output(transform="pandas")
one_hot = ColumnTransformer(
    [("numeric", scale_numeric, numeric),
     ("categories", OneHotEncoder(handle_unknown="ignore"), ["island", "sex"])],
)

# %%
pipe = make_pipeline(embeddings, MLPClassifier(hidden_layer_sizes=(32,), random_state=0))
search = GridSearchCV(pipe, [
    {"columntransformer": [embeddings], "mlpclassifier__categorical_features": ["from_dtype"],
     "mlpclassifier__embedding_dims": [None, 4]},
    {"columntransformer": [one_hot], "mlpclassifier__categorical_features": [None]},
], cv=5).fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
results["encoding"] = ["embeddings", "embeddings (4 dims)", "one-hot"]
print(results[["encoding", "mean_test_score", "mean_fit_time"]].to_string(index=False))
print(f"test accuracy of the best: {search.score(X_test, y_test):.3f}")

# %%
# The five cross-validation scores of each encoding (dots) and their mean (bar).
folds = results[[f"split{i}_test_score" for i in range(5)]].to_numpy()
fig, ax = plt.subplots(figsize=(7, 2.8), layout="constrained")
rows = np.arange(len(results))
ax.barh(rows, results["mean_test_score"], color=["C0", "C0", "C1"], alpha=0.4)
for row, scores in zip(rows, folds, strict=True):
    ax.plot(scores, np.full(len(scores), row) + np.linspace(-0.2, 0.2, len(scores)), "ko", ms=4)
ax.set_yticks(rows, results["encoding"])
ax.invert_yaxis()
ax.set_xlim(min(0.9, folds.min() - 0.01), 1.005)
ax.set_xlabel("cross-validated accuracy")
ax.set_title("Palmer penguins: embeddings against one-hot encoding")
plt.show()

# %%
# Unseen categories and missing values have codes of their own
# -------------------------------------------------------------
model = search.best_estimator_
odd = X_test.head(2).astype({"island": object, "sex": object})
odd.iloc[0, 0] = "Atlantis"  # an island never seen at fit
odd.iloc[1, 1] = None  # a missing sex
print(model.predict(odd))
