"""The Celery broker transport: kombu's Redis transport, made to survive a Redis restart.

When the broker connection drops, the worker's consumer calls ``Connection.collect()``,
which closes the channels and then detaches the transport (``transport.client = None``), but
keeps its default channel; the following ``Connection.close()`` closes that channel again, and
with acknowledged-late tasks in flight the channel's restore of unacknowledged messages needs
the detached ``client`` to build a Redis client: ``AttributeError: 'NoneType' object has no
attribute 'hostname'`` (not a connection error), and the worker exits ("Unrecoverable error").
The acknowledgements of the tasks still running on that channel fail the same way.

Here the transport keeps the connection details it was made with, so a collected channel can
still reach Redis: unacknowledged messages are restored (or, while Redis is down, left for the
visibility timeout to restore) and the in-flight tasks acknowledge once Redis is back; the
consumer reconnects (``broker_connection_retry``) and the worker carries on. Steps are
idempotent, so a message both restored and finished is not counted twice.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Transport(redis.Transport):
    """``redis.Transport`` whose ``client`` (connection details) outlives ``Connection.collect``."""

    @property
    def client(self) -> Any:
        return self._client

    @client.setter
    def client(self, value: Any) -> None:
        if (
            value is not None
        ):  # kombu detaches a collected transport; its channels still need the details
            self._client = value
