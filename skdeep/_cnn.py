"""Convolutional networks for images and 1-D signals."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from skdeep._base import store_parameters
from skdeep._docs import CNN_HEAD_PARAMETERS, fill_doc
from skdeep._mlp import DENSE_CONSTRAINTS, as_layer_sizes
from skdeep._tasks import NeuralClassifierBase, NeuralRegressorBase
from skdeep.modules import CNN

_CNN_CONSTRAINTS = {
    **DENSE_CONSTRAINTS,
    "conv_filters": ["array-like"],
    "kernel_size": [Interval(Integral, 1, None, closed="left"), tuple],
    "pool_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
    "input_shape": [tuple, list, None],
    "data_format": [StrOptions({"channels_first", "channels_last"})],
    "memory_format": [StrOptions({"auto", "channels_last", "contiguous"})],
    "augment": [callable, None],
}


class _CNNArchitecture:
    """Builds the :class:`skdeep.modules.CNN` of an estimator's parameters."""

    #: the dense head's parameters mean less than the MLPs' (see skdeep._docs.fill_doc)
    _parameter_docs = CNN_HEAD_PARAMETERS

    def _module_input_shape(self):
        """Shape of one sample in the batches the module gets: as the fit read it from the parameters.

        ``input_shape`` and ``data_format`` take effect at the next fit, as
        every parameter does; a model saved before the fitted shape was kept
        reads them.
        """
        fitted = getattr(self, "_module_input_shape_", None)
        return self._input_shape_of_parameters() if fitted is None else tuple(fitted)

    def _input_shape_of_parameters(self):
        """The shape of one sample that ``input_shape`` and ``data_format`` give, checked against X's at fit."""
        channels_last = self.data_format == "channels_last"
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) not in (2, 3) or not all(
                    isinstance(side, Integral) and not isinstance(side, bool) and side > 0 for side in shape):
                raise ValueError(
                    "The 'input_shape' parameter must be the shape of one sample, 2 or 3 positive integers: "
                    f"(C, L) or (C, H, W) ((L, C) or (H, W, C) with data_format='channels_last'); got {shape!r}."
                )
            shape = tuple(int(side) for side in shape)
            seen = tuple(self.input_shape_)
            if len(seen) > 1 and seen != shape:  # samples with a shape of their own are not re-read
                raise ValueError(
                    f"X has samples of shape {seen}, but input_shape={shape}: give input_shape={seen} "
                    "(with data_format saying where the channels are), or input_shape=None."
                )
            if int(np.prod(shape)) != self.n_features_in_:
                raise ValueError(
                    f"X has samples of shape {tuple(self.input_shape_)} "
                    f"({self.n_features_in_} values), which cannot be reshaped to "
                    f"input_shape={shape} ({int(np.prod(shape))} values)."
                )
            return shape
        seen = tuple(self.input_shape_)
        if len(seen) > 3:
            raise ValueError(
                f"{type(self).__name__} takes images (n, C, H, W) or (n, H, W), signals (n, C, L) with "
                f"input_shape, or flat rows; X has {len(seen) + 1} dimensions (samples of shape {seen})."
            )
        if len(seen) == 3:
            return seen
        # flat rows are one-channel 1-D signals, 2-D samples one-channel images
        return seen + (1,) if channels_last else (1,) + seen

    def _build_module(self, n_features, n_outputs, device, random_state):
        input_shape = self._module_input_shape_ = self._input_shape_of_parameters()
        n_dims = len(input_shape) - 1  # spatial dimensions
        return CNN(
            input_shape,
            n_outputs,
            conv_filters=as_layer_sizes(self.conv_filters, "conv_filters"),
            kernel_size=_window(self.kernel_size, "kernel_size", n_dims),
            pool_size=None if self.pool_size is None else _window(self.pool_size, "pool_size", n_dims),
            hidden_layer_sizes=as_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"),
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            channels_last=self.data_format == "channels_last",
            memory_format=self._memory_format(device),
        )

    def _memory_format(self, device):
        if self.solver == "lbfgs":  # it flattens parameters and gradients with view(-1)
            return "contiguous"
        if self.memory_format == "auto":
            # measured faster on CPUs; on GPUs not yet measured (and fused CUDA optimizers
            # are strict about gradient strides), so they keep torch's default
            return "channels_last" if device.type == "cpu" else "contiguous"
        return self.memory_format


def _window(size, parameter, n_dims):
    """A convolution or pooling window: an int, or one positive int per spatial dimension."""
    sides = tuple(size) if isinstance(size, (tuple, list)) else (size,)
    valid = all(isinstance(side, Integral) and not isinstance(side, bool) and side > 0 for side in sides)
    if not valid or len(sides) not in (1, n_dims):
        what = "signals (1 spatial dimension)" if n_dims == 1 else "images (2 spatial dimensions)"
        raise ValueError(f"The {parameter!r} parameter must be a positive integer or a tuple of {n_dims} for "
                         f"{what}; got {size!r}.")
    return sides[0] if len(sides) == 1 else sides


@fill_doc
class CNNClassifier(_CNNArchitecture, NeuralClassifierBase):
    """Convolutional neural network classifier for images and 1-D signals.

    Convolutional blocks, then a dense head, trained with the same solvers,
    schedules, regularisation, early stopping and devices as
    :class:`MLPClassifier`. It takes images ``(n, C, H, W)`` and ``(n, H, W)``,
    signals ``(n, C, L)`` and flat rows that ``input_shape`` reshapes, so it
    works behind scikit-learn transformers and on DataFrames of pixel columns.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels. A ``y`` with a single class is accepted, as in
        scikit-learn: ``predict`` then returns that class.

    {fitted_attributes}

    See Also
    --------
    CNNRegressor : The regressor with the same network.
    MLPClassifier : A dense network.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdeep import CNNClassifier
    >>> digits = load_digits()
    >>> images = digits.images[:500, None] / 16.0  # (500, 1, 8, 8)
    >>> clf = CNNClassifier(conv_filters=(16,), max_iter=20, random_state=0)
    >>> clf = clf.fit(images, digits.target[:500])
    >>> clf.predict(images[:3])
    array([0, 1, 2])
    """

    _parameter_constraints: dict = {**NeuralClassifierBase._parameter_constraints, **_CNN_CONSTRAINTS}

    def __init__(
        self,
        conv_filters=(32, 64),
        kernel_size=3,
        pool_size=2,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        input_shape=None,
        data_format="channels_first",
        memory_format="auto",
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
        class_weight=None,
        device="auto",
        precision="float32",
        compile=False,
        cuda_graph="auto",
        checkpoint=None,
        checkpoint_every=1,
        callbacks=None,
        optimizer=None,
        augment=None,
        **routed_params,
    ):
        store_parameters(self, locals())


@fill_doc
class CNNRegressor(_CNNArchitecture, NeuralRegressorBase):
    """Convolutional neural network regressor for images and 1-D signals.

    Convolutional blocks, then a dense head, trained with the same solvers,
    schedules, regularisation, early stopping and devices as
    :class:`MLPRegressor`, on the inputs :class:`CNNClassifier` takes.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    CNNClassifier : The classifier with the same network.
    MLPRegressor : A dense network.

    Examples
    --------
    >>> import numpy as np
    >>> from skdeep import CNNRegressor
    >>> t = np.linspace(0, 1, 64)
    >>> frequencies = np.random.RandomState(0).uniform(1, 5, size=300)
    >>> signals = np.sin(2 * np.pi * frequencies[:, None] * t)  # flat rows: 1-D signals
    >>> reg = CNNRegressor(conv_filters=(8, 16), max_iter=50, random_state=0)
    >>> reg = reg.fit(signals, frequencies)
    >>> reg.predict(signals[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {**NeuralRegressorBase._parameter_constraints, **_CNN_CONSTRAINTS}

    def __init__(
        self,
        conv_filters=(32, 64),
        kernel_size=3,
        pool_size=2,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        input_shape=None,
        data_format="channels_first",
        memory_format="auto",
        loss="squared_error",
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
        device="auto",
        precision="float32",
        compile=False,
        cuda_graph="auto",
        checkpoint=None,
        checkpoint_every=1,
        callbacks=None,
        optimizer=None,
        augment=None,
        **routed_params,
    ):
        store_parameters(self, locals())
