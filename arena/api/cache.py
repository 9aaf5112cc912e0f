"""Django's Redis cache backend with one redis client per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` object (about 170
response callbacks registered in its constructor) on every cache call; on the vote path that
was a measurable share of the request (the throttle pipeline and the leaderboard-rebuild
debounce each paid it). The client is a thin, thread-safe wrapper around the connection
pool, so one per pool is reused. Everything else is Django's backend.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    """``RedisCacheClient`` that builds one ``redis.Redis`` per connection pool, not per call."""

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's private API
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        clients = self.__dict__.setdefault("_clients_by_pool", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(DjangoRedisCache):
    """Django's ``RedisCache`` using :class:`ReusingRedisCacheClient`."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
