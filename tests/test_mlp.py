"""MLPClassifier / MLPRegressor: sklearn parity, convergence rules, extras."""

import inspect
import re
import warnings

import numpy as np
import pytest
import sklearn.neural_network as sknn
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier, MLPRegressor
from skdeep.modules import ACTIVATIONS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    return scaled(load_iris)


@pytest.fixture(scope="module")
def cancer_split():
    X, y = scaled(load_breast_cancer)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, sknn.MLPClassifier), (MLPRegressor, sknn.MLPRegressor)])
def test_every_sklearn_parameter_has_the_same_default(ours, theirs):
    sklearn_params = theirs().get_params()
    our_params = ours().get_params()
    for name, default in sklearn_params.items():
        assert name in our_params, name
        assert our_params[name] == default, name
    positional = [p.name for p in inspect.signature(theirs).parameters.values()
                  if p.kind == p.POSITIONAL_OR_KEYWORD]
    if ours is MLPRegressor and "loss" not in sklearn_params:
        # scikit-learn < 1.7 has no loss; skdeep keeps 1.7's order, loss first (docs/user_guide/mlp.md)
        positional = ["loss", *positional]
    assert [p.name for p in inspect.signature(ours).parameters.values()
            if p.kind == p.POSITIONAL_OR_KEYWORD] == positional


def test_layer_sizes_passed_where_loss_is_are_refused_with_the_keyword_to_use():
    # scikit-learn < 1.7's MLPRegressor took hidden_layer_sizes first; 1.7 put loss before it
    X, y = np.zeros((10, 2)), np.zeros(10)
    for sizes in [(50,), [20, 10], 30]:
        keyword = re.escape(f"hidden_layer_sizes={sizes!r} by keyword")
        with pytest.raises(ValueError, match=rf"'loss' parameter .* {keyword}"):
            MLPRegressor(sizes).fit(X, y)
    with pytest.raises(ValueError, match="'loss' parameter") as refused:
        MLPRegressor("absolute_error").fit(X, y)
    assert "hidden_layer_sizes" not in str(refused.value)


def test_fitted_attributes_match_sklearn_shapes(iris):
    X, y = iris
    ours = MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=20, random_state=0).fit(X, y)
    theirs = sknn.MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=20, random_state=0).fit(X, y)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "n_features_in_", "t_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert len(ours.loss_curve_) == ours.n_iter_ == 20
    assert ours.loss_ == ours.loss_curve_[-1]
    assert ours.best_loss_ == min(ours.loss_curve_)
    assert ours.validation_scores_ is None and ours.best_validation_score_ is None
    assert list(ours.history_.columns) == ["epoch", "loss", "train_loss", "learning_rate", "duration"]
    assert len(ours.history_) == 20
    # the reported loss adds the L2 penalty to the data loss, as sklearn's does
    assert np.all(ours.history_["loss"] > ours.history_["train_loss"])


def test_accuracy_and_loss_are_on_par_with_sklearn(cancer_split):
    X_train, X_test, y_train, y_test = cancer_split
    ours = MLPClassifier(random_state=0).fit(X_train, y_train)
    theirs = sknn.MLPClassifier(random_state=0).fit(X_train, y_train)
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.02
    assert ours.loss_ == pytest.approx(theirs.loss_, abs=0.02)


def test_training_stops_after_n_iter_no_change_epochs_without_improvement(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=500, tol=1e-2, n_iter_no_change=3, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500
    # replay sklearn's rule: count epochs whose loss is not below the running
    # best by tol; training stops the first time the count exceeds 3
    best, count, stop = np.inf, 0, None
    for epoch, loss in enumerate(clf.loss_curve_, start=1):
        count = count + 1 if loss > best - 1e-2 else 0
        best = min(best, loss)
        if count > 3:
            stop = epoch
            break
    assert stop == clf.n_iter_


def test_convergence_warning_when_max_iter_ends_training(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(5\\)"):
        MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)


def test_verbose_prints_sklearn_iteration_lines(iris, capsys):
    X, y = iris
    MLPClassifier(max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Iteration 1, loss = ")
    assert lines[2].startswith("Iteration 3, loss = ")


def test_early_stopping_restores_the_best_validation_weights():
    X, y = scaled(load_digits)
    clf = MLPClassifier(early_stopping=True, n_iter_no_change=3, max_iter=200, random_state=0).fit(X, y)
    assert clf.n_iter_ < 200
    assert clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert "validation_score" in clf.history_.columns
    # the held-out split is the one sklearn's train_test_split draws after the
    # initial weights (64 x 100 + 100 + 100 x 10 + 10 numbers), as in scikit-learn
    random_state = np.random.RandomState(0)
    random_state.uniform(size=64 * 100 + 100 + 100 * 10 + 10)
    # (scikit-learn stratifies binary targets only)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=random_state)
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)


def test_lbfgs_fits_full_batch_and_counts_iterations(cancer_split):
    X_train, X_test, y_train, y_test = cancer_split
    clf = MLPClassifier(solver="lbfgs", max_iter=50, random_state=0).fit(X_train, y_train)
    assert 1 <= clf.n_iter_ <= 50
    assert clf.score(X_test, y_test) > 0.93
    assert not hasattr(clf, "partial_fit")


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_learns(activation, iris):
    X, y = iris
    clf = MLPClassifier((32,), activation=activation, learning_rate_init=0.01, max_iter=100, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.9


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs", "adamw", "rmsprop", "adagrad"])
def test_every_solver_learns(solver, iris):
    X, y = iris
    clf = MLPClassifier((32,), solver=solver, learning_rate_init=0.05, max_iter=100, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.9


def test_learning_rate_schedules(iris):
    X, y = iris

    def rates(schedule, **params):
        params = {"n_iter_no_change": 1000, **params}
        clf = MLPClassifier(learning_rate=schedule, learning_rate_init=0.01, max_iter=20,
                            random_state=0, **params).fit(X, y)
        return clf.history_["learning_rate"].to_numpy()

    np.testing.assert_allclose(rates("constant"), 0.01, rtol=1e-7)  # a float32 tensor with CUDA graphs
    cosine = rates("cosine")
    assert np.all(np.diff(cosine) < 0) and cosine[-1] < 1e-6
    onecycle = rates("onecycle")
    peak = onecycle.argmax()
    assert 0 < peak < 19 and onecycle[0] < onecycle[peak] and onecycle[-1] < onecycle[peak] / 100
    invscaling = rates("invscaling", solver="sgd")
    # the rate recorded for an epoch is the one it trained with: set after the previous one
    assert invscaling[-1] == pytest.approx(0.01 / (19 * 150 + 1) ** 0.5)
    adaptive = rates("adaptive", tol=10.0, n_iter_no_change=2)
    assert adaptive[-1] < 0.01 / 5


def test_alpha_and_l1_regularize():
    X, y = scaled(load_breast_cancer)

    def first_layer(**params):
        clf = MLPClassifier((64,), max_iter=100, random_state=0, **params).fit(X, y)
        return clf.coefs_[0]

    plain = first_layer(alpha=0.0)
    l2 = first_layer(alpha=5.0)
    l1 = first_layer(alpha=0.0, l1=1.0, learning_rate_init=0.01)
    assert np.linalg.norm(l2) < 0.7 * np.linalg.norm(plain)
    assert np.mean(np.abs(l1) < 1e-3) > 3 * np.mean(np.abs(plain) < 1e-3)


def test_dropout_reduces_overfitting_to_noisy_labels():
    X, y = make_classification(n_samples=600, n_features=20, n_informative=5, flip_y=0.3, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)

    def train_and_test_accuracy(dropout):
        clf = MLPClassifier((256, 256), dropout=dropout, alpha=0.0, max_iter=150,
                            n_iter_no_change=1000, random_state=0).fit(X_train, y_train)
        return clf.score(X_train, y_train), clf.score(X_test, y_test)

    plain_train, plain_test = train_and_test_accuracy(0.0)
    dropout_train, dropout_test = train_and_test_accuracy(0.7)
    assert plain_train == 1.0  # memorised the noise
    assert dropout_train - dropout_test < plain_train - plain_test - 0.1
    assert dropout_test > plain_test + 0.03


def test_batch_norm_and_dropout_build_their_layers(iris):
    X, y = iris
    clf = MLPClassifier((8, 8), batch_norm=True, dropout=0.2, learning_rate_init=0.01,
                        max_iter=100, random_state=0).fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.module_.layers]
    assert kinds.count("BatchNorm1d") == 2 and kinds.count("Dropout") == 2
    assert clf.score(X, y) > 0.8


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(n_samples=2000, weights=[0.95], flip_y=0.02, class_sep=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)

    def minority_recall(class_weight):
        clf = MLPClassifier((32,), class_weight=class_weight, max_iter=50, random_state=0)
        return recall_score(y_test, clf.fit(X_train, y_train).predict(X_test))

    assert minority_recall("balanced") > minority_recall(None) + 0.1
    assert minority_recall({0: 1.0, 1: 19.0}) > minority_recall(None) + 0.1


def test_class_weights_per_label_weigh_a_multilabel_loss_as_sample_weights_would(iris):
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = iris
    Y = np.c_[y == 0, y == 2].astype(int)
    per_label = [{0: 1.0, 1: 4.0}, {0: 2.0, 1: 1.0}]
    weighted = MLPClassifier((8,), class_weight=per_label, max_iter=5, random_state=0).fit(X, Y)
    by_hand = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, Y, sample_weight=compute_sample_weight(
        per_label, Y))
    unweighted = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(weighted.coefs_[0], by_hand.coefs_[0])
    assert not np.array_equal(weighted.coefs_[0], unweighted.coefs_[0])


def test_poisson_regression_predicts_positive_counts():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))
    reg = MLPRegressor(loss="poisson", hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    reg.fit(X, y)
    assert reg.out_activation_ == "exp"
    assert np.all(reg.predict(X) > 0)
    assert np.corrcoef(reg.predict(X), np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))[0, 1] > 0.9
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, -y)


def test_regressor_learns_diabetes_as_well_as_sklearn():
    X, y = scaled(load_diabetes)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    params = dict(hidden_layer_sizes=(16,), alpha=10.0, learning_rate_init=0.01, random_state=0)
    ours = MLPRegressor(**params).fit(X_train, y_train / 100).score(X_test, y_test / 100)
    theirs = sknn.MLPRegressor(**params).fit(X_train, y_train / 100).score(X_test, y_test / 100)
    assert ours > 0.33 and ours > theirs - 0.03


def test_partial_fit_trains_one_epoch_per_call(iris):
    X, y = iris
    clf = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    for _ in range(30):
        clf.partial_fit(X, y)
    # as scikit-learn counts: n_iter_ is the last call's epochs, the curve and t_ go on
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 31 and clf.t_ == 50 + 30 * 150
    assert clf.score(X, y) > 0.85
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 0]))


def test_warm_start_continues_from_the_previous_weights(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=10, warm_start=True, random_state=0).fit(X, y)
    first_loss = clf.loss_
    clf.fit(X, y)
    assert clf.n_iter_ == 10 and len(clf.loss_curve_) == 20 and clf.loss_ < first_loss
    cold = MLPClassifier(max_iter=10, random_state=0).fit(X, y)
    assert cold.loss_ == pytest.approx(first_loss)


def test_warm_start_builds_the_optimizer_from_the_current_parameters(iris):
    # scikit-learn's MLP makes a new optimizer at each warm fit, so a new
    # learning_rate_init takes effect; the weights and the curves go on.
    X, y = iris
    clf = MLPClassifier(max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        before = [coef.copy() for coef in clf.coefs_]
        clf.set_params(learning_rate_init=1e-9, max_iter=1).fit(X, y)
    assert float(clf.net_.optimizer_.param_groups[0]["lr"]) == pytest.approx(1e-9)
    for old, new in zip(before, clf.coefs_, strict=True):
        np.testing.assert_allclose(new, old, atol=1e-6)
    adam_steps = clf.net_.optimizer_.state[next(clf.module_.parameters())]["step"]
    assert int(adam_steps) == -(-len(y) // 200)  # a fresh optimizer: one epoch of steps
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 6 and len(clf.history_) == 6


def test_warm_started_invscaling_counts_the_samples_of_earlier_fits(iris):
    X, y = iris
    clf = MLPClassifier(solver="sgd", learning_rate="invscaling", learning_rate_init=0.01, max_iter=3,
                        n_iter_no_change=100, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y).fit(X, y)
    assert clf.t_ == 6 * len(y)
    # the rate set after the last epoch follows all samples seen, as in scikit-learn
    assert float(clf.net_.optimizer_.param_groups[0]["lr"]) == pytest.approx(0.01 / (6 * len(y) + 1) ** 0.5)


def test_probabilities_match_scipy_in_float64(iris):
    from scipy.special import log_softmax, softmax

    X, y = iris
    clf = MLPClassifier(max_iter=5, precision="float64", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    raw = clf.module_(torch.as_tensor(X, device=clf.device_)).detach().cpu().numpy()
    np.testing.assert_allclose(clf.predict_proba(X), softmax(raw, axis=1), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), log_softmax(raw, axis=1), rtol=1e-12)


def test_partial_fit_keeps_its_optimizer_running(iris):
    X, y = iris
    clf = MLPClassifier(random_state=0).partial_fit(X, y, classes=np.unique(y))
    clf.set_params(learning_rate_init=1e-9).partial_fit(X, y)
    assert float(clf.net_.optimizer_.param_groups[0]["lr"]) == pytest.approx(1e-3)
    assert int(clf.net_.optimizer_.state[next(clf.module_.parameters())]["step"]) == 2


def test_warm_start_with_another_architecture_is_refused(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    with pytest.raises(ValueError, match="architecture must stay the same"):
        clf.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    assert clf.coefs_[0].shape == (4, 8)  # the model trained before stays


def test_no_warnings_on_a_converging_fit(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLPClassifier(tol=1e-2, random_state=0).fit(X, y)
