"""ONNX export through skl2onnx: onnxruntime predicts as the estimators do."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdeep import CNNClassifier, CNNRegressor, MLPClassifier, MLPRegressor
from skdeep.modules import ACTIVATIONS

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
from skl2onnx import to_onnx  # noqa: E402

import skdeep.onnx  # noqa: E402


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X.astype(np.float32), np.array(["setosa", "versicolor", "virginica"])[y]


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def digit_images():
    digits = load_digits()
    return (digits.images[:300, None] / 16.0).astype(np.float32), digits.target[:300]


def run(onx, X):
    """The outputs of onnxruntime on X (an array, or a dict of named inputs)."""
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, X if isinstance(X, dict) else {session.get_inputs()[0].name: X})


def assert_classifier_exported(model, X, atol=1e-4):
    label, probabilities = run(to_onnx(model, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=atol)
    assert probabilities.dtype == X.dtype


def assert_regressor_exported(model, X):
    (prediction,) = run(to_onnx(model, X[:1]), X)
    np.testing.assert_allclose(prediction, model.predict(X).reshape(len(X), -1), atol=1e-4)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_multiclass_pipeline_with_string_labels(iris, activation):
    X, y = iris
    model = make_pipeline(StandardScaler(), MLPClassifier(
        (8, 8), activation, max_iter=20, batch_norm=True, dropout=0.2, random_state=0)).fit(X, y)
    assert_classifier_exported(model, X)


@pytest.mark.parametrize("labels", [np.array([3, 7]), np.array(["benign", "malignant"])], ids=["ints", "strings"])
def test_binary(cancer, labels):
    X, y = cancer
    model = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=20, random_state=0)).fit(X, labels[y])
    assert_classifier_exported(model, X)


def test_multilabel(cancer):
    X, y = cancer
    Y = np.stack([y, X[:, 0] > 14, X[:, 1] > 20], axis=1).astype(int)
    model = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=20, random_state=0)).fit(X, Y)
    label, probabilities = run(to_onnx(model, X[:1], options={"zipmap": False}), X)
    assert label.shape == Y.shape
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_mlp_regressor(loss):
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    model = make_pipeline(StandardScaler(), MLPRegressor(
        loss, (16,), max_iter=20, batch_norm=True, dropout=0.1, random_state=0)).fit(X, y / 100)
    assert_regressor_exported(model, X)


def test_multi_output_regressor(iris):
    X, _ = iris
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, X[:, :2] * X[:, 2:])
    assert_regressor_exported(model, X)


def test_cnn_classifier_on_images(digit_images):
    images, y = digit_images  # (n, 1, 8, 8): the graph takes images as the estimator does
    model = CNNClassifier((4, 4), hidden_layer_sizes=(8,), max_iter=2, batch_norm=True, dropout=0.2,
                          random_state=0).fit(images, y)
    assert_classifier_exported(model, images)


def test_cnn_regressor_on_scaled_channels_last_rows(digit_images):
    images, y = digit_images
    rows = images.reshape(len(images), -1)
    cnn = CNNRegressor((4,), kernel_size=2, pool_size=3, hidden_layer_sizes=(8,), input_shape=(8, 8, 1),
                       data_format="channels_last", activation="gelu", max_iter=3, random_state=0)
    assert_regressor_exported(make_pipeline(StandardScaler(), cnn).fit(rows, y.astype(float)), rows)


def test_cnn_on_signals(digit_images):
    images, y = digit_images
    rows = images.reshape(len(images), -1)  # flat rows: one-channel 1-D signals (Conv1d, MaxPool1d)
    model = CNNClassifier((4,), kernel_size=4, hidden_layer_sizes=(8,), batch_norm=True, max_iter=3,
                          random_state=0).fit(rows, y % 2)
    assert_classifier_exported(model, rows)


@pytest.fixture(scope="module")
def iris_classifier(iris):
    X, y = iris
    return MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)


def test_zipmap(iris, iris_classifier):
    X, _ = iris
    label, probabilities = run(to_onnx(iris_classifier, X[:1]), X)
    np.testing.assert_array_equal(label, iris_classifier.predict(X))
    assert list(probabilities[0]) == list(iris_classifier.classes_)
    as_array = [[row[name] for name in iris_classifier.classes_] for row in probabilities]
    np.testing.assert_allclose(as_array, iris_classifier.predict_proba(X), atol=1e-4)

    _, *columns = run(to_onnx(iris_classifier, X[:1], options={"zipmap": "columns"}), X)
    np.testing.assert_allclose(np.stack(columns, axis=1), iris_classifier.predict_proba(X), atol=1e-4)


def test_class_label_options(iris, iris_classifier):
    X, _ = iris
    index, _ = run(to_onnx(iris_classifier, X[:1], options={"zipmap": False, "nocl": True}), X)
    np.testing.assert_array_equal(iris_classifier.classes_[index], iris_classifier.predict(X))
    *_, classes = run(to_onnx(iris_classifier, X[:1], options={"zipmap": False, "output_class_labels": True}), X)
    np.testing.assert_array_equal(classes, iris_classifier.classes_)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_double_input(iris, precision):
    X, y = iris
    X = X.astype(np.float64)
    model = MLPClassifier((8,), max_iter=20, precision=precision, random_state=0).fit(X, y)
    assert_classifier_exported(model, X, atol=1e-4 if precision == "float32" else 1e-12)


def test_column_transformer(iris):
    X, y = iris
    X = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(size=np.where(X[:, 2] > 4, "large", "small"))
    encode = ColumnTransformer([("scale", StandardScaler(), ["a", "b", "c", "d"]),
                                ("encode", OneHotEncoder(), ["size"])])
    model = make_pipeline(encode, MLPClassifier((8,), max_iter=20, random_state=0)).fit(X, y)
    inputs = {name: X[[name]].to_numpy() for name in X.columns}
    label, probabilities = run(to_onnx(model, X[:1], options={"zipmap": False}), inputs)
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-4)


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_network(iris):
    X, _ = iris
    model = MLPClassifier((8,), max_iter=20, random_state=0).fit(*iris)
    expected = model.predict_proba(X)
    model.net_.module_ = torch.compile(model.module_)  # as compile=True leaves it (compiled at the first call)
    _, probabilities = run(to_onnx(model, X[:1], options={"zipmap": False}), X)
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)


def test_categorical_embeddings_are_refused(iris):
    X, y = iris
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"]).assign(kind=pd.Categorical(np.arange(len(X)) % 3))
    model = MLPClassifier((8,), max_iter=2, categorical_features="from_dtype", random_state=0).fit(frame, y)
    with pytest.raises(NotImplementedError, match="categorical_features"):
        to_onnx(model, frame[:1])


def test_single_class_is_refused(iris):
    X, _ = iris
    model = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(NotImplementedError, match="single class"):
        to_onnx(model, X[:1])


def test_unknown_layer_is_named(iris):
    X, y = iris
    model = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    model.module_.layers[1] = torch.nn.Softplus()
    with pytest.raises(NotImplementedError, match="layer Softplus"):
        to_onnx(model, X[:1])


def test_import_skdeep_does_not_import_skl2onnx():
    script = "import sys, skdeep; print('skl2onnx' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_registration_is_repeatable(iris, iris_classifier):
    X, _ = iris
    skdeep.onnx.register_converters()
    assert_classifier_exported(iris_classifier, X)
