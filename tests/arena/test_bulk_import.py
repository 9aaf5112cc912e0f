"""Streaming imports: the COPY writer against its plain twin, all-or-nothing across blocks."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from arena import models as m
from arena.exceptions import ApplicationError
from arena.services import battles_io
from arena.services.battles_io import battles_import
from tests.arena.test_api_common import counts
from tests.factories import CompetitorFactory

pytestmark = pytest.mark.django_db
needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY is PostgreSQL's bulk path"
)

NAMES = [f"m{i:02d}" for i in range(12)]
WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]
# A backslash, a tab-free unicode name and a quote: what COPY's text format must escape.
CATEGORIES = ["general", "coding", "math\\proofs", "größe", 'say "hi"', None]
_US = timedelta(microseconds=1)
N_RECORDS = 25_000  # about 2.4 MB of JSON Lines: three blocks of the reader


def _records(n: int, *, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.sample(NAMES, 2)
        record = {
            "model_a": a,
            "model_b": b,
            "winner": rng.choice(WINNERS),
            "tstamp": 1_600_000_000 + i * 1.25 + rng.random() / 7,
            "anony": rng.random() < 0.8,
        }
        category = rng.choice(CATEGORIES)
        if category is not None:
            record["category"] = category
        if i % 3 == 0:  # LMArena's style counts on a third of the records
            record["conv_metadata"] = {
                "sum_assistant_a_tokens": rng.randrange(1000),
                "sum_assistant_b_tokens": rng.randrange(1000),
                **{
                    f"{kind}_count_{side}": {part: rng.randrange(5) for part in parts}
                    for kind, parts in (
                        ("header", ("h1", "h2", "h3", "h4", "h5", "h6")),
                        ("list", ("ordered", "unordered")),
                        ("bold", ("**", "__")),
                    )
                    for side in "ab"
                },
            }
        out.append(record)
    return out


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


@pytest.fixture
def competitors(db):
    return {n: CompetitorFactory(name=n).pk for n in NAMES}


def _stored(batch_id: int) -> list[tuple]:
    return list(
        m.Battle.objects.filter(batch_id=batch_id)
        .order_by("id")
        .values_list(
            "model_a__name",
            "model_b__name",
            "outcome",
            "source",
            "category",
            "anony",
            "judge",
            "tstamp",
            "match_id",
            "vote_id",
            "conv_metadata",
        )
    )


@needs_postgres
def test_copy_stores_the_same_rows_as_plain(competitors):
    records = _records(N_RECORDS)
    data = _jsonl(records)
    seen: list[battles_io.ImportProgress] = []
    copy = battles_import(source=io.BytesIO(data), writer="copy", progress=seen.append)
    plain = battles_import(source=io.BytesIO(data), writer="plain")
    assert battles_io.record_writer_default() == "copy"
    assert copy.n_stored == plain.n_stored == N_RECORDS
    assert len(seen) >= 3 and seen[-1].n_stored == N_RECORDS  # streamed in several blocks
    rows_copy, rows_plain = _stored(copy.batch_id), _stored(plain.batch_id)
    assert rows_copy == rows_plain
    # and both are the file itself, field by field (microseconds as datetime rounds them)
    expected = [
        (
            r["model_a"],
            r["model_b"],
            r["winner"],
            "import",
            r.get("category", "general"),
            r["anony"],
            "",
            datetime.fromtimestamp(r["tstamp"], tz=UTC),
            None,
            None,
            r.get("conv_metadata"),
        )
        for r in records
    ]
    assert rows_copy == expected


@pytest.mark.parametrize("writer", ["copy", "plain"])
def test_error_in_a_late_block_stores_nothing(competitors, writer):
    if writer == "copy" and connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's bulk path")
    records = _records(N_RECORDS, seed=1)
    data = _jsonl(records) + b'{"model_a": "m01", "model_b": "m02", "winner": "A"}\n'
    data += _jsonl(_records(10, seed=2))
    before = counts()
    with pytest.raises(ApplicationError) as info:
        battles_import(source=io.BytesIO(data), writer=writer)
    assert info.value.code == "invalid_file"
    assert info.value.extra["errors"][0]["line"] == N_RECORDS + 1
    assert counts() == before
    assert not m.ImportBatch.objects.exists()


@pytest.mark.parametrize("writer", ["copy", "plain"])
def test_unknown_model_in_a_late_block(competitors, writer):
    if writer == "copy" and connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's bulk path")
    data = _jsonl(_records(N_RECORDS, seed=3))
    data += b'{"model_a": "m01", "model_b": "stranger", "winner": "tie"}\n'
    before = counts()
    with pytest.raises(ApplicationError) as info:
        battles_import(source=io.BytesIO(data), writer=writer)
    assert info.value.code == "unknown_models"
    assert info.value.field_errors == {"models": ["Unknown model: stranger"]}
    assert counts() == before
    report = battles_import(source=io.BytesIO(data), writer=writer, create_models=True)
    assert report.created_models == ["stranger"] and report.n_stored == N_RECORDS + 1
    assert m.Battle.objects.filter(model_b__name="stranger").count() == 1


@pytest.mark.parametrize("writer", ["plain", "copy"])
def test_incomplete_timestamps_mean_file_order(competitors, writer):
    # DESIGN.md: online methods take a file in tstamp order only when every record has one.
    # Here the record without one is in a later block than a record with one.
    if writer == "copy" and connection.vendor != "postgresql":
        pytest.skip("COPY needs PostgreSQL")
    records = _records(12_000)  # two blocks of the reader
    del records[-1]["tstamp"]
    started = datetime.now(tz=UTC)
    report = battles_import(source=io.BytesIO(_jsonl(records)), writer=writer)
    stamps = {row[7] for row in _stored(report.batch_id)}
    assert len(stamps) == 1 and started <= stamps.pop() <= datetime.now(tz=UTC)


def test_complete_timestamps_are_kept(competitors):
    data = b'{"model_a": "m01", "model_b": "m02", "winner": "tie", "tstamp": 100}\n'
    data += b'{"model_a": "m02", "model_b": "m03", "winner": "tie", "tstamp": 50}\n'
    report = battles_import(source=io.BytesIO(data))
    stamps = [row[7] for row in _stored(report.batch_id)]
    assert stamps == [datetime.fromtimestamp(t, tz=UTC) for t in (100, 50)]


def test_pair_counts_across_blocks_are_summed(competitors):
    # 60,000 rows: two blocks of the CSV reader; every row adds 1-2-0 to m00 vs m01
    rows = "model_a,model_b,wins_a,wins_b,ties\n" + "m00,m01,1,2,0\n" * 60_000
    report = battles_import(source=io.BytesIO(rows.encode()))
    assert (report.kind, report.n_rows, report.n_battles, report.n_stored) == (
        "pairs",
        60_000,
        180_000,
        1,
    )
    pc = m.PairCount.objects.get()
    assert (pc.wins_a, pc.wins_b, pc.ties) == (60_000, 120_000, 0)


def test_command_prints_progress(competitors, tmp_path, monkeypatch, capsys):
    from arena.management.commands import import_battles

    monkeypatch.setattr(import_battles, "PROGRESS_EVERY_SECONDS", 0.0)
    path = tmp_path / "battles.jsonl"
    path.write_bytes(_jsonl(_records(N_RECORDS, seed=4)))
    call_command("import_battles", str(path))
    captured = capsys.readouterr()
    assert f"imported {N_RECORDS} battles" in captured.out
    assert f"{N_RECORDS:,} rows read, {N_RECORDS:,} stored" in captured.err
    assert captured.err.count("rows read") >= 3


def test_writer_is_checked(competitors):
    with pytest.raises(ApplicationError) as info:
        battles_import(source=io.BytesIO(_jsonl(_records(3))), writer="fast")
    assert "writer" in info.value.field_errors


def _pending_fk_checks() -> bool:
    """Whether foreign-key checks of this transaction's rows are still queued (deferred):
    PostgreSQL refuses ``CREATE INDEX`` on a table with pending trigger events."""
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT probe")
        try:
            cursor.execute("CREATE INDEX probe_idx ON arena_battle (id)")
        except Exception as exc:  # ObjectInUse: pending trigger events
            cursor.execute("ROLLBACK TO SAVEPOINT probe")
            assert "pending trigger events" in str(exc)
            return True
        cursor.execute("ROLLBACK TO SAVEPOINT probe")
        return False


@needs_postgres
def test_copy_checks_its_foreign_keys_once_per_block_not_per_row(competitors, monkeypatch):
    # The per-row checks (three queries per record, run at commit) are replaced by one check
    # of the block's competitors: none is left queued, and a competitor id that does not
    # exist is still refused (with nothing stored), as the foreign key would refuse it.
    data = _jsonl(_records(3000))
    report = battles_import(source=io.BytesIO(data), writer="copy")
    assert m.Battle.objects.filter(batch_id=report.batch_id).count() == 3000
    assert not _pending_fk_checks()
    real_update = battles_io._Names.update

    def vanished(self, models):  # one name resolves to an id nobody has
        real_update(self, models)
        self.ids = self.ids.copy()
        self.ids[0] = max(competitors.values()) + 1000

    monkeypatch.setattr(battles_io._Names, "update", vanished)
    before = m.Battle.objects.count()
    with pytest.raises(ApplicationError) as err:
        battles_import(source=io.BytesIO(data), writer="copy")
    assert err.value.code == "unknown_models"
    assert m.Battle.objects.count() == before


@needs_postgres
def test_copy_without_the_privilege_keeps_the_per_row_checks(competitors):
    # A role that may not set session_replication_role imports all the same (PostgreSQL then
    # checks every row, queued until commit). Roles are transactional: the test's rollback
    # drops this one.
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE ludus_import_test_role NOLOGIN")
        cursor.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO ludus_import_test_role")
        cursor.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ludus_import_test_role")
        cursor.execute("SET LOCAL ROLE ludus_import_test_role")
    report = battles_import(source=io.BytesIO(_jsonl(_records(3000))), writer="copy")
    assert m.Battle.objects.filter(batch_id=report.batch_id).count() == 3000
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    assert _pending_fk_checks()


def test_record_micros_rounds_as_datetime_does():
    # the vectorised tstamp conversion both writers share, against CPython's own rounding:
    # random stamps, exact half microseconds (half to even), and fractions that round up
    # into the next second
    import numpy as np

    rng = np.random.default_rng(7)
    whole = np.floor(rng.uniform(0, 253_402_300_000, 20_000))
    stamps = np.concatenate(
        [
            rng.uniform(0, 253_402_300_000, 20_000),
            rng.uniform(1.5e9, 1.8e9, 20_000).round(6),
            whole[:5000] + (rng.integers(0, 10**6, 5000) + 0.5) / 1e6,
            whole[5000:10000] + 0.9999996,
            [0.0, 0.5e-6, 1.5e-6, 2.5e-6, 0.9999995, 1_600_000_000.9999999],
        ]
    )
    now = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    micros = battles_io.record_micros(np.append(stamps, np.nan), now=now)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    expected = [(datetime.fromtimestamp(t, tz=UTC) - epoch) // _US for t in stamps.tolist()]
    assert micros[:-1].tolist() == expected
    assert micros[-1] == (now - epoch) // _US  # no tstamp: the import's time


def test_read_ahead_keeps_order_raises_in_place_and_stops_early():
    import threading

    assert list(battles_io.read_ahead(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        yield 2
        raise ValueError("line 3: bad")

    got = []
    with pytest.raises(ValueError, match="line 3"):
        for item in battles_io.read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]

    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            yield produced[-1]

    reader = battles_io.read_ahead(endless(), depth=2)
    assert next(reader) == 0
    reader.close()  # the consumer stops (an error while writing): the thread ends too
    assert not any(t.name == "import-read-ahead" for t in threading.enumerate())
    assert len(produced) <= 5  # it read at most depth + 2 ahead
