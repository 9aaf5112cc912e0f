"""Prices set by admins, and the cost of an answer.

Only staff set a model's price (the admin site or ``POST /api/v1/models/{id}/price/``): input
and output prices per million tokens in the deployment's currency
(``settings.LUDUS_COST_CURRENCY``), with the provider's public price, its source URL and the
date it was read beside them for reference. Prices are append-only; the latest is current.

The cost of an answer is fixed when the answer is stored, from one of three bases
(:class:`arena.models.CostBasis`):

- ``admin``: the model has an admin price; ``(input · prompt tokens + output · completion
  tokens) / 10^6``, and the answer points at the price row. An admin price always wins.
- ``declared``: no admin price, but the endpoint's parameters declare one
  (``price_prompt_per_1k``, ``price_completion_per_1k``): the client's cost from it. The
  declaration is kept when an admin sets a price, but no longer used.
- ``none``: no price at all; the cost is unknown and stored as 0, and the usage figures leave
  such answers out of the cost (they would read as free).

A new price applies to answers stored after it; earlier answers keep the cost they were given
(the record of what they cost then).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from arena.exceptions import ApplicationError
from arena.models import Competitor, CostBasis, Price
from arena.selectors.prices import price_current
from clients import Completion

#: The endpoint parameters in which a submitter's price is declared (per 1,000 tokens).
DECLARED_PRICE_PARAMS = ("price_prompt_per_1k", "price_completion_per_1k")
MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.000001")
#: Largest amount a price field holds (``max_digits=14, decimal_places=6``).
MAX_PRICE = Decimal("99999999.999999")


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError("Invalid input.", field_errors={field: [message]})


def _amount(field: str, value: Any, *, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise _invalid(field, "This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _invalid(field, f"Expected a number (per million tokens); got {value!r}.")
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        raise _invalid(field, f"Expected a number (per million tokens); got {value!r}.") from None
    if not amount.is_finite():
        raise _invalid(field, f"Expected a finite number; got {value!r}.")
    if amount < 0:
        raise _invalid(field, f"A price cannot be negative; got {value!r}.")
    if amount > MAX_PRICE:
        raise _invalid(field, f"At most {MAX_PRICE} per million tokens; got {value!r}.")
    return amount.quantize(COST_QUANTUM)


def price_set(
    *,
    competitor: Competitor,
    input_per_mtok: Any,
    output_per_mtok: Any,
    currency: str | None = None,
    public_input_per_mtok: Any = None,
    public_output_per_mtok: Any = None,
    public_source_url: str = "",
    public_checked_on: datetime.date | None = None,
    note: str = "",
    set_by: str = "",
) -> tuple[Price, bool]:
    """Set a model's price (staff only: the caller checks); returns ``(price, created)``.

    A price equal in every field to the current one adds no row (a retried request is
    harmless): the current row is returned with ``created`` false.

    Raises
    ------
    ApplicationError
        Field errors: a missing, negative, non-numeric or too large amount; a currency other
        than the deployment's; a source URL that is not http(s); a note too long.
    """
    expected = settings.LUDUS_COST_CURRENCY
    currency = (currency or expected).strip().upper()
    if public_source_url:
        try:
            URLValidator(schemes=["http", "https"])(public_source_url)
        except ValidationError:
            raise _invalid(
                "public_source_url", f"Expected an http(s) URL; got {public_source_url!r}."
            ) from None
        if len(public_source_url) > 500:
            raise _invalid("public_source_url", "At most 500 characters.")
    if len(note or "") > 300:
        raise _invalid("note", "At most 300 characters.")
    if currency != expected:
        raise _invalid(
            "currency",
            f"Prices are in {expected} (LUDUS_COST_CURRENCY); got {currency!r}. "
            "Convert the price first.",
        )
    fields = {
        "currency": currency,
        "input_per_mtok": _amount("input_per_mtok", input_per_mtok, required=True),
        "output_per_mtok": _amount("output_per_mtok", output_per_mtok, required=True),
        "public_input_per_mtok": _amount(
            "public_input_per_mtok", public_input_per_mtok, required=False
        ),
        "public_output_per_mtok": _amount(
            "public_output_per_mtok", public_output_per_mtok, required=False
        ),
        "public_source_url": public_source_url or "",
        "public_checked_on": public_checked_on,
        "note": note or "",
    }
    with transaction.atomic():
        Competitor.objects.select_for_update().filter(pk=competitor.pk).exists()
        current = price_current(competitor_id=competitor.pk)
        if current is not None and all(getattr(current, k) == v for k, v in fields.items()):
            return current, False
        return Price.objects.create(competitor=competitor, set_by=set_by, **fields), True


def token_cost(*, price: Price, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """The cost of one answer at an admin price (to the micro-unit, half to even)."""
    total = price.input_per_mtok * prompt_tokens + price.output_per_mtok * completion_tokens
    return (total / MILLION).quantize(COST_QUANTUM)


def answer_cost(
    *, competitor: Competitor, completion: Completion
) -> tuple[Decimal, str, Price | None]:
    """An answer's cost, the basis it was computed from and the admin price used (if any).

    See the module docstring for the rule: the admin price, else the endpoint's declared
    price (the client already costed the completion with it), else none (cost 0, unknown).
    """
    price = price_current(competitor_id=competitor.pk)
    if price is not None:
        cost = token_cost(
            price=price,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
        return cost, CostBasis.ADMIN, price
    params = competitor.params or {}
    if competitor.kind == Competitor.Kind.OPENAI and any(
        k in params for k in DECLARED_PRICE_PARAMS
    ):
        return completion.cost, CostBasis.DECLARED, None
    return Decimal(0), CostBasis.NONE, None
