"""Reproducibility, untouched global random states, pickling and joblib."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def make(**params):
    return MLPClassifier(hidden_layer_sizes=(32,), dropout=0.2, max_iter=20, **params)


def test_same_random_state_same_model_different_one_different_model(data):
    X, y = data
    first = make(random_state=1).fit(X, y).predict_proba(X)
    again = make(random_state=1).fit(X, y).predict_proba(X)
    other = make(random_state=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_random_state_none_gives_different_models(data):
    X, y = data
    assert not np.array_equal(make().fit(X, y).predict_proba(X), make().fit(X, y).predict_proba(X))


@pytest.mark.parametrize("random_state", [0, None])
def test_global_random_states_are_untouched(data, random_state):
    X, y = data
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch, expected_numpy = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    make(random_state=random_state).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected_torch)
    np.testing.assert_array_equal(np.random.rand(3), expected_numpy)


@pytest.mark.parametrize("dump, load", [
    (pickle.dumps, pickle.loads),
    (lambda est: (lambda buffer: (joblib.dump(est, buffer), buffer.getvalue())[1])(io.BytesIO()),
     lambda raw: joblib.load(io.BytesIO(raw))),
])
def test_pickle_and_joblib_round_trips_predict_identically(data, dump, load):
    X, y = data
    clf = make(random_state=0).fit(X, y)
    restored = load(dump(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert restored.history_.equals(clf.history_)
    # a restored model keeps training where it stopped
    restored.partial_fit(X, y)
    assert restored.n_iter_ == 1 and len(restored.loss_curve_) == len(clf.loss_curve_) + 1


def test_pickled_model_holds_no_training_data(data):
    X, y = data
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True, random_state=0)
    reg.fit(np.repeat(X, 50, axis=0), np.repeat(y, 50).astype(float))
    assert len(pickle.dumps(reg)) < 100_000  # X alone is 6.8 MB


def test_module_and_device_are_views_of_the_net(data):
    X, y = data
    clf = make(random_state=0, device="cpu").fit(X, y)
    assert clf.module_ is clf.net_.module_
    assert clf.device_ == torch.device("cpu")


def _tensors_in(value):
    if torch.is_tensor(value):
        return 1
    if isinstance(value, torch.nn.Module):
        return len(value.state_dict())
    if isinstance(value, (list, tuple)):
        return sum(_tensors_in(item) for item in value)
    if isinstance(value, dict):
        return sum(_tensors_in(item) for item in value.values())
    return 0


@pytest.mark.parametrize("params", [dict(), dict(early_stopping=True), dict(precision="float16")])
def test_a_fitted_net_keeps_tensors_only_where_skorch_maps_them_to_the_cpu(data, params):
    # skorch remaps module_, optimizer_ and criterion_ when a GPU model is
    # unpickled on a CPU-only machine; a tensor anywhere else would not load there
    X, y = data
    clf = make(random_state=0, **params).fit(X, y)
    handled = tuple(clf.net_.cuda_dependent_attributes_)
    stray = {name: value for name, value in vars(clf.net_).items()
             if not name.startswith(handled) and _tensors_in(value)}
    assert stray == {}
    for _, callback in clf.net_.callbacks_:
        assert _tensors_in(vars(callback)) == 0, callback


def test_weights_round_trip_through_safetensors(data, tmp_path):
    pytest.importorskip("safetensors")
    X, y = data
    trained = make(random_state=1).fit(X, y)
    trained.net_.save_params(f_params=tmp_path / "weights.safetensors", use_safetensors=True)
    other = make(random_state=2).fit(X, y)
    assert not np.allclose(other.predict_proba(X), trained.predict_proba(X))
    other.net_.load_params(f_params=tmp_path / "weights.safetensors", use_safetensors=True)
    np.testing.assert_array_equal(other.predict_proba(X), trained.predict_proba(X))
