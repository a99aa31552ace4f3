"""A training call that fails leaves the model the user had."""

import numpy as np
import pytest
from failing_modules import RaisesAt

from skdeep import MLPClassifier, TorchClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_a_failed_partial_fit_restores_the_model(iris):
    X, y = iris
    # 3 batches per call: the third call fails at its second batch, after one update
    clf = TorchClassifier(RaisesAt, module_params={"at": 8, "error": RuntimeError}, batch_size=50, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2]).partial_fit(X, y)
    before, curve, t = clf.predict_proba(X), list(clf.loss_curve_), clf.t_
    steps = int(clf.net_.optimizer_.state[clf.module_.layer.weight]["step"])
    with pytest.raises(RuntimeError, match="the module failed"):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.loss_curve_ == curve and clf.t_ == t and len(clf.history_) == 2
    assert int(clf.net_.optimizer_.state[clf.module_.layer.weight]["step"]) == steps == 6
    assert len(clf.partial_fit(X, y).loss_curve_) == 3  # and it trains on


@pytest.mark.parametrize("bad", [
    {"solver": "lbfgs", "precision": "bfloat16"},
    {"cuda_graph": True, "solver": "rmsprop"},
    {"hidden_layer_sizes": (0,)},
])
def test_a_bad_parameter_in_a_continuing_call_keeps_the_model(bad, iris):
    X, y = iris
    clf = MLPClassifier(max_iter=5, warm_start=True, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError):
        clf.set_params(**bad).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_a_failed_refit_keeps_the_model_the_user_had(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.set_params(hidden_layer_sizes=(0,)).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
