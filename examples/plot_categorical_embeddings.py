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
import pandas as pd
from palmerpenguins import load_penguins
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdeep import MLPClassifier

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
# Unseen categories and missing values have codes of their own
# -------------------------------------------------------------
model = search.best_estimator_
odd = X_test.head(2).astype({"island": object, "sex": object})
odd.iloc[0, 0] = "Atlantis"  # an island never seen at fit
odd.iloc[1, 1] = None  # a missing sex
print(model.predict(odd))
