"""Multi-layer perceptrons: drop-in upgrades of scikit-learn's MLPs."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from skdeep._base import store_parameters
from skdeep._categorical import CategoricalEmbeddingMixin
from skdeep._docs import fill_doc
from skdeep._tasks import NeuralClassifierBase, NeuralRegressorBase
from skdeep.modules import MLP, EmbeddingMLP

_TABULAR_CONSTRAINTS = {
    "categorical_features": [None, StrOptions({"from_dtype"}), "array-like"],
    "embedding_dims": [None, Interval(Integral, 1, None, closed="left"), dict],
}


class _MLPArchitecture(CategoricalEmbeddingMixin):
    """Builds the :class:`skdeep.modules.MLP` (or its embedding variant) of an estimator's parameters."""

    def _build_module(self, n_features, n_outputs, device):
        layers = dict(
            hidden_layer_sizes=as_layer_sizes(self.hidden_layer_sizes),
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
        )
        if getattr(self, "is_categorical_", None) is None:
            return MLP(n_features, n_outputs, **layers)
        return EmbeddingMLP(int(np.sum(~self.is_categorical_)), self._embedding_dims(), n_outputs, **layers)


def as_layer_sizes(sizes):
    """Layer widths as a tuple of positive ints (an int is one layer)."""
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    widths = tuple(int(size) for size in sizes)
    if any(width <= 0 for width in widths):
        raise ValueError(f"Layer sizes must be > 0, got {list(sizes)}.")
    return widths


@fill_doc
class MLPClassifier(_MLPArchitecture, NeuralClassifierBase):
    """Multi-layer perceptron classifier, trained with PyTorch through skorch.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    the same parameters, defaults, fitted attributes and convergence rules,
    plus modern activations and optimizers, dropout, batch normalisation, L1,
    class weights, learning-rate schedules and GPU training.

    Parameters
    ----------
    {architecture_parameters}

    {training_parameters}

    {tabular_parameters}

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, multiplied with ``sample_weight``:
        ``{label: weight}``, or ``"balanced"`` for weights inversely
        proportional to the class frequencies of ``y``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (the label indices ``0 .. n_labels - 1`` for multilabel
        targets).

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

    _parameter_constraints: dict = {**NeuralClassifierBase._parameter_constraints, **_TABULAR_CONSTRAINTS}

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
    loss : {"squared_error", "poisson"}, default="squared_error"
        Loss to minimise. ``"poisson"`` predicts ``exp(output)`` and needs
        non-negative targets.

    {architecture_parameters}

    {training_parameters}

    {tabular_parameters}

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

    _parameter_constraints: dict = {**NeuralRegressorBase._parameter_constraints, **_TABULAR_CONSTRAINTS}

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
    ):
        store_parameters(self, locals())
