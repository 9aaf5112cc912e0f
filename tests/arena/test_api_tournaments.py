"""tournaments/: list and detail for all; create and control for admins only."""

from __future__ import annotations

import pytest

from arena import models as m
from tests.arena.test_api_common import API, assert_error, counts, tournament_body
from tests.factories import CompetitorFactory, TournamentFactory, prompt_set_with_prompts

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def field(db):
    comps = [CompetitorFactory(name=f"c{i}") for i in range(4)]
    return comps, prompt_set_with_prompts(3)  # an unpublished prompt for each round


def _create(client, field, **over):
    body = tournament_body(*field, **{"name": "Spring cup", "seed": 7, **over})
    return client.post(f"{API}/tournaments/", body, format="json")


def test_admin_creates_and_controls(admin_client, anon, field):
    r = _create(admin_client, field)
    assert r.status_code == 201, r.content
    t = r.json()
    assert (
        t["status"] == "draft" and t["competitors"] == ["c0", "c1", "c2", "c3"] and t["seed"] == 7
    )
    tid = t["id"]
    assert admin_client.post(f"{API}/tournaments/{tid}/start/").json()["status"] == "running"
    assert m.Match.objects.filter(tournament_id=tid).exists()
    assert admin_client.post(f"{API}/tournaments/{tid}/pause/").json()["status"] == "paused"
    assert_error(admin_client.post(f"{API}/tournaments/{tid}/pause/"), 409, "conflict")
    assert admin_client.post(f"{API}/tournaments/{tid}/resume/").json()["status"] == "running"
    progress = anon.get(f"{API}/tournaments/{tid}/progress/").json()
    assert progress["status"] == "running" and progress["matches_total"] >= 2
    assert admin_client.post(f"{API}/tournaments/{tid}/cancel/").json()["status"] == "cancelled"
    assert_error(admin_client.post(f"{API}/tournaments/{tid}/start/"), 409)


def test_everyone_reads_nobody_else_writes(owner_client, anon, field):
    t = TournamentFactory()
    assert anon.get(f"{API}/tournaments/").json()["count"] == 1
    assert anon.get(f"{API}/tournaments/{t.pk}/").json()["name"] == t.name
    before = counts()
    assert_error(_create(owner_client, field), 403)
    assert _create(anon, field).status_code in (401, 403)
    for op in ("start", "pause", "resume", "cancel"):
        assert_error(owner_client.post(f"{API}/tournaments/{t.pk}/{op}/"), 403)
        assert anon.post(f"{API}/tournaments/{t.pk}/{op}/").status_code in (401, 403)
    assert counts() == before


@pytest.mark.parametrize(
    "over,fields",
    [
        ({"competitors": ["c0", "nobody"]}, "competitors"),
        ({"competitors": ["c0", "c0"]}, "competitors"),
        ({"competitors": ["c0"]}, "competitors"),
        ({"format": "chess960"}, "format"),
        ({"config": {"rounds": 3}}, "config"),
        ({"seed": "abc"}, "seed"),
        ({"prompt_sets": ["missing-set"]}, "prompt_sets"),
        ({"judge_pipeline": {"pipeline": "wizard"}}, None),
    ],
)
def test_bad_tournaments(admin_client, field, over, fields):
    before = counts()
    r = _create(admin_client, field, **over)
    assert r.status_code == 400, r.content
    if fields:
        assert any(k.startswith(fields) for k in r.json()["error"]["fields"]), r.json()
    assert counts() == before


def test_duplicate_name(admin_client, field):
    assert _create(admin_client, field).status_code == 201
    before = counts()
    assert_error(_create(admin_client, field), 400, None, "name")
    assert counts() == before


def test_list_filters_and_queries(anon, field, django_assert_max_num_queries):
    comps, _ = field
    for i in range(6):
        t = TournamentFactory(status="completed" if i % 2 else "draft")
        for seed, c in enumerate(comps, 1):
            m.Entry.objects.create(tournament=t, competitor=c, seed=seed)
    with django_assert_max_num_queries(4):  # count, page, prompt sets, entries+competitors
        r = anon.get(f"{API}/tournaments/")
    assert r.json()["count"] == 6
    assert anon.get(f"{API}/tournaments/?status=completed").json()["count"] == 3
    assert_error(anon.get(f"{API}/tournaments/?format=poker"), 400, "invalid", "format")
    names = [x["name"] for x in anon.get(f"{API}/tournaments/?ordering=name").json()["results"]]
    assert names == sorted(names)
    assert_error(anon.get(f"{API}/tournaments/999999/"), 404)


def test_matches_standings_bracket_simulation(admin_client, anon, field):
    tid = _create(admin_client, field).json()["id"]
    admin_client.post(f"{API}/tournaments/{tid}/start/")
    matches = anon.get(f"{API}/tournaments/{tid}/matches/").json()
    assert matches["count"] == m.Match.objects.filter(tournament_id=tid).count() >= 2
    first = matches["results"][0]
    assert {"a", "b", "status", "round"} <= set(first) and first[
        "prompt"
    ] is None  # hidden until finished
    assert (
        anon.get(f"{API}/tournaments/{tid}/matches/?round=1&details=true").json()["count"]
        == matches["count"]
    )
    assert_error(anon.get(f"{API}/tournaments/{tid}/matches/?round=zero"), 400, "invalid", "round")
    for view in ("standings", "bracket", "simulation"):
        r = anon.get(f"{API}/tournaments/{tid}/{view}/")
        assert r.status_code < 500, (view, r.content)
