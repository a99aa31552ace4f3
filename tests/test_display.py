"""TrainingHistoryDisplay, sklearn's displays with skdeep estimators, and progress output."""

import subprocess
import sys

import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier, MLPRegressor, TrainingHistoryDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_loss_and_validation_curves_follow_the_history(digits):
    X, y = digits
    clf = MLPClassifier(early_stopping=True, max_iter=15, n_iter_no_change=100, random_state=0).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(clf)
    assert list(display.line_loss_.get_ydata()) == list(clf.loss_curve_)
    assert list(display.line_validation_.get_ydata()) == list(clf.validation_scores_)
    assert display.ax_.get_title() == "MLPClassifier"
    assert display.ax_validation_.get_ylabel() == "validation score"


def test_works_on_a_search_over_a_pipeline_and_on_given_axes(digits):
    import matplotlib.pyplot as plt

    X, y = digits
    search = GridSearchCV(make_pipeline(StandardScaler(), MLPRegressor(max_iter=5, random_state=0)),
                          {"mlpregressor__alpha": [1e-4, 1e-1]}, cv=2).fit(X, y / 10)
    _, ax = plt.subplots()
    display = TrainingHistoryDisplay.from_estimator(search, ax=ax, name="best")
    assert display.ax_ is ax and display.line_validation_ is None
    assert len(display.line_loss_.get_xdata()) == 5 and ax.get_title() == "best"


def test_an_unfitted_or_foreign_estimator_is_refused(digits):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    X, y = digits
    with pytest.raises(NotFittedError):
        TrainingHistoryDisplay.from_estimator(MLPClassifier())
    with pytest.raises(TypeError, match="needs a fitted skdeep estimator"):
        TrainingHistoryDisplay.from_estimator(LogisticRegression(max_iter=50).fit(X, y))


def test_sklearn_displays_take_skdeep_estimators(digits):
    from sklearn.metrics import ConfusionMatrixDisplay
    from sklearn.model_selection import LearningCurveDisplay, ValidationCurveDisplay

    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0)
    ConfusionMatrixDisplay.from_estimator(clf.fit(X, y), X, y)
    LearningCurveDisplay.from_estimator(clf, X, y, train_sizes=[0.3, 1.0], cv=2)
    display = ValidationCurveDisplay.from_estimator(clf, X, y, param_name="alpha",
                                                   param_range=[1e-4, 1.0], cv=2)
    assert display.test_scores.shape == (2, 2)


def test_verbose_2_adds_a_progress_bar_with_the_loss(digits, capsys):
    X, y = digits
    MLPClassifier(max_iter=3, verbose=2, random_state=0).fit(X, y)
    captured = capsys.readouterr()
    assert "3/3" in captured.err and "loss=" in captured.err
    # scikit-learn prints its lines for any truthy verbose: the bar comes on top
    assert captured.out.splitlines()[2].startswith("Iteration 3, loss = ")


def test_with_verbose_2_each_line_of_text_starts_a_line_of_its_own_in_a_terminal():
    # a terminal shows stdout and stderr together: the bar is cleared before each line is printed
    code = ("from sklearn.datasets import load_iris\nfrom skdeep import MLPClassifier\n"
            "MLPClassifier(max_iter=3, verbose=2, random_state=0).fit(*load_iris(return_X_y=True))\n")
    shown = subprocess.run([sys.executable, "-W", "ignore", "-c", code], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, check=True).stdout
    lines = [line for line in shown.splitlines() if "Iteration" in line]  # (the bar's carriage returns split lines)
    assert len(lines) == 3 and all(line.startswith("Iteration") for line in lines), shown
