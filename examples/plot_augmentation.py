"""
Augmenting a small image set
============================

With 150 training images, a CNN learns the digits it was shown, shifts and
all. Moving each training image by up to one pixel at every epoch shows it
new variants of the same digits, and it learns what does not move with
them: the standard remedy for a small image set.

``augment`` takes a function of each training batch (a tensor on the
training device, here of shape ``(batch, 1, 8, 8)``) and returns the batch
to train on. It never runs at prediction, validation or scoring, and its
random draws are seeded by ``random_state``, so each fit below is
reproducible.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skdeep import CNNClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

X, y = load_digits(return_X_y=True)
X = (X / 16.0).reshape(-1, 1, 8, 8).astype("float32")
X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=150, stratify=y, random_state=0)


def random_shift(images):
    """Shift each image by -1, 0 or 1 pixel along each axis, filling the edge with zeros."""
    n, _, height, width = images.shape
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    down, right = torch.randint(0, 3, (2, n, 1, 1), device=images.device)
    rows = torch.arange(height, device=images.device).view(1, height, 1) + down
    columns = torch.arange(width, device=images.device).view(1, 1, width) + right
    samples = torch.arange(n, device=images.device).view(n, 1, 1)
    return padded[samples, :, rows, columns].permute(0, 3, 1, 2)  # (n, height, width, 1) -> (n, 1, height, width)


# %%
# Four training images, and what ``random_shift`` makes of them.
torch.manual_seed(0)
shifted = random_shift(torch.from_numpy(X_train[:4])).numpy()
fig, axes = plt.subplots(2, 4, figsize=(6, 3.2), layout="constrained")
for column in range(4):
    for ax, image, title in ((axes[0, column], X_train[column, 0], "original"),
                             (axes[1, column], shifted[column, 0], "shifted")):
        ax.imshow(image, cmap="gray_r")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()

# %%
# The same network, trained for the same epochs with and without the shifts,
# from three random starts.
params = dict(conv_filters=(16, 32), hidden_layer_sizes=(64,), batch_size=32, learning_rate_init=0.003,
              max_iter=150, n_iter_no_change=150)
scores = {"no augmentation": [], "random shifts": []}
for seed in range(3):
    for name, augment in (("no augmentation", None), ("random shifts", random_shift)):
        clf = CNNClassifier(augment=augment, random_state=seed, **params).fit(X_train, y_train)
        scores[name].append(clf.score(X_test, y_test))
for name, accuracies in scores.items():
    print(f"{name:>16}: test accuracy {' '.join(f'{a:.3f}' for a in accuracies)}")

# %%
fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
ax.boxplot(list(scores.values()))
ax.set_xticks([1, 2], list(scores))
ax.set_ylabel(f"accuracy on the {len(y_test)} test images")
plt.show()
