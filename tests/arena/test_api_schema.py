"""The OpenAPI schema and Swagger UI are served locally (no CDN) and describe every route."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_schema_lists_the_versioned_routes():
    r = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for route in (
        "models/",
        "tournaments/",
        "battles/next/",
        "votes/",
        "leaderboard/",
        "battles/import/",
        "battles/export/",
        "accounts/keys/",
    ):
        assert f"/api/v1/{route}" in paths, route
    token = r.json()["components"]["securitySchemes"]["tokenAuth"]
    assert (token["type"], token["in"], token["name"]) == ("apiKey", "header", "Authorization")


def test_swagger_ui_uses_local_assets():
    r = APIClient().get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
