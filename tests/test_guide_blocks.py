"""The Python blocks of the user guide's skorch pages run as written."""

import re
import warnings
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user_guide"
PAGES = ["skorch.md", "callbacks.md"]
BLOCKS = [(page, block) for page in PAGES
          for block in re.findall(r"^```python\n(.*?)^```", (GUIDE / page).read_text(), flags=re.M | re.S)]


@pytest.mark.parametrize("page, block", BLOCKS, ids=[f"{page}-{i}" for i, (page, _) in enumerate(BLOCKS)])
def test_guide_block_runs(page, block):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        exec(compile(block, str(GUIDE / page), "exec"), {"__name__": "guide"})
