"""Data that float32, the default precision, cannot hold is refused with advice, not turned into inf or 0."""

import numpy as np
import pytest

from skdeep import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_values_beyond_float32_are_refused_with_advice(iris):
    X, y = iris
    huge = X * 1e39
    with pytest.raises(ValueError, match="beyond the range of float32.*precision='float64'"):
        MLPClassifier(max_iter=2).fit(huge, y)
    assert MLPClassifier(max_iter=2, precision="float64").fit(huge, y).predict(huge).shape == (150,)
    clf = MLPClassifier(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        clf.predict(huge)


def test_weights_and_targets_beyond_float32_are_named(iris):
    X, y = iris
    with pytest.raises(ValueError, match="sample_weight holds values that float32"):
        MLPClassifier(max_iter=2).fit(X, y, sample_weight=np.full(len(y), 1e-50))
    with pytest.raises(ValueError, match="y holds values beyond the range of float32"):
        MLPRegressor(max_iter=2).fit(X, np.full(len(y), 1e39))
    assert MLPClassifier(max_iter=2, precision="float64").fit(X, y, sample_weight=np.full(len(y), 1e-50))
