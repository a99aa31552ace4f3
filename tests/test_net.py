"""SkdeepNet: skdeep's epoch loop on skorch's lifecycle, its records, configuration and forward pass."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from skdeep import MLPClassifier
from skdeep import _net as net_module
from skdeep._callbacks import StopTraining
from skdeep._data import ArrayDataset
from skdeep._net import SkdeepNet, optimizer_factory
from skdeep._penalty import WeightPenalty
from skdeep._plan import DataSummary, TrainingCall, plan_training
from skdeep.modules import MLP, SklearnLoss


class Recorder(Callback):
    """Records each batch's loss and size and the weights after each epoch; raises ``error`` at epoch ``at``."""

    def __init__(self, at=None, error=None):
        self.at, self.error = at, error
        self.states, self.batches, self.train_ends = [], [], 0

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        self.batches.append((float(loss.detach()), len(batch[0])))

    def on_epoch_end(self, net, **kwargs):
        self.states.append(weights(net))
        if len(self.states) == self.at:
            raise self.error

    def on_train_end(self, net, **kwargs):
        self.train_ends += 1


class OnlyEpochs(Callback):
    def on_epoch_end(self, net, **kwargs):
        pass


def weights(net):
    return {name: tensor.detach().clone() for name, tensor in net.module_.state_dict().items()}


def assert_weights_equal(net, expected):
    for name, tensor in net.module_.state_dict().items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0)


def make_net(*callbacks, solver="sgd", batch_size=40, **params):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = MLP(4, 3, hidden_layer_sizes=(8,), dropout=0.1)
    return SkdeepNet(module=module, criterion=SklearnLoss("log_loss"),
                     optimizer=optimizer_factory(plan(solver).net), lr=0.1, batch_size=batch_size,
                     train_split=None, device="cpu", verbose=0, shuffle=False,
                     callbacks=[(type(callback).__name__, callback) for callback in callbacks], **params).initialize()


def plan(solver, **params):
    params = MLPClassifier(solver=solver, **params).get_params()
    call = TrainingCall(incremental=True, continues=True, samples_seen=150)
    return plan_training(params, DataSummary(150), call, torch.device("cpu"))


@pytest.fixture
def iris_data(iris):
    X, y = iris
    return ArrayDataset(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))


# -- the epoch loop --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [1, 3])
def test_an_interrupted_epoch_is_undone_weights_and_history_row(at, iris_data):
    recorder = Recorder(at=at, error=KeyboardInterrupt)
    net = make_net(recorder)
    initial = weights(net)
    with pytest.raises(KeyboardInterrupt):
        net.train_epochs(iris_data, 5)
    assert len(net.history) == at - 1 and (at == 1 or net.history[-1]["epoch"] == at - 1)
    assert_weights_equal(net, initial if at == 1 else recorder.states[at - 2])
    assert any(not torch.equal(recorder.states[-1][name], tensor) for name, tensor in weights(net).items())
    assert recorder.train_ends == 1 and not net.module_.training


def test_stop_training_ends_training_cleanly_after_the_epoch(iris_data):
    recorder = Recorder(at=2, error=StopTraining)
    net = make_net(recorder)
    assert net.train_epochs(iris_data, 10) is net
    assert len(net.history) == 2 and len(recorder.states) == 2
    assert_weights_equal(net, recorder.states[-1])  # the stopping epoch is kept
    assert recorder.train_ends == 1 and not net.module_.training


def test_other_errors_propagate_after_on_train_end(iris_data):
    recorder = Recorder(at=1, error=RuntimeError("a callback failed"))
    net = make_net(recorder)
    with pytest.raises(RuntimeError, match="a callback failed"):
        net.train_epochs(iris_data, 3)
    assert recorder.train_ends == 1 and not net.module_.training


def test_batch_losses_are_recorded_once_per_epoch_with_their_weighted_mean(iris_data):
    recorder = Recorder()
    net = make_net(recorder, batch_size=40)
    net.train_epochs(iris_data, 2)
    for epoch, row in enumerate(net.history):
        seen = recorder.batches[4 * epoch: 4 * epoch + 4]  # 150 rows: batches of 40, 40, 40 and 30
        assert [size for _, size in seen] == [40, 40, 40, 30] and row["train_batch_count"] == 4
        assert [(batch["train_loss"], batch["train_batch_size"]) for batch in row["batches"]] == seen
        losses, sizes = np.array(seen).T
        assert row["train_loss"] == pytest.approx(np.average(losses, weights=sizes), rel=1e-6)


def test_only_callbacks_that_define_a_hook_are_notified_of_it():
    recorder, epochs_only = Recorder(), OnlyEpochs()
    net = make_net(recorder, epochs_only)
    assert recorder in net.listeners("on_batch_end") and epochs_only not in net.listeners("on_batch_end")
    assert {id(recorder), id(epochs_only)} <= {id(callback) for callback in net.listeners("on_epoch_end")}


# -- configure -------------------------------------------------------------------------------------------------------


def test_configure_keeps_the_optimizer_and_its_state_while_the_solver_stays(iris_data):
    net = make_net(solver="adam")
    net.train_epochs(iris_data, 1)
    optimizer, steps = net.optimizer_, {id(p): int(s["step"]) for p, s in net.optimizer_.state.items()}
    adam = plan("adam", batch_size=25)
    net.configure(adam, penalty=WeightPenalty(), callbacks=[])
    assert net.optimizer_ is optimizer and {id(p): int(s["step"]) for p, s in optimizer.state.items()} == steps
    assert (net.batch_size, net.shuffle) == (adam.batch_size, adam.shuffle) == (25, True)


def test_configure_builds_the_new_solvers_optimizer_after_the_solver_changed(iris_data):
    net = make_net(solver="adam")
    net.train_epochs(iris_data, 1)
    sgd = plan("sgd", learning_rate_init=0.05, momentum=0.5)
    net.configure(sgd, penalty=WeightPenalty(), callbacks=[])
    assert isinstance(net.optimizer_, torch.optim.SGD) and not net.optimizer_.state
    assert net.optimizer_.param_groups[0]["lr"] == 0.05 and net.optimizer_.param_groups[0]["momentum"] == 0.5


def test_configure_sets_adamws_decay_to_the_current_alpha():
    net = make_net(solver="adamw")
    net.configure(plan("adamw", alpha=0.25), penalty=WeightPenalty(), callbacks=[])
    decays = [(group["params"][0].ndim, group["weight_decay"]) for group in net.optimizer_.param_groups]
    assert decays == [(2, 0.25), (1, 0.0)]  # on the weight matrices only


# -- forward ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True])
def test_the_one_batch_forward_equals_skorchs_batched_forward(sparse):
    net = make_net(batch_size=16)
    X = sp.random(300, 4, density=0.5, format="csr", random_state=0, dtype=np.float32)
    data = ArrayDataset(X if sparse else torch.from_numpy(X.toarray()))
    with torch.inference_mode():
        one_batch = net.forward(data)
        batched = NeuralNet.forward(net, data)
    assert one_batch.shape == (300, 3)
    torch.testing.assert_close(one_batch, batched, rtol=0, atol=0)


def test_forward_leaves_dropout_off_unless_training():
    net = make_net()
    data = ArrayDataset(torch.ones(50, 4))
    torch.testing.assert_close(net.forward(data), net.forward(data))
    assert not torch.equal(net.forward(data, training=True), net.forward(data))


def test_forward_takes_arrays_as_a_skorch_net_does():
    net = make_net()
    X = np.random.RandomState(0).normal(size=(7, 4)).astype(np.float32)
    with torch.no_grad():
        expected = net.module_.eval()(torch.from_numpy(X))
    torch.testing.assert_close(net.forward(X), expected)


def test_the_module_docstring_names_every_skorch_method_the_net_replaces():
    replaced = [name for name, value in vars(SkdeepNet).items()
                if callable(value) and not name.startswith("__") and hasattr(NeuralNet, name)]
    assert len(replaced) > 10
    assert [name for name in replaced if f"``{name}``" not in net_module.__doc__] == []
