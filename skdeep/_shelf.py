"""Fits trained ahead of their ``fit`` call: what a stacked search hands to scikit-learn's search loop.

A stacked search (:mod:`skdeep.model_selection`) trains the networks of
many (candidate, split) fits at once, then lets scikit-learn's own search
loop run as it always does. Each trained estimator waits on a shelf, under
a key of its class, its parameters and the exact data its ``fit`` gets;
when scikit-learn's loop calls ``fit`` on a clone with the same parameters
and the same data, the clone takes the trained state (:func:`take_trained`)
instead of training again. Anything that does not match, parameters or
data (a transformer that draws at random, a split that differs), trains as
usual: the shelf makes a search faster, never different.
"""

import hashlib
import pickle
import threading
from collections import defaultdict
from contextlib import contextmanager

import joblib
import numpy as np

_LOCK = threading.Lock()
#: key -> trained estimators, shared by the threads of the process (joblib's threading backend)
_SHELVED = defaultdict(list)
_OPEN_SHELVES = [0]


def fit_key(estimator, X, y, sample_weight=None):
    """The key of a fit of ``estimator`` (unfitted parameters) on ``(X, y, sample_weight)``, or None.

    A SHA-1 digest of the estimator's class and parameters, pickled, and of
    the data: a numpy array by its type, dtype, shape and bytes, anything
    else as :func:`joblib.hash` hashes it (a tenth of joblib's time for a
    search's parameters and arrays, which it pickles in Python). Parameters
    that cannot be pickled (a lambda, say) give None: such fits are not
    shelved.

    Examples
    --------
    >>> import numpy as np
    >>> from skdeep import MLPClassifier
    >>> from skdeep._shelf import fit_key
    >>> X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    >>> fit_key(MLPClassifier(alpha=0.1), X, y) == fit_key(MLPClassifier(alpha=0.1), X.copy(), y)
    True
    >>> fit_key(MLPClassifier(alpha=0.1), X, y) == fit_key(MLPClassifier(alpha=0.2), X, y)
    False
    >>> fit_key(MLPClassifier(alpha=0.1), X, y) == fit_key(MLPClassifier(alpha=0.1), X.astype(np.float32), y)
    False
    """
    try:
        digest = hashlib.sha1(pickle.dumps((type(estimator).__module__, type(estimator).__qualname__,
                                            estimator.get_params(deep=False))), usedforsecurity=False)
        for data in (X, y, sample_weight):
            digest.update(_data_digest(data))
        return digest.hexdigest()
    except Exception:  # noqa: BLE001 (pickling a parameter can fail in any way)
        return None


def _data_digest(data):
    """The digest of one of a fit's data arguments: a numpy array's kind and bytes, or joblib's hash of the rest."""
    if isinstance(data, np.ndarray) and not data.dtype.hasobject:
        bytes_digest = hashlib.sha1(np.ascontiguousarray(data), usedforsecurity=False).digest()
        return f"array {type(data).__qualname__} {data.dtype.str} {data.shape} ".encode() + bytes_digest
    return f"other {joblib.hash(data)}".encode()


class Shelf:
    """The trained fits of one search, offered while :func:`open_shelf`'s block runs."""

    def __init__(self):
        self._offered = []

    def put(self, key, estimator, tag=None):
        """Offer the trained ``estimator`` to the next ``fit`` whose :func:`fit_key` is ``key``; ``tag`` names it."""
        with _LOCK:
            _SHELVED[key].append(estimator)
            self._offered.append((key, estimator, tag))

    def taken(self):
        """The tags of the offered fits that a ``fit`` took."""
        with _LOCK:
            return [tag for key, estimator, tag in self._offered
                    if not any(other is estimator for other in _SHELVED.get(key, []))]

    def clear(self):
        """Withdraw what no ``fit`` took."""
        with _LOCK:
            for key, estimator, _ in self._offered:
                left = [other for other in _SHELVED.get(key, []) if other is not estimator]
                if left:
                    _SHELVED[key] = left
                else:
                    _SHELVED.pop(key, None)
            self._offered = []


@contextmanager
def open_shelf():
    """Offer trained fits to ``fit`` calls while the block runs; withdraw those left after."""
    shelf = Shelf()
    with _LOCK:
        _OPEN_SHELVES[0] += 1
    try:
        yield shelf
    finally:
        shelf.clear()
        with _LOCK:
            _OPEN_SHELVES[0] -= 1


def take_trained(estimator, X, y, sample_weight=None):
    """Give ``estimator`` the state of a shelved fit of its parameters on this data; whether it took one.

    Costs nothing while no shelf is open (outside stacked searches).
    """
    if not _OPEN_SHELVES[0]:
        return False
    key = fit_key(estimator, X, y, sample_weight)
    with _LOCK:
        trained = _SHELVED.get(key)
        if not trained:
            return False
        fitted = trained.pop(0)
        if not trained:
            del _SHELVED[key]
    parameters = estimator.get_params(deep=False)  # (the caller's own objects stay)
    vars(estimator).update({name: value for name, value in vars(fitted).items() if name not in parameters})
    return True
