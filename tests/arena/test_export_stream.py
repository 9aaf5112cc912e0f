"""Exports stream in bounded memory and their bytes stay what they were.

The golden files in ``tests/data/export_golden/`` were written by the export code of main at
commit a61861d (before the streaming import work), then rewritten once when CSV exports gained
the ``conv_metadata`` column (style control; ``LUDUS_WRITE_EXPORT_GOLDEN=1`` rewrites
them) from the dataset built here.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from arena import models as m
from arena.services.battles_io import battles_export, battles_export_public
from tests.arena.test_api_common import API
from tests.factories import BattleFactory, CompetitorFactory

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "export_golden"
WRITE = os.environ.get("LUDUS_WRITE_EXPORT_GOLDEN") == "1"


@pytest.fixture
def dataset(db):
    alpha = CompetitorFactory(name="alpha")
    beta = CompetitorFactory(name='beta, "the second"')  # CSV quoting
    gamma = CompetitorFactory(name="gämma")  # non-ASCII kept as is in JSON
    hidden = CompetitorFactory(name="hidden", visibility=m.Competitor.Visibility.PRIVATE)
    stamp = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    rows = [
        (alpha, beta, "model_a", "human", "general", True, ""),
        (beta, gamma, "tie", "human", "coding", False, ""),
        (gamma, alpha, "tie (bothbad)", "judge", "math\\proofs", True, "judge-x, v2"),
        (alpha, gamma, "model_b", "import", "general", True, ""),
        (hidden, alpha, "model_a", "human", "general", True, ""),
    ]
    for k, (a, b, outcome, source, category, anony, judge) in enumerate(rows):
        BattleFactory(
            model_a=a,
            model_b=b,
            outcome=outcome,
            source=source,
            category=category,
            anony=anony,
            judge=judge,
            tstamp=stamp.replace(second=k),
        )
    batch = m.ImportBatch.objects.create(fmt="pairs")
    m.PairCount.objects.create(batch=batch, model_a=alpha, model_b=beta, wins_a=7, wins_b=2, ties=1)
    m.PairCount.objects.create(
        batch=batch, model_a=beta, model_b=alpha, wins_a=1, wins_b=0, ties=0, category="coding"
    )


def _golden(name: str, text: str | None = None) -> str:
    path = GOLDEN / name
    if WRITE and text is not None:
        path.write_bytes(text.encode("utf-8"))
    return path.read_bytes().decode("utf-8")


CASES = [
    ("records.jsonl", "format=jsonl", {"fmt": "jsonl"}),
    ("records.csv", "format=csv", {"fmt": "csv"}),
    ("pairs.csv", "format=pairs", {"fmt": "pairs"}),
    ("human-coding.jsonl", "format=jsonl&source=human&category=coding", {"fmt": "jsonl"}),
]


@pytest.mark.parametrize(("name", "query", "kwargs"), CASES)
def test_export_bytes_unchanged(dataset, admin_client, name, query, kwargs):
    r = admin_client.get(f"{API}/battles/export/?{query}")
    assert r.status_code == 200
    text = b"".join(r.streaming_content).decode("utf-8")
    assert text == _golden(name, text)


def test_public_export_bytes_unchanged(dataset, anon):
    r = anon.get(f"{API}/battles/export/public/?format=csv")
    assert r.status_code == 200
    text = b"".join(r.streaming_content).decode("utf-8")
    assert "hidden" not in text
    assert text == _golden("public.csv", text)
    assert "".join(battles_export_public(fmt="csv")) == text


def test_command_writes_the_same_bytes(dataset, tmp_path):
    out = tmp_path / "out.jsonl"
    call_command("export_battles", "--format", "jsonl", "-o", str(out))
    assert out.read_bytes().decode("utf-8") == _golden("records.jsonl")
    buf = io.StringIO()
    call_command("export_battles", "--format", "pairs", stdout=buf)
    assert buf.getvalue() == _golden("pairs.csv")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side cursors: PostgreSQL")
def test_records_come_through_a_server_side_cursor(dataset, monkeypatch):
    """Records are fetched in chunks from a named cursor, never all at once."""
    opened: list[str | None] = []
    original = connection.chunked_cursor

    def spy():
        cursor = original()
        opened.append(getattr(cursor.cursor, "name", None))
        return cursor

    monkeypatch.setattr(connection, "chunked_cursor", spy)
    chunks = battles_export(fmt="jsonl")
    assert opened == []  # nothing is read before the first chunk is asked for
    text = "".join(chunks)
    assert len(text.splitlines()) == 5 and len(opened) == 1 and opened[0]
