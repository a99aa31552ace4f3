"""cuda_graph: what holds without a GPU (the captured path itself is in test_gpu.py)."""

import numpy as np
import pytest
import torch
from skorch.history import History

from skdeep import CNNClassifier, MLPClassifier, TorchClassifier
from skdeep._callbacks import AnnealingSchedule, LearningRateSchedule
from skdeep._cuda_graph import cuda_graph_mode
from skdeep._data import ArrayDataset, BatchIterator
from skdeep._optim import make_optimizer


def test_cuda_graph_is_ignored_off_cuda(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(32,), max_iter=3, batch_size=64, device="cpu", random_state=0)
    with pytest.warns(UserWarning, match="Maximum iterations") as record:
        plain = MLPClassifier(cuda_graph=False, **params).fit(X, y)
        graphed = MLPClassifier(cuda_graph=True, **params).fit(X, y)
    assert all("cuda_graph" not in str(warning.message) for warning in record)
    assert not graphed.net_.cuda_graph
    for plain_coef, graphed_coef in zip(plain.coefs_, graphed.coefs_, strict=True):
        np.testing.assert_array_equal(plain_coef, graphed_coef)


@pytest.mark.parametrize(("params", "message"), [
    ({"solver": "rmsprop"}, "solver='rmsprop'"),
    ({"solver": "lbfgs"}, "solver='lbfgs'"),
    ({"precision": "float16"}, "precision='float16'"),
    ({"compile": True}, "compile=True"),
])
def test_cuda_graph_refuses_what_it_cannot_capture(params, message, digits):
    X, y = digits
    clf = MLPClassifier(cuda_graph=True, max_iter=2, device="cpu", **params)
    with pytest.raises(ValueError, match=f"cuda_graph=True cannot be combined with {message}"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


CUDA = torch.device("cuda", 0)  # the decision needs only the device's type: no GPU involved


@pytest.mark.parametrize(("estimator", "on_cuda"), [
    (MLPClassifier(), "auto"),
    (CNNClassifier(solver="sgd", precision="bfloat16"), "auto"),
    (MLPClassifier(cuda_graph=True), True),
    (MLPClassifier(cuda_graph=False), False),
    (MLPClassifier(solver="rmsprop"), False),  # "auto" steps aside quietly for what cannot be captured
    (MLPClassifier(precision="float16"), False),
    (MLPClassifier(compile=True), False),
    (TorchClassifier(torch.nn.Linear), False),  # a user's module may wait for the host: opt in
    (TorchClassifier(torch.nn.Linear, cuda_graph=True), True),
])
def test_which_fits_capture_cuda_graphs(estimator, on_cuda):
    def mode(device):
        return cuda_graph_mode(estimator.cuda_graph, device=device, solver=estimator.solver,
                               precision=estimator.precision, compile=estimator.compile,
                               captures_by_default=estimator._own_module)

    assert mode(CUDA) == on_cuda
    assert mode(torch.device("cpu")) is False


def test_auto_never_refuses_parameters(digits):
    X, y = digits
    clf = MLPClassifier(solver="rmsprop", precision="float64", max_iter=50, device="cpu", random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.9


def test_batch_indices_as_tensors_cover_every_row_in_order():
    batches = BatchIterator(ArrayDataset(torch.zeros(10, 3)), batch_size=4)
    indices = list(batches.indices(tensors=True))
    assert [index.tolist() for index in indices] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [index.stop for index in batches.indices()] == [4, 8, 10]  # slices: views, no gather


def test_shuffled_batch_indices_are_one_permutation():
    batches = BatchIterator(ArrayDataset(torch.zeros(10, 3)), batch_size=4, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
    rows = torch.cat(list(batches.indices(tensors=True)))
    assert sorted(rows.tolist()) == list(range(10)) and rows.tolist() != list(range(10))


class _Net:
    """What the schedules see of a net: its optimizer and history."""

    def __init__(self, optimizer):
        self.optimizer_ = optimizer
        self.history = History()


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_schedules_write_a_tensor_learning_rate_in_place(solver):
    params = [torch.nn.Parameter(torch.zeros(3, 2))]
    optimizer = make_optimizer([{"params": params}], solver=solver, tensor_lr=True, lr=0.1)
    rate = optimizer.param_groups[0]["lr"]
    assert torch.is_tensor(rate) and float(rate) == pytest.approx(0.1)
    schedule = AnnealingSchedule("cosine", 0.1, total_samples=40)
    net = _Net(optimizer)
    for _ in range(2):
        schedule.on_batch_end(net, batch=(torch.zeros(10, 2), None), training=True)
    assert optimizer.param_groups[0]["lr"] is rate  # the tensor a CUDA graph reads
    assert float(rate) == pytest.approx(0.05)


def test_invscaling_records_a_tensor_learning_rate_as_a_number():
    params = [torch.nn.Parameter(torch.zeros(3, 2))]
    net = _Net(make_optimizer([{"params": params}], solver="adam", tensor_lr=True, lr=0.1))
    net.history.new_epoch()
    LearningRateSchedule("invscaling", 0.1, power_t=0.5).on_epoch_end(net, dataset_train=range(3))
    recorded = net.history[-1]["learning_rate"]
    assert recorded == pytest.approx(0.1) and isinstance(recorded, float)
    assert float(net.optimizer_.param_groups[0]["lr"]) == pytest.approx(0.1 / 2.0)
