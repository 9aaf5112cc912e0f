"""A rough token count for text whose usage the server did not report."""

from __future__ import annotations

__all__ = ["estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """About 1.3 tokens per whitespace-separated word (at least 1 for non-empty text)."""
    return max(1, round(len(text.split()) * 1.3)) if text else 0
