"""
MNIST-style: 28x28 images, Flatten, Dense(128), softmax
=======================================================

The classic MNIST tutorial network: images flattened, one hidden layer of 128 ReLU
units and a 10-way softmax, trained with Adam for 5 epochs. MNIST needs a
download, so this uses scikit-learn's bundled 8x8 digits, upsampled to 28x28.

skdeep flattens samples of any shape, as Keras' ``Flatten`` does: pass the
``(n, 28, 28)`` array as it is.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skdeep import MLPClassifier

# A fixed epoch budget, as in the original: no need to warn that it ends training.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

digits = load_digits()
images = zoom(digits.images / 16.0, (1, 3.5, 3.5), order=1)  # (1797, 28, 28)
X_train, X_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.25, random_state=0)

model = MLPClassifier(hidden_layer_sizes=(128,), activation="relu", solver="adam",
                      batch_size=32, max_iter=5, random_state=0).fit(X_train, y_train)

# %%
print(f"input shape {model.input_shape_} -> {model.n_features_in_} features; "
      f"output: {model.n_outputs_} units, {model.out_activation_}")
print(f"test accuracy after {model.n_iter_} epochs: {model.score(X_test, y_test):.3f}")

# %%
# Test images, 28x28 as the network gets them, with its predictions: the
# first eight, then the first eight it gets wrong (in red).
predicted = model.predict(X_test)
shown = np.concatenate([np.arange(8), np.flatnonzero(predicted != y_test)[:8]])
fig, axes = plt.subplots(2, 8, figsize=(9, 2.9), layout="constrained")
for ax, i in zip(axes.flat, shown, strict=True):
    ax.imshow(X_test[i], cmap="gray_r")
    wrong = predicted[i] != y_test[i]
    title = f"{predicted[i]} (is {y_test[i]})" if wrong else f"{predicted[i]}"
    ax.set_title(title, color="r" if wrong else "k")
    ax.set_axis_off()
plt.show()
