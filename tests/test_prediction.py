"""Prediction's short paths give what the general ones give, errors and warnings included."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from skorch import NeuralNet

from skdeep import MLPClassifier, MLPRegressor
from skdeep._tasks import binary_probabilities, host_probabilities

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits_model():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return MLPClassifier((32,), max_iter=5, random_state=0).fit(X, y), X


def test_small_float_arrays_predict_as_validated_ones(digits_model):
    model, X = digits_model
    as_list = model.predict_proba(X[:3].tolist())  # a list goes through scikit-learn's validation
    np.testing.assert_array_equal(model.predict_proba(X[:3]), as_list)
    np.testing.assert_array_equal(model.predict_proba(X[:3].astype(np.float32)),
                                  model.predict_proba(X[:3].astype(np.float32).tolist()))
    np.testing.assert_array_equal(model.predict(X[:1]), model.predict(X[:1].tolist()))


@pytest.mark.parametrize("bad, message", [
    (np.full((1, 64), np.nan), "Input X contains NaN"),
    (np.full((1, 64), np.inf), "Input X contains infinity"),
    (np.zeros((1, 63)), "X has 63 features, but MLPClassifier is expecting 64 features"),
    (np.zeros((0, 64)), "0 sample"),
])
def test_small_arrays_get_scikit_learns_errors(digits_model, bad, message):
    model, _ = digits_model
    with pytest.raises(ValueError, match=message):
        model.predict_proba(bad)


def test_rows_without_feature_names_still_warn_for_a_model_fitted_with_them():
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(X.to_numpy()[:1])


def test_read_only_rows_predict_without_a_warning(digits_model):
    model, X = digits_model
    rows = X[:2].copy()
    rows.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(model.predict_proba(rows), model.predict_proba(X[:2]))


def test_one_batch_forward_equals_skorchs_batched_forward(digits_model):
    model, X = digits_model
    dataset = model.net_.get_dataset(X[:700])
    with torch.inference_mode():
        one_batch = model.net_.forward(dataset)
        batched = NeuralNet.forward(model.net_, dataset)  # skorch's iterator over batches
    torch.testing.assert_close(one_batch, batched, rtol=0, atol=0)


@pytest.mark.parametrize("softmax, multilabel, torch_probabilities", [
    (True, False, lambda raw: torch.softmax(raw, dim=1)),
    (False, False, binary_probabilities),
    (False, True, torch.sigmoid),
])
def test_numpy_probabilities_equal_torchs(softmax, multilabel, torch_probabilities):
    raw = np.random.RandomState(0).normal(scale=30, size=(50, 1 if not (softmax or multilabel) else 4))
    expected = torch_probabilities(torch.from_numpy(raw)).numpy()
    np.testing.assert_allclose(host_probabilities(raw.copy(), softmax=softmax, multilabel=multilabel), expected,
                               rtol=1e-12, atol=1e-300)


def test_a_frame_and_its_rows_predict_alike():
    X, y = load_iris(return_X_y=True)
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    frame = pd.DataFrame(X[:5])
    np.testing.assert_array_equal(model.predict(frame), model.predict(X[:5]))


class _Passthrough(torch.nn.Module):
    """A module whose output, at prediction, is a view of its input."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.n_outputs = n_outputs

    def forward(self, x):
        return x[:, : self.n_outputs] if not self.training else x[:, : self.n_outputs] * self.scale


def test_probabilities_never_write_into_x_or_the_weights():
    from skdeep import TorchClassifier

    X, y = load_iris(return_X_y=True)
    model = TorchClassifier(_Passthrough, precision="float64", alpha=0.0, max_iter=2).fit(X, y)
    rows = X[:5].copy()
    model.predict_proba(rows)
    np.testing.assert_array_equal(rows, X[:5])
