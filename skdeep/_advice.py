"""Advice added to errors that a user can act on: running out of memory while training."""

import torch


def out_of_memory(error):
    """Whether ``error`` says that the CPU or a GPU ran out of memory."""
    return (isinstance(error, (torch.OutOfMemoryError, MemoryError))
            or (isinstance(error, RuntimeError) and "can't allocate memory" in str(error)))


def with_memory_advice(error, estimator, *, unfitted):
    """``error`` again, of the same type, with advice on what to change (the device's cache emptied first).

    Parameters
    ----------
    error : BaseException
        An error for which :func:`out_of_memory` holds.
    estimator : skdeep._base.BaseNeuralEstimator
        The estimator whose training ran out of memory.
    unfitted : bool
        Whether the estimator was left unfitted (else as it was before the call).

    Returns
    -------
    error : BaseException
    """
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    left = "left unfitted" if unfitted else "left as it was before this call"
    return type(error)(
        f"{error}\nThe {'device' if isinstance(error, torch.OutOfMemoryError) else 'machine'} ran out of "
        f"memory while training {type(estimator).__name__} (batch_size={estimator.batch_size!r}, "
        f"precision={estimator.precision!r}). Try a smaller batch_size, precision='bfloat16' (or "
        f"'float16'), a smaller network, or another device. The estimator was {left}."
    )
