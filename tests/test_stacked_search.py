"""skdeep.model_selection: scikit-learn's searches, with the fits of an MLP trained as one stacked network.

Each test runs skdeep's search and scikit-learn's on the same estimator and
data, and compares every entry of ``cv_results_`` but the times: in float64,
a stacked fit must be the fit scikit-learn's loop would train on its own.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import loguniform
from sklearn import model_selection as sklearn_search
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold, ShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from torch.utils._python_dispatch import TorchDispatchMode

from skdeep import MLPClassifier, MLPRegressor, _packing, _shelf, _stacked
from skdeep._stacked import _stacked_linear, _StackedLinear
from skdeep.model_selection import GridSearchCV, RandomizedSearchCV

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:300], (y[:300] - y.mean()) / y.std()


def n_iter(estimator, X, y):
    """A scorer that reports the fitted network's epochs, so that cv_results_ compares them too."""
    network = estimator[-1] if hasattr(estimator, "steps") else estimator
    return network.n_iter_


def loss(estimator, X, y):
    network = estimator[-1] if hasattr(estimator, "steps") else estimator
    return network.loss_


def assert_same_results(stacked, reference, atol=1e-6):
    assert stacked.cv_results_.keys() == reference.cv_results_.keys()
    for key, expected in reference.cv_results_.items():
        if key.endswith("_time"):
            continue
        got = stacked.cv_results_[key]
        if isinstance(expected, np.ndarray) and expected.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=atol, err_msg=key)
        else:
            assert list(got) == list(expected), key
    assert stacked.best_index_ == reference.best_index_
    assert stacked.best_params_ == reference.best_params_


def both(search, reference_search, estimator, space, X, y, **kwargs):
    stacked = search(estimator, space, **kwargs).fit(X, y)
    reference = reference_search(estimator, space, **kwargs).fit(X, y)
    return stacked, reference


def test_grid_over_a_pipeline_gives_scikit_learns_results(cancer):
    X, y = cancer
    model = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=60, precision="float64", random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 1e-1], "mlpclassifier__learning_rate_init": [1e-3, 1e-2],
            "mlpclassifier__random_state": [0, 1]}
    scoring = {"accuracy": "accuracy", "neg_log_loss": "neg_log_loss", "n_iter": n_iter, "loss": loss}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3, scoring=scoring,
                              refit="neg_log_loss", return_train_score=True)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 24
    assert 0 < stacked.stacked_fit_time_
    np.testing.assert_allclose(stacked.best_estimator_.predict_proba(X), reference.best_estimator_.predict_proba(X))
    assert not _shelf._SHELVED  # nothing is left offered


@pytest.mark.parametrize("head, grid", [
    (StandardScaler(copy=False), {"standardscaler__with_mean": [False, True]}),
    (MinMaxScaler(copy=False), {"minmaxscaler__feature_range": [(0, 1), (-1, 1)]}),
], ids=["StandardScaler", "MinMaxScaler"])
def test_a_head_that_transforms_in_place_leaves_the_other_candidates_rows_alone(cancer, head, grid):
    X, y = cancer
    model = make_pipeline(head, MLPClassifier((8,), max_iter=15, batch_size=64, precision="float64", random_state=0))
    # each search its own copy of X: scikit-learn's refit scales the caller's X in place
    stacked, reference = (search(model, grid, cv=3, scoring="neg_log_loss").fit(X.copy(), y)
                          for search in (GridSearchCV, sklearn_search.GridSearchCV))
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 6


@pytest.mark.parametrize("options", [
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.05),
    dict(solver="sgd", learning_rate="adaptive", nesterovs_momentum=False, n_iter_no_change=2, tol=1e-2),
    dict(solver="adamw", learning_rate="cosine"),
    dict(learning_rate="onecycle", batch_size=64, shuffle=False),
    dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3),
    dict(class_weight="balanced", l1=1e-3, tol=1e-2, n_iter_no_change=3),
])
def test_every_member_trains_as_its_own_fit(cancer, options):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    model = MLPClassifier((8,), max_iter=40, precision="float64", random_state=0, **options)
    grid = {"alpha": [1e-4, 1e-1], "momentum": [0.5, 0.9]} if options.get("solver") == "sgd" else \
        {"alpha": [1e-4, 1e-1], "beta_1": [0.8, 0.9]}
    grid["max_iter"] = [15, 40]
    scoring = {"accuracy": "accuracy", "n_iter": n_iter, "loss": loss}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3, scoring=scoring,
                              refit="accuracy")
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 24


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_deeper_networks_train_as_their_own_fits(cancer, activation):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    # (with relu, each hidden layer's backward pass applies the gradient of the ReLU before it)
    model = MLPClassifier((12, 6, 1), activation=activation, batch_size=64, max_iter=12, precision="float64",
                          random_state=0)
    grid = {"alpha": [1e-4, 1e-1], "random_state": [0, 1]}
    scoring = {"neg_log_loss": "neg_log_loss", "n_iter": n_iter, "loss": loss}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3, scoring=scoring,
                              refit="neg_log_loss")
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 12


def test_dropout_draws_each_members_own_masks(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    model = MLPClassifier((16, 8), max_iter=30, precision="float64", random_state=0, early_stopping=True,
                          n_iter_no_change=3)
    grid = {"dropout": [0.1, 0.5], "random_state": [0, 1]}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3,
                              scoring={"neg_log_loss": "neg_log_loss", "n_iter": n_iter}, refit="neg_log_loss")
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 12


def test_members_stop_at_their_own_epochs(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    model = MLPClassifier((8,), max_iter=200, precision="float64", random_state=0)
    grid = {"tol": [1e-2, 1e-4], "n_iter_no_change": [2, 10]}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3,
                              scoring={"n_iter": n_iter, "loss": loss}, refit="loss")
    assert_same_results(stacked, reference)
    epochs = stacked.cv_results_["mean_test_n_iter"]
    assert len(set(epochs)) >= 3 and epochs.min() < 20 and epochs.max() == 200  # (the members stopped apart)


def test_members_with_fewer_batches_wait_for_the_others(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    # 301 rows, cv=3: folds of 200 and 201 training rows, which take two and three batches of 100
    X, y = np.vstack([X, X[:1]]), np.append(y, y[0])
    model = MLPClassifier((8,), max_iter=15, batch_size=100, precision="float64", random_state=0)
    grid = {"alpha": [1e-4, 1e-1], "class_weight": [None, "balanced"], "shuffle": [True, False]}
    scoring = {"neg_log_loss": "neg_log_loss", "n_iter": n_iter, "loss": loss}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3, scoring=scoring,
                              refit="neg_log_loss")
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 24


def test_members_that_shuffle_alike_go_on_after_the_one_that_drew_left(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    # one seed: the members of a fold shuffle alike, and the pack draws their orders once, with the first's
    # generator; the first candidate's members leave after 4 epochs, the others go on shuffling as their fits do
    model = MLPClassifier((8,), batch_size=64, precision="float64", random_state=0)
    grid = {"max_iter": [4, 12], "alpha": [1e-4, 1e-1]}
    scoring = {"neg_log_loss": "neg_log_loss", "n_iter": n_iter, "loss": loss}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3, scoring=scoring,
                              refit="neg_log_loss")
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 12


def test_regressor_in_randomized_search(diabetes):
    X, y = diabetes
    model = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), max_iter=40, precision="float64",
                                                         random_state=0))
    space = {"mlpregressor__alpha": loguniform(1e-5, 1e-1), "mlpregressor__learning_rate_init": loguniform(1e-3, 1e-2),
             "mlpregressor__early_stopping": [False, True]}
    stacked, reference = both(RandomizedSearchCV, sklearn_search.RandomizedSearchCV, model, space, X, y, n_iter=6,
                              cv=3, random_state=0, scoring={"r2": "r2", "n_iter": n_iter}, refit="r2",
                              return_train_score=True)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 18


def test_a_repeated_candidate_is_a_copy_of_its_first_fit_and_ties_with_it():
    # trained in one pack, the repeats of this grid differ in their last bits and rank apart
    X, y = load_diabetes(return_X_y=True)
    X, y = StandardScaler().fit_transform(X), (y - y.mean()) / y.std()
    model = MLPRegressor(hidden_layer_sizes=(12, 6), max_iter=30, n_iter_no_change=3, tol=1e-3, random_state=0,
                         precision="float64")
    grid = {"alpha": [1e-4, 1e-1, 1e-4, 1e-2, 1e-4], "learning_rate_init": [1e-3, 1e-2]}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=3)
    assert_same_results(stacked, reference)  # the ranks too: scikit-learn's repeats tie
    assert stacked.n_stacked_fits_ == 30
    repeats = [index for index, params in enumerate(stacked.cv_results_["params"]) if params["alpha"] == 1e-4]
    scores = stacked.cv_results_["mean_test_score"][repeats]
    assert len(set(scores[::2])) == 1 and len(set(scores[1::2])) == 1


def test_a_fit_alone_in_its_pack_trains_stacked_for_its_repeats(cancer):
    X, y = cancer
    model = MLPClassifier((8,), max_iter=10, random_state=0)
    search = GridSearchCV(model, {"alpha": [1e-4] * 4}, cv=ShuffleSplit(n_splits=1, random_state=0)).fit(X, y)
    assert search.n_stacked_fits_ == 4
    assert search.cv_results_["rank_test_score"].tolist() == [1, 1, 1, 1]


def test_a_repeated_candidate_without_a_seed_trains_on_its_own_seed(diabetes):
    X, y = diabetes
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=None)
    search = GridSearchCV(model, {"alpha": [1e-4, 1e-4]}, cv=2).fit(X, y)
    assert search.n_stacked_fits_ == 4
    first, repeat = search.cv_results_["split0_test_score"]
    assert first != repeat


def test_what_does_not_stack_trains_on_its_own(cancer, tmp_path):
    X, y = cancer
    model = make_pipeline(StandardScaler(), MLPClassifier(max_iter=20, precision="float64", random_state=0))
    grid = [{"mlpclassifier__hidden_layer_sizes": [(4,), (8,)], "mlpclassifier__alpha": [1e-4, 1e-2]},
            {"mlpclassifier__solver": ["lbfgs"], "mlpclassifier__hidden_layer_sizes": [(4,)]},
            {"mlpclassifier__batch_norm": [True], "mlpclassifier__hidden_layer_sizes": [(4,)]},
            {"mlpclassifier__alpha": [-1.0], "mlpclassifier__hidden_layer_sizes": [(4,)]},  # fails in its fit
            {"mlpclassifier__checkpoint": [str(tmp_path / "fit.ckpt")], "mlpclassifier__hidden_layer_sizes": [(4,)]},
            {"mlpclassifier": [LogisticRegression()]}]
    with pytest.warns(FitFailedWarning, match="2 fits failed"):  # alpha=-1, in each search
        stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, model, grid, X, y, cv=2,
                                  scoring={"accuracy": "accuracy", "n_iter": n_iter}, refit="accuracy",
                                  error_score=-1.0)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 8  # two packs, one per width; the others alone
    assert np.isnan(stacked.cv_results_["mean_test_accuracy"]).sum() == 0
    assert (stacked.cv_results_["mean_test_accuracy"] == -1.0).sum() == 1  # alpha=-1: error_score


def test_pack_size_splits_the_packs_and_none_stacks_nothing(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    model = MLPClassifier((8,), max_iter=20, precision="float64", random_state=0)
    grid = {"alpha": [1e-4, 1e-3, 1e-2]}
    reference = sklearn_search.GridSearchCV(model, grid, cv=3, scoring=n_iter).fit(X, y)
    for pack_size, stacked_fits in ((2, 8), (3, 9), (None, 0)):  # (packs of 2: the ninth fit trains alone)
        stacked = GridSearchCV(model, grid, cv=3, scoring=n_iter, pack_size=pack_size).fit(X, y)
        assert_same_results(stacked, reference)
        assert stacked.n_stacked_fits_ == stacked_fits


def test_packs_leave_torchs_thread_count_as_the_caller_set_it(cancer):
    X, y = cancer
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        search = GridSearchCV(MLPClassifier((8,), max_iter=5, random_state=0), {"alpha": [1e-4, 1e-3]}, cv=2)
        search.fit(X, y)
        assert search.n_stacked_fits_ == 4 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    search.fit(X, y)
    assert torch.get_num_threads() == before


def test_an_interrupted_search_leaves_the_search_and_the_shelf_as_they_were(cancer):
    X, y = cancer
    calls = []

    def interrupting(estimator, X, y):
        calls.append(1)
        raise KeyboardInterrupt

    cv = KFold(2)
    search = GridSearchCV(MLPClassifier((8,), max_iter=5, random_state=0), {"alpha": [1e-4, 1e-3]}, cv=cv,
                          scoring=interrupting)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    assert calls and search.cv is cv and not _shelf._SHELVED and not _shelf._OPEN_SHELVES[0]
    assert search.set_params(scoring="accuracy").fit(X, y).n_stacked_fits_ == 4


def test_pack_size_is_validated(cancer):
    with pytest.raises(InvalidParameterError, match="pack_size"):
        GridSearchCV(MLPClassifier(), {"alpha": [1e-4]}, pack_size=0).fit(*cancer)


def test_networks_over_the_memory_budget_train_on_their_own(cancer, monkeypatch):
    X, y = cancer
    model = MLPClassifier((8,), max_iter=5, precision="float64", random_state=0)
    grid = {"alpha": [1e-4, 1e-3]}
    monkeypatch.setattr(_packing, "CPU_PACK_BYTES", 1000)
    stacked = GridSearchCV(model, grid, cv=2, scoring=n_iter).fit(X, y)
    assert_same_results(stacked, sklearn_search.GridSearchCV(model, grid, cv=2, scoring=n_iter).fit(X, y))
    assert stacked.n_stacked_fits_ == 0
    # a pack size that the device's free memory cannot hold is refused, naming the parameter
    monkeypatch.setattr(_packing, "free_memory", lambda device: 1000)
    with pytest.raises(MemoryError, match="pack_size=2"):
        GridSearchCV(model, grid, cv=2, pack_size=2).fit(X, y)
    assert not _shelf._SHELVED


def test_a_splitter_that_draws_gives_the_loop_and_the_packs_the_same_splits(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    model = MLPClassifier((8,), max_iter=20, precision="float64", random_state=0)
    grid = {"alpha": [1e-4, 1e-1]}
    stacked = GridSearchCV(model, grid, cv=KFold(3, shuffle=True, random_state=np.random.RandomState(0)),
                           scoring=n_iter).fit(X, y)
    reference = sklearn_search.GridSearchCV(model, grid, cv=KFold(3, shuffle=True,
                                                                  random_state=np.random.RandomState(0)),
                                            scoring=n_iter).fit(X, y)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 6
    drawn = GridSearchCV(model, grid, cv=ShuffleSplit(3, test_size=0.3), scoring=n_iter).fit(X, y)
    assert drawn.n_stacked_fits_ == 6  # (each fit the loop asked for was one the packs trained)
    pairs = list(KFold(3).split(X))
    assert GridSearchCV(model, grid, cv=iter(pairs), scoring=n_iter).fit(X, y).n_stacked_fits_ == 6


def test_the_grids_objects_stay_as_given(cancer):
    X, y = cancer
    model = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=10, precision="float64"))
    scaler, random_state = StandardScaler(), np.random.RandomState(0)
    before = random_state.get_state()[1].copy()
    grid = {"standardscaler": [scaler, MinMaxScaler()], "mlpclassifier__random_state": [random_state],
            "mlpclassifier__alpha": [1e-4, 1e-1]}
    stacked = GridSearchCV(model, grid, cv=3, scoring="neg_log_loss").fit(X, y)
    reference = sklearn_search.GridSearchCV(model, grid, cv=3, scoring="neg_log_loss").fit(X, y)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 12
    assert not hasattr(scaler, "mean_") and np.array_equal(random_state.get_state()[1], before)


@pytest.mark.skipif(not hasattr(MLPClassifier(), "set_callbacks"), reason="scikit-learn < 1.9 has no callbacks")
def test_scikit_learns_callbacks_see_every_epoch(cancer):
    from sklearn.callback import ScoringMonitor

    X, y = cancer
    model = MLPClassifier((8,), max_iter=5, precision="float64", random_state=0)
    grid = {"alpha": [1e-4, 1e-1]}
    search = GridSearchCV(model.set_callbacks(ScoringMonitor(scoring="accuracy")), grid, cv=2).fit(X, y)
    assert search.n_stacked_fits_ == 0  # (the callbacks report each fit's epochs: they train on their own)
    reference = sklearn_search.GridSearchCV(model, grid, cv=2).fit(X, y)
    assert_same_results(search, reference)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_diverging_member_fails_as_its_own_fit_does(cancer):
    X, y = cancer  # unscaled: sgd at a large rate diverges
    model = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", max_iter=100, n_iter_no_change=100,
                         precision="float64", random_state=0)
    grid = {"learning_rate_init": [1e-4, 10.0]}
    with pytest.warns(FitFailedWarning):
        stacked = GridSearchCV(model, grid, cv=2, error_score=np.nan).fit(X, y * 1e3)
    with pytest.warns(FitFailedWarning):
        reference = sklearn_search.GridSearchCV(model, grid, cv=2, error_score=np.nan).fit(X, y * 1e3)
    assert_same_results(stacked, reference)
    assert np.isnan(stacked.cv_results_["mean_test_score"][1])
    with pytest.raises(ValueError, match="non-finite"):
        GridSearchCV(model, grid, cv=2, error_score="raise").fit(X, y * 1e3)


def test_two_jobs_groups_and_data_frames(cancer):
    X, y = cancer
    frame = pd.DataFrame(X[:, :5], columns=[f"x{i}" for i in range(5)])
    groups = np.arange(len(y)) % 4
    model = make_pipeline(ColumnTransformer([("scale", StandardScaler(), list(frame.columns))]),
                          MLPClassifier((8,), max_iter=20, precision="float64", random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2], "columntransformer__scale__with_mean": [True, False]}
    kwargs = dict(cv=GroupKFold(n_splits=2), scoring=n_iter, n_jobs=2)
    stacked = GridSearchCV(model, grid, **kwargs).fit(frame, y, groups=groups)
    reference = sklearn_search.GridSearchCV(model, grid, **kwargs).fit(frame, y, groups=groups)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 8


@pytest.mark.filterwarnings("ignore:The scoring .* does not support sample_weight")
def test_fit_parameters_train_on_their_own(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    weights = np.where(y == 1, 2.0, 1.0)
    model = MLPClassifier((8,), max_iter=20, precision="float64", random_state=0)
    grid = {"alpha": [1e-4, 1e-2]}
    stacked = GridSearchCV(model, grid, cv=KFold(3), scoring=n_iter).fit(X, y, sample_weight=weights)
    reference = sklearn_search.GridSearchCV(model, grid, cv=KFold(3), scoring=n_iter).fit(X, y, sample_weight=weights)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 0


def test_other_estimators_search_as_in_scikit_learn():
    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1.0]}
    stacked, reference = both(GridSearchCV, sklearn_search.GridSearchCV, LogisticRegression(max_iter=500), grid, X, y,
                              cv=3)
    assert_same_results(stacked, reference)
    assert stacked.n_stacked_fits_ == 0


def test_stacked_fit_times_are_counted(cancer):
    X, y = cancer
    model = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=20, random_state=0))
    search = GridSearchCV(model, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
    # each stacked fit's time holds its share of the packs' time, which the shares add up to
    assert search.cv_results_["mean_fit_time"].sum() * search.n_splits_ >= search.stacked_fit_time_ > 0


def buffered_gradients(inputs, weight, bias, upstream, rectified=False):
    """The gradients a stacked layer writes into its buffers (as the pack's rows), and its inputs' as autograd's."""
    buffers = [torch.full_like(weight, torch.nan), torch.full_like(bias, torch.nan)]
    blocks = (torch.full_like(upstream, torch.nan), torch.full_like(inputs, torch.nan))
    outputs = _StackedLinear.apply(inputs, weight, bias, buffers, blocks, rectified)
    assert outputs.data_ptr() == blocks[0].data_ptr()
    outputs.backward(upstream)
    return outputs, buffers


@pytest.mark.parametrize("outputs", [1, 3], ids=["one output", "three outputs"])
@pytest.mark.parametrize("inputs_need_gradients", [True, False], ids=["hidden layer before it", "linear model"])
def test_a_stacked_layer_writes_the_gradients_of_the_batched_product(inputs_need_gradients, outputs):
    generator = torch.Generator().manual_seed(0)
    inputs, weight, bias = (torch.randn(shape, generator=generator, dtype=torch.float64)
                            for shape in [(4, 7, 5), (4, outputs, 5), (4, 1, outputs)])
    inputs.requires_grad_(inputs_need_gradients)
    weight.requires_grad_()
    bias.requires_grad_()
    upstream = torch.randn(4, 7, outputs, generator=generator, dtype=torch.float64)
    wanted = [tensor for tensor in (inputs, weight, bias) if tensor.requires_grad]
    expected = torch.autograd.grad(_stacked_linear(inputs, weight, bias), wanted, upstream)
    results, buffers = buffered_gradients(inputs, weight, bias, upstream)
    torch.testing.assert_close(results, _stacked_linear(inputs, weight, bias))
    torch.testing.assert_close(buffers, list(expected[-2:]))
    assert weight.grad is None and bias.grad is None  # (autograd accumulates nothing)
    if inputs_need_gradients:
        torch.testing.assert_close(inputs.grad, expected[0])


@pytest.mark.parametrize("outputs", [1, 3], ids=["one output", "three outputs"])
def test_a_stacked_layer_after_a_relu_applies_the_relus_gradient(outputs):
    generator = torch.Generator().manual_seed(0)
    pre, weight, bias = (torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True)
                         for shape in [(4, 7, 5), (4, outputs, 5), (4, 1, outputs)])
    upstream = torch.randn(4, 7, outputs, generator=generator, dtype=torch.float64)
    expected = torch.autograd.grad(_stacked_linear(torch.relu(pre), weight, bias), [pre, weight, bias], upstream)
    hidden = pre.clone()
    with torch.no_grad():  # (as the pack runs it: out of autograd's sight)
        hidden.relu_()
    results, buffers = buffered_gradients(hidden, weight, bias, upstream, rectified=True)
    torch.testing.assert_close(results, _stacked_linear(torch.relu(pre), weight, bias))
    torch.testing.assert_close([pre.grad, *buffers], list(expected))
    assert (pre.detach() < 0).any()  # (some rows the ReLU zeroes)


#: the operators that read a tensor's values back to the host: on a GPU, each waits for the device (a sync),
#: which a CUDA graph cannot capture
HOST_READS = {torch.ops.aten._local_scalar_dense, torch.ops.aten.nonzero, torch.ops.aten.masked_select,
              torch.ops.aten.is_nonzero, torch.ops.aten.equal, torch.ops.aten.unique_dim,
              torch.ops.aten._unique2, torch.ops.aten.allclose}


class OperatorLog(TorchDispatchMode):
    """Record every aten operator that runs inside the block."""

    def __init__(self):
        super().__init__()
        self.operators = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.operators.append(func.overloadpacket)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("options", [
    dict(solver="adam", l1=1e-3),
    dict(solver="adamw", learning_rate="cosine"),
    dict(solver="sgd", nesterovs_momentum=True, learning_rate="invscaling"),
])
def test_a_packs_steps_read_nothing_back_from_their_tensors(cancer, monkeypatch, options):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    # 301 rows, cv=3: members of two and of three batches, so that some steps leave members out
    X, y = np.vstack([X, X[:1]]), np.append(y, y[0])
    log = OperatorLog()
    steps = _stacked._steps

    def logged_steps(*args):
        generator = steps(*args)
        while True:
            with log:
                step = next(generator, None)
            if step is None:
                return
            yield step

    monkeypatch.setattr(_stacked, "_steps", logged_steps)
    model = MLPClassifier((8, 4), batch_size=100, max_iter=3, random_state=0, **options)
    search = GridSearchCV(model, {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}, cv=3).fit(X, y)
    assert search.n_stacked_fits_ == 12
    assert torch.ops.aten.bmm in log.operators  # (the steps ran inside the log)
    assert [operator for operator in log.operators if operator in HOST_READS] == []


def test_a_packs_steps_read_the_same_tensors_at_every_epoch(cancer, monkeypatch):
    # what a CUDA graph of the steps would read: the epoch's batches, their weights and the learning rates are
    # written into the same tensors at every epoch
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    inputs = []  # (the tensors themselves, held: a new tensor cannot take a held one's address)
    steps = _stacked._steps

    def recorded_steps(layout, network, optimizer, criterion, *blocks):
        inputs.append([*blocks, optimizer.lr, optimizer.lr.clone(), blocks[2].clone()])
        return steps(layout, network, optimizer, criterion, *blocks)

    monkeypatch.setattr(_stacked, "_steps", recorded_steps)
    model = MLPClassifier((8,), solver="sgd", learning_rate="invscaling", class_weight="balanced", batch_size=100,
                          max_iter=4, n_iter_no_change=10, random_state=0)
    search = GridSearchCV(model, {"alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
    assert search.n_stacked_fits_ == 4 and len(inputs) == 4
    addresses = [[tensor.data_ptr() for tensor in epoch[:5]] for epoch in inputs]
    assert all(epoch == addresses[0] for epoch in addresses)
    assert not torch.equal(inputs[0][5], inputs[-1][5])  # the rates changed (invscaling), in place
    assert not torch.equal(inputs[0][6], inputs[1][6])  # and the weights of the slots (balanced classes, shuffled)


def test_a_fits_shelf_key_names_its_class_parameters_and_exact_data(cancer):
    X, y = cancer
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    key = _shelf.fit_key(MLPClassifier(alpha=0.1), X, y)
    assert key == _shelf.fit_key(MLPClassifier(alpha=0.1), np.asfortranarray(X), y.copy())  # (same values)
    others = [_shelf.fit_key(MLPRegressor(alpha=0.1), X, y), _shelf.fit_key(MLPClassifier(alpha=0.2), X, y),
              _shelf.fit_key(MLPClassifier(alpha=0.1), X.astype(np.float32), y),
              _shelf.fit_key(MLPClassifier(alpha=0.1), X, 1 - y),
              _shelf.fit_key(MLPClassifier(alpha=0.1), X, y, sample_weight=np.ones(len(y))),
              _shelf.fit_key(MLPClassifier(alpha=0.1), X.reshape(-1, 15), y)]
    assert len({key, *others}) == 7
    frame_key = _shelf.fit_key(MLPClassifier(), frame, y)  # (by joblib.hash, which may tell a copy apart: a miss)
    assert frame_key == _shelf.fit_key(MLPClassifier(), frame, y)
    assert frame_key != _shelf.fit_key(MLPClassifier(), frame.rename(columns=str.upper), y)
    assert _shelf.fit_key(MLPClassifier(activation=lambda x: x), X, y) is None  # (not picklable: not shelved)
