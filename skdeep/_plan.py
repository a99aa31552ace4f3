"""The training plan: every decision of one ``fit`` or ``partial_fit`` call, made once.

:func:`plan_training` is a pure function of the estimator's parameters, a
summary of the validated training data (:class:`DataSummary`), the kind of
call (:class:`TrainingCall`) and the device. It makes every decision that
training needs (the effective early stopping and its split, the batch size,
dtype and autocast, the optimizer and its options, AdamW's decoupled decay,
the penalties, the learning-rate schedule, the stopping rule, the number of
epochs, CUDA-graph, compile and data-parallel modes, checkpoint use) and
raises every refusal, before any data is split or any network built. The
estimator, the net and the callbacks read its fields and decide nothing
again. The only decisions that need the built network, those of batch
normalisation, are taken by :meth:`TrainingPlan.for_module`.

scikit-learn's MLP re-reads its parameters at every call, and so does the
plan: a ``set_params`` between calls takes effect where scikit-learn's MLP
honours it.
"""

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from sklearn.model_selection._split import _validate_shuffle_split

from skdeep._callbacks import user_callbacks
from skdeep._cuda_graph import cuda_graph_mode
from skdeep._data import batch_bounds
from skdeep._optim import OPTIMIZERS
from skdeep._penalty import WeightPenalty
from skdeep._routing import callback_arguments, check_arguments, routed_arguments

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
#: the solver whose weight decay (``alpha``) lives in its optimizer, decoupled from the gradient
_DECOUPLED_DECAY_SOLVER = "adamw"
#: what a class needs of torch's optimizer interface to be the ``optimizer`` parameter
_OPTIMIZER_METHODS = ("step", "zero_grad", "state_dict", "load_state_dict")
#: the built-in solvers' optimizer arguments that skdeep's parameters set
_SOLVER_ARGUMENTS = {"betas": "beta_1 and beta_2", "eps": "epsilon", "momentum": "momentum",
                     "nesterov": "nesterovs_momentum"}


@dataclass(frozen=True)
class DataSummary:
    """What the plan knows of the validated training data.

    Attributes
    ----------
    n_samples : int
        Rows of training data, a validation set included.
    streamed : bool, default=False
        Whether X is read block by block from a dask collection.
    output_dtype : numpy.dtype, default=float64
        The dtype that predictions on these rows take (that of X at fit,
        promoted with this X's).
    """

    n_samples: int
    streamed: bool = False
    output_dtype: np.dtype = np.dtype(np.float64)


@dataclass(frozen=True)
class TrainingCall:
    """Which call trains, and what it goes on from.

    Attributes
    ----------
    incremental : bool, default=False
        A ``partial_fit`` call (one epoch, the running optimizer kept).
    continues : bool, default=False
        The call goes on from a fitted model: a warm fit (``warm_start``) or
        a ``partial_fit`` after the first.
    samples_seen : int, default=0
        Samples that earlier calls trained on (scikit-learn's ``t_``).
    module_dtype : torch.dtype, default=None
        The dtype of the network that a continued ``partial_fit`` trains on.
    ranks : int, default=1
        Processes of data-parallel training (1 outside a process group).
    own_module : bool, default=True
        Whether the network is one of skdeep's modules, which
        ``cuda_graph="auto"`` captures (a user's may wait for the host).
    """

    incremental: bool = False
    continues: bool = False
    samples_seen: int = 0
    module_dtype: object = None
    ranks: int = 1
    own_module: bool = True

    @property
    def continues_optimizer(self):
        """Whether the call trains on with the fitted net's own optimizer (a continued ``partial_fit``)."""
        return self.incremental and self.continues


@dataclass(frozen=True)
class NetPlan:
    """How the skorch net is built: its optimizer, learning rate, compile and CUDA-graph modes.

    A loaded model's net is built by the same plan (:func:`plan_net`).

    Attributes
    ----------
    solver : str
    optimizer_options : dict
        Keyword arguments of :func:`skdeep._optim.make_optimizer` besides the
        learning rate (AdamW's ``decoupled_weight_decay`` included), the
        ``optimizer__<argument>`` parameters among them.
    lr : float
        The optimizer's initial learning rate.
    cuda_graph : bool or "auto"
        Whether training steps are captured as CUDA graphs (see :mod:`skdeep._cuda_graph`).
    compile_options : dict
        skorch's ``compile`` and ``compile__mode`` for ``torch.compile`` of the module.
    autocast : torch.dtype or None
        The dtype of mixed-precision forward passes, in training and in
        prediction (a loaded model predicts as the fitted one did).
    optimizer : type or None
        The user's optimizer class, built in place of the solver's.
    arguments : dict
        The ``optimizer__<argument>`` parameters (among ``optimizer_options``):
        a continued ``partial_fit`` after they changed builds a new optimizer.
    """

    solver: str
    optimizer_options: dict
    lr: float
    cuda_graph: object
    compile_options: dict
    autocast: object = None
    optimizer: type = None
    arguments: dict = field(default_factory=dict)

    @property
    def decoupled_weight_decay(self):
        """AdamW's weight decay (``alpha``), which lives in its optimizer; None for other solvers."""
        return self.optimizer_options.get("decoupled_weight_decay")


@dataclass(frozen=True)
class TrainingPlan:
    """Every decision of one training call, made by :func:`plan_training`.

    Attributes
    ----------
    solver : str
    stochastic : bool
        Whether the solver steps on batches (every solver but ``"lbfgs"``).
    epochs : int
        Epochs this call runs at most (1 for ``partial_fit`` and LBFGS, whose
        one step runs all its iterations).
    early_stopping : bool
        Whether a validation set is held out and scored after each epoch.
    validation_fraction : float
        The part of the rows held out (0.0 without early stopping).
    n_train : int
        Rows that train the network (those left by the validation split).
    batch_size : int
        Rows per training batch.
    shuffle : bool
        Reshuffle the rows at each epoch.
    fold_single_batch : bool
        Fold a last batch of one row into the batch before it (batch
        normalisation; set by :meth:`for_module`).
    dtype : torch.dtype
        The dtype of the network's weights and of the data it trains on.
    output_check : bool
        Whether the trained network's outputs on its training rows are
        checked in the dtype of predictions. A finite training loss vouches
        for them only where it was computed at the trained weights (LBFGS's,
        at its solution: stochastic solvers step after each batch's loss),
        in a dtype no wider than theirs (float64 weights give float32
        predictions of a float32 X).
    net : NetPlan
        The optimizer, learning rate, CUDA-graph and compile modes.
    l1, l2 : float
        The penalties added to the gradients (AdamW's decay is not among
        them: it lives in its optimizer).
    schedule : str
        The ``learning_rate`` schedule.
    power_t : float
        ``"invscaling"``'s exponent.
    schedule_samples : int
        Samples the schedule spans (``"cosine"`` and ``"onecycle"``).
    schedule_samples_seen : int
        Samples the schedule has already gone through.
    tol : float
    n_iter_no_change : int or float
        scikit-learn's stopping rule.
    verbose : int
    ranks : int
        Processes that share each batch (1: no data-parallel training).
    checkpoint : str, os.PathLike or None
        Where the training state is written every ``checkpoint_every`` epochs.
    checkpoint_every : int
    augment : callable or None
        The function of each training batch of X (the ``augment`` parameter).
    callbacks : list
        The user's skorch callbacks (the ``callbacks`` parameter, checked).
    callback_arguments : dict
        The ``callbacks__<name>__<argument>`` parameters: ``{name: {argument:
        value}}``.
    """

    solver: str
    stochastic: bool
    epochs: int
    early_stopping: bool
    validation_fraction: float
    n_train: int
    batch_size: int
    shuffle: bool
    dtype: object
    output_check: bool
    net: NetPlan
    l1: float
    l2: float
    schedule: str
    power_t: float
    schedule_samples: int
    schedule_samples_seen: int
    tol: float
    n_iter_no_change: object
    verbose: int
    ranks: int
    checkpoint: object
    checkpoint_every: int
    augment: object = None
    callbacks: list = field(default_factory=list)
    callback_arguments: dict = field(default_factory=dict)
    fold_single_batch: bool = False

    @property
    def autocast(self):
        """The dtype of mixed-precision forward passes (the net's), or None."""
        return self.net.autocast

    @property
    def data_parallel(self):
        """Whether each batch is shared by the processes of a torch.distributed process group."""
        return self.ranks > 1

    def penalty(self, mean_weight):
        """The L1 and L2 penalties of this call, for training rows of mean sample weight ``mean_weight``.

        scikit-learn divides the penalty by the batch's weight sum; skdeep
        by the expected one, ``batch_size * mean_weight`` (a constant, which
        a CUDA graph can hold), exact for full batches.
        """
        return WeightPenalty(l1=self.l1, l2=self.l2, batch_weight=self.batch_size * mean_weight)

    def for_module(self, module):
        """This plan for training ``module``: a module with batch normalisation folds one-row batches.

        Raises
        ------
        ValueError
            If a batch (or a data-parallel rank's share of one) would hold a
            single row, which batch normalisation cannot normalise.
        """
        if not any(isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for layer in module.modules()):
            return self
        if self.batch_size < 2:  # (the batch size, clipped to the training rows)
            raise ValueError(
                "batch_norm=True normalises each batch by its own statistics, which one sample does not have: "
                f"got {self.n_train} training sample(s) and batch_size={self.batch_size!r}. Train on at least 2 "
                "samples with batch_size >= 2, or set batch_norm=False."
            )
        bounds = batch_bounds(self.n_train, self.batch_size, fold_single=True)
        smallest = min(stop - start for start, stop in zip(bounds[:-1], bounds[1:], strict=True))
        if smallest // self.ranks < 2:
            raise ValueError(
                f"batch_norm=True normalises each rank's share of a batch in data-parallel training: batches of "
                f"{smallest} rows (batch_size={self.batch_size}, {self.n_train} training samples) over {self.ranks} "
                f"ranks leave shares of fewer than 2 rows. Use a batch_size and a number of samples whose batches "
                f"hold at least {2 * self.ranks} rows, or set batch_norm=False."
            )
        return replace(self, fold_single_batch=True)


def plan_training(params, data, call, device):
    """Make every decision of one training call, and raise every refusal.

    Parameters
    ----------
    params : dict
        The estimator's parameters (``get_params(deep=False)``).
    data : DataSummary
    call : TrainingCall
    device : torch.device
        Where training runs.

    Returns
    -------
    plan : TrainingPlan

    Raises
    ------
    ValueError
        For parameters that mean nothing together or for this call and data.

    Examples
    --------
    >>> import torch
    >>> from skdeep import MLPClassifier
    >>> from skdeep._plan import DataSummary, TrainingCall, plan_training
    >>> params = MLPClassifier(early_stopping=True, solver="adamw", alpha=0.01).get_params()
    >>> plan = plan_training(params, DataSummary(n_samples=1000), TrainingCall(), torch.device("cpu"))
    >>> plan.early_stopping, plan.n_train, plan.batch_size, plan.l2, plan.net.decoupled_weight_decay
    (True, 900, 200, 0.0, 0.01)
    """
    solver = params["solver"]
    stochastic = solver in STOCHASTIC_SOLVERS
    if call.incremental and params["early_stopping"]:  # scikit-learn's rule and message
        raise ValueError("partial_fit does not support early_stopping=True")
    _check_checkpoint_use(params, call, stochastic)
    dtype, autocast = PRECISIONS[params["precision"]]
    if autocast is not None and not stochastic:
        raise ValueError(f"precision={params['precision']!r} needs a stochastic solver {STOCHASTIC_SOLVERS}; "
                         "lbfgs trains in 'float32' or 'float64'.")
    ranks = call.ranks if stochastic else 1
    if ranks > 1 and params["precision"] == "float16":
        raise ValueError("precision='float16' scales the loss on each process apart, which data-parallel training "
                         "(in a torch.distributed process group) cannot combine: use precision='bfloat16'.")
    # scikit-learn holds a validation set out for the stochastic solvers only
    early_stopping = params["early_stopping"] and stochastic
    n_train = _training_rows(params["validation_fraction"], data) if early_stopping else data.n_samples
    batch_size = resolve_batch_size(params["batch_size"], n_train) if stochastic else n_train
    decoupled = solver == _DECOUPLED_DECAY_SOLVER
    epochs = 1 if call.incremental or not stochastic else params["max_iter"]
    dtype = call.module_dtype if call.continues_optimizer and call.module_dtype is not None else dtype
    return TrainingPlan(
        solver=solver,
        stochastic=stochastic,
        epochs=epochs,
        early_stopping=early_stopping,
        validation_fraction=params["validation_fraction"] if early_stopping else 0.0,
        n_train=n_train,
        batch_size=batch_size,
        shuffle=params["shuffle"],
        dtype=dtype,
        output_check=stochastic or torch.finfo(dtype).max > float(np.finfo(data.output_dtype).max),
        net=plan_net(params, device, ranks=ranks, own_module=call.own_module),
        l1=params["l1"],
        l2=0.0 if decoupled else params["alpha"],
        schedule=params["learning_rate"],
        power_t=params["power_t"],
        schedule_samples=params["max_iter"] * n_train,
        schedule_samples_seen=_schedule_samples_seen(params["learning_rate"], call),
        tol=params["tol"],
        n_iter_no_change=params["n_iter_no_change"],
        verbose=params["verbose"],
        ranks=ranks,
        checkpoint=params["checkpoint"],
        checkpoint_every=params["checkpoint_every"],
        augment=params.get("augment"),
        callbacks=user_callbacks(params["callbacks"]),
        callback_arguments=callback_arguments(params),
    )


def plan_net(params, device, *, ranks=1, own_module=True):
    """How the skorch net of ``params`` is built on ``device``: for a fit, and for a loaded model.

    Parameters
    ----------
    params : dict
        The estimator's parameters.
    device : torch.device
    ranks : int, default=1
        Processes of data-parallel training.
    own_module : bool, default=True
        Whether the network is one of skdeep's modules.

    Returns
    -------
    net_plan : NetPlan
    """
    solver = params["solver"]
    optimizer = params["optimizer"]
    arguments = optimizer_arguments(params)
    graph = False if ranks > 1 else cuda_graph_mode(
        params["cuda_graph"], device=device, solver=solver, precision=params["precision"],
        compile=params["compile"], captures_by_default=own_module, optimizer=optimizer,
        augment=params.get("augment"))
    compile_mode = params["compile"]
    compile_options = {"compile": True, **({"compile__mode": compile_mode} if isinstance(compile_mode, str) else {})}
    own_options = {} if optimizer is not None else solver_options(params, device, graph=bool(graph))
    if "foreach" in arguments:  # (torch runs one of the two implementations)
        own_options.pop("fused", None)
    return NetPlan(
        solver=solver,
        optimizer_options={**own_options, **arguments},
        arguments=arguments,
        lr=params["learning_rate_init"] if solver in STOCHASTIC_SOLVERS else 1.0,
        cuda_graph=graph,
        compile_options=compile_options if compile_mode else {},
        autocast=PRECISIONS[params["precision"]][1],
        optimizer=optimizer,
    )


def optimizer_arguments(params):
    """The ``optimizer__<argument>`` parameters, refused where they mean nothing or repeat a parameter of skdeep's.

    Examples
    --------
    >>> from skdeep import MLPClassifier
    >>> from skdeep._plan import optimizer_arguments
    >>> optimizer_arguments(MLPClassifier(optimizer__amsgrad=True).get_params())
    {'amsgrad': True}
    """
    solver, optimizer = params["solver"], params["optimizer"]
    arguments = routed_arguments(params, "optimizer")
    if optimizer is not None:
        name = optimizer.__name__
        if not all(callable(getattr(optimizer, method, None)) for method in _OPTIMIZER_METHODS):
            raise TypeError(f"optimizer={name} is not an optimizer class: it needs torch's optimizer interface "
                            f"({', '.join(_OPTIMIZER_METHODS)}), as the classes of torch.optim have.")
        if solver != "adam":
            raise ValueError(f"optimizer={name} takes the place of the solver's optimizer, so solver={solver!r} "
                             "means nothing beside it: leave solver at its default, 'adam'.")
        if issubclass(optimizer, torch.optim.LBFGS):
            raise ValueError(f"optimizer={name} minimises with a closure that re-evaluates the loss, which "
                             "skdeep's training step does not give: use solver='lbfgs'.")
    elif solver == "lbfgs" and arguments:
        raise ValueError(f"solver='lbfgs' takes no optimizer__ arguments (got {sorted(arguments)}): its options "
                         "are max_iter, max_fun and tol.")
    if "lr" in arguments:
        raise ValueError("optimizer__lr: the optimizer's learning rate is the learning_rate_init parameter.")
    check_arguments(optimizer or OPTIMIZERS[solver], arguments, "optimizer")
    if optimizer is None:
        own = {**_SOLVER_ARGUMENTS, **({"weight_decay": "alpha"} if solver == _DECOUPLED_DECAY_SOLVER else {})}
        repeated = [f"optimizer__{argument} (set {own[argument]})" for argument in arguments if argument in own]
        if repeated:
            raise ValueError(f"solver={solver!r} takes these options from skdeep's parameters: "
                             f"{', '.join(repeated)}.")
        nesterov = solver == "sgd" and params["nesterovs_momentum"] and params["momentum"] > 0
        if nesterov and arguments.get("dampening", 0):
            raise ValueError("optimizer__dampening: SGD's Nesterov momentum (nesterovs_momentum=True) takes no "
                             "dampening; set nesterovs_momentum=False to dampen.")
    return arguments


def _schedule_samples_seen(schedule, call):
    """Where the learning-rate schedule goes on from.

    ``"invscaling"`` counts every sample seen (scikit-learn's ``t_``, which a
    warm fit keeps); the annealing schedules span one fit, which a warm fit
    starts again and ``partial_fit`` calls go on with.
    """
    if schedule in ("cosine", "onecycle") and not call.incremental:
        return 0
    return call.samples_seen


def _check_checkpoint_use(params, call, stochastic):
    """Refuse a checkpoint where no fit could resume from it."""
    checkpoint = params["checkpoint"]
    if checkpoint is None:
        return
    if not stochastic:
        raise ValueError(f"checkpoint={checkpoint!r} needs a stochastic solver: solver='lbfgs' runs all its "
                         "iterations in one step, with no epoch to resume from. Set checkpoint=None.")
    if call.incremental or call.continues:
        kind = "partial_fit" if call.incremental else "A warm fit (warm_start=True)"
        raise ValueError(f"{kind} does not support checkpoint={checkpoint!r}: a checkpoint resumes a fit "
                         "that trains a new network, while this call continues the model held in this "
                         "process. Set checkpoint=None, and pickle the estimator between calls instead.")


def _training_rows(validation_fraction, data):
    """The rows left to train on once early stopping holds ``validation_fraction`` of ``data`` out."""
    if data.streamed:
        raise ValueError("early_stopping=True holds out a validation set, which X streamed in blocks from a "
                         "dask collection does not provide: compute X, or train without early stopping.")
    if validation_fraction == 0:
        raise ValueError("early_stopping=True holds out validation_fraction of the training data: "
                         "the 'validation_fraction' parameter must be in (0, 1); got 0.")
    try:  # (the sizes of scikit-learn's train_test_split)
        n_train, n_validation = _validate_shuffle_split(data.n_samples, validation_fraction, None)
    except ValueError as error:
        raise ValueError(f"early_stopping=True holds out validation_fraction={validation_fraction} of the "
                         f"training data, which fails here: {error}") from error
    if n_validation < 2:  # scikit-learn's rule and message
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your dataset.")
    return n_train


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


def solver_options(params, device, graph=False):
    """Keyword arguments of the optimizer of ``params["solver"]`` on ``device`` (AdamW's decay included).

    With ``graph``, the optimizer's step can be captured in a CUDA graph.
    """
    solver = params["solver"]
    if solver == "lbfgs":
        return dict(max_iter=params["max_iter"], max_fun=params["max_fun"], tol=params["tol"])
    options = {}
    if solver == _DECOUPLED_DECAY_SOLVER:  # AdamW decouples the decay: alpha is its coefficient
        options["decoupled_weight_decay"] = params["alpha"]
    if device.type in _FUSED_ON.get(solver, ()):
        options["fused"] = True  # one kernel per step instead of a Python loop over tensors
    if graph:
        options["tensor_lr"] = True
        if solver != "sgd":  # SGD keeps no step count on the host
            options["capturable"] = True
    if solver == "sgd":
        options.update(momentum=params["momentum"], nesterov=params["nesterovs_momentum"] and params["momentum"] > 0)
    elif solver in ("adam", "adamw"):
        options.update(betas=(params["beta_1"], params["beta_2"]), eps=params["epsilon"])
    else:
        options.update(eps=params["epsilon"])
    return options
