"""Which fits of a search stack, in which packs, and their training: the work of skdeep's stacked searches.

For each (candidate, split) fit of a search over a skdeep MLP, bare or the
last step of a :class:`~sklearn.pipeline.Pipeline`, :class:`SearchPacks`
prepares the fit as the estimator's own ``fit`` would (the pipeline's
earlier steps fitted once per their parameters and split), groups the fits
whose networks stack (:func:`skdeep._stacked.pack_key`), trains each group in
packs of at most ``pack_size`` members (:func:`skdeep._stacked.train_stacked`)
and shelves the fitted estimators (:mod:`skdeep._shelf`) for scikit-learn's
search loop to take.
"""

import time
from collections import defaultdict

import joblib
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _safe_split

from skdeep._base import BaseNeuralEstimator
from skdeep._shelf import fit_key
from skdeep._stacked import may_stack, pack_key, train_stacked

#: the memory a CPU pack's training may take ("auto" pack size)
CPU_PACK_BYTES = 1 << 30


def network_step(estimator):
    """The network of a search's estimator: ``(head, name, network)``, or None when it is no skdeep estimator.

    ``head`` is the pipeline of the steps before the network (None for a bare
    estimator or a one-step pipeline), ``name`` the network's step name (None
    for a bare estimator).
    """
    if isinstance(estimator, BaseNeuralEstimator):
        return None, None, estimator
    if isinstance(estimator, Pipeline) and isinstance(estimator.steps[-1][1], BaseNeuralEstimator):
        name, network = estimator.steps[-1]
        return (estimator[:-1] if len(estimator.steps) > 1 else None), name, network
    return None


class SearchPacks:
    """Train the fits of a search's candidates that stack, and shelve them.

    Parameters
    ----------
    estimator : estimator
        The search's estimator (see :func:`network_step`).
    X, y
        The search's data.
    pack_size : int or "auto"
        The most members of a pack; "auto" fills the memory budget of the
        device (:data:`CPU_PACK_BYTES` on the CPU, half the free memory of a
        GPU).
    shelf : skdeep._shelf.Shelf
        Where the trained fits wait for scikit-learn's loop.

    Attributes
    ----------
    stacked_fits : int
        The fits trained in packs so far.
    fit_seconds : dict
        ``(candidate, split) -> seconds``: each stacked fit's share of its
        pack's training time, preparation included.
    """

    def __init__(self, estimator, X, y, pack_size, shelf):
        self.head, self.name, self.network = network_step(estimator)
        self.estimator = estimator
        self.X, self.y = X, y
        self.pack_size = pack_size
        self.shelf = shelf
        self.stacked_fits = 0
        self.fit_seconds = {}
        self._candidates_before = 0

    def train(self, candidate_params, splits):
        """Train and shelve the fits of ``candidate_params`` on ``splits`` (``(train, test)`` pairs) that stack."""
        offset, self._candidates_before = self._candidates_before, self._candidates_before + len(candidate_params)
        started = time.perf_counter()
        prepared = defaultdict(list)  # pack key -> [(fit's position, estimator, run, shelf key)]
        transformed = {}
        for candidate, params in enumerate(candidate_params):
            head_params, network_params = self._split(params)
            if network_params is None:
                continue
            for split, (train, _) in enumerate(splits):
                member = self._prepare(head_params, network_params, split, train, transformed)
                if member is not None:
                    prepared[member[1]].append(((offset + candidate, split), *member[0]))
        seconds_per_fit = (time.perf_counter() - started) / max(1, sum(map(len, prepared.values())))
        for members in prepared.values():
            if len(members) < 2:
                continue  # (a pack of one is a fit of its own)
            for start in range(0, len(members), self._pack_size(members[0][2])):
                self._train_pack(members[start:start + self._pack_size(members[0][2])], seconds_per_fit)

    def _split(self, params):
        """A candidate's parameters of the pipeline's head and of the network (None where it replaces the network)."""
        if self.name is None:
            return {}, params
        prefix = self.name + "__"
        if self.name in params:
            return {}, None
        return ({name: value for name, value in params.items() if not name.startswith(prefix)},
                {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)})

    def _prepare(self, head_params, network_params, split, train, transformed):
        """``((estimator, run, shelf key), pack key)`` of one fit, or None for a fit that does not stack."""
        try:
            estimator = clone(self.network).set_params(**network_params)
        except Exception:  # noqa: BLE001 (scikit-learn's loop meets the error, and handles it)
            return None
        if not may_stack(estimator.get_params(deep=False)):
            return None
        X_train, y_train = _safe_split(self.estimator, self.X, self.y, train)
        if self.head is not None:
            head_key = (_parameters_key(head_params), split)
            if head_key not in transformed:
                try:
                    transformed[head_key] = clone(self.head).set_params(**head_params).fit_transform(X_train, y_train)
                except Exception:  # noqa: BLE001 (scikit-learn's loop meets the error, and handles it)
                    transformed[head_key] = None
            X_train = transformed[head_key]
            if X_train is None:
                return None
        key = fit_key(estimator, X_train, y_train)
        if key is None:
            return None
        try:
            run = estimator._prepare_fit(X_train, y_train)
        except Exception:  # noqa: BLE001 (the fit's own call raises it in scikit-learn's loop)
            return None
        stacks = pack_key(run)
        return None if stacks is None else ((estimator, run, key), stacks)

    def _pack_size(self, run):
        if self.pack_size != "auto":
            return self.pack_size
        device = torch.device(run.net.device)
        budget = torch.cuda.mem_get_info(device)[0] // 2 if device.type == "cuda" else CPU_PACK_BYTES
        needed = member_bytes(run)
        if needed > budget:
            raise MemoryError(
                f"One network of this search needs about {needed / 2**20:.0f} MiB to train in a pack, more than "
                f"the {budget / 2**20:.0f} MiB a pack may take on {device}: set pack_size to a number of "
                "networks, or pack_size=None to train each fit on its own."
            )
        return max(2, budget // needed)

    def _train_pack(self, members, seconds_per_fit):
        started = time.perf_counter()
        errors = train_stacked([run for _, _, run, _ in members])
        for (_, estimator, run, key), error in zip(members, errors, strict=True):
            if error is None:
                try:
                    estimator._record_run(run)
                except Exception:  # noqa: BLE001 (the fit's own call raises it in scikit-learn's loop)
                    continue
                self.shelf.put(key, estimator)
                self.stacked_fits += 1
        share = (time.perf_counter() - started) / len(members) + seconds_per_fit
        self.fit_seconds.update({position: share for position, _, _, _ in members})


def _parameters_key(params):
    """A hashable key of a dict of parameters (their repr where they cannot be hashed)."""
    try:
        return joblib.hash(params)
    except Exception:  # noqa: BLE001 (pickling a parameter can fail in any way)
        return repr(sorted(params.items()))


def member_bytes(run):
    """About the memory one member of a pack takes to train: weights, optimizer state, activations and rows."""
    module, plan = run.net.module_, run.plan
    itemsize = torch.empty((), dtype=plan.dtype).element_size()
    layers = module.linear_layers
    parameters = sum(layer.weight.numel() + layer.bias.numel() for layer in layers)
    activations = plan.batch_size * (layers[0].in_features + 3 * sum(layer.out_features for layer in layers))
    rows = len(run.train_data) * (layers[0].in_features + 2)
    return itemsize * (6 * parameters + 4 * activations + rows)
