"""The estimator base shared by every skdeep estimator.

A skdeep estimator is a plain scikit-learn estimator: ``__init__`` stores the
parameters, ``fit`` validates the data, builds a PyTorch module and a skorch
net (:class:`skdeep._net.SkdeepNet`) from the parameters, trains it, and keeps
it as ``net_``. Subclasses say what the task is (targets, loss, output
non-linearity; see :mod:`skdeep._tasks`) and which module to build.
"""

import copy
import os
import warnings
from abc import ABC, abstractmethod
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
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted, validate_data

from skdeep._dask import BlockDataset, BlockRows, is_dask_collection, row_blocks
from skdeep._callbacks import StoppingProgress, check_finite_weights
from skdeep._checkpoint import TrainingCheckpoint, fit_identity
from skdeep._config import PRECISIONS, STOCHASTIC_SOLVERS, training_config
from skdeep._data import ArrayDataset, as_tensor_source, check_representable, place_on_device, shared_tensor
from skdeep._device import resolve_device
from skdeep._distributed import DataParallel
from skdeep._net import PREDICT_BATCH_SIZE, SkdeepNet
from skdeep._random import seeded_torch, seeded_training
from skdeep._persistence import estimator_state, restore_estimator
from skdeep._threads import torch_threads
from skdeep.modules import SklearnLoss


def store_parameters(estimator, parameters):
    """Store an ``__init__``'s arguments as attributes, as scikit-learn requires.

    Call it as ``store_parameters(self, locals())`` first in ``__init__``.
    """
    for name, value in parameters.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class BaseNeuralEstimator(CallbackSupportMixin, BaseEstimator, ABC):
    """Shared fit/partial_fit/predict machinery of skdeep's estimators.

    Not for direct use: a public estimator combines a task base of
    :mod:`skdeep._tasks` (classification, regression) with an architecture
    (:mod:`skdeep._mlp`, :mod:`skdeep._cnn`, :mod:`skdeep._user_module`); together
    they implement the abstract methods below. Every ``fit`` and
    ``partial_fit`` call turns the parameters into a training configuration
    (:func:`skdeep._config.training_config`), so a ``set_params`` between
    calls takes effect where scikit-learn's MLP honours it.
    """

    #: whether cuda_graph="auto" captures this estimator's module (skdeep's own
    #: modules are tested to be capturable; a user's module may not be)
    _own_module = True

    _parameter_constraints: dict = {
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
        "l1": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "compile": ["boolean", StrOptions({"default", "reduce-overhead", "max-autotune"})],
        "cuda_graph": ["boolean", StrOptions({"auto"})],
        "checkpoint": [None, str, os.PathLike],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
    }

    # -- what subclasses provide ------------------------------------------------
    # A task base (skdeep._tasks) provides the target encoding, loss, validation
    # score and output non-linearity; an architecture (skdeep._mlp, skdeep._cnn,
    # skdeep._user_module) builds the module.

    #: whether y must be numeric (regression) or may hold any labels (classification)
    _y_numeric: bool

    @abstractmethod
    def _build_module(self, n_features, n_outputs, device, random_state):
        """Return the untrained :class:`torch.nn.Module`, which maps a batch to raw outputs.

        Called by every ``fit`` that starts a network (and by warm fits, which
        then load the previous weights). ``n_features`` counts the values of one
        sample, ``n_outputs`` the output units; ``random_state`` (a numpy
        ``RandomState``) may draw the initial weights, as scikit-learn's MLP
        does; torch's own initialisers are seeded already.
        """

    @abstractmethod
    def _encode_targets(self, y, *, reset, incremental, classes):
        """Validate ``y`` and return it encoded for :meth:`_target_array`.

        With ``reset`` (a new fit), set ``n_outputs_`` and ``out_activation_``
        (and ``classes_``) from ``y`` or ``classes``; otherwise check ``y``
        against them, as a warm fit (``incremental=False``) or a ``partial_fit``
        (``incremental=True``) requires.
        """

    @abstractmethod
    def _target_array(self, y, dtype):
        """The encoded targets as the numpy array that the loss takes, in ``dtype`` where they are values."""

    @abstractmethod
    def _class_sample_weight(self, y):
        """Per-sample weights from ``class_weight`` for the encoded ``y`` (1.0 for none)."""

    @abstractmethod
    def _stratify_by(self, y):
        """Labels that the early-stopping split is stratified by, or None."""

    @abstractmethod
    def _loss_kind(self):
        """The :class:`skdeep.modules.SklearnLoss` kind that trains the network."""

    @abstractmethod
    def _validation_scorer(self):
        """A function ``score(net, dataset)`` of the validation set's score (higher is better).

        It must not be a bound method of the estimator: the net holds it
        during training.
        """

    @abstractmethod
    def _predict_nonlinearity(self):
        """The function that ``net_.predict_proba`` applies to raw outputs (picklable)."""

    def _module_input_shape(self):
        """Shape of one sample in the batches the module gets: as seen at fit."""
        return tuple(self.input_shape_)

    # -- scikit-learn protocol --------------------------------------------------

    def __getstate__(self):
        # plain values and numpy arrays: the net is rebuilt on loading (see skdeep._persistence)
        return estimator_state(super().__getstate__())

    def __setstate__(self, state):
        restore_estimator(self, state)

    def __copy__(self):
        # a shallow copy shares the net, as copy.copy of any object shares its attributes (scikit-learn's
        # callbacks copy the estimator at every epoch): it need not go through the saved state
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self.__dict__)
        return copied

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
        """Weight matrices of the dense layers, each of shape (n_in, n_out), in the dtype of X at fit."""
        return [self._as_fit_dtype(layer.weight.detach().T) for layer in self._linear_layers()]

    @property
    def intercepts_(self):
        """Bias vectors of the dense layers, each of shape (n_out,), in the dtype of X at fit."""
        return [self._as_fit_dtype(layer.bias.detach()) for layer in self._linear_layers()]

    def _linear_layers(self):
        check_is_fitted(self)
        return [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]

    def _as_fit_dtype(self, tensor):
        return tensor.cpu().double().numpy().astype(self._fit_dtype, copy=False)

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

    #: fitted state without a trailing underscore (scikit-learn's names), removed with the rest
    _PRIVATE_FITTED = ("_random_state", "_no_improvement_count", "_fit_dtype", "_built_with")

    def _fit(self, X, y, sample_weight, *, incremental, classes=None):
        if incremental and self.early_stopping:  # scikit-learn's rule and message
            raise ValueError("partial_fit does not support early_stopping=True")
        reset = not ((incremental or self.warm_start) and self.__sklearn_is_fitted__())
        fitted = self.__sklearn_is_fitted__()
        before = _FittedState(self, continuing=incremental and not reset) if fitted else None
        if reset:
            self._forget_fit()  # nothing of a previous fit may leak into this one
        try:
            X, y, sample_weight = self._validate_training_data(X, y, sample_weight, reset, incremental, classes)
            interrupt = self._train(X, y, sample_weight, reset, incremental)
        except BaseException as error:
            # a failed call never looks fitted, and never loses the model trained before it
            self._forget_fit() if before is None else before.restore(self)
            if _out_of_memory(error):
                raise _with_memory_advice(error, self, unfitted=before is None) from error
            raise
        if interrupt is not None:  # the finished epochs are kept; the caller stops
            raise interrupt
        return self

    def _forget_fit(self):
        """Remove every fitted attribute, so that a failed fit does not look fitted."""
        for name in [key for key in vars(self) if _is_fitted_attribute(key, self)]:
            delattr(self, name)

    def _validate_training_data(self, X, y, sample_weight, reset, incremental, classes):
        if is_dask_collection(X):
            X, y = self._validate_block_rows(X, y, reset=reset)
            sample_weight = row_blocks(sample_weight).compute() if is_dask_collection(sample_weight) else sample_weight
        else:
            X, y = self._validate_X_y(X, y, reset=reset)
        if reset:
            self._fit_dtype = X.dtype  # coefs_ and outputs keep X's dtype, as scikit-learn's
        y = self._encode_targets(y, reset=reset, incremental=incremental, classes=classes)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        class_weight = self._class_sample_weight(y)
        if not np.all(np.isfinite(class_weight) & (np.asarray(class_weight) >= 0)):
            raise ValueError(f"The 'class_weight' parameter must give finite, non-negative weights; "
                             f"got {getattr(self, 'class_weight', None)!r}.")
        sample_weight = sample_weight * class_weight
        if not np.any(sample_weight > 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return X, y, sample_weight

    def _validate_X_y(self, X, y, *, reset):
        """Validate training data; samples of more than one dimension are flattened."""
        X, sample_shape = _flatten_samples(X)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=self._y_numeric, reset=reset, **_X_CHECKS)
        self._check_sample_shape(X, sample_shape, reset=reset)
        return X, y

    def _validate_block_rows(self, X, y, *, reset):
        """Validate a dask X without computing it (its blocks are checked as they are computed), and y."""
        if getattr(self, "categorical_features", None) is not None:
            raise ValueError("categorical_features needs X in memory (a DataFrame or an array), not a dask collection.")
        names = np.asarray(X.columns, dtype=object) if hasattr(X, "columns") else None
        rows = row_blocks(X)
        if rows.ndim != 2:
            raise ValueError(f"Expected a 2-D dask array or a dask DataFrame for X, got {rows.ndim} dimension(s).")
        if np.isnan(rows.shape[0]):  # (dask's own advice)
            raise ValueError("X is a dask array whose blocks have unknown sizes (after boolean indexing, for "
                             "instance), which training needs to pair its rows with y: call X.compute_chunk_sizes() "
                             "first.")
        if reset:
            self.n_features_in_ = rows.shape[1]
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif rows.shape[1] != self.n_features_in_:  # scikit-learn's message
            raise ValueError(f"X has {rows.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        y = check_array(row_blocks(y).compute() if is_dask_collection(y) else y, ensure_2d=False, dtype=None)
        if len(y) != rows.shape[0]:
            raise ValueError(f"X has {rows.shape[0]} samples but y has {len(y)}.")
        rows = BlockRows(rows)
        self._check_sample_shape(rows, None, reset=reset)
        return rows, y

    def _validate_X(self, X):
        """Validate data to predict on, against what fit saw."""
        if _valid_small_rows(X, self):
            return X
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

    def _make_datasets(self, X, y, sample_weight, dtype, early_stopping):
        if self._y_numeric:
            check_representable(y, dtype, "y", "scale the targets (for example with "
                                "sklearn.compose.TransformedTargetRegressor)")
        target = shared_tensor(self._target_array(y, dtype))
        weight = None
        if not np.all(sample_weight == 1.0):
            check_representable(sample_weight, dtype, "sample_weight", "rescale the weights", positive=True)
            weight = torch.from_numpy(sample_weight.astype(dtype_to_numpy(dtype)))
        if isinstance(X, BlockRows):
            if early_stopping:
                raise ValueError("early_stopping=True holds out a validation set, which X streamed in blocks from a "
                                 "dask collection does not provide: compute X, or train without early stopping.")
            return BlockDataset(X, target, weight, dtype, self._module_input_shape()), None
        source = as_tensor_source(X, dtype, self._module_input_shape(), training=True)
        dataset = ArrayDataset(source, target, weight, dtype)
        if not early_stopping:
            return dataset, None
        if self.validation_fraction == 0:
            raise ValueError("early_stopping=True holds out validation_fraction of the training data: "
                             "the 'validation_fraction' parameter must be in (0, 1); got 0.")
        try:
            train_index, valid_index = train_test_split(
                np.arange(X.shape[0]),
                test_size=self.validation_fraction,
                random_state=self._random_state,
                stratify=self._stratify_by(y),
            )
        except ValueError as error:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={self.validation_fraction} of the "
                f"training data, stratified by class, which fails here: {error}"
            ) from error
        if len(valid_index) < 2:  # scikit-learn's rule and message
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        return dataset.subset(torch.from_numpy(train_index)), dataset.subset(torch.from_numpy(valid_index))

    def _convergence_state(self, reset):
        """The stopping rule's curves and counts that this call goes on from."""
        if reset or self.solver == "lbfgs":
            return StoppingProgress()
        best_loss = getattr(self, "best_loss_", None)  # (after lbfgs, none of these exists yet)
        best_score = getattr(self, "best_validation_score_", None)
        return StoppingProgress(
            loss_curve=list(getattr(self, "loss_curve_", [])),
            validation_scores=list(getattr(self, "validation_scores_", None) or []),
            best_loss=np.inf if best_loss is None else best_loss,
            best_validation_score=-np.inf if best_score is None else best_score,
            no_improvement_count=getattr(self, "_no_improvement_count", 0),
        )

    def _seeded_module(self, n_features, device, dtype, *, initial):
        """Build a new module, its torch initialisers seeded from the random state.

        scikit-learn's MLP draws its initial weights from the random state
        before anything else, and skdeep's MLPs do the same: torch's seed is
        derived from a copy of ``_random_state`` (hashed, so that it differs
        from the training seed drawn next), which is left as it was. A warm
        fit (``initial=False``), whose weights come from the previous fit,
        draws nothing.
        """
        peek = copy.deepcopy(self._random_state)
        seed = int(np.random.SeedSequence(peek.randint(np.iinfo(np.int32).max)).generate_state(1)[0])
        with seeded_torch(seed, device):
            module = self._build_module(n_features, self.n_outputs_, device,
                                        self._random_state if initial else peek)
        return module.to(device=device, dtype=dtype)

    def _new_net(self, config, module, device):
        """A skorch net that trains ``module`` by ``config``."""
        return SkdeepNet(
            module=module,
            criterion=SklearnLoss(self._loss_kind()),
            optimizer=config.optimizer,
            lr=config.lr,
            batch_size=config.batch_size,
            train_split=None,
            n_outputs=self.n_outputs_,
            device=device,
            verbose=0,
            predict_nonlinearity=self._predict_nonlinearity(),
            **_compile_options(self.compile),
        ).configure(config).initialize()

    def _train(self, X, y, sample_weight, reset, incremental):
        """Train on validated data; return a KeyboardInterrupt to raise once the finished epochs are kept."""
        # as scikit-learn's MLP, at every call (the global numpy random state is never drawn from)
        data_parallel = DataParallel.current()
        if data_parallel is not None:
            data_parallel.check_same_data(X, y, sample_weight)
        checkpoint = self._checkpoint(X, y, sample_weight, reset, incremental, data_parallel)
        self._random_state = (
            check_random_state(self.random_state)
            if self.random_state is not None
            else np.random.RandomState(np.random.SeedSequence().generate_state(4) if data_parallel is None
                                       else data_parallel.agreed_entropy())  # rank 0's draws on every rank
        )
        saved = None if checkpoint is None else checkpoint.resume(self._random_state)  # an interrupted fit's state
        if checkpoint is not None and data_parallel is not None:
            data_parallel.check_agreement(
                -1 if saved is None else saved["epoch"],
                f"the epoch to resume from checkpoint={str(self.checkpoint)!r} (rank 0 writes it: every rank must "
                "read it from storage they share)")
        continuing = incremental and not reset  # partial_fit: the running optimizer goes on
        device = self.device_ if continuing else resolve_device(self.device)
        dtype = PRECISIONS[self.precision][0] if not continuing else next(self.module_.parameters()).dtype
        module = None if continuing else self._seeded_module(X.shape[1], device, dtype, initial=reset)
        # scikit-learn holds a validation set out for the stochastic solvers only
        early_stopping = self.early_stopping and not incremental and self.solver in STOCHASTIC_SOLVERS
        train_data, valid_data = self._make_datasets(X, y, sample_weight, dtype, early_stopping)
        train_data = place_on_device(train_data, device)
        validation = None
        if early_stopping:
            validation = (place_on_device(valid_data, device), self._validation_scorer())
        mean_weight = 1.0 if train_data.sample_weight is None else float(train_data.sample_weight.mean())
        state = self._convergence_state(reset)
        config = training_config(self, n_train=len(train_data), mean_weight=mean_weight, device=device,
                                  incremental=incremental, state=state, validation=validation,
                                  data_parallel=data_parallel, checkpoint=checkpoint)
        _check_batch_norm_batches(self.module_ if continuing else module, len(train_data), config.batch_size,
                                  ranks=1 if config.data_parallel is None else config.data_parallel.world_size)
        seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        if continuing:
            net = self.net_.configure(config)
        else:
            net = self._new_net(config, module, device)
            if not reset:  # a warm start: the new optimizer and schedule start from the previous weights
                _continue_training(net, self.net_)
        # what the net is built from, to rebuild it from on loading whatever set_params changes later (set
        # before training: scikit-learn's callbacks save copies of the estimator at each epoch); a continued
        # partial_fit keeps the module, and builds a new optimizer after the solver changed
        self._built_with = ({**self._built_with, "solver": self.solver} if continuing
                            else copy.deepcopy(self.get_params(deep=False)))
        net.generator = torch.Generator().manual_seed(seed)  # the shuffling's, the estimator's own
        with seeded_training(seed, device, net.module_, own_module=self._own_module):
            epochs_before = len(net.history)
            curves_before = len(state.loss_curve), len(state.validation_scores)
            if saved is not None:  # the interrupted fit's epochs count as this fit's
                config.epochs -= checkpoint.restore(net, saved)
            interrupt = None
            try:
                self._run_training(net, config, train_data, X, y)
            except KeyboardInterrupt as error:
                finished = len(net.history) - epochs_before  # (the net has undone the interrupted epoch)
                if not finished:
                    raise  # no epoch finished: the estimator goes back to how it was
                interrupt = error  # keep the finished epochs (as Keras does), then stop the caller
                del state.loss_curve[curves_before[0] + finished:]
                del state.validation_scores[curves_before[1] + finished:]
        check_finite_weights(net, self.solver)
        self._record_training(net, config, state, epochs_before, len(train_data), reset, incremental)
        if checkpoint is not None and interrupt is None:  # the fitted estimator is the result now
            checkpoint.remove()
        return interrupt

    def _checkpoint(self, X, y, sample_weight, reset, incremental, data_parallel):
        """The :class:`skdeep._checkpoint.TrainingCheckpoint` of this call, or None without ``checkpoint``."""
        if self.checkpoint is None:
            return None
        if self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError(f"checkpoint={self.checkpoint!r} needs a stochastic solver: solver='lbfgs' runs all its "
                             "iterations in one step, with no epoch to resume from. Set checkpoint=None.")
        if incremental or not reset:
            call = "partial_fit" if incremental else "A warm fit (warm_start=True)"
            raise ValueError(f"{call} does not support checkpoint={self.checkpoint!r}: a checkpoint resumes a fit "
                             "that trains a new network, while this call continues the model held in this "
                             "process. Set checkpoint=None, and pickle the estimator between calls instead.")
        checkpoint = TrainingCheckpoint(self.checkpoint, self.checkpoint_every, fit_identity(self, X, y, sample_weight),
                                        own_module=self._own_module,
                                        writes=data_parallel is None or data_parallel.rank == 0)
        if checkpoint.writes:
            checkpoint.check_writable()
        return checkpoint

    def _run_training(self, net, config, train_data, X, y):
        """Train ``net`` for ``config.epochs``, reporting to scikit-learn's callbacks."""
        bridge = dict(net.callbacks_)["sklearn_callbacks"]
        bridge.context = self._begin_callback_task(config.epochs, X, y)
        bridge.estimator = self
        try:
            with torch_threads(net.module_, config.batch_size):
                net.train_epochs(train_data, config.epochs)
        finally:
            context, bridge.context, bridge.estimator = bridge.context, None, None
        if context is not None:
            context.call_on_fit_task_end(estimator=self, X=X, y=y, reconstruction_attributes=lambda: {"net_": net})

    def _begin_callback_task(self, epochs, X, y):
        """Open the fit's task for scikit-learn's callbacks (None before scikit-learn 1.9)."""
        if not hasattr(self, "_init_callback_context"):
            return None
        context = self._init_callback_context(max_subtasks=epochs)
        context.call_on_fit_task_begin(estimator=self, X=X, y=y)
        return context

    def _record_training(self, net, config, state, epochs_before, n_train, reset, incremental):
        self.net_ = net
        epochs = len(net.history) - epochs_before
        stochastic = self.solver in STOCHASTIC_SOLVERS
        self.t_ = (0 if reset else self.t_) + (epochs * n_train if stochastic else 0)  # scikit-learn's count
        self.history_ = history_frame(net.history)
        monitor = dict(net.callbacks_).get("convergence")
        if monitor is None:  # lbfgs: one call of the optimizer runs all its iterations
            self._record_lbfgs(net, config)
            return
        self.n_iter_ = epochs
        self.loss_curve_ = list(state.loss_curve)
        self.loss_ = self.loss_curve_[-1]
        self._no_improvement_count = state.no_improvement_count
        if self.early_stopping and not incremental:
            self.validation_scores_ = list(state.validation_scores)
            self.best_validation_score_ = state.best_validation_score
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = state.best_loss
        if not incremental and not monitor.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    def _record_lbfgs(self, net, config):
        result = net.optimizer_.result
        self.n_iter_ = result["n_iter"]
        penalty = config.penalty.value(config.penalty.weights(net.module_))
        self.loss_ = self.best_loss_ = float(net.history[-1]["train_loss"]) + penalty
        if result["status"] != 0:  # as scikit-learn's warning
            advice = (f" Increase the number of iterations (max_iter={self.max_iter}) or scale the data."
                      if self.n_iter_ == self.max_iter else "")
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result['status']}):\n"
                f"{result['message']}\n{advice}",
                ConvergenceWarning,
            )

    # -- prediction ---------------------------------------------------------------

    def _raw_predict(self, X, transform=None):
        """Raw network outputs for X, of shape (n_samples, n_outputs).

        ``transform``, a function of the float64 outputs (probabilities,
        say), gets a numpy array when they are on the CPU (numpy's operations
        are faster there) and a tensor on the device otherwise, to run there
        before the copy back; it may modify its input in place. The result
        has the dtype scikit-learn's MLP gives: that of X at fit, promoted
        with X's.
        """
        if not self.__sklearn_is_fitted__():  # (sklearn's check reads the tags first: 5 µs)
            check_is_fitted(self)
        X = self._validate_X(X)
        dtype = next(self.module_.parameters()).dtype
        dataset = ArrayDataset(as_tensor_source(X, dtype, self._module_input_shape()), dtype=dtype)
        # on a GPU: X goes over once when it fits, outputs are gathered there and
        # copied back once, instead of a synchronising copy per batch
        dataset = place_on_device(dataset, self.device_)
        with torch.inference_mode(), torch_threads(self.module_, min(X.shape[0], PREDICT_BATCH_SIZE)):
            output = self.net_.forward(dataset, device=self.device_)
            if output.device.type == "cpu":
                # a copy: the module's output may be a view of X or of its own weights, which the
                # in-place transforms must not write to
                output = output.numpy().astype(np.float64)
                finite = np.isfinite(output).all(axis=1)
            else:
                output = output.double()
                finite = torch.isfinite(output).all(dim=1).cpu().numpy()
            self._check_outputs(output, finite, X.shape[0])
            if transform is not None:
                output = transform(output)
        output = output if isinstance(output, np.ndarray) else output.cpu().numpy()
        return output.astype(np.result_type(self._fit_dtype, X.dtype), copy=False)

    def _check_outputs(self, output, finite, n_samples):
        """Refuse module outputs of the wrong shape or with non-finite rows (``finite``: one flag per row)."""
        if output.shape != (n_samples, self.n_outputs_):
            raise ValueError(
                f"The module returned outputs of shape {tuple(output.shape)} for {n_samples} samples; "
                f"{type(self).__name__} needs shape ({n_samples}, {self.n_outputs_})."
            )
        if not finite.all():
            raise ValueError(
                f"The network's output is not finite (NaN or inf) for {int((~finite).sum())} of the "
                f"{len(finite)} samples in X, so {type(self).__name__} cannot predict them. Check X for "
                "extreme values (it must be scaled as the training data was), and a module of your own "
                "for operations that give NaN."
            )


def _continue_training(net, previous):
    """Carry a fitted net's weights and history over to ``net`` (the stopping state is the estimator's)."""
    try:
        net.module_.load_state_dict(previous.module_.state_dict())
    except RuntimeError as error:
        raise ValueError(
            "warm_start=True continues from the previous fit's weights, so the network's "
            "architecture must stay the same between fits; set warm_start=False to train "
            f"a new network.\n{error}"
        ) from error
    net.history = copy.deepcopy(previous.history)  # the previous net stays as it was, should this fit fail


class _FittedState:
    """An estimator's fitted state before a continuing call (a warm fit or ``partial_fit``), to restore on failure.

    A warm fit trains a new net and leaves the previous one as it was, so its
    fitted attributes are enough; ``partial_fit`` trains the same net on, so
    the module's weights, the optimizer's state and the history's length are
    kept too (one copy of the weights and of the optimizer's state per call).
    """

    def __init__(self, estimator, *, continuing):
        self.attributes = {name: value for name, value in vars(estimator).items()
                           if _is_fitted_attribute(name, estimator)}
        net = estimator.net_
        self.history_length = len(net.history)
        self.optimizer = net.optimizer_
        self.weights = self.optimizer_state = None
        if continuing:
            self.weights = {key: tensor.detach().clone() for key, tensor in net.module_.state_dict().items()}
            self.optimizer_state = _copy_optimizer_state(net.optimizer_.state_dict())

    def restore(self, estimator):
        """Put ``estimator`` back as it was when this state was taken."""
        estimator._forget_fit()
        vars(estimator).update(self.attributes)
        net = estimator.net_
        del net.history[self.history_length:]
        if self.weights is not None:
            net.module_.load_state_dict(self.weights)
            net.optimizer_ = self.optimizer
            net.optimizer_.load_state_dict(self.optimizer_state)


def _copy_optimizer_state(state_dict):
    """A copy of an optimizer's ``state_dict`` (its tensors cloned: faster than a deep copy)."""
    return {
        "state": {key: {name: value.clone() if torch.is_tensor(value) else copy.deepcopy(value)
                        for name, value in state.items()}
                  for key, state in state_dict["state"].items()},
        "param_groups": copy.deepcopy(state_dict["param_groups"]),
    }


def _check_batch_norm_batches(module, n_train, batch_size, *, ranks=1):
    """Refuse training batches (or ranks' shares of them) of one sample for a module with batch normalisation.

    A last batch of one sample is folded into the one before; data-parallel
    ranks normalise their own share of each batch.
    """
    if not any(isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for layer in module.modules()):
        return
    if batch_size < 2:  # (the batch size, clipped to the training samples)
        raise ValueError(
            "batch_norm=True normalises each batch by its own statistics, which one sample does not have: "
            f"got {n_train} training sample(s) and batch_size={batch_size!r}. Train on at least 2 samples "
            "with batch_size >= 2, or set batch_norm=False."
        )
    last = n_train % batch_size
    smallest = batch_size if last in (0, 1) else last  # (a last batch of one sample is folded into the one before)
    if smallest // ranks < 2:
        raise ValueError(
            f"batch_norm=True normalises each rank's share of a batch in data-parallel training: batches of "
            f"{smallest} rows (batch_size={batch_size}, {n_train} training samples) over {ranks} ranks leave "
            f"shares of fewer than 2 rows. Use a batch_size and a number of samples whose batches hold at least "
            f"{2 * ranks} rows, or set batch_norm=False."
        )


def _is_fitted_attribute(name, estimator):
    return (name.endswith("_") and not name.startswith("__")) or name in estimator._PRIVATE_FITTED


def _out_of_memory(error):
    """Whether ``error`` says that the CPU or a GPU ran out of memory."""
    return (isinstance(error, (torch.OutOfMemoryError, MemoryError))
            or (isinstance(error, RuntimeError) and "can't allocate memory" in str(error)))


def _with_memory_advice(error, estimator, *, unfitted):
    """``error`` again, of the same type, with advice on what to change."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    left = "left unfitted" if unfitted else "left as it was before this call"
    return type(error)(
        f"{error}\nThe {'device' if isinstance(error, torch.OutOfMemoryError) else 'machine'} ran out of "
        f"memory while training {type(estimator).__name__} (batch_size={estimator.batch_size!r}, "
        f"precision={estimator.precision!r}). Try a smaller batch_size, precision='bfloat16' (or "
        f"'float16'), a smaller network, or another device. The estimator was {left}."
    )


def _compile_options(compile):
    """skorch's options for ``torch.compile`` of the module (its ``compile`` and ``compile__``)."""
    if not compile:
        return {}
    return {"compile": True, **({"compile__mode": compile} if isinstance(compile, str) else {})}


_FLOAT_DTYPES = (np.float32, np.float64)
_X_CHECKS = dict(accept_sparse=("csr", "csc"), dtype=_FLOAT_DTYPES)


def _valid_small_rows(X, estimator, max_rows=PREDICT_BATCH_SIZE):
    """Whether X is a small float array that scikit-learn's validation would return unchanged.

    That is: a 2-D float32 or float64 ndarray of at most ``max_rows`` rows,
    finite, as wide as the data at fit, which had no feature names. Its
    validation (60 µs, checks meant for any container) is most of the time
    of a one-row prediction; any other X goes through it, and gets its
    errors and warnings.
    """
    return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES and 0 < X.shape[0] <= max_rows
            and X.shape[1] == estimator.n_features_in_ and not hasattr(estimator, "feature_names_in_")
            and bool(np.isfinite(X).all()))


def _flatten_samples(X):
    """Return X as 2-D rows, and the shape of one sample when it had more dimensions."""
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) <= 2 or sp.issparse(X):
        return X, None
    return np.asarray(X).reshape(shape[0], int(np.prod(shape[1:]))), tuple(shape[1:])


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

