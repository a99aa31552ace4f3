"""Data-parallel training inside a torch.distributed process group (torchrun, Ray Train, Accelerate).

When ``fit`` runs in every process of an initialised process group, each
process (rank) passes the same X and y. Every rank draws the same random
numbers (rank 0's), so all build the same network and visit the same
batches; each rank computes the loss and gradients of its contiguous share of
each batch, weighted by that share's part of the batch's sample weight, and
one all-reduce sums the gradients and the losses. Every rank then takes the
same optimizer step, with the penalty added once, and ends with the model
one process would have trained on the whole batches (up to float rounding).
Batch normalisation normalises each rank's share (as
``DistributedDataParallel`` does without ``SyncBatchNorm``), and its running
statistics are averaged over the ranks after each epoch.
"""

import numpy as np
import torch
import torch.distributed as dist


class DataParallel:
    """The rank's part in data-parallel training over the default process group.

    Parameters
    ----------
    rank : int
    world_size : int

    Examples
    --------
    >>> import torch
    >>> from skdeep._distributed import DataParallel
    >>> X, y = torch.arange(10.0).reshape(5, 2), torch.arange(5)
    >>> (X_share, y_share), fraction = DataParallel(rank=1, world_size=2).share((X, y))
    >>> y_share.tolist(), fraction
    ([2, 3, 4], 0.6)
    """

    def __init__(self, rank, world_size):
        self.rank = rank
        self.world_size = world_size

    @classmethod
    def current(cls):
        """The rank's part in the default process group, or None outside one (or in a group of one)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return None
        return cls(dist.get_rank(), dist.get_world_size())

    def _device(self):
        # NCCL communicates CUDA tensors only; gloo and the others take CPU tensors
        return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None

    def agreed_entropy(self):
        """Four 32-bit words of fresh entropy, rank 0's on every rank (for ``random_state=None``)."""
        words = torch.from_numpy(np.random.SeedSequence().generate_state(4).astype(np.int64)).to(self._device())
        dist.broadcast(words, src=0)
        return words.cpu().numpy().astype(np.uint32)

    def check_same_data(self, X, y, sample_weight):
        """Refuse to train unless every rank passed data of the same shape and sums."""
        # (X streamed from a dask collection is compared by its shape)
        total = X.sum() if hasattr(X, "tocsr") else np.sum(X, dtype=np.float64) if isinstance(X, np.ndarray) else 0
        summary = [X.shape[0], X.shape[1], float(total), float(np.sum(y, dtype=np.float64)),
                   float(np.sum(sample_weight, dtype=np.float64))]
        if self._range_over_ranks(summary) is not None:
            raise ValueError(
                f"Data-parallel training (a torch.distributed process group of {self.world_size} processes) "
                "needs the same X, y and sample_weight on every rank; each rank trains on its share of each "
                f"batch. Rank {self.rank} got {X.shape[0]} samples and {X.shape[1]} features, and the ranks' "
                "data differ in shape or in sums."
            )

    def check_agreement(self, value, what):
        """Refuse to go on unless every rank has the same number ``value`` (of ``what``)."""
        found = self._range_over_ranks([value])
        if found is not None:
            low, high = found
            raise ValueError(f"The ranks of data-parallel training disagree on {what}: rank {self.rank} has {value}, "
                             f"others between {low[0]:g} and {high[0]:g}.")

    def _range_over_ranks(self, values):
        """The lowest and highest of ``values`` (numbers) over the ranks, or None where every rank has the same."""
        low = torch.tensor([float(value) for value in values], dtype=torch.float64, device=self._device())
        high = low.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        return None if torch.equal(low, high) else (low.tolist(), high.tolist())

    def share(self, batch):
        """This rank's contiguous share of ``batch``, and that share's part of the batch's sample weight."""
        X, target = batch
        n_rows = X.shape[0]
        start, stop = self.rank * n_rows // self.world_size, (self.rank + 1) * n_rows // self.world_size
        if isinstance(target, tuple):  # (y, sample_weight)
            y, weight = target
            total = float(weight.sum())
            fraction = float(weight[start:stop].sum()) / total if total > 0 else 0.0
            return (X[start:stop], (y[start:stop], weight[start:stop])), fraction
        return (X[start:stop], target[start:stop]), (stop - start) / n_rows

    def sum_gradients(self, parameters, loss):
        """Sum the gradients of ``parameters`` and ``loss`` over the ranks (one all-reduce); return the loss."""
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in parameters]
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1).to(grads[0].dtype)])
        dist.all_reduce(flat)
        start = 0
        for parameter, grad in zip(parameters, grads, strict=True):
            parameter.grad = flat[start:start + grad.numel()].view_as(grad)
            start += grad.numel()
        return flat[-1]

    def average_buffers(self, module):
        """Average the floating buffers of ``module`` (batch norm's running statistics) over the ranks."""
        buffers = [b for b in module.buffers() if b.is_floating_point()]
        if not buffers:
            return
        flat = torch.cat([b.reshape(-1) for b in buffers])
        dist.all_reduce(flat)
        flat /= self.world_size
        torch._foreach_copy_(buffers, [part.view_as(b) for part, b in zip(flat.split([b.numel() for b in buffers]),
                                                                             buffers, strict=True)])
