"""scikit-learn's stopping rule, as a pure function."""

import math

import pytest

from skdeep._stopping import count_no_improvement, should_stop


@pytest.mark.parametrize(("count", "best", "value", "expected"), [
    (0, math.inf, 5.0, (0, 5.0)),        # the first epoch always improves
    (2, 1.0, 0.75, (0, 0.75)),           # better by tol: the count restarts
    (2, 1.0, 0.875, (3, 0.875)),         # better, but by less than tol: counted, yet the new best
    (2, 1.0, 1.2, (3, 1.0)),             # worse: counted, the best stays
    (2, 1.0, math.nan, (3, 1.0)),        # a non-finite loss never improves
])
def test_a_loss_must_fall_by_tol(count, best, value, expected):
    assert count_no_improvement(count, best, value, 0.25, greater_is_better=False) == expected


@pytest.mark.parametrize(("count", "best", "value", "expected"), [
    (0, -math.inf, 0.5, (0, 0.5)),
    (1, 0.5, 0.75, (0, 0.75)),
    (1, 0.5, 0.625, (2, 0.625)),
    (1, 0.5, 0.25, (2, 0.5)),
])
def test_a_score_must_rise_by_tol(count, best, value, expected):
    assert count_no_improvement(count, best, value, 0.25, greater_is_better=True) == expected


def test_tol_zero_counts_only_epochs_that_do_not_improve():
    assert count_no_improvement(4, 1.0, 1.0, 0.0, greater_is_better=False) == (0, 1.0)
    assert count_no_improvement(4, 1.0, 1.0 + 1e-12, 0.0, greater_is_better=False) == (5, 1.0)


def test_training_stops_after_more_than_n_iter_no_change_epochs():
    assert not should_stop(10, 10) and should_stop(11, 10)
    assert not should_stop(10**9, math.inf)
