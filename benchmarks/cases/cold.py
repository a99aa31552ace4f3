"""Cold starts: a fresh Python process imports the library and fits once, as a script or a new worker does."""

import subprocess
import sys

from baselines import SKLEARN
from harness import MEDIAN_HEADER, Case, child_script, compare


def case_cold(device):
    """A fresh Python process that imports the library and fits once: the process's whole wall time."""
    def fresh_process(library):
        return lambda: subprocess.run([sys.executable, child_script("cold_fit"), library], check=True)

    systems = {SKLEARN: fresh_process("sklearn"), "skdeep MLPClassifier": fresh_process("skdeep"),
               "python -c 'import torch' (for scale)": lambda: subprocess.run([sys.executable, "-c", "import torch"],
                                                                             check=True),
               f"{SKLEARN}, the process also imports torch (for scale)": fresh_process("sklearn+torch")}
    rows = compare(systems, SKLEARN, rounds=9)
    return ("Cold start: a new process imports the estimator and fits breast_cancer once, (100,), 20 epochs "
            "(9 interleaved runs each; the process's whole wall time, its exit included)", MEDIAN_HEADER, rows)


CASES = {"cold": Case(case_cold, "a new process that imports the estimator and fits once", ("cpu",))}
