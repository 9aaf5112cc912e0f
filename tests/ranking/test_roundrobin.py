"""Round robin: FIDE Berger tables, single and double cycles, byes, standings."""

from __future__ import annotations

import json
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ranking.battles import Battles
from ranking.errors import InputError
from ranking.roundrobin import berger_table, round_robin, round_robin_standings
from ranking.types import A_WINS, B_WINS, TIE, TIE_BOTHBAD

DATA = Path(__file__).resolve().parents[1] / "data"
FIDE = json.loads((DATA / "berger_tables.json").read_text())["tables"]


@pytest.mark.parametrize("n", sorted(int(k) for k in FIDE))
def test_berger_table_equals_fide(n: int) -> None:
    expected = [[tuple(pair) for pair in rnd] for rnd in FIDE[str(n)]]
    assert berger_table(n) == expected


@pytest.mark.parametrize("n", [3, 5, 7, 9, 11, 13])
def test_odd_field_uses_next_table_and_byes(n: int) -> None:
    assert berger_table(n) == berger_table(n + 1)
    sched = round_robin(n)
    table = FIDE[str(n + 1)]
    for k, rnd in enumerate(table):
        bye = [a if b == n + 1 else b for a, b in rnd if n + 1 in (a, b)]
        assert sched.byes[k] == bye[0] - 1
        assert len(sched.rounds[k]) == n // 2
    assert sorted(sched.byes) == list(range(n))  # everyone sits out exactly once


def _check_schedule(n: int, double: bool) -> None:
    sched = round_robin(n, double=double)
    cycles = 2 if double else 1
    n_even = n + n % 2
    assert sched.n_rounds == cycles * (n_even - 1)
    meetings: Counter[tuple[int, int]] = Counter()
    for k, games in enumerate(sched.rounds):
        players = games.ravel().tolist()
        assert len(players) == len(set(players))  # nobody plays twice in a round
        bye = sched.byes[k]
        if n % 2:
            assert bye is not None and bye not in players
            assert len(players) == n - 1
        else:
            assert bye is None and len(players) == n
        meetings.update((int(a), int(b)) for a, b in games)
    for i, j in combinations(range(n), 2):
        if double:
            assert meetings[(i, j)] == 1 and meetings[(j, i)] == 1  # sides swapped
        else:
            assert meetings[(i, j)] + meetings[(j, i)] == 1


@given(st.integers(2, 40), st.booleans())
@settings(max_examples=60, deadline=None)
def test_every_pair_meets_exactly_once_or_twice(n: int, double: bool) -> None:
    _check_schedule(n, double)


def _three_in_a_row(n: int, swap: bool) -> list[int]:
    sched = round_robin(n, double=True, swap_last_rounds=swap)
    sides = np.zeros((n, sched.n_rounds), dtype=int)
    for k, games in enumerate(sched.rounds):
        sides[games[:, 0], k] = 1
        sides[games[:, 1], k] = -1
    return [
        i
        for i, row in enumerate(sides)
        if np.any(np.abs(np.convolve(row, np.ones(3, dtype=int), mode="valid")) == 3)
    ]


@pytest.mark.parametrize("n", [6, 8, 10, 12, 14, 16, 20])
def test_double_round_robin_never_three_same_sides_in_a_row(n: int) -> None:
    # FIDE C.05 Annex 1: swapping the last two rounds of the first cycle avoids the
    # streak that players 1 and n/2 + 1 otherwise get at the turn of the cycle.
    assert _three_in_a_row(n, swap=True) == []
    assert _three_in_a_row(n, swap=False) == [0, n // 2]


def test_double_without_swap_keeps_berger_order() -> None:
    sched = round_robin(6, double=True, swap_last_rounds=False)
    table = FIDE["6"]
    for k, rnd in enumerate(table):
        assert_array_equal(sched.rounds[k] + 1, np.array(rnd))
        assert_array_equal(sched.rounds[k + 5] + 1, np.array(rnd)[:, ::-1])


def test_games_lists_round_and_sides() -> None:
    games = round_robin(4).games()
    assert games.shape == (6, 3)
    assert_array_equal(games[:2], [[0, 0, 3], [0, 1, 2]])


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, "4", True])
def test_bad_field_size(bad: object) -> None:
    with pytest.raises(InputError, match="n_players"):
        round_robin(bad)  # type: ignore[arg-type]


def test_standings_hand_example() -> None:
    # A beats B, A draws C, C beats B (B first side), B beats A in the return game.
    battles = Battles(
        models=("A", "B", "C"),
        a=[0, 0, 1, 1],
        b=[1, 2, 2, 0],
        outcome=[A_WINS, TIE, B_WINS, A_WINS],
    )
    st_ = round_robin_standings(battles)
    assert_allclose(st_.points, [1.5, 1.0, 1.5])
    assert_array_equal(st_.wins, [1, 1, 1])
    assert_array_equal(st_.ties, [1, 0, 1])
    assert_array_equal(st_.losses, [1, 2, 0])
    assert_array_equal(st_.games, [3, 3, 2])
    assert_array_equal(st_.rank, [1, 3, 1])
    expected_cross = np.array([[np.nan, 1.0, 0.5], [1.0, np.nan, 0.0], [0.5, 1.0, np.nan]])
    assert_allclose(st_.cross, expected_cross)
    assert [r["model"] for r in st_.to_rows()] == ["A", "C", "B"]


def test_standings_football_points_and_weights() -> None:
    battles = Battles(
        models=("x", "y"), a=[0, 0], b=[1, 1], outcome=[A_WINS, TIE_BOTHBAD], weight=[2.0, 1.0]
    )
    st_ = round_robin_standings(battles, win=3, tie=1, loss=0)
    assert_allclose(st_.points, [7.0, 1.0])
    assert_array_equal(st_.wins, [2, 0])
    assert_array_equal(st_.ties, [1, 1])
    assert_array_equal(st_.losses, [0, 2])
    assert_allclose(st_.cross, [[np.nan, 7.0], [1.0, np.nan]])


@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_standings_of_full_round_robin_conserve_points(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    games = round_robin(n).games()
    outcome = rng.choice([A_WINS, B_WINS, TIE], size=len(games))
    battles = Battles(
        models=tuple(f"m{i}" for i in range(n)), a=games[:, 1], b=games[:, 2], outcome=outcome
    )
    st_ = round_robin_standings(battles)
    assert st_.points.sum() == pytest.approx(n * (n - 1) / 2)
    assert_array_equal(st_.games, np.full(n, n - 1))
    assert_allclose(np.nansum(st_.cross, axis=1), st_.points)
    off = ~np.eye(n, dtype=bool)
    assert_allclose((st_.cross + st_.cross.T)[off], 1.0)
