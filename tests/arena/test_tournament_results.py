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
from tests.factories import CompetitorFactory, PromptFactory, PromptSetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def field():
    def make(n: int, *, spread: float = 60.0) -> list[Competitor]:
        return [CompetitorFactory(name=f"p{i}", sim_strength=1300 - spread * i, sim_seed=i) for i in range(n)]
    return make


@pytest.fixture
def prompts():
    ps = PromptSetFactory(name="general-set")
    for i in range(8):
        PromptFactory(prompt_set=ps, text=f"Question {i}: explain topic {i}.")
    return ps


def _involving(t: Tournament, c: Competitor):
    return Match.objects.filter(tournament=t).filter(competitor_a=c) | Match.objects.filter(tournament=t, competitor_b=c)


# --------------------------------------------------------------------------- withdrawn entrants


@pytest.mark.parametrize("fmt,config,games", [
    # 3 entrants left: a single round robin of 3 plays 3 games, a double one 6
    ("round_robin", {}, 3),
    ("double_round_robin", {}, 6),
    # a Swiss of 3 over 2 rounds: one game a round
    ("swiss", {"rounds": 2}, 2),
    # a bracket of 3: one semi-final (the top seed has a bye) and the final
    ("single_elimination", {}, 2),
    ("arena", {"battles": 5, "batch": 2}, 5),
])
def test_a_model_withdrawn_before_the_start_never_plays(field, prompts, fmt, config, games):
    comps = field(4)
    t = tournament_create(name=f"w-{fmt}", format=fmt, competitors=comps, config=config, prompt_sets=[prompts],
                          seed=3)
    competitor_withdraw(competitor=comps[1])
    tournament_run_inline(tournament=t)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    assert not _involving(t, comps[1]).exists()
    assert Match.objects.filter(tournament=t).count() == games
    assert [e.competitor_id for e in Entry.objects.filter(tournament=t, withdrawn=False).order_by("seed")] == [
        comps[0].pk, comps[2].pk, comps[3].pk]
    assert Entry.objects.get(tournament=t, competitor=comps[1]).withdrawn


def test_starting_with_fewer_than_two_entrants_left_is_a_conflict(field, prompts):
    comps = field(3)
    t = tournament_create(name="too-few", format="round_robin", competitors=comps, prompt_sets=[prompts], seed=1)
    competitor_withdraw(competitor=comps[0])
    competitor_withdraw(competitor=comps[2])
    with pytest.raises(Conflict, match="at least 2"):
        tournament_start(tournament=t)
    t.refresh_from_db()
    assert t.status == Tournament.Status.DRAFT and not Match.objects.filter(tournament=t).exists()


def test_a_model_withdrawn_mid_tournament_forfeits_its_remaining_games(field, prompts):
    comps = field(4)
    t = tournament_create(name="mid", format="round_robin", competitors=comps, prompt_sets=[prompts], seed=2)
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        while Match.objects.filter(tournament=t, round__number=1).exclude(status__in=Match.FINISHED).exists():
            run_inline(queue, max_steps=1)
        competitor_withdraw(competitor=comps[0])
        run_inline(queue)
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
    t = tournament_create(name="arena", format="arena", competitors=field(n),
                          config={"battles": battles, "batch": batch}, prompt_sets=[prompts], seed=4)
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
    t = tournament_create(name="arena-mid", format="arena", competitors=comps, config={"battles": 10, "batch": 3},
                          prompt_sets=[prompts], seed=6)
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        while Match.objects.filter(tournament=t, round__number=1).exclude(status__in=Match.FINISHED).exists():
            run_inline(queue, max_steps=1)
        competitor_withdraw(competitor=comps[0])
        run_inline(queue)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    assert Match.objects.filter(tournament=t).count() == 10
    assert not _involving(t, comps[0]).filter(round__number__gt=1).exists()
