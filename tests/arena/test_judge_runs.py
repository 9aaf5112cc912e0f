"""Re-judging stored matches: a named judge run with its own board; nothing else changes."""

from __future__ import annotations

import io
import json
import threading
from unittest import mock

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from arena import models as m
from arena.services import judging
from arena.services.judge_runs import judge_run_create, judge_run_match, judge_run_start
from arena.services.tournaments import tournament_create, tournament_run_inline
from ranking.battle_files import battles_from_records
from ranking.bradley_terry import bradley_terry
from tests.arena.test_api_common import API, assert_error
from tests.factories import CompetitorFactory, prompt_set_with_prompts

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

OTHER = {
    "pipeline": "single",
    "judges": [{"name": "other-judge", "position_bias": 150.0, "noise": 50.0, "seed": 4}],
}


@pytest.fixture
def played():
    comps = [
        CompetitorFactory(name=f"r{i}", sim_strength=900.0 + 60.0 * i, sim_seed=i) for i in range(5)
    ]
    t = tournament_create(
        name="played",
        format="round_robin",
        competitors=comps,
        prompt_sets=[prompt_set_with_prompts(5, name="rset")],
        judge_pipeline={"pipeline": "single", "judges": [{"name": "orig-judge"}]},
        seed=2,
    )
    return tournament_run_inline(tournament=t)


def _state():
    return (
        sorted(m.Match.objects.values_list("id", "status", "outcome")),
        m.Battle.objects.count(),
        m.LeaderboardSnapshot.objects.count(),
        m.Judgment.objects.filter(run__isnull=True).count(),
    )


def _run(captured, **kwargs):
    with captured(execute=True):
        run = judge_run_create(**{"name": "again", "pipeline": OTHER, **kwargs})
    run.refresh_from_db()
    return run


def test_a_run_rejudges_without_touching_outcomes_or_boards(
    played, django_capture_on_commit_callbacks
):
    before = _state()
    run = _run(django_capture_on_commit_callbacks, tournament_id=played.pk)
    assert run.status == m.JudgeRun.Status.DONE, run.error
    n = m.Match.objects.filter(tournament=played, status="done").count()
    assert n == 10 and len(run.match_ids) == n
    assert _state() == before  # outcomes, battles, boards and the original verdicts unchanged
    assert m.Judgment.objects.filter(run=run, stage="primary").count() == 2 * n
    assert set(m.Judgment.objects.filter(run=run).values_list("judge", flat=True)) == {
        "other-judge"
    }
    assert m.JudgeRunOutcome.objects.filter(run=run).count() == n
    # the board: Bradley-Terry of the run's outcomes, recomputed here from battle records
    outcomes = m.JudgeRunOutcome.objects.filter(run=run).select_related(
        "match__competitor_a", "match__competitor_b"
    )
    records = [
        {
            "model_a": o.match.competitor_a.name,
            "model_b": o.match.competitor_b.name,
            "winner": o.outcome,
        }
        for o in outcomes
    ]
    expected = bradley_terry(battles_from_records(records), ci="profile").to_rows()
    board = {r["model"]: r for r in run.board["ratings"]}
    assert run.board["method"] == "bt" and run.board["n_battles"] == n
    for row in expected:
        got = board[row["model"]]
        np.testing.assert_allclose(got["rating"], row["rating"], atol=1e-6)
        for side in ("lower", "upper"):  # an open side (an undefeated model) is None in both
            if row[side] is None:
                assert got[side] is None, (row["model"], side)
            else:
                np.testing.assert_allclose(got[side], row[side], atol=1e-4)


def test_a_rerun_step_does_not_double_count(played, django_capture_on_commit_callbacks):
    run = _run(django_capture_on_commit_callbacks, tournament_id=played.pk)
    judgments = m.Judgment.objects.filter(run=run).count()
    board = run.board
    match_id = run.match_ids[0]
    with mock.patch.object(judging, "_judge_call", side_effect=AssertionError("called")):
        stored = m.JudgeRunOutcome.objects.get(run=run, match_id=match_id).outcome
        m.JudgeRun.objects.filter(id=run.pk).update(status=m.JudgeRun.Status.RUNNING)
        assert judge_run_match(run_id=run.pk, match_id=match_id) == stored
        with django_capture_on_commit_callbacks(execute=True):
            judge_run_start(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == m.JudgeRun.Status.DONE
    assert m.Judgment.objects.filter(run=run).count() == judgments
    assert m.JudgeRunOutcome.objects.filter(run=run).count() == len(run.match_ids)
    assert run.board["ratings"] == board["ratings"]


def test_a_failed_call_is_retried_without_calling_the_stored_ones_again(
    played, django_capture_on_commit_callbacks
):
    from clients import TransientEndpointError

    real = judging._judge_call
    calls: list[str] = []
    lock = threading.Lock()

    def flaky(spec, judge, messages, key, sample):
        with lock:
            calls.append(key)
            if len(calls) == 2:
                raise TransientEndpointError("judge endpoint hiccup")
        return real(spec, judge, messages, key, sample)

    with mock.patch.object(judging, "_judge_call", flaky):
        run = _run(django_capture_on_commit_callbacks, tournament_id=played.pk)
    assert run.status == m.JudgeRun.Status.DONE
    n = len(run.match_ids)
    assert len(calls) == 2 * n + 1  # one call failed and was made again, nothing else repeated
    assert m.Judgment.objects.filter(run=run).count() == 2 * n
    assert not m.JudgeRunOutcome.objects.filter(run=run, outcome__isnull=True).exists()


def test_a_permanent_failure_is_recorded_not_retried(played, django_capture_on_commit_callbacks):
    from clients import PermanentEndpointError

    with mock.patch.object(judging, "_judge_call", side_effect=PermanentEndpointError("HTTP 401")):
        run = _run(django_capture_on_commit_callbacks, tournament_id=played.pk)
    assert run.status == m.JudgeRun.Status.DONE
    errors = set(m.JudgeRunOutcome.objects.filter(run=run).values_list("error", flat=True))
    assert errors == {"judge: HTTP 401"}
    assert run.board["ratings"] == []


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"pipeline": {"pipeline": "nope"}}, "judge_pipeline.pipeline"),
        ({"pipeline": {}}, "judge_pipeline"),
        ({"name": ""}, "name"),
        ({"tournament_id": None}, "scope"),
        ({"tournament_id": 999999}, "tournament"),
        ({"tournament_id": None, "match_ids": [999999]}, "matches"),
    ],
)
def test_bad_input_is_a_field_error(played, kwargs, field):
    from arena.exceptions import ApplicationError

    args = {"name": "x", "pipeline": OTHER, "tournament_id": played.pk, **kwargs}
    with pytest.raises(ApplicationError) as err:
        judge_run_create(**args)
    assert field in err.value.field_errors
    assert not m.JudgeRun.objects.exists()


def test_api_staff_only_and_4xx(played, admin_client, owner_client, anon):
    body = {"name": "api-run", "judge_pipeline": OTHER, "tournament": played.pk}
    assert owner_client.post(f"{API}/judge-runs/", body, format="json").status_code == 403
    assert anon.post(f"{API}/judge-runs/", body, format="json").status_code in (401, 403)
    bad = {**body, "judge_pipeline": {"pipeline": "single", "judges": [{"name": "j", "noise": -1}]}}
    assert_error(
        admin_client.post(f"{API}/judge-runs/", bad, format="json"),
        400,
        field="judge_pipeline.judges[0].noise",
    )
    assert_error(
        admin_client.post(f"{API}/judge-runs/", {**body, "arena": True}, format="json"),
        400,
        field="scope",
    )
    r = admin_client.post(f"{API}/judge-runs/", body, format="json")
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["name"] == "api-run" and created["progress"]["matches"] == 10
    assert_error(admin_client.post(f"{API}/judge-runs/", body, format="json"), 400, field="name")
    listed = anon.get(f"{API}/judge-runs/").json()
    assert [row["name"] for row in listed["results"]] == ["api-run"]
    assert "board" not in listed["results"][0]
    detail = anon.get(f"{API}/judge-runs/{created['id']}/").json()
    assert detail["id"] == created["id"] and "board" in detail


@pytest.mark.django_db(transaction=True)  # the run's tasks are sent when its row commits
def test_command_shows_progress_and_fails_clearly(played, tmp_path):
    out = io.StringIO()
    path = tmp_path / "p.json"
    path.write_text(json.dumps(OTHER))
    call_command(
        "rejudge", "cli-run", "--pipeline", f"@{path}", "--tournament", str(played.pk), stdout=out
    )
    text = out.getvalue()
    assert "cli-run" in text and "10 matches" in text
    assert "done: 10/10 matches judged" in text
    run = m.JudgeRun.objects.get(name="cli-run")
    assert run.status == m.JudgeRun.Status.DONE
    for model in run.board["ratings"]:
        assert model["model"] in text
    with pytest.raises(CommandError, match="must be JSON"):
        call_command("rejudge", "x", "--pipeline", "{oops", "--arena")
    with pytest.raises(CommandError, match="judge_pipeline.pipeline"):
        call_command("rejudge", "x", "--pipeline", '{"pipeline": "bogus"}', "--arena")
    with pytest.raises(CommandError, match="--matches must be"):
        call_command("rejudge", "x", "--pipeline", json.dumps(OTHER), "--matches", "a,b")
    with pytest.raises(CommandError, match="a judge run named 'cli-run' exists"):
        call_command(
            "rejudge", "cli-run", "--pipeline", json.dumps(OTHER), "--tournament", str(played.pk)
        )


def test_command_exit_status_is_non_zero_on_bad_input(played):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "manage.py", "rejudge", "x", "--pipeline", "{oops", "--arena"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "must be JSON" in done.stderr


def test_admin_action_starts_a_run(played, client, django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = "/admin/arena/tournament/"
    form = {"action": "rejudge_tournament_action", "_selected_action": [played.pk]}
    page = client.post(url, form)
    assert page.status_code == 200 and b"Judge pipeline" in page.content
    bad = client.post(url, {**form, "apply": "1", "run_name": "adm", "pipeline": "{"})
    assert b"must be JSON" in bad.content and not m.JudgeRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url, {**form, "apply": "1", "run_name": "adm", "pipeline": json.dumps(OTHER)}
        )
    assert done.status_code == 302
    run = m.JudgeRun.objects.get(name="adm")
    assert run.status == m.JudgeRun.Status.DONE and run.scope["tournament"] == played.pk


def test_the_arena_scope_is_the_voted_arena_matches(django_capture_on_commit_callbacks):
    from tests.arena.test_api_common import servable_match

    voted = [servable_match(), servable_match()]
    unvoted = servable_match()
    m.Match.objects.filter(id__in=[x.id for x in voted]).update(n_votes=1)
    run = _run(django_capture_on_commit_callbacks, arena=True)
    assert run.status == m.JudgeRun.Status.DONE, run.error
    assert run.scope["arena"] is True
    assert sorted(run.match_ids) == sorted(x.id for x in voted)
    assert unvoted.id not in run.match_ids
    assert m.JudgeRunOutcome.objects.filter(run=run).count() == 2
    assert m.Match.objects.get(id=unvoted.id).status == m.Match.Status.AWAITING_VOTES


def test_admin_action_on_matches_and_resume(played, client, django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    ids = list(
        m.Match.objects.filter(tournament=played).order_by("id")[:3].values_list("id", flat=True)
    )
    form = {"action": "rejudge_matches_action", "_selected_action": ids}
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            "/admin/arena/match/",
            {**form, "apply": "1", "run_name": "three", "pipeline": json.dumps(OTHER)},
        )
    assert done.status_code == 302
    run = m.JudgeRun.objects.get(name="three")
    assert sorted(run.match_ids) == sorted(ids) and run.status == m.JudgeRun.Status.DONE
    calls = m.Judgment.objects.filter(run=run).count()
    with django_capture_on_commit_callbacks(execute=True):
        resumed = client.post(
            "/admin/arena/judgerun/",
            {"action": "resume_judge_runs", "_selected_action": [run.pk]},
        )
    assert resumed.status_code == 302
    assert m.Judgment.objects.filter(run=run).count() == calls  # a done run: nothing again
