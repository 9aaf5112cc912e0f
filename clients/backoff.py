"""How long to wait before retrying a call: full-jitter exponential back-off and Retry-After."""

from __future__ import annotations

import email.utils
import random
import time

__all__ = ["backoff_delay", "parse_retry_after"]


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
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); ``None`` if absent or invalid."""
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
