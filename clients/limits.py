"""How many calls may be in flight to one endpoint: a hard cap and an adaptive (AIMD) limit.

Every call holds a lease from an :class:`InflightLimiter`. Below the endpoint's concurrency
cap, the limit adapts: it grows by ``1/limit`` per success and is halved on a 429 or a
timeout, at most once per ``cooldown`` seconds (:func:`aimd_next`, the one place the rule is
written). :class:`RedisLimiter` shares leases and the limit across worker threads and
processes through Redis transactions; :class:`LocalLimiter` is for one process (eager mode
and unit tests). Both apply the same two rules, :func:`aimd_next` and :func:`admitted`.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import WatchError

from clients.errors import TransientEndpointError

__all__ = [
    "InflightLimiter",
    "LocalLimiter",
    "RedisLimiter",
    "acquire",
    "admitted",
    "aimd_next",
]


def aimd_next(
    limit: float,
    outcome: str,
    *,
    cap: int,
    now: float,
    last_decrease: float,
    beta: float = 0.5,
    cooldown: float = 1.0,
) -> tuple[float, float]:
    """One AIMD step: ``(new_limit, new_last_decrease)``.

    ``outcome`` is ``"ok"`` (additive increase by ``1/limit``, i.e. about +1 per window of
    successes, up to ``cap``), ``"congestion"`` (multiplicative decrease by ``beta``, at most
    once per ``cooldown`` seconds, never below 1) or ``"error"`` (no change).
    """
    if outcome == "ok":
        return min(float(cap), limit + 1.0 / max(limit, 1.0)), last_decrease
    if outcome == "congestion":
        if now - last_decrease >= cooldown:
            return max(1.0, limit * beta), now
        return limit, last_decrease
    return min(limit, float(cap)), last_decrease


def admitted(limit: float, *, cap: int) -> int:
    """How many leases the adaptive ``limit`` admits: ``floor(limit)``, within ``[1, cap]``."""
    return max(1, min(cap, int(limit)))


class InflightLimiter(Protocol):
    """Leases for in-flight calls to an endpoint, under an adaptive limit."""

    def try_acquire(self, key: str, *, cap: int, ttl: float) -> str | None: ...

    def release(self, key: str, token: str, *, cap: int, outcome: str) -> None: ...

    def limit(self, key: str, *, cap: int) -> float: ...

    def in_flight(self, key: str) -> int: ...


def acquire(
    limiter: InflightLimiter,
    key: str,
    *,
    cap: int,
    ttl: float,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Wait for a lease (polling with jitter); TransientEndpointError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        token = limiter.try_acquire(key, cap=cap, ttl=ttl)
        if token is not None:
            return token
        if time.monotonic() >= deadline:
            raise TransientEndpointError(
                f"endpoint {key}: no free slot within {timeout:.0f} s (throttled)"
            )
        sleep(random.uniform(delay / 2, delay))
        delay = min(0.25, delay * 2)


class LocalLimiter:
    """In-process limiter (one process, any number of threads)."""

    def __init__(
        self, *, initial: float | None = None, beta: float = 0.5, cooldown: float = 1.0
    ) -> None:
        self._lock = threading.Lock()
        self._leases: dict[str, dict[str, float]] = {}
        self._state: dict[str, tuple[float, float]] = {}
        self.initial, self.beta, self.cooldown = initial, beta, cooldown

    def _current(self, key: str, cap: int) -> tuple[float, float]:
        limit, last = self._state.get(key, (self.initial or float(cap), 0.0))
        return min(float(cap), limit), last

    def limit(self, key: str, *, cap: int) -> float:
        with self._lock:
            return self._current(key, cap)[0]

    def try_acquire(self, key: str, *, cap: int, ttl: float) -> str | None:
        now = time.time()
        with self._lock:
            leases = self._leases.setdefault(key, {})
            for tok in [t for t, exp in leases.items() if exp <= now]:
                del leases[tok]
            if len(leases) < admitted(self._current(key, cap)[0], cap=cap):
                token = uuid.uuid4().hex
                leases[token] = now + ttl
                return token
            return None

    def release(self, key: str, token: str, *, cap: int, outcome: str) -> None:
        with self._lock:
            self._leases.get(key, {}).pop(token, None)
            limit, last = self._current(key, cap)
            self._state[key] = aimd_next(
                limit,
                outcome,
                cap=cap,
                now=time.time(),
                last_decrease=last,
                beta=self.beta,
                cooldown=self.cooldown,
            )

    def in_flight(self, key: str) -> int:
        with self._lock:
            now = time.time()
            return sum(1 for exp in self._leases.get(key, {}).values() if exp > now)


class RedisLimiter:
    """Limiter shared by every worker thread and process through Redis.

    Leases are members of a sorted set scored by their expiry, so a crashed holder's lease
    lapses. A lease is taken optimistically (added, then counted in the same ``MULTI``) and
    given back at once when the count exceeds :func:`admitted`; the adaptive limit is updated
    with :func:`aimd_next` under ``WATCH`` (retried when another release got there first).

    Parameters
    ----------
    client : redis.Redis
        The caller's client (its connection pool is shared by every call).
    prefix : str
        Namespace of the keys, ``{prefix}:{endpoint}:leases`` and ``{prefix}:{endpoint}:aimd``.
    initial : float, optional
        The limit before any outcome is known (default: the cap).
    beta, cooldown : float
        Passed to :func:`aimd_next`.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "ludus:endpoint",
        initial: float | None = None,
        beta: float = 0.5,
        cooldown: float = 1.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.initial, self.beta, self.cooldown = initial, beta, cooldown

    def _keys(self, key: str) -> tuple[str, str]:
        return f"{self.prefix}:{key}:leases", f"{self.prefix}:{key}:aimd"

    def _stored(self, raw: Any, cap: int) -> float:
        return min(float(cap), float(raw) if raw is not None else (self.initial or float(cap)))

    def limit(self, key: str, *, cap: int) -> float:
        return self._stored(self.client.hget(self._keys(key)[1], "limit"), cap)

    def try_acquire(self, key: str, *, cap: int, ttl: float) -> str | None:
        leases, state = self._keys(key)
        token = uuid.uuid4().hex
        now = time.time()
        pipe = self.client.pipeline(transaction=True)
        pipe.zremrangebyscore(leases, "-inf", now)
        pipe.zadd(leases, {token: now + ttl})
        pipe.expire(leases, math.ceil(ttl * 2))
        pipe.zcard(leases)
        pipe.hget(state, "limit")
        *_, count, raw_limit = pipe.execute()
        if int(count) <= admitted(self._stored(raw_limit, cap), cap=cap):
            return token
        self.client.zrem(leases, token)
        return None

    def release(self, key: str, token: str, *, cap: int, outcome: str) -> None:
        leases, state = self._keys(key)
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(state)
                    raw_limit, raw_last = pipe.hmget(state, ["limit", "last_decrease"])
                    limit, last = aimd_next(
                        self._stored(raw_limit, cap),
                        outcome,
                        cap=cap,
                        now=time.time(),
                        last_decrease=float(raw_last) if raw_last is not None else 0.0,
                        beta=self.beta,
                        cooldown=self.cooldown,
                    )
                    pipe.multi()
                    pipe.zrem(leases, token)
                    pipe.hset(state, mapping={"limit": repr(limit), "last_decrease": repr(last)})
                    pipe.expire(state, 86400)
                    pipe.execute()
                    return
                except WatchError:
                    continue

    def in_flight(self, key: str) -> int:
        return int(self.client.zcount(self._keys(key)[0], time.time(), "+inf"))

    def reset(self, key: str) -> None:
        """Forget the leases and the adaptive limit of endpoint ``key``."""
        self.client.delete(*self._keys(key))
