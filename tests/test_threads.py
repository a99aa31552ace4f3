"""torch's CPU threads stay within the CPUs the process may use (cgroup quota, affinity)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

import skdeep._threads
from skdeep import MLPClassifier, MLPRegressor
from skdeep._net import SkdeepNet

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
    monkeypatch.setattr(skdeep._threads, "cpu_count", lambda: share)
    in_training = _record_threads(monkeypatch, "run_single_epoch")
    in_prediction = _record_threads(monkeypatch, "evaluation_step")
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    clf.predict(X)
    assert set(in_training) == {expected} and set(in_prediction) == {expected}
    assert torch.get_num_threads() == 2  # the caller's setting is back


def test_the_thread_setting_is_restored_when_training_fails(two_torch_threads, monkeypatch):
    monkeypatch.setattr(skdeep._threads, "cpu_count", lambda: 1)
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(100, 3)) * 1e6, rng.normal(size=100) * 1e6
    with pytest.raises(ValueError, match="non-finite"):
        MLPRegressor(solver="sgd", learning_rate_init=10.0, max_iter=5, random_state=0).fit(X, y)
    assert torch.get_num_threads() == 2
