"""CNNClassifier / CNNRegressor: accuracy, input layouts, shape rules."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skdeep import CNNClassifier, CNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(conv_filters=(4, 8), hidden_layer_sizes=(16,), max_iter=2, random_state=0)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.images / 16.0, data.target


def test_default_cnn_reaches_97_percent_on_digits(digits):
    images, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        images[:, None], y, test_size=0.25, stratify=y, random_state=0)
    clf = CNNClassifier(random_state=0).fit(X_train, y_train)  # default architecture
    assert clf.score(X_test, y_test) >= 0.97
    assert clf.input_shape_ == (1, 8, 8) and clf.n_features_in_ == 64


@pytest.mark.parametrize("layout, params", [
    ("n_c_h_w", {}),
    ("n_h_w", {}),
    ("n_h_w_c", {"data_format": "channels_last"}),
    ("flat_with_input_shape", {"input_shape": (1, 8, 8)}),
    ("flat_channels_last", {"input_shape": (8, 8, 1), "data_format": "channels_last"}),
    ("n_c_l_signal", {"input_shape": (2, 32)}),
    ("flat_as_signal", {}),
])
def test_every_input_layout(layout, params, digits):
    images, y = digits
    images, y = images[:100], y[:100]
    X = {
        "n_c_h_w": images[:, None],
        "n_h_w": images,
        "n_h_w_c": images[..., None],
        "flat_with_input_shape": images.reshape(100, 64),
        "flat_channels_last": images.reshape(100, 64),
        "n_c_l_signal": images.reshape(100, 2, 32),
        "flat_as_signal": images.reshape(100, 64),
    }[layout]
    clf = CNNClassifier(**SMALL, **params).fit(X, y)
    assert clf.predict(X).shape == (100,)
    assert clf.predict_proba(X).shape == (100, 10)
    reg = CNNRegressor(**SMALL, **params).fit(X, np.c_[y, -y] / 10.0)
    assert reg.predict(X).shape == (100, 2)
    convolution = type(clf.module_.features[0]).__name__
    assert convolution == ("Conv1d" if layout in ("n_c_l_signal", "flat_as_signal") else "Conv2d")


def test_a_shape_that_does_not_fit_input_shape_shows_both(digits):
    images, y = digits
    with pytest.raises(ValueError, match=r"shape \(64,\) \(64 values\).*input_shape=\(3, 8, 8\) \(192 values\)"):
        CNNClassifier(input_shape=(3, 8, 8)).fit(images.reshape(-1, 64), y)
    clf = CNNClassifier(**SMALL).fit(images[:50, None], y[:50])
    with pytest.raises(ValueError, match=r"shape \(2, 8, 4\).*shape \(1, 8, 8\)"):
        clf.predict(images[:5].reshape(5, 2, 8, 4))


def test_predict_takes_samples_of_the_fit_shape_or_flat_rows_and_nothing_else(digits):
    images, y = digits
    clf = CNNClassifier(**SMALL).fit(images[:50], y[:50])  # (n, 8, 8)
    expected = clf.predict_proba(images[:5])
    np.testing.assert_array_equal(clf.predict_proba(images[:5].reshape(5, 64)), expected)  # as behind a scaler
    with pytest.raises(ValueError, match=r"shape \(1, 8, 8\).*fitted on samples of shape \(8, 8\)"):
        clf.predict(images[:5, None])


def test_images_smaller_than_the_pooling_stack_still_train():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 1, 3, 3))
    y = (X[:, 0, 1, 1] > 0).astype(int)
    clf = CNNClassifier(conv_filters=(4, 4, 4, 4), max_iter=5, random_state=0).fit(X, y)
    pools = [m for m in clf.module_.features if type(m).__name__ == "MaxPool2d"]
    assert len(pools) == 1  # 3x3 -> 1x1, then no pooling is left to do
    assert clf.predict(X).shape == (60,)


def test_regressor_learns_the_frequency_of_a_noisy_sine():
    rng = np.random.RandomState(0)
    t = np.linspace(0, 1, 64)
    frequency = rng.uniform(1, 6, size=1200)
    phase = rng.uniform(0, 2 * np.pi, size=1200)
    X = np.sin(2 * np.pi * frequency[:, None] * t + phase[:, None]) + 0.2 * rng.normal(size=(1200, 64))
    X_train, X_test, y_train, y_test = train_test_split(X[:, None], frequency, random_state=0)
    reg = CNNRegressor(conv_filters=(16, 32), hidden_layer_sizes=(64,), learning_rate_init=0.003,
                       random_state=0).fit(X_train, y_train)
    assert reg.score(X_test, y_test) > 0.9


def test_flat_rows_in_a_pipeline_and_grid_search_over_conv_filters(digits):
    images, y = digits
    X = pd.DataFrame(images.reshape(-1, 64) * 16, columns=[f"pixel_{i}" for i in range(64)])
    pipe = make_pipeline(MinMaxScaler(), CNNClassifier(input_shape=(1, 8, 8), hidden_layer_sizes=(32,),
                                                       learning_rate_init=0.003, max_iter=40,
                                                       random_state=0))
    search = GridSearchCV(pipe, {"cnnclassifier__conv_filters": [(4,), (16, 32)]}, cv=2).fit(X, y)
    assert search.best_params_ == {"cnnclassifier__conv_filters": (16, 32)}
    assert search.best_score_ > 0.9
    # a CNN straight on the DataFrame keeps its column names
    cnn = CNNClassifier(input_shape=(1, 8, 8), **{**SMALL, "max_iter": 1}).fit(X / 16, y)
    assert list(cnn.feature_names_in_) == list(X.columns)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_memory_formats_train_the_same_network(data_format, digits):
    images, y = digits
    X = images[:600, None] if data_format == "channels_first" else images[:600, :, :, None]
    fitted = {
        # on the CPU: on a GPU, cuDNN picks other algorithms (TF32 ones) per layout
        memory_format: CNNClassifier(data_format=data_format, memory_format=memory_format, batch_norm=True,
                                     device="cpu", **SMALL).fit(X, y[:600])
        for memory_format in ("contiguous", "channels_last")
    }
    # the second conv: a one-channel input makes the first one's layouts coincide
    conv = {name: [m for m in clf.module_.features if isinstance(m, torch.nn.Conv2d)][1].weight
            for name, clf in fitted.items()}
    assert conv["channels_last"].is_contiguous(memory_format=torch.channels_last)
    assert not conv["contiguous"].is_contiguous(memory_format=torch.channels_last)
    # the same training, up to float rounding (which Adam's normalisation amplifies a little)
    np.testing.assert_allclose(conv["channels_last"].detach(), conv["contiguous"].detach(), atol=1e-4)
    # the same function: equal weights give equal outputs in either layout
    fitted["channels_last"].module_.load_state_dict(fitted["contiguous"].module_.state_dict())
    np.testing.assert_allclose(fitted["channels_last"].predict_proba(X), fitted["contiguous"].predict_proba(X),
                               atol=1e-6)


def test_auto_memory_format_is_channels_last_on_the_cpu_only(digits):
    images, y = digits
    clf = CNNClassifier(device="cpu", **SMALL).fit(images[:200, None], y[:200])
    conv = [m for m in clf.module_.features if isinstance(m, torch.nn.Conv2d)][1]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    # on a GPU "auto" keeps torch's default layout until channels-last is measured there
    assert clf._memory_format(torch.device("cuda")) == "contiguous"


def test_lbfgs_trains_a_channels_last_cnn_in_the_contiguous_layout(digits):
    images, y = digits
    clf = CNNClassifier(solver="lbfgs", memory_format="channels_last", **SMALL).fit(images[:300, None], y[:300])
    assert all(p.is_contiguous() for p in clf.module_.parameters())
    assert clf.n_iter_ > 0


@pytest.mark.parametrize("changed", [dict(data_format="channels_last"), dict(input_shape=(2, 2, 2))])
def test_predictions_read_samples_as_the_fit_did_whatever_set_params_changes(changed, digits):
    X, y = digits
    X_flat = X.reshape(len(X), -1)[:300]
    cnn = CNNClassifier(conv_filters=(4,), hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X_flat, y[:300])
    expected = cnn.predict_proba(X_flat)
    cnn.set_params(**changed)  # (takes effect at the next fit, as any parameter)
    np.testing.assert_array_equal(cnn.predict_proba(X_flat), expected)
    reloaded = pickle.loads(pickle.dumps(cnn))
    np.testing.assert_array_equal(reloaded.predict_proba(X_flat), expected)
