"""torch's CPU threads: within the CPUs the process may use (cgroup quota, affinity), one for small work."""

import threading
import time

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from torch import nn

import skdeep._threads
from skdeep import CNNClassifier, MLPClassifier, MLPRegressor
from skdeep._net import SkdeepNet
from skdeep._threads import BatchThreads, dense_work, one_thread_finding, threads_for
from skdeep.modules import CNN, MLP, EmbeddingMLP

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def untimed(request, monkeypatch):
    """The rules that hold before any timing: batches are not timed, unless a test is about timing them.

    No finding of one thread stands either (another test's fits in this process may have left one).
    """
    if "timed" not in request.keywords:
        monkeypatch.setattr(BatchThreads, "tuning", False)
    one_thread_finding.clear()
    yield
    one_thread_finding.clear()


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


# -- threads chosen by timing: the CPU share, or one thread while other programs compete ----------------------------

timed = pytest.mark.timed


class CPUClock:
    """A stand-in for the thread's CPU clock: the stand-in steps advance it by the CPU time they are given."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self):
        return self.seconds


def steps_timed_by_threads(seconds, n_batches, seen, clock, core=1.0):
    """Stand-in training steps, each taking ``seconds[threads]`` for torch's thread count as it runs.

    On one thread, a step has ``core`` of a core: its CPU time is that share of its wall time.
    """
    for _ in range(n_batches):
        threads = torch.get_num_threads()
        seen.append(threads)
        start = time.perf_counter()
        time.sleep(seconds[threads])
        clock.seconds += (time.perf_counter() - start) * (core if threads == 1 else 1.0)
        yield (torch.zeros(10, 3), None), {}


@pytest.fixture
def share_of_two(two_torch_threads, monkeypatch):
    """Two CPUs, torch's thread count as skdeep found it (none chosen by the user), no finding yet.

    A step's CPU time is as the stand-in steps say (sleeping takes none).
    """
    monkeypatch.setattr(skdeep._threads, "cpu_share", lambda: 2)
    monkeypatch.setattr(skdeep._threads, "_THREADS_AT_IMPORT", 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    clock = CPUClock()
    monkeypatch.setattr(skdeep._threads, "thread_cpu_time", clock)
    one_thread_finding.clear()
    yield clock
    one_thread_finding.clear()


def run_batches(batch_threads, seconds, n_batches, clock, core=1.0):
    seen = []
    for _ in batch_threads.steps(steps_timed_by_threads(seconds, n_batches, seen, clock, core)):
        pass
    return seen


BUSY = {2: 0.03, 1: 0.004}  # another program's threads on the cores: two threads spin against them
QUIET = {2: 0.01, 1: 0.018}


@timed
def test_one_thread_is_kept_when_the_cpu_share_runs_slower(share_of_two):
    batch_threads = BatchThreads(CNN((1, 8, 8), 10), rows=10)
    seen = run_batches(batch_threads, BUSY, 12, share_of_two)
    assert seen[:6] == [1] * 5 + [2]  # one thread's block, then the share's, cut short by its first batch
    assert set(seen[6:]) == {1} and batch_threads.choice == 1


@timed
def test_the_cpu_share_is_kept_on_a_quiet_machine(share_of_two):
    batch_threads = BatchThreads(CNN((1, 8, 8), 10), rows=10)
    seen = run_batches(batch_threads, QUIET, 14, share_of_two)
    assert seen[:10] == [1] * 5 + [2] * 5 and set(seen[10:]) == {2} and batch_threads.choice == 2
    assert not one_thread_finding.standing


@timed
def test_the_share_is_not_tried_when_one_thread_has_no_whole_core(share_of_two):
    # a step on one thread that gets half a core's time: no core is free for a second thread
    batch_threads = BatchThreads(CNN((1, 8, 8), 10), rows=10)
    seen = run_batches(batch_threads, BUSY, 10, share_of_two, core=0.5)
    assert seen == [1] * 10 and batch_threads.choice == 1 and one_thread_finding.standing


@timed
def test_a_coarse_cpu_clock_is_not_read_as_a_starved_thread(share_of_two, monkeypatch):
    # (on Windows, a thread's CPU time moves in steps of about 16 ms: short batches read as no CPU time)
    monkeypatch.setattr(skdeep._threads, "FINE_CPU_CLOCK", False)
    seen = run_batches(BatchThreads(CNN((1, 8, 8), 10), rows=10), QUIET, 12, share_of_two, core=0.0)
    assert seen[:10] == [1] * 5 + [2] * 5 and seen[-1] == 2


@timed
def test_batches_that_slow_down_reopen_the_choice(share_of_two):
    batch_threads = BatchThreads(CNN((1, 8, 8), 10), rows=10)
    run_batches(batch_threads, QUIET, 12, share_of_two)
    seen = run_batches(batch_threads, BUSY, 16, share_of_two)  # another program starts
    assert batch_threads.choice == 1 and seen[-1] == 1
    last_on_two = len(seen) - seen[::-1].index(2)
    assert last_on_two <= BatchThreads.WINDOW + BatchThreads.BLOCK + 2  # a window, then one look


@timed
def test_a_finding_of_one_thread_spares_the_next_fits_their_look(share_of_two):
    run_batches(BatchThreads(CNN((1, 8, 8), 10), rows=10), BUSY, 8, share_of_two)
    assert one_thread_finding.standing
    another_network = BatchThreads(MLP(64, 10, (512, 512)), rows=200)
    assert another_network.choice == 1
    assert run_batches(another_network, BUSY, 10, share_of_two) == [1] * 10  # no look of its own


def test_a_standing_finding_holds_for_the_whole_call_until_it_is_due(share_of_two):
    # (a fit's work outside its batches, and predictions, run on one thread too)
    network = CNN((1, 8, 8), 10)
    assert threads_for(network, rows=10) == 2
    one_thread_finding.stand(look_seconds=1.0)
    assert threads_for(network, rows=10) == 1
    one_thread_finding.ran_on_one_thread(10.0)  # a look is due: the call may try the share again
    assert threads_for(network, rows=10) == 2


@timed
def test_one_thread_looks_at_the_cpu_share_again_once_due(share_of_two):
    batch_threads = BatchThreads(CNN((1, 8, 8), 10), rows=10)
    run_batches(batch_threads, BUSY, 6, share_of_two)  # the look cost one batch on the share: 0.03 s
    assert batch_threads.choice == 1 and not one_thread_finding.look_due()
    # the other program has ended: a look is due after ten times the look's cost on one thread,
    # 0.3 s, 17 batches of 0.018 s
    seen = run_batches(batch_threads, QUIET, 30, share_of_two)
    assert seen[:17] == [1] * 17 and 2 in seen[17:24] and batch_threads.choice == 2
    assert not one_thread_finding.standing


@timed
def test_a_cnn_fit_trains_and_predicts_on_one_thread_while_two_run_slower(share_of_two, monkeypatch):
    stepped = []
    train_step = SkdeepNet.train_step

    def step_slowed_on_two_threads(self, batch, **fit_params):
        stepped.append(torch.get_num_threads())
        start = time.perf_counter()
        time.sleep(BUSY[torch.get_num_threads()])
        step = train_step(self, batch, **fit_params)
        share_of_two.seconds += time.perf_counter() - start  # (a whole core's time)
        return step

    monkeypatch.setattr(SkdeepNet, "train_step", step_slowed_on_two_threads)
    X, y = load_digits(return_X_y=True)
    clf = CNNClassifier(input_shape=(1, 8, 8), conv_filters=(4,), batch_size=20, max_iter=2, random_state=0)
    clf.fit(X[:200], y[:200])
    in_prediction = _record_threads(monkeypatch, "evaluation_step")
    clf.predict(X[:50])
    # one thread's block, the share's cut short by its first batch, then one thread
    assert stepped == [1] * 5 + [2] + [1] * (len(stepped) - 6) and in_prediction == [1]
    assert torch.get_num_threads() == 2  # the caller's setting is back


@timed
@pytest.mark.parametrize("choose", [lambda monkeypatch: torch.set_num_threads(1),
                                    lambda monkeypatch: monkeypatch.setenv("OMP_NUM_THREADS", "2")],
                         ids=["torch.set_num_threads", "OMP_NUM_THREADS"])
def test_a_thread_count_the_user_chose_is_never_timed(choose, share_of_two, monkeypatch):
    assert BatchThreads(CNN((1, 8, 8), 10), rows=10).tuning
    choose(monkeypatch)
    assert not BatchThreads(CNN((1, 8, 8), 10), rows=10).tuning
