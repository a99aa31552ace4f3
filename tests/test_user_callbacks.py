"""The user's skorch callbacks: run at skorch's hook points with skorch's arguments, after skdeep's own."""

import copy
import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    Freezer,
    GradientNormClipping,
    LoadInitState,
    LRScheduler,
)
from skorch.history import History

from skdeep import CNNRegressor, MLPClassifier, MLPRegressor, TorchClassifier
from skdeep._record import history_frame


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class Counter(Callback):
    """Counts each hook, and checks what skorch's hooks get."""

    def __init__(self):
        self.counts = {}
        self.saw_skdeeps_records = []

    def _count(self, hook):
        self.counts[hook] = self.counts.get(hook, 0) + 1

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._count("train_begin")

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._count("epoch_begin")

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        self._count("batch_begin")

    def on_grad_computed(self, net, named_parameters, batch=None, training=None, **kwargs):
        assert all(parameter.grad is not None for _, parameter in named_parameters)
        self._count("grad_computed")

    def on_batch_end(self, net, batch=None, training=None, loss=None, y_pred=None, **kwargs):
        assert training and y_pred.shape == (len(batch[0]), 3) and loss.ndim == 0
        assert net.history[-1, "batches", -1, "train_loss"] == pytest.approx(loss.item())
        self._count("batch_end")

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self.saw_skdeeps_records.append("loss" in net.history[-1])  # skdeep's own callbacks ran first
        self._count("epoch_end")

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self._count("train_end")


class Locked(Callback):
    """A callback holding a lock, which no pickler saves."""

    def __init__(self):
        self.lock = threading.Lock()


class GradientNorms(Callback):
    """Records the total gradient norm of each step, as the optimizer will see it."""

    def __init__(self):
        self.norms = []

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [parameter.grad.norm() for _, parameter in named_parameters]
        self.norms.append(float(torch.stack(grads).norm()))


class Net(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.hidden = torch.nn.Linear(n_features, 16)
        self.output = torch.nn.Linear(16, n_outputs)

    def forward(self, x):
        return self.output(torch.relu(self.hidden(x)))


def test_every_hook_runs_as_often_as_skorch_runs_it(iris):
    X, y = iris
    counter = Counter()
    clf = MLPClassifier(batch_size=50, max_iter=4, callbacks=[counter], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert counter.counts == {"train_begin": 1, "epoch_begin": 4, "batch_begin": 12, "grad_computed": 12,
                              "batch_end": 12, "epoch_end": 4, "train_end": 1}
    assert counter.saw_skdeeps_records == [True] * 4
    assert clf.callbacks[0] is counter  # the objects given run, as in skorch


def test_a_callback_sees_the_epoch_that_skdeeps_stopping_rule_ends_on(iris):
    X, y = iris
    counter = Counter()
    clf = MLPClassifier(max_iter=500, tol=0.1, n_iter_no_change=2, callbacks=[counter], random_state=0).fit(X, y)
    assert clf.n_iter_ < 500
    assert counter.counts["epoch_end"] == clf.n_iter_ == len(clf.loss_curve_) == len(clf.history_)


def test_an_lr_scheduler_sets_the_rate_of_each_epoch(iris):
    X, y = iris
    scheduler = LRScheduler("StepLR", step_size=2, gamma=0.5, event_name="event_lr")
    clf = MLPClassifier(learning_rate_init=0.04, max_iter=6, callbacks=[scheduler], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    np.testing.assert_allclose(clf.history_["event_lr"], [0.04, 0.04, 0.02, 0.02, 0.01, 0.01])
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.005)


def test_gradient_clipping_bounds_the_steps_and_changes_training(iris):
    X, y = iris
    params = dict(learning_rate_init=0.05, max_iter=10, batch_size=150, random_state=0)
    free, clipped = GradientNorms(), GradientNorms()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = TorchClassifier(Net, callbacks=[free], **params).fit(X, y)
        clipping = TorchClassifier(Net, callbacks=[("clip", GradientNormClipping(1.0)), clipped],
                                   callbacks__clip__gradient_clip_value=0.05, **params).fit(X, y)
    ran = dict(clipping.net_.callbacks_)
    assert ran["clip"].gradient_clip_value == 0.05
    assert clipping.callbacks[0][1].gradient_clip_value == 1.0  # the parameter's own object is left as given
    assert min(dict(plain.net_.callbacks_)["GradientNorms"].norms) > 0.1
    assert max(ran["GradientNorms"].norms) <= 0.05 * (1 + 1e-5)
    assert abs(clipping.loss_curve_[-1] - plain.loss_curve_[-1]) > 1e-3


def test_epoch_scoring_scores_early_stoppings_validation_set_as_skdeep_does(iris):
    X, y = iris
    scoring = EpochScoring("accuracy", lower_is_better=False)
    clf = MLPClassifier(early_stopping=True, max_iter=30, callbacks=[scoring], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.history_["accuracy"], clf.validation_scores_)
    assert {"valid_loss", "valid_loss_best", "train_loss_best", "accuracy_best"} <= set(clf.history_.columns)


def test_epoch_scoring_of_a_regressor_on_its_training_batches(iris):
    X, y = iris
    X = X.reshape(-1, 1, 4)
    reg = CNNRegressor(conv_filters=(2,), kernel_size=3, max_iter=20, learning_rate_init=0.01, random_state=0,
                       callbacks=[EpochScoring("r2", on_train=True, name="train_r2", lower_is_better=False)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y.astype(float))
    r2 = reg.history_["train_r2"].to_numpy()
    assert r2[-1] > r2[0] and r2[-1] > 0.5


def test_skorchs_early_stopping_ends_training_beside_skdeeps_rule(iris):
    X, y = iris
    stopper = EarlyStopping(monitor="train_loss", patience=3, threshold=0.1, load_best=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stopped fit does not warn of max_iter
        clf = MLPClassifier(max_iter=300, callbacks=[stopper], random_state=0).fit(X, y)
    assert 3 < clf.n_iter_ < 300
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.history_)


def test_a_checkpoint_loads_into_a_new_fit(iris, tmp_path):
    X, y = iris
    checkpoint = Checkpoint(monitor="train_loss_best", dirname=str(tmp_path))
    params = dict(max_iter=40, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        trained = MLPClassifier(callbacks=[checkpoint], **params).fit(X, y)
        assert (tmp_path / "params.pt").exists()
        resumed = MLPClassifier(callbacks=[("load", LoadInitState(checkpoint))],
                                **{**params, "max_iter": 1, "random_state": 1}).fit(X, y)
        fresh = MLPClassifier(**{**params, "max_iter": 1, "random_state": 1}).fit(X, y)
    # one more epoch from the trained weights: about where the trained fit ended, far from a new one
    assert resumed.loss_ < fresh.loss_ / 2
    assert abs(resumed.loss_ - trained.loss_) < 0.05
    assert resumed.n_iter_ == len(resumed.loss_curve_) == 1
    assert len(resumed.history_) == trained.history_["train_loss_best"].to_numpy().nonzero()[0][-1] + 2


def test_a_frozen_layer_keeps_its_weights(iris):
    X, y = iris
    reference = TorchClassifier(Net, max_iter=1, random_state=0).fit(X, y)
    initial = TorchClassifier(Net, max_iter=1, learning_rate_init=1e-30, random_state=0).fit(X, y)
    clf = TorchClassifier(Net, max_iter=5, callbacks=[Freezer("hidden.*")], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    torch.testing.assert_close(clf.module_.hidden.weight, initial.module_.hidden.weight)
    assert not torch.allclose(clf.module_.output.weight, initial.module_.output.weight)
    assert not torch.allclose(reference.module_.hidden.weight, initial.module_.hidden.weight)


def test_tensorboard_writes_the_epochs(iris, tmp_path):
    pytest.importorskip("tensorboard")
    from skorch.callbacks import TensorBoard
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(max_iter=3, callbacks=[TensorBoard(SummaryWriter(str(tmp_path)))], random_state=0).fit(X, y)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert len(events.Scalars("Loss/train_loss")) == 3


def test_callbacks_clone_and_pickle_with_the_estimator(iris):
    X, y = iris
    clf = MLPRegressor(max_iter=2, callbacks=[("clip", GradientNormClipping(0.5))], random_state=0)
    copy = clone(clf)
    assert copy.callbacks[0][1] is not clf.callbacks[0][1]
    assert copy.callbacks[0][1].gradient_clip_value == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y.astype(float))
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.callbacks[0][1].gradient_clip_value == 0.5
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_callback_that_cannot_be_saved_is_named():
    clf = MLPClassifier(callbacks=[("locked", Locked())])
    with pytest.raises(TypeError, match="callback 'locked' of the 'callbacks' parameter cannot be saved"):
        pickle.dumps(clf)


def test_a_callback_with_a_lambda_copies_and_trains_in_joblibs_workers(iris):
    X, y = iris
    clf = MLPClassifier(max_iter=2, callbacks=[EpochScoring(lambda net, X, y: 0.5, name="half", on_train=True)])
    assert copy.deepcopy(clf).callbacks[0].name == "half"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(clf, X, y, cv=2, n_jobs=2)
    assert len(scores) == 2


def test_fit_leaves_the_callbacks_given_as_they_were(iris):
    X, y = iris
    clip, scheduler = GradientNormClipping(1.0), LRScheduler("StepLR", step_size=1)
    clf = MLPClassifier(max_iter=2, callbacks=[("clip", clip), scheduler], callbacks__clip__gradient_clip_value=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clip.gradient_clip_value == 1.0
    assert not hasattr(scheduler, "lr_scheduler_")  # the running copy holds the optimizer, not the parameter
    assert dict(clf.net_.callbacks_)["LRScheduler"].lr_scheduler_ is not None


def test_a_callback_that_predicts_between_steps_leaves_training_in_train_mode(iris):
    X, y = iris
    steps = []

    class PredictEachBatch(Callback):
        def on_batch_end(self, net, batch=None, **kwargs):
            net.predict_proba(batch[0])  # in evaluation mode

    class TrainingMode(Callback):
        def on_grad_computed(self, net, **kwargs):
            steps.append(net.module_.training)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(dropout=0.5, batch_size=50, max_iter=2, callbacks=[PredictEachBatch(), TrainingMode()]).fit(X, y)
    assert steps == [True] * 6


def test_a_net_pickled_mid_fit_by_a_checkpoint_loads(iris, tmp_path):
    X, y = iris
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path), f_pickle="net.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(max_iter=2, callbacks=[checkpoint], random_state=0).fit(X, y)
    with open(tmp_path / "net.pkl", "rb") as file:
        net = pickle.load(file)
    np.testing.assert_array_equal(net.predict(X), np.searchsorted(clf.classes_, clf.predict(X)))


def test_binary_roc_auc_scores_the_positive_class(cancer):
    X, y = cancer
    scoring = EpochScoring("roc_auc", lower_is_better=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(max_iter=5, early_stopping=True, callbacks=[scoring], random_state=0).fit(X, y)
    assert 0.9 < clf.history_["roc_auc"].iloc[-1] <= 1.0


@pytest.mark.parametrize("callbacks, error, match", [
    ([print], TypeError, "skorch callbacks"),
    ([("convergence", Counter())], ValueError, "'convergence' is one of skdeep's own callbacks"),
    ([EpochScoring("r2", name="loss")], ValueError, "records 'loss', which skdeep's history holds already"),
])
def test_what_is_not_a_callback_is_refused_before_training(iris, callbacks, error, match):
    X, y = iris
    clf = MLPClassifier(callbacks=callbacks)
    with pytest.raises(error, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_callback_arguments_must_name_a_callback(iris):
    X, y = iris
    clf = MLPClassifier(callbacks=[("clip", GradientNormClipping())], callbacks__clap__gradient_clip_value=1.0)
    with pytest.raises(ValueError, match=r"callbacks__clap__\.\.\.: the callbacks given are named \['clip'\]"):
        clf.fit(X, y)


def test_partial_fit_runs_the_callbacks_each_call(iris):
    X, y = iris
    counter = Counter()
    clf = MLPClassifier(callbacks=[counter], random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert counter.counts["epoch_end"] == 3 and counter.counts["train_begin"] == 3


@pytest.mark.parametrize("use_caching", [True, False])
def test_epoch_scoring_with_sample_weights_scores_the_encoded_targets(iris, use_caching):
    X, y = iris
    scoring = EpochScoring("accuracy", on_train=True, use_caching=use_caching, lower_is_better=False, name="acc")
    clf = MLPClassifier(learning_rate_init=0.01, max_iter=30, callbacks=[scoring], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=np.linspace(0.5, 2.0, len(y)))
    accuracy = clf.history_["acc"].to_numpy()
    assert accuracy[-1] > accuracy[0]
    if not use_caching:  # scored after the epoch, by the network as trained
        assert accuracy[-1] == pytest.approx(clf.score(X, y))


def test_skorchs_logging_and_batch_callbacks_run(iris, tmp_path):
    from skorch.callbacks import BatchScoring, PrintLog, ProgressBar, TrainEndCheckpoint, Unfreezer

    X, y = iris
    lines = []
    callbacks = [BatchScoring("accuracy", on_train=True, name="batch_acc", lower_is_better=False),
                 PrintLog(sink=lines.append), ProgressBar(), TrainEndCheckpoint(dirname=str(tmp_path)),
                 Unfreezer("hidden_layers.*", at=2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(max_iter=3, early_stopping=True, callbacks=callbacks, random_state=0).fit(X, y)
    assert clf.history_["batch_acc"].notna().all()
    assert len(lines) == 5 and "valid_loss" in lines[0]  # the header, its rule, then one row per epoch
    assert (tmp_path / "train_end_params.pt").exists()


class RecordsArrays(Callback):
    """Records an array, a tensor and a value that is missing in every epoch but the last."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("per_class", np.array([0.5, 0.7]))
        net.history.record("tensor", torch.tensor([1.0, float("nan")]))
        net.history.record("late", 1.0 if len(net.history) == 3 else pd.NA)
        net.history.record("never", float("nan"))


def test_an_empty_history_is_an_empty_frame_of_no_columns():
    frame = history_frame(History())
    assert frame.shape == (0, 0) and frame.columns.dtype == object


def test_history_keeps_what_a_callback_records_as_pandas_would(cancer):
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((4,), max_iter=3, callbacks=[RecordsArrays()], random_state=0).fit(X, y)
    history = clf.history_
    assert {"per_class", "tensor", "late"} <= set(history.columns) and "never" not in history.columns
    np.testing.assert_array_equal(history["per_class"].iloc[-1], [0.5, 0.7])
    assert history["late"].isna().tolist() == [True, True, False]
