"""Competitive Swiss-system dynamics (LLM Swiss Round) and format predictions."""

from __future__ import annotations

import json
from itertools import combinations, product
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ranking.errors import InputError
from ranking.simulate import (
    expected_score_rating,
    failure_sensitivity,
    predict_tournament,
    scores_to_win,
    simulate_format,
    swiss_dynamics,
    swiss_dynamics_samples,
)

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "bracket_vectors.json").read_text())["vectors"]

# Four models, two benchmarks; the order on "code" is the reverse of the order on "math".
TINY = scores_to_win(
    [
        [90, 80, 70, 60],  # math: A > B > C > D
        [10, 20, 30, 40],
    ]
)  # code: D > C > B > A
TINY_NAMES = ["A", "B", "C", "D"]


def within(est: np.ndarray, se: np.ndarray, exact: np.ndarray, k: float = 4.0) -> None:
    est, se, exact = map(np.asarray, (est, se, exact))
    exact_hit = se == 0
    assert_allclose(est[exact_hit], exact[exact_hit], atol=1e-12)
    assert np.all(np.abs(est - exact)[~exact_hit] <= k * se[~exact_hit])


def test_tiny_case_without_elimination_matches_hand_derivation() -> None:
    # Round 1 pairs the four at random: {AB, CD}, {AC, BD}, {AD, BC}, each w.p. 1/3.
    # {AB, CD}: A and C win on math; round 2 pairs {A, C} (C wins on code) and {B, D}
    #   (D wins): final A 1, B 0, C 2, D 1.
    # {AC, BD} and {AD, BC}: A and B win; round 2 {A, B} (B wins) and {C, D} (D wins):
    #   final A 1, B 2, C 0, D 1.
    # E[S] = A 1, B 4/3, C 2/3, D 1; first place: C w.p. 1/3, B w.p. 2/3.
    res = swiss_dynamics(TINY, names=TINY_NAMES, iterations=40_000, rng=1)
    within(res.expected_score, res.stderr, np.array([1, 4 / 3, 2 / 3, 1]))
    within(res.p_first, res.p_first_stderr, np.array([0, 2 / 3, 1 / 3, 0]))
    assert_allclose(res.p_survive, 1.0)
    assert res.expected_score[0] == 1.0 and res.stderr[0] == 0.0
    # distribution of B's score: 0 w.p. 1/3, 2 w.p. 2/3
    assert res.score_pmf[1, 1] == 0.0
    assert abs(res.score_pmf[1, 2] - 2 / 3) < 4 * np.sqrt(2 / 9 / 40_000)


def test_tiny_case_with_elimination_matches_hand_derivation() -> None:
    # T_1 = 1: after round 1 one of the two 0-win models is removed, at random.
    # {AB, CD} (1/3): losers B, D. The survivor of them is alone in its group in round 2
    #   and gets a zero-point bye; C beats A. Final A 1, B 0, C 2, D 0.
    # otherwise (2/3): losers C, D; B beats A in round 2. Final A 1, B 2, C 0, D 0.
    # E[S] = A 1, B 4/3, C 2/3, D 0.
    # Survival of round 1: A 1, B 2/3 + 1/3 * 1/2 = 5/6, C 1/3 + 2/3 * 1/2 = 2/3, D 1/2.
    n = 40_000
    res = swiss_dynamics(TINY, names=TINY_NAMES, eliminate=[1, 0], iterations=n, rng=2)
    within(res.expected_score, res.stderr, np.array([1, 4 / 3, 2 / 3, 0]))
    p_surv = np.array([1, 5 / 6, 2 / 3, 1 / 2])
    se = np.sqrt(p_surv * (1 - p_surv) / n)
    within(res.p_survive[:, 0], se, p_surv)
    assert_array_equal(res.p_survive[:, 1], res.p_survive[:, 0])
    assert res.eliminate == (1, 0)


def test_odd_field_gives_a_zero_point_bye() -> None:
    # 3 models, one round, A > B > C: one of the three sits out at random.
    # E[A] = P(A plays) = 2/3; B wins only against C: P = 1/3; C never wins.
    res = swiss_dynamics(scores_to_win([[3, 2, 1]]), iterations=30_000, rng=0)
    within(res.expected_score, res.stderr, np.array([2 / 3, 1 / 3, 0]))


def test_one_round_with_probabilities() -> None:
    # with 4 models every opponent is equally likely in round 1: E[S_i] = mean_j p[i, j]
    p = np.array(
        [[0.5, 0.6, 0.7, 0.9], [0.4, 0.5, 0.55, 0.8], [0.3, 0.45, 0.5, 0.65], [0.1, 0.2, 0.35, 0.5]]
    )
    res = swiss_dynamics(p[None], iterations=40_000, rng=3)
    within(res.expected_score, res.stderr, (p.sum(axis=1) - 0.5) / 3)


@pytest.mark.parametrize("use_p", [False, True])
def test_dominant_model_reaches_the_maximum(use_p: bool) -> None:
    # 16 models and 4 rounds keep every score group even, so nobody gets a bye and a
    # model that beats everyone on every benchmark wins all 4 rounds.
    rng = np.random.default_rng(0)
    scores = rng.random((4, 16))
    scores[:, 9] = 2.0
    win = scores_to_win(scores)
    if use_p:
        win = np.clip(win * 0.6 + 0.2, 0, 1)  # every other pair is uncertain
        win[:, 9, :] = 1.0
        win[:, :, 9] = 0.0
        for k in range(4):
            np.fill_diagonal(win[k], 0.5)
    res = swiss_dynamics(win, iterations=5_000, rng=1)
    assert res.expected_score[9] == 4.0 and res.stderr[9] == 0.0
    assert res.p_first[9] == 1.0
    assert np.argmax(res.expected_score) == 9


def test_dominant_model_has_the_highest_expected_score_in_an_uneven_field() -> None:
    rng = np.random.default_rng(4)
    scores = rng.random((10, 30))
    scores[:, 17] = 5.0
    res = swiss_dynamics(scores_to_win(scores), iterations=20_000, rng=0)
    assert np.argmax(res.expected_score) == 17
    assert res.expected_score[17] > res.expected_score[np.arange(30) != 17].max()


def test_total_wins_conserved_when_groups_stay_even() -> None:
    # 8 models, 3 rounds: every score group is even, so each round has 4 decided games.
    p = np.random.default_rng(2).uniform(0.2, 0.8, size=(8, 8))
    p = np.triu(p, 1) + np.tril(1 - p.T, -1) + 0.5 * np.eye(8)
    wins = swiss_dynamics_samples(np.stack([p, p, p]), iterations=3_000, rng=0)
    assert_array_equal(wins.sum(axis=1), 12)


def test_elimination_ties_are_broken_at_random() -> None:
    # four interchangeable models (every game a coin flip): after round 1 one of the two
    # losers goes, so each survives with probability 1/2 + 1/2 * 1/2 = 3/4.
    p = np.full((1, 4, 4), 0.5)
    n = 40_000
    res = swiss_dynamics(p, eliminate=[1], iterations=n, rng=5)
    within(res.p_survive[:, 0], np.full(4, np.sqrt(3 / 16 / n)), np.full(4, 0.75))


def test_same_seed_same_output() -> None:
    a = swiss_dynamics(TINY, iterations=2_000, rng=9)
    b = swiss_dynamics(TINY, iterations=2_000, rng=9)
    c = swiss_dynamics(TINY, iterations=2_000, rng=10)
    assert_array_equal(a.expected_score, b.expected_score)
    assert_array_equal(a.p_first, b.p_first)
    assert not np.array_equal(a.expected_score, c.expected_score)


@st.composite
def tournaments(draw: st.DrawFn) -> tuple[np.ndarray, list[int], int]:
    k = draw(st.integers(1, 4))
    m = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    scores = np.random.default_rng(seed).integers(0, 4, size=(k, m)).astype(float)
    elim = draw(st.lists(st.integers(0, 2), min_size=0, max_size=k))
    while sum(elim) > m - 1:
        elim[elim.index(max(elim))] -= 1
    return scores, elim, seed


@given(tournaments())
@settings(max_examples=40, deadline=None)
def test_permuting_models_permutes_output(case: tuple[np.ndarray, list[int], int]) -> None:
    scores, elim, seed = case
    m = scores.shape[1]
    names = [f"model-{i}" for i in range(m)]
    perm = np.random.default_rng(seed + 1).permutation(m)
    a = swiss_dynamics(scores_to_win(scores), names=names, eliminate=elim, iterations=300, rng=seed)
    b = swiss_dynamics(
        scores_to_win(scores[:, perm]),
        names=[names[i] for i in perm],
        eliminate=elim,
        iterations=300,
        rng=seed,
    )
    assert b.models == tuple(names[i] for i in perm)
    assert_allclose(b.expected_score, a.expected_score[perm], atol=1e-12)
    assert_allclose(b.p_survive, a.p_survive[perm], atol=1e-12)
    assert_allclose(b.p_first, a.p_first[perm], atol=1e-12)


@given(tournaments())
@settings(max_examples=40, deadline=None)
def test_probabilities_and_scores_in_range(case: tuple[np.ndarray, list[int], int]) -> None:
    scores, elim, seed = case
    k, m = scores.shape
    res = swiss_dynamics(scores_to_win(scores), eliminate=elim, iterations=300, rng=seed)
    assert np.all((res.expected_score >= 0) & (res.expected_score <= k))
    for arr in (res.p_survive, res.p_first, res.score_pmf):
        assert np.all((arr >= 0) & (arr <= 1))
    assert res.p_first.sum() == pytest.approx(1.0)
    assert_allclose(res.score_pmf.sum(axis=1), 1.0)
    assert np.all(np.diff(res.p_survive, axis=1) <= 0)
    survivors = m - np.cumsum(np.pad(elim, (0, k - len(elim))))
    assert_allclose(res.p_survive.sum(axis=0), survivors)
    assert res.expected_score.sum() <= k * (m // 2) + 1e-9


def test_failure_sensitivity_separates_generalist_from_specialist() -> None:
    # The generalist beats everyone but the specialist on every benchmark; the
    # specialist is last on the first two benchmarks and first on the last two.
    rng = np.random.default_rng(5)
    scores = rng.random((4, 8)) * 0.8 + 0.1
    scores[:, 0] = 0.95
    scores[:2, 1], scores[2:, 1] = 0.0, 1.0
    names = ["generalist", "specialist"] + [f"m{i}" for i in range(2, 8)]
    fs = failure_sensitivity(scores_to_win(scores), names=names, iterations=10_000, rng=0)
    assert fs.levels == (0, 1, 2)  # (8 - 2) // (4 - 1)
    assert fs.expected_score.shape == (3, 8)
    assert fs.retention[0] > 0.99  # never eliminated, never loses what it had
    assert fs.retention[1] < 0.05  # 0 wins after two rounds: eliminated first
    assert fs.profile[0] == "robust generalist"
    assert fs.profile[1] == "aggressive specialist"
    assert fs.share_shift[0] > 0 > fs.share_shift[1]
    # the specialist is mid-table without elimination and last with it
    assert fs.rank[0, 1] < 8 and fs.rank[-1, 1] == 8


# ------------------------------------------------------------------ format prediction

RATINGS_8 = REF["8_player"]["ratings_by_seed"]


def test_round_robin_prediction_matches_reference() -> None:
    pred = predict_tournament(RATINGS_8, format="round_robin", iterations=2_000, rng=0)
    assert_allclose(pred.expected_score, REF["round_robin_expected_wins_8"], atol=1e-12)
    assert pred.p_win.sum() == pytest.approx(1.0)


def test_round_robin_win_probability_against_enumeration() -> None:
    ratings = [1200, 1100, 1050, 900]
    p = [[1 / (1 + 10 ** ((b - a) / 400)) for b in ratings] for a in ratings]
    pairs = list(combinations(range(4), 2))
    exact = np.zeros(4)
    for outcome in product((0, 1), repeat=len(pairs)):
        prob, pts = 1.0, np.zeros(4)
        for (i, j), o in zip(pairs, outcome):
            winner = i if o == 0 else j
            prob *= p[i][j] if o == 0 else p[j][i]
            pts[winner] += 1
        top = pts == pts.max()
        exact += prob * top / top.sum()
    pred = predict_tournament(ratings, format="round_robin", iterations=40_000, rng=1)
    within(pred.p_win, pred.p_win_stderr, exact)


def test_single_elimination_prediction_is_exact_and_seeded_by_rating() -> None:
    shuffled = [RATINGS_8[i] for i in (3, 0, 7, 5, 1, 2, 6, 4)]
    pred = predict_tournament(shuffled, format="single_elimination")
    champion = dict(zip(RATINGS_8, REF["8_player"]["P_champion"]))
    wins = dict(zip(RATINGS_8, REF["8_player"]["expected_match_wins"]))
    assert_allclose(pred.p_win, [champion[r] for r in shuffled], atol=1e-12)
    assert_allclose(pred.expected_score, [wins[r] for r in shuffled], atol=1e-12)


def test_single_elimination_simulation_agrees_with_exact() -> None:
    scores = simulate_format(
        _elo_matrix(RATINGS_8), format="single_elimination", iterations=30_000, rng=2
    )
    se = scores.std(axis=0, ddof=1) / np.sqrt(len(scores))
    within(scores.mean(axis=0), se, np.array(REF["8_player"]["expected_match_wins"]))


def _elo_matrix(r: list[float]) -> np.ndarray:
    return np.array([[1 / (1 + 10 ** ((b - a) / 400)) for b in r] for a in r])


def test_swiss_prediction() -> None:
    pred = predict_tournament(RATINGS_8, format="swiss", rounds=3, iterations=20_000, rng=0)
    assert pred.expected_score.sum() == pytest.approx(12.0)  # 4 games x 3 rounds
    assert np.all(np.diff(pred.expected_score) < 0)  # stronger models score more
    assert pred.p_win.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"eliminate": [0, 0, 1]}, "only 2 rounds"),
        ({"eliminate": [4]}, "at most 3"),
        ({"eliminate": [-1]}, "non-negative"),
        ({"iterations": 0}, "iterations"),
        ({"names": ["A", "B"]}, "names has 2"),
        ({"names": ["A", "A", "B", "C"]}, "unique"),
    ],
)
def test_bad_arguments(kwargs: dict, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        swiss_dynamics(TINY, **kwargs)


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="must equal 1"):
        swiss_dynamics(np.full((1, 3, 3), 0.9))
    with pytest.raises(InputError, match="finite"):
        scores_to_win([[1.0, float("nan")]])
    with pytest.raises(InputError, match="format"):
        predict_tournament([1, 2], format="ladder")


# ------------------------------------------------- exact enumeration for small fields


def _matchings(group: list[int]) -> list[tuple[list[tuple[int, int]], int | None]]:
    """Every way to pair ``group`` (the odd one out, if any, gets the bye); equally likely."""
    if not group:
        return [([], None)]
    if len(group) % 2:
        return [
            (pairs, bye)
            for k, bye in enumerate(group)
            for pairs, _ in _matchings(group[:k] + group[k + 1 :])
        ]
    first, rest = group[0], group[1:]
    out = []
    for k, other in enumerate(rest):
        for pairs, _ in _matchings(rest[:k] + rest[k + 1 :]):
            out.append(([(first, other), *pairs], None))
    return out


def _exact_swiss(win: np.ndarray, eliminate: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """E[S] and survival by enumerating every pairing, result and elimination draw."""
    k_rounds, m, _ = win.shape
    es = np.zeros(m)
    surv = np.zeros((m, k_rounds))

    def rec(k: int, wins: tuple[int, ...], alive: frozenset[int], prob: float) -> None:
        if k == k_rounds:
            es[:] += prob * np.array(wins)
            return
        groups: dict[int, list[int]] = {}
        for i in sorted(alive):
            groups.setdefault(wins[i], []).append(i)
        per_group = [_matchings(g) for g in groups.values()]
        pairings = [[]]  # type: list[list[tuple[int, int]]]
        for options in per_group:
            pairings = [acc + pairs for acc in pairings for pairs, _ in options]
        weight = prob / len(pairings)
        for pairs in pairings:
            for results in product((0, 1), repeat=len(pairs)):
                p, w = weight, list(wins)
                for (i, j), r in zip(pairs, results):
                    p *= win[k, i, j] if r == 0 else win[k, j, i]
                    w[i if r == 0 else j] += 1
                if p == 0:
                    continue
                cut = eliminate[k] if k < len(eliminate) else 0
                if cut == 0:
                    outs = [(frozenset(), 1.0)]
                else:
                    ranked = sorted(alive, key=lambda x: w[x])
                    border = w[ranked[cut - 1]]
                    sure = [x for x in ranked if w[x] < border]
                    tied = [x for x in ranked if w[x] == border]
                    pick = list(combinations(tied, cut - len(sure)))
                    outs = [(frozenset(sure) | frozenset(c), 1 / len(pick)) for c in pick]
                for gone, q in outs:
                    left = alive - gone
                    for x in left:
                        surv[x, k] += p * q
                    rec(k + 1, tuple(w), left, p * q)

    rec(0, (0,) * m, frozenset(range(m)), 1.0)
    return es, surv


@pytest.mark.parametrize(
    "m, k, elim, seed", [(4, 2, [], 0), (5, 3, [1, 1], 1), (6, 3, [2, 1], 2), (5, 2, [0, 2], 3)]
)
def test_monte_carlo_matches_exact_enumeration(m: int, k: int, elim: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    win = rng.uniform(0.1, 0.9, size=(k, m, m))
    win = np.triu(win, 1) + np.transpose(np.triu(1 - win, 1), (0, 2, 1))
    for r in range(k):
        np.fill_diagonal(win[r], 0.5)
    exact_es, exact_surv = _exact_swiss(win, elim)
    n = 40_000
    res = swiss_dynamics(win, eliminate=elim, iterations=n, rng=seed)
    within(res.expected_score, res.stderr, exact_es)
    se = np.sqrt(exact_surv * (1 - exact_surv) / n)
    within(res.p_survive, se, exact_surv)


# ------------------------------------------------- expected_score_rating


def _bt_battles(rng, true, per_model):
    from ranking.battles import Battles

    m = len(true)
    n = m * per_model // 2
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    won = rng.random(n) < 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
    return Battles(tuple(f"m{i}" for i in range(m)), a, b, np.where(won, 0, 1))


def test_expected_score_round_robin_value_is_the_sum_of_win_probabilities():
    from ranking.bradley_terry import bradley_terry

    battles = _bt_battles(np.random.default_rng(1), np.array([-100.0, 0.0, 50.0, 150.0]), 40)
    result = expected_score_rating(battles, format="round_robin", draws=30, rng=2)
    r = bradley_terry(battles, l2=1.0).rating
    # a round robin's E[S] is exact: the sum of i's win probabilities against the others
    hand = [
        sum(1 / (1 + 10 ** ((r[j] - r[i]) / 400)) for j in range(4) if j != i) for i in range(4)
    ]
    assert_allclose(result.rating, hand, rtol=1e-12)
    assert (result.lower <= result.rating).all() and (result.rating <= result.upper).all()
    assert result.method == "expected_score" and result.params["draws"] == 30


def test_expected_score_interval_covers_the_true_expected_score():
    # truth: a round robin's E[S] under the true ratings, by hand; the interval must
    # carry the rating uncertainty (Monte Carlo error alone would cover it almost never)
    true = np.array([-150.0, -50.0, 50.0, 150.0])
    truth = [
        sum(1 / (1 + 10 ** ((true[j] - true[i]) / 400)) for j in range(4) if j != i)
        for i in range(4)
    ]
    rng = np.random.default_rng(7)
    hits = np.zeros(4)
    reps = 30
    for rep in range(reps):
        r = expected_score_rating(
            _bt_battles(rng, true, 60), format="round_robin", draws=25, rng=rep
        )
        hits += (r.lower <= truth) & (truth <= r.upper)
    assert (hits / reps >= 0.85).all(), hits / reps


def test_expected_score_swiss_interval_holds_rating_uncertainty_and_is_seeded():
    battles = _bt_battles(np.random.default_rng(3), np.linspace(-200, 200, 8), 20)
    result = expected_score_rating(battles, iterations=4000, draws=40, rng=5)
    again = expected_score_rating(battles, iterations=4000, draws=40, rng=5)
    assert_array_equal(result.rating, again.rating)
    assert_array_equal(result.lower, again.lower)
    assert_array_equal(result.upper, again.upper)
    assert result.params["rounds"] == 3 and result.params["seed"] == 5
    assert (result.lower <= result.rating).all() and (result.rating <= result.upper).all()
    # 20 battles a model: the interval is far wider than the simulation error alone
    assert ((result.upper - result.lower) > 10 * 1.96 * result.extra["stderr"]).all()
    assert abs(result.rating.sum() - 4 * 3) < 1e-9  # 3 rounds of 4 games, one win each
    assert ((result.extra["p_win"] >= 0) & (result.extra["p_win"] <= 1)).all()


def test_expected_score_of_pair_counts_a_lone_model_and_bad_input():
    from ranking.battles import Battles

    counts = Battles(("x", "y", "z"), [0, 1, 0], [1, 2, 2], [0, 0, 1], weight=[12.0, 7.0, 3.0])
    r = expected_score_rating(counts, format="single_elimination", draws=20, rng=0)
    assert (r.lower <= r.rating).all() and (r.rating <= r.upper).all()
    assert r.n_battles == 22
    lone = expected_score_rating(Battles(("solo",), [], [], []), rng=0)
    assert lone.rating.tolist() == [0.0] == lone.upper.tolist()
    with pytest.raises(InputError, match="format must be one of"):
        expected_score_rating(counts, format="ladder")
    with pytest.raises(InputError, match="draws must be a positive integer"):
        expected_score_rating(counts, draws=0)
    with pytest.raises(InputError, match="rounds must be a positive integer"):
        expected_score_rating(counts, rounds=0)


def test_expected_score_resample_depends_only_on_the_counts():
    """The same battles as individual records, shuffled, or as weighted pair counts give the same
    E[S] and interval for one seed (the bootstrap draws over the count cells)."""
    from ranking.battles import Battles

    rng = np.random.default_rng(11)
    battles = _bt_battles(rng, np.linspace(-150, 150, 5), 30)
    order = rng.permutation(len(battles))
    shuffled = Battles(battles.models, battles.a[order], battles.b[order], battles.outcome[order])
    wins, ties = battles.pair_counts()
    i, j = np.nonzero(wins)
    ti, tj = np.nonzero(np.triu(ties))
    counts = Battles(
        battles.models,
        np.concatenate([i, ti]),
        np.concatenate([j, tj]),
        np.concatenate([np.zeros(len(i), int), np.full(len(ti), 2)]),
        weight=np.concatenate([wins[i, j], ties[ti, tj]]),
    )
    results = [
        expected_score_rating(x, iterations=2000, draws=20, rng=4)
        for x in (battles, shuffled, counts)
    ]
    for r in results[1:]:
        assert_array_equal(r.rating, results[0].rating)
        assert_array_equal(r.lower, results[0].lower)
        assert_array_equal(r.upper, results[0].upper)
