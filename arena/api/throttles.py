"""Throttles: per voter and per client IP for the vote flow, per IP or user elsewhere.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read at request time,
so tests can override them with ``settings``. With the Redis cache a throttle is a
fixed-window counter (``INCR`` + ``EXPIRE NX`` in one round trip) instead of DRF's sliding
window (a read and a write of the whole request history), which matters on hot endpoints;
with other cache backends DRF's implementation is used.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from arena.api.voters import anon_id_get


class _DynamicRate(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def __init__(self) -> None:  # read the rate per request, not at import
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def allow_request(self, request: Any, view: Any) -> bool:
        backend = caches["default"]
        if not isinstance(backend, RedisCache) or self.rate is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        key = backend.make_and_validate_key(f"{self.key}:{window}")
        pipe = backend._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, int(self.duration) + 1, nx=True)
        count = pipe.execute()[0]
        self._wait = (window + 1) * self.duration - now
        return count <= self.num_requests

    def wait(self) -> float | None:
        return getattr(self, "_wait", None) or super().wait()


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
