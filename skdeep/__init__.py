"""skdeep: deep learning as a first-class citizen of scikit-learn.

Estimators that implement scikit-learn's API, build PyTorch modules and train
them through skorch.
"""

from skdeep._gc import garbage_collection_paused
from skdeep._version import __version__

with garbage_collection_paused():  # torch's import allocates enough to trigger several full collections
    from skdeep._cnn import CNNClassifier, CNNRegressor
    from skdeep._display import TrainingHistoryDisplay
    from skdeep._mlp import MLPClassifier, MLPRegressor
    from skdeep._persistence import InconsistentVersionWarning
    from skdeep._user_module import TorchClassifier, TorchRegressor

__all__ = [
    "CNNClassifier",
    "CNNRegressor",
    "InconsistentVersionWarning",
    "MLPClassifier",
    "MLPRegressor",
    "TorchClassifier",
    "TorchRegressor",
    "TrainingHistoryDisplay",
    "__version__",
]
