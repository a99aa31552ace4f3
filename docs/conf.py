"""Sphinx configuration of skdeep's documentation.

Build: python -m sphinx -W --keep-going -b html docs docs/_build/html
Fast (gallery not run): add -D plot_gallery=0
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["SKDEEP_DOCS_BUILD"] = "1"  # examples leave out wall times, which a docs build distorts
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # (gallery_order, benchmark_results)

import skdeep  # noqa: E402

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))

project = "skdeep"
author = "the skdeep developers"
copyright = "2026, the skdeep developers"
version = release = skdeep.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "benchmark_results",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
templates_path = ["_templates"]

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_heading_anchors = 3

intersphinx_mapping = {}  # no network here: references stay plain text

html_theme = "pydata_sphinx_theme"
html_title = f"skdeep {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,  # every top-level page in the navbar, none under "More"
    "navbar_persistent": ["search-button"],  # the search as an icon: the seven links fit beside it
    "navigation_depth": 2,
    "show_nav_level": 1,
    # The right sidebar only where a page has sections to list; the landing
    # page and the examples (whose code is wide) get the width instead.
    "secondary_sidebar_items": {
        "**": ["page-toc"],
        "index": [],
        **{f"auto_examples/{example.stem}": [] for example in EXAMPLES},
    },
}
# The left "Section Navigation" lists a section's pages; pages without any
# (the landing page, installation, quick start, GPUs) get the full width.
html_sidebars = {"index": [], "install": [], "quick_start": [], "gpu": []}
html_static_path = ["_static"]
html_css_files = ["skdeep.css"]
html_js_files = ["toc-sync.js"]
toc_object_entries_show_parents = "hide"  # "predict()" in a page's contents, not "MLPClassifier.predict()"

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py",
    "within_subsection_order": "gallery_order.GalleryOrder",
    # the build machine's run times say nothing about the examples (other
    # programs, other examples beside them): no times on the pages, no page of them
    "min_reported_time": float("inf"),
    "write_computation_times": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skdeep",),
}
