"""The training configuration: what an estimator's parameters mean for one training call.

:func:`training_config` is the one place that turns an estimator's
parameters into the settings of a training call: the batch size, the
penalty, the optimizer, the learning-rate schedule, the stopping rule, the
precision and the CUDA-graph mode. The estimator calls it at every ``fit``
and ``partial_fit`` call, as scikit-learn re-reads its parameters at every
call, so a ``set_params`` between calls takes effect.
"""

import warnings
from dataclasses import dataclass
from functools import partial

import torch

from skdeep._callbacks import (
    AnnealingSchedule,
    ConvergenceMonitor,
    DivergenceCheck,
    EpochProgressBar,
    LearningRateSchedule,
    SklearnCallbackBridge,
)
from skdeep._cuda_graph import cuda_graph_mode
from skdeep._optim import OPTIMIZERS
from skdeep._penalty import WeightPenalty

STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
#: precision -> (dtype of the weights and data, autocast dtype of the forward pass or None)
PRECISIONS = {
    "float32": (torch.float32, None),
    "float64": (torch.float64, None),
    "bfloat16": (torch.float32, torch.bfloat16),
    "float16": (torch.float32, torch.float16),
}
#: device types on which torch has a fused kernel for each solver's step
_FUSED_ON = {"sgd": ("cpu", "cuda"), "adam": ("cpu", "cuda"), "adamw": ("cpu", "cuda"), "adagrad": ("cpu",)}

@dataclass
class TrainingConfig:
    """The settings of one training call, built by :func:`training_config`.

    Attributes
    ----------
    batch_size : int
        Rows per training batch.
    epochs : int
        Epochs this call runs at most (1 for ``partial_fit`` and LBFGS, whose
        one step runs all its iterations).
    shuffle : bool
        Reshuffle the rows at each epoch.
    penalty : skdeep._penalty.WeightPenalty
        The L1 and L2 penalties (AdamW's decoupled decay lives in its optimizer).
    optimizer : callable
        Builds the optimizer from skorch's parameter groups.
    optimizer_class : type
        The class of the optimizer it builds.
    decoupled_weight_decay : float or None
        AdamW's weight decay (``alpha``), which lives in its optimizer.
    lr : float
        The optimizer's initial learning rate.
    callbacks : list of (str, skorch.callbacks.Callback)
        The schedule, stopping rule, divergence check, checkpoint, progress
        bar and scikit-learn callback bridge of this call.
    autocast : torch.dtype or None
        The dtype of mixed-precision forward passes.
    cuda_graph : bool or "auto"
        Whether training steps are captured as CUDA graphs (see :mod:`skdeep._cuda_graph`).
    data_parallel : skdeep._distributed.DataParallel or None
        This process's part in data-parallel training, inside a
        torch.distributed process group (stochastic solvers only).
    """

    batch_size: int
    epochs: int
    shuffle: bool
    penalty: WeightPenalty
    optimizer: object
    optimizer_class: type
    decoupled_weight_decay: object
    lr: float
    callbacks: list
    autocast: object
    cuda_graph: object
    data_parallel: object = None


def training_config(estimator, *, n_train, mean_weight, device, incremental, state, validation,
                    data_parallel=None, checkpoint=None):
    """Turn ``estimator``'s parameters into the settings of one training call.

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
        Its parameters, and ``t_`` (the samples seen) when it has been fitted.
    n_train : int
        Number of training samples.
    mean_weight : float
        Their mean sample weight.
    device : torch.device
        Where training runs.
    incremental : bool
        Whether this is a ``partial_fit`` call.
    state : skdeep._callbacks.StoppingProgress
        The stopping rule's curves and counts so far (stochastic solvers).
    validation : tuple (dataset, score) or None
        The validation set and its scoring function, with early stopping.
    data_parallel : skdeep._distributed.DataParallel or None
        This process's part in data-parallel training, if any.
    checkpoint : skdeep._checkpoint.TrainingCheckpoint or None
        Writes the training state at epoch ends, after the stopping rule.

    Returns
    -------
    config : TrainingConfig
    """
    solver = estimator.solver
    stochastic = solver in STOCHASTIC_SOLVERS
    batch_size = resolve_batch_size(estimator.batch_size, n_train) if stochastic else n_train
    penalty = WeightPenalty(
        l1=estimator.l1,
        l2=0.0 if solver == "adamw" else estimator.alpha,  # AdamW decays inside the optimizer
        # sklearn divides the penalty by the batch's weight sum: for stochastic solvers,
        # the expected one (a constant, which a CUDA graph can hold), exact for full batches
        batch_weight=batch_size * mean_weight,
    )
    autocast = PRECISIONS[estimator.precision][1]
    if autocast is not None and not stochastic:
        raise ValueError(
            f"precision={estimator.precision!r} needs a stochastic solver {STOCHASTIC_SOLVERS}; "
            "lbfgs trains in 'float32' or 'float64'."
        )
    data_parallel = data_parallel if stochastic else None
    if data_parallel is not None and estimator.precision == "float16":
        raise ValueError("precision='float16' scales the loss on each process apart, which data-parallel training "
                         "(in a torch.distributed process group) cannot combine: use precision='bfloat16'.")
    graph = False if data_parallel is not None else cuda_graph_mode(
        estimator.cuda_graph, device=device, solver=solver, precision=estimator.precision,
        compile=estimator.compile, captures_by_default=estimator._own_module)
    options = solver_options(estimator, device, graph=bool(graph))
    samples_seen = getattr(estimator, "t_", 0)
    callbacks = []
    if stochastic:
        if estimator.learning_rate in ("cosine", "onecycle"):
            schedule = AnnealingSchedule(estimator.learning_rate, estimator.learning_rate_init,
                                         total_samples=estimator.max_iter * n_train,
                                         samples_seen=samples_seen if incremental else 0)
        else:
            schedule = LearningRateSchedule(estimator.learning_rate, estimator.learning_rate_init,
                                            estimator.power_t, samples_seen=samples_seen)
        monitor = ConvergenceMonitor(estimator.tol, estimator.n_iter_no_change, estimator.learning_rate == "adaptive",
                                     penalty, bool(estimator.verbose), state, validation)
        callbacks += [("learning_rate", schedule), ("convergence", monitor)]
    callbacks.append(("divergence", DivergenceCheck(solver, early_stopping=validation is not None)))
    if checkpoint is not None:  # after the stopping rule and the divergence check: a whole, finite epoch
        callbacks.append(("checkpoint", checkpoint))
    epochs = 1 if incremental or not stochastic else estimator.max_iter
    if estimator.verbose >= 2:
        callbacks.append(("progress", EpochProgressBar(epochs)))
    callbacks.append(("sklearn_callbacks", SklearnCallbackBridge()))
    return TrainingConfig(
        batch_size=batch_size,
        epochs=epochs,
        shuffle=estimator.shuffle,
        penalty=penalty,
        optimizer=partial(make_optimizer, solver=solver, **options),
        optimizer_class=OPTIMIZERS[solver],
        decoupled_weight_decay=options.get("decoupled_weight_decay"),
        lr=estimator.learning_rate_init if stochastic else 1.0,
        callbacks=callbacks,
        autocast=autocast,
        cuda_graph=graph,
        data_parallel=data_parallel,
    )


def resolve_batch_size(batch_size, n_samples):
    """The ``batch_size`` parameter as a number of rows: ``"auto"`` is ``min(200, n_samples)``."""
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn(
            f"Got batch_size={batch_size} larger than the {n_samples} training "
            "samples; it is clipped to the number of samples.",
            UserWarning,
        )
    return min(batch_size, n_samples)


def solver_options(estimator, device, graph=False):
    """Keyword arguments of the optimizer of ``estimator.solver`` on ``device`` (AdamW's decay included).

    With ``graph``, the optimizer's step can be captured in a CUDA graph.
    """
    if estimator.solver == "lbfgs":
        return dict(max_iter=estimator.max_iter, max_fun=estimator.max_fun, tol=estimator.tol)
    options = {}
    if estimator.solver == "adamw":  # AdamW decouples the decay: alpha is its coefficient
        options["decoupled_weight_decay"] = estimator.alpha
    if device.type in _FUSED_ON.get(estimator.solver, ()):
        options["fused"] = True  # one kernel per step instead of a Python loop over tensors
    if graph:
        options["tensor_lr"] = True
        if estimator.solver != "sgd":  # SGD keeps no step count on the host
            options["capturable"] = True
    if estimator.solver == "sgd":
        options.update(momentum=estimator.momentum,
                       nesterov=estimator.nesterovs_momentum and estimator.momentum > 0)
    elif estimator.solver in ("adam", "adamw"):
        options.update(betas=(estimator.beta_1, estimator.beta_2), eps=estimator.epsilon)
    else:
        options.update(eps=estimator.epsilon)
    return options


def make_optimizer(param_groups, *, solver, decoupled_weight_decay=None, tensor_lr=False, **options):
    """Build the optimizer of ``solver`` over all parameters, in one group.

    ``param_groups`` is what skorch passes: a list of ``{"params": [...]}``.
    Only AdamW's decoupled weight decay lives in the optimizer, on the weight
    matrices alone (biases and normalisation parameters, the 1-D tensors, are
    not decayed; their group is marked ``"decoupled"``, so that a later call
    can set it); the penalties of the other solvers are added to the
    gradients by :class:`skdeep._penalty.WeightPenalty`, so that the
    optimizer runs one fused kernel per step rather than one per parameter
    group. With ``tensor_lr``, the learning rate is a tensor on the
    parameters' device, which a captured CUDA graph reads at each replay.
    """
    params = [p for group in param_groups for p in group["params"]]
    if tensor_lr:
        options["lr"] = torch.tensor(float(options["lr"]), device=params[0].device)
    if decoupled_weight_decay is None:
        return OPTIMIZERS[solver](params, **options)
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": decoupled_weight_decay, "decoupled": True},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return OPTIMIZERS[solver]([group for group in groups if group["params"]], **options)
