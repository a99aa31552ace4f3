"""scikit-learn's MLP stopping rule, as pure functions."""


def count_no_improvement(count, best, value, tol, *, greater_is_better):
    """Update the count of epochs without an improvement of at least ``tol``.

    An epoch improves when its ``value`` beats the best value so far by at
    least ``tol``: a training loss at most ``best - tol``, a validation score
    at least ``best + tol``. An improvement resets the count to 0; any other
    epoch, a non-finite value included, adds one.

    Parameters
    ----------
    count : int
        Epochs without improvement before this one.
    best : float
        The best value before this one (``inf`` for a loss, ``-inf`` for a
        score, when there is none yet).
    value : float
        This epoch's training loss or validation score.
    tol : float
        The least change that counts as an improvement.
    greater_is_better : bool
        True for a validation score, False for a loss.

    Returns
    -------
    count : int
        The updated count.
    best : float
        The best value, this one included.

    Examples
    --------
    >>> from skdeep._stopping import count_no_improvement
    >>> count_no_improvement(0, 1.0, 0.95, 0.1, greater_is_better=False)
    (1, 0.95)
    >>> count_no_improvement(3, 1.0, 0.8, 0.1, greater_is_better=False)
    (0, 0.8)
    """
    # scikit-learn's comparisons, term for term: at an improvement of tol they round as its do
    if greater_is_better:
        improved, better = value >= best + tol, value > best
    else:
        improved, better = value <= best - tol, value < best
    return (0 if improved else count + 1), (value if better else best)


def should_stop(count, n_iter_no_change):
    """Whether more than ``n_iter_no_change`` epochs passed without improvement.

    Examples
    --------
    >>> from skdeep._stopping import should_stop
    >>> should_stop(10, 10), should_stop(11, 10)
    (False, True)
    """
    return count > n_iter_no_change
