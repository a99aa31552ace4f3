"""Reproducibility, untouched global random states, pickling and joblib, and the checks of a saved state."""

import copy
import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier, MLPRegressor
from skdeep._persistence import foreign_type

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


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_a_loaded_mixed_precision_model_predicts_as_the_fitted_one(data, precision):
    X, y = data
    clf = make(precision=precision, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), clf.predict_proba(X))


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


# -- the saved state: checked on loading, rebuilt without side effects -----------------------------------------------

_calls = []


def _payload(*args, **kwargs):
    """What a crafted file would have skdeep run: it records any call."""
    _calls.append((args, kwargs))


class _Crafted:
    """Pickles as an MLPClassifier whose state is ``state``, as a crafted file would."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return object.__new__, (MLPClassifier,), self.state


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)


def test_the_saved_state_is_plain_values_and_arrays_versions_included(fitted):
    state = fitted.__getstate__()
    assert foreign_type(state) is None
    assert all(type(version) is str for version in state["_skdeep_versions"].values())  # torch's is a str subclass
    # an unfitted estimator saves its parameters alone
    assert MLPClassifier(alpha=0.1).__getstate__() == MLPClassifier(alpha=0.1).get_params(deep=False)


def test_loading_leaves_torchs_global_random_state_alone(fitted):
    saved = pickle.dumps(fitted)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    pickle.loads(saved)
    np.testing.assert_array_equal(torch.rand(3), expected)


@pytest.mark.parametrize("name, value, message", [
    ("predict", "replaced", "holds 'predict', which is neither one of its parameters nor a fitted attribute"),
    ("classes_", _payload, "fitted attribute 'classes_' holds a builtins.function, where plain values"),
    ("_random_state", [_payload], "fitted attribute '_random_state' holds a builtins.function"),
    ("solver", "by-hand", "The 'solver' parameter"),
])
def test_a_crafted_pickle_is_refused_and_runs_nothing(data, fitted, name, value, message):
    X, _ = data
    state = {**fitted.__getstate__(), name: value}
    with pytest.raises(ValueError, match=message):
        pickle.loads(pickle.dumps(_Crafted(state)))
    assert _calls == []
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(_Crafted(fitted.__getstate__()))).predict(X),
                                  fitted.predict(X))


def _craft_skops(path, model, name, value):
    """A .skops file of ``model`` whose saved ``name`` is ``value``: its schema edited, as an attacker can."""
    sio = pytest.importorskip("skops.io")
    sio.dump(model, path)
    with zipfile.ZipFile(path) as archive:
        files = {entry: archive.read(entry) for entry in archive.namelist()}
    schema = json.loads(files["schema.json"])
    schema["content"]["content"][name] = json.loads(zipfile.ZipFile(io.BytesIO(sio.dumps([value]))).read(
        "schema.json"))["content"][0]
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for entry, content in files.items():
            archive.writestr(entry, content)


def test_a_crafted_skops_file_trusted_blindly_still_runs_nothing(fitted, tmp_path):
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "crafted.skops"
    _craft_skops(path, fitted, "out_activation_", _payload)
    untrusted = sio.get_untrusted_types(file=path)
    assert f"{__name__}._payload" in untrusted  # skops names the function: a careful user stops here
    with pytest.raises(ValueError, match="fitted attribute 'out_activation_' holds a"):
        sio.load(path, trusted=untrusted)
    assert _calls == []


def test_a_state_of_an_older_layout_is_refused_naming_the_versions(fitted):
    # as skdeep pickled before the saved state had a layout: the skorch net itself, no versions
    older = {**fitted.get_params(), "classes_": fitted.classes_, "net_": {"module_": "..."}}
    with pytest.raises(ValueError, match=r"another layout \(saved with skdeep unknown, torch unknown"):
        MLPClassifier.__new__(MLPClassifier).__setstate__(older)
    # an unfitted estimator's parameters load, with versions or without
    for state in ({}, {"_skdeep_format": 1, "_skdeep_versions": {"skdeep": "0.1.0"}}):
        loaded = MLPClassifier.__new__(MLPClassifier)
        loaded.__setstate__({**MLPClassifier(alpha=0.5).get_params(), **state})
        assert loaded.alpha == 0.5 and not hasattr(loaded, "_skdeep_format")


def test_the_layout_with_build_parameters_is_a_new_format_and_the_previous_one_still_loads(data, fitted):
    # a version that cannot rebuild from the saved build parameters refuses the file by its format
    X, _ = data
    changed = pickle.loads(pickle.dumps(fitted)).set_params(activation="tanh").__getstate__()
    assert changed["_skdeep_format"] == 2 and changed["_skdeep_net"]["parameters"] == {"activation": "relu"}
    previous = {**fitted.__getstate__(), "_skdeep_format": 1}  # as the previous version saved it
    loaded = MLPClassifier.__new__(MLPClassifier)
    loaded.__setstate__(previous)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_parameters_changed_in_place_after_fit_do_not_change_the_saved_build(data):
    X, y = data
    model = MLPClassifier(hidden_layer_sizes=[8], max_iter=3, random_state=0).fit(X, y)
    loaded = _through_pickle(model)
    for kept in (model, loaded):  # as fitted, and as loaded
        kept.hidden_layer_sizes.append(4)  # in place, not through set_params
        np.testing.assert_array_equal(_through_pickle(kept).predict_proba(X), model.predict_proba(X))


def test_an_unreadable_state_names_only_the_versions_that_differ(fitted):
    state = fitted.__getstate__()
    state["_skdeep_versions"] = {**state["_skdeep_versions"], "torch": "1.0.0"}
    state["_skdeep_net"]["module"] = {}  # a network this torch cannot rebuild
    with pytest.raises(ValueError, match=r"\(saved with torch 1.0.0; loading with torch [\d.]+\S*\): load it") as info:
        MLPClassifier.__new__(MLPClassifier).__setstate__(state)
    assert "skorch" not in str(info.value)


@pytest.mark.parametrize("saved_on", ["cuda:0", "mps"])
def test_a_model_saved_on_an_absent_device_loads_on_the_cpu_warning_if_its_device_asked_for_it(
        data, monkeypatch, saved_on):
    X, y = data
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu").fit(X, y)
    state = model.__getstate__()
    state["_skdeep_net"]["device"] = saved_on
    state["device"] = saved_on.split(":")[0]  # as the estimator was configured for its fit
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = MLPClassifier.__new__(MLPClassifier)
    with pytest.warns(UserWarning, match=rf"fitted on '{saved_on}', which this machine does not have: it is loaded"):
        loaded.__setstate__(state)
    assert loaded.device_ == torch.device("cpu") and loaded.device == saved_on.split(":")[0]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("solver", ["rmsprop", "adam"])
def test_a_gpu_optimizer_takes_the_cpus_options_and_trains_on_as_if_never_saved(data, monkeypatch, solver):
    # on a GPU with CUDA graphs, the optimizer is capturable and its learning rate a tensor; a CPU has neither
    X, y = data
    kept = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=3, random_state=0).fit(X, y)
    state = kept.__getstate__()
    state["_skdeep_net"]["device"] = "cuda:0"
    for group in state["_skdeep_net"]["optimizer"]["param_groups"]:
        group.update(lr=np.float32(group["lr"]).reshape(()), capturable=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = MLPClassifier.__new__(MLPClassifier)
    loaded.__setstate__(state)
    assert loaded.net_.optimizer_.param_groups[0]["capturable"] is False
    assert not torch.is_tensor(loaded.net_.optimizer_.param_groups[0]["lr"])
    for model in (kept, loaded):
        model.partial_fit(X, y)
    np.testing.assert_allclose(loaded.predict_proba(X), kept.predict_proba(X), rtol=1e-6)


def test_a_warm_fit_after_loading_equals_one_without_saving(data):
    X, y = data
    kept = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    loaded = joblib.load(io.BytesIO((lambda buffer: (joblib.dump(kept, buffer), buffer.getvalue())[1])(io.BytesIO())))
    for model in (kept, loaded):
        model.set_params(max_iter=2).fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), kept.predict_proba(X))
    assert loaded.loss_curve_ == kept.loss_curve_ and loaded.t_ == kept.t_


def _through_pickle(model):
    return pickle.loads(pickle.dumps(model))


def _through_skops(model):
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(model)
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


@pytest.mark.parametrize("change", [dict(activation="logistic", dropout=0.5), dict(hidden_layer_sizes=(7,)),
                                    dict(batch_norm=True), dict(alpha=-1.0)], ids=lambda change: "-".join(change))
@pytest.mark.parametrize("round_trip", [_through_pickle, copy.deepcopy, _through_skops],
                         ids=["pickle", "deepcopy", "skops"])
def test_parameters_set_after_fit_are_saved_beside_the_model_they_did_not_build(data, change, round_trip):
    # as in memory, the model predicts as fitted until the next fit, which validates and builds from them
    X, y = data
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y).set_params(**change)
    loaded = round_trip(model)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(round_trip(loaded).predict_proba(X), model.predict_proba(X))  # saved again
    if change.get("alpha", 0) < 0:
        with pytest.raises(ValueError, match="The 'alpha' parameter"):
            loaded.fit(X, y)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))  # and keeps its model
    else:
        refitted = loaded.fit(X, y)
        assert refitted.coefs_[0].shape[1] == refitted.hidden_layer_sizes[0]


@pytest.mark.parametrize("solver", ["sgd", "rmsprop"])
def test_partial_fit_after_the_solver_changed_continues_as_without_saving(data, solver):
    X, y = data
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y).set_params(solver=solver)
    loaded = _through_pickle(model)
    np.testing.assert_array_equal(loaded.partial_fit(X, y).coefs_[0], model.partial_fit(X, y).coefs_[0])


def test_feature_names_and_a_fitted_encoder_survive_skops(tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :5].assign(size=pd.cut(X["mean area"], 3, labels=["small", "medium", "large"]))
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, categorical_features="from_dtype", random_state=0)
    model.fit(X, y)
    sio.dump(model, tmp_path / "model.skops")
    untrusted = sio.get_untrusted_types(file=tmp_path / "model.skops")
    assert untrusted == ["skdeep._mlp.MLPClassifier"]  # the fitted OrdinalEncoder is one of scikit-learn's
    loaded = sio.load(tmp_path / "model.skops", trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert list(loaded.feature_names_in_) == list(X.columns)


def test_scikit_learns_own_attributes_are_kept(fitted):
    with sklearn.config_context(enable_metadata_routing=True):
        model = clone(fitted).set_fit_request(sample_weight=True)
        assert pickle.loads(pickle.dumps(model)).get_metadata_routing().fit.requests["sample_weight"] is True


def test_the_persistence_page_runs(tmp_path, monkeypatch):
    for name in ("skops.io", "mlflow.sklearn", "safetensors"):
        pytest.importorskip(name)
    page = (Path(__file__).parents[1] / "docs" / "user_guide" / "persistence.md").read_text()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # (MLflow 3 keeps its file store behind this switch)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    namespace = {}
    for block in re.findall(r"^```python\n(.*?)^```$", page, re.MULTILINE | re.DOTALL):
        exec(compile(block, "persistence.md", "exec"), namespace)
    assert namespace["unknown"] == ["skdeep._mlp.MLPClassifier"]  # as the page prints it
    X, model, loaded = namespace["X"], namespace["model"], namespace["loaded"]  # (loaded by MLflow)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
