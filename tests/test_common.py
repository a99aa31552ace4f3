"""scikit-learn's estimator checks over every public skdeep estimator.

The target is no expected failure, and there is none. The instances train in
float64 (``precision="float64"``): ``check_sample_weight_equivalence_*``
compares ``predict_proba`` of a weighted and a repeated-samples fit at
``rtol=1e-7``, below float32's resolution. ``test_sample_weight.py`` checks the
same equivalence for the float32 default at a float32 tolerance.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdeep import CNNClassifier, CNNRegressor, MLPClassifier, MLPRegressor, TorchClassifier, TorchRegressor
from skdeep.modules import MLP

FAST = dict(learning_rate_init=0.01, max_iter=200, precision="float64", device="cpu")
SMALL_CNN = dict(conv_filters=(4,), kernel_size=3, hidden_layer_sizes=(16,))
USER_MODULE = dict(module=MLP, module_params={"hidden_layer_sizes": (16,)})

ESTIMATORS = [
    MLPClassifier(hidden_layer_sizes=(16,), **FAST),
    MLPRegressor(hidden_layer_sizes=(16,), **FAST),
    CNNClassifier(**SMALL_CNN, **FAST),
    CNNRegressor(**SMALL_CNN, **FAST),
    TorchClassifier(**USER_MODULE, **FAST),
    TorchRegressor(**USER_MODULE, **FAST),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
