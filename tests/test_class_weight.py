"""class_weight: the weights and shapes it must have, and partial_fit's refusal of "balanced"."""

import numpy as np
import pytest

from skdeep import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("class_weight", [{0: -1.0}, {0: np.nan}])
def test_class_weights_must_be_finite_and_non_negative(class_weight, iris):
    X, y = iris
    with pytest.raises(ValueError, match="'class_weight' parameter must give finite, non-negative weights"):
        MLPClassifier(class_weight=class_weight, max_iter=2).fit(X, y)


def test_class_weights_of_the_wrong_shape_for_y_are_named(iris):
    X, y = iris
    Y = np.c_[y == 0, y == 2].astype(int)
    with pytest.raises(ValueError, match="For multilabel y, the 'class_weight' parameter must be 'balanced' or a list"):
        MLPClassifier(class_weight={0: 1.0, 1: 2.0}, max_iter=2).fit(X, Y)
    with pytest.raises(ValueError, match="'class_weight' parameter is a list of dicts, one per label, for multilabel"):
        MLPClassifier(class_weight=[{0: 1.0}], max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="as a list, must hold one .* dict per label; got \\[2.0, 1.0\\]"):
        MLPClassifier(class_weight=[2.0, 1.0], max_iter=2).fit(X, Y)


def test_balanced_class_weight_is_refused_by_partial_fit_which_sees_one_batch(iris):
    X, y = iris
    clf = MLPClassifier(class_weight="balanced", max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(clf, "net_")
    clf.fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="compute_class_weight"):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
