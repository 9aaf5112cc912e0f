"""One JSON error shape for every API error.

``{"error": {"code": ..., "message": ..., "fields": {field: [messages]}}}``
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from arena.exceptions import ApplicationError


def _flatten(detail: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            if key != "non_field_errors":
                _field_messages(value, str(key), fields)
        general = detail.get("non_field_errors")
        message = str(general[0]) if general else "Invalid input."
        return message, fields
    if isinstance(detail, list):
        return (str(detail[0]) if detail else "Invalid input."), {}
    return str(detail), {}


def _field_messages(detail: Any, path: str, out: dict[str, list[str]]) -> None:
    """Put a field's messages in ``out`` under flat dotted paths (``ranking.0``, ``config.a``).

    DRF nests the errors of list items and nested serializers (``{"ranking": {"0": [...]}}``,
    ``[{}, {"name": [...]}]``); the API's error shape is one list of messages per field.
    """
    if isinstance(detail, dict):
        for key, value in detail.items():
            _field_messages(value, path if key == "non_field_errors" else f"{path}.{key}", out)
    elif isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        for i, item in enumerate(detail):
            _field_messages(item, f"{path}.{i}", out)
    elif isinstance(detail, list):
        out.setdefault(path, []).extend(str(item) for item in detail)
    else:
        out.setdefault(path, []).append(str(detail))


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


#: Seconds a client is told to wait (``Retry-After``) while the database is unreachable.
DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable_response() -> JsonResponse:
    """503 in the API's error shape, with ``Retry-After``: the database is down or restarting."""
    body = error_body(
        "database_unavailable",
        "The database is unavailable; nothing was changed. Try again shortly.",
    )
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        body = error_body(exc.code, exc.message, exc.field_errors)
        body["error"].update(exc.extra)
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = getattr(exc, "message_dict", None)
        exc = exceptions.ValidationError(detail=fields or exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message, fields = _flatten(exc.detail)
        code = "invalid"
    else:
        message, fields = _flatten(
            exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        )
        code = getattr(exc, "default_code", "error")
        if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
            code = "throttled"
    response.data = error_body(code, message, fields)
    return response
