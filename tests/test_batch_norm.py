"""Batch normalisation and batches of one sample, which have no statistics."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skdeep import CNNClassifier, MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize(("n_samples", "batch_size"), [(201, "auto"), (101, 100)])
def test_batch_norm_trains_when_the_last_batch_holds_one_sample(n_samples, batch_size):
    X, y = make_classification(n_samples=n_samples, n_features=5, random_state=0)
    clf = MLPClassifier(batch_norm=True, batch_size=batch_size, max_iter=3, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 and clf.t_ == 3 * n_samples  # the one sample is trained on, in the batch before


def test_a_cnn_dense_head_with_batch_norm_trains_on_a_one_sample_last_batch():
    images = np.random.RandomState(0).normal(size=(101, 1, 6, 6))
    clf = CNNClassifier(conv_filters=(4,), batch_norm=True, batch_size=100, max_iter=2, random_state=0)
    assert clf.fit(images, np.arange(101) % 2).n_iter_ == 2


@pytest.mark.parametrize(("n_samples", "batch_size"), [(1, "auto"), (20, 1)])
def test_batch_norm_on_batches_of_one_sample_is_named(n_samples, batch_size):
    X, y = make_classification(n_samples=20, n_features=4, random_state=0)
    clf = MLPClassifier(batch_norm=True, batch_size=batch_size, max_iter=2)
    with pytest.raises(ValueError, match="batch_norm=True .* batch_size"):
        if n_samples == 1:
            clf.partial_fit(X[:1], y[:1], classes=[0, 1])
        else:
            clf.fit(X, y)
