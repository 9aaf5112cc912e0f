"""The end of a match: a judged result, a forfeit, a failure, and what follows from it.

Every transition is claimed with a conditional ``UPDATE ... WHERE status = <expected>``, so
two workers never both finish a match; a judged match writes exactly one Battle in the same
transaction that marks it done. A finished match that was the last of its round sends the
tournament's ``round_check`` step.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from arena.models import Battle, Match, Source, Tournament
from arena.services.dispatch import dispatch
from arena.services.leaderboard import leaderboard_schedule_rebuild
from clients import EndpointError, backoff_delay

log = logging.getLogger(__name__)

FORFEIT_AFTER = settings.LUDUS_FORFEIT_AFTER
STEP_RETRY_BASE = settings.LUDUS_STEP_RETRY_BASE_MS / 1000.0


def step_retry_delay(match_id: int, error: EndpointError) -> float:
    """Back-off before a failed step runs again: exponential in the match's failures, with
    jitter, and never sooner than the server's ``Retry-After``."""
    attempts = Match.objects.filter(id=match_id).values_list("attempts", flat=True).first() or 1
    delay = backoff_delay(max(0, attempts - 1), base=STEP_RETRY_BASE, cap=60.0)
    retry_after = getattr(error, "retry_after", None)
    return max(delay, float(retry_after)) if retry_after is not None else delay


def forfeit_limit(match: Match) -> int:
    if match.tournament_id is not None:
        value = (
            Tournament.objects.filter(id=match.tournament_id)
            .values_list("config", flat=True)
            .first()
            or {}
        )
        if isinstance(value, dict) and isinstance(value.get("forfeit_after"), int):
            return max(1, value["forfeit_after"])
    return FORFEIT_AFTER


def match_record_failure(
    *, match_id: int, error: str, side: str | None, permanent: bool = False
) -> bool:
    """Count a failed step; forfeit (a side failed) or fail (the judges failed) at the limit.

    ``attempts`` counts the failed steps of the current stage (answers, then judging), so a
    transient fault never ends a match before ``forfeit_after`` failures of that stage.

    Returns whether the match is now finished.
    """
    with transaction.atomic():
        match = Match.objects.select_for_update().get(id=match_id)
        if match.status in Match.FINISHED:
            return True
        match.attempts += 1
        match.error = error[:2000]
        match.updated_at = timezone.now()
        match.save(update_fields=["attempts", "error", "updated_at"])
        if not permanent and match.attempts < forfeit_limit(match):
            log.warning(
                "match step failed, will retry",
                extra={"match": match_id, "side": side, "error": error},
            )
            return False
        if side is not None:
            loser = match.competitor_a_id if side == "a" else match.competitor_b_id
            done = Match.objects.filter(
                id=match_id, status__in=[Match.Status.PENDING, Match.Status.GENERATING]
            ).update(
                status=Match.Status.FORFEIT,
                outcome="model_b" if side == "a" else "model_a",
                forfeit_by_id=loser,
                finished_at=timezone.now(),
                updated_at=timezone.now(),
            )
        else:
            done = Match.objects.filter(id=match_id, status=Match.Status.JUDGING).update(
                status=Match.Status.FAILED,
                finished_at=timezone.now(),
                updated_at=timezone.now(),
            )
        log.warning(
            "match finished without a judged result",
            extra={"match": match_id, "side": side, "error": error},
        )
    if done:
        _round_check_if_last(match)
    return True


def _round_check_if_last(match: Match) -> None:
    """After a match finished (committed): check the round if no match of it is left.

    Of two matches finishing at the same time at least one sees the other finished (each
    counts after its own commit), so the round is always checked; the sweep is the backstop.
    """
    if match.tournament_id is None or match.round_id is None:
        return
    if (
        not Match.objects.filter(round_id=match.round_id)
        .exclude(status__in=Match.FINISHED)
        .exists()
    ):
        dispatch("round_check", match.tournament_id)


def match_finish_judged(*, match_id: int, outcome: str, judge_label: str) -> bool:
    """Mark a judged match done and write its one Battle, atomically; returns whether it did."""

    with transaction.atomic():
        done = Match.objects.filter(id=match_id, status=Match.Status.JUDGING).update(
            status=Match.Status.DONE,
            outcome=outcome,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if not done:
            return False
        match = Match.objects.select_related("prompt__prompt_set").get(id=match_id)
        category = match.prompt.effective_category if match.prompt else "general"
        Battle.objects.create(
            model_a_id=match.competitor_a_id,
            model_b_id=match.competitor_b_id,
            outcome=outcome,
            source=Source.JUDGE,
            category=category[:50],
            anony=True,
            judge=judge_label[:200],
            match=match,
        )
        leaderboard_schedule_rebuild()
    _round_check_if_last(match)
    return True
