"""Pruning of short-lived bookkeeping rows (run hourly by the scheduler).

Two tables grow with traffic but are only needed for a while:

- :class:`IdempotencyRecord`: a client retries a write within seconds or minutes; a record
  older than ``LUDUS_IDEMPOTENCY_RETENTION_HOURS`` (24 h, as Stripe keeps keys) is deleted,
  after which the same key counts as new. (A vote retried that late is still refused as
  ``already_voted``: the vote itself is the lasting guard.)
- :class:`BattleServe` rows that were **never voted on**: once their token has expired (plus
  an hour of margin) nothing can use them. Voted serves stay: each vote refers to its serve,
  the record of what the voter was shown.

Deletes go in batches of ``batch_size`` rows, each its own short transaction, so the hot
tables are never locked for long. Votes, battles and judgments are append-only and never
pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from arena.models import BattleServe, IdempotencyRecord
from arena.services.votes import battle_token_max_age

SERVE_MARGIN = timedelta(hours=1)


def idempotency_retention() -> timedelta:
    return timedelta(hours=settings.LUDUS_IDEMPOTENCY_RETENTION_HOURS)


def _delete_in_batches(queryset: object, *, batch_size: int) -> int:
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])  # type: ignore[attr-defined]
            if not ids:
                return deleted
            queryset.model.objects.filter(pk__in=ids).delete()  # type: ignore[attr-defined]
        deleted += len(ids)
        if len(ids) < batch_size:
            return deleted


def prune_expired(*, now: datetime | None = None, batch_size: int = 5000) -> dict[str, int]:
    """Delete expired Idempotency-Key records and never-voted serves; counts deleted."""
    now = now or timezone.now()
    records = IdempotencyRecord.objects.filter(created_at__lt=now - idempotency_retention())
    serves = BattleServe.objects.filter(
        voted_at__isnull=True,
        served_at__lt=now - timedelta(seconds=battle_token_max_age()) - SERVE_MARGIN,
    ).exclude(vote__isnull=False)
    return {
        "idempotency_records": _delete_in_batches(records, batch_size=batch_size),
        "unvoted_serves": _delete_in_batches(serves, batch_size=batch_size),
    }
