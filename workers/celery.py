"""The Celery app, configured from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os
import sys
from typing import Any

from celery import Celery
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

#: Errors a task retries with back-off: the database, the broker or the cache is down or restarting.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
)
#: Options of a task that retries transient errors with back-off (jittered, at most a minute apart).
RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
}

app = Celery("ludus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"], related_name="tasks")


def worker_command(
    *, concurrency: int, loglevel: str = "INFO", name: str | None = None
) -> list[str]:
    """The command line of a ``celery worker`` for this app: a threads pool on the task queue.

    With ``name``, the node is named and runs without gossip, mingle or heartbeat (a test or
    benchmark worker that needs no word with other nodes).
    """
    cmd = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-P", "threads"]
    cmd += ["-c", str(concurrency), "-Q", app.conf.task_default_queue, "-l", loglevel]
    if name is not None:
        cmd += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", name]
    return cmd


# Periodic work. Task names are resolved when beat sends them; see workers/tasks/.
app.conf.beat_schedule = {
    "leaderboard-rebuild": {
        "task": "workers.tasks.leaderboard.rebuild_leaderboards_task",
        "schedule": settings.LUDUS_LEADERBOARD_PERIOD,
    },
    # Re-send match steps left stuck by a crashed worker (see arena.services.tournaments).
    "sweep-stuck-steps": {
        "task": "workers.tasks.maintenance.sweep_stuck_task",
        "schedule": settings.LUDUS_SWEEP_PERIOD,
    },
    # Delete expired Idempotency-Key records and never-voted battle serves.
    "prune-expired": {
        "task": "workers.tasks.maintenance.prune_expired_task",
        "schedule": settings.LUDUS_PRUNE_PERIOD,
    },
    # Keep the open arena's pool of battles ready for voters.
    "arena-top-up": {
        "task": "workers.tasks.arena.arena_top_up_task",
        "schedule": settings.LUDUS_ARENA_TOPUP_PERIOD,
    },
}
