"""
Regularisation at work
======================

A network of two hidden layers memorises noisy labels. Each of skdeep's
regularisation options, alone, is fitted on the same data: the L2 penalty
``alpha``, the L1 penalty ``l1``, ``dropout``, ``batch_norm`` and
``early_stopping``. The plot shows training and test accuracy: the smaller
the gap, the less the model memorised. Here the penalties, dropout and
early stopping narrow the gap and raise the test accuracy; batch
normalisation does not: with it, the network memorises the training labels
as it does without.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skdeep import MLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of 150 epochs

X, y = make_classification(n_samples=800, n_features=20, n_informative=5, flip_y=0.3, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)

settings = {
    "none": dict(alpha=0.0),
    "alpha=10": dict(alpha=10.0),
    "l1=0.5": dict(alpha=0.0, l1=0.5),
    "dropout=0.5": dict(alpha=0.0, dropout=0.5),
    "batch_norm": dict(alpha=0.0, batch_norm=True),
    "early_stopping": dict(alpha=0.0, early_stopping=True, n_iter_no_change=5),
}
train, test = [], []
for name, params in settings.items():
    clf = MLPClassifier((64, 64), max_iter=150, n_iter_no_change=params.pop("n_iter_no_change", 1000),
                        random_state=0, **params).fit(X_train, y_train)
    train.append(clf.score(X_train, y_train))
    test.append(clf.score(X_test, y_test))
    print(f"{name:<15} train {train[-1]:.3f}  test {test[-1]:.3f}  epochs {clf.n_iter_}")

# %%
positions = np.arange(len(settings))
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.bar(positions - 0.2, train, width=0.4, label="training accuracy")
ax.bar(positions + 0.2, test, width=0.4, label="test accuracy")
ax.set_xticks(positions, list(settings))
ax.set_ylim(0.5, 1.02)
ax.set_ylabel("accuracy")
ax.set_title("30% of the labels are noise: penalties, dropout and early stopping narrow the gap", fontsize=10)
ax.legend(loc="upper center")
plt.show()
