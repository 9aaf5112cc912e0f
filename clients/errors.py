"""The errors a model or judge endpoint call can raise."""

from __future__ import annotations

__all__ = ["EndpointError", "PermanentEndpointError", "TransientEndpointError"]


class EndpointError(Exception):
    """A model endpoint call failed."""


class TransientEndpointError(EndpointError):
    """Worth retrying later: timeouts, connection errors, 429, 5xx, throttling, and a 200
    whose body is not a chat completion (an intermittently faulty server).

    ``retry_after`` (seconds) is set when the server asked for a longer wait than the
    client's back-off cap: the caller should come back no sooner.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentEndpointError(EndpointError):
    """Retrying will not help: 4xx (other than 408/429), bad config."""
