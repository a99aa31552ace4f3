"""Dask arrays and DataFrames: training streamed block by block, lazy predictions.

``fit`` and ``partial_fit`` take X as a dask array (chunked along rows) or a
dask DataFrame without holding it in memory: the targets and sample weights,
one value per row, are computed whole, and the rows of X are computed one
block at a time. Each epoch visits the blocks in a new random order and
shuffles the rows within each block; batches hold ``batch_size`` rows as in
memory, the rows one block leaves over joining the next block's first rows.
A block is validated as any X is (finite values, its width) when it is
computed. ``predict``, ``predict_proba`` and the other per-row methods map
over the blocks lazily and return dask arrays, as dask-ml's
``ParallelPostFit`` does.
"""

import functools

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_array

from skdeep._data import ArrayDataset, EpochBatches, as_tensor_source, batch_bounds


def is_dask_collection(X):
    """Whether X is a dask array, DataFrame or Series (without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask"


def row_blocks(X):
    """X as a dask array with known row chunks and one chunk of columns (a DataFrame's values)."""
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    return X if X.ndim == 1 else X.rechunk({1: -1})


class BlockRows:
    """A validated dask X: its row blocks, computed and checked one at a time.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows only.
    """

    def __init__(self, X):
        self.blocks = X
        self.shape = X.shape
        # as scikit-learn's validation converts other dtypes in memory: to float32
        self.dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float32)
        self.ndim = 2
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int)

    def __len__(self):
        return self.shape[0]

    def block(self, index):
        """The rows of block ``index``, validated: a float numpy array."""
        return check_array(self.blocks.blocks[index].compute(), dtype=(np.float32, np.float64), input_name="X")


class BlockDataset:
    """Training data whose X is computed block by block; targets and weights are whole tensors.

    Parameters
    ----------
    rows : BlockRows
    y : torch.Tensor
    sample_weight : torch.Tensor or None
    dtype : torch.dtype
        The dtype of training.
    sample_shape : tuple of int or None
        The shape each sample takes (images for a convolutional module).
    """

    def __init__(self, rows, y, sample_weight, dtype, sample_shape=None):
        self.X = rows
        self.y = y
        self.sample_weight = sample_weight
        self.dtype = dtype
        self.sample_shape = sample_shape

    def __len__(self):
        return len(self.X)

    def is_on(self, device):
        """Whether batches are built on ``device`` already (blocks are computed on the host)."""
        return device.type == "cpu"

    def block(self, index):
        """Block ``index`` as an :class:`~skdeep._data.ArrayDataset`."""
        start, stop = self.X.offsets[index], self.X.offsets[index + 1]
        source = as_tensor_source(self.X.block(index), self.dtype, self.sample_shape, training=True)
        weight = None if self.sample_weight is None else self.sample_weight[start:stop]
        return ArrayDataset(source, self.y[start:stop], weight, self.dtype)


class BlockIterator(EpochBatches):
    """Batches of a :class:`BlockDataset`: the blocks in a new order each pass, their rows shuffled.

    The batches are those of the same rows in memory (``batch_size`` rows, a
    last batch of one row folded into the one before with ``fold_single``),
    whatever the block sizes: a batch that spans blocks takes the rows one
    block leaves over, copied, and the first rows of the next. One block, and
    fewer than ``batch_size`` rows of the blocks before it, are held at a
    time. Parameters are those of :class:`skdeep._data.EpochBatches`.

    Examples
    --------
    >>> import dask.array as da, torch
    >>> from skdeep._dask import BlockDataset, BlockIterator, BlockRows
    >>> rows = BlockRows(da.zeros((10, 3), chunks=(3, 3)))
    >>> dataset = BlockDataset(rows, torch.zeros(10), None, torch.float32)
    >>> [len(X) for X, _ in BlockIterator(dataset, batch_size=4)]
    [4, 4, 2]
    """

    def __iter__(self):
        sizes = np.diff(self.dataset.X.offsets)
        order = torch.randperm(len(sizes), generator=self.generator).tolist() if self.shuffle else range(len(sizes))
        ends = iter(batch_bounds(int(sizes.sum()), self.batch_size, self.fold_single)[1:])
        end, taken, carried = next(ends, None), 0, None  # (carried: rows of a batch begun in earlier blocks)
        for index in (index for index in order if sizes[index] > 0):  # (filtering can leave blocks empty)
            block = self.dataset.block(index)
            rows = torch.randperm(len(block), generator=self.generator) if self.shuffle else torch.arange(len(block))
            device = None if self.device is None or block.is_on(self.device) else self.device
            start = 0
            while start < len(block):
                piece = rows[start:start + end - taken]
                start, taken = start + len(piece), taken + len(piece)
                if taken < end:  # the block ends inside this batch: keep a copy of its rows, not the block
                    carried = block.subset(piece) if carried is None else carried.concatenate(block.subset(piece))
                    continue
                if carried is None:
                    yield block.batch(piece if self.shuffle else slice(int(piece[0]), int(piece[-1]) + 1), device)
                else:
                    yield carried.concatenate(block.subset(piece)).batch(slice(None), device)
                    carried = None
                end = next(ends, None)
            del block, rows  # before the next block is computed


def blockwise(n_columns):
    """Decorate a per-row method so that, on a dask collection, it maps over the row blocks lazily.

    ``n_columns(estimator)`` gives the number of output columns, or None for
    one value per row. Other inputs reach the method as they are.
    """
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, X, *args, **kwargs):
            if not is_dask_collection(X):
                return method(self, X, *args, **kwargs)
            if X.ndim != 2:
                raise ValueError(f"Expected a 2-D dask array or a dask DataFrame for X (one row per sample; flatten "
                                 f"images to rows), got {X.ndim} dimension(s).")
            names = getattr(X, "columns", None)

            def on_block(block):  # a DataFrame's blocks keep its column names
                if len(block) == 0:  # (filtering can leave blocks empty)
                    return sample[:0]
                return method(self, block if names is None else pd.DataFrame(block, columns=names), *args, **kwargs)

            rows = row_blocks(X)
            columns = n_columns(self)
            sample = on_block(np.zeros((1, rows.shape[1]), dtype=rows.dtype))  # the output's type, computing nothing
            chunks = (rows.chunks[0],) if columns is None else (rows.chunks[0], (columns,))
            return rows.map_blocks(on_block, chunks=chunks, drop_axis=1 if columns is None else None,
                                   meta=sample[:0], dtype=sample.dtype)
        return wrapper
    return decorate
