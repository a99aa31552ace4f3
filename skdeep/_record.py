"""What a training call leaves on the estimator: scikit-learn's fitted attributes, and where the next call goes on.

After training, :func:`record_training` sets scikit-learn's MLP attributes
(``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ``best_loss_``,
``validation_scores_``, ``best_validation_score_``) and skdeep's
``history_`` from the net and the stopping rule's progress, and warns as
scikit-learn does when a fit did not converge. Before training,
:func:`stopping_progress` reads them back: a warm fit and ``partial_fit``
go on from them, as scikit-learn's do.
"""

import itertools
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from skdeep._callbacks import StoppingProgress

#: skorch's history keys -> the columns of ``history_``
_HISTORY_COLUMNS = {
    "epoch": "epoch",
    "loss": "loss",
    "train_loss": "train_loss",
    "validation_score": "validation_score",
    "learning_rate": "learning_rate",
    "dur": "duration",
}


def stopping_progress(estimator, plan, call):
    """Where the stopping rule of ``plan`` goes on from: a new start, or the fitted estimator's curves and counts.

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
    plan : skdeep._plan.TrainingPlan
    call : skdeep._plan.TrainingCall

    Returns
    -------
    progress : skdeep._callbacks.StoppingProgress
    """
    if not call.continues or not plan.stochastic:
        return StoppingProgress()
    best_loss = getattr(estimator, "best_loss_", None)  # (after lbfgs, none of these exists yet)
    best_score = getattr(estimator, "best_validation_score_", None)
    return StoppingProgress(
        loss_curve=list(getattr(estimator, "loss_curve_", [])),
        validation_scores=list(getattr(estimator, "validation_scores_", None) or []),
        best_loss=np.inf if best_loss is None else best_loss,
        best_validation_score=-np.inf if best_score is None else best_score,
        no_improvement_count=getattr(estimator, "_no_improvement_count", 0),
    )


def record_training(estimator, net, plan, progress, call, epochs_before):
    """Set ``estimator``'s fitted attributes from a trained ``net``.

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
    net : skdeep._net.SkdeepNet
        The trained net, which becomes ``net_``.
    plan : skdeep._plan.TrainingPlan
    progress : skdeep._callbacks.StoppingProgress
        The stopping rule's curves and counts after training.
    call : skdeep._plan.TrainingCall
    epochs_before : int
        The net's epochs before this call.
    """
    estimator.net_ = net
    epochs = len(net.history) - epochs_before
    # scikit-learn's count of the samples seen
    estimator.t_ = (estimator.t_ if call.continues else 0) + (epochs * plan.n_train if plan.stochastic else 0)
    estimator.history_ = history_frame(net.history)
    if not plan.stochastic:  # lbfgs: one call of the optimizer runs all its iterations
        _record_lbfgs(estimator, net, plan)
        return
    estimator.n_iter_ = epochs
    estimator.loss_curve_ = list(progress.loss_curve)
    estimator.loss_ = estimator.loss_curve_[-1]
    estimator._no_improvement_count = progress.no_improvement_count
    if plan.early_stopping:
        estimator.validation_scores_ = list(progress.validation_scores)
        estimator.best_validation_score_ = progress.best_validation_score
        estimator.best_loss_ = None
    else:
        estimator.validation_scores_ = estimator.best_validation_score_ = None
        estimator.best_loss_ = progress.best_loss
    stopped = dict(net.callbacks_)["convergence"].stopped
    if not call.incremental and not stopped and epochs == plan.epochs:
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({plan.epochs}) reached and "
            "the optimization hasn't converged yet.",
            ConvergenceWarning,
        )


def _record_lbfgs(estimator, net, plan):
    result = net.optimizer_.result
    estimator.n_iter_ = result["n_iter"]
    penalty = net.penalty.value(net.penalty.weights(net.module_))
    estimator.loss_ = estimator.best_loss_ = float(net.history[-1]["train_loss"]) + penalty
    if result["status"] != 0:  # as scikit-learn's warning
        max_iter = plan.net.optimizer_options["max_iter"]
        advice = (f" Increase the number of iterations (max_iter={max_iter}) or scale the data."
                  if estimator.n_iter_ == max_iter else "")
        warnings.warn(
            f"lbfgs failed to converge after {estimator.n_iter_} iteration(s) (status={result['status']}):\n"
            f"{result['message']}\n{advice}",
            ConvergenceWarning,
        )


def history_frame(history):
    """One row per epoch of a skorch history, as a :class:`pandas.DataFrame`.

    skdeep's records come first, under scikit-learn's names, then any
    other value a callback recorded, under its own name.

    Examples
    --------
    >>> from skorch.history import History
    >>> from skdeep._record import history_frame
    >>> history_frame(History([{"epoch": 1, "train_loss": 0.5, "dur": 0.01}])).columns.tolist()
    ['epoch', 'train_loss', 'duration']
    """
    # then what the user's callbacks recorded (scores, learning rates), in the order they appeared
    recorded = [key for key in dict.fromkeys(itertools.chain.from_iterable(history))
                if key not in _HISTORY_COLUMNS and key != "batches" and not key.endswith("_batch_count")]
    columns = {**_HISTORY_COLUMNS, **{key: key for key in recorded}}
    # built by columns (faster than by rows), without those that hold no value
    values = {new: [row.get(old) for row in history] for old, new in columns.items()}
    kept = {name: column for name, column in values.items() if not all(_missing(value) for value in column)}
    return pd.DataFrame(kept) if kept else pd.DataFrame(columns=[])


def _missing(value):
    """Whether a history value is missing, as :meth:`pandas.DataFrame.dropna` sees a cell: None, NaN or NA.

    A callback may record arrays or tensors, which are values, whatever they hold.
    """
    if value is None:
        return True
    if type(value) is float:
        return value != value
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))
