"""``Idempotency-Key`` for writes that clients retry (the pretix pattern).

The first request with a key claims an :class:`IdempotencyRecord` (unique per scope and
key) and stores its response; a retry with the same key and body replays that response and
never repeats the write; a retry while the first is still running gets 409; the same key
with a different body gets 422. Server errors are not stored, so a retry after one runs
again. A claim older than ``STALE_SECONDS`` without a response (its process died) is taken over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from arena.api.errors import error_body, exception_handler
from arena.exceptions import ApplicationError
from arena.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 200
STALE_SECONDS = 60


def _request_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _claim(*, scope: str, key: str, body_hash: str) -> IdempotencyRecord:
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=body_hash)
    return IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=body_hash)


def idempotent(request: Any, *, scope: str, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` at most once per (``scope``, ``Idempotency-Key``); see the module doc."""
    key = request.META.get(HEADER)
    if key is None:
        return handler()
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        return Response(
            error_body("invalid", f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters."), status=400
        )
    body_hash = _request_hash(request.data)
    try:
        record = _claim(scope=scope, key=key, body_hash=body_hash)
    except IntegrityError:
        record = IdempotencyRecord.objects.get(scope=scope, key=key)
        if record.request_hash != body_hash:
            return Response(
                error_body(
                    "idempotency_mismatch",
                    "This Idempotency-Key was already used with a different request body; use a new key.",
                ),
                status=422,
            )
        if record.status_code is not None:
            response = Response(record.response, status=record.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        stale_before = timezone.now() - timedelta(seconds=STALE_SECONDS)
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, status_code__isnull=True, created_at__lt=stale_before
        ).update(created_at=timezone.now())
        if not taken:
            return Response(
                error_body("in_flight", "A request with this Idempotency-Key is still being processed; retry shortly."),
                status=409,
            )
    try:
        # The write and its stored response commit together: a crash between them cannot
        # leave a write without its replayable response.
        with transaction.atomic():
            response = handler()
            if response.status_code < 500:
                _store(record.pk, response)
    except (ApplicationError, APIException) as exc:
        response = exception_handler(exc, {"request": request})
        if response is None:  # pragma: no cover
            raise
        if response.status_code < 500:
            _store(record.pk, response)
    except Exception:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    return response


def _store(pk: int, response: Response) -> None:
    IdempotencyRecord.objects.filter(pk=pk).update(status_code=response.status_code, response=response.data)
