"""Resumable fits: checkpoints written during fit, and fits that resume from them."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skdeep import CNNClassifier, MLPClassifier, MLPRegressor, TorchRegressor
from skdeep._checkpoint import TrainingCheckpoint, fit_identity, read_checkpoint, write_checkpoint
from skdeep._dask import BlockRows


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def jitter(X):
    """An augmentation that draws from torch's global generator."""
    return X + 0.1 * torch.randn_like(X)


SMALL = dict(hidden_layer_sizes=(16,), batch_size=64, max_iter=12, precision="float64", random_state=0)


class Crash(Exception):
    """Stands for a process killed right after an epoch's checkpoint was written."""


@pytest.fixture
def crash_after(monkeypatch):
    """Make fits raise :class:`Crash` once the checkpoint callback has run at the given epoch."""

    def arm(epoch):
        write = TrainingCheckpoint.on_epoch_end

        def write_then_crash(self, net, **kwargs):
            write(self, net, **kwargs)
            if len(net.history) == epoch:
                raise Crash

        monkeypatch.setattr(TrainingCheckpoint, "on_epoch_end", write_then_crash)
        return lambda: monkeypatch.setattr(TrainingCheckpoint, "on_epoch_end", write)

    return arm


@pytest.fixture
def restored(monkeypatch):
    """The epochs restored by each resumed fit, in order."""
    epochs = []
    restore = TrainingCheckpoint.restore

    def spy(self, net, saved):
        epochs.append(restore(self, net, saved))
        return epochs[-1]

    monkeypatch.setattr(TrainingCheckpoint, "restore", spy)
    return epochs


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def assert_same_fit(resumed, reference, X):
    for got, expected in zip(resumed.coefs_ + resumed.intercepts_,
                             reference.coefs_ + reference.intercepts_, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert resumed.loss_curve_ == reference.loss_curve_
    assert resumed.n_iter_ == reference.n_iter_
    assert resumed.t_ == reference.t_
    assert resumed.best_loss_ == reference.best_loss_
    assert resumed.validation_scores_ == reference.validation_scores_
    assert resumed.best_validation_score_ == reference.best_validation_score_
    columns = [name for name in reference.history_.columns if name != "duration"]
    assert resumed.history_[columns].equals(reference.history_[columns])
    predict = "predict_proba" if hasattr(reference, "predict_proba") else "predict"
    np.testing.assert_array_equal(getattr(resumed, predict)(X), getattr(reference, predict)(X))


_CHILD = """
import sys, time
from sklearn.datasets import load_digits
from skdeep import MLPClassifier
from skdeep._checkpoint import TrainingCheckpoint

write = TrainingCheckpoint.on_epoch_end
def write_slowly(self, net, **kwargs):  # time for the parent to kill it mid-fit (the model is unchanged)
    write(self, net, **kwargs)
    time.sleep(0.05)
TrainingCheckpoint.on_epoch_end = write_slowly
X, y = load_digits(return_X_y=True)
MLPClassifier(**{params}, checkpoint=sys.argv[1]).fit(X / 16.0, y)
"""


@pytest.mark.parametrize("extra", [{}, {"early_stopping": True, "dropout": 0.2}],
                         ids=["plain", "early_stopping_dropout"])
def test_fit_killed_by_sigkill_resumes_to_the_uninterrupted_model(tmp_path, digits, restored, extra):
    X, y = digits
    params = {**SMALL, "max_iter": 40, **extra}
    path = tmp_path / "fit.ckpt"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_CHILD).format(params=params), str(path)])
    try:
        deadline = time.monotonic() + 60
        while not (path.exists() and read_checkpoint(path)["epoch"] >= 3):
            assert child.poll() is None, "the fit ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    written = read_checkpoint(path)["epoch"]
    assert written >= 3
    if extra:  # dropout draws from torch's global generator: its state is in the checkpoint
        assert read_checkpoint(path)["global_generators"] is not None

    before = torch.random.get_rng_state()
    resumed = quiet_fit(MLPClassifier(**params, checkpoint=path), X, y)
    assert restored == [written]  # only the remaining epochs ran
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's generator is untouched
    assert not path.exists()
    assert_same_fit(resumed, quiet_fit(MLPClassifier(**params), X, y), X)


@pytest.mark.parametrize("make, data, extra", [
    (MLPClassifier, "digits", {"solver": "sgd", "learning_rate": "cosine"}),
    (MLPClassifier, "digits", {"solver": "sgd", "learning_rate": "adaptive", "n_iter_no_change": 2, "tol": 0.1}),
    (MLPClassifier, "digits", {"solver": "adamw", "batch_norm": True, "learning_rate": "invscaling"}),
    (MLPRegressor, "cancer", {"early_stopping": True, "solver": "rmsprop", "learning_rate_init": 0.01}),
    (CNNClassifier, "digits", {"conv_filters": (4,), "input_shape": (1, 8, 8), "hidden_layer_sizes": (8,)}),
    (CNNClassifier, "digits", {"conv_filters": (4,), "input_shape": (1, 8, 8), "hidden_layer_sizes": (8,),
                               "augment": jitter}),
], ids=["cosine", "adaptive", "batch_norm_invscaling", "regressor_early_stopping", "cnn", "cnn_augment"])
def test_resumed_fit_equals_uninterrupted_fit(tmp_path, digits, cancer, crash_after, restored, make, data, extra):
    X, y = digits if data == "digits" else cancer
    params = {**SMALL, **extra}
    path = tmp_path / "fit.ckpt"
    disarm = crash_after(4)
    with pytest.raises(Crash):
        quiet_fit(make(**params, checkpoint=path, checkpoint_every=3), X, y)
    disarm()
    assert read_checkpoint(path)["epoch"] == 3  # the last multiple of checkpoint_every
    resumed = quiet_fit(make(**params, checkpoint=str(path), checkpoint_every=3, verbose=True), X, y)
    assert restored == [3]
    assert_same_fit(resumed, quiet_fit(make(**params), X, y), X)


def test_own_module_resumes(tmp_path, cancer, crash_after, restored):
    X, y = cancer
    y = y.astype(float)

    def network(n_features, n_outputs):
        return torch.nn.Sequential(torch.nn.Linear(n_features, 8), torch.nn.Dropout(0.1), torch.nn.ReLU(),
                                   torch.nn.Linear(8, n_outputs))

    params = dict(module=network, batch_size=64, max_iter=8, precision="float64", random_state=0)
    path = tmp_path / "fit.ckpt"
    disarm = crash_after(5)
    with pytest.raises(Crash):
        quiet_fit(TorchRegressor(**params, checkpoint=path), X, y)
    disarm()
    resumed = quiet_fit(TorchRegressor(**params, checkpoint=path), X, y)
    assert restored == [5]
    reference = quiet_fit(TorchRegressor(**params), X, y)
    assert resumed.loss_curve_ == reference.loss_curve_
    np.testing.assert_array_equal(resumed.predict(X), reference.predict(X))


def test_random_state_none_resumes_with_the_same_split_and_random_draws(tmp_path, digits, crash_after):
    X, y = digits
    params = {**SMALL, "random_state": None, "early_stopping": True, "dropout": 0.1}
    path, copy = tmp_path / "fit.ckpt", tmp_path / "copy.ckpt"
    disarm = crash_after(3)
    with pytest.raises(Crash):
        quiet_fit(MLPClassifier(**params, checkpoint=path), X, y)
    disarm()
    shutil.copy(path, copy)
    scores = read_checkpoint(path)["callbacks"]["convergence"]["state"]["validation_scores"]
    first = quiet_fit(MLPClassifier(**params, checkpoint=path), X, y)
    second = quiet_fit(MLPClassifier(**params, checkpoint=copy), X, y)
    assert first.validation_scores_[:3] == scores
    assert_same_fit(second, first, X)


def test_a_write_interrupted_before_the_rename_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "fit.ckpt"
    write_checkpoint(path, {"epoch": 1, "weights": torch.zeros(3, dtype=torch.float64)})

    def killed(source, destination):
        assert Path(source).stat().st_size > 0  # the new state was written, under another name
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(path, {"epoch": 2, "weights": torch.ones(3, dtype=torch.float64)})
    monkeypatch.undo()
    saved = read_checkpoint(path)
    assert saved["epoch"] == 1
    assert torch.equal(saved["weights"], torch.zeros(3, dtype=torch.float64))
    assert os.listdir(tmp_path) == ["fit.ckpt"]  # no temporary file left behind


def test_checkpoint_round_trips_values_without_pickle(tmp_path):
    tree = {"ints": {0: (1, 2.5)}, "nan": float("nan"), "scalar": np.float32(0.1), "bf16": torch.ones(2).bfloat16(),
            "array": np.arange(3), "rows": [{"batches": [{"loss": 0.5}]}], "none": None}
    write_checkpoint(tmp_path / "c", tree)
    with np.load(tmp_path / "c", allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
    saved = read_checkpoint(tmp_path / "c")
    assert saved["ints"] == {0: (1, 2.5)} and np.isnan(saved["nan"]) and saved["none"] is None
    assert type(saved["scalar"]) is np.float32 and saved["scalar"] == np.float32(0.1)
    assert torch.equal(saved["bf16"], tree["bf16"]) and saved["bf16"].dtype == torch.bfloat16
    np.testing.assert_array_equal(saved["array"], tree["array"])
    assert saved["rows"] == tree["rows"]


@pytest.mark.parametrize("change, reason", [
    (lambda X, y: (MLPClassifier(**{**SMALL, "alpha": 0.1}), X, y),
     r"written by a fit with other values of \[.alpha.\]"),
    (lambda X, y: (MLPClassifier(**SMALL), X[:-1], y[:-1]), "written by a fit on other data"),
    (lambda X, y: (MLPRegressor(**SMALL), X, y.astype(float)), "written by a fit of skdeep._mlp.MLPClassifier"),
], ids=["parameters", "data", "estimator"])
def test_checkpoint_of_another_fit_is_ignored_with_a_warning(tmp_path, digits, crash_after, restored, change,
                                                             reason):
    X, y = digits
    path = tmp_path / "fit.ckpt"
    disarm = crash_after(2)
    with pytest.raises(Crash):
        quiet_fit(MLPClassifier(**SMALL, checkpoint=path), X, y)
    disarm()
    estimator, X_other, y_other = change(X, y)
    estimator.set_params(checkpoint=path)
    with pytest.warns(UserWarning, match=f"is ignored, and will be overwritten: it was {reason}"):
        fitted = quiet_fit(estimator, X_other, y_other)
    assert restored == []
    assert fitted.n_iter_ == SMALL["max_iter"]
    assert not path.exists()


def test_unreadable_file_is_ignored_with_a_warning(tmp_path, digits):
    X, y = digits
    path = tmp_path / "fit.ckpt"
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="cannot be read"):
        quiet_fit(MLPClassifier(**SMALL, checkpoint=path), X, y)
    assert not path.exists()


def test_checkpoint_is_written_during_fit_and_removed_after(tmp_path, digits, crash_after):
    X, y = digits
    path = tmp_path / "fit.ckpt"
    seen = []
    write = TrainingCheckpoint.on_epoch_end

    def record(self, net, **kwargs):
        write(self, net, **kwargs)
        seen.append(read_checkpoint(path)["epoch"] if path.exists() else None)

    TrainingCheckpoint.on_epoch_end = record
    try:
        quiet_fit(MLPClassifier(**{**SMALL, "max_iter": 5}, checkpoint=path, checkpoint_every=2), X, y)
    finally:
        TrainingCheckpoint.on_epoch_end = write
    assert seen == [None, 2, 2, 4, 4]
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_interrupted_fit_keeps_its_checkpoint(tmp_path, digits, monkeypatch):
    X, y = digits
    path = tmp_path / "fit.ckpt"
    write = TrainingCheckpoint.on_epoch_end

    def ctrl_c(self, net, **kwargs):
        write(self, net, **kwargs)
        if len(net.history) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(TrainingCheckpoint, "on_epoch_end", ctrl_c)
    clf = MLPClassifier(**SMALL, checkpoint=path)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert read_checkpoint(path)["epoch"] == 2


@pytest.mark.parametrize("params, match", [
    ({"checkpoint": 3}, "'checkpoint' parameter"),
    ({"checkpoint_every": 0}, "'checkpoint_every' parameter"),
])
def test_invalid_parameters_are_named(tmp_path, cancer, params, match):
    X, y = cancer
    with pytest.raises(InvalidParameterError, match=match):
        MLPClassifier(**params).fit(X, y)


@pytest.mark.parametrize("where, match", [("missing/fit.ckpt", "is in a folder that does not exist"),
                                          ("", "is a folder; name a file in it")])
def test_a_path_that_cannot_be_written_is_refused_before_training(tmp_path, cancer, monkeypatch, where, match):
    X, y = cancer
    monkeypatch.setattr(TrainingCheckpoint, "on_epoch_end", lambda *args, **kwargs: pytest.fail("trained"))
    clf = MLPClassifier(**SMALL, checkpoint=tmp_path / where)
    with pytest.raises(ValueError, match=f"checkpoint=.* {match}"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_lbfgs_partial_fit_and_warm_fits_refuse_a_checkpoint(tmp_path, cancer):
    X, y = cancer
    path = tmp_path / "fit.ckpt"
    with pytest.raises(ValueError, match="checkpoint=.* needs a stochastic solver"):
        MLPClassifier(solver="lbfgs", checkpoint=path).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support checkpoint"):
        MLPClassifier(checkpoint=path).partial_fit(X, y, classes=[0, 1])
    clf = quiet_fit(MLPClassifier(**{**SMALL, "max_iter": 2}, warm_start=True, checkpoint=path), X, y)
    with pytest.raises(ValueError, match="warm fit .* does not support checkpoint"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2  # the fitted model is kept
    assert not path.exists()


def test_a_fit_streamed_from_dask_resumes_by_the_arrays_name(tmp_path):
    da = pytest.importorskip("dask.array")
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)

    def blocks():
        return da.from_array(X, chunks=(100, 30)), da.from_array(y, chunks=100)

    path = tmp_path / "fit.ckpt"
    params = dict(hidden_layer_sizes=(8,), max_iter=4, random_state=0, precision="float64", checkpoint=path)
    first = MLPClassifier(**params)
    identity = fit_identity(first, BlockRows(blocks()[0].rechunk({1: -1})), y.astype(np.int64), np.ones(len(y)))
    again = fit_identity(first, BlockRows(blocks()[0].rechunk({1: -1})), y.astype(np.int64), np.ones(len(y)))
    assert identity == again  # the same data, built anew, has the same identity
    model = MLPClassifier(**params).fit(*blocks())
    assert not path.exists() and model.n_iter_ == 4
