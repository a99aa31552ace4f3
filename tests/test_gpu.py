"""Tests on a real GPU: marked ``gpu``, skipped cleanly where CUDA is missing."""

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

import skdeep._base
import skdeep._cuda_graph
import skdeep.model_selection
from skdeep import CNNClassifier, MLPClassifier, MLPRegressor, TorchClassifier
from skdeep._data import place_on_device

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # a step's autograd graph kept alive into the next, on another stream: torch warns it breaks graphs
    pytest.mark.filterwarnings("error:The AccumulateGrad node's stream:UserWarning"),
    # nor should a default fit show torch's notes on the tools skdeep uses
    pytest.mark.filterwarnings("error:Synchronization debug mode:UserWarning"),
]

ON_CUDA = dict(learning_rate_init=0.01, max_iter=200, precision="float64", device="cuda")


@parametrize_with_checks([
    MLPClassifier(hidden_layer_sizes=(16,), **ON_CUDA),
    MLPRegressor(hidden_layer_sizes=(16,), **ON_CUDA),
    CNNClassifier(conv_filters=(4,), hidden_layer_sizes=(16,), **ON_CUDA),
])
def test_sklearn_checks_on_cuda(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)


def test_auto_device_picks_the_gpu(digits_split):
    X_train, _, y_train, _ = digits_split
    clf = MLPClassifier(max_iter=2).fit(X_train, y_train)
    assert clf.device_.type == "cuda"
    assert next(clf.module_.parameters()).is_cuda


def test_cpu_and_gpu_agree(digits_split):
    X_train, X_test, y_train, _ = digits_split
    params = dict(hidden_layer_sizes=(64,), max_iter=20, precision="float64", random_state=0)
    cpu = MLPClassifier(device="cpu", **params).fit(X_train, y_train)
    gpu = MLPClassifier(device="cuda", **params).fit(X_train, y_train)
    np.testing.assert_allclose(gpu.predict_proba(X_test), cpu.predict_proba(X_test), atol=1e-6)
    assert isinstance(gpu.predict(X_test), np.ndarray)


@pytest.mark.parametrize("cuda_graph", [False, True])
def test_a_gpu_model_loads_and_predicts_on_a_cpu_only_machine(cuda_graph, digits_split, tmp_path):
    X_train, X_test, y_train, _ = digits_split
    clf = CNNClassifier(conv_filters=(8,), input_shape=(1, 8, 8), max_iter=5, device="cuda",
                        cuda_graph=cuda_graph, random_state=0).fit(X_train, y_train)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X_test)
    script = (
        "import pickle, sys, warnings, numpy as np, torch\n"
        "warnings.simplefilter('ignore')\n"
        "assert not torch.cuda.is_available()\n"
        f"model = pickle.load(open({str(tmp_path / 'model.pkl')!r}, 'rb'))\n"
        "assert model.device_.type == 'cpu'\n"
        f"np.save({str(tmp_path / 'labels.npy')!r}, model.predict(np.load({str(tmp_path / 'X.npy')!r})))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), clf.predict(X_test))


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_learns_as_well_as_float32(precision, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    params = dict(hidden_layer_sizes=(256,), max_iter=50, device="cuda", random_state=0)
    full = MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    mixed = MLPClassifier(precision=precision, **params).fit(X_train, y_train)
    assert mixed.score(X_test, y_test) >= full - 0.02
    cnn = CNNClassifier(precision=precision, max_iter=30, device="cuda", random_state=0)
    assert cnn.fit(X_train.reshape(-1, 1, 8, 8), y_train).score(X_test.reshape(-1, 1, 8, 8), y_test) > 0.95


def test_data_too_large_for_the_gpu_streams_from_pinned_memory(digits_split, monkeypatch):
    X_train, X_test, y_train, y_test = digits_split
    placed = []

    def place_nothing_on_the_gpu(dataset, device):
        placed.append(place_on_device(dataset, device, memory_fraction=0.0))
        return placed[-1]

    monkeypatch.setattr(skdeep._base, "place_on_device", place_nothing_on_the_gpu)
    clf = MLPClassifier(max_iter=30, device="cuda", random_state=0).fit(X_train, y_train)
    assert placed[0].X.is_pinned() and not placed[0].X.is_cuda
    assert clf.score(X_test, y_test) > 0.9


def test_grid_search_with_two_workers_on_one_gpu(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    search = GridSearchCV(MLPClassifier(max_iter=20, device="cuda", random_state=0),
                          {"hidden_layer_sizes": [(32,), (128,)]}, cv=2, n_jobs=2).fit(X_train, y_train)
    assert search.best_estimator_.device_.type == "cuda"
    assert search.score(X_test, y_test) > 0.9


def test_a_stacked_search_on_the_gpu_gives_scikit_learns_results(digits_split):
    X_train, _, y_train, _ = digits_split
    model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=15, n_iter_no_change=5, precision="float64",
                          device="cuda", random_state=0)
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2], "learning_rate": ["constant", "cosine"]}
    stacked = skdeep.model_selection.GridSearchCV(model, grid, cv=3).fit(X_train, y_train)
    reference = GridSearchCV(model, grid, cv=3).fit(X_train, y_train)
    assert stacked.n_stacked_fits_ == 24
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_allclose(stacked.cv_results_[key], reference.cv_results_[key], atol=1e-6, err_msg=key)
    assert stacked.best_params_ == reference.best_params_


@pytest.fixture
def captures(monkeypatch):
    """Count the CUDA-graph captures of the fits in a test."""
    count = []
    capture = skdeep._cuda_graph.CapturedTrainStep._capture

    def counted(self):
        count.append(self)
        capture(self)

    monkeypatch.setattr(skdeep._cuda_graph.CapturedTrainStep, "_capture", counted)
    return count


@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd"])
def test_a_captured_step_trains_like_the_eager_one(solver, captures, digits_split):
    X_train, X_test, y_train, _ = digits_split
    # a last, smaller batch (1347 rows), a schedule that changes the rate, both penalties and weights
    params = dict(hidden_layer_sizes=(64, 32), solver=solver, batch_size=100, max_iter=15, alpha=1e-3, l1=1e-4,
                  learning_rate="invscaling", learning_rate_init=0.05, power_t=0.25, precision="float64",
                  device="cuda", random_state=0)
    weight = np.random.RandomState(0).uniform(0.5, 2.0, len(y_train))
    eager = MLPClassifier(cuda_graph=False, **params).fit(X_train, y_train, sample_weight=weight)
    graphed = MLPClassifier(**params).fit(X_train, y_train, sample_weight=weight)  # "auto" captures
    assert len(captures) == 1 and graphed.net_._captured_step is None
    np.testing.assert_allclose(graphed.loss_curve_, eager.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(graphed.predict_proba(X_test), eager.predict_proba(X_test), atol=1e-6)
    np.testing.assert_allclose(graphed.history_["learning_rate"], eager.history_["learning_rate"])


def test_a_captured_cnn_with_batch_norm_and_dropout_learns(captures, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    images = dict(input_shape=(1, 8, 8), conv_filters=(16, 32), batch_norm=True, dropout=0.2,
                  max_iter=40, batch_size=64, device="cuda", random_state=0)
    eager = CNNClassifier(cuda_graph=False, **images).fit(X_train, y_train).score(X_test, y_test)
    for options in ({}, {"precision": "bfloat16", "memory_format": "channels_last"},
                    {"learning_rate": "onecycle", "early_stopping": True}):
        graphed = CNNClassifier(**images, **options).fit(X_train, y_train)
        assert graphed.score(X_test, y_test) >= eager - 0.02, options
    assert len(captures) == 3


def test_warm_start_and_partial_fit_capture_again(captures, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = MLPClassifier(warm_start=True, max_iter=10, batch_size=50, device="cuda", random_state=0)
    clf.fit(X_train, y_train).fit(X_train, y_train)
    for _ in range(3):
        clf.partial_fit(X_train, y_train)
    assert len(captures) == 5
    assert clf.score(X_test, y_test) > 0.9


class _SyncingModule(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        if x.abs().max().item() > 1e6:  # waits for the GPU: no graph can hold this
            x = x / 1e6
        return self.layer(x)


def test_a_module_that_syncs_cannot_be_captured_and_says_so(digits_split):
    X_train, _, y_train, _ = digits_split
    clf = TorchClassifier(_SyncingModule, cuda_graph=True, batch_size=100, max_iter=2, device="cuda")
    with pytest.raises(RuntimeError, match="cuda_graph: the training step waits for the host"):
        clf.fit(X_train, y_train)
    assert not hasattr(clf, "net_")
    assert torch.cuda.get_sync_debug_mode() == 0
    # found before any capture was tried: the CUDA random number generator still works (dropout)
    assert MLPClassifier(dropout=0.2, max_iter=3, batch_size=100, device="cuda").fit(X_train, y_train).net_
    # "auto" leaves a user's module uncaptured
    assert TorchClassifier(_SyncingModule, batch_size=100, max_iter=2, device="cuda").fit(X_train, y_train).net_


def test_data_off_the_gpu_trains_without_a_graph_and_warns(digits_split, monkeypatch):
    X_train, X_test, y_train, y_test = digits_split
    monkeypatch.setattr(skdeep._base, "place_on_device",
                        lambda dataset, device: place_on_device(dataset, device, memory_fraction=0.0))
    with pytest.warns(UserWarning, match="training without a CUDA graph, as the training data is not on the GPU"):
        clf = MLPClassifier(cuda_graph=True, max_iter=30, device="cuda", random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "auto" trains without a graph quietly
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(max_iter=300, device="cuda", random_state=0).fit(X_train, y_train)


def test_device_cuda_names_the_current_gpu(digits_split):
    X_train, _, y_train, _ = digits_split
    assert skdeep._base.resolve_device("cuda") == torch.device("cuda", torch.cuda.current_device())
    clf = MLPClassifier(max_iter=2, device="cuda").fit(X_train, y_train)
    assert clf.device_ == next(clf.module_.parameters()).device  # the data path sees its data on the device
