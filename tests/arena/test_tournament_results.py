"""Tournament results: who plays, how many games, and the predicted scores E[S] (issue 14).

Expected values are counted by hand from the format's rules, never taken from the engine.
"""

from __future__ import annotations

import pytest

from arena.exceptions import Conflict
from arena.models import Competitor, Entry, Match, Tournament
from arena.services.competitors import competitor_withdraw
from arena.services.matches import inline_dispatch, run_inline
from arena.services.tournaments import tournament_create, tournament_run_inline, tournament_start
from tests.factories import CompetitorFactory, prompt_set_with_prompts

pytestmark = pytest.mark.django_db


@pytest.fixture
def field():
    def make(n: int, *, spread: float = 60.0) -> list[Competitor]:
        return [
            CompetitorFactory(name=f"p{i}", sim_strength=1300 - spread * i, sim_seed=i)
            for i in range(n)
        ]

    return make


@pytest.fixture
def prompts():
    return prompt_set_with_prompts(8, name="general-set", text="Question {i}: explain topic {i}.")


def _involving(t: Tournament, c: Competitor):
    return Match.objects.filter(tournament=t).filter(competitor_a=c) | Match.objects.filter(
        tournament=t, competitor_b=c
    )


# --------------------------------------------------------------------------- withdrawn entrants


def _withdraw_after_round_one(t: Tournament, competitor: Competitor) -> None:
    """Start ``t``, play its first round, withdraw ``competitor``, then play the rest."""
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        while (
            Match.objects.filter(tournament=t, round__number=1)
            .exclude(status__in=Match.FINISHED)
            .exists()
        ):
            run_inline(queue, max_steps=1)
        competitor_withdraw(competitor=competitor)
        run_inline(queue)


@pytest.mark.parametrize(
    "fmt,config,games",
    [
        # 3 entrants left: a single round robin of 3 plays 3 games, a double one 6
        ("round_robin", {}, 3),
        ("double_round_robin", {}, 6),
        # a Swiss of 3 over 2 rounds: one game a round
        ("swiss", {"rounds": 2}, 2),
        # a bracket of 3: one semi-final (the top seed has a bye) and the final
        ("single_elimination", {}, 2),
        ("arena", {"battles": 5, "batch": 2}, 5),
        # a gauntlet of 3, two games: the first seed meets the other two twice
        ("gauntlet", {"games": 2}, 4),
    ],
)
def test_a_model_withdrawn_before_the_start_never_plays(field, prompts, fmt, config, games):
    comps = field(4)
    t = tournament_create(
        name=f"w-{fmt}", format=fmt, competitors=comps, config=config, prompt_sets=[prompts], seed=3
    )
    competitor_withdraw(competitor=comps[1])
    tournament_run_inline(tournament=t)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    assert not _involving(t, comps[1]).exists()
    assert Match.objects.filter(tournament=t).count() == games
    assert [
        e.competitor_id
        for e in Entry.objects.filter(tournament=t, withdrawn=False).order_by("seed")
    ] == [comps[0].pk, comps[2].pk, comps[3].pk]
    assert Entry.objects.get(tournament=t, competitor=comps[1]).withdrawn


def test_starting_with_fewer_than_two_entrants_left_is_a_conflict(field, prompts):
    comps = field(3)
    t = tournament_create(
        name="too-few", format="round_robin", competitors=comps, prompt_sets=[prompts], seed=1
    )
    competitor_withdraw(competitor=comps[0])
    competitor_withdraw(competitor=comps[2])
    with pytest.raises(Conflict, match="at least 2"):
        tournament_start(tournament=t)
    t.refresh_from_db()
    assert t.status == Tournament.Status.DRAFT and not Match.objects.filter(tournament=t).exists()


def test_a_model_withdrawn_mid_tournament_forfeits_its_remaining_games(field, prompts):
    comps = field(4)
    t = tournament_create(
        name="mid", format="round_robin", competitors=comps, prompt_sets=[prompts], seed=2
    )
    _withdraw_after_round_one(t, comps[0])
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    # 4 entrants, 3 rounds of 2 games; p0 played round 1 and forfeits its 2 later games
    later = _involving(t, comps[0]).filter(round__number__gt=1)
    assert later.count() == 2
    assert all(m.status == Match.Status.FORFEIT and m.forfeit_by_id == comps[0].pk for m in later)
    assert not later.filter(generations__isnull=False).exists()
    points = {r["name"]: r["points"] for r in t.results["standings"]}
    assert sum(points.values()) == 6.0


# --------------------------------------------------------------------------- arena length


@pytest.mark.parametrize("n,battles,batch", [(3, 9, 6), (4, 9, 6), (4, 13, 5), (2, 3, 3)])
def test_an_arena_tournament_plays_all_its_battles(field, prompts, n, battles, batch):
    t = tournament_create(
        name="arena",
        format="arena",
        competitors=field(n),
        config={"battles": battles, "batch": batch},
        prompt_sets=[prompts],
        seed=4,
    )
    tournament_run_inline(tournament=t)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    assert Match.objects.filter(tournament=t).count() == battles
    # a pair meets at most once a round: every round but the last holds min(batch, pairs) battles
    per = min(batch, n * (n - 1) // 2)
    sizes = [r.matches.count() for r in t.rounds.order_by("number")]
    assert sizes == [per] * (battles // per) + ([battles % per] if battles % per else [])


def test_an_arena_model_withdrawn_mid_tournament_is_no_longer_drawn(field, prompts):
    comps = field(4)
    t = tournament_create(
        name="arena-mid",
        format="arena",
        competitors=comps,
        config={"battles": 10, "batch": 3},
        prompt_sets=[prompts],
        seed=6,
    )
    _withdraw_after_round_one(t, comps[0])
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    assert Match.objects.filter(tournament=t).count() == 10
    assert not _involving(t, comps[0]).filter(round__number__gt=1).exists()


# ---------------------------------------------------------- E[S]: one prediction, right totals

API = "/api/v1"

# format, entrants, config, points the whole event distributes (counted by hand from the rules)
FORMATS = [
    # 4 players meet once: 6 games
    ("round_robin", 4, {}, 6.0),
    # twice: 12 games
    ("double_round_robin", 4, {}, 12.0),
    # 6 players, 3 rounds of 3 boards: 9 games
    ("swiss", 6, {"system": "dutch", "rounds": 3}, 9.0),
    # 5 players, 3 rounds of 2 boards and a one-point bye: 3 * (2 + 1)
    ("swiss", 5, {"system": "random", "rounds": 3}, 9.0),
    # 6 play 3 games, 2 leave; 4 play 2, 1 leaves; 3 play 1 game and a zero-point bye
    ("swiss_dynamics", 6, {"eliminate": [2, 1]}, 6.0),
    # 6 entrants: 2 first-round games (2 byes), 2 semi-finals, the final and the third-place match
    ("single_elimination", 6, {"third_place": True}, 6.0),
    # 9 battles
    ("arena", 4, {"battles": 9, "batch": 6}, 9.0),
    # the first seed meets 3 challengers twice, 2 a round: 6 games in 4 rounds
    ("gauntlet", 4, {"games": 2, "block": 2}, 6.0),
]


def _hand_count(t: Tournament) -> dict[str, float]:
    """Each entrant's score from its matches and byes (a knockout's byes score nothing)."""
    from arena.models import Bye

    points = {e.competitor.name: 0.0 for e in Entry.objects.filter(tournament=t, withdrawn=False)}
    for mt in Match.objects.filter(tournament=t).select_related("competitor_a", "competitor_b"):
        a, b = mt.competitor_a.name, mt.competitor_b.name
        if mt.outcome == "model_a":
            points[a] += 1
        elif mt.outcome == "model_b":
            points[b] += 1
        elif mt.outcome:
            points[a] += 0.5
            points[b] += 0.5
    if t.format != "single_elimination":
        for bye in Bye.objects.filter(round__tournament=t).select_related("competitor"):
            points[bye.competitor.name] += bye.points
    return points


def _api_and_page(
    client, t: Tournament
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    api = client.get(f"{API}/tournaments/{t.pk}/simulation/").json()["expected_score"]
    page = client.get(f"/tournaments/{t.pk}/").context["simulation"]["rows"]
    return (
        {r["name"]: (r["expected_score"], r["p_win"]) for r in api},
        {r["name"]: (r["expected_score"], r["p_first"]) for r in page},
    )


@pytest.mark.parametrize(
    "fmt,n,config,total", FORMATS, ids=[f"{f[0]}-{f[2].get('system', '')}" for f in FORMATS]
)
def test_page_and_api_show_one_prediction_that_adds_up(
    client, field, prompts, fmt, n, config, total
):
    if fmt == "swiss_dynamics":
        sets = [prompt_set_with_prompts(1, name=f"bench-{k}") for k in range(3)]
        config = {**config, "rounds": [ps.name for ps in sets]}
    else:
        sets = [prompts]
    t = tournament_create(
        name=f"es-{fmt}", format=fmt, competitors=field(n), config=config, prompt_sets=sets, seed=11
    )
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        while not Match.objects.filter(
            tournament=t, round__number=2, status__in=Match.FINISHED
        ).exists():
            assert run_inline(queue, max_steps=1) == 1
        t.refresh_from_db()
        assert t.status == Tournament.Status.RUNNING
        api, page = _api_and_page(client, t)
        assert api == page and len(api) == n
        assert sum(es for es, _ in api.values()) == pytest.approx(total, abs=1e-9)
        assert sum(p for _, p in api.values()) == pytest.approx(1.0, abs=1e-9)
        so_far = _hand_count(t)
        assert all(api[name][0] >= so_far[name] - 1e-9 for name in so_far)
        run_inline(queue)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    api, page = _api_and_page(client, t)
    assert api == page
    final = _hand_count(t)
    assert sum(final.values()) == pytest.approx(total)
    assert {name: es for name, (es, _) in api.items()} == pytest.approx(final, abs=1e-9)
