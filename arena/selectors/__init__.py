"""Reads for the API and the pages (no writes); shared helpers."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_key(prefix: str, *parts: Any) -> str:
    """A cache key naming exactly its inputs (stable across processes, unlike ``hash()``)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[
        :32
    ]
    return f"{prefix}:{digest}"
