"""torch's optimizers without their one-time import of ``torch._dynamo``.

torch wraps ``Optimizer.add_param_group``, ``zero_grad``, ``state_dict`` and
``load_state_dict`` in ``torch._disable_dynamo``, and each optimizer's
``step`` in a wrapper that places graph breaks: both import ``torch._dynamo``
on their first call, about a second in every new process. Every script's
first fit would pay it, and so would every worker of a joblib, Dask or Ray
search. The wrappers only matter when ``torch.compile`` traces the optimizer
itself, which skdeep never does (``compile=True`` compiles the module), so
skdeep's optimizers are torch's classes with the undecorated methods: the
same arithmetic, the same state, subclasses of torch's classes.

Their ``step`` also skips torch's step-hook wrapper (a profiler range and two
empty hook loops, 20 µs of a small network's 400 µs step) unless a step hook
is registered or torch's profiler runs.
"""

import inspect

import torch
import torch.optim.optimizer as torch_optimizer
from torch.optim import Optimizer

_UNDECORATED_METHODS = {
    name: inspect.unwrap(getattr(Optimizer, name))
    for name in ("add_param_group", "zero_grad", "state_dict", "load_state_dict")
}
#: torch's registries of hooks for every optimizer's step (None where a torch release lacks one)
_GLOBAL_STEP_HOOKS = [getattr(torch_optimizer, name, None)
                      for name in ("_global_optimizer_pre_hooks", "_global_optimizer_post_hooks")]


def _needs_step_wrapper(optimizer):
    """Whether a step must run torch's wrapper: hooks to call, or a profiler to label the step for."""
    return (None in _GLOBAL_STEP_HOOKS or any(_GLOBAL_STEP_HOOKS)
            or getattr(optimizer, "_optimizer_step_pre_hooks", True)
            or getattr(optimizer, "_optimizer_step_post_hooks", True)
            or torch.autograd._profiler_enabled())


def without_dynamo(optimizer_class, module=None):
    """A subclass of ``optimizer_class`` whose methods do not import ``torch._dynamo``.

    Its ``step`` runs the class's own step with gradients off, as torch's
    wrapper does, minus the graph breaks that only ``torch.compile`` reads.

    Parameters
    ----------
    optimizer_class : type
        A subclass of :class:`torch.optim.Optimizer`.
    module : str, default=None
        The module that holds the new class under the same name (where
        pickle looks it up); None for ``optimizer_class``'s own, which the
        class then replaces (use it as a class decorator).

    Examples
    --------
    >>> import torch
    >>> from skdeep._dynamo_free import without_dynamo
    >>> w = torch.nn.Parameter(torch.ones(2))
    >>> optimizer = without_dynamo(torch.optim.SGD)([w], lr=0.5)
    >>> w.sum().backward()
    >>> optimizer.step()
    >>> w.tolist(), isinstance(optimizer, torch.optim.SGD)
    ([0.5, 0.5], True)
    """
    own_step = inspect.unwrap(optimizer_class.step)

    def plain_step(self, closure=None):
        with torch.set_grad_enabled(self.defaults.get("differentiable", False)):
            return own_step(self, closure)

    wrapped_step = Optimizer.profile_hook_step(plain_step)

    def step(self, closure=None):
        return (wrapped_step if _needs_step_wrapper(self) else plain_step)(self, closure)

    step.__doc__ = optimizer_class.step.__doc__
    step.hooked = True  # runs torch's wrapper itself when needed: torch must not wrap it again
    return type(optimizer_class.__name__, (optimizer_class,),
                {**_UNDECORATED_METHODS, "step": step, "__module__": module or optimizer_class.__module__,
                 "__doc__": optimizer_class.__doc__ if module is None else
                 f"{optimizer_class.__name__} without its import of torch._dynamo (see skdeep._dynamo_free)."})
