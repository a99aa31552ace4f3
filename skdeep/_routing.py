"""skorch's ``<part>__<argument>`` parameters: arguments routed to the module, the loss, the optimizer and callbacks.

A skorch user writes ``module__hidden=8``, ``optimizer__weight_decay=0.01``,
``criterion__label_smoothing=0.1`` or ``callbacks__tensorboard__close_after_train=False``,
in the constructor, in ``set_params`` and in a search's grid. skdeep's
estimators take them the same way: :class:`RoutedParameters` stores them as
attributes of their own names, reports them in ``get_params`` (so that
``clone`` keeps them) and sets them in ``set_params``; ``fit`` checks them
(:func:`check_routed_names`) and reads each part's arguments with
:func:`routed_arguments`.
"""

import difflib

from sklearn.base import BaseEstimator

#: the parts of the network that take routed arguments, each with the parameter that gives it
ROUTES = {"module": "module", "criterion": "criterion", "optimizer": "optimizer", "callbacks": "callbacks"}


def routed_arguments(params, part):
    """The arguments routed to ``part`` in ``params``: ``{"hidden": 8}`` for ``module__hidden=8``.

    Examples
    --------
    >>> from skdeep._routing import routed_arguments
    >>> routed_arguments({"module__hidden": 8, "alpha": 0.1, "optimizer__lr": 1}, "module")
    {'hidden': 8}
    """
    prefix = part + "__"
    return {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)}


def callback_arguments(params):
    """The arguments routed to each named callback: ``{"tb": {"close_after_train": False}}``.

    Examples
    --------
    >>> from skdeep._routing import callback_arguments
    >>> callback_arguments({"callbacks__tb__close_after_train": False, "alpha": 0.1})
    {'tb': {'close_after_train': False}}
    """
    arguments = {}
    for name, value in routed_arguments(params, "callbacks").items():
        callback, _, argument = name.partition("__")
        arguments.setdefault(callback, {})[argument] = value
    return arguments


def is_routed(name, parts):
    """Whether ``name`` is an argument routed to one of ``parts`` (``"module__hidden"`` to ``"module"``)."""
    part, separator, argument = name.partition("__")
    return bool(separator and argument) and part in parts


def check_routed_names(estimator):
    """Raise a ValueError for a stored routed parameter that routes nowhere (called by ``fit``).

    A name must start with one of the estimator's parts and two underscores,
    and a callback's with ``callbacks__<name>__``.
    """
    parts = type(estimator)._routes
    known = estimator._get_param_names()
    for name in _routed_names(estimator):
        part, _, argument = name.partition("__")
        if part in parts and (part != "callbacks" or "__" in argument.strip("_")):
            continue
        if "__" in name:
            spelled = [part + ("__<name>__<argument>" if part == "callbacks" else "__<argument>") for part in parts]
            hint = f" Arguments of the network's parts are spelled {', '.join(spelled)}."
        else:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{type(estimator).__name__} got an unknown parameter {name!r}.{hint}")


def _routed_names(estimator):
    """The names of the keyword parameters ``__init__`` stored beyond its signature's (``**routed_params``).

    They are the public attributes that are neither the signature's
    parameters nor fitted attributes (with a trailing underscore).
    """
    named = set(estimator._get_param_names())
    return [name for name in vars(estimator)
            if name not in named and not name.startswith("_") and not name.endswith("_")]


class RoutedParameters(BaseEstimator):
    """scikit-learn's parameter protocol, with skorch's ``<part>__<argument>`` parameters.

    ``__init__`` stores the routed parameters it gets as ``**routed_params``
    as attributes of their own names; ``get_params`` reports them and
    ``set_params`` sets them, so that ``clone`` and searches keep them, as
    skorch's nets do. ``_routes`` names the parts an estimator routes to.
    """

    #: the parts of the network whose arguments the estimator takes as ``<part>__<argument>``
    _routes = ("optimizer", "callbacks")

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update((name, getattr(self, name)) for name in _routed_names(self))
        return params

    def set_params(self, **params):
        misspelt = next((name for name in params if name.startswith("module_params__")), None)
        if misspelt and "module_params" in self._get_param_names():
            raise ValueError(f"{misspelt!r}: module_params is a dict, set as a whole; one argument of the module is "
                             f"set as {misspelt.replace('module_params__', 'module__')!r}.")
        routed = {name: value for name, value in params.items() if is_routed(name, self._routes)}
        for name, value in routed.items():
            setattr(self, name, value)
        return super().set_params(**{name: value for name, value in params.items() if name not in routed})
