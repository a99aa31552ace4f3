"""Every ratio, time and size that README and the docs' prose quote is read from the benchmarks' results file.

``python benchmarks/run.py`` stores each case's last table in
``benchmarks/results.json``; the docs quote its cells as MyST substitutions
(``docs/benchmark_results.py``), so that two pages cannot give two numbers
for one measurement, nor a page a number that no table holds.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "benchmarks"))  # (the harness, which stores the tables)


def _docs_module(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchmark_results = _docs_module("benchmark_results")
RESULTS = benchmark_results.load_results()
GENERATED = {DOCS / page for page, _ in benchmark_results.PAGES.values()}
PROSE = [ROOT / "README.md"] + sorted(path for path in [*DOCS.glob("*.md"), *DOCS.glob("*.rst"),
                                                        *(DOCS / "user_guide").glob("*.md")]
                                      if path not in GENERATED)

#: what is not prose: fenced blocks (code, directives), inline code, substitutions, link targets
NOT_PROSE = re.compile(r"^(```|~~~).*?^\1|`[^`\n]*`|\{\{.*?\}\}|\]\([^)]*\)", flags=re.MULTILINE | re.DOTALL)
#: a ratio ("1.5x"), a time ("320 µs", "2.8 s") or a size ("443 MB")
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:x\b|\s?(?:s|ms|µs|us|ns|min|minutes|seconds|hours|[kKMG]i?B)\b)")
#: a substitution: {{ device.case["row"]["column"] }} or {{ device.case.detail }}
SUBSTITUTION = re.compile(r"\{\{\s*(.*?)\s*\}\}", flags=re.DOTALL)
REFERENCE = re.compile(r'(\w+)\.(\w+)(?:\["([^"]+)"\]\["([^"]+)"\]|\.(\w+))')


def prose_figures(text):
    """The figures of ``text``'s prose: (line number, figure)."""
    kept = NOT_PROSE.sub(lambda match: "\n" * match[0].count("\n"), text)
    return [(kept.count("\n", 0, match.start()) + 1, match[0]) for match in FIGURE.finditer(kept)]


def figure_of(reference):
    """The cell (or detail) of the results file that a substitution's ``reference`` names."""
    match = REFERENCE.fullmatch(reference)
    assert match, f"not a reference to the results file: {{{{ {reference} }}}}"
    device, case, row, column, detail = match.groups()
    figures = benchmark_results.figures(RESULTS[device][case])
    return figures[detail] if detail else figures[row][column]


@pytest.mark.parametrize("page", PROSE, ids=[str(page.relative_to(ROOT)) for page in PROSE])
def test_prose_quotes_figures_only_from_the_results_file(page):
    assert prose_figures(page.read_text()) == []


@pytest.mark.parametrize("page", PROSE, ids=[str(page.relative_to(ROOT)) for page in PROSE])
def test_every_quoted_figure_names_a_cell_of_the_results_file(page):
    for reference in SUBSTITUTION.findall(page.read_text()):
        assert figure_of(reference)


def test_the_check_finds_figures_in_prose_and_nowhere_else():
    text = ('A fit takes 2.8 s, 1.5x faster, with 443 MB; 8x8 images, 3x32x32, 200 epochs, Python 3.11.\n'
            '`0.5 s` in code, {{ cpu.small["skdeep MLPClassifier"]["median"] }} quoted, [a](run-2x.md)\n'
            '```python\nsleep(3.0)  # 3 s\n```\nthen 95 µs\n')
    assert prose_figures(text) == [(1, "2.8 s"), (1, "1.5x"), (1, "443 MB"), (6, "95 µs")]


def test_the_results_tables_are_complete():
    for device, tables in RESULTS.items():
        for case, table in tables.items():
            assert {"measured", "title", "header", "rows"} <= set(table), (device, case)
            assert all(len(row) == len(table["header"]) for row in table["rows"]), (device, case)
            assert len(set(benchmark_results.row_names(table["rows"]))) == len(table["rows"]), (device, case)


def test_a_run_replaces_its_cases_tables_and_keeps_the_others(tmp_path):
    from harness import record_results

    path = tmp_path / "results.json"
    old = {"measured": "then", "title": "A", "header": ["system", "median"], "rows": [["a", "1 s"]]}
    record_results(path, "cpu", {"small": old, "cold": old})
    new = {**old, "measured": "now", "rows": [["a", "2 s"]]}
    record_results(path, "cpu", {"small": new})
    record_results(path, "cuda", {"small": old})
    assert json.loads(path.read_text()) == {"cpu": {"small": new, "cold": old}, "cuda": {"small": old}}
