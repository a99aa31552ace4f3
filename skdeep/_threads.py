"""How many CPU threads torch uses for a block of work: the CPU share, or one thread for small work."""

import weakref
from contextlib import contextmanager
from functools import cache

import torch
from joblib import cpu_count
from torch import nn

#: multiply-adds per batch below which one thread is faster than two: the
#: second thread's wake-up and wait cost more than the half of the work it takes,
#: and it spins on a core that other processes may want
SMALL_WORK = 2_000_000

#: layers whose work per row is negligible beside a Linear's
_LIGHT_LAYERS = (nn.Embedding, nn.EmbeddingBag, nn.Identity, nn.Dropout, nn.Flatten, nn.Unflatten,
                 nn.BatchNorm1d, nn.LayerNorm)

_dense_work_cache = weakref.WeakKeyDictionary()


@cache
def cpu_share():
    """The CPUs this process may use (its cgroup quota and affinity), read once.

    joblib's ``cpu_count`` reads the cgroup files at each call, 50 µs that a
    one-row prediction would pay every time.
    """
    return cpu_count()


def dense_work(module):
    """Multiply-adds per input row of ``module``, or None where they do not follow from its weights.

    Known for modules made of dense layers and activations only (skdeep's
    MLPs, for instance); a convolution or a recurrence reuses its weights at
    every position of the input, so its work is unknown until it runs.

    Examples
    --------
    >>> from torch import nn
    >>> from skdeep._threads import dense_work
    >>> dense_work(nn.Sequential(nn.Linear(30, 100), nn.ReLU(), nn.Linear(100, 2)))
    3200
    >>> dense_work(nn.Conv2d(1, 8, 3)) is None
    True
    """
    try:
        return _dense_work_cache[module]
    except KeyError:
        pass
    work = 0
    for layer in module.modules():
        if isinstance(layer, nn.Linear) and not isinstance(layer.weight, nn.parameter.UninitializedParameter):
            work += layer.weight.numel()
        elif not (isinstance(layer, _LIGHT_LAYERS) or _is_activation(layer) or _is_container(layer)):
            work = None  # (a lazy Linear before its first call is of unknown size too)
            break
    _dense_work_cache[module] = work
    return work


def _is_container(layer):
    return next(layer.children(), None) is not None and next(layer.parameters(recurse=False), None) is None


def _is_activation(layer):
    return type(layer).__module__ == "torch.nn.modules.activation" and not isinstance(layer, nn.MultiheadAttention)


def threads_for(module, rows):
    """The number of threads torch should use to run ``module`` on batches of ``rows`` rows.

    At most the process's CPU share (torch starts one thread per core it
    sees, ignoring a container's CPU quota and, on some builds, the process's
    CPU affinity: 64 threads contending for 2 CPUs wait on each other), and
    one thread for small dense networks (see :data:`SMALL_WORK`).
    """
    threads = min(torch.get_num_threads(), cpu_share())
    if threads > 1:
        work = dense_work(module)
        if work is not None and work * rows < SMALL_WORK:
            return 1
    return threads


@contextmanager
def torch_threads(module, rows):
    """Run the block with torch on :func:`threads_for` threads; restore torch's setting after.

    Nothing changes where torch's count already fits (joblib's workers, for
    instance, start with ``OMP_NUM_THREADS`` set to their share).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdeep._threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(nn.Linear(30, 2), rows=200):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    threads = threads_for(module, rows)
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
