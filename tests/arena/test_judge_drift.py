"""Judge pinning and the drift gate: a judge re-grades a frozen calibration set before a run,
and one whose agreement moved beyond the threshold from its pinned agreement is barred."""

from __future__ import annotations

import pytest

from arena import models as m
from arena.exceptions import ApplicationError
from arena.services.judge_calibration import calibration_set_freeze
from arena.services.judge_runs import judge_run_create
from clients import swap_combine
from tests.arena.test_api_common import API
from tests.arena.test_judge_runs import played  # noqa: F401 (fixture)

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


def _judge(**over):
    return {"name": "pinned", "version": "v1", "seed": 1, "tie_rate": 0.0, **over}


def _start(captured, name, judge):
    tournament = m.Tournament.objects.filter(name__in=["gapped", "played"]).order_by("name")[0]
    with captured(execute=True):
        run = judge_run_create(
            name=name,
            pipeline={"pipeline": "single", "judges": [judge]},
            tournament_id=tournament.pk,
            calibration_set="cal",
        )
    run.refresh_from_db()
    return run


def _norm(outcome):
    return "tie" if outcome and outcome.startswith("tie") else outcome


def _agreement_from_rows(run):
    """Agreement recomputed from the stored calibration verdicts and the frozen outcomes."""
    frozen = dict(
        m.CalibrationItem.objects.filter(set_name="cal").values_list("match_id", "outcome")
    )
    verdicts: dict[int, dict[str, str]] = {}
    for row in m.Judgment.objects.filter(run=run, stage="calibration"):
        verdicts.setdefault(row.match_id, {})[row.order] = row.verdict
    agree = sum(
        _norm(swap_combine(v.get("ab"), v.get("ba"))) == _norm(frozen[mid])
        for mid, v in verdicts.items()
    )
    assert len(verdicts) == len(frozen)
    return agree / len(frozen)


@pytest.fixture
def frozen():
    """Ten matches between models 300 points apart, judged by a judge without ties: their
    frozen verdicts name a winner, which a judge biased to the first answer cannot repeat."""
    from arena.services.tournaments import tournament_create, tournament_run_inline
    from tests.factories import CompetitorFactory, prompt_set_with_prompts

    comps = [
        CompetitorFactory(name=f"g{i}", sim_strength=600.0 + 300.0 * i, sim_seed=i)
        for i in range(5)
    ]
    gapped = tournament_run_inline(
        tournament=tournament_create(
            name="gapped",
            format="round_robin",
            competitors=comps,
            prompt_sets=[prompt_set_with_prompts(5, name="gset")],
            judge_pipeline={"pipeline": "single", "judges": [{"name": "ref", "tie_rate": 0.0}]},
            seed=3,
        )
    )
    ids = list(m.Match.objects.filter(tournament=gapped).values_list("id", flat=True))
    assert calibration_set_freeze(name="cal", match_ids=ids) == 10
    assert calibration_set_freeze(name="cal", match_ids=ids) == 0  # frozen: nothing replaced
    return ids


def test_first_grading_pins_then_an_unchanged_judge_passes(
    frozen, django_capture_on_commit_callbacks
):
    first = _start(django_capture_on_commit_callbacks, "first", _judge())
    assert first.status == m.JudgeRun.Status.DONE
    (gate,) = first.calibration["judges"]
    assert gate["pinned_now"] and not gate["barred"] and gate["n"] == 10
    assert gate["agreement"] == pytest.approx(_agreement_from_rows(first))
    pin = m.JudgePin.objects.get(judge="pinned", version="v1", set_name="cal")
    assert pin.agreement == pytest.approx(gate["agreement"])
    again = _start(django_capture_on_commit_callbacks, "again", _judge())
    (gate2,) = again.calibration["judges"]
    assert again.status == m.JudgeRun.Status.DONE
    assert not gate2["pinned_now"] and gate2["shift"] == pytest.approx(0.0)
    assert m.JudgePin.objects.count() == 1


def test_a_drifted_judge_is_barred_with_the_reason(
    frozen, django_capture_on_commit_callbacks, anon
):
    _start(django_capture_on_commit_callbacks, "pin", _judge())
    pinned = m.JudgePin.objects.get().agreement
    # the judge behind the same name and version now prefers the first answer by 1000 points:
    # its two orders disagree, so it gives ties where the frozen verdicts name a winner
    drifted = _start(django_capture_on_commit_callbacks, "drifted", _judge(position_bias=1000.0))
    now = _agreement_from_rows(drifted)
    shift = abs(now - pinned)
    assert shift > 0.1, (now, pinned)  # the setting's default threshold
    assert drifted.status == m.JudgeRun.Status.FAILED
    assert "barred" in drifted.error and "LUDUS_JUDGE_DRIFT_THRESHOLD" in drifted.error
    assert f"{now:.3f}" in drifted.error and f"{pinned:.3f}" in drifted.error
    assert not m.JudgeRunOutcome.objects.filter(run=drifted).exists()  # nothing was judged
    assert not m.Judgment.objects.filter(run=drifted, stage="primary").exists()
    detail = anon.get(f"{API}/judge-runs/{drifted.pk}/").json()
    assert detail["status"] == "failed" and detail["error"] == drifted.error


def test_the_threshold_setting_decides(frozen, django_capture_on_commit_callbacks, settings):
    _start(django_capture_on_commit_callbacks, "pin", _judge())
    pinned = m.JudgePin.objects.get().agreement
    settings.LUDUS_JUDGE_DRIFT_THRESHOLD = 1.0
    loose = _start(django_capture_on_commit_callbacks, "loose", _judge(position_bias=1000.0))
    assert loose.status == m.JudgeRun.Status.DONE
    shift = abs(_agreement_from_rows(loose) - pinned)
    settings.LUDUS_JUDGE_DRIFT_THRESHOLD = shift  # a shift equal to the threshold passes
    assert (
        _start(django_capture_on_commit_callbacks, "equal", _judge(position_bias=1000.0)).status
        == "done"
    )
    settings.LUDUS_JUDGE_DRIFT_THRESHOLD = shift - 0.05  # beyond it: barred
    assert (
        _start(django_capture_on_commit_callbacks, "beyond", _judge(position_bias=1000.0)).status
        == "failed"
    )


def test_no_calibration_set_means_no_gate(played, django_capture_on_commit_callbacks):  # noqa: F811
    run = _start(django_capture_on_commit_callbacks, "ungated", _judge(position_bias=1000.0))
    assert run.status == m.JudgeRun.Status.DONE
    assert run.calibration["items"] == 0 and run.calibration["judges"] == []


def _openai(**over):
    return {
        "name": "gpt",
        "kind": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "allow_internal": True,
        "model": "gpt-4o-mini",
        "version": "2024-07-18",
        **over,
    }


def test_pinning_refuses_another_model_under_a_pinned_version(played):  # noqa: F811
    m.JudgePin.objects.create(
        judge="gpt", version="2024-07-18", model="gpt-4o", set_name="cal", agreement=0.8, n=10
    )
    with pytest.raises(ApplicationError) as err:
        judge_run_create(
            name="x",
            pipeline={"pipeline": "single", "judges": [_openai()]},
            tournament_id=played.pk,
        )
    (message,) = err.value.field_errors["judge_pipeline.judges"]
    assert "pinned to model 'gpt-4o'" in message and "'gpt-4o-mini'" in message
    with pytest.raises(ApplicationError) as err:
        judge_run_create(
            name="x",
            pipeline={"pipeline": "single", "judges": [_openai(version="")]},
            tournament_id=played.pk,
        )
    assert "version" in err.value.field_errors["judge_pipeline.judges"][0]
    assert not m.JudgeRun.objects.exists()


def test_api_refuses_an_unpinned_judge(played, admin_client):  # noqa: F811
    body = {
        "name": "x",
        "judge_pipeline": {"pipeline": "single", "judges": [_openai(version="")]},
        "tournament": played.pk,
    }
    r = admin_client.post(f"{API}/judge-runs/", body, format="json")
    assert r.status_code == 400 and "judge_pipeline.judges" in r.json()["error"]["fields"]


def test_a_gate_that_cannot_grade_fails_the_run(frozen, django_capture_on_commit_callbacks):
    from unittest import mock

    from arena.services import judging
    from clients import PermanentEndpointError, TransientEndpointError

    with mock.patch.object(judging, "_judge_call", side_effect=PermanentEndpointError("HTTP 401")):
        run = _start(django_capture_on_commit_callbacks, "no-key", _judge())
    assert run.status == m.JudgeRun.Status.FAILED
    assert run.error == "The drift gate could not grade the calibration set: judge: HTTP 401"
    calls = []

    def down(*args):
        calls.append(1)
        raise TransientEndpointError("HTTP 503")

    with mock.patch.object(judging, "_judge_call", side_effect=down):
        run = _start(django_capture_on_commit_callbacks, "down", _judge())
    assert run.status == m.JudgeRun.Status.FAILED and "HTTP 503" in run.error
    assert len(calls) >= 6  # the first attempt and LUDUS_JUDGE_RUN_RETRIES (5) retries
    assert not m.JudgeRunOutcome.objects.filter(run=run).exists()
