"""CPU fits beside another torch program: skdeep's choice of threads against the same fit held to one thread."""

import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from baselines import digits_data
from harness import Case, child_script, interleaved_times, medians

ROUNDS = 3
ROOT = Path(__file__).resolve().parents[2]


def digits_fits():
    """The digits CNN and a (256, 256) digits MLP, each a function that fits once: name -> function."""
    import skdeep

    X, y = digits_data()
    return {
        "CNNClassifier(conv_filters=(16, 32)), 5 epochs": lambda: skdeep.CNNClassifier(
            conv_filters=(16, 32), input_shape=(1, 8, 8), max_iter=5, random_state=0, device="cpu").fit(X, y),
        "MLPClassifier((256, 256)), 20 epochs": lambda: skdeep.MLPClassifier(
            (256, 256), max_iter=20, random_state=0, device="cpu").fit(X, y),
    }


def on_one_thread(fit):
    """``fit`` run with torch held to one thread, as a user who set ``torch.set_num_threads(1)`` runs it."""
    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fit()
        finally:
            torch.set_num_threads(before)
    return run


def thread_rows(setting):
    """One row per fit: skdeep's median, the one-thread median and their ratio, interleaved over the rounds."""
    rows = []
    for name, fit in digits_fits().items():
        fit()  # untimed: one-time costs
        times = medians(interleaved_times({"skdeep": fit, "one thread": on_one_thread(fit)}, rounds=ROUNDS))
        rows.append([setting, name, f"{times['skdeep']:.2f} s", f"{times['one thread']:.2f} s",
                     f"{times['skdeep'] / times['one thread']:.2f}x"])
    return rows


@contextmanager
def another_torch_program():
    """Another torch program, with its default threads, training on the same cores while the block runs."""
    program = subprocess.Popen([sys.executable, child_script("torch_program")])
    try:
        time.sleep(2.0)  # (its import and first steps)
        yield
    finally:
        program.kill()
        program.wait()


def case_contention(device):
    """The fits beside another torch program with its default threads, then on the quiet machine."""
    with another_torch_program():
        rows = thread_rows("beside another torch program")
    rows += thread_rows("quiet")
    return (f"CPU fits beside another torch program: skdeep's threads against one thread ({ROUNDS} interleaved "
            "rounds, medians; digits, 1,797 images)",
            ["machine", "fit", "skdeep", "held to one thread", "time vs one thread"], rows)


def build_docs():
    """Build the docs and gallery from a fresh copy of docs, examples and the results: every example runs."""
    built = shutil.ignore_patterns("_build", "auto_examples", "generated", "sg_execution_times.rst")
    with tempfile.TemporaryDirectory() as copy:
        for folder in ("docs", "examples"):
            shutil.copytree(ROOT / folder, Path(copy) / folder, ignore=built)
        (Path(copy) / "benchmarks").mkdir()
        shutil.copy(ROOT / "benchmarks" / "results.json", Path(copy) / "benchmarks")  # (the docs' figures)
        subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", "docs", "html"], cwd=copy, check=True,
                       capture_output=True)


def case_docs_contention(device):
    """The documentation build with its gallery, beside another torch program and quiet, in turns."""
    def beside_another_program():
        with another_torch_program():
            build_docs()

    times = medians(interleaved_times({"beside another torch program": beside_another_program, "quiet": build_docs},
                                      rounds=ROUNDS))
    busy, quiet = times["beside another torch program"], times["quiet"]
    return (f"Documentation build: sphinx-build with its gallery ({ROUNDS} interleaved rounds, medians)",
            ["build", "beside another torch program", "quiet", "time vs quiet"],
            [["sphinx-build with the gallery", f"{busy:.0f} s", f"{quiet:.0f} s", f"{busy / quiet:.2f}x"]])


CASES = {"contention": Case(case_contention, "digits CNN and (256, 256) MLP beside another torch program, and quiet",
                            ("cpu",)),
         "docs_contention": Case(case_docs_contention,
                                 "the docs build with its gallery beside another torch program, and quiet (docs extra)",
                                 ())}
