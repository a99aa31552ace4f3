"""skdeep's optimizers: torch's arithmetic, without importing torch._dynamo."""

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from torch.optim.optimizer import register_optimizer_step_post_hook

from skdeep import MLPClassifier, _optim

SOLVERS = ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lbfgs"]

_FRESH_PROCESS = """
import sys, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_breast_cancer
from skdeep import MLPClassifier
X, y = load_breast_cancer(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
for solver in {solvers}:
    model = MLPClassifier((8,), solver=solver, max_iter=3, early_stopping=solver != "lbfgs").fit(X, y)
model.set_params(solver="adam").partial_fit(X, y)
model.set_params(warm_start=True).fit(X, y)
print("torch._dynamo" in sys.modules)
"""


def test_a_fresh_process_fits_without_importing_dynamo():
    # torch's optimizer wrappers import torch._dynamo (about a second) on first use
    output = subprocess.run([sys.executable, "-c", _FRESH_PROCESS.format(solvers=SOLVERS)],
                            capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


@pytest.mark.parametrize("solver", SOLVERS)
def test_same_model_as_torchs_own_optimizer(solver, monkeypatch):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=15, random_state=0, precision="float64")
    ours = MLPClassifier(**params).fit(X, y)
    stock = {name: cls.__mro__[1] for name, cls in _optim.OPTIMIZERS.items()}
    monkeypatch.setattr(_optim, "OPTIMIZERS", stock)
    theirs = MLPClassifier(**params).fit(X, y)
    assert type(theirs.net_.optimizer_) is stock[solver]
    assert isinstance(ours.net_.optimizer_, stock[solver])
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))
    assert ours.loss_ == theirs.loss_ and ours.n_iter_ == theirs.n_iter_


def test_state_dict_round_trip_continues_identically():
    w = torch.nn.Parameter(torch.arange(4.0))
    optimizer = _optim.Adam([w], lr=0.1)
    for _ in range(3):
        w.grad = torch.ones(4)
        optimizer.step()
    twin = torch.nn.Parameter(w.detach().clone())
    restored = _optim.Adam([twin], lr=0.1)
    restored.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # torch's loading shares the tensors
    w.grad, twin.grad = torch.full((4,), 0.5), torch.full((4,), 0.5)
    optimizer.step()
    restored.step()
    torch.testing.assert_close(w, twin, rtol=0, atol=0)


def test_step_hooks_and_profiler_labels_still_work():
    w = torch.nn.Parameter(torch.ones(2))
    optimizer = _optim.SGD([w], lr=0.1)
    calls = []
    own = optimizer.register_step_pre_hook(lambda *args: calls.append("own pre"))
    every = register_optimizer_step_post_hook(lambda *args: calls.append("global post"))
    try:
        w.grad = torch.ones(2)
        optimizer.step()
    finally:
        own.remove()
        every.remove()
    optimizer.step()  # no hooks left
    assert calls == ["own pre", "global post"]
    with torch.profiler.profile() as profile:
        optimizer.step()
    assert "Optimizer.step#SGD.step" in {event.name for event in profile.events()}
    torch.testing.assert_close(w.detach(), torch.full((2,), 0.7))
