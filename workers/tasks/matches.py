"""Match and tournament steps. Each task loads by id and runs one idempotent service step.

Tasks are acknowledged late and rejected (so redelivered) when the worker dies. A step that
hit a transient endpoint failure returns a back-off delay and the task re-sends itself; the
services count failures on the match and forfeit or fail it at the configured limit.
Services send these tasks by name (:data:`arena.services.dispatch.STEP_TASKS`).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from arena.services.matches import match_run
from arena.services.tournaments import tournament_round_check
from workers.celery import RETRY_OPTIONS

_STEP_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, **RETRY_OPTIONS}


@shared_task(bind=True, name="workers.tasks.matches.run_match_step_task", **_STEP_OPTIONS)
def run_match_step_task(self: Any, match_id: int) -> dict[str, Any]:
    """Advance a match's state machine: answers, judging, result (conditional updates)."""
    delay = match_run(match_id=match_id)
    if delay is not None:
        raise self.retry(countdown=delay, max_retries=None)
    return {"step": "match", "args": [match_id]}


@shared_task(bind=True, name="workers.tasks.matches.round_check_task", **_STEP_OPTIONS)
def round_check_task(self: Any, tournament_id: int) -> dict[str, Any]:
    """Complete a finished round and pair the next one (or finish the tournament)."""
    return {
        "step": "round_check",
        "args": [tournament_id],
        "result": tournament_round_check(tournament_id=tournament_id),
    }
