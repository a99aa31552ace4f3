"""skorch callbacks that give skdeep's training scikit-learn's MLP behaviour."""

import math

import torch
from skorch.callbacks import Callback
from tqdm.auto import tqdm


def _set_learning_rate(net, value):
    for group in net.optimizer_.param_groups:
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
        Samples seen by earlier fits (a warm start), from which ``"invscaling"``
        counts on.

    See Also
    --------
    AnnealingSchedule : the schedules set at every batch.
    """

    def __init__(self, schedule, lr_init, power_t, samples_seen=0):
        self.schedule = schedule
        self.lr_init = lr_init
        self.power_t = power_t
        self.samples_seen = samples_seen

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        self.samples_seen += len(dataset_train)
        net.history.record("learning_rate", _learning_rate(net))
        if self.schedule == "invscaling":
            _set_learning_rate(net, self.lr_init / (self.samples_seen + 1) ** self.power_t)


class AnnealingSchedule(LearningRateSchedule):
    """Set the learning rate at every batch, by a cosine or one-cycle schedule.

    ``"cosine"`` anneals from ``lr_init`` towards 0 over ``total_steps``
    batches; ``"onecycle"`` warms up from ``lr_init / 25`` to ``lr_init`` over
    the first 30% of the steps, then anneals to ``lr_init / 25e4``, as
    :class:`torch.optim.lr_scheduler.OneCycleLR` does. Only these schedules
    listen to every batch; the others cost nothing per step.

    Parameters
    ----------
    schedule : {"cosine", "onecycle"}
    lr_init : float
    total_steps : int
        Number of batches the schedule spans.
    """

    def __init__(self, schedule, lr_init, total_steps):
        super().__init__(schedule, lr_init, power_t=None)
        self.total_steps = total_steps
        self.step = 0

    def _by_step(self):
        progress = min(self.step / max(self.total_steps, 1), 1.0)
        if self.schedule == "cosine":
            return self.lr_init * 0.5 * (1.0 + math.cos(math.pi * progress))
        start, end, warmup = self.lr_init / 25.0, self.lr_init / 25e4, 0.3
        if progress < warmup:
            low, high, phase = start, self.lr_init, progress / warmup
        else:
            low, high, phase = self.lr_init, end, (progress - warmup) / (1.0 - warmup)
        return high + (low - high) * 0.5 * (1.0 + math.cos(math.pi * phase))

    def on_train_begin(self, net, **kwargs):
        _set_learning_rate(net, self._by_step())

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.step += 1
            _set_learning_rate(net, self._by_step())


class DivergenceCheck(Callback):
    """Stop training with a clear error after an epoch whose loss is not finite.

    One non-finite batch makes the epoch's mean loss non-finite, so checking
    once per epoch catches every divergence without a per-batch cost.
    """

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1]["train_loss"]
        if not math.isfinite(loss):
            raise ValueError(
                f"Training diverged: the training loss became {loss} in epoch "
                f"{len(net.history)}. The learning rate (currently "
                f"{_learning_rate(net):g}; set by learning_rate_init) is probably too "
                "high for this data: lower it, or scale the features (for example "
                "with sklearn.preprocessing.StandardScaler)."
            )


class ConvergenceMonitor(Callback):
    """scikit-learn's stopping rules for stochastic solvers.

    After each epoch, the monitor records the loss (and, when a validation
    set is given, the validation score), counts the epochs without an
    improvement of at least ``tol``, and stops training after more than
    ``n_iter_no_change`` of them; with ``"adaptive"`` learning rates it first
    divides the rate by 5, as long as the rate stays above 1e-6. With a
    validation set the weights of the best-scoring epoch are restored at the
    end of training.

    Its state lives on across ``partial_fit`` calls, and :meth:`resume` carries
    it over to the monitor of a warm-started ``fit``.

    Parameters
    ----------
    tol : float
    n_iter_no_change : int
    adaptive : bool
        Whether the learning rate is scikit-learn's ``"adaptive"`` schedule.
    penalty : callable
        ``penalty(net)`` returns the regularisation term added to the
        reported loss, as scikit-learn's ``loss_`` includes it.
    verbose : bool
        Print scikit-learn's progress lines.
    """

    def __init__(self, tol, n_iter_no_change, adaptive, penalty, verbose):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.adaptive = adaptive
        self.penalty = penalty
        self.verbose = verbose
        self.loss_curve = []
        self.validation_scores = []
        self.best_loss = math.inf
        self.best_validation_score = -math.inf
        self.no_improvement_count = 0
        self.stopped = False
        self._validation = None
        self._best_state = None

    def set_validation(self, dataset, score):
        """Score each epoch with ``score(net, dataset)`` (None: no validation)."""
        self._validation = None if dataset is None else (dataset, score)

    def resume(self, previous):
        """Go on from ``previous``'s curves and counts (a warm-started fit)."""
        self.loss_curve = list(previous.loss_curve)
        self.validation_scores = list(previous.validation_scores)
        self.best_loss = previous.best_loss
        self.best_validation_score = previous.best_validation_score
        self.no_improvement_count = previous.no_improvement_count

    def on_train_begin(self, net, **kwargs):
        self.stopped = False

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1]["train_loss"] + self.penalty(net)
        self.loss_curve.append(loss)
        net.history.record("loss", loss)
        if self.verbose:
            print(f"Iteration {len(self.loss_curve)}, loss = {loss:.8f}")
        if self._validation is None:
            improved = loss < self.best_loss - self.tol
            self.best_loss = min(self.best_loss, loss)
            what = "Training loss"
        else:
            dataset, score = self._validation
            value = score(net, dataset)
            self.validation_scores.append(value)
            net.history.record("validation_score", value)
            if self.verbose:
                print(f"Validation score: {value:f}")
            improved = value > self.best_validation_score + self.tol
            if value > self.best_validation_score:
                self.best_validation_score = value
                self._best_state = {
                    key: tensor.detach().clone()
                    for key, tensor in net.module_.state_dict().items()
                }
            what = "Validation score"
        self.no_improvement_count = 0 if improved else self.no_improvement_count + 1
        if self.no_improvement_count <= self.n_iter_no_change:
            return
        if self.adaptive and _learning_rate(net) > 1e-6:
            _set_learning_rate(net, _learning_rate(net) / 5.0)
            self.no_improvement_count = 0
            if self.verbose:
                print(f"Setting learning rate to {_learning_rate(net):f}")
            return
        if self.verbose:
            print(
                f"{what} did not improve more than tol={self.tol:f} for "
                f"{self.n_iter_no_change} consecutive epochs. Stopping."
            )
        self.stopped = True
        raise KeyboardInterrupt  # skorch's documented way for a callback to stop fit

    def on_train_end(self, net, **kwargs):
        if self._best_state is not None:
            net.module_.load_state_dict(self._best_state)
        # Drop references to data and weight copies, so that a pickled
        # estimator holds no training data and no device tensors.
        self._best_state = None
        self._validation = None


class EpochProgressBar(Callback):
    """A progress bar over the epochs, showing the running loss (``verbose >= 2``).

    It advances once per epoch, so it costs nothing per batch; its postfix shows
    the last epoch's loss, and its validation score with early stopping.
    """

    def __init__(self):
        self.total = None
        self._bar = None

    def on_train_begin(self, net, **kwargs):
        self._bar = tqdm(total=self.total, unit="epoch", leave=True)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
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
    stop. The estimator sets ``context`` and ``estimator`` for one fit and
    clears them after, so that no context is pickled with the model.
    """

    def __init__(self):
        self.context = None
        self.estimator = None
        self._epoch = None

    def on_epoch_begin(self, net, **kwargs):
        if self.context is not None:
            self._epoch = self.context.subcontext(task_name="epoch")
            self._epoch.call_on_fit_task_begin(estimator=self.estimator)

    def on_epoch_end(self, net, **kwargs):
        if self._epoch is not None and self._end_epoch(net):
            raise KeyboardInterrupt  # a callback asked to stop

    def on_train_end(self, net, **kwargs):
        if self._epoch is not None:  # another callback stopped training mid-epoch-end
            self._end_epoch(net)

    def _end_epoch(self, net):
        epoch, self._epoch = self._epoch, None
        return epoch.call_on_fit_task_end(
            estimator=self.estimator, reconstruction_attributes=lambda: {"net_": net})


class LastStepAccumulator:
    """Keep the last loss of an optimizer step (LBFGS evaluates many)."""

    def __init__(self):
        self.step = None

    def store_step(self, step):
        self.step = step

    def get_step(self):
        return self.step


@torch.no_grad()
def weight_penalty(module, l1, l2):
    """Return ``l1 * sum |w| + l2 / 2 * sum w**2`` over the weight matrices of ``module``."""
    if not (l1 or l2):
        return 0.0
    weights = torch.cat([p.reshape(-1) for p in module.parameters() if p.ndim > 1])
    penalty = 0.0
    if l1:
        penalty += l1 * float(weights.abs().sum())
    if l2:
        penalty += 0.5 * l2 * float(torch.dot(weights, weights))
    return penalty
