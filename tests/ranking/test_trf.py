"""TRF-16 reading and writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ranking.errors import InputError
from ranking.swiss import pair_round, record_round, swiss_from_ratings
from ranking.trf import parse_trf, read_trf, write_trf

DATA = Path(__file__).resolve().parents[1] / "data" / "swiss"


def test_reads_bbppairings_fixture_columns() -> None:
    trf = read_trf(DATA / "dutch_2025_C5.trf")
    s = trf.state
    assert s.total_rounds == 3 and s.played_rounds == 2
    p1 = s.player(1)
    assert p1.rating == 2720 and p1.name == "Test0001 Player0001"
    assert [(r.opponent, r.color, r.code) for r in p1.results] == [(4, "w", "1"), (2, "b", "1")]
    assert s.player(4).results[2].code == "Z"  # pre-entered absence for round 3
    assert s.points(1) == 2.0 and s.points(6) == 0.0


@pytest.mark.parametrize("name", ["dutch_2025_C5", "dutch_2025_C9"])
def test_round_trip_of_fixture(name: str) -> None:
    text = (DATA / f"{name}.trf").read_text()
    once = write_trf(parse_trf(text))
    assert parse_trf(once).state == parse_trf(text).state
    assert write_trf(parse_trf(once)) == once
    # the player lines keep their fixed columns byte for byte up to the points column
    original = [ln[:84] for ln in text.splitlines() if ln.startswith("001")]
    assert [ln[:84] for ln in once.splitlines() if ln.startswith("001")] == original


def test_round_trip_of_played_event_with_extensions() -> None:
    state = swiss_from_ratings({"a": 1500, "b": 1400, "c": 1300}, total_rounds=4)
    for codes in (["1"], ["="]):
        p = pair_round(state)
        state = record_round(state, p, codes)
    text = write_trf(state)
    back = parse_trf(text).state
    assert back.players == state.players and back.total_rounds == 4
    extended = text + "XXC black1\nXXS W=3.0 D=1.0\nXXZ 2\n"
    s2 = parse_trf(extended).state
    assert s2.initial_color == "b" and s2.scoring.win == 30 and s2.scoring.draw == 10
    assert s2.scoring.pab == 30 and s2.absent == frozenset({2})
    assert parse_trf(write_trf(s2)).state == s2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("001    x", "line 2: a 001 player line needs at least 84 columns"),
        ("001 abcd" + " " * 90, "line 2: pairing number"),
        (
            "001    1      Test0001 Player0001"
            "               27x0                             2.0    1",
            "line 2: rating",
        ),
        (
            "001    1      Test0001 Player0001"
            "               2720                             2.0    1     4 w Q",
            "line 2: result code",
        ),
        (
            "001    1      Test0001 Player0001"
            "               2720                             2.0    1     4 x 1",
            "line 2: colour",
        ),
        ("XXR zero", "line 2: XXR"),
        ("XXS W=one", "line 2: XXS"),
        ("XXC green1", "line 2: XXC"),
    ],
)
def test_malformed_lines_name_their_line(line: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_trf("012 test\n" + line + "\n")


def test_unknown_opponent_and_empty_file() -> None:
    bad = (
        "001    1      Test0001 Player0001"
        "               2720                             1.0    1     9 w 1\n"
    )
    with pytest.raises(InputError, match="opponent 9"):
        parse_trf(bad)
    with pytest.raises(InputError, match="no 001"):
        parse_trf("012 nothing\n")
