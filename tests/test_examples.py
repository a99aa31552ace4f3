"""Every script in examples/ runs to the end."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs(path, capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # examples that plot draw off screen
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")  # each example's figures, which pyplot keeps until closed
    assert capsys.readouterr().out.strip()
