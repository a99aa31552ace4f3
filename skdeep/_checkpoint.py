"""Resumable fits: the training state, written every few epochs and read back by the next ``fit``.

With ``checkpoint`` set, :class:`TrainingCheckpoint` (one of the callbacks of
a training call) writes everything the next epochs read after every
``checkpoint_every`` epochs: the module's weights and buffers, the optimizer's
state (the learning rate included), the shuffling generator, torch's global
generators when training draws from them (dropout), the stopping rule's
curves, counts and best weights, the schedules' samples seen, the history,
and the estimator's random state as it was at the start of the fit (from
which the validation split and the random draws follow). A later ``fit``
of the same estimator class, with the same parameters, on the same data,
restores it and runs the remaining epochs only, ending with the model an
uninterrupted fit gives.

A checkpoint holds no code: it is a numpy ``.npz`` archive of arrays (tensors
as their bytes) with one JSON entry for the rest, read with
``allow_pickle=False``. It is written to a temporary file in the same
directory, flushed to disk, then renamed over the previous one
(:func:`os.replace`), so that a killed process leaves either the previous
checkpoint or the new one, never a part of one.
"""

import contextlib
import json
import os
import pickle
import tempfile
import warnings

import joblib
import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from skdeep._dask import BlockRows
from skdeep._optim import load_optimizer_state
from skdeep._random import draws_from_global_generators

#: version of the layout below; a checkpoint of another version is not resumed from
FORMAT = 1
#: parameters that do not change the model, and may differ between the interrupted fit and the resumed one
IGNORED_PARAMETERS = ("verbose", "checkpoint", "checkpoint_every")
_MARKERS = frozenset({"__tensor__", "__array__", "__scalar__", "__tuple__", "__dict__"})
_TREE = "tree"


def fit_identity(estimator, X, y, sample_weight):
    """What a checkpoint must have been written by to be resumed from: estimator class, parameters, data.

    Parameters are compared by a hash of each (so that a mismatch can be
    named), the data by its shapes and one hash of the validated ``X``, the
    encoded ``y`` and ``sample_weight`` (:func:`joblib.hash`).

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
    X, y, sample_weight : array-like
        The validated training data.

    Returns
    -------
    identity : dict
        JSON values only.
    """
    parameters = {name: _hash(value) for name, value in sorted(estimator.get_params(deep=False).items())
                  if name not in IGNORED_PARAMETERS}
    data = (X, y, sample_weight)
    # X streamed from dask is named by its graph's deterministic token, computing nothing
    contents = (X.blocks.name if isinstance(X, BlockRows) else X, y, sample_weight)
    return {
        "format": FORMAT,
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "parameters": parameters,
        "data": {"shapes": [list(array.shape) for array in data], "hash": joblib.hash(contents)},
    }


def _hash(value):
    try:
        return joblib.hash(value)
    except (pickle.PicklingError, TypeError, AttributeError):  # a lambda, a lock: equal only to itself, by its repr
        return joblib.hash(repr(value))


def write_checkpoint(path, tree):
    """Write ``tree`` (tensors, arrays and JSON values, in dicts, lists and tuples) to ``path`` atomically.

    The file is written next to ``path`` under a temporary name, flushed and
    synced to disk, then renamed to ``path``: a process killed at any moment
    leaves the previous file whole.

    Parameters
    ----------
    path : str or os.PathLike
    tree : object
    """
    arrays = {}
    arrays[_TREE] = np.frombuffer(json.dumps(_encode(tree, arrays)).encode(), dtype=np.uint8)
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise
    _sync_directory(directory)


def _sync_directory(directory):
    """Make a rename in ``directory`` durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def read_checkpoint(path):
    """The tree written by :func:`write_checkpoint` to ``path`` (no pickled object is read).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    tree : object

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from skdeep._checkpoint import read_checkpoint, write_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "fit.ckpt")
    >>> write_checkpoint(path, {"epoch": 3, "weights": torch.ones(2, dtype=torch.float64)})
    >>> tree = read_checkpoint(path)
    >>> tree["epoch"], tree["weights"]
    (3, tensor([1., 1.], dtype=torch.float64))
    """
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return _decode(json.loads(arrays.pop(_TREE).tobytes().decode()), arrays)


def _encode(value, arrays):
    """``value`` as JSON values, its tensors and arrays moved to ``arrays`` (tensors as their bytes)."""
    if torch.is_tensor(value):
        tensor = value.detach().cpu().contiguous()
        name = f"a{len(arrays)}"
        arrays[name] = tensor.reshape(-1).view(torch.uint8).numpy()
        return {"__tensor__": name, "dtype": str(tensor.dtype).removeprefix("torch."), "shape": list(tensor.shape)}
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, np.generic):  # (before float: numpy's float64 is one)
        return {"__scalar__": value.dtype.str, "value": value.item()}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not _MARKERS & value.keys():
            return {key: _encode(item, arrays) for key, item in value.items()}
        return {"__dict__": [[_encode(key, arrays), _encode(item, arrays)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item, arrays) for item in value]}
    if isinstance(value, list):
        return [_encode(item, arrays) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"A checkpoint cannot hold a {type(value).__name__}.")


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(item, arrays) for item in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        dtype = getattr(torch, value["dtype"])
        return torch.from_numpy(arrays[value["__tensor__"]].copy()).view(dtype).reshape(value["shape"])
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__scalar__" in value:
        return np.dtype(value["__scalar__"]).type(value["value"])
    if "__tuple__" in value:
        return tuple(_decode(item, arrays) for item in value["__tuple__"])
    if "__dict__" in value:
        return {_decode(key, arrays): _decode(item, arrays) for key, item in value["__dict__"]}
    return {key: _decode(item, arrays) for key, item in value.items()}


def _global_generator_states(device):
    """The states of torch's global generators that training on ``device`` draws from."""
    states = {"cpu": torch.random.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        states["mps"] = torch.mps.get_rng_state()
    return states


def _set_global_generator_states(states, device):
    torch.random.set_rng_state(states["cpu"])
    if "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)
    elif "mps" in states:
        torch.mps.set_rng_state(states["mps"])


class TrainingCheckpoint(Callback):
    """Write the training state every ``every`` epochs to ``path``; restore it at the next fit.

    It runs after the stopping rule at each epoch end, so that an epoch's
    state is written once all its records are. Callbacks with state of their
    own (the learning-rate schedule, the convergence monitor) give it by
    their ``state_dict`` and take it back by ``load_state_dict``.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    every : int
        Write after every ``every`` epochs.
    identity : dict
        What the fit is (:func:`fit_identity`): a checkpoint of another fit is
        not resumed from.
    own_module : bool
        Whether training draws random numbers only in the dropout of skdeep's
        modules, with no module or ``augment`` of the user's (see
        :func:`skdeep._random.draws_from_global_generators`).
    data_parallel : skdeep._distributed.DataParallel, default=None
        This process's part in data-parallel training: rank 0 alone writes,
        and every rank must resume from the same epoch.
    """

    def __init__(self, path, every, identity, own_module, data_parallel=None):
        self.path = path
        self.every = every
        self.identity = identity
        self.own_module = own_module
        self.data_parallel = data_parallel
        self.random_state = None

    @classmethod
    def for_fit(cls, estimator, X, y, sample_weight, data_parallel=None):
        """The checkpoint of ``estimator``'s fit on validated data, its path checked writable where it writes.

        Parameters
        ----------
        estimator : skdeep._base.BaseNeuralEstimator
            Its ``checkpoint`` and ``checkpoint_every`` say where and how often.
        X, y, sample_weight : array-like
            The validated training data.
        data_parallel : skdeep._distributed.DataParallel, default=None

        Returns
        -------
        checkpoint : TrainingCheckpoint
        """
        checkpoint = cls(estimator.checkpoint, estimator.checkpoint_every, fit_identity(estimator, X, y, sample_weight),
                         own_module=estimator._draws_only_in_dropout(), data_parallel=data_parallel)
        if checkpoint.writes:
            checkpoint.check_writable()
        return checkpoint

    @property
    def writes(self):
        """Whether this process writes the checkpoint (in data-parallel training, rank 0 alone does)."""
        return self.data_parallel is None or self.data_parallel.rank == 0

    def check_writable(self):
        """Refuse, before training, a path whose checkpoints could not be written (naming the parameter)."""
        path = os.path.abspath(os.fspath(self.path))
        folder = os.path.dirname(path)
        if os.path.isdir(path):
            problem = "is a folder; name a file in it"
        elif not os.path.isdir(folder):
            problem = f"is in a folder that does not exist ({folder!r}); create it first"
        elif not os.access(folder, os.W_OK | os.X_OK):
            problem = f"is in a folder this process cannot write to ({folder!r})"
        else:
            return
        raise ValueError(f"checkpoint={os.fspath(self.path)!r} {problem}: the checkpoint file is written there "
                         "during fit.")

    def resume(self, random_state):
        """Read the checkpoint of this fit, if there is one; None otherwise.

        With one, ``random_state`` is set to the state it had at the start
        of the interrupted fit (in data-parallel training, every rank must
        find the same checkpoint), so that the validation split and every random
        draw come out as they did; otherwise its state is kept to be written. A
        checkpoint of another fit, or an unreadable file, is ignored with a
        warning (the next write replaces it).

        Parameters
        ----------
        random_state : numpy.random.RandomState
            The estimator's random state, before this fit draws from it.

        Returns
        -------
        saved : dict or None
        """
        saved = self._read()
        if saved is None:
            self.random_state = random_state.get_state()
        else:
            self.random_state = saved["random_state"]
            random_state.set_state(self.random_state)
        if self.data_parallel is not None:
            self.data_parallel.check_agreement(
                -1 if saved is None else saved["epoch"],
                f"the epoch to resume from checkpoint={os.fspath(self.path)!r} (rank 0 writes it: every rank must "
                "read it from storage they share)")
        return saved

    def _read(self):
        if not os.path.exists(self.path):
            return None
        try:
            saved = read_checkpoint(self.path)
            reason = self._mismatch(saved["identity"])
        except Exception as error:  # a file that is not a checkpoint, or a damaged one
            reason = f"it cannot be read ({type(error).__name__}: {error})"
        if reason is None:
            return saved
        warnings.warn(f"The checkpoint {os.fspath(self.path)!r} is ignored, and will be overwritten: {reason}.",
                      UserWarning, stacklevel=2)
        return None

    def _mismatch(self, identity):
        """Why a checkpoint written by the fit ``identity`` is not this fit's, or None."""
        if identity.get("format") != FORMAT:
            return f"it has format {identity.get('format')}, this version of skdeep reads {FORMAT}"
        if identity["estimator"] != self.identity["estimator"]:
            return f"it was written by a fit of {identity['estimator']}"
        ours, theirs = self.identity["parameters"], identity["parameters"]
        changed = sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name))
        if changed:
            return f"it was written by a fit with other values of {changed}"
        if identity["data"] != self.identity["data"]:
            return "it was written by a fit on other data (X, y or sample_weight)"
        return None

    def restore(self, net, saved):
        """Put ``net`` and its callbacks in the state ``saved``; return the number of epochs it had run.

        Call it before training, inside the training's seeded block (it sets
        torch's global generators when training draws from them).
        """
        net.module_.load_state_dict(saved["module"])
        load_optimizer_state(net.optimizer_, saved["optimizer"])
        net.generator.set_state(saved["generator"])
        if saved["global_generators"] is not None:
            _set_global_generator_states(saved["global_generators"], torch.device(net.device))
        callbacks = dict(net.callbacks_)
        for name, state in saved["callbacks"].items():
            callbacks[name].load_state_dict(state)
        net.history = History(saved["history"])
        return saved["epoch"]

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if self.writes and epoch % self.every == 0:
            write_checkpoint(self.path, self._contents(net, epoch))

    def _contents(self, net, epoch):
        draws = draws_from_global_generators(net.module_, own_module=self.own_module)
        return {
            "identity": self.identity,
            "epoch": epoch,
            "random_state": self.random_state,
            "module": net.module_.state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "generator": net.generator.get_state(),
            "global_generators": _global_generator_states(torch.device(net.device)) if draws else None,
            "callbacks": {name: callback.state_dict() for name, callback in net.callbacks_
                          if hasattr(callback, "state_dict")},
            "history": list(net.history),
        }

    def remove(self):
        """Delete the checkpoint: the fit it was for has completed."""
        if self.writes:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)
