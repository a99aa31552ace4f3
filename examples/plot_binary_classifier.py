"""
A binary classifier with a validation set
=========================================

A classic tutorial network: 8 inputs, ``Dense(10, relu)``, ``Dense(8, relu)``
and a sigmoid output, trained with Adam on the binary cross-entropy for 10
epochs in batches of 32, scored on validation data after every epoch.

In skdeep the architecture is ``hidden_layer_sizes=(10, 8)``; a binary target
gets one sigmoid output and the binary cross-entropy by itself. The validation
data is held out of the training set by ``early_stopping=True`` with
``validation_fraction``; a large ``n_iter_no_change`` keeps all 10 epochs.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skdeep import MLPClassifier, TrainingHistoryDisplay

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed 10-epoch budget, as in the tutorial

X, y = make_classification(n_samples=1000, n_features=8, n_informative=6, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

model = MLPClassifier(
    hidden_layer_sizes=(10, 8),
    activation="relu",
    solver="adam",
    batch_size=32,
    max_iter=10,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=10,
    random_state=0,
).fit(X_train, y_train)

# %%
# One row per epoch: the training loss and the validation accuracy.
print(model.history_[["epoch", "train_loss", "validation_score"]].to_string(index=False))
print(f"output: {model.n_outputs_} unit, {model.out_activation_}; "
      f"test accuracy {model.score(X_test, y_test):.3f}")

# %%
# The learning curve: the training loss falls and the validation accuracy
# climbs, epoch after epoch.
TrainingHistoryDisplay.from_estimator(model, name="Dense(10) - Dense(8) - sigmoid, 10 epochs")
plt.show()
