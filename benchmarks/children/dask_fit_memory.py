"""One epoch of MLPClassifier((64,)).fit streamed from a 3,000,000 x 40 float32 dask array.

Usage: ``python dask_fit_memory.py DEVICE``. Prints four numbers: the size of X
in MB, the peak resident memory the fit added in MB, the fit's seconds, and the
accuracy on the first 20,000 rows.
"""

import sys
import time
import warnings

import dask.array as da
import numpy as np

import skdeep


def status_mb(field):
    """A memory ``field`` of /proc/self/status (``VmRSS``, ``VmHWM``), in MB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def main(device):
    """Start torch, define X lazily, and fit one epoch on ``device``; print the measures."""
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    skdeep.MLPClassifier((64,), max_iter=1).fit(rng.normal(size=(2000, 40)), np.arange(2000) % 2)  # torch's start-up
    X = da.random.RandomState(0).normal(size=(3_000_000, 40), chunks=(100_000, 40)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    X_test, y_test = np.asarray(X[:20_000]), np.asarray(y[:20_000])
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # the peak (VmHWM) starts again from the resident size now
    before = status_mb("VmRSS")
    start = time.perf_counter()
    model = skdeep.MLPClassifier((64,), batch_size=1024, max_iter=1, device=device, random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    print(X.nbytes / 2**20, status_mb("VmHWM") - before, seconds, model.score(X_test, y_test))


if __name__ == "__main__":
    main(sys.argv[1])
