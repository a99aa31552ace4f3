"""Scaling out: a search's candidates on several processes, and one fit's batches split across torchrun ranks."""

import os
import statistics

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from harness import Case, child_output, child_script, timed


def case_parallel(device):
    """GridSearchCV over 8 candidates with n_jobs=1, n_jobs=2, and on a two-worker Dask cluster when installed."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    import skdeep

    X, y = load_breast_cancer(return_X_y=True)
    grid = {"mlpclassifier__hidden_layer_sizes": [(32,), (64,), (128,), (64, 64)],
            "mlpclassifier__alpha": [1e-4, 1e-2]}
    pipe = make_pipeline(StandardScaler(), skdeep.MLPClassifier(max_iter=300, n_iter_no_change=300,
                                                                device=str(device), random_state=0))
    # joblib keeps its worker processes between calls: start them (and their torch) first
    GridSearchCV(pipe, {"mlpclassifier__max_iter": [1, 2]}, cv=2, n_jobs=2).fit(X, y)
    seconds = {f"n_jobs={n_jobs}": timed(lambda jobs=n_jobs: GridSearchCV(pipe, grid, cv=3, n_jobs=jobs).fit(X, y))[0]
               for n_jobs in (1, 2)}
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        pass
    else:
        environment = dict(os.environ)  # the cluster sets OMP_NUM_THREADS=1 here, for the later cases' processes too
        try:
            with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                    Client(cluster), joblib.parallel_config("dask"):
                GridSearchCV(pipe, {"mlpclassifier__max_iter": [1, 2]}, cv=2, n_jobs=-1).fit(X, y)  # start torch
                seconds["Dask LocalCluster, 2 single-threaded workers"] = timed(
                    lambda: GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y))[0]
        finally:
            os.environ.clear()
            os.environ.update(environment)
    sequential = seconds["n_jobs=1"]
    rows = [[name, f"{value:.2f} s", f"{value / sequential:.2f}x"] for name, value in seconds.items()]
    return (f"Parallel search: GridSearchCV, 8 candidates x 3 folds, breast_cancer, 300 epochs each, "
            f"{os.cpu_count()} cores, worker processes already started",
            ["how", "time", "time vs n_jobs=1"], rows)


def case_ddp(device):
    """Data-parallel training: one process against two torchrun ranks (gloo) splitting each batch."""
    script = child_script("ddp_fit")

    def single(batch):
        return child_output(script, str(batch))

    def two_ranks(batch):
        return child_output("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script, str(batch),
                            "ddp")

    rows = []
    for batch in (256, 2048):
        results = {"one process": [], "two ranks (torchrun, gloo)": []}
        for _ in range(3):
            for name, run in zip(results, (single, two_ranks), strict=True):
                results[name].append(run(batch))
        median = {name: statistics.median(float(r[0]) for r in runs) for name, runs in results.items()}
        reference = median["one process"]
        rows += [[f"batch {batch}", name, f"{median[name]:.2f} s", f"{median[name] / reference:.2f}x",
                  runs[-1][1], runs[-1][2]] for name, runs in results.items()]
    return (f"Data-parallel training: 100,000 x 64, (256, 256), 3 epochs, {os.cpu_count()} cores; each rank "
            "computes half of each batch (median fit time of 3 interleaved runs)",
            ["batch", "how", "fit", "time vs one process", "test accuracy", "torch threads per process"], rows)


CASES = {"parallel": Case(case_parallel, "GridSearchCV over 8 candidates, n_jobs=1 vs 2 (and a Dask cluster)",
                          ("cpu",)),
         "ddp": Case(case_ddp, "two torchrun processes (gloo) splitting each batch, against one process", ("cpu",))}
