"""The callbacks that give training scikit-learn's MLP behaviour: schedules, stopping rule and divergence check."""

import inspect
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn import neural_network as sknn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer
from skorch.history import History

from skdeep._callbacks import (
    AnnealingSchedule,
    ConvergenceMonitor,
    DivergenceCheck,
    LearningRateSchedule,
    StoppingProgress,
    StopTraining,
)
from skdeep._penalty import WeightPenalty

LR = 0.1


def fake_net(momentum=0.0):
    """What the callbacks read of a net: its history, optimizer, module and penalised weights."""
    module = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(module.parameters(), lr=LR, momentum=momentum)
    return SimpleNamespace(history=History(), optimizer_=optimizer, module_=module, penalised_weights=[])


def learning_rate(net):
    return net.optimizer_.param_groups[0]["lr"]


def end_epoch(net, callback, train_loss=1.0, first_batch_loss=1.0, **kwargs):
    """An epoch of two batches, as the net writes it, whose mean loss is ``train_loss``."""
    net.history.new_epoch()
    net.history.record("batches", [{"train_loss": first_batch_loss}, {"train_loss": train_loss}])
    net.history.record("train_loss", train_loss)
    callback.on_epoch_end(net, **kwargs)


# -- learning-rate schedules -----------------------------------------------------------------------------------------


def test_invscaling_sets_scikit_learns_rate_after_each_epoch():
    net, rows = fake_net(), torch.zeros(150, 3)
    schedule = LearningRateSchedule("invscaling", LR, power_t=0.5, samples_seen=300)
    theirs = SGDOptimizer([np.zeros(1)], learning_rate_init=LR, lr_schedule="invscaling", power_t=0.5)
    for epoch in range(1, 4):
        end_epoch(net, schedule, dataset_train=rows)
        theirs.iteration_ends(300 + 150 * epoch)
        assert learning_rate(net) == pytest.approx(theirs.learning_rate, rel=1e-12)


def test_a_new_rate_keeps_sgds_velocity_as_scikit_learns():
    net = fake_net(momentum=0.9)
    net.module_(torch.ones(4, 3)).sum().backward()
    net.optimizer_.step()
    buffers = [state["momentum_buffer"].clone() for state in net.optimizer_.state.values()]
    end_epoch(net, LearningRateSchedule("invscaling", LR, power_t=0.5), dataset_train=torch.zeros(99, 3))
    new_rate = learning_rate(net)
    assert new_rate == pytest.approx(LR / 10)
    for before, state in zip(buffers, net.optimizer_.state.values(), strict=True):  # velocity: rate x buffer
        torch.testing.assert_close(new_rate * state["momentum_buffer"], LR * before)


def test_a_rate_that_underflows_to_zero_leaves_sgds_buffers_alone():
    net = fake_net(momentum=0.9)
    net.module_(torch.ones(4, 3)).sum().backward()
    net.optimizer_.step()
    buffers = [state["momentum_buffer"].clone() for state in net.optimizer_.state.values()]
    tiny = np.nextafter(0.0, 1.0)  # the smallest learning_rate_init: divided, it rounds to 0
    end_epoch(net, LearningRateSchedule("invscaling", tiny, power_t=0.5), dataset_train=torch.zeros(99, 3))
    assert learning_rate(net) == 0.0
    for before, state in zip(buffers, net.optimizer_.state.values(), strict=True):
        torch.testing.assert_close(state["momentum_buffer"], before)


def test_cosine_annealing_is_torchs_cosine_schedule():
    steps = 50
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    for step in range(steps + 1):
        schedule = AnnealingSchedule("cosine", LR, total_samples=steps, samples_seen=step)
        assert schedule.learning_rate() == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        if step < steps:
            optimizer.step()
            scheduler.step()


def test_onecycle_follows_torchs_one_cycle_schedule():
    steps = 1000
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=steps + 1, pct_start=0.3,
                                                    anneal_strategy="cos", cycle_momentum=False)
    for step in range(steps + 1):
        schedule = AnnealingSchedule("onecycle", LR, total_samples=steps, samples_seen=step)
        # torch ends each phase a step earlier: the rates agree up to one step's change
        assert schedule.learning_rate() == pytest.approx(optimizer.param_groups[0]["lr"], abs=LR * 5e-3)
        if step < steps:
            optimizer.step()
            scheduler.step()
    assert AnnealingSchedule("onecycle", LR, total_samples=steps, samples_seen=steps).learning_rate() == \
        pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9)


def test_annealing_sets_the_rate_at_every_training_batch():
    net = fake_net()
    schedule = AnnealingSchedule("cosine", LR, total_samples=100)
    schedule.on_train_begin(net)
    assert learning_rate(net) == LR
    schedule.on_batch_end(net, batch=(torch.zeros(50, 3), None), training=True)
    assert learning_rate(net) == pytest.approx(LR / 2)
    schedule.on_batch_end(net, batch=(torch.zeros(50, 3), None), training=False)  # a validation batch
    assert learning_rate(net) == pytest.approx(LR / 2)


# -- scikit-learn's stopping rule ------------------------------------------------------------------------------------


def sklearns_run(values, *, early_stopping, adaptive, tol=1e-4, n_iter_no_change=2):
    """The epochs scikit-learn's MLP runs on these per-epoch losses (or validation scores), and its rates."""
    mlp = sknn.MLPClassifier(tol=tol, n_iter_no_change=n_iter_no_change)
    mlp.loss_curve_, mlp.validation_scores_, mlp._no_improvement_count = [], [], 0
    mlp.best_loss_, mlp.best_validation_score_, mlp.coefs_, mlp.intercepts_ = np.inf, -np.inf, [], []
    scores = iter(values)
    mlp._score = lambda *args, **kwargs: next(scores)
    optimizer = SGDOptimizer([np.zeros(1)], learning_rate_init=LR, lr_schedule="adaptive" if adaptive else "constant")
    rates = []
    # the validation data it takes: X and y, and from scikit-learn 1.7 on, the sample weights
    validation = [None] * (len(inspect.signature(mlp._update_no_improvement_count).parameters) - 1)
    for value in values:
        mlp.loss_curve_.append(value)
        mlp._update_no_improvement_count(early_stopping, *validation)
        if mlp._no_improvement_count > n_iter_no_change:
            if optimizer.trigger_stopping("", False):
                return len(mlp.loss_curve_), rates
            mlp._no_improvement_count = 0
        rates.append(optimizer.learning_rate)
    return len(values), rates


def skdeeps_run(values, *, early_stopping, adaptive, tol=1e-4, n_iter_no_change=2):
    net = fake_net()
    scores = iter(values)
    validation = (None, lambda net, dataset: next(scores)) if early_stopping else None
    monitor = ConvergenceMonitor(tol, n_iter_no_change, adaptive, WeightPenalty(), False, StoppingProgress(),
                                 validation)
    rates = []
    for value in values:
        try:
            end_epoch(net, monitor, train_loss=value)
        except StopTraining:
            return len(net.history), rates
        rates.append(learning_rate(net))
    return len(values), rates


LOSSES = [1.0, 0.8, 0.79995, 0.81, 0.7, 0.69985, 0.69992, *[0.7] * 40]
SCORES = [0.5, 0.7, 0.70005, 0.69, 0.8, 0.80011, 0.80015, *[0.8] * 40]
@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("early_stopping, values", [
    (False, LOSSES),
    (True, SCORES),
    pytest.param(False, [1.0, 0.7, 0.6999, *[0.6999] * 40], id="loss-improves-by-tol"),  # (up to rounding)
    pytest.param(True, [0.5, 0.7, 0.7001, *[0.7001] * 40], id="score-improves-by-tol"),
])
def test_training_stops_at_scikit_learns_epoch_with_its_rates(early_stopping, values, adaptive):
    ours = skdeeps_run(values, early_stopping=early_stopping, adaptive=adaptive)
    theirs = sklearns_run(values, early_stopping=early_stopping, adaptive=adaptive)
    assert ours[0] == theirs[0] < len(values)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


def test_the_recorded_loss_adds_the_penalty_to_the_data_loss():
    net = fake_net()
    net.penalised_weights = [net.module_.weight]
    progress = StoppingProgress()
    monitor = ConvergenceMonitor(1e-4, 10, False, WeightPenalty(l2=0.5, batch_weight=4.0), False, progress)
    end_epoch(net, monitor, train_loss=2.0)
    squares = float(net.module_.weight.detach().square().sum())
    assert progress.loss_curve == [pytest.approx(2.0 + 0.5 / 2 * squares / 4.0)] == [net.history[-1]["loss"]]


def test_the_best_validation_epochs_weights_are_restored_at_the_end():
    net = fake_net()
    scores = iter([0.5, 0.9, 0.8, 0.7])
    monitor = ConvergenceMonitor(1e-4, 5, False, WeightPenalty(), False, StoppingProgress(),
                                 (None, lambda net, dataset: next(scores)))
    for epoch in range(4):
        torch.nn.init.constant_(net.module_.weight, float(epoch))
        end_epoch(net, monitor)
    monitor.on_train_end(net)
    assert net.module_.weight.tolist() == [[1.0, 1.0, 1.0]]  # the epoch that scored 0.9
    assert monitor.validation is None  # the net keeps no data


# -- divergence ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [math.nan, math.inf])
def test_a_non_finite_loss_is_scikit_learns_error_without_early_stopping(loss):
    with pytest.raises(ValueError, match=r"Solver produced non-finite parameter weights.*epoch 1.*learning_rate_init"):
        end_epoch(fake_net(), DivergenceCheck("adam", early_stopping=False), train_loss=loss)


def test_a_non_finite_loss_with_early_stopping_warns_and_stops():
    with pytest.warns(ConvergenceWarning, match="Training diverged.*best validation score were restored"):
        with pytest.raises(StopTraining):
            end_epoch(fake_net(), DivergenceCheck("sgd", early_stopping=True), train_loss=math.nan)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_loss_not_finite_from_the_first_batch_points_at_the_data_and_the_module(early_stopping):
    net, check = fake_net(), DivergenceCheck("adam", early_stopping=early_stopping)
    check.on_train_begin(net)
    with pytest.raises(ValueError, match="non-finite .*from the first batch on.*check X and y") as error:
        end_epoch(net, check, train_loss=math.nan, first_batch_loss=math.nan)
    assert "learning_rate_init" not in str(error.value)


def test_a_finite_loss_trains_on():
    end_epoch(fake_net(), DivergenceCheck("lbfgs", early_stopping=False), train_loss=1e30)
