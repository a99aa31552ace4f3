"""A large MLP on a GPU, where the data lives on the device and CUDA graphs pay off."""

import numpy as np
import torch

from baselines import accuracy, hand_written_fit, mlp_module, skorch_classifier, warm_up
from harness import Case, timed


def case_gpu_mlp(device):
    """A large MLP on the GPU: 1,000,000 x 100 -> (512, 512) -> 10, Adam, batches of 1024 and 256."""
    import skdeep

    rng = np.random.RandomState(0)
    n_samples, epochs = 1_000_000, 2
    X = rng.normal(size=(n_samples, 100)).astype(np.float32)
    y = (X[:, :10] @ rng.normal(size=(10, 10))).argmax(axis=1)  # learnable labels
    X_test, y_test = X[-50_000:], y[-50_000:]
    warm_up(device)
    rows = []
    for batch in (1024, 256):
        torch.manual_seed(0)
        hand_seconds, module = timed(lambda batch=batch: hand_written_fit(
            mlp_module(100, (512, 512), 10), X, y, epochs, batch, 1e-3, device))
        results = [("hand-written loop, data on the GPU", hand_seconds, accuracy(module, X_test, y_test, device))]
        options = ({}, {"precision": "bfloat16"}, {"cuda_graph": False},
                   {"cuda_graph": False, "precision": "bfloat16"})
        for option in options:
            clf = skdeep.MLPClassifier((512, 512), batch_size=batch, max_iter=epochs, alpha=0.0,
                                       n_iter_no_change=epochs, device=str(device), random_state=0, **option)
            seconds, _ = timed(lambda clf=clf: clf.fit(X, y))
            name = ", ".join(f"{key}={value!r}" for key, value in option.items()) or "defaults"
            results.append((f"skdeep, {name}", seconds, clf.score(X_test, y_test)))
        net = skorch_classifier(lambda: mlp_module(100, (512, 512), 10), epochs, batch, 1e-3, device)
        seconds, _ = timed(lambda net=net: net.fit(X, y.astype(np.int64)))
        results.append(("skorch NeuralNetClassifier", seconds, float((net.predict(X_test) == y_test).mean())))
        rows += [[f"batch {batch}", name, f"{n_samples * epochs / value:,.0f}", f"{value / hand_seconds:.2f}x",
                  f"{score:.3f}"] for name, value, score in results]
    return (f"GPU MLP: 1,000,000 x 100 -> (512, 512) -> 10, Adam, {epochs} epochs",
            ["batch", "system", "samples/s", "time vs hand-written", "accuracy"], rows)


CASES = {"gpu_mlp": Case(case_gpu_mlp, "1,000,000 x 100 -> (512, 512) -> 10 MLP, batches of 1024 and 256",
                         ("cuda",))}
