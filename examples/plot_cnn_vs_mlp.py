"""
A CNN and an MLP on the same digits
===================================

On scikit-learn's 8x8 digits, a small convolutional network and a dense one
are trained and scored on the same split. The CNN takes the images as
``(n, 1, 8, 8)``; the MLP flattens them.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skdeep import CNNClassifier, MLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the MLP trains for all of its 200 epochs

digits = load_digits()
images = digits.images[:, None] / 16.0  # (1797, 1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=0.25, stratify=digits.target, random_state=0)

models = (CNNClassifier(random_state=0), MLPClassifier(hidden_layer_sizes=(256,), random_state=0))
accuracy, weights = [], []
for model in models:
    model.fit(X_train, y_train)
    accuracy.append(model.score(X_test, y_test))
    weights.append(sum(p.numel() for p in model.module_.parameters()))
    print(f"{type(model).__name__:<14} test accuracy {accuracy[-1]:.3f}  "
          f"{weights[-1]:>7} weights  {model.n_iter_:>3} epochs")

# %%
# The training loss per epoch, and the test accuracy with the size of each network.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for model in models:
    left.plot(model.history_["epoch"], model.history_["loss"], label=type(model).__name__)
left.set(yscale="log", xlabel="epoch", ylabel="training loss", title="Training loss")
left.legend()
bars = right.bar([type(model).__name__ for model in models], accuracy, color=["C0", "C1"], width=0.5)
labels = [f"{score:.3f}\n{n:,} weights" for score, n in zip(accuracy, weights, strict=True)]
right.bar_label(bars, labels)
right.set(ylim=(0.9, 1.01), ylabel="test accuracy", title="Test accuracy")
plt.show()
