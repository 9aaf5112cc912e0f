"""Re-judge runs: the start step (drift gate, then one step per match) and a match step.

Both are idempotent (a re-delivered step calls no judge twice and counts no match twice),
acknowledged late and rejected when the worker dies; a transient judge failure is retried with
back-off up to ``LUDUS_JUDGE_RUN_RETRIES`` times, then the match is recorded as not judged (the
run fails, with the reason, when it is the drift gate's grading that keeps failing).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from arena.services.judge_runs import judge_run_match, judge_run_start
from clients import TransientEndpointError, backoff_delay
from workers.celery import RETRY_OPTIONS

_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, **RETRY_OPTIONS}


@shared_task(bind=True, name="workers.tasks.judge_runs.judge_run_start_task", **_OPTIONS)
def judge_run_start_task(self: Any, run_id: int) -> dict[str, Any]:
    """Gate the run's judges on the calibration set and send its match steps."""
    final = self.request.retries >= settings.LUDUS_JUDGE_RUN_RETRIES
    try:
        status = judge_run_start(run_id=run_id, final_attempt=final)
    except TransientEndpointError as exc:
        delay = max(backoff_delay(self.request.retries), float(exc.retry_after or 0))
        raise self.retry(countdown=delay, exc=exc, max_retries=None) from None
    return {"step": "judge_run_start", "args": [run_id], "status": status}


@shared_task(bind=True, name="workers.tasks.judge_runs.judge_run_match_task", **_OPTIONS)
def judge_run_match_task(self: Any, run_id: int, match_id: int) -> dict[str, Any]:
    """Judge one match of a run (only its missing judge calls)."""
    final = self.request.retries >= settings.LUDUS_JUDGE_RUN_RETRIES
    try:
        outcome = judge_run_match(run_id=run_id, match_id=match_id, final_attempt=final)
    except TransientEndpointError as exc:
        delay = max(backoff_delay(self.request.retries), float(exc.retry_after or 0))
        raise self.retry(countdown=delay, exc=exc, max_retries=None) from None
    return {"step": "judge_run_match", "args": [run_id, match_id], "outcome": outcome}
