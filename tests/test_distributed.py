"""Data-parallel training in a torch.distributed process group: two CPU processes (gloo) launched by torchrun."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.distributed
from sklearn.datasets import make_classification

from skdeep import MLPClassifier
from skdeep._net import SkdeepNet
from skdeep._plan import DataSummary, TrainingCall, plan_training

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")

PARAMS = dict(hidden_layer_sizes=(16,), batch_size=100, max_iter=8, alpha=1e-3, precision="float64",
              n_iter_no_change=100)

_RANK = """
import json, sys, warnings
import numpy as np
import torch.distributed as dist
from sklearn.datasets import make_classification
from skdeep import MLPClassifier
from skdeep._net import SkdeepNet

warnings.simplefilter("ignore")
dist.init_process_group("{backend}")
rank = dist.get_rank()
if "{backend}" == "nccl":
    import torch
    torch.cuda.set_device(rank)  # NCCL's collectives run on the current GPU
rows_seen = [0]
infer = SkdeepNet.infer

def counting_infer(self, x, **kwargs):
    if self.module_.training:
        rows_seen[0] += x.shape[0]
    return infer(self, x, **kwargs)

SkdeepNet.infer = counting_infer
X, y = make_classification(n_samples={n_samples}, n_features=6, random_state=0)
if {different_data} and rank == 1:
    X = X[:-1]
    y = y[:-1]
weight = np.random.RandomState(1).uniform(0.2, 2.0, size=len(y))
try:
    device = "cpu" if "{backend}" == "gloo" else f"cuda:{{rank}}"
    model = MLPClassifier(**{params}, device=device).fit(X, y, sample_weight=weight if {weighted} else None)
except ValueError as error:
    print(json.dumps({{"rank": rank, "error": str(error)}}))
    dist.destroy_process_group()
    sys.exit(0)
np.savez(sys.argv[1] + f"/rank{{rank}}.npz", proba=model.predict_proba(X), coef=model.coefs_[0],
         loss_curve=model.loss_curve_, rows=rows_seen[0])
print(json.dumps({{"rank": rank}}))
dist.destroy_process_group()
"""


def _run_ranks(tmp_path, *, n_samples=500, weighted=False, different_data=False, backend="gloo", **params):
    script = tmp_path / "rank.py"
    script.write_text(textwrap.dedent(_RANK).format(n_samples=n_samples, params={**PARAMS, **params},
                                                    weighted=weighted, different_data=different_data,
                                                    backend=backend))
    completed = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                                str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout, [np.load(tmp_path / f"rank{rank}.npz") for rank in (0, 1)] if not different_data else []


@pytest.mark.parametrize("weighted", [False, True])
def test_two_ranks_train_the_model_of_one_process_each_on_half_the_rows(tmp_path, weighted):
    X, y = make_classification(n_samples=500, n_features=6, random_state=0)
    weight = np.random.RandomState(1).uniform(0.2, 2.0, size=len(y)) if weighted else None
    alone = MLPClassifier(**PARAMS, random_state=0).fit(X, y, sample_weight=weight)
    _, ranks = _run_ranks(tmp_path, weighted=weighted, random_state=0)
    for rank in ranks:
        np.testing.assert_allclose(rank["coef"], alone.coefs_[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(rank["loss_curve"], alone.loss_curve_, rtol=1e-6)
        np.testing.assert_allclose(rank["proba"], alone.predict_proba(X), rtol=1e-6, atol=1e-9)
        assert int(rank["rows"]) == 500 * PARAMS["max_iter"] // 2  # each rank's share of every batch


def test_ranks_agree_without_a_random_state_and_with_early_stopping(tmp_path):
    _, (first, second) = _run_ranks(tmp_path, early_stopping=True, n_iter_no_change=2, max_iter=30)
    np.testing.assert_array_equal(first["coef"], second["coef"])
    np.testing.assert_array_equal(first["loss_curve"], second["loss_curve"])


def test_batch_norm_statistics_agree_across_ranks(tmp_path):
    _, (first, second) = _run_ranks(tmp_path, batch_norm=True, random_state=0)
    np.testing.assert_array_equal(first["proba"], second["proba"])


def test_different_data_on_the_ranks_is_refused(tmp_path):
    output, _ = _run_ranks(tmp_path, different_data=True, random_state=0)
    assert output.count("needs the same X, y and sample_weight on every rank") == 2


def test_outside_a_process_group_nothing_changes():
    assert not torch.distributed.is_initialized()
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    model = MLPClassifier(**PARAMS, random_state=0).fit(X, y)
    assert model.net_.data_parallel is None and isinstance(model.net_, SkdeepNet)


_RESUMING_RANK = """
import sys, warnings
import numpy as np
import torch.distributed as dist
from sklearn.datasets import make_classification
from skdeep import MLPClassifier
from skdeep._checkpoint import TrainingCheckpoint

warnings.simplefilter("ignore")
dist.init_process_group("gloo")
rank, folder = dist.get_rank(), sys.argv[1]
X, y = make_classification(n_samples=500, n_features=6, random_state=0)
write = TrainingCheckpoint.on_epoch_end

def write_then_stop(self, net, **kwargs):  # Ctrl-C on every rank once epoch 2 is saved
    write(self, net, **kwargs)
    if len(net.history) == 2:
        raise KeyboardInterrupt

TrainingCheckpoint.on_epoch_end = write_then_stop
try:
    MLPClassifier(**{params}, checkpoint=folder + "/fit.ckpt").fit(X, y)
except KeyboardInterrupt:
    pass
TrainingCheckpoint.on_epoch_end = write
# rank 1 looks where rank 0 did not write: storage the ranks do not share
elsewhere = folder + "/fit.ckpt" if rank == 0 else folder + "/elsewhere.ckpt"
try:
    MLPClassifier(**{params}, checkpoint=elsewhere).fit(X, y)
except ValueError as error:
    open(folder + f"/rank{{rank}}.error", "w").write(str(error))
model = MLPClassifier(**{params}, checkpoint=folder + "/fit.ckpt").fit(X, y)  # shared: both resume
np.savez(folder + f"/rank{{rank}}.npz", coef=model.coefs_[0], loss_curve=model.loss_curve_)
dist.destroy_process_group()
"""


def test_ranks_resume_from_a_shared_checkpoint_and_refuse_to_disagree_on_one(tmp_path):
    X, y = make_classification(n_samples=500, n_features=6, random_state=0)
    alone = MLPClassifier(**PARAMS, random_state=0).fit(X, y)
    script = tmp_path / "rank.py"
    script.write_text(textwrap.dedent(_RESUMING_RANK).format(params={**PARAMS, "random_state": 0}))
    completed = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                                str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    for rank in (0, 1):
        assert "disagree on the epoch to resume from checkpoint=" in (tmp_path / f"rank{rank}.error").read_text()
        resumed = np.load(tmp_path / f"rank{rank}.npz")
        np.testing.assert_allclose(resumed["coef"], alone.coefs_[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(resumed["loss_curve"], alone.loss_curve_, rtol=1e-6)
    assert not (tmp_path / "fit.ckpt").exists()  # removed once the resumed fit finished


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_two_gpus_with_nccl_train_the_model_of_one_process(tmp_path):
    X, y = make_classification(n_samples=500, n_features=6, random_state=0)
    alone = MLPClassifier(**PARAMS, random_state=0, device="cuda:0").fit(X, y)
    _, ranks = _run_ranks(tmp_path, backend="nccl", random_state=0)
    for rank in ranks:
        np.testing.assert_allclose(rank["coef"], alone.coefs_[0], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n_train, batch_size, refused", [(403, 200, True), (400, 200, False), (401, 200, False),
                                                          (10, 3, True), (12, 4, False)])
def test_batch_norm_shares_of_one_row_are_refused_before_training(n_train, batch_size, refused):
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    params = MLPClassifier(batch_size=batch_size, batch_norm=True).get_params()
    plan = plan_training(params, DataSummary(n_train), TrainingCall(ranks=2), torch.device("cpu"))
    if refused:
        with pytest.raises(ValueError, match="over 2 ranks leave shares of fewer than 2 rows"):
            plan.for_module(module)
    else:
        assert plan.for_module(module).fold_single_batch
