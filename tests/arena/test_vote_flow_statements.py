"""SQL statements per request of the vote flow, pinned so that a regression fails.

``battles/next/`` and ``votes/`` are the hot requests of the open arena, and each statement is
a round trip plus the ORM's work to build it (``bench/bench_api_profile.py``). Counted here, in
autocommit as a server runs them (``transaction=True``): Django's query log, which includes
``BEGIN`` and ``COMMIT``, plus the prepared statements of ``arena/services/votes_fast.py``,
which bypass that log. The counts do not depend on how many matches, serves or votes exist.

PostgreSQL only (the prepared path and the advisory lock exist only there): skips on SQLite,
fails in CI (``LUDUS_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from arena import models as m
from arena.services import votes_fast
from tests.arena.test_api_common import API, servable_match
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only(settings, monkeypatch):
    if connection.vendor != "postgresql":
        skip_or_fail(
            "the vote flow's statement counts are PostgreSQL's (prepared statements, advisory "
            f"lock); the test database is {connection.vendor}: run with DATABASE_URL=postgres://"
        )
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"vote-statements-{uuid.uuid4().hex}",
        }
    }
    # Committed votes schedule a leaderboard rebuild: not sent to a real broker here.
    monkeypatch.setattr("arena.services.leaderboard.task_send", lambda **kwargs: None)


class _Statements:
    """Statements sent to PostgreSQL inside the block: Django's log plus the prepared ones."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prepared: list[str] = []
        real = votes_fast._execute_prepared

        def counted(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
            self.prepared.append(sql)
            return real(sql, params)

        monkeypatch.setattr(votes_fast, "_execute_prepared", counted)

    def __enter__(self) -> _Statements:
        self.prepared.clear()
        self.log = CaptureQueriesContext(connection)
        self.log.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.__exit__(*exc)

    @property
    def sql(self) -> list[str]:
        return [q["sql"] for q in self.log.captured_queries] + self.prepared


def _world(n_matches: int) -> None:
    """Servable matches, some already served to and voted on by other voters."""
    for _ in range(n_matches):
        servable_match()
    for _ in range(n_matches // 2):
        other = Client()
        token = other.get(f"{API}/battles/next/").json()["token"]
        r = other.post(
            f"{API}/votes/", {"token": token, "outcome": "B"}, content_type="application/json"
        )
        assert r.status_code == 201, r.content


def _served(client: Client) -> str:
    r = client.get(f"{API}/battles/next/")
    assert r.status_code == 200, r.content
    return r.json()["token"]


def _vote(client: Client, token: str) -> Any:
    return client.post(
        f"{API}/votes/",
        {"token": token, "outcome": "A"},
        content_type="application/json",
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


@pytest.mark.parametrize("n_matches", [2, 8])
def test_battles_next_is_pick_insert_read(monkeypatch, n_matches):
    _world(n_matches)
    client = Client()
    with _Statements(monkeypatch) as statements:
        _served(client)
    # Pick the battle, record the serve (no BEGIN/COMMIT of its own in autocommit), read its
    # prompt and answers.
    verbs = [sql.split(None, 1)[0].upper() for sql in statements.sql]
    assert verbs == ["SELECT", "INSERT", "SELECT"], statements.sql
    with _Statements(monkeypatch) as statements:  # a voter with a cookie: the same
        _served(client)
    assert len(statements.sql) == 3, statements.sql


@pytest.mark.parametrize(
    "fast,expected",
    [
        # BEGIN, the key's advisory lock (a new key is not looked up: its record's INSERT
        # would fail if one existed), the locked serve read, one data-modifying statement
        # (vote, battle, serve, match), the key's record, COMMIT
        (True, 6),
        # the same with the ORM: the serve read, then Vote, Battle and two UPDATEs
        (False, 9),
    ],
)
def test_vote_statements(settings, monkeypatch, fast, expected):
    settings.LUDUS_VOTES_FAST_SQL = fast
    _world(6)
    client = Client()
    token = _served(client)
    with _Statements(monkeypatch) as statements:
        r = _vote(client, token)
    assert r.status_code == 201, r.content
    assert len(statements.sql) == expected, statements.sql
    assert len(statements.prepared) == (2 if fast else 0)
    assert statements.sql[0] == "BEGIN" and statements.log.captured_queries[-1]["sql"] == "COMMIT"
    assert m.Vote.objects.filter(pk=r.json()["vote_id"]).exists()  # committed


def test_the_prepared_vote_path_is_the_default():
    from arena.services.votes import vote_sql_fast

    assert vote_sql_fast()


def test_a_replay_writes_nothing_and_its_statements_are_pinned(monkeypatch):
    # A retry of a committed vote (prepared path): the first attempt takes the lock, reads the
    # served battle (already voted: a refusal, nothing written) and fails to store the key's
    # record (BEGIN, lock, serve read, INSERT, ROLLBACK); the second looks the record up under
    # the lock and replays it (BEGIN, lock, lookup, ROLLBACK).
    _world(2)
    client = Client()
    token = _served(client)
    key = str(uuid.uuid4())
    body = {"token": token, "outcome": "A"}
    first = client.post(
        f"{API}/votes/", body, content_type="application/json", headers={"Idempotency-Key": key}
    )
    assert first.status_code == 201, first.content
    votes = m.Vote.objects.count()
    with _Statements(monkeypatch) as statements:
        again = client.post(
            f"{API}/votes/", body, content_type="application/json", headers={"Idempotency-Key": key}
        )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert m.Vote.objects.count() == votes
    assert len(statements.sql) == 9, statements.sql
