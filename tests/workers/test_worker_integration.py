"""End to end through a real Celery worker process, the real Redis and the test database.

Each test starts a worker subprocess (``celery_worker_process``), creates a tournament in
the test database and waits for the worker to play it out. Run them against PostgreSQL:
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/ludus pytest tests/workers -m slow``.
"""

from __future__ import annotations

import time

import pytest

from arena.models import Battle, Generation, Judgment, Match, Source, Tournament
from arena.services.tournaments import tournament_create, tournament_progress, tournament_start
from tests.factories import CompetitorFactory, endpoint_competitors, prompt_set_with_prompts
from tests.fake_openai import FakeOpenAI, FaultPlan
from tests.workers.real_worker import assert_each_match_judged_once, wait_finished

pytestmark = pytest.mark.slow


def _prompts():
    return prompt_set_with_prompts(
        8, name="integration", text="Integration question {i}: how does topic {i} work?"
    )


def _assert_counted_once(
    tournament: Tournament, *, expect_matches: int, judged_orders: int = 2
) -> None:
    assert_each_match_judged_once(tournament, expect_matches=expect_matches)
    valid = Judgment.objects.filter(match__tournament=tournament).exclude(verdict="")
    assert valid.count() == judged_orders * expect_matches
    for m in Match.objects.filter(tournament=tournament):
        assert m.outcome in ("model_a", "model_b", "tie")
        battle = Battle.objects.get(match=m, source=Source.JUDGE)
        assert battle.outcome == m.outcome


def test_swiss_16_runs_on_a_real_worker(celery_worker_process):
    comps = [CompetitorFactory(sim_strength=1400 - 25 * i, sim_seed=i) for i in range(16)]
    t = tournament_create(
        name="it-swiss",
        format="swiss",
        competitors=comps,
        config={"rounds": 4},
        prompt_sets=[_prompts()],
        seed=11,
    )
    tournament_start(tournament=t)
    wait_finished(t, celery_worker_process, timeout=90)
    _assert_counted_once(t, expect_matches=32)
    rows = t.results["standings"]
    assert len(rows) == 16 and sum(r["points"] for r in rows) == pytest.approx(32.0)
    assert len(t.results["expected_score"]) == 16


def test_single_elimination_16_runs_on_a_real_worker(celery_worker_process):
    comps = [CompetitorFactory(sim_strength=1400 - 25 * i, sim_seed=i) for i in range(16)]
    t = tournament_create(
        name="it-ko",
        format="single_elimination",
        competitors=comps,
        config={"third_place": True},
        prompt_sets=[_prompts()],
        seed=12,
    )
    tournament_start(tournament=t)
    wait_finished(t, celery_worker_process, timeout=90)
    _assert_counted_once(t, expect_matches=16)
    assert t.results["champion"] == t.results["standings"][0]["name"]
    assert [r["place"] for r in t.results["standings"][:4]] == [1, 2, 3, 4]


def test_faulty_openai_endpoints_still_count_every_match_once(celery_worker_process):
    """Latency, 429 (Retry-After), 500, timeouts and unparseable judge output, all recovered."""
    models = {f"remote-{i}": (1300.0 - 40 * i, "concise", i) for i in range(8)}
    plan = FaultPlan(
        p_429=0.15,
        p_500=0.1,
        p_timeout=0.05,
        p_garbage_verdict=0.1,
        retry_after=0.2,
        timeout_sleep=2.5,
        client_timeout=0.9,
        max_faults_per_request=2,
        seed=3,
        forced=("429", "500", "timeout", "garbage"),
    )
    server = FakeOpenAI(models=models, latency=0.05, faults=plan).start()
    try:
        params = {"timeout": 1.0, "max_retries": 3, "backoff_base": 0.05, "backoff_cap": 0.5}
        comps = endpoint_competitors(server.base_url, models, params=params, max_concurrency=2)
        pipeline = {
            "pipeline": "single",
            "max_parse_retries": 3,
            "judges": [
                {
                    "name": "remote-judge",
                    "kind": "openai",
                    "base_url": server.base_url,
                    "model": "judge-1",
                    "allow_internal": True,
                    "max_concurrency": 4,
                    "params": params,
                }
            ],
        }
        t = tournament_create(
            name="it-faults",
            format="swiss",
            competitors=comps,
            config={"rounds": 3, "forfeit_after": 5},
            prompt_sets=[_prompts()],
            judge_pipeline=pipeline,
            seed=13,
        )
        tournament_start(tournament=t)
        wait_finished(t, celery_worker_process, timeout=120)
        _assert_counted_once(t, expect_matches=12)
        faults = server.stats.faults
        assert (
            faults["429"] > 0
            and faults["500"] > 0
            and faults["timeout"] > 0
            and faults["garbage"] > 0
        ), faults
        # unparseable outputs were stored as parse errors, then retried (a step re-sent while a slow
        # copy still runs may get one too and lose the insert race, hence at most)
        parse_errors = Judgment.objects.filter(match__tournament=t).exclude(parse_error="").count()
        assert 1 <= parse_errors <= faults["garbage"]
        # the per-endpoint concurrency cap held across every worker thread
        assert (
            max(
                v for k, v in server.stats.max_in_flight_by_model.items() if k.startswith("remote-")
            )
            <= 2
        )
        assert server.stats.max_in_flight_by_model.get("judge-1", 0) <= 4
        gens = Generation.objects.filter(match__tournament=t)
        assert all(g.latency_ms >= 50 and g.completion_tokens > 0 for g in gens)
    finally:
        server.stop()


def test_sigkill_mid_round_then_restart_finishes_with_one_result_per_match(celery_worker_process):
    comps = [
        CompetitorFactory(sim_strength=1400 - 25 * i, sim_seed=i, params={"sim_latency_ms": 400})
        for i in range(16)
    ]
    t = tournament_create(
        name="it-kill",
        format="swiss",
        competitors=comps,
        config={"rounds": 3},
        prompt_sets=[_prompts()],
        seed=14,
    )
    tournament_start(tournament=t)
    # wait until round 2 is under way: some of its matches are being worked on. (Waiting for
    # "some done, others not" raced: the 8 matches of a round run at once and finish together.)
    busy = [Match.Status.GENERATING, Match.Status.JUDGING]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if Match.objects.filter(tournament=t, round__number=2, status__in=busy).exists():
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"round 2 never got under way: {tournament_progress(tournament=t)}")
    in_progress = Match.objects.filter(
        tournament=t, status__in=[Match.Status.GENERATING, Match.Status.JUDGING]
    )
    busy_before = in_progress.count()
    celery_worker_process.kill()  # SIGKILL: the steps it was running are never acknowledged
    assert busy_before > 0
    time.sleep(1.0)
    assert in_progress.exists()  # nobody is working on them now
    celery_worker_process.start()
    wait_finished(t, celery_worker_process, timeout=120)
    _assert_counted_once(t, expect_matches=24)
    assert t.rounds.count() == 3
