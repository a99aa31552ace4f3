import os

import torch


def pytest_configure(config):
    # Under pytest-xdist every worker is its own process: one torch thread each
    # keeps the workers from oversubscribing the cores (tiny networks gain
    # nothing from intra-op threads, and lose much to contention).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
