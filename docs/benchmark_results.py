"""The benchmark figures of the documentation, read from ``benchmarks/results.json`` when the docs build.

``python benchmarks/run.py`` stores each case's last table there. This Sphinx
extension makes two things of the file, so that no page can quote a figure
that the tables do not hold:

- the pages of tables, ``benchmarks-cpu.md`` and ``benchmarks-cuda.md``,
  written into the docs' source folder before Sphinx reads it (they are not
  kept in git);
- MyST substitutions for the prose: ``{{ cpu.small["skdeep MLPClassifier"]["time vs
  scikit-learn"] }}`` is the cell of that row and column of the CPU table of
  the ``small`` case, without its bold markup. A row is named by its first
  cell, or by its first two cells joined by " / " where the first is not
  unique in its table. ``measured`` (the date, machine and versions),
  ``torch`` (the version alone) and ``title`` are the table's too.
"""

import json
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results.json"
#: device type -> the page of its tables and the page's name for the device
PAGES = {"cpu": ("benchmarks-cpu.md", "CPU"), "cuda": ("benchmarks-cuda.md", "GPU")}


def _plain(cell):
    return cell.replace("**", "")


def row_names(rows):
    """Each row's name: its first cell, or its first two joined by " / " where the first is not unique."""
    firsts = [_plain(row[0]) for row in rows]
    return [first if firsts.count(first) == 1 else f"{first} / {_plain(row[1])}"
            for first, row in zip(firsts, rows, strict=True)]


def figures(table):
    """``{row name: {column: cell}}`` of a stored table, with its ``measured``, ``torch`` and ``title``.

    Examples
    --------
    >>> table = {"measured": "2026-12-06: 2 cores; Python 3.11.7, torch 2.13.0+cpu", "title": "Small fits",
    ...          "header": ["system", "median"], "rows": [["skdeep", "0.234 s"], ["**ratio**", "**1.07x**"]]}
    >>> figures(table)["ratio"]["median"], figures(table)["torch"]
    ('1.07x', '2.13.0+cpu')
    """
    named = {name: {column: _plain(cell) for column, cell in zip(table["header"], row, strict=True)}
             for name, row in zip(row_names(table["rows"]), table["rows"], strict=True)}
    version = re.search(r"torch (\S+?)[,;]?(\s|$)", table["measured"])
    details = {"measured": table["measured"], "torch": version[1] if version else "", "title": table["title"]}
    assert not set(named) & set(details), f"a row named as a detail of the table: {set(named) & set(details)}"
    return {**named, **details}


def tables_page(device_name, tables):
    """The markdown page of a device's tables, in the results file's order."""
    lines = [f"# Benchmark tables: {device_name}", "",
             "Each case's last table, as `python benchmarks/run.py` measured it and stored it in",
             "`benchmarks/results.json`, with the date, machine and versions of its run. Every ratio is a",
             "time ratio, the system's time against the reference the column names: under one is faster.", ""]
    for table in tables.values():
        heading, _, details = table["title"].partition(": ")  # ("Small fits", "breast_cancer (569 x 30), ...")
        lines += [f"## {heading}", "", f"{details}.", "", f"Measured {table['measured']}.", "",
                  "| " + " | ".join(table["header"]) + " |", "|" + "---|" * len(table["header"])]
        lines += ["| " + " | ".join(row) + " |" for row in table["rows"]]
        lines.append("")
    return "\n".join(lines)


def load_results(path=RESULTS):
    """The results file: ``{device type: {case name: table}}``."""
    return json.loads(path.read_text())


def _substitutions(app, config):
    results = load_results()
    config.myst_substitutions = {**config.myst_substitutions,
                                 **{device: {case: figures(table) for case, table in tables.items()}
                                    for device, tables in results.items()}}


def _write_pages(app):
    results = load_results()
    for device, (page, device_name) in PAGES.items():
        path = Path(app.srcdir) / page
        text = tables_page(device_name, results.get(device, {}))
        if not path.exists() or path.read_text() != text:  # (an unchanged page is not read again)
            path.write_text(text)


def setup(app):
    app.connect("config-inited", _substitutions)
    app.connect("builder-inited", _write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
