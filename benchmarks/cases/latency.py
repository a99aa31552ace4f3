"""Calls after the fit: one-row predictions, a stream of partial_fit calls, and batched inference."""

import numpy as np

from baselines import SKLEARN, digits_data, hand_written_predict, tabular_data
from harness import MEDIAN_HEADER, Case, compare, interleaved_times, median_rows


def case_onerow(device):
    """Latency of predict and predict_proba on one row: what a web service pays per request."""
    import sklearn.neural_network as sknn

    import skdeep

    X, y = digits_data()
    fitted = {SKLEARN: sknn.MLPClassifier((100,), max_iter=50, random_state=0).fit(X, y),
              "skdeep MLPClassifier": skdeep.MLPClassifier((100,), max_iter=50, random_state=0).fit(X, y)}
    row, calls = X[:1], 1000

    def per_call(method):
        return lambda: [method(row) for _ in range(calls)]

    rows = []
    for method in ("predict", "predict_proba"):
        systems = {name: per_call(getattr(model, method)) for name, model in fitted.items()}
        times = interleaved_times(systems, rounds=9, settle=True)
        rows += [[f"{name}.{method}", *cells] for name, *cells in median_rows(times, SKLEARN, "µs", 1e6 / calls, 0)]
    return ("One-row predictions: digits (64 features), (100,) network (9 interleaved rounds of 1,000 calls "
            "per system; time per call)", ["call", "median", "time vs scikit-learn", "middle half of the rounds"], rows)


def case_partial(device):
    """partial_fit over a stream of 100-row batches, each call on a model that keeps what it learnt."""
    import sklearn.neural_network as sknn

    import skdeep

    X, y = digits_data()
    batches = [(X[start:start + 100], y[start:start + 100]) for start in range(0, 1700, 100)]
    params = dict(hidden_layer_sizes=(256, 256), random_state=0)

    def stream(make):  # one pass of partial_fit calls over 17 batches of 100 rows
        model = make()
        for X_batch, y_batch in batches:
            model.partial_fit(X_batch, y_batch, classes=np.arange(10))

    rows = compare({
        SKLEARN: lambda: stream(lambda: sknn.MLPClassifier(**params)),
        "skdeep MLPClassifier": lambda: stream(lambda: skdeep.MLPClassifier(device=str(device), **params)),
    }, SKLEARN, rounds=7, block=1, settle=True)
    return ("partial_fit: 17 calls on 100-row batches of digits, (256, 256) (each call also keeps a copy of "
            "the weights and optimizer state, to restore on failure; 7 rounds, each after an untimed one)",
            MEDIAN_HEADER, rows)


def case_predict(device):
    """predict_proba on 200,000 rows beside a hand-written ``torch.no_grad()`` loop over the same network."""
    import skdeep

    X_train, X_test, y_train, _ = tabular_data(n_train=20_000)
    X_big = np.tile(X_test, (20, 1))  # 200,000 rows
    clf = skdeep.MLPClassifier((256, 256), max_iter=1, device=str(device), random_state=0).fit(X_train, y_train)
    reference = "hand-written torch.no_grad() loop, batch 4096"
    rows = compare({
        reference: lambda: hand_written_predict(clf.module_, X_big, 4096, device),
        "skdeep predict_proba": lambda: clf.predict_proba(X_big),
    }, reference, rounds=15)
    return ("Prediction: predict_proba on 200,000 x 64 float64 rows, (256, 256) network "
            "(15 alternating runs each)", ["system", "median", "time vs hand-written", "middle half of the runs"], rows)


CASES = {"onerow": Case(case_onerow, "one-row predict and predict_proba, per call", ("cpu",)),
         "partial": Case(case_partial, "partial_fit on a stream of small batches", ("cpu",)),
         "predict": Case(case_predict, "batched inference: predict_proba on 200,000 rows", ("cpu", "cuda"))}
