"""Memory: the peak resident memory a fit adds, on an array in memory and on a dask array streamed block by block."""

from harness import Case, child_output, child_script


def case_memory(device):
    """Peak resident memory of a fit on 1,000,000 x 100 float64, beside the size of X and of its float32 copy."""
    x_mb, before, after = map(float, child_output(child_script("fit_memory"), str(device)))
    rows = [["X (float64), the user's array", f"{x_mb:.0f} MB"],
            ["one float32 copy of X", f"{x_mb / 2:.0f} MB"],
            ["peak resident memory added by fit", f"{after - before:.0f} MB"]]
    return ("Memory: MLPClassifier((64,)).fit on 1,000,000 x 100 float64 (one epoch, peak RSS above the "
            "level after X was made and torch had started)",
            ["what", "size"], rows)


def case_dask_memory(device):
    """Out-of-core training: a 3,000,000 x 40 float32 dask array, streamed block by block."""
    x_mb, added, seconds, score = map(float, child_output(child_script("dask_fit_memory"), str(device)))
    rows = [["X (float32 dask array, 30 blocks of 100,000 rows), never in memory whole", f"{x_mb:.0f} MB"],
            ["peak resident memory added by fit (one epoch)", f"{added:.0f} MB"],
            ["fit time", f"{seconds:.1f} s"], ["accuracy on 20,000 of its rows", f"{score:.3f}"]]
    return ("Out-of-core: MLPClassifier((64,)).fit on a dask array (the peak resident memory during fit above the "
            "resident memory before it)",
            ["what", "value"], rows)


CASES = {"memory": Case(case_memory, "peak resident memory of a fit on 1,000,000 x 100 float64", ("cpu",)),
         "dask_memory": Case(case_dask_memory, "a fit streamed from a 480 MB dask array, its peak memory",
                             ("cpu",))}
