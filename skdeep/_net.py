"""The skorch net that skdeep's estimators build and train.

It is skorch's :class:`~skorch.NeuralNet` with some of its extension points
overridden, each for a measured reason (see ``docs/benchmarks.md``):

- ``get_iterator`` serves batches sliced from whole tensors instead of skorch's
  per-sample ``Dataset`` and collate (see :mod:`skdeep._data`);
- ``get_dataset`` wraps arrays in skdeep's dataset, so that ``predict``,
  ``predict_proba`` and ``forward`` take arrays as a skorch net's do;
- ``get_loss`` passes the sample weights to the loss;
- ``train_step`` steps the optimizer directly, adds the penalty's gradient
  after backward (:class:`skdeep._penalty.WeightPenalty`; LBFGS, which needs
  a closure, gets one that adds the penalty to the loss its line search sees)
  and clears the gradients itself (the optimizer's ``zero_grad`` runs inside
  profiler and dynamo wrappers: a tenth of a small fit);
- ``run_single_epoch``, ``train_step_single`` and ``evaluation_step`` set the
  module's train/eval mode only when it changes rather than at every batch;
  ``run_single_epoch`` keeps the batch losses on the device, reads them back
  once per epoch (one device sync, not one per batch) and writes the epoch's
  history rows and mean ``train_loss`` itself (so ``on_batch_begin`` opens no
  row), unless the user gave callbacks: each batch then opens and fills its
  row as in skorch, and early stopping's validation set gets skorch's
  validation epoch;
- ``train_step`` applies the ``augment`` function to a copy of X of each
  training batch;
- ``__sklearn_tags__`` makes the net of a binary or multiclass classifier a
  classifier to scikit-learn's scorers;
- ``notify`` skips callbacks whose hook is :class:`~skorch.callbacks.Callback`'s
  no-op, and ``on_grad_computed`` is only built when a callback listens; a
  callback that ends training lets the others see the epoch first, and a
  ``KeyboardInterrupt`` that one of the user's callbacks raises at an epoch's
  end (skorch's ``EarlyStopping`` does) ends training as skorch's loop does;
- ``initialize_callbacks`` clears the cache of listeners that ``notify``
  reads, and ``initialize`` has skorch map the module and loss it was given
  as instances to the CPU when a GPU model is unpickled there;
- ``on_train_begin`` and ``on_train_end`` set up and drop what lives for one
  training call only (the loss scaler, the penalised weights, the captured
  CUDA graph, the thread choice), and ``on_epoch_begin`` opens the epoch's
  history row directly (skorch's indexing of the history copies its rows);
- ``record_epoch_losses`` writes an epoch's batch losses and their mean (for
  skdeep's own epoch loop, and for the stacked searches' packs);
- ``predict`` gives predictions in the space of the encoded targets (class
  indices, 0/1 labels), which skorch's scoring callbacks compare with the
  targets of skdeep's datasets;
- ``load_params`` takes safetensors files on a net whose device is a
  :class:`torch.device`;
- ``get_default_callbacks`` keeps only the epoch timer, which writes the
  epoch's row directly: skorch's ``PrintLog`` formats a table after every
  epoch even when silent (a fifth of a small fit's time), and
  ``PassthroughScoring`` re-reads the batch history;
- ``infer`` passes tensor batches (already on the device) straight to the
  module, runs the forward pass under autocast for mixed precision, and
  ``train_step`` scales float16 losses;
- on the CPU, ``run_single_epoch`` runs each training step on the threads
  that :class:`~skdeep._threads.BatchThreads` finds faster (the CPU share, or
  one thread while other programs compete for the cores);
- with ``cuda_graph``, ``run_single_epoch`` hands the training batches'
  row indices to a :class:`~skdeep._cuda_graph.CapturedTrainStep`, which replays
  the whole step as one CUDA graph;
- with ``compile`` or ``cuda_graph``, the outputs and losses that are kept
  beyond a step are cloned: CUDA graphs overwrite their outputs at the next
  replay.

Callbacks that define them still get every ``on_batch_begin`` /
``on_batch_end`` / ``on_grad_computed`` / ``on_epoch_*`` notification, with the
loss as a tensor (with ``cuda_graph``, ``on_batch_begin`` comes after the step:
a replayed batch is only gathered inside the graph; and a callback listening to
``on_grad_computed``, which runs mid-step on the host, turns the graph off).
"""

import warnings
from functools import partial

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import TeeGenerator

from skdeep._callbacks import RowEpochTimer, StopTraining, epoch_row
from skdeep._cuda_graph import CapturedTrainStep
from skdeep._dask import BlockDataset, BlockIterator
from skdeep._data import PREDICT_BATCH_SIZE, ArrayDataset, BatchIterator, as_tensor_source
from skdeep._optim import builds, make_optimizer, set_decoupled_weight_decay
from skdeep._routing import check_arguments
from skdeep._threads import BatchThreads


def optimizer_factory(net_plan):
    """What skorch calls with the module's parameter groups to build the optimizer of ``net_plan``."""
    return partial(make_optimizer, solver=net_plan.solver, optimizer=net_plan.optimizer, **net_plan.optimizer_options)


class SkdeepNet(NeuralNet):
    """skorch net with skdeep's data path, weighted loss and penalties.

    The training settings that scikit-learn re-reads at every ``fit`` and
    ``partial_fit`` call (batch size, penalty, callbacks, precision, CUDA
    graph) are set by :meth:`configure` from a
    :class:`skdeep._plan.TrainingPlan`.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`; ``module`` must return raw outputs,
        and ``criterion(raw, target, sample_weight)`` the batch's (weighted)
        mean loss, as :class:`skdeep.modules.SklearnLoss` does.
    shuffle : bool, default=True
        Reshuffle the training rows at each epoch (unless a batch holds them
        all: a permutation would then only change the order of a sum).
    fold_single_batch : bool, default=False
        Fold a last training batch of one row into the batch before it (batch
        normalisation cannot train on one row).
    generator : torch.Generator, default=None
        Source of the shuffling permutations.
    penalty : skdeep._penalty.WeightPenalty, default=None
        The L1 and L2 penalties on the weights (None: none).
    n_outputs : int, default=None
        The outputs the module must return per sample, checked at every
        loss (a shape check, free next to the loss); None checks nothing.
    autocast : torch.dtype or None, default=None
        Run the forward pass under :func:`torch.autocast` with this dtype
        (``torch.bfloat16`` or ``torch.float16``); the loss is computed in
        float32, and float16 gradients are loss-scaled.
    cuda_graph : bool or "auto", default=False
        On a GPU, with the training data on it, replay each full training
        batch's step as one captured CUDA graph (see :mod:`skdeep._cuda_graph`).
        The optimizer must be capturable, with its learning rate as a tensor.
        True warns when it cannot capture; "auto" trains without a graph
        quietly then.
    data_parallel : skdeep._distributed.DataParallel, default=None
        Train on this process's share of each batch and sum the gradients
        over a torch.distributed process group (see :mod:`skdeep._distributed`).
    augment : callable, default=None
        Applied to X of each training batch before its step.
    predict_targets : callable, default=None
        What :meth:`predict` makes of ``predict_proba``'s output: predictions
        in the space of the encoded targets (class indices, 0/1 labels), which
        skorch's scoring callbacks compare with a dataset's targets; None
        returns it as it is (regression).
    classes : ndarray or None, default=None
        The encoded classes of a binary or multiclass classifier
        (``0 ... n_classes - 1``), which make the net a classifier to
        scikit-learn's scorers (``roc_auc`` of binary targets reads the
        positive class's column); None for other tasks.

    Attributes
    ----------
    penalised_weights : list of torch.Tensor
        While training: the weights ``penalty`` applies to (empty without a
        penalty), from which callbacks compute its value.
    epochs_loaded : int
        The epochs of the history that a callback loaded at the start of the
        last training call (skorch's ``LoadInitState`` loads a checkpoint's).
    user_callbacks : list of skorch.callbacks.Callback
        The user's callbacks among ``callbacks_``.
    batch_rows : bool
        Whether each batch opens its history row when it begins and has its
        loss written in it before ``on_batch_end``, as skorch's loop does (for
        the user's callbacks, which may read or write these rows); otherwise
        the epoch's rows are written at its end, with one device sync.
    """

    def __init__(self, *args, shuffle=True, fold_single_batch=False, generator=None, penalty=None, n_outputs=None,
                 autocast=None, cuda_graph=False, data_parallel=None, augment=None, predict_targets=None,
                 classes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.augment = augment
        self.predict_targets = predict_targets
        self.classes_ = classes
        self.batch_rows = False
        self.user_callbacks = []
        self.epochs_loaded = 0
        self.data_parallel = data_parallel
        self.n_outputs = n_outputs
        self.shuffle = shuffle
        self.fold_single_batch = fold_single_batch
        self.generator = generator
        self.penalty = penalty
        self.autocast = autocast
        self.cuda_graph = cuda_graph
        self._grad_scaler = None
        self._captured_step = None
        self._batch_threads = None
        self.penalised_weights = []
        self._optimized_parameters = []

    def configure(self, plan, *, penalty, callbacks, data_parallel=None):
        """Take the settings of a :class:`skdeep._plan.TrainingPlan` for the next training call.

        The module, the optimizer and the history are kept: a continued
        ``partial_fit`` trains on with the same optimizer, as scikit-learn's,
        with AdamW's decay set to the current ``alpha``; only after the solver
        (or the ``optimizer`` class, or its ``optimizer__`` arguments) changed
        is a new optimizer built, as scikit-learn's MLP does when it has none
        of that solver.

        Parameters
        ----------
        plan : skdeep._plan.TrainingPlan
        penalty : skdeep._penalty.WeightPenalty
            The call's L1 and L2 penalties.
        callbacks : list
            The call's callbacks (:func:`skdeep._callbacks.training_callbacks`),
            the user's last, which ``callbacks__<name>__<argument>`` set.
        data_parallel : skdeep._distributed.DataParallel, default=None
            This process's part in data-parallel training, where the plan has some.

        Returns
        -------
        self : SkdeepNet
        """
        self.batch_size = plan.batch_size
        self.shuffle = plan.shuffle
        self.fold_single_batch = plan.fold_single_batch
        self.penalty = penalty
        self.autocast = plan.autocast
        self.cuda_graph = plan.net.cuda_graph
        self.data_parallel = data_parallel
        self.augment = plan.augment
        self.callbacks = callbacks
        self.batch_rows = bool(plan.callbacks)
        vars(self).update({f"callbacks__{name}__{argument}": value  # (skorch's initialize_callbacks sets them)
                           for name, arguments in plan.callback_arguments.items()
                           for argument, value in arguments.items()})
        if not self.initialized_:
            return self
        named = list(self._uniquely_named_callbacks())
        _check_callback_arguments(named[len(named) - len(plan.callbacks):], plan.callback_arguments)
        self.initialize_callbacks()
        self.user_callbacks = [callback for _, callback in self.callbacks_[len(self.callbacks_) - len(plan.callbacks):]]
        if not builds(self.optimizer_, plan.net):
            self.optimizer, self.lr = optimizer_factory(plan.net), plan.net.lr
            self.initialize_optimizer()
        set_decoupled_weight_decay(self.optimizer_, plan.net.decoupled_weight_decay)
        return self

    def train_epochs(self, dataset, epochs, dataset_valid=None):
        """Train for up to ``epochs`` epochs on ``dataset``: skorch's ``partial_fit`` and fit loop, made safe.

        A callback ends training early by raising
        :class:`skdeep._callbacks.StopTraining`; every other exception
        propagates, a user's ``KeyboardInterrupt`` included (skorch's loop
        swallows it). An interrupted epoch, its ``on_epoch_end`` callbacks
        included, is undone: the weights go back to those at the end of the
        last finished epoch and its history row is dropped (the estimator
        trims its curves to match). ``on_train_end`` runs in every case, and
        the module is left in evaluation mode.

        Parameters
        ----------
        dataset : skdeep._data.ArrayDataset
            The training data.
        epochs : int
            The most epochs to run.
        dataset_valid : skdeep._data.ArrayDataset, default=None
            The validation set of early stopping, which the epoch hooks get as
            ``dataset_valid`` (skorch's ``EpochScoring`` scores it).

        Returns
        -------
        self : SkdeepNet
        """
        before = len(self.history)
        self.notify("on_train_begin", X=dataset, y=None)
        # the epochs of another fit whose checkpoint a callback loaded (skorch's LoadInitState)
        self.epochs_loaded = len(self.history) - before
        try:
            self._run_epochs(dataset, epochs, dataset_valid)
        except StopTraining:
            pass
        finally:
            self.notify("on_train_end", X=dataset, y=None)
            if self.module_.training:
                self._set_training(False)
        return self

    def _run_epochs(self, dataset, epochs, dataset_valid):
        iterator = self.get_iterator(dataset, training=True)
        epoch_kwargs = {"dataset_train": dataset, "dataset_valid": dataset_valid}
        # to undo an interrupted epoch: the weights (and buffers) at its start, copied into one set of
        # tensors per call (a single fused copy per epoch), and the history's length
        state = [tensor.detach() for tensor in self.module_.state_dict(keep_vars=True).values()]
        at_epoch_start = [tensor.clone() for tensor in state]
        # the user's callbacks get skorch's validation epoch, with its losses and predictions
        validation = self.get_iterator(dataset_valid) if dataset_valid is not None and self.batch_rows else None
        for epoch in range(epochs):
            rows = len(self.history)
            if epoch:
                torch._foreach_copy_(at_epoch_start, state)
            try:
                self.notify("on_epoch_begin", **epoch_kwargs)
                self.run_single_epoch(iterator, training=True, prefix="train", step_fn=self.train_step)
                self.run_single_epoch(validation, training=False, prefix="valid", step_fn=self.validation_step)
                self.notify("on_epoch_end", **epoch_kwargs)  # an epoch ends once its records are written
            except KeyboardInterrupt:
                with torch.no_grad():
                    torch._foreach_copy_(state, at_epoch_start)
                del self.history[rows:]
                raise

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.classes_ is not None:
            tags.estimator_type = "classifier"
        return tags

    def predict(self, X):
        """Predictions for ``X`` in the space of the encoded targets (see ``predict_targets``).

        Parameters
        ----------
        X : ArrayDataset, array-like, torch.Tensor or scipy sparse matrix
            Samples as the module takes them.

        Returns
        -------
        y_pred : numpy.ndarray
        """
        outputs = self.predict_proba(X)
        return outputs if self.predict_targets is None else self.predict_targets(outputs)

    def get_dataset(self, X, y=None):
        """Wrap arrays in skdeep's dataset, in the module's dtype (datasets pass through).

        Parameters
        ----------
        X : Dataset, array-like, torch.Tensor or scipy sparse matrix
            Samples as the module takes them.
        y : array-like or torch.Tensor, default=None
            Targets.

        Returns
        -------
        dataset : torch.utils.data.Dataset
        """
        if isinstance(X, torch.utils.data.Dataset):
            return X
        dtype = next(self.module_.parameters()).dtype
        source = X if torch.is_tensor(X) else as_tensor_source(X, dtype)
        target = None if y is None else torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y)
        return ArrayDataset(source, target, dtype=dtype)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        # skorch's, writing the row directly (see skdeep._callbacks.epoch_row)
        self.history.new_epoch()
        epoch_row(self.history)["epoch"] = len(self.history)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # float16 gradients underflow without loss scaling; the scaler lives for one
        # fit only, so that a pickled net holds no device state of it
        if self.autocast == torch.float16:
            self._grad_scaler = torch.amp.GradScaler(torch.device(self.device).type)
        # the penalised weights and the optimized parameters, found once per call rather than per epoch
        self.penalised_weights = self.penalty.weights(self.module_) if self.penalty else []
        self._optimized_parameters = [p for group in self.optimizer_.param_groups for p in group["params"]]
        if self.cuda_graph:
            self._captured_step = self._capture_on(X)
        if torch.device(self.device).type == "cpu":  # (threads only matter to the CPU's kernels)
            threads = BatchThreads(self.module_, self.batch_size)
            self._batch_threads = threads if threads.tuning else None

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # hold no device tensors outside module_, optimizer_ and criterion_: those
        # are the ones skorch maps to the CPU when a GPU model is unpickled there
        self._grad_scaler = None
        self._batch_threads = None
        self.penalised_weights = []
        self._optimized_parameters = []
        if self._captured_step is not None:  # the graph's gradient buffers go with it
            self._captured_step = None
            self.module_.zero_grad(set_to_none=True)

    def _capture_on(self, dataset):
        """The captured training step for ``dataset``, or None if it cannot be (a warning with True)."""
        device = torch.device(self.device)
        reason = None
        if device.type != "cuda" or not dataset.is_on(device) or not torch.is_tensor(dataset.X):
            reason = "the training data is not on the GPU (sparse, or too large for half its free memory)"
        elif not all(torch.is_tensor(group["lr"]) and group.get("capturable", True)
                     for group in self.optimizer_.param_groups):
            reason = "the optimizer was built without cuda_graph (partial_fit after changing it)"
        elif self.listeners("on_grad_computed"):
            reason = "a callback listens to on_grad_computed, which runs on the host mid-step"
        if reason is None:
            return CapturedTrainStep(self.train_step, dataset, self.batch_size)
        if self.cuda_graph is True:
            warnings.warn(f"cuda_graph=True: training without a CUDA graph, as {reason}.", UserWarning,
                          stacklevel=2)
        return None

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        pass  # skorch opens the batch's history row here; run_single_epoch writes them all at once

    def initialize(self):
        super().initialize()
        # skdeep passes module and criterion as instances, the same objects as
        # module_ and criterion_: skorch must remap them to the CPU too when a
        # GPU model is unpickled on a machine without one
        missing = [name for name in ("module", "criterion") if name not in self.cuda_dependent_attributes_]
        self.cuda_dependent_attributes_ = self.cuda_dependent_attributes_[:] + missing
        return self

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self._listeners = {}
        return self

    def listeners(self, method_name):
        """The callbacks whose ``method_name`` does something (not Callback's no-op)."""
        cache = vars(self).setdefault("_listeners", {})  # (nets pickled before the cache lack it)
        listeners = cache.get(method_name)
        if listeners is None:
            listeners = cache[method_name] = [
                callback for _, callback in self.callbacks_
                if getattr(type(callback), method_name) is not getattr(Callback, method_name)
            ]
        return listeners

    def notify(self, method_name, **cb_kwargs):
        # as skorch's, skipping the callbacks that inherit the hook as a no-op: a
        # step notifies three hooks, and most callbacks only act once per epoch.
        # A callback that ends training lets the others see the epoch first; a
        # KeyboardInterrupt raised at an epoch's end by a callback of the user's
        # (skorch's EarlyStopping stops skorch's loop so) ends training as in skorch
        getattr(self, method_name)(self, **cb_kwargs)
        stop = None
        for callback in self.listeners(method_name):
            try:
                getattr(callback, method_name)(self, **cb_kwargs)
            except StopTraining as error:
                stop = error
            except KeyboardInterrupt:
                if method_name != "on_epoch_end" or not any(callback is user for user in self.user_callbacks):
                    raise
                stop = StopTraining()
        if stop is not None:
            raise stop

    def get_default_callbacks(self):
        return [("epoch_timer", RowEpochTimer())]

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        if self.module_.training != training:  # skorch sets the mode at every call: a walk over all modules
            self._set_training(training)
        captured = training and self._captured_step is not None
        steps = self._captured_steps(iterator) if captured else self._steps(iterator, training, step_fn, fit_params)
        if training and self._batch_threads is not None:
            steps = self._batch_threads.steps(steps)
        losses, sizes = [], []
        for batch, step in steps:
            loss = step["loss"].detach()
            losses.append(loss.clone() if self.compile or captured else loss)  # CUDA graphs overwrite outputs
            sizes.append(batch[0].shape[0])
            if self.batch_rows:
                self.history.record_batch(prefix + "_loss", loss.item())
                self.history.record_batch(prefix + "_batch_size", sizes[-1])
            self.notify("on_batch_end", batch=_as_skorch_batch(batch), training=training, **step)
        if training and self.data_parallel is not None:  # batch norm's statistics, alike on every rank
            self.data_parallel.average_buffers(self.module_)
        self.record_epoch_losses(prefix, torch.stack(losses).double().cpu().tolist(), sizes)  # the epoch's one sync

    def record_epoch_losses(self, prefix, batch_losses, sizes):
        """Write an epoch's batch losses and their mean, weighted by the batches' rows, into the history.

        Parameters
        ----------
        prefix : {"train", "valid"}
        batch_losses : list of float
        sizes : list of int
            The rows of each batch.
        """
        row = epoch_row(self.history)
        batches = list(zip(batch_losses, sizes, strict=True))
        loss_key = prefix + "_loss"
        if not self.batch_rows:
            size_key = prefix + "_batch_size"
            row["batches"] += [{loss_key: loss, size_key: size} for loss, size in batches]
        row[prefix + "_batch_count"] = len(batches)
        row[loss_key] = sum([loss * n for loss, n in batches]) / sum(sizes)

    def _steps(self, iterator, training, step_fn, fit_params):
        for batch in iterator:
            self._begin_batch(batch, training)
            if self.module_.training != training:  # a callback predicted since the last step
                self._set_training(training)
            yield batch, step_fn(batch, **fit_params)

    def _captured_steps(self, iterator):
        for index in iterator.indices(tensors=True):
            batch, step = self._captured_step(index)
            self._begin_batch(batch, True)  # gathered inside the step
            yield batch, step

    def _begin_batch(self, batch, training):
        if self.batch_rows:
            self.history.new_batch()
        self.notify("on_batch_begin", batch=_as_skorch_batch(batch), training=training)

    def train_step(self, batch, **fit_params):
        if self.augment is not None:
            batch = self._augmented(batch)
        if getattr(self.optimizer_, "minimises_in_one_step", False):  # LBFGS
            return self._lbfgs_step(batch, **fit_params)
        # skorch's step without the closure and its accumulator: same notifications
        self._clear_gradients()
        if self.data_parallel is None:
            step = self.train_step_single(batch, **fit_params)
        else:
            step = self._share_step(batch, **fit_params)
        if self._grad_scaler is not None:
            self._grad_scaler.unscale_(self.optimizer_)
        if self.penalised_weights:
            self.penalty.add_gradients(self.penalised_weights)
        self._notify_gradients(batch)
        if self._grad_scaler is None:
            self.optimizer_.step()
        else:
            self._grad_scaler.step(self.optimizer_)  # skips steps with inf/nan gradients
            self._grad_scaler.update()
        return step

    def _augmented(self, batch):
        # a copy: a batch may be a view of the training data (and of the user's array), which an
        # augmentation that works in place would change
        X, y = batch
        augmented = self.augment(X.clone())
        if not torch.is_tensor(augmented) or augmented.shape[0] != X.shape[0] or augmented.dtype != X.dtype:
            got = (f"shape {tuple(augmented.shape)} and dtype {augmented.dtype}" if torch.is_tensor(augmented)
                   else type(augmented).__name__)
            raise TypeError(f"augment must return the batch of X as a tensor of {X.shape[0]} samples in its dtype; "
                            f"for a batch of shape {tuple(X.shape)} and dtype {X.dtype} it returned {got}.")
        return augmented, y

    def _share_step(self, batch, **fit_params):
        """This process's share of a data-parallel step: gradients summed over the ranks, the batch's loss."""
        (X, y), fraction = self.data_parallel.share(batch)
        if X.shape[0]:
            y_pred = self.infer(X, **fit_params)
            loss = self.get_loss(y_pred, y, X=X, training=True) * fraction
            loss.backward()
        else:  # a batch with fewer rows than there are ranks
            first = self._optimized_parameters[0]
            y_pred, loss = None, torch.zeros((), dtype=first.dtype, device=first.device)
        return {"loss": self.data_parallel.sum_gradients(self._optimized_parameters, loss), "y_pred": y_pred}

    def _lbfgs_step(self, batch, **fit_params):
        """One call of LBFGS, whose closure returns the penalised loss; the step reports the data loss."""
        last = {}

        def penalised_loss():
            self._clear_gradients()
            X, y = batch
            y_pred = self.infer(X, **fit_params)
            data_loss = self.get_loss(y_pred, y, X=X, training=True)
            loss = data_loss + self.penalty.loss_term(self.penalised_weights) if self.penalised_weights else data_loss
            loss.backward()
            self._notify_gradients(batch)
            last.update(loss=data_loss.detach(), y_pred=y_pred)
            return loss

        objective = self.optimizer_.step(penalised_loss)  # at the solution, not at the last trial point
        penalty = self.penalty.value(self.penalised_weights)
        last["loss"] = torch.tensor(objective - penalty, dtype=torch.float64)
        return last

    def _clear_gradients(self):
        # the optimizer's zero_grad(set_to_none=True) without its profiler and dynamo
        # wrappers (a tenth of a small fit's time)
        for parameter in self._optimized_parameters:
            parameter.grad = None

    def _notify_gradients(self, batch):
        if self.listeners("on_grad_computed"):
            self.notify("on_grad_computed", named_parameters=TeeGenerator(self.get_all_learnable_params()),
                        batch=_as_skorch_batch(batch), training=True)

    def train_step_single(self, batch, **fit_params):
        # as skorch's, without switching the module to train mode at every batch
        X, y = batch
        y_pred = self.infer(X, **fit_params)
        loss = self.get_loss(y_pred, y, X=X, training=True)
        (loss if self._grad_scaler is None else self._grad_scaler.scale(loss)).backward()
        return {"loss": loss, "y_pred": y_pred}

    def _module_output(self, x, **fit_params):
        if torch.is_tensor(x):  # a batch of skdeep's, on the device already: skip skorch's to_tensor
            return self.module_(x, **fit_params)
        return super().infer(x, **fit_params)

    def infer(self, x, **fit_params):
        if self.autocast is None:
            output = self._module_output(x, **fit_params)
        else:
            # no cast cache: each weight is cast once per pass anyway, and CUDA
            # graph capture must not keep cached casts
            with torch.autocast(torch.device(self.device).type, dtype=self.autocast, cache_enabled=False):
                output = self._module_output(x, **fit_params).float()
        # a compiled module's CUDA-graph outputs are overwritten by its next call
        return output.clone() if self.compile else output

    def load_params(self, *args, use_safetensors=False, **kwargs):
        """skorch's ``load_params``; with ``use_safetensors``, on a net whose device is a ``torch.device``.

        safetensors' reader takes the device as a string, and skdeep's nets
        hold a ``torch.device`` (skorch passes it on as it is).

        Parameters
        ----------
        *args, **kwargs
            As for :meth:`skorch.NeuralNet.load_params`.
        use_safetensors : bool, default=False
            Read files written by ``save_params(..., use_safetensors=True)``.
        """
        if not use_safetensors:
            return super().load_params(*args, **kwargs)
        device = self.device
        self.device = str(device)
        try:
            return super().load_params(*args, use_safetensors=True, **kwargs)
        finally:
            self.device = device

    def forward(self, X, training=False, device="cpu"):
        """The module's outputs for ``X``, gathered on ``device`` (skorch's, with a short path for one batch).

        Data that fits in one prediction batch goes to the module directly,
        without skorch's batch iterator and concatenation: most of the time
        of a one-row prediction besides the module's own.

        Parameters
        ----------
        X : ArrayDataset, array-like, torch.Tensor or scipy sparse matrix
            Samples as the module takes them.
        training : bool, default=False
            Whether to run the module in training mode.
        device : str or torch.device, default="cpu"
            Where to gather the outputs.

        Returns
        -------
        y_infer : torch.Tensor
        """
        dataset = self.get_dataset(X)
        if not isinstance(dataset, ArrayDataset) or len(dataset) > max(self.batch_size, PREDICT_BATCH_SIZE):
            return super().forward(dataset, training=training, device=device)
        if not getattr(self, "initialized_", False):
            self.check_is_fitted()
        batch = dataset.batch(slice(None), torch.device(self.device))
        return self.evaluation_step(batch, training=training).to(device)

    def evaluation_step(self, batch, training=False):
        # as skorch's, setting the module's mode only when it changes (skorch walks
        # every module at each batch)
        with torch.set_grad_enabled(training):
            if self.module_.training != training:
                self._set_training(training)
            return self.infer(batch[0])

    def get_iterator(self, dataset, training=False):
        return (BlockIterator if isinstance(dataset, BlockDataset) else BatchIterator)(
            dataset,
            batch_size=self.batch_size if training else max(self.batch_size, PREDICT_BATCH_SIZE),
            shuffle=training and self.shuffle and len(dataset) > self.batch_size,
            fold_single=training and self.fold_single_batch,
            generator=self.generator,
            device=torch.device(self.device),
        )

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, weight = y_true if isinstance(y_true, tuple) else (y_true, None)
        if not torch.is_tensor(y_pred):
            raise TypeError(f"The module must return a tensor of raw outputs; it returned a {type(y_pred).__name__}.")
        if self.n_outputs is not None and (y_pred.ndim != 2 or y_pred.shape != (len(target), self.n_outputs)):
            raise ValueError(
                f"The module returned outputs of shape {tuple(y_pred.shape)} for a batch of {len(target)} "
                f"samples; training needs shape ({len(target)}, {self.n_outputs}): one raw output per class "
                "(multiclass), a single one (binary), one per label (multilabel) or one per target (regression)."
            )
        return self.criterion_(y_pred, target, weight)


def _check_callback_arguments(named_callbacks, arguments):
    """Refuse ``callbacks__<name>__<argument>`` parameters that name no callback of the user's, or no argument of it."""
    callbacks = dict(named_callbacks)
    for name, values in arguments.items():
        if name not in callbacks:
            raise ValueError(f"callbacks__{name}__...: the callbacks given are named {list(callbacks)}, none {name!r}.")
        callback = callbacks[name]
        check_arguments(callback if isinstance(callback, type) else type(callback), values, f"callbacks__{name}",
                        owner=name)


def _as_skorch_batch(batch):
    """A batch as skorch's callbacks take it: ``(X, y)``, without the sample weights that skdeep's loss takes with y."""
    X, y = batch
    return (X, y[0]) if isinstance(y, tuple) else batch
