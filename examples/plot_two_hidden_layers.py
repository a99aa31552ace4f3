"""
Two hidden layers of 10 units, 100 epochs of Adam
=================================================

A tutorial network with 5 inputs, two hidden layers of 10 units and one
output, trained for 100 epochs with Adam. Here it learns a smooth non-linear
function of five inputs.
"""

# %%
import warnings

import matplotlib.pyplot as plt
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

# %%
# The loss over the 100 epochs, and the predictions against the truth on the
# test set: the closer to the diagonal, the better.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.plot(np.arange(1, len(model.loss_curve_) + 1), model.loss_curve_)
left.set(yscale="log", xlabel="epoch", ylabel="training loss", title="Training loss")
right.scatter(y_test, model.predict(X_test), s=8, alpha=0.5)
lims = [y_test.min(), y_test.max()]
right.plot(lims, lims, color="k", lw=1)
right.set(xlabel="true y", ylabel="predicted y")
right.set_title(f"Test set, $R^2$ = {model.score(X_test, y_test):.3f}")
plt.show()
