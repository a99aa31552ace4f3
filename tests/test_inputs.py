"""Input and target types, and the errors bad input gets."""

import subprocess
import sys
import warnings

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits, load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from skdeep import MLPClassifier, MLPRegressor
from skdeep.modules import SparseLinear

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=30, random_state=0)


@pytest.fixture(scope="module")
def iris_frame():
    return load_iris(as_frame=True, return_X_y=True)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_pandas_dataframe_keeps_and_checks_feature_names(iris_frame):
    X, y = iris_frame
    clf = MLPClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    np.testing.assert_array_equal(clf.predict(X), clf.predict(X.to_numpy()))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(X.rename(columns={X.columns[0]: "renamed"}))


def test_read_only_arrays_train_without_a_warning(tmp_path):
    # as scikit-learn's estimator checks pass memmaps; torch warns once a process, so in a process of its own
    code = ("import numpy as np\nfrom skdeep import MLPRegressor\n"
            "X = np.random.RandomState(0).normal(size=(50, 3))\ny = X.sum(axis=1)\n"
            "X.flags.writeable = y.flags.writeable = False\n"
            "MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, precision='float64').fit(X, y)\n")
    subprocess.run([sys.executable, "-W", "error::UserWarning:torch", "-W", "error:The given NumPy array",
                    "-W", "ignore::sklearn.exceptions.ConvergenceWarning", "-c", code], check=True)


def test_polars_dataframe_works_like_pandas(iris_frame):
    X, y = iris_frame
    from_pandas = MLPClassifier(**FAST).fit(X, y)
    from_polars = MLPClassifier(**FAST).fit(pl.from_pandas(X), pl.Series(y.to_numpy()))
    np.testing.assert_array_equal(from_polars.feature_names_in_, X.columns)
    np.testing.assert_array_equal(from_polars.predict(pl.from_pandas(X)), from_pandas.predict(X))


def test_float64_and_float32_inputs_train_the_same_float32_model(iris_frame):
    X, y = load_iris(return_X_y=True)
    from64 = MLPClassifier(**FAST).fit(X, y)
    from32 = MLPClassifier(**FAST).fit(X.astype(np.float32), y)
    assert next(from64.module_.parameters()).dtype == torch.float32
    from32_proba = from32.predict_proba(X.astype(np.float32))
    assert from32_proba.dtype == np.float32  # outputs keep X's dtype, as scikit-learn's
    np.testing.assert_array_equal(from64.predict_proba(X).astype(np.float32), from32_proba)
    as64 = MLPClassifier(precision="float64", **FAST).fit(X, y)
    assert next(as64.module_.parameters()).dtype == torch.float64


def test_images_are_flattened_and_their_shape_checked():
    digits = load_digits()
    images, y = digits.images / 16.0, digits.target
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, random_state=0).fit(images, y)
    assert clf.n_features_in_ == 64 and clf.input_shape_ == (8, 8)
    assert clf.score(images, y) > 0.95
    np.testing.assert_array_equal(clf.predict(images), clf.predict(images.reshape(-1, 64)))
    with pytest.raises(ValueError, match=r"shape \(4, 16\).*shape \(8, 8\)"):
        clf.predict(images.reshape(-1, 4, 16))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_matches_dense(fmt):
    X, y = load_iris(return_X_y=True)
    dense = MLPClassifier(**FAST).fit(X, y)
    sparse = MLPClassifier(**FAST).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=1e-4)


def test_wide_sparse_matrix_trains_without_a_dense_copy():
    # 20,000 x 400,000 as float32 would be 32 GB: more than the machine has.
    rng = np.random.RandomState(0)
    n_samples, n_features = 20_000, 400_000
    rows = np.repeat(np.arange(n_samples), 5)
    cols = rng.randint(0, n_features, size=rows.size)
    X = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_samples, n_features))
    signal = rng.choice(n_features, 1000, replace=False)
    y = (X[:, signal].sum(axis=1).A.ravel() > 0).astype(int)
    seen_layouts = []
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, batch_size=500, random_state=0)
    def record_first_layer_input(layer, args):
        if isinstance(layer, SparseLinear):
            seen_layouts.append(args[0].layout)

    hook = torch.nn.modules.module.register_module_forward_pre_hook(record_first_layer_input)
    try:
        clf.fit(X, y)
    finally:
        hook.remove()
    assert set(seen_layouts) == {torch.sparse_coo}
    assert clf.predict(X[:10]).shape == (10,)


@pytest.mark.parametrize("labels", [
    np.array(["setosa", "versicolor", "virginica"]),
    np.array([10, 20, 30]),
    np.array(["x", "y", "z"], dtype=object),
])
def test_any_label_type(labels):
    X, y = load_iris(return_X_y=True)
    y_labels = labels[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100,
                        random_state=0).fit(X, y_labels)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert np.isin(clf.predict(X), labels).all()
    assert clf.score(X, y_labels) > 0.9


def test_binary_bool_labels_use_one_logistic_output():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y_bool = y == 0
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0)
    clf.fit(X, y_bool)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.predict(X).dtype == bool
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert clf.score(X, y_bool) > 0.95


def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(n_samples=300, n_classes=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=200, random_state=0)
    clf.fit(X, Y)
    assert clf.n_outputs_ == 4 and clf.out_activation_ == "logistic"
    assert clf.predict(X).shape == (300, 4)
    assert set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.predict_proba(X).shape == (300, 4)
    assert (clf.predict(X) == Y).mean() > 0.85


def test_multi_output_regression():
    X, Y = make_regression(n_samples=300, n_features=6, n_targets=3, noise=1.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=300, random_state=0)
    reg.fit(X, Y / 100)
    assert reg.n_outputs_ == 3 and reg.predict(X).shape == (300, 3)
    assert reg.score(X, Y / 100) > 0.9


# -- bad input -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_or_y_is_rejected(bad):
    X, y = load_iris(return_X_y=True)
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        MLPClassifier().fit(X_bad, y)
    y_bad = y.astype(float)
    y_bad[3] = bad
    with pytest.raises(ValueError, match="Input y contains"):
        MLPRegressor().fit(X, y_bad)
    clf = MLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains"):
        clf.predict(X_bad)


def test_wrong_number_of_features_at_predict():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.zeros((2, 4)))


@pytest.mark.parametrize("param, value, message", [
    ("activation", "swish", "'activation' parameter of MLPClassifier must be a str among"),
    ("solver", "adamax", "'solver' parameter"),
    ("learning_rate_init", 0.0, "'learning_rate_init' parameter"),
    ("dropout", 1.0, "'dropout' parameter"),
    ("precision", "float8", "'precision' parameter"),
])
def test_invalid_parameter_values_are_named_at_fit(param, value, message):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(**{param: value})  # __init__ never validates
    with pytest.raises(InvalidParameterError, match=message):
        clf.fit(X, y)


def test_unknown_device_string_is_explained():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="'device' parameter must be 'auto', 'cpu', 'cuda'"):
        MLPClassifier(device="gpu").fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_cuda_without_cuda_says_so_and_points_to_auto():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available.*device='auto'"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


def test_continuous_target_for_a_classifier():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        MLPClassifier().fit(X, y + 0.5)


def test_diverging_training_stops_with_an_error_naming_the_learning_rate():
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    reg = MLPRegressor(solver="sgd", learning_rate_init=10.0, random_state=0)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights.*learning_rate_init"):
        reg.fit(X * 1e3, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(reg)
    assert not hasattr(reg, "n_features_in_")


def test_failed_warm_start_keeps_the_model_trained_before_it():
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    reg = MLPRegressor(solver="sgd", warm_start=True, max_iter=5, random_state=0).fit(X / 100, y / 100)
    before, loss_curve, n_iter = reg.predict(X / 100), list(reg.loss_curve_), reg.n_iter_
    reg.set_params(learning_rate_init=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite"):
            reg.fit(X * 1e3, y)
    np.testing.assert_array_equal(reg.predict(X / 100), before)
    assert reg.loss_curve_ == loss_curve and reg.n_iter_ == n_iter and len(reg.history_) == 5


def test_all_zero_sample_weights_are_rejected():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="non-zero"):
        MLPClassifier().fit(X, y, sample_weight=np.zeros(len(y)))


def test_sparse_input_with_early_stopping(iris):
    X, y = iris
    clf = MLPClassifier(early_stopping=True, max_iter=5, random_state=0).fit(sp.csr_matrix(X), y)
    assert len(clf.validation_scores_) == 5
