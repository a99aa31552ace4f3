"""A loss of the user's for the Torch estimators: built with criterion__ arguments, weighed as scikit-learn weighs."""

import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

from skdeep import TorchClassifier, TorchRegressor


def linear(n_features, n_outputs):
    return torch.nn.Linear(n_features, n_outputs)


def two_layers(n_features, n_outputs):
    return torch.nn.Sequential(torch.nn.Linear(n_features, 32), torch.nn.Tanh(), torch.nn.Linear(32, n_outputs))


class MeanOnly(torch.nn.Module):
    """A loss of one value per batch, with no reduction to ask for."""

    def forward(self, outputs, target):
        return torch.nn.functional.cross_entropy(outputs, target)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=120, n_features=4, noise=20.0, random_state=0)
    return X, y / 100


def test_label_smoothing_keeps_the_loss_above_the_smoothed_targets_entropy(iris):
    X, y = iris
    params = dict(alpha=0.0, learning_rate_init=0.05, max_iter=300, random_state=0)
    smoothed = TorchClassifier(two_layers, criterion=torch.nn.CrossEntropyLoss, criterion__label_smoothing=0.3,
                               **params).fit(X, y)
    plain = TorchClassifier(two_layers, **params).fit(X, y)
    floor = -(0.8 * math.log(0.8) + 2 * 0.1 * math.log(0.1))  # the entropy of the smoothed targets
    assert smoothed.loss_ >= floor - 1e-6
    assert plain.loss_ < floor / 3
    assert smoothed.score(X, y) > 0.9


def test_loss_reports_the_users_loss_at_the_solution(regression):
    X, y = regression
    reg = TorchRegressor(linear, criterion=torch.nn.L1Loss, solver="lbfgs", alpha=0.0, max_iter=500).fit(X, y)
    assert reg.loss_ == pytest.approx(np.mean(np.abs(y - reg.predict(X))), rel=1e-5)
    assert reg.history_["train_loss"].iloc[-1] == pytest.approx(reg.loss_, rel=1e-5)


def test_integer_sample_weights_train_as_repeated_rows(regression):
    X, y = regression
    weight = np.where(np.arange(len(y)) % 3 == 0, 2.0, 1.0)
    repeated = np.repeat(np.arange(len(y)), weight.astype(int))
    params = dict(criterion=torch.nn.HuberLoss, criterion__delta=0.3, solver="lbfgs", alpha=0.0, max_iter=500,
                  random_state=0)
    weighted = TorchRegressor(linear, precision="float64", **params).fit(X, y, sample_weight=weight)
    copied = TorchRegressor(linear, precision="float64", **params).fit(X[repeated], y[repeated])
    np.testing.assert_allclose(weighted.predict(X), copied.predict(X), rtol=1e-4, atol=1e-6)
    unweighted = TorchRegressor(linear, precision="float64", **params).fit(X, y)
    assert not np.allclose(weighted.predict(X), unweighted.predict(X), rtol=1e-3)


def test_class_weight_weighs_the_users_loss(iris):
    X, y = iris
    params = dict(criterion=torch.nn.CrossEntropyLoss, max_iter=30, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        favoured = TorchClassifier(linear, class_weight={0: 1.0, 1: 50.0, 2: 1.0}, **params).fit(X, y)
        plain = TorchClassifier(linear, **params).fit(X, y)
    assert (favoured.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()


def test_a_loss_instance_is_used_as_given(regression):
    X, y = regression
    reg = TorchRegressor(linear, criterion=torch.nn.HuberLoss(delta=0.01), solver="lbfgs", alpha=0.0,
                         max_iter=500).fit(X, y)
    residuals = np.abs(y - reg.predict(X))
    huber = np.where(residuals < 0.01, 0.5 * residuals**2, 0.01 * (residuals - 0.005)).mean()
    assert reg.loss_ == pytest.approx(huber, rel=1e-4)
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_a_loss_without_per_sample_values_is_refused_with_weights(iris):
    X, y = iris
    clf = TorchClassifier(linear, criterion=MeanOnly, learning_rate_init=0.05, max_iter=20, random_state=0)
    with pytest.raises(ValueError, match=r"criterion MeanOnly gives one value per batch.*sample_weight"):
        clf.fit(X, y, sample_weight=np.linspace(0.5, 2.0, len(y)))
    assert not hasattr(clf, "net_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert clf.fit(X, y).score(X, y) > 0.8  # without weights, it trains


@pytest.mark.parametrize("params, match", [
    (dict(criterion=torch.nn.HuberLoss(), criterion__delta=0.5), r"criterion__ arguments \['delta'\] build a loss"),
    (dict(criterion=torch.nn.L1Loss, loss="poisson"), "loss='poisson' means nothing beside it"),
])
def test_meaningless_loss_combinations_are_refused(regression, params, match):
    X, y = regression
    reg = TorchRegressor(linear, **params)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, np.abs(y))
    assert not hasattr(reg, "net_")


def test_a_loss_holding_class_weights_trains_in_float64_and_the_users_instance_stays_put(iris):
    X, y = iris
    weights = torch.tensor([1.0, 2.0, 3.0])
    loss = torch.nn.CrossEntropyLoss(weight=weights)
    clf = TorchClassifier(linear, criterion=loss, precision="float64", max_iter=3).fit(X, y)
    assert clf.net_.criterion_.loss.weight.dtype == torch.float64
    assert loss.weight.dtype == torch.float32 and loss.weight is weights


def test_a_summing_loss_sums_the_weighted_samples(regression):
    X, y = regression
    params = dict(criterion=torch.nn.L1Loss, criterion__reduction="sum", solver="lbfgs", alpha=0.0, max_iter=1,
                  random_state=0)
    plain = TorchRegressor(linear, **params).fit(X, y)
    weighted = TorchRegressor(linear, **params).fit(X, y, sample_weight=np.full(len(y), 2.0))
    assert weighted.history_["train_loss"].iloc[0] == pytest.approx(2 * plain.history_["train_loss"].iloc[0])


@pytest.mark.parametrize("criterion", [torch.nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss(label_smoothing=0.1)])
def test_a_cross_entropy_of_one_logit_is_refused(criterion):
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    clf = TorchClassifier(linear, criterion=criterion)
    with pytest.raises(ValueError, match="binary TorchClassifier's module returns one logit.*BCEWithLogitsLoss"):
        clf.fit(X, y > 0)
    assert TorchClassifier(linear, criterion=torch.nn.BCEWithLogitsLoss, max_iter=2).fit(X, y > 0).score(X, y > 0)


def test_a_criterion_set_between_partial_fits_trains_the_next_call(regression):
    X, y = regression
    reg = TorchRegressor(linear, random_state=0).partial_fit(X, y)
    reg.set_params(criterion=torch.nn.L1Loss).partial_fit(X, y)
    assert isinstance(reg.net_.criterion_.loss, torch.nn.L1Loss)
