"""The training core: scikit-learn's semantics, the penalty, and the parameters re-read at every call."""

import re
import warnings

import numpy as np
import pytest
import torch
from sklearn import neural_network as sknn
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import skdeep._base
from skdeep import CNNClassifier, MLPClassifier, MLPRegressor, TorchClassifier


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def quietly(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


# -- the initial weights and lbfgs, as scikit-learn's --------------------------------------------


def test_a_random_state_gives_scikit_learns_initial_weights(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(8, 5), activation="logistic", solver="sgd", momentum=0.0,
                  learning_rate_init=1e-12, max_iter=1, random_state=3)
    ours = quietly(lambda: MLPClassifier(precision="float64", **params).fit(X, y))
    theirs = quietly(lambda: sknn.MLPClassifier(**params).fit(X, y))
    for mine, sklearns in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_allclose(mine, sklearns, atol=1e-6)


def test_lbfgs_follows_scikit_learns_path_in_float64(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=50, random_state=0)
    ours = MLPClassifier(precision="float64", **params).fit(X, y)
    theirs = sknn.MLPClassifier(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("schedule", [dict(learning_rate="invscaling", learning_rate_init=0.05),
                                      dict(learning_rate="adaptive", tol=1e-2, n_iter_no_change=2)])
@pytest.mark.parametrize("nesterovs_momentum", [True, False])
def test_sgd_with_momentum_follows_scikit_learns_path_when_its_rate_changes(iris, schedule, nesterovs_momentum):
    # scikit-learn's velocity keeps the rates it was accumulated with
    X, y = iris
    params = dict(hidden_layer_sizes=(10,), solver="sgd", momentum=0.9, nesterovs_momentum=nesterovs_momentum,
                  shuffle=False, batch_size=50, max_iter=40, random_state=0, **schedule)
    ours = quietly(lambda: MLPClassifier(precision="float64", **params).fit(X, y))
    theirs = quietly(lambda: sknn.MLPClassifier(**params).fit(X, y))
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-5, atol=1e-8)


def test_lbfgs_warns_when_max_fun_runs_out(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge.*status=1"):
        clf = MLPClassifier(solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    assert clf.n_iter_ <= 5


def test_lbfgs_divergence_blames_the_data_not_the_learning_rate():
    X, y = make_regression(n_samples=100, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="non-finite") as error:
        MLPRegressor(solver="lbfgs", activation="identity", random_state=0).fit(X * 1e30, y * 1e30)
    assert "learning_rate" not in str(error.value)


# -- n_iter_, classes and partial_fit, as scikit-learn's ---------------------------------------------


def test_n_iter_counts_the_epochs_of_the_last_call(iris):
    X, y = iris
    clf = quietly(lambda: MLPClassifier(max_iter=4, warm_start=True, random_state=0).fit(X, y).fit(X, y))
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 8 and clf.t_ == 8 * len(y)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 9


def test_a_warm_fit_on_other_classes_is_refused(iris):
    X, y = iris
    clf = quietly(lambda: MLPClassifier(max_iter=3, warm_start=True, random_state=0).fit(X, y))
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match=r"warm_start can only be used where `y` has the same classes"):
        clf.fit(X, np.where(y == 2, 1, y))
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_partial_fit_refuses_other_classes_than_the_first_call(iris):
    X, y = iris
    clf = MLPClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[2, 1, 0])  # the same labels, in any order
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])


def test_partial_fit_refuses_early_stopping_and_keeps_the_model(iris):
    X, y = iris
    clf = quietly(lambda: MLPClassifier(early_stopping=True, max_iter=5, random_state=0).fit(X, y))
    scores = list(clf.validation_scores_)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        clf.partial_fit(X, y)
    assert clf.validation_scores_ == scores and clf.n_iter_ == 5


def test_a_validation_set_under_two_samples_is_refused():
    X, y = make_regression(n_samples=10, n_features=3, random_state=0)
    reg = MLPRegressor(early_stopping=True, validation_fraction=0.1, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_features_in_")


def test_the_stratified_split_names_the_users_labels():
    X = np.arange(40.0).reshape(20, 2)  # (a validation set of 2: large enough, but not for both classes)
    y = np.array(["common"] * 19 + ["rare"], dtype=object)
    # the installed scikit-learn's words for a split of these labels (1.9's name the class: "['rare']")
    with pytest.raises(ValueError) as theirs:
        train_test_split(X, test_size=0.1, stratify=y)
    with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
        MLPClassifier(early_stopping=True).fit(X, y)


@pytest.mark.parametrize(("labels", "stratified"), [(["no", "yes"], True), (["a", "b", "c"], False)])
def test_the_early_stopping_split_is_stratified_for_binary_targets(labels, stratified, iris, monkeypatch):
    # as scikit-learn's MLP: stratified for one output only, by the user's labels
    X, y = iris
    seen = []

    def split(*arrays, stratify=None, **kwargs):
        seen.append(stratify)
        return train_test_split(*arrays, stratify=stratify, **kwargs)

    monkeypatch.setattr(skdeep._base, "train_test_split", split)
    y = np.asarray(labels)[y % len(labels)]
    quietly(lambda: MLPClassifier(early_stopping=True, max_iter=2, random_state=0).fit(X, y))
    if stratified:
        np.testing.assert_array_equal(seen[0], y)
    else:
        assert seen[0] is None


def test_a_single_class_is_learned_as_scikit_learn_does(iris):
    X, _ = iris
    y = np.full(len(X), "only")
    clf = quietly(lambda: MLPClassifier(max_iter=5, random_state=0).fit(X, y))
    np.testing.assert_array_equal(clf.classes_, ["only"])
    assert set(clf.predict(X)) == {"only"}
    np.testing.assert_array_equal(clf.predict_proba(X), np.ones((len(X), 1)))


def test_no_improvement_count_is_exposed_as_in_scikit_learn(iris):
    X, y = iris
    clf = MLPClassifier(tol=1e9, n_iter_no_change=3, max_iter=50, random_state=0).fit(X, y)
    # the first epoch improves on no loss at all; the next four do not by 1e9: stop
    assert clf.n_iter_ == 5 and clf._no_improvement_count == 4


# -- divergence ---------------------------------------------------------------------------------------


def test_divergence_with_early_stopping_keeps_the_best_weights(iris):
    X, y = load_iris(return_X_y=True)
    reg = MLPRegressor(solver="sgd", activation="identity", learning_rate_init=1.0, early_stopping=True,
                       max_iter=20, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Training diverged.*best validation score"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1]) and isinstance(reg.validation_scores_[-1], float)
    assert np.isfinite(reg.predict(X)).all()


def test_divergence_without_early_stopping_raises_scikit_learns_error(iris):
    X, y = load_iris(return_X_y=True)
    reg = MLPRegressor(solver="sgd", activation="identity", learning_rate_init=1.0, max_iter=20, random_state=0)
    with pytest.raises(ValueError, match="^Solver produced non-finite parameter weights. The input data may "
                                         "contain large values and need to be preprocessed. .*learning_rate_init"):
        reg.fit(X, y)


# -- dtypes and probabilities --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_and_outputs_keep_the_dtype_of_X(dtype, iris):
    X, y = iris
    X = X.astype(dtype)
    clf = quietly(lambda: MLPClassifier(max_iter=3, random_state=0).fit(X, y))
    assert all(array.dtype == dtype for array in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X).dtype == dtype and clf.predict_log_proba(X).dtype == dtype
    reg = quietly(lambda: MLPRegressor(max_iter=3, random_state=0).fit(X, y.astype(dtype)))
    assert reg.predict(X).dtype == dtype


def test_log_probabilities_are_the_log_of_the_probabilities(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(50,), learning_rate_init=0.05, max_iter=300, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert (proba.max(axis=1) == 1.0).any()  # rounded to 1: where a separately computed log could disagree
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(clf.predict_log_proba(X), np.log(proba))


# -- the penalty: one owner, counted once ---------------------------------------------------------------


def _data_loss(clf, X, y):
    """scikit-learn's log loss of clf on (X, y), computed from its probabilities."""
    proba = clf.predict_proba(X)
    return -np.mean(np.log(proba[np.arange(len(y)), np.searchsorted(clf.classes_, y)]))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_loss_is_the_data_loss_plus_each_penalty_once(solver, iris):
    X, y = iris
    alpha, l1 = 0.3, 0.05
    clf = quietly(lambda: MLPClassifier(hidden_layer_sizes=(6,), solver=solver, alpha=alpha, l1=l1,
                                        batch_size=len(y), learning_rate_init=1e-10, max_iter=1,
                                        shuffle=False, precision="float64", random_state=0).fit(X, y))
    weights = np.concatenate([coef.ravel() for coef in clf.coefs_])
    penalty = (alpha / 2 * weights @ weights + l1 * np.abs(weights).sum()) / len(y)
    data_loss = _data_loss(clf, X, y)
    assert clf.history_["train_loss"].iloc[-1] == pytest.approx(data_loss, rel=1e-8)
    assert clf.loss_ == pytest.approx(data_loss + penalty, rel=1e-8)
    assert clf.history_["loss"].iloc[-1] == clf.loss_ == clf.loss_curve_[-1]


def test_lbfgs_reports_the_same_loss_as_the_formula(iris):
    X, y = iris
    alpha, l1 = 0.3, 0.05
    clf = quietly(lambda: MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", alpha=alpha, l1=l1, max_iter=20,
                                        precision="float64", random_state=0).fit(X, y))
    weights = np.concatenate([coef.ravel() for coef in clf.coefs_])
    penalty = (alpha / 2 * weights @ weights + l1 * np.abs(weights).sum()) / len(y)
    assert clf.loss_ == pytest.approx(_data_loss(clf, X, y) + penalty, rel=1e-6)


def test_the_penalty_gradient_shrinks_the_weights_as_the_loss_does(iris):
    # the gradient added after backward is the penalty's: an L2-only, full-batch SGD step
    # of rate r on zero data gradient moves W by -r * alpha / n * W
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, batch_size=len(y), max_iter=1,
                  shuffle=False, precision="float64", random_state=0)
    start = quietly(lambda: MLPClassifier(learning_rate_init=1e-12, alpha=0.0, **params).fit(X, y)).coefs_
    plain = quietly(lambda: MLPClassifier(learning_rate_init=0.1, alpha=0.0, **params).fit(X, y)).coefs_
    penalised = quietly(lambda: MLPClassifier(learning_rate_init=0.1, alpha=30.0, **params).fit(X, y)).coefs_
    for w0, w_plain, w_penalised in zip(start, plain, penalised, strict=True):
        np.testing.assert_allclose(w_penalised - w_plain, -0.1 * 30.0 / len(y) * w0, atol=1e-9)


# -- parameters re-read at every call ------------------------------------------------------------------


def _adam_steps(clf):
    return int(clf.net_.optimizer_.state[next(clf.module_.parameters())]["step"])


def test_batch_size_is_read_at_every_partial_fit(iris):
    X, y = iris
    clf = MLPClassifier(batch_size=50, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    assert _adam_steps(clf) == 3
    clf.set_params(batch_size=10).partial_fit(X, y)
    assert _adam_steps(clf) == 3 + 15


def test_alpha_is_read_at_every_partial_fit(iris):
    X, y = iris
    light = MLPClassifier(solver="sgd", learning_rate_init=0.01, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    heavy = MLPClassifier(solver="sgd", learning_rate_init=0.01, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    heavy.set_params(alpha=1000.0)
    for _ in range(20):
        light.partial_fit(X, y)
        heavy.partial_fit(X, y)

    def norm(clf):
        return sum(np.square(coef).sum() for coef in clf.coefs_)

    assert norm(heavy) < 0.5 * norm(light)


def test_callbacks_hold_nothing_of_the_estimator(iris):
    X, y = iris
    clf = quietly(lambda: MLPClassifier(max_iter=3, early_stopping=True, random_state=0).fit(X, y))
    for _, callback in clf.net_.callbacks_:
        for value in vars(callback).values():
            assert value is not clf and getattr(value, "__self__", None) is not clf
            assert getattr(getattr(value, "func", None), "__self__", None) is not clf


# -- net_ is a skorch net on arrays ----------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier(max_iter=5, random_state=0),
    lambda: MLPClassifier(max_iter=5, random_state=0).set_params(hidden_layer_sizes=()),
    lambda: CNNClassifier(conv_filters=(4,), max_iter=2, random_state=0),
    lambda: TorchClassifier(torch.nn.Linear, module_params={"in_features": 4, "out_features": 3}, max_iter=2),
])
def test_net_predicts_on_arrays_as_the_estimator(make, iris):
    X, y = iris
    clf = quietly(lambda: make().fit(X, y))
    np.testing.assert_allclose(clf.net_.predict_proba(X), clf.predict_proba(X), rtol=1e-5, atol=1e-7)
    assert clf.net_.forward(X).shape == (len(X), 3)


def test_binary_net_gives_both_columns(iris):
    X, y = iris
    clf = quietly(lambda: MLPClassifier(max_iter=5, random_state=0).fit(X, y == 0))
    np.testing.assert_allclose(clf.net_.predict_proba(X), clf.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_regressor_net_predicts_on_arrays():
    X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    reg = quietly(lambda: MLPRegressor(loss="poisson", max_iter=5, random_state=0).fit(X, np.abs(y) / 100))
    np.testing.assert_allclose(reg.net_.predict(X).ravel(), reg.predict(X), rtol=1e-5)


# -- solvers, validation and warm starts: corner cases -----------------------------------------------------


def test_lbfgs_holds_no_validation_set_out(iris):
    X, y = iris
    params = dict(solver="lbfgs", max_iter=50, precision="float64", random_state=0)
    plain = quietly(lambda: MLPClassifier(**params).fit(X, y))
    early = quietly(lambda: MLPClassifier(early_stopping=True, **params).fit(X, y))
    assert early.loss_ == plain.loss_ and early.t_ == plain.t_ == 0  # scikit-learn counts no samples either


class WeightsTurnNaN(torch.nn.Module):
    """A linear model whose weights become NaN at its ``healthy + 1``-th training pass."""

    def __init__(self, n_features, n_outputs, healthy=2):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)
        self.healthy, self.calls = healthy, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls > self.healthy:
                with torch.no_grad():
                    self.layer.weight.fill_(float("nan"))
        return self.layer(x)


def test_a_diverged_classifier_with_early_stopping_keeps_the_best_finite_weights(iris):
    X, y = iris
    clf = TorchClassifier(WeightsTurnNaN, early_stopping=True, max_iter=10, random_state=0)  # one batch
    with pytest.warns(ConvergenceWarning, match="Training diverged"):
        clf.fit(X, y == 0)
    # a NaN network scores NaN, never "the first class everywhere", and is never the best
    assert len(clf.validation_scores_) == 3 and np.isnan(clf.validation_scores_[-1])
    assert np.isfinite(clf.predict_proba(X)).all()


def test_warm_fits_with_early_stopping_validate_on_the_same_rows(iris, monkeypatch):
    X, y = iris
    held_out = []

    def split(*arrays, **kwargs):
        parts = train_test_split(*arrays, **kwargs)
        held_out.append(set(parts[1].tolist()))
        return parts

    monkeypatch.setattr(skdeep._base, "train_test_split", split)
    clf = MLPClassifier(early_stopping=True, warm_start=True, max_iter=3, random_state=0)
    quietly(lambda: clf.fit(X, y).fit(X, y).fit(X, y))
    # as scikit-learn, whose random state restarts at every fit (the first one draws the weights first)
    assert held_out[1] == held_out[2]


def test_adamw_decay_follows_alpha_at_every_call(iris):
    X, y = iris

    def decays(clf):
        return [group["weight_decay"] for group in clf.net_.optimizer_.param_groups]

    clf = MLPClassifier(solver="adamw", alpha=0.0, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    assert decays(clf) == [0.0, 0.0]  # not AdamW's own default of 0.01
    clf.set_params(alpha=0.5).partial_fit(X, y)
    assert decays(clf) == [0.5, 0.0]  # the weight matrices only


def test_partial_fit_after_an_lbfgs_fit_builds_the_new_solvers_optimizer(iris):
    X, y = iris
    clf = quietly(lambda: MLPClassifier(solver="lbfgs", max_iter=20, random_state=0).fit(X, y))
    clf.set_params(solver="adam").partial_fit(X, y)
    assert isinstance(clf.net_.optimizer_, torch.optim.Adam) and len(clf.loss_curve_) == 1


def test_too_few_validation_samples_per_class_name_early_stopping():
    X, _ = make_classification(n_samples=40, random_state=0)
    with pytest.raises(ValueError, match="early_stopping=True holds out validation_fraction=0.1"):
        MLPClassifier(early_stopping=True).fit(X, np.where(np.arange(40) == 0, "rare", "common"))
