"""Device resolution, data placement, out-of-memory advice, compilation (no GPU needed)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.utils.validation import check_is_fitted

from skdeep import TorchClassifier
from skdeep._data import ArrayDataset, place_on_device
from skdeep._device import resolve_device


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "CUDA", "", None, 0])
def test_malformed_devices_are_rejected(bad):
    with pytest.raises(ValueError, match="'device' parameter must be"):
        resolve_device(bad)


def test_cpu_and_auto_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_cuda_index_without_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_out_of_range():
    with pytest.raises(ValueError, match="numbered from 0"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_on_the_cpu_data_stays_where_it_is():
    dataset = ArrayDataset(torch.zeros(4, 2), torch.zeros(4))
    assert place_on_device(dataset, torch.device("cpu")) is dataset


class RunsOutOfMemory(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")


def test_out_of_memory_is_reraised_with_advice_and_leaves_no_fit():
    X, y = load_iris(return_X_y=True)
    clf = TorchClassifier(RunsOutOfMemory, batch_size=64)
    with pytest.raises(torch.OutOfMemoryError, match="smaller batch_size.*bfloat16.*left unfitted"):
        clf.fit(X, y)
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(clf)
    assert not hasattr(clf, "classes_")


def test_lbfgs_refuses_mixed_precision():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="needs a stochastic solver"):
        TorchClassifier(RunsOutOfMemory, solver="lbfgs", precision="bfloat16").fit(X, y)


@pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")  # torch's own, on importing its compiler
def test_a_compiled_network_trains_like_the_eager_one_and_pickles():
    import pickle

    from sklearn.datasets import load_digits

    from skdeep import MLPClassifier

    X, y = load_digits(return_X_y=True)
    params = dict(hidden_layer_sizes=(32,), max_iter=3, early_stopping=True, random_state=0)
    compiled = MLPClassifier(compile=True, **params).fit(X / 16, y)
    eager = MLPClassifier(**params).fit(X / 16, y)
    assert type(compiled.module_).__name__ == "OptimizedModule"
    assert [c.shape for c in compiled.coefs_] == [c.shape for c in eager.coefs_]
    np.testing.assert_allclose(compiled.predict_proba(X / 16), eager.predict_proba(X / 16), atol=1e-5)
    restored = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_array_equal(restored.predict(X / 16), compiled.predict(X / 16))
