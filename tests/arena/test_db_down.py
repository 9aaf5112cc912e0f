"""The database going away: 503 with ``Retry-After`` (no 500, no traceback flood), task retries,
and health-checked persistent connections after a restart.

The last test runs a real gunicorn against a PostgreSQL cluster of its own (``initdb`` on a free
port, apart from the suite's), stops it and starts it again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


def _db_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise OperationalError(
            'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
        )

    monkeypatch.setattr(CursorWrapper, "execute", fail)


@pytest.mark.django_db
def test_api_answers_json_503_with_retry_after_and_logs_one_line(client, monkeypatch, caplog):
    _db_down(monkeypatch)
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/models/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "database_unavailable"
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].exc_info is None and "/api/v1/models/" in records[0].getMessage()


@pytest.mark.django_db
def test_a_page_answers_a_plain_503(client, monkeypatch):
    _db_down(monkeypatch)
    response = client.get("/models/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html") and int(response["Retry-After"]) > 0
    assert b"unavailable" in response.content


def test_rebuild_all_stops_at_the_first_connection_error(monkeypatch):
    from arena.services import leaderboard

    calls = []

    def rebuild(**kwargs):
        calls.append(kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(
        leaderboard, "leaderboard_scopes", lambda: [("all", ""), ("judge", ""), ("human", "")]
    )
    monkeypatch.setattr(leaderboard, "leaderboard_rebuild", rebuild)
    monkeypatch.setattr(
        leaderboard, "_watermarks", lambda: (0, 0)
    )  # (no database in this unit test)
    monkeypatch.setattr(leaderboard, "aggregates_advance", lambda **kwargs: None)
    # the every-scope rebuild's advisory lock is the database's too
    monkeypatch.setattr(leaderboard, "_single_flight", lambda: contextlib.nullcontext(True))
    with pytest.raises(OperationalError):
        leaderboard.leaderboard_rebuild_all()
    assert len(calls) == 1


@pytest.mark.parametrize(
    "task_path,service",
    [
        ("workers.tasks.leaderboard.rebuild_leaderboards_task", "leaderboard_rebuild_all"),
        ("workers.tasks.arena.arena_top_up_task", "arena_top_up"),
    ],
)
def test_periodic_tasks_retry_when_the_database_is_down(monkeypatch, task_path, service):
    import importlib

    module_name, task_name = task_path.rsplit(".", 1)
    module = importlib.import_module(module_name)
    task = getattr(module, task_name)
    calls = []

    def down(**kwargs):
        calls.append(kwargs)
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr(module, service, down)
    with pytest.raises(
        Retry
    ) as retry:  # eager: the retry is raised instead of sent back to the queue
        task.apply()
    assert len(calls) == 1 and isinstance(retry.value.exc, OperationalError)
    assert task.retry_backoff and task.max_retries >= 5


# --------------------------------------------------------------------------- real PostgreSQL


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=15) as r:  # noqa: S310 - a local test server
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def throwaway_postgres():
    from tests.processes import PostgresCluster, ServiceUnavailable

    try:
        cluster = PostgresCluster()
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    try:
        cluster.init().start()
        yield cluster
    finally:
        cluster.remove()


def test_postgres_restart_and_outage_through_gunicorn(throwaway_postgres, tmp_path):
    """Restart: the first request on the kept connection succeeds. Outage: 503 + Retry-After."""
    from tests.processes import gunicorn_serving

    pg = throwaway_postgres
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "arena.settings",
            "DATABASE_URL": pg.url(),
            "DB_CONN_MAX_AGE": "600",
            "LUDUS_EAGER": "1",
            "LUDUS_VAR_DIR": str(tmp_path),
            "LUDUS_TESTING": "1",
            "LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("DB_CONN_HEALTH_CHECKS", None)
    env.pop("DB_POOL_SIZE", None)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    log_path = tmp_path / "gunicorn.log"
    with gunicorn_serving(env=env, log_path=log_path, ready_path="/api/v1/models/") as base:
        status, _, _ = _get(f"{base}/api/v1/models/")
        assert status == 200, log_path.read_text()[-3000:]

        # a restart between two requests: the kept connection is dead, the health check replaces it
        pg.stop(mode="fast")
        pg.start()
        status, _, body = _get(f"{base}/api/v1/models/")
        assert status == 200, (status, body[:300], log_path.read_text()[-3000:])

        # an outage: the API's JSON error shape with 503 and Retry-After, pages a plain 503
        pg.stop()
        for _ in range(3):
            status, headers, body = _get(f"{base}/api/v1/models/")
            assert status == 503, (status, body[:300])
            assert int(headers["Retry-After"]) > 0
            assert json.loads(body)["error"]["code"] == "database_unavailable"
        status, headers, body = _get(f"{base}/models/")
        assert status == 503 and headers["Content-Type"].startswith("text/html"), (
            status,
            body[:300],
        )

        pg.start()
        status, _, _ = _get(f"{base}/api/v1/models/")
        assert status == 200
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]
    assert text.count("database unavailable, answered 503") == 4, text[-4000:]
