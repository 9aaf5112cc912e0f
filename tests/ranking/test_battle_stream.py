"""BattleStream: the file in blocks, each no bigger than a block, together exactly the file."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest

from ranking.battle_files import BattleStream
from ranking.errors import BattleFileError, InputError
from ranking.types import OUTCOMES

NAMES = [f"m{i}" for i in range(7)]


def _records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.sample(NAMES, 2)
        record = {"model_a": a, "model_b": b, "winner": rng.choice(OUTCOMES)}
        if i % 3:
            record["tstamp"] = 1000 + i
        out.append(record)
    return out


def _decoded(stream: BattleStream) -> tuple[list[tuple], list[int]]:
    rows: list[tuple] = []
    sizes = []
    for block in stream:
        sizes.append(len(block))
        assert block.tstamp is not None
        for a, b, o, t in zip(
            block.a.tolist(), block.b.tolist(), block.outcome.tolist(), block.tstamp.tolist()
        ):
            rows.append((block.models[a], block.models[b], OUTCOMES[o], None if t != t else t))
    return rows, sizes


def _expected(records: list[dict]) -> list[tuple]:
    return [(r["model_a"], r["model_b"], r["winner"], r.get("tstamp")) for r in records]


def test_jsonl_in_blocks_is_the_file():
    records = _records(30_000)
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    rows, sizes = _decoded(BattleStream(io.BytesIO(data)))
    assert rows == _expected(records)
    assert len(sizes) >= 2  # 1 MiB blocks: the 2 MB file comes in more than one


def test_csv_blocks_are_bounded():
    records = _records(120_001, seed=1)
    lines = ["model_a,model_b,winner,tstamp"]
    lines += [f"{r['model_a']},{r['model_b']},{r['winner']},{r.get('tstamp', '')}" for r in records]
    stream = BattleStream(io.StringIO("\n".join(lines) + "\n"))
    rows, sizes = _decoded(stream)
    assert rows == _expected(records)
    assert sizes == [50_000, 50_000, 20_001]
    assert stream.n_rows == 120_001 and stream.n_errors == 0 and not stream.weighted


def test_malformed_rows_are_counted_and_raised_at_check():
    records = _records(10, seed=2)
    lines = [json.dumps(r) for r in records]
    lines[3] = '{"model_a": "m1", "model_b": "m1", "winner": "tie"}'
    lines[7] = "{not json"
    stream = BattleStream(io.StringIO("\n".join(lines) + "\n"))
    rows, _ = _decoded(stream)
    assert rows == [x for k, x in enumerate(_expected(records)) if k not in (3, 7)]
    assert stream.n_errors == 2 and [line for line, _ in stream.errors] == [4, 8]
    with pytest.raises(
        BattleFileError, match=r"line 4: .*self-battle.*\(and 1 more malformed row\)"
    ):
        stream.check()


def test_pair_counts_stream_weights():
    text = "model_a,model_b,wins_a,wins_b,ties\nm0,m1,3,0,2\nm1,m2,0,0,0\n"
    stream = BattleStream(io.StringIO(text))
    blocks = list(stream)
    assert stream.weighted and stream.n_rows == 2
    (block,) = blocks
    assert block.weight is not None and block.tstamp is None
    # zero counts are dropped: m0-m1 wins (3) and ties (2) remain
    assert block.weight.tolist() == [3.0, 2.0]
    assert [block.models[i] for i in block.a.tolist()] == ["m0", "m0"]
    assert np.array_equal(block.outcome, np.array([0, 2], dtype=np.int8))


def test_bad_format_is_refused_before_reading():
    with pytest.raises(InputError, match="fmt must be one of"):
        BattleStream(io.StringIO(""), fmt="xml")  # type: ignore[arg-type]
