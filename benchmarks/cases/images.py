"""Convolutional networks on 3x32x32 images: LeNet, and a VGG-style network with batch norm."""

import numpy as np
import torch

from baselines import accuracy, hand_written_fit, skorch_classifier, warm_up
from harness import Case, timed

VGG_FILTERS = (64, 128, 256, 256, 512)
CNN_COLUMNS = ["system", "fit time", "images/s", "test accuracy", "time vs hand-written"]


def lenet(n_classes=10):
    """LeNet for 3x32x32 images: two conv layers (6 and 16 filters of 5x5) and a (120, 84) head."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 5, padding="same"), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5, padding="same"), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 8 * 8, 120), torch.nn.ReLU(),
        torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, n_classes))


def vgg(n_classes=10):
    """Five conv blocks with batch norm, 3x32x32 -> 512 x 1 x 1, and a 256-unit head."""
    layers, channels = [], 3
    for filters in VGG_FILTERS:
        layers += [torch.nn.Conv2d(channels, filters, 3, padding="same"), torch.nn.BatchNorm2d(filters),
                   torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        channels = filters
    return torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(512, 256), torch.nn.BatchNorm1d(256),
                               torch.nn.ReLU(), torch.nn.Linear(256, n_classes))


def image_data(n_images, random_state=0):
    """Learnable 3x32x32 images: the class shifts the pixel mean.

    Returns
    -------
    X, X_test, y, y_test : ndarray
        ``n_images`` float32 training images and 2,000 test images, with their classes.
    """
    rng = np.random.RandomState(random_state)
    y = rng.randint(0, 10, n_images + 2_000)
    X = (rng.normal(size=(len(y), 3, 32, 32)) + y[:, None, None, None] / 5.0).astype(np.float32)
    return X[:n_images], X[n_images:], y[:n_images], y[n_images:]


def cnn_rows(hand_module, architecture, n_images, epochs, batch, device, with_skorch):
    """The hand loop, skdeep in each memory format and with bfloat16, and skorch, on one CNN.

    Parameters
    ----------
    hand_module : callable
        Returns the network the hand loop and skorch train.
    architecture : dict
        The same network as ``skdeep.CNNClassifier`` parameters.
    n_images, epochs, batch : int
    device : torch.device
    with_skorch : bool
        Add a row for skorch.

    Returns
    -------
    list of list of str
        Rows for :data:`CNN_COLUMNS`.
    """
    import skdeep

    X, X_test, y, y_test = image_data(n_images)
    torch.manual_seed(0)
    hand_seconds, module = timed(lambda: hand_written_fit(hand_module(), X, y, epochs, batch, 1e-3, device))
    results = [("hand-written PyTorch loop (contiguous)", hand_seconds, accuracy(module, X_test, y_test, device))]
    channels_last = {"memory_format": "channels_last"}  # the CPU's default ("auto")
    fastest = {**channels_last, "precision": "bfloat16"}
    variants = [("memory_format='contiguous'", {"memory_format": "contiguous"}),
                ("memory_format='channels_last'", channels_last),
                ("channels_last, precision='bfloat16'", fastest)]
    if device.type == "cuda":  # the variants above capture CUDA graphs there ("auto"); without:
        variants += [("contiguous, cuda_graph=False", {"memory_format": "contiguous", "cuda_graph": False}),
                     ("channels_last, bfloat16, cuda_graph=False", {**fastest, "cuda_graph": False})]
    for label, options in variants:
        clf = skdeep.CNNClassifier(**architecture, batch_size=batch, max_iter=epochs, alpha=0.0,
                                   device=str(device), random_state=0, **options)
        seconds, _ = timed(lambda clf=clf: clf.fit(X, y))
        results.append((f"skdeep CNNClassifier, {label}", seconds, clf.score(X_test, y_test)))
    if with_skorch:
        net = skorch_classifier(hand_module, epochs, batch, 1e-3, device)
        seconds, _ = timed(lambda: net.fit(X, y.astype(np.int64)))
        results.append(("skorch NeuralNetClassifier", seconds, float((net.predict(X_test) == y_test).mean())))
    return [[name, f"{value:.2f} s", f"{n_images * epochs / value:,.0f}", f"{score:.3f}",
             f"{value / hand_seconds:.2f}x"] for name, value, score in results]


def case_cnn(device):
    """LeNet on 10,000 images on a CPU, 50,000 on a GPU, 2 epochs, batch 128."""
    n_images, epochs, batch = (10_000 if device.type == "cpu" else 50_000), 2, 128
    warm_up(device)
    rows = cnn_rows(lenet, dict(conv_filters=(6, 16), kernel_size=5, hidden_layer_sizes=(120, 84)),
                    n_images, epochs, batch, device, with_skorch=True)
    return (f"LeNet CNN: {n_images:,} x 3x32x32 images, Adam, batch {batch}, {epochs} epochs",
            CNN_COLUMNS, rows)


def case_vgg(device):
    """The VGG-style network on 4,096 images on a CPU (without skorch), 50,000 on a GPU, 2 epochs, batch 256."""
    n_images, epochs, batch = (4_096 if device.type == "cpu" else 50_000), 2, 256
    warm_up(device)
    rows = cnn_rows(vgg, dict(conv_filters=VGG_FILTERS, batch_norm=True, hidden_layer_sizes=(256,)),
                    n_images, epochs, batch, device, with_skorch=device.type != "cpu")
    return (f"VGG-style CNN: 5 conv blocks {VGG_FILTERS} with batch norm, on {n_images:,} x 3x32x32 "
            f"images, Adam, batch {batch}, {epochs} epochs", CNN_COLUMNS, rows)


CASES = {"cnn": Case(case_cnn, "LeNet on 3x32x32 images", ("cpu", "cuda")),
         "vgg": Case(case_vgg, "five conv blocks with batch norm on 3x32x32 images", ("cpu", "cuda"))}
