"""Model endpoints: an OpenAI-compatible chat-completions client and the simulated competitor.

The client (:func:`chat_completion`) posts to ``{base_url}/chat/completions`` with httpx,
records latency, tokens and cost, and retries transient failures (timeouts, connection
errors, 429 and 5xx) with exponential back-off and full jitter, honouring ``Retry-After``.
Every call holds a lease from an :class:`InflightLimiter`: a per-endpoint concurrency cap
with an adaptive limit below it (AIMD: the limit grows by ``1/limit`` per success and is
halved on a 429 or a timeout, at most once per ``cooldown`` seconds). The Redis limiter
shares leases and the limit across worker threads and processes; the local one is for
eager mode and unit tests.

The simulated competitor (:func:`simulated_answer`) needs no network: its hidden strength,
plus deterministic per-prompt noise, sets the quality of an answer; the answer's length and
a trailing ``[sim quality=...]`` marker reflect it, so the simulated judge can decide from the
text alone, like an LLM judge would.

This module does not import Django; callers pass settings in.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import ipaddress
import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import numpy as np

__all__ = [
    "Completion",
    "EndpointConfig",
    "EndpointError",
    "InflightLimiter",
    "LocalLimiter",
    "OWNER_PARAMS",
    "PermanentEndpointError",
    "RedisLimiter",
    "SimAnswer",
    "TransientEndpointError",
    "aimd_next",
    "address_problem",
    "api_key_decrypt",
    "api_key_encrypt",
    "backoff_delay",
    "chat_completion",
    "param_error",
    "parse_retry_after",
    "simulated_answer",
    "validate_endpoint_url",
]


class EndpointError(Exception):
    """A model endpoint call failed."""


class TransientEndpointError(EndpointError):
    """Worth retrying later: timeouts, connection errors, 429, 5xx, throttling, and a 200
    whose body is not a chat completion (an intermittently faulty server).

    ``retry_after`` (seconds) is set when the server asked for a longer wait than the
    client's back-off cap: the caller should come back no sooner.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentEndpointError(EndpointError):
    """Retrying will not help: 4xx (other than 408/429), bad config."""


# --------------------------------------------------------------------------- configuration


_BLOCKED_HOSTS = {"localhost", "localhost.localdomain", "metadata.google.internal"}


_ADDRESS_KINDS = (
    ("is_unspecified", "an unspecified"),
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local (cloud metadata)"),
    ("is_private", "a private"),
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
)


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a public address (``"a loopback address (::1)"``), or ``None``.

    IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, label in _ADDRESS_KINDS:
        if getattr(ip, attribute):
            return f"{label} address ({ip})"
    if not ip.is_global:
        return f"a non-global address ({ip})"
    return None


def validate_endpoint_url(
    url: str,
    *,
    allow_internal: bool = False,
    require_https: bool = False,
    resolve: Callable[[str], list[str]] | None = None,
) -> str:
    """Check an endpoint base URL and return it without a trailing slash.

    The one parser of endpoint URLs: the API checks a submitted model with it (and turns the
    message into a field error), the workers again before every call.

    Parameters
    ----------
    url : str
        ``http(s)://host[:port][/path]``, for example ``https://api.example.com/v1``.
    allow_internal : bool, default False
        Allow loopback, private, link-local and other non-public addresses (admin only;
        otherwise a submitted endpoint could make the workers probe the internal network).
    require_https : bool, default False
        Refuse plain ``http://`` (the API does unless internal endpoints are allowed).
    resolve : callable, optional
        ``host -> list of IP strings`` (default: ``socket.getaddrinfo``); a host that does
        not resolve is refused unless ``allow_internal``.

    Raises
    ------
    ValueError
        With a message naming what is wrong and what is expected.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("An endpoint URL is required (https://...).")
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"Not a valid URL ({exc}): {url!r}.") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"Expected an https:// URL; got scheme {parts.scheme or 'none'!r}.")
    if parts.scheme == "http" and require_https:
        raise ValueError("Plain http is not allowed; use an https:// URL.")
    if parts.username or parts.password:
        raise ValueError("Credentials in the URL are not allowed; give the API key separately.")
    if parts.query or parts.fragment:
        raise ValueError("The base URL must not have a query string or fragment.")
    if not parts.hostname:
        raise ValueError(f"The URL has no host name: {url!r}.")
    if port == 0:
        raise ValueError("Port 0 is out of range.")
    host = parts.hostname.lower()
    if not allow_internal:
        if host in _BLOCKED_HOSTS or host.endswith((".local", ".internal", ".localhost")):
            raise ValueError(
                f"The host {host!r} is an internal name (loopback or cloud metadata); only public "
                "addresses are allowed unless an admin allows internal endpoints for this model."
            )
        try:
            addresses = [host] if _is_ip(host) else (resolve or _resolve)(host)
        except (OSError, UnicodeError):
            raise ValueError(f"The host {host!r} does not resolve to any address.") from None
        if not addresses:
            raise ValueError(f"The host {host!r} does not resolve to any address.")
        for addr in addresses:
            problem = address_problem(addr)
            if problem:
                raise ValueError(
                    f"The host {host!r} resolves to {problem}; only public addresses are allowed "
                    "unless an admin allows internal endpoints for this model."
                )
    return url.rstrip("/")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def _fernet(secret_key: str) -> Any:
    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"ludus-endpoint-api-key:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def api_key_encrypt(raw: str, *, secret_key: str) -> str:
    """Encrypt an endpoint API key for storage (Fernet, key derived from ``SECRET_KEY``)."""
    return _fernet(secret_key).encrypt(raw.encode()).decode()


def api_key_decrypt(token: str, *, secret_key: str) -> str:
    """Decrypt a key stored by :func:`api_key_encrypt`; raises PermanentEndpointError if invalid."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise PermanentEndpointError(
            "the stored API key cannot be decrypted (was SECRET_KEY changed?)"
        ) from None


#: Chat-completion parameters sent in the request body when set (OpenAI accepts each):
#: name -> (type, lowest, highest), bounds inclusive.
SAMPLING_PARAMS: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "top_p": (float, 0.0, 1.0),
    "max_tokens": (int, 1, 32768),
    "presence_penalty": (float, -2.0, 2.0),
    "frequency_penalty": (float, -2.0, 2.0),
    "seed": (int, 0, 2**31 - 1),
}
#: The parameters a model owner may set at submission: the sampling ones and the timeout.
#: Submission validation and :class:`EndpointConfig` both check values with :func:`param_error`.
OWNER_PARAMS: dict[str, tuple[type, float, float]] = {
    **SAMPLING_PARAMS,
    "timeout": (float, 1.0, 600.0),
}


def param_error(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the owner parameter ``name`` (``None`` when it is valid)."""
    if name not in OWNER_PARAMS:
        return f"unknown parameter {name!r}; expected some of {', '.join(OWNER_PARAMS)}"
    kind, low, high = OWNER_PARAMS[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not float(value).is_integer())
    ):
        return f"{name} must be {'an integer' if kind is int else 'a number'}; got {value!r}"
    if not low <= value <= high:
        low_s, high_s = (int(b) if float(b).is_integer() else b for b in (low, high))
        return f"{name} must be between {low_s} and {high_s}; got {value!r}"
    return None


@dataclass(frozen=True)
class EndpointConfig:
    """Everything needed to call one OpenAI-compatible model.

    ``key`` names the endpoint for the shared limiter (leases and the adaptive limit).
    Prices are per 1,000 tokens.
    """

    key: str
    base_url: str
    model: str
    api_key: str | None = None
    temperature: float = 0.7
    max_tokens: int = 1024
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    timeout: float = 60.0
    max_retries: int = 3
    max_concurrency: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    acquire_timeout: float = 120.0
    price_prompt_per_1k: float = 0.0
    price_completion_per_1k: float = 0.0
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in SAMPLING_PARAMS:
            value = getattr(self, name)
            problem = None if value is None else param_error(name, value)
            if problem:
                raise ValueError(f"endpoint {problem}")
        checks = [
            ("timeout", self.timeout > 0, "positive (seconds)"),
            (
                "max_retries",
                isinstance(self.max_retries, int) and self.max_retries >= 0,
                "a non-negative integer",
            ),
            (
                "max_concurrency",
                isinstance(self.max_concurrency, int) and self.max_concurrency >= 1,
                "a positive integer",
            ),
            ("price_prompt_per_1k", self.price_prompt_per_1k >= 0, "non-negative"),
            ("price_completion_per_1k", self.price_completion_per_1k >= 0, "non-negative"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"endpoint {name} must be {expected}; got {getattr(self, name)!r}")
        if not self.model:
            raise ValueError("endpoint model name is required")

    @classmethod
    def from_params(
        cls,
        *,
        key: str,
        base_url: str,
        model: str,
        api_key: str | None,
        params: dict[str, Any],
        max_concurrency: int,
    ) -> EndpointConfig:
        """Build from a competitor's ``params`` JSON (unknown keys are refused)."""
        allowed = set(OWNER_PARAMS) | {
            "max_retries",
            "backoff_base",
            "backoff_cap",
            "acquire_timeout",
            "price_prompt_per_1k",
            "price_completion_per_1k",
            "extra_body",
        }
        unknown = sorted(set(params) - allowed - {"sim_latency_ms"})
        if unknown:
            raise ValueError(
                f"unknown endpoint parameter(s): {', '.join(unknown)}; expected some of {', '.join(sorted(allowed))}"
            )
        kwargs: dict[str, Any] = {k: v for k, v in params.items() if k in allowed}
        for name in set(OWNER_PARAMS) & set(kwargs):
            problem = param_error(name, kwargs[name])
            if problem:
                raise ValueError(f"endpoint {problem}")
            kwargs[name] = OWNER_PARAMS[name][0](kwargs[name])
        for name in (
            "backoff_base",
            "backoff_cap",
            "acquire_timeout",
            "price_prompt_per_1k",
            "price_completion_per_1k",
        ):
            if name in kwargs:
                try:
                    kwargs[name] = float(kwargs[name])
                except (TypeError, ValueError):
                    raise ValueError(
                        f"endpoint {name} must be a number; got {kwargs[name]!r}"
                    ) from None
        return cls(
            key=key,
            base_url=base_url.rstrip("/"),
            model=model,
            api_key=api_key,
            max_concurrency=max_concurrency,
            **kwargs,
        )


@dataclass(frozen=True)
class Completion:
    """One successful chat completion."""

    text: str
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    attempts: int = 1


# --------------------------------------------------------------------------- back-off


def backoff_delay(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 20.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (attempt 0 is the first retry).

    Full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``; when the server sent
    ``Retry-After``, never less than that (capped at ``cap``).
    """
    if attempt < 0:
        raise ValueError(f"attempt must be non-negative; got {attempt}")
    r = rng or random
    ceiling = min(cap, base * (2.0**attempt))
    delay = r.uniform(0.0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date; ``None`` if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --------------------------------------------------------------------------- AIMD limiter


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


class InflightLimiter(Protocol):
    """Leases for in-flight calls to an endpoint, under an adaptive limit."""

    def try_acquire(self, key: str, *, cap: int, ttl: float) -> str | None: ...

    def release(self, key: str, token: str, *, cap: int, outcome: str) -> None: ...

    def limit(self, key: str, *, cap: int) -> float: ...


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

    def limit(self, key: str, *, cap: int) -> float:
        with self._lock:
            return min(float(cap), self._state.get(key, (self.initial or float(cap), 0.0))[0])

    def try_acquire(self, key: str, *, cap: int, ttl: float) -> str | None:
        now = time.time()
        with self._lock:
            leases = self._leases.setdefault(key, {})
            for tok in [t for t, exp in leases.items() if exp <= now]:
                del leases[tok]
            limit = min(float(cap), self._state.get(key, (self.initial or float(cap), 0.0))[0])
            if len(leases) < max(1, int(limit)):
                token = uuid.uuid4().hex
                leases[token] = now + ttl
                return token
            return None

    def release(self, key: str, token: str, *, cap: int, outcome: str) -> None:
        with self._lock:
            self._leases.get(key, {}).pop(token, None)
            limit, last = self._state.get(key, (self.initial or float(cap), 0.0))
            self._state[key] = aimd_next(
                min(limit, float(cap)),
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


_ACQUIRE_LUA = """
local leases, state = KEYS[1], KEYS[2]
local now, cap, token, ttl, initial = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
local limit = tonumber(redis.call('HGET', state, 'limit') or initial)
if limit > cap then limit = cap end
if limit < 1 then limit = 1 end
if redis.call('ZCARD', leases) < math.floor(limit) then
  redis.call('ZADD', leases, now + ttl, token)
  redis.call('EXPIRE', leases, math.ceil(ttl * 2))
  return 1
end
return 0
"""

_RELEASE_LUA = """
local leases, state = KEYS[1], KEYS[2]
local token, outcome, now, cap, initial, beta, cooldown = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('ZREM', leases, token)
local limit = tonumber(redis.call('HGET', state, 'limit') or initial)
local last = tonumber(redis.call('HGET', state, 'last_decrease') or 0)
if limit > cap then limit = cap end
if outcome == 'ok' then
  local step = limit
  if step < 1 then step = 1 end
  limit = limit + 1 / step
  if limit > cap then limit = cap end
elseif outcome == 'congestion' then
  if now - last >= cooldown then
    limit = limit * beta
    if limit < 1 then limit = 1 end
    last = now
  end
end
redis.call('HSET', state, 'limit', tostring(limit), 'last_decrease', tostring(last))
redis.call('EXPIRE', state, 86400)
return tostring(limit)
"""


class RedisLimiter:
    """Limiter shared by every worker thread and process through Redis (atomic Lua scripts)."""

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
        self._acquire = client.register_script(_ACQUIRE_LUA)
        self._release = client.register_script(_RELEASE_LUA)

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:{key}:leases", f"{self.prefix}:{key}:aimd"]

    def limit(self, key: str, *, cap: int) -> float:
        raw = self.client.hget(self._keys(key)[1], "limit")
        return min(float(cap), float(raw) if raw is not None else (self.initial or float(cap)))

    def try_acquire(self, key: str, *, cap: int, ttl: float) -> str | None:
        token = uuid.uuid4().hex
        ok = self._acquire(
            keys=self._keys(key), args=[time.time(), cap, token, ttl, self.initial or cap]
        )
        return token if int(ok) == 1 else None

    def release(self, key: str, token: str, *, cap: int, outcome: str) -> None:
        self._release(
            keys=self._keys(key),
            args=[token, outcome, time.time(), cap, self.initial or cap, self.beta, self.cooldown],
        )

    def in_flight(self, key: str) -> int:
        leases = self._keys(key)[0]
        return int(self.client.zcount(leases, time.time(), "+inf"))

    def reset(self, key: str) -> None:
        self.client.delete(*self._keys(key))


# --------------------------------------------------------------------------- HTTP client


_client_lock = threading.Lock()
_client: httpx.Client | None = None


def _http_client() -> httpx.Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                limits=httpx.Limits(max_connections=512, max_keepalive_connections=256),
                headers={"User-Agent": "ludus/0.1"},
            )
        return _client


def _reset_client() -> None:
    global _client
    _client = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_client)


def _estimate_tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.3)) if text else 0


def chat_completion(
    config: EndpointConfig,
    messages: Sequence[dict[str, str]],
    *,
    limiter: InflightLimiter,
    client: httpx.Client | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    temperature: float | None = None,
) -> Completion:
    """Call ``POST {base_url}/chat/completions`` and return the first choice's text.

    Raises
    ------
    TransientEndpointError
        After ``config.max_retries`` retries of timeouts, connection errors, 429, 5xx and 200
        answers that are not a chat completion (malformed bodies are often intermittent).
    PermanentEndpointError
        On other 4xx statuses.
    """
    http = client or _http_client()
    url = f"{config.base_url}/chat/completions"
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    body: dict[str, Any] = {
        "model": config.model,
        "messages": list(messages),
        "temperature": config.temperature if temperature is None else temperature,
        "max_tokens": config.max_tokens,
        **{
            name: getattr(config, name)
            for name in ("top_p", "presence_penalty", "frequency_penalty", "seed")
            if getattr(config, name) is not None
        },
        **config.extra_body,
    }
    last_error = "no attempt made"
    for attempt in range(config.max_retries + 1):
        token = acquire(
            limiter,
            config.key,
            cap=config.max_concurrency,
            ttl=config.timeout + 30,
            timeout=config.acquire_timeout,
            sleep=sleep,
        )
        outcome = "error"
        retry_after: float | None = None
        started = time.perf_counter()
        try:
            response = http.post(url, json=body, headers=headers, timeout=config.timeout)
            latency_ms = int((time.perf_counter() - started) * 1000)
            status = response.status_code
            if status == 429:
                outcome = "congestion"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                last_error = f"HTTP 429 from {config.base_url}"
            elif status >= 500 or status == 408:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                last_error = f"HTTP {status} from {config.base_url}"
            elif status >= 400:
                raise PermanentEndpointError(
                    f"HTTP {status} from {config.base_url}: {response.text[:200]}"
                )
            else:
                try:
                    completion = _parse_completion(response, config, latency_ms, attempt + 1)
                except ValueError as exc:
                    last_error = str(exc)
                else:
                    outcome = "ok"
                    return completion
        except httpx.TimeoutException:
            outcome = "congestion"
            last_error = f"timeout after {config.timeout:g} s calling {config.base_url}"
        except httpx.TransportError as exc:
            last_error = f"connection error calling {config.base_url}: {exc}"
        finally:
            limiter.release(config.key, token, cap=config.max_concurrency, outcome=outcome)
        if retry_after is not None and retry_after > config.backoff_cap:
            # the server wants a long pause: free this worker thread and let the caller reschedule
            raise TransientEndpointError(
                f"{last_error}; Retry-After {retry_after:g} s", retry_after=retry_after
            )
        if attempt < config.max_retries:
            sleep(
                backoff_delay(
                    attempt,
                    base=config.backoff_base,
                    cap=config.backoff_cap,
                    retry_after=retry_after,
                    rng=rng,
                )
            )
    raise TransientEndpointError(f"{last_error} (after {config.max_retries + 1} attempts)")


def _parse_completion(
    response: httpx.Response, config: EndpointConfig, latency_ms: int, attempts: int
) -> Completion:
    """The completion in a 200 answer; ``ValueError`` (saying what is wrong) when it is malformed."""
    try:
        data = response.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ValueError(
            f"{config.base_url} did not return a chat completion (choices[0].message.content missing)"
        ) from None
    if not isinstance(text, str):
        raise ValueError(f"{config.base_url} returned non-text content")
    try:
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or _estimate_tokens(text))
    except (AttributeError, ValueError, TypeError):
        raise ValueError(f"{config.base_url} returned malformed token usage") from None
    cost = (
        Decimal(str(config.price_prompt_per_1k)) * prompt_tokens
        + Decimal(str(config.price_completion_per_1k)) * completion_tokens
    ) / 1000
    return Completion(
        text=text,
        latency_ms=latency_ms,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=cost.quantize(Decimal("0.000001")),
        attempts=attempts,
    )


# --------------------------------------------------------------------------- simulated competitor


SIM_MARKER = re.compile(r"\[sim quality=(-?\d+(?:\.\d+)?)\]")

_STYLE_OPENERS = {
    "thorough": "Let me work through this carefully.",
    "concise": "Short answer:",
    "friendly": "Great question! Happy to help.",
    "verbose": "There is a lot to say about this, so let us take it step by step.",
    "terse": "Answer:",
}
_POINTS = (
    "the key idea is to state the problem precisely before solving it",
    "a worked example makes the reasoning concrete",
    "edge cases such as empty or very large inputs need care",
    "the approach is checked against a simple known case",
    "the trade-offs between the alternatives are weighed explicitly",
    "the assumptions are stated so the reader can verify them",
    "the result is summarised in one clear sentence",
    "common mistakes are pointed out and avoided",
    "the answer cites the relevant definition",
    "a short justification shows why the method is correct",
    "complexity and cost are estimated",
    "the final answer is double-checked",
)


@dataclass(frozen=True)
class SimAnswer:
    """A simulated competitor's answer and its hidden quality (Elo points)."""

    text: str
    quality: float
    prompt_tokens: int
    completion_tokens: int


def sim_seed(*parts: object) -> int:
    """A stable 64-bit seed from any parts (same parts, same seed, in every process)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def simulated_answer(
    *, name: str, strength: float, style: str, seed: int, prompt: str, noise: float = 25.0
) -> SimAnswer:
    """A deterministic answer whose quality is ``strength`` plus per-prompt noise.

    Parameters
    ----------
    name, style : str
        Competitor name and answer style (``thorough``, ``concise``, ...).
    strength : float
        Hidden Bradley-Terry strength on the Elo scale.
    seed : int
        The competitor's seed; with the prompt it fixes the answer.
    prompt : str
        The prompt text.
    noise : float, default 25
        Standard deviation (Elo points) of the per-prompt quality variation.
    """
    rng = np.random.default_rng(sim_seed("answer", seed, prompt))
    quality = float(strength + noise * rng.standard_normal()) if noise > 0 else float(strength)
    n_points = int(np.clip(round((quality - 760.0) / 45.0), 1, len(_POINTS)))
    chosen = rng.choice(len(_POINTS), size=n_points, replace=False)
    topic = " ".join(prompt.split()[:8]).rstrip("?.!:")
    opener = _STYLE_OPENERS.get(style, "Here is my answer.")
    body = " ".join(f"{k + 1}. {_POINTS[int(i)].capitalize()}." for k, i in enumerate(chosen))
    text = f"{opener} On \u201c{topic}\u201d: {body}\n[sim quality={quality:.1f}]"
    return SimAnswer(
        text=text,
        quality=quality,
        prompt_tokens=_estimate_tokens(prompt),
        completion_tokens=_estimate_tokens(text),
    )


def sim_quality(text: str) -> float | None:
    """The quality marker of a simulated answer (the last one), or ``None``."""
    found = SIM_MARKER.findall(text)
    return float(found[-1]) if found else None
