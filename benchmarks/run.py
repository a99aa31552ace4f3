"""Benchmarks: skdeep beside a hand-written PyTorch loop, plain skorch and scikit-learn's MLP.

Every system trains on the same data in the same process (or in fresh
processes, for cold starts), in turns, and each table gives the median of the
interleaved runs and the ratio of medians: the machines are shared and noisy,
and a slow spell hits every system alike.

    python benchmarks/run.py                 # the CPU cases
    python benchmarks/run.py tabular small   # some cases
    python benchmarks/run.py --device cuda   # the GPU cases

Each run prints its tables and stores them in benchmarks/results.json, in
place of those cases' last ones, then rewrites the documentation's pages of
tables and every figure that README and the docs quote from that file
(docs/benchmark_results.py).
"""

import argparse
import importlib.util
import sys
import warnings
from pathlib import Path

import torch
from sklearn.exceptions import ConvergenceWarning

from cases import CASES
from harness import record_results, run_cases

warnings.filterwarnings("ignore", category=ConvergenceWarning)
RESULTS = Path(__file__).resolve().parent / "results.json"
DOCS_FIGURES = Path(__file__).resolve().parents[1] / "docs" / "benchmark_results.py"


def default_cases(device_type):
    """The names of the cases that run on ``device_type`` when none is named, in the registry's order."""
    return [name for name, case in CASES.items() if device_type in case.default_devices]


def cases_help():
    """The list of cases for ``--help``: each one's name, description and the devices that run it by default."""
    lines = ["cases (in brackets, the devices whose default run includes the case):"]
    lines += [f"  {name:<12} {case.description} [{', '.join(case.default_devices)}]" for name, case in CASES.items()]
    return "\n".join(lines)


def argument_parser():
    """The command line: the cases to run, the device, and where to store the tables."""
    parser = argparse.ArgumentParser(description=__doc__, epilog=cases_help(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="the cases to run, listed below (default: the device's cases)")
    parser.add_argument("--device", default="cpu", help="the torch device to measure on (default: cpu)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the results file that stores the tables (default: benchmarks/results.json)")
    parser.add_argument("--print-only", action="store_true", help="print the tables without storing them")
    return parser


def main():
    """Run the cases named on the command line, or the device's default ones, and store their tables."""
    parser = argument_parser()
    args = parser.parse_args()
    device = torch.device(args.device)
    defaults = default_cases(device.type)
    names = args.cases or defaults
    if not names:
        parser.error(f"no cases run by default on {device.type}: name the cases to run")
    unknown = set(names) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {list(CASES)}")
    tables = run_cases(device, [(name, CASES[name]) for name in names])
    if not args.print_only:
        record_results(args.results, device.type, tables)
        print(f"stored in {args.results}", file=sys.stderr)
        if args.results == RESULTS:
            figures = docs_figures()
            for path in figures.update_docs(figures.load_results()):
                print(f"rewritten: {path}", file=sys.stderr)


def docs_figures():
    """The docs' module that writes the pages of tables and the quoted figures (not a package of its own)."""
    spec = importlib.util.spec_from_file_location("benchmark_results", DOCS_FIGURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
