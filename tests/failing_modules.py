"""Torch modules that fail on purpose, for the tests of interrupted and failed training calls."""

import torch

from skdeep import TorchClassifier


class RaisesAt(torch.nn.Module):
    """A linear model whose ``at``-th training forward pass raises ``error`` (by default, Ctrl+C)."""

    def __init__(self, n_features, n_outputs, at=None, error=KeyboardInterrupt):
        super().__init__()
        self.layer = torch.nn.Linear(n_features, n_outputs)
        self.at, self.error = at, error
        self.calls = 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                raise self.error("the module failed")
        return self.layer(x)


def interrupted(at, **params):
    # one batch per epoch on iris: the at-th forward pass is epoch `at`
    return TorchClassifier(RaisesAt, module_params={"at": at}, batch_size=150,
                           learning_rate_init=0.05, random_state=0, **params)
