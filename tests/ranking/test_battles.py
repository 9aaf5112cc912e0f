"""Battle readers (DESIGN.md's three formats), aggregation and components."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ranking import battle_files as battles_module
from ranking.battle_files import battles_from_records, read_battles
from ranking.battles import Battles, components
from ranking.errors import BattleFileError, InputError
from ranking.types import A_WINS, B_WINS, OUTCOMES, TIE, TIE_BOTHBAD

RECORDS = [
    {"model_a": "gpt", "model_b": "claude", "winner": "model_a", "tstamp": 30.0},
    {"model_a": "claude", "model_b": "llama", "winner": "tie", "tstamp": 10},
    {"model_a": "llama", "model_b": "gpt", "winner": "model_b", "tstamp": 20.5},
    {"model_a": "gpt", "model_b": "llama", "winner": "tie (bothbad)", "tstamp": 40.0},
]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def expected_counts():
    # models sorted: claude=0, gpt=1, llama=2
    wins = np.zeros((3, 3))
    wins[1, 0] = 1  # gpt beat claude
    wins[1, 2] = 1  # gpt beat llama (as model_b)
    ties = np.zeros((3, 3))
    ties[0, 2] = ties[2, 0] = 1
    ties[1, 2] = ties[2, 1] = 1
    return wins, ties


def test_jsonl_round_trip(tmp_path):
    result = read_battles(write_jsonl(tmp_path / "b.jsonl", RECORDS))
    b = result.battles
    assert b.models == ("claude", "gpt", "llama")
    assert (result.n_rows, result.skipped, result.errors) == (4, 0, [])
    assert_array_equal(b.outcome, [A_WINS, TIE, B_WINS, TIE_BOTHBAD])
    assert_allclose(b.tstamp, [30.0, 10.0, 20.5, 40.0])
    wins, ties = b.pair_counts()
    exp_wins, exp_ties = expected_counts()
    assert_array_equal(wins, exp_wins)
    assert_array_equal(ties, exp_ties)
    assert_array_equal(b.battles_per_model(), [2, 3, 3])


def test_json_array_and_csv_match_jsonl(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps(RECORDS, indent=2))
    csv_text = "winner,model_a,model_b,tstamp,judge\n" + "".join(
        f"{r['winner']},{r['model_a']},{r['model_b']},{r['tstamp']},x\n" for r in RECORDS
    )
    (tmp_path / "b.csv").write_text(csv_text)
    ref = read_battles(write_jsonl(tmp_path / "b.jsonl", RECORDS)).battles
    for name in ("b.json", "b.csv"):
        b = read_battles(tmp_path / name).battles
        assert b.models == ref.models
        assert_array_equal(b.a, ref.a)
        assert_array_equal(b.b, ref.b)
        assert_array_equal(b.outcome, ref.outcome)
        assert_allclose(b.tstamp, ref.tstamp)


def test_pair_counts_csv_is_weighted_and_small(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(
        "model_a,model_b,wins_a,wins_b,ties\n"
        "gpt,claude,700,300,100\nclaude,llama,5,0,0\ngpt,llama,0,0,0\n"
    )
    result = read_battles(path)
    b = result.battles
    assert result.n_rows == 3
    assert b.models == ("claude", "gpt", "llama")
    assert len(b) == 4  # one entry per non-zero (pair, outcome): cost follows pairs
    assert b.n_battles == 1105
    assert b.is_aggregated
    wins, ties = b.pair_counts()
    assert wins[1, 0] == 700 and wins[0, 1] == 300 and wins[0, 2] == 5
    assert ties[0, 1] == ties[1, 0] == 100
    assert_array_equal(b.battles_per_model(), [1105, 1100, 5])


def test_pair_counts_errors_name_line_and_field(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("model_a,model_b,wins_a,wins_b,ties\nx,y,1,2,3\nx,y,1,-2,0\nz,z,1,0,0\n")
    with pytest.raises(BattleFileError) as err:
        read_battles(path)
    assert str(err.value).startswith(
        "line 3: wins_b must be an integer from 0 to 9007199254740992; got '-2'"
    )
    assert [line for line, _ in err.value.errors] == [3, 4]
    assert "self-battle" in err.value.errors[1][1]
    result = read_battles(path, skip_invalid=True)
    assert result.skipped == 2 and result.battles.n_battles == 6


def test_bad_rows_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"model_a": "x", "model_b": "y", "winner": "model_a"}\n'
        "\n"
        '{"model_a": "x", "model_b": "y", "winner": "A"}\n'
        '{"model_a": "x", "model_b": "x", "winner": "tie"}\n'
        "not json\n"
        '["x", "y"]\n'
        '{"model_a": "x", "winner": "tie"}\n'
        '{"model_a": "x", "model_b": 3, "winner": "tie"}\n'
        '{"model_a": "x", "model_b": "y", "winner": "tie", "tstamp": "noon"}\n'
        '{"model_a": "y", "model_b": "x", "winner": "model_b"}\n'
    )
    with pytest.raises(BattleFileError) as err:
        read_battles(path)
    message = str(err.value)
    assert message.startswith(
        "line 3: winner must be one of model_a, model_b, tie, tie (bothbad); got 'A'"
    )
    assert "\n" not in message and "--skip-invalid" in message
    lines = [line for line, _ in err.value.errors]
    assert lines == [3, 4, 5, 6, 7, 8, 9]
    reasons = dict(err.value.errors)
    assert "self-battle" in reasons[4]
    assert reasons[5].startswith("invalid JSON")
    assert "expected a JSON object" in reasons[6]
    assert reasons[7] == "model_b is missing"
    assert reasons[8] == "model_b must be a string; got 3"
    assert reasons[9].startswith("tstamp must be a number of seconds from 0")


def test_skip_invalid_counts_and_keeps_the_rest(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "model_a,model_b,winner\nx,y,model_a\nx,y,draw\ny,y,tie\nx,z\n,y,tie\nz,x,tie\n"
    )
    with pytest.raises(BattleFileError, match=r"^line 3: winner must be one of"):
        read_battles(path)
    result = read_battles(path, skip_invalid=True)
    assert (result.n_rows, result.skipped) == (6, 4)
    assert [line for line, _ in result.errors] == [3, 4, 5, 6]
    assert result.errors[2][1] == "expected 3 fields as in the header; got 2"
    assert result.errors[3][1] == "model_a must not be empty"
    assert len(result.battles) == 2
    assert result.battles.models == ("x", "y", "z")


def test_self_battle_is_rejected_everywhere():
    with pytest.raises(BattleFileError, match="record 1: model_a and model_b are both 'a'"):
        battles_from_records([{"model_a": "a", "model_b": "a", "winner": "tie"}])
    with pytest.raises(InputError, match="self-battle"):
        Battles(("a", "b"), [0], [0], [TIE])


def test_unknown_winner_lists_the_allowed_values():
    with pytest.raises(BattleFileError) as err:
        battles_from_records([{"model_a": "a", "model_b": "b", "winner": "model_c"}])
    assert all(o in str(err.value) for o in OUTCOMES)
    assert "got 'model_c'" in str(err.value)


def test_tstamp_only_when_every_record_has_one():
    with_all = battles_from_records(RECORDS)
    assert_array_equal(with_all.chronological(), [1, 2, 0, 3])
    partial = [dict(r) for r in RECORDS]
    del partial[2]["tstamp"]
    b = battles_from_records(partial)
    assert b.tstamp is None
    assert_array_equal(b.chronological(), [0, 1, 2, 3])


def test_equal_tstamps_keep_file_order():
    recs = [dict(r, tstamp=5) for r in RECORDS]
    assert_array_equal(battles_from_records(recs).chronological(), [0, 1, 2, 3])


def test_anonymous_only(tmp_path):
    recs = [dict(r, anony=flag) for r, flag in zip(RECORDS, [True, False, True, "yes"])]
    result = read_battles(
        write_jsonl(tmp_path / "a.jsonl", recs), anonymous_only=True, skip_invalid=True
    )
    assert len(result.battles) == 2
    assert result.n_rows == 4 and result.skipped == 1  # "yes" is neither true nor false: malformed
    assert result.errors == [(4, "anony must be true or false; got 'yes'")]
    pairs = tmp_path / "p.csv"
    pairs.write_text("model_a,model_b,wins_a,wins_b,ties\nx,y,1,1,1\n")
    with pytest.raises(InputError, match="anony"):
        read_battles(pairs, anonymous_only=True)


def test_text_and_binary_streams():
    text = "".join(json.dumps(r) + "\n" for r in RECORDS)
    for stream in (io.StringIO(text), io.BytesIO(text.encode())):
        assert len(read_battles(stream).battles) == 4
    csv_stream = io.StringIO("model_a,model_b,winner\r\nx,y,tie\r\n")
    assert len(read_battles(csv_stream).battles) == 1


def test_explicit_format_mismatch_is_a_clear_error(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("model_a,model_b,winner\nx,y,tie\n")
    with pytest.raises(BattleFileError, match="pair-counts CSV needs the columns"):
        read_battles(path, fmt="pairs")
    odd = tmp_path / "odd.csv"
    odd.write_text("left,right,winner\nx,y,left\n")
    with pytest.raises(BattleFileError, match="^line 1: CSV header must have"):
        read_battles(odd)
    with pytest.raises(InputError, match="fmt must be one of"):
        read_battles(path, fmt="xml")  # type: ignore[arg-type]


def test_missing_file_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        read_battles(tmp_path / "nope.jsonl")


def test_line_numbers_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(battles_module, "_BLOCK_BYTES", 64)
    recs = [dict(RECORDS[k % 4]) for k in range(50)]
    lines = [json.dumps(r) for r in recs]
    lines[37] = '{"model_a": "x", "model_b": "y", "winner": "nobody"}'
    lines.insert(20, "")
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BattleFileError, match=r"^line 39: winner must be"):
        read_battles(path)
    result = read_battles(path, skip_invalid=True)
    assert (result.n_rows, result.skipped, len(result.battles)) == (50, 1, 49)


def test_components_numbered_by_size():
    b = battles_from_records(
        [
            {"model_a": "e", "model_b": "f", "winner": "tie"},
            {"model_a": "a", "model_b": "b", "winner": "model_a"},
            {"model_a": "b", "model_b": "c", "winner": "model_b"},
        ]
    ).with_models(["a", "b", "c", "d", "e", "f"])
    assert_array_equal(components(b), [0, 0, 0, 2, 1, 1])


def test_subset_and_with_models():
    b = battles_from_records(RECORDS)
    sub = b.subset(b.outcome == TIE)
    assert len(sub) == 1 and sub.models == b.models
    wider = b.with_models(("zeta",) + b.models)
    assert wider.models[0] == "zeta"
    assert_array_equal(wider.pair_counts()[0][1:, 1:], b.pair_counts()[0])
    with pytest.raises(InputError, match="missing"):
        b.with_models(("gpt",))


names = st.sampled_from(["m0", "m1", "m2", "m3", "m4"])
record = st.builds(
    lambda a, d, w, t: {
        "model_a": a,
        "model_b": f"m{(int(a[1]) + d) % 5}",
        "winner": w,
        "tstamp": t,
    },
    names,
    st.integers(1, 4),
    st.sampled_from(OUTCOMES),
    st.integers(0, 10**6),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(record, min_size=1, max_size=40))
def test_all_formats_agree(tmp_path_factory, recs):
    tmp = tmp_path_factory.mktemp("fmt")
    ref = battles_from_records(recs)
    jsonl = read_battles(write_jsonl(tmp / "b.jsonl", recs)).battles
    (tmp / "b.csv").write_text(
        "model_a,model_b,winner,tstamp\n"
        + "".join(f"{r['model_a']},{r['model_b']},{r['winner']},{r['tstamp']}\n" for r in recs)
    )
    csv_b = read_battles(tmp / "b.csv").battles
    wins, ties = ref.pair_counts()
    n = ref.n_models
    rows = [
        f"{ref.models[i]},{ref.models[j]},{int(wins[i, j])},{int(wins[j, i])},{int(ties[i, j])}"
        for i in range(n)
        for j in range(i + 1, n)
    ]
    (tmp / "p.csv").write_text("model_a,model_b,wins_a,wins_b,ties\n" + "\n".join(rows) + "\n")
    pairs = read_battles(tmp / "p.csv").battles
    for other in (jsonl, csv_b, pairs):
        assert other.models == ref.models
        assert_array_equal(other.pair_counts()[0], wins)
        assert_array_equal(other.pair_counts()[1], ties)
    assert_allclose(csv_b.tstamp, ref.tstamp)
