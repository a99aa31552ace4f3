"""Fit MLPClassifier((256, 256)) for 3 epochs on the tabular data, in one process or as one torchrun rank.

Usage: ``python ddp_fit.py BATCH_SIZE`` for one process, or
``python -m torch.distributed.run --nproc_per_node=2 ddp_fit.py BATCH_SIZE ddp``
for ranks that join a gloo process group and split each batch. The first rank
prints the fit's seconds, the test accuracy and its torch threads.
"""

import sys
import time
import warnings
from pathlib import Path

import torch
import torch.distributed as dist

import skdeep


def main(batch_size, distributed):
    """Fit once, in a process group when ``distributed``; print the measures on the first rank."""
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks folder, for its data
    from baselines import tabular_data

    if distributed:
        dist.init_process_group("gloo")
    torch.set_num_threads(torch.get_num_threads())  # torchrun's OMP_NUM_THREADS, or the default
    X_train, X_test, y_train, y_test = tabular_data()
    model = skdeep.MLPClassifier((256, 256), batch_size=batch_size, max_iter=3, alpha=0.0, n_iter_no_change=10,
                                 random_state=0)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(seconds, model.score(X_test, y_test), torch.get_num_threads())
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:] == ["ddp"])
