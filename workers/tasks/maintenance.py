"""Periodic upkeep: re-send steps left stuck by a crashed worker; prune expired bookkeeping rows."""

from __future__ import annotations

from celery import shared_task

from arena.services.housekeeping import prune_expired
from arena.services.model_calls import STUCK_AFTER_SECONDS
from arena.services.tournaments import tournament_sweep
from workers.celery import RETRY_OPTIONS


@shared_task(
    name="workers.tasks.maintenance.sweep_stuck_task",
    acks_late=True,
    ignore_result=True,
    **RETRY_OPTIONS,
)
def sweep_stuck_task(older_than_seconds: float | None = None) -> dict[str, int]:
    """Re-enqueue match steps untouched for longer than the threshold; check running rounds."""
    return tournament_sweep(older_than_seconds=older_than_seconds or STUCK_AFTER_SECONDS)


@shared_task(
    name="workers.tasks.maintenance.prune_expired_task",
    acks_late=True,
    ignore_result=True,
    **RETRY_OPTIONS,
)
def prune_expired_task() -> dict[str, int]:
    """Delete expired Idempotency-Key records and never-voted serves (idempotent)."""
    return prune_expired()
