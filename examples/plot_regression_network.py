"""
A regression network: 2 inputs, 10 ReLU units, 1 output
=======================================================

A tutorial regression network: ``Dense(10, relu)`` then a linear output, trained
on the mean squared error with Adam at a learning rate of 0.01. skdeep's
``"squared_error"`` loss is scikit-learn's, half the mean squared error.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from skdeep import MLPRegressor

rng = np.random.RandomState(0)
X = rng.uniform(-2, 2, size=(1000, 2))
y = X[:, 0] ** 2 - X[:, 1] + 0.1 * rng.normal(size=1000)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

model = MLPRegressor(hidden_layer_sizes=(10,), activation="relu", loss="squared_error",
                     solver="adam", learning_rate_init=0.01, max_iter=300,
                     random_state=0).fit(X_train, y_train)

# %%
print(f"{model.n_iter_} epochs, final loss {model.loss_:.4f}")
print(f"test R^2: {model.score(X_test, y_test):.3f}")
for point in ([0.0, 0.0], [1.5, -1.0]):
    print(f"f({point}) = {point[0] ** 2 - point[1]:+.2f}, predicted {model.predict([point])[0]:+.2f}")

# %%
# The loss per epoch, and the function against the network's predictions along
# ``x0``, at three values of ``x1``.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.plot(np.arange(1, len(model.loss_curve_) + 1), model.loss_curve_)
left.set(yscale="log", xlabel="epoch", ylabel="training loss (half the MSE)", title="Training loss")
x0 = np.linspace(-2, 2, 100)
for i, x1 in enumerate([-1.5, 0.0, 1.5]):
    right.plot(x0, x0**2 - x1, color=f"C{i}", ls="--")
    right.plot(x0, model.predict(np.column_stack([x0, np.full_like(x0, x1)])), color=f"C{i}",
               label=f"x1 = {x1:+}")
right.set(xlabel="x0", ylabel="y", title="$x_0^2 - x_1$ (dashed) and the prediction (solid)")
right.legend(loc="upper center")
plt.show()
