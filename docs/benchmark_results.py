"""The benchmark figures of the documentation, read from ``benchmarks/results.json``.

``python benchmarks/run.py`` stores each case's last table there, then calls
:func:`update_docs`, so that no page quotes a figure the tables do not hold:

- the pages of tables, ``docs/benchmarks-cpu.md`` and ``docs/benchmarks-cuda.md``,
  are written from the file;
- every figure that README and the docs' prose quote is marked with the
  cell it comes from, in HTML comments that neither GitHub nor Sphinx shows:
  ``<!--fig cpu.small["skdeep MLPClassifier"]["time vs scikit-learn"]-->1.07x<!--/fig-->``
  is the cell of that row and column of the CPU table of the ``small`` case,
  without its bold markup, and is rewritten from the file. A row is named by
  its first cell, or by its first two cells joined by " / " where the first
  is not unique in its table; ``measured`` (the date, machine and versions),
  ``torch`` (the version alone) and ``title`` are the table's too.

As a Sphinx extension, it renders the pages from the file as they are read
(``source-read``), so the built site shows the file's figures even where the
sources were not rewritten; ``tests/test_docs_figures.py`` checks that they
were.

Usage: ``python docs/benchmark_results.py`` rewrites the pages and figures.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
#: device type -> the docname of its page of tables and the page's name for the device
PAGES = {"cpu": ("benchmarks-cpu", "CPU"), "cuda": ("benchmarks-cuda", "GPU")}
#: a quoted figure: the reference to its cell, and its value
QUOTE = re.compile(r"<!--fig (?P<reference>.+?)-->(?P<value>.*?)<!--/fig-->")
#: a reference: device.case["row"]["column"] or device.case.detail
REFERENCE = re.compile(r'(\w+)\.(\w+)(?:\["([^"]+)"\]\["([^"]+)"\]|\.(\w+))')


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


def figure_of(results, reference):
    """The cell (or detail) of ``results`` that ``reference`` names; KeyError for one it does not hold."""
    match = REFERENCE.fullmatch(reference)
    if not match:
        raise KeyError(f"not a reference to a cell of the results: {reference!r}")
    device, case, row, column, detail = match.groups()
    table = figures(results[device][case])
    return table[detail] if detail else table[row][column]


def fill(text, results):
    """``text`` with each quoted figure's value taken from ``results``.

    Examples
    --------
    >>> results = {"cpu": {"small": {"measured": "today", "title": "Small fits", "header": ["system", "median"],
    ...                              "rows": [["skdeep", "0.234 s"]]}}}
    >>> fill('takes <!--fig cpu.small["skdeep"]["median"]-->0.3 s<!--/fig-->', results)
    'takes <!--fig cpu.small["skdeep"]["median"]-->0.234 s<!--/fig-->'
    """
    return QUOTE.sub(lambda quote: f"<!--fig {quote['reference']}-->{figure_of(results, quote['reference'])}"
                                   "<!--/fig-->", text)


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


def prose_pages(root=ROOT):
    """README and the docs' pages of prose (the pages of tables aside)."""
    docs = root / "docs"
    tables = {docs / f"{docname}.md" for docname, _ in PAGES.values()}
    return [root / "README.md"] + sorted(page for page in [*docs.glob("*.md"), *docs.glob("*.rst"),
                                                           *(docs / "user_guide").glob("*.md")]
                                         if page not in tables)


def update_docs(results, root=ROOT):
    """Rewrite the pages of tables and every quoted figure from ``results``; the paths of the files changed."""
    changed = []
    texts = {root / "docs" / f"{docname}.md": tables_page(name, results.get(device, {}))
             for device, (docname, name) in PAGES.items()}
    texts.update({page: fill(page.read_text(), results) for page in prose_pages(root)})
    for path, text in texts.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def _render(app, docname, source):
    results = load_results()
    pages = {page: (device, name) for device, (page, name) in PAGES.items()}
    if docname in pages:
        device, name = pages[docname]
        source[0] = tables_page(name, results.get(device, {}))
    else:
        source[0] = fill(source[0], results)


def setup(app):
    app.connect("source-read", _render)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for path in update_docs(load_results()):
        print(f"rewritten: {path.relative_to(ROOT)}")
