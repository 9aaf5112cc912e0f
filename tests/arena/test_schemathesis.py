"""Property-based API tests: schemathesis generates requests from the live OpenAPI schema.

Every operation is exercised as an admin (the widest permissions) against the WSGI app
with some data in the database; no request may cause a server error, and every response
must match the schema the API publishes.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from arena import models as m
from tests.arena.test_api_common import servable_match
from tests.factories import CompetitorFactory, TournamentFactory, UserFactory

pytest_plugins = ["tests.arena.test_api_common"]


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: requests must not close the test's database connection
    (``close_old_connections`` would, since a test runs inside a transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_headers(db, settings, private_cache, keep_test_connection):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.update({k: "100000/min" for k in rates})
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    admin = UserFactory(username="schema-admin", is_staff=True, is_superuser=True)
    for i in range(3):
        CompetitorFactory(name=f"st-{i}")
    t = TournamentFactory()
    m.Entry.objects.create(tournament=t, competitor=m.Competitor.objects.first(), seed=1)
    for _ in range(3):
        servable_match()
    from arena.services.leaderboard import snapshot_publish

    snapshot_publish(
        method="bt", source="combined", category="all", data_version="d", params={},
        ratings=[{"model": "st-0", "competitor_id": None, "rating": 1000.0, "lower": None, "upper": None, "rank": 1}],
        n_battles=1, compute_ms=0,
    )
    _, raw = m.ApiKey.issue(user=admin)
    return {"Authorization": f"Token {raw}"}


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    """Generated JSON Lines bodies: one JSON document per line (or raw text as is)."""
    import json

    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def _load_schema():
    from arena.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


schema = _load_schema()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_schema(case, admin_headers):
    case.call_and_validate(
        headers=admin_headers,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
