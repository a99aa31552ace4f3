"""A scikit-learn style display of a network's training history."""

from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted


def _trained_network(estimator):
    """The skdeep estimator in ``estimator``: itself, a Pipeline's last step, or a search's best."""
    estimator = getattr(estimator, "best_estimator_", estimator)
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    check_is_fitted(estimator)
    if not hasattr(estimator, "history_"):
        raise TypeError(
            f"TrainingHistoryDisplay needs a fitted skdeep estimator (or a Pipeline or search "
            f"ending in one); got {type(estimator).__name__}, which has no history_."
        )
    return estimator


class TrainingHistoryDisplay:
    """Training loss and validation score per epoch.

    Build it with :meth:`from_estimator`; the constructor takes a history as
    stored in ``history_``. matplotlib must be installed
    (from skdeep's clone: ``pip install -c constraints.txt -e ".[plot]"``).

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch, as in a fitted estimator's ``history_``.
    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    line_loss_ : matplotlib Line2D
        The loss curve.
    line_validation_ : matplotlib Line2D or None
        The validation score curve (with ``early_stopping``), on a second axis.
    ax_ : matplotlib Axes
        The axes of the loss.
    ax_validation_ : matplotlib Axes or None
        The twin axes of the validation score.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skdeep import MLPClassifier, TrainingHistoryDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(early_stopping=True, max_iter=20, random_state=0).fit(X / 16, y)
    >>> display = TrainingHistoryDisplay.from_estimator(clf)
    >>> display.ax_.get_xlabel()
    'epoch'
    """

    def __init__(self, *, history, estimator_name=None):
        self.history = history
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None):
        """Plot the history of a fitted estimator.

        Parameters
        ----------
        estimator : estimator
            A fitted skdeep estimator, a Pipeline ending in one, or a fitted
            search whose ``best_estimator_`` is one of these.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        name : str, default=None
            Title; the estimator's class name when None.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        network = _trained_network(estimator)
        return cls(history=network.history_, estimator_name=name or type(network).__name__).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        epochs = self.history["epoch"]
        loss = self.history["loss"] if "loss" in self.history else self.history["train_loss"]
        (self.line_loss_,) = ax.plot(epochs, loss, color="C0", label="training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        lines = [self.line_loss_]
        self.line_validation_ = self.ax_validation_ = None
        if "validation_score" in self.history:
            self.ax_validation_ = ax.twinx()
            (self.line_validation_,) = self.ax_validation_.plot(
                epochs, self.history["validation_score"], color="C1", label="validation score")
            self.ax_validation_.set_ylabel("validation score")
            lines.append(self.line_validation_)
        ax.legend(lines, [line.get_label() for line in lines], loc="center right")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        return self
