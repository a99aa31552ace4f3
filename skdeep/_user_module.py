"""scikit-learn estimators around a user's own PyTorch module."""

import inspect

from torch import nn

from skdeep._base import store_parameters
from skdeep._docs import fill_doc
from skdeep._routing import check_arguments, routed_arguments
from skdeep._tasks import NeuralClassifierBase, NeuralRegressorBase
from skdeep.modules import WeightedCriterion

_INFERRED = ("n_features", "n_outputs", "input_shape")

_MODULE_CONSTRAINTS = {"module": [callable], "module_params": [dict, None], "criterion": [type, nn.Module, None],
                       "augment": [callable, None]}


class _UserModule:
    """Builds the user's module, filling in the sizes it takes from the data."""

    _own_module = False  # its forward pass may wait for the host, or draw random numbers
    _routes = ("module", "criterion", "optimizer", "callbacks")

    def _build_module(self, n_features, n_outputs, device, random_state):
        if isinstance(self.module, nn.Module):
            raise TypeError(
                "The 'module' parameter takes the module's class, or a function that builds it, not a built "
                f"module: got the instance {type(self.module).__name__}(...). Pass its class, and its arguments "
                "as module_params, so that every fit (and every clone in a search) starts afresh."
            )
        params = dict(self.module_params or {})
        routed = routed_arguments(self.get_params(deep=False), "module")
        check_arguments(self.module, routed, "module")
        both = sorted(set(params) & set(routed))
        if both:
            raise ValueError(f"The module's arguments {both} are set both in module_params and as "
                             f"{', '.join('module__' + name for name in both)}: set each once.")
        params.update(routed)
        inferred = {"n_features": n_features, "n_outputs": n_outputs,
                    "input_shape": self._module_input_shape()}
        try:
            accepted = inspect.signature(self.module).parameters
        except (TypeError, ValueError):  # a callable without a signature
            accepted = {}
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        for name in _INFERRED:
            if (name in accepted or takes_any) and name not in params:
                params[name] = inferred[name]
        module = self.module(**params)
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"module must build a torch.nn.Module; {self.module!r} returned "
                f"{type(module).__name__}."
            )
        return module

    def set_params(self, **params):
        misspelt = next((name for name in params if name.startswith("module_params__")), None)
        if misspelt is not None:
            raise ValueError(f"{misspelt!r}: module_params is a dict, set as a whole; one argument of the module is "
                             f"set as {misspelt.replace('module_params__', 'module__')!r}.")
        return super().set_params(**params)

    def _criterion(self):
        arguments = routed_arguments(self.get_params(deep=False), "criterion")
        if self.criterion is None:
            if arguments:
                raise ValueError(f"criterion__{next(iter(arguments))}: the criterion__ arguments build the loss class "
                                 "of the 'criterion' parameter, which is None (scikit-learn's loss): set it too.")
            return super()._criterion()
        if isinstance(self.criterion, type):
            check_arguments(self.criterion, arguments, "criterion")
        return WeightedCriterion.of(self.criterion, arguments)


@fill_doc
class TorchClassifier(_UserModule, NeuralClassifierBase):
    """Classifier around your own PyTorch module.

    The module gets batches of samples in the shape they had at fit (for
    example ``(batch, time, features)`` sequences) and returns raw scores of
    shape ``(batch, n_outputs)``: one logit for binary targets, one per class
    for multiclass ones (softmax is in the loss), one per label for multilabel
    ones. Everything else, from solvers and early stopping to devices, pickling
    and grid search, is the same as for :class:`MLPClassifier`.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels. A ``y`` with a single class is accepted, as in
        scikit-learn: ``predict`` then returns that class.

    {fitted_attributes}

    See Also
    --------
    TorchRegressor : The regressor for your own module.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from skdeep import TorchClassifier
    >>> class Linear(torch.nn.Module):
    ...     def __init__(self, n_features, n_outputs):
    ...         super().__init__()
    ...         self.layer = torch.nn.Linear(n_features, n_outputs)
    ...     def forward(self, x):
    ...         return self.layer(x)
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TorchClassifier(Linear, learning_rate_init=0.05, random_state=0).fit(X, y)
    >>> clf.module_.layer
    Linear(in_features=4, out_features=3, bias=True)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {**NeuralClassifierBase._parameter_constraints, **_MODULE_CONSTRAINTS}

    def __init__(
        self,
        module,
        *,
        module_params=None,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        l1=0.0,
        class_weight=None,
        device="auto",
        precision="float32",
        compile=False,
        cuda_graph="auto",
        checkpoint=None,
        checkpoint_every=1,
        criterion=None,
        callbacks=None,
        optimizer=None,
        augment=None,
        **routed_params,
    ):
        store_parameters(self, locals())

    def _criterion(self):
        loss = self.criterion if isinstance(self.criterion, type) else type(self.criterion)
        if self.n_outputs_ == 1 and issubclass(loss, (nn.CrossEntropyLoss, nn.NLLLoss)):
            raise ValueError(f"criterion={loss.__name__} compares scores of two or more classes, and a binary "
                             "TorchClassifier's module returns one logit (its loss would be 0 whatever the "
                             "weights): use torch.nn.BCEWithLogitsLoss, or leave criterion=None.")
        return super()._criterion()


@fill_doc
class TorchRegressor(_UserModule, NeuralRegressorBase):
    """Regressor around your own PyTorch module.

    The module gets batches of samples in the shape they had at fit and
    returns outputs of shape ``(batch, n_outputs)`` (the log of the mean with
    ``loss="poisson"``). Everything else is the same as for
    :class:`MLPRegressor`.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    TorchClassifier : The classifier for your own module.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import make_regression
    >>> from skdeep import TorchRegressor
    >>> def two_layers(n_features, n_outputs, width=32):
    ...     return torch.nn.Sequential(torch.nn.Linear(n_features, width), torch.nn.Tanh(),
    ...                                torch.nn.Linear(width, n_outputs))
    >>> X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    >>> reg = TorchRegressor(two_layers, module_params={"width": 16}, random_state=0)
    >>> reg.fit(X, y / 100).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {**NeuralRegressorBase._parameter_constraints, **_MODULE_CONSTRAINTS}

    def __init__(
        self,
        module,
        *,
        module_params=None,
        loss="squared_error",
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        l1=0.0,
        device="auto",
        precision="float32",
        compile=False,
        cuda_graph="auto",
        checkpoint=None,
        checkpoint_every=1,
        criterion=None,
        callbacks=None,
        optimizer=None,
        augment=None,
        **routed_params,
    ):
        store_parameters(self, locals())

    def _criterion(self):
        if self.criterion is not None and self.loss != "squared_error":
            raise ValueError(f"criterion={getattr(self.criterion, '__name__', self.criterion)!r} is the training "
                             f"loss, so loss={self.loss!r} means nothing beside it: leave loss at its default.")
        return super()._criterion()
