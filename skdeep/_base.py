"""The estimator base shared by every skdeep estimator.

A skdeep estimator is a plain scikit-learn estimator: ``__init__`` stores the
parameters, ``fit`` validates the data, builds a PyTorch module and a skorch
net (:class:`skdeep._net.SkdeepNet`) from the parameters, trains it, and keeps
it as ``net_``. Subclasses say what the task is (targets, loss, output
non-linearity; see :mod:`skdeep._tasks`) and which module to build.
"""

import math
import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, _fit_context

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9 has no callback API

    class CallbackSupportMixin:
        """Stand-in on scikit-learn < 1.9: no ``set_callbacks``."""

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skdeep._callbacks import (
    AnnealingSchedule,
    ConvergenceMonitor,
    DivergenceCheck,
    EpochProgressBar,
    LearningRateSchedule,
    SklearnCallbackBridge,
    weight_penalty,
)
from skdeep._data import ArrayDataset, as_tensor_source, place_on_device
from skdeep._device import resolve_device
from skdeep._graph import GRAPH_SOLVERS
from skdeep._net import SkdeepNet
from skdeep._threads import threads_within_cpu_share
from skdeep.modules import ACTIVATIONS, SklearnLoss

STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
#: precision -> (dtype of the weights and data, autocast dtype of the forward pass or None)
PRECISIONS = {
    "float32": (torch.float32, None),
    "float64": (torch.float64, None),
    "bfloat16": (torch.float32, torch.bfloat16),
    "float16": (torch.float32, torch.float16),
}
_FUSED_SOLVERS = ("sgd", "adam", "adamw", "adagrad")  # torch has fused kernels for these, CPU and CUDA

_OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "lbfgs": torch.optim.LBFGS,
}


def make_optimizer(param_groups, *, solver, decoupled_weight_decay=0.0, tensor_lr=False, **options):
    """Build the optimizer of ``solver`` over all parameters, in one group.

    ``param_groups`` is what skorch passes: a list of ``{"params": [...]}``.
    Only AdamW's decoupled weight decay lives in the optimizer, on the weight
    matrices alone (biases and normalisation parameters, the 1-D tensors, are
    not decayed); the coupled L2 penalty of the other solvers is added to the
    gradients by :class:`skdeep._net.SkdeepNet`, so that the optimizer runs
    one fused kernel per step rather than one per parameter group. With
    ``tensor_lr``, the learning rate is a tensor on the parameters' device,
    which a captured CUDA graph reads at each replay.
    """
    params = [p for group in param_groups for p in group["params"]]
    if tensor_lr:
        options["lr"] = torch.tensor(float(options["lr"]), device=params[0].device)
    if not decoupled_weight_decay:
        return _OPTIMIZERS[solver](params, **options)
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": decoupled_weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return _OPTIMIZERS[solver]([group for group in groups if group["params"]], **options)


def store_parameters(estimator, parameters):
    """Store an ``__init__``'s arguments as attributes, as scikit-learn requires.

    Call it as ``store_parameters(self, locals())`` first in ``__init__``.
    """
    for name, value in parameters.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class BaseNeuralEstimator(CallbackSupportMixin, BaseEstimator):
    """Shared fit/partial_fit/predict machinery of skdeep's estimators.

    Not for direct use: subclass one of the task bases in :mod:`skdeep._tasks`
    and implement ``_build_module(n_features, n_outputs, device)``.
    """

    #: whether cuda_graph="auto" captures this estimator's module (skdeep's own
    #: modules are tested to be capturable; a user's module may not be)
    _module_captures_by_default = True

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", *STOCHASTIC_SOLVERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [
            StrOptions({"constant", "invscaling", "adaptive", "cosine", "onecycle"})
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "l1": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "compile": ["boolean", StrOptions({"default", "reduce-overhead", "max-autotune"})],
        "cuda_graph": ["boolean", StrOptions({"auto"})],
    }

    # -- what subclasses provide ------------------------------------------------

    def _build_module(self, n_features, n_outputs, device):
        """Return the untrained :class:`torch.nn.Module` (raw outputs) for ``device``."""
        raise NotImplementedError

    def _module_input_shape(self):
        """Shape of one sample in the batches the module gets: as seen at fit."""
        return tuple(self.input_shape_)

    # -- scikit-learn protocol --------------------------------------------------

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags

    @property
    def module_(self):
        """The trained :class:`torch.nn.Module` (``net_.module_``)."""
        return self.net_.module_

    @property
    def device_(self):
        """The :class:`torch.device` the model lives on."""
        return torch.device(self.net_.device)

    @property
    def n_layers_(self):
        """Number of dense layers plus one (scikit-learn's count, input and output included)."""
        return len(self._linear_layers()) + 1

    @property
    def coefs_(self):
        """Weight matrices of the dense layers, each of shape (n_in, n_out)."""
        return [layer.weight.detach().T.cpu().double().numpy() for layer in self._linear_layers()]

    @property
    def intercepts_(self):
        """Bias vectors of the dense layers, each of shape (n_out,)."""
        return [layer.bias.detach().cpu().double().numpy() for layer in self._linear_layers()]

    def _linear_layers(self):
        check_is_fitted(self)
        return [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, ...)
            Training data; samples of more than one dimension are flattened for
            dense layers (or kept as images and signals by convolutional ones).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss; ``None`` weighs all equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    # -- fitting ----------------------------------------------------------------

    def _fit(self, X, y, sample_weight, *, incremental, classes=None):
        reset = not ((incremental or self.warm_start) and self.__sklearn_is_fitted__())
        if reset:
            self._forget_fit()  # nothing of a previous fit may leak into this one
        training_started = False
        try:
            X, y, sample_weight = self._validate_training_data(X, y, sample_weight, reset, classes)
            training_started = True
            self._train(X, y, sample_weight, reset, incremental)
        except BaseException as error:
            if reset or training_started:
                self._forget_fit()
            if isinstance(error, torch.OutOfMemoryError):
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                raise torch.OutOfMemoryError(
                    f"{error}\nThe device ran out of memory while training "
                    f"{type(self).__name__} (batch_size={self.batch_size!r}, "
                    f"precision={self.precision!r}). Try a smaller batch_size, "
                    "precision='bfloat16' (or 'float16'), a smaller network, or device='cpu'. "
                    "The estimator was left unfitted."
                ) from error
            raise
        return self

    def _forget_fit(self):
        """Remove every fitted attribute, so that a failed fit does not look fitted."""
        for name in [key for key in vars(self) if key.endswith("_") and not key.startswith("__")]:
            delattr(self, name)
        self.__dict__.pop("_random_state", None)

    def _validate_training_data(self, X, y, sample_weight, reset, classes):
        X, y = self._validate_X_y(X, y, reset=reset)
        y = self._encode_targets(y, reset=reset, classes=classes)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        sample_weight = sample_weight * self._class_sample_weight(y)
        if not np.any(sample_weight > 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return X, y, sample_weight

    def _validate_X_y(self, X, y, *, reset):
        """Validate training data; samples of more than one dimension are flattened."""
        X, sample_shape = _flatten_samples(X)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=self._y_numeric, reset=reset, **_X_CHECKS)
        self._check_sample_shape(X, sample_shape, reset=reset)
        return X, y

    def _validate_X(self, X):
        """Validate data to predict on, against what fit saw."""
        X, sample_shape = _flatten_samples(X)
        X = validate_data(self, X, reset=False, **_X_CHECKS)
        self._check_sample_shape(X, sample_shape, reset=False)
        return X

    def _check_sample_shape(self, X, sample_shape, *, reset):
        if reset:
            self.input_shape_ = sample_shape or (X.shape[1],)
        elif sample_shape is not None and sample_shape != tuple(self.input_shape_):
            raise ValueError(
                f"X has samples of shape {sample_shape}, but {type(self).__name__} was "
                f"fitted on samples of shape {tuple(self.input_shape_)}."
            )

    def _resolve_batch_size(self, n_samples):
        if self.solver == "lbfgs":
            return n_samples
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got batch_size={self.batch_size} larger than the {n_samples} training "
                "samples; it is clipped to the number of samples.",
                UserWarning,
            )
        return min(self.batch_size, n_samples)

    def _make_datasets(self, X, y, sample_weight, dtype, early_stopping):
        source = as_tensor_source(X, dtype, self._module_input_shape())
        target = torch.from_numpy(self._target_array(y, dtype))
        weight = None
        if not np.all(sample_weight == 1.0):
            weight = torch.from_numpy(sample_weight.astype(dtype_to_numpy(dtype)))
        dataset = ArrayDataset(source, target, weight, dtype)
        if not early_stopping:
            return dataset, None
        train_index, valid_index = train_test_split(
            np.arange(X.shape[0]),
            test_size=self.validation_fraction,
            random_state=self._random_state,
            stratify=self._stratify_by(y),
        )
        return dataset.subset(torch.from_numpy(train_index)), dataset.subset(torch.from_numpy(valid_index))

    def _solver_options(self, graph=False):
        """Keyword arguments of the optimizer (AdamW's decoupled weight decay included).

        With ``graph``, the optimizer's step can be captured in a CUDA graph.
        """
        if self.solver == "lbfgs":
            return dict(max_iter=self.max_iter, max_eval=self.max_fun, tolerance_grad=self.tol,
                        tolerance_change=np.finfo(float).eps, line_search_fn="strong_wolfe")
        options = {}
        if self.solver == "adamw":  # AdamW decouples the decay: alpha is its coefficient
            options["decoupled_weight_decay"] = self.alpha
        if self.solver in _FUSED_SOLVERS:
            options["fused"] = True  # one kernel per step instead of a Python loop over tensors
        if graph:
            options["tensor_lr"] = True
            if self.solver != "sgd":  # SGD keeps no step count on the host
                options["capturable"] = True
        if self.solver == "sgd":
            options.update(momentum=self.momentum,
                           nesterov=self.nesterovs_momentum and self.momentum > 0)
        elif self.solver in ("adam", "adamw"):
            options.update(betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        else:
            options.update(eps=self.epsilon)
        return options

    def _reported_penalty(self, batch_weight, net):
        """The penalty scikit-learn's ``loss_`` includes, for stochastic solvers."""
        return weight_penalty(net.module_, self.l1, self.alpha) / batch_weight

    def _build_net(self, n_features, train_data, batch_size, device, dtype, previous=None):
        """Build and initialise the skorch net that trains the module.

        With ``previous`` (a warm-started fit), the new net starts from its
        weights, history and convergence state, as scikit-learn's MLP does: the
        optimizer and the learning-rate schedule are built afresh from the
        current parameters, so a new ``learning_rate_init``, ``alpha`` or
        ``max_iter`` takes effect.
        """
        n_train = len(train_data)
        mean_weight = 1.0 if train_data.sample_weight is None else float(train_data.sample_weight.mean())
        batch_weight = batch_size * mean_weight  # the expected weight sum of a batch
        stochastic = self.solver in STOCHASTIC_SOLVERS
        callbacks = [("divergence", DivergenceCheck())]
        if stochastic:
            total_steps = self.max_iter * math.ceil(n_train / batch_size)
            if self.learning_rate in ("cosine", "onecycle"):
                schedule = AnnealingSchedule(self.learning_rate, self.learning_rate_init, total_steps)
            else:
                schedule = LearningRateSchedule(self.learning_rate, self.learning_rate_init, self.power_t,
                                                samples_seen=0 if previous is None else self.t_)
            callbacks += [
                ("learning_rate", schedule),
                ("convergence", ConvergenceMonitor(
                    self.tol, self.n_iter_no_change, self.learning_rate == "adaptive",
                    partial(self._reported_penalty, batch_weight), self.verbose == 1)),
            ]
        if self.verbose >= 2:
            callbacks.append(("progress", EpochProgressBar()))
        callbacks.append(("sklearn_callbacks", SklearnCallbackBridge()))
        module = self._build_module(n_features, self.n_outputs_, device).to(device=device, dtype=dtype)
        net = SkdeepNet(
            module=module,
            criterion=SklearnLoss(self._loss_kind()),
            optimizer=partial(make_optimizer, solver=self.solver,
                              **self._solver_options(graph=self._uses_cuda_graph(device))),
            lr=self.learning_rate_init if stochastic else 1.0,
            batch_size=batch_size,
            train_split=None,
            callbacks=callbacks,
            device=device,
            verbose=0,
            shuffle=self.shuffle,
            l1=self.l1,
            l2=0.0 if stochastic else self.alpha,
            # sklearn's alpha adds alpha / 2 * ||W||^2 / (batch's weight sum) to
            # the loss: the gradient term alpha / batch_weight * W (exact for full
            # batches, in expectation otherwise), added after backward.
            weight_decay=self.alpha / batch_weight if stochastic and self.solver != "adamw" else 0.0,
            **_compile_options(self.compile),
        ).initialize()
        if previous is not None:
            _continue_training(net, previous)
        return net

    def _train(self, X, y, sample_weight, reset, incremental):
        if reset:
            self._random_state = (
                check_random_state(self.random_state)
                if self.random_state is not None
                else np.random.RandomState(np.random.SeedSequence().generate_state(4))
            )
        device = self.device_ if incremental and not reset else resolve_device(self.device)
        dtype, autocast = PRECISIONS[self.precision]
        if autocast is not None and self.solver == "lbfgs":
            raise ValueError(
                f"precision={self.precision!r} needs a stochastic solver {STOCHASTIC_SOLVERS}; "
                "lbfgs trains in 'float32' or 'float64'."
            )
        self._check_cuda_graph_options()
        early_stopping = self.early_stopping and not incremental
        train_data, valid_data = self._make_datasets(X, y, sample_weight, dtype, early_stopping)
        train_data = place_on_device(train_data, device)
        valid_data = valid_data and place_on_device(valid_data, device)
        batch_size = self._resolve_batch_size(len(train_data))
        seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        cuda_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            if incremental and not reset:  # partial_fit: the running optimizer goes on
                net = self.net_
            else:
                net = self._build_net(X.shape[1], train_data, batch_size, device, dtype,
                                      previous=None if reset else self.net_)
            net.autocast = autocast
            net.cuda_graph = self._uses_cuda_graph(device)
            net.generator = torch.Generator().manual_seed(seed)
            monitor = dict(net.callbacks_).get("convergence")
            if monitor is not None:
                monitor.set_validation(valid_data, self._validation_score if early_stopping else None)
            epochs_before = len(net.history)
            epochs = 1 if incremental or self.solver == "lbfgs" else self.max_iter
            progress = dict(net.callbacks_).get("progress")
            if progress is not None:
                progress.total = epochs
            bridge = dict(net.callbacks_)["sklearn_callbacks"]
            bridge.context = self._begin_callback_task(epochs, X, y)
            bridge.estimator = self
            try:
                with threads_within_cpu_share():
                    net.partial_fit(train_data, epochs=epochs)
            finally:
                context, bridge.context, bridge.estimator = bridge.context, None, None
            if context is not None:
                context.call_on_fit_task_end(estimator=self, X=X, y=y,
                                             reconstruction_attributes=lambda: {"net_": net})
        self._record_training(net, monitor, epochs_before, len(train_data), incremental, reset)

    def _check_cuda_graph_options(self):
        conflicts = self._cuda_graph_conflicts()
        if self.cuda_graph is True and conflicts:
            raise ValueError("cuda_graph=True cannot be combined with " + "; ".join(conflicts) + ".")

    def _cuda_graph_conflicts(self):
        """The parameters that rule CUDA graphs out, each as a phrase."""
        conflicts = []
        if self.solver not in GRAPH_SOLVERS:
            conflicts.append(f"solver={self.solver!r} (supported: {', '.join(map(repr, GRAPH_SOLVERS))})")
        if self.precision == "float16":
            conflicts.append("precision='float16' (its loss scaler checks gradients on the host; "
                             "use 'bfloat16')")
        if self.compile:
            conflicts.append(f"compile={self.compile!r} (use one or the other)")
        return conflicts

    def _uses_cuda_graph(self, device):
        """Whether training on ``device`` captures CUDA graphs (never off CUDA).

        Returns True, False or "auto" (capture when the data is on the GPU, quietly
        train without a graph otherwise), as :class:`skdeep._net.SkdeepNet` takes it.
        """
        if device.type != "cuda" or self.cuda_graph is False:
            return False
        if self.cuda_graph is True:
            return True
        return "auto" if self._module_captures_by_default and not self._cuda_graph_conflicts() else False

    def _begin_callback_task(self, epochs, X, y):
        """Open the fit's task for scikit-learn's callbacks (None before scikit-learn 1.9)."""
        if not hasattr(self, "_init_callback_context"):
            return None
        context = self._init_callback_context(max_subtasks=epochs)
        context.call_on_fit_task_begin(estimator=self, X=X, y=y)
        return context

    def _record_training(self, net, monitor, epochs_before, n_train, incremental, reset):
        self.net_ = net
        epochs = len(net.history) - epochs_before
        self.t_ = (0 if reset else self.t_) + epochs * n_train
        self.history_ = history_frame(net.history)
        if monitor is None:  # lbfgs: one call of the optimizer runs all its iterations
            state = net.optimizer_.state[net.optimizer_.param_groups[0]["params"][0]]
            self.n_iter_ = int(state.get("n_iter", 0))
            self.loss_ = self.best_loss_ = float(net.history[-1]["train_loss"])
            if self.n_iter_ >= self.max_iter:
                warnings.warn(
                    f"lbfgs failed to converge after {self.n_iter_} iteration(s): the "
                    f"maximum (max_iter={self.max_iter}) was reached. Increase max_iter "
                    "or scale the data.",
                    ConvergenceWarning,
                )
            return
        self.n_iter_ = len(monitor.loss_curve)
        self.loss_curve_ = list(monitor.loss_curve)
        self.loss_ = self.loss_curve_[-1]
        if self.early_stopping and not incremental:
            self.validation_scores_ = list(monitor.validation_scores)
            self.best_validation_score_ = monitor.best_validation_score
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = monitor.best_loss
        if not incremental and not monitor.stopped and epochs == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    # -- prediction ---------------------------------------------------------------

    def _raw_predict(self, X, transform=None):
        """Raw network outputs for X, as a float64 array of shape (n_samples, n_outputs).

        ``transform``, a function of the float64 output tensor, runs on the
        device before the copy back (probabilities, say); it may modify that
        tensor in place.
        """
        check_is_fitted(self)
        X = self._validate_X(X)
        dtype = next(self.module_.parameters()).dtype
        dataset = ArrayDataset(as_tensor_source(X, dtype, self._module_input_shape()), dtype=dtype)
        # on a GPU: X goes over once when it fits, outputs are gathered there and
        # copied back once, instead of a synchronising copy per batch
        dataset = place_on_device(dataset, self.device_)
        with torch.inference_mode(), threads_within_cpu_share():
            output = self.net_.forward(dataset, device=self.device_).double()
            if transform is not None:
                output = transform(output)
        return output.cpu().numpy()


def _continue_training(net, previous):
    """Carry a fitted net's weights, history and convergence state over to ``net``."""
    try:
        net.module_.load_state_dict(previous.module_.state_dict())
    except RuntimeError as error:
        raise ValueError(
            "warm_start=True continues from the previous fit's weights, so the network's "
            "architecture must stay the same between fits; set warm_start=False to train "
            f"a new network.\n{error}"
        ) from error
    net.history = previous.history
    monitor, previous_monitor = dict(net.callbacks_).get("convergence"), dict(previous.callbacks_).get("convergence")
    if monitor is not None and previous_monitor is not None:
        monitor.resume(previous_monitor)


def _compile_options(compile):
    """skorch's options for ``torch.compile`` of the module (its ``compile`` and ``compile__``)."""
    if not compile:
        return {}
    return {"compile": True, **({"compile__mode": compile} if isinstance(compile, str) else {})}


_X_CHECKS = dict(accept_sparse=("csr", "csc"), dtype=(np.float32, np.float64))


def _flatten_samples(X):
    """Return X as 2-D rows, and the shape of one sample when it had more dimensions."""
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) <= 2 or sp.issparse(X):
        return X, None
    return np.asarray(X).reshape(shape[0], -1), tuple(shape[1:])


def dtype_to_numpy(dtype):
    """The numpy dtype of a torch floating dtype."""
    return torch.empty(0, dtype=dtype).numpy().dtype


_HISTORY_COLUMNS = {
    "epoch": "epoch",
    "loss": "loss",
    "train_loss": "train_loss",
    "validation_score": "validation_score",
    "learning_rate": "learning_rate",
    "dur": "duration",
}


def history_frame(history):
    """One row per epoch of a skorch history, as a :class:`pandas.DataFrame`."""
    rows = [{new: row.get(old) for old, new in _HISTORY_COLUMNS.items()} for row in history]
    frame = pd.DataFrame(rows, columns=list(_HISTORY_COLUMNS.values()))
    return frame.dropna(axis=1, how="all")

