"""Admin prices: a model's current price and its history (see :mod:`arena.services.prices`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Max

from arena.models import Price


def prices_current(*, competitors: Any) -> dict[int, Price]:
    """The current admin price (the latest) of each of ``competitors`` (ids or a queryset)
    that has one, by competitor id, in one query."""
    latest = (
        Price.objects.filter(competitor__in=competitors)
        .values("competitor_id")
        .annotate(last=Max("id"))
        .values("last")
    )
    return {p.competitor_id: p for p in Price.objects.filter(id__in=latest)}


def price_current(*, competitor_id: int) -> Price | None:
    """The model's current admin price (its latest), or ``None``."""
    return prices_current(competitors=[competitor_id]).get(competitor_id)


def price_history(*, competitor_id: int) -> list[Price]:
    """Every admin price the model has had, newest first."""
    return list(Price.objects.filter(competitor_id=competitor_id).order_by("-id"))


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def price_to_dict(price: Price | None) -> dict[str, Any] | None:
    """The public fields of a price; ``None`` for no price.

    Amounts are exact decimal strings and dates ISO 8601 strings, so the page, which renders
    this dict, and the API, which serialises it, hold the same values.
    """
    if price is None:
        return None
    return {
        "id": price.pk,
        "currency": price.currency,
        "input_per_mtok": _amount(price.input_per_mtok),
        "output_per_mtok": _amount(price.output_per_mtok),
        "public_input_per_mtok": _amount(price.public_input_per_mtok),
        "public_output_per_mtok": _amount(price.public_output_per_mtok),
        "public_source_url": price.public_source_url,
        "public_checked_on": (
            price.public_checked_on.isoformat() if price.public_checked_on else None
        ),
        "note": price.note,
        "created_at": price.created_at.isoformat(),
    }


def competitor_prices(*, competitor_id: int) -> dict[str, Any]:
    """The current admin price (``None`` when there is none) and every earlier one."""
    history = price_history(competitor_id=competitor_id)
    return {
        "competitor_id": competitor_id,
        "current": price_to_dict(history[0]) if history else None,
        "history": [price_to_dict(p) for p in history],
    }
