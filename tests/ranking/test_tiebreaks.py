"""C.07 tie-breaks on small events whose values were worked out by hand.

The published C.07 worked examples could not be retrieved in this session. The expected
values below are hand computations (see the comments) following C.07 article 16 as the
FIDE TEC reference implementation (TEC-FIDE/TieBreakServer ``tiebreak.py``) reads it,
done independently of the code under test.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ranking.errors import InputError
from ranking.swiss import Pairing, RoundResult, SwissPlayer, SwissState, record_round
from ranking.tiebreaks import compute_tiebreaks, parse_tiebreaks, standings


def _event() -> SwissState:
    players = tuple(SwissPlayer(number=k, rating=2100 - 100 * k) for k in range(1, 6))
    state = SwissState(players=players)
    # R1: 1 beats 2, 3 draws 4, 5 gets the pairing-allocated bye.
    state = record_round(state, Pairing(pairs=((1, 2), (3, 4)), bye=5), ["1", "="])
    # R2: 1 draws 3, 2 wins by forfeit against 5, 4 absent (zero-point bye).
    return record_round(state, Pairing(pairs=((1, 3), (2, 5))), ["=", "+"])


def test_points_and_unplayed_rounds() -> None:
    # Scores 1.5, 1, 1, 0.5, 1. Adjusted scores for opponents' tie-breaks: player 4's
    # trailing Z counts as a draw (1.0); player 5's forfeit loss had an opponent, so it
    # keeps its 0 (1.0).
    tb = compute_tiebreaks(_event())
    # BH: own unplayed rounds count the player's own score (dummy opponent).
    assert {k: v["BH"] for k, v in tb.items()} == {1: 2.0, 2: 2.5, 3: 2.5, 4: 1.5, 5: 2.0}
    assert {k: v["BH-C1"] for k, v in tb.items()} == {1: 1.0, 2: 1.5, 3: 1.5, 4: 1.0, 5: 1.0}
    # SB: points scored x (adjusted) opponent score; unplayed rounds use the dummy.
    assert {k: v["SB"] for k, v in tb.items()} == {1: 1.5, 2: 1.0, 3: 1.25, 4: 0.5, 5: 1.0}
    # WIN counts rounds with a win's points, played or not; WON only games won OTB.
    assert {k: v["WIN"] for k, v in tb.items()} == {1: 1, 2: 1, 3: 0, 4: 0, 5: 1}
    assert {k: v["WON"] for k, v in tb.items()} == {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}
    # ARO over played opponents: ratings 2000, 1900, 1800, 1700, 1600.
    assert {k: v["ARO"] for k, v in tb.items()} == {1: 1850, 2: 2000, 3: 1850, 4: 1800, 5: 0}


def _withdrawal_event() -> SwissState:
    def r(opp: int | None, color: str | None, code: str) -> RoundResult:
        return RoundResult(opp, color, code)

    results = {
        1: (r(2, "w", "1"), r(3, "w", "1"), r(None, None, "H")),  # trailing half-point bye
        2: (r(1, "b", "0"), r(4, "b", "1"), r(None, None, "Z")),  # withdraws after round 2
        3: (r(None, None, "Z"), r(1, "b", "0"), r(4, "w", "1")),  # absent in round 1 only
        4: (r(None, None, "H"), r(2, "w", "0"), r(3, "b", "0")),
    }
    return SwissState(players=tuple(SwissPlayer(number=k, results=v) for k, v in results.items()))


def test_voluntary_unplayed_rounds() -> None:
    # Points 2.5, 1, 1, 0.5. Adjusted for opponents: only VURs after the last non-VUR
    # round count as draws -> 2.5, 1.5 (round-3 Z becomes ½), 1.0 (round-1 Z stays 0), 0.5.
    tb = compute_tiebreaks(_withdrawal_event())
    assert {k: v["BH"] for k, v in tb.items()} == {1: 5.0, 2: 4.0, 3: 4.0, 4: 3.0}
    # Cut-1 removes the VUR contribution first, even when it is not the lowest (player 1
    # keeps 1.5 + 1.0 and loses its own-score 2.5 for the H bye).
    assert {k: v["BH-C1"] for k, v in tb.items()} == {1: 2.5, 2: 3.0, 3: 3.0, 4: 2.5}
    assert {k: v["SB"] for k, v in tb.items()} == {1: 3.75, 2: 0.5, 3: 0.5, 4: 0.25}
    assert {k: v["WIN"] for k, v in tb.items()} == {1: 2, 2: 1, 3: 1, 4: 0}


def test_standings_order_and_shared_ranks() -> None:
    rows = standings(_event(), tiebreaks="BH,SB")
    assert [r.player for r in rows] == [1, 3, 2, 5, 4]
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5]
    rows = standings(_event(), tiebreaks=[])
    assert [(r.player, r.rank) for r in rows] == [(1, 1), (2, 2), (3, 2), (5, 2), (4, 5)]
    assert rows[0].to_json()["points"] == 1.5


def test_direct_encounter() -> None:
    players = tuple(SwissPlayer(number=k) for k in range(1, 5))
    state = SwissState(players=players)
    state = record_round(state, Pairing(pairs=((1, 2), (3, 4))), ["1", "1"])
    state = record_round(state, Pairing(pairs=((1, 3), (2, 4))), ["0", "1"])
    rows = standings(state, tiebreaks="DE")
    assert [r.player for r in rows] == [3, 1, 2, 4]
    assert rows[1].tiebreaks["DE"] == 1.0 and rows[2].tiebreaks["DE"] == 0.0
    # 5 players tied where not everyone met: DE leaves them tied.
    rows = standings(_event(), tiebreaks="DE")
    tied = [r for r in rows if r.points == 1.0]
    assert {r.tiebreaks["DE"] for r in tied} == {0.0}


def test_unknown_code() -> None:
    with pytest.raises(InputError, match="BHX"):
        parse_tiebreaks("BH,BHX")
    assert parse_tiebreaks(" bh , sb ") == ("BH", "SB")
    assert replace(_event(), absent=frozenset()).played_rounds == 2
