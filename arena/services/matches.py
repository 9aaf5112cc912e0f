"""Running one match: a small state machine advanced by one idempotent step.

``pending -> generating -> judging -> done`` for tournament matches (``generating ->
awaiting_votes`` for open-arena matches, which humans judge). One step (:func:`match_run`)
takes a match as far as it can: both answers in parallel (threads, the calls are I/O), then
the judges (:mod:`arena.services.judging`), then the result
(:mod:`arena.services.match_results`); a transient failure sends it back to the queue with
back-off. Every transition is claimed with a conditional ``UPDATE ... WHERE status =
<expected>``, so two workers (a redelivered task and the stuck-step sweep, say) never both
take it. Answers are stored once per side (unique ``(match, side)``).

Steps are sent by :mod:`arena.services.dispatch`; this module registers the in-process
handler of the ``match`` step. The model calls live in :mod:`arena.services.model_calls`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.models import Generation, Match, Tournament
from arena.services.conv_metadata import match_conv_metadata
from arena.services.dispatch import inline_dispatch, run_inline, step_handler
from arena.services.judging import match_judge_step
from arena.services.match_results import (
    match_finish_judged,
    match_record_failure,
    step_retry_delay,
)
from arena.services.model_calls import (
    STUCK_AFTER_SECONDS,
    competitor_endpoint,
    competitor_generate,
    wait_with_heartbeat,
)
from arena.services.prices import answer_cost
from clients import Completion, EndpointError, PermanentEndpointError

log = logging.getLogger(__name__)


def _status(match_id: int) -> str:
    return Match.objects.values_list("status", flat=True).get(id=match_id)


def _generate_sides(match: Match, sides: list[str]) -> dict[str, Completion | EndpointError]:
    """Both answers at once (threads: the calls are I/O); no database access in the threads."""
    prompt = match.prompt.text if match.prompt else ""
    competitors = {"a": match.competitor_a, "b": match.competitor_b}

    def one(side: str) -> Completion | EndpointError:
        try:
            return competitor_generate(competitors[side], prompt)
        except EndpointError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(sides)) as pool:
        futures = {side: pool.submit(one, side) for side in sides}
        wait_with_heartbeat(list(futures.values()), match.pk, Match.Status.GENERATING)
        return {side: f.result() for side, f in futures.items()}


def _store_generation(match: Match, side: str, completion: Completion) -> None:
    competitor = match.competitor_a if side == "a" else match.competitor_b
    cost, basis, price = answer_cost(competitor=competitor, completion=completion)
    try:
        with transaction.atomic():
            Generation.objects.create(
                match_id=match.pk,
                side=side,
                competitor=competitor,
                text=completion.text,
                latency_ms=completion.latency_ms,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost=cost,
                cost_basis=basis,
                price=price,
            )
    except IntegrityError:  # stored by another copy of this step
        pass


def match_run(*, match_id: int) -> float | None:
    """Advance a match as far as it can go: answers (both sides in parallel), judging, result.

    Safe to run any number of times, concurrently or after a crash: each transition is a
    conditional update, answers and judgments are stored once, the result is written once.
    Returns a back-off delay when a transient failure should be retried, else ``None``.
    """
    match = (
        Match.objects.select_related("tournament", "competitor_a", "competitor_b", "prompt")
        .filter(id=match_id)
        .first()
    )
    if (
        match is None
        or match.status in Match.FINISHED
        or match.status == Match.Status.AWAITING_VOTES
    ):
        return None
    if match.tournament is not None and match.tournament.status != Tournament.Status.RUNNING:
        return None
    fresh = False
    if match.status == Match.Status.PENDING:
        fresh = bool(
            Match.objects.filter(id=match_id, status=Match.Status.PENDING).update(
                status=Match.Status.GENERATING, updated_at=timezone.now()
            )
        )
        match.status = Match.Status.GENERATING if fresh else _status(match_id)
    if match.status == Match.Status.GENERATING:
        # a match this step just claimed has no answers yet: skip the query (answers start sooner)
        have = (
            set()
            if fresh
            else set(Generation.objects.filter(match_id=match_id).values_list("side", flat=True))
        )
        missing = [s for s in ("a", "b") if s not in have]
        if missing:
            results = _generate_sides(match, missing)
            for side, result in results.items():
                if isinstance(result, Completion):
                    _store_generation(match, side, result)
            for side, result in results.items():
                if isinstance(result, EndpointError):
                    finished = match_record_failure(
                        match_id=match_id,
                        error=str(result),
                        side=side,
                        permanent=isinstance(result, PermanentEndpointError),
                    )
                    if finished:
                        return None
                    return step_retry_delay(match_id, result)
        target = (
            Match.Status.JUDGING if match.tournament_id is not None else Match.Status.AWAITING_VOTES
        )
        # the judges get their own forfeit_after attempts: answers that needed retries do not use
        # them up
        moved = Match.objects.filter(id=match_id, status=Match.Status.GENERATING).update(
            status=target,
            attempts=0,
            conv_metadata=match_conv_metadata(match_id=match_id),
            updated_at=timezone.now(),
        )
        match.status = target if moved else _status(match_id)
    if match.status == Match.Status.JUDGING:
        return match_judge_step(match_id=match_id)
    return None


@step_handler("match")
def _match_step(match_id: int) -> float | None:
    return match_run(match_id=match_id)


__all__ = [
    # re-exported for callers that ran matches through this module before the split
    "STUCK_AFTER_SECONDS",
    "competitor_endpoint",
    "competitor_generate",
    "inline_dispatch",
    "match_finish_judged",
    "match_run",
    "run_inline",
    "step_retry_delay",
]
