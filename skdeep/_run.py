"""What one training call has built before its epochs run: the plan, the net, the data, the stopping progress."""

from dataclasses import dataclass


@dataclass
class TrainingRun:
    """One prepared training call of an estimator, handed from preparation to training to recording.

    :meth:`skdeep._base.BaseNeuralEstimator._prepare_run` builds it;
    the estimator's own epoch loop (or a stacked search's, which trains
    many runs as one network) trains ``net`` on ``train_data``; and
    :meth:`skdeep._base.BaseNeuralEstimator._record_run` turns it into the
    fitted attributes.

    Attributes
    ----------
    plan : skdeep._plan.TrainingPlan
    call : skdeep._plan.TrainingCall
    data : skdeep._plan.DataSummary
    net : skdeep._net.SkdeepNet
        Configured for the call, its shuffling generator seeded.
    train_data : skdeep._data.ArrayDataset or skdeep._dask.BlockDataset
        The rows that train the network, on its device.
    validation : tuple (dataset, score) or None
        Early stopping's validation set and its scoring function.
    progress : skdeep._callbacks.StoppingProgress
        Where the stopping rule stands; the net's callbacks update it.
    seed : int
        The seed of torch's global generators during training (dropout).
    checkpoint : skdeep._checkpoint.TrainingCheckpoint or None
    saved : object or None
        An interrupted fit's state, which the checkpoint restores.
    epochs_before : int
        The net's epochs before this call.
    """

    plan: object
    call: object
    data: object
    net: object
    train_data: object
    validation: object
    progress: object
    seed: int
    checkpoint: object = None
    saved: object = None
    epochs_before: int = 0
