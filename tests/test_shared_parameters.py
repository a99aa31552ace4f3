"""The parameters that the public estimators share have one default and one documentation entry."""

import ast
import inspect
import re
from collections import Counter

import pytest
from numpydoc.docscrape import NumpyDocString

from skdeep import CNNClassifier, CNNRegressor, MLPClassifier, MLPRegressor, TorchClassifier, TorchRegressor

ESTIMATORS = [MLPClassifier, MLPRegressor, CNNClassifier, CNNRegressor, TorchClassifier, TorchRegressor]
CNNS = {CNNClassifier, CNNRegressor}
SIGNATURES = {Estimator: dict(list(inspect.signature(Estimator.__init__).parameters.items())[1:])
              for Estimator in ESTIMATORS}
DOCUMENTED = {Estimator: {entry.name: entry for entry in NumpyDocString(inspect.getdoc(Estimator))["Parameters"]}
              for Estimator in ESTIMATORS}
SHARED = sorted(name for name, count in Counter(name for signature in SIGNATURES.values() for name in signature).items()
                if count > 1)

#: parameters that mean something else in some estimators: {name: (those estimators, what it means there)}
OWN_MEANING = {
    "hidden_layer_sizes": (CNNS, "the widths of the dense head after the convolutional blocks"),
    "dropout": (CNNS, "dropout in the dense head only, not after the convolutional blocks"),
}

def taking(name):
    return [Estimator for Estimator in ESTIMATORS if name in SIGNATURES[Estimator]]


def entry(Estimator, name):
    """The documented type line and description, whitespace normalised."""
    documented = DOCUMENTED[Estimator][name]
    return documented.type, " ".join(" ".join(documented.desc).split())


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_parameter_has_one_default(name):
    defaults = {Estimator.__name__: SIGNATURES[Estimator][name].default for Estimator in taking(name)}
    assert len({repr(default) for default in defaults.values()}) == 1, defaults


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_parameter_has_one_documentation_entry_per_meaning(name):
    own, _ = OWN_MEANING.get(name, (set(), None))
    groups = [[Estimator for Estimator in taking(name) if (Estimator in own) is mine] for mine in (True, False)]
    entries = [{entry(Estimator, name) for Estimator in group} for group in groups if group]
    assert all(len(group) == 1 for group in entries), entries  # one entry per meaning
    assert len(set.union(*entries)) == len(entries), entries  # and a meaning of its own, an entry of its own


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_every_parameter_is_documented_with_its_default(Estimator):
    assert list(DOCUMENTED[Estimator]) == list(SIGNATURES[Estimator])
    for name, parameter in SIGNATURES[Estimator].items():
        documented = re.search(r"default=(.*)$", DOCUMENTED[Estimator][name].type)
        if parameter.default is inspect.Parameter.empty:
            assert documented is None, name
        else:
            assert documented is not None, name
            assert ast.literal_eval(documented[1]) == parameter.default, name


def test_the_estimators_share_their_training_parameters():
    assert {"solver", "alpha", "max_iter", "random_state", "device"} <= set(SHARED)
    assert all(Estimators <= set(taking(name)) for name, (Estimators, _) in OWN_MEANING.items())
