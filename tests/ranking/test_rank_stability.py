"""Rank stability between two boards: Kendall's tau (by hand and against scipy), its interval
(coverage in simulation), rank moves and flipped pairs (by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ranking.errors import InputError
from ranking.rank_stability import kendall_tau_b, kendall_tau_interval, rank_stability


def test_tau_by_hand_one_swap():
    # six pairs, only (2, 3) discordant: (5 - 1) / 6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


def test_tau_b_by_hand_with_ties():
    # C = 4, D = 0, one pair tied only in x, one only in y: 4 / sqrt(5 * 5)
    x, y = [1, 2, 2, 3], [1, 2, 3, 3]
    assert kendall_tau_b(x, y) == pytest.approx(0.8)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def test_tau_extremes_and_degenerate():
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau_b([1], [1]) is None
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None
    with pytest.raises(InputError):
        kendall_tau_b([1, 2], [1, 2, 3])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=2, max_size=25))
def test_tau_matches_scipy(pairs):
    x, y = (np.array(v, dtype=float) for v in zip(*pairs))
    ours = kendall_tau_b(x, y)
    ref = stats.kendalltau(x, y).statistic
    if ours is None:
        assert math.isnan(ref)
    else:
        assert ours == pytest.approx(ref, abs=1e-12)


def test_interval_by_hand():
    # atanh(0.5) = 0.549306; half = 1.959964 * sqrt(0.437 / 16) = 0.323913
    lo, hi = kendall_tau_interval(0.5, 20)
    assert lo == pytest.approx(math.tanh(0.549306 - 0.323913), abs=1e-5)
    assert hi == pytest.approx(math.tanh(0.549306 + 0.323913), abs=1e-5)
    assert kendall_tau_interval(0.5, 4) == (None, None)
    assert kendall_tau_interval(1.0, 10) == (1.0, 1.0)


@pytest.mark.parametrize("rho,n", [(0.6, 30), (0.8, 60), (0.2, 40)])
def test_interval_covers_the_population_tau_in_simulation(rho, n):
    """Bivariate normal models: the population tau is 2/pi arcsin(rho) (Greiner's relation).
    2000 replications: the binomial standard error of a 95 % coverage is 0.005."""
    rng = np.random.default_rng(7)
    truth = 2.0 / math.pi * math.asin(rho)
    cov = np.array([[1.0, rho], [rho, 1.0]])
    hits = 0
    reps = 2000
    for _ in range(reps):
        x = rng.multivariate_normal([0.0, 0.0], cov, size=n)
        tau = kendall_tau_b(x[:, 0], x[:, 1])
        lo, hi = kendall_tau_interval(tau, n)
        hits += lo <= truth <= hi
    assert 0.93 <= hits / reps <= 0.97


A = {
    "x": (1100.0, 1050.0, 1150.0),
    "y": (1000.0, 940.0, 1040.0),
    "w": (950.0, 800.0, 1100.0),
    "z": (900.0, 880.0, 920.0),
    "only-a": (1000.0, None, None),
}
B = {
    "x": (950.0, 900.0, 1000.0),
    "y": (1060.0, 1010.0, 1110.0),
    "w": (880.0, 700.0, 1000.0),
    "z": (905.0, 860.0, 950.0),
    "only-b": (1.0, 0.0, 2.0),
}


def test_report_by_hand():
    r = rank_stability(A, B)
    assert r.models == ("w", "x", "y", "z")
    assert (r.only_a, r.only_b) == (("only-a",), ("only-b",))
    # A order x, y, w, z; B order y, x, z, w: two discordant pairs of six
    assert r.tau == pytest.approx((4 - 2) / 6)
    assert r.tau == pytest.approx(
        stats.kendalltau([950, 1100, 1000, 900], [880, 950, 1060, 905])[0]
    )
    assert r.tau_lower is None and r.n_pairs == 6  # n = 4: no asymptotic interval
    assert [(m.model, m.rank_a, m.rank_b, m.move) for m in r.moves] == [
        ("w", 3, 4, 1),
        ("x", 1, 2, 1),
        ("y", 2, 1, -1),
        ("z", 4, 3, -1),
    ]
    # (x, y): A separates (1050 > 1040), B separates (1010 > 1000): significant.
    # (w, z): A does not separate (800 < 920): not significant.
    assert [
        (f.higher_a, f.higher_b, f.separated_a, f.separated_b, f.significant) for f in r.flips
    ] == [
        ("x", "y", True, True, True),
        ("w", "z", False, False, False),
    ]


def test_a_missing_bound_never_separates():
    a = {"p": (10.0, None, 12.0), "q": (0.0, -1.0, 1.0)}
    b = {"p": (0.0, -1.0, 1.0), "q": (10.0, 9.0, 11.0)}
    (flip,) = rank_stability(a, b).flips
    assert (flip.separated_a, flip.separated_b, flip.significant) == (False, True, False)


def test_identical_boards_are_perfectly_stable():
    r = rank_stability(A, A)
    assert r.tau == pytest.approx(1.0) and r.moves == () and r.flips == ()


def test_bad_input():
    with pytest.raises(InputError):
        rank_stability({"a": (float("nan"), None, None)}, {})
    with pytest.raises(InputError):
        rank_stability(A, B, top=-1)
