"""Running out of memory: advice on what to change, and the model the user had kept."""

import numpy as np
import pytest
import torch
from failing_modules import interrupted

from skdeep import TorchClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class RunsOutOfCPUMemory(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 80000000000 bytes.")


def test_cpu_out_of_memory_gets_the_same_advice_as_a_gpus(iris):
    X, y = iris
    clf = TorchClassifier(RunsOutOfCPUMemory, device="cpu")
    with pytest.raises(RuntimeError, match="machine ran out of memory.*smaller batch_size.*left unfitted"):
        clf.fit(X, y)


def test_out_of_memory_in_a_refit_says_the_earlier_model_is_kept(iris):
    X, y = iris
    clf = interrupted(at=None, max_iter=3).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(module_params={"at": 2, "error": MemoryError})
    with pytest.raises(MemoryError, match="The estimator was left as it was before this call"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
