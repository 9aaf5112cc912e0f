from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_redis(client, redis_url):
    response = client.get("/healthz")
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    # No worker runs in this test: the service is degraded and says so with a 503.
    assert body["checks"]["workers"]["status"] == "down"
    assert response.status_code == 503


def test_healthz_is_503_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "down"
