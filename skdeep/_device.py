"""Resolve the ``device`` parameter of skdeep's estimators to a torch device."""

import re

import torch

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def _cuda_with_most_free_memory():
    free_memory = [torch.cuda.mem_get_info(index)[0] for index in range(torch.cuda.device_count())]
    return torch.device("cuda", max(range(len(free_memory)), key=free_memory.__getitem__))


def resolve_device(device):
    """Turn a ``device`` parameter into an available :class:`torch.device`.

    Parameters
    ----------
    device : str
        ``"auto"`` (CUDA if available, on the GPU with the most free memory,
        then Apple MPS, then the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
        ``"mps"``.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        If ``device`` is not one of the forms above, or names a device that
        this machine does not have.

    Examples
    --------
    >>> from skdeep._device import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ValueError(
            f"The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or "
            f"'mps'. Got {device!r} instead."
        )
    if device == "auto":
        if torch.cuda.is_available():
            return _cuda_with_most_free_memory()
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested, but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False: no NVIDIA GPU, driver "
                "or CUDA build of PyTorch). Use device='auto' to fall back to the CPU "
                "when no GPU is present."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested, but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s), numbered from 0."
            )
        if resolved.index is None:  # as tensors report it: data on "cuda:0" is on the device
            resolved = torch.device("cuda", torch.cuda.current_device())
    if resolved.type == "mps" and not _mps_available():
        raise ValueError(
            "device='mps' was requested, but Apple's MPS backend is not available "
            "on this machine. Use device='auto' to fall back to the CPU."
        )
    return resolved
