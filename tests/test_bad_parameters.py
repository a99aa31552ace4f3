"""Bad parameter values are named before any training."""

import numpy as np
import pytest

from skdeep import CNNClassifier, MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize(("Estimator", "params", "message"), [
    (MLPClassifier, {"hidden_layer_sizes": (0,)}, "'hidden_layer_sizes' parameter must hold positive integers"),
    (MLPClassifier, {"hidden_layer_sizes": (16, -3)}, "'hidden_layer_sizes'"),
    (MLPClassifier, {"hidden_layer_sizes": (8, "x")}, "'hidden_layer_sizes'"),
    (MLPClassifier, {"hidden_layer_sizes": (2.7,)}, "'hidden_layer_sizes'"),
    (MLPClassifier, {"early_stopping": True, "validation_fraction": 0}, "'validation_fraction' parameter"),
    (CNNClassifier, {"conv_filters": (0,)}, "'conv_filters' parameter must hold positive integers"),
    (CNNClassifier, {"kernel_size": (3, 3, 3)}, "'kernel_size' parameter .* tuple of 2 for images"),
    (CNNClassifier, {"kernel_size": (0, 3)}, "'kernel_size' parameter"),
    (CNNClassifier, {"pool_size": (2, 2, 2)}, "'pool_size' parameter"),
    (CNNClassifier, {"input_shape": (1, -8, -8)}, "'input_shape' parameter must be the shape of one sample"),
])
def test_bad_parameters_are_named_before_training(Estimator, params, message):
    X = np.random.RandomState(0).normal(size=(40, 64)) if Estimator is MLPClassifier else \
        np.random.RandomState(0).normal(size=(40, 1, 8, 8))
    if "input_shape" in params:
        X = X.reshape(40, -1)
    clf = Estimator(max_iter=1, **params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, np.arange(40) % 2)
    assert not hasattr(clf, "net_")


def test_a_one_dimensional_kernel_for_signals():
    with pytest.raises(ValueError, match="'kernel_size' parameter .* tuple of 1 for signals"):
        CNNClassifier(kernel_size=(3, 3), max_iter=1).fit(np.zeros((20, 16)), np.arange(20) % 2)
