"""Classification and regression on top of :class:`skdeep._base.BaseNeuralEstimator`.

A task base says how targets are encoded, which loss trains the network, how
raw outputs become predictions, and how a validation set is scored for early
stopping. Each architecture (MLP, CNN, a user's module) then only says which
module to build.
"""

from functools import partial

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from skdeep._base import BaseNeuralEstimator
from skdeep._dask import blockwise
from skdeep._data import dtype_to_numpy
from skdeep._plan import STOCHASTIC_SOLVERS


def _solver_is_stochastic(estimator):
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for stochastic solvers {STOCHASTIC_SOLVERS}; "
            f"{estimator.solver!r} is not stochastic."
        )
    return True


def decode_classes(raw, *, softmax, multilabel):
    """Class indices (or a 0/1 label matrix) from raw outputs, a numpy array."""
    if softmax:
        return raw.argmax(axis=1)
    positive = (raw > 0).astype(int)
    return positive if multilabel else positive[:, 0]


def _above_half(probabilities):
    """0/1 labels from the probabilities of a multilabel classifier (the targets' own encoding)."""
    return (probabilities > 0.5).astype(probabilities.dtype)


def binary_probabilities(raw):
    """The two columns ``[1 - p, p]`` of a binary classifier's raw output (one logit), a tensor."""
    return torch.cat([torch.sigmoid(-raw), torch.sigmoid(raw)], dim=1)


def host_probabilities(raw, *, softmax, multilabel):
    """Class probabilities from raw float64 outputs, a numpy array that may be overwritten.

    numpy's operations take a fraction of torch's time on the CPU: a tenth on
    a one-row prediction, where each torch operation costs several
    microseconds, and still half on 200,000 x 10 outputs.
    """
    if softmax:
        raw -= raw.max(axis=1, keepdims=True)
        exp = np.exp(raw, out=raw)
        return np.divide(exp, exp.sum(axis=1, keepdims=True), out=exp)
    return expit(raw) if multilabel else np.hstack([expit(-raw), expit(raw)])


def _identity(raw):
    return raw


def _exp(raw):
    """``exp`` of raw outputs, in place: a numpy array on the CPU, a tensor on a GPU."""
    return np.exp(raw, out=raw) if isinstance(raw, np.ndarray) else raw.exp_()


def _weights(dataset):
    return None if dataset.sample_weight is None else dataset.sample_weight.cpu().numpy()


def validation_accuracy(net, dataset, *, softmax, multilabel):
    """The accuracy of ``net`` on a validation dataset of encoded targets (early stopping's score)."""
    raw = net.forward(dataset).double().numpy()
    if not np.isfinite(raw).all():  # a diverged network scores NaN, never "class 0 everywhere"
        return float("nan")
    target = dataset.y.cpu().numpy()
    if not softmax:
        target = target.astype(int) if multilabel else target[:, 0].astype(int)
    predicted = decode_classes(raw, softmax=softmax, multilabel=multilabel)
    return float(accuracy_score(target, predicted, sample_weight=_weights(dataset)))


def validation_r2(net, dataset, *, exp_output):
    """The R^2 of ``net`` on a validation dataset (NaN for non-finite predictions, as scikit-learn's)."""
    prediction = net.forward(dataset).double().numpy()
    prediction = np.exp(prediction) if exp_output else prediction
    if not np.isfinite(prediction).all():
        return float("nan")
    return float(r2_score(dataset.y.cpu().numpy(), prediction, sample_weight=_weights(dataset)))


class NeuralClassifierBase(ClassifierMixin, BaseNeuralEstimator):
    """Classification: any labels, binary, multiclass and multilabel targets."""

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
    }
    _y_numeric = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    @property
    def _multilabel(self):
        return self.out_activation_ == "logistic" and self.n_outputs_ > 1

    def _encode_targets(self, y, *, reset, incremental, classes):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass", "multilabel-indicator"):
            check_classification_targets(y)  # (scikit-learn's error for continuous and unknown targets)
            raise ValueError(f"{type(self).__name__} does not support {target_type} targets.")
        multilabel = target_type == "multilabel-indicator"
        if reset:
            if multilabel:
                labels = np.arange(y.shape[1])
            elif classes is not None:
                labels = unique_labels(classes)
            else:
                labels = unique_labels(y)  # one class is accepted, as by scikit-learn's MLP
            self.classes_ = labels
            self.out_activation_ = "softmax" if len(labels) > 2 and not multilabel else "logistic"
            self.n_outputs_ = y.shape[1] if multilabel else (1 if len(labels) == 2 else len(labels))
        elif multilabel != self._multilabel:
            raise ValueError(
                f"{type(self).__name__} was fitted on {'multilabel' if self._multilabel else 'single-label'} "
                f"targets and cannot continue training on {target_type} ones."
            )
        elif not incremental and not multilabel and set(unique_labels(y)) != set(self.classes_):
            raise ValueError(  # scikit-learn's rule and message
                "warm_start can only be used where `y` has the same classes as in the previous "
                f"call to fit. Previously got {self.classes_}, `y` has {unique_labels(y)}"
            )
        if multilabel:
            if y.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {y.shape[1]} labels, but the model was fitted on {self.n_outputs_}.")
            return np.asarray(y)
        unseen = [] if reset and classes is None else np.setdiff1d(unique_labels(y), self.classes_)  # (y's own)
        if len(unseen):
            raise ValueError(
                f"y contains labels {list(unseen)} that are not in classes_ = {list(self.classes_)}; "
                "pass every label with `classes=` on the first call to partial_fit."
            )
        return np.searchsorted(self.classes_, y)

    def _target_array(self, y, dtype):
        if self.out_activation_ == "softmax":
            return y.astype(np.int64)
        return np.asarray(y, dtype=dtype_to_numpy(dtype)).reshape(len(y), self.n_outputs_)

    def _class_sample_weight(self, y):
        if self.class_weight is None:
            return 1.0
        if isinstance(self.class_weight, dict) and self._multilabel:
            raise ValueError("For multilabel y, the 'class_weight' parameter must be 'balanced' or a list of "
                             "{0: weight, 1: weight} dicts, one per label; got a dict.")
        if isinstance(self.class_weight, list) and not all(isinstance(weights, dict) for weights in self.class_weight):
            raise ValueError(f"The 'class_weight' parameter, as a list, must hold one {{0: weight, 1: weight}} dict "
                             f"per label; got {self.class_weight!r}.")
        if isinstance(self.class_weight, list) and not self._multilabel:
            raise ValueError("The 'class_weight' parameter is a list of dicts, one per label, for multilabel y; "
                             "for one label per sample, pass one {label: weight} dict.")
        return compute_sample_weight(self.class_weight, y if self._multilabel else self.classes_[y])

    def _stratify_by(self, y):
        # as scikit-learn, for one output only (binary); by label, so that errors name the user's labels
        return self.classes_[y] if self.n_outputs_ == 1 else None

    def _loss_kind(self):
        return "log_loss" if self.out_activation_ == "softmax" else "binary_log_loss"

    def _decode(self, raw):
        return decode_classes(raw, softmax=self.out_activation_ == "softmax", multilabel=self._multilabel)

    def _validation_scorer(self):
        return partial(validation_accuracy, softmax=self.out_activation_ == "softmax", multilabel=self._multilabel)

    def _predict_targets(self):
        return _above_half if self._multilabel else partial(np.argmax, axis=1)

    def _encoded_classes(self):
        return None if self._multilabel else np.arange(len(self.classes_))

    def _predict_nonlinearity(self):
        if self.out_activation_ == "softmax":
            return partial(torch.softmax, dim=1)
        return torch.sigmoid if self._multilabel else binary_probabilities

    @available_if(_solver_is_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, ...)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.
        classes : array-like of shape (n_classes,), default=None
            Every label that can appear in ``y``; required on the first call
            (a later batch may miss some of them). Later calls may pass the
            same labels again, or None.

        Returns
        -------
        self : object
            The trained estimator.
        """
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":  # scikit-learn's rule and advice
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit, which sees one batch at a time: "
                "compute the weights once with sklearn.utils.class_weight.compute_class_weight('balanced', "
                "classes=classes, y=y), with a large enough sample of the training targets as y, and pass them "
                "as class_weight={label: weight}."
            )
        if not self.__sklearn_is_fitted__():
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(  # scikit-learn's rule and message
                f"`classes={unique_labels(classes)!r}` is not the same as on last call to "
                f"partial_fit, was: {self.classes_!r}"
            )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    @blockwise(lambda self: self.n_outputs_ if self._multilabel else None)
    def predict(self, X):
        """Predict labels for X.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame, dask array or DataFrame} of shape (n_samples, ...)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``, or a 0/1 indicator matrix for multilabel
            targets; a dask array, computed lazily, for a dask X.
        """
        decoded = self._decode(self._raw_predict(X))
        if self._multilabel:
            return decoded
        return self.classes_[np.minimum(decoded, len(self.classes_) - 1)]  # one class: always that one

    @blockwise(lambda self: self.n_outputs_ if self._multilabel else len(self.classes_))
    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame, dask array or DataFrame} of shape (n_samples, ...)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_`` (for
            multilabel targets, the probability of each label); a dask
            array, computed lazily, for a dask X.
        """
        return self._raw_predict(X, transform=self._probabilities)

    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, ...)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``, as scikit-learn computes it, so that its
            argmax is that of ``predict_proba`` even where probabilities round
            to 1.
        """
        return np.log(self.predict_proba(X))

    def _probabilities(self, raw):
        """Probabilities from the raw float64 outputs: a numpy array, or a tensor on a GPU (computed there)."""
        if len(self.classes_) == 1 and not self._multilabel:  # a single class has probability 1
            return np.ones_like(raw) if isinstance(raw, np.ndarray) else torch.ones_like(raw)
        if isinstance(raw, np.ndarray):
            return host_probabilities(raw, softmax=self.out_activation_ == "softmax", multilabel=self._multilabel)
        return self._predict_nonlinearity()(raw)


class NeuralRegressorBase(RegressorMixin, BaseNeuralEstimator):
    """Regression: one or several continuous targets, squared or Poisson loss."""

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }
    _y_numeric = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_targets(self, y, *, reset, incremental, classes):
        y = y.reshape(len(y), -1)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        if reset:
            self.n_outputs_ = y.shape[1]
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} outputs, but the model was fitted on {self.n_outputs_}.")
        return y

    def _target_array(self, y, dtype):
        return np.ascontiguousarray(y, dtype=dtype_to_numpy(dtype))

    def _class_sample_weight(self, y):
        return 1.0

    def _stratify_by(self, y):
        return None

    def _loss_kind(self):
        return self.loss

    def _predicted(self, raw):
        return _exp(raw) if self.out_activation_ == "exp" else raw

    def _validation_scorer(self):
        return partial(validation_r2, exp_output=self.out_activation_ == "exp")

    def _predict_targets(self):
        return None

    def _predict_nonlinearity(self):
        return torch.exp if self.out_activation_ == "exp" else _identity

    @available_if(_solver_is_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, ...)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : object
            The trained estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    @blockwise(lambda self: None if self.n_outputs_ == 1 else self.n_outputs_)
    def predict(self, X):
        """Predict targets for X.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame, dask array or DataFrame} of shape (n_samples, ...)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            A dask array, computed lazily, for a dask X.
        """
        prediction = self._raw_predict(X, transform=self._predicted)
        return prediction.ravel() if self.n_outputs_ == 1 else prediction
