"""The estimator base shared by every skdeep estimator.

A skdeep estimator is a plain scikit-learn estimator: ``__init__`` stores the
parameters, ``fit`` validates the data, builds a PyTorch module and a skorch
net (:class:`skdeep._net.SkdeepNet`) from the parameters, trains it, and keeps
it as ``net_``. Subclasses say what the task is (targets, loss, output
non-linearity; see :mod:`skdeep._tasks`) and which module to build.
"""

import copy
import os
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9 has no callback API

    class CallbackSupportMixin:
        """Stand-in on scikit-learn < 1.9: no ``set_callbacks``."""

from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from skdeep._advice import out_of_memory, with_memory_advice
from skdeep._callbacks import check_finite_outputs, check_finite_weights, training_callbacks
from skdeep._checkpoint import TrainingCheckpoint
from skdeep._dask import BlockDataset, BlockRows
from skdeep._data import (
    ArrayDataset,
    as_tensor_source,
    check_representable,
    dtype_to_numpy,
    place_on_device,
    shared_tensor,
)
from skdeep._device import resolve_device
from skdeep._distributed import DataParallel
from skdeep._net import SkdeepNet, optimizer_factory
from skdeep._optim import load_optimizer_state
from skdeep._outputs import network_outputs
from skdeep._persistence import estimator_state, restore_estimator
from skdeep._plan import PRECISIONS, STOCHASTIC_SOLVERS, DataSummary, TrainingCall, plan_net, plan_training
from skdeep._random import seeded_torch, seeded_training
from skdeep._record import record_training, stopping_progress
from skdeep._rollback import FittedSnapshot, forget_fit, roll_back
from skdeep._routing import RoutedParameters
from skdeep._run import TrainingRun
from skdeep._shelf import take_trained
from skdeep._threads import torch_threads
from skdeep._validation import check_split_weights, validate_training_data, validate_X, validate_X_y
from skdeep.modules import SklearnLoss


def store_parameters(estimator, parameters):
    """Store an ``__init__``'s arguments as attributes, as scikit-learn requires.

    Call it as ``store_parameters(self, locals())`` first in ``__init__``;
    the routed parameters of ``**routed_params`` (skorch's
    ``<part>__<argument>``) are stored under their own names.
    """
    for name, value in parameters.items():
        if name == "routed_params":
            estimator._store_routed(value)
        elif name not in ("self", "__class__"):
            setattr(estimator, name, value)


class BaseNeuralEstimator(CallbackSupportMixin, RoutedParameters, ABC):
    """Shared fit/partial_fit/predict machinery of skdeep's estimators.

    Not for direct use: a public estimator combines a task base of
    :mod:`skdeep._tasks` (classification, regression) with an architecture
    (:mod:`skdeep._mlp`, :mod:`skdeep._cnn`, :mod:`skdeep._user_module`); together
    they implement the abstract methods below. Every ``fit`` and
    ``partial_fit`` call reads as: validate the data, plan the call
    (:func:`skdeep._plan.plan_training`, every decision made once from the
    parameters, so a ``set_params`` between calls takes effect where
    scikit-learn's MLP honours it), build the module and the net, train,
    record the fitted attributes.
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
        "callbacks": [list, None],
        "optimizer": [type, None],
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

    def _encoded_classes(self):
        """The encoded classes of a binary or multiclass classifier, as its net knows them (None otherwise)."""
        return None

    @abstractmethod
    def _predict_targets(self):
        """What ``net_.predict`` makes of ``net_.predict_proba``'s output: encoded targets (picklable, or None)."""

    def _draws_only_in_dropout(self):
        """Whether training draws random numbers only in the dropout of skdeep's modules.

        A user's module, or an ``augment`` function, may draw from torch's
        global generators anywhere: they are seeded (and saved in a
        checkpoint) then.
        """
        return self._own_module and getattr(self, "augment", None) is None

    def _criterion(self):
        """The loss module the net trains with: scikit-learn's loss of the task."""
        return SklearnLoss(self._loss_kind())

    def _criterion_on(self, module, device):
        """:meth:`_criterion` on ``device``, in the dtype of ``module``'s weights (a loss may hold weights too)."""
        return self._criterion().to(device=device, dtype=next(module.parameters()).dtype)

    def _module_input_shape(self):
        """Shape of one sample in the batches the module gets: as seen at fit."""
        return tuple(self.input_shape_)

    # -- scikit-learn protocol --------------------------------------------------

    def __getstate__(self):
        # plain values and numpy arrays: the net is rebuilt on loading (see skdeep._persistence and _rebuild_net)
        return estimator_state(super().__getstate__())

    def __setstate__(self, state):
        restore_estimator(self, state, rebuild_net=self._rebuild_net)

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
        if take_trained(self, X, y, sample_weight):  # trained already, in a stacked search's pack
            return self
        return self._fit(X, y, sample_weight, incremental=False)

    # -- fitting ----------------------------------------------------------------

    #: fitted state without a trailing underscore (scikit-learn's names), removed with the rest
    _PRIVATE_FITTED = ("_random_state", "_no_improvement_count", "_fit_dtype", "_built_with")

    def _fit(self, X, y, sample_weight, *, incremental, classes=None):
        fitted = self.__sklearn_is_fitted__()
        reset = not ((incremental or self.warm_start) and fitted)
        # a failed call never looks fitted, and never loses the model trained before it
        snapshot = FittedSnapshot(self, continuing=incremental and not reset) if fitted else None
        if reset:
            forget_fit(self)  # nothing of a previous fit may leak into this one
        try:
            X, y, sample_weight = validate_training_data(self, X, y, sample_weight, reset=reset)
            if reset:
                self._fit_dtype = X.dtype  # coefs_ and outputs keep X's dtype, as scikit-learn's
            y = self._encode_targets(y, reset=reset, incremental=incremental, classes=classes)
            interrupt = self._train(X, y, self._weights(y, sample_weight), incremental=incremental, reset=reset)
        except BaseException as error:
            roll_back(self, snapshot)
            if out_of_memory(error):
                raise with_memory_advice(error, self, unfitted=snapshot is None) from error
            raise
        if interrupt is not None:  # the finished epochs are kept; the caller stops
            raise interrupt
        return self

    def _weights(self, y, sample_weight):
        """The sample weights times the class weights of the encoded ``y``."""
        class_weight = self._class_sample_weight(y)
        if not np.all(np.isfinite(class_weight) & (np.asarray(class_weight) >= 0)):
            raise ValueError(f"The 'class_weight' parameter must give finite, non-negative weights; "
                             f"got {getattr(self, 'class_weight', None)!r}.")
        sample_weight = sample_weight * class_weight
        if not np.any(sample_weight > 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sample_weight

    def _validate_X_y(self, X, y, *, reset):
        """Validate training data in memory (a hook: the MLPs encode categorical columns here)."""
        return validate_X_y(self, X, y, reset=reset)

    def _validate_X(self, X):
        """Validate data to predict on, against what fit saw (a hook, as :meth:`_validate_X_y`)."""
        return validate_X(self, X)

    def _train(self, X, y, sample_weight, *, incremental, reset):
        """Plan, build and train on validated data; return a KeyboardInterrupt to raise once the epochs are kept."""
        run = self._prepare_run(X, y, sample_weight, incremental=incremental, reset=reset)
        net = run.net
        with seeded_training(run.seed, net.device, net.module_, own_module=self._draws_only_in_dropout()):
            # the interrupted fit's epochs count as this fit's
            epochs = run.plan.epochs - (0 if run.saved is None else run.checkpoint.restore(net, run.saved))
            interrupt = self._run_epochs(net, epochs, run.train_data, run.validation, run.progress, X, y)
        self._record_run(run, interrupt)
        return interrupt

    def _prepare_fit(self, X, y, sample_weight=None):
        """Validate the data of a new ``fit`` and build what trains it, without training: a :class:`TrainingRun`.

        Another trainer (skdeep's stacked searches) trains the run's net as
        this estimator's ``fit`` would, then hands it back to
        :meth:`_record_run`. The estimator is left unfitted until then.
        """
        self._validate_params()  # (as fit's scikit-learn wrapper does)
        forget_fit(self)
        X, y, sample_weight = validate_training_data(self, X, y, sample_weight, reset=True)
        self._fit_dtype = X.dtype
        y = self._encode_targets(y, reset=True, incremental=False, classes=None)
        return self._prepare_run(X, y, self._weights(y, sample_weight), incremental=False, reset=True)

    def _prepare_run(self, X, y, sample_weight, *, incremental, reset):
        """Plan the call, build its module, net, datasets and callbacks: everything but the epochs."""
        data_parallel = DataParallel.current()
        if data_parallel is not None:
            data_parallel.check_same_data(X, y, sample_weight)
        call = self._training_call(incremental, reset, data_parallel)
        device = self.device_ if call.continues_optimizer else resolve_device(self.device)
        data = DataSummary(X.shape[0], isinstance(X, BlockRows), np.result_type(self._fit_dtype, X.dtype))
        plan = plan_training(self.get_params(deep=False), data, call, device)
        checkpoint = None if plan.checkpoint is None else TrainingCheckpoint.for_fit(
            self, X, y, sample_weight, data_parallel if plan.data_parallel else None)
        self._random_state = self._training_random_state(data_parallel)
        saved = None if checkpoint is None else checkpoint.resume(self._random_state)  # an interrupted fit's state
        module = self.module_ if call.continues_optimizer else self._seeded_module(
            X.shape[1], device, plan.dtype, initial=not call.continues)
        plan = plan.for_module(module)
        train_data, validation = self._datasets(X, y, sample_weight, plan, device)
        progress = stopping_progress(self, plan, call)
        penalty = plan.penalty(1.0 if train_data.sample_weight is None
                               else float(train_data.sample_weight.double().mean()))
        seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        net = self._net_for(plan, call, module, device).configure(
            plan, penalty=penalty, data_parallel=data_parallel if plan.data_parallel else None,
            callbacks=training_callbacks(plan, penalty=penalty, progress=progress, validation=validation,
                                         checkpoint=checkpoint))
        self._record_build(call)
        net.generator = torch.Generator().manual_seed(seed)  # the shuffling's, the estimator's own
        return TrainingRun(plan=plan, call=call, data=data, net=net, train_data=train_data, validation=validation,
                           progress=progress, seed=seed, checkpoint=checkpoint, saved=saved,
                           epochs_before=len(net.history))

    def _record_run(self, run, interrupt=None):
        """Check the trained net of ``run`` and set the fitted attributes from it."""
        net, plan = run.net, run.plan
        epochs_before = run.epochs_before + net.epochs_loaded  # (a callback's checkpoint brought another fit's)
        check_finite_weights(net, plan.solver, epochs_before)
        if plan.output_check:
            self._check_trained_outputs(net, plan.solver, run.data.output_dtype,
                                        [run.train_data] + ([] if run.validation is None else [run.validation[0]]))
        record_training(self, net, plan, run.progress, run.call, epochs_before)
        if run.checkpoint is not None and interrupt is None:  # the fitted estimator is the result now
            run.checkpoint.remove()

    def _check_trained_outputs(self, net, solver, dtype, datasets):
        """Raise scikit-learn's divergence error where the predictions of ``net`` are not finite in ``dtype``.

        ``datasets`` hold the rows that ``net`` was fitted on, its validation
        set included (data streamed from dask is not read again).
        """
        datasets = [dataset for dataset in datasets if isinstance(dataset, ArrayDataset)]
        if datasets:
            finite = [network_outputs(net, dataset, dtype, self._predicted)[1] for dataset in datasets]
            check_finite_outputs(net, np.concatenate(finite), dtype, solver)

    def _training_call(self, incremental, reset, data_parallel):
        """What the plan needs to know of this call: its kind, what it goes on from, the ranks, the module's kind."""
        return TrainingCall(incremental=incremental, continues=not reset, samples_seen=getattr(self, "t_", 0),
                            module_dtype=None if reset or not incremental else next(self.module_.parameters()).dtype,
                            ranks=1 if data_parallel is None else data_parallel.world_size,
                            own_module=self._own_module)

    def _net_for(self, plan, call, module, device):
        """The net this call trains: the fitted one (a continued ``partial_fit``) or a new one around ``module``."""
        if call.continues_optimizer:  # (with the loss of the parameters as they are now)
            self.net_.criterion_ = self._criterion_on(module, device)
            return self.net_
        net = self._new_net(plan.net, module, device)
        if call.continues:  # a warm fit: a new optimizer and schedule, from the previous weights
            _continue_training(net, self.net_)
        return net

    def _training_random_state(self, data_parallel):
        """The random state of this call, as scikit-learn's MLP makes it (never drawing from numpy's global one)."""
        if self.random_state is not None:
            return check_random_state(self.random_state)
        return np.random.RandomState(np.random.SeedSequence().generate_state(4) if data_parallel is None
                                     else data_parallel.agreed_entropy())  # rank 0's draws on every rank

    def _datasets(self, X, y, sample_weight, plan, device):
        """The training set on ``device``, and the validation set with its score where the plan holds one out."""
        if self._y_numeric:
            check_representable(y, plan.dtype, "y", "scale the targets (for example with "
                                "sklearn.compose.TransformedTargetRegressor)")
        target = shared_tensor(self._target_array(y, plan.dtype))
        weight = None
        if not np.all(sample_weight == 1.0):
            check_representable(sample_weight, plan.dtype, "sample_weight", "rescale the weights", positive=True)
            weight = torch.from_numpy(sample_weight.astype(dtype_to_numpy(plan.dtype)))
        if isinstance(X, BlockRows):
            blocks = BlockDataset(X, target, weight, plan.dtype, self._module_input_shape())
            return place_on_device(blocks, device), None
        source = as_tensor_source(X, plan.dtype, self._module_input_shape(), training=True)
        dataset = ArrayDataset(source, target, weight, plan.dtype)
        if not plan.early_stopping:
            return place_on_device(dataset, device), None
        try:
            train_index, valid_index = train_test_split(np.arange(X.shape[0]), test_size=plan.validation_fraction,
                                                        random_state=self._random_state, stratify=self._stratify_by(y))
        except ValueError as error:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={plan.validation_fraction} of the "
                f"training data, stratified by class, which fails here: {error}"
            ) from error
        check_split_weights(sample_weight, train_index, valid_index, plan.validation_fraction)
        validation = place_on_device(dataset.subset(torch.from_numpy(valid_index)), device)
        return (place_on_device(dataset.subset(torch.from_numpy(train_index)), device),
                (validation, self._validation_scorer()))

    def _seeded_module(self, n_features, device, dtype, *, initial):
        """Build a new module, its torch initialisers seeded from the random state.

        scikit-learn's MLP draws its initial weights from the random state
        before anything else, and skdeep's MLPs do the same: torch's seed is
        derived from the next draw of ``_random_state`` (hashed, so that it
        differs from the training seed drawn next), which is then undone. A
        warm fit (``initial=False``), whose weights come from the previous
        fit, draws nothing: its state is restored after the build too.
        """
        random_state = self._random_state
        state = random_state.get_state(legacy=False)  # (restoring it is faster than deep-copying the random state)
        try:
            seed = int(np.random.SeedSequence(random_state.randint(np.iinfo(np.int32).max)).generate_state(1)[0])
            random_state.set_state(state)
            with seeded_torch(seed, device):
                module = self._build_module(n_features, self.n_outputs_, device, random_state)
        finally:
            if not initial:
                random_state.set_state(state)
        return module.to(device=device, dtype=dtype)

    def _new_net(self, net_plan, module, device):
        """An initialised skorch net around ``module``, as ``net_plan`` builds it (for fit and for loading)."""
        return SkdeepNet(
            module=module,
            criterion=self._criterion_on(module, device),
            optimizer=optimizer_factory(net_plan),
            lr=net_plan.lr,
            train_split=None,
            n_outputs=self.n_outputs_,
            device=device,
            verbose=0,
            predict_nonlinearity=self._predict_nonlinearity(),
            predict_targets=self._predict_targets(),
            classes=self._encoded_classes(),
            autocast=net_plan.autocast,
            **net_plan.compile_options,
        ).initialize()

    def _rebuild_net(self, saved):
        """The net of a loaded model, from its checked :class:`skdeep._persistence.SavedNet`, built as a fit builds one.

        The module is built as a warm fit builds it (torch's global random
        state is left as it was), then takes the saved weights; the optimizer
        takes the saved state.
        """
        module = self._seeded_module(self.n_features_in_, saved.device, saved.dtype, initial=False)
        module.load_state_dict(saved.weights)
        net = self._new_net(plan_net(self.get_params(deep=False), saved.device, own_module=self._own_module),
                            module, saved.device)
        net.batch_size = saved.batch_size
        load_optimizer_state(net.optimizer_, saved.optimizer)
        net.history = History(saved.history)
        module.eval()
        return net

    def _record_build(self, call):
        """Record the parameters the net is built from, to rebuild it from on loading whatever set_params changes.

        Recorded before training: scikit-learn's callbacks save copies of the
        estimator at each epoch. A continued ``partial_fit`` keeps the module,
        and builds a new optimizer after the solver changed.
        """
        params = self._net_parameters()
        if call.continues_optimizer:  # the optimizer's parameters alone may have changed
            params = {**self._built_with, **{name: value for name, value in params.items()
                                             if name in ("solver", "optimizer") or name.startswith("optimizer__")}}
        self._built_with = copy.deepcopy(params)

    def _net_parameters(self):
        """The parameters the net is built from: all but the callbacks, which may hold what cannot be copied."""
        return {name: value for name, value in self.get_params(deep=False).items()
                if name != "callbacks" and not name.startswith("callbacks__")}

    def _run_epochs(self, net, epochs, train_data, validation, progress, X, y):
        """Train ``net`` for up to ``epochs`` epochs, reporting to scikit-learn's callbacks.

        Returns a user's KeyboardInterrupt once at least one epoch finished
        (the finished epochs are kept, as Keras keeps them), None otherwise.
        """
        epochs_before = len(net.history)
        curves_before = len(progress.loss_curve), len(progress.validation_scores)
        bridge = dict(net.callbacks_)["sklearn_callbacks"]
        try:
            with bridge.reporting(self, net, epochs, X, y), torch_threads(net.module_, net.batch_size):
                net.train_epochs(train_data, epochs, dataset_valid=None if validation is None else validation[0])
        except KeyboardInterrupt as error:
            # (the net has undone the interrupted epoch)
            finished = len(net.history) - epochs_before - net.epochs_loaded
            if not finished:
                raise  # no epoch finished: the estimator goes back to how it was
            del progress.loss_curve[curves_before[0] + finished:]
            del progress.validation_scores[curves_before[1] + finished:]
            return error
        return None

    # -- prediction ---------------------------------------------------------------

    def _predicted(self, raw):
        """What ``predict`` makes of raw float64 outputs, before they take the dtype of predictions.

        A transform as :meth:`_raw_predict` takes it (a task may apply its
        output function): what a trained network must give finite on its
        training rows.
        """
        return raw

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
        output, finite = network_outputs(self.net_, dataset, np.result_type(self._fit_dtype, X.dtype), transform)
        if not finite.all():
            raise ValueError(
                f"The network's output is not finite (NaN or inf) in {output.dtype.name}, the dtype of the "
                f"predictions, for {int((~finite).sum())} of the {len(finite)} samples in X, so "
                f"{type(self).__name__} cannot predict them. Check X for extreme values (it must be scaled as the "
                "training data was), and a module of your own for operations that give NaN."
            )
        return output


def _continue_training(net, previous):
    """Carry a fitted net's weights and history over to ``net`` (the stopping progress is the estimator's)."""
    try:
        net.module_.load_state_dict(previous.module_.state_dict())
    except RuntimeError as error:
        raise ValueError(
            "warm_start=True continues from the previous fit's weights, so the network's "
            "architecture must stay the same between fits; set warm_start=False to train "
            f"a new network.\n{error}"
        ) from error
    net.history = copy.deepcopy(previous.history)  # the previous net stays as it was, should this fit fail
