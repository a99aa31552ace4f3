"""Categorical columns learned as embeddings, on the Palmer penguins and on small frames."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skdeep._categorical
from skdeep import MLPClassifier, MLPRegressor

palmerpenguins = pytest.importorskip("palmerpenguins")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def penguins():
    frame = palmerpenguins.load_penguins().dropna(subset=NUMERIC)
    X = frame[["island", "sex", *NUMERIC]].astype({"island": "category", "sex": "category"})
    X[NUMERIC] = (X[NUMERIC] - X[NUMERIC].mean()) / X[NUMERIC].std()
    return train_test_split(X, frame["species"], stratify=frame["species"], random_state=0)


def test_category_columns_become_embeddings(penguins):
    X_train, X_test, y_train, y_test = penguins
    clf = MLPClassifier(categorical_features="from_dtype", random_state=0).fit(X_train, y_train)
    np.testing.assert_array_equal(clf.is_categorical_, [True, True, False, False, False, False])
    assert [e.num_embeddings for e in clf.module_.embeddings] == [3 + 2, 3 + 2]  # + missing, unseen
    assert clf.n_features_in_ == 6 and list(clf.feature_names_in_) == list(X_train.columns)
    assert clf.score(X_test, y_test) > 0.95


def test_unseen_categories_and_missing_values_get_reserved_codes(penguins):
    X_train, X_test, y_train, _ = penguins
    clf = MLPClassifier(categorical_features=["island", "sex"], random_state=0).fit(X_train, y_train)
    odd = X_test.head(3).astype({"island": object, "sex": object})
    odd.iloc[0, 0] = "Atlantis"
    odd.iloc[1, 1] = None
    assert clf.predict(odd).shape == (3,)
    codes = clf._validate_X(odd)[:, -2:]
    assert codes[0, 0] == 1 and codes[1, 1] == 0  # unseen, missing
    assert (codes[2] >= 2).all()


def test_names_indices_and_masks_select_the_same_columns(penguins):
    X_train, _, y_train, _ = penguins
    masks = [MLPClassifier(categorical_features=spec, max_iter=2).fit(X_train, y_train).is_categorical_
             for spec in (["island", "sex"], [0, 1], [True, True, False, False, False, False], "from_dtype")]
    for mask in masks[1:]:
        np.testing.assert_array_equal(mask, masks[0])
    with pytest.raises(ValueError, match="not columns of X"):
        MLPClassifier(categorical_features=["beak"]).fit(X_train, y_train)


def test_embedding_dims_can_be_set(penguins):
    X_train, _, y_train, _ = penguins
    clf = MLPClassifier(categorical_features="from_dtype", embedding_dims={"island": 7}, max_iter=2)
    clf.fit(X_train, y_train)
    assert [e.embedding_dim for e in clf.module_.embeddings] == [7, 2]
    assert clf.coefs_[0].shape == (4 + 7 + 2, 100)


def test_numeric_nan_is_still_an_error(penguins):
    X_train, _, y_train, _ = penguins
    X_nan = X_train.copy()
    X_nan.iloc[0, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier(categorical_features="from_dtype").fit(X_nan, y_train)


def test_polars_categoricals_and_a_regressor(penguins):
    X_train, _, y_train, _ = penguins
    columns = {name: X_train[name].astype(object).where(X_train[name].notna(), None).tolist()
               for name in X_train.columns if name != "body_mass_g"}
    features = pl.DataFrame(columns).with_columns(pl.col("island", "sex").cast(pl.Categorical))
    target = X_train["body_mass_g"].to_numpy()
    reg = MLPRegressor(categorical_features="from_dtype", learning_rate_init=0.01, random_state=0)
    reg.fit(features, target)
    np.testing.assert_array_equal(reg.is_categorical_, [True, True, False, False, False])
    assert reg.score(features, target) > 0.7


def test_embeddings_against_one_hot_in_a_grid_search(penguins):
    X_train, X_test, y_train, y_test = penguins
    raw = X_train.copy()
    passthrough = ColumnTransformer(
        [("numeric", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
         ("categories", "passthrough", make_column_selector(dtype_include="category"))],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    one_hot = ColumnTransformer(
        [("numeric", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
         ("categories", OneHotEncoder(handle_unknown="ignore"), ["island", "sex"])],
    )
    pipe = make_pipeline(passthrough, MLPClassifier(random_state=0))
    search = GridSearchCV(pipe, [
        {"columntransformer": [passthrough], "mlpclassifier__categorical_features": ["from_dtype"]},
        {"columntransformer": [one_hot], "mlpclassifier__categorical_features": [None]},
    ], cv=3).fit(raw, y_train)
    scores = search.cv_results_["mean_test_score"]
    assert scores.min() > 0.95 and abs(scores[0] - scores[1]) < 0.03
    assert search.score(X_test, y_test) > 0.95
    embedded = clone(pipe).set_params(mlpclassifier__categorical_features="from_dtype").fit(raw, y_train)
    assert embedded[-1].is_categorical_.sum() == 2  # island and sex, learned as embeddings


@pytest.mark.parametrize("column", ["category", "string"])
def test_a_single_categorical_column(column):
    rng = np.random.RandomState(0)
    values = rng.choice(["x", "y", "z"], 60)
    frame = pd.DataFrame({"number": rng.normal(size=60),
                          "kind": pd.Categorical(values) if column == "category" else values})
    clf = MLPClassifier(categorical_features=["kind"], max_iter=5, random_state=0).fit(frame, values == "x")
    assert clf.is_categorical_.tolist() == [False, True]
    assert clf.predict(frame).shape == (60,)


def test_embedding_dims_for_a_column_that_is_not_categorical():
    frame = pd.DataFrame({"number": np.arange(20.0), "kind": pd.Categorical(list("ab") * 10)})
    with pytest.raises(ValueError, match=r"embedding_dims names \['nope'\].*\['kind'\]"):
        MLPClassifier(categorical_features="from_dtype", embedding_dims={"nope": 3}).fit(frame, np.arange(20) % 2)


def test_categorical_features_on_all_or_no_categorical_columns():
    kinds = pd.Categorical(list("abc") * 20)
    categories_only = pd.DataFrame({"kind": kinds, "other": pd.Categorical(list("xy") * 30)})
    clf = MLPClassifier(categorical_features="from_dtype", max_iter=5, random_state=0).fit(categories_only, kinds)
    assert clf.is_categorical_.all() and clf.predict(categories_only).shape == (60,)
    numbers = pd.DataFrame({"a": np.arange(60.0), "b": np.ones(60)})
    plain = MLPClassifier(categorical_features="from_dtype", max_iter=5, random_state=0).fit(numbers, kinds)
    assert plain.is_categorical_ is None and plain.predict(numbers).shape == (60,)


def test_a_categorical_column_left_to_numbers_points_at_from_dtype():
    frame = pd.DataFrame({"number": np.arange(6.0), "kind": pd.Categorical(list("abc") * 2)})
    with pytest.raises(ValueError, match=r"categorical columns \['kind'\].*categorical_features='from_dtype'"):
        MLPRegressor(max_iter=1).fit(frame, np.arange(6.0))
    with pytest.raises(ValueError, match=r"\['kind'\], which categorical_features=\['number'\] does not select"):
        MLPRegressor(categorical_features=["number"], max_iter=1).fit(frame, np.arange(6.0))


def test_a_categorical_column_of_numbers_is_numbers_as_in_scikit_learn():
    frame = pd.DataFrame({"number": np.arange(6.0), "kind": pd.Categorical([1, 2, 3] * 2)})
    assert MLPRegressor(max_iter=1).fit(frame, np.arange(6.0)).n_features_in_ == 2


@pytest.mark.parametrize("numbers_only", [True, False])
def test_a_warm_fit_takes_the_columns_as_the_network_was_built_whatever_categorical_features_says(numbers_only):
    frame = pd.DataFrame({"number": np.arange(8.0), "kind": pd.Categorical(list("ab") * 4)})
    X = frame[["number"]] if numbers_only else frame
    clf = MLPRegressor(categorical_features="from_dtype", warm_start=True, max_iter=1, random_state=0)
    clf.fit(X, np.arange(8.0))
    built = clf.is_categorical_
    clf.set_params(categorical_features=None if not numbers_only else "from_dtype").fit(X, np.arange(8.0))
    assert (clf.is_categorical_ is None) is numbers_only and (built is None or clf.is_categorical_ is built)


def test_y_beside_categorical_columns_only_is_checked_against_no_uninitialised_memory(monkeypatch):
    class Uninitialised:
        """numpy, whose empty arrays hold NaN, as uninitialised memory may."""

        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def empty(shape, *args, **kwargs):
            return np.full(shape, np.nan)

    monkeypatch.setattr(skdeep._categorical, "np", Uninitialised())
    frame = pd.DataFrame({"kind": pd.Categorical(list("ab") * 3)})
    assert MLPClassifier(categorical_features="from_dtype", max_iter=1).fit(frame, [0, 1] * 3).is_categorical_.all()
