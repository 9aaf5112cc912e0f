"""ranking.matchmaking: pair scores, sampling and the arena simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from ranking.errors import InputError
from ranking.matchmaking import matchmaking_simulate, pair_scores, select_pairs, uniform_pairs


def test_pair_scores_by_hand():
    """Three models, known intervals: compare with the formula evaluated by hand."""
    rating = [1000.0, 1000.0, 1200.0]
    lower = [960.8, 960.8, 1160.8]  # sigma = 39.2 / 1.96 = 20
    upper = [1039.2, 1039.2, 1239.2]
    n = [100, 100, 100]
    s = pair_scores(
        rating, lower=lower, upper=upper, n_battles=n, pair_counts=np.zeros((3, 3)), explore=0.0
    )
    assert_allclose(np.diag(s), 0.0)
    assert_allclose(s[0, 1], 1.0, rtol=1e-12)  # equal ratings: intervals overlap fully
    assert_allclose(s[0, 2], np.exp(-(200.0**2) / (2 * (400 + 400))), rtol=1e-9)  # exp(-25)
    with_explore = pair_scores(
        rating, lower=lower, upper=upper, n_battles=n, pair_counts=np.zeros((3, 3))
    )
    assert_allclose(with_explore[0, 1] - s[0, 1], 0.3 * (2 / np.sqrt(101) + 1.0), rtol=1e-12)


def test_new_models_come_first():
    rating = [1100.0, 1000.0, 900.0, np.nan]
    n = [500, 500, 500, 0]
    s = pair_scores(rating, n_battles=n)
    best = np.unravel_index(np.argmax(s), s.shape)
    assert 3 in best
    pairs = select_pairs(s, 3, rng=0, greedy=True)
    assert all(3 in p for p in pairs)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_scores_are_symmetric_and_non_negative(m, seed):
    gen = np.random.default_rng(seed)
    r = gen.normal(1000, 100, m)
    width = gen.uniform(5, 100, m)
    n = gen.integers(0, 50, m)
    s = pair_scores(r, lower=r - width, upper=r + width, n_battles=n)
    assert_allclose(s, s.T)
    assert np.all(s >= 0) and np.all(np.diag(s) == 0)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 10), st.integers(0, 50), st.integers(0, 2**32 - 1))
def test_selected_pairs_are_distinct_valid_and_reproducible(m, k, seed):
    s = pair_scores(np.linspace(900, 1100, m), n_battles=np.full(m, 10))
    pairs = select_pairs(s, k, rng=seed)
    assert len(pairs) == min(k, m * (m - 1) // 2)
    assert len(set(pairs)) == len(pairs)
    assert all(0 <= i < j < m for i, j in pairs)
    assert pairs == select_pairs(s, k, rng=seed)


def test_sampling_is_proportional_to_score():
    s = np.zeros((3, 3))
    s[0, 1] = s[1, 0] = 1.0
    s[0, 2] = s[2, 0] = 2.0
    s[1, 2] = s[2, 1] = 3.0
    gen = np.random.default_rng(0)
    draws = [select_pairs(s, 1, rng=gen)[0] for _ in range(6000)]
    freq = np.array([draws.count((0, 1)), draws.count((0, 2)), draws.count((1, 2))]) / 6000
    assert_allclose(freq, [1 / 6, 2 / 6, 3 / 6], atol=0.025)


def test_zero_scores_are_never_drawn():
    s = np.zeros((4, 4))
    s[0, 1] = s[1, 0] = 1.0
    assert select_pairs(s, 5, rng=1) == [(0, 1)]


def test_uniform_pairs_cover_everything():
    assert sorted(uniform_pairs(4, 6, rng=3)) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


@pytest.mark.parametrize(
    "call",
    [
        lambda: pair_scores([1.0]),
        lambda: pair_scores([1.0, 2.0], n_battles=[1, 2, 3]),
        lambda: select_pairs(np.ones((2, 3)), 1),
        lambda: select_pairs(-np.ones((2, 2)), 1),
        lambda: uniform_pairs(1, 1),
        lambda: matchmaking_simulate([1, 2, 3], policy="clever"),
    ],
)
def test_bad_inputs(call):
    with pytest.raises(InputError):
        call()


def test_simulation_reaches_the_target_and_is_reproducible():
    strength = np.linspace(1300, 900, 8)
    run = matchmaking_simulate(strength, policy="active", budget=1500, batch=25, target=0.85, rng=4)
    assert run.battles_to_target is not None and run.battles_to_target <= 1500
    assert run.accuracy[-1] >= 0.85
    again = matchmaking_simulate(
        strength, policy="active", budget=1500, batch=25, target=0.85, rng=4
    )
    assert again.battles_to_target == run.battles_to_target
    uniform = matchmaking_simulate(
        strength, policy="uniform", budget=100, batch=25, target=0.99, rng=4
    )
    assert uniform.battles_to_target is None and len(uniform.battles) == 4
