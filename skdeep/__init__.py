"""skdeep: deep learning as a first-class citizen of scikit-learn.

Estimators that implement scikit-learn's API, build PyTorch modules and train
them through skorch.
"""

from skdeep._mlp import MLPClassifier, MLPRegressor

__version__ = "0.1.0"

__all__ = ["MLPClassifier", "MLPRegressor", "__version__"]
