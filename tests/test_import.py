"""Importing skdeep: what it costs and what it leaves as it found it."""

import subprocess
import sys
from importlib import metadata

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
