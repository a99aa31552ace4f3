"""What a fitted estimator is saved as: plain Python values and numpy arrays, no code.

``pickle``, ``joblib`` and ``skops.io`` save an estimator through its
``__getstate__``: skdeep's holds the parameters, the fitted attributes, the
network's weights and the optimizer's state as numpy arrays, the training
history as lists, and the versions of skdeep, torch, skorch and scikit-learn
that wrote it. The skorch net, the module and the optimizer are rebuilt from
it on loading, on the saved device when there is one and on the CPU
otherwise. Nothing in the state names code to run, which is what lets
skops load it without trusting more than skdeep's own estimator classes.
"""

import warnings

import numpy as np
import pandas as pd
import sklearn
import skorch
import torch
from skorch.history import History

#: the layout of the saved state; a state of another layout is refused with the versions that wrote it
FORMAT = 1
_NET_KEYS = {"module", "optimizer", "history", "batch_size", "device"}


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
    from skdeep import __version__

    return {"skdeep": __version__, "torch": torch.__version__, "skorch": skorch.__version__,
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


def _to_tensors(value, device):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value)).to(device)
    if isinstance(value, dict):
        return {key: _to_tensors(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_tensors(item, device) for item in value)
    return value


def estimator_state(state):
    """Turn ``vars(estimator)`` (with scikit-learn's version) into the saved state.

    Parameters
    ----------
    state : dict
        What :meth:`sklearn.base.BaseEstimator.__getstate__` gives.

    Returns
    -------
    state : dict
        Plain values and numpy arrays.
    """
    state = dict(state)
    net = state.pop("net_", None)
    if isinstance(state.get("_random_state"), np.random.RandomState):
        state["_random_state"] = list(state["_random_state"].get_state())
    if "_fit_dtype" in state:
        state["_fit_dtype"] = np.dtype(state["_fit_dtype"]).str
    if isinstance(state.get("history_"), pd.DataFrame):
        state["history_"] = state["history_"].to_dict(orient="list")
    if net is not None:
        state["_skdeep_net"] = {
            # (a compiled module's own weights, without torch.compile's wrapper's prefix)
            "module": to_plain(getattr(net.module_, "_orig_mod", net.module_).state_dict()),
            "optimizer": to_plain(net.optimizer_.state_dict()),
            "history": to_plain(list(net.history)),
            "batch_size": int(net.batch_size),
            "device": str(net.device),
        }
    state["_skdeep_versions"] = versions()
    state["_skdeep_format"] = FORMAT
    return state


def restore_estimator(estimator, state):
    """Check a saved state, set the estimator's attributes from it and rebuild its net.

    Raises
    ------
    ValueError
        For a state that is not skdeep's, or one that cannot be rebuilt
        (naming the versions that saved it and those loading it).
    """
    if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
        raise ValueError(f"Cannot load {type(estimator).__name__}: its saved state is not a dictionary of attributes.")
    state = dict(state)
    saved_format, saved = state.pop("_skdeep_format", None), state.pop("_skdeep_versions", None) or {}
    net_state = state.pop("_skdeep_net", None)
    current = versions()
    if saved_format != FORMAT or (net_state is not None and set(net_state) != _NET_KEYS):
        raise ValueError(f"Cannot load {type(estimator).__name__}: it was saved in another layout ({_versions(saved)}; "
                         f"loading with {_versions(current)}). Load it with the versions that saved it, and refit.")
    if saved.get("skdeep") != current["skdeep"]:
        warnings.warn(InconsistentVersionWarning(estimator_name=type(estimator).__name__,
                                                 current_version=current["skdeep"],
                                                 original_version=saved.get("skdeep")))
    if "_random_state" in state:
        random_state = np.random.RandomState()
        random_state.set_state(tuple(state["_random_state"]))
        state["_random_state"] = random_state
    if "_fit_dtype" in state:
        state["_fit_dtype"] = np.dtype(state["_fit_dtype"])
    if isinstance(state.get("history_"), dict):
        state["history_"] = pd.DataFrame(state["history_"])
    estimator.__dict__.update(state)
    if net_state is None:
        return
    try:
        estimator.net_ = _rebuild_net(estimator, net_state)
    except Exception as error:
        raise ValueError(f"Cannot rebuild the network of {type(estimator).__name__} (saved with {_versions(saved)}; "
                         f"loading with {_versions(current)}): {error}") from error


def _versions(found):
    return ", ".join(f"{name} {found.get(name, 'unknown')}" for name in ("skdeep", "torch", "skorch", "sklearn"))


def _rebuild_net(estimator, saved):
    """The skorch net of a saved state: the module, its weights, the optimizer and its state, the history."""
    from skdeep._callbacks import ConvergenceState
    from skdeep._config import training_config

    device = torch.device(saved["device"])
    if device.type == "cuda" and not torch.cuda.is_available():
        device = torch.device("cpu")  # a model trained on a GPU predicts on a machine without one
    weights = {name: torch.from_numpy(np.array(array)) for name, array in saved["module"].items()}
    dtype = next(tensor.dtype for tensor in weights.values() if tensor.is_floating_point())
    module = estimator._build_module(estimator.n_features_in_, estimator.n_outputs_, device,
                                     np.random.RandomState(0))
    module = module.to(device=device, dtype=dtype)
    module.load_state_dict(weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a batch_size above these rows warns of clipping: the saved one is used)
        config = training_config(estimator, n_train=saved["batch_size"], mean_weight=1.0, device=device,
                                 incremental=False, state=ConvergenceState(), validation=None)
    net = estimator._new_net(config, module, device)
    net.batch_size = saved["batch_size"]
    net.optimizer_.load_state_dict(_to_tensors(_optimizer_keys(saved["optimizer"]), device))
    net.history = History(saved["history"])
    module.eval()
    return net


def _optimizer_keys(state):
    """An optimizer's saved state with its parameters' integer indices back."""
    return {"state": {int(index): values for index, values in state["state"].items()},
            "param_groups": state["param_groups"]}
