"""Importing skdeep: what it costs, what it leaves as it found it, and how its modules depend on each other."""

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import skdeep


@pytest.mark.parametrize("collector_on", [True, False])
def test_import_leaves_the_garbage_collector_as_it_was(collector_on):
    code = (f"import gc\nif not {collector_on}: gc.disable()\nimport skdeep\n"
            "print(gc.isenabled(), 'torch' in __import__('sys').modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == [str(collector_on), "True"]


def test_import_runs_no_full_collection_while_torch_loads():
    # each full collection walks every object torch has created so far
    code = ("import gc\nfull = []\n"
            "gc.callbacks.append(lambda phase, info: full.append(1) if info['generation'] == 2 else None)\n"
            "import skdeep\nprint(len(full))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "0"


def test_a_file_left_open_is_still_written_at_exit(tmp_path):
    # skipping the collector's work at exit (gc.freeze) would save torch's teardown time, and lose this
    path = tmp_path / "left-open.txt"
    code = (f"import skdeep\ndef log(message):\n    file.write(message)\n"
            f"file = open({str(path)!r}, 'w')\nlog('written')\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert path.read_text() == "written"


def test_the_distribution_is_scikit_deep():
    # the package index's "skdeep" is an unrelated project
    assert "scikit-deep" in metadata.packages_distributions()["skdeep"]
    assert metadata.version("scikit-deep") == skdeep.__version__


def _skdeep_imports(path):
    """The skdeep modules that the file ``path`` imports: (at the top, inside functions)."""
    tree = ast.parse(path.read_text())
    inside = {id(node) for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function)}
    top, local = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "skdeep":
            names = ([f"skdeep.{alias.name}" for alias in node.names] if node.module == "skdeep" else [node.module])
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.split(".")[0] == "skdeep"]
        else:
            continue
        (local if id(node) in inside else top).update(name for name in names if name in MODULES)
    return top, local


PACKAGE = Path(skdeep.__file__).parent
MODULES = {f"skdeep.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"}


def test_no_skdeep_module_imports_another_inside_a_function():
    hidden = {path.name: sorted(_skdeep_imports(path)[1]) for path in PACKAGE.glob("*.py")}
    assert {name: found for name, found in hidden.items() if found} == {}


def test_skdeeps_modules_import_each_other_without_a_cycle():
    # (imports inside functions count: they only defer the cycle to the call)
    graph = {f"skdeep.{path.stem}": set.union(*_skdeep_imports(path)) for path in PACKAGE.glob("*.py")
             if path.stem != "__init__"}
    done, path = set(), []

    def visit(module):  # depth first; a module met again on the current path closes a cycle
        if module in path:
            raise AssertionError(" -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for imported in graph[module]:
            visit(imported)
        path.pop()
        done.add(module)

    for module in graph:
        visit(module)
