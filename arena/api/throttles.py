"""Throttles: per voter and per client IP for the vote flow, per IP or user elsewhere.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read at request time,
so tests can override them with ``settings``. With the Redis cache a throttle is a
fixed-window counter (``INCR`` + ``EXPIRE NX`` in one round trip) instead of DRF's sliding
window (a read and a write of the whole request history), which matters on hot endpoints;
with other cache backends DRF's implementation is used. All of a view's Redis throttles are
one Lua script call (``INCR`` each window key, ``EXPIRE`` it when new), one round trip.
A client is identified by :func:`arena.api.voters.client_ip` (``X-Forwarded-For`` counts only
from ``settings.LUDUS_TRUSTED_PROXIES``), not by DRF's ``get_ident``, which believes any client.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from arena.api.voters import anon_id_get, client_ip


class _DynamicRate(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # drf-stubs say numbers; DRF holds "N/period" strings
        rates: dict[str, str | None] = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]
        return rates.get(self.scope or "")

    def __init__(self) -> None:  # read the rate per request, not at import
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_ident(self, request: Any) -> str:
        return client_ip(request)

    def allow_request(self, request: Any, view: Any) -> bool:
        backend = caches["default"]
        if not isinstance(backend, RedisCache) or self.rate is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        return not _count_windows(backend, [self])

    def window(self, backend: RedisCache, now: float) -> tuple[str, int]:
        """The cache key of the current window and its time to live (seconds)."""
        assert self.duration is not None  # allow_request let no rate-less throttle here
        window = int(now // self.duration)
        self._wait = (window + 1) * self.duration - now
        return backend.make_and_validate_key(f"{self.key}:{window}"), int(self.duration) + 1

    def settle(self, count: int) -> bool:
        """Whether the request is allowed, given the window's count after the ``INCR``."""
        assert self.num_requests is not None
        return count <= self.num_requests

    def wait(self) -> float | None:
        return getattr(self, "_wait", None) or super().wait()


def _redis_client(backend: RedisCache) -> Any:
    """The backend's redis client, built once (Django's backend builds a new one, ~0.2 ms, per call)."""
    client = getattr(backend, "_ludus_redis_client", None)
    if client is None:
        client = backend._cache.get_client(write=True)
        backend._ludus_redis_client = client  # type: ignore[attr-defined]
    return client


_COUNT_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
    counts[i] = redis.call('INCR', key)
    if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[i]) end
end
return counts
"""


def _count_windows(backend: RedisCache, throttles: list[_DynamicRate]) -> list[_DynamicRate]:
    """Count this request in each throttle's current window (one script call); those refusing."""
    client = _redis_client(backend)
    script = getattr(backend, "_ludus_count_script", None)
    if script is None:
        script = client.register_script(_COUNT_LUA)  # EVALSHA, falling back to EVAL once per server
        backend._ludus_count_script = script  # type: ignore[attr-defined]
    now = time.time()
    windows = [throttle.window(backend, now) for throttle in throttles]
    counts = script(
        keys=[key for key, _ in windows], args=[ttl for _, ttl in windows], client=client
    )
    return [
        throttle
        for throttle, count in zip(throttles, counts, strict=True)
        if not throttle.settle(count)
    ]


def check_throttles_together(throttles: list[Any], request: Any, view: Any) -> list[float | None]:
    """Apply every throttle of a view with a single Redis round trip; the waits of those refusing.

    Throttles other than the Redis fixed-window kind (or with another cache backend) are
    checked one by one, as DRF does.
    """
    backend = caches["default"]
    waits: list[float | None] = []
    batched: list[_DynamicRate] = []
    for throttle in throttles:
        if (
            isinstance(throttle, _DynamicRate)
            and isinstance(backend, RedisCache)
            and throttle.rate is not None
        ):
            throttle.key = throttle.get_cache_key(request, view)
            if throttle.key is not None:
                batched.append(throttle)
        elif not throttle.allow_request(request, view):
            waits.append(throttle.wait())
    if batched:
        waits += [throttle.wait() for throttle in _count_windows(backend, batched)]  # type: ignore[arg-type]
    return waits


class BatchedThrottlesMixin:
    """A view mixin: all of the view's throttles cost one Redis round trip together."""

    def check_throttles(self, request: Any) -> None:
        waits = check_throttles_together(self.get_throttles(), request, self)  # type: ignore[attr-defined]
        if waits:
            self.throttled(request, max((w for w in waits if w is not None), default=None))  # type: ignore[attr-defined]


class VoterThrottle(_DynamicRate):
    """Per voter: the user, else the anonymous cookie, else (no identity yet) the IP."""

    scope_base = "votes"

    def get_cache_key(self, request: Any, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = f"a{anon_id_get(request) or self.get_ident(request)}"
        return f"throttle_{self.scope}_{ident}"


class IPThrottle(_DynamicRate):
    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"throttle_{self.scope}_{self.get_ident(request)}"


class VoteVoterThrottle(VoterThrottle):
    scope = "votes"


class VoteIPThrottle(IPThrottle):
    scope = "votes_ip"


class BattleVoterThrottle(VoterThrottle):
    scope = "battles"


class BattleIPThrottle(IPThrottle):
    scope = "battles_ip"


class AnonThrottle(_DynamicRate):
    """DRF's anonymous-user throttle (scope ``anon``, by IP), with the rate read per request."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return f"throttle_anon_{self.get_ident(request)}"


class UserThrottle(_DynamicRate):
    """Authenticated users by id (scope ``user``); anonymous ones are AnonThrottle's."""

    scope = "user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return f"throttle_user_{request.user.pk}"
        return None  # anonymous requests are throttled by AnonThrottle
