"""Match and tournament steps. Each task loads by id and runs one idempotent service step.

Tasks are acknowledged late and rejected (so redelivered) when the worker dies. A step that
hit a transient endpoint failure returns a back-off delay and the task re-sends itself; the
services count failures on the match and forfeit or fail it at the configured limit.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from arena.services import matches as match_services
from workers.celery import RETRY_OPTIONS

_STEP_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, **RETRY_OPTIONS}


def _run(task: Any, step: str, *args: Any) -> dict[str, Any]:
    delay = match_services.run_step(step, *args)
    if delay is not None:
        raise task.retry(countdown=delay, max_retries=None)
    return {"step": step, "args": list(args)}


@shared_task(bind=True, name="workers.tasks.matches.run_match_step_task", **_STEP_OPTIONS)
def run_match_step_task(self: Any, match_id: int) -> dict[str, Any]:
    """Advance a match's state machine: answers, judging, result (transitions claimed by conditional updates)."""
    return _run(self, "match", match_id)


@shared_task(bind=True, name="workers.tasks.matches.round_check_task", **_STEP_OPTIONS)
def round_check_task(self: Any, tournament_id: int) -> dict[str, Any]:
    """Complete a finished round and pair the next one (or finish the tournament)."""
    return _run(self, "round_check", tournament_id)
