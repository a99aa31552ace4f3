"""skorch's ``<part>__<argument>`` parameters: arguments routed to the module, the loss, the optimizer and callbacks.

A skorch user writes ``module__hidden=8``, ``optimizer__weight_decay=0.01``,
``criterion__label_smoothing=0.1`` or ``callbacks__clip__gradient_clip_value=1.0``,
in the constructor, in ``set_params`` and in a search's grid. skdeep's
estimators take them the same way: :class:`RoutedParameters` stores them as
attributes of their own names (any name with a double underscore), reports
them in ``get_params`` (so that ``clone`` keeps them) and sets them in
``set_params``. Where each part is built, :func:`routed_arguments` reads its
arguments and :func:`check_arguments` refuses those it does not take.
"""

import difflib
import inspect
import weakref

from sklearn.base import BaseEstimator


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

    A ``callbacks__<name>`` parameter without an argument routes an empty
    name, which no callback has.

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


def check_arguments(target, arguments, part, *, owner=None):
    """Refuse the ``<part>__<argument>`` parameters that ``target`` (a class or function) does not take.

    ``owner`` names the parameter that gives ``target`` (``part`` by
    default). A target that takes ``**kwargs``, or has no signature, takes
    any argument.

    Examples
    --------
    >>> import torch
    >>> from skdeep._routing import check_arguments
    >>> check_arguments(torch.optim.Adam, {"amsgrad": True}, "optimizer")
    >>> check_arguments(torch.optim.Adam, {"amsgrd": True}, "optimizer")
    Traceback (most recent call last):
    ...
    ValueError: optimizer__amsgrd: Adam takes no argument 'amsgrd'. Did you mean optimizer__amsgrad?
    """
    try:
        accepted = inspect.signature(target).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in accepted.values()):
        return
    names = [name for name, parameter in accepted.items() if parameter.kind is not inspect.Parameter.VAR_POSITIONAL]
    for argument in arguments:
        if argument not in names:
            close = difflib.get_close_matches(argument, names, n=1)
            hint = f" Did you mean {part}__{close[0]}?" if close else f" It takes {names}."
            name = getattr(target, "__name__", owner or part)
            raise ValueError(f"{part}__{argument}: {name} takes no argument {argument!r}.{hint}")


def _routed_names(estimator):
    """The names of the routed parameters stored on ``estimator``: the public ones with a double underscore."""
    return [name for name in vars(estimator) if "__" in name and not name.startswith("_")]


def is_routed(name, parts):
    """Whether ``name`` is an argument routed to one of ``parts`` (``"module__hidden"`` to ``"module"``)."""
    part, separator, argument = name.partition("__")
    return bool(separator and argument) and part in parts


#: class -> (a weak reference to the ``__init__`` its parameter names were read from, the names); weak keys,
#: so that classes made at run time are not kept alive
_PARAMETER_NAMES = weakref.WeakKeyDictionary()


class RoutedParameters(BaseEstimator):
    """scikit-learn's parameter protocol, with skorch's ``<part>__<argument>`` parameters.

    ``__init__`` stores the routed parameters it gets as ``**routed_params``
    with :meth:`_store_routed`; ``get_params`` reports them and
    ``set_params`` sets them, so that ``clone`` and searches keep them, as
    skorch's nets do. ``_routes`` names the parts an estimator routes to.
    The signature of a subclass's ``__init__`` shows its named parameters
    only: those are scikit-learn's parameters.
    """

    #: the parts of the network whose arguments the estimator takes as ``<part>__<argument>``
    _routes = ("optimizer", "callbacks")

    def __init_subclass__(cls, **kwargs):
        # the signature that scikit-learn reads (``_get_param_names``, ``clone``, the estimator checks) is that
        # of the named parameters: the routed ones are keywords beyond it, as in skorch
        super().__init_subclass__(**kwargs)
        init = vars(cls).get("__init__")
        if init is not None:
            signature = inspect.signature(init)
            init.__signature__ = signature.replace(parameters=[
                parameter for parameter in signature.parameters.values()
                if parameter.kind is not inspect.Parameter.VAR_KEYWORD])

    def _store_routed(self, routed_params):
        """Store ``**routed_params`` of ``__init__``; a keyword that routes nowhere is a TypeError, as in Python.

        (A keyword that is not a parameter is refused by Python itself in an
        ``__init__`` without ``**kwargs``, before anything is validated.)
        """
        for name, value in routed_params.items():
            if not is_routed(name, self._routes):
                raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument {name!r}."
                                f"{self._spelling_hint(name)}")
            setattr(self, name, value)

    def _spelling_hint(self, name):
        """What an unknown parameter ``name`` may have meant."""
        if "__" in name:
            spelled = [part + ("__<name>__<argument>" if part == "callbacks" else "__<argument>")
                       for part in self._routes]
            return f" Arguments of the network's parts are spelled {', '.join(spelled)}."
        close = difflib.get_close_matches(name, self._get_param_names(), n=1)
        return f" Did you mean {close[0]!r}?" if close else ""

    @classmethod
    def _get_param_names(cls):
        # scikit-learn reads the signature at every get_params, which a search's clones and fits call thousands
        # of times: read once per class, and again if its __init__ is replaced
        init = cls.__init__
        read = _PARAMETER_NAMES.get(cls)
        if read is None or read[0]() is not init:
            read = _PARAMETER_NAMES[cls] = (weakref.ref(init), tuple(super()._get_param_names()))
        return list(read[1])

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update((name, getattr(self, name)) for name in _routed_names(self))
        return params

    def set_params(self, **params):
        routed = {name: value for name, value in params.items() if is_routed(name, self._routes)}
        for name, value in routed.items():
            setattr(self, name, value)
        return super().set_params(**{name: value for name, value in params.items() if name not in routed})
