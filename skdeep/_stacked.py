"""Many small networks trained as one: the packs of skdeep's stacked searches.

A member of a pack is a prepared fit of a skdeep MLP (a
:class:`skdeep._run.TrainingRun`): its plan, its net around a module with the
initial weights its ``fit`` draws, its training rows, its shuffling generator
and its callbacks (the learning-rate schedule, scikit-learn's stopping rule,
the divergence check), all built by the estimator's own ``fit`` code.
:func:`train_stacked` trains the members of a pack together:

- each dense layer's weights of all ``K`` members are one tensor of shape
  ``(K, out, in)``, a view of the members' parameter rows, run with batched
  matrix products (``torch.baddbmm``), with a backward pass of their own
  (:class:`_StackedLinear`), which also applies the gradient of a ReLU right
  before the layer;
- each member's batch is gathered from its own rows, in the order its own
  generator shuffles them (drawn once for the members whose generators and
  row counts are alike), padded to the pack's batch size with rows of
  weight 0 (the layout of an epoch's batches, :class:`_EpochLayout`, is made
  once per set of members);
- the members' mean losses are summed, so that each member's gradient is its
  standalone fit's, and each member's penalty is added to its gradient;
- the optimizer's state and hyper-parameters (learning rate, betas, epsilon,
  momentum, decay) are per member, and a member without a batch at a step
  (its epoch has fewer batches) does not step;
- after each epoch every member's net records the epoch and notifies its own
  callbacks: the members' parameters (and SGD's momentum buffers) are views
  of the stacked tensors, so scikit-learn's stopping rule, the schedules and
  the early-stopping score run on each member as in its own fit (the pack
  computes all members' penalty values at once, for their stopping rules);
- the steps run on the threads that :class:`skdeep._threads.BatchThreads`
  finds faster, as a fit's do; they read nothing back from their tensors,
  and read the same tensors at every epoch (the batches, their weights and
  the learning rates are written in place): what a CUDA graph of them needs;
- a member that stops leaves the pack, its weights copied out; one that
  fails (its loss diverged) leaves it too, unrecorded.

The trained members are then recorded by their estimators
(:meth:`skdeep._base.BaseNeuralEstimator._record_run`), which are fitted as
their own ``fit`` leaves them.
"""

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from skdeep._callbacks import StopTraining
from skdeep._data import ArrayDataset, batch_bounds
from skdeep._penalty import StackedPenalties
from skdeep._threads import BatchThreads, torch_threads
from skdeep.modules import MLP, SklearnLoss

#: the solvers whose optimizer the pack steps per member
STACKED_SOLVERS = ("adam", "adamw", "sgd")


def may_stack(params):
    """Whether a fit of these estimator parameters may stack, as far as they alone tell (:func:`pack_key` decides).

    Fits that cannot stack are not prepared at all: a checkpoint, for one,
    would be looked for on disk.

    Examples
    --------
    >>> from skdeep import MLPClassifier
    >>> from skdeep._stacked import may_stack
    >>> may_stack(MLPClassifier().get_params()), may_stack(MLPClassifier(solver="lbfgs").get_params())
    (True, False)
    """
    return (params.get("solver") in STACKED_SOLVERS and params.get("checkpoint") is None
            and not params.get("callbacks") and params.get("optimizer") is None and not params.get("batch_norm")
            and not params.get("compile") and params.get("precision") in ("float32", "float64"))


def pack_key(run):
    """What the members of a pack must share, or None for a run that trains only on its own.

    A run stacks when its network is a dense skdeep MLP (no batch
    normalisation, no categorical embeddings; dropout on the CPU), trained in memory
    on dense rows by adam, adamw or sgd with skdeep's loss, without the
    user's optimizer, callbacks, checkpoint, mixed precision, compilation or
    data-parallel training. Members share the key's layer shapes and
    activations, dtype, device, loss, solver and batch size; everything else
    (penalties, learning rates and schedules, betas, momentum, dropout rates,
    stopping rules, epochs, class and sample weights, seeds, early stopping,
    the rows) may differ.

    Parameters
    ----------
    run : skdeep._run.TrainingRun

    Returns
    -------
    key : tuple or None
    """
    plan, net = run.plan, run.net
    module = net.module_
    if (type(module) is not MLP or plan.solver not in STACKED_SOLVERS or plan.net.optimizer is not None
            or plan.net.arguments or plan.callbacks or plan.augment is not None or plan.checkpoint is not None
            or plan.autocast is not None or plan.data_parallel or plan.net.compile_options
            or not isinstance(run.train_data, ArrayDataset) or not torch.is_tensor(run.train_data.X)
            or run.train_data.X.layout != torch.strided or not isinstance(net.criterion_, SklearnLoss)):
        return None
    layers = []
    for layer in module.layers:
        if isinstance(layer, nn.Linear):
            layers.append(("linear", tuple(layer.weight.shape)))
        elif isinstance(layer, nn.Dropout):
            if torch.device(net.device).type != "cpu":
                return None  # (a GPU's dropout draws from its own generator, in its own way)
            layers.append(("dropout",))
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
            return None
        elif not isinstance(layer, nn.Identity):
            layers.append((type(layer), repr(layer)))
    return (tuple(layers), plan.dtype, str(net.device), net.criterion_.kind, plan.solver, plan.batch_size)


class _StackedMLP:
    """The members' networks as one: a stacked tensor per layer, run with batched matmuls, and their (K, P) rows.

    ``flat`` holds every member's parameters in a row; each dense layer's
    weights and biases are views of it of shape (K, out, in) and (K, 1, out),
    of which each member's module keeps views (a member leaving the pack
    takes copies). The optimizer works on ``flat`` and on ``grad``, whose
    rows each layer's backward pass writes its gradients into: it updates
    all parameters of all members in a few operations, in place, which the
    layers and the members' modules see.

    Each member's dropout draws its masks from its own generator, seeded as
    its own fit seeds torch's global one, in the same order and shapes: its
    masks are those of its own fit.
    """

    def __init__(self, modules, seeds):
        self.shapes = [parameter.shape for parameter in modules[0].parameters()]  # weight, bias of each layer
        self.flat = torch.stack([torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in modules])
        sizes = [shape.numel() for shape in self.shapes]
        self.is_weight = torch.cat([torch.full((size,), float(len(shape) > 1), dtype=self.flat.dtype)
                                    for size, shape in zip(sizes, self.shapes, strict=True)]).to(self.flat.device)
        bounds = np.cumsum([0, *sizes]).tolist()
        self._slices = [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
        # ("linear", index of its weight among the parameters), ("elementwise", module) or ("dropout", rates)
        self.operations = []
        for position, layer in enumerate(modules[0].layers):
            if isinstance(layer, nn.Linear):
                self.operations.append(("linear", 2 * sum(kind == "linear" for kind, _ in self.operations)))
            elif isinstance(layer, nn.Dropout):
                self.operations.append(("dropout", [m.layers[position].p for m in modules]))
            elif not isinstance(layer, nn.Identity):
                self.operations.append(("elementwise", layer))
        # the ReLUs right before a dense layer, whose backward pass applies their gradients
        self._rectified = {position for position, ((_, value), (next_kind, _)) in enumerate(pairwise(self.operations))
                           if isinstance(value, nn.ReLU) and next_kind == "linear"}
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self._attach(modules)

    def _rows(self, tensor):
        """The parameters' shares of a (K, P) ``tensor``, as stacked layers' shapes (views)."""
        count = tensor.shape[0]
        return [tensor[:, part].view((count, *shape) if len(shape) > 1 else (count, 1, *shape))
                for shape, part in zip(self.shapes, self._slices, strict=True)]

    def _attach(self, modules):
        """Make the stacked layers views of ``flat``, and each member's parameters views of them."""
        self.grad = torch.empty_like(self.flat)
        self._layer_blocks = {}
        self.layers = [rows.detach().requires_grad_() for rows in self._rows(self.flat)]
        self._gradients = self._rows(self.grad)
        for k, module in enumerate(modules):
            for parameter, stacked in zip(module.parameters(), self.layers, strict=True):
                parameter.data = stacked.detach()[k].view(parameter.shape)

    def views(self, tensor, k):
        """Member ``k``'s parameters' shares of a (K, P) ``tensor``, shaped as its module's parameters."""
        return [tensor[k, part].view(shape) for shape, part in zip(self.shapes, self._slices, strict=True)]

    def keep(self, alive, modules):
        """Go on with the members of the boolean mask ``alive``, whose ``modules`` become views again."""
        kept = alive.tolist()
        self.flat = self.flat[alive]
        self.operations = [(kind, [p for p, keep in zip(value, kept, strict=True) if keep])
                           if kind == "dropout" else (kind, value) for kind, value in self.operations]
        self.generators = [g for g, keep in zip(self.generators, kept, strict=True) if keep]
        self._attach(modules)

    @staticmethod
    def release(modules):
        """Give the parameters of ``modules`` (members leaving the pack) storage of their own."""
        for module in modules:
            for parameter in module.parameters():
                parameter.data = parameter.data.clone()

    def __call__(self, X, rows):
        """The members' raw outputs for their batches ``X`` (K, batch, features) of ``rows`` rows (the rest pads)."""
        outputs, rectified = X, False
        for position, (kind, value) in enumerate(self.operations):
            if kind == "linear":
                outputs = _StackedLinear.apply(outputs, self.layers[value], self.layers[value + 1],
                                               self._gradients[value : value + 2], self._blocks(position, outputs),
                                               rectified)
                rectified = False
            elif kind == "dropout":
                outputs = outputs * self._dropout_masks(outputs, value, rows)
            elif position in self._rectified:  # (the dense layer after it applies its gradient)
                with torch.no_grad():
                    outputs.relu_()
                rectified = True
            elif isinstance(value, nn.ReLU):  # in place: the dense layer's backward does not need its output
                outputs = torch.relu_(outputs)
            else:
                outputs = value(outputs)
        return outputs

    def _blocks(self, position, inputs):
        """The blocks the dense layer at ``position`` writes its outputs and its inputs' gradient into, for ``inputs``.

        Made once and written at every step: a new tensor of their size
        (megabytes) is given fresh pages by the system at every step, a page
        fault for each 4 KiB of it. Inputs that need no gradient (the
        batches) get no gradient block.
        """
        key = (position, inputs.shape)
        if key not in self._layer_blocks:
            width = self.layers[self.operations[position][1]].shape[1]
            self._layer_blocks[key] = (inputs.new_empty((*inputs.shape[:-1], width)),
                                       torch.empty_like(inputs) if inputs.requires_grad else None)
        return self._layer_blocks[key]

    def _dropout_masks(self, outputs, probabilities, rows):
        """torch's dropout masks of each member's rows, scaled by ``1 / (1 - p)`` (padding rows get 0)."""
        masks = torch.zeros_like(outputs)
        width = outputs.shape[-1]
        for k, (p, n_rows, generator) in enumerate(zip(probabilities, rows, self.generators, strict=True)):
            if n_rows:  # (torch's dropout: bernoulli_(1 - p), then div_(1 - p))
                mask = torch.empty(n_rows, width, dtype=outputs.dtype).bernoulli_(1 - p, generator=generator)
                masks[k, :n_rows] = mask.div_(1 - p)
        return masks


def _stacked_linear(inputs, weight, bias, out=None):
    """The members' dense layer: ``inputs`` (K, batch, in), ``weight`` (K, out, in), ``bias`` (K, 1, out)."""
    return torch.baddbmm(bias, inputs, weight.mT, out=out)


class _StackedLinear(torch.autograd.Function):
    """:func:`_stacked_linear` with a backward pass of its own: autograd's gradients, with fewer passes.

    The backward pass writes the gradients of ``weight`` and ``bias`` into
    ``gradients``, their shares of the pack's gradient rows, where the
    optimizer reads them (autograd then accumulates nothing: its copies of
    them, and their gathering into the rows, are saved). The outputs and the
    inputs' gradient are written into ``blocks``, the same two tensors at
    every step.

    With ``rectified``, ``inputs`` are the outputs of a ReLU that ran out of
    autograd's sight, and the layer's backward pass applies the ReLU's
    gradient too, in place: a pass and a tensor of the activations' size
    fewer than autograd's node for it (touching a new tensor's memory for
    the first time costs page faults at every step).

    For a layer of one output unit (a binary classifier's or a one-target
    regressor's output layer), autograd's backward of the batched product
    runs two batched products with a dimension of 1 (an outer product and a
    matrix-vector product), which take several times as long as the
    elementwise product and the well-shaped batched product here.
    """

    @staticmethod
    def forward(ctx, inputs, weight, bias, gradients, blocks, rectified=False):
        ctx.save_for_backward(inputs, weight)
        ctx.gradients, ctx.input_gradients, ctx.rectified = gradients, blocks[1], rectified
        return _stacked_linear(inputs, weight, bias, out=blocks[0])

    @staticmethod
    def backward(ctx, grad):  # grad: (K, batch, out)
        inputs, weight = ctx.saved_tensors
        one_output = weight.shape[1] == 1
        grad_inputs = None
        if ctx.needs_input_grad[0]:
            product = torch.mul if one_output else torch.bmm
            grad_inputs = product(grad, weight, out=ctx.input_gradients)
            if ctx.rectified:  # (torch's ReLU backward: zero where the output is not positive)
                torch.ops.aten.threshold_backward.grad_input(grad_inputs, inputs, 0, grad_input=grad_inputs)
        grad_weight, grad_bias = ctx.gradients
        grad_weight.copy_(torch.bmm(grad.mT, inputs) if one_output else torch.bmm(inputs.mT, grad).mT)
        torch.sum(grad, 1, keepdim=True, out=grad_bias)
        return grad_inputs, None, None, None, None, None


class _StackedOptimizer:
    """Adam, AdamW or SGD stepping every member of a pack with its own hyper-parameters and state.

    Each member's hyper-parameters are read from its net's optimizer (its
    ``param_groups``, which the schedules and the stopping rule set, as in its
    own fit), and its update is torch's, term for term, on the rows of the
    pack's (K, P) parameters.
    """

    def __init__(self, solver, nets, network):
        self.solver = solver
        self.nets = nets
        self.network = network
        flat = network.flat
        self._steps = torch.zeros(len(nets), 1, dtype=flat.dtype, device=flat.device)
        groups = [net.optimizer_.param_groups[0] for net in nets]
        if solver == "sgd":
            self._constants = dict(momentum=[g["momentum"] for g in groups], nesterov=[g["nesterov"] for g in groups])
            self.state = {"momentum_buffer": torch.zeros_like(flat)}
        else:
            self._constants = dict(beta_1=[g["betas"][0] for g in groups], beta_2=[g["betas"][1] for g in groups],
                                   eps=[g["eps"] for g in groups],
                                   decay=[g["weight_decay"] if g.get("decoupled") else 0.0 for g in groups])
            self.state = {"exp_avg": torch.zeros_like(flat), "exp_avg_sq": torch.zeros_like(flat)}
        self.coefficients = {name: self.per_member(values) for name, values in self._constants.items()}
        self.lr = self.per_member([group["lr"] for group in groups])

    def per_member(self, values):
        """A (K, 1) tensor of one value per member."""
        like = self._steps
        return torch.tensor([float(v) for v in values], dtype=like.dtype, device=like.device).view(-1, 1)

    def read_learning_rates(self):
        """Take each member's learning rate from its net's optimizer (its callbacks set it), into ``lr`` in place."""
        self.lr.copy_(self.per_member([net.optimizer_.param_groups[0]["lr"] for net in self.nets]))

    def keep(self, alive):
        """Go on with the members of the boolean mask ``alive``."""
        kept = alive.tolist()
        self.nets = [net for net, keep in zip(self.nets, kept, strict=True) if keep]
        self._steps = self._steps[alive]
        self._constants = {name: [v for v, keep in zip(values, kept, strict=True) if keep]
                           for name, values in self._constants.items()}
        self.coefficients = {name: tensor[alive] for name, tensor in self.coefficients.items()}
        self.state = {name: tensor[alive] for name, tensor in self.state.items()}
        self.lr = self.lr[alive]

    @torch.no_grad()
    def step(self, stepping=None):
        """Update the pack's parameters from their gradients, for the members whose ``stepping`` mask is set."""
        flat, grad = self.network.flat, self.network.grad
        before = None if stepping is None else (flat.clone(), {name: t.clone() for name, t in self.state.items()})
        self._steps += 1 if stepping is None else stepping.view(-1, 1).to(self._steps.dtype)
        if self.solver == "sgd":
            self._sgd(flat, grad)
        else:
            self._adam(flat, grad)
        if stepping is not None:  # the others stay as they were
            mask = stepping.view(-1, 1)
            flat.copy_(torch.where(mask, flat, before[0]))
            for name, tensor in self.state.items():
                tensor.copy_(torch.where(mask, tensor, before[1][name]))

    def _adam(self, flat, grad):
        c = self.coefficients
        beta_1, beta_2, eps = c["beta_1"], c["beta_2"], c["eps"]
        step_size = self.lr / (1 - beta_1 ** self._steps)
        correction_2 = (1 - beta_2 ** self._steps).sqrt()
        if any(self._constants["decay"]):  # AdamW decays the weight matrices first
            flat.mul_(1 - self.lr * c["decay"] * self.network.is_weight)
        exp_avg, exp_avg_sq = self.state["exp_avg"], self.state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta_1)
        exp_avg_sq.mul_(beta_2).addcmul_(grad * (1 - beta_2), grad)
        # flat - step_size * exp_avg / (sqrt(exp_avg_sq) / correction_2 + eps): torch's terms, in place where it can
        flat.addcdiv_(step_size * exp_avg, exp_avg_sq.sqrt().div_(correction_2).add_(eps), value=-1)

    def _sgd(self, flat, grad):
        if not any(self._constants["momentum"]):
            flat.sub_(self.lr * grad)
            return
        momentum, nesterov = self.coefficients["momentum"], self.coefficients["nesterov"].bool()
        buffer = self.state["momentum_buffer"]
        buffer.mul_(momentum).add_(grad)
        flat.sub_(self.lr * torch.where(nesterov, grad + momentum * buffer, buffer))

    def member_state(self, k, step_dtype):
        """Member ``k``'s state as torch's optimizer keeps it, one entry per parameter of its module (copies)."""
        shares = {name: self.network.views(tensor, k) for name, tensor in self.state.items()}
        states = []
        for index in range(len(self.network.shapes)):
            if self.solver != "sgd":
                state = {"step": torch.tensor(float(self._steps[k]), dtype=step_dtype),
                         **{name: views[index].clone() for name, views in shares.items()}}
            elif self._constants["momentum"][k]:
                state = {"momentum_buffer": shares["momentum_buffer"][index].clone()}
            else:
                state = {}  # (torch's SGD keeps no state without momentum)
            states.append(state)
        return states

    def share_momentum(self):
        """Put views of each member's momentum buffers in its net's SGD state: the schedules rescale them there."""
        if self.solver != "sgd":
            return
        for k, net in enumerate(self.nets):
            if self._constants["momentum"][k]:
                views = self.network.views(self.state["momentum_buffer"], k)
                for parameter, view in zip(net.module_.parameters(), views, strict=True):
                    net.optimizer_.state[parameter] = {"momentum_buffer": view}


@dataclass
class _Member:
    """A run in a pack, its rows of the pack's, its stopping rule (its net's ConvergenceMonitor), where it stands."""

    run: object
    rows: slice
    monitor: object = None
    batch_sizes: list = field(default_factory=list)
    stopped: bool = False
    error: BaseException = None


def train_stacked(runs):
    """Train prepared runs of one :func:`pack_key` together, as each would train alone.

    Parameters
    ----------
    runs : list of skdeep._run.TrainingRun
        Prepared by their estimators, not trained yet.

    Returns
    -------
    errors : list of BaseException or None
        For each run, the error that ended its training (its own fit would
        raise it), or None for a run trained to its end.
    """
    nets = [run.net for run in runs]
    modules = [net.module_ for net in nets]
    first = runs[0]
    (X, targets, weights), rows = _pack_rows([run.train_data for run in runs])
    members = [_Member(run, part, dict(run.net.callbacks_)["convergence"])
               for run, part in zip(runs, rows, strict=True)]
    for member in members:  # the members' rows become views of the pack's: one copy of the data
        data = member.run.train_data
        data.X, data.y = X[member.rows], targets[member.rows]
        if data.sample_weight is not None:
            data.sample_weight = weights[member.rows]
    network = _StackedMLP(modules, [run.seed for run in runs])
    optimizer = _StackedOptimizer(first.plan.solver, nets, network)
    criterion = nets[0].criterion_
    for member in members:
        member.batch_sizes = _batch_sizes(member, first.plan.batch_size)
        member.run.net.notify("on_train_begin", X=member.run.train_data, y=None)
    optimizer.share_momentum()
    step_dtype = _adam_step_dtype(first)
    active = list(range(len(members)))
    data = (X, targets, weights)
    layout = _EpochLayout(members, data, network)
    rows = len(runs) * first.plan.batch_size
    with torch_threads(modules[0], rows):
        threads = BatchThreads(modules[0], rows) if X.device.type == "cpu" else None
        for _ in range(max(run.plan.epochs for run in runs)):
            if not active:
                break
            _run_epoch([members[k] for k in active], layout, network, optimizer, criterion, data,
                       None if threads is None or not threads.tuning else threads)
            going_on = _end_stopped(members, active, network, optimizer, step_dtype)
            if going_on != active:
                layout.hand_back_generators()
                if going_on:
                    layout = _EpochLayout([members[k] for k in going_on], data, network)
            active = going_on
    return [member.error for member in members]


def _pack_rows(datasets):
    """The pack's rows, targets and sample weights, and each member's slice of them.

    Members whose rows are alike (the fits of one split) share them: the pack
    holds each split's rows once, and its batches are gathered from fewer
    rows, which stay in the CPU's caches.
    """
    distinct, rows = [], []
    start = 0
    for data in datasets:
        shared = next((part for other, part in distinct if _same_rows(data, other)), None)
        if shared is None:
            shared = slice(start, start + len(data))
            distinct.append((data, shared))
            start = shared.stop
        rows.append(shared)
    X = torch.cat([data.X for data, _ in distinct])
    targets = torch.cat([data.y for data, _ in distinct])
    weights = torch.cat([torch.ones(len(data), dtype=X.dtype, device=X.device) if data.sample_weight is None
                         else data.sample_weight for data, _ in distinct])
    return (X, targets, weights), rows


def _same_rows(data, other):
    """Whether two members' training sets hold the same rows, targets and sample weights."""
    pairs = [(data.X, other.X), (data.y, other.y), (data.sample_weight, other.sample_weight)]
    return all(a is b or (a is not None and b is not None and a.dtype == b.dtype and a.shape == b.shape
                          and torch.equal(a, b)) for a, b in pairs)


def _end_stopped(members, active, network, optimizer, step_dtype):
    """Take the ``active`` members that stopped, failed or ran their epochs out of the pack; those that go on."""
    left = [k for k in active if members[k].stopped or members[k].error is not None
            or len(members[k].run.net.history) - members[k].run.epochs_before >= members[k].run.plan.epochs]
    if not left:
        return active
    for position, k in enumerate(active):
        if k in left:
            _leave(members[k], optimizer.member_state(position, step_dtype))
    network.release([members[k].run.net.module_ for k in left])
    alive = torch.tensor([k not in left for k in active], device=network.flat.device)
    active = [k for k in active if k not in left]
    if active:
        network.keep(alive, [members[k].run.net.module_ for k in active])
        optimizer.keep(alive)
        optimizer.share_momentum()
    return active


def _adam_step_dtype(run):
    """The dtype torch's Adam keeps its step count in, for this run's optimizer."""
    options = run.plan.net.optimizer_options
    return torch.float32 if options.get("fused") or options.get("capturable") else torch.get_default_dtype()


def _leave(member, state):
    """End ``member``'s training: its callbacks' ``on_train_end``, its optimizer's state."""
    net = member.run.net
    optimizer = net.optimizer_
    for parameter, entry in zip(net.module_.parameters(), state, strict=True):
        if entry:
            optimizer.state[parameter] = entry
    if member.error is None:
        try:
            net.notify("on_train_end", X=member.run.train_data, y=None)
        except Exception as error:  # noqa: BLE001 (its own fit raises it)
            member.error = error


def _batch_sizes(member, batch_size):
    """The rows of each of ``member``'s batches in an epoch."""
    bounds = batch_bounds(member.rows.stop - member.rows.start, batch_size, member.run.net.fold_single_batch)
    return [stop - start for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


class _EpochLayout:
    """Where the rows of each member of a pack go in an epoch's batches: fixed while the pack's members are.

    An epoch's batches are one (steps, K, batch_size) block of row indices:
    member ``k``'s ``i``-th row of the epoch (in the order its own fit
    shuffles them) is row ``i % batch_size`` of its batch at step
    ``i // batch_size``; the slots past its rows pad, with its first row,
    weighed 0. Members whose shuffles are alike (as many rows, generators in
    the same state: one seed in a grid over other parameters) share one
    draw, made with the first one's generator; :meth:`hand_back_generators`
    gives the others their generators' states. The padding, the steps
    each member takes and the members' penalty coefficients depend only on
    the members, so they are made once, and the blocks the batches are
    gathered into are reused from epoch to epoch.

    Parameters
    ----------
    members : list of _Member
        The pack's members now, their ``batch_sizes`` set.
    data : tuple (X, targets, weights)
        The pack's rows, targets and sample weights.
    network : _StackedMLP
    """

    def __init__(self, members, data, network):
        X, targets, _ = data
        batch_size = members[0].run.plan.batch_size
        self.steps = max(len(member.batch_sizes) for member in members)
        count = len(members)
        row_counts = [member.rows.stop - member.rows.start for member in members]
        self._starts = torch.tensor([member.rows.start for member in members]).view(1, -1, 1)
        # each member's epoch order is a row of its order source: the rows 0, 1, ... of its count, or the draws
        # of its shuffling generator, which the members of one row count whose generators are alike (their
        # fits' seeds are) share, drawn once, by the first one's; the slots past its rows are 0 (its first row,
        # once its start is added)
        keys = [_order_key(member, n, batch_size) for member, n in zip(members, row_counts, strict=True)]
        sources = {key: index for index, key in enumerate(dict.fromkeys(keys))}
        self._sources = torch.zeros(len(sources), self.steps * batch_size, dtype=torch.long)
        self._source_of_member = torch.tensor([sources[key] for key in keys])
        self._draws, self._followers, drawers = [], [], {}  # drawers: source -> the generator that draws it
        for (n, state), index in sources.items():
            if state is None:
                torch.arange(n, out=self._sources[index, :n])
        for member, key in zip(members, keys, strict=True):
            generator = member.run.net.generator
            if key[1] is None:
                continue
            if key in drawers:
                self._followers.append((generator, drawers[key]))
            else:
                drawers[key] = generator
                self._draws.append((generator, self._sources[sources[key], : key[0]]))
        shape = (self.steps, count, batch_size)
        valid = torch.arange(self.steps * batch_size) < torch.tensor(row_counts).view(-1, 1)
        self.valid = _by_step(valid, shape).to(dtype=X.dtype, device=X.device)
        self._uniform_weights = all(member.run.train_data.sample_weight is None for member in members)
        # each slot's weight and their sums per batch: fixed where no member has sample weights
        self.masks = self.valid if self._uniform_weights else torch.empty_like(self.valid)
        self.totals = self.valid.new_empty(shape[:2])
        if self._uniform_weights:
            _batch_totals(self.masks, self.totals)
        self.sizes = [[member.batch_sizes[step] if step < len(member.batch_sizes) else 0 for member in members]
                      for step in range(self.steps)]
        self.stepping = [None if all(sizes) else torch.tensor([size > 0 for size in sizes], device=X.device)
                         for sizes in self.sizes]
        # the members with callbacks at each batch's end (the schedules set per batch)
        self.per_batch = [k for k, member in enumerate(members) if member.run.net.listeners("on_batch_end")]
        self._index = torch.empty(shape, dtype=torch.long)
        self.batches = X.new_empty((*shape, *X.shape[1:]))
        self.targets = targets.new_empty((*shape, *targets.shape[1:]))
        self.penalties = StackedPenalties([member.run.net.penalty for member in members], network.is_weight)

    def gather(self, X, targets, weights):
        """Draw the epoch's orders and gather its batches: ``(batches, targets, masks, totals)``, by step.

        ``masks`` weigh each slot's row (0 for padding), ``totals`` are their
        sums per batch. All four are this layout's blocks, overwritten by the
        next epoch's: the steps read the same tensors at every epoch.
        """
        for generator, order in self._draws:
            torch.randperm(len(order), generator=generator, out=order)
        steps, count, batch_size = self.valid.shape
        orders = torch.index_select(self._sources, 0, self._source_of_member).view(count, steps, batch_size)
        index = torch.add(orders.transpose(0, 1), self._starts, out=self._index).view(-1).to(X.device)
        _gather_rows(X, index, self.batches)
        _gather_rows(targets, index, self.targets)
        if not self._uniform_weights:
            torch.mul(self.valid, weights[index].view(self.valid.shape), out=self.masks)
            _batch_totals(self.masks, self.totals)
        return self.batches, self.targets, self.masks, self.totals

    def hand_back_generators(self):
        """Give the members whose shuffles another member's generator drew their generators' states back."""
        for follower, drawer in self._followers:
            follower.set_state(drawer.get_state())


def _batch_totals(masks, out):
    """Write the sums of ``masks`` per batch into ``out``, at least the smallest positive float (no division by 0)."""
    torch.sum(masks, -1, out=out).clamp_min_(torch.finfo(masks.dtype).tiny)


def _gather_rows(source, index, out):
    """Write the rows ``index`` of ``source`` into ``out``; rows of one value are gathered as a vector (faster)."""
    if source.numel() == len(source):
        torch.index_select(source.view(-1), 0, index, out=out.view(-1))
    else:
        torch.index_select(source, 0, index, out=out.view(-1, *source.shape[1:]))


def _order_key(member, rows, batch_size):
    """What a member's epoch orders depend on: its ``rows`` and, where it shuffles, its generator's state."""
    run = member.run
    shuffled = run.net.shuffle and rows > batch_size
    return rows, bytes(run.net.generator.get_state().numpy()) if shuffled else None


def _by_step(rows, shape):
    """Members' rows of an epoch's slots, (K, steps * batch_size), as the (steps, K, batch_size) block of its steps."""
    steps, count, batch_size = shape
    return rows.view(count, steps, batch_size).transpose(0, 1).contiguous()


def _run_epoch(members, layout, network, optimizer, criterion, data, threads):
    """One epoch of every member of the pack, its records written and its callbacks notified.

    ``layout`` is the members' :class:`_EpochLayout`; ``threads`` (a
    :class:`skdeep._threads.BatchThreads`, or None) runs each step on the
    threads that are faster now, as it does a fit's.
    """
    for member in members:
        member.run.net.notify("on_epoch_begin", dataset_train=member.run.train_data,
                              dataset_valid=_validation_set(member.run))
    optimizer.read_learning_rates()
    per_batch = layout.per_batch
    steps = _steps(layout, network, optimizer, criterion, *layout.gather(*data))
    if threads is not None:  # (on the CPU share or on one thread, whichever is faster now)
        steps = threads.steps(steps)
    losses = []
    for step, ((rows, target), loss) in enumerate(steps):
        losses.append(loss.detach())
        if per_batch:
            for k in per_batch:
                size = layout.sizes[step][k]
                if size:
                    batch = (rows[k, :size], target[k, :size])
                    members[k].run.net.notify("on_batch_end", batch=batch, training=True, loss=loss[k])
            optimizer.read_learning_rates()
    batch_losses = torch.stack(losses, dim=1).double().tolist()  # the epoch's one sync; a row per member
    penalty_values = layout.penalties.values(network.flat)
    for member, losses, penalty in zip(members, batch_losses, penalty_values, strict=True):
        member.monitor.known_penalty = penalty
        _end_epoch(member, losses[: len(member.batch_sizes)])


def _steps(layout, network, optimizer, criterion, batches, targets, masks, totals):
    """Train the pack on each step's batches; yield each step's ``(batches, targets)`` and the members' losses."""
    for step in range(layout.steps):
        raw = network(batches[step], layout.sizes[step])
        per_sample = criterion.per_sample(raw.flatten(0, 1), targets[step].flatten(0, 1)).view(masks[step].shape)
        loss = (per_sample * masks[step]).sum(1) / totals[step]
        loss.sum().backward()  # (the layers write their gradients into the rows of network.grad)
        layout.penalties.add_gradients(network.grad, network.flat)  # each member's, as its fit adds it
        optimizer.step(layout.stepping[step])
        yield (batches[step], targets[step]), loss


def _validation_set(run):
    return None if run.validation is None else run.validation[0]


def _end_epoch(member, batch_losses):
    """Write ``member``'s epoch into its history and notify its callbacks; note whether it stopped or failed."""
    net = member.run.net
    net.record_epoch_losses("train", batch_losses, member.batch_sizes)
    try:
        net.notify("on_epoch_end", dataset_train=member.run.train_data, dataset_valid=_validation_set(member.run))
    except StopTraining:
        member.stopped = True
    except Exception as error:  # noqa: BLE001 (its own fit raises it)
        member.error = error
