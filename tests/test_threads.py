"""torch's CPU threads: within the CPUs the process may use (cgroup quota, affinity), one for small work."""

import threading

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from torch import nn

import skdeep._threads
from skdeep import CNNClassifier, MLPClassifier, MLPRegressor
from skdeep._net import SkdeepNet
from skdeep._threads import dense_work, threads_for
from skdeep.modules import CNN, MLP, EmbeddingMLP

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _record_threads(monkeypatch, method_name):
    seen = []
    original = getattr(SkdeepNet, method_name)

    def recording(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SkdeepNet, method_name, recording)
    return seen


@pytest.mark.parametrize("share, expected", [(1, 1), (8, 2)])
def test_training_and_prediction_use_at_most_the_cpu_share(share, expected, two_torch_threads, monkeypatch):
    monkeypatch.setattr(skdeep._threads, "cpu_share", lambda: share)
    monkeypatch.setattr(skdeep._threads, "SMALL_WORK", 0)
    in_training = _record_threads(monkeypatch, "run_single_epoch")
    in_prediction = _record_threads(monkeypatch, "evaluation_step")
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    clf.predict(X)
    assert set(in_training) == {expected} and set(in_prediction) == {expected}
    assert torch.get_num_threads() == 2  # the caller's setting is back


def test_the_thread_setting_is_restored_when_training_fails(two_torch_threads, monkeypatch):
    monkeypatch.setattr(skdeep._threads, "cpu_share", lambda: 1)
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(100, 3)) * 1e6, rng.normal(size=100) * 1e6
    with pytest.raises(ValueError, match="non-finite"):
        MLPRegressor(solver="sgd", learning_rate_init=10.0, max_iter=5, random_state=0).fit(X, y)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("hidden_layer_sizes, expected", [((100,), 1), ((512, 512), 2)])
def test_small_dense_networks_train_and_predict_on_one_thread(hidden_layer_sizes, expected, two_torch_threads,
                                                              monkeypatch):
    # a second thread costs more than it gives on small matrix products, and
    # spins on a core that other processes may want
    monkeypatch.setattr(skdeep._threads, "cpu_share", lambda: 2)
    in_training = _record_threads(monkeypatch, "run_single_epoch")
    in_prediction = _record_threads(monkeypatch, "evaluation_step")
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes, batch_size=200, max_iter=2, random_state=0).fit(X, y)
    clf.predict(X)
    assert set(in_training) == {expected} and set(in_prediction) == {expected}
    assert torch.get_num_threads() == 2


def test_one_row_prediction_of_a_large_network_uses_one_thread(two_torch_threads, monkeypatch):
    monkeypatch.setattr(skdeep._threads, "cpu_share", lambda: 2)
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((512, 512), max_iter=1, random_state=0).fit(X, y)
    in_prediction = _record_threads(monkeypatch, "evaluation_step")
    clf.predict(X[:1])
    assert in_prediction == [1]


def test_convolutional_networks_keep_the_cpu_share(two_torch_threads, monkeypatch):
    monkeypatch.setattr(skdeep._threads, "cpu_share", lambda: 2)
    in_training = _record_threads(monkeypatch, "run_single_epoch")
    X, y = load_digits(return_X_y=True)
    CNNClassifier(input_shape=(1, 8, 8), conv_filters=(4,), max_iter=1, random_state=0).fit(X[:100], y[:100])
    assert set(in_training) == {2}


class _OwnWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3, 3))
        self.linear = nn.Linear(3, 3)

    def forward(self, x):
        return self.linear(x @ self.weight)


def test_dense_work_counts_linear_weights_and_knows_what_it_cannot_count():
    assert dense_work(MLP(30, 2, (100,), batch_norm=True, dropout=0.5)) == 30 * 100 + 100 * 2
    assert dense_work(EmbeddingMLP(2, [(5, 3)], 1, hidden_layer_sizes=(8,))) == (2 + 3) * 8 + 8
    assert dense_work(CNN((1, 8, 8), 10)) is None
    assert dense_work(_OwnWeights()) is None  # weights used outside a known layer
    assert dense_work(nn.LSTM(3, 3)) is None
    assert dense_work(nn.Sequential(nn.LazyLinear(4), nn.ReLU())) is None  # its size is known after a first call


def test_thread_count_never_exceeds_torchs_own_setting(monkeypatch):
    monkeypatch.setattr(skdeep._threads, "cpu_share", lambda: 64)
    assert threads_for(CNN((1, 8, 8), 10), rows=256) == torch.get_num_threads()


def test_seeded_fits_in_threads_equal_sequential_ones(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(32,), dropout=0.3, max_iter=20, batch_size=32)

    def fit(seed):
        return MLPClassifier(random_state=seed, **params).fit(X, y).predict_proba(X)

    sequential = [fit(seed) for seed in range(4)]
    results = [None] * 4
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, fit(i))) for i in range(4)]
    torch.manual_seed(123)
    caller_state = torch.random.get_rng_state()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for threaded, alone in zip(results, sequential, strict=True):
        np.testing.assert_array_equal(threaded, alone)
    assert torch.equal(torch.random.get_rng_state(), caller_state)
