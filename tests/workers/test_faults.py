"""Faults met by a real Celery worker: intermittently malformed model answers, a Redis restart.

Each test runs a real worker subprocess (``celery_worker_process``) on the test database;
run them against PostgreSQL (the worker is another process).
"""

from __future__ import annotations

import time

import pytest

from arena.models import Competitor, Match
from arena.services.tournaments import tournament_create, tournament_start
from tests.factories import endpoint_competitors, prompt_set_with_prompts
from tests.fake_openai import FakeOpenAI, FaultPlan
from tests.workers.real_worker import assert_each_match_judged_once, wait_finished

pytestmark = pytest.mark.slow


def _prompts():
    return prompt_set_with_prompts(  # every round draws prompts of its own
        10, name="faults", text="Fault question {i}: what happens to topic {i}?"
    )


def test_intermittently_malformed_answers_never_end_a_match_early(celery_worker_process):
    """HTTP 200 answers that are not JSON are transient: retried, never a forfeit before the limit.

    Each request body is answered malformed at most twice and the client retries once, so a
    side fails at most one step: far below ``forfeit_after`` (3), and every match must be played.
    """
    models = {f"flaky-{i}": (1300.0 - 50 * i, "concise", i) for i in range(4)}
    plan = FaultPlan(p_malformed=0.5, max_faults_per_request=2, seed=5, forced=("malformed",) * 4)
    server = FakeOpenAI(models=models, latency=0.02, faults=plan).start()
    try:
        params = {"timeout": 5.0, "max_retries": 1, "backoff_base": 0.01, "backoff_cap": 0.05}
        comps = endpoint_competitors(server.base_url, models, params=params)
        t = tournament_create(
            name="malformed",
            format="round_robin",
            competitors=comps,
            config={"forfeit_after": 3},
            prompt_sets=[_prompts()],
            seed=21,
        )
        tournament_start(tournament=t)
        wait_finished(t, celery_worker_process, timeout=60)
        assert_each_match_judged_once(t, expect_matches=6)
        assert server.stats.faults["malformed"] >= 4, server.stats.faults
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (free port, append-only file), stopped at the end."""
    from tests.conftest import skip_or_fail
    from tests.processes import RedisServer, ServiceUnavailable

    try:
        server = RedisServer(tmp_path).start()
    except ServiceUnavailable as exc:
        skip_or_fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def celery_redis_url(redis_server) -> str:
    return redis_server.url


def test_worker_survives_a_redis_restart_with_steps_in_flight(celery_worker_process, redis_server):
    """Redis restarts while match steps run: the worker reconnects and every match counts once."""
    comps = [
        Competitor.objects.create(
            name=f"slow-{i}",
            kind=Competitor.Kind.SIMULATED,
            status=Competitor.Status.ACTIVE,
            sim_strength=1300 - 40 * i,
            sim_seed=i,
            params={"sim_latency_ms": 1500},
        )
        for i in range(6)
    ]
    t = tournament_create(
        name="redis-restart",
        format="round_robin",
        competitors=comps,
        prompt_sets=[_prompts()],
        seed=22,
    )
    tournament_start(tournament=t)
    deadline = time.monotonic() + 20
    while not Match.objects.filter(tournament=t, status=Match.Status.GENERATING).exists():
        assert time.monotonic() < deadline, celery_worker_process.log[-4000:]
        time.sleep(0.05)
    redis_server.stop()
    time.sleep(2.0)  # the worker's consumer and in-flight steps meet a dead broker
    redis_server.start()
    wait_finished(t, celery_worker_process, timeout=60)
    assert "Connection to broker lost" in celery_worker_process.log  # the restart was felt
    assert celery_worker_process.proc is not None and celery_worker_process.proc.poll() is None, (
        f"the worker exited:\n{celery_worker_process.log[-6000:]}"
    )
    assert_each_match_judged_once(t, expect_matches=15)
