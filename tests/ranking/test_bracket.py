"""Seeded single elimination: seeding, exact and Monte Carlo probabilities, live state."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ranking.bracket import (
    BracketState,
    bracket_advance,
    bracket_create,
    bracket_monte_carlo,
    bracket_probabilities,
    bracket_ranking,
    bracket_samples,
    double_elimination,
    seed_slots,
    win_matrix,
)
from ranking.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "bracket_vectors.json").read_text())["vectors"]


def elo(ri: float, rj: float) -> float:
    return 1.0 / (1.0 + 10.0 ** ((rj - ri) / 400.0))


def brute_force(ratings: list[float], slots: list[int | None]) -> np.ndarray:
    """Enumerate every outcome of a small bracket (independent of the DP).

    ``slots`` lists the entrant in each first-round slot (``None`` = bye). Returns
    ``reach[i, k]``: probability that entrant ``i`` is alive in round ``k + 1``.
    """
    n, size = len(ratings), len(slots)
    rounds = size.bit_length() - 1
    reach = np.zeros((n, rounds + 1))
    n_matches = size - 1
    for bits in product((0, 1), repeat=n_matches):
        prob, alive, b = 1.0, list(slots), iter(bits)
        history = [alive]
        for _ in range(rounds):
            nxt: list[int | None] = []
            for x, y in zip(alive[0::2], alive[1::2]):
                pick = next(b)
                if x is None or y is None:  # walkover: only one branch may carry mass
                    winner = y if x is None else x
                    if pick:
                        prob = 0.0
                    nxt.append(winner)
                    continue
                p = elo(ratings[x], ratings[y])
                prob *= p if pick == 0 else 1 - p
                nxt.append(x if pick == 0 else y)
            alive = nxt
            history.append(alive)
        for k, field in enumerate(history):
            for i in field:
                if i is not None:
                    reach[i, k] += prob
    return reach


def test_seed_slots_matches_reference_and_standard_properties() -> None:
    assert seed_slots(8).tolist() == REF["8_player"]["slot_order_seed_idx"]
    assert seed_slots(4).tolist() == REF["4_player"]["slot_order"]
    for size in (2, 4, 8, 16, 32, 64):
        order = seed_slots(size)
        assert sorted(order.tolist()) == list(range(size))
        # seeds meeting in round 1 add up to size - 1 (1 meets N, 2 meets N - 1, ...)
        assert np.all(order[0::2] + order[1::2] == size - 1)
        half = size // 2
        if size >= 2:
            assert (0 in order[:half]) != (1 in order[:half])  # 1 and 2 only in the final
        if size >= 4:  # top four seeds in different quarters
            quarters = [set(order[q * size // 4 : (q + 1) * size // 4]) for q in range(4)]
            assert all(len(qs & {0, 1, 2, 3}) == 1 for qs in quarters)


@pytest.mark.parametrize("case", ["4_player", "8_player"])
def test_exact_matches_reference_vectors(case: str) -> None:
    v = REF[case]
    res = bracket_probabilities(v["ratings_by_seed"])
    assert res.rounds == (2 if case == "4_player" else 3)
    assert_allclose(res.p_reach[:, 0], 1.0)
    assert_allclose(res.p_reach[:, 1], v["P_win_round1"], atol=1e-12)
    if "P_win_semis" in v:
        assert_allclose(res.p_reach[:, 2], v["P_win_semis"], atol=1e-12)
    assert_allclose(res.p_champion, v["P_champion"], atol=1e-12)
    assert_allclose(res.expected_wins, v["expected_match_wins"], atol=1e-12)


@pytest.mark.parametrize("n", [3, 5, 6, 7, 8])
def test_exact_matches_brute_force_enumeration_with_byes(n: int) -> None:
    ratings = [1500 - 37 * i + (13 if i % 3 == 0 else 0) for i in range(n)]
    size = 1 << (n - 1).bit_length()
    # standard seeding, written out by hand: 1 v 8, 4 v 5, 2 v 7, 3 v 6 (0-based below)
    layout = {4: [0, 3, 1, 2], 8: [0, 7, 3, 4, 1, 6, 2, 5]}[size]
    slots = [s if s < n else None for s in layout]
    expected = brute_force(ratings, slots)
    res = bracket_probabilities(ratings)
    assert_allclose(res.p_reach, expected, atol=1e-12)


@given(st.integers(2, 70), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_probabilities_sum_to_one_per_round(n: int, seed: int) -> None:
    ratings = np.random.default_rng(seed).normal(1000, 200, size=n)
    res = bracket_probabilities(ratings)
    size = 1 << res.rounds
    order = seed_slots(size)
    assert np.all((res.p_reach >= -1e-15) & (res.p_reach <= 1 + 1e-12))
    assert np.all(np.diff(res.p_reach, axis=1) <= 1e-12)  # can only drop out
    by_slot = np.zeros((size, res.rounds + 1))
    real = order < n
    by_slot[real] = res.p_reach[order[real]]
    for k in range(1, res.rounds + 1):
        blocks = by_slot[:, k].reshape(-1, 1 << k).sum(axis=1)
        assert_allclose(blocks, 1.0, atol=1e-12)  # exactly one survivor per block
    assert res.p_champion.sum() == pytest.approx(1.0, abs=1e-12)


def test_matrix_input_equals_rating_input() -> None:
    ratings = [1700, 1500, 1510, 1300, 1250, 1100]
    p = [[elo(a, b) for b in ratings] for a in ratings]
    assert_allclose(
        bracket_probabilities(p).p_reach, bracket_probabilities(ratings).p_reach, atol=1e-12
    )


def test_scale_and_base_parameters() -> None:
    # base e and scale 1: P = logistic(r_i - r_j)
    r = [0.4, 0.0]
    res = bracket_probabilities(r, scale=1.0, base=np.e)
    assert res.p_champion[0] == pytest.approx(1 / (1 + np.exp(-0.4)))


def test_swapping_first_round_opponents_permutes_output() -> None:
    # seeds 1 and N share a first-round match, so exchanging them is a bracket symmetry
    ratings = np.array([1300, 1250, 1200, 1150, 1100, 1050, 1000, 950.0])
    swapped = ratings.copy()
    swapped[[0, 7]] = swapped[[7, 0]]
    a = bracket_probabilities(ratings).p_reach
    b = bracket_probabilities(swapped).p_reach
    assert_allclose(b[[7, 0]], a[[0, 7]], atol=1e-12)
    assert_allclose(b[1:7], a[1:7], atol=1e-12)


def test_third_place_match() -> None:
    r = [1200, 1100, 1000, 900]
    p = np.array([[elo(a, b) for b in r] for a in r])
    res = bracket_probabilities(r, third_place=True)
    # semis 1 v 4 and 2 v 3; the two losers meet for third place
    lose_top = {0: p[3, 0], 3: p[0, 3]}
    lose_bottom = {1: p[2, 1], 2: p[1, 2]}
    expected = np.zeros(4)
    for i, li in lose_top.items():
        for j, lj in lose_bottom.items():
            expected[i] += li * lj * p[i, j]
            expected[j] += li * lj * p[j, i]
    assert_allclose(res.p_third, expected, atol=1e-12)
    assert res.p_third is not None and res.p_third.sum() == pytest.approx(1.0)
    with pytest.raises(InputError, match="third-place"):
        bracket_probabilities([1, 2, 3], third_place=True)


@pytest.mark.parametrize("n", [8, 13])
def test_monte_carlo_agrees_with_exact_within_4_se(n: int) -> None:
    ratings = np.linspace(1400, 1000, n)
    exact = bracket_probabilities(ratings).p_reach
    mc = bracket_monte_carlo(ratings, simulations=40_000, rng=7)
    assert mc.method == "monte_carlo" and mc.simulations == 40_000
    assert mc.stderr is not None
    certain = (exact == 0) | (exact == 1)
    assert_array_equal(mc.p_reach[certain], exact[certain])
    z = np.abs(mc.p_reach - exact)[~certain] / mc.stderr[~certain]
    assert z.max() < 4


def test_monte_carlo_same_seed_same_output() -> None:
    r = np.linspace(1200, 900, 11)
    a = bracket_monte_carlo(r, simulations=2_000, rng=3)
    b = bracket_monte_carlo(r, simulations=2_000, rng=3)
    assert_array_equal(a.p_reach, b.p_reach)
    samples = bracket_samples(r, simulations=500, rng=1)
    assert samples.shape == (500, 11)
    # exactly one champion per simulated bracket, 2 finalists
    assert np.all((samples == 4).sum(axis=1) == 1)
    assert np.all((samples >= 3).sum(axis=1) == 2)


@pytest.mark.parametrize(
    "bad, msg",
    [
        ([[0.5, 0.7], [0.7, 0.5]], "must equal 1"),
        ([[0.5, 1.2], [-0.2, 0.5]], "probability"),
        ([[0.5, 0.5, 0.5]], "square"),
        ([1.0, float("nan")], "finite"),
    ],
)
def test_bad_win_matrix(bad: object, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        bracket_probabilities(bad)  # type: ignore[arg-type]


def test_needs_two_entrants() -> None:
    with pytest.raises(InputError, match="at least 2"):
        bracket_probabilities([1000])
    with pytest.raises(InputError, match="simulations"):
        bracket_monte_carlo([1, 2], simulations=0)


def test_win_matrix_from_ratings() -> None:
    p = win_matrix([1200, 1000])
    assert p[0, 1] == pytest.approx(elo(1200, 1000))
    assert p[0, 1] + p[1, 0] == pytest.approx(1.0)


# ----------------------------------------------------------------------- live bracket


def test_live_bracket_with_byes_third_place_and_ranking() -> None:
    state = bracket_create(list("ABCDEF"), ratings=[60, 50, 40, 30, 20, 10], third_place=True)
    assert state.rounds == 3
    # seeds 1 and 2 have byes; 4 v 5 and 3 v 6 play
    assert state.pending() == [(3, 4), (2, 5)]
    state = bracket_advance(state, ["E", "C"])
    assert state.pending() == [(0, 4), (1, 2)]
    state = bracket_advance(state, [4, 1])
    # final E v B, then third place A v C
    assert state.pending() == [(4, 1), (0, 2)]
    state = bracket_advance(state, ["B", "A"])
    assert state.finished and state.champion == 1
    assert bracket_ranking(state) == [("B", 1), ("E", 2), ("A", 3), ("C", 4), ("D", 5), ("F", 5)]
    with pytest.raises(InputError, match="finished"):
        bracket_advance(state, ["B"])


def test_ranking_orders_equal_placements_by_rating() -> None:
    state = bracket_create(list("ABCDEFGH"), ratings=[8, 7, 6, 5, 4, 3, 2, 1])
    state = bracket_advance(state, ["H", "E", "G", "F"])  # every upset in round 1
    state = bracket_advance(state, ["H", "G"])
    state = bracket_advance(state, ["G"])
    ranking = bracket_ranking(state, ratings=[8, 7, 6, 5, 4, 3, 2, 1])
    assert ranking == [
        ("G", 1),
        ("H", 2),
        ("E", 3),
        ("F", 3),
        ("A", 5),
        ("B", 5),
        ("C", 5),
        ("D", 5),
    ]


def test_reseeding_pairs_best_remaining_with_worst() -> None:
    state = bracket_create(list("ABCDEFGH"), ratings=[8, 7, 6, 5, 4, 3, 2, 1], reseed=True)
    assert state.pending() == [(0, 7), (3, 4), (1, 6), (2, 5)]
    # survivors A, E, B, F; new ratings make F the strongest
    state = bracket_advance(state, ["A", "E", "B", "F"], ratings=[8, 7, 6, 5, 4, 9, 2, 1])
    assert state.pending() == [(5, 4), (0, 1)]


def test_seed_by_rating() -> None:
    state = bracket_create(["x", "y", "z", "w"], ratings=[1, 4, 3, 2], seed_by_rating=True)
    assert state.names == ("y", "z", "w", "x")
    assert state.pending() == [(0, 3), (1, 2)]


def test_live_bracket_errors() -> None:
    state = bracket_create(list("ABCD"))
    with pytest.raises(InputError, match="expected 2 winners"):
        bracket_advance(state, ["A"])
    with pytest.raises(InputError, match="did not play"):
        bracket_advance(state, ["B", "C"])
    with pytest.raises(InputError, match="not an entrant"):
        bracket_advance(state, ["Z", "C"])
    with pytest.raises(InputError, match="not finished"):
        bracket_ranking(state)
    with pytest.raises(InputError, match="unique"):
        bracket_create(["A", "A"])
    with pytest.raises(InputError, match="ratings are required"):
        bracket_create(["A", "B"], reseed=True)


# ------------------------------------------------------------------ double elimination


def brute_force_double_4(r: list[float], reset: bool) -> dict[str, np.ndarray]:
    """Enumerate a 4-entrant double-elimination event by hand-written structure.

    Winners' round 1: seeds 1 v 4 and 2 v 3; winners' final; losers' round 1 between the
    two round-1 losers; losers' final against the winners'-final loser; grand final,
    replayed once if the losers'-bracket champion wins it (with ``reset``).
    Places: champion 1, grand-final loser 2, losers'-final loser 3, losers' round-1 loser 4.
    """
    champ, final, wins, place = (np.zeros(4) for _ in range(4))

    def outcomes(a: int, b: int) -> list[tuple[int, int, float]]:
        p = elo(r[a], r[b])
        return [(a, b, p), (b, a, 1 - p)]

    for w1, l1, p1 in outcomes(0, 3):
        for w2, l2, p2 in outcomes(1, 2):
            for wf, lf, p3 in outcomes(w1, w2):
                for lw, ll, p4 in outcomes(l1, l2):
                    for lbw, lbl, p5 in outcomes(lf, lw):
                        for g1w, g1l, p6 in outcomes(wf, lbw):
                            finals = [(g1w, g1l, 1.0, [g1w])]
                            if reset and g1w == lbw:
                                finals = [(w, lo, p7, [g1w, w]) for w, lo, p7 in outcomes(g1w, g1l)]
                            for c, ru, p7, gf_wins in finals:
                                prob = p1 * p2 * p3 * p4 * p5 * p6 * p7
                                champ[c] += prob
                                final[[wf, lbw]] += prob
                                for x in [w1, w2, wf, lw, lbw, *gf_wins]:
                                    wins[x] += prob
                                place[c] += prob * 1
                                place[ru] += prob * 2
                                place[lbl] += prob * 3
                                place[ll] += prob * 4
    return {
        "p_champion": champ,
        "p_grand_final": final,
        "expected_wins": wins,
        "expected_place": place,
    }


@pytest.mark.parametrize("reset", [True, False])
def test_double_elimination_against_enumeration(reset: bool) -> None:
    r = [1250, 1150, 1080, 950]
    exact = brute_force_double_4(r, reset)
    res = double_elimination(r, simulations=60_000, grand_final_reset=reset, rng=11)
    assert res.rounds == 2 and res.simulations == 60_000
    for key, value in exact.items():
        est, se = getattr(res, key), res.stderr[key]
        assert np.all(np.abs(est - value) <= 4 * se), (key, est, value, se)
    assert res.p_champion.sum() == pytest.approx(1.0)
    assert res.p_grand_final.sum() == pytest.approx(2.0)


def test_double_elimination_with_byes_conserves_losses() -> None:
    # 6 entrants: everybody but the champion loses twice; the champion loses once only
    # when the bracket reset is played, so matches won = 10 + P(reset).
    res = double_elimination([1300, 1250, 1200, 1150, 1100, 1050], simulations=20_000, rng=0)
    extra = res.expected_wins.sum() - 10.0
    assert 0.0 < extra < 1.0
    assert res.p_champion.sum() == pytest.approx(1.0)
    assert res.expected_place.min() >= 1.0 and res.expected_place.max() <= 6.0
    same = double_elimination([1300, 1250, 1200, 1150, 1100, 1050], simulations=20_000, rng=0)
    assert_array_equal(same.p_champion, res.p_champion)


def test_bracket_state_json_round_trip() -> None:
    state = bracket_create(list("ABCDEF"), ratings=[6, 5, 4, 3, 2, 1], third_place=True)
    state = bracket_advance(state, ["D", "C"])
    doc = json.loads(json.dumps(state.to_json()))
    again = BracketState.from_json(doc)
    assert again == state
    assert bracket_advance(again, ["A", "B"]).pending() == [(0, 1), (3, 2)]
    with pytest.raises(InputError, match="not a bracket state"):
        BracketState.from_json({"names": ["A"]})


@given(st.integers(2, 64), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_swapping_any_first_round_pair_permutes_output(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ratings = rng.normal(1000, 150, size=n)
    size = 1 << max(1, (n - 1).bit_length())
    pairs = [(s, size - 1 - s) for s in range(size // 2) if size - 1 - s < n]
    if not pairs:
        return
    i, j = pairs[int(rng.integers(len(pairs)))]
    swapped = ratings.copy()
    swapped[[i, j]] = swapped[[j, i]]
    perm = np.arange(n)
    perm[[i, j]] = perm[[j, i]]
    a = bracket_probabilities(ratings).p_reach
    b = bracket_probabilities(swapped).p_reach
    assert_allclose(b, a[perm], atol=1e-12)
