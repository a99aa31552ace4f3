"""Benchmarks: skdeep beside a hand-written PyTorch loop, plain skorch and sklearn's MLP.

Every system trains on the same data in the same process (or in fresh
processes, for cold starts), in turns, and each table gives the median of the
interleaved runs and the ratio of medians: the machines are shared and noisy,
and a slow spell hits every system alike.

    python benchmarks/run.py                 # every CPU case, tables to docs/benchmarks-cpu.md
    python benchmarks/run.py tabular small   # some cases, printed only
    python benchmarks/run.py --device cuda   # GPU cases, tables to docs/benchmarks-cuda.md

Cases: ``tabular`` (100,000 x 64, 10 classes, (256, 256), Adam, batch 256, 10
epochs), ``small`` (breast_cancer, (100,), 200 epochs, batch 200, steady state),
``widths`` (the same at widths 16 to 256),
``busy`` (the same beside two CPU-bound processes), ``cold`` (a new process that
imports and fits once), ``onerow`` (one-row predict and predict_proba),
``partial`` (partial_fit on a stream of small batches), ``predict`` (batched
inference), ``ddp`` (two torchrun processes splitting each batch),
``dask_memory`` (a fit streamed from a 480 MB dask array), ``memory`` (1,000,000 x 100 float64, peak
resident memory), ``parallel`` (GridSearchCV over 8 candidates, n_jobs=1 vs 2),
``cnn`` (LeNet on 3x32x32 images), ``vgg`` (five conv blocks with batch norm on
3x32x32 images), ``gpu_mlp`` (1,000,000 x 100 -> (512, 512) -> 10 MLP, for CUDA).
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore", category=ConvergenceWarning)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SKLEARN = "scikit-learn MLPClassifier"


# -- measuring -----------------------------------------------------------------------


def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakMemory:
    """Peak resident memory (MB) above its level at entry, sampled every 20 ms.

    The sampling thread wakes rarely: a thread that takes the GIL every few
    milliseconds slows down the Python-heavy training loops it measures.
    """

    def __enter__(self):
        self.start = self.peak = resident_mb()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, resident_mb())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, resident_mb())
        self.increase = self.peak - self.start


def timed(function):
    """Wall time of one call of ``function()``, and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


# -- the systems ----------------------------------------------------------------------


def mlp_module(n_features, hidden, n_classes):
    layers, width = [], n_features
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, n_classes))


def hand_written_fit(module, X, y, epochs, batch_size, lr, device):
    """The reference loop: tensors converted once, randperm slicing."""
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
    module.eval()
    X = torch.as_tensor(X, dtype=torch.float32)
    outputs = [module(X[start:start + batch_size].to(device)).softmax(dim=1).cpu()
               for start in range(0, len(X), batch_size)]
    return torch.cat(outputs).numpy()


def accuracy(module, X, y, device):
    return float((hand_written_predict(module, X, 4096, device).argmax(axis=1) == y).mean())


def skorch_classifier(module_factory, epochs, batch_size, lr, device):
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        module_factory, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=lr,
        max_epochs=epochs, batch_size=batch_size, train_split=None, iterator_train__shuffle=True,
        device=str(device), verbose=0,
    )


def scikeras_available():
    try:
        import scikeras  # noqa: F401
    except ImportError:
        return False
    return True


# -- cases ----------------------------------------------------------------------------


def tabular_data(n_train=100_000, n_features=64, random_state=0):
    X, y = make_classification(n_samples=n_train + 10_000, n_features=n_features, n_informative=40,
                               n_redundant=10, n_classes=10, n_clusters_per_class=1, class_sep=2.0,
                               random_state=random_state)
    X = StandardScaler().fit_transform(X)
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


TABULAR_ROUNDS = 3


def case_tabular(device):
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
    median = {name: statistics.median(values) for name, values in times.items()}
    rows = [[name, f"{median[name]:.2f} s", f"{len(X_train) * epochs / median[name]:,.0f}",
             f"{scores[name]:.3f}", f"{memory[name]:.0f} MB"] for name in systems]

    def ratio(label, numerator, denominator):
        rows.append([f"**{label}**", f"**{median[numerator] / median[denominator]:.2f}x**", "", "", ""])

    skdeep_name = "skdeep MLPClassifier"
    ratio("skdeep / hand-written", skdeep_name, "hand-written PyTorch loop")
    if device.type == "cpu":
        ratio("sklearn / skdeep", SKLEARN, skdeep_name)
        ratio("sklearn / skdeep bfloat16", SKLEARN, skdeep_name + ", precision='bfloat16'")
    ratio("skorch / skdeep", "skorch NeuralNetClassifier", skdeep_name)
    if device.type == "cuda":
        ratio("skdeep cuda_graph=False / hand-written", skdeep_name + ", cuda_graph=False",
              "hand-written PyTorch loop")
    return (f"Tabular training: 100,000 x 64, 10 classes, (256, 256), Adam, batch 256, 10 epochs "
            f"({TABULAR_ROUNDS} rounds)",
            ["system", "median fit", "samples/s", "test accuracy", "peak memory +"], rows)


def warm_up(device):
    """One short fit of each torch system, so that no timed fit pays one-time costs."""
    import skdeep

    X, y = np.random.RandomState(0).normal(size=(512, 64)), np.arange(512) % 10
    hand_written_fit(mlp_module(64, (256, 256), 10), X, y, 2, 256, 1e-3, device)
    skdeep.MLPClassifier((256, 256), max_iter=2, device=str(device)).fit(X, y)
    skorch_classifier(lambda: mlp_module(64, (256, 256), 10), 2, 256, 1e-3, device).fit(
        X.astype(np.float32), y.astype(np.int64))


def interleaved_times(systems, rounds, block=1, settle=False):
    """Wall times of each of ``systems`` (name -> function), measured in turns; name -> list of seconds.

    Rounds of blocks of ``block`` runs: a slow spell of the machine hits every
    system alike. With ``settle``, the first run of each block is not timed: it
    pays the switch from the previous system (OpenBLAS threads still spinning
    after scikit-learn, for instance).
    """
    times = {name: [] for name in systems}
    for _ in range(rounds):
        for name, function in systems.items():
            if settle:
                function()
            times[name] += [timed(function)[0] for _ in range(block)]
    return times


def median_rows(times, reference, unit="s", scale=1.0, digits=3):
    """Table rows: each system's median, its ratio to ``reference``'s median, and its quartiles."""
    def quartiles(values):
        low, _, high = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
        return f"{low * scale:.{digits}f}-{high * scale:.{digits}f} {unit}"

    median = {name: statistics.median(values) for name, values in times.items()}
    return [[name, f"{median[name] * scale:.{digits}f} {unit}", f"{median[name] / median[reference]:.2f}x",
             quartiles(values)] for name, values in times.items()]


MEDIAN_HEADER = ["system", "median", "vs scikit-learn", "middle half of the runs"]


def compare(systems, reference, rounds, block=1, settle=False):
    """Rows of :func:`median_rows` for ``systems`` timed by :func:`interleaved_times`."""
    return median_rows(interleaved_times(systems, rounds, block, settle), reference)


def small_fit_systems(device, with_others=True):
    """breast_cancer, (100,), 200 epochs, batch 200: scikit-learn's MLP, skdeep's, and the loops beside them."""
    import sklearn.neural_network as sknn

    import skdeep

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_layer_sizes=(100,), batch_size=200, max_iter=200, n_iter_no_change=200, random_state=0)
    systems = {SKLEARN: lambda: sknn.MLPClassifier(**params).fit(X, y),
               "skdeep MLPClassifier": lambda: skdeep.MLPClassifier(device=str(device), **params).fit(X, y)}
    if with_others:
        systems["hand-written PyTorch loop"] = lambda: hand_written_fit(
            mlp_module(30, (100,), 2), X, y, 200, 200, 1e-3, device)
        systems["skorch NeuralNetClassifier"] = lambda: skorch_classifier(
            lambda: mlp_module(30, (100,), 2), 200, 200, 1e-3, device).fit(X.astype(np.float32), y)
    return systems



def case_small(device):
    rows = compare(small_fit_systems(device), SKLEARN, rounds=7, block=3, settle=True)
    return ("Small fits: breast_cancer (569 x 30), (100,), 200 epochs, batch 200 "
            "(7 rounds of 3 runs per system, each round after an untimed run)", MEDIAN_HEADER, rows)


def case_widths(device):
    """The small fit at other widths: where torch's cost per operation outweighs the arithmetic."""
    import sklearn.neural_network as sknn

    import skdeep

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rows = []
    for width in (16, 32, 100, 256):
        params = dict(hidden_layer_sizes=(width,), batch_size=200, max_iter=200, n_iter_no_change=200,
                      random_state=0)
        times = interleaved_times({
            SKLEARN: lambda params=params: sknn.MLPClassifier(**params).fit(X, y),
            "skdeep": lambda params=params: skdeep.MLPClassifier(device=str(device), **params).fit(X, y),
        }, rounds=7, settle=True)
        median = {name: statistics.median(values) for name, values in times.items()}
        rows.append([f"({width},)", f"{median[SKLEARN]:.3f} s", f"{median['skdeep']:.3f} s",
                     f"{median['skdeep'] / median[SKLEARN]:.2f}x"])
    return ("Small fits by width: breast_cancer, one hidden layer, 200 epochs, batch 200 (7 rounds per width, each "
            "run after an untimed one)", ["hidden layer", SKLEARN, "skdeep MLPClassifier", "skdeep / scikit-learn"],
            rows)


_CPU_HOG = "while True: pass"


def case_busy(device):
    """The small fit while two other CPU-bound processes run (a browser, another job, a search's workers)."""
    hogs = [subprocess.Popen([sys.executable, "-c", _CPU_HOG]) for _ in range(2)]
    try:
        time.sleep(1.0)
        rows = compare(small_fit_systems(device, with_others=False), SKLEARN, rounds=9, settle=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return ("Small fits on a busy machine: the same fits while two CPU-bound processes run "
            "(9 rounds of one run per system, each after an untimed run)", MEDIAN_HEADER, rows)


_COLD_CHILD = """
import sys, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
if sys.argv[1] == "skdeep":
    from skdeep import MLPClassifier
else:
    if sys.argv[1] == "sklearn+torch":
        import torch
    from sklearn.neural_network import MLPClassifier
X, y = load_breast_cancer(return_X_y=True)
MLPClassifier((100,), max_iter=20, random_state=0).fit(StandardScaler().fit_transform(X), y)
"""


def case_cold(device):
    """A fresh Python process that imports the library and fits once: what a script or a new worker pays."""
    def fresh_process(library):
        return lambda: subprocess.run([sys.executable, "-c", _COLD_CHILD, library], check=True)

    systems = {SKLEARN: fresh_process("sklearn"), "skdeep MLPClassifier": fresh_process("skdeep"),
               "python -c 'import torch' (for scale)": lambda: subprocess.run([sys.executable, "-c", "import torch"],
                                                                             check=True),
               f"{SKLEARN}, the process also imports torch (for scale)": fresh_process("sklearn+torch")}
    rows = compare(systems, SKLEARN, rounds=9)
    return ("Cold start: a new process imports the estimator and fits breast_cancer once, (100,), 20 epochs "
            "(9 interleaved runs each; the process's whole wall time, its exit included)", MEDIAN_HEADER, rows)


def case_onerow(device):
    """Latency of predict and predict_proba on one row: what a web service pays per request."""
    import sklearn.neural_network as sknn

    import skdeep

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
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
            "per system; time per call)", ["call", "median", "vs scikit-learn", "middle half of the rounds"], rows)


def case_partial(device):
    import sklearn.neural_network as sknn

    import skdeep

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
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
            "(15 alternating runs each)", ["system", "median", "vs hand-written", "middle half of the runs"], rows)


_MEMORY_CHILD = """
import resource, sys, numpy as np, warnings
warnings.simplefilter("ignore")
import skdeep
rng = np.random.RandomState(0)
skdeep.MLPClassifier((64,), max_iter=1).fit(rng.normal(size=(2000, 100)), np.arange(2000) % 2)  # torch's own start-up
X = rng.normal(size=(1_000_000, 100))
y = (X[:, 0] > 0).astype(int)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
skdeep.MLPClassifier((64,), batch_size=1024, max_iter=1, device=sys.argv[1], random_state=0).fit(X, y)
print(X.nbytes / 2**20, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def case_memory(device):
    output = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(device)], capture_output=True,
                            text=True, check=True).stdout.split()
    x_mb, before, after = map(float, output)
    rows = [["X (float64), the user's array", f"{x_mb:.0f} MB"],
            ["one float32 copy of X", f"{x_mb / 2:.0f} MB"],
            ["peak resident memory added by fit", f"{after - before:.0f} MB"]]
    return ("Memory: MLPClassifier((64,)).fit on 1,000,000 x 100 float64 (one epoch, peak RSS above the "
            "level after X was made and torch had started)",
            ["what", "size"], rows)


_DASK_MEMORY_CHILD = """
import sys, time, warnings
warnings.simplefilter("ignore")
import dask.array as da, numpy as np
import skdeep
rng = np.random.RandomState(0)
skdeep.MLPClassifier((64,), max_iter=1).fit(rng.normal(size=(2000, 40)), np.arange(2000) % 2)  # torch's own start-up
X = da.random.RandomState(0).normal(size=(3_000_000, 40), chunks=(100_000, 40)).astype(np.float32)
y = (X[:, 0] + X[:, 1] > 0).astype(int)
X_test = np.asarray(X[:20_000]); y_test = np.asarray(y[:20_000])
def status_mb(field):  # from /proc/self/status, in MB
    line = next(line for line in open("/proc/self/status") if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024

open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts again from the resident size now
before = status_mb("VmRSS")
start = time.perf_counter()
model = skdeep.MLPClassifier((64,), batch_size=1024, max_iter=1, device=sys.argv[1], random_state=0).fit(X, y)
seconds = time.perf_counter() - start
print(X.nbytes / 2**20, status_mb("VmHWM") - before, seconds, model.score(X_test, y_test))
"""


def case_dask_memory(device):
    """Out-of-core training: a 3,000,000 x 40 float32 dask array, streamed block by block."""
    output = subprocess.run([sys.executable, "-c", _DASK_MEMORY_CHILD, str(device)], capture_output=True,
                            text=True, check=True).stdout.split()
    x_mb, added, seconds, score = map(float, output)
    rows = [["X (float32 dask array, 30 blocks of 100,000 rows), never in memory whole", f"{x_mb:.0f} MB"],
            ["peak resident memory added by fit (one epoch)", f"{added:.0f} MB"],
            ["fit time", f"{seconds:.1f} s"], ["accuracy on 20,000 of its rows", f"{score:.3f}"]]
    return ("Out-of-core: MLPClassifier((64,)).fit on a dask array (the peak resident memory during fit above the "
            "resident memory before it)",
            ["what", "value"], rows)


def case_parallel(device):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    import skdeep

    X, y = load_breast_cancer(return_X_y=True)
    grid = {"mlpclassifier__hidden_layer_sizes": [(32,), (64,), (128,), (64, 64)],
            "mlpclassifier__alpha": [1e-4, 1e-2]}
    pipe = make_pipeline(StandardScaler(), skdeep.MLPClassifier(max_iter=300, n_iter_no_change=300,
                                                                device=str(device), random_state=0))
    # joblib keeps its worker processes between calls: start them (and their torch) first
    GridSearchCV(pipe, {"mlpclassifier__max_iter": [1, 2]}, cv=2, n_jobs=2).fit(X, y)
    seconds = {f"n_jobs={n_jobs}": timed(lambda jobs=n_jobs: GridSearchCV(pipe, grid, cv=3, n_jobs=jobs).fit(X, y))[0]
               for n_jobs in (1, 2)}
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        pass
    else:
        environment = dict(os.environ)  # the cluster sets OMP_NUM_THREADS=1 here, for the later cases' processes too
        try:
            with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                    Client(cluster), joblib.parallel_config("dask"):
                GridSearchCV(pipe, {"mlpclassifier__max_iter": [1, 2]}, cv=2, n_jobs=-1).fit(X, y)  # start torch
                seconds["Dask LocalCluster, 2 single-threaded workers"] = timed(
                    lambda: GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y))[0]
        finally:
            os.environ.clear()
            os.environ.update(environment)
    sequential = seconds["n_jobs=1"]
    rows = [[name, f"{value:.2f} s", f"{sequential / value:.2f}x"] for name, value in seconds.items()]
    return (f"Parallel search: GridSearchCV, 8 candidates x 3 folds, breast_cancer, 300 epochs each, "
            f"{os.cpu_count()} cores, worker processes already started",
            ["how", "time", "speed-up"], rows)


_DDP_CHILD = """
import sys, time, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
import torch, torch.distributed as dist
from run import tabular_data
import skdeep
if len(sys.argv) > 3:
    dist.init_process_group("gloo")
torch.set_num_threads(torch.get_num_threads())  # torchrun's OMP_NUM_THREADS, or the default
X_train, X_test, y_train, y_test = tabular_data()
model = skdeep.MLPClassifier((256, 256), batch_size=int(sys.argv[2]), max_iter=3, alpha=0.0, n_iter_no_change=10,
                             random_state=0)
start = time.perf_counter()
model.fit(X_train, y_train)
seconds = time.perf_counter() - start
if not dist.is_initialized() or dist.get_rank() == 0:
    print(seconds, model.score(X_test, y_test), torch.get_num_threads())
if dist.is_initialized():
    dist.destroy_process_group()
"""


def case_ddp(device):
    """Data-parallel training: one process against two torchrun ranks (gloo) splitting each batch."""
    here = str(Path(__file__).resolve().parent)

    script = Path(here) / "_ddp_child.py"

    def single(batch):
        return subprocess.run([sys.executable, str(script), here, str(batch)], capture_output=True, text=True,
                              check=True).stdout.split()

    def two_ranks(batch):
        return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                               str(script), here, str(batch), "ddp"], capture_output=True, text=True,
                              check=True).stdout.split()

    rows = []
    script.write_text(_DDP_CHILD)
    try:
        for batch in (256, 2048):
            results = {"one process": [], "two ranks (torchrun, gloo)": []}
            for _ in range(3):
                for name, run in zip(results, (single, two_ranks), strict=True):
                    results[name].append(run(batch))
            median = {name: statistics.median(float(r[0]) for r in runs) for name, runs in results.items()}
            reference = median["one process"]
            rows += [[f"batch {batch}", name, f"{median[name]:.2f} s", f"{reference / median[name]:.2f}x",
                      runs[-1][1], runs[-1][2]] for name, runs in results.items()]
    finally:
        script.unlink()
    return (f"Data-parallel training: 100,000 x 64, (256, 256), 3 epochs, {os.cpu_count()} cores; each rank "
            "computes half of each batch (median fit time of 3 interleaved runs)",
            ["batch", "how", "fit", "speed-up", "test accuracy", "torch threads per process"], rows)


def lenet(n_classes=10):
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 5, padding="same"), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5, padding="same"), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 8 * 8, 120), torch.nn.ReLU(),
        torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, n_classes))


VGG_FILTERS = (64, 128, 256, 256, 512)


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
    """Learnable 3x32x32 images: the class shifts the pixel mean."""
    rng = np.random.RandomState(random_state)
    y = rng.randint(0, 10, n_images + 2_000)
    X = (rng.normal(size=(len(y), 3, 32, 32)) + y[:, None, None, None] / 5.0).astype(np.float32)
    return X[:n_images], X[n_images:], y[:n_images], y[n_images:]


def cnn_rows(hand_module, architecture, n_images, epochs, batch, device, with_skorch):
    """The hand loop, skdeep in each memory format and with bfloat16, and skorch, on one CNN."""
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


CNN_COLUMNS = ["system", "fit time", "images/s", "test accuracy", "time vs hand-written"]


def case_cnn(device):
    n_images, epochs, batch = (10_000 if device.type == "cpu" else 50_000), 2, 128
    warm_up(device)
    rows = cnn_rows(lenet, dict(conv_filters=(6, 16), kernel_size=5, hidden_layer_sizes=(120, 84)),
                    n_images, epochs, batch, device, with_skorch=True)
    return (f"CNN: LeNet on {n_images:,} x 3x32x32 images, Adam, batch {batch}, {epochs} epochs",
            CNN_COLUMNS, rows)


def case_vgg(device):
    n_images, epochs, batch = (4_096 if device.type == "cpu" else 50_000), 2, 256
    warm_up(device)
    rows = cnn_rows(vgg, dict(conv_filters=VGG_FILTERS, batch_norm=True, hidden_layer_sizes=(256,)),
                    n_images, epochs, batch, device, with_skorch=device.type != "cpu")
    return (f"CNN: VGG-style, 5 conv blocks {VGG_FILTERS} with batch norm, on {n_images:,} x 3x32x32 "
            f"images, Adam, batch {batch}, {epochs} epochs", CNN_COLUMNS, rows)


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
        rows += [[f"batch {batch}", name, f"{n_samples * epochs / value:,.0f}", f"{hand_seconds / value:.2f}x",
                  f"{score:.3f}"] for name, value, score in results]
    return (f"GPU MLP: 1,000,000 x 100 -> (512, 512) -> 10, Adam, {epochs} epochs",
            ["batch", "system", "samples/s", "speed vs hand-written", "accuracy"], rows)


CASES = {"tabular": case_tabular, "small": case_small, "widths": case_widths, "busy": case_busy, "cold": case_cold,
         "onerow": case_onerow,
         "partial": case_partial, "predict": case_predict, "memory": case_memory, "parallel": case_parallel,
         "ddp": case_ddp, "dask_memory": case_dask_memory, "cnn": case_cnn, "vgg": case_vgg,
         "gpu_mlp": case_gpu_mlp}
CPU_CASES = ["tabular", "small", "widths", "busy", "cold", "onerow", "partial", "predict", "memory", "dask_memory",
             "parallel", "ddp", "cnn", "vgg"]


# -- report ---------------------------------------------------------------------------


def markdown_table(title, header, rows):
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine(device):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return (f"{datetime.date.today()}: {cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"any of {list(CASES)}; default: {CPU_CASES} on the CPU, "
                        "tabular, predict, cnn and gpu_mlp on a GPU")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", type=Path, help="write the tables there (default: docs/benchmarks.md "
                        "section for the device, when every case runs)")
    args = parser.parse_args()
    device = torch.device(args.device)
    default_cases = CPU_CASES if device.type == "cpu" else ["tabular", "predict", "cnn", "vgg", "gpu_mlp"]
    args.cases = args.cases or default_cases
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {list(CASES)}")
    title = "GPU" if device.type == "cuda" else "CPU"
    sections = [f"# Benchmark tables: {title}\n", f"Measured {machine(device)}.\n"]
    for name in args.cases:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        section = markdown_table(*CASES[name](device))
        print(section, flush=True)
        sections.append(section)
    output = args.output or (DOCS.with_name(f"benchmarks-{device.type}.md") if args.cases == default_cases else None)
    if output:
        output.write_text("\n".join(sections))
        print(f"written to {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
