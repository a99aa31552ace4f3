"""
LeNet on 3x32x32 images
=======================

PyTorch's CIFAR-10 tutorial network, LeNet: conv ``6@5x5``,
max-pool 2, conv ``16@5x5``, max-pool 2, then dense layers of 120 and 84 units and
10 outputs, trained with SGD (learning rate 0.001, momentum 0.9) in batches of
4 for 2 epochs.

CIFAR-10 needs a download, so the images here are generated: ten classes of
coloured gratings, each with its own orientation, stripe frequency and tint,
under noise. With skdeep the network is a few parameters of
:class:`skdeep.CNNClassifier` (its convolutions keep the image size with "same"
padding, where the tutorial's shrink it by 4 pixels).
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from skdeep import CNNClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed 2-epoch budget


def coloured_gratings(n_images, noise=1.5, random_state=0):
    """Images of shape (n, 3, 32, 32) in ten classes, and their labels."""
    rng = np.random.RandomState(random_state)
    labels = rng.randint(0, 10, size=n_images)
    angle = labels * np.pi / 10 + rng.normal(0, 0.05, n_images)
    frequency = 2 + (labels % 5) + rng.uniform(-0.3, 0.3, n_images)
    tint = np.stack([np.cos(labels), np.sin(labels), np.cos(2 * labels)], axis=1) * 0.5 + 0.5
    yy, xx = np.mgrid[0:1:32j, 0:1:32j]
    direction = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    grating = np.sin(2 * np.pi * frequency[:, None, None] * direction + rng.uniform(0, 6.3, (n_images, 1, 1)))
    images = tint[:, :, None, None] * grating[:, None] + rng.normal(0, noise, (n_images, 3, 32, 32))
    return images.astype(np.float32), labels


X, y = coloured_gratings(3000)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

# %%
# One image of each class: the grating (the same images drawn without noise)
# and the noisy image that LeNet sees.
gratings, _ = coloured_gratings(3000, noise=0.0)
fig, axes = plt.subplots(2, 10, figsize=(11, 2.8), layout="constrained")
for label in range(10):
    first = np.flatnonzero(y == label)[0]
    for ax, image in zip(axes[:, label], (gratings[first], X[first]), strict=True):
        image = image.transpose(1, 2, 0)  # channels last, for imshow
        ax.imshow((image - image.min()) / (image.max() - image.min()))
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, label].set_title(f"class {label}")
axes[0, 0].set_ylabel("grating")
axes[1, 0].set_ylabel("with noise")
plt.show()

# %%
# LeNet, as in the tutorial

lenet = CNNClassifier(
    conv_filters=(6, 16),
    kernel_size=5,
    pool_size=2,
    hidden_layer_sizes=(120, 84),
    solver="sgd",
    learning_rate_init=0.001,
    momentum=0.9,
    nesterovs_momentum=False,
    batch_size=4,
    max_iter=2,
    random_state=0,
).fit(X_train, y_train)

# %%
print(lenet.module_)
print(lenet.history_[["epoch", "train_loss", "duration"]].to_string(index=False))
print(f"test accuracy after 2 epochs: {lenet.score(X_test, y_test):.3f}")

# %%
# Which classes LeNet confuses on the test images, after its two epochs.
ConfusionMatrixDisplay.from_estimator(lenet, X_test, y_test, colorbar=False)
plt.title("LeNet on the test images")
plt.show()
