"""
A CNN and an MLP on the same digits
===================================

On scikit-learn's 8x8 digits, a small convolutional network and a dense one
are trained and scored on the same split. The CNN takes the images as
``(n, 1, 8, 8)``; the MLP flattens them.
"""

# %%
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skdeep import CNNClassifier, MLPClassifier

digits = load_digits()
images = digits.images[:, None] / 16.0  # (1797, 1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=0.25, stratify=digits.target, random_state=0)

for model in (CNNClassifier(random_state=0), MLPClassifier(hidden_layer_sizes=(256,), random_state=0)):
    start = time.perf_counter()
    model.fit(X_train, y_train)
    n_weights = sum(p.numel() for p in model.module_.parameters())
    print(f"{type(model).__name__:<14} test accuracy {model.score(X_test, y_test):.3f}  "
          f"{n_weights:>7} weights  {model.n_iter_:>3} epochs  {time.perf_counter() - start:.1f}s")
