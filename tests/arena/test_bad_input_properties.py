"""Hypothesis-generated battle files through the import API and query strings through the
pages and the API list endpoints: never a 500, and a refused import stores nothing.

On PostgreSQL (the exported DATABASE_URL), which refuses NUL in text where SQLite stores it.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena import models as m
from tests.arena.test_api_common import API, counts, servable_match
from tests.factories import BattleFactory, CompetitorFactory, TournamentFactory, UserFactory
from tests.ranking.test_battles_properties import (
    battle_files,
    junk_text,
    mostly,
    nasty_battle_files,
)

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def staff_client(db, private_cache) -> Client:
    client = Client()
    client.force_login(UserFactory(username="prop-admin", is_staff=True, is_superuser=True))
    return client


@given(
    data=battle_files() | nasty_battle_files(),
    create_models=st.booleans(),
    skip_invalid=st.booleans(),
    fmt=st.sampled_from(["auto", "auto", "jsonl", "json", "csv", "pairs"]),
)
@SETTINGS
def test_import_never_fails_and_a_refusal_stores_nothing(
    staff_client, data, create_models, skip_invalid, fmt
):
    if not m.Competitor.objects.filter(name="alpha").exists():
        for name in ("alpha", "beta"):
            CompetitorFactory(name=name)
    before = counts()
    query = (
        f"fmt={fmt}&create_models={str(create_models).lower()}"
        f"&skip_invalid={str(skip_invalid).lower()}"
    )
    r = staff_client.post(f"{API}/battles/import/?{query}", {"file": SimpleUploadedFile("f", data)})
    assert r.status_code in (201, 400), (r.status_code, r.content[:500])
    after = counts()
    if r.status_code == 400:
        assert set(r.json()) == {"error"}
        assert after == before
    else:
        report = r.json()
        stored = (after["Battle"] - before["Battle"]) + (after["PairCount"] - before["PairCount"])
        assert stored == report["n_stored"] and after["ImportBatch"] == before["ImportBatch"] + 1
        assert after["Competitor"] - before["Competitor"] == len(report["created_models"])


#: What each page or list endpoint reads from its query string (plus pagination and ordering).
PATHS = {
    "/": ["method", "source", "category"],
    "/leaderboard.json": ["method", "source", "category"],
    "/models/": ["q"],
    "/models/{competitor}/": ["q"],
    "/tournaments/": ["q"],
    "/tournaments/{tournament}/": ["q"],
    "/vote": ["category"],
    f"{API}/models/": ["owner", "provider", "status", "kind", "search", "ordering", "page"],
    f"{API}/tournaments/": ["status", "format", "search", "ordering", "page"],
    f"{API}/tournaments/{{tournament}}/matches/": ["round", "details", "page"],
    f"{API}/leaderboard/": ["method", "source", "category", "version"],
    f"{API}/leaderboard/available/": ["method"],
    f"{API}/battles/next/": ["category"],
    f"{API}/battles/export/": ["format", "source", "category", "snapshot"],
    f"{API}/accounts/keys/": ["page", "ordering"],
    f"{API}/accounts/users/": ["page", "search"],
}
VALUES = st.one_of(
    st.sampled_from(
        ["bt", "elo", "combined", "human", "all", "me", "1", "true", "name", "-name", "acme", "qa"]
    ),
    st.text(max_size=8).map(lambda t: t + "\x00"),
    st.text(max_size=8).map(lambda t: "\ud800" + t),
    junk_text,
    st.text(max_size=30),
    st.just("z" * 1001),
    st.integers(-(2**70), 2**70).map(str),
)


def _encoded(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def query_strings(params: list[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(mostly(st.sampled_from(params), junk_text), VALUES)
    return st.lists(
        pair.map(lambda kv: f"{_encoded(kv[0])}={_encoded(kv[1])}")
        | st.sampled_from(["%", "%zz", "%ff%fe", "a=%00", "=", "&&", "a=b=c", ";x=1"]),
        min_size=1,
        max_size=4,
    ).map("&".join)


@pytest.fixture
def some_data(db) -> dict[str, int]:
    a, b = CompetitorFactory(name="qa", provider="acme"), CompetitorFactory(name="qb")
    BattleFactory(model_a=a, model_b=b)
    t = TournamentFactory()
    m.Entry.objects.create(tournament=t, competitor=a, seed=1)
    servable_match()
    return {"competitor": a.pk, "tournament": t.pk}


@pytest.mark.parametrize("path", list(PATHS))
def test_query_strings_never_fail(staff_client, some_data, path):
    @given(query=query_strings(PATHS[path]))
    @settings(SETTINGS, max_examples=20)
    def check(query: str) -> None:
        r = staff_client.get(path.format(**some_data) + "?" + query)
        assert r.status_code < 500, (path, query, r.status_code)
        if r.status_code == 400 and path.startswith(API):
            assert set(r.json()) == {"error"}

    check()
