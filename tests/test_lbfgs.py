"""ScipyLBFGS: scipy's L-BFGS-B behind torch's optimizer API, with scikit-learn's limits and report."""

import numpy as np
import pytest
import scipy.optimize
import torch
from scipy.special import expit
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import skdeep._lbfgs
from skdeep._lbfgs import ScipyLBFGS

RNG = np.random.RandomState(0)
_M = RNG.normal(size=(6, 6))
A, B = _M @ _M.T + 6 * np.eye(6), RNG.normal(size=6)  # a convex quadratic 0.5 x'Ax - b'x


def quadratic(x):
    return 0.5 * x @ A @ x - B @ x, A @ x - B


def scipys(fun, x0, tol=1e-4, max_iter=200, max_fun=15000):
    return scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                   options={"gtol": tol, "maxiter": max_iter, "maxfun": max_fun})


def quadratic_closure(w):
    matrix, vector = torch.from_numpy(A).to(w.dtype), torch.from_numpy(B).to(w.dtype)

    def closure():
        w.grad = None
        loss = 0.5 * w @ matrix @ w - vector @ w
        loss.backward()
        return loss

    return closure


def test_a_convex_quadratic_reaches_scipys_minimum_and_report():
    w = torch.nn.Parameter(torch.zeros(6, dtype=torch.float64))
    optimizer = ScipyLBFGS([w], tol=1e-10)
    loss = optimizer.step(quadratic_closure(w))
    reference = scipys(quadratic, np.zeros(6), tol=1e-10)
    np.testing.assert_allclose(w.detach().numpy(), reference.x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), np.linalg.solve(A, B), atol=1e-4)
    assert loss == pytest.approx(reference.fun, rel=1e-12)
    assert optimizer.result == {"n_iter": reference.nit, "n_fun": reference.nfev, "status": 0,
                                "message": reference.message}


def test_a_logistic_regression_over_two_parameters_reaches_scipys_minimum():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n, d = X.shape
    l2 = 0.01

    def numpy_loss(theta):  # the mean log-loss plus 0.5 * l2 * ||w||^2, and its gradient
        w, b = theta[:d], theta[d]
        z = X @ w + b
        loss = np.mean(np.logaddexp(0, z) - y * z) + 0.5 * l2 * w @ w
        residual = (expit(z) - y) / n
        return loss, np.r_[X.T @ residual + l2 * w, residual.sum()]

    layer = torch.nn.Linear(d, 1).double()
    for parameter in layer.parameters():
        torch.nn.init.zeros_(parameter)
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y.astype(float))[:, None]

    def closure():
        layer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(layer(inputs), targets)
        loss = loss + 0.5 * l2 * layer.weight.square().sum()
        loss.backward()
        return loss

    optimizer = ScipyLBFGS(layer.parameters(), tol=1e-8)
    optimizer.step(closure)
    reference = scipys(numpy_loss, np.zeros(d + 1), tol=1e-8)
    assert optimizer.result["status"] == reference.status == 0
    solution = np.r_[layer.weight.detach().numpy().ravel(), layer.bias.detach().numpy()]
    np.testing.assert_allclose(solution, reference.x, atol=1e-5)


@pytest.mark.parametrize("max_iter, max_fun", [(3, 15000), (200, 4)], ids=["max_iter", "max_fun"])
def test_max_iter_and_max_fun_stop_the_minimisation_as_scipys(max_iter, max_fun):
    w = torch.nn.Parameter(torch.zeros(6, dtype=torch.float64))
    optimizer = ScipyLBFGS([w], tol=1e-10, max_iter=max_iter, max_fun=max_fun)
    optimizer.step(quadratic_closure(w))
    reference = scipys(quadratic, np.zeros(6), tol=1e-10, max_iter=max_iter, max_fun=max_fun)
    # scipy's words for the limit reached, which vary with its version
    assert optimizer.result["status"] == reference.status == 1 and optimizer.result["message"] == reference.message
    assert optimizer.result["n_iter"] == min(reference.nit, max_iter) <= max_iter
    assert optimizer.result["n_fun"] == reference.nfev
    np.testing.assert_allclose(w.detach().numpy(), reference.x, rtol=1e-12, atol=1e-12)


def test_float32_parameters_are_minimised_in_float32():
    w = torch.nn.Parameter(torch.zeros(6))
    dtypes = []
    closure = quadratic_closure(w)

    def recording():
        dtypes.append(w.dtype)
        return closure()

    ScipyLBFGS([w], tol=1e-6).step(recording)
    assert w.dtype == torch.float32 and set(dtypes) == {torch.float32}
    np.testing.assert_allclose(w.detach().numpy(), np.linalg.solve(A, B), atol=1e-3)


def test_a_parameter_without_gradient_stays_where_it_is():
    w = torch.nn.Parameter(torch.zeros(6, dtype=torch.float64))
    unused = torch.nn.Parameter(torch.tensor([1.5, -2.0], dtype=torch.float64))
    ScipyLBFGS([w, unused], tol=1e-8).step(quadratic_closure(w))
    assert unused.tolist() == [1.5, -2.0]
    np.testing.assert_allclose(w.detach().numpy(), np.linalg.solve(A, B), atol=1e-4)


def test_a_minimisation_that_ends_on_a_non_finite_loss_goes_back_to_the_best_finite_point(monkeypatch):
    def ends_on_overflow(fun, x0, **kwargs):  # a line search that ended at a point of infinite loss
        fun(x0 + 3.0)
        fun(x0 + 0.5)  # the lowest finite loss
        fun(x0 + 50.0)
        return scipy.optimize.OptimizeResult(x=x0 + 50.0, fun=np.inf, nit=2, nfev=3, status=2, message="ABNORMAL")

    monkeypatch.setattr(skdeep._lbfgs.scipy.optimize, "minimize", ends_on_overflow)
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))

    def closure():
        w.grad = None
        loss = (w - 1.0).square().sum()
        loss = loss * np.inf if w[0] > 10 else loss
        loss.backward()
        return loss

    optimizer = ScipyLBFGS([w])
    assert optimizer.step(closure) == 0.5
    assert w.tolist() == [0.5, 0.5] and optimizer.result["status"] == 2
