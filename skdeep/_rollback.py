"""A failed training call never looks fitted, and never loses the model trained before it.

Before a call, :class:`FittedSnapshot` takes what it may change; on failure,
:func:`roll_back` puts the estimator back as it was, or removes every fitted
attribute of a call that had no model before it.
"""

import copy

import torch


def is_fitted_attribute(name, estimator):
    """Whether the attribute ``name`` of ``estimator`` is fitted state (not a parameter, ``module__lambda_`` say)."""
    return (name.endswith("_") and "__" not in name) or name in estimator._PRIVATE_FITTED


def forget_fit(estimator):
    """Remove every fitted attribute of ``estimator``, so that it does not look fitted."""
    for name in [key for key in vars(estimator) if is_fitted_attribute(key, estimator)]:
        delattr(estimator, name)


def roll_back(estimator, snapshot):
    """Put ``estimator`` back as ``snapshot`` took it, or unfitted where there was no model (``snapshot=None``)."""
    if snapshot is None:
        forget_fit(estimator)
    else:
        snapshot.restore(estimator)


class FittedSnapshot:
    """A fitted estimator's state before a training call, to restore should the call fail.

    A new fit or a warm fit trains a new net and leaves the previous one as
    it was, so the fitted attributes are enough; a continued ``partial_fit``
    trains the same net on, so the module's weights, the optimizer's state
    and the history's length are kept too (one copy of the weights and of the
    optimizer's state per call).

    Parameters
    ----------
    estimator : skdeep._base.BaseNeuralEstimator
        A fitted estimator.
    continuing : bool
        Whether the call trains the fitted net on (a continued ``partial_fit``).
    """

    def __init__(self, estimator, *, continuing):
        self.attributes = {name: value for name, value in vars(estimator).items()
                           if is_fitted_attribute(name, estimator)}
        net = estimator.net_
        self.history_length = len(net.history)
        self.optimizer = net.optimizer_
        self.weights = self.optimizer_state = None
        if continuing:
            self.weights = {key: tensor.detach().clone() for key, tensor in net.module_.state_dict().items()}
            self.optimizer_state = _copy_optimizer_state(net.optimizer_.state_dict())

    def restore(self, estimator):
        """Put ``estimator`` back as it was when this snapshot was taken."""
        forget_fit(estimator)
        vars(estimator).update(self.attributes)
        net = estimator.net_
        del net.history[self.history_length:]
        if self.weights is not None:
            net.module_.load_state_dict(self.weights)
            net.optimizer_ = self.optimizer
            net.optimizer_.load_state_dict(self.optimizer_state)


def _copy_optimizer_state(state_dict):
    """A copy of an optimizer's ``state_dict`` (its tensors cloned: faster than a deep copy)."""
    return {
        "state": {key: {name: value.clone() if torch.is_tensor(value) else copy.deepcopy(value)
                        for name, value in state.items()}
                  for key, state in state_dict["state"].items()},
        "param_groups": copy.deepcopy(state_dict["param_groups"]),
    }
