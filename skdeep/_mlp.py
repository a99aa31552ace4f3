"""Multi-layer perceptrons: drop-in upgrades of scikit-learn's MLPs."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

from skdeep._base import store_parameters
from skdeep._categorical import CategoricalEmbeddingMixin
from skdeep._docs import fill_doc
from skdeep._tasks import NeuralClassifierBase, NeuralRegressorBase
from skdeep.modules import ACTIVATIONS, MLP, EmbeddingMLP

#: constraints of the dense layers' parameters, shared by the MLPs and the CNNs' dense head
DENSE_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
}

_TABULAR_CONSTRAINTS = {
    "categorical_features": [None, StrOptions({"from_dtype"}), "array-like"],
    "embedding_dims": [None, Interval(Integral, 1, None, closed="left"), dict],
}


class _MLPArchitecture(CategoricalEmbeddingMixin):
    """Builds the :class:`skdeep.modules.MLP` (or its embedding variant) of an estimator's parameters."""

    def _build_module(self, n_features, n_outputs, device, random_state):
        layers = dict(
            hidden_layer_sizes=as_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"),
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
        )
        if getattr(self, "is_categorical_", None) is None:
            module = MLP(n_features, n_outputs, **layers)
        else:
            module = EmbeddingMLP(int(np.sum(~self.is_categorical_)), self._embedding_dims(), n_outputs, **layers)
        return initialize_as_sklearn(module, self.activation, random_state)


@torch.no_grad()
def initialize_as_sklearn(module, activation, random_state):
    """Draw the dense layers' initial weights as scikit-learn's MLP does, from ``random_state``.

    scikit-learn draws each layer's weights, then its biases, uniformly in
    ``+-sqrt(factor / (fan_in + fan_out))`` (Glorot's scheme; ``factor`` is 2
    for the logistic activation, 6 otherwise), layer after layer, from the
    estimator's random state before anything else. Drawn the same way, a
    ``random_state`` gives the network scikit-learn's MLP starts from.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    for layer in (m for m in module.modules() if isinstance(m, torch.nn.Linear)):
        fan_out, fan_in = layer.weight.shape
        bound = np.sqrt(factor / (fan_in + fan_out))
        layer.weight.copy_(torch.from_numpy(random_state.uniform(-bound, bound, (fan_in, fan_out)).T))
        layer.bias.copy_(torch.from_numpy(random_state.uniform(-bound, bound, fan_out)))
    return module


def as_layer_sizes(sizes, parameter="hidden_layer_sizes"):
    """Layer widths as a tuple of positive ints (an int is one layer); ``parameter`` is named in errors."""
    widths = tuple(sizes) if hasattr(sizes, "__iter__") and not isinstance(sizes, str) else (sizes,)
    if not all(isinstance(width, Integral) and not isinstance(width, bool) and width > 0 for width in widths):
        raise ValueError(f"The {parameter!r} parameter must hold positive integers (one per layer); "
                         f"got {sizes!r}.")
    return tuple(int(width) for width in widths)


@fill_doc
class MLPClassifier(_MLPArchitecture, NeuralClassifierBase):
    """Multi-layer perceptron classifier, trained with PyTorch through skorch.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    the same parameters, defaults, fitted attributes and convergence rules,
    plus modern activations and optimizers, dropout, batch normalisation, L1,
    class weights, learning-rate schedules and GPU training.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (the label indices ``0 .. n_labels - 1`` for multilabel
        targets). A ``y`` with a single class is accepted, as in scikit-learn:
        ``predict`` then returns that class.

    {fitted_attributes}

    {tabular_attributes}

    See Also
    --------
    MLPRegressor : The regressor with the same network.
    sklearn.neural_network.MLPClassifier : scikit-learn's CPU implementation.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skdeep import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> round(clf.score(X, y), 2) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **NeuralClassifierBase._parameter_constraints, **DENSE_CONSTRAINTS, **_TABULAR_CONSTRAINTS
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        l1=0.0,
        categorical_features=None,
        embedding_dims=None,
        class_weight=None,
        device="auto",
        precision="float32",
        compile=False,
        cuda_graph="auto",
        checkpoint=None,
        checkpoint_every=1,
        callbacks=None,
        optimizer=None,
        **routed_params,
    ):
        store_parameters(self, locals())


@fill_doc
class MLPRegressor(_MLPArchitecture, NeuralRegressorBase):
    """Multi-layer perceptron regressor, trained with PyTorch through skorch.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`:
    the same parameters, defaults, fitted attributes and convergence rules,
    plus modern activations and optimizers, dropout, batch normalisation, L1,
    learning-rate schedules and GPU training. Several outputs are fitted by
    one network.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {fitted_attributes}

    {tabular_attributes}

    See Also
    --------
    MLPClassifier : The classifier with the same network.
    sklearn.neural_network.MLPRegressor : scikit-learn's CPU implementation.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skdeep import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(64,), learning_rate_init=0.01,
    ...                    max_iter=500, random_state=0).fit(X, y / 100)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> reg.score(X, y / 100) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **NeuralRegressorBase._parameter_constraints, **DENSE_CONSTRAINTS, **_TABULAR_CONSTRAINTS
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        l1=0.0,
        categorical_features=None,
        embedding_dims=None,
        device="auto",
        precision="float32",
        compile=False,
        cuda_graph="auto",
        checkpoint=None,
        checkpoint_every=1,
        callbacks=None,
        optimizer=None,
        **routed_params,
    ):
        store_parameters(self, locals())

    def _validate_params(self):
        # scikit-learn < 1.7's MLPRegressor takes hidden_layer_sizes first; 1.7's (and skdeep's) takes loss first
        if isinstance(self.loss, (Integral, tuple, list)) and not isinstance(self.loss, bool):
            raise InvalidParameterError(
                f"The 'loss' parameter of {type(self).__name__} must be "
                f"{self._parameter_constraints['loss'][0]}. Got {self.loss!r} instead, which looks like "
                f"hidden layer sizes: loss is the first positional parameter, as in scikit-learn 1.7 and later. "
                f"Pass hidden_layer_sizes={self.loss!r} by keyword."
            )
        super()._validate_params()
