"""The optimizers of skdeep's solvers: building one for a training call, and loading a saved state into it.

Each is torch's optimizer (or skdeep's :class:`~skdeep._lbfgs.ScipyLBFGS`)
without its one-time import of ``torch._dynamo`` (see
:mod:`skdeep._dynamo_free`).
"""

import numpy as np
import torch

from skdeep._dynamo_free import without_dynamo
from skdeep._lbfgs import ScipyLBFGS

SGD = without_dynamo(torch.optim.SGD, module=__name__)
Adam = without_dynamo(torch.optim.Adam, module=__name__)
AdamW = without_dynamo(torch.optim.AdamW, module=__name__)
RMSprop = without_dynamo(torch.optim.RMSprop, module=__name__)
Adagrad = without_dynamo(torch.optim.Adagrad, module=__name__)

#: skdeep's solver names -> the optimizer each builds
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad, "lbfgs": ScipyLBFGS}
#: optimizer options that depend on the device: those of the optimizer rebuilt where a saved state loads
_DEVICE_OPTIONS = ("fused", "foreach", "capturable")


def builds(optimizer, net_plan):
    """Whether ``optimizer`` is the one that ``net_plan`` builds (a partial_fit after set_params builds another).

    It is if it is of the plan's class, with the plan's ``optimizer__``
    arguments (torch's optimizers keep their options in each parameter group).
    """
    return type(optimizer) is (net_plan.optimizer or OPTIMIZERS[net_plan.solver]) and all(
        _same(group.get(name), value) for group in optimizer.param_groups for name, value in net_plan.arguments.items())


def _same(option, value):
    try:
        return bool(option == value)
    except (TypeError, ValueError, RuntimeError):  # a tensor option, say: compared by identity
        return option is value


def make_optimizer(param_groups, *, solver, optimizer=None, decoupled_weight_decay=None, tensor_lr=False, **options):
    """Build the optimizer of ``solver`` (or the user's ``optimizer`` class) over all parameters, in one group.

    ``param_groups`` is what skorch passes: a list of ``{"params": [...]}``.
    Only AdamW's decoupled weight decay lives in the optimizer, on the weight
    matrices alone (biases and normalisation parameters, the 1-D tensors, are
    not decayed; their group is marked ``"decoupled"``, so that a later call
    can set it); the penalties of the other solvers are added to the
    gradients by :class:`skdeep._penalty.WeightPenalty`, so that the
    optimizer runs one fused kernel per step rather than one per parameter
    group. With ``tensor_lr``, the learning rate is a tensor on the
    parameters' device, which a captured CUDA graph reads at each replay.

    Examples
    --------
    >>> import torch
    >>> from skdeep._optim import make_optimizer
    >>> layer = torch.nn.Linear(3, 2)
    >>> optimizer = make_optimizer([{"params": list(layer.parameters())}], solver="adamw", lr=0.1,
    ...                            decoupled_weight_decay=0.01)
    >>> [(len(group["params"]), group["weight_decay"]) for group in optimizer.param_groups]
    [(1, 0.01), (1, 0.0)]
    """
    params = [p for group in param_groups for p in group["params"]]
    if optimizer is not None:
        return optimizer(params, **options)
    if tensor_lr:
        options["lr"] = torch.tensor(float(options["lr"]), device=params[0].device)
    if decoupled_weight_decay is None:
        return OPTIMIZERS[solver](params, **options)
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": decoupled_weight_decay, "decoupled": True},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return OPTIMIZERS[solver]([group for group in groups if group["params"]], **options)


def set_decoupled_weight_decay(optimizer, weight_decay):
    """Set AdamW's decoupled decay on the groups :func:`make_optimizer` marked (a later call's ``alpha``)."""
    for group in optimizer.param_groups:
        if group.get("decoupled"):
            group["weight_decay"] = weight_decay


def load_optimizer_state(optimizer, saved):
    """Load a saved ``state_dict`` (tensors or arrays) into ``optimizer``, just built where it runs.

    The moments and step counts are the saved ones (torch moves them to the
    parameters' device), and so is the learning rate; the options that depend
    on the device (a fused or capturable step, the learning rate as a tensor
    for CUDA graphs, which keeps its tensor) are those of ``optimizer``, so
    that a model saved on a GPU trains on in a CPU's way.
    """
    groups = []
    for group, built in zip(saved["param_groups"], optimizer.param_groups, strict=True):
        group = {**group, **{option: built[option] for option in _DEVICE_OPTIONS if option in built}}
        lr = float(group["lr"])
        group["lr"] = built["lr"].fill_(lr) if torch.is_tensor(built["lr"]) else lr
        groups.append(group)
    optimizer.load_state_dict({"state": {int(index): _as_tensors(values) for index, values in saved["state"].items()},
                               "param_groups": groups})


def _as_tensors(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, dict):
        return {key: _as_tensors(item) for key, item in value.items()}
    return value
