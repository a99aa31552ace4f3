"""Random valid parameters on random data, through random sequences of calls: every call works or says why.

A property-based test (Hypothesis) over the six estimators. Each example draws
data (1 to a few hundred rows, 1 to 20 features, 1 to 7 classes, multilabel and
multi-output targets; int, float32 and float64 values; arrays, DataFrames with
and without categorical columns, sparse matrices; sample weights with zeros),
parameters from the estimator's own ``_parameter_constraints`` (their valid
values and the edges of their ranges, kept to tiny networks and a few epochs),
and a sequence of calls (fit, partial_fit, warm refit, predict, predict_proba,
score, set_params between calls, pickle, clone). The property:

- a call that works gives finite outputs of the right shape and dtype;
- a call that fails raises a ``ValueError`` or ``TypeError`` of skdeep's or
  scikit-learn's (never a torch-internal error) whose message names a
  parameter or the data problem;
- a failed first fit leaves the estimator unfitted, and a failed later
  training call leaves the model as it was: it predicts as before;
- the MLPs refuse no first fit that scikit-learn's MLP makes with the same
  parameters and data (a divergence aside: skdeep judges it on the loss and
  the predictions, scikit-learn on the weights alone).

The "ci" profile (the default) runs a fixed set of examples (derandomized)
in under a minute on two cores; ``SKDEEP_FUZZ=long`` runs the "long" profile:
fresh random examples, five times as many. CI's run on the oldest supported
versions (``.ci/floors``) takes the "floors" profile, a quarter of the "ci"
examples: the fuzz hunts skdeep's own mistakes, which the run on the pins
covers in full; on the floors it checks that the same paths work with the
older releases.
"""

import os
import pickle
import re
import tempfile
import traceback
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sklearn import neural_network
from sklearn.base import ClassifierMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted
from skorch.callbacks import Callback, GradientNormClipping

from skdeep import CNNClassifier, CNNRegressor, MLPClassifier, MLPRegressor, TorchClassifier, TorchRegressor
from skdeep._callbacks import DIVERGED
from skdeep.modules import ACTIVATIONS, MLP

_COMMON = dict(deadline=None, database=None, print_blob=True, suppress_health_check=list(HealthCheck))
settings.register_profile("ci", max_examples=400, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=2000, **_COMMON)
settings.register_profile("floors", max_examples=100, derandomize=True, **_COMMON)
PROFILE = settings.get_profile(os.environ.get("SKDEEP_FUZZ", "ci"))

ESTIMATORS = [MLPClassifier, MLPRegressor, CNNClassifier, CNNRegressor, TorchClassifier, TorchRegressor]

#: the largest value drawn for an unbounded parameter: tiny networks, a few epochs, any learning rate
UPPER = {"max_iter": 4, "max_fun": 40, "n_iter_no_change": 4, "checkpoint_every": 3, "batch_size": 40,
         "alpha": 10.0, "l1": 1.0, "learning_rate_init": 10.0, "power_t": 4.0, "tol": 10.0, "epsilon": 1.0}
#: parameters whose defaults are never drawn: large networks, long fits, fresh entropy (an example replays as it ran)
UNDRAWN_DEFAULTS = {"max_iter", "max_fun", "hidden_layer_sizes", "conv_filters", "module_params", "random_state"}
#: the checkpoint parameter's file, in each example's own folder
CHECKPOINT = "checkpoint.pt"
#: scikit-learn's MLPs, to compare refusals with
SCIKIT_LEARNS = {MLPClassifier: neural_network.MLPClassifier, MLPRegressor: neural_network.MLPRegressor}
#: the values of skdeep's parameters beyond scikit-learn's that train as scikit-learn does (or are not read then)
AS_SCIKIT_LEARN = {"dropout": [0.0], "batch_norm": [False], "l1": [0.0], "class_weight": [None],
                   "categorical_features": [None], "device": ["cpu", "auto"], "precision": ["float32", "float64"],
                   "compile": [False], "cuda_graph": [False, "auto"], "checkpoint": [None], "callbacks": [None],
                   "optimizer": [None]}
#: the dtypes that X takes, the first one for any other
FLOATS = (np.float32, np.float64)
#: where the library that raised an error lives: skdeep's and scikit-learn's errors only
_OWN_ERRORS = re.compile(r"[\\/](skdeep|sklearn)[\\/]")
#: what an error names when it names no parameter: the data and what was done with it
_DATA_WORDS = re.compile(r"\b(X|y|sample_weight|classes|class|labels?|samples?|features?|targets?|columns?|"
                         r"categor\w*|weights?|values?|shape|outputs?|input|array|dtype|partial_fit|fit|module|"
                         r"network|Solver)\b")


# -- parameters -----------------------------------------------------------------------------------------------------


def _reals(interval, upper):
    """Floats of ``interval`` up to ``upper``, its edges (the nearest values inside open ones) half of the time."""
    low, high = interval.left, upper if interval.right is None else min(interval.right, upper)
    if interval.closed in ("right", "neither"):
        low = np.nextafter(low, high)
    if interval.right is not None and interval.closed in ("left", "neither"):
        high = np.nextafter(high, low)
    return st.one_of(st.sampled_from([float(low), float(high)]), st.floats(low, high))


def _integers(interval, upper):
    """Integers of ``interval`` up to ``upper``."""
    low = interval.left + (interval.closed in ("right", "neither"))
    high = upper if interval.right is None else interval.right - (interval.closed in ("left", "neither"))
    return st.integers(low, min(high, upper))


def _from_constraint(name, constraint):
    """The values that one of a parameter's constraints allows."""
    if isinstance(constraint, Interval):
        upper = UPPER.get(name, 1.0)
        return _integers(constraint, upper) if constraint.type is Integral else _reals(constraint, upper)
    if isinstance(constraint, StrOptions):
        return st.sampled_from(sorted(constraint.options - constraint.deprecated))
    if isinstance(constraint, Options):
        return st.sampled_from(sorted(constraint.options))
    if constraint is None:
        return st.none()
    if constraint == "boolean":
        return st.booleans()
    if constraint == "random_state":  # (not None: see UNDRAWN_DEFAULTS)
        seeds = st.integers(0, 2**31 - 1)
        return st.one_of(seeds, seeds.map(np.random.RandomState))
    if constraint == "verbose":
        return st.sampled_from([False, 0, 1, 2])
    raise AssertionError(f"the constraint {constraint!r} of {name!r} is too wide to draw from: give it OWN_VALUES")


def _windows(data):
    """Convolution and pooling windows: an int, or one per spatial dimension (or a wrong number of them)."""
    sides = st.integers(1, 3)
    return st.one_of(sides, st.tuples(sides), st.tuples(sides, sides))


def _categorical_features(data):
    columns = data.columns
    indices = st.lists(st.integers(0, len(columns) - 1), min_size=1, max_size=3, unique=True)
    names = indices.map(lambda chosen: [columns[i] for i in chosen])
    mask = st.lists(st.booleans(), min_size=len(columns), max_size=len(columns))
    return st.one_of(st.none(), st.just("from_dtype"), indices, names, mask)


def _class_weight(data):
    weight = st.sampled_from([0.0, 0.5, 1.0, 3.0])
    per_label = st.fixed_dictionaries({0: weight, 1: weight})
    return st.one_of(st.none(), st.just("balanced"), st.dictionaries(st.sampled_from(list(data.labels)), weight,
                                                                     max_size=3),
                     st.lists(per_label, min_size=data.n_outputs, max_size=data.n_outputs))


#: values of the parameters whose constraints are too wide to draw from ("array-like", str, dict, callable...),
#: as functions of the data
OWN_VALUES = {
    "hidden_layer_sizes": lambda data: st.one_of(st.integers(1, 6),
                                                 st.lists(st.integers(1, 6), max_size=2).map(tuple)),
    "conv_filters": lambda data: st.lists(st.integers(1, 3), max_size=2).map(tuple),
    "kernel_size": _windows,
    "pool_size": lambda data: st.one_of(st.none(), _windows(data)),
    "input_shape": lambda data: st.sampled_from([None, *data.sample_shapes]),
    # any string is allowed: those that name no device here must be refused
    "device": lambda data: st.sampled_from(["cpu"] * 12 + ["auto", "cuda", "cuda:7", "mps", "gpu"]),
    "compile": lambda data: st.just(False),  # torch.compile takes seconds per network: not drawn
    "cuda_graph": lambda data: st.sampled_from([False, True, "auto"]),
    "checkpoint": lambda data: st.sampled_from([None, None, CHECKPOINT]),
    "module": lambda data: st.just(MLP),
    "module_params": lambda data: st.one_of(st.none(), st.fixed_dictionaries(
        {"hidden_layer_sizes": st.lists(st.integers(1, 6), max_size=2).map(tuple)},
        optional={"activation": st.sampled_from(sorted(ACTIVATIONS)), "dropout": st.sampled_from([0.0, 0.5]),
                  "batch_norm": st.booleans()})),
    "categorical_features": _categorical_features,
    "embedding_dims": lambda data: st.one_of(
        st.none(), st.integers(1, 4), st.dictionaries(st.sampled_from(data.columns), st.integers(1, 4), max_size=2)),
    "class_weight": _class_weight,
    "callbacks": lambda data: st.sampled_from([None, [], [EpochCounter()], [("clip", GradientNormClipping(1.0))]]),
    "optimizer": lambda data: st.sampled_from([None, torch.optim.SGD, torch.optim.NAdam]),
    # the user's losses of regressions (a classifier's targets are indices or 0/1 columns: scikit-learn's loss)
    "criterion": lambda data: st.sampled_from([None] if data.labels is not None else
                                              [None, torch.nn.L1Loss, torch.nn.HuberLoss(delta=0.5)]),
    "augment": lambda data: st.sampled_from([None, flip_features]),
}


class EpochCounter(Callback):
    """A callback of the user's: counts the epochs it saw."""

    def __init__(self, epochs=0):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def flip_features(X):
    """An augmentation: each sample's values in reverse order along the last axis (sparse batches as they are)."""
    return X.flip(-1) if X.layout == torch.strided else X


def _instance(Estimator):
    return Estimator(MLP) if Estimator in (TorchClassifier, TorchRegressor) else Estimator()


def _values(Estimator, name, data):
    """The values of one parameter: its own, or those of its constraints."""
    if name in OWN_VALUES:
        return OWN_VALUES[name](data)
    return st.one_of([_from_constraint(name, constraint) for constraint in Estimator._parameter_constraints[name]])


def parameter_values(Estimator, name, data):
    """The values of one parameter, its default half of the time (an example changes a few defaults)."""
    if name in UNDRAWN_DEFAULTS:
        return _values(Estimator, name, data)
    return st.one_of(st.just(_instance(Estimator).get_params()[name]), _values(Estimator, name, data))


def parameters(Estimator, data):
    """Every parameter of ``Estimator``, drawn; for the MLPs, a third of the time as scikit-learn's MLP has them."""
    drawn = {name: parameter_values(Estimator, name, data) for name in sorted(Estimator._parameter_constraints)}
    if Estimator not in SCIKIT_LEARNS:
        return st.fixed_dictionaries(drawn)
    theirs = {**drawn, **{name: st.sampled_from(values) for name, values in AS_SCIKIT_LEARN.items() if name in drawn}}
    return st.one_of(st.fixed_dictionaries(drawn), st.fixed_dictionaries(drawn), st.fixed_dictionaries(theirs))


def redrawn(Estimator, data):
    """A ``set_params`` between calls: one or two parameters drawn again."""
    names = st.lists(st.sampled_from(sorted(Estimator._parameter_constraints)), min_size=1, max_size=2, unique=True)
    return names.flatmap(lambda chosen: st.fixed_dictionaries(
        {name: parameter_values(Estimator, name, data) for name in chosen}))


# -- data -----------------------------------------------------------------------------------------------------------


class Dataset:
    """Training data of one example, and what parameters may refer to.

    Parameters
    ----------
    X, y, sample_weight
        As ``fit`` takes them.
    sample_shapes : list of tuple
        Shapes that a sample of X may be given as (``input_shape``).
    labels : ndarray or None
        Every label of a classification (the label indices of a multilabel one).
    """

    def __init__(self, X, y, sample_weight, sample_shapes, labels=None):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.sample_shapes = sample_shapes
        self.labels = labels
        self.frame = isinstance(X, pd.DataFrame)
        self.columns = list(X.columns) if self.frame else list(range(int(np.prod(X.shape[1:]))))
        self.n_outputs = y.shape[1] if y.ndim == 2 else 1

    def rows(self, index):
        """The data of the rows ``index``."""
        X = self.X.iloc[index] if self.frame else self.X[index]
        weight = None if self.sample_weight is None else self.sample_weight[index]
        return X, self.y[index], weight


def _signal_shapes(n_features):
    """``input_shape`` values for flat rows of ``n_features`` values: (C, L), (L, C) and one that does not fit."""
    return [(1, n_features), (n_features, 1), (2, n_features // 2 + 1)]


def _features(rng, n_samples, n_features, kind, scale):
    """Unscaled integers, or normal values of the float ``kind`` times ``scale``."""
    if kind == "int":
        return rng.randint(0, int(10 * scale) + 1, size=(n_samples, n_features))
    return (rng.normal(size=(n_samples, n_features)) * scale).astype(kind)


def _container(rng, X, container):
    """X in ``container``: an array, a sparse matrix, a DataFrame, or one with categorical columns."""
    if container in ("csr", "csc"):
        X = np.where(rng.uniform(size=X.shape) < 0.6, 0, X)
        return sp.csr_matrix(X) if container == "csr" else sp.csc_matrix(X)
    if container == "array":
        return X
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    if container == "categorical frame":
        for column in rng.choice(frame.columns, size=rng.randint(1, X.shape[1] + 1), replace=False):
            categories = ["a", "b", "c", "d"][: rng.randint(1, 5)] if rng.uniform() < 0.7 else [1, 2, 3]
            frame[column] = pd.Categorical(rng.choice(categories, size=len(frame)))
    return frame


def _targets(rng, n_samples, target, n_outputs, scale):
    """Regression values or counts, 0/1 label columns, or one of ``n_outputs`` labels (ints or strings)."""
    if target == "regression":
        y = rng.normal(size=(n_samples, n_outputs)) * scale
        return y[:, 0] if n_outputs == 1 else y
    if target == "counts":
        y = rng.poisson(scale, size=(n_samples, n_outputs)).astype(float)
        return y[:, 0] if n_outputs == 1 else y
    if target == "multilabel":
        return rng.randint(0, 2, size=(n_samples, n_outputs))
    labels = np.array(["ant", "bee", "cat", "dog", "eel", "fox", "gnu"][:n_outputs]) if target == "strings" \
        else np.arange(n_outputs) * 3 - 2
    return rng.choice(labels, size=n_samples)


def _sample_weight(rng, n_samples, kind):
    """None, or weights of ``kind``: zeros among them, all of them, or all but one."""
    if kind == "none":
        return None
    weight = {"ones": np.ones(n_samples), "uniform": rng.uniform(0, 2, n_samples),
              "integers": rng.randint(0, 4, n_samples).astype(float), "zeros": np.zeros(n_samples)}.get(kind)
    if weight is None:  # "all but one zero"
        weight = np.zeros(n_samples)
        weight[rng.randint(n_samples)] = rng.uniform(0.1, 3)
    return weight


@st.composite
def datasets(draw, Estimator):
    """Training data for ``Estimator``: shapes, dtypes, containers, targets and sample weights."""
    n_samples = draw(st.one_of(st.integers(1, 12), st.integers(13, 300)))
    n_features = draw(st.integers(1, 20))
    kind = draw(st.sampled_from(["int", "float32", "float64"]))
    scale = draw(st.sampled_from([1.0, 1.0, 100.0, 1e4]))
    convolutional = Estimator in (CNNClassifier, CNNRegressor)
    containers = ["array"] * 3 + ["frame", "categorical frame", "categorical frame", "csr", "csc"] + (
        ["images"] * 3 if convolutional else [])
    container = draw(st.sampled_from(containers))
    if issubclass(Estimator, ClassifierMixin):
        target = draw(st.sampled_from(["integers", "strings", "multilabel"]))
        n_outputs = draw(st.integers(2, 4) if target == "multilabel" else st.integers(1, 7))
    else:
        target = draw(st.sampled_from(["regression", "counts"]))
        n_outputs = draw(st.integers(1, 3))
    y_scale = draw(st.sampled_from([1.0, 1.0, 1e3]))
    weights = draw(st.sampled_from(["none"] * 4 + ["ones", "uniform", "uniform", "integers", "zeros",
                                                   "all but one zero"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.RandomState(seed)
    description = (f"{n_samples} x {n_features} {kind} {container} (scale {scale:g}), {target} y "
                   f"({n_outputs} outputs, scale {y_scale:g}), sample_weight {weights}, seed {seed}")
    note(f"data: {description}")
    if container == "images":
        shape = draw(st.sampled_from([(4, 4), (1, 3, 5), (2, 4, 4), (3, 2)]))
        X = _features(rng, n_samples, int(np.prod(shape)), kind, scale).reshape(n_samples, *shape)
        shapes = [None, shape]
    else:
        X = _container(rng, _features(rng, n_samples, n_features, kind, scale), container)
        shapes = _signal_shapes(n_features)
    y = _targets(rng, n_samples, target, n_outputs, y_scale)
    labels = {"regression": None, "counts": None, "multilabel": np.arange(n_outputs)}.get(target, np.unique(y))
    return Dataset(X, y, _sample_weight(rng, n_samples, weights), shapes, labels)


# -- the property ---------------------------------------------------------------------------------------------------


def check_error(error, estimator):
    """An error of a call must be skdeep's or scikit-learn's ValueError or TypeError, naming what to change."""
    origin = traceback.extract_tb(error.__traceback__)[-1].filename
    assert isinstance(error, (ValueError, TypeError)), f"{type(error).__name__} raised: {error}"
    assert _OWN_ERRORS.search(origin), f"an error raised in {origin}: {error}"
    message = str(error)
    names = [name for name in estimator.get_params(deep=False) if re.search(rf"\b{name}\b", message)]
    assert names or _DATA_WORDS.search(message), f"the error names no parameter and no data: {message}"


def expected_dtype(X, estimator):
    """The float dtype of predictions: X's (integers become float32), its numeric columns' beside categorical ones."""
    categorical = getattr(estimator, "is_categorical_", None)
    if categorical is not None:
        numeric = X.iloc[:, ~categorical] if isinstance(X, pd.DataFrame) else np.asarray(X)[:, ~categorical]
        return check_array(numeric, dtype=FLOATS).dtype if numeric.shape[1] else np.dtype(np.float64)
    rows = X.reshape(X.shape[0], -1) if isinstance(X, np.ndarray) else X  # (images are flattened)
    return check_array(rows, dtype=FLOATS, accept_sparse=True).dtype


def _multilabel(classifier):
    return classifier.n_outputs_ > 1 and classifier.out_activation_ == "logistic"


def check_predictions(estimator, X):
    """Predictions for X: finite, of the right shape and dtype. Returns them."""
    prediction = estimator.predict(X)
    n_samples = X.shape[0]
    if is_classifier(estimator):
        if _multilabel(estimator):
            assert prediction.shape == (n_samples, estimator.n_outputs_)
            assert set(np.unique(prediction)) <= {0, 1}
        else:
            assert prediction.shape == (n_samples,) and np.isin(prediction, estimator.classes_).all()
            assert prediction.dtype == estimator.classes_.dtype
        return prediction
    assert prediction.shape == ((n_samples,) if estimator.n_outputs_ == 1 else (n_samples, estimator.n_outputs_))
    assert prediction.dtype == expected_dtype(X, estimator), (prediction.dtype, expected_dtype(X, estimator))
    assert np.isfinite(prediction).all(), "predict returned non-finite values"
    return prediction


def check_probabilities(estimator, X):
    """Probabilities for X: in [0, 1], of the right shape and dtype, summing to 1 but for multilabel ones."""
    proba = estimator.predict_proba(X)
    multilabel = _multilabel(estimator)
    n_columns = estimator.n_outputs_ if multilabel else len(estimator.classes_)
    assert proba.shape == (X.shape[0], n_columns) and proba.dtype == expected_dtype(X, estimator)
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    if not multilabel:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-4)


def scikit_learns(estimator, X):
    """scikit-learn's MLP with ``estimator``'s parameters, or None where they have no equivalent there."""
    Theirs = SCIKIT_LEARNS.get(type(estimator))
    params = estimator.get_params()
    if Theirs is None or any(params.get(name, values[0]) not in values for name, values in AS_SCIKIT_LEARN.items()):
        return None
    dtypes = set(X.dtypes) if isinstance(X, pd.DataFrame) else {X.dtype}
    if params["precision"] == "float32" and dtypes != {np.dtype(np.float32)}:
        return None  # scikit-learn trains other X in float64
    theirs = Theirs(**{name: params[name] for name in Theirs().get_params()})
    try:
        theirs._validate_params()
    except ValueError:  # (solvers, activations and schedules of skdeep's own)
        return None
    return theirs


def check_scikit_learn_refuses(estimator, error, how, X, y, weight, classes):
    """A first training call that skdeep refuses, scikit-learn's MLP must refuse too, or end with a loss that is
    not finite: a divergence aside."""
    theirs = scikit_learns(estimator, X)
    if theirs is None or DIVERGED in str(error):
        return
    event("a refusal compared with scikit-learn's")
    try:
        getattr(theirs, how)(X, y, sample_weight=weight, **classes)
    except Exception:
        return
    assert not np.isfinite(theirs.loss_), f"scikit-learn's {how} works where skdeep refuses: {error}"


class Calls:
    """The calls of one example on one estimator, and the predictions its model must keep."""

    def __init__(self, Estimator, params, data, workdir):
        self.data, self.workdir = data, workdir
        self.estimator = Estimator(**self._params(params))
        self.reference = None  # the fitted model's predictions on the whole X, once known

    def _params(self, params):
        """``params`` with the checkpoint file in the example's own folder."""
        return {name: os.path.join(self.workdir, value) if value is CHECKPOINT else value
                for name, value in params.items()}

    def _predictions(self):
        """The fitted model's predictions on the whole X, or None where it refuses some rows.

        Rows it did not train on may be beyond its range; parameters set since may reshape the samples.
        """
        if self.reference is None:
            try:
                self.reference = check_predictions(self.estimator, self.data.X)
            except (ValueError, TypeError) as error:
                check_error(error, self.estimator)
        return self.reference

    def _classes(self):
        """What the first partial_fit of a classifier must be told: every label."""
        if not is_classifier(self.estimator) or self.estimator.__sklearn_is_fitted__():
            return {}
        return {"classes": self.data.labels}

    def train(self, how, rows):
        """A training call ("fit", "warm fit" or "partial_fit") on the rows ``rows``, and what it must leave."""
        estimator = self.estimator
        if how == "partial_fit" and not hasattr(estimator, "partial_fit"):
            return
        fitted = estimator.__sklearn_is_fitted__()
        before, classes = self._predictions() if fitted else None, self._classes()
        X, y, weight = self.data.rows(rows)
        try:
            if how == "partial_fit":
                estimator.partial_fit(X, y, sample_weight=weight, **classes)
            else:
                estimator.set_params(warm_start=how == "warm fit" or estimator.warm_start)
                estimator.fit(X, y, sample_weight=weight)
        except Exception as error:
            event(f"{how}: {type(error).__name__}: {str(error)[:60]}")
            check_error(error, estimator)
            if not fitted:
                with pytest.raises(NotFittedError):
                    check_is_fitted(estimator)
                check_scikit_learn_refuses(estimator, error, how, X, y, weight, classes)
            elif before is not None:
                np.testing.assert_array_equal(estimator.predict(self.data.X), before)
            return
        event(f"{how}: trained")
        # a loss that diverged with early stopping warns (and the best epoch's weights are kept)
        assert np.isfinite(estimator.loss_) or getattr(estimator, "validation_scores_", None), estimator.loss_
        check_predictions(estimator, X)  # the rows it trained on; the others may be beyond its range
        self.reference = None
        self._predictions()

    def predict(self, method):
        """A call of ``method`` ("predict", "predict_proba" or "score") on the whole X."""
        estimator = self.estimator
        if not estimator.__sklearn_is_fitted__():
            with pytest.raises(NotFittedError):
                getattr(estimator, method)(self.data.X, *([self.data.y] if method == "score" else []))
            return
        if method == "predict":
            if self.reference is None:
                self._predictions()
            else:
                np.testing.assert_array_equal(check_predictions(estimator, self.data.X), self.reference)
            return
        try:
            if method == "predict_proba":
                check_probabilities(estimator, self.data.X)
            else:
                score = estimator.score(self.data.X, self.data.y, sample_weight=self.data.sample_weight)
                assert np.isfinite(score) or self.data.X.shape[0] < 2, f"score {score}"
        except (ValueError, TypeError) as error:
            check_error(error, estimator)
            assert method == "score" or self.reference is None, "the model predicted these rows before"

    def set_params(self, params):
        """``set_params`` between calls: the model stays, its predictions may change (the shape of its samples)."""
        self.estimator.set_params(**self._params(params))
        self.reference = None

    def pickle(self):
        """A pickle round trip: the model predicts as before."""
        self.estimator = pickle.loads(pickle.dumps(self.estimator))
        if self.reference is not None:
            np.testing.assert_array_equal(self.estimator.predict(self.data.X), self.reference)

    def clone(self):
        """A clone, unfitted, goes on in its place."""
        self.estimator = clone(self.estimator)
        self.reference = None
        with pytest.raises(NotFittedError):
            check_is_fitted(self.estimator)


def call_sequences(Estimator, data):
    """A first training call, then up to four calls of any kind."""
    n_samples = data.X.shape[0]
    rows = st.one_of(st.just(slice(None)), st.lists(st.integers(0, n_samples - 1), min_size=1, max_size=n_samples)
                     .map(np.array))
    training = st.tuples(st.sampled_from(["fit", "fit", "warm fit", "partial_fit"]), rows)
    other = st.one_of(
        training,
        st.tuples(st.sampled_from(["predict", "predict_proba", "score"] if issubclass(Estimator, ClassifierMixin)
                                  else ["predict", "score"])),
        st.tuples(st.just("set_params"), redrawn(Estimator, data)),
        st.tuples(st.sampled_from(["pickle", "clone"])),
    )
    first = st.tuples(st.sampled_from(["fit", "fit", "partial_fit"]), st.just(slice(None)))
    return st.tuples(first, st.lists(other, max_size=4)).map(lambda calls: [calls[0], *calls[1]])


def run(calls, sequence):
    """Make the calls of ``sequence``, one example's, on ``calls``."""
    for call in sequence:
        note(f"call: {call[0]}{'' if len(call) == 1 else f' {call[1]!r}'}")
        kind = call[0]
        if kind in ("fit", "warm fit", "partial_fit"):
            calls.train(kind, call[1])
        elif kind in ("predict", "predict_proba", "score"):
            calls.predict(kind)
        elif kind == "set_params":
            calls.set_params(call[1])
        else:
            getattr(calls, kind)()


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda Estimator: Estimator.__name__)
@settings(PROFILE)
@given(example=st.data())
def test_every_call_works_or_says_why(Estimator, example):
    data = example.draw(datasets(Estimator))
    params = example.draw(parameters(Estimator, data))
    note(f"parameters: {params}")
    sequence = example.draw(call_sequences(Estimator, data))
    with tempfile.TemporaryDirectory() as workdir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(Calls(Estimator, params, data, workdir), sequence)


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda Estimator: Estimator.__name__)
def test_every_parameter_is_drawn(Estimator):
    # a new parameter must come with values: from its constraints, or its own
    data = Dataset(np.zeros((4, 2)), np.array([0, 1, 0, 1]), None, [(1, 2)], labels=np.array([0, 1]))
    for name in Estimator._parameter_constraints:
        parameter_values(Estimator, name, data)
    assert set(Estimator._parameter_constraints) == set(_instance(Estimator).get_params())
