"""The skorch net that skdeep's estimators build and train.

It is skorch's :class:`~skorch.NeuralNet` with four of its extension points
overridden: ``get_iterator`` serves batches sliced from whole tensors (see
:mod:`skdeep._data`), ``get_loss`` averages per-sample losses with the sample
weights and adds the penalties, ``get_train_step_accumulator`` keeps the last
loss of an LBFGS step, and ``get_default_callbacks`` keeps only the epoch timer
and the training loss (skorch's ``PrintLog`` formats a table after every epoch
even when silent, a fifth of a small fit's time).
"""

import torch
from skorch import NeuralNet

from skdeep._callbacks import LastStepAccumulator
from skdeep._data import BatchIterator

#: Batches at prediction time are larger than in training: no gradients to keep.
PREDICT_BATCH_SIZE = 4096


class SkdeepNet(NeuralNet):
    """skorch net with skdeep's data path, weighted loss and penalties.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`; ``module`` must return raw outputs
        and ``criterion`` a loss per sample.
    shuffle : bool, default=True
        Reshuffle the training rows at each epoch.
    generator : torch.Generator, default=None
        Source of the shuffling permutations.
    l1 : float, default=0.0
        L1 penalty on the weight matrices, divided by the batch's weight sum.
    l2 : float, default=0.0
        L2 penalty ``l2 / 2 * sum(w ** 2)`` added to the loss, divided likewise
        (for solvers without built-in weight decay, such as LBFGS).
    """

    def __init__(self, *args, shuffle=True, generator=None, l1=0.0, l2=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.shuffle = shuffle
        self.generator = generator
        self.l1 = l1
        self.l2 = l2

    def get_default_callbacks(self):
        return [(name, callback) for name, callback in super().get_default_callbacks()
                if name in ("epoch_timer", "train_loss")]

    def get_iterator(self, dataset, training=False):
        return BatchIterator(
            dataset,
            batch_size=self.batch_size if training else max(self.batch_size, PREDICT_BATCH_SIZE),
            shuffle=training and self.shuffle,
            generator=self.generator,
            device=torch.device(self.device),
        )

    def get_train_step_accumulator(self):
        if isinstance(self.optimizer_, torch.optim.LBFGS):
            return LastStepAccumulator()
        return super().get_train_step_accumulator()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, weight = y_true if isinstance(y_true, tuple) else (y_true, None)
        losses = self.criterion_(y_pred, target)
        if weight is None:
            loss, total_weight = losses.mean(), len(losses)
        else:
            total_weight = weight.sum()
            loss = (losses * weight).sum() / total_weight
        if training and (self.l1 or self.l2):
            weights = [p for p in self.module_.parameters() if p.ndim > 1]
            penalty = sum(self.l1 * w.abs().sum() + 0.5 * self.l2 * w.square().sum() for w in weights)
            loss = loss + penalty / total_weight
        return loss
