"""Leaderboard rebuild tasks."""

from __future__ import annotations

import logging

from celery import shared_task

from arena.selectors.web import leaderboard_heatmaps_warm
from arena.services.leaderboard import leaderboard_rebuild_all
from workers.celery import RETRY_OPTIONS

log = logging.getLogger(__name__)


@shared_task(
    name="workers.tasks.leaderboard.rebuild_leaderboards_task", acks_late=True, **RETRY_OPTIONS
)
def rebuild_leaderboards_task(force: bool = False, scopes: str = "all") -> dict[str, int]:
    """Recompute the leaderboards whose data changed; idempotent (same data, no new version).

    ``scopes="touched"`` (sent after a vote) rebuilds only the scopes with new battles; the
    periodic run rebuilds every scope and refreshes the slow methods when they are due.

    The database going away stops the rebuild at once and the task retries it as a whole.

    Then the pages' heat maps of the new snapshots are computed into the cache, so that no
    page view pays for them (a failure there is logged and does not fail the rebuild).
    """
    counts = leaderboard_rebuild_all(force=force, scopes=scopes)
    try:
        leaderboard_heatmaps_warm()
    except Exception:
        log.exception("warming the leaderboard heat maps failed; pages compute them on first view")
    return counts
