"""Many small networks trained as one: the packs of skdeep's stacked searches.

A member of a pack is a prepared fit of a skdeep MLP (a
:class:`skdeep._run.TrainingRun`): its plan, its net around a module with the
initial weights its ``fit`` draws, its training rows, its shuffling generator
and its callbacks (the learning-rate schedule, scikit-learn's stopping rule,
the divergence check), all built by the estimator's own ``fit`` code.
:func:`train_stacked` trains the members of a pack together:

- each dense layer's weights of all ``K`` members are one tensor of shape
  ``(K, out, in)``, run with batched matrix products (``torch.baddbmm``);
- each member's batch is gathered from its own rows, in the order its own
  generator shuffles them, padded to the pack's batch size with rows of
  weight 0;
- the members' mean losses are summed, so that each member's gradient is its
  standalone fit's, and each member's penalty is added to its gradient;
- the optimizer's state and hyper-parameters (learning rate, betas, epsilon,
  momentum, decay) are per member, and a member without a batch at a step
  (its epoch has fewer batches) does not step;
- after each epoch every member's net records the epoch and notifies its own
  callbacks: the members' parameters (and SGD's momentum buffers) are views
  of the stacked tensors, so scikit-learn's stopping rule, the schedules and
  the early-stopping score run on each member as in its own fit;
- a member that stops leaves the pack, its weights copied out; one that
  fails (its loss diverged) leaves it too, unrecorded.

The trained members are then recorded by their estimators
(:meth:`skdeep._base.BaseNeuralEstimator._record_run`), which are fitted as
their own ``fit`` leaves them.
"""

from dataclasses import dataclass, field

import torch
from torch import nn

from skdeep._callbacks import StopTraining
from skdeep._data import ArrayDataset, batch_bounds
from skdeep.modules import MLP, SklearnLoss

#: the solvers whose optimizer the pack steps per member
STACKED_SOLVERS = ("adam", "adamw", "sgd")


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


class _StackedLayers:
    """The layers of a pack's members, dense ones as stacked tensors, of which the members' parameters are views.

    Each member's dropout draws its masks from its own generator, seeded as
    its own fit seeds torch's global one, in the same order and shapes: its
    masks are those of its own fit.
    """

    def __init__(self, modules, seeds):
        # ("linear", weight, bias), ("elementwise", module, None) or ("dropout", probabilities, generators)
        self.operations = []
        for position, layer in enumerate(modules[0].layers):
            if isinstance(layer, nn.Linear):
                weight = torch.stack([m.layers[position].weight.detach() for m in modules])
                bias = torch.stack([m.layers[position].bias.detach() for m in modules]).unsqueeze(1)
                self.operations.append(("linear", weight.requires_grad_(), bias.requires_grad_()))
            elif isinstance(layer, nn.Dropout):
                self.operations.append(("dropout", [m.layers[position].p for m in modules], None))
            elif not isinstance(layer, nn.Identity):
                self.operations.append(("elementwise", layer, None))
        if any(kind == "dropout" for kind, _, _ in self.operations):
            self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.attach(modules)

    @property
    def parameters(self):
        """The stacked tensors, weight then bias of each layer: (K, out, in) and (K, 1, out)."""
        return [tensor for kind, weight, bias in self.operations if kind == "linear" for tensor in (weight, bias)]

    @property
    def weights(self):
        """The stacked weight matrices, which the penalties apply to."""
        return [weight for kind, weight, _ in self.operations if kind == "linear"]

    def attach(self, modules):
        """Make each member's dense parameters views of its slices of the stacked tensors."""
        for k, module in enumerate(modules):
            for layer, (weight, bias) in zip(module.linear_layers, _pairs(self.parameters), strict=True):
                layer.weight.data = weight.detach()[k]
                layer.bias.data = bias.detach()[k, 0]

    @staticmethod
    def release(modules):
        """Give the parameters of ``modules`` (members leaving the pack) storage of their own."""
        for module in modules:
            for parameter in module.parameters():
                parameter.data = parameter.data.clone()

    def keep(self, alive, modules):
        """Go on with the members of the boolean mask ``alive``, whose ``modules`` become views again."""
        kept = alive.tolist()
        self.operations = [
            (kind, a.detach()[alive].requires_grad_(), b.detach()[alive].requires_grad_()) if kind == "linear"
            else (kind, [p for p, keep in zip(a, kept, strict=True) if keep], b) if kind == "dropout"
            else (kind, a, b) for kind, a, b in self.operations]
        if hasattr(self, "generators"):
            self.generators = [g for g, keep in zip(self.generators, kept, strict=True) if keep]
        self.attach(modules)

    def __call__(self, X, rows):
        """The members' raw outputs for their batches ``X`` (K, batch, features) of ``rows`` rows (the rest pads)."""
        outputs = X
        for kind, a, b in self.operations:
            if kind == "linear":
                outputs = torch.baddbmm(b, outputs, a.mT)
            elif kind == "dropout":
                outputs = outputs * self._dropout_masks(outputs, a, rows)
            else:
                outputs = a(outputs)
        return outputs

    def _dropout_masks(self, outputs, probabilities, rows):
        """torch's dropout masks of each member's rows, scaled by ``1 / (1 - p)`` (padding rows get 0)."""
        masks = torch.zeros_like(outputs)
        width = outputs.shape[-1]
        for k, (p, n_rows, generator) in enumerate(zip(probabilities, rows, self.generators, strict=True)):
            if n_rows:  # (torch's dropout: bernoulli_(1 - p), then div_(1 - p))
                mask = torch.empty(n_rows, width, dtype=outputs.dtype).bernoulli_(1 - p, generator=generator)
                masks[k, :n_rows] = mask.div_(1 - p)
        return masks


def _pairs(tensors):
    return list(zip(tensors[::2], tensors[1::2], strict=True))


class _StackedOptimizer:
    """Adam, AdamW or SGD stepping every member of a pack with its own hyper-parameters and state.

    Each member's hyper-parameters are read from its net's optimizer (its
    ``param_groups``, which the schedules and the stopping rule set, as in its
    own fit), and its update is torch's, term for term.
    """

    def __init__(self, solver, nets, parameters):
        self.solver = solver
        self.nets = nets
        like = parameters[0]
        self._steps = torch.zeros(len(nets), dtype=like.dtype, device=like.device)
        groups = [net.optimizer_.param_groups[0] for net in nets]
        self._constants = {}
        if solver == "sgd":
            self._constants.update(momentum=[g["momentum"] for g in groups], nesterov=[g["nesterov"] for g in groups])
            self.state = {"momentum_buffer": [torch.zeros_like(p) for p in parameters]}
        else:
            self._constants.update(beta_1=[g["betas"][0] for g in groups], beta_2=[g["betas"][1] for g in groups],
                                   eps=[g["eps"] for g in groups],
                                   decay=[g["weight_decay"] if g.get("decoupled") else 0.0 for g in groups])
            self.state = {"exp_avg": [torch.zeros_like(p) for p in parameters],
                          "exp_avg_sq": [torch.zeros_like(p) for p in parameters]}
        self._tensors = {name: self._per_member(values) for name, values in self._constants.items()}
        self.read_learning_rates()

    def _per_member(self, values):
        like = self._steps
        return torch.tensor([float(v) for v in values], dtype=like.dtype, device=like.device).view(-1, 1, 1)

    def read_learning_rates(self):
        """Take each member's learning rate from its net's optimizer (its callbacks set it)."""
        self.lr = self._per_member([net.optimizer_.param_groups[0]["lr"] for net in self.nets])

    def keep(self, alive):
        """Go on with the members of the boolean mask ``alive``."""
        self.nets = [net for net, keep in zip(self.nets, alive.tolist(), strict=True) if keep]
        self._steps = self._steps[alive]
        self._constants = {name: [v for v, keep in zip(values, alive.tolist(), strict=True) if keep]
                           for name, values in self._constants.items()}
        self._tensors = {name: tensor[alive] for name, tensor in self._tensors.items()}
        self.state = {name: [tensor[alive] for tensor in tensors] for name, tensors in self.state.items()}
        self.lr = self.lr[alive]

    @torch.no_grad()
    def step(self, parameters, stepping):
        """Update ``parameters`` from their gradients, for the members whose ``stepping`` mask is set (None: all)."""
        before = None if stepping is None else [p.detach().clone() for p in parameters]
        self._steps += 1 if stepping is None else stepping.to(self._steps.dtype)
        if self.solver == "sgd":
            self._sgd(parameters, stepping)
        else:
            self._adam(parameters, stepping)
        if stepping is not None:  # the others stay as they were
            mask = stepping.view(-1, 1, 1)
            for parameter, old in zip(parameters, before, strict=True):
                parameter.copy_(torch.where(mask, parameter, old))

    def _adam(self, parameters, stepping):
        t = self._tensors
        beta_1, beta_2, eps = t["beta_1"], t["beta_2"], t["eps"]
        steps = self._steps.view(-1, 1, 1)
        step_size = self.lr / (1 - beta_1 ** steps)
        correction_2 = (1 - beta_2 ** steps).sqrt()
        for index, parameter in enumerate(parameters):
            grad = parameter.grad
            exp_avg, exp_avg_sq = self.state["exp_avg"][index], self.state["exp_avg_sq"][index]
            if stepping is not None:
                mask = stepping.view(-1, 1, 1)
                saved = exp_avg.clone(), exp_avg_sq.clone()
            if index % 2 == 0 and any(self._constants["decay"]):  # AdamW decays the weight matrices
                parameter.mul_(1 - self.lr * t["decay"])
            exp_avg.lerp_(grad, 1 - beta_1)
            exp_avg_sq.mul_(beta_2).addcmul_(grad * (1 - beta_2), grad)
            parameter.sub_(step_size * exp_avg / (exp_avg_sq.sqrt() / correction_2 + eps))
            if stepping is not None:
                exp_avg.copy_(torch.where(mask, exp_avg, saved[0]))
                exp_avg_sq.copy_(torch.where(mask, exp_avg_sq, saved[1]))

    def _sgd(self, parameters, stepping):
        momentum = self._tensors["momentum"]
        nesterov = self._tensors["nesterov"].bool()
        for index, parameter in enumerate(parameters):
            grad = parameter.grad
            if not any(self._constants["momentum"]):
                parameter.sub_(self.lr * grad)
                continue
            buffer = self.state["momentum_buffer"][index]
            new_buffer = buffer * momentum + grad
            if stepping is not None:
                new_buffer = torch.where(stepping.view(-1, 1, 1), new_buffer, buffer)
            buffer.copy_(new_buffer)
            parameter.sub_(self.lr * torch.where(nesterov, grad + momentum * buffer, buffer))

    def member_state(self, k, parameters, step_dtype):
        """Member ``k``'s state as torch's optimizer keeps it, for its module's ``parameters`` (copies)."""
        states = []
        for index, parameter in enumerate(parameters):
            state = {name: tensors[index].detach()[k].reshape(parameter.shape).clone()
                     for name, tensors in self.state.items()}
            if self.solver != "sgd":
                state["step"] = torch.tensor(float(self._steps[k]), dtype=step_dtype)
            elif not self._constants["momentum"][k]:
                state = {"momentum_buffer": None}
            states.append(state)
        return states

    def share_momentum(self, k):
        """Put views of member ``k``'s momentum buffers in its net's SGD state (the schedules rescale them)."""
        if self.solver != "sgd" or not self._constants["momentum"][k]:
            return
        optimizer = self.nets[k].optimizer_
        for index, parameter in enumerate(self.nets[k].module_.parameters()):
            optimizer.state[parameter] = {
                "momentum_buffer": self.state["momentum_buffer"][index].detach()[k].reshape(parameter.shape)}


@dataclass
class _Member:
    """A run in a pack, and where its training stands."""

    run: object
    rows: slice
    batch_sizes: list = field(default_factory=list)
    valid: torch.Tensor = None
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
    X = torch.cat([run.train_data.X for run in runs])
    targets = torch.cat([run.train_data.y for run in runs])
    weights = torch.cat([torch.ones(len(run.train_data), dtype=X.dtype, device=X.device)
                         if run.train_data.sample_weight is None else run.train_data.sample_weight for run in runs])
    starts = [0]
    for run in runs:
        starts.append(starts[-1] + len(run.train_data))
    members = [_Member(run, slice(start, stop)) for run, start, stop in zip(runs, starts[:-1], starts[1:],
                                                                            strict=True)]
    layers = _StackedLayers(modules, [run.seed for run in runs])
    optimizer = _StackedOptimizer(first.plan.solver, nets, layers.parameters)
    criterion = nets[0].criterion_
    for k, member in enumerate(members):
        member.batch_sizes = _batch_sizes(member, first.plan.batch_size)
        member.valid = torch.ones(member.rows.stop - member.rows.start, dtype=torch.bool)
        net = member.run.net
        net.notify("on_train_begin", X=member.run.train_data, y=None)
        optimizer.share_momentum(k)
    step_dtype = _adam_step_dtype(first)
    active = list(range(len(members)))
    for _ in range(max(run.plan.epochs for run in runs)):
        pack = [members[k] for k in active]
        _run_epoch(pack, layers, optimizer, criterion, X, targets, weights)
        left = [k for k in active if members[k].stopped or members[k].error is not None
                or len(members[k].run.net.history) - members[k].run.epochs_before >= members[k].run.plan.epochs]
        if left:
            alive = torch.tensor([k not in left for k in active], device=X.device)
            for position, k in enumerate(active):
                if k in left:
                    module = members[k].run.net.module_
                    _leave(members[k], optimizer.member_state(position, list(module.parameters()), step_dtype))
            layers.release([members[k].run.net.module_ for k in left])
            active = [k for k in active if k not in left]
            if not active:
                break
            layers.keep(alive, [members[k].run.net.module_ for k in active])
            optimizer.keep(alive)
            for position in range(len(active)):
                optimizer.share_momentum(position)
    return [member.error for member in members]


def _adam_step_dtype(run):
    """The dtype torch's Adam keeps its step count in, for this run's optimizer."""
    options = run.plan.net.optimizer_options
    return torch.float32 if options.get("fused") or options.get("capturable") else torch.get_default_dtype()


def _leave(member, state):
    """End ``member``'s training: its callbacks' ``on_train_end``, its optimizer's state."""
    net = member.run.net
    optimizer = net.optimizer_
    for parameter, entry in zip(net.module_.parameters(), state, strict=True):
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


def _epoch_indices(members, batch_size, device):
    """Each member's rows of each step of the epoch: (steps, K, batch_size) flat indices, and the padding mask.

    Each member's order is the one its own fit draws from its generator.
    """
    steps = max(len(member.batch_sizes) for member in members)
    orders, masks = [], []
    for member in members:
        net, n_rows = member.run.net, member.rows.stop - member.rows.start
        shuffle = net.shuffle and n_rows > batch_size
        order = torch.randperm(n_rows, generator=net.generator) if shuffle else torch.arange(n_rows)
        padding = steps * batch_size - n_rows
        orders.append(torch.nn.functional.pad(order + member.rows.start, (0, padding)))
        masks.append(member.valid if member.valid.shape[0] == steps * batch_size
                     else torch.nn.functional.pad(member.valid, (0, steps * batch_size - member.valid.shape[0])))
    shape = (len(members), steps, batch_size)
    return (torch.stack(orders).view(shape).transpose(0, 1).to(device),
            torch.stack(masks).view(shape).transpose(0, 1).to(device))


def _run_epoch(members, layers, optimizer, criterion, X, targets, weights):
    """One epoch of every member of the pack, its records written and its callbacks notified."""
    batch_size = members[0].run.plan.batch_size
    for member in members:
        member.run.net.notify("on_epoch_begin", dataset_train=member.run.train_data,
                              dataset_valid=_validation_set(member.run))
    optimizer.read_learning_rates()
    index, valid = _epoch_indices(members, batch_size, X.device)
    n_steps = torch.tensor([len(member.batch_sizes) for member in members], device=X.device)
    per_batch = [k for k, member in enumerate(members) if member.run.net.listeners("on_batch_end")]
    penalties = [member.run.net.penalty for member in members]
    l2 = optimizer._per_member([p.l2 / p.batch_weight if p else 0.0 for p in penalties])
    l1 = optimizer._per_member([p.l1 / p.batch_weight if p else 0.0 for p in penalties])
    penalised = [penalty for penalty, coefficients in (("l2", l2), ("l1", l1)) if bool(coefficients.any())]
    losses = []
    for step in range(index.shape[0]):
        rows = index[step]
        mask = valid[step].to(X.dtype) * torch.take(weights, rows)
        sizes = [member.batch_sizes[step] if step < len(member.batch_sizes) else 0 for member in members]
        raw = layers(X.index_select(0, rows.flatten()).view(*rows.shape, *X.shape[1:]), sizes)  # (3x X[rows])
        target = targets[rows]
        per_sample = criterion.per_sample(raw.flatten(0, 1), target.flatten(0, 1)).view(mask.shape)
        total = mask.sum(1).clamp_min(torch.finfo(mask.dtype).tiny)
        loss = (per_sample * mask).sum(1) / total
        parameters = layers.parameters
        for parameter in parameters:
            parameter.grad = None
        loss.sum().backward()
        with torch.no_grad():
            for weight in layers.weights:
                if "l2" in penalised:
                    weight.grad.add_(l2 * weight)
                if "l1" in penalised:
                    weight.grad.add_(l1 * weight.sign())
        stepping = None if bool((n_steps > step).all()) else n_steps > step
        optimizer.step(parameters, stepping)
        losses.append(loss.detach())
        if per_batch:
            for k in per_batch:
                if len(members[k].batch_sizes) > step:
                    n_rows = members[k].batch_sizes[step]
                    batch = (X[rows[k, :n_rows]], target[k, :n_rows])
                    members[k].run.net.notify("on_batch_end", batch=batch, training=True, loss=loss[k])
            optimizer.read_learning_rates()
    batch_losses = torch.stack(losses).double().cpu()  # the epoch's one sync
    for k, member in enumerate(members):
        _end_epoch(member, batch_losses[: len(member.batch_sizes), k].tolist())


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
