"""Non-finite losses and outputs (NaN, inf): errors with advice, and line searches that back off."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

from skdeep import MLPRegressor, TorchClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class TurnsNaN(torch.nn.Module):
    """A linear model whose output turns NaN after ``healthy`` training passes."""

    def __init__(self, n_features, n_outputs, healthy=2):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)
        self.healthy = healthy
        self.calls = 0

    def forward(self, x):
        self.calls += self.training
        output = self.layer(x)
        return output * float("nan") if self.calls > self.healthy else output


def test_a_module_that_turns_nan_gets_advice_on_its_output(iris):
    X, y = iris
    with pytest.raises(ValueError, match="non-finite.*check that its output is finite"):
        TorchClassifier(TurnsNaN, batch_size=150, max_iter=5, random_state=0).fit(X, y)


def test_nan_outputs_at_predict_time_are_an_error(iris):
    X, y = iris
    clf = TorchClassifier(TurnsNaN, module_params={"healthy": 10**9}, max_iter=2, random_state=0).fit(X, y)
    clf.module_.healthy = -1  # from now on, every output is NaN
    with pytest.raises(ValueError, match="output is not finite.*150 of the 150 samples"):
        clf.predict(X)
    with pytest.raises(ValueError, match="output is not finite"):
        clf.predict_proba(X)


def test_lbfgs_divergence_at_a_trial_point_is_not_an_error():
    # the line search tries a step whose loss is not finite and backs off: the solution is finite
    X, y = make_regression(n_samples=100, n_features=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(solver="lbfgs", activation="identity", random_state=0).fit(X * 1e10, y * 1e10)
    assert np.isfinite(reg.loss_) and np.isfinite(reg.predict(X * 1e10)).all()
