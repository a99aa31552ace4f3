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


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_module_that_is_nan_from_the_first_batch_gets_advice_on_the_module_and_the_data(early_stopping, iris):
    X, y = iris
    clf = TorchClassifier(TurnsNaN, module_params={"healthy": 0}, early_stopping=early_stopping, max_iter=3,
                          random_state=0)
    with pytest.raises(ValueError, match="non-finite.*from the first batch on.*your own module") as error:
        clf.fit(X, y)
    assert "Lower the learning rate" not in str(error.value)


def test_a_float64_network_whose_outputs_float32_cannot_hold_has_diverged():
    # finite float64 weights and loss, but outputs beyond float32's range: the predictions of a float32 X
    X = np.full((4, 10), 3e38, dtype=np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(), precision="float64", learning_rate_init=1e-300, max_iter=1,
                       random_state=0)
    with pytest.raises(ValueError, match="non-finite parameter weights.*predictions for 4 of its 4 training "
                                         "samples are not finite in float32"):
        reg.fit(X, np.arange(4.0))
    assert not hasattr(reg, "net_")


@pytest.mark.parametrize(("loss", "precision", "scale"), [("squared_error", "float64", 1e40),
                                                          ("poisson", "float32", 100.0)])
def test_predictions_beyond_the_range_of_their_dtype_are_an_error(loss, precision, scale):
    # float32 X: predictions in float32, which cannot hold a float64 network's 1e40, nor exp(100)
    X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    X = X.astype(np.float32)
    reg = MLPRegressor(loss, hidden_layer_sizes=(), precision=precision, max_iter=2, random_state=0)
    reg.fit(X, np.abs(y) / 100)
    with torch.no_grad():
        reg.module_.layers[-1].weight.zero_()
        reg.module_.layers[-1].bias.fill_(scale)
    with pytest.raises(ValueError, match="not finite .* in float32, the dtype of the predictions, for 50 of the 50"):
        reg.predict(X)


def test_a_last_step_that_leaves_non_finite_predictions_has_diverged():
    # the epoch's loss comes before its step, whose learning rate sends exp(output) beyond float32's range
    X, y = make_regression(n_samples=20, n_features=3, random_state=0)
    reg = MLPRegressor("poisson", hidden_layer_sizes=(4,), learning_rate_init=10.0, max_iter=1, random_state=1)
    with pytest.raises(ValueError, match="non-finite parameter weights.*predictions for 6 of its 20 training "
                                         "samples are not finite in float32.*Lower the learning rate"):
        reg.fit(X.astype(np.float32), np.abs(y) / 100)


def test_the_predictions_for_the_validation_rows_count_too():
    # early stopping holds row 0 out (random_state=0), whose prediction is beyond float32's range
    X = np.ones((10, 10), dtype=np.float32)
    X[0] = 3e38
    reg = MLPRegressor(hidden_layer_sizes=(), precision="float64", learning_rate_init=1e-300, early_stopping=True,
                       validation_fraction=0.5, max_iter=1, random_state=0)
    with pytest.raises(ValueError, match="predictions for 1 of its 10 training samples are not finite in float32"):
        reg.fit(X, np.arange(10.0))
