"""Property-based API tests: schemathesis generates requests from the live OpenAPI schema.

Every operation is exercised as an admin (the widest permissions) against the WSGI app
with some data in the database; no request may cause a server error, and every response
must match the schema the API publishes. A second run sends every read operation hostile
query strings (NUL and other control characters, over-long values) in the parameters the
schema declares: PostgreSQL refuses NUL in text, so a value that reached a query was a 500.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
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
        method="bt",
        source="combined",
        category="all",
        data_version="d",
        params={},
        ratings=[
            {
                "model": "st-0",
                "competitor_id": None,
                "rating": 1000.0,
                "lower": None,
                "upper": None,
                "rank": 1,
            }
        ],
        n_battles=1,
        compute_ms=0,
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


hostile_schema = _load_schema().include(method="GET")
HOSTILE = ["\x00", "a\x00b", "\x1f", "\x7f", "z" * 1001]


@hostile_schema.hook
def flatmap_query(ctx, query):
    """The generated query, with every value or with one value made hostile."""
    if not query:
        return st.just(query)
    every = st.sampled_from(HOSTILE).map(lambda bad: {k: f"{v}{bad}" for k, v in query.items()})
    one = st.tuples(st.sampled_from(sorted(query)), st.sampled_from(HOSTILE)).map(
        lambda kv: {**query, kv[0]: f"{query[kv[0]]}{kv[1]}"}
    )
    return every | one


@hostile_schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_query_strings_are_refused(case, admin_headers):
    case.call_and_validate(
        headers=admin_headers, checks=[not_a_server_error, content_type_conformance]
    )
