"""Categorical columns learned as embeddings: which columns, and their codes.

Numeric columns follow scikit-learn's rules (floats, NaN is an error);
categorical columns are encoded with an :class:`~sklearn.preprocessing.OrdinalEncoder`
whose codes start at 2: code 0 is a missing value and code 1 a category not
seen at fit, so that neither fails at predict time. The codes are appended to
the numeric columns as floats (exact for any realistic number of categories),
and :class:`skdeep.modules.EmbeddingMLP` splits them off again.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_array, check_X_y, validate_data

#: Reserved codes of a categorical column.
MISSING_CODE, UNKNOWN_CODE = 0, 1
_FIRST_CATEGORY = 2


def is_categorical_dtype(dtype):
    """Whether ``dtype`` is a pandas ``category`` or a polars ``Categorical`` / ``Enum`` column's."""
    return isinstance(dtype, pd.CategoricalDtype) or str(dtype).startswith(("Categorical", "Enum"))


def refuse_categorical_columns(estimator, X, error):
    """Raise ``error``, a failed conversion of X to numbers, again with advice where X has categorical columns.

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
    X : DataFrame or array-like
        The columns that were to be numbers.
    error : ValueError
    """
    dtypes, columns = getattr(X, "dtypes", None), getattr(X, "columns", None)
    if dtypes is None or columns is None:
        return
    names = [str(name) for name, dtype in zip(columns, dtypes, strict=True) if is_categorical_dtype(dtype)]
    if not names:
        return
    if "categorical_features" not in estimator.get_params(deep=False):
        taken, advice = f"{type(estimator).__name__} takes", ""
    elif estimator.categorical_features is None:
        taken, advice = "categorical_features=None takes", "set categorical_features='from_dtype' to learn an " \
                                                           "embedding of each, or "
    else:
        taken, advice = (f"categorical_features={estimator.categorical_features!r} does not select, so it takes",
                         "select them in categorical_features (or set it to 'from_dtype'), or ")
    raise ValueError(
        f"{error}\nX has categorical columns {names}, which {taken} as numbers: {advice}encode them first (for "
        "example with sklearn.preprocessing.OneHotEncoder in a sklearn.compose.ColumnTransformer)."
    ) from error


def _columns(X, indices):
    """The columns ``indices`` of a pandas or polars DataFrame, or of an array."""
    if hasattr(X, "iloc"):
        return X.iloc[:, indices]
    if hasattr(X, "select") and hasattr(X, "columns"):
        return X.select([X.columns[i] for i in indices])
    return np.asarray(X)[:, indices]


def categorical_mask(X, categorical_features, n_features):
    """Boolean mask of the categorical columns of X.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
    categorical_features : "from_dtype" or array-like
        ``"from_dtype"`` takes pandas ``category`` and polars ``Categorical`` /
        ``Enum`` columns; otherwise column names, column indices or a boolean
        mask.
    n_features : int

    Returns
    -------
    mask : ndarray of bool of shape (n_features,)
    """
    if isinstance(categorical_features, str):  # "from_dtype", by the parameter's constraints
        dtypes = getattr(X, "dtypes", None)
        return np.array([is_categorical_dtype(dtype) for dtype in dtypes] if dtypes is not None
                        else [False] * n_features)
    spec = np.asarray(categorical_features)
    if spec.dtype.kind == "b":
        if spec.shape != (n_features,):
            raise ValueError(f"categorical_features as a mask needs {n_features} entries, got {spec.shape[0]}.")
        return spec.copy()
    mask = np.zeros(n_features, dtype=bool)
    if spec.dtype.kind in "OUS":
        columns = list(getattr(X, "columns", []))
        unknown = [name for name in spec if name not in columns]
        if unknown:
            raise ValueError(f"categorical_features names {unknown} that are not columns of X.")
        mask[[columns.index(name) for name in spec]] = True
        return mask
    if spec.size and (spec.min() < -n_features or spec.max() >= n_features):
        raise ValueError(f"categorical_features has indices outside the {n_features} columns of X.")
    mask[spec.astype(int)] = True
    return mask


def default_embedding_dim(n_categories):
    """``min(50, (n_categories + 1) // 2)``, the classic rule of thumb."""
    return int(min(50, (n_categories + 1) // 2))


class CategoricalEmbeddingMixin:
    """Validation of tabular X with categorical columns, for the MLP estimators."""

    def _validate_X_y(self, X, y, *, reset):
        # a new network takes the columns that categorical_features says; one trained on takes those it was built for
        encoded = self.categorical_features is not None if reset else getattr(self, "is_categorical_", None) is not None
        if not encoded:
            return super()._validate_X_y(X, y, reset=reset)
        return self._encode_tabular(X, y, reset=reset)

    def _validate_X(self, X):
        if getattr(self, "is_categorical_", None) is None:
            return super()._validate_X(X)
        return self._encode_tabular(X, None, reset=False)[0]

    def _encode_tabular(self, X, y, *, reset):
        if sp.issparse(X):
            raise ValueError("categorical_features needs dense X (a DataFrame or an array), not a sparse matrix.")
        original = X
        X = validate_data(self, X, skip_check_array=True, reset=reset)  # names and column count only
        if not hasattr(X, "shape"):
            X = np.asarray(X, dtype=object)
        if len(X.shape) != 2:
            raise ValueError(f"categorical_features needs 2-D X (samples x columns); got shape {X.shape}.")
        if reset:
            self.is_categorical_ = categorical_mask(X, self.categorical_features, X.shape[1])
            self.input_shape_ = (X.shape[1],)
            if not self.is_categorical_.any():  # ("from_dtype" on numbers only) no embeddings
                self.is_categorical_ = None
                return super()._validate_X_y(original, y, reset=True)
        mask = self.is_categorical_
        if mask.all():  # categories only: no numeric block to validate, y on its own
            numeric = np.empty((X.shape[0], 0))
            if y is not None:
                _, y = check_X_y(np.zeros((X.shape[0], 1)), y, multi_output=True, y_numeric=self._y_numeric)
        else:
            numeric, y = self._numeric_columns(_columns(X, np.flatnonzero(~mask)), y)
        categories = np.array(_columns(X, np.flatnonzero(mask)), dtype=object)  # a copy: written below
        categories[pd.isna(categories)] = np.nan  # None, NaN, NA, NaT: one missing value
        if reset:
            self.categorical_encoder_ = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=UNKNOWN_CODE - _FIRST_CATEGORY,
                encoded_missing_value=MISSING_CODE - _FIRST_CATEGORY,
            ).fit(categories)
        codes = self.categorical_encoder_.transform(categories) + _FIRST_CATEGORY
        return np.hstack([numeric, codes.astype(numeric.dtype)]), y

    def _numeric_columns(self, columns, y):
        """The columns that are not categorical, validated as numbers (and y with them, where given)."""
        try:
            if y is None:
                return check_array(columns, dtype=(np.float32, np.float64)), None
            return check_X_y(columns, y, dtype=(np.float32, np.float64), multi_output=True,
                             y_numeric=self._y_numeric)
        except ValueError as error:
            refuse_categorical_columns(self, columns, error)
            raise

    def _embedding_dims(self):
        """Cardinality (reserved codes included) and embedding size of each categorical column."""
        names = (list(self.feature_names_in_[self.is_categorical_]) if hasattr(self, "feature_names_in_")
                 else list(np.flatnonzero(self.is_categorical_)))
        if isinstance(self.embedding_dims, dict):
            unknown = [key for key in self.embedding_dims if key not in names]
            if unknown:
                raise ValueError(f"embedding_dims names {unknown}, which are not categorical columns; "
                                 f"the categorical columns are {names}.")
        sizes = []
        for name, categories in zip(names, self.categorical_encoder_.categories_, strict=True):
            cardinality = len(categories) + _FIRST_CATEGORY
            if isinstance(self.embedding_dims, dict):
                dim = self.embedding_dims.get(name, default_embedding_dim(len(categories)))
            else:
                dim = self.embedding_dims or default_embedding_dim(len(categories))
            sizes.append((cardinality, int(dim)))
        return sizes
