"""Gauntlet: the reference meets every challenger ``games`` times, in blocks; challengers ranked
by their score against it. Expected values are worked out by hand in the comments."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from ranking.errors import InputError
from ranking.gauntlet import gauntlet_order, gauntlet_schedule


def test_schedule_by_hand() -> None:
    # 4 entrants: reference 0, challengers 1, 2, 3; blocks of 2 -> [1, 2], [3]; 2 games.
    # Game 0: the reference is first against i when i is odd: (0,1) (2,0) | (0,3).
    # Game 1: it is first when i + 1 is odd, i.e. i even: (1,0) (0,2) | (3,0).
    s = gauntlet_schedule(4, games=2, block=2)
    assert s.rounds == (
        ((0, 1), (2, 0)),
        ((0, 3),),
        ((1, 0), (0, 2)),
        ((3, 0),),
    )
    assert (s.games, s.block) == (2, 2)


def test_default_is_one_round_with_every_challenger() -> None:
    # 5 entrants, 1 game, no block: one round, reference first against 1 and 3.
    assert gauntlet_schedule(5).rounds == (((0, 1), (2, 0), (0, 3), (4, 0)),)
    # a block larger than the field is the whole field
    assert gauntlet_schedule(3, block=10).rounds == (((0, 1), (2, 0)),)


@given(
    n=st.integers(2, 12), games=st.integers(1, 4), block=st.one_of(st.none(), st.integers(1, 12))
)
def test_schedule_properties(n: int, games: int, block: int | None) -> None:
    s = gauntlet_schedule(n, games=games, block=block)
    size = min(block or n - 1, n - 1)
    assert len(s.rounds) == games * -(-(n - 1) // size)
    met: Counter[int] = Counter()
    first: Counter[int] = Counter()
    for rnd in s.rounds:
        challengers = [b if a == 0 else a for a, b in rnd]
        assert all(0 in pair for pair in rnd) and 0 not in challengers
        assert len(set(challengers)) == len(challengers) <= size  # a pair meets once a round
        met.update(challengers)
        first.update(b for a, b in rnd if a == 0)
    assert met == Counter({i: games for i in range(1, n)})
    # sides alternate: over the games each challenger has the reference first half the time
    assert all(abs(2 * first[i] - games) <= 1 for i in range(1, n))


def test_order_by_score_then_seed() -> None:
    # challengers 1..4 scored 1, 2, 1, 0.5 against the reference (whose own 5 is ignored):
    # 2 first, then 1 and 3 tied on 1 (seed order), then 4.
    assert_array_equal(gauntlet_order([5.0, 1.0, 2.0, 1.0, 0.5]), [2, 1, 3, 4])
    assert_array_equal(gauntlet_order([0.0, 0.0]), [1])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gauntlet_schedule(1), "n_players"),
        (lambda: gauntlet_schedule(3, games=0), "games"),
        (lambda: gauntlet_schedule(3, games=True), "games"),
        (lambda: gauntlet_schedule(3, block=0), "block"),
        (lambda: gauntlet_order([1.0]), "scores"),
        (lambda: gauntlet_order([1.0, float("nan")]), "scores"),
    ],
)
def test_bad_input_names_the_parameter(call, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()
