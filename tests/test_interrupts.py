"""Ctrl+C while training: it reaches the caller, and the finished epochs are kept consistent."""

import numpy as np
import pytest
import torch
from failing_modules import interrupted
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skdeep import MLPClassifier, TorchClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_ctrl_c_propagates_and_keeps_the_finished_epochs(iris):
    X, y = iris
    clf = interrupted(at=4, max_iter=10)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.history_) == 3 and len(clf.loss_curve_) == 3
    assert clf.history_["train_loss"].notna().all()
    assert not clf.module_.training
    three_epochs = interrupted(at=None, max_iter=3).fit(X, y)  # the weights of the last finished epoch
    np.testing.assert_array_equal(clf.predict_proba(X), three_epochs.predict_proba(X))


def test_ctrl_c_in_the_first_epoch_leaves_the_estimator_unfitted(iris):
    X, y = iris
    clf = interrupted(at=1, max_iter=10)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


def test_ctrl_c_in_partial_fit_leaves_the_model_as_it_was(iris):
    X, y = iris
    clf = interrupted(at=3).partial_fit(X, y, classes=[0, 1, 2]).partial_fit(X, y)
    before, curve = clf.predict_proba(X), list(clf.loss_curve_)
    with pytest.raises(KeyboardInterrupt):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.loss_curve_ == curve and len(clf.history_) == 2


def test_ctrl_c_inside_a_search_stops_it(iris):
    from sklearn.model_selection import GridSearchCV

    X, y = iris
    search = GridSearchCV(interrupted(at=2, max_iter=5).set_params(batch_size=75), {"alpha": [1e-4, 1e-3]}, cv=2)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)


def test_ctrl_c_in_a_scikit_learn_callback_propagates(iris):
    pytest.importorskip("sklearn.callback")
    X, y = iris

    class CtrlC:
        def setup(self, estimator, context):
            pass

        def on_fit_task_begin(self, estimator, context):
            pass

        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "epoch" and context.task_id == 2:
                raise KeyboardInterrupt
            return False

        def teardown(self, estimator, context):
            pass

    clf = MLPClassifier(max_iter=10, random_state=0).set_callbacks(CtrlC())
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    # the third epoch was interrupted while its end was being recorded: it is undone, records and all
    assert clf.n_iter_ == 2 and len(clf.history_) == 2 and len(clf.loss_curve_) == 2


class InterruptsValidation(torch.nn.Module):
    """A linear model whose ``at``-th forward pass in evaluation mode (a validation score) raises Ctrl+C."""

    def __init__(self, n_features, n_outputs, at=2):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)
        self.at, self.calls = at, 0

    def forward(self, x):
        if not self.training:
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
        return self.layer(x)


def test_ctrl_c_while_an_epoch_is_recorded_keeps_the_records_consistent(iris):
    X, y = iris
    clf = TorchClassifier(InterruptsValidation, early_stopping=True, max_iter=10, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.validation_scores_) == len(clf.history_) == 1
