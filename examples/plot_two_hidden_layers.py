"""
Two hidden layers of 10 units, 100 epochs of Adam
=================================================

A tutorial network with 5 inputs, two hidden layers of 10 units and one
output, trained for 100 epochs with Adam. Here it learns a smooth non-linear
function of five inputs.
"""

# %%
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skdeep import MLPRegressor

# A fixed epoch budget, as in the original: no need to warn that it ends training.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

rng = np.random.RandomState(0)
X = rng.uniform(-1, 1, size=(2000, 5))
y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] - 0.5 * X[:, 3] ** 2 + 0.1 * X[:, 4]
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

model = MLPRegressor(hidden_layer_sizes=(10, 10), solver="adam", max_iter=100,
                     n_iter_no_change=100, random_state=0).fit(X_train, y_train)

# %%
print(f"loss after {model.n_iter_} epochs: {model.loss_:.4f}")
print(f"test R^2: {model.score(X_test, y_test):.3f}")
print("weight shapes:", [coef.shape for coef in model.coefs_])
