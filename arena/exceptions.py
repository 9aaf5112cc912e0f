"""The one application error type; the API handler turns it into one JSON error shape."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business-rule violation a client can fix.

    ``field_errors`` maps a field name to a list of messages (DRF's shape);
    ``status`` is the HTTP status the API returns (400 unless said otherwise).
    """

    def __init__(
        self,
        message: str,
        *,
        field_errors: dict[str, list[str]] | None = None,
        code: str = "invalid",
        status: int = 400,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}
        self.code = code
        self.status = status
        self.extra = extra or {}


class NotFound(ApplicationError):
    def __init__(self, message: str = "Not found.", **kwargs: Any) -> None:
        super().__init__(message, code="not_found", status=404, **kwargs)


class Conflict(ApplicationError):
    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, code="conflict", status=409, **kwargs)
