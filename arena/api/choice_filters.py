"""Exact-match list filters on choice fields (``?status=running``), refused when not a choice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from django.db.models import Model, QuerySet

from arena.exceptions import ApplicationError

_M = TypeVar("_M", bound=Model)


def choice_filter(
    qs: QuerySet[_M], params: Mapping[str, str], choices: Mapping[str, Sequence[str]]
) -> QuerySet[_M]:
    """``qs`` filtered on each field of ``choices`` given in ``params``.

    A value that is not one of the field's choices is a 400 naming the field and the choices.
    """
    for field, allowed in choices.items():
        value = params.get(field)
        if value:
            if value not in allowed:
                raise ApplicationError(
                    "Invalid input.",
                    field_errors={field: [f"Must be one of {', '.join(allowed)}."]},
                )
            qs = qs.filter(**{field: value})
    return qs
