"""Model files without code: the saved state, skops, mlflow, versions, GPU-to-CPU loading."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

import skdeep
from skdeep import CNNClassifier, CNNRegressor, MLPClassifier, MLPRegressor, TorchClassifier, TorchRegressor
from skdeep._persistence import estimator_state

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
sio = pytest.importorskip("skops.io")


class TinyNet(nn.Module):
    """A user's module: what skops must be told to trust besides skdeep's estimator."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.linear(x)


def _fitted():
    X, y = load_iris(return_X_y=True)
    digits, labels = load_digits(return_X_y=True)
    images = digits[:200] / 16.0
    return [
        (MLPClassifier((8,), max_iter=5, early_stopping=True, random_state=0).fit(X, y), X),
        (MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, batch_norm=True, dropout=0.1).fit(X, X[:, 0]), X),
        (CNNClassifier(input_shape=(1, 8, 8), conv_filters=(4,), max_iter=2).fit(images, labels[:200]), images),
        (CNNRegressor(input_shape=(1, 8, 8), conv_filters=(4,), max_iter=2).fit(images, labels[:200] / 9), images),
        (TorchClassifier(TinyNet, max_iter=3).fit(X, y), X),
        (TorchRegressor(TinyNet, max_iter=3).fit(X, X[:, 0]), X),
        (make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=3)).fit(X, y), X),
    ]


@pytest.mark.parametrize("model, X", _fitted(), ids=lambda value: type(value).__name__)
def test_skops_round_trips_trusting_only_the_estimators_own_classes(model, X):
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    estimator = model[-1] if hasattr(model, "steps") else model
    expected = {f"{type(estimator).__module__}.{type(estimator).__qualname__}"}
    if isinstance(estimator, (TorchClassifier, TorchRegressor)):
        expected.add(f"{TinyNet.__module__}.TinyNet")  # the user's module class, a parameter
    assert set(untrusted) == expected
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_search_holding_skdeep_models_round_trips():
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(MLPClassifier(max_iter=2), {"alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
    data = sio.dumps(search)
    assert "skdeep._mlp.MLPClassifier" in sio.get_untrusted_types(data=data)
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))


def test_the_saved_state_holds_only_plain_values_and_arrays():
    model = MLPClassifier((8,), max_iter=3, random_state=0).fit(*load_iris(return_X_y=True))
    plain = (str, int, float, bool, type(None), np.ndarray)

    def check(value):
        if isinstance(value, dict):
            assert all(isinstance(key, str) for key in value)
            return all(check(item) for item in value.values())
        if isinstance(value, (list, tuple)):
            return all(check(item) for item in value)
        assert isinstance(value, plain), type(value)
        return True

    assert check(model.__getstate__())
    assert set(model.__getstate__()["_skdeep_versions"]) == {"skdeep", "torch", "skorch", "sklearn"}
    assert "_skdeep_net" not in MLPClassifier().__getstate__()  # an unfitted estimator: its parameters


def test_code_named_in_a_state_is_caught_by_skops(monkeypatch):
    import os

    model = MLPClassifier((8,), max_iter=2).fit(*load_iris(return_X_y=True))
    monkeypatch.setattr("skdeep._base.estimator_state", lambda state: {**estimator_state(state), "x": os.system})
    data = sio.dumps(model)
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        sio.loads(data, trusted=["skdeep._mlp.MLPClassifier"])


def test_loading_continues_training_as_if_never_saved():
    X, y = load_iris(return_X_y=True)
    kept = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(kept))  # the optimizer's state and the random state come back
    for model in (kept, loaded):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), kept.predict_proba(X))
    assert list(loaded.history_["epoch"]) == list(kept.history_["epoch"])


def test_another_skdeep_version_warns_and_another_layout_is_refused():
    model = MLPClassifier((8,), max_iter=2).fit(*load_iris(return_X_y=True))
    state = model.__getstate__()
    older = {**state, "_skdeep_versions": {**state["_skdeep_versions"], "skdeep": "0.0.1"}}
    with pytest.warns(skdeep.InconsistentVersionWarning, match="from skdeep 0.0.1 with skdeep"):
        MLPClassifier.__new__(MLPClassifier).__setstate__(older)
    with pytest.raises(ValueError, match="saved in another layout .*skdeep 0.0.1.*loading with skdeep"):
        MLPClassifier.__new__(MLPClassifier).__setstate__({**older, "_skdeep_format": 99})


def test_a_model_saved_on_a_gpu_loads_on_the_cpu(monkeypatch):
    X, y = load_iris(return_X_y=True)
    model = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    state = model.__getstate__()
    state["_skdeep_net"]["device"] = "cuda:0"  # as a GPU fit saves it
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = MLPClassifier.__new__(MLPClassifier)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded.__setstate__(state)
    assert loaded.device_.type == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_mlflow_saves_in_its_default_format_and_names_the_distribution(tmp_path):
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    X, y = load_iris(return_X_y=True)
    model = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    mlflow_sklearn.save_model(model, tmp_path / "model", skops_trusted_types=["skdeep._mlp.MLPClassifier"])
    assert "serialization_format: skops" in (tmp_path / "model" / "MLmodel").read_text()
    assert "scikit-deep==" in (tmp_path / "model" / "requirements.txt").read_text()
    loaded = mlflow_sklearn.load_model(str(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_mlflow_logs_and_loads_through_a_local_file_store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # (MLflow 3 keeps its file store behind this switch)
    X, y = load_iris(return_X_y=True)
    model = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    try:  # (an experiment of its own, not made the active one: no state left for other tests)
        with mlflow.start_run(experiment_id=mlflow.create_experiment("skdeep")):
            info = mlflow_sklearn.log_model(model, name="model", skops_trusted_types=["skdeep._mlp.MLPClassifier"])
        np.testing.assert_array_equal(mlflow_sklearn.load_model(info.model_uri).predict(X), model.predict(X))
    finally:
        mlflow.set_tracking_uri(None)
