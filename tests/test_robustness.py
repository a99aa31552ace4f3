"""Robust training: interrupts, failed continuations, edge cases of valid input and bad input."""

import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skdeep import CNNClassifier, MLPClassifier, MLPRegressor, TorchClassifier, TorchRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class RaisesAt(torch.nn.Module):
    """A linear model whose ``at``-th training forward pass raises ``error`` (by default, Ctrl+C)."""

    def __init__(self, n_features, n_outputs, at=None, error=KeyboardInterrupt):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)
        self.at, self.error = at, error
        self.calls = 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                raise self.error("the module failed")
        return self.layer(x)


def interrupted(at, **params):
    # one batch per epoch on iris: the at-th forward pass is epoch `at`
    return TorchClassifier(RaisesAt, module_params={"at": at}, batch_size=150,
                           learning_rate_init=0.05, random_state=0, **params)


# -- interrupts ----------------------------------------------------------------------------------------


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


# -- failed continuations keep the model --------------------------------------------------------------


class TurnsNaN(torch.nn.Module):
    """A linear model whose output turns NaN after ``healthy`` training passes."""

    def __init__(self, n_features, n_outputs, healthy=2):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)
        self.healthy = healthy
        self.calls = 0

    def forward(self, x):
        self.calls += self.training
        output = self.layer(x)
        return output * float("nan") if self.calls > self.healthy else output


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


def test_a_module_that_turns_nan_gets_advice_on_its_output(iris):
    X, y = iris
    with pytest.raises(ValueError, match="non-finite.*check that its output is finite"):
        TorchClassifier(TurnsNaN, batch_size=150, max_iter=5, random_state=0).fit(X, y)


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


# -- faults ------------------------------------------------------------------------------------------


def test_nan_outputs_at_predict_time_are_an_error(iris):
    X, y = iris
    clf = TorchClassifier(TurnsNaN, module_params={"healthy": 10**9}, max_iter=2, random_state=0).fit(X, y)
    clf.module_.healthy = -1  # from now on, every output is NaN
    with pytest.raises(ValueError, match="output is not finite.*150 of the 150 samples"):
        clf.predict(X)
    with pytest.raises(ValueError, match="output is not finite"):
        clf.predict_proba(X)


class RunsOutOfCPUMemory(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 80000000000 bytes.")


def test_cpu_out_of_memory_gets_the_same_advice_as_a_gpus(iris):
    X, y = iris
    clf = TorchClassifier(RunsOutOfCPUMemory, device="cpu")
    with pytest.raises(RuntimeError, match="machine ran out of memory.*smaller batch_size.*left unfitted"):
        clf.fit(X, y)


def test_out_of_memory_in_a_refit_says_the_earlier_model_is_kept(iris):
    X, y = iris
    clf = interrupted(at=None, max_iter=3).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(module_params={"at": 2, "error": MemoryError})
    with pytest.raises(MemoryError, match="The estimator was left as it was before this call"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_the_module_is_left_in_evaluation_mode(iris):
    X, y = iris
    clf = MLPClassifier(dropout=0.5, max_iter=3, random_state=0).fit(X, y)
    assert not clf.module_.training
    inputs = torch.as_tensor(X, dtype=torch.float32)
    torch.testing.assert_close(clf.module_(inputs), clf.module_(inputs))  # no dropout


def test_lbfgs_divergence_at_a_trial_point_is_not_an_error():
    # the line search tries a step whose loss is not finite and backs off: the solution is finite
    X, y = make_regression(n_samples=100, n_features=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(solver="lbfgs", activation="identity", random_state=0).fit(X * 1e10, y * 1e10)
    assert np.isfinite(reg.loss_) and np.isfinite(reg.predict(X * 1e10)).all()


# -- edge cases of valid input -------------------------------------------------------------------------


@pytest.mark.parametrize(("n_samples", "batch_size"), [(201, "auto"), (101, 100)])
def test_batch_norm_trains_when_the_last_batch_holds_one_sample(n_samples, batch_size):
    X, y = make_classification(n_samples=n_samples, n_features=5, random_state=0)
    clf = MLPClassifier(batch_norm=True, batch_size=batch_size, max_iter=3, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 and clf.t_ == 3 * n_samples  # the one sample is trained on, in the batch before


def test_a_cnn_dense_head_with_batch_norm_trains_on_a_one_sample_last_batch():
    images = np.random.RandomState(0).normal(size=(101, 1, 6, 6))
    clf = CNNClassifier(conv_filters=(4,), batch_norm=True, batch_size=100, max_iter=2, random_state=0)
    assert clf.fit(images, np.arange(101) % 2).n_iter_ == 2


def test_batches_of_zero_weight_contribute_nothing():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    weight = np.r_[np.zeros(100), np.ones(100)]
    clf = MLPClassifier(shuffle=False, batch_size=50, max_iter=5, random_state=0).fit(X, y, sample_weight=weight)
    unweighted = MLPClassifier(shuffle=False, batch_size=50, max_iter=5, random_state=0).fit(X[100:], y[100:])
    assert np.isfinite(clf.loss_curve_).all()
    # the zero-weight batches change nothing but the penalty's pull on the weights
    np.testing.assert_allclose(clf.predict_proba(X), unweighted.predict_proba(X), atol=0.05)


@pytest.mark.parametrize("column", ["category", "string"])
def test_a_single_categorical_column(column):
    rng = np.random.RandomState(0)
    values = rng.choice(["x", "y", "z"], 60)
    frame = pd.DataFrame({"number": rng.normal(size=60),
                          "kind": pd.Categorical(values) if column == "category" else values})
    clf = MLPClassifier(categorical_features=["kind"], max_iter=5, random_state=0).fit(frame, values == "x")
    assert clf.is_categorical_.tolist() == [False, True]
    assert clf.predict(frame).shape == (60,)


def test_sparse_input_with_early_stopping(iris):
    X, y = iris
    clf = MLPClassifier(early_stopping=True, max_iter=5, random_state=0).fit(sp.csr_matrix(X), y)
    assert len(clf.validation_scores_) == 5


# -- bad input: early, clear errors that name the problem -----------------------------------------------


def test_values_beyond_float32_are_refused_with_advice(iris):
    X, y = iris
    huge = X * 1e39
    with pytest.raises(ValueError, match="beyond the range of float32.*precision='float64'"):
        MLPClassifier(max_iter=2).fit(huge, y)
    assert MLPClassifier(max_iter=2, precision="float64").fit(huge, y).predict(huge).shape == (150,)
    clf = MLPClassifier(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        clf.predict(huge)


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


def test_too_few_validation_samples_per_class_name_early_stopping():
    X, _ = make_classification(n_samples=40, random_state=0)
    with pytest.raises(ValueError, match="early_stopping=True holds out validation_fraction=0.1"):
        MLPClassifier(early_stopping=True).fit(X, np.where(np.arange(40) == 0, "rare", "common"))


def test_embedding_dims_for_a_column_that_is_not_categorical():
    frame = pd.DataFrame({"number": np.arange(20.0), "kind": pd.Categorical(list("ab") * 10)})
    with pytest.raises(ValueError, match=r"embedding_dims names \['nope'\].*\['kind'\]"):
        MLPClassifier(categorical_features="from_dtype", embedding_dims={"nope": 3}).fit(frame, np.arange(20) % 2)


def test_cnn_x_of_the_wrong_dimensions_is_named():
    with pytest.raises(ValueError, match="X has 5 dimensions"):
        CNNClassifier(max_iter=1).fit(np.zeros((4, 1, 2, 8, 8)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="0 sample"):
        CNNClassifier(max_iter=1).fit(np.zeros((0, 1, 8, 8)), [])


class FiveLogits(torch.nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, 5)

    def forward(self, x):
        return self.layer(x)


class FlatOutput(torch.nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, 1)

    def forward(self, x):
        return self.layer(x)[:, 0]


def test_a_module_output_of_the_wrong_shape_is_refused(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"outputs of shape \(150, 5\).*needs shape \(150, 3\)"):
        TorchClassifier(FiveLogits, batch_size=150).fit(X, y)
    with pytest.raises(ValueError, match=r"outputs of shape \(150,\).*needs shape \(150, 1\)"):
        TorchRegressor(FlatOutput, batch_size=150).fit(X, X[:, 0])


# -- threads ----------------------------------------------------------------------------------------------


def test_seeded_fits_in_threads_equal_sequential_ones(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(32,), dropout=0.3, max_iter=20, batch_size=32)

    def fit(seed):
        return MLPClassifier(random_state=seed, **params).fit(X, y).predict_proba(X)

    sequential = [fit(seed) for seed in range(4)]
    results = [None] * 4
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, fit(i))) for i in range(4)]
    torch.manual_seed(123)
    caller_state = torch.random.get_rng_state()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for threaded, alone in zip(results, sequential, strict=True):
        np.testing.assert_array_equal(threaded, alone)
    assert torch.equal(torch.random.get_rng_state(), caller_state)


# -- interrupts, bad input and mistakes with your own module ------------------------------------------


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


class BatchMean(torch.nn.Module):
    """Averages over the batch when predicting: one row for the whole batch."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        output = self.layer(x)
        return output if self.training else output.mean(dim=0, keepdim=True)


def test_predict_checks_the_modules_output_shape(iris):
    X, y = iris
    clf = TorchClassifier(BatchMean, max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"outputs of shape \(1, 3\) for 150 samples.*needs shape \(150, 3\)"):
        clf.predict(X)


def test_categorical_features_on_all_or_no_categorical_columns():
    kinds = pd.Categorical(list("abc") * 20)
    categories_only = pd.DataFrame({"kind": kinds, "other": pd.Categorical(list("xy") * 30)})
    clf = MLPClassifier(categorical_features="from_dtype", max_iter=5, random_state=0).fit(categories_only, kinds)
    assert clf.is_categorical_.all() and clf.predict(categories_only).shape == (60,)
    numbers = pd.DataFrame({"a": np.arange(60.0), "b": np.ones(60)})
    plain = MLPClassifier(categorical_features="from_dtype", max_iter=5, random_state=0).fit(numbers, kinds)
    assert plain.is_categorical_ is None and plain.predict(numbers).shape == (60,)


def test_a_failed_refit_keeps_the_model_the_user_had(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.set_params(hidden_layer_sizes=(0,)).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_weights_and_targets_beyond_float32_are_named(iris):
    X, y = iris
    with pytest.raises(ValueError, match="sample_weight holds values that float32"):
        MLPClassifier(max_iter=2).fit(X, y, sample_weight=np.full(len(y), 1e-50))
    with pytest.raises(ValueError, match="y holds values beyond the range of float32"):
        MLPRegressor(max_iter=2).fit(X, np.full(len(y), 1e39))
    assert MLPClassifier(max_iter=2, precision="float64").fit(X, y, sample_weight=np.full(len(y), 1e-50))


@pytest.mark.parametrize("class_weight", [{0: -1.0}, {0: np.nan}])
def test_class_weights_must_be_finite_and_non_negative(class_weight, iris):
    X, y = iris
    with pytest.raises(ValueError, match="'class_weight' parameter must give finite, non-negative weights"):
        MLPClassifier(class_weight=class_weight, max_iter=2).fit(X, y)


def test_class_weights_of_the_wrong_shape_for_y_are_named(iris):
    X, y = iris
    Y = np.c_[y == 0, y == 2].astype(int)
    with pytest.raises(ValueError, match="For multilabel y, the 'class_weight' parameter must be 'balanced' or a list"):
        MLPClassifier(class_weight={0: 1.0, 1: 2.0}, max_iter=2).fit(X, Y)
    with pytest.raises(ValueError, match="'class_weight' parameter is a list of dicts, one per label, for multilabel"):
        MLPClassifier(class_weight=[{0: 1.0}], max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="as a list, must hold one .* dict per label; got \\[2.0, 1.0\\]"):
        MLPClassifier(class_weight=[2.0, 1.0], max_iter=2).fit(X, Y)


def test_balanced_class_weight_is_refused_by_partial_fit_which_sees_one_batch(iris):
    X, y = iris
    clf = MLPClassifier(class_weight="balanced", max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(clf, "net_")
    clf.fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="compute_class_weight"):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


class ReturnsTuple(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.layer(x), x


def test_common_mistakes_with_your_own_module(iris):
    X, y = iris
    with pytest.raises(TypeError, match="'module' parameter takes the module's class"):
        TorchClassifier(torch.nn.Linear(4, 3), max_iter=2).fit(X, y)
    with pytest.raises(TypeError, match="must return a tensor of raw outputs; it returned a tuple"):
        TorchClassifier(ReturnsTuple, max_iter=2).fit(X, y)
    factory = TorchClassifier(lambda **sizes: torch.nn.Linear(sizes["n_features"], sizes["n_outputs"]), max_iter=2)
    assert factory.fit(X, y).predict(X).shape == (150,)  # a factory taking **kwargs gets the sizes


def test_a_warm_start_may_switch_dropout_on_and_off(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=3, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(dropout=0.2).fit(X, y)
    clf.set_params(dropout=0.0).fit(X, y)
    assert len(clf.loss_curve_) == 9


@pytest.mark.parametrize(("n_samples", "batch_size"), [(1, "auto"), (20, 1)])
def test_batch_norm_on_batches_of_one_sample_is_named(n_samples, batch_size):
    X, y = make_classification(n_samples=20, n_features=4, random_state=0)
    clf = MLPClassifier(batch_norm=True, batch_size=batch_size, max_iter=2)
    with pytest.raises(ValueError, match="batch_norm=True .* batch_size"):
        if n_samples == 1:
            clf.partial_fit(X[:1], y[:1], classes=[0, 1])
        else:
            clf.fit(X, y)


def test_a_cnn_input_shape_that_disagrees_with_the_images_is_named():
    images = np.zeros((20, 1, 6, 6))
    with pytest.raises(ValueError, match=r"samples of shape \(1, 6, 6\), but input_shape=\(6, 6, 1\)"):
        CNNClassifier(input_shape=(6, 6, 1), max_iter=1).fit(images, np.arange(20) % 2)
