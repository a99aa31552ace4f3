"""Which fits of a search stack, in which packs, and their training: the work of skdeep's stacked searches.

For each (candidate, split) fit of a search over a skdeep MLP, bare or the
last step of a :class:`~sklearn.pipeline.Pipeline`, :class:`SearchPacks`
prepares the fit as the estimator's own ``fit`` would (the pipeline's
earlier steps fitted once per their parameters and split), groups the fits
whose networks stack (:func:`skdeep._stacked.pack_key`), trains each group in
packs of at most ``pack_size`` members (:func:`skdeep._stacked.train_stacked`)
and shelves the fitted estimators (:mod:`skdeep._shelf`) for scikit-learn's
search loop to take. A fit that repeats an earlier one of the search (the
same parameters, seed and data) is not trained again: it is shelved as a copy
of the earlier one, so that the two score alike, as in scikit-learn's loop.
"""

import copy
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
CPU_PACK_BYTES = 256 << 20


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

    Fits are prepared one after the other and trained as soon as a pack is
    full, so that no more than a pack's worth of prepared fits (per pack key)
    waits at a time; the pipeline's earlier steps are fitted once per their
    parameters and split.

    Parameters
    ----------
    estimator : estimator
        The search's estimator (see :func:`network_step`).
    X, y
        The search's data.
    pack_size : int or "auto"
        The most members of a pack; "auto" fills the device's budget
        (:func:`pack_budget`), and a network over it alone trains on its own.
    shelf : skdeep._shelf.Shelf
        Where the trained fits wait for scikit-learn's loop, tagged with
        their ``(candidate, split)``.

    Attributes
    ----------
    fit_seconds : dict
        ``(candidate, split) -> seconds``: each stacked fit's preparation and
        share of its pack's training time.
    """

    def __init__(self, estimator, X, y, pack_size, shelf):
        self.head, self.name, self.network = network_step(estimator)
        self.estimator = estimator
        self.X, self.y = X, y
        self.pack_size = pack_size
        self.shelf = shelf
        self.fit_seconds = {}
        self._candidates_before = 0

    def train(self, candidate_params, splits):
        """Train and shelve the fits of ``candidate_params`` on ``splits`` (``(train, test)`` pairs) that stack."""
        offset, self._candidates_before = self._candidates_before, self._candidates_before + len(candidate_params)
        pending = defaultdict(list)  # pack key -> [(position, estimator, run, shelf key, preparation seconds)]
        repeats = _RepeatedFits(self.shelf, self.fit_seconds)
        for split, (train, _) in enumerate(splits):
            split_rows = {}  # the network's training rows on this split, per the pipeline head's parameters
            for candidate, params in enumerate(candidate_params):
                started = time.perf_counter()
                position = (offset + candidate, split)
                fit = self._fit(params, train, split_rows)
                if fit is None or repeats.repeat(position, *fit, time.perf_counter() - started):
                    continue
                prepared = _prepared(*fit)
                if prepared is None:
                    continue
                (estimator, run, key), stacks = prepared
                size = self._pack_size(run)
                if size is None:
                    continue  # (a network over the budget alone trains on its own)
                pending[stacks].append((position, estimator, run, key, time.perf_counter() - started))
                if len(pending[stacks]) >= size:
                    self._train_pack(pending.pop(stacks), repeats)
        for members in pending.values():
            # (a pack of one is a fit of its own, unless it has repeats, which take copies of it)
            if len(members) > 1 or repeats.awaited(members[0][3]):
                self._train_pack(members, repeats)

    def _fit(self, params, train, split_rows):
        """``(estimator, (X_train, y_train), shelf key)`` of one fit, or None for a fit that does not stack.

        The parameters' values are cloned, as scikit-learn's loop clones
        them: a random state or a transformer in the grid stays as given.
        """
        head_params, network_params = self._split(params)
        if network_params is None:
            return None
        try:
            estimator = clone(self.network).set_params(**clone(network_params, safe=False))
        except Exception:  # noqa: BLE001 (scikit-learn's loop meets the error, and handles it)
            return None
        if not may_stack(estimator.get_params(deep=False)) or getattr(estimator, "_skl_callbacks", None):
            return None
        rows = self._training_rows(train, head_params, split_rows)
        if rows is None:
            return None
        key = fit_key(estimator, *rows)
        return None if key is None else (estimator, rows, key)

    def _training_rows(self, train, head_params, split_rows):
        """The network's training rows ``(X, y)`` on the split of ``train``: the split's, or the head's output of them.

        They are made once per split and head parameters (in ``split_rows``),
        and shared by the candidates. The head fits on a copy of the split's
        rows of its own, as in scikit-learn's loop: a head that transforms
        in place (``copy=False``) leaves the other candidates' rows as they
        were. None where the head fails.
        """
        key = None if self.head is None else _parameters_key(head_params)
        if key not in split_rows:
            X_train, y_train = _safe_split(self.estimator, self.X, self.y, train)
            if self.head is not None:
                try:
                    head = clone(self.head).set_params(**clone(head_params, safe=False))
                    X_train = head.fit_transform(X_train, y_train)
                except Exception:  # noqa: BLE001 (scikit-learn's loop meets the error, and handles it)
                    X_train = None
            split_rows[key] = None if X_train is None else (X_train, y_train)
        return split_rows[key]

    def _split(self, params):
        """A candidate's parameters of the pipeline's head and of the network (None where it replaces the network)."""
        if self.name is None:
            return {}, params
        prefix = self.name + "__"
        if self.name in params:
            return {}, None
        return ({name: value for name, value in params.items() if not name.startswith(prefix)},
                {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)})

    def _pack_size(self, run):
        """The pack size for fits like ``run``; None where one alone is over the "auto" budget.

        Raises
        ------
        MemoryError
            If packs of the ``pack_size`` parameter do not fit the device's
            free memory.
        """
        needed = member_bytes(run)
        device = torch.device(run.net.device)
        if self.pack_size == "auto":
            count = pack_budget(device) // needed
            return count if count > 1 else None
        free = free_memory(device)
        if free is not None and self.pack_size * needed > free:
            raise MemoryError(
                f"pack_size={self.pack_size} networks of this search need about "
                f"{self.pack_size * needed / 2**20:.0f} MiB to train together, more than the {free / 2**20:.0f} "
                f"MiB free on {device}: set a smaller pack_size, or pack_size='auto', which fits the packs to "
                "the memory."
            )
        return self.pack_size

    def _train_pack(self, members, repeats):
        started = time.perf_counter()
        errors = train_stacked([run for _, _, run, _, _ in members])
        trained = []
        for (position, estimator, run, key, _), error in zip(members, errors, strict=True):
            if error is None:
                try:
                    estimator._record_run(run)
                except Exception:  # noqa: BLE001 (the fit's own call raises it in scikit-learn's loop)
                    continue
                self.shelf.put(key, estimator, tag=position)
                trained.append((estimator, key))
        share = (time.perf_counter() - started) / len(members)
        self.fit_seconds.update({position: share + prepared for position, _, _, _, prepared in members})
        for estimator, key in trained:
            repeats.trained(estimator, key)


def _prepared(estimator, rows, key):
    """``((estimator, run, shelf key), pack key)`` of a fit prepared as its ``fit`` prepares it, or None."""
    try:
        run = estimator._prepare_fit(*rows)
    except Exception:  # noqa: BLE001 (the fit's own call raises it in scikit-learn's loop)
        return None
    stacks = pack_key(run)
    return None if stacks is None else ((estimator, run, key), stacks)


class _RepeatedFits:
    """The fits of a search that repeat an earlier one: the same parameters, seed and data (the same shelf key).

    scikit-learn's loop trains each again and gets the same network, so
    they score alike (and tie in the ranks). A pack's members can differ in
    their last bits with their places in the pack, so a repeat is not
    trained: it is shelved as a copy of the fit it repeats, once that one is
    trained. A fit without a seed (``random_state=None``) repeats none: each
    draws its own.
    """

    def __init__(self, shelf, fit_seconds):
        self._shelf = shelf
        self._fit_seconds = fit_seconds
        self._waiting = {}  # shelf key -> [(position, seconds so far)] of the repeats of a fit not trained yet
        self._trained = {}  # shelf key -> trained estimator

    def repeat(self, position, estimator, rows, key, seconds):
        """Whether the fit at ``position`` repeats an earlier one; if so, it is shelved as its copy.

        ``seconds`` were spent on the fit so far (its clone, its rows, its
        key); its fit time is those and its copy's.
        """
        if estimator.random_state is None:
            return False
        if key in self._trained:
            self._shelve_copy(position, key, seconds)
        elif key in self._waiting:
            self._waiting[key].append((position, seconds))
        else:
            self._waiting[key] = []
            return False
        return True

    def awaited(self, key):
        """Whether repeats wait for the fit of ``key``."""
        return bool(self._waiting.get(key))

    def trained(self, estimator, key):
        """``estimator``, the fit of ``key``, was trained and shelved: shelve its repeats."""
        self._trained[key] = estimator
        for position, seconds in self._waiting.pop(key, []):
            self._shelve_copy(position, key, seconds)

    def _shelve_copy(self, position, key, seconds):
        """Shelve a copy of the trained fit of ``key`` for the repeat at ``position``."""
        started = time.perf_counter()
        self._shelf.put(key, copy.deepcopy(self._trained[key]), tag=position)
        self._fit_seconds[position] = seconds + time.perf_counter() - started


def pack_budget(device):
    """The memory a pack may take on ``device`` ("auto"): half a GPU's free memory, or :data:`CPU_PACK_BYTES`."""
    free = free_memory(device)
    return CPU_PACK_BYTES if free is None else free // 2


def free_memory(device):
    """The free memory of a GPU ``device``, in bytes; None for the CPU, whose memory the system shares."""
    return torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None


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
    rows = 2 * len(run.train_data) * (layers[0].in_features + 2)  # (the fit's own, then the pack's)
    return itemsize * (6 * parameters + 4 * activations + rows)
