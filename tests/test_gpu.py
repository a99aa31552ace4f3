"""Tests on a real GPU: marked ``gpu``, skipped cleanly where CUDA is missing."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

import skdeep._base
from skdeep import CNNClassifier, MLPClassifier, MLPRegressor
from skdeep._data import place_on_device

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
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


def test_a_gpu_model_loads_and_predicts_on_a_cpu_only_machine(digits_split, tmp_path):
    X_train, X_test, y_train, _ = digits_split
    clf = CNNClassifier(conv_filters=(8,), input_shape=(1, 8, 8), max_iter=5, device="cuda",
                        random_state=0).fit(X_train, y_train)
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
