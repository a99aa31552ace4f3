"""``augment``: a function of each training batch of X, never of the rows predicted, validated or scored."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skdeep import CNNClassifier, TorchRegressor


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def images(digits):
    X, y = digits
    return X[:300].reshape(-1, 1, 8, 8).astype(np.float32), y[:300]


class CountingFlip:
    """Flips the images left to right, and keeps the shape of each batch it got."""

    def __init__(self):
        self.shapes = []

    def __call__(self, X):
        self.shapes.append(tuple(X.shape))
        return X.flip(-1)


def noise(X):
    """Random noise on each value, from torch's global generator."""
    return X + 0.3 * torch.randn_like(X)


def test_augment_gets_each_training_batch_on_the_device_and_nothing_else(images):
    X, y = images
    flip = CountingFlip()
    clf = CNNClassifier(conv_filters=(4,), batch_size=64, max_iter=3, early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=10, augment=flip, random_state=0).fit(X, y)
    batches = [(64, 1, 8, 8)] * 3 + [(48, 1, 8, 8)]  # the 240 rows left beside the validation set
    assert flip.shapes == batches * 3
    clf.predict(X), clf.predict_proba(X), clf.score(X, y)
    assert len(flip.shapes) == 12


def test_augmented_training_differs_and_is_reproducible_with_random_state(images):
    X, y = images
    params = dict(conv_filters=(4,), max_iter=3, random_state=0)
    first = CNNClassifier(augment=noise, **params).fit(X, y)
    again = CNNClassifier(augment=noise, **params).fit(X, y)
    plain = CNNClassifier(**params).fit(X, y)
    other = CNNClassifier(augment=noise, **{**params, "random_state": 1}).fit(X, y)
    np.testing.assert_array_equal(first.loss_curve_, again.loss_curve_)
    assert first.loss_curve_ != plain.loss_curve_ and first.loss_curve_ != other.loss_curve_


def test_training_with_augment_leaves_torchs_global_generator_as_it_was(images):
    X, y = images
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CNNClassifier(conv_filters=(4,), max_iter=1, augment=noise, random_state=0).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_a_user_module_trains_on_augmented_batches(iris):
    X, y = iris
    flip = CountingFlip()
    reg = TorchRegressor(lambda n_features, n_outputs: torch.nn.Linear(n_features, n_outputs), augment=flip,
                         max_iter=2, batch_size=50).fit(X, y.astype(float))
    assert flip.shapes == [(50, 4)] * 6
    assert reg.predict(X).shape == (150,)


def test_an_augment_in_place_changes_neither_the_users_array_nor_the_training_data(images):
    X, y = images
    X = X.copy()
    kept = X.copy()
    seen = []

    def shift_in_place(batch):
        seen.append(float(batch.sum()))
        return batch.add_(1.0)

    CNNClassifier(conv_filters=(4,), max_iter=3, shuffle=False, batch_size=300, augment=shift_in_place).fit(X, y)
    np.testing.assert_array_equal(X, kept)
    assert seen == [seen[0]] * 3  # each epoch gets the data as it was


@pytest.mark.parametrize("augment, match", [
    (lambda X: X.numpy(), r"augment must return the batch of X as a tensor of 200 samples.*ndarray"),
    (lambda X: X[:10], r"augment must return the batch of X as a tensor of 200 samples.*\(10, 1, 8, 8\)"),
    (lambda X: X.double(), r"in its dtype; for a batch of shape \(200, 1, 8, 8\) and dtype torch.float32.*float64"),
])
def test_an_augment_that_does_not_return_the_batch_is_named(images, augment, match):
    X, y = images
    clf = CNNClassifier(conv_filters=(4,), max_iter=1, augment=augment)
    with pytest.raises(TypeError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_augment_rules_out_cuda_graphs(images):
    X, y = images
    with pytest.raises(ValueError, match="cuda_graph=True cannot be combined with augment"):
        CNNClassifier(conv_filters=(4,), augment=noise, cuda_graph=True).fit(X, y)


def test_a_model_with_augment_pickles(images):
    X, y = images
    clf = CNNClassifier(conv_filters=(4,), max_iter=1, augment=noise, random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.augment is noise
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
