"""Dropout: off at prediction, and a warm start may switch it on and off."""

import pytest
import torch

from skdeep import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_the_module_is_left_in_evaluation_mode(iris):
    X, y = iris
    clf = MLPClassifier(dropout=0.5, max_iter=3, random_state=0).fit(X, y)
    assert not clf.module_.training
    inputs = torch.as_tensor(X, dtype=torch.float32)
    torch.testing.assert_close(clf.module_(inputs), clf.module_(inputs))  # no dropout


def test_a_warm_start_may_switch_dropout_on_and_off(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=3, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(dropout=0.2).fit(X, y)
    clf.set_params(dropout=0.0).fit(X, y)
    assert len(clf.loss_curve_) == 9
