"""Dask collections: training streamed block by block, lazy predictions."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from skdeep import MLPClassifier, MLPRegressor

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_ROWS, CHUNK = 6000, 1000


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=N_ROWS, n_features=12, n_informative=6, random_state=0)


class BlockLog:
    """A dask array over X that records which blocks are computed, and their sizes."""

    def __init__(self, X, chunks=CHUNK):
        self.calls = []
        self.array = da.from_array(X, chunks=(chunks, X.shape[1])).map_blocks(self._record, dtype=X.dtype)

    def _record(self, block, block_info=None):
        if block_info is not None:  # (dask also calls with a zero-size block to learn the output type)
            self.calls.append((block_info[0]["chunk-location"][0], block.shape[0]))
        return block


def test_fit_streams_the_blocks_in_a_new_order_each_epoch_and_learns_as_on_numpy(data):
    X, y = data
    log = BlockLog(X)
    streamed = MLPClassifier((32,), max_iter=4, random_state=0).fit(log.array, da.from_array(y, chunks=CHUNK))
    in_memory = MLPClassifier((32,), max_iter=4, random_state=0).fit(X, y)
    n_blocks = N_ROWS // CHUNK
    assert all(size == CHUNK for _, size in log.calls)  # never more than one block at a time
    epochs = [[index for index, _ in log.calls[start:start + n_blocks]] for start in range(0, len(log.calls), n_blocks)]
    assert len(epochs) == 4 and all(sorted(order) == list(range(n_blocks)) for order in epochs)
    assert len({tuple(order) for order in epochs}) > 1  # the block order changes between epochs
    assert streamed.n_features_in_ == 12 and list(streamed.classes_) == [0, 1]
    assert streamed.score(X, y) > in_memory.score(X, y) - 0.02


def test_predictions_are_lazy_dask_arrays_equal_to_numpys(data):
    X, y = data
    model = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    log = BlockLog(X)
    proba, labels = model.predict_proba(log.array), model.predict(log.array)
    assert log.calls == []  # nothing computed yet
    assert proba.shape == (N_ROWS, 2) and labels.shape == (N_ROWS,)
    np.testing.assert_allclose(proba.compute(), model.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(labels.compute(), model.predict(X))
    assert model.score(da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)) == model.score(X, y)


def test_dask_dataframes_keep_their_column_names(data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(12)])
    model = MLPClassifier((16,), max_iter=3, random_state=0).fit(dd.from_pandas(frame, npartitions=3),
                                                               dd.from_pandas(pd.Series(y), npartitions=3))
    assert list(model.feature_names_in_) == list(frame.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        lazy = model.predict_proba(dd.from_pandas(frame, npartitions=3))
    np.testing.assert_allclose(lazy.compute(), model.predict_proba(frame), rtol=1e-12)


def test_partial_fit_and_weights_on_dask_arrays(data):
    X, y = data
    X_blocks, y_blocks = da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)
    weight = da.from_array(np.where(y == 1, 2.0, 1.0), chunks=CHUNK)
    model = MLPClassifier((16,), random_state=0)
    for _ in range(3):
        model.partial_fit(X_blocks, y_blocks, classes=[0, 1], sample_weight=weight)
    assert model.t_ == 3 * N_ROWS and len(model.history_) == 3 and model.score(X, y) > 0.75


def test_regression_on_a_dask_array(data):
    X, _ = data
    target = X[:, 0] - 2 * X[:, 1]
    model = MLPRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(
        da.from_array(X, chunks=CHUNK), da.from_array(target, chunks=CHUNK))
    prediction = model.predict(da.from_array(X, chunks=CHUNK))
    assert prediction.shape == (N_ROWS,) and model.score(X, target) > 0.9


def test_what_streaming_cannot_do_is_refused_early(data):
    X, y = data
    X_blocks, y_blocks = da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)
    with pytest.raises(ValueError, match="early_stopping=True holds out a validation set"):
        MLPClassifier(early_stopping=True).fit(X_blocks, y_blocks)
    with pytest.raises(ValueError, match="X has 11 features, but MLPClassifier is expecting 12"):
        MLPClassifier((8,), max_iter=1).fit(X, y).predict(da.from_array(X[:, 1:], chunks=CHUNK)).compute()
    with pytest.raises(ValueError, match="Input X contains NaN"):
        bad = X.copy()
        bad[-1, 0] = np.nan
        MLPClassifier((8,), max_iter=1).fit(da.from_array(bad, chunks=CHUNK), y_blocks)


def test_blocks_of_unknown_sizes_are_refused_with_dasks_advice(data):
    X, y = data
    kept = da.from_array(X, chunks=CHUNK)
    kept = kept[kept[:, 0] > -np.inf]  # every row, in blocks whose sizes dask no longer knows
    with pytest.raises(ValueError, match=r"unknown sizes .* call X.compute_chunk_sizes\(\) first"):
        MLPClassifier((8,), max_iter=1).fit(kept, y)
    assert MLPClassifier((8,), max_iter=1).fit(kept.compute_chunk_sizes(), y).n_features_in_ == 12


def test_dask_mls_incremental_drives_partial_fit(data):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = data
    X_blocks, y_blocks = da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)
    incremental = wrappers.Incremental(MLPClassifier((16,), random_state=0), scoring="accuracy")
    for _ in range(4):  # each call: one partial_fit per block
        incremental.partial_fit(X_blocks, y_blocks, classes=[0, 1])
    assert incremental.estimator_.t_ == 4 * N_ROWS
    assert incremental.score(X_blocks, y_blocks) > 0.75
    assert isinstance(incremental.predict(X_blocks), da.Array)


def test_images_and_single_rows_as_dask_input_get_clear_errors(data):
    X, y = data
    model = MLPClassifier((8,), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="Expected a 2-D dask array or a dask DataFrame for X"):
        model.predict(da.from_array(X[0], chunks=6))
    with pytest.raises(ValueError, match="flatten images to rows"):
        model.predict(da.from_array(X.reshape(-1, 3, 4), chunks=(CHUNK, 3, 4)))


def test_integer_dask_input_trains_in_float32_as_in_memory(data):
    X, y = data
    integers = np.round(X * 10).astype(np.int64)
    streamed = MLPClassifier((8,), max_iter=1, random_state=0).fit(da.from_array(integers, chunks=CHUNK), y)
    in_memory = MLPClassifier((8,), max_iter=1, random_state=0).fit(integers, y)
    assert streamed.coefs_[0].dtype == in_memory.coefs_[0].dtype == np.float32


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n_rows, chunks", [(3001, 7), (3001, 50), (3001, 64), (3001, 1000), (3009, 64),
                                            (65, (64, 1)), (65, (1, 64)), (130, (0, 64, 0, 65, 1))])
def test_batches_are_those_in_memory_whatever_the_block_sizes(shuffle, n_rows, chunks):
    # blocks smaller than a batch, equal to it, with rows left over, empty, or a last one of one row
    # (folded into the batch before, as in memory): each row in exactly one batch, with its target
    import torch

    from skdeep._dask import BlockDataset, BlockIterator, BlockRows
    from skdeep._data import ArrayDataset, BatchIterator

    X = np.arange(2 * n_rows, dtype=np.float32).reshape(n_rows, 2)
    log = BlockLog(X, chunks)
    dataset = BlockDataset(BlockRows(log.array), torch.arange(n_rows), None, torch.float32)
    for seed in range(3 if shuffle else 1):
        iterator = BlockIterator(dataset, batch_size=64, shuffle=shuffle,
                                 generator=torch.Generator().manual_seed(seed), fold_single=True)
        batches = list(iterator)
        assert len(iterator) == len(batches)
        in_memory = BatchIterator(ArrayDataset(torch.from_numpy(X)), batch_size=64, fold_single=True)
        assert [len(X_batch) for X_batch, _ in batches] == [len(X_batch) for X_batch, _ in in_memory]
        rows = torch.cat([X_batch[:, 0] for X_batch, _ in batches]).long() // 2
        targets = torch.cat([y_batch for _, y_batch in batches])
        assert sorted(rows.tolist()) == list(range(n_rows)) and torch.equal(rows, targets)
        assert (rows.tolist() != list(range(n_rows))) == shuffle
    blocks = log.array.chunks[0]
    assert max(size for _, size in log.calls) == max(blocks)  # one block computed at a time
    assert len(log.calls) == (3 if shuffle else 1) * sum(size > 0 for size in blocks)  # empty ones skipped


@pytest.mark.parametrize("random_state", range(8))
def test_one_row_blocks_train_with_batch_norm_as_in_memory(data, random_state):
    X, y = data
    streamed = MLPClassifier((8,), batch_norm=True, max_iter=20, random_state=random_state).fit(
        da.from_array(X[:601], chunks=30), y[:601])  # a last block of one row, wherever the shuffle puts it
    in_memory = MLPClassifier((8,), batch_norm=True, max_iter=20, random_state=random_state).fit(X[:601], y[:601])
    assert streamed.score(X, y) > in_memory.score(X, y) - 0.03


def test_blocks_left_empty_by_filtering_train_and_predict(data):
    X, y = data
    X_blocks, y_blocks = da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)
    kept = (X_blocks[:, 0] > 0) & (da.arange(N_ROWS, chunks=CHUNK) >= CHUNK)  # the first block: no rows left
    X_kept, y_kept = X_blocks[kept].compute_chunk_sizes(), y_blocks[kept].compute_chunk_sizes()
    assert X_kept.chunks[0][0] == 0
    model = MLPClassifier((8,), max_iter=2, random_state=0).fit(X_kept, y_kept)
    np.testing.assert_array_equal(model.predict(X_kept).compute(), model.predict(X_kept.compute()))
