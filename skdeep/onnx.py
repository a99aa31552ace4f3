"""ONNX export of skdeep's estimators, through skl2onnx.

Importing this module registers converters for :class:`~skdeep.MLPClassifier`,
:class:`~skdeep.MLPRegressor`, :class:`~skdeep.CNNClassifier` and
:class:`~skdeep.CNNRegressor` with `skl2onnx <https://onnx.ai/sklearn-onnx/>`_,
whose :func:`skl2onnx.to_onnx` then converts these estimators, alone or at the
end of a pipeline, as it converts scikit-learn's own::

    import skdeep.onnx  # registers the converters
    from skl2onnx import to_onnx

    onx = to_onnx(pipeline, X[:1].astype(np.float32))

The graph holds the whole prediction: the network, layer by layer, its output
non-linearity and the class labels. A classifier has the outputs of
scikit-learn's classifiers, ``label`` and ``probabilities`` (a list of
dictionaries unless the option ``{"zipmap": False}`` is given); a regressor
has ``variable``, of shape ``(n_samples, n_outputs)``.

Registration is explicit, as in :mod:`sklearn.experimental`: ``import
skdeep`` never imports skl2onnx (which adds about 0.4 s to a cold start), and
registering only when skl2onnx happened to be imported first would make a
conversion succeed or fail with the order of the imports. Importing this
module works in either order; :func:`register_converters` does the same for
code that prefers a call to an import kept for its side effect.
"""

import numpy as np
import torch
from torch import nn

try:
    from onnx import TensorProto
    from onnx.helper import np_dtype_to_tensor_dtype
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import Int64TensorType, guess_proto_type
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from skl2onnx.common.utils_classifier import get_label_classes
except ImportError as error:
    raise ImportError("skdeep.onnx needs onnx and skl2onnx (in skdeep's clone: "
                      f"pip install -c constraints.txt -e '.[onnx]'): {error}") from error

from skdeep._cnn import CNNClassifier, CNNRegressor
from skdeep._mlp import MLPClassifier, MLPRegressor
from skdeep.modules import CNN, MLP

__all__ = ["register_converters"]

#: the options of scikit-learn's classifiers (those of skl2onnx's MLPClassifier converter)
_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "output_class_labels": [False, True], "nocl": [True, False]}


def register_converters():
    """Register skdeep's ONNX converters with skl2onnx.

    Importing :mod:`skdeep.onnx` calls it already; calling it again is
    harmless. Afterwards :func:`skl2onnx.to_onnx` and
    :func:`skl2onnx.convert_sklearn` convert :class:`~skdeep.MLPClassifier`,
    :class:`~skdeep.MLPRegressor`, :class:`~skdeep.CNNClassifier` and
    :class:`~skdeep.CNNRegressor`, alone or inside pipelines. Classifiers take
    the options of scikit-learn's: ``zipmap`` (True, False or "columns"),
    ``nocl`` and ``output_class_labels``.

    The graph computes in the dtype of the network's weights (float32, or
    float64 for ``precision="float64"``; mixed-precision estimators are
    exported in float32) and its outputs have the float type of its input.
    Networks with categorical embeddings (``categorical_features``) are not
    converted.

    See Also
    --------
    skl2onnx.to_onnx : Convert a fitted estimator or pipeline to ONNX.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from sklearn.datasets import load_iris
    >>> from skdeep import MLPClassifier
    >>> from skdeep.onnx import register_converters
    >>> register_converters()
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, y)
    >>> onx = to_onnx(clf, X[:1], options={"zipmap": False})
    >>> session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    >>> label, probabilities = session.run(None, {"X": X})
    >>> bool((label == clf.predict(X)).all())
    True
    >>> bool(np.allclose(probabilities, clf.predict_proba(X), atol=1e-4))
    True
    """
    for classifier in (MLPClassifier, CNNClassifier):
        update_registered_converter(classifier, f"Skdeep{classifier.__name__}", _classifier_shapes,
                                    _convert_classifier, options=_CLASSIFIER_OPTIONS)
    for regressor in (MLPRegressor, CNNRegressor):
        update_registered_converter(regressor, f"Skdeep{regressor.__name__}", _regressor_shapes, _convert_regressor)


# -- shapes --------------------------------------------------------------------


def _check_convertible(model):
    if getattr(model, "is_categorical_", None) is not None:
        raise NotImplementedError(
            f"skdeep.onnx does not convert {type(model).__name__} with categorical_features (embeddings of "
            "categories): encode the categories in the pipeline instead (a OneHotEncoder in a ColumnTransformer)."
        )


def _classifier_shapes(operator):
    model = operator.raw_operator
    _check_convertible(model)
    if not model._multilabel and len(model.classes_) == 1:
        raise NotImplementedError(f"{type(model).__name__} was fitted on a single class (classes_ = "
                                  f"{model.classes_.tolist()}), which skdeep.onnx does not convert.")
    calculate_linear_classifier_output_shapes(operator)
    if model._multilabel:  # a 0/1 matrix of labels, as predict gives
        operator.outputs[0].type = Int64TensorType([operator.inputs[0].get_first_dimension(), model.n_outputs_])


def _regressor_shapes(operator):
    _check_convertible(operator.raw_operator)
    calculate_linear_regressor_output_shapes(operator)
    operator.outputs[0].type.shape = [operator.inputs[0].get_first_dimension(), operator.raw_operator.n_outputs_]


# -- converters ----------------------------------------------------------------


def _convert_classifier(scope, operator, container):
    model = operator.raw_operator
    graph = _Graph(scope, container, model)
    raw = graph.raw_scores(operator.inputs[0].full_name)
    label, probabilities = operator.outputs[:2]
    if model.out_activation_ == "softmax":
        graph.cast_output(graph.node("Softmax", raw, axis=1), probabilities)
        index = graph.node("ArgMax", raw, axis=1, keepdims=0)
    else:  # a logit per label; predict takes the labels whose logit is positive
        positive = graph.node("Greater", raw, graph.constant(0.0))
        if model._multilabel:
            graph.cast_output(graph.node("Sigmoid", raw), probabilities)
            graph.node("Cast", positive, to=TensorProto.INT64, output=label.full_name)
            return
        # [1 - p, p], the first as sigmoid(-raw), exact for small probabilities, as predict_proba computes it
        both = graph.node("Concat", graph.node("Sigmoid", graph.node("Neg", raw)), graph.node("Sigmoid", raw), axis=1)
        graph.cast_output(both, probabilities)
        index = graph.node("Reshape", graph.node("Cast", positive, to=TensorProto.INT64),
                           graph.constant([-1], np.int64))
    graph.node("Gather", _class_labels(graph, scope, model), index, axis=0, output=label.full_name)


def _class_labels(graph, scope, model):
    """The initializer of the class labels: int64 for numbers, strings otherwise (skl2onnx's label types)."""
    classes = np.asarray(get_label_classes(scope, model))  # (the indices with the option nocl)
    # (classifiers take float labels of integer values only)
    return graph.constant(classes, np.int64 if classes.dtype.kind in "biuf" else object)


def _convert_regressor(scope, operator, container):
    model = operator.raw_operator
    graph = _Graph(scope, container, model)
    raw = graph.raw_scores(operator.inputs[0].full_name)
    graph.cast_output(graph.node("Exp", raw) if model.out_activation_ == "exp" else raw, operator.outputs[0])


# -- the network, layer by layer ----------------------------------------------------

_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


class _Graph:
    """Writes an estimator's network into a skl2onnx container, in the dtype of its weights."""

    def __init__(self, scope, container, model):
        self.scope, self.container = scope, container
        self.module = getattr(model.module_, "_orig_mod", model.module_)  # (unwrapped from torch.compile)
        self.dtype = _DTYPES[next(self.module.parameters()).dtype]

    def node(self, op_type, *inputs, output=None, **attributes):
        """Add a node of ``op_type`` on ``inputs``; return the name of its output."""
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(op_type, list(inputs), output, name=self.scope.get_unique_operator_name(op_type),
                                **attributes)
        return output

    def constant(self, value, dtype=None):
        """Add an initializer holding ``value`` (an array or a tensor), in the network's dtype by default."""
        array = np.asarray(value.detach().cpu() if torch.is_tensor(value) else value, dtype=dtype or self.dtype)
        name = self.scope.get_unique_variable_name("init")
        if array.dtype == object:
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape),
                                           [str(item).encode() for item in array.ravel()])
        else:
            self.container.add_initializer(name, np_dtype_to_tensor_dtype(array.dtype), list(array.shape),
                                           array.ravel())
        return name

    def raw_scores(self, input_name):
        """The network's raw outputs for the rows of ``input_name``, of shape (n_samples, n_outputs)."""
        x = self.node("Cast", input_name, to=np_dtype_to_tensor_dtype(np.dtype(self.dtype)))
        return _convert_layer(self, self.module, x)

    def cast_output(self, name, variable):
        """Write ``name`` to an output ``variable``, in its type."""
        self.node("Cast", name, to=guess_proto_type(variable.type), output=variable.full_name)


def _convert_layer(graph, layer, x):
    """Add the nodes of ``layer`` on input ``x`` to ``graph``; return the name of the output."""
    for layer_type, convert in _CONVERTERS.items():
        if isinstance(layer, layer_type):
            return convert(graph, layer, x)
    supported = ", ".join(sorted(layer_type.__name__ for layer_type in _CONVERTERS))
    raise NotImplementedError(f"skdeep.onnx cannot convert the layer {type(layer).__name__} to ONNX; it converts "
                              f"{supported}.")


def _sequential(graph, layers, x):
    for layer in layers:
        x = _convert_layer(graph, layer, x)
    return x


def _mlp(graph, mlp, x):
    return _sequential(graph, mlp.layers, graph.node("Flatten", x, axis=1))  # samples of any shape, as MLP's


def _cnn(graph, cnn, x):
    # rows (or samples of any shape) to (n, *input_shape), 0 keeping the number of rows
    x = graph.node("Reshape", x, graph.constant([0, *cnn.input_shape], np.int64))
    if cnn.channels_last:
        n_dims = len(cnn.input_shape)
        x = graph.node("Transpose", x, perm=[0, n_dims, *range(1, n_dims)])
    return _convert_layer(graph, cnn.head, _sequential(graph, cnn.features, x))  # the head flattens


def _linear(graph, linear, x):
    return graph.node("Gemm", x, graph.constant(linear.weight), graph.constant(linear.bias), transB=1)


def _conv(graph, conv, x):
    # skdeep's convolutions pad to the "same" size, as torch does: the odd pixel at the end
    total = [dilation * (size - 1) for dilation, size in zip(conv.dilation, conv.kernel_size, strict=True)]
    pads = [side // 2 for side in total] + [side - side // 2 for side in total]
    return graph.node("Conv", x, graph.constant(conv.weight), graph.constant(conv.bias),
                      kernel_shape=list(conv.kernel_size), dilations=list(conv.dilation), pads=pads)


def _max_pool(graph, pool, x):
    return graph.node("MaxPool", x, kernel_shape=list(pool.kernel_size), strides=list(pool.stride))


def _batch_norm(graph, norm, x):
    statistics = (norm.weight, norm.bias, norm.running_mean, norm.running_var)  # as in eval mode
    return graph.node("BatchNormalization", x, *map(graph.constant, statistics), epsilon=norm.eps)


def _gelu(graph, _, x):
    # skdeep's GELU is the exact one, x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))): written out for any
    # opset (Gelu itself is opset 20)
    erf = graph.node("Erf", graph.node("Mul", x, graph.constant(np.sqrt(0.5))))
    return graph.node("Mul", graph.node("Mul", x, graph.constant(0.5)), graph.node("Add", erf, graph.constant(1.0)))


def _silu(graph, _, x):
    return graph.node("Mul", x, graph.node("Sigmoid", x))


def _identity(graph, _, x):
    return x


def _operator(op_type, **attributes):
    """A converter of a layer that is one ONNX operator, ``attributes`` functions of the layer."""
    def convert(graph, layer, x):
        return graph.node(op_type, x, **{name: value(layer) for name, value in attributes.items()})
    return convert


_CONVERTERS = {
    MLP: _mlp,
    CNN: _cnn,
    nn.Sequential: _sequential,
    nn.Linear: _linear,  # SparseLinear too: the graph's input is dense
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.MaxPool1d: _max_pool,
    nn.MaxPool2d: _max_pool,
    nn.BatchNorm1d: _batch_norm,
    nn.BatchNorm2d: _batch_norm,
    nn.Dropout: _identity,  # as in eval mode
    nn.Identity: _identity,
    nn.ReLU: _operator("Relu"),
    nn.Sigmoid: _operator("Sigmoid"),
    nn.Tanh: _operator("Tanh"),
    nn.GELU: _gelu,
    nn.SiLU: _silu,
    nn.ELU: _operator("Elu", alpha=lambda layer: layer.alpha),
    nn.LeakyReLU: _operator("LeakyRelu", alpha=lambda layer: layer.negative_slope),
    nn.SELU: _operator("Selu"),  # ONNX's default alpha and gamma are torch's constants
}

register_converters()
