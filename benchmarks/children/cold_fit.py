"""Import an MLPClassifier and fit it once on breast_cancer, (100,), 20 epochs: what a fresh process pays.

Usage: ``python cold_fit.py LIBRARY``, with LIBRARY ``skdeep``, ``sklearn``, or
``sklearn+torch`` (scikit-learn's MLP in a process that also imports torch).
The imports are part of what is measured, so they happen in :func:`main`.
"""

import sys
import warnings


def main(library):
    """Import ``library``'s MLPClassifier and fit it once."""
    warnings.simplefilter("ignore")
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    if library == "skdeep":
        from skdeep import MLPClassifier
    else:
        if library == "sklearn+torch":
            import torch  # noqa: F401
        from sklearn.neural_network import MLPClassifier
    X, y = load_breast_cancer(return_X_y=True)
    MLPClassifier((100,), max_iter=20, random_state=0).fit(StandardScaler().fit_transform(X), y)


if __name__ == "__main__":
    main(sys.argv[1])
