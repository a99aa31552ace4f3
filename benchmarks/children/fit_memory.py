"""Peak resident memory of one epoch of MLPClassifier((64,)).fit on 1,000,000 x 100 float64.

Usage: ``python fit_memory.py DEVICE``. Prints three numbers, in MB: the size of
X, the peak resident memory before the fit (X made, torch started), and after it.
"""

import resource
import sys
import warnings

import numpy as np

import skdeep


def peak_resident_mb():
    """The highest resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(device):
    """Start torch, make X, and fit one epoch on ``device``; print the sizes."""
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    skdeep.MLPClassifier((64,), max_iter=1).fit(rng.normal(size=(2000, 100)), np.arange(2000) % 2)  # torch's start-up
    X = rng.normal(size=(1_000_000, 100))
    y = (X[:, 0] > 0).astype(int)
    before = peak_resident_mb()
    skdeep.MLPClassifier((64,), batch_size=1024, max_iter=1, device=device, random_state=0).fit(X, y)
    print(X.nbytes / 2**20, before, peak_resident_mb())


if __name__ == "__main__":
    main(sys.argv[1])
