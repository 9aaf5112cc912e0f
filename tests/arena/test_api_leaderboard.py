"""leaderboard/: served from cache, ETag/304, versions, the index, clear 404s, query counts."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from arena import models as m
from arena.api.views import leaderboard as leaderboard_views
from arena.services.leaderboard import cache_key, snapshot_publish
from tests.arena.test_api_common import API, assert_error

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db


def _publish(
    version_ratings=1000.0, method="bt", source="combined", category="all", data_version="d1"
):
    return snapshot_publish(
        method=method,
        source=source,
        category=category,
        data_version=data_version,
        params={"scale": 400},
        ratings=[
            {
                "model": "x",
                "competitor_id": None,
                "rating": version_ratings,
                "lower": None,
                "upper": None,
                "rank": 1,
                "battles": 3,
                "win_rate": 0.5,
            }
        ],
        n_battles=3,
        compute_ms=1,
    )


def test_latest_from_cache_without_queries(anon, django_assert_num_queries, private_cache):
    _publish()
    with django_assert_num_queries(0):
        r = anon.get(f"{API}/leaderboard/")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == 1 and body["ratings"][0]["rating"] == 1000.0
    assert r["ETag"] == '"bt.combined.all.v1.d1"'
    assert r["Cache-Control"] == "public, max-age=5"


def test_cold_cache_reads_one_row_and_refills(anon, django_assert_num_queries, private_cache):
    _publish()
    cache.delete_many(
        [cache_key("bt", "combined", "all"), cache_key("bt", "combined", "all") + ":etag"]
    )
    leaderboard_views.rendered_forget()
    with django_assert_num_queries(1):
        assert anon.get(f"{API}/leaderboard/").status_code == 200
    with django_assert_num_queries(0):
        assert anon.get(f"{API}/leaderboard/").status_code == 200


def test_etag_304(anon, private_cache):
    _publish()
    etag = anon.get(f"{API}/leaderboard/")["ETag"]
    r = anon.get(f"{API}/leaderboard/", HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 304 and r.content == b"" and r["ETag"] == etag
    assert anon.get(f"{API}/leaderboard/", HTTP_IF_NONE_MATCH='"other"').status_code == 200
    _publish(1100.0, data_version="d2")
    r = anon.get(f"{API}/leaderboard/", HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r.json()["version"] == 2


def test_versions_and_scopes(anon, private_cache):
    _publish(1000.0)
    _publish(1100.0, data_version="d2")
    _publish(900.0, method="elo", source="human", category="coding")
    v1 = anon.get(f"{API}/leaderboard/?version=1")
    assert v1.json()["ratings"][0]["rating"] == 1000.0 and "immutable" in v1["Cache-Control"]
    assert anon.get(f"{API}/leaderboard/").json()["version"] == 2
    r = anon.get(f"{API}/leaderboard/?method=elo&source=human&category=coding")
    assert r.json()["ratings"][0]["rating"] == 900.0
    idx = anon.get(f"{API}/leaderboard/available/").json()
    assert {"method": "elo", "source": "human", "category": "coding", "latest_version": 1} in idx[
        "available"
    ]
    assert "coding" in idx["categories"] and "expected_score" in idx["methods"]


def test_missing_and_bad_queries(anon, private_cache):
    err = assert_error(anon.get(f"{API}/leaderboard/"), 404, "not_found")
    assert "method=bt" in err["message"]
    _publish()
    assert_error(anon.get(f"{API}/leaderboard/?version=7"), 404, "not_found")
    assert_error(anon.get(f"{API}/leaderboard/?method=magic"), 400, "invalid", "method")
    assert_error(anon.get(f"{API}/leaderboard/?source=aliens"), 400, "invalid", "source")
    assert_error(anon.get(f"{API}/leaderboard/?version=abc"), 400, "invalid", "version")
    assert m.LeaderboardSnapshot.objects.count() == 1


def test_never_computed_in_request(anon, monkeypatch, private_cache):
    from arena.services import leaderboard

    def boom(*a, **k):
        raise AssertionError("computed in the request")

    monkeypatch.setattr(leaderboard, "leaderboard_rebuild", boom)
    m.Battle.objects.all()  # battles exist or not: the view only reads snapshots
    assert anon.get(f"{API}/leaderboard/").status_code == 404
