"""Whole training steps captured as one CUDA graph (the ``cuda_graph`` parameter).

On a GPU, a small network's training step is bound by the host, not by the
GPU: Python, autograd and one kernel launch per operation took 1.2-1.9 ms
a step on an H100 for a (512, 512) MLP, whatever the batch size, against
0.2-0.4 ms for the same step replayed as a graph. A CUDA graph records the
kernels of one whole step (the batch gather, the forward and backward
passes, the penalties and the optimizer's update) and replays them with a
single launch; the host then only copies the batch's row indices.

What a graph needs, and how skdeep provides it:

- fixed addresses: the training data stays on the GPU for the whole fit, and
  each batch is gathered inside the graph from a static index buffer;
- fixed shapes: full batches replay the graph, the epoch's last, smaller
  batch runs eagerly (one step in an epoch);
- no host synchronisation inside the step: the optimizer is built with
  ``capturable=True`` where torch asks for it, and its learning rate is a
  tensor on the GPU, so schedules change it in place;
- warm-up: the first steps run eagerly on a side stream, as PyTorch requires
  (they create the optimizer's state and the libraries' workspaces); they are
  ordinary training steps on the first batches. They run with torch's sync
  debug mode set to raise: a step that waits for the host (``.item()``, say)
  fails there, with a clear error, before any capture is attempted. A capture
  that fails midway leaves the process's CUDA random number generator
  unusable (dropout then raises "Offset increment outside graph capture").
"""

import warnings

import torch

#: solvers whose optimizer step can be captured (fused kernels, tensor learning rate)
GRAPH_SOLVERS = ("sgd", "adam", "adamw")
WARMUP_STEPS = 3


def cuda_graph_mode(cuda_graph, *, device, solver, precision, compile, captures_by_default, optimizer=None,
                    augment=None):
    """Decide whether training captures CUDA graphs: the ``cuda_graph`` parameter's one owner.

    Parameters
    ----------
    cuda_graph : bool or "auto"
        The estimator's parameter.
    device : torch.device
        Where training runs: graphs exist on CUDA only.
    solver, precision, compile, optimizer, augment
        The estimator's parameters that can rule graphs out (an optimizer or
        an augmentation of the user's own is not known to be capturable).
    captures_by_default : bool
        Whether ``"auto"`` captures the estimator's module (skdeep's own
        modules are tested to be capturable; a user's module may wait for the
        host in its forward pass).

    Returns
    -------
    mode : bool or "auto"
        False (no graph), True (capture; warn if the data is not on the GPU)
        or "auto" (capture when the data is on the GPU, quietly train without
        a graph otherwise), as :class:`skdeep._net.SkdeepNet` takes it.

    Raises
    ------
    ValueError
        With ``cuda_graph=True`` and a parameter that rules graphs out.

    Examples
    --------
    >>> import torch
    >>> from skdeep._cuda_graph import cuda_graph_mode
    >>> cuda_graph_mode("auto", device=torch.device("cpu"), solver="adam", precision="float32",
    ...                 compile=False, captures_by_default=True)
    False
    """
    conflicts = []
    if solver not in GRAPH_SOLVERS:
        conflicts.append(f"solver={solver!r} (supported: {', '.join(map(repr, GRAPH_SOLVERS))})")
    if precision == "float16":
        conflicts.append("precision='float16' (its loss scaler checks gradients on the host; use 'bfloat16')")
    if compile:
        conflicts.append(f"compile={compile!r} (use one or the other)")
    if optimizer is not None:
        conflicts.append(f"optimizer={getattr(optimizer, '__name__', optimizer)} (not known to step without the host)")
    if augment is not None:
        conflicts.append("augment (a function of the batches, not known to run without the host)")
    if cuda_graph is True and conflicts:
        raise ValueError("cuda_graph=True cannot be combined with " + "; ".join(conflicts) + ".")
    if device.type != "cuda" or cuda_graph is False:
        return False
    if cuda_graph is True:
        return True
    return "auto" if captures_by_default and not conflicts else False


class CapturedTrainStep:
    """Train on batches of a dataset on the GPU, replaying one CUDA graph per full batch.

    Parameters
    ----------
    train_step : callable
        ``train_step(batch)`` runs one whole training step (clears the
        gradients, forward, loss, backward, optimizer step) and returns
        skorch's step dict (``"loss"``, ``"y_pred"``).
    dataset : skdeep._data.ArrayDataset
        The training data, dense and on the GPU.
    batch_size : int
        Size of the batches that replay the graph; other sizes run eagerly.
    warmup_steps : int, default=3
        Eager steps before the capture.

    Notes
    -----
    The tensors a step returns (its batch, loss and outputs) are detached from
    autograd; those of a replayed step are static buffers, which the next
    replay overwrites: keep a ``clone()``.

    Examples
    --------
    >>> import torch
    >>> from skdeep._data import ArrayDataset
    >>> from skdeep._cuda_graph import CapturedTrainStep
    >>> def train_step(batch):
    ...     X, y = batch
    ...     model.zero_grad(set_to_none=True)
    ...     loss = torch.nn.functional.mse_loss(model(X), y)
    ...     loss.backward()
    ...     optimizer.step()
    ...     return {"loss": loss}
    >>> model = torch.nn.Linear(8, 1, device="cuda")  # doctest: +SKIP
    >>> optimizer = torch.optim.Adam(model.parameters(), capturable=True)  # doctest: +SKIP
    >>> data = ArrayDataset(torch.randn(1000, 8, device="cuda"), torch.randn(1000, 1, device="cuda"))  # doctest: +SKIP
    >>> steps = CapturedTrainStep(train_step, data, batch_size=100)  # doctest: +SKIP
    >>> for index in torch.randperm(1000, device="cuda").split(100):  # doctest: +SKIP
    ...     batch, step = steps(index)
    """

    def __init__(self, train_step, dataset, batch_size, warmup_steps=WARMUP_STEPS):
        self.train_step = train_step
        self.dataset = dataset
        self.batch_size = batch_size
        self.warmup_steps = warmup_steps
        self.device = dataset.X.device
        self._graph = None
        self._index = None
        self._batch = None
        self._step = None
        self._side_stream = None

    @property
    def captured(self):
        """Whether the graph has been captured."""
        return self._graph is not None

    def __call__(self, index):
        """Train on the rows ``index`` (int64 tensor on the GPU); return ``(batch, step)``."""
        if len(index) != self.batch_size:  # the epoch's last, smaller batch
            batch = self.dataset.batch(index)
            return batch, self._eager_step(batch)
        if not self.captured and self.warmup_steps > 0:
            self.warmup_steps -= 1
            return self._warm_up(index)
        if not self.captured:
            self._capture()
        self._index.copy_(index, non_blocking=True)
        self._graph.replay()
        return self._batch, self._step

    def _warm_up(self, index):
        if self._side_stream is None:
            self._side_stream = torch.cuda.Stream(self.device)
        current = torch.cuda.current_stream(self.device)
        self._side_stream.wait_stream(current)
        previous_mode = torch.cuda.get_sync_debug_mode()
        with warnings.catch_warnings():
            # torch calls the mode a prototype that misses some syncs: the capture catches the rest
            warnings.filterwarnings("ignore", message="Synchronization debug mode is a prototype")
            torch.cuda.set_sync_debug_mode("error")
        try:
            with torch.cuda.stream(self._side_stream):
                batch = self.dataset.batch(index)
                step = self._eager_step(batch)
        except RuntimeError as error:
            if "synchronizing" not in str(error):
                raise
            raise RuntimeError(
                f"cuda_graph: the training step waits for the host, which no CUDA graph can "
                f"hold: {error}\nThe network's forward pass must not call .item(), .cpu() or "
                "anything whose result shape depends on the data. Set cuda_graph=False to train "
                "without a graph."
            ) from error
        finally:
            torch.cuda.set_sync_debug_mode(previous_mode)
        current.wait_stream(self._side_stream)
        return batch, step

    def _eager_step(self, batch):
        with warnings.catch_warnings():
            # torch warns that a capturable optimizer is slower outside a graph: the
            # few eager steps (warm-up, last batches) are the price of the graph
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            return _detached(self.train_step(batch))

    def _capture(self):
        self._index = torch.zeros(self.batch_size, dtype=torch.int64, device=self.device)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self._batch = self.dataset.batch(self._index)
                self._step = _detached(self.train_step(self._batch))
        except RuntimeError as error:
            raise RuntimeError(
                f"cuda_graph could not capture the training step as a CUDA graph: {error}\n"
                "The network's forward pass must run without synchronising with the host "
                "(no .item(), .cpu() or data-dependent shapes). Set cuda_graph=False to "
                "train without a graph, in a new Python process: a failed capture leaves "
                "torch's CUDA random number generator unusable in this one."
            ) from error
        self._graph = graph


def _detached(step):
    # a step's autograd graph must not outlive it: its gradient accumulators
    # would be reused by the next backward, on another stream (the warm-up's,
    # the capture's), which torch warns breaks or slows the graph
    return {key: value.detach() if torch.is_tensor(value) else value for key, value in step.items()}
