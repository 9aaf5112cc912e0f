"""Shared fixtures.

Tests that need Redis, a Celery worker or a browser skip when those are missing on a
developer's machine, but fail in CI (``LUDUS_REQUIRE_SERVICES=1``), where nothing may be
skipped for want of a service.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("LUDUS_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis
    from django.conf import settings

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        skip_or_fail(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    return settings.REDIS_URL


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    path = Path(os.environ.get("LUDUS_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _clear_cache(request: pytest.FixtureRequest):
    """Each database test starts with an empty cache (the cache holds leaderboard snapshots)."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        yield
        return
    from django.core.cache import cache

    with contextlib.suppress(Exception):  # Redis down on a laptop: cache tests skip on their own
        cache.clear()
    yield
