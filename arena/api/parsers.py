"""The API's JSON parser: DRF's, plus the text rule of :mod:`arena.validation` on every string."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from arena.validation import json_problem


class JSONParser(parsers.JSONParser):
    """Refuses a body holding a string the database could not store (NUL, lone surrogates,
    control characters) with a 400 naming the field, whatever serializer reads it next."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        problem = json_problem(data)
        if problem is not None:
            field, message = problem
            raise ValidationError({field: [message]})
        return data
