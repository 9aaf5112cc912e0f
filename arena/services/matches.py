"""Running one match: a small state machine advanced by one idempotent step.

``pending -> generating -> judging -> done`` for tournament matches (``generating ->
awaiting_votes`` for open-arena matches, which humans judge). One task (:func:`match_run`)
takes a match as far as it can: both answers in parallel (threads, the calls are I/O), then
the judges, then the result; a transient failure sends it back to the queue with back-off.
Every transition is claimed with a conditional ``UPDATE ... WHERE status = <expected>``, so
two workers (a redelivered task and the stuck-step sweep, say) never both take it. Answers
are stored once per side (unique ``(match, side)``), judgments once per slot (unique
``(match, judge, order, sample, stage)``) and a judged match writes exactly one Battle in
the same transaction that marks it done, so a step that runs twice never counts twice.

Steps are sent to Celery after the transaction commits (``transaction.on_commit``). Inside
:func:`inline_dispatch` they are queued in-process instead and :func:`run_inline` drives
them to completion, which is how the demo runs tournaments synchronously.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.models import Battle, Competitor, Generation, Match, Source, Tournament
from workers.endpoints import (
    Completion,
    EndpointConfig,
    EndpointError,
    InflightLimiter,
    LocalLimiter,
    PermanentEndpointError,
    RedisLimiter,
    api_key_decrypt,
    backoff_delay,
    chat_completion,
    simulated_answer,
)

log = logging.getLogger(__name__)

FORFEIT_AFTER = settings.LUDUS_FORFEIT_AFTER
#: A step whose match is untouched this long is taken for dead and re-sent by the sweep.
STUCK_AFTER_SECONDS = settings.LUDUS_STUCK_AFTER_SECONDS
HEARTBEAT_SECONDS = max(0.5, STUCK_AFTER_SECONDS / 4)
STEP_RETRY_BASE = settings.LUDUS_STEP_RETRY_BASE_MS / 1000.0

# --------------------------------------------------------------------------- dispatch

_inline_queue: contextvars.ContextVar[collections.deque[tuple[str, tuple[Any, ...]]] | None] = (
    contextvars.ContextVar("ludus_inline_queue", default=None)
)


def dispatch(step: str, *args: Any, countdown: float | None = None) -> None:
    """Send a step (``match`` or ``round_check``) to the workers after the transaction commits."""
    queue = _inline_queue.get()
    if queue is not None:
        queue.append((step, args))
        return
    transaction.on_commit(lambda: _send(step, args, countdown))


def _send(step: str, args: tuple[Any, ...], countdown: float | None) -> None:
    from workers.tasks import matches as tasks

    task = {"match": tasks.run_match_step_task, "round_check": tasks.round_check_task}[step]
    task.apply_async(args=list(args), countdown=countdown)


@contextlib.contextmanager
def inline_dispatch() -> Iterator[collections.deque[tuple[str, tuple[Any, ...]]]]:
    """Queue steps in-process instead of sending them to Celery (see :func:`run_inline`)."""
    queue: collections.deque[tuple[str, tuple[Any, ...]]] = collections.deque()
    token = _inline_queue.set(queue)
    try:
        yield queue
    finally:
        _inline_queue.reset(token)


def run_step(step: str, *args: Any) -> float | None:
    """Run one step in this process; returns a retry delay in seconds, or ``None`` when done."""
    from arena.services import tournaments

    if step == "match":
        return match_run(match_id=args[0])
    if step == "round_check":
        tournaments.tournament_round_check(tournament_id=args[0])
    else:  # pragma: no cover
        raise ValueError(f"unknown step {step!r}")
    return None


def run_inline(
    queue: collections.deque[tuple[str, tuple[Any, ...]]], *, max_steps: int = 1_000_000
) -> int:
    """Drive queued steps (and the steps they queue) until none is left; returns steps run."""
    done = 0
    while queue and done < max_steps:
        step, args = queue.popleft()
        delay = run_step(step, *args)
        if delay is not None:
            time.sleep(min(delay, 0.05))
            queue.append((step, args))
        done += 1
    return done


# --------------------------------------------------------------------------- endpoints


_local_limiter = LocalLimiter()
_redis_limiter: RedisLimiter | None = None
_limiter_lock = threading.Lock()


def endpoint_limiter() -> InflightLimiter:
    """The shared limiter: Redis-backed across workers, in-process in eager mode."""
    global _redis_limiter
    if settings.CELERY_EAGER:
        return _local_limiter
    with _limiter_lock:
        if _redis_limiter is None:
            import redis

            _redis_limiter = RedisLimiter(redis.Redis.from_url(settings.REDIS_URL))
        return _redis_limiter


def competitor_endpoint(competitor: Competitor) -> EndpointConfig:
    """The endpoint configuration of an OpenAI-compatible competitor (API key resolved)."""
    from workers.endpoints import validate_endpoint_url

    api_key: str | None = None
    if competitor.api_key_encrypted:
        api_key = api_key_decrypt(competitor.api_key_encrypted, secret_key=settings.SECRET_KEY)
    elif competitor.api_key_env:
        import os

        api_key = os.environ.get(competitor.api_key_env)
        if api_key is None:
            raise PermanentEndpointError(
                f"environment variable {competitor.api_key_env} is not set"
            )
    try:
        base_url = validate_endpoint_url(
            competitor.endpoint_url,
            allow_internal=competitor.allow_internal or settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS,
        )
        return EndpointConfig.from_params(
            key=f"competitor:{competitor.pk}",
            base_url=base_url,
            model=competitor.endpoint_model or competitor.name,
            api_key=api_key,
            params=dict(competitor.params or {}),
            max_concurrency=competitor.max_concurrency,
        )
    except ValueError as exc:
        raise PermanentEndpointError(str(exc)) from None


def competitor_generate(competitor: Competitor, prompt: str) -> Completion:
    """One answer from a competitor (simulated in-process, or over HTTP)."""
    if competitor.kind == Competitor.Kind.SIMULATED:
        started = time.perf_counter()
        answer = simulated_answer(
            name=competitor.name,
            strength=float(competitor.sim_strength or 1000.0),
            style=competitor.sim_style,
            seed=competitor.sim_seed,
            prompt=prompt,
        )
        latency = float((competitor.params or {}).get("sim_latency_ms", 0)) / 1000.0
        if latency > 0:
            time.sleep(latency)
        return Completion(
            text=answer.text,
            latency_ms=int((time.perf_counter() - started) * 1000),
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            cost=Decimal("0"),
        )
    config = competitor_endpoint(competitor)
    return chat_completion(
        config, [{"role": "user", "content": prompt}], limiter=endpoint_limiter()
    )


# --------------------------------------------------------------------------- state machine


def _touch(match_id: int, status: str) -> int:
    return Match.objects.filter(id=match_id, status=status).update(updated_at=timezone.now())


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


def wait_with_heartbeat(futures: list[Future[Any]], match_id: int, status: str) -> None:
    """Wait for ``futures``, touching the match every :data:`HEARTBEAT_SECONDS` meanwhile.

    The stuck-step sweep re-sends steps of matches untouched for ``STUCK_AFTER_SECONDS``;
    the heartbeat keeps a slow but live step (long timeouts, retries) from being sent twice.
    """
    pending = set(futures)
    while pending:
        _, pending = wait(pending, timeout=HEARTBEAT_SECONDS)
        if pending:
            _touch(match_id, status)


def _store_generation(match: Match, side: str, completion: Completion) -> None:
    competitor = match.competitor_a if side == "a" else match.competitor_b
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
                cost=completion.cost,
            )
    except IntegrityError:  # stored by another copy of this step
        pass


def match_run(*, match_id: int) -> float | None:
    """Advance a match as far as it can go: answers (both sides in parallel), judging, result.

    Safe to run any number of times, concurrently or after a crash: each transition is a
    conditional update, answers and judgments are stored once, the result is written once.
    Returns a back-off delay when a transient failure should be retried, else ``None``.
    """
    from arena.services.judging import match_judge_step

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
        # the judges get their own forfeit_after attempts: answers that needed retries do not use them up
        moved = Match.objects.filter(id=match_id, status=Match.Status.GENERATING).update(
            status=target, attempts=0, updated_at=timezone.now()
        )
        match.status = target if moved else _status(match_id)
    if match.status == Match.Status.JUDGING:
        return match_judge_step(match_id=match_id)
    return None


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
    from arena.services.leaderboard import leaderboard_schedule_rebuild

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
