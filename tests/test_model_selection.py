"""skdeep estimators inside Pipelines, searches, cross-validation and routing."""

import numpy as np
import pytest
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_grid_search_with_two_jobs_over_a_pipeline():
    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(learning_rate_init=0.01, max_iter=100, random_state=0))
    search = GridSearchCV(
        pipe,
        {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)], "mlpclassifier__alpha": [1e-4, 1.0]},
        cv=3,
        n_jobs=2,
    ).fit(X_train, y_train)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.score(X_test, y_test) > 0.9


def test_cross_val_score_over_a_pipeline():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                                         max_iter=100, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=5)
    assert scores.shape == (5,) and scores.mean() > 0.95


def test_column_transformer_with_pandas_output_feeds_the_network():
    X, y = load_iris(as_frame=True, return_X_y=True)
    pre = ColumnTransformer([("scale", StandardScaler(), list(X.columns))]).set_output(transform="pandas")
    pipe = make_pipeline(pre, MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                            max_iter=100, random_state=0)).fit(X, y)
    assert list(pipe[-1].feature_names_in_) == [f"scale__{c}" for c in X.columns]
    assert pipe.score(X, y) > 0.9


def test_sample_weight_is_routed_through_a_pipeline():
    X, y = load_iris(return_X_y=True)
    weight = np.where(y == 2, 0.0, 1.0)  # class 2 carries no weight
    with sklearn.config_context(enable_metadata_routing=True):
        clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0)
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = make_pipeline(scaler, clf.set_fit_request(sample_weight=True))
        pipe.fit(X, y, sample_weight=weight)
        unweighted = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0)).fit(X, y)
    # with no weight on class 2, it is (almost) never predicted
    assert np.mean(pipe.predict(X) == 2) < 0.1
    assert np.mean(unweighted.predict(X) == 2) > 0.25


def test_regressor_in_grid_search():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(400, 2))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 / 4
    search = GridSearchCV(
        MLPRegressor(learning_rate_init=0.01, max_iter=200, random_state=0),
        {"hidden_layer_sizes": [(4,), (32, 32)], "activation": ["relu", "tanh"]},
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.9
