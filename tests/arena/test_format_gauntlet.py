"""The gauntlet format run through the tournament service with simulated competitors.

Expected schedules and scores are worked out by hand from the rules (the first seed meets
every other entrant ``games`` times, ``block`` of them a round, sides alternating), and the
standings are checked against scores counted from the stored matches.
"""

from __future__ import annotations

import pytest

from arena.exceptions import ApplicationError
from arena.models import Competitor, Match, Tournament
from arena.services.competitors import competitor_withdraw
from arena.services.matches import inline_dispatch, run_inline
from arena.services.tournaments import tournament_create, tournament_run_inline, tournament_start
from tests.factories import CompetitorFactory, prompt_set_with_prompts

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def field():
    def make(n: int) -> list[Competitor]:
        return [
            CompetitorFactory(name=f"g{i}", sim_strength=1150 - 40 * i, sim_seed=i)
            for i in range(n)
        ]

    return make


@pytest.fixture
def prompts():
    return prompt_set_with_prompts(12, name="general-set", text="Question {i}: explain topic {i}.")


def _score_against_reference(t: Tournament, reference: Competitor) -> dict[str, float]:
    """Each entrant's points counted from its matches (a tie ½)."""
    points: dict[str, float] = {}
    for m in Match.objects.filter(tournament=t).select_related("competitor_a", "competitor_b"):
        a, b = m.competitor_a.name, m.competitor_b.name
        assert reference.name in (a, b)
        share = {"model_a": (1.0, 0.0), "model_b": (0.0, 1.0)}.get(m.outcome or "", (0.5, 0.5))
        points[a] = points.get(a, 0.0) + share[0]
        points[b] = points.get(b, 0.0) + share[1]
    return points


def test_gauntlet_lifecycle_schedule_standings_and_prediction(client, field, prompts):
    comps = field(5)
    t = tournament_create(
        name="gauntlet",
        format="gauntlet",
        competitors=comps,
        config={"games": 2, "block": 2},
        prompt_sets=[prompts],
        seed=4,
    )
    tournament_run_inline(tournament=t)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    # 4 challengers in blocks [g1, g2], [g3, g4]; game 1 then game 2: 4 rounds of 2 matches.
    # The reference (g0) takes the first side against g_i in game k (0-based) when i + k is odd.
    by_round = [
        [
            (m.competitor_a.name, m.competitor_b.name)
            for m in Match.objects.filter(tournament=t, round__number=r).order_by("board")
        ]
        for r in range(1, 5)
    ]
    assert by_round == [
        [("g0", "g1"), ("g2", "g0")],
        [("g0", "g3"), ("g4", "g0")],
        [("g1", "g0"), ("g0", "g2")],
        [("g3", "g0"), ("g0", "g4")],
    ]
    assert t.rounds.count() == 4
    assert not Match.objects.filter(tournament=t).exclude(status=Match.Status.DONE).exists()

    counted = _score_against_reference(t, comps[0])
    rows = t.results["standings"]
    assert (rows[0]["name"], rows[0]["rank"], rows[0]["place"]) == ("g0", None, "reference")
    assert rows[0]["points"] == counted["g0"]
    challengers = sorted(
        (f"g{i}" for i in range(1, 5)), key=lambda name: (-counted[name], int(name[1:]))
    )
    assert [(r["name"], r["rank"], r["points"]) for r in rows[1:]] == [
        (name, rank, counted[name]) for rank, name in enumerate(challengers, start=1)
    ]
    assert sum(counted.values()) == 8.0  # 4 challengers x 2 games

    # finished: E[S] is the score; first place goes to a challenger, never the reference
    expected = {r["name"]: r for r in t.results["expected_score"]}
    assert {n: r["expected_score"] for n, r in expected.items()} == pytest.approx(counted)
    assert expected["g0"]["p_win"] == 0.0
    assert sum(r["p_win"] for r in expected.values()) == pytest.approx(1.0)
    top = [n for n in challengers if counted[n] == counted[challengers[0]]]
    assert all(expected[n]["p_win"] == pytest.approx(1 / len(top)) for n in top)

    page = client.get(f"/tournaments/{t.pk}/")
    html = page.content.decode()
    assert "Gauntlet (the first seed against each other entrant)" in html
    assert "(reference)" in html
    assert "plays every other entrant 2 times, sides alternating" in html
    api = client.get(f"{API}/tournaments/{t.pk}/standings/").json()["standings"]
    assert [r["rank"] for r in api] == [None, 1, 2, 3, 4]


def test_while_running_only_challengers_compete_for_first(client, field, prompts):
    t = tournament_create(
        name="g-live", format="gauntlet", competitors=field(4), prompt_sets=[prompts], seed=2
    )
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        run_inline(queue, max_steps=3)
        t.refresh_from_db()
        assert t.status == Tournament.Status.RUNNING
        rows = client.get(f"{API}/tournaments/{t.pk}/simulation/").json()["expected_score"]
        by_name = {r["name"]: r for r in rows}
        # 3 challengers, 1 game each: the event distributes 3 points
        assert sum(r["expected_score"] for r in rows) == pytest.approx(3.0, abs=1e-9)
        assert by_name["g0"]["p_win"] == 0.0
        assert sum(r["p_win"] for r in rows) == pytest.approx(1.0, abs=1e-9)
        run_inline(queue)


def test_a_reference_withdrawn_mid_tournament_forfeits_the_rest(field, prompts):
    comps = field(4)
    t = tournament_create(
        name="g-mid",
        format="gauntlet",
        competitors=comps,
        config={"block": 1},
        prompt_sets=[prompts],
        seed=5,
    )
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        while (
            Match.objects.filter(tournament=t, round__number=1)
            .exclude(status__in=Match.FINISHED)
            .exists()
        ):
            run_inline(queue, max_steps=1)
        competitor_withdraw(competitor=comps[0])
        run_inline(queue)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    # one challenger a round: rounds 2 and 3 are forfeited by the reference
    later = Match.objects.filter(tournament=t, round__number__gt=1)
    assert later.count() == 2
    assert all(m.status == Match.Status.FORFEIT and m.forfeit_by_id == comps[0].pk for m in later)
    points = {r["name"]: r["points"] for r in t.results["standings"]}
    assert points["g2"] == points["g3"] == 1.0


@pytest.mark.parametrize(
    ("config", "field_name"),
    [
        ({"games": 0}, "config.games"),
        ({"games": "2"}, "config.games"),
        ({"block": 3}, "config.block"),  # 3 entrants: at most 2 challengers a round
        ({"rounds": 2}, "config"),
    ],
)
def test_bad_config_names_the_field(field, prompts, config, field_name):
    comps = field(3)
    with pytest.raises(ApplicationError) as exc:
        tournament_create(
            name="bad", format="gauntlet", competitors=comps, config=config, prompt_sets=[prompts]
        )
    assert field_name in exc.value.field_errors
