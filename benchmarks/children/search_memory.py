"""Peak resident memory that skdeep's stacked 48-fit GridSearchCV adds, at (100,) on breast_cancer.

Usage: ``python search_memory.py DEVICE``. Prints two numbers, in MB: the peak
resident memory after one fit (torch started, the data made), and after the
search.
"""

import resource
import sys
import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import skdeep
from skdeep.model_selection import GridSearchCV


def peak_resident_mb():
    """The highest resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(device):
    """One fit (torch's start-up), then the stacked search; print the peaks."""
    warnings.simplefilter("ignore")
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    network = skdeep.MLPClassifier((100,), max_iter=200, n_iter_no_change=200, random_state=0, device=device)
    network.fit(X, y)
    before = peak_resident_mb()
    grid = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "learning_rate_init": [1e-4, 1e-3, 3e-3, 1e-2]}
    GridSearchCV(network, grid, cv=3, refit=False).fit(X, y)
    print(before, peak_resident_mb())


if __name__ == "__main__":
    main(sys.argv[1])
