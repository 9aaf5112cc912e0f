"""Match steps on the database: idempotency, failure policy, parse errors, sweep, rebuilds."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.utils import timezone

from arena.models import Battle, Competitor, Generation, Judgment, Match, Source, Tournament, Vote
from arena.services import leaderboard as leaderboard_services
from arena.services.arena_mode import arena_servable_matches, arena_top_up
from arena.services.judging import judge_agreement, match_judge
from arena.services.matches import (
    inline_dispatch,
    match_finish_judged,
    match_run,
    run_inline,
)
from arena.services.tournaments import tournament_create, tournament_run_inline, tournament_sweep
from tests.factories import CompetitorFactory, prompt_set_with_prompts
from tests.fake_openai import FakeOpenAI, FaultPlan

pytestmark = pytest.mark.django_db


@pytest.fixture
def prompt_set():
    return prompt_set_with_prompts(4, name="steps", text="Step question {i}?")


def _tournament(prompt_set, competitors, **kw):
    return tournament_create(
        name=kw.pop("name", "t"),
        format="round_robin",
        competitors=competitors,
        prompt_sets=[prompt_set],
        seed=1,
        **kw,
    )


def _first_match(t):
    with inline_dispatch() as queue:
        from arena.services.tournaments import tournament_start

        tournament_start(tournament=t)
    return Match.objects.filter(tournament=t).order_by("id").first(), queue


def test_steps_are_idempotent(prompt_set):
    t = _tournament(prompt_set, [CompetitorFactory(), CompetitorFactory()])
    match, _ = _first_match(t)
    # a crashed step had stored side A's answer already
    Match.objects.filter(id=match.id).update(status=Match.Status.GENERATING)
    Generation.objects.create(
        match=match, side="a", competitor=match.competitor_a, text="stored earlier"
    )
    with inline_dispatch():
        assert match_run(match_id=match.id) is None
        assert match_run(match_id=match.id) is None  # re-delivered: nothing to do
        assert match_judge(match_id=match.id) is None
        assert match_finish_judged(match_id=match.id, outcome="model_b", judge_label="x") is False
    match.refresh_from_db()
    assert match.status == Match.Status.DONE
    assert Generation.objects.get(match=match, side="a").text == "stored earlier"
    assert Generation.objects.filter(match=match).count() == 2
    assert Battle.objects.filter(match=match).count() == 1
    assert Battle.objects.get(match=match).outcome == match.outcome
    assert Judgment.objects.filter(match=match).count() == 2


def test_a_judge_step_redelivered_midway_reuses_stored_slots(prompt_set):
    import threading

    t = _tournament(prompt_set, [CompetitorFactory(), CompetitorFactory()])
    match, _ = _first_match(t)
    calls = []
    lock = threading.Lock()
    from arena.services import judging

    real = judging._judge_call

    def flaky(spec, judge, messages, key, sample):
        with lock:
            calls.append(key)
            n = len(calls)
        if n == 2:
            from clients import TransientEndpointError

            raise TransientEndpointError("judge endpoint hiccup")
        return real(spec, judge, messages, key, sample)

    with mock.patch.object(judging, "_judge_call", flaky), inline_dispatch():
        assert match_run(match_id=match.id) is not None  # retry later
        assert Judgment.objects.filter(match=match).count() == 1
        assert Match.objects.get(id=match.id).status == Match.Status.JUDGING
        assert match_run(match_id=match.id) is None
    assert len(calls) == 3  # the stored slot was not judged again
    assert Judgment.objects.filter(match=match).count() == 2
    assert Battle.objects.filter(match=match, source=Source.JUDGE).count() == 1


def test_answer_retries_do_not_use_up_the_judges_attempts(prompt_set):
    """Two transient answer failures, then a judge failure, forfeit_after=3: judged, not failed."""
    from arena.services import judging
    from arena.services import matches as match_services
    from clients import TransientEndpointError

    t = _tournament(
        prompt_set, [CompetitorFactory(), CompetitorFactory()], config={"forfeit_after": 3}
    )
    match, _ = _first_match(t)
    real_generate, real_judge = match_services.competitor_generate, judging._judge_call
    failures = {"answer": 2, "judge": 1}

    def generate(competitor, prompt):
        if competitor.pk == match.competitor_a_id and failures["answer"]:
            failures["answer"] -= 1
            raise TransientEndpointError("HTTP 200 that is not JSON")
        return real_generate(competitor, prompt)

    def judge(*args):
        if failures["judge"]:
            failures["judge"] -= 1
            raise TransientEndpointError("HTTP 502")
        return real_judge(*args)

    with (
        mock.patch.object(match_services, "competitor_generate", generate),
        mock.patch.object(judging, "_judge_call", judge),
        inline_dispatch(),
    ):
        for _ in range(6):
            if match_run(match_id=match.id) is None:
                break
    match.refresh_from_db()
    assert failures == {"answer": 0, "judge": 0}
    assert match.status == Match.Status.DONE, (match.status, match.attempts, match.error)
    assert Battle.objects.filter(match=match, source=Source.JUDGE).count() == 1


def test_unreachable_competitor_forfeits_after_the_configured_failures(prompt_set, settings):
    settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS = True
    dead = Competitor.objects.create(
        name="dead",
        kind=Competitor.Kind.OPENAI,
        status=Competitor.Status.ACTIVE,
        endpoint_url="http://127.0.0.1:9/v1",
        endpoint_model="dead",
        params={"timeout": 1.0, "max_retries": 0},
    )
    alive = CompetitorFactory()
    t = _tournament(prompt_set, [dead, alive], config={"forfeit_after": 2})
    tournament_run_inline(tournament=t)
    match = Match.objects.get(tournament=t)
    assert match.status == Match.Status.FORFEIT and match.attempts == 2
    assert match.forfeit_by_id == dead.id
    winner_side = "model_a" if match.competitor_a_id == alive.id else "model_b"
    assert match.outcome == winner_side
    assert not Battle.objects.filter(match=match).exists()  # a forfeit is not a rated battle
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    top = t.results["standings"][0]
    assert top["name"] == alive.name and top["points"] == 1.0


def test_unparseable_judge_output_is_stored_retried_then_failed(prompt_set, settings):
    settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS = True
    server = FakeOpenAI(
        models={}, faults=FaultPlan(p_garbage_verdict=1.0, max_faults_per_request=100)
    ).start()
    try:
        pipeline = {
            "pipeline": "single",
            "max_parse_retries": 2,
            "judges": [
                {
                    "name": "garbage",
                    "kind": "openai",
                    "base_url": server.base_url,
                    "model": "j",
                    "allow_internal": True,
                }
            ],
        }
        t = _tournament(
            prompt_set, [CompetitorFactory(), CompetitorFactory()], judge_pipeline=pipeline
        )
        tournament_run_inline(tournament=t)
    finally:
        server.stop()
    match = Match.objects.get(tournament=t)
    assert match.status == Match.Status.FAILED and match.outcome is None
    rows = Judgment.objects.filter(match=match)
    assert rows.count() == 2 * 3  # two orders, 1 + 2 retries each
    assert all(r.parse_error and not r.verdict and r.raw_output for r in rows)
    assert sorted({r.stage for r in rows}) == ["primary", "primary/r1", "primary/r2"]
    assert not Battle.objects.filter(match=match).exists()


def test_sweep_resends_stuck_steps(prompt_set):
    t = _tournament(prompt_set, [CompetitorFactory(), CompetitorFactory()])
    match, _ = _first_match(t)
    Match.objects.filter(id=match.id).update(
        status=Match.Status.GENERATING, updated_at=timezone.now() - timedelta(minutes=10)
    )
    with inline_dispatch() as queue:
        counts = tournament_sweep(older_than_seconds=60)
        assert counts["matches"] == 1
        assert ("match", (match.id,)) in list(queue)
        run_inline(queue)
    t.refresh_from_db()
    assert t.status == Tournament.Status.COMPLETED
    with inline_dispatch() as queue:
        assert tournament_sweep(older_than_seconds=60)["matches"] == 0


def test_arena_top_up_fills_the_pool_with_servable_battles(prompt_set):
    prompt_set.public = True  # the open arena serves public sets only
    prompt_set.save()
    comps = [CompetitorFactory() for _ in range(5)]
    with inline_dispatch() as queue:
        created = arena_top_up(pool_size=6, seed=1)
        run_inline(queue)
    assert len(created) == 6
    matches = Match.objects.filter(id__in=created)
    assert all(m.status == Match.Status.AWAITING_VOTES for m in matches)
    assert all(m.generations.count() == 2 for m in matches)
    assert (
        len({frozenset((m.competitor_a_id, m.competitor_b_id)) for m in matches}) == 6
    )  # distinct pairs
    assert {c.id for c in comps} >= {m.competitor_a_id for m in matches}
    with inline_dispatch():
        assert arena_top_up(pool_size=6) == []  # full
    assert arena_servable_matches().count() == 6


def test_judge_agreement_against_hand_counted_votes(prompt_set):
    a, b = CompetitorFactory(), CompetitorFactory()
    matches = [
        Match.objects.create(competitor_a=a, competitor_b=b, status=Match.Status.DONE)
        for _ in range(3)
    ]
    judged = ["model_a", "model_b", "tie"]
    human = [["model_a", "model_a"], ["model_a"], ["tie (bothbad)"]]
    for m, j, hs in zip(matches, judged, human):
        Battle.objects.create(
            model_a=a, model_b=b, outcome=j, source=Source.JUDGE, match=m, judge="sim"
        )
        for k, h in enumerate(hs):
            Vote.objects.create(match=m, voter_hash=f"v{k}", outcome=h)
    report = judge_agreement()
    # pairs (judge, human): (A,A) (A,A) (B,A) (tie,tie): 3 of 4 agree
    assert report["votes"] == 4 and report["matches"] == 3
    assert report["agreement"] == pytest.approx(0.75)
    assert report["agreement_without_ties"] == pytest.approx(2 / 3)
    # kappa = (p_o - p_e) / (1 - p_e); judge marginals A 2/4, B 1/4, tie 1/4; human A 3/4, tie 1/4
    p_e = 0.5 * 0.75 + 0.25 * 0 + 0.25 * 0.25
    assert report["cohen_kappa"] == pytest.approx((0.75 - p_e) / (1 - p_e))


def test_leaderboard_rebuild_is_debounced(django_capture_on_commit_callbacks, settings):
    settings.LUDUS_LEADERBOARD_DEBOUNCE_SECONDS = 3
    cache = LocMemCache("debounce-test", {})
    with (
        mock.patch.object(leaderboard_services, "cache", cache),
        mock.patch("workers.tasks.leaderboard.rebuild_leaderboards_task.apply_async") as send,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(25):
                leaderboard_services.leaderboard_schedule_rebuild()
        assert send.call_count == 1
        assert send.call_args.kwargs["countdown"] == 3
        assert cache.get(leaderboard_services.REBUILD_PENDING_KEY) is not None
        # Another process (its own memory) in the same window: one cache lookup, no second rebuild.
        leaderboard_services.leaderboard_schedule_forget()
        with django_capture_on_commit_callbacks(execute=True):
            leaderboard_services.leaderboard_schedule_rebuild()
        assert send.call_count == 1
        # The window has passed (the cache entry expires after 3 s): the next commit schedules
        # again.
        later = time.time() + 3.5
        with (
            mock.patch("time.time", return_value=later),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert cache.get(leaderboard_services.REBUILD_PENDING_KEY) is None
            leaderboard_services.leaderboard_schedule_rebuild()
        assert send.call_count == 2


def test_rebuild_debounce_asks_the_cache_once_per_window_and_process(
    django_capture_on_commit_callbacks, settings
):
    settings.LUDUS_LEADERBOARD_DEBOUNCE_SECONDS = 10
    cache = LocMemCache("debounce-test-3", {})
    calls = []
    real_add = cache.add
    with (
        mock.patch.object(
            cache, "add", side_effect=lambda *a, **k: calls.append(a) or real_add(*a, **k)
        ),
        mock.patch.object(leaderboard_services, "cache", cache),
        mock.patch("workers.tasks.leaderboard.rebuild_leaderboards_task.apply_async") as send,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(50):
                leaderboard_services.leaderboard_schedule_rebuild()
        assert send.call_count == 1
        assert len(calls) == 1
        # A commit in the last second of the window might land after the rebuild started: it asks
        # again.
        with (
            mock.patch("time.time", return_value=time.time() + 9.5),
            django_capture_on_commit_callbacks(execute=True),
        ):
            leaderboard_services.leaderboard_schedule_rebuild()
        assert len(calls) == 2


def test_a_judged_tournament_schedules_one_rebuild_and_snapshots_include_new_methods(
    prompt_set, django_capture_on_commit_callbacks
):
    comps = [CompetitorFactory(sim_strength=1200 - 50 * i) for i in range(4)]
    cache = LocMemCache("debounce-test-2", {})
    with (
        mock.patch.object(leaderboard_services, "cache", cache),
        mock.patch("workers.tasks.leaderboard.rebuild_leaderboards_task.apply_async") as send,
    ):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            t = _tournament(prompt_set, comps)
            tournament_run_inline(tournament=t)
        assert len(callbacks) == 1  # an in-process run defers its six requests into one ...
        assert send.call_count == 1  # ... and one rebuild
    snaps = leaderboard_services.leaderboard_rebuild(
        source="judge", methods=["alpharank", "expected_score", "bt"]
    )
    methods = {s.method for s in snaps}
    assert {"alpharank", "expected_score", "bt"} <= methods
    alpha = next(s for s in snaps if s.method == "alpharank")
    assert sum(r["rating"] for r in alpha.ratings) == pytest.approx(1.0)
    es = next(s for s in snaps if s.method == "expected_score")
    assert sum(r["p_win"] for r in es.ratings) == pytest.approx(1.0, abs=1e-9)
    # idempotent: the same data gives the same versions
    again = leaderboard_services.leaderboard_rebuild(source="judge", methods=["alpharank"])
    assert again[0].version == alpha.version


def test_step_retry_delay_backs_off_and_honours_retry_after(prompt_set):
    from arena.services.matches import step_retry_delay
    from clients import TransientEndpointError

    t = _tournament(prompt_set, [CompetitorFactory(), CompetitorFactory()])
    match, _ = _first_match(t)
    Match.objects.filter(id=match.id).update(attempts=3)
    delays = [step_retry_delay(match.id, TransientEndpointError("x")) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)  # full jitter under base (1 s) * 2**(3 - 1)
    assert len(set(delays)) > 1
    assert step_retry_delay(match.id, TransientEndpointError("x", retry_after=30.0)) >= 30.0
