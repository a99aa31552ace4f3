"""The systems skdeep is measured against, and the data they train on.

A hand-written PyTorch loop (tensors converted once, ``randperm`` slicing,
fused Adam), plain skorch (``NeuralNetClassifier`` with its defaults, no
validation split), and the name scikit-learn's MLP has in the tables.
"""

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.preprocessing import StandardScaler

SKLEARN = "scikit-learn MLPClassifier"


# -- data ----------------------------------------------------------------------------


def tabular_data(n_train=100_000, n_features=64, random_state=0):
    """A learnable 10-class problem: standardized train rows and 10,000 test rows.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
    """
    X, y = make_classification(n_samples=n_train + 10_000, n_features=n_features, n_informative=40,
                               n_redundant=10, n_classes=10, n_clusters_per_class=1, class_sep=2.0,
                               random_state=random_state)
    X = StandardScaler().fit_transform(X)
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def breast_cancer_data():
    """breast_cancer (569 x 30, two classes), standardized: ``X, y``."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def digits_data():
    """digits (1,797 x 64, ten classes), pixels scaled to [0, 1]: ``X, y``."""
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


# -- the hand-written loop -----------------------------------------------------------


def sync(device):
    """Wait for the work queued on a CUDA ``device``, so that a wall time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def mlp_module(n_features, hidden, n_classes):
    """A ReLU network: ``n_features`` -> each of ``hidden`` -> ``n_classes`` logits."""
    layers, width = [], n_features
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, n_classes))


def hand_written_fit(module, X, y, epochs, batch_size, lr, device):
    """The reference loop: tensors converted once, randperm slicing, fused Adam, cross-entropy.

    Parameters
    ----------
    module : torch.nn.Module
    X, y : array-like
        Features (converted to float32) and class indices.
    epochs, batch_size : int
    lr : float
        Adam's learning rate.
    device : torch.device

    Returns
    -------
    torch.nn.Module
        ``module``, trained, on ``device``.
    """
    module = module.to(device)
    X, y = torch.as_tensor(X, dtype=torch.float32, device=device), torch.as_tensor(y, device=device)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, fused=True)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), device=device)
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(X[index]), y[index])
            loss.backward()
            optimizer.step()
    sync(device)
    return module


@torch.no_grad()
def hand_written_predict(module, X, batch_size, device):
    """Class probabilities of ``module`` on ``X``, batch by batch: an ndarray of shape (n_samples, n_classes)."""
    module.eval()
    X = torch.as_tensor(X, dtype=torch.float32)
    outputs = [module(X[start:start + batch_size].to(device)).softmax(dim=1).cpu()
               for start in range(0, len(X), batch_size)]
    return torch.cat(outputs).numpy()


def accuracy(module, X, y, device):
    """The share of ``X``'s rows whose most probable class under ``module`` is their label in ``y``."""
    return float((hand_written_predict(module, X, 4096, device).argmax(axis=1) == y).mean())


# -- skorch --------------------------------------------------------------------------


def skorch_classifier(module_factory, epochs, batch_size, lr, device):
    """skorch's ``NeuralNetClassifier`` with Adam, shuffled batches and no validation split.

    Parameters
    ----------
    module_factory : callable
        Returns the module to train.
    epochs, batch_size : int
    lr : float
    device : torch.device

    Returns
    -------
    skorch.NeuralNetClassifier
        Not fitted. It needs float32 X and int64 y.
    """
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        module_factory, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=lr,
        max_epochs=epochs, batch_size=batch_size, train_split=None, iterator_train__shuffle=True,
        device=str(device), verbose=0,
    )


def warm_up(device):
    """One short fit of each torch system, so that no timed fit pays one-time costs."""
    import skdeep

    X, y = np.random.RandomState(0).normal(size=(512, 64)), np.arange(512) % 10
    hand_written_fit(mlp_module(64, (256, 256), 10), X, y, 2, 256, 1e-3, device)
    skdeep.MLPClassifier((256, 256), max_iter=2, device=str(device)).fit(X, y)
    skorch_classifier(lambda: mlp_module(64, (256, 256), 10), 2, 256, 1e-3, device).fit(
        X.astype(np.float32), y.astype(np.int64))
