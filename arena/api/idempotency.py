"""``Idempotency-Key`` for writes that clients retry (the pretix pattern).

The first request with a key runs the write and stores its response in an
:class:`IdempotencyRecord` (unique per scope and key) **in the same transaction** as the
write, so one commit covers both and a crash can never leave a write without its replayable
response. A retry with the same key and body replays that response and never writes twice;
the same key with a different body gets 422; a retry while the first is still running
gets 409. Server errors are not stored, so a retry after one runs again.

"Still running" is detected on PostgreSQL with a transaction-scoped advisory lock on the
(scope, key) pair, taken with ``pg_try_advisory_xact_lock``: the first request holds it until
it commits, a concurrent one fails to take it and answers 409 at once instead of waiting.
(SQLite serialises write transactions, so there is nothing to detect.)

A key is almost always new, so the first attempt does not look its record up: it takes the
lock, runs the write and inserts the record, and the unique constraint refuses that insert
when a record for the key exists (a retry of a finished request, or a first request that
committed in the meantime). The request then rolls its own write back and tries again, this
time looking the record up while holding the lock (which sees any record the previous holder
committed), and answers from it.

A record without a response (written by an older version that claimed keys before running
the write) is "in flight" for ``STALE_SECONDS`` and taken over afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
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


class _Existing(Exception):
    """A record for the key exists (or the key is in flight): answer from it after rolling back."""

    def __init__(self, record: tuple[int, str, int | None, Any, datetime] | None) -> None:
        super().__init__()
        self.record = record


class _Raced(Exception):
    """A first request with the same key committed while this one ran: undo this one."""


def _lock(*, scope: str, key: str) -> bool:
    """Whether this transaction took the key's advisory lock (PostgreSQL; elsewhere ``True``)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 7321))", [f"{scope}\n{key}"]
        )
        return bool(cur.fetchone()[0])


def _find(*, scope: str, key: str) -> tuple[int, str, int | None, Any, datetime] | None:
    """The key's stored record, or ``None``."""
    return (
        IdempotencyRecord.objects.filter(scope=scope, key=key)
        .values_list("pk", "request_hash", "status_code", "response", "created_at")
        .first()
    )


def _lock_and_find(
    *, scope: str, key: str
) -> tuple[bool, tuple[int, str, int | None, Any, datetime] | None]:
    """``(locked, record)``: the key's advisory lock, then its stored record.

    The lock is taken first, so a lookup made while holding it sees any record that the
    previous holder committed.
    """
    locked = _lock(scope=scope, key=key)
    return locked, _find(scope=scope, key=key)


def _store(*, scope: str, key: str, body_hash: str, response: Response) -> None:
    """Store the response for the key; ``IntegrityError`` if a record for it already exists."""
    IdempotencyRecord.objects.create(
        scope=scope,
        key=key,
        request_hash=body_hash,
        status_code=response.status_code,
        response=response.data,
    )


def _answer(record: tuple[int, str, int | None, Any, datetime] | None, body_hash: str) -> Response:
    if record is None:
        return Response(
            error_body(
                "in_flight",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            ),
            status=409,
        )
    _, request_hash, status_code, data, _ = record
    if request_hash != body_hash:
        return Response(
            error_body(
                "idempotency_mismatch",
                "This Idempotency-Key was already used with a different request body; "
                "use a new key.",
            ),
            status=422,
        )
    if status_code is None:  # an older version's claim that is not stale yet
        return _answer(None, body_hash)
    response = Response(data, status=status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request: Any, *, scope: str, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` at most once per (``scope``, ``Idempotency-Key``); see the module doc.

    ``handler`` runs inside the transaction that stores its response; it must not commit on
    its own (nested ``atomic`` blocks are fine). ``ApplicationError`` and DRF exceptions it
    raises become stored (and replayed) error responses.
    """
    key = request.META.get(HEADER)
    if key is None:
        return handler()
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        return Response(
            error_body(
                "invalid", f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters."
            ),
            status=400,
        )
    body_hash = _request_hash(request.data)
    for attempt in range(3):
        try:
            with transaction.atomic():
                if attempt == 0:  # optimistic: a record, if any, refuses the final insert
                    locked = _lock(scope=scope, key=key)
                    record = None if locked else _find(scope=scope, key=key)
                else:
                    locked, record = _lock_and_find(scope=scope, key=key)
                if (
                    record is not None
                    and record[2] is None
                    and record[4] < timezone.now() - timedelta(seconds=STALE_SECONDS)
                    and locked
                ):
                    # A dead claim: take it over.
                    IdempotencyRecord.objects.filter(pk=record[0]).delete()
                    record = None
                elif record is not None or not locked:
                    raise _Existing(record)
                try:
                    response = handler()
                except (ApplicationError, APIException) as exc:
                    if connection.needs_rollback:  # the write failed: nothing of it may commit
                        raise
                    refused = exception_handler(exc, {"request": request})
                    if refused is None:  # pragma: no cover
                        raise
                    response = refused
                if response.status_code < 500:
                    try:
                        _store(scope=scope, key=key, body_hash=body_hash, response=response)
                    except IntegrityError:
                        raise _Raced from None
            return response
        except _Existing as found:
            return _answer(found.record, body_hash)
        except _Raced:
            continue  # this request's write is rolled back; the next pass answers from the record
        except (ApplicationError, APIException) as exc:
            # Refused after the transaction was spoiled (a constraint caught a race): store the
            # refusal on its own so a retry gets the same answer.
            refused = exception_handler(exc, {"request": request})
            if refused is None:  # pragma: no cover
                raise
            response = refused
            if response.status_code < 500:
                with contextlib.suppress(IntegrityError), transaction.atomic():
                    _store(scope=scope, key=key, body_hash=body_hash, response=response)
            return response
    raise ApplicationError(  # pragma: no cover - needs a record that vanishes, then a lost race
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        code="in_flight",
        status=409,
    )
