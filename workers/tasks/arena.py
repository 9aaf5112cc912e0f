"""Open-arena tasks: keep the pool of servable battles full."""

from __future__ import annotations

from celery import shared_task

from arena.services.arena_mode import arena_top_up
from workers.celery import RETRY_OPTIONS


@shared_task(
    name="workers.tasks.arena.arena_top_up_task",
    acks_late=True,
    ignore_result=True,
    **RETRY_OPTIONS,
)
def arena_top_up_task(pool_size: int | None = None) -> dict[str, int]:
    """Create arena battles (chosen by the matchmaking policy) up to the pool size."""
    return {"created": len(arena_top_up(pool_size=pool_size))}
