"""What a fitted estimator is saved as: plain Python values and numpy arrays, no code.

``pickle``, ``joblib`` and ``skops.io`` save an estimator through its
``__getstate__``: skdeep's holds the parameters, the fitted attributes, the
network's weights and the optimizer's state as numpy arrays, the training
history as lists, and the versions of skdeep, torch, skorch and scikit-learn
that wrote it (an unfitted estimator: its parameters alone). The skorch net,
the module and the optimizer are rebuilt from it on loading, on the saved
device when this machine has it and on the CPU otherwise.

Loading checks the state before it sets anything: its keys must be the
estimator's parameters, fitted attributes or scikit-learn's own private
attributes, the fitted attributes and the network's state plain values and
arrays (or scikit-learn objects), and the parameters valid. Nothing in the
state is called: the module is built by the estimator's class from its
parameters (a ``TorchClassifier``'s module class is one of them), where it
builds one for ``fit``, from the checked :class:`SavedNet` that loading
gives it. That is what lets skops load a model trusting no more than the
estimator's class.
"""

import copy
import inspect
import pickle
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sklearn
import skorch
import torch
from sklearn.base import BaseEstimator

try:  # joblib depends on cloudpickle since 1.5, and vendored it before
    import cloudpickle
except ImportError:
    from joblib.externals import cloudpickle

from skdeep._device import resolve_device
from skdeep._rollback import is_fitted_attribute
from skdeep._routing import is_routed
from skdeep._version import __version__

#: the layout of the saved state; bump it when the fitted attributes or the network's state change
#: (2: the network's state may hold the parameters it was built from)
FORMAT = 2
#: the layouts this version reads (1 is 2 without the parameters a network was built from)
_READABLE_FORMATS = (1, 2)
_NET_KEYS = {"module", "optimizer", "history", "batch_size", "device"}
#: scikit-learn's private attributes (metadata routing, callbacks), kept as scikit-learn sets them
_SKLEARN_ATTRIBUTES = {"_metadata_request", "_skl_callbacks", "_parent_callback_ctx", "_callback_fit_ctx",
                       "_skl_callbacks_to_teardown"}
_SAVED_DEVICE = re.compile(r"^(cpu|mps|cuda:\d+)$")
_FIT_DTYPES = {np.dtype(np.float32).str, np.dtype(np.float64).str}
_PLAIN_TYPES = (str, int, float, bool, type(None))


class InconsistentVersionWarning(UserWarning):
    """Warning for an estimator loaded with another skdeep version than the one that saved it.

    Loading works while the saved state's layout is the same, but the model
    may behave differently; refit it, or load it with the version that saved
    it.

    Parameters
    ----------
    estimator_name : str
    current_version : str
    original_version : str

    Examples
    --------
    >>> from skdeep import InconsistentVersionWarning
    >>> warning = InconsistentVersionWarning(estimator_name="MLPClassifier", current_version="0.2.0",
    ...                                      original_version="0.1.0")
    >>> str(warning).split(".")[0:3]
    ['Trying to load MLPClassifier from skdeep 0', '1', '0 with skdeep 0']
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (f"Trying to load {self.estimator_name} from skdeep {self.original_version} with skdeep "
                f"{self.current_version}. This might lead to breaking code or invalid results; refit the model "
                "or use the version that saved it.")


def versions():
    """The versions of skdeep and of the libraries whose objects it rebuilds."""
    # (torch's version is a str subclass of torch's: saved as a str)
    return {"skdeep": __version__, "torch": str(torch.__version__), "skorch": skorch.__version__,
            "sklearn": sklearn.__version__}


def to_plain(value):
    """``value`` with its tensors as numpy arrays and its dictionaries' integer keys as strings."""
    if torch.is_tensor(value):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def foreign_type(value):
    """The type of the first object in ``value`` that is not a plain value or array, or None if there is none.

    Plain: ``str``, ``int``, ``float``, ``bool``, ``None``, numpy arrays and
    numbers, and lists, tuples and dictionaries (with ``str`` keys) of them.
    """
    if type(value) in _PLAIN_TYPES or isinstance(value, (np.number, np.bool_, np.str_)):
        return None
    if type(value) in (list, tuple):
        items = value
    elif type(value) is dict:
        items = [*(key for key in value if type(key) is not str), *value.values()]
    elif isinstance(value, np.ndarray):
        items = value.ravel() if value.dtype.hasobject else ()
    else:
        return type(value)
    return next((found for found in map(foreign_type, items) if found is not None), None)


def estimator_state(state):
    """Turn ``vars(estimator)`` into the saved state.

    Parameters
    ----------
    state : dict
        What :meth:`sklearn.base.BaseEstimator.__getstate__` gives.

    Returns
    -------
    state : dict
        Plain values and numpy arrays: for an unfitted estimator, its
        parameters as they are.
    """
    state = dict(state)
    _check_callbacks_save(state.get("callbacks"))
    net = state.pop("net_", None)
    built_with = state.pop("_built_with", {})
    if net is None:
        return state
    state["_random_state"] = list(state["_random_state"].get_state())
    state["_fit_dtype"] = np.dtype(state["_fit_dtype"]).str
    state["history_"] = state["history_"].to_dict(orient="list")
    state["_skdeep_net"] = {
        # (a compiled module's own weights, without torch.compile's wrapper's prefix)
        "module": to_plain(getattr(net.module_, "_orig_mod", net.module_).state_dict()),
        "optimizer": to_plain(net.optimizer_.state_dict()),
        "history": to_plain(list(net.history)),
        "batch_size": int(net.batch_size),
        "device": str(net.device),
    }
    changed = {name: value for name, value in built_with.items() if not _same(value, state[name])}
    if changed:  # parameters set since the fit: the net is rebuilt from those it was built with
        state["_skdeep_net"]["parameters"] = changed
    added = [name for name in state if "__" in name and not name.startswith("_") and name not in built_with]
    if added:  # routed parameters set since the fit, which the net was built without
        state["_skdeep_net"]["added"] = added
    state["_skdeep_versions"] = versions()
    state["_skdeep_format"] = FORMAT
    return state


def _check_callbacks_save(callbacks):
    """Raise a TypeError naming the first of the user's callbacks that cannot be saved (a lock, an open file).

    Checked with cloudpickle, which saves what joblib's workers and
    ``copy.deepcopy`` take (lambdas too): pickle itself refuses a lambda,
    naming it.
    """
    for item in callbacks or []:
        try:
            cloudpickle.dumps(item)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            name = item[0] if isinstance(item, (tuple, list)) else getattr(item, "__name__", type(item).__name__)
            raise TypeError(f"The callback {name!r} of the 'callbacks' parameter cannot be saved "
                            f"({type(error).__name__}: {error}): give it only what can be pickled (no open files or "
                            "locks), or set callbacks=None before saving the estimator.") from error


@dataclass(frozen=True)
class SavedNet:
    """A saved network, checked: what an estimator rebuilds its net from on loading.

    Attributes
    ----------
    device : torch.device
        Where it loads: the saved device if this machine has it, else the one
        the ``device`` parameter gives here, else the CPU.
    weights : dict of str to torch.Tensor
        The module's ``state_dict``.
    dtype : torch.dtype
        The dtype of its floating weights.
    optimizer : dict
        The optimizer's saved ``state_dict``, its tensors as numpy arrays.
    history : list of dict
        skorch's history rows.
    batch_size : int
        The net's batch size as it was fitted.
    """

    device: torch.device
    weights: dict
    dtype: torch.dtype
    optimizer: dict
    history: list
    batch_size: int


def restore_estimator(estimator, state, rebuild_net):
    """Check a saved state, set the estimator's attributes from it and rebuild its net.

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
        A new instance, as unpickling makes it.
    state : dict
        What :func:`estimator_state` gave.
    rebuild_net : callable
        ``rebuild_net(saved)`` returns the estimator's net built from a
        :class:`SavedNet`, with the parameters it was fitted with set on the
        estimator.

    Raises
    ------
    ValueError
        For a state that is not skdeep's, holds anything else than the
        estimator's parameters and fitted attributes, or cannot be rebuilt;
        the message names the versions that saved it and those loading it.
    """
    if type(state) is not dict or not all(type(key) is str for key in state):
        raise ValueError(f"Cannot load {type(estimator).__name__}: its saved state is not a dictionary of attributes.")
    state = dict(state)
    saved_format, saved = state.pop("_skdeep_format", None), state.pop("_skdeep_versions", None)
    net_state = state.pop("_skdeep_net", None)
    saved = saved if type(saved) is dict and foreign_type(saved) is None else {}
    for name, default in _defaults(type(estimator)).items():  # the parameters added since it was saved
        state.setdefault(name, default)
    names = {*estimator._get_param_names(), *(name for name in state if is_routed(name, type(estimator)._routes))}
    parameters = {*names, *_SKLEARN_ATTRIBUTES}
    fitted = {name: value for name, value in state.items() if name not in parameters}
    if net_state is None and not fitted and saved_format in (None, *_READABLE_FORMATS):  # unfitted: its parameters
        estimator.__dict__.update(state)
        return
    if saved_format not in _READABLE_FORMATS or not _is_net_state(net_state, names):
        raise _unreadable(estimator, "it was saved in another layout", saved)
    _check_fitted(estimator, fitted, saved)
    net_state = dict(net_state)
    if saved.get("skdeep") != versions()["skdeep"]:
        warnings.warn(InconsistentVersionWarning(estimator_name=type(estimator).__name__,
                                                 current_version=versions()["skdeep"],
                                                 original_version=saved.get("skdeep")))
    built_with, added = net_state.pop("parameters", {}), net_state.pop("added", [])
    try:
        estimator.__dict__.update(state, **_fitted_values(fitted))
        current = {name: state[name] for name in [*built_with, *added]}
        estimator.__dict__.update(built_with)  # the parameters the net was built from, checked as a fit checks them
        for name in added:
            delattr(estimator, name)
        estimator._validate_params()
        estimator.net_ = rebuild_net(_saved_net(estimator, net_state))
        estimator._built_with = copy.deepcopy(estimator._net_parameters())
        estimator.__dict__.update(current)  # and those set since, as they were saved
    except Exception as error:
        estimator.__dict__.clear()  # nothing half-loaded
        raise _unreadable(estimator, f"it cannot be rebuilt ({type(error).__name__}: {error})", saved) from error


def _defaults(cls):
    """The default of each parameter of ``cls`` that has one."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {parameter.name: parameter.default for parameter in parameters if parameter.default is not parameter.empty}


def _saved_net(estimator, saved):
    """The :class:`SavedNet` of a checked net state."""
    weights = {name: torch.from_numpy(np.array(array)) for name, array in saved["module"].items()}
    return SavedNet(
        device=_loading_device(estimator, saved["device"]),
        weights=weights,
        dtype=next((tensor.dtype for tensor in weights.values() if tensor.is_floating_point()), torch.float32),
        optimizer=saved["optimizer"],
        history=saved["history"],
        batch_size=saved["batch_size"],
    )


def _check_fitted(estimator, fitted, saved):
    """Refuse names that are not fitted attributes, and values that are not plain (or scikit-learn's)."""
    for name, value in fitted.items():
        if not is_fitted_attribute(name, estimator) or hasattr(type(estimator), name):
            raise _unreadable(estimator, f"its state holds {name!r}, which is neither one of its parameters nor "
                                         "a fitted attribute", saved)
        found = None if _is_sklearn_object(value) else foreign_type(value)
        if found is not None:
            raise _unreadable(estimator, f"its fitted attribute {name!r} holds a {found.__module__}."
                                         f"{found.__qualname__}, where plain values and arrays belong", saved)


def _is_sklearn_object(value):
    """Whether ``value`` is one of scikit-learn's estimators (an encoder fitted inside skdeep's, say)."""
    return isinstance(value, BaseEstimator) and type(value).__module__.startswith("sklearn.")


def _same(value, other):
    """Whether two parameter values are the same (values that cannot be compared count as different)."""
    try:
        return value is other or (type(value) is type(other) and bool(value == other))
    except Exception:  # an array's comparison has no single truth value, say
        return False


def _is_net_state(net, parameter_names):
    """Whether ``net`` has the layout of a saved network: plain values, weights as numeric arrays.

    Its optional ``"parameters"``, those the net was built from where they
    differ from the estimator's, are checked as parameters are: by name here,
    by value when the estimator validates them; so are the names of its
    optional ``"added"``, the routed parameters set since the net was built.
    """
    if type(net) is not dict:
        return False
    net = dict(net)
    built_with, added = net.pop("parameters", {}), net.pop("added", [])
    if type(built_with) is not dict or not set(built_with) <= parameter_names:
        return False
    if type(added) is not list or not all(type(name) is str for name in added) or not set(added) <= parameter_names:
        return False
    return (set(net) == _NET_KEYS and foreign_type(net) is None
            and type(net["module"]) is dict
            and all(isinstance(array, np.ndarray) and array.dtype.kind in "biuf" for array in net["module"].values())
            and type(net["optimizer"]) is dict and set(net["optimizer"]) == {"state", "param_groups"}
            and type(net["history"]) is list and all(type(row) is dict for row in net["history"])
            and type(net["batch_size"]) is int and net["batch_size"] >= 1
            and type(net["device"]) is str and _SAVED_DEVICE.match(net["device"]) is not None)


def _fitted_values(state):
    """The saved fitted attributes as the estimator holds them (the random state, the dtype, the history)."""
    state = dict(state)
    random_state = np.random.RandomState()
    random_state.set_state(tuple(state["_random_state"]))
    state["_random_state"] = random_state
    if state["_fit_dtype"] not in _FIT_DTYPES:
        raise ValueError(f"the dtype at fit, {state['_fit_dtype']!r}, is not float32 or float64")
    state["_fit_dtype"] = np.dtype(state["_fit_dtype"])
    state["history_"] = pd.DataFrame(state["history_"])
    return state


def _unreadable(estimator, reason, saved):
    """The error for a state that cannot be loaded, naming the versions that differ."""
    current = versions()
    differ = [name for name in current if saved.get(name) != current[name]]
    if differ:
        note = (f"saved with {_listing(saved, differ)}; loading with {_listing(current, differ)}): load it with "
                "the versions that saved it, or refit it")
    else:
        note = (f"saved and loaded with {_listing(current, current)}): the file was altered, or code it needs "
                "(a module class of your own) has changed")
    return ValueError(f"Cannot load {type(estimator).__name__}: {reason} ({note}.")


def _listing(found, names):
    return ", ".join(f"{name} {found.get(name, 'unknown')}" for name in names)


def _loading_device(estimator, saved):
    """The saved device if this machine has it, else the one the ``device`` parameter gives here, else the CPU."""
    for device in (saved, estimator.device):
        try:
            return resolve_device(device)
        except ValueError:  # a device this machine does not have
            continue
    warnings.warn(
        f"{type(estimator).__name__} was fitted on {saved!r}, which this machine does not have: it is loaded on "
        f"the CPU, where it predicts as it did. Its parameter device={estimator.device!r} stays as it is; set "
        "device='cpu' or 'auto' before fitting it here.",
        UserWarning,
    )
    return torch.device("cpu")
