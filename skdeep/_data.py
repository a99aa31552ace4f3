"""The fast data path: tensors converted once per fit, batches sliced by index.

skorch's default ``Dataset`` + ``DataLoader`` load one sample at a time and
collate them, one Python call per row. Here X, y and the sample weights are
converted to tensors once, and a batch is a single index operation on each:
a contiguous view when the order is fixed, a gather for a shuffled epoch.
Sparse matrices stay sparse; each batch of rows becomes a sparse COO tensor
that the first layer multiplies sparsely.
"""

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


#: Batches at prediction time are larger than in training: no gradients to keep.
PREDICT_BATCH_SIZE = 4096


def dtype_to_numpy(dtype):
    """The numpy dtype of a torch floating dtype."""
    return torch.empty(0, dtype=dtype).numpy().dtype


def as_tensor_source(X, dtype, sample_shape=None, *, training=False):
    """Convert a validated 2-D X once into what batches are sliced from.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
    dtype : torch.dtype
        The training dtype.
    sample_shape : tuple of int, default=None
        Shape each dense sample takes (a view: images stay images for a
        convolutional or recurrent module); None keeps the rows flat.
    training : bool, default=False
        Whether X is training data (named so in the error for values that
        ``dtype`` cannot hold).

    Returns
    -------
    source : torch.Tensor or scipy.sparse.csr_matrix
        A tensor sharing memory with ``X`` when ``X`` already has ``dtype`` and
        is C-contiguous (one converted copy otherwise), or ``X`` as CSR.
    """
    check_representable(X.data if sp.issparse(X) else X, dtype, "X",
                        "scale the features (for example with sklearn.preprocessing.StandardScaler)",
                        # for training data, scikit-learn's words for what such values do to its MLP first
                        prefix=("Solver produced non-finite parameter weights. The input data may contain "
                                "large values and need to be preprocessed. ") if training else "")
    if sp.issparse(X):
        return X.tocsr()
    X = np.ascontiguousarray(X, dtype=_NUMPY_DTYPES[dtype])
    if sample_shape is not None:
        X = X.reshape(len(X), *sample_shape)
    return shared_tensor(X)


def shared_tensor(array):
    """``array`` as a tensor sharing its memory, read-only arrays (memmaps) included: skdeep never writes to them.

    Examples
    --------
    >>> import numpy as np
    >>> from skdeep._data import shared_tensor
    >>> array = np.arange(3.0)
    >>> array.flags.writeable = False
    >>> shared_tensor(array)
    tensor([0., 1., 2.], dtype=torch.float64)
    """
    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def check_representable(values, dtype, name, advice, *, positive=False, prefix=""):
    """Refuse float64 ``values`` that ``dtype`` cannot hold, before they silently become inf (or 0).

    Parameters
    ----------
    values : ndarray
        The values to be cast (float64 ones are checked).
    dtype : torch.dtype
        The dtype of training and prediction.
    name : str
        What the values are (``"X"``, ``"y"``, ``"sample_weight"``), named in the error.
    advice : str
        What to do about values beyond the range; ``precision="float64"`` is added.
    positive : bool, default=False
        Also refuse positive values that round to 0 (sample weights).
    prefix : str, default=""
        Text that the error starts with.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skdeep._data import check_representable
    >>> check_representable(np.array([1e39]), torch.float32, "y", "scale them")
    Traceback (most recent call last):
    ...
    ValueError: y holds values beyond the range of float32 (the largest magnitude is 1e+39; ...
    """
    values = np.asarray(values)
    if values.dtype != np.float64 or dtype == torch.float64 or values.size == 0:
        return
    limit, kind = torch.finfo(dtype).max, str(dtype).replace("torch.", "")
    highest, lowest = float(values.max()), float(values.min())
    if highest > limit or lowest < -limit:
        raise ValueError(
            f"{prefix}{name} holds values beyond the range of {kind} (the largest magnitude is "
            f"{max(abs(highest), abs(lowest)):.3g}; the limit is {limit:.3g}), in which skdeep trains and "
            f"predicts: {advice}, or train with precision='float64'."
        )
    if positive and np.any((values > 0) & (values.astype(_NUMPY_DTYPES[dtype]) == 0)):
        raise ValueError(f"{prefix}{name} holds values that {kind}, in which skdeep trains, cannot hold: positive "
                         "values so small that they round to 0. Rescale them, or train with precision='float64'.")


def _csr_rows_to_coo(csr, dtype):
    coo = csr.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(_NUMPY_DTYPES[dtype], copy=False))
    # scipy's CSR rows give valid indices: skip torch's invariant checks.
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=False)


class ArrayDataset(Dataset):
    """Training or prediction data held as whole tensors.

    A skorch :class:`~skorch.dataset.Dataset` to skorch's callbacks: they read
    its ``X`` and (encoded) ``y``, as skorch's ``EpochScoring`` does.

    Parameters
    ----------
    X : torch.Tensor or scipy.sparse.csr_matrix of shape (n_samples, n_features)
    y : torch.Tensor of shape (n_samples, ...), default=None
    sample_weight : torch.Tensor of shape (n_samples,), default=None
    dtype : torch.dtype, default=torch.float32
        The dtype of the batches built from a sparse ``X``.

    Examples
    --------
    >>> import torch
    >>> from skdeep._data import ArrayDataset
    >>> data = ArrayDataset(torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 0]))
    >>> data.batch(slice(0, 2))
    (tensor([[0., 1.],
            [2., 3.]]), tensor([0, 1]))
    """

    def __init__(self, X, y=None, sample_weight=None, dtype=torch.float32):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.dtype = dtype

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, index):
        return self.batch(index)

    def subset(self, index):
        """Return the dataset restricted to the rows in ``index``."""
        return ArrayDataset(
            self.X[index] if torch.is_tensor(self.X) else self.X[np.asarray(index)],
            None if self.y is None else self.y[index],
            None if self.sample_weight is None else self.sample_weight[index],
            self.dtype,
        )

    def concatenate(self, other):
        """Return the dataset of this one's rows followed by ``other``'s (dense tensors)."""
        return ArrayDataset(*(None if mine is None else torch.cat([mine, theirs])
                              for mine, theirs in ((self.X, other.X), (self.y, other.y),
                                                   (self.sample_weight, other.sample_weight))), self.dtype)

    def to(self, device):
        """Return the dataset with its dense tensors moved to ``device``."""
        return ArrayDataset(
            self.X.to(device) if torch.is_tensor(self.X) else self.X,
            None if self.y is None else self.y.to(device),
            None if self.sample_weight is None else self.sample_weight.to(device),
            self.dtype,
        )

    @property
    def nbytes(self):
        """Bytes held by the dense tensors."""
        tensors = [self.X, self.y, self.sample_weight]
        return sum(t.element_size() * t.numel() for t in tensors if torch.is_tensor(t))

    def is_on(self, device):
        """Whether every batch is built on ``device`` already (nothing to move)."""
        # sparse X is sliced on the host
        return all(t.device == device if torch.is_tensor(t) else device.type == "cpu"
                   for t in (self.X, self.y, self.sample_weight) if t is not None)

    def pin_memory(self):
        """Return the dataset with its dense tensors in page-locked host memory."""
        return ArrayDataset(*(t.pin_memory() if torch.is_tensor(t) else t
                              for t in (self.X, self.y, self.sample_weight)), self.dtype)

    def batch(self, index, device=None):
        """Return the batch ``(X, y)``, or ``(X, (y, sample_weight))``.

        Parameters
        ----------
        index : slice or torch.Tensor of int64
            Rows of the batch.
        device : torch.device, default=None
            Where to put the batch; ``None`` leaves it where the data is.
        """
        take = _take if torch.is_tensor(index) else _slice
        if torch.is_tensor(self.X):
            X = take(self.X, index)
        else:
            rows = index.cpu().numpy() if torch.is_tensor(index) else index
            X = _csr_rows_to_coo(self.X[rows], self.dtype)
        batch = [X, None if self.y is None else take(self.y, index)]
        if self.sample_weight is not None:
            batch[1] = (batch[1], take(self.sample_weight, index))
        if device is not None:
            batch = _to_device(batch, device)
        return tuple(batch)


def _take(tensor, index):
    # a gather, cheaper than tensor[index]; with sparse X on the host and y on a
    # GPU, the index follows each tensor (checked first: a no-op .to() still
    # costs a dispatch, a tenth of the host's time per step on a GPU)
    if index.device != tensor.device:
        index = index.to(tensor.device, non_blocking=True)
    return torch.index_select(tensor, 0, index)


def _slice(tensor, index):
    return tensor[index]  # a view


def place_on_device(dataset, device, memory_fraction=0.5):
    """Put a training dataset where its batches are read from fastest.

    On a GPU, the whole data moves to the device once when it takes at most
    ``memory_fraction`` of the free device memory; otherwise it stays on the
    host in page-locked memory, from which each batch is copied
    asynchronously. Sparse matrices stay on the host: their batches are built
    there. On the CPU nothing moves, nor does data streamed in blocks
    (:class:`skdeep._dask.BlockDataset`), whose batches move as they are built.
    """
    if device.type == "cpu" or not isinstance(dataset, ArrayDataset):
        return dataset
    if device.type == "cuda" and dataset.nbytes > memory_fraction * torch.cuda.mem_get_info(device)[0]:
        return dataset.pin_memory()
    return dataset.to(device)


def _to_device(data, device):
    if isinstance(data, (tuple, list)):
        return type(data)(_to_device(item, device) for item in data)
    if data is None or data.device == device:
        return data
    return data.to(device, non_blocking=True)


def batch_bounds(n_samples, batch_size, fold_single=False):
    """Where the batches of an epoch start, and ``n_samples`` at the end.

    With ``fold_single``, a last batch of one sample is folded into the one
    before it (batch normalisation cannot train on one sample).

    Examples
    --------
    >>> from skdeep._data import batch_bounds
    >>> batch_bounds(10, 4), batch_bounds(9, 4, fold_single=True)
    ([0, 4, 8, 10], [0, 4, 9])
    """
    starts = list(range(0, n_samples, batch_size))
    if fold_single and len(starts) > 1 and n_samples - starts[-1] == 1:
        starts.pop()
    return starts + [n_samples]


class EpochBatches:
    """The batches of one pass over a dataset: the options they are drawn with, and their number.

    Parameters
    ----------
    dataset : ArrayDataset or skdeep._dask.BlockDataset
    batch_size : int
    shuffle : bool, default=False
        Draw a new permutation of the rows at each pass.
    generator : torch.Generator, default=None
        Source of the permutations (CPU).
    device : torch.device, default=None
        Where each batch is put.
    fold_single : bool, default=False
        Fold a last batch of one sample into the batch before it (batch
        normalisation cannot train on one sample).
    """

    def __init__(self, dataset, batch_size, shuffle=False, generator=None, device=None, fold_single=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.device = device
        self.fold_single = fold_single

    def __len__(self):
        return len(batch_bounds(len(self.dataset), self.batch_size, self.fold_single)) - 1


class BatchIterator(EpochBatches):
    """Iterate over an :class:`ArrayDataset` in batches.

    Parameters are those of :class:`EpochBatches`.

    Examples
    --------
    >>> import torch
    >>> from skdeep._data import ArrayDataset, BatchIterator
    >>> batches = BatchIterator(ArrayDataset(torch.zeros(10, 3)), batch_size=4)
    >>> [len(X) for X, _ in batches]
    [4, 4, 2]
    """

    def indices(self, tensors=False):
        """Yield the rows of each batch, in order.

        Parameters
        ----------
        tensors : bool, default=False
            Give int64 index tensors on the data's device even when the order
            is fixed; otherwise a fixed order gives slices (views, no gather).
        """
        n_samples = len(self.dataset)
        order = torch.randperm(n_samples, generator=self.generator) if self.shuffle else None
        if order is None and tensors:
            order = torch.arange(n_samples)
        if order is not None and torch.is_tensor(self.dataset.X):
            order = order.to(self.dataset.X.device)
        bounds = batch_bounds(n_samples, self.batch_size, self.fold_single)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            yield slice(start, stop) if order is None else order[start:stop]

    def __iter__(self):
        device = None if self.device is None or self.dataset.is_on(self.device) else self.device
        for index in self.indices():
            yield self.dataset.batch(index, device)
