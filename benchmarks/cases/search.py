"""Hyper-parameter searches: skdeep's stacked GridSearchCV beside scikit-learn's, and beside one fit."""

import statistics

from baselines import breast_cancer_data
from harness import MEDIAN_HEADER, Case, child_output, child_script, interleaved_times, median_rows, medians

#: the columns of :func:`case_search`'s table, whose ratios divide by one fit's time
SEARCH_HEADER = [MEDIAN_HEADER[0], MEDIAN_HEADER[1], "time vs one fit", *MEDIAN_HEADER[3:]]

#: the grid: 4 alphas x 4 learning rates; with cv=3, 48 fits
GRID = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "learning_rate_init": [1e-4, 1e-3, 3e-3, 1e-2]}


def search_systems(device, width, seeds=1, with_sklearn=True):
    """One fit on all the data, skdeep's stacked search and (optionally) scikit-learn's over the same MLP.

    breast_cancer standardized, one hidden layer of ``width``, adam, 200 epochs
    with ``n_iter_no_change=200`` (every fit does the same work), ``cv=3``,
    ``refit=False`` (the searches time their ``3 * 16 * seeds`` fits alone).

    Returns
    -------
    dict
        Name -> function that runs once.
    """
    from sklearn import model_selection

    import skdeep
    from skdeep.model_selection import GridSearchCV

    X, y = breast_cancer_data()
    network = skdeep.MLPClassifier((width,), max_iter=200, n_iter_no_change=200, random_state=0, device=str(device))
    grid = {**GRID, "random_state": list(range(seeds))}
    fits = 3 * 16 * seeds
    systems = {"one fit on all the data": lambda: network.fit(X, y),
               f"skdeep GridSearchCV, {fits} fits stacked": lambda: GridSearchCV(network, grid, cv=3,
                                                                                 refit=False).fit(X, y)}
    if with_sklearn:
        systems[f"scikit-learn GridSearchCV (n_jobs=1), {fits} fits"] = (
            lambda: model_selection.GridSearchCV(network, grid, cv=3, refit=False).fit(X, y))
    return systems


def case_search(device):
    """The 48-fit grid at width 100: stacked, scikit-learn's loop, one fit."""
    times = interleaved_times(search_systems(device, 100, with_sklearn=device.type == "cpu"), rounds=5,
                              settle=True)
    return ("Searches: breast_cancer, (100,), adam, 200 epochs, 4 alphas x 4 learning rates x cv=3 = 48 fits "
            "(5 interleaved rounds per system, each after an untimed run; refit=False)",
            SEARCH_HEADER, median_rows(times, "one fit on all the data"))


def case_search_widths(device):
    """The 48-fit grid at narrow widths (and 480 fits, 10 seeds, on a GPU): the stacked search against one fit."""
    rows = []
    settings = [(16, 1), (32, 1)] + ([(100, 10)] if device.type == "cuda" else [])
    for width, seeds in settings:
        times = interleaved_times(search_systems(device, width, seeds, with_sklearn=False), rounds=5, settle=True)
        median = medians(times)
        one, stacked = median.values()
        rows.append([f"({width},)", str(48 * seeds), f"{one:.3f} s", f"{stacked:.3f} s", f"{stacked / one:.2f}x"])
    return ("Stacked searches by width: the 48-fit grid against one fit on all the data (5 interleaved rounds, each "
            "run after an untimed one; refit=False)",
            ["hidden layer", "fits", "one fit", "skdeep GridSearchCV, stacked", "time vs one fit"], rows)


#: fresh processes that :func:`case_search_memory` measures the search in (the peak varies from one to the next)
MEMORY_PROCESSES = 3


def case_search_memory(device):
    """Peak resident memory that the stacked 48-fit search adds: the median of fresh processes, and their range."""
    added = []
    for _ in range(MEMORY_PROCESSES):
        before, after = map(float, child_output(child_script("search_memory"), str(device)))
        added.append(after - before)
    return (f"Memory of a stacked search: the 48-fit grid at (100,) (peak resident memory above the level after "
            f"one fit; median of {MEMORY_PROCESSES} fresh processes)", ["what", "size", "range"],
            [["peak resident memory added by the search", f"{statistics.median(added):.0f} MB",
              f"{min(added):.0f}-{max(added):.0f} MB"]])


CASES = {"search": Case(case_search, "48-fit GridSearchCV: stacked, scikit-learn's loop, one fit", ("cpu", "cuda")),
         "search_widths": Case(case_search_widths, "the stacked 48-fit search at widths 16 and 32, against one fit",
                               ("cpu", "cuda")),
         "search_memory": Case(case_search_memory, "peak memory added by the stacked 48-fit search", ("cpu",))}
