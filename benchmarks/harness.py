"""The measuring harness: wall times taken in turns, their medians, peak memory, child processes and the tables.

The machines are shared and noisy: systems run in turns, so that a slow spell
hits every one of them alike, and the tables give medians and ratios of medians.
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch

CHILDREN = Path(__file__).resolve().parent / "children"
MEDIAN_HEADER = ["system", "median", "time vs scikit-learn", "middle half of the runs"]


class Case(NamedTuple):
    """A benchmark case, as the command line lists and runs it.

    Attributes
    ----------
    run : callable
        ``run(device)`` measures on a :class:`torch.device` and returns the table's title, its header (a list of
        column names) and its rows (lists of cells, as strings).
    description : str
        One line, for ``--help``.
    default_devices : tuple of str
        The device types (``"cpu"``, ``"cuda"``) whose default run includes the case.
    """

    run: Callable
    description: str
    default_devices: tuple


# -- measuring -----------------------------------------------------------------------


def resident_mb():
    """Resident memory of this process, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakMemory:
    """Peak resident memory (MB) above its level at entry, sampled every 20 ms.

    The sampling thread wakes rarely: a thread that takes the GIL every few
    milliseconds slows down the Python-heavy training loops it measures.

    Attributes
    ----------
    start, peak : float
        Resident memory at entry, and the highest sampled since, in MB.
    increase : float
        ``peak - start``, set at exit.
    """

    def __enter__(self):
        self.start = self.peak = resident_mb()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, resident_mb())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, resident_mb())
        self.increase = self.peak - self.start


def timed(function):
    """Wall time of one call of ``function()``, and its result.

    Returns
    -------
    seconds : float
    result : object
        What ``function()`` returned.
    """
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def interleaved_times(systems, rounds, block=1, settle=False):
    """Wall times of each of ``systems``, measured in turns.

    Rounds of blocks of ``block`` runs: a slow spell of the machine hits every
    system alike. With ``settle``, the first run of each block is not timed: it
    pays the switch from the previous system (OpenBLAS threads still spinning
    after scikit-learn, for instance).

    Parameters
    ----------
    systems : dict
        Name -> function called with no arguments.
    rounds : int
        How many times each system takes its turn.
    block : int, default=1
        Timed runs per turn.
    settle : bool, default=False
        Run each system once, untimed, at the start of its turn.

    Returns
    -------
    dict
        Name -> list of seconds, ``rounds * block`` of them.
    """
    times = {name: [] for name in systems}
    for _ in range(rounds):
        for name, function in systems.items():
            if settle:
                function()
            times[name] += [timed(function)[0] for _ in range(block)]
    return times


def medians(times):
    """Name -> median, of the name -> list of seconds of :func:`interleaved_times`."""
    return {name: statistics.median(values) for name, values in times.items()}


def median_rows(times, reference, unit="s", scale=1.0, digits=3):
    """Table rows: each system's median, its ratio to ``reference``'s median, and its quartiles.

    Parameters
    ----------
    times : dict
        Name -> list of seconds, as :func:`interleaved_times` returns.
    reference : str
        The system the ratios divide by.
    unit : str, default="s"
        The unit of the times shown, after multiplying by ``scale``.
    scale : float, default=1.0
        Seconds -> ``unit``.
    digits : int, default=3
        Digits after the decimal point.

    Returns
    -------
    list of list of str
        One row per system: name, median, ratio, quartiles (the columns of :data:`MEDIAN_HEADER`).
    """
    def quartiles(values):
        low, _, high = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
        return f"{low * scale:.{digits}f}-{high * scale:.{digits}f} {unit}"

    median = medians(times)
    return [[name, f"{median[name] * scale:.{digits}f} {unit}", f"{median[name] / median[reference]:.2f}x",
             quartiles(values)] for name, values in times.items()]


def compare(systems, reference, rounds, block=1, settle=False):
    """Rows of :func:`median_rows` for ``systems`` timed by :func:`interleaved_times`."""
    return median_rows(interleaved_times(systems, rounds, block, settle), reference)


# -- child processes -----------------------------------------------------------------


def child_script(name):
    """Path of ``children/<name>.py``, a script that a case runs in a fresh Python process."""
    return str(CHILDREN / f"{name}.py")


def child_output(*arguments):
    """Run ``python *arguments`` in a new process; its standard output, split into words."""
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, check=True).stdout.split()


# -- tables --------------------------------------------------------------------------


def markdown_table(title, header, rows):
    """A markdown section: ``title`` as a heading, then the table of ``header`` and ``rows``."""
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine(device):
    """Today's date, the CPU, its cores, the GPU on a CUDA ``device``, and the versions of Python and torch."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return (f"{datetime.date.today()}: {cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")


def run_cases(device, cases):
    """Run each case on ``device``, printing its table as soon as it is measured.

    Parameters
    ----------
    device : torch.device
    cases : list of (str, Case)
        The cases to run, in order, with their names.

    Returns
    -------
    dict
        Case name -> its table: ``measured`` (the date, machine and versions), ``title``, ``header`` and
        ``rows``, as :func:`record_results` stores them.
    """
    measured = machine(device)
    print(f"Measured {measured}.\n", flush=True)
    tables = {}
    for name, case in cases:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        title, header, rows = case.run(device)
        print(markdown_table(title, header, rows), flush=True)
        tables[name] = {"measured": measured, "title": title, "header": header, "rows": rows}
    return tables


def record_results(path, device_type, tables):
    """Store ``tables`` (from :func:`run_cases`) in the results file at ``path``, replacing those cases' last ones.

    The file holds every case's last table, for each device type: ``{device type: {case name: table}}``. The
    documentation's benchmark pages and every figure its prose quotes are read from it when the docs build.
    """
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault(device_type, {}).update(tables)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
