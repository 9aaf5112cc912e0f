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
