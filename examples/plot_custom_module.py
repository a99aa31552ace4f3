"""
Your own PyTorch module: a GRU on sequences
===========================================

:class:`skdeep.TorchClassifier` gives a module you wrote the whole
scikit-learn contract, without a training loop: solvers, early stopping,
``GridSearchCV`` over the module's own arguments, pickling, devices.

The module gets batches in the shape of the samples (here ``(batch, time,
features)``) and returns one score per class. Arguments named ``n_features``,
``n_outputs`` and ``input_shape`` are filled in from the data.
"""

# %%
# Sequences: which of three rhythms is hidden in the noise?
# ---------------------------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from skdeep import TorchClassifier, TrainingHistoryDisplay

rng = np.random.RandomState(0)
n_sequences, n_steps = 1500, 50
y = rng.randint(0, 3, size=n_sequences)
t = np.arange(n_steps)
rhythm = np.sin(2 * np.pi * t[None, :] / np.array([5.0, 8.0, 13.0])[y][:, None] + rng.uniform(0, 6.3, (n_sequences, 1)))
X = np.stack([rhythm + rng.normal(0, 0.8, rhythm.shape), rng.normal(0, 1, rhythm.shape)], axis=2)  # (n, 50, 2)
X_train, X_test, y_train, y_test = train_test_split(X.astype(np.float32), y, random_state=0)
warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the search's 20-epoch budget

# %%
# The first feature of a sequence is a rhythm under noise; the second is noise.
fig, axes = plt.subplots(3, 1, figsize=(8, 4.5), sharex=True, layout="constrained")
for label, ax in enumerate(axes):
    sample = np.flatnonzero(y == label)[0]
    ax.plot(t, X[sample, :, 0], color=f"C{label}", lw=1, label="the first feature")
    ax.plot(t, rhythm[sample], color="k", ls="--", lw=1, label="the rhythm hidden in it")
    ax.set_ylabel(f"period {[5, 8, 13][label]}")
axes[0].set_title("One sequence of each class", loc="left")
axes[0].legend(loc="lower right", bbox_to_anchor=(1, 1), ncol=2, fontsize="small", frameon=False)
axes[-1].set_xlabel("time step")
plt.show()


# %%
# The module: a GRU, then a linear layer on its last state.
class GRUNet(torch.nn.Module):
    def __init__(self, input_shape, n_outputs, hidden_size=32):
        super().__init__()
        self.gru = torch.nn.GRU(input_shape[-1], hidden_size, batch_first=True)
        self.out = torch.nn.Linear(hidden_size, n_outputs)

    def forward(self, x):
        _, state = self.gru(x)
        return self.out(state[-1])


# %%
# A grid search over the GRU's width, then early stopping
# --------------------------------------------------------
search = GridSearchCV(
    TorchClassifier(GRUNet, learning_rate_init=0.01, max_iter=20, random_state=0),
    {"module_params": [{"hidden_size": 8}, {"hidden_size": 32}]},
    cv=2,
).fit(X_train, y_train)
print(f"GRU: best {search.best_params_['module_params']}, test accuracy {search.score(X_test, y_test):.3f}")

gru = TorchClassifier(GRUNet, module_params={"hidden_size": 32}, learning_rate_init=0.01, max_iter=100,
                      early_stopping=True, n_iter_no_change=5, random_state=0).fit(X_train, y_train)
print(f"GRU with early stopping: test accuracy {gru.score(X_test, y_test):.3f} after {gru.n_iter_} epochs "
      f"(best validation accuracy {gru.best_validation_score_:.3f})")

# %%
# The early-stopped fit, epoch by epoch: the training loss and the accuracy on
# the validation split that stopped it.
TrainingHistoryDisplay.from_estimator(gru, name="GRUNet in a TorchClassifier")
plt.show()
