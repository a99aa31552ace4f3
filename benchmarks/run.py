"""Benchmarks: skdeep beside a hand-written PyTorch loop, plain skorch and scikit-learn's MLP.

Every system trains on the same data in the same process (or in fresh
processes, for cold starts), in turns, and each table gives the median of the
interleaved runs and the ratio of medians: the machines are shared and noisy,
and a slow spell hits every system alike.

    python benchmarks/run.py                 # the CPU cases, tables to docs/benchmarks-cpu.md
    python benchmarks/run.py tabular small   # some cases, printed only
    python benchmarks/run.py --device cuda   # the GPU cases, tables to docs/benchmarks-cuda.md
"""

import argparse
import sys
import warnings
from pathlib import Path

import torch
from sklearn.exceptions import ConvergenceWarning

from cases import CASES
from harness import run_cases

warnings.filterwarnings("ignore", category=ConvergenceWarning)
DOCS = Path(__file__).resolve().parents[1] / "docs"


def default_cases(device_type):
    """The names of the cases that run on ``device_type`` when none is named, in the registry's order."""
    return [name for name, case in CASES.items() if device_type in case.default_devices]


def cases_help():
    """The list of cases for ``--help``: each one's name, description and the devices that run it by default."""
    lines = ["cases (in brackets, the devices whose default run includes the case):"]
    lines += [f"  {name:<12} {case.description} [{', '.join(case.default_devices)}]" for name, case in CASES.items()]
    return "\n".join(lines)


def argument_parser():
    """The command line: the cases to run, the device, and where to write the tables."""
    parser = argparse.ArgumentParser(description=__doc__, epilog=cases_help(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="the cases to run, listed below (default: the device's cases)")
    parser.add_argument("--device", default="cpu", help="the torch device to measure on (default: cpu)")
    parser.add_argument("--output", type=Path, help="write the tables there (default: "
                        "docs/benchmarks-<device type>.md when the device's default cases run, else print only)")
    return parser


def main():
    """Run the cases named on the command line, or the device's default ones, and write their tables."""
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
    document = run_cases(device, [(name, CASES[name]) for name in names])
    output = args.output or (DOCS / f"benchmarks-{device.type}.md" if names == defaults else None)
    if output:
        output.write_text(document)
        print(f"written to {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
