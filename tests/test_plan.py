"""The training plan: every decision of a call, made from the parameters without data."""

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

import skdeep._base
from skdeep import CNNClassifier, MLPClassifier, MLPRegressor, TorchRegressor
from skdeep._data import batch_bounds
from skdeep._plan import STOCHASTIC_SOLVERS, DataSummary, TrainingCall, plan_net, plan_training

CPU = torch.device("cpu")
FIT, WARM = TrainingCall(), TrainingCall(continues=True, samples_seen=500)
FIRST_PARTIAL = TrainingCall(incremental=True)
PARTIAL = TrainingCall(incremental=True, continues=True, samples_seen=500)


def plan(call=FIT, n_samples=1000, streamed=False, device=CPU, estimator=MLPClassifier, **params):
    return plan_training(estimator(**params).get_params(), DataSummary(n_samples, streamed), call, device)


# -- early stopping, the split and the batches --------------------------------------------------------------------


@pytest.mark.parametrize("n_samples, fraction", [(1000, 0.1), (150, 0.1), (37, 0.25), (21, 0.5)])
def test_the_validation_split_has_train_test_splits_sizes(n_samples, fraction):
    planned = plan(n_samples=n_samples, early_stopping=True, validation_fraction=fraction)
    train, _ = train_test_split(np.arange(n_samples), test_size=fraction, random_state=0)
    assert planned.early_stopping and planned.n_train == len(train) and planned.validation_fraction == fraction


def test_lbfgs_holds_nothing_out_and_takes_one_full_batch_step():
    planned = plan(n_samples=300, solver="lbfgs", early_stopping=True, batch_size=32, max_iter=50)
    assert not planned.stochastic and not planned.early_stopping
    assert (planned.n_train, planned.batch_size, planned.epochs, planned.validation_fraction) == (300, 300, 1, 0.0)


def test_without_early_stopping_every_row_trains():
    planned = plan(n_samples=300, validation_fraction=0.5)
    assert not planned.early_stopping and planned.n_train == 300 and planned.validation_fraction == 0.0


@pytest.mark.parametrize("batch_size, n_samples, expected", [("auto", 1000, 200), ("auto", 150, 150), (32, 1000, 32)])
def test_the_batch_size_in_rows(batch_size, n_samples, expected):
    assert plan(n_samples=n_samples, batch_size=batch_size).batch_size == expected


def test_the_batch_size_counts_the_rows_left_by_the_split():
    assert plan(n_samples=100, batch_size="auto", early_stopping=True).batch_size == 90


def test_a_batch_size_above_the_rows_is_clipped_with_a_warning():
    with pytest.warns(UserWarning, match="batch_size=500 larger than the 300 training samples"):
        assert plan(n_samples=300, batch_size=500).batch_size == 300


@pytest.mark.parametrize("call, epochs", [(FIT, 17), (WARM, 17), (FIRST_PARTIAL, 1), (PARTIAL, 1)])
def test_a_fit_runs_max_iter_epochs_and_partial_fit_one(call, epochs):
    assert plan(call, max_iter=17).epochs == epochs


# -- optimizer, penalties, schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", STOCHASTIC_SOLVERS)
def test_alpha_is_a_gradient_penalty_except_for_adamws_decoupled_decay(solver):
    planned = plan(solver=solver, alpha=0.03, l1=0.002)
    decoupled = solver == "adamw"
    assert planned.l2 == (0.0 if decoupled else 0.03) and planned.l1 == 0.002
    assert planned.net.decoupled_weight_decay == (0.03 if decoupled else None)


def test_the_penalty_is_divided_by_the_expected_batch_weight():
    penalty = plan(n_samples=1000, batch_size=50, alpha=0.1).penalty(mean_weight=2.0)
    assert (penalty.l2, penalty.batch_weight) == (0.1, 100.0)


def test_solver_options_are_scikit_learns_parameters():
    sgd = plan(solver="sgd", momentum=0.8, nesterovs_momentum=True, learning_rate_init=0.05).net
    assert (sgd.optimizer_options["momentum"], sgd.optimizer_options["nesterov"], sgd.lr) == (0.8, True, 0.05)
    assert not plan(solver="sgd", momentum=0.0, nesterovs_momentum=True).net.optimizer_options["nesterov"]
    adam = plan(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-7).net.optimizer_options
    assert (adam["betas"], adam["eps"], adam["fused"]) == ((0.8, 0.99), 1e-7, True)
    lbfgs = plan(solver="lbfgs", max_iter=30, max_fun=99, tol=1e-3).net
    assert lbfgs.optimizer_options == {"max_iter": 30, "max_fun": 99, "tol": 1e-3} and lbfgs.lr == 1.0


@pytest.mark.parametrize("schedule, call, seen", [
    ("invscaling", WARM, 500),  # scikit-learn's t_ carries over a warm fit
    ("invscaling", PARTIAL, 500),
    ("cosine", WARM, 0),  # an annealing schedule spans one fit: a warm fit starts it again
    ("onecycle", PARTIAL, 500),  # partial_fit goes on along it
    ("cosine", FIT, 0),
])
def test_where_the_learning_rate_schedule_goes_on_from(schedule, call, seen):
    planned = plan(call, n_samples=100, learning_rate=schedule, max_iter=7)
    assert planned.schedule_samples_seen == seen and planned.schedule_samples == 700


def test_a_compiled_module_gets_skorchs_compile_options():
    assert plan(compile="max-autotune").net.compile_options == {"compile": True, "compile__mode": "max-autotune"}
    assert plan(compile=True).net.compile_options == {"compile": True}
    assert plan(compile=False).net.compile_options == {}


def test_a_loaded_models_net_is_planned_as_a_fits():
    params = MLPClassifier(solver="adamw", alpha=0.2, compile=True).get_params()
    assert plan_net(params, CPU) == plan_training(params, DataSummary(100), FIT, CPU).net


# -- precision, devices, data-parallel training -----------------------------------------------------------------------


@pytest.mark.parametrize("precision, dtype, autocast", [
    ("float32", torch.float32, None), ("float64", torch.float64, None),
    ("bfloat16", torch.float32, torch.bfloat16), ("float16", torch.float32, torch.float16),
])
def test_precision_gives_the_dtype_and_autocast(precision, dtype, autocast):
    planned = plan(precision=precision)
    assert (planned.dtype, planned.autocast) == (dtype, autocast)


@pytest.mark.parametrize("solver, precision, output_dtype, checked", [
    ("adam", "float32", np.float32, True),  # the loss of each batch comes before its step
    ("lbfgs", "float64", np.float32, True),  # a finite float64 loss, outputs that float32 cannot hold
    ("lbfgs", "float64", np.float64, False),  # LBFGS's loss is at its solution
    ("lbfgs", "float32", np.float32, False),
    ("lbfgs", "float32", np.float64, False),
])
def test_outputs_are_checked_after_training_where_the_loss_does_not_vouch_for_them(
        solver, precision, output_dtype, checked):
    data = DataSummary(100, output_dtype=np.dtype(output_dtype))
    params = MLPClassifier(solver=solver, precision=precision).get_params()
    assert plan_training(params, data, FIT, CPU).output_check is checked


def test_a_continued_partial_fit_keeps_its_networks_dtype():
    call = dataclasses.replace(PARTIAL, module_dtype=torch.float64)
    assert plan(call, precision="float32").dtype == torch.float64
    assert plan(dataclasses.replace(WARM, module_dtype=torch.float64), precision="float32").dtype == torch.float32


def test_data_parallel_training_is_for_stochastic_solvers_and_never_captures_graphs():
    ranks = TrainingCall(ranks=4)
    assert plan(ranks).data_parallel and plan(ranks).ranks == 4
    assert not plan(ranks, solver="lbfgs").data_parallel
    assert plan(ranks, device=torch.device("cuda")).net.cuda_graph is False
    assert plan(device=torch.device("cuda")).net.cuda_graph == "auto"
    user_module = TrainingCall(own_module=False)  # its forward pass may wait for the host
    assert plan(user_module, device=torch.device("cuda"), estimator=TorchRegressor, module=torch.nn.Linear
                ).net.cuda_graph is False


# -- refusals ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, params, message", [
    (FIRST_PARTIAL, {"early_stopping": True}, "partial_fit does not support early_stopping=True"),
    (FIT, {"solver": "lbfgs", "checkpoint": "fit.ckpt"}, "needs a stochastic solver: solver='lbfgs'"),
    (PARTIAL, {"checkpoint": "fit.ckpt"}, "partial_fit does not support checkpoint="),
    (WARM, {"checkpoint": "fit.ckpt"}, r"A warm fit \(warm_start=True\) does not support checkpoint="),
    (FIT, {"solver": "lbfgs", "precision": "bfloat16"}, "precision='bfloat16' needs a stochastic solver"),
    (TrainingCall(ranks=2), {"precision": "float16"}, "use precision='bfloat16'"),
    (FIT, {"cuda_graph": True, "solver": "rmsprop"}, "cuda_graph=True cannot be combined with solver='rmsprop'"),
    (FIT, {"early_stopping": True, "validation_fraction": 0}, "'validation_fraction' parameter must be in"),
    (FIT, {"early_stopping": True, "validation_fraction": 0.1}, "The validation set is too small"),
])
def test_what_means_nothing_is_refused_before_any_data_is_touched(call, params, message):
    with pytest.raises(ValueError, match=message):
        plan(call, n_samples=10, **params)


def test_early_stopping_is_refused_on_data_streamed_from_dask():
    with pytest.raises(ValueError, match="streamed in blocks from a dask collection"):
        plan(streamed=True, early_stopping=True)
    assert plan(streamed=True).n_train == 1000


def test_a_split_that_leaves_no_training_row_names_the_parameter():
    with pytest.raises(ValueError, match="validation_fraction=0.9 of the training data, which fails here"):
        plan(n_samples=2, early_stopping=True, validation_fraction=0.9)


# -- decisions that need the module: batch normalisation ------------------------------------------------------------


def batch_norm_module():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))


def test_a_module_without_batch_norm_changes_nothing():
    planned = plan(n_samples=401, batch_size=200)
    assert planned.for_module(torch.nn.Linear(3, 2)) is planned


@pytest.mark.parametrize("n_samples, batch_size", [(401, 200), (400, 200), (11, 5), (7, 7)])
def test_batch_norm_folds_a_last_row_into_the_batch_before(n_samples, batch_size):
    planned = plan(n_samples=n_samples, batch_size=batch_size).for_module(batch_norm_module())
    assert planned.fold_single_batch
    assert min(np.diff(batch_bounds(n_samples, batch_size, fold_single=True))) >= 2


@pytest.mark.parametrize("n_samples, batch_size", [(1, 1), (10, 1)])
def test_batch_norm_refuses_batches_of_one_row(n_samples, batch_size):
    with pytest.raises(ValueError, match="batch_norm=True normalises each batch by its own statistics"):
        plan(n_samples=n_samples, batch_size=batch_size).for_module(batch_norm_module())


def test_the_plan_cannot_be_changed_downstream():
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan().batch_size = 7


# -- the estimators read the plan and decide nothing again ------------------------------------------------------------


@pytest.fixture
def altered_plans(monkeypatch):
    """Make every fit's plan take the given fields instead."""
    changes = {}

    def altered(*args, **kwargs):
        return dataclasses.replace(plan_training(*args, **kwargs), **changes)

    monkeypatch.setattr(skdeep._base, "plan_training", altered)
    return changes


def test_training_follows_the_plans_batches_epochs_and_penalty(altered_plans):
    X, y = load_iris(return_X_y=True)
    altered_plans.update(batch_size=16, epochs=3, l2=0.0, l1=0.0, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(alpha=10.0, max_iter=50, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 and clf.net_.batch_size == 16
    assert [len(row["batches"]) for row in clf.net_.history] == [math.ceil(150 / 16)] * 3
    assert clf.loss_ == pytest.approx(clf.history_["train_loss"].iloc[-1])  # no penalty added: the plan had none


def test_early_stopping_follows_the_plan(altered_plans):
    X, y = load_iris(return_X_y=True)
    altered_plans.update(early_stopping=False, validation_fraction=0.0, n_train=150)
    reg = MLPRegressor(early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    assert reg.validation_scores_ is None and reg.best_loss_ is not None and reg.t_ == 5 * 150


def test_every_estimator_plans_its_fit(altered_plans):
    X, y = load_iris(return_X_y=True)
    altered_plans.update(epochs=2)
    assert CNNClassifier(conv_filters=(2,), max_iter=30, random_state=0).fit(X, y).n_iter_ == 2
