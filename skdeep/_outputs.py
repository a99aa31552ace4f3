"""A trained network's outputs for a dataset, as predictions take them, and which rows are finite."""

import numpy as np
import torch

from skdeep._data import PREDICT_BATCH_SIZE, place_on_device
from skdeep._threads import torch_threads


def network_outputs(net, dataset, dtype, transform=None):
    """The outputs of ``net`` for ``dataset``, transformed and in ``dtype``, and whether each row's are finite.

    Parameters
    ----------
    net : skdeep._net.SkdeepNet
    dataset : skdeep._data.ArrayDataset
    dtype : numpy.dtype
        The dtype of the outputs.
    transform : callable, default=None
        A function of the float64 outputs (probabilities, say): it gets a
        numpy array when they are on the CPU (numpy's operations are faster
        there) and a tensor on the device otherwise, to run there before the
        copy back, and may modify its input in place. It runs where every
        row's raw outputs are finite in float64.

    Returns
    -------
    output : ndarray of shape (n_samples, n_outputs)
    finite : ndarray of bool of shape (n_samples,)
        Whether the raw output of each row is finite, and its output in ``dtype`` too.

    Raises
    ------
    ValueError
        If the module's outputs do not have one row per sample and ``net.n_outputs`` columns.
    """
    device = torch.device(net.device)
    # on a GPU: X goes over once when it fits, outputs are gathered there and
    # copied back once, instead of a synchronising copy per batch
    dataset = place_on_device(dataset, device)
    with torch.inference_mode(), torch_threads(net.module_, min(len(dataset), PREDICT_BATCH_SIZE)):
        output = net.forward(dataset, device=device)
        if output.device.type == "cpu":
            # a copy: the module's output may be a view of X or of its own weights, which the
            # in-place transforms must not write to
            output = output.numpy().astype(np.float64)
            finite = np.isfinite(output).all(axis=1)
        else:
            output = output.double()
            finite = torch.isfinite(output).all(dim=1).cpu().numpy()
        _check_output_shape(output, len(dataset), net.n_outputs)
        with np.errstate(over="ignore"):  # values beyond the range of dtype become inf, and are counted
            if transform is not None and finite.all():
                output = transform(output)
            output = output if isinstance(output, np.ndarray) else output.cpu().numpy()
            output = output.astype(dtype, copy=False)
    if finite.all() and not np.isfinite(output).all():
        finite = np.isfinite(output).all(axis=1)
    return output, finite


def _check_output_shape(output, n_samples, n_outputs):
    """Refuse module outputs of the wrong shape."""
    if output.shape != (n_samples, n_outputs):
        raise ValueError(
            f"The module returned outputs of shape {tuple(output.shape)} for {n_samples} samples; "
            f"the estimator needs shape ({n_samples}, {n_outputs}): one row per sample, one column per output."
        )
