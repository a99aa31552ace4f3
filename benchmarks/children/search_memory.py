"""Peak resident memory that skdeep's stacked 48-fit GridSearchCV adds, at (100,) on breast_cancer.

Usage: ``python search_memory.py DEVICE``. Prints two numbers, in MB: the
resident memory after one fit (torch started, the data made), and the highest
resident memory sampled (every 10 ms) during the search.
"""

import os
import sys
import threading
import time
import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import skdeep
from skdeep.model_selection import GridSearchCV


def resident_mb():
    """Resident memory of this process, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(device):
    """One fit (torch's start-up), then the stacked search while a thread samples the resident memory."""
    warnings.simplefilter("ignore")
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    network = skdeep.MLPClassifier((100,), max_iter=200, n_iter_no_change=200, random_state=0, device=device)
    network.fit(X, y)
    before = peak = resident_mb()
    running = True

    def sample():
        nonlocal peak
        while running:
            peak = max(peak, resident_mb())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    grid = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "learning_rate_init": [1e-4, 1e-3, 3e-3, 1e-2]}
    GridSearchCV(network, grid, cv=3, refit=False).fit(X, y)
    running = False
    sampler.join()
    print(before, max(peak, resident_mb()))


if __name__ == "__main__":
    main(sys.argv[1])
