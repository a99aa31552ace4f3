import os

import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from sklearn.preprocessing import StandardScaler


def pytest_configure(config):
    # Under pytest-xdist every worker is its own process: one torch thread each
    # keeps the workers from oversubscribing the cores (tiny networks gain
    # nothing from intra-op threads, and lose much to contention).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    """Digits as flat rows scaled to [0, 1] (test_cnn.py overrides it with images)."""
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def iris():
    """Iris, its features standardised."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y
