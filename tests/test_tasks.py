"""Classification and regression: targets encoded as scikit-learn's MLP encodes them, outputs decoded and scored."""

import re

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn import neural_network as sknn
from sklearn.datasets import make_regression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.tree import DecisionTreeRegressor

from skdeep import MLPClassifier, MLPRegressor
from skdeep._data import ArrayDataset
from skdeep._tasks import (
    binary_probabilities,
    decode_classes,
    host_probabilities,
    validation_accuracy,
    validation_r2,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RAW = np.random.RandomState(0).normal(scale=3, size=(40, 4))
SMALL = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)


def targets(kind, y):
    return {"multiclass": y, "binary": np.where(y == 2, "yes", "no"),
            "multilabel": np.c_[y == 0, y == 2, y != 1].astype(int)}[kind]


def weights(n):
    return np.random.RandomState(1).uniform(0.5, 2.0, n).astype(np.float32)


def dataset(X, target, weight=None):
    return ArrayDataset(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(target),
                        None if weight is None else torch.from_numpy(weight))


def encoded(clf, y):
    """The targets as the loss takes them: class indices, or 0/1 columns of the logistic outputs."""
    if clf.out_activation_ == "softmax":
        return np.searchsorted(clf.classes_, y)
    indicator = y if y.ndim == 2 else np.searchsorted(clf.classes_, y)[:, None]
    return indicator.astype(np.float32)


@pytest.mark.parametrize("softmax, multilabel, columns", [(True, False, 4), (False, False, 1), (False, True, 4)])
def test_decoded_classes_are_those_of_the_highest_probabilities(softmax, multilabel, columns):
    raw = RAW[:, :columns]
    probabilities = host_probabilities(raw.copy(), softmax=softmax, multilabel=multilabel)
    expected = probabilities.argmax(axis=1) if not multilabel else (probabilities > 0.5).astype(int)
    np.testing.assert_array_equal(decode_classes(raw, softmax=softmax, multilabel=multilabel), expected)


def test_binary_probabilities_are_one_minus_p_and_p():
    raw = torch.tensor([[-100.0], [-2.0], [0.0], [0.5], [100.0]])
    probabilities = binary_probabilities(raw)
    p = expit(raw.numpy()[:, 0])
    np.testing.assert_allclose(probabilities.numpy(), np.c_[1 - p, p], rtol=1e-6, atol=1e-30)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(5))


@pytest.mark.parametrize("softmax, multilabel, expected", [
    (True, False, lambda raw: torch.softmax(raw, dim=1)),
    (False, False, lambda raw: torch.cat([1 - torch.sigmoid(raw), torch.sigmoid(raw)], dim=1)),
    (False, True, torch.sigmoid),
])
def test_host_probabilities_of_extreme_logits_are_finite_and_torchs(softmax, multilabel, expected):
    raw = np.array([[1e4, 0.0, -1e4], [-745.0, 710.0, 0.0], [3.0, 3.0, 3.0]])
    raw = raw if softmax or multilabel else raw[:, :1]
    probabilities = host_probabilities(raw.copy(), softmax=softmax, multilabel=multilabel)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities, expected(torch.from_numpy(raw)).numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_targets_are_encoded_as_scikit_learns_mlp_encodes_them(kind, iris):
    X, y = iris
    y = targets(kind, y)
    ours, theirs = MLPClassifier(max_iter=1).fit(X, y), sknn.MLPClassifier(max_iter=1).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert (ours.n_outputs_, ours.out_activation_) == (theirs.n_outputs_, theirs.out_activation_)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_regression_targets_are_encoded_as_scikit_learns_mlp_encodes_them(loss, n_targets):
    X, y = make_regression(n_samples=60, n_features=4, n_targets=n_targets, random_state=0)
    y = np.abs(y) / 100
    theirs = {"loss": loss}
    if "loss" not in sknn.MLPRegressor().get_params():  # scikit-learn < 1.7: the squared error only
        if loss != "squared_error":
            pytest.skip(f"the installed scikit-learn's MLPRegressor has no {loss} loss")
        theirs = {}
    ours, theirs = MLPRegressor(loss=loss, max_iter=1).fit(X, y), sknn.MLPRegressor(**theirs, max_iter=1).fit(X, y)
    assert (ours.n_outputs_, ours.out_activation_) == (theirs.n_outputs_, theirs.out_activation_)
    assert ours.predict(X).shape == theirs.predict(X).shape


def test_negative_poisson_targets_are_refused_with_scikit_learns_message():
    X, y = make_regression(n_samples=30, n_features=3, random_state=0)
    with pytest.raises(ValueError) as theirs:  # (scikit-learn's MLP does not check, and its loss becomes NaN)
        DecisionTreeRegressor(criterion="poisson").fit(X, y)
    with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
        MLPRegressor(loss="poisson", max_iter=1).fit(X, y)


def test_partial_fit_names_labels_outside_the_first_calls_classes(iris):
    X, y = iris
    clf = MLPClassifier(**SMALL).partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"y contains labels \[.*2.*\] that are not in classes_"):
        clf.partial_fit(X, y)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_validation_accuracy_is_the_weighted_accuracy_of_predict(kind, iris):
    X, y = iris
    y = targets(kind, y)
    clf = MLPClassifier(**SMALL).fit(X, y)
    weight = weights(len(X))
    accuracy = validation_accuracy(clf.net_, dataset(X, encoded(clf, y), weight),
                                   softmax=clf.out_activation_ == "softmax", multilabel=kind == "multilabel")
    assert accuracy == pytest.approx(accuracy_score(y, clf.predict(X), sample_weight=weight), rel=1e-6)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_validation_r2_is_the_weighted_r2_of_predict(loss):
    X, y = make_regression(n_samples=80, n_features=4, random_state=0)
    y = np.abs(y) / 100
    reg = MLPRegressor(loss=loss, **SMALL).fit(X, y)
    weight = weights(len(X))
    score = validation_r2(reg.net_, dataset(X, y[:, None].astype(np.float32), weight), exp_output=loss == "poisson")
    assert score == pytest.approx(r2_score(y, reg.predict(X), sample_weight=weight), rel=1e-5)


def test_a_diverged_network_scores_nan(iris):
    X, y = iris
    clf, reg = MLPClassifier(**SMALL).fit(X, y), MLPRegressor(**SMALL).fit(X, X[:, 0])
    for estimator in (clf, reg):
        with torch.no_grad():
            estimator.module_.linear_layers[-1].bias.fill_(float("nan"))
    assert np.isnan(validation_accuracy(clf.net_, dataset(X, y), softmax=True, multilabel=False))
    assert np.isnan(validation_r2(reg.net_, dataset(X, X[:, :1].astype(np.float32)), exp_output=False))
