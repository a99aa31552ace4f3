"""Tabular training: every system fits the same 100,000 x 64 problem, with its peak memory."""

import numpy as np
import torch

from baselines import SKLEARN, accuracy, hand_written_fit, mlp_module, skorch_classifier, tabular_data, warm_up
from harness import Case, PeakMemory, medians, timed

TABULAR_ROUNDS = 3


def case_tabular(device):
    """100,000 x 64, 10 classes, (256, 256), Adam, batch 256, 10 epochs: fit time, accuracy and memory."""
    import sklearn.neural_network as sknn

    import skdeep

    X_train, X_test, y_train, y_test = tabular_data()
    hidden, epochs, batch, lr = (256, 256), 10, 256, 1e-3
    warm_up(device)

    def hand_written():
        torch.manual_seed(0)
        module = hand_written_fit(mlp_module(64, hidden, 10), X_train, y_train, epochs, batch, lr, device)
        return accuracy(module, X_test, y_test, device)

    def skdeep_fit(**options):
        clf = skdeep.MLPClassifier(hidden, batch_size=batch, max_iter=epochs, learning_rate_init=lr, alpha=0.0,
                                   n_iter_no_change=epochs, device=str(device), random_state=0, **options)
        return clf.fit(X_train, y_train).score(X_test, y_test)

    def skorch_fit():  # skorch needs float32 X and int64 y
        net = skorch_classifier(lambda: mlp_module(64, hidden, 10), epochs, batch, lr, device)
        net.fit(X_train.astype(np.float32), y_train.astype(np.int64))
        return float((net.predict(X_test.astype(np.float32)) == y_test).mean())

    def sklearn_fit():
        sk = sknn.MLPClassifier(hidden, batch_size=batch, max_iter=epochs, learning_rate_init=lr, alpha=0.0,
                                n_iter_no_change=epochs, random_state=0)
        return sk.fit(X_train, y_train).score(X_test, y_test)

    systems = {"hand-written PyTorch loop": hand_written,
               "skdeep MLPClassifier": skdeep_fit,
               "skdeep MLPClassifier, precision='bfloat16'": lambda: skdeep_fit(precision="bfloat16"),
               "skorch NeuralNetClassifier": skorch_fit}
    if device.type == "cpu":
        systems[SKLEARN] = sklearn_fit
    else:  # the defaults capture CUDA graphs on a GPU: the eager step, for comparison
        systems["skdeep MLPClassifier, cuda_graph=False"] = lambda: skdeep_fit(cuda_graph=False)
    times, scores, memory = {name: [] for name in systems}, {}, {}
    for _ in range(TABULAR_ROUNDS):  # whole fits take seconds: rounds of one fit per system
        for name, fit in systems.items():
            with PeakMemory() as peak:
                seconds, scores[name] = timed(fit)
            times[name].append(seconds)
            memory[name] = max(memory.get(name, 0.0), peak.increase)
    median = medians(times)
    rows = [[name, f"{median[name]:.2f} s", f"{len(X_train) * epochs / median[name]:,.0f}",
             f"{scores[name]:.3f}", f"{memory[name]:.0f} MB"] for name in systems]

    def ratio(system, reference):
        rows.append([f"**{system} time vs {reference}**", f"**{median[system] / median[reference]:.2f}x**", "", "",
                     ""])

    skdeep_name = "skdeep MLPClassifier"
    ratio(skdeep_name, "hand-written PyTorch loop")
    if device.type == "cpu":
        ratio(skdeep_name, SKLEARN)
        ratio(skdeep_name + ", precision='bfloat16'", SKLEARN)
    ratio(skdeep_name, "skorch NeuralNetClassifier")
    if device.type == "cuda":
        ratio(skdeep_name + ", cuda_graph=False", "hand-written PyTorch loop")
    return (f"Tabular training: 100,000 x 64, 10 classes, (256, 256), Adam, batch 256, 10 epochs "
            f"({TABULAR_ROUNDS} rounds)",
            ["system", "median fit", "samples/s", "test accuracy", "peak memory +"], rows)


CASES = {"tabular": Case(case_tabular, "100,000 x 64, 10 classes, (256, 256), Adam, batch 256, 10 epochs",
                         ("cpu", "cuda"))}
