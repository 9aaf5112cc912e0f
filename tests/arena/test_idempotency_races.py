"""PostgreSQL races of ``Idempotency-Key`` on ``votes/`` (see :mod:`arena.api.idempotency`).

The sequential behaviour (replay, 422 on a different body) is covered in ``test_api_votes``;
these tests commit for real (``transaction=True``) and use second connections and threads:

* a request whose (scope, key) advisory lock is held elsewhere answers 409 ``in_flight`` at
  once and writes nothing; once the lock is released the same request records the vote;
* a request that loses the race (the first request with its key commits between this one's
  lock and its final insert: the first attempt takes the lock without a lookup) rolls its own
  vote back and replays the stored response;
* two simultaneous identical submits record one vote (201, plus a 201 replay or a 409);
* two simultaneous submits with different keys for one token record one vote (201, plus a
  409 ``already_voted``), never a 500.

PostgreSQL only: they skip on SQLite (which serialises writes), and fail instead in CI
(``LUDUS_REQUIRE_SERVICES=1``), as the other service-dependent tests do.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.http import HttpRequest
from django.test import Client

from arena import models as m
from arena.api import idempotency
from arena.api.voters import COOKIE_NAME, COOKIE_SALT
from arena.services.votes import voter_hash_make
from tests.arena.test_api_common import API, assert_error, servable_match
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db(transaction=True)

#: Seconds a request may take before it counts as blocked (a 409 must come "at once").
DEADLINE = 10.0
ITERATIONS = 10
REPLAYED = "Idempotent-Replayed"


@pytest.fixture(autouse=True)
def _postgresql_only(settings, monkeypatch):
    if connection.vendor != "postgresql":
        skip_or_fail(
            "the Idempotency-Key race tests need PostgreSQL (advisory locks, concurrent "
            "transactions); the "
            f"test database is {connection.vendor}: run with DATABASE_URL=postgres://..."
        )
    # Throttle counters and the rebuild debounce in a cache of this test's own (thread-shared
    # local memory), and no leaderboard rebuild sent to a real broker by the committed votes.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"idem-races-{uuid.uuid4().hex}",
        }
    }
    monkeypatch.setattr("arena.services.leaderboard.task_send", lambda **kwargs: None)


# --------------------------------------------------------------------------- helpers


def _pg_connect() -> Any:
    """A second, independent psycopg connection to the test database (not in autocommit)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    s = connection.settings_dict
    params = {
        "dbname": s["NAME"],
        "user": s.get("USER"),
        "password": s.get("PASSWORD"),
        "host": s.get("HOST"),
        "port": str(s["PORT"]) if s.get("PORT") else None,
    }
    conn = psycopg.connect(
        make_conninfo(**{k: v for k, v in params.items() if v}), connect_timeout=10
    )
    with conn.cursor() as cur:  # never hang the suite on a lock: fail instead
        cur.execute("SET lock_timeout = '5s'")
    conn.commit()
    return conn


def _try_lock(conn: Any, *, scope: str, key: str) -> bool:
    """Take the advisory lock a request with (scope, key) holds while it runs, in ``conn``."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s::text || E'\\n' || %s::text, "
            "7321))",
            [scope, key],
        )
        return bool(cur.fetchone()[0])


def _battle() -> tuple[Client, str, str, m.BattleServe]:
    """A fresh anonymous voter served a fresh battle: ``(client, token, scope, serve)``."""
    servable_match()
    client = Client()
    r = client.get(f"{API}/battles/next/")
    assert r.status_code == 200, r.content
    scope = _scope(client)
    serve = m.BattleServe.objects.get(voter_hash=voter_hash_make(anon_id=_anon_id(client)))
    assert (
        serve.voter_hash[:64] == scope
    )  # the identity this test computes is the one the server stored
    assert serve.voted_at is None
    return client, r.json()["token"], scope, serve


def _anon_id(client: Client) -> str:
    """The anonymous id in the client's signed voter cookie (read as any Django view reads it)."""
    request = HttpRequest()
    request.COOKIES[COOKIE_NAME] = client.cookies[COOKIE_NAME].value
    return request.get_signed_cookie(COOKIE_NAME, salt=COOKIE_SALT)


def _scope(client: Client) -> str:
    """The Idempotency-Key scope of this anonymous client's votes: its voter hash, cut to 64."""
    return voter_hash_make(anon_id=_anon_id(client))[:64]


def _twin(client: Client) -> Client:
    """Another client (its own thread, connection, cookie jar) with the same voter cookie."""
    twin = Client()
    twin.cookies[COOKIE_NAME] = client.cookies[COOKIE_NAME].value
    return twin


def _vote(client: Client, token: str, outcome: str = "A", *, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"{API}/votes/",
        {"token": token, "outcome": outcome},
        content_type="application/json",
        headers=headers,
    )


def _in_threads(*calls: Callable[[], Any], timeout: float = DEADLINE) -> list[Any]:
    """Run the calls in threads released together; their results (an exception is re-raised).

    Each thread uses its own database connection and closes it at the end. A thread still
    running after ``timeout`` seconds fails the test (a request that waits on a lock).
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[i] = call()
        except BaseException as exc:
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    end = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not hung, (
        f"request(s) {hung} still running after {timeout} s: blocked instead of answering at once"
    )
    for exc in errors:
        if exc is not None:
            raise exc
    return results


def _written(serve: m.BattleServe) -> tuple[int, int, bool]:
    """``(votes, human battles, voted)`` for the serve's battle."""
    serve.refresh_from_db()
    return (
        m.Vote.objects.filter(match_id=serve.match_id).count(),
        m.Battle.objects.filter(match_id=serve.match_id, source=m.Source.HUMAN).count(),
        serve.voted_at is not None,
    )


def _code(response: Any) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- in flight


def test_held_lock_answers_in_flight_at_once_and_writes_nothing():
    client, token, scope, serve = _battle()
    key = str(uuid.uuid4())
    blocker = _pg_connect()
    try:
        assert _try_lock(blocker, scope=scope, key=key)  # "the first request" is running
        started = time.monotonic()
        (r,) = _in_threads(lambda: _vote(client, token, "A", key=key))
        elapsed = time.monotonic() - started
        assert_error(r, 409, "in_flight")
        assert REPLAYED not in r
        assert _written(serve) == (0, 0, False)
        assert not m.IdempotencyRecord.objects.filter(scope=scope, key=key).exists()
        assert elapsed < DEADLINE / 2, (
            f"the in-flight answer took {elapsed:.1f} s: it waited for the lock"
        )
    finally:
        blocker.rollback()  # "the first request" ends without a write: the lock is released
        blocker.close()

    r = _vote(client, token, "A", key=key)
    assert r.status_code == 201, r.content
    assert REPLAYED not in r
    assert _written(serve) == (1, 1, True)
    assert m.Vote.objects.get(serve=serve).pk == r.json()["vote_id"]
    again = _vote(client, token, "A", key=key)
    assert again.status_code == 201 and again.get(REPLAYED) == "true" and again.json() == r.json()
    assert _written(serve) == (1, 1, True)


def test_lock_on_another_key_of_the_same_voter_does_not_block():
    client, token, scope, serve = _battle()
    blocker = _pg_connect()
    try:
        assert _try_lock(blocker, scope=scope, key="some other key")
        (r,) = _in_threads(lambda: _vote(client, token, "B", key="this key"))
        assert r.status_code == 201, r.content
        assert _written(serve) == (1, 1, True)
    finally:
        blocker.rollback()
        blocker.close()


# --------------------------------------------------------------------------- lost race


def test_first_request_committing_after_lookup_wins_and_is_replayed(monkeypatch):
    client, token, scope, serve = _battle()
    key = str(uuid.uuid4())
    body = {"token": token, "outcome": "A"}
    stored = {
        "vote_id": 987654,
        "battle_id": 876543,
        "outcome": "A",
        "recorded_outcome": "model_a",
        "model_a": "first-request-model-a",
        "model_b": "first-request-model-b",
        "category": "general",
        "created_at": "2024-01-02T03:04:05+00:00",
    }
    table = m.IdempotencyRecord._meta.db_table
    real = idempotency._lock
    injected: list[tuple[str, str]] = []

    def lock_then_lose_the_race(*, scope: str, key: str) -> bool:
        locked = real(scope=scope, key=key)
        if locked and not m.IdempotencyRecord.objects.filter(scope=scope, key=key).exists():
            # The first request with this key commits its vote's response right now.
            from psycopg.types.json import Jsonb

            other = _pg_connect()
            try:
                with other.cursor() as cur:
                    cur.execute(
                        f"INSERT INTO {table} (scope, key, request_hash, status_code, response, "
                        "created_at) "  # noqa: S608
                        "VALUES (%s, %s, %s, %s, %s, now())",
                        [scope, key, idempotency._request_hash(body), 201, Jsonb(stored)],
                    )
                other.commit()
            finally:
                other.close()
            injected.append((scope, key))
        return locked

    monkeypatch.setattr(idempotency, "_lock", lock_then_lose_the_race)
    r = _vote(client, token, "A", key=key)
    assert injected == [(scope, key)], "the race was not injected (the key was never free)"
    assert r.status_code == 201, r.content
    assert r.get(REPLAYED) == "true"
    assert r.json() == stored
    # This request's own vote was rolled back: nothing written, the battle can still be voted on.
    assert _written(serve) == (0, 0, False)
    record = m.IdempotencyRecord.objects.get(scope=scope, key=key)
    assert (record.status_code, record.response) == (201, stored)

    monkeypatch.setattr(idempotency, "_lock", real)
    again = _vote(client, token, "A", key=key)
    assert again.status_code == 201 and again.get(REPLAYED) == "true" and again.json() == stored
    fresh = _vote(client, token, "A", key=str(uuid.uuid4()))
    assert fresh.status_code == 201, fresh.content
    assert REPLAYED not in fresh
    assert _written(serve) == (1, 1, True)


# --------------------------------------------------------------------------- real concurrency


def test_concurrent_double_submit_records_one_vote():
    for i in range(ITERATIONS):
        client, token, scope, serve = _battle()
        key = str(uuid.uuid4())
        first, second = client, _twin(client)
        # Vary the interleaving: from a simultaneous start (the second one finds the key in
        # flight) to a second request arriving about when the first commits (replay, or the
        # lost race when its lookup just precedes that commit).
        delay = i * 0.002 + random.Random(i).uniform(0, 0.001)

        def late(c: Client = second, d: float = delay, t: str = token, k: str = key) -> Any:
            time.sleep(d)
            return _vote(c, t, "A", key=k)

        responses = _in_threads(lambda c=first, t=token, k=key: _vote(c, t, "A", key=k), late)
        statuses = [r.status_code for r in responses]
        assert 500 not in statuses, [r.content for r in responses]
        fresh = [r for r in responses if r.status_code == 201 and REPLAYED not in r]
        assert len(fresh) == 1, (
            i,
            statuses,
            [dict(r.items()) for r in responses],
            [r.content for r in responses],
        )
        (winner,) = fresh
        (other,) = [r for r in responses if r is not winner]
        if other.status_code == 201:
            assert other.get(REPLAYED) == "true" and other.json() == winner.json(), (
                i,
                other.content,
            )
        else:
            assert_error(other, 409, "in_flight")
        assert _written(serve) == (1, 1, True), (i, statuses)
        assert m.Vote.objects.get(serve=serve).pk == winner.json()["vote_id"]
        # The stored response is the winner's: a later retry replays it.
        retry = _vote(client, token, "A", key=key)
        assert (
            retry.status_code == 201
            and retry.get(REPLAYED) == "true"
            and retry.json() == winner.json()
        )
        assert m.IdempotencyRecord.objects.filter(scope=scope, key=key).count() == 1


def test_concurrent_submits_with_different_keys_record_one_vote():
    for i in range(ITERATIONS):
        client, token, scope, serve = _battle()
        keys = (str(uuid.uuid4()), str(uuid.uuid4()))
        clients = (client, _twin(client))
        outcomes = ("A", "B")
        responses = _in_threads(
            *[
                lambda c=c, o=o, k=k: _vote(c, token, o, key=k)
                for c, o, k in zip(clients, outcomes, keys, strict=True)
            ]
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409], (i, statuses, [r.content for r in responses])
        won = next(j for j, r in enumerate(responses) if r.status_code == 201)
        lost = 1 - won
        assert REPLAYED not in responses[won]
        assert_error(responses[lost], 409, "already_voted")
        assert _written(serve) == (1, 1, True), (i, statuses)
        vote = m.Vote.objects.get(serve=serve)
        assert vote.pk == responses[won].json()["vote_id"]
        assert vote.outcome == responses[won].json()["recorded_outcome"]
        assert responses[won].json()["outcome"] == outcomes[won]
        # Each key keeps its own first answer.
        for j in (won, lost):
            retry = _vote(client, token, outcomes[j], key=keys[j])
            assert (
                retry.status_code == responses[j].status_code and retry.get(REPLAYED) == "true"
            ), (i, j, retry.content)
            assert retry.json() == responses[j].json()
        assert m.IdempotencyRecord.objects.filter(scope=scope).count() == 2
        assert _written(serve) == (1, 1, True)
