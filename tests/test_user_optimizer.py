"""An optimizer of the user's (``optimizer=``), and ``optimizer__<argument>`` for the built-in solvers."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skdeep import MLPClassifier, MLPRegressor


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_the_users_optimizer_class_trains_with_learning_rate_init_and_its_arguments(iris):
    X, y = iris
    clf = MLPClassifier((16,), optimizer=torch.optim.NAdam, optimizer__momentum_decay=0.002,
                        learning_rate_init=0.01, max_iter=100, random_state=0).fit(X, y)
    optimizer = clf.net_.optimizer_
    assert type(optimizer) is torch.optim.NAdam
    assert optimizer.param_groups[0]["lr"] == 0.01 and optimizer.param_groups[0]["momentum_decay"] == 0.002
    assert clf.score(X, y) > 0.9


def test_torchs_sgd_as_the_users_optimizer_trains_as_the_sgd_solver(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), learning_rate="invscaling", learning_rate_init=0.1, alpha=0.01,
                  max_iter=15, random_state=0)
    solver = MLPClassifier(solver="sgd", momentum=0.9, nesterovs_momentum=True, **params).fit(X, y)
    users = MLPClassifier(optimizer=torch.optim.SGD, optimizer__momentum=0.9, optimizer__nesterov=True,
                          **params).fit(X, y)
    np.testing.assert_allclose(users.history_["learning_rate"], solver.history_["learning_rate"])
    np.testing.assert_allclose(users.loss_curve_, solver.loss_curve_, rtol=1e-5)


def test_alpha_is_an_l2_penalty_with_the_users_optimizer(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), optimizer=torch.optim.Adamax, learning_rate_init=0.05, max_iter=200,
                  random_state=0)
    light = MLPClassifier(alpha=0.0, **params).fit(X, y)
    heavy = MLPClassifier(alpha=5.0, **params).fit(X, y)
    assert np.linalg.norm(heavy.coefs_[0]) < 0.8 * np.linalg.norm(light.coefs_[0])


def test_built_in_solvers_take_the_options_skdeep_does_not_set(iris):
    X, y = iris
    clf = MLPClassifier((8,), optimizer__amsgrad=True, optimizer__weight_decay=0.1, max_iter=3).fit(X, y)
    group = clf.net_.optimizer_.param_groups[0]
    assert group["amsgrad"] is True and group["weight_decay"] == 0.1


@pytest.mark.parametrize("params, match", [
    (dict(optimizer=torch.optim.NAdam, solver="sgd"), "solver='sgd' means nothing beside it"),
    (dict(optimizer=torch.optim.LBFGS), "use solver='lbfgs'"),
    (dict(optimizer__lr=0.1), "learning_rate_init"),
    (dict(optimizer__betas=(0.5, 0.5)), r"optimizer__betas \(set beta_1 and beta_2\)"),
    (dict(solver="sgd", optimizer__nesterov=False), r"optimizer__nesterov \(set nesterovs_momentum\)"),
    (dict(solver="adamw", optimizer__weight_decay=0.1), r"optimizer__weight_decay \(set alpha\)"),
    (dict(solver="lbfgs", optimizer__history_size=3), "solver='lbfgs' takes no optimizer__ arguments"),
    (dict(optimizer=torch.optim.NAdam, cuda_graph=True), "cuda_graph=True cannot be combined with optimizer=NAdam"),
    (dict(optimizer=torch.optim.NAdam, optimizer__momentum_decy=0.1), "Did you mean optimizer__momentum_decay"),
    (dict(solver="sgd", optimizer__dampening=0.1), "optimizer__dampening: SGD's Nesterov momentum"),
])
def test_optimizer_settings_that_mean_nothing_are_refused_before_training(iris, params, match):
    X, y = iris
    clf = MLPClassifier(**params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_a_class_that_is_no_optimizer_is_refused(iris):
    X, y = iris
    with pytest.raises(TypeError, match="optimizer=int is not an optimizer class"):
        MLPClassifier(optimizer=int).fit(X, y)


def test_foreach_takes_the_place_of_the_fused_step(iris):
    X, y = iris
    clf = MLPClassifier((8,), optimizer__foreach=True, max_iter=2).fit(X, y)
    group = clf.net_.optimizer_.param_groups[0]
    assert group["foreach"] is True and not group["fused"]


def test_an_optimizer_instance_is_refused_by_its_parameter(iris):
    X, y = iris
    with pytest.raises(InvalidParameterError, match="'optimizer' parameter"):
        MLPClassifier(optimizer=torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)).fit(X, y)


def test_partial_fit_keeps_the_users_optimizer_and_builds_another_when_it_changes(iris):
    X, y = iris
    reg = MLPRegressor(hidden_layer_sizes=(8,), optimizer=torch.optim.NAdam, random_state=0)
    reg.partial_fit(X, y.astype(float))
    first = reg.net_.optimizer_
    reg.partial_fit(X, y.astype(float))
    assert reg.net_.optimizer_ is first and first.state[first.param_groups[0]["params"][0]]["step"] == 2
    reg.set_params(optimizer=torch.optim.RAdam).partial_fit(X, y.astype(float))
    assert type(reg.net_.optimizer_) is torch.optim.RAdam


def test_a_saved_model_trains_on_with_its_optimizers_state(iris):
    X, y = iris
    clf = MLPClassifier((8,), optimizer=torch.optim.NAdam, max_iter=5, random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    for model in (clf, loaded):
        model.partial_fit(X, y)
    assert type(loaded.net_.optimizer_) is torch.optim.NAdam
    np.testing.assert_allclose(loaded.loss_curve_, clf.loss_curve_, rtol=1e-6)
