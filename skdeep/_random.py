"""torch's process-global random state, shared safely by fits in several threads.

torch's initialisers and its dropout draw from process-global generators (the
CPU one, and one per GPU). A seeded fit must set them, and must leave the
caller's state as it found it (``torch.random.fork_rng``). Two fits in two
threads would interleave their draws and restore each other's states, so the
blocks that use these generators hold one lock: such fits run one after the
other, and give the models they give alone. Fits that draw nothing from the
global generators during training (skdeep's networks without dropout, whose
shuffling has a generator of its own) hold the lock only while their module
is built, and otherwise train in parallel.
"""

import threading
from contextlib import contextmanager, nullcontext

import torch
from torch.nn.modules.dropout import _DropoutNd

_GLOBAL_GENERATORS = threading.RLock()


def cuda_devices(device):
    """The CUDA devices whose random state ``torch.random.fork_rng`` must keep for ``device``."""
    return [device.index or 0] if device.type == "cuda" else []


@contextmanager
def seeded_torch(seed, device):
    """Run the block with torch's global generators seeded by ``seed``; restore the caller's state after.

    Parameters
    ----------
    seed : int
        The seed of the CPU generator and of ``device``'s.
    device : torch.device
        The device whose generator is seeded too (CUDA).

    Examples
    --------
    >>> import torch
    >>> from skdeep._random import seeded_torch
    >>> before = torch.random.get_rng_state()
    >>> with seeded_torch(0, torch.device("cpu")):
    ...     first = torch.rand(2)
    >>> with seeded_torch(0, torch.device("cpu")):
    ...     torch.equal(first, torch.rand(2))
    True
    >>> torch.equal(before, torch.random.get_rng_state())
    True
    """
    with _GLOBAL_GENERATORS, torch.random.fork_rng(devices=cuda_devices(device)):
        _seed_generators(seed, device)
        yield


def _seed_generators(seed, device):
    """Seed the CPU generator and ``device``'s.

    ``torch.manual_seed`` seeds every backend, and where CUDA has not started
    it records a stack trace for CUDA's lazy start at each call: 0.1 ms, and
    40 ms the first time in a process (it reads source files).
    """
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":  # started by fork_rng, which read its state
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)
    elif device.type == "mps":
        torch.mps.manual_seed(seed)


def draws_from_global_generators(module, *, own_module):
    """Whether training ``module`` draws from torch's global generators.

    ``own_module`` says whether the module is one of skdeep's, whose only
    random layers are dropout; a user's module may draw anywhere.
    """
    return not own_module or any(isinstance(layer, _DropoutNd) for layer in module.modules())


def seeded_training(seed, device, module, *, own_module):
    """:func:`seeded_torch` for training ``module``, or nothing when its training draws no random number."""
    return seeded_torch(seed, device) if draws_from_global_generators(module, own_module=own_module) else nullcontext()
