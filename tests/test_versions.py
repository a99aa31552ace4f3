"""The versions pyproject.toml declares are the versions CI tests.

CI installs constraints.txt (the pins, where the docs are built too) and constraints-min.txt (the floors):
each floor in pyproject.toml is the version pinned in constraints-min.txt, or for the docs extra, which
only the pins build, in constraints.txt.
"""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: test tools with a tested floor, not listed among the dependencies on the install page
DEVELOPMENT_TOOLS = {"pytest", "pytest-xdist", "numpydoc", "hypothesis", "palmerpenguins"}


def pins(name):
    """``{package: version}`` of a constraints file, with the names as pip compares them."""
    lines = (line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines())
    return {canonicalize_name(package): version for package, version in (line.split("==") for line in lines if line)}


def floors(requirements):
    """``(package, floor)`` of each requirement: the version of its ``>=``, None where it has none."""
    for requirement in map(Requirement, requirements):
        at_least = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        yield canonicalize_name(requirement.name), at_least[0] if at_least else None


GROUPS = {"dependencies": PROJECT["dependencies"], **PROJECT["optional-dependencies"]}


@pytest.mark.parametrize("group", GROUPS)
def test_every_floor_is_the_version_ci_tests(group):
    tested = pins("constraints.txt" if group == "docs" else "constraints-min.txt")
    for package, floor in floors(GROUPS[group]):
        assert floor is not None, f"{package} in {group} has no floor"
        assert tested.get(package) == floor, (package, floor, tested.get(package))


def test_the_pins_are_at_or_above_the_floors():
    pinned = pins("constraints.txt")
    for group, requirements in GROUPS.items():
        for requirement in map(Requirement, requirements):
            assert pinned[canonicalize_name(requirement.name)] in requirement.specifier, (group, requirement)


def test_the_install_page_lists_the_tested_range_of_each_package():
    rows = re.findall(
        r"^\| `([\w-]+)`[^|]*\| ([\w.]+) \| ([\w.]+) \|$", (ROOT / "docs" / "install.md").read_text(), re.MULTILINE
    )
    oldest, newest = pins("constraints-min.txt"), pins("constraints.txt")
    assert rows
    for package, low, high in rows:
        assert (low, high) == (oldest[package], newest[package]), package
    listed = {package for package, _, _ in rows}
    for package, _ in floors([*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["test"]]):
        assert package in listed or package in DEVELOPMENT_TOOLS, f"{package} is not on the install page"
