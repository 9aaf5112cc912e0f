"""Hypothesis-generated battle files through the one reader: junk, huge numbers, NUL,
unicode and missing keys are either refused with line numbers or read into battles that keep
the reader's rules; nothing else escapes (no OverflowError, TypeError, ...)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranking._validation import text_problem
from ranking.battle_files import MAX_COUNT, MAX_TSTAMP, read_battles
from ranking.errors import BattleFileError, InputError
from ranking.types import OUTCOMES

NAME_MAX, CATEGORY_MAX = 100, 50

junk_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\x1f", "\u2028", "é", "名前", "x" * 101, "c" * 51]
)


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` four times in five, else ``bad``."""
    return st.integers(0, 4).flatmap(lambda k: good if k else bad)


good_names = st.sampled_from(["alpha", "beta", "gamma", "名前 δ"])
names = mostly(good_names, junk_text | st.integers() | st.none() | st.just([1]))
numbers = (
    st.integers(-(10**25), 10**25)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, 2**53, 2**53 + 1, 10**20, 1e300, -1e12, MAX_TSTAMP, MAX_TSTAMP + 1])
)
tstamps = mostly(st.integers(0, 2 * 10**9), numbers | junk_text | st.none())
records = st.fixed_dictionaries(
    {
        "model_a": names,
        "model_b": names,
        "winner": mostly(
            st.sampled_from(OUTCOMES), st.sampled_from(["A", ""]) | st.none() | st.integers()
        ),
    },
    optional={
        "tstamp": tstamps,
        "anony": mostly(st.booleans(), st.none() | junk_text | st.integers(0, 1)),
        "category": mostly(
            st.sampled_from(["coding", "writing"]),
            junk_text | st.none() | st.integers() | st.just(["x"]),
        ),
        "judge": junk_text,
    },
)
json_value = mostly(
    records, st.integers() | junk_text | st.lists(st.integers(), max_size=2) | st.none()
)


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


good_cells = st.sampled_from(
    ["alpha", "beta", "gamma", *OUTCOMES, "true", "false", "1700000000", "coding", ""]
)
cell = mostly(good_cells, junk_text | numbers.map(str))
count = mostly(
    st.integers(0, 1000).map(str),
    st.integers(-3, 10**25).map(str)
    | st.sampled_from([str(MAX_COUNT), str(MAX_COUNT + 1), "1e3"])
    | junk_text,
)


@st.composite
def battle_files(draw: st.DrawFn) -> bytes:
    """A battle file in one of the three formats (or none), with junk mixed in."""
    kind = draw(st.sampled_from(["jsonl", "json", "csv", "pairs", "bytes"]))
    if kind == "jsonl":
        lines = draw(st.lists(mostly(json_value.map(json.dumps), junk_text), max_size=8))
        text = "\n".join(lines)
    elif kind == "json":
        text = json.dumps(draw(st.lists(json_value, max_size=8)))
    elif kind == "csv":
        header = draw(
            st.sampled_from(
                [
                    ["model_a", "model_b", "winner"],
                    ["model_a", "model_b", "winner", "tstamp", "anony", "category"],
                    ["winner", "category", "model_b", "model_a"],
                ]
            )
        )
        rows = draw(
            st.lists(st.lists(cell, min_size=len(header) - 1, max_size=len(header) + 1), max_size=8)
        )
        text = _csv(header, rows)
    elif kind == "pairs":
        pair = st.tuples(names.map(str), names.map(str), count, count, count).map(list)  # type: ignore[arg-type]
        text = _csv(
            ["model_a", "model_b", "wins_a", "wins_b", "ties"], draw(st.lists(pair, max_size=8))
        )
    else:
        return draw(st.binary(max_size=200))
    return text.encode("utf-8", "surrogatepass")


NASTY = {
    "model_a": ["a\x00b", "x" * 101, "\x1b[31m", " ", "名前" * 51],
    "model_b": ["\x00", "y" * 101],
    "winner": ["model_c", ""],
    "tstamp": [1e300, -1e12, -1, MAX_TSTAMP + 1, 10**20, "noon"],
    "anony": ["no", 0, "\x00"],
    "category": ["c" * 51, "a\x00", "\x7f"],
}
NASTY_COUNTS = [10**20, 2**53 + 1, -1, "1.5", "\x00"]


@st.composite
def nasty_battle_files(draw: st.DrawFn) -> bytes:
    """A valid file (every record with a tstamp) with one nasty value put in, or none."""
    n = draw(st.integers(1, 5))
    pairs = draw(
        st.lists(
            st.permutations(["alpha", "beta", "gamma", "名前 δ"]).map(lambda p: p[:2]),
            min_size=n,
            max_size=n,
        )
    )
    kind = draw(st.sampled_from(["jsonl", "json", "csv", "pairs"]))
    row = draw(st.integers(0, n - 1))
    if kind == "pairs":
        table = [
            [a, b, *draw(st.lists(st.integers(0, 10**6), min_size=3, max_size=3))] for a, b in pairs
        ]
        column = draw(st.integers(0, 4))
        nasty = NASTY["model_a"] if column < 2 else NASTY_COUNTS
        table[row][column] = draw(st.sampled_from(nasty) | st.just(table[row][column]))
        return _csv(["model_a", "model_b", "wins_a", "wins_b", "ties"], table).encode()
    recs = [
        {
            "model_a": a,
            "model_b": b,
            "winner": draw(st.sampled_from(OUTCOMES)),
            "tstamp": draw(st.integers(0, 2 * 10**9)),
            "anony": draw(st.booleans()),
            "category": draw(st.sampled_from(["coding", "writing", ""])),
        }
        for a, b in pairs
    ]
    key = draw(st.sampled_from(sorted(NASTY)))
    recs[row][key] = draw(st.sampled_from(NASTY[key]) | st.just(recs[row][key]))
    if kind == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in recs).encode()
    if kind == "json":
        return json.dumps(recs).encode()
    header = ["model_a", "model_b", "winner", "tstamp", "anony", "category"]
    return _csv(header, [[r[h] for h in header] for r in recs]).encode()


def _read(data: bytes, **kwargs: object):
    return read_battles(
        io.BytesIO(data), max_name_length=NAME_MAX, max_category_length=CATEGORY_MAX, **kwargs
    )


@given(battle_files() | nasty_battle_files())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_reader_refuses_or_keeps_its_rules(data: bytes) -> None:
    try:
        result = _read(data, skip_invalid=True)
    except (BattleFileError, InputError):
        return
    battles = result.battles
    for name in battles.models:
        assert name.strip() and text_problem(name, max_length=NAME_MAX) is None
    assert result.skipped == len(result.errors) <= result.n_rows
    if battles.tstamp is not None:
        assert ((battles.tstamp >= 0) & (battles.tstamp <= MAX_TSTAMP)).all()
    if battles.weight is not None:
        assert ((battles.weight >= 0) & (battles.weight <= MAX_COUNT)).all()
        assert (battles.weight == np.round(battles.weight)).all()
        assert result.anony is None and result.category is None
    else:
        assert result.anony is not None and result.category is not None
        assert len(result.anony) == len(result.category) == len(battles)
        for c in result.category:
            assert c is None or (
                c.strip() == c and c and text_problem(c, max_length=CATEGORY_MAX) is None
            )
    # Without skip_invalid: the same battles, or a refusal that names the first bad line.
    try:
        strict = _read(data)
    except BattleFileError as exc:
        assert result.skipped > 0 and exc.errors and exc.errors[0] == result.errors[0]
        return
    assert result.skipped == 0 and strict.battles.models == battles.models
    np.testing.assert_array_equal(strict.battles.outcome, battles.outcome)
