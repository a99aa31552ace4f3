"""The estimators' docstrings: complete, in signature order, and readable on every Python."""

import inspect
import pydoc
import re
import textwrap

import pytest
from numpydoc.docscrape import ClassDoc
from numpydoc.validate import validate

import skdeep
from skdeep._docs import fill_doc

PUBLIC = [name for name in skdeep.__all__ if name != "__version__"]


@pytest.mark.parametrize("name", PUBLIC)
def test_parameters_match_the_signature(name):
    errors = [f"{code}: {message}" for code, message in validate(f"skdeep.{name}")["errors"]
              if code in ("PR01", "PR02", "PR03")]
    assert errors == []


def _as_python_313(doc):
    """``doc`` as Python 3.13's compiler stores it: the common indentation of its lines stripped."""
    first, _, rest = doc.partition("\n")
    return first.lstrip() + "\n" + textwrap.dedent(rest)


def _network(dedented):
    class Net:
        """A network.

        Parameters
        ----------
        {parameters}

        width : int, default=8
            Neurons per layer.

        Attributes
        ----------
        {fitted_attributes}
        """

        def __init__(self, width=8, *, alpha=0.0001, verbose=False):
            self.width, self.alpha, self.verbose = width, alpha, verbose

    if dedented:
        Net.__doc__ = _as_python_313(Net.__doc__)
    return Net


@pytest.mark.parametrize("dedented", [False, True], ids=["indented", "dedented"])
def test_inserted_text_takes_the_indentation_of_its_marker(dedented):
    net = fill_doc(_network(dedented))
    indent, section = re.search(
        r"^([ \t]*)Parameters\n\1-+\n(.*?)\n\1Attributes$", net.__doc__, re.MULTILINE | re.DOTALL
    ).groups()
    lines = [line for line in section.splitlines() if line.strip()]
    headers = [line[len(indent):].split(" : ")[0] for line in lines if re.match(rf"{indent}\S", line)]
    assert headers == ["width", "alpha", "verbose"]
    assert all(re.match(rf"{indent}(\S| {{4}}\S)", line) for line in lines)

    doc = ClassDoc(net)
    assert [parameter.name for parameter in doc["Parameters"]] == ["width", "alpha", "verbose"]
    assert "loss_" in [attribute.name for attribute in doc["Attributes"]]


def test_undocumented_parameter_raises():
    class Net:
        """A network.

        Parameters
        ----------
        {parameters}
        """

        def __init__(self, alpha=0.0001, undocumented=1):
            self.alpha, self.undocumented = alpha, undocumented

    with pytest.raises(ValueError, match=r"\['undocumented'\] have no entry"):
        fill_doc(Net)


def test_entry_of_no_parameter_raises():
    Net = _network(dedented=False)

    def __init__(self, alpha=0.0001, verbose=False):  # documents width, which it does not take
        self.alpha, self.verbose = alpha, verbose

    Net.__init__ = __init__
    with pytest.raises(ValueError, match=r"\['width'\] are not parameters"):
        fill_doc(Net)


def test_help_lists_each_parameter_once():
    text = pydoc.render_doc(skdeep.MLPClassifier, renderer=pydoc.plaintext)
    section = re.search(r"\|  Parameters\n \|  -+\n(.*?)\n \|  Attributes\n", text, re.DOTALL)[1]
    names = re.findall(r"^ \|  (\w+) : ", section, re.MULTILINE)
    assert names == list(inspect.signature(skdeep.MLPClassifier).parameters)
