"""scikit-learn's own MLP test suite, run against skdeep's MLPs.

skdeep's MLPClassifier and MLPRegressor are drop-in replacements for
scikit-learn's: this module takes ``sklearn/neural_network/tests/test_mlp.py``
from the installed scikit-learn, swaps its import of the two estimators for
skdeep's, and runs every test in it with skdeep's defaults. Only the tests
that reach into scikit-learn's private internals are left out, each with its
reason below.
"""

from pathlib import Path

import pytest
import sklearn

_SUITE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
_SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

#: tests that use scikit-learn's private implementation, which skdeep's MLPs do not have
PRIVATE_INTERNALS = {
    "test_fit": "sets coefs_ by hand and calls the private _forward_pass and _backprop of "
                "scikit-learn's numpy implementation",
    "test_gradient": "checks the private _loss_grad_lbfgs of scikit-learn's numpy implementation",
    "test_learning_rate_warmstart": "reads the private _optimizer.learning_rate of scikit-learn's own "
                                    "SGD optimizer (tests/test_mlp.py checks skdeep's warm-started rates)",
    "test_adaptive_learning_rate": "reads the private _optimizer.learning_rate of scikit-learn's own SGD "
                                   "optimizer (tests/test_mlp.py checks skdeep's adaptive rate)",
    "test_early_stopping_stratified": "matches scikit-learn's private encoding of binary targets as booleans "
                                      "in the split's error ('True' for the label 1); skdeep names the "
                                      "user's labels (tests/test_mlp.py checks the split and the message)",
}

_source = _SUITE.read_text()
assert _SKLEARN_IMPORT in _source, f"{_SUITE} no longer imports the MLPs as {_SKLEARN_IMPORT!r}"
exec(compile(_source.replace(_SKLEARN_IMPORT, "from skdeep import MLPClassifier, MLPRegressor"),
             str(_SUITE), "exec"))
for _name in PRIVATE_INTERNALS:
    del globals()[_name]


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture of the same name, at its default seed."""
    return 42
