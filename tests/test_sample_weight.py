"""Sample weights in the default float32 training.

``test_common.py`` runs scikit-learn's equivalence checks in float64 at
``rtol=1e-7``; here the same equivalences hold at a float32 tolerance.
"""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.filterwarnings("ignore:Got batch_size=1000 larger")  # one full batch on purpose
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_integer_weights_equal_repeated_samples(Estimator, data):
    X, y = data
    weight = np.random.RandomState(0).randint(0, 4, size=len(y))
    params = dict(hidden_layer_sizes=(16,), batch_size=1000, max_iter=50, random_state=0, shuffle=False)
    weighted = Estimator(**params).fit(X, y, sample_weight=weight)
    repeated = Estimator(**params).fit(np.repeat(X, weight, axis=0), np.repeat(y, weight))
    method = "predict_proba" if Estimator is MLPClassifier else "predict"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X), atol=1e-4)


def test_weights_change_the_model(data):
    X, y = data
    weight = np.where(y == 0, 10.0, 1.0)
    params = dict(hidden_layer_sizes=(16,), max_iter=30, learning_rate_init=0.01, random_state=0)
    plain = MLPClassifier(**params).fit(X, y).predict_proba(X)
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=weight).predict_proba(X)
    # more weight on class 0 makes the model lean towards it, on the other classes' samples too
    assert weighted[y == 0, 0].mean() > plain[y == 0, 0].mean()
    assert weighted[y != 0, 0].mean() > 2 * plain[y != 0, 0].mean()


def test_batches_of_zero_weight_contribute_nothing():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    weight = np.r_[np.zeros(100), np.ones(100)]
    clf = MLPClassifier(shuffle=False, batch_size=50, max_iter=5, random_state=0).fit(X, y, sample_weight=weight)
    unweighted = MLPClassifier(shuffle=False, batch_size=50, max_iter=5, random_state=0).fit(X[100:], y[100:])
    assert np.isfinite(clf.loss_curve_).all()
    # the zero-weight batches change nothing but the penalty's pull on the weights
    np.testing.assert_allclose(clf.predict_proba(X), unweighted.predict_proba(X), atol=0.05)


@pytest.mark.parametrize(("weight", "side"), [([1.0, 0.0, 0.0], "training"), ([0.0, 1.0, 0.0], "validation")])
def test_an_early_stopping_split_that_leaves_a_side_without_weight_is_refused(weight, side):
    # validation_fraction=0.5 of 3 rows holds rows 0 and 2 out (random_state=0): row 1 is left to train on
    X, y = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([1.0, 2.0, 3.0])
    reg = MLPRegressor(solver="adamw", early_stopping=True, validation_fraction=0.5, l1=0.001, max_iter=2,
                       random_state=0)
    with pytest.raises(ValueError, match=rf"the \d {side} sample\(s\) all have a sample_weight of 0"):
        reg.fit(X, y, sample_weight=np.array(weight))
    assert not hasattr(reg, "net_")
