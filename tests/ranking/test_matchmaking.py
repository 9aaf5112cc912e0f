"""ranking.matchmaking: pair scores, sampling and the arena simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from ranking.battles import Battles
from ranking.errors import InputError
from ranking.matchmaking import (
    SamplingStatus,
    matchmaking_simulate,
    pair_scores,
    sampling_status,
    select_pairs,
    select_target_pairs,
    target_simulate,
    uniform_pairs,
)
from ranking.types import A_WINS, B_WINS


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


# --------------------------------------------------------------------------- sampling to a target

Z95 = 1.959963984540054


def _sym(se: list[float], rating: list[float]) -> tuple[list[float], list[float]]:
    return [r - Z95 * s for r, s in zip(rating, se)], [r + Z95 * s for r, s in zip(rating, se)]


def test_sampling_status_by_hand():
    """Five models with symmetric 95% intervals (standard errors se), target width 100.

    Widths 2 * 1.96 * se = 78.4, 117.6, 156.8, 39.2, 58.8: models 1 and 2 are still sampled.
    Settled when |r_i - r_j| > 1.96 * sqrt(se_i^2 + se_j^2):
    (0,1) 60 < 70.7 open; (0,4) 10 < 49.0 open but both at target; (2,3) 20 < 80.8 open;
    (1,4) 50 < 65.9 open; every other pair settled (gaps of 240 or more).
    """
    rating = [1000.0, 1060.0, 1300.0, 1320.0, 1010.0]
    se = [20.0, 30.0, 40.0, 10.0, 15.0]
    lower, upper = _sym(se, rating)
    st = sampling_status(rating, lower=lower, upper=upper, target_width=100.0)
    assert_allclose(st.width, [2 * Z95 * s for s in se], rtol=1e-12)
    assert st.sampling.tolist() == [False, True, True, False, False]
    open_pairs = {(0, 1), (0, 4), (2, 3), (1, 4)}
    for i in range(5):
        for j in range(5):
            if i != j:
                assert st.settled[i, j] == ((min(i, j), max(i, j)) not in open_pairs), (i, j)
    # (0, 4): both models are at target. The open pairs leave two groups, {0, 1, 4} and
    # {2, 3}; the settled pairs with a sampled model between them have z = |gap| / se of
    # (1,2) 240/50 = 4.8, (0,2) 300/44.7 = 6.7, (2,4) 290/42.7 = 6.8, (1,3) 260/31.6 = 8.2:
    # the bridge is (1, 2).
    eligible = {(i, j) for i in range(5) for j in range(i + 1, 5) if st.eligible[i, j]}
    assert eligible == {(0, 1), (2, 3), (1, 4), (1, 2)}
    bridges = {(i, j) for i in range(5) for j in range(i + 1, 5) if st.bridge[i, j]}
    assert bridges == {(1, 2)}
    assert (st.eligible == st.eligible.T).all()
    assert_allclose(st.need, [0.0, 117.6 / 100 * Z95 / 1.96, 156.8 / 100 * Z95 / 1.96, 0, 0])


def test_settled_uses_the_facing_sides_of_asymmetric_intervals():
    """i above j: i's lower side and j's upper side decide (profile intervals are skewed)."""
    rating = [1100.0, 1000.0]
    # i: 100 below, 10 above; j: 10 either side -> 1.96 * sqrt((100/1.96)^2 + (10/1.96)^2)
    # = sqrt(100^2 + 10^2) = 100.5 > 100: not settled (its upper side alone would settle it)
    st = sampling_status(rating, lower=[1000.0, 990.0], upper=[1110.0, 1010.0], target_width=0)
    assert not st.settled[0, 1]
    st = sampling_status(rating, lower=[1010.0, 990.0], upper=[1200.0, 1010.0], target_width=0)
    assert st.settled[0, 1] and st.settled[1, 0]  # sqrt(90^2 + 10^2) = 90.6 < 100
    # lower confidence settles sooner: z_0.80 = 1.2816; 1.2816 / 1.96 * 100.5 = 65.7 < 100
    st = sampling_status(
        rating, lower=[1000.0, 990.0], upper=[1110.0, 1010.0], target_width=0, confidence=0.8
    )
    assert st.settled[0, 1]


def test_unknown_intervals_are_sampled_and_never_settled():
    st = sampling_status(
        [1000.0, 2000.0, np.nan],
        lower=[990.0, -np.inf, np.nan],
        upper=[1010.0, 2010.0, np.nan],
        target_width=50.0,
    )
    assert st.sampling.tolist() == [False, True, True]
    assert not st.settled.any()
    assert st.need.tolist() == [0.0, 10.0, 10.0]


def test_a_sampled_model_whose_pairs_are_all_settled_keeps_its_pairs():
    """Model 2 is far above the others: every pair of it is settled, yet its interval is
    wider than the target, so it keeps its pairs (else it would never narrow)."""
    rating = [0.0, 20.0, 1000.0]
    lower, upper = _sym([10.0, 10.0, 40.0], rating)
    st = sampling_status(rating, lower=lower, upper=upper, target_width=50.0)
    assert st.settled[0, 2] and st.settled[1, 2]
    assert st.sampling.tolist() == [False, False, True]
    assert st.eligible[0, 2] and st.eligible[1, 2] and not st.eligible[0, 1]


def test_fallback_pairs_the_widest_models_when_nothing_is_eligible():
    rating = [0.0, 300.0, 600.0, 900.0]
    lower, upper = _sym([5.0, 9.0, 7.0, 8.0], rating)
    st = sampling_status(rating, lower=lower, upper=upper, target_width=100.0)
    assert not st.eligible.any()
    pairs = select_target_pairs(np.ones((4, 4)) - np.eye(4), st, 2, rng=0)
    assert pairs == [(1, 3), (1, 2)]  # widths 9+8 and 9+7 (times 2 * 1.96) are the largest


def test_select_target_pairs_only_draws_eligible_pairs_while_there_are_enough():
    rating = [1000.0, 1060.0, 1300.0, 1320.0, 1010.0]
    lower, upper = _sym([20.0, 30.0, 40.0, 10.0, 15.0], rating)
    st = sampling_status(rating, lower=lower, upper=upper, target_width=100.0)
    scores = pair_scores(rating, lower=lower, upper=upper, n_battles=[500] * 5)
    for seed in range(20):
        pairs = select_target_pairs(scores, st, 4, rng=seed)
        assert sorted(pairs) == [(0, 1), (1, 2), (1, 4), (2, 3)]
    assert len(select_target_pairs(scores, st, 6, rng=1)) == 6  # 2 more from the fallback


def test_status_input_errors():
    with pytest.raises(InputError, match="target_width"):
        sampling_status([0, 1], lower=[0, 0], upper=[1, 1], target_width=-1)
    with pytest.raises(InputError, match="confidence"):
        sampling_status([0, 1], lower=[0, 0], upper=[1, 1], target_width=1, confidence=1.0)
    with pytest.raises(InputError, match="lower must have 2 entries"):
        sampling_status([0, 1], lower=[0], upper=[1, 1], target_width=1)
    st = SamplingStatus(
        width=np.ones(2),
        sampling=np.ones(2, bool),
        need=np.ones(2),
        settled=np.zeros((2, 2), bool),
        eligible=np.ones((2, 2), bool),
        bridge=np.zeros((2, 2), bool),
    )
    with pytest.raises(InputError, match="scores must be 2 x 2"):
        select_target_pairs(np.ones((3, 3)), st, 1)


def test_target_sampling_reaches_the_target_with_a_runaway_model():
    """Twelve close models and one 650 points above them: its pairs settle at once while its
    interval is still wide. Sampling to the target must still get every interval under the
    target width (with this seed, a sampler that drops every settled pair, even those of a
    model still too wide, needed 9,900 battles instead of about 2,200)."""
    strength = list(np.linspace(0.0, 200.0, 12)) + [650.0]
    run = target_simulate(strength, target_width=100.0, budget=5000, rng=1)
    assert run.battles_to_target is not None
    assert run.max_width[-1] <= 100.0
    assert run.settled_wrong == 0


def test_target_simulate_same_seed_same_run_and_errors():
    one = target_simulate([0.0, 100.0, 200.0], target_width=200.0, budget=600, rng=5)
    two = target_simulate([0.0, 100.0, 200.0], target_width=200.0, budget=600, rng=5)
    assert one.battles_to_target == two.battles_to_target
    assert_allclose(one.max_width, two.max_width)
    with pytest.raises(InputError, match="policy"):
        target_simulate([0.0, 1.0, 2.0], target_width=1.0, policy="greedy")


def test_target_sampling_does_not_stall_when_the_open_pairs_split_into_groups():
    """Ten models 600 points apart end to end. With this seed the open pairs split into
    three groups after ~2,000 battles; drawing only inside them froze every interval at
    120-165 points (relative to the mean of all models, an interval needs votes across
    groups) and 20,000 battles did not reach the target. The bridges between the groups
    reach it."""
    run = target_simulate(
        np.linspace(-300.0, 300.0, 10), target_width=80.0, tie_rate=0.0, budget=6000, rng=11
    )
    assert run.battles_to_target is not None
    assert run.max_width[-1] <= 80.0


def test_stop_confidence_rescales_the_widths_by_hand():
    """95% intervals 60 and 75 wide, target 80. At the 95% level both are at target; taken at
    99% they are 60 · 2.5758 / 1.9600 = 78.85 and 75 · 2.5758 / 1.9600 = 98.56 wide: the
    second is still sampled, with need 98.56 / 80 = 1.232."""
    rating = [0.0, 10.0]
    lower, upper = [-30.0, -27.5], [30.0, 47.5]
    assert not sampling_status(rating, lower=lower, upper=upper, target_width=80.0).sampling.any()
    st = sampling_status(rating, lower=lower, upper=upper, target_width=80.0, stop_confidence=0.99)
    assert st.sampling.tolist() == [False, True]
    assert_allclose(st.need, [0.0, 75 * 2.5758293 / 1.9599640 / 80], rtol=1e-6)
    assert_allclose(st.width, [60.0, 75.0])  # the given widths are reported as they are
    with pytest.raises(InputError, match="stop_confidence"):
        sampling_status(rating, lower=lower, upper=upper, target_width=1, stop_confidence=1.0)


def test_without_scores_pairs_are_drawn_by_need_alone():
    """The eligible pairs are (0, 1), need 1 + 3 = 4, and (1, 2), need 3 + 0 = 3: drawn in
    proportion to need_i + need_j, (0, 1) comes 4 / 7 of the time."""
    st = SamplingStatus(
        width=np.array([100.0, 300.0, 10.0]),
        sampling=np.array([True, True, False]),
        need=np.array([1.0, 3.0, 0.0]),
        settled=np.zeros((3, 3), bool),
        eligible=np.array([[False, True, False], [True, False, True], [False, True, False]]),
        bridge=np.zeros((3, 3), bool),
    )
    gen = np.random.default_rng(0)
    draws = [select_target_pairs(None, st, 1, rng=gen)[0] for _ in range(7000)]
    share = draws.count((0, 1)) / len(draws)
    assert set(draws) == {(0, 1), (1, 2)}
    assert abs(share - 4 / 7) < 4 * np.sqrt(4 / 7 * 3 / 7 / len(draws))  # 4 standard errors


def _newcomers_history(strength: np.ndarray, seed: int) -> Battles:
    """6,000 decisive battles among the even-numbered (established) models, drawn as
    ``bench/bench_sampling.py`` draws them (the same seeds give the same battles)."""
    gen = np.random.default_rng(10_000 + seed)
    players = np.arange(0, strength.shape[0], 2)
    a, b = gen.choice(players, 6000), gen.choice(players, 6000)
    a, b = a[a != b], b[a != b]
    p = 1.0 / (1.0 + 10.0 ** (-(strength[a] - strength[b]) / 400.0))
    gen.random(a.shape[0])  # the draw that decides ties in bench_sampling.py (rate 0 here)
    outcome = np.where(gen.random(a.shape[0]) < p, A_WINS, B_WINS).astype(np.int8)
    models = tuple(f"m{i}" for i in range(strength.shape[0]))
    return Battles(models=models, a=a.astype(np.int32), b=b.astype(np.int32), outcome=outcome)


#: Coverage of the published 95% intervals at the stop must be within this of 0.95. Over 16
#: seeds x 12 or 13 models the measured two-standard-error band of such a coverage is
#: 0.03-0.05 (the models of one run err together), so this catches a broken rule (a stall, an
#: interval far too narrow), not a shift of a point or two: on these seeds the earlier rule
#: (rating-dependent draws) passes too (0.964 and 0.913; bench/RESULTS.md has 40 seeds).
COVERAGE_TOLERANCE = 0.05


@pytest.mark.parametrize("scenario", ["newcomers", "runaway"])
def test_intervals_cover_about_the_nominal_rate_when_sampling_stops(scenario):
    """Sample to the target (decisive battles, refit every 100) on seeds 16-31 (not the seeds
    used while choosing the rule) and check how often each model's 95% profile interval holds
    its true mean-centred strength when the arena stops: 6 established models with 6,000
    battles and 6 newcomers (target 80), or twelve close models and one 650 points above
    them (target 100; measured 0.913 here, 0.925 over 40 seeds: below nominal, see
    bench/RESULTS.md)."""
    import warnings

    from ranking.errors import RankingWarning

    if scenario == "newcomers":
        strength, target = np.linspace(-300.0, 300.0, 12), 80.0
    else:
        strength, target = np.array([*np.linspace(0.0, 200.0, 12), 650.0]), 100.0
    coverage = []
    for seed in range(16, 32):
        history = _newcomers_history(strength, seed) if scenario == "newcomers" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankingWarning)
            run = target_simulate(
                strength, target_width=target, tie_rate=0.0, history=history, rng=seed
            )
        assert run.battles_to_target is not None
        coverage.append(run.coverage)
    assert abs(float(np.mean(coverage)) - 0.95) <= COVERAGE_TOLERANCE, coverage
