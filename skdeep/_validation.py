"""The data an estimator trains and predicts on, checked as scikit-learn checks it.

Training data (in memory or a dask collection) sets ``n_features_in_``,
``feature_names_in_`` and ``input_shape_``; data to predict on is checked
against them. Samples of more than one dimension (images, signals) are
flattened to rows, and their shape is kept in ``input_shape_``.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _check_sample_weight, check_array, validate_data

from skdeep._categorical import refuse_categorical_columns
from skdeep._dask import BlockRows, is_dask_collection, row_blocks
from skdeep._data import PREDICT_BATCH_SIZE

_FLOAT_DTYPES = (np.float32, np.float64)
_X_CHECKS = dict(accept_sparse=("csr", "csc"), dtype=_FLOAT_DTYPES)


def validate_training_data(estimator, X, y, sample_weight, *, reset):
    """Validate X, y and ``sample_weight`` for training; X streamed from dask stays lazy.

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
    X, y, sample_weight
        As ``fit`` takes them.
    reset : bool
        Whether this call trains a new network (and sets what data it takes).

    Returns
    -------
    X : ndarray, sparse matrix or skdeep._dask.BlockRows
    y : ndarray
    sample_weight : ndarray of float64
    """
    if is_dask_collection(X):
        X, y = _validate_block_rows(estimator, X, y, reset=reset)
        sample_weight = row_blocks(sample_weight).compute() if is_dask_collection(sample_weight) else sample_weight
    else:
        X, y = estimator._validate_X_y(X, y, reset=reset)  # (categorical columns are encoded there)
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    return X, y, sample_weight


def validate_X_y(estimator, X, y, *, reset):
    """Validate training data in memory; samples of more than one dimension are flattened."""
    X, sample_shape = _flatten_samples(X)
    try:
        X, y = validate_data(estimator, X, y, multi_output=True, y_numeric=estimator._y_numeric, reset=reset,
                             **_X_CHECKS)
    except ValueError as error:
        refuse_categorical_columns(estimator, X, error)
        raise
    _check_sample_shape(estimator, X, sample_shape, reset=reset)
    return X, y


def check_split_weights(sample_weight, train_index, validation_index, validation_fraction):
    """Refuse an early-stopping split whose training or validation rows all have a sample weight of 0.

    Parameters
    ----------
    sample_weight : ndarray of shape (n_samples,)
    train_index, validation_index : ndarray of int
        The rows of each side of the split.
    validation_fraction : float
        The part of the rows held out, named in the error.
    """
    for rows, part, empty in ((train_index, "training", "nothing to train on"),
                              (validation_index, "validation", "no validation score")):
        if not np.any(sample_weight[rows] > 0):
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={validation_fraction} of the samples "
                f"({len(validation_index)} of {len(sample_weight)}), and the {len(rows)} {part} sample(s) all have "
                f"a sample_weight of 0, which leaves {empty}. Give more samples a non-zero weight, change "
                "validation_fraction, or set early_stopping=False."
            )


def validate_X(estimator, X):
    """Validate data to predict on, against what fit saw."""
    if _valid_small_rows(X, estimator):
        return X
    X, sample_shape = _flatten_samples(X)
    X = validate_data(estimator, X, reset=False, **_X_CHECKS)
    _check_sample_shape(estimator, X, sample_shape, reset=False)
    return X


def _validate_block_rows(estimator, X, y, *, reset):
    """Validate a dask X without computing it (its blocks are checked as they are computed), and y."""
    if getattr(estimator, "categorical_features", None) is not None:
        raise ValueError("categorical_features needs X in memory (a DataFrame or an array), not a dask collection.")
    names = np.asarray(X.columns, dtype=object) if hasattr(X, "columns") else None
    rows = row_blocks(X)
    if rows.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array or a dask DataFrame for X, got {rows.ndim} dimension(s).")
    if np.isnan(rows.shape[0]):  # (dask's own advice)
        raise ValueError("X is a dask array whose blocks have unknown sizes (after boolean indexing, for "
                         "instance), which training needs to pair its rows with y: call X.compute_chunk_sizes() "
                         "first.")
    if reset:
        estimator.n_features_in_ = rows.shape[1]
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif rows.shape[1] != estimator.n_features_in_:  # scikit-learn's message
        raise ValueError(f"X has {rows.shape[1]} features, but {type(estimator).__name__} is expecting "
                         f"{estimator.n_features_in_} features as input.")
    y = check_array(row_blocks(y).compute() if is_dask_collection(y) else y, ensure_2d=False, dtype=None)
    if len(y) != rows.shape[0]:
        raise ValueError(f"X has {rows.shape[0]} samples but y has {len(y)}.")
    rows = BlockRows(rows)
    _check_sample_shape(estimator, rows, None, reset=reset)
    return rows, y


def _check_sample_shape(estimator, X, sample_shape, *, reset):
    if reset:
        estimator.input_shape_ = sample_shape or (X.shape[1],)
    elif sample_shape is not None and sample_shape != tuple(estimator.input_shape_):
        raise ValueError(
            f"X has samples of shape {sample_shape}, but {type(estimator).__name__} was "
            f"fitted on samples of shape {tuple(estimator.input_shape_)}."
        )


def _valid_small_rows(X, estimator, max_rows=PREDICT_BATCH_SIZE):
    """Whether X is a small float array that scikit-learn's validation would return unchanged.

    That is: a 2-D float32 or float64 ndarray of at most ``max_rows`` rows
    (a prediction batch), finite, as wide as the data at fit, which had no
    feature names. Its validation (60 µs, checks meant for any container) is
    most of the time of a one-row prediction; any other X goes through it,
    and gets its errors and warnings.
    """
    return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES and 0 < X.shape[0] <= max_rows
            and X.shape[1] == estimator.n_features_in_ and not hasattr(estimator, "feature_names_in_")
            and bool(np.isfinite(X).all()))


def _flatten_samples(X):
    """Return X as 2-D rows, and the shape of one sample when it had more dimensions."""
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) <= 2 or sp.issparse(X):
        return X, None
    return np.asarray(X).reshape(shape[0], int(np.prod(shape[1:]))), tuple(shape[1:])
