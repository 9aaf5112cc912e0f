"""Leaderboard rebuild tasks."""

from __future__ import annotations

from celery import shared_task

from arena.services.leaderboard import leaderboard_rebuild_all


@shared_task(
    name="workers.tasks.leaderboard.rebuild_leaderboards_task",
    acks_late=True,
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def rebuild_leaderboards_task(force: bool = False) -> dict[str, int]:
    """Recompute every leaderboard whose data changed; idempotent (same data, no new version)."""
    return leaderboard_rebuild_all(force=force)
