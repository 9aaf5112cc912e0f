"""Request middleware: an unreachable database answers 503, not a 500 with a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from arena.api.errors import DATABASE_RETRY_AFTER_SECONDS, database_unavailable_response

log = logging.getLogger(__name__)

_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unavailable</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
    "<h1>Ludus is briefly unavailable</h1><p>Our database is not answering. Please try again in a "
    "few seconds.</p></body></html>"
)


class DatabaseUnavailableMiddleware:
    """Turn a database connection error raised by a view into a 503 with ``Retry-After``.

    API paths get the API's JSON error shape, pages a plain page (no template: rendering one
    may touch the database again). One warning line per request, no traceback: while the
    database is down every request fails the same way. The broken connection is closed by
    Django at the end of the request and health-checked (``CONN_HEALTH_CHECKS``) on reuse.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.warning(
            "database unavailable, answered 503: %s %s: %s",
            request.method,
            request.path,
            str(exception).strip().splitlines()[0]
            if str(exception).strip()
            else type(exception).__name__,
        )
        if request.path.startswith("/api/"):
            response: HttpResponse = database_unavailable_response()
        else:
            response = HttpResponse(_PAGE, status=503, content_type="text/html; charset=utf-8")
            response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's flag: this line is the log
        return response
