"""The OpenAI-compatible chat-completions client.

:func:`chat_completion` posts to ``{base_url}/chat/completions`` with httpx, records latency,
tokens and cost, and retries transient failures (timeouts, connection errors, 429 and 5xx)
with exponential back-off and full jitter, honouring ``Retry-After``. Every attempt holds a
lease from the endpoint's limiter (:mod:`clients.limits`) and reports its outcome to it.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from clients.backoff import backoff_delay, parse_retry_after
from clients.config import EndpointConfig
from clients.errors import PermanentEndpointError, TransientEndpointError
from clients.limits import InflightLimiter, acquire
from clients.tokens import estimate_tokens

__all__ = ["Completion", "chat_completion", "completion_cost"]


@dataclass(frozen=True)
class Completion:
    """One successful chat completion."""

    text: str
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    attempts: int = 1


def completion_cost(
    *,
    prompt_tokens: int,
    completion_tokens: int,
    price_prompt_per_1k: float,
    price_completion_per_1k: float,
) -> Decimal:
    """The price of one call (prices per 1,000 tokens), to the micro-unit."""
    cost = (
        Decimal(str(price_prompt_per_1k)) * prompt_tokens
        + Decimal(str(price_completion_per_1k)) * completion_tokens
    ) / 1000
    return cost.quantize(Decimal("0.000001"))


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
    """The completion in a 200 answer; ``ValueError`` (saying what is wrong) if it is malformed."""
    try:
        data = response.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ValueError(
            f"{config.base_url} did not return a chat completion "
            "(choices[0].message.content missing)"
        ) from None
    if not isinstance(text, str):
        raise ValueError(f"{config.base_url} returned non-text content")
    try:
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or estimate_tokens(text))
    except (AttributeError, ValueError, TypeError):
        raise ValueError(f"{config.base_url} returned malformed token usage") from None
    return Completion(
        text=text,
        latency_ms=latency_ms,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=completion_cost(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            price_prompt_per_1k=config.price_prompt_per_1k,
            price_completion_per_1k=config.price_completion_per_1k,
        ),
        attempts=attempts,
    )
