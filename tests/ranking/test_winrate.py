"""Win-rate matrices and the average win rate against evalica's golden values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import binomtest, norm

from ranking.battles import Battles
from ranking.errors import InputError
from ranking.types import A_WINS, B_WINS, TIE, TIE_BOTHBAD
from ranking.winrate import average_win_rate, win_matrix, win_rate_matrix

from .conftest import battles_among_four, by_name, evalica_golden


@pytest.mark.parametrize("name", ["simple", "food", "llmfao"])
def test_average_win_rate_equals_evalica(name, evalica_battles):
    ref = evalica_golden(name, "average_win_rate")
    result = average_win_rate(evalica_battles(name))
    assert_allclose(by_name(result, list(ref)), list(ref.values()), rtol=0, atol=1e-12)
    assert result.method == "winrate" and result.params["ci"] == "wilson"


def test_win_matrix_by_hand():
    b = Battles(
        ("a", "b", "c"),
        [0, 1, 0, 2, 0],
        [1, 0, 1, 0, 2],
        [A_WINS, A_WINS, TIE, TIE_BOTHBAD, B_WINS],
    )
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
@given(battles_among_four(max_size=40))
def test_wins_and_losses_add_up(b):
    wins, counts = win_matrix(b)
    assert_allclose(wins + wins.T, counts)
    assert counts.sum() == 2 * len(b)
    rates = win_rate_matrix(b)
    met = np.isfinite(rates)
    assert ((rates[met] >= 0) & (rates[met] <= 1)).all()
    assert_allclose(rates[met] + rates.T[met], 1.0)


# ------------------------------------------------------------------ Wilson intervals


def _battles_vs(opponent_results):
    """Model 'm' against opponents o0, o1, ...: one list of outcome codes per opponent."""
    names = ("m",) + tuple(f"o{j}" for j in range(len(opponent_results)))
    a, b, o = [], [], []
    for j, outcomes in enumerate(opponent_results):
        for code in outcomes:
            a.append(0)
            b.append(j + 1)
            o.append(code)
    return Battles(names, a, b, o)


@pytest.mark.parametrize(
    ("won", "lost"), [(1, 0), (0, 1), (3, 0), (2, 1), (7, 3), (150, 150), (290, 10)]
)
@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_one_opponent_is_scipy_wilson(won, lost, confidence):
    result = average_win_rate(
        _battles_vs([[A_WINS] * won + [B_WINS] * lost]), confidence=confidence
    )
    ref = binomtest(won, won + lost).proportion_ci(confidence_level=confidence, method="wilson")
    assert_allclose([result.lower[0], result.upper[0]], [ref.low, ref.high], rtol=0, atol=1e-12)
    assert result.rating[0] == pytest.approx(won / (won + lost))


def test_equal_battles_per_opponent_is_the_pooled_wilson_interval():
    # 4 opponents, 5 battles each, 11 wins in all: the average equals the pooled rate
    result = average_win_rate(
        _battles_vs(
            [
                [A_WINS] * 5,
                [A_WINS] * 3 + [B_WINS] * 2,
                [A_WINS] * 2 + [B_WINS] * 3,
                [A_WINS] + [B_WINS] * 4,
            ]
        )
    )
    ref = binomtest(11, 20).proportion_ci(method="wilson")
    assert_allclose([result.lower[0], result.upper[0]], [ref.low, ref.high], rtol=0, atol=1e-12)


def test_ties_count_half_and_bounds_solve_the_score_equation():
    # against o0: win, tie, loss (n=3, rate 1/2); against o1: one tie (n=1, rate 1/2);
    # against o2: 4 wins of 4; average (1/2 + 1/2 + 1) / 3 = 2/3
    result = average_win_rate(_battles_vs([[A_WINS, TIE, B_WINS], [TIE_BOTHBAD], [A_WINS] * 4]))
    p = 2.0 / 3.0
    assert result.rating[0] == pytest.approx(p)
    z = norm.ppf(0.975)
    variance_factor = (1 / 3 + 1 / 1 + 1 / 4) / 3**2  # Var(average) = q(1-q) * this
    for q in (result.lower[0], result.upper[0]):
        assert (p - q) ** 2 == pytest.approx(z * z * q * (1 - q) * variance_factor, abs=1e-12)
    assert result.lower[0] < p < result.upper[0]


def test_a_model_without_battles_gets_the_whole_range():
    b = Battles(("a", "b"), [0], [1], [A_WINS]).with_models(("a", "b", "idle"))
    result = average_win_rate(b)
    assert result.rating[2] == 0.0
    assert (result.lower[2], result.upper[2]) == (0.0, 1.0)


def test_interval_covers_the_true_average_win_rate():
    # a model against 5 opponents of known win probability, at 1 ... 300 battles; the
    # truth is the average of the true probabilities over the opponents it met
    rng = np.random.default_rng(4)
    p_true = np.array([0.2, 0.4, 0.55, 0.7, 0.9])
    for n in (1, 3, 10, 30, 300):
        hits = 0
        reps = 400
        for _ in range(reps):
            opp = rng.integers(0, 5, n)
            won = rng.random(n) < p_true[opp]
            b = Battles(
                ("m",) + tuple(f"o{j}" for j in range(5)),
                np.zeros(n),
                opp + 1,
                np.where(won, A_WINS, B_WINS),
            )
            r = average_win_rate(b)
            truth = p_true[np.unique(opp)].mean()
            hits += r.lower[0] <= truth <= r.upper[0]
        assert hits / reps >= 0.9, (n, hits / reps)


def test_bad_confidence_is_refused():
    with pytest.raises(InputError, match="confidence must be strictly between 0 and 1"):
        average_win_rate(_battles_vs([[A_WINS]]), confidence=95)


@settings(max_examples=40, deadline=None)
@given(battles_among_four(max_size=40))
def test_rating_lies_inside_its_interval(b):
    r = average_win_rate(b)
    assert ((r.lower >= 0) & (r.lower <= r.rating) & (r.rating <= r.upper) & (r.upper <= 1)).all()
    played = r.battles > 0
    assert (r.lower[played] < r.upper[played]).all()
