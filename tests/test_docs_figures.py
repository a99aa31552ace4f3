"""Every ratio, time and size that README and the docs' prose quote is a cell of the benchmarks' results file.

``python benchmarks/run.py`` stores each case's last table in
``benchmarks/results.json`` and rewrites the pages of tables and every quoted
figure from it (``docs/benchmark_results.py``): a quoted figure carries the
cell it comes from in HTML comments, so that two pages cannot give two
numbers for one measurement, nor a page a number that no table holds.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # (the harness, which stores the tables)

_spec = importlib.util.spec_from_file_location("benchmark_results", ROOT / "docs" / "benchmark_results.py")
benchmark_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark_results)
RESULTS = benchmark_results.load_results()
PROSE = benchmark_results.prose_pages()
IDS = [str(page.relative_to(ROOT)) for page in PROSE]

#: what is not prose: fenced blocks (code, directives), inline code, quoted figures, link targets
NOT_PROSE = re.compile(r"^(```|~~~).*?^\1|`[^`\n]*`|<!--fig .*?<!--/fig-->|\]\([^)]*\)",
                       flags=re.MULTILINE | re.DOTALL)
#: a ratio ("1.5x"), a time ("320 µs", "2.8 s") or a size ("443 MB")
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:x\b|\s?(?:s|ms|µs|us|ns|min|minutes|seconds|hours|[kKMG]i?B)\b)")


def prose_figures(text):
    """The figures of ``text``'s prose that are not quoted from the results file: (line number, figure)."""
    kept = NOT_PROSE.sub(lambda match: "\n" * match[0].count("\n"), text)
    return [(kept.count("\n", 0, match.start()) + 1, match[0]) for match in FIGURE.finditer(kept)]


@pytest.mark.parametrize("page", PROSE, ids=IDS)
def test_prose_quotes_figures_only_from_the_results_file(page):
    assert prose_figures(page.read_text()) == []


@pytest.mark.parametrize("page", PROSE, ids=IDS)
def test_every_quoted_figure_is_its_cell_of_the_results_file(page):
    text = page.read_text()
    for quote in benchmark_results.QUOTE.finditer(text):
        assert quote["value"] == benchmark_results.figure_of(RESULTS, quote["reference"]), quote[0]
    assert benchmark_results.fill(text, RESULTS) == text


@pytest.mark.parametrize("device", benchmark_results.PAGES)
def test_the_pages_of_tables_are_the_results_files(device):
    docname, name = benchmark_results.PAGES[device]
    page = ROOT / "docs" / f"{docname}.md"
    assert page.read_text() == benchmark_results.tables_page(name, RESULTS.get(device, {}))


def test_the_check_finds_figures_in_prose_and_nowhere_else():
    text = ('A fit takes 2.8 s, 1.5x faster, with 443 MB; 8x8 images, 3x32x32, 200 epochs, Python 3.11.\n'
            '`0.5 s` in code, <!--fig cpu.small["skdeep MLPClassifier"]["median"]-->0.234 s<!--/fig--> quoted, '
            '[a](run-2x.md)\n```python\nsleep(3.0)  # 3 s\n```\nthen 95 µs\n')
    assert prose_figures(text) == [(1, "2.8 s"), (1, "1.5x"), (1, "443 MB"), (6, "95 µs")]


def test_a_new_run_rewrites_the_pages_and_the_quoted_figures(tmp_path):
    (tmp_path / "docs" / "user_guide").mkdir(parents=True)
    reference = 'cpu.small["skdeep MLPClassifier"]["time vs scikit-learn"]'
    (tmp_path / "README.md").write_text(f"It takes <!--fig {reference}-->9.99x<!--/fig--> of the time.\n")
    results = json.loads(json.dumps(RESULTS))
    changed = benchmark_results.update_docs(results, root=tmp_path)
    assert {path.name for path in changed} == {"README.md", "benchmarks-cpu.md", "benchmarks-cuda.md"}
    value = benchmark_results.figure_of(RESULTS, reference)
    assert (tmp_path / "README.md").read_text() == f"It takes <!--fig {reference}-->{value}<!--/fig--> of the time.\n"
    assert benchmark_results.update_docs(results, root=tmp_path) == []  # (nothing left to rewrite)


def test_a_reference_to_no_cell_is_an_error():
    with pytest.raises(KeyError):
        benchmark_results.figure_of(RESULTS, 'cpu.small["no such system"]["median"]')
    with pytest.raises(KeyError):
        benchmark_results.figure_of(RESULTS, "cpu.small")


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
