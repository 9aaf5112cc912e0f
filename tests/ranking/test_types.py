"""Shared containers and helpers of ranking.types."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from ranking.types import best_first


def test_best_first_orders_by_scores_then_name() -> None:
    # c has the top score; a and b tie on it and are ordered by name
    assert_array_equal(best_first(("b", "a", "c"), np.array([1.0, 1.0, 2.0])), [2, 1, 0])
    # the second score breaks ties of the first; the name only ties of both
    points = np.array([3.0, 3.0, 1.0, 3.0])
    wins = np.array([1, 2, 0, 1])
    assert_array_equal(best_first(("y", "z", "w", "x"), points, wins), [1, 3, 0, 2])
