"""A judge run through a real Celery worker: the start step gates, sends one step per match,
and the last step computes the board; every match counted once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from arena.models import JudgeRun, JudgeRunOutcome, Judgment, Match
from arena.services.judge_calibration import calibration_set_freeze
from arena.services.judge_runs import judge_run_create
from arena.services.tournaments import tournament_create, tournament_run_inline
from tests.factories import CompetitorFactory, prompt_set_with_prompts

pytestmark = pytest.mark.slow


def test_a_judge_run_on_a_real_worker(celery_worker_process):
    comps = [CompetitorFactory(sim_strength=1200 - 40 * i, sim_seed=i) for i in range(6)]
    t = tournament_run_inline(
        tournament=tournament_create(
            name="wk-rr",
            format="round_robin",
            competitors=comps,
            prompt_sets=[prompt_set_with_prompts(6, name="wk")],
            seed=5,
        )
    )
    ids = list(Match.objects.filter(tournament=t).values_list("id", flat=True))
    calibration_set_freeze(name="wk-cal", match_ids=ids[:5])
    run = judge_run_create(
        name="wk-run",
        pipeline={"pipeline": "single", "judges": [{"name": "wk-judge", "version": "1"}]},
        tournament_id=t.pk,
        calibration_set="wk-cal",
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (JudgeRun.Status.DONE, JudgeRun.Status.FAILED):
            break
        time.sleep(0.25)
    assert run.status == JudgeRun.Status.DONE, (
        run.status,
        run.error,
        celery_worker_process.log[-4000:],
    )
    assert len(run.match_ids) == 15
    per_match = Counter(JudgeRunOutcome.objects.filter(run=run).values_list("match_id", flat=True))
    assert set(per_match) == set(run.match_ids) and set(per_match.values()) == {1}
    assert Judgment.objects.filter(run=run, stage="primary").count() == 30
    assert Judgment.objects.filter(run=run, stage="calibration").count() == 10
    assert run.calibration["judges"][0]["pinned_now"] and len(run.board["ratings"]) == 6
