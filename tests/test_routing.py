"""skorch's ``<part>__<argument>`` parameters: in the constructor, get_params/set_params, clone, searches and saves."""

import gc
import pickle
import weakref

import numpy as np
import pytest
import torch
from scipy.stats import randint
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeep import CNNClassifier, MLPClassifier, TorchClassifier, TorchRegressor


class Net(torch.nn.Module):
    """A module with a width to tune, as skorch's README tunes one (and an argument named as fitted state)."""

    def __init__(self, n_features, n_outputs, hidden=4, dropout=0.0, lambda_=0.0):
        super().__init__()
        self.lambda_ = lambda_
        self.hidden = torch.nn.Linear(n_features, hidden)
        self.dropout = torch.nn.Dropout(dropout)
        self.output = torch.nn.Linear(hidden, n_outputs)

    def forward(self, x):
        return self.output(self.dropout(torch.relu(self.hidden(x))))


def test_a_module_argument_is_a_parameter_from_the_constructor_on(iris):
    X, y = iris
    clf = TorchClassifier(Net, module__hidden=7, max_iter=3)
    assert clf.get_params()["module__hidden"] == 7
    assert clone(clf).get_params()["module__hidden"] == 7
    clf.set_params(module__hidden=5, module__dropout=0.5)
    clf.fit(X, y)
    assert clf.module_.hidden.out_features == 5
    assert clf.module_.dropout.p == 0.5


def test_a_grid_search_over_module_and_optimizer_arguments_trains_each_candidate_as_asked(iris):
    X, y = iris
    search = GridSearchCV(
        TorchClassifier(Net, learning_rate_init=0.02, max_iter=60, random_state=0),
        {"module__hidden": [2, 16], "optimizer__weight_decay": [0.0, 0.5]}, cv=3, refit=True,
    ).fit(X, y)
    assert [params for params in search.cv_results_["params"]] == [
        {"module__hidden": 2, "optimizer__weight_decay": 0.0}, {"module__hidden": 2, "optimizer__weight_decay": 0.5},
        {"module__hidden": 16, "optimizer__weight_decay": 0.0}, {"module__hidden": 16, "optimizer__weight_decay": 0.5}]
    best = search.best_estimator_
    assert best.module_.hidden.out_features == search.best_params_["module__hidden"]
    assert best.net_.optimizer_.param_groups[0]["weight_decay"] == search.best_params_["optimizer__weight_decay"]
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] > scores[0]  # 16 hidden units learn iris better than 2 in 60 epochs
    assert scores[3] < scores[2]  # and a strong decay holds them back


def test_a_randomized_search_and_a_pipeline_route_module_arguments(iris):
    X, y = iris
    pipeline = make_pipeline(StandardScaler(), TorchClassifier(Net, max_iter=5, random_state=0))
    search = RandomizedSearchCV(pipeline, {"torchclassifier__module__hidden": randint(3, 9)}, n_iter=3, cv=2,
                                random_state=0).fit(X, y)
    chosen = search.best_params_["torchclassifier__module__hidden"]
    assert search.best_estimator_[-1].module_.hidden.out_features == chosen


def test_an_argument_set_both_in_module_params_and_routed_is_refused(iris):
    X, y = iris
    clf = TorchClassifier(Net, module_params={"hidden": 3}, module__hidden=5)
    with pytest.raises(ValueError, match=r"\['hidden'\].*module_params.*module__hidden"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_module_params_set_by_argument_points_at_module_arguments():
    with pytest.raises(ValueError, match="'module__hidden'"):
        TorchClassifier(Net).set_params(module_params__hidden=3)


@pytest.mark.parametrize("Estimator, name, match", [
    (MLPClassifier, "hiden_layer_sizes", "Did you mean 'hidden_layer_sizes'"),
    (MLPClassifier, "hidden_layer_sizes_", "Did you mean 'hidden_layer_sizes'"),
    (MLPClassifier, "module__hidden", r"optimizer__<argument>, callbacks__<name>__<argument>"),
    (TorchRegressor, "criteria__delta", r"module__<argument>, criterion__<argument>"),
])
def test_an_unknown_keyword_is_refused_as_python_refuses_one(Estimator, name, match):
    with pytest.raises(TypeError, match=rf"__init__\(\) got an unexpected keyword argument '{name}'\..*{match}"):
        Estimator(Net, **{name: 1}) if Estimator is TorchRegressor else Estimator(**{name: 1})


@pytest.mark.parametrize("params, match", [
    (dict(module__hiden=3), r"module__hiden: Net takes no argument 'hiden'\. Did you mean module__hidden\?"),
    (dict(criterion=torch.nn.CrossEntropyLoss, criterion__label_smothing=0.1),
     r"criterion__label_smothing: CrossEntropyLoss takes no argument .*Did you mean criterion__label_smoothing"),
    (dict(criterion__label_smoothing=0.1), r"criterion__label_smoothing: .*which is None"),
    (dict(optimizer__amsgrd=True), r"optimizer__amsgrd: Adam takes no argument 'amsgrd'. Did you mean .*amsgrad"),
    (dict(callbacks__clip__gradient_clip_value=1.0), r"callbacks__clip__\.\.\.: the callbacks given are named \[\]"),
])
def test_an_argument_that_its_part_does_not_take_is_named_before_training(iris, params, match):
    X, y = iris
    clf = TorchClassifier(Net, **params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_a_routed_argument_named_as_a_fitted_attribute_is_a_parameter(iris):
    X, y = iris
    clf = TorchClassifier(Net, module__lambda_=0.25, max_iter=2)
    assert clone(clf).get_params()["module__lambda_"] == 0.25
    clf.fit(X, y)
    assert clf.get_params()["module__lambda_"] == 0.25 and clf.module_.lambda_ == 0.25


def test_set_params_refuses_a_part_the_estimator_has_not():
    with pytest.raises(ValueError, match="Invalid parameter 'module'"):
        MLPClassifier().set_params(module__hidden=3)


def test_routed_parameters_are_saved_with_the_model_and_its_build(iris):
    X, y = iris
    clf = TorchClassifier(Net, module__hidden=6, optimizer__amsgrad=True, max_iter=3, random_state=0).fit(X, y)
    clf.set_params(module__hidden=9)  # after the fit: the saved net is rebuilt as fitted
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.get_params()["module__hidden"] == 9
    assert loaded.module_.hidden.out_features == 6
    assert loaded.net_.optimizer_.param_groups[0]["amsgrad"] is True
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_routed_parameter_set_after_the_fit_is_saved_without_changing_the_model(iris):
    X, y = iris
    clf = TorchClassifier(Net, max_iter=3, random_state=0).fit(X, y)
    clf.set_params(module__hidden=32)  # the net was built without it
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.module_.hidden.out_features == 4 and loaded.get_params()["module__hidden"] == 32
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.fit(X, y).module_.hidden.out_features == 32


def test_optimizer_arguments_set_between_partial_fits_take_effect_and_are_saved(iris):
    X, y = iris
    clf = TorchClassifier(Net, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    clf.set_params(optimizer__amsgrad=True, optimizer__weight_decay=0.1).partial_fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["amsgrad"] is True
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.net_.optimizer_.param_groups[0]["weight_decay"] == 0.1


def test_routed_parameters_survive_skops(iris, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = iris
    clf = CNNClassifier(conv_filters=(2,), input_shape=(1, 4), kernel_size=2, optimizer__amsgrad=True, max_iter=2,
                        random_state=0).fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(clf, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert loaded.get_params()["optimizer__amsgrad"] is True
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_model_saved_before_the_newer_parameters_loads_with_their_defaults(iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    state = clf.__getstate__()
    for name in ("callbacks", "optimizer"):  # the state of a version that had not these parameters
        del state[name]
    loaded = MLPClassifier.__new__(MLPClassifier)
    loaded.__setstate__(state)
    assert loaded.callbacks is None and loaded.optimizer is None
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_parameter_names_follow_a_replaced_init_and_hold_no_class_alive():
    class Later(MLPClassifier):
        pass

    assert "extra" not in Later().get_params()

    def __init__(self, hidden_layer_sizes=(100,), *, extra=1, **kwargs):
        MLPClassifier.__init__(self, hidden_layer_sizes, **kwargs)
        self.extra = extra

    Later.__init__ = __init__
    assert clone(Later(extra=5)).extra == 5
    made = [type(f"Made{n}", (MLPClassifier,), {}) for n in range(3)]
    assert all(cls().get_params() == MLPClassifier().get_params() for cls in made)
    references = [weakref.ref(cls) for cls in made]
    del made
    gc.collect()
    assert all(reference() is None for reference in references)
