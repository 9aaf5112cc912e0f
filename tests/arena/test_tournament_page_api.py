"""The tournament page and the API show the same standings and predictions (one read path)."""

from __future__ import annotations

import pytest

from arena.services.dispatch import inline_dispatch, run_inline
from arena.services.tournaments import tournament_create, tournament_start
from tests.factories import CompetitorFactory, prompt_set_with_prompts

pytestmark = pytest.mark.django_db
API = "/api/v1"

FORMATS = [
    ("round_robin", {}),
    ("double_round_robin", {}),
    ("swiss", {"system": "dutch", "rounds": 3}),
    ("swiss", {"system": "random", "rounds": 3}),
    ("swiss_dynamics", {"rounds": ["pa", "pa", "pa"], "eliminate": [1, 1]}),
    ("single_elimination", {"third_place": True}),
    ("arena", {"battles": 8, "batch": 3}),
    ("gauntlet", {"games": 2, "block": 2}),
]


@pytest.mark.parametrize("finished", [False, True], ids=["running", "finished"])
@pytest.mark.parametrize(("fmt", "config"), FORMATS)
def test_page_equals_api(client, fmt, config, finished):
    comps = [CompetitorFactory(name=f"m{i}", sim_strength=900 + 50 * i) for i in range(5)]
    ps = prompt_set_with_prompts(40, name="pa")
    t = tournament_create(
        name="t", format=fmt, competitors=comps, prompt_sets=[ps], config=config, seed=3
    )
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        run_inline(queue, max_steps=1_000_000 if finished else 3)
    t.refresh_from_db()
    assert (t.status == "completed") == finished
    page = client.get(f"/tournaments/{t.id}/").context
    standings = client.get(f"{API}/tournaments/{t.id}/standings/").json()
    prediction = client.get(f"{API}/tournaments/{t.id}/simulation/").json()
    assert [(r["name"], r["rank"], r["points"]) for r in page["standings"]["rows"]] == [
        (r["name"], r["rank"], r["points"]) for r in standings["standings"]
    ]
    assert page["standings"]["final"] == standings["final"] == finished
    assert [(r["name"], r["expected_score"], r["p_first"]) for r in page["simulation"]["rows"]] == [
        (r["name"], r["expected_score"], r["p_win"]) for r in prediction["expected_score"]
    ]


@pytest.mark.parametrize("finished", [False, True], ids=["running", "finished"])
def test_swiss_standings_after_each_round(client, finished):
    """The standings after each complete round (API ``by_round``) are the page's per-round
    tables, and each round's points are the sums of that round's and earlier results and byes,
    counted here from the stored matches."""
    from arena import models as m

    comps = [CompetitorFactory(name=f"s{i}", sim_strength=900 + 40 * i) for i in range(5)]
    ps = prompt_set_with_prompts(40, name="ps")
    t = tournament_create(
        name="sw",
        format="swiss",
        competitors=comps,
        prompt_sets=[ps],
        config={"system": "dutch", "rounds": 3},
        seed=5,
    )
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        run_inline(queue, max_steps=1_000_000 if finished else 6)
    t.refresh_from_db()
    by_round = client.get(f"{API}/tournaments/{t.id}/standings/").json()["by_round"]
    complete = list(
        t.rounds.filter(status="complete").order_by("number").values_list("number", flat=True)
    )
    assert [r["round"] for r in by_round] == complete and complete
    if finished:
        assert len(complete) == 3
    for entry in by_round:
        points: dict[str, float] = {c.name: 0.0 for c in comps}
        for match in m.Match.objects.filter(tournament=t, round__number__lte=entry["round"]):
            a, b = match.competitor_a.name, match.competitor_b.name
            share = {"model_a": (1.0, 0.0), "model_b": (0.0, 1.0)}.get(match.outcome, (0.5, 0.5))
            points[a] += share[0]
            points[b] += share[1]
        for bye in m.Bye.objects.filter(round__tournament=t, round__number__lte=entry["round"]):
            points[bye.competitor.name] += bye.points
        assert {r["name"]: r["points"] for r in entry["standings"]} == points
        ranks = [r["rank"] for r in entry["standings"]]
        assert ranks == sorted(ranks) and ranks[0] == 1
    page = client.get(f"/tournaments/{t.id}/").context
    shown = {rd["number"]: rd["standings"] for rd in page["rounds"] if rd.get("standings")}
    assert {
        n: [(r["rank"], r["name"], r["points"]) for r in rows] for n, rows in shown.items()
    } == {
        e["round"]: [(r["rank"], r["name"], r["points"]) for r in e["standings"]] for e in by_round
    }
    html = client.get(f"/tournaments/{t.id}/").content.decode()
    assert html.count('class="small round-standings"') == len(by_round)
