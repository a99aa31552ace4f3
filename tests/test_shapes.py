"""Shapes: of the images a CNN gets, and of the outputs a module returns."""

import numpy as np
import pytest
import torch

from skdeep import CNNClassifier, TorchClassifier, TorchRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_cnn_x_of_the_wrong_dimensions_is_named():
    with pytest.raises(ValueError, match="X has 5 dimensions"):
        CNNClassifier(max_iter=1).fit(np.zeros((4, 1, 2, 8, 8)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="0 sample"):
        CNNClassifier(max_iter=1).fit(np.zeros((0, 1, 8, 8)), [])


class FiveLogits(torch.nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, 5)

    def forward(self, x):
        return self.layer(x)


class FlatOutput(torch.nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, 1)

    def forward(self, x):
        return self.layer(x)[:, 0]


def test_a_module_output_of_the_wrong_shape_is_refused(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"outputs of shape \(150, 5\).*needs shape \(150, 3\)"):
        TorchClassifier(FiveLogits, batch_size=150).fit(X, y)
    with pytest.raises(ValueError, match=r"outputs of shape \(150,\).*needs shape \(150, 1\)"):
        TorchRegressor(FlatOutput, batch_size=150).fit(X, X[:, 0])


class BatchMean(torch.nn.Module):
    """Averages over the batch when predicting: one row for the whole batch."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        output = self.layer(x)
        return output if self.training else output.mean(dim=0, keepdim=True)


def test_the_modules_output_shape_when_predicting_is_checked_by_fit_and_predict(iris):
    X, y = iris
    message = r"outputs of shape \(1, 3\) for 150 samples.*needs shape \(150, 3\)"
    with pytest.raises(ValueError, match=message):  # the trained network predicts its training rows
        TorchClassifier(BatchMean, max_iter=2, random_state=0).fit(X, y)
    # LBFGS's loss comes from its solution, so its fit runs the module no more: predict finds the shape
    clf = TorchClassifier(BatchMean, solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=message):
        clf.predict(X)


def test_a_cnn_input_shape_that_disagrees_with_the_images_is_named():
    images = np.zeros((20, 1, 6, 6))
    with pytest.raises(ValueError, match=r"samples of shape \(1, 6, 6\), but input_shape=\(6, 6, 1\)"):
        CNNClassifier(input_shape=(6, 6, 1), max_iter=1).fit(images, np.arange(20) % 2)
