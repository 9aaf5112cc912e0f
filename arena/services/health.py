"""Health of the things the service needs: database, Redis, Celery workers."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check()
        status = "ok"
    except Exception as exc:  # a health check reports every failure, whatever its type
        detail, status = f"{type(exc).__name__}: {exc}", "down"
    return {
        "status": status,
        "detail": detail,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    client.ping()
    return "pong"


def _workers() -> str:
    from workers.celery import app

    replies = app.control.inspect(timeout=1.0).ping() or {}
    if not replies:
        raise RuntimeError("no Celery worker answered a ping")
    return f"{len(replies)} worker(s): {', '.join(sorted(replies))}"


def health_report() -> tuple[dict[str, Any], bool]:
    """Return the report and whether the service is healthy.

    In eager mode (no Redis, tasks in-process) Redis and workers are not needed and are
    reported as ``skipped``.
    """
    checks: dict[str, Any] = {"database": _timed(_database)}
    if settings.CELERY_EAGER:
        checks["redis"] = {"status": "skipped", "detail": "eager mode: tasks run in-process"}
        checks["workers"] = {"status": "skipped", "detail": "eager mode: tasks run in-process"}
    else:
        checks["redis"] = _timed(_redis)
        checks["workers"] = (
            _timed(_workers)
            if checks["redis"]["status"] == "ok"
            else {"status": "down", "detail": "Redis is down", "ms": 0}
        )
    healthy = all(c["status"] in ("ok", "skipped") for c in checks.values())
    return {"status": "ok" if healthy else "degraded", "checks": checks}, healthy
