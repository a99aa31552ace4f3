"""scikit-learn's estimator checks over every public skdeep estimator.

The target is no expected failure, and there is none. The instances train in
float64 (``precision="float64"``): ``check_sample_weight_equivalence_*``
compares ``predict_proba`` of a weighted and a repeated-samples fit at
``rtol=1e-7``, below float32's resolution. ``test_sample_weight.py`` checks the
same equivalence for the float32 default at a float32 tolerance.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdeep import MLPClassifier, MLPRegressor

FAST = dict(hidden_layer_sizes=(16,), max_iter=200, precision="float64", device="cpu")

ESTIMATORS = [
    MLPClassifier(learning_rate_init=0.01, **FAST),
    MLPRegressor(learning_rate_init=0.01, **FAST),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
