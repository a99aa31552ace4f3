"""skorch callbacks that give skdeep's training scikit-learn's MLP behaviour, and the list a training call runs."""

import copy
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback, EpochTimer, PassthroughScoring
from tqdm.auto import tqdm

from skdeep._stopping import count_no_improvement, should_stop


def epoch_row(history):
    """The current epoch's row of a skorch history: its ``history[-1]``, without the generic indexing.

    skorch's ``History`` resolves every index through its column and batch
    syntax, copying the list of rows (a microsecond each, a dozen times per
    epoch); the row itself is the same dictionary.

    Examples
    --------
    >>> from skorch.history import History
    >>> from skdeep._callbacks import epoch_row
    >>> history = History([{"epoch": 1}, {"epoch": 2}])
    >>> epoch_row(history) is history[-1]
    True
    """
    return list.__getitem__(history, -1)


class RowEpochTimer(EpochTimer):
    """skorch's epoch timer, writing the epoch's duration into its row directly (see :func:`epoch_row`).

    skorch's records it through ``History.record``, whose generic indexing
    costs more than the timing itself; the ``dur`` value is the same.

    Examples
    --------
    >>> from skorch.history import History
    >>> from skdeep._callbacks import RowEpochTimer
    >>> class Net:
    ...     history = History([{"epoch": 1}])
    >>> timer = RowEpochTimer()
    >>> timer.on_epoch_begin(Net())
    >>> timer.on_epoch_end(Net())
    >>> sorted(Net.history[-1])
    ['dur', 'epoch']
    """

    def on_epoch_end(self, net, **kwargs):
        epoch_row(net.history)["dur"] = time.time() - self.epoch_start_time_


def _set_learning_rate(net, value, *, keep_velocity=False):
    """Set the optimizer's learning rate to ``value``.

    With ``keep_velocity``, SGD's momentum buffers are rescaled so that the
    velocity (the learning rate times the buffer) carries over, as in
    scikit-learn's SGD, whose velocity keeps the rates of the steps it
    accumulated when its rate changes; torch's multiplies the whole buffer by
    the new rate.
    """
    optimizer = net.optimizer_
    buffers = [state["momentum_buffer"] for state in optimizer.state.values()
               if state.get("momentum_buffer") is not None] if keep_velocity else []
    if buffers and isinstance(optimizer, torch.optim.SGD):  # (the rate is read only here: on a GPU, it syncs)
        old = _learning_rate(net)
        if old > 0 and value > 0 and value != old:  # (a rate that underflows to 0 moves nothing, whatever the buffers)
            torch._foreach_mul_(buffers, old / value)
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):  # a captured CUDA graph reads it from the device
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def _learning_rate(net):
    return float(net.optimizer_.param_groups[0]["lr"])


class LearningRateSchedule(Callback):
    """Set the learning rate after each epoch, and record it in the history.

    Parameters
    ----------
    schedule : {"constant", "invscaling", "adaptive"}
        ``"invscaling"`` is scikit-learn's ``lr_init / (t + 1) ** power_t``
        with ``t`` the number of samples seen, set after each epoch.
        ``"constant"`` and ``"adaptive"`` leave the rate alone here (the
        convergence monitor divides the adaptive rate).
    lr_init : float
    power_t : float
    samples_seen : int, default=0
        Samples seen by earlier calls (a warm start, earlier ``partial_fit``
        calls), from which ``"invscaling"`` counts on.

    See Also
    --------
    AnnealingSchedule : the schedules set at every batch.
    """

    def __init__(self, schedule, lr_init, power_t, samples_seen=0):
        self.schedule = schedule
        self.lr_init = lr_init
        self.power_t = power_t
        self.samples_seen = samples_seen

    def state_dict(self):
        """What a resumed fit needs of the schedule (see :mod:`skdeep._checkpoint`)."""
        return {"samples_seen": self.samples_seen}

    def load_state_dict(self, state):
        """Go on from ``state``, a :meth:`state_dict`."""
        self.samples_seen = state["samples_seen"]

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        self.samples_seen += len(dataset_train)
        epoch_row(net.history)["learning_rate"] = _learning_rate(net)
        if self.schedule == "invscaling":
            _set_learning_rate(net, self.lr_init / (self.samples_seen + 1) ** self.power_t, keep_velocity=True)


class AnnealingSchedule(Callback):
    """Set the learning rate at every batch, by a cosine or one-cycle schedule.

    The schedule spans ``total_samples`` training samples (``max_iter``
    epochs): ``"cosine"`` anneals from ``lr_init`` towards 0;
    ``"onecycle"`` warms up from ``lr_init / 25`` to ``lr_init`` over the
    first 30%, then anneals to ``lr_init / 25e4``, as
    :class:`torch.optim.lr_scheduler.OneCycleLR` does. Only these schedules
    listen to every batch; the others cost nothing per step.

    Parameters
    ----------
    schedule : {"cosine", "onecycle"}
    lr_init : float
    total_samples : int
        Number of training samples the schedule spans.
    samples_seen : int, default=0
        Samples the schedule has already gone through (earlier ``partial_fit``
        calls).
    """

    def __init__(self, schedule, lr_init, total_samples, samples_seen=0):
        self.schedule = schedule
        self.lr_init = lr_init
        self.total_samples = total_samples
        self.samples_seen = samples_seen

    def learning_rate(self):
        """The rate after ``samples_seen`` of the schedule's ``total_samples``."""
        progress = min(self.samples_seen / max(self.total_samples, 1), 1.0)
        if self.schedule == "cosine":
            return self.lr_init * 0.5 * (1.0 + math.cos(math.pi * progress))
        start, end, warmup = self.lr_init / 25.0, self.lr_init / 25e4, 0.3
        if progress < warmup:
            low, high, phase = start, self.lr_init, progress / warmup
        else:
            low, high, phase = self.lr_init, end, (progress - warmup) / (1.0 - warmup)
        return high + (low - high) * 0.5 * (1.0 + math.cos(math.pi * phase))

    state_dict = LearningRateSchedule.state_dict
    load_state_dict = LearningRateSchedule.load_state_dict

    def on_train_begin(self, net, **kwargs):
        _set_learning_rate(net, self.learning_rate())

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.samples_seen += len(batch[0])
            _set_learning_rate(net, self.learning_rate())

    def on_epoch_end(self, net, **kwargs):
        epoch_row(net.history)["learning_rate"] = _learning_rate(net)


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch.

    skorch's own signal is ``KeyboardInterrupt``, which its fit loop swallows;
    :meth:`skdeep._net.SkdeepNet.train_epochs` catches this one instead, so
    that a user's Ctrl+C always reaches the caller.
    """


DIVERGED = ("Solver produced non-finite parameter weights. The input data may contain "
            "large values and need to be preprocessed.")


def divergence_advice(net, solver, *, first_batch=False):
    """What to change when training with ``solver`` on ``net`` diverged.

    With ``first_batch``, the loss was not finite from the call's first
    batch, before any step: the cause is the data or the module, not the
    learning rate.
    """
    scale = "scale the features (for example with sklearn.preprocessing.StandardScaler)"
    if first_batch:
        return ("The loss was not finite from the first batch on, before any training step, so the learning rate "
                f"is not the cause: check X and y for extreme values ({scale}) and, if the network is your own "
                "module, its forward pass for operations that give NaN or inf.")
    if solver == "lbfgs":
        return f"Try to {scale}, or precision='float64'."
    return (f"Lower the learning rate (learning_rate_init; currently {_learning_rate(net):g}) or {scale}. "
            "If the network is your own module, check that its output is finite.")


def first_batch_diverged(net, epochs_before, solver):
    """Whether the loss of the first training step after the net's first ``epochs_before`` epochs was not finite.

    LBFGS's one step runs a line search, whose first trial says nothing on
    its own: False for it.
    """
    if solver == "lbfgs" or len(net.history) <= epochs_before:
        return False
    return not math.isfinite(net.history[epochs_before]["batches"][0]["train_loss"])


def check_finite_weights(net, solver, epochs_before=0):
    """Raise scikit-learn's error if the trained weights are not all finite.

    Parameters
    ----------
    net : skdeep._net.SkdeepNet
        The trained net.
    solver : str
        The estimator's solver, named in the advice.
    epochs_before : int, default=0
        The net's epochs before this training call.
    """
    finite = torch.stack([p.detach().isfinite().all() for p in net.module_.parameters()]).all()
    if not bool(finite):
        first_batch = first_batch_diverged(net, epochs_before, solver)
        raise ValueError(f"{DIVERGED} {divergence_advice(net, solver, first_batch=first_batch)}")


def check_finite_outputs(net, finite, dtype, solver):
    """Raise scikit-learn's error if the trained network's outputs on its training rows are not finite in ``dtype``.

    Parameters
    ----------
    net : skdeep._net.SkdeepNet
        The trained net.
    finite : ndarray of bool of shape (n_samples,)
        Whether the outputs on each training row are finite in ``dtype``.
    dtype : numpy.dtype
        The dtype of predictions.
    solver : str
        The estimator's solver, named in the advice.
    """
    if finite.all():
        return
    raise ValueError(
        f"{DIVERGED} The trained network's predictions for {int((~finite).sum())} of its {len(finite)} training "
        f"samples are not finite in {np.dtype(dtype).name} (NaN, or beyond its range), the dtype of its "
        f"predictions (that of X). {divergence_advice(net, solver)}"
    )


class DivergenceCheck(Callback):
    """Stop a training whose loss has become non-finite.

    One non-finite batch makes the epoch's mean loss non-finite, so checking
    once per epoch catches every divergence without a per-batch cost (the
    estimator checks the weights once more at the end). Without early
    stopping this raises scikit-learn's error, with advice that fits the
    solver; with early stopping it warns and stops, and the monitor restores
    the best epoch's weights (scikit-learn records NaN validation scores and
    keeps the best weights too). A loss that is not finite from the call's
    first batch on raises in every case, with advice on the data and the
    module: no step has been taken, and there are no weights to restore.

    Parameters
    ----------
    solver : str
        The estimator's solver, named in the advice.
    early_stopping : bool
        Whether the best epoch's weights will be restored.
    """

    def __init__(self, solver, early_stopping):
        self.solver = solver
        self.early_stopping = early_stopping
        self._epochs_before = 0

    def on_train_begin(self, net, **kwargs):
        self._epochs_before = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        loss = epoch_row(net.history)["train_loss"]
        if math.isfinite(loss):
            return
        where = f"The training loss became {loss} in epoch {len(net.history)}."
        first_batch = first_batch_diverged(net, self._epochs_before, self.solver)
        if first_batch or not self.early_stopping:
            raise ValueError(f"{DIVERGED} {where} {divergence_advice(net, self.solver, first_batch=first_batch)}")
        warnings.warn(
            f"Training diverged: {where} Training stopped and the weights of the epoch with the best "
            f"validation score were restored. {divergence_advice(net, self.solver)}",
            ConvergenceWarning,
        )
        raise StopTraining


@dataclass
class StoppingProgress:
    """Where scikit-learn's stopping rule stands: kept by the estimator between calls."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = -math.inf
    no_improvement_count: int = 0


class ConvergenceMonitor(Callback):
    """scikit-learn's stopping rules for stochastic solvers.

    After each epoch, the monitor records the loss (the data loss plus the
    penalty) and, when a validation set is given, the validation score;
    counts the epochs without an improvement of at least ``tol``
    (:func:`skdeep._stopping.count_no_improvement`), and stops training after
    more than ``n_iter_no_change`` of them; with ``"adaptive"`` learning rates
    it first divides the rate by 5, as long as the rate stays above 1e-6.
    With a validation set the weights of the best-scoring epoch are restored
    at the end of training.

    Parameters
    ----------
    tol : float
    n_iter_no_change : int
    adaptive : bool
        Whether the learning rate is scikit-learn's ``"adaptive"`` schedule.
    penalty : skdeep._penalty.WeightPenalty
        The penalty added to the reported loss, as scikit-learn's ``loss_``
        includes it.
    verbose : bool
        Print scikit-learn's progress lines.
    progress : StoppingProgress
        The curves and counts so far; updated in place.
    validation : tuple (dataset, score) or None, default=None
        Score each epoch with ``score(net, dataset)``; dropped at the end of
        training, so that the net keeps no data.

    Attributes
    ----------
    known_penalty : float or None
        The penalty's value at the weights of the epoch about to end, where
        the trainer computed it already (a stacked search's pack computes all
        its members' at once); taken at that epoch's end. None: the monitor
        computes it from the net's ``penalised_weights``.
    """

    def __init__(self, tol, n_iter_no_change, adaptive, penalty, verbose, progress, validation=None):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.adaptive = adaptive
        self.penalty = penalty
        self.verbose = verbose
        self.progress = progress
        self.validation = validation
        self.n_iter = 0
        self.stopped = False
        self.known_penalty = None
        self._best_weights = None

    def state_dict(self):
        """What a resumed fit needs of the monitor: count, curves, best weights (see :mod:`skdeep._checkpoint`)."""
        return {"n_iter": self.n_iter, "state": vars(self.progress), "best_weights": self._best_weights}

    def load_state_dict(self, state):
        """Go on from ``state``, a :meth:`state_dict` (the shared :class:`StoppingProgress` is updated in place)."""
        self.n_iter = state["n_iter"]
        vars(self.progress).update(state["state"])
        self._best_weights = state["best_weights"]

    def on_epoch_end(self, net, **kwargs):
        progress = self.progress
        self.n_iter += 1
        known, self.known_penalty = self.known_penalty, None
        loss = epoch_row(net.history)["train_loss"] + (self.penalty.value(net.penalised_weights) if known is None
                                                        else known)
        progress.loss_curve.append(loss)
        epoch_row(net.history)["loss"] = loss
        if self.verbose:
            tqdm.write(f"Iteration {self.n_iter}, loss = {loss:.8f}")
        if self.validation is None:
            progress.no_improvement_count, progress.best_loss = count_no_improvement(
                progress.no_improvement_count, progress.best_loss, loss, self.tol, greater_is_better=False)
            what = "Training loss"
        else:
            dataset, score = self.validation
            value = score(net, dataset)
            progress.validation_scores.append(value)
            epoch_row(net.history)["validation_score"] = value
            if self.verbose:
                tqdm.write(f"Validation score: {value:f}")
            best_before = progress.best_validation_score
            progress.no_improvement_count, progress.best_validation_score = count_no_improvement(
                progress.no_improvement_count, best_before, value, self.tol, greater_is_better=True)
            if progress.best_validation_score != best_before:
                self._best_weights = {key: tensor.detach().clone()
                                      for key, tensor in net.module_.state_dict().items()}
            what = "Validation score"
        if not should_stop(progress.no_improvement_count, self.n_iter_no_change):
            return
        if self.adaptive and _learning_rate(net) > 1e-6:
            _set_learning_rate(net, _learning_rate(net) / 5.0, keep_velocity=True)
            progress.no_improvement_count = 0
            if self.verbose:
                tqdm.write(f"Setting learning rate to {_learning_rate(net):f}")
            return
        if self.verbose:
            tqdm.write(f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs. Stopping.")
        self.stopped = True
        raise StopTraining

    def on_train_end(self, net, **kwargs):
        if self._best_weights is not None:
            net.module_.load_state_dict(self._best_weights)
        # Drop references to data and weight copies, so that a pickled
        # estimator holds no training data and no device tensors.
        self._best_weights = None
        self.validation = None


class EpochProgressBar(Callback):
    """A progress bar over the epochs, showing the running loss (``verbose >= 2``).

    It advances once per epoch, so it costs nothing per batch; its postfix shows
    the last epoch's loss, and its validation score with early stopping.

    Parameters
    ----------
    total : int
        Number of epochs the bar counts to.
    """

    def __init__(self, total):
        self.total = total
        self._bar = None

    def on_train_begin(self, net, **kwargs):
        self._bar = tqdm(total=self.total, unit="epoch", leave=True)

    def on_epoch_end(self, net, **kwargs):
        row = epoch_row(net.history)
        postfix = {"loss": f"{row.get('loss', row['train_loss']):.4g}"}
        if "validation_score" in row:
            postfix["validation"] = f"{row['validation_score']:.4g}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)

    def on_train_end(self, net, **kwargs):
        self._bar.close()
        self._bar = None


class SklearnCallbackBridge(Callback):
    """Report each epoch to scikit-learn's callbacks (``sklearn.callback``, >= 1.9).

    Each epoch is a subtask of the fit's callback context; a callback sees the
    network as trained so far (``fitted_estimator``) and can ask training to
    stop. :meth:`reporting` opens the fit's task for one training call and
    closes it after, so that no context is pickled with the model.
    """

    def __init__(self):
        self.context = None
        self.estimator = None
        self._epoch = None

    def __getstate__(self):
        # a net pickled mid-fit (skorch's Checkpoint with f_pickle) holds no estimator and no fit's context
        return {**vars(self), "context": None, "estimator": None, "_epoch": None}

    @contextmanager
    def reporting(self, estimator, net, epochs, X, y):
        """Report the epochs that ``net`` trains inside this block to ``estimator``'s scikit-learn callbacks.

        The fit's task ends once training has ended without an error; before
        scikit-learn 1.9, which has no callbacks, nothing is reported.
        """
        context = None
        if hasattr(estimator, "_init_callback_context"):
            context = estimator._init_callback_context(max_subtasks=epochs)
            context.call_on_fit_task_begin(estimator=estimator, X=X, y=y)
        self.context, self.estimator = context, estimator
        try:
            yield
        finally:
            self.context = self.estimator = None
        if context is not None:
            context.call_on_fit_task_end(estimator=estimator, X=X, y=y, reconstruction_attributes=lambda: {"net_": net})

    def on_epoch_begin(self, net, **kwargs):
        if self.context is not None:
            self._epoch = self.context.subcontext(task_name="epoch")
            self._epoch.call_on_fit_task_begin(estimator=self.estimator)

    def on_epoch_end(self, net, **kwargs):
        if self._epoch is not None and self._end_epoch(net):
            raise StopTraining  # a callback asked to stop

    def on_train_end(self, net, **kwargs):
        if self._epoch is not None:  # another callback stopped training mid-epoch-end
            self._end_epoch(net)

    def _end_epoch(self, net):
        epoch, self._epoch = self._epoch, None
        return epoch.call_on_fit_task_end(
            estimator=self.estimator, reconstruction_attributes=lambda: {"net_": net})


#: the names of skdeep's own callbacks, which the user's cannot take
OWN_NAMES = ("epoch_timer", "learning_rate", "convergence", "divergence", "checkpoint", "progress",
             "sklearn_callbacks", "train_loss", "valid_loss")


#: the history keys of skdeep's own, which a callback of the user's must not record
OWN_RECORDS = ("epoch", "loss", "train_loss", "valid_loss", "validation_score", "learning_rate", "dur")


def user_callbacks(callbacks):
    """The ``callbacks`` parameter checked: skorch callbacks (instances or classes) or ``(name, callback)`` pairs.

    Examples
    --------
    >>> from skorch.callbacks import EpochScoring
    >>> from skdeep._callbacks import user_callbacks
    >>> [name for name, _ in user_callbacks([("accuracy", EpochScoring("accuracy"))])]
    ['accuracy']
    """
    checked = []
    for item in callbacks or []:
        named = isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
        callback = item[1] if named else item
        if not (isinstance(callback, Callback) or (isinstance(callback, type) and issubclass(callback, Callback))):
            raise TypeError("The 'callbacks' parameter takes skorch callbacks (skorch.callbacks.Callback instances or "
                            f"classes) or (name, callback) pairs; got {item!r}.")
        if named and item[0] in OWN_NAMES:
            raise ValueError(f"The callback name {item[0]!r} is one of skdeep's own callbacks {OWN_NAMES}: "
                             "name yours otherwise.")
        records = getattr(callback, "name", None)
        if records in OWN_RECORDS:
            raise ValueError(f"A callback of 'callbacks' records {records!r}, which skdeep's history holds already "
                             f"(its own records are {OWN_RECORDS}): give it another name.")
        checked.append(tuple(item) if named else item)
    return checked


def _running_copy(item):
    """A shallow copy of a callback of the user's (classes as they are): what runs, and keeps its state, in a fit.

    The user's objects stay as given, as scikit-learn's parameters must: the
    ``callbacks__`` arguments and the state of training (a scheduler and
    its optimizer, say) go to the copy, which ``net_.callbacks_`` holds.
    """
    if isinstance(item, tuple):
        return item[0], _running_copy(item[1])
    return item if isinstance(item, type) else copy.copy(item)


def training_callbacks(plan, *, penalty, progress, validation=None, checkpoint=None):
    """The callbacks of one training call, in the order they run at each epoch end.

    skdeep's own come first, then, where the user gave callbacks, skorch's
    ``train_loss`` and ``valid_loss`` scoring (they record
    ``train_loss_best`` and ``valid_loss_best``, which skorch's callbacks
    may monitor; the net runs skorch's validation epoch on early stopping's
    validation set for them) and the user's.

    Parameters
    ----------
    plan : skdeep._plan.TrainingPlan
        The call's schedule, stopping rule, epochs and verbosity.
    penalty : skdeep._penalty.WeightPenalty
        Added to the loss that the stopping rule reports.
    progress : StoppingProgress
        Where the stopping rule stands; updated in place.
    validation : tuple (dataset, score) or None, default=None
        The validation set and its scoring function, with early stopping.
    checkpoint : skdeep._checkpoint.TrainingCheckpoint or None, default=None
        Writes the training state, after the stopping rule and the divergence
        check: a whole, finite epoch.

    Returns
    -------
    callbacks : list of (str, skorch.callbacks.Callback)
    """
    callbacks = []
    if plan.stochastic:
        if plan.schedule in ("cosine", "onecycle"):
            schedule = AnnealingSchedule(plan.schedule, plan.net.lr, total_samples=plan.schedule_samples,
                                         samples_seen=plan.schedule_samples_seen)
        else:
            schedule = LearningRateSchedule(plan.schedule, plan.net.lr, plan.power_t,
                                            samples_seen=plan.schedule_samples_seen)
        monitor = ConvergenceMonitor(plan.tol, plan.n_iter_no_change, plan.schedule == "adaptive", penalty,
                                     bool(plan.verbose), progress, validation)
        callbacks += [("learning_rate", schedule), ("convergence", monitor)]
    callbacks.append(("divergence", DivergenceCheck(plan.solver, early_stopping=plan.early_stopping)))
    if checkpoint is not None:
        callbacks.append(("checkpoint", checkpoint))
    if plan.verbose >= 2:
        callbacks.append(("progress", EpochProgressBar(plan.epochs)))
    callbacks.append(("sklearn_callbacks", SklearnCallbackBridge()))
    if plan.callbacks:
        callbacks.append(("train_loss", PassthroughScoring(name="train_loss", on_train=True)))
        if plan.early_stopping:
            callbacks.append(("valid_loss", PassthroughScoring(name="valid_loss")))
    return callbacks + [_running_copy(item) for item in plan.callbacks]
