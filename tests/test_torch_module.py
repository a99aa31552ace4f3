"""TorchClassifier / TorchRegressor: a user's own module under the sklearn contract."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV, train_test_split

from skdeep import TorchClassifier, TorchRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class LSTMReader(torch.nn.Module):
    """Scores a sequence of shape (time, features) from the mean of its LSTM outputs."""

    def __init__(self, input_shape, n_outputs, hidden_size=32):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_shape[-1], hidden_size, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, n_outputs)

    def forward(self, x):
        outputs, _ = self.lstm(x)
        return self.head(outputs.mean(dim=1))


class Wide(torch.nn.Module):
    def __init__(self, n_features, n_outputs, width):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(n_features, width), torch.nn.ReLU(),
                                       torch.nn.Linear(width, n_outputs))

    def forward(self, x):
        return self.net(x)


def test_a_recurrent_module_reads_digit_rows_as_sequences():
    digits = load_digits()
    X = digits.images / 16.0  # (n, 8 time steps, 8 features)
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target, random_state=0)
    clf = TorchClassifier(LSTMReader, module_params={"hidden_size": 64}, learning_rate_init=0.01,
                          max_iter=60, random_state=0).fit(X_train, y_train)
    assert clf.module_.lstm.hidden_size == 64 and clf.module_.head.out_features == 10
    assert clf.score(X_test, y_test) > 0.9  # chance is 0.1


def test_sizes_are_inferred_and_params_are_searchable():
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        TorchClassifier(Wide, learning_rate_init=0.01, max_iter=100, random_state=0),
        {"module_params": [{"width": 2}, {"width": 64}]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_ == {"module_params": {"width": 64}}
    assert search.best_estimator_.module_.net[0].in_features == 4


def test_explicit_module_params_win_over_inferred_sizes():
    X, y = load_iris(return_X_y=True)
    clf = TorchClassifier(Wide, module_params={"width": 8, "n_outputs": 3}, max_iter=2).fit(X, y)
    assert clf.module_.net[-1].out_features == 3


def test_a_factory_function_and_a_lambda_work_and_pickle():
    X, y = load_iris(return_X_y=True)
    reg = TorchRegressor(
        lambda n_features, n_outputs: torch.nn.Linear(n_features, n_outputs),
        learning_rate_init=0.05,
        random_state=0,
    )
    reg.fit(X[:, :3], X[:, 3])
    assert reg.score(X[:, :3], X[:, 3]) > 0.85
    assert clone(reg).module is reg.module
    clf = TorchClassifier(Wide, module_params={"width": 8}, max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), clf.predict_proba(X))


def test_module_that_returns_no_module_is_explained():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(TypeError, match="module must build a torch.nn.Module"):
        TorchClassifier(lambda n_features, n_outputs: "not a module").fit(X, y)


class ReturnsTuple(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.layer(x), x


def test_common_mistakes_with_your_own_module(iris):
    X, y = iris
    with pytest.raises(TypeError, match="'module' parameter takes the module's class"):
        TorchClassifier(torch.nn.Linear(4, 3), max_iter=2).fit(X, y)
    with pytest.raises(TypeError, match="must return a tensor of raw outputs; it returned a tuple"):
        TorchClassifier(ReturnsTuple, max_iter=2).fit(X, y)
    factory = TorchClassifier(lambda **sizes: torch.nn.Linear(sizes["n_features"], sizes["n_outputs"]), max_iter=2)
    assert factory.fit(X, y).predict(X).shape == (150,)  # a factory taking **kwargs gets the sizes
