"""Tournaments run in-process (inline dispatch): every format, pause/resume/cancel, validation."""

from __future__ import annotations

import pytest

from arena.exceptions import ApplicationError, Conflict
from arena.models import Battle, Bye, Generation, Judgment, Match, Source, Tournament
from arena.services.tournaments import (
    tournament_cancel,
    tournament_create,
    tournament_pause,
    tournament_progress,
    tournament_resume,
    tournament_run_inline,
    tournament_start,
)
from tests.factories import CompetitorFactory, prompt_set_with_prompts

pytestmark = pytest.mark.django_db


@pytest.fixture
def field():
    def make(n: int, *, spread: float = 40.0):
        return [CompetitorFactory(sim_strength=1300 - spread * i, sim_seed=i) for i in range(n)]

    return make


@pytest.fixture
def prompts():
    return prompt_set_with_prompts(12, name="general-set", text="Question {i}: explain topic {i}.")


def _check_complete(t: Tournament) -> None:
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    matches = Match.objects.filter(tournament=t)
    assert matches.exists()
    assert not matches.exclude(status__in=Match.FINISHED).exists()
    done = matches.filter(status=Match.Status.DONE)
    # exactly one judged battle per finished judged match, none for anything else
    assert Battle.objects.filter(match__tournament=t, source=Source.JUDGE).count() == done.count()
    assert Generation.objects.filter(match__tournament=t).count() == 2 * done.count()
    assert t.results["standings"]
    assert t.results["expected_score"]


def test_swiss_16_dutch(field, prompts):
    comps = field(16)
    t = tournament_create(
        name="swiss",
        format="swiss",
        competitors=comps,
        config={"rounds": 4},
        prompt_sets=[prompts],
        judge_pipeline=None,
        seed=7,
    )
    tournament_run_inline(tournament=t)
    _check_complete(t)
    assert t.rounds.count() == 4
    assert Match.objects.filter(tournament=t).count() == 4 * 8
    rows = t.results["standings"]
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows) and rows[0]["rank"] == 1
    assert sum(r["points"] for r in rows) == pytest.approx(32.0)
    assert {"BH-C1", "BH", "SB"} <= set(rows[0]["tiebreaks"])
    # no rematches in a Swiss
    pairs = [
        frozenset((m.competitor_a_id, m.competitor_b_id))
        for m in Match.objects.filter(tournament=t)
    ]
    assert len(pairs) == len(set(pairs))
    # each judged match was judged in both orders
    assert Judgment.objects.filter(match__tournament=t).count() == 2 * 32


def test_swiss_random_odd_field_gets_byes(field, prompts):
    t = tournament_create(
        name="swiss-odd",
        format="swiss",
        competitors=field(7),
        config={"system": "random", "rounds": 3},
        prompt_sets=[prompts],
        seed=1,
    )
    tournament_run_inline(tournament=t)
    _check_complete(t)
    assert Bye.objects.filter(round__tournament=t).count() == 3
    assert sum(r["points"] for r in t.results["standings"]) == pytest.approx(3 * 3 + 3)


def test_single_elimination_16_with_third_place(field, prompts):
    comps = field(16, spread=80.0)
    t = tournament_create(
        name="ko",
        format="single_elimination",
        competitors=comps,
        config={"third_place": True},
        prompt_sets=[prompts],
        seed=3,
    )
    tournament_run_inline(tournament=t)
    _check_complete(t)
    assert Match.objects.filter(tournament=t).count() == 8 + 4 + 2 + 2
    rows = t.results["standings"]
    assert (
        rows[0]["place"] == 1
        and rows[1]["place"] == 2
        and rows[2]["place"] == 3
        and rows[3]["place"] == 4
    )
    assert t.results["champion"] == rows[0]["name"]
    p_win = sum(r["p_win"] for r in t.results["expected_score"])
    assert p_win == pytest.approx(1.0, abs=1e-9)


def test_single_elimination_with_byes(field, prompts):
    t = tournament_create(
        name="ko6", format="single_elimination", competitors=field(6), prompt_sets=[prompts], seed=3
    )
    tournament_run_inline(tournament=t)
    _check_complete(t)
    assert Match.objects.filter(tournament=t).count() == 5  # n - 1 matches decide a knockout
    assert Bye.objects.filter(round__tournament=t).count() == 2


@pytest.mark.parametrize(
    "fmt,rounds,matches", [("round_robin", 5, 15), ("double_round_robin", 10, 30)]
)
def test_round_robins(field, prompts, fmt, rounds, matches):
    t = tournament_create(name=fmt, format=fmt, competitors=field(6), prompt_sets=[prompts], seed=5)
    tournament_run_inline(tournament=t)
    _check_complete(t)
    assert t.rounds.count() == rounds
    assert Match.objects.filter(tournament=t).count() == matches


def test_swiss_dynamics_with_eliminations(field):
    sets = [
        prompt_set_with_prompts(1, name=f"bench-{k}", text=f"Benchmark {k} task.") for k in range(3)
    ]
    t = tournament_create(
        name="dyn",
        format="swiss_dynamics",
        competitors=field(8),
        config={"rounds": [s.name for s in sets], "eliminate": [2, 2]},
        prompt_sets=sets,
        seed=9,
    )
    tournament_run_inline(tournament=t)
    _check_complete(t)
    # 8 play round 1 (4 matches), 6 play round 2 (3), 4 play round 3 (2)
    assert [r.matches.count() for r in t.rounds.order_by("number")] == [4, 3, 2]
    assert all(
        m.prompt.prompt_set_id == m.round.prompt_set_id for m in Match.objects.filter(tournament=t)
    )
    assert t.entries.filter(eliminated_in_round__isnull=False).count() == 4


def test_arena_format(field, prompts):
    t = tournament_create(
        name="arena-t",
        format="arena",
        competitors=field(6),
        config={"battles": 12, "batch": 4},
        prompt_sets=[prompts],
        seed=2,
    )
    tournament_run_inline(tournament=t)
    _check_complete(t)
    assert Match.objects.filter(tournament=t).count() == 12


@pytest.mark.parametrize(
    "pipeline",
    [
        {
            "pipeline": "majority",
            "judges": [
                {"name": "j1", "position_bias": 50},
                {"name": "j2", "noise": 100},
                {"name": "j3"},
            ],
        },
        {
            "pipeline": "dual",
            "judges": [{"name": "first", "position_bias": 100}],
            "reviewer": {"name": "senior"},
        },
        {
            "pipeline": "confidence",
            "judges": [{"name": "c1"}, {"name": "c2", "weight": 2.0}],
            "samples": 2,
        },
        {"pipeline": "single", "judges": [{"name": "solo"}], "swap": False},
    ],
)
def test_pipelines_run_end_to_end(field, prompts, pipeline):
    t = tournament_create(
        name="p",
        format="round_robin",
        competitors=field(4),
        prompt_sets=[prompts],
        judge_pipeline=pipeline,
        seed=4,
    )
    tournament_run_inline(tournament=t)
    _check_complete(t)
    if pipeline["pipeline"] == "dual":
        assert Judgment.objects.filter(match__tournament=t, stage="review").count() == 2 * 6


def test_pause_resume_cancel(field, prompts):
    t = tournament_create(
        name="ctl", format="round_robin", competitors=field(4), prompt_sets=[prompts], seed=1
    )
    from arena.services.matches import inline_dispatch, run_inline

    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        tournament_pause(tournament=t)
        run_inline(queue)  # steps of a paused tournament do nothing
    assert tournament_progress(tournament=t)["matches_finished"] == 0
    with pytest.raises(Conflict):
        tournament_pause(tournament=t)
    with inline_dispatch() as queue:
        tournament_resume(tournament=t)
        run_inline(queue)
    _check_complete(t)
    with pytest.raises(Conflict):
        tournament_cancel(tournament=t)

    t2 = tournament_create(
        name="ctl2",
        format="round_robin",
        competitors=field(4)[:0] or [CompetitorFactory(), CompetitorFactory(), CompetitorFactory()],
        prompt_sets=[prompts],
    )
    with inline_dispatch():
        tournament_start(tournament=t2)
    tournament_cancel(tournament=t2)
    assert set(Match.objects.filter(tournament=t2).values_list("status", flat=True)) == {
        Match.Status.CANCELLED
    }


def test_create_validation_names_fields(field, prompts):
    comps = field(3)
    with pytest.raises(ApplicationError) as exc:
        tournament_create(
            name="",
            format="swiss",
            competitors=comps[:1],
            config={"rounds": 0, "bogus": 1},
            prompt_sets=[],
            judge_pipeline={"pipeline": "nope"},
        )
    fields = exc.value.field_errors
    assert {
        "name",
        "competitors",
        "prompt_sets",
        "config.rounds",
        "config",
        "judge_pipeline.pipeline",
    } <= set(fields)
    with pytest.raises(ApplicationError) as exc:
        tournament_create(
            name="x",
            format="single_elimination",
            competitors=comps,
            config={"third_place": True},
            prompt_sets=[prompts],
        )
    assert "config.third_place" in exc.value.field_errors
    with pytest.raises(ApplicationError) as exc:
        tournament_create(
            name="y",
            format="swiss_dynamics",
            competitors=comps,
            config={"rounds": ["missing"]},
            prompt_sets=[prompts],
        )
    assert "config.rounds" in exc.value.field_errors
    with pytest.raises(ApplicationError) as exc:
        tournament_create(name="z", format="knockout", competitors=comps, prompt_sets=[prompts])
    assert "format" in exc.value.field_errors


def test_selectors_hide_prompts_until_a_match_is_finished(
    field, prompts, django_assert_max_num_queries
):
    from arena.selectors.tournaments import (
        tournament_bracket,
        tournament_matches,
        tournament_prediction,
        tournament_standings,
    )
    from arena.services.matches import inline_dispatch, run_inline

    t = tournament_create(
        name="sel", format="single_elimination", competitors=field(8), prompt_sets=[prompts], seed=8
    )
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        rows = tournament_matches(tournament=t, include_details=True)
        assert len(rows) == 4 and all(r["prompt"] is None and "generations" not in r for r in rows)
        live = tournament_standings(tournament=t)
        assert live["final"] is False and len(live["standings"]) == 8
        assert tournament_prediction(tournament=t)["final"] is False
        run_inline(queue)
    t.refresh_from_db()
    with django_assert_max_num_queries(8):
        rows = tournament_matches(tournament=t, include_details=True)
    assert len(rows) == 7 and all(r["prompt"] for r in rows)
    assert all(len(r["generations"]) == 2 and len(r["judgments"]) == 2 for r in rows)
    bracket = tournament_bracket(tournament=t)
    assert [len(r["matches"]) for r in bracket["rounds"]] == [4, 2, 1]
    assert (
        bracket["rounds"][0]["matches"][0]["a"]["seed"] == 1
        and bracket["rounds"][0]["matches"][0]["b"]["seed"] == 8
    )
    # Every finished knockout match names who advanced (a tie advances the higher seed), and the
    # next round is played by exactly those competitors: the bracket agrees with the engine.
    for rnd, nxt in zip(bracket["rounds"], bracket["rounds"][1:]):
        advanced = set()
        for x in rnd["matches"]:
            assert x["winner"] in ("a", "b")
            assert x["advanced_on_seed"] == (x["outcome"] not in ("model_a", "model_b"))
            if x["advanced_on_seed"]:
                assert x[x["winner"]]["seed"] < x["b" if x["winner"] == "a" else "a"]["seed"]
            advanced.add(x[x["winner"]]["competitor_id"])
        assert advanced == {x[s]["competitor_id"] for x in nxt["matches"] for s in "ab"}
    final = bracket["rounds"][2]["matches"][0]
    champion = final[final["winner"]]["name"]
    assert (
        bracket["champion"]
        == champion
        == tournament_standings(tournament=t)["standings"][0]["name"]
    )
    sim = tournament_prediction(tournament=t)
    assert sim["final"] and sum(r["p_win"] for r in sim["expected_score"]) == pytest.approx(1.0)


def test_a_round_that_cannot_be_paired_ends_the_tournament_with_a_note(field, prompts):
    from unittest import mock

    from ranking.errors import PairingError

    t = tournament_create(
        name="stuck",
        format="swiss",
        competitors=field(4),
        config={"rounds": 3},
        prompt_sets=[prompts],
        seed=1,
    )
    import arena.services.tournaments as services

    real = services._pairings

    def flaky(tournament, number):
        if number == 2:
            raise PairingError("no pairing satisfies the absolute criteria")
        return real(tournament, number)

    with mock.patch.object(services, "_pairings", flaky):
        tournament_run_inline(tournament=t)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    assert t.rounds.count() == 1
    assert "round 2 could not be paired" in t.results["note"]


def test_a_tied_knockout_match_advances_the_higher_seed_in_engine_api_and_page(field, prompts):
    from arena.selectors.tournaments import tournament_bracket
    from arena.selectors.web_tournaments import tournament_page_data
    from arena.services.matches import inline_dispatch
    from arena.services.tournaments import tournament_round_check

    t = tournament_create(
        name="tie", format="single_elimination", competitors=field(4), prompt_sets=[prompts], seed=3
    )
    with inline_dispatch():  # the round's matches are created, not played
        tournament_start(tournament=t)
    seeds = {e.competitor_id: e.seed for e in t.entries.all()}
    first, second = Match.objects.filter(tournament=t).order_by("board", "id")
    # 1 v 4 is tied; in 2 v 3 the lower seed wins
    Match.objects.filter(pk=first.pk).update(status=Match.Status.DONE, outcome="tie")
    b_wins = (
        "model_a" if seeds[second.competitor_a_id] > seeds[second.competitor_b_id] else "model_b"
    )
    Match.objects.filter(pk=second.pk).update(status=Match.Status.DONE, outcome=b_wins)
    higher = min((first.competitor_a_id, first.competitor_b_id), key=seeds.get)
    lower_seed_winner = max((second.competitor_a_id, second.competitor_b_id), key=seeds.get)

    with inline_dispatch():
        tournament_round_check(tournament_id=t.pk)
    final = Match.objects.get(tournament=t, round__number=2)
    assert {final.competitor_a_id, final.competitor_b_id} == {
        higher,
        lower_seed_winner,
    }  # the engine

    api_first, api_second = tournament_bracket(tournament=t)["rounds"][0]["matches"]
    assert (
        api_first[api_first["winner"]]["competitor_id"] == higher and api_first["advanced_on_seed"]
    )
    assert api_second[api_second["winner"]]["competitor_id"] == lower_seed_winner
    assert not api_second["advanced_on_seed"]

    page = tournament_page_data(tournament=t)["bracket"]["rounds"][0]["matches"]
    winners = [next(s["id"] for s in cell["slots"] if s["winner"]) for cell in page]
    assert winners == [higher, lower_seed_winner]
    assert "advanced on seed" in page[0]["status"] and "advanced on seed" not in page[1]["status"]


def test_a_running_tournaments_prediction_is_cached_under_its_inputs(field, prompts, monkeypatch):
    from arena.selectors import tournaments as selectors
    from arena.services.matches import inline_dispatch

    t = tournament_create(
        name="poll", format="round_robin", competitors=field(4), prompt_sets=[prompts], seed=5
    )
    with inline_dispatch():
        tournament_start(tournament=t)
    runs = []
    real = selectors.tournament_predict
    monkeypatch.setattr(
        selectors, "tournament_predict", lambda *a, **k: runs.append(1) or real(*a, **k)
    )
    first = selectors.tournament_prediction(tournament=t)
    again = selectors.tournament_prediction(tournament=t)
    assert runs == [1] and again == first and not first["final"]
    # a result changes the ratings: a new prediction
    m = Match.objects.filter(tournament=t).first()
    Battle.objects.create(
        model_a_id=m.competitor_a_id,
        model_b_id=m.competitor_b_id,
        outcome="model_a",
        source=Source.JUDGE,
        match=m,
    )
    Match.objects.filter(pk=m.pk).update(status=Match.Status.DONE, outcome="model_a")
    selectors.tournament_prediction(tournament=t)
    assert runs == [1, 1]


def test_simulation_cache_keys_are_the_same_in_every_process():
    import subprocess
    import sys

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'arena.settings'; "
        "django.setup(); "
        "from arena.selectors import content_key; "
        "print(content_key('web:sim', 7, 'swiss', {'rounds': 5}, ['alpha', 'beta'], [1000.0, "
        "1100.0]))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1 and next(iter(keys)).startswith("web:sim:")
