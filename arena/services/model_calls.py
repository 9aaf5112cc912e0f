"""Calling the models: the shared endpoint limiter, a competitor's endpoint, one answer.

The plumbing between a match step and the model clients (``clients``): resolving a
competitor's URL and key, the limiter shared by the workers, and a heartbeat that keeps a
slow but live step from being taken for dead by the stuck-step sweep.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, wait
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from arena.models import Competitor, Match
from clients import (
    Completion,
    EndpointConfig,
    InflightLimiter,
    LocalLimiter,
    PermanentEndpointError,
    RedisLimiter,
    api_key_decrypt,
    chat_completion,
    simulated_answer,
    validate_endpoint_url,
)

#: A step whose match is untouched this long is taken for dead and re-sent by the sweep.
STUCK_AFTER_SECONDS = settings.LUDUS_STUCK_AFTER_SECONDS
HEARTBEAT_SECONDS = max(0.5, STUCK_AFTER_SECONDS / 4)

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
            _redis_limiter = RedisLimiter(redis.Redis.from_url(settings.REDIS_URL))
        return _redis_limiter


def competitor_endpoint(competitor: Competitor) -> EndpointConfig:
    """The endpoint configuration of an OpenAI-compatible competitor (API key resolved)."""
    api_key: str | None = None
    if competitor.api_key_encrypted:
        api_key = api_key_decrypt(competitor.api_key_encrypted, secret_key=settings.SECRET_KEY)
    elif competitor.api_key_env:
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


def _touch(match_id: int, status: str) -> int:
    return Match.objects.filter(id=match_id, status=status).update(updated_at=timezone.now())


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
