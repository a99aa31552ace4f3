"""scikit-learn's callback API (sklearn.callback, scikit-learn >= 1.9)."""

import pickle

import numpy as np
import pytest

from skdeep import CNNClassifier, MLPClassifier

pytest.importorskip("sklearn.callback")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Recorder:
    """Records the tasks it sees, scores each epoch's model, and may ask to stop."""

    def __init__(self, stop_after=None, X=None, y=None):
        self.stop_after, self.X, self.y = stop_after, X, y
        self.events, self.scores = [], []

    def setup(self, estimator, context):
        self.events.append("setup")

    def on_fit_task_begin(self, estimator, context):
        self.events.append(f"begin {context.task_name}")

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(f"end {context.task_name}")
        if context.task_name == "epoch":
            if self.X is not None:
                self.scores.append(fitted_estimator.score(self.X, self.y))
            return self.stop_after is not None and context.task_id + 1 >= self.stop_after
        return False

    def teardown(self, estimator, context):
        self.events.append("teardown")


def test_every_epoch_is_a_task_of_the_fit(digits):
    X, y = digits
    recorder = Recorder()
    clf = MLPClassifier(max_iter=4, random_state=0).set_callbacks(recorder).fit(X, y)
    assert recorder.events == (["setup", "begin fit"] + ["begin epoch", "end epoch"] * clf.n_iter_
                               + ["end fit", "teardown"])


def test_callbacks_see_the_model_as_trained_so_far_and_can_stop_it(digits):
    X, y = digits
    recorder = Recorder(stop_after=5, X=X, y=y)
    clf = MLPClassifier(max_iter=50, random_state=0).set_callbacks(recorder).fit(X, y)
    assert clf.n_iter_ == 5 and len(recorder.scores) == 5
    assert recorder.scores[-1] > recorder.scores[0] + 0.2
    assert recorder.scores[-1] == pytest.approx(clf.score(X, y))


class Saver(Recorder):
    """Pickles the model of each epoch, and keeps its predictions."""

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.scores.append((pickle.dumps(fitted_estimator), fitted_estimator.predict_proba(self.X)))
        return False


@pytest.mark.parametrize("change, call", [(dict(activation="tanh"), "fit"), (dict(solver="sgd"), "partial_fit")])
def test_the_models_callbacks_save_load_as_they_were_after_set_params(digits, change, call):
    X, y = digits
    saver = Saver(X=X)
    clf = MLPClassifier((8,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    getattr(clf.set_params(**change).set_callbacks(saver), call)(X, y)  # a new tanh module; a new SGD optimizer
    saved, proba = saver.scores[-1]
    loaded = pickle.loads(saved)
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    np.testing.assert_array_equal(loaded.partial_fit(X, y).predict_proba(X), clf.partial_fit(X, y).predict_proba(X))


def test_a_cnn_reports_too_and_stopping_by_convergence_closes_the_epoch(digits):
    X, y = digits
    recorder = Recorder()
    clf = CNNClassifier(conv_filters=(4,), max_iter=100, tol=10.0, n_iter_no_change=1, random_state=0)
    clf.set_callbacks(recorder).fit(X.reshape(-1, 1, 8, 8), y)
    assert clf.n_iter_ == 3  # stopped by the convergence rule, not by a callback
    assert recorder.events.count("begin epoch") == recorder.events.count("end epoch") == 3


def test_sklearn_progress_bar(digits):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = digits
    clf = MLPClassifier(max_iter=3, random_state=0).set_callbacks(ProgressBar()).fit(X, y)
    assert np.isfinite(clf.loss_)


def test_progress_nests_inside_a_search_over_a_pipeline(digits, capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=3, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(ProgressBar(max_propagation_depth=None)).fit(X, y)
    assert search.best_estimator_[-1].n_iter_ == 3
    assert "MLPClassifier" in capsys.readouterr().out
