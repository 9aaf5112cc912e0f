"""Shared fixtures and helpers of the API tests (imported by the test_api_* modules)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from arena import models as m
from tests.factories import CompetitorFactory, MatchFactory, PromptFactory, UserFactory

API = "/api/v1"


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, raw = m.ApiKey.issue(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def tournament_body(competitors, prompt_set, /, **over) -> dict:
    """A valid tournament-create body (a round robin, the default judge) updated with ``over``."""
    return {
        "name": "Cup",
        "format": "round_robin",
        "competitors": [c.name for c in competitors],
        "prompt_sets": [prompt_set.name],
        "config": {},
        "judge_pipeline": {},
        **over,
    }


def counts() -> dict[str, int]:
    """Row counts of every table an API write may touch (to assert 'database unchanged')."""
    tables = [
        m.Competitor,
        m.Tournament,
        m.Entry,
        m.Match,
        m.BattleServe,
        m.Vote,
        m.Battle,
        m.PairCount,
        m.ImportBatch,
        m.IdempotencyRecord,
        m.ApiKey,
        m.LeaderboardSnapshot,
    ]
    return {t.__name__: t.objects.count() for t in tables}


def servable_match(
    *, category: str = "", a=None, b=None, status=m.Match.Status.AWAITING_VOTES
) -> m.Match:
    match = MatchFactory(
        competitor_a=a or CompetitorFactory(),
        competitor_b=b or CompetitorFactory(),
        prompt=PromptFactory(category=category, prompt_set__public=True),  # an open-arena prompt
        status=status,
    )
    m.Generation.objects.create(
        match=match,
        side="a",
        competitor=match.competitor_a,
        text=f"answer of {match.competitor_a.name}",
    )
    m.Generation.objects.create(
        match=match,
        side="b",
        competitor=match.competitor_b,
        text=f"answer of {match.competitor_b.name}",
    )
    return match


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def owner(db):
    return UserFactory(username="owner")


@pytest.fixture
def other(db):
    return UserFactory(username="other")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def admin_client(admin) -> APIClient:
    return client_for(admin)


@pytest.fixture
def owner_client(owner) -> APIClient:
    return client_for(owner)


@pytest.fixture
def other_client(other) -> APIClient:
    return client_for(other)


@pytest.fixture
def public_ip(monkeypatch):
    """Host names resolve to a public documentation-free address (no network in tests)."""
    from clients import urlguard

    monkeypatch.setattr(urlguard, "resolve_host", lambda host: ["93.184.215.14"])


@pytest.fixture
def private_cache(settings):
    """A cache of this test's own: other test runs sharing the Redis DB may clear it meanwhile."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "lb-test",
        }
    }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert response.status_code == status, (
        response.status_code,
        getattr(response, "data", response.content),
    )
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "fields"} <= set(body["error"]), body
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    if field is not None:
        assert field in body["error"]["fields"], body
    return body["error"]
