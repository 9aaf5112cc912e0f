"""The one check for text from outside, before it reaches a view, a query or the database.

Every query string (pages and API: :class:`QueryStringMiddleware`), every JSON body of the
API (:class:`arena.api.parsers.JSONParser`) and every imported battle row (the battle reader,
:func:`ranking.battle_files.read_battles`) goes through :func:`ranking._validation.text_problem`:
no control characters (PostgreSQL cannot store NUL; a lone surrogate cannot be encoded) and
no over-long values. Bad input gets a 400 naming the field, never a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render

from ranking._validation import text_problem

#: Longest query-string value (a name, a category, a search) any page or endpoint accepts.
QUERY_VALUE_MAX_LENGTH = 1000
#: Longest query-string parameter name.
QUERY_NAME_MAX_LENGTH = 100


def _sentence(problem: str) -> str:
    return problem[0].upper() + problem[1:] + "."


def query_problems(query: QueryDict) -> dict[str, list[str]]:
    """Field errors of a query string: ``{parameter: [message]}``, empty when it is clean."""
    problems: dict[str, list[str]] = {}
    for name, values in query.lists():
        problem = text_problem(name, max_length=QUERY_NAME_MAX_LENGTH)
        if problem:
            problems[name[:QUERY_NAME_MAX_LENGTH]] = [_sentence(f"the parameter name {problem}")]
            continue
        for value in values:
            problem = text_problem(value, max_length=QUERY_VALUE_MAX_LENGTH)
            if problem:
                problems[name] = [_sentence(problem)]
                break
    return problems


def json_problem(data: Any) -> tuple[str, str] | None:
    """The first string (value or key) of a decoded JSON document that breaks the text rule.

    Returns ``(path, message)``, the path in the field style of the API errors
    (``judge_pipeline.judges[0].name``), or ``None`` when every string is clean.
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return path or "body", _sentence(problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                problem = text_problem(str(key), max_length=QUERY_VALUE_MAX_LENGTH)
                if problem:
                    return path or "body", _sentence(f"a key {problem}")
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def bad_query_response(request: HttpRequest, problems: dict[str, list[str]]) -> HttpResponse:
    """400: the API's JSON error shape under ``/api/``, the 400 page elsewhere."""
    # Imported here, not at the top: DRF's settings import our parser, which imports this module.
    from arena.api.errors import error_body

    if request.path.startswith("/api/"):
        return JsonResponse(error_body("invalid", "Invalid query string.", problems), status=400)
    return render(request, "400.html", {"problems": problems}, status=400)


class QueryStringMiddleware:
    """Refuses a request whose query string breaks the text rule, before any view reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("QUERY_STRING"):
            problems = query_problems(request.GET)
            if problems:
                return bad_query_response(request, problems)
        return self.get_response(request)
