"""Small fits on breast_cancer: the steady state, by width, and on a busy CPU."""

import subprocess
import sys
import time

import numpy as np

from baselines import SKLEARN, breast_cancer_data, hand_written_fit, mlp_module, skorch_classifier
from harness import MEDIAN_HEADER, Case, child_script, compare, interleaved_times, medians


def small_fit_systems(device, with_others=True):
    """breast_cancer, (100,), 200 epochs, batch 200: scikit-learn's MLP, skdeep's, and the loops beside them.

    Parameters
    ----------
    device : torch.device
    with_others : bool, default=True
        Add the hand-written loop and skorch to the two MLPs.

    Returns
    -------
    dict
        Name -> function that fits once.
    """
    import sklearn.neural_network as sknn

    import skdeep

    X, y = breast_cancer_data()
    params = dict(hidden_layer_sizes=(100,), batch_size=200, max_iter=200, n_iter_no_change=200, random_state=0)
    systems = {SKLEARN: lambda: sknn.MLPClassifier(**params).fit(X, y),
               "skdeep MLPClassifier": lambda: skdeep.MLPClassifier(device=str(device), **params).fit(X, y)}
    if with_others:
        systems["hand-written PyTorch loop"] = lambda: hand_written_fit(
            mlp_module(30, (100,), 2), X, y, 200, 200, 1e-3, device)
        systems["skorch NeuralNetClassifier"] = lambda: skorch_classifier(
            lambda: mlp_module(30, (100,), 2), 200, 200, 1e-3, device).fit(X.astype(np.float32), y)
    return systems


def case_small(device):
    """The small fit in its steady state: each system's median over rounds of three runs."""
    rows = compare(small_fit_systems(device), SKLEARN, rounds=7, block=3, settle=True)
    return ("Small fits: breast_cancer (569 x 30), (100,), 200 epochs, batch 200 "
            "(7 rounds of 3 runs per system, each round after an untimed run)", MEDIAN_HEADER, rows)


def case_widths(device):
    """The small fit at other widths: where torch's cost per operation outweighs the arithmetic."""
    import sklearn.neural_network as sknn

    import skdeep

    X, y = breast_cancer_data()
    rows = []
    for width in (16, 32, 100, 256):
        params = dict(hidden_layer_sizes=(width,), batch_size=200, max_iter=200, n_iter_no_change=200,
                      random_state=0)
        times = interleaved_times({
            SKLEARN: lambda params=params: sknn.MLPClassifier(**params).fit(X, y),
            "skdeep": lambda params=params: skdeep.MLPClassifier(device=str(device), **params).fit(X, y),
        }, rounds=7, settle=True)
        median = medians(times)
        rows.append([f"({width},)", f"{median[SKLEARN]:.3f} s", f"{median['skdeep']:.3f} s",
                     f"{median['skdeep'] / median[SKLEARN]:.2f}x"])
    return ("Small fits by width: breast_cancer, one hidden layer, 200 epochs, batch 200 (7 rounds per width, each "
            "run after an untimed one)", ["hidden layer", SKLEARN, "skdeep MLPClassifier", "time vs scikit-learn"],
            rows)


def case_busy(device):
    """The small fit while two other CPU-bound processes run (a browser, another job, a search's workers)."""
    hogs = [subprocess.Popen([sys.executable, child_script("cpu_hog")]) for _ in range(2)]
    try:
        time.sleep(1.0)
        rows = compare(small_fit_systems(device, with_others=False), SKLEARN, rounds=9, settle=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return ("Small fits on a busy machine: the same fits while two CPU-bound processes run "
            "(9 rounds of one run per system, each after an untimed run)", MEDIAN_HEADER, rows)


CASES = {"small": Case(case_small, "breast_cancer, (100,), 200 epochs, batch 200, steady state", ("cpu",)),
         "widths": Case(case_widths, "the small fit at hidden widths 16 to 256", ("cpu",)),
         "busy": Case(case_busy, "the small fit beside two CPU-bound processes", ("cpu",))}
