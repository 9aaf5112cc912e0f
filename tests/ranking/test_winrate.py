"""Win-rate matrices and the average win rate against evalica's golden values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ranking.battles import Battles
from ranking.types import A_WINS, B_WINS, TIE, TIE_BOTHBAD
from ranking.winrate import average_win_rate, win_matrix, win_rate_matrix

from .conftest import by_name, evalica_golden


@pytest.mark.parametrize("name", ["simple", "food", "llmfao"])
def test_average_win_rate_equals_evalica(name, evalica_battles):
    ref = evalica_golden(name, "average_win_rate")
    result = average_win_rate(evalica_battles(name))
    assert_allclose(by_name(result, list(ref)), list(ref.values()), rtol=0, atol=1e-12)
    assert result.method == "winrate" and result.lower is None


def test_win_matrix_by_hand():
    b = Battles(("a", "b", "c"), [0, 1, 0, 2, 0], [1, 0, 1, 0, 2],
                [A_WINS, A_WINS, TIE, TIE_BOTHBAD, B_WINS])
    wins, counts = win_matrix(b)
    assert_array_equal(wins, [[0, 1.5, 0.5], [1.5, 0, 0], [1.5, 0, 0]])
    assert_array_equal(counts, [[0, 3, 2], [3, 0, 0], [2, 0, 0]])
    rates = win_rate_matrix(b)
    assert rates[0, 1] == pytest.approx(0.5) and rates[2, 0] == pytest.approx(0.75)
    assert np.isnan(rates[1, 2]) and np.isnan(rates[0, 0])
    result = average_win_rate(b.with_models(("a", "b", "c", "idle")))
    assert_allclose(result.rating, [(0.5 + 0.25) / 2, 0.5, 0.75, 0.0])
    assert_array_equal(result.extra["opponents"], [2, 1, 1, 0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(0, 3)),
                min_size=1, max_size=40))
def test_wins_and_losses_add_up(rows):
    a = np.array([r[0] for r in rows])
    b = Battles(("a", "b", "c", "d"), a, (a + np.array([r[1] for r in rows])) % 4,
                [r[2] for r in rows])
    wins, counts = win_matrix(b)
    assert_allclose(wins + wins.T, counts)
    assert counts.sum() == 2 * len(rows)
    rates = win_rate_matrix(b)
    met = np.isfinite(rates)
    assert ((rates[met] >= 0) & (rates[met] <= 1)).all()
    assert_allclose(rates[met] + rates.T[met], 1.0)
