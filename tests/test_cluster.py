"""Searches on Dask and Ray clusters: the same results as in one process, torch within each worker's threads."""

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _torch_threads():
    import torch

    return torch.get_num_threads()


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def test_a_search_on_a_local_cluster_gives_the_sequential_results(client):
    X, y = load_breast_cancer(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=15, random_state=0)),
                          {"mlpclassifier__hidden_layer_sizes": [(16,), (32,)], "mlpclassifier__alpha": [1e-4, 1.0]},
                          cv=2)
    sequential = search.fit(X, y).cv_results_
    with joblib.parallel_config("dask"):
        on_cluster = GridSearchCV(search.estimator, search.param_grid, cv=2, n_jobs=-1).fit(X, y).cv_results_
    np.testing.assert_array_equal(on_cluster["mean_test_score"], sequential["mean_test_score"])
    assert len(set(on_cluster["mean_test_score"])) > 1  # the candidates differ


def test_each_single_threaded_worker_runs_torch_on_one_thread(client):
    # dask's nanny starts workers with OMP_NUM_THREADS=1, which torch follows
    assert set(client.run(_torch_threads).values()) == {1}


def test_a_search_under_rays_joblib_backend_gives_the_sequential_results():
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    X, y = load_breast_cancer(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=15, random_state=0)),
                          {"mlpclassifier__hidden_layer_sizes": [(16,), (32,)], "mlpclassifier__alpha": [1e-4, 1.0]},
                          cv=2)
    sequential = search.fit(X, y).cv_results_
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()
        with joblib.parallel_config("ray"):
            on_ray = GridSearchCV(search.estimator, search.param_grid, cv=2, n_jobs=-1).fit(X, y).cv_results_
    finally:
        ray.shutdown()
    np.testing.assert_array_equal(on_ray["mean_test_score"], sequential["mean_test_score"])
