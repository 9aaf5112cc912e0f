"""Re-judging stored matches with another judge pipeline, without regenerating the answers.

A :class:`~arena.models.JudgeRun` names a set of judged matches (a tournament's finished ones,
the open arena's voted ones, or a list) and a judge pipeline. Its verdicts are stored as
Judgments under the run (``Judgment.run``) and its outcomes as
:class:`~arena.models.JudgeRunOutcome` rows, so the matches' own outcomes, their battles and
the main boards never change. When every match has
an outcome the run's **judge board** is computed by the same code as the published boards
(:func:`arena.services.leaderboard.board_from_outcomes`).

Flow (Celery, every step idempotent): :func:`judge_run_create` validates and stores the run and
enqueues ``judge_run_start_task`` on commit; :func:`judge_run_start` passes the drift gate
(:mod:`arena.services.judge_calibration`) or fails the run with the reason, then enqueues one
``judge_run_match_task`` per match; :func:`judge_run_match` judges one match (only the missing
judge calls: a re-delivered step never calls or counts twice; one outcome row per match, by a
unique constraint), and the step that stores the last outcome computes the board.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from arena.exceptions import ApplicationError, NotFound
from arena.models import JudgeRun, JudgeRunOutcome, Judgment, Match, Tournament
from arena.services.judge_calibration import calibration_gate, pins_check
from arena.services.judging import judge_pipeline_validate, match_decide
from arena.services.leaderboard import board_from_outcomes
from arena.services.queue import task_send_on_commit
from clients import AggregationError, EndpointError, PermanentEndpointError

START_TASK = "workers.tasks.judge_runs.judge_run_start_task"
MATCH_TASK = "workers.tasks.judge_runs.judge_run_match_task"


def _scope_matches(
    *, tournament_id: int | None, arena: bool, match_ids: list[int] | None
) -> tuple[dict[str, Any], list[int]]:
    chosen = sum([tournament_id is not None, bool(arena), match_ids is not None])
    if chosen != 1:
        raise ApplicationError(
            "Choose the matches to re-judge.",
            field_errors={"scope": ["give exactly one of tournament, arena or matches"]},
        )
    # finished tournament matches, and open-arena matches that human votes have judged
    qs = Match.objects.filter(
        Q(status=Match.Status.DONE)
        | Q(tournament__isnull=True, status=Match.Status.AWAITING_VOTES, n_votes__gte=1)
    )
    if tournament_id is not None:
        if not Tournament.objects.filter(id=tournament_id).exists():
            raise ApplicationError(
                "Unknown tournament.",
                field_errors={"tournament": [f"no tournament with id {tournament_id}"]},
            )
        scope: dict[str, Any] = {"tournament": tournament_id}
        qs = qs.filter(tournament_id=tournament_id)
    elif arena:
        scope = {"arena": True}
        qs = qs.filter(tournament__isnull=True, n_votes__gte=1)
    else:
        assert match_ids is not None
        if not match_ids or any(
            isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in match_ids
        ):
            raise ApplicationError(
                "Invalid match list.",
                field_errors={"matches": ["must be a non-empty list of match ids"]},
            )
        wanted = set(match_ids)
        qs = qs.filter(id__in=wanted)
        scope = {"matches": sorted(wanted)}
    ids = list(
        qs.annotate(n_answers=Count("generations__side", distinct=True))
        .filter(n_answers=2)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if match_ids is not None and len(ids) != len(set(match_ids)):
        missing = sorted(set(match_ids) - set(ids))[:10]
        raise ApplicationError(
            "Some matches cannot be re-judged.",
            field_errors={
                "matches": [
                    "not finished (nor voted on, in the arena) or without both stored answers: "
                    + ", ".join(map(str, missing))
                ]
            },
        )
    if not ids:
        raise ApplicationError(
            "Nothing to re-judge.",
            field_errors={
                "scope": [
                    "no finished (or, in the arena, voted) match with both stored answers here"
                ]
            },
        )
    return scope, ids


def judge_run_create(
    *,
    name: str,
    pipeline: dict[str, Any],
    tournament_id: int | None = None,
    arena: bool = False,
    match_ids: list[int] | None = None,
    calibration_set: str | None = None,
    created_by: Any = None,
    start: bool = True,
) -> JudgeRun:
    """Validate and store a judge run, and start it on the workers once the transaction
    commits (``start=False``: leave it pending, for :func:`judge_run_inline`).

    Raises
    ------
    ApplicationError
        Field errors for a bad name, pipeline (``judge_pipeline.*``), scope, or a judge whose
        pinned model differs (``judge_pipeline.judges``).
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ApplicationError(
            "Invalid name.", field_errors={"name": ["a name of 1-100 characters is required"]}
        )
    name = name.strip()
    if not isinstance(pipeline, dict) or not pipeline:
        raise ApplicationError(
            "Invalid judge pipeline.",
            field_errors={"judge_pipeline": ["a judge pipeline object is required"]},
        )
    spec = judge_pipeline_validate(pipeline)
    set_name = (
        calibration_set if calibration_set is not None else settings.LUDUS_JUDGE_CALIBRATION_SET
    )
    if not isinstance(set_name, str) or len(set_name) > 100:
        raise ApplicationError(
            "Invalid calibration set.",
            field_errors={"calibration_set": ["must be a name of at most 100 characters"]},
        )
    pins_check(spec=spec, set_name=set_name)
    scope, ids = _scope_matches(tournament_id=tournament_id, arena=arena, match_ids=match_ids)
    try:
        with transaction.atomic():
            run = JudgeRun.objects.create(
                name=name,
                pipeline=pipeline,
                scope={**scope, "calibration_set": set_name},
                match_ids=ids,
                created_by=created_by if getattr(created_by, "pk", None) else None,
            )
    except IntegrityError:
        raise ApplicationError(
            "Name taken.", field_errors={"name": [f"a judge run named {name!r} exists"]}
        ) from None
    if start:
        task_send_on_commit(name=START_TASK, args=[run.pk])
    return run


def judge_run_start(*, run_id: int, send: bool = True, final_attempt: bool = False) -> str:
    """Gate the run's judges on the calibration set, then send one step per match.

    Idempotent: only a pending run is gated; a running one has its missing matches re-sent.
    ``send=False`` gates and marks the run running without sending steps. A judge failure
    during the gate fails the run when it is permanent or ``final_attempt`` (otherwise it is
    raised, and the step retried). Returns the run's status.
    """
    run = JudgeRun.objects.filter(id=run_id).first()
    if run is None:
        return "missing"
    if run.status == JudgeRun.Status.PENDING:
        spec = judge_pipeline_validate(run.pipeline)
        try:
            report = calibration_gate(run=run, spec=spec)
        except EndpointError as exc:
            if not (final_attempt or isinstance(exc, PermanentEndpointError)):
                raise
            JudgeRun.objects.filter(id=run_id, status=JudgeRun.Status.PENDING).update(
                status=JudgeRun.Status.FAILED,
                error=f"The drift gate could not grade the calibration set: judge: {exc}",
                finished_at=timezone.now(),
            )
            return JudgeRun.Status.FAILED
        barred = [r for r in report["judges"] if r["barred"]]
        if barred:
            JudgeRun.objects.filter(id=run_id, status=JudgeRun.Status.PENDING).update(
                status=JudgeRun.Status.FAILED,
                calibration=report,
                error=" ".join(r["reason"] for r in barred),
                finished_at=timezone.now(),
            )
            return JudgeRun.Status.FAILED
        JudgeRun.objects.filter(id=run_id, status=JudgeRun.Status.PENDING).update(
            status=JudgeRun.Status.RUNNING, calibration=report
        )
        run.refresh_from_db()
    if run.status != JudgeRun.Status.RUNNING:
        return str(run.status)
    if not send:
        return str(run.status)
    done = set(JudgeRunOutcome.objects.filter(run=run).values_list("match_id", flat=True))
    for match_id in run.match_ids:
        if match_id not in done:
            task_send_on_commit(name=MATCH_TASK, args=[run.pk, match_id])
    if not [m for m in run.match_ids if m not in done]:
        judge_run_finish(run_id=run.pk)
    return str(run.status)


def judge_run_match(*, run_id: int, match_id: int, final_attempt: bool = False) -> str | None:
    """Judge one match of a running run; its outcome (``None``: not decided or not due).

    Raises
    ------
    EndpointError
        A transient judge failure, unless ``final_attempt`` (then the match is recorded as not
        judged, with the error); the step retries with back-off.
    """
    run = JudgeRun.objects.filter(id=run_id).first()
    if run is None or run.status != JudgeRun.Status.RUNNING or match_id not in run.match_ids:
        return None
    stored = JudgeRunOutcome.objects.filter(run=run, match_id=match_id).first()
    if stored is not None:  # a re-delivered step: counted once already
        judge_run_finish(run_id=run_id)
        return stored.outcome
    match = Match.objects.select_related("prompt").get(id=match_id)
    spec = judge_pipeline_validate(run.pipeline)
    outcome: str | None = None
    error = ""
    try:
        outcome = match_decide(match=match, spec=spec, run=run).outcome
    except AggregationError as exc:
        error = f"judging failed: {exc}"
    except EndpointError as exc:
        if not (final_attempt or isinstance(exc, PermanentEndpointError)):
            raise
        error = f"judge: {exc}"
    cost = Judgment.objects.filter(run=run, match=match).aggregate(c=Sum("cost"))["c"]
    try:
        with transaction.atomic():
            JudgeRunOutcome.objects.create(
                run=run, match=match, outcome=outcome, error=error, cost=cost or Decimal(0)
            )
    except IntegrityError:  # stored by another copy of this step
        pass
    judge_run_finish(run_id=run_id)
    return outcome


def judge_run_finish(*, run_id: int) -> bool:
    """Compute the run's board once every match has an outcome; whether the run is done."""
    run = JudgeRun.objects.filter(id=run_id).first()
    if run is None or run.status != JudgeRun.Status.RUNNING:
        return run is not None and run.status == JudgeRun.Status.DONE
    if JudgeRunOutcome.objects.filter(run=run).count() < len(run.match_ids):
        return False
    rows = [
        (a, b, str(outcome), stamp)
        for a, b, outcome, stamp in JudgeRunOutcome.objects.filter(run=run, outcome__isnull=False)
        .order_by("match__finished_at", "match_id")
        .values_list("match__competitor_a_id", "match__competitor_b_id", "outcome", "created_at")
    ]
    board = board_from_outcomes(rows=rows)
    return bool(
        JudgeRun.objects.filter(id=run_id, status=JudgeRun.Status.RUNNING).update(
            status=JudgeRun.Status.DONE, board=board, finished_at=timezone.now()
        )
    )


def judge_run_inline(*, run_id: int) -> JudgeRun:
    """Run a judge run to the end in this process (the demo; a failure is recorded, not
    retried)."""
    if judge_run_start(run_id=run_id, send=False, final_attempt=True) == JudgeRun.Status.RUNNING:
        run = JudgeRun.objects.get(id=run_id)
        done = set(JudgeRunOutcome.objects.filter(run=run).values_list("match_id", flat=True))
        for match_id in run.match_ids:
            if match_id not in done:
                judge_run_match(run_id=run_id, match_id=match_id, final_attempt=True)
        judge_run_finish(run_id=run_id)
    return JudgeRun.objects.get(id=run_id)


def judge_run_resume(*, run_id: int) -> None:
    """Re-send a run's start step (a pending or running run whose steps were lost)."""
    task_send_on_commit(name=START_TASK, args=[run_id])


def judge_run_progress(*, run: JudgeRun) -> dict[str, Any]:
    """How far a run is: matches, outcomes stored, undecided ones, the cost so far."""
    agg = JudgeRunOutcome.objects.filter(run=run).aggregate(
        n=Count("id"), undecided=Count("id", filter=Q(outcome__isnull=True)), cost=Sum("cost")
    )
    calls = Judgment.objects.filter(run=run).aggregate(n=Count("id"), cost=Sum("cost"))
    return {
        "matches": len(run.match_ids),
        "judged": agg["n"],
        "undecided": agg["undecided"],
        "calls": calls["n"],
        "cost": float(calls["cost"] or 0),
    }


def judge_run_get(*, run_id: int) -> JudgeRun:
    run = JudgeRun.objects.filter(id=run_id).first()
    if run is None:
        raise NotFound(f"No judge run with id {run_id}.")
    return run


__all__ = [
    "MATCH_TASK",
    "START_TASK",
    "judge_run_create",
    "judge_run_finish",
    "judge_run_get",
    "judge_run_inline",
    "judge_run_match",
    "judge_run_progress",
    "judge_run_resume",
    "judge_run_start",
]
