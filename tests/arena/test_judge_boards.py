"""Judge boards and the rank-stability report read from the database: API, page, errors."""

from __future__ import annotations

import re

import pytest
from scipy import stats

from arena import models as m
from arena.selectors.rank_stability import stability_report
from arena.services.judge_runs import judge_run_create
from arena.services.leaderboard import leaderboard_rebuild
from tests.arena.test_api_common import API, assert_error
from tests.arena.test_judge_runs import OTHER, played  # noqa: F401 (fixture)

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def run(played, django_capture_on_commit_callbacks):  # noqa: F811
    leaderboard_rebuild(source="combined", methods=["bt"])
    with django_capture_on_commit_callbacks(execute=True):
        created = judge_run_create(name="boards", pipeline=OTHER, tournament_id=played.pk)
    created.refresh_from_db()
    assert created.status == m.JudgeRun.Status.DONE
    return created


def test_api_report_against_scipy(run, anon):
    r = anon.get(f"{API}/judges/stability/", {"a": f"run:{run.pk}", "b": "main"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body == stability_report(a=f"run:{run.pk}", b="main")
    main = m.LeaderboardSnapshot.objects.get(method="bt", source="combined", category="all")
    a = {row["model"]: row["rating"] for row in run.board["ratings"]}
    b = {row["model"]: row["rating"] for row in main.ratings}
    common = sorted(set(a) & set(b))
    assert body["models"] == len(common) == 5
    expected = stats.kendalltau([a[x] for x in common], [b[x] for x in common]).statistic
    assert body["tau"] == pytest.approx(expected)
    flips = sum(
        (a[x] - a[y]) * (b[x] - b[y]) < 0 for i, x in enumerate(common) for y in common[i + 1 :]
    )
    assert body["n_flips"] == flips and body["n_pairs"] == 10
    assert body["tau_lower"] <= body["tau"] <= body["tau_upper"]


@pytest.mark.parametrize(
    "query,field",
    [
        ({"a": "nope", "b": "main"}, "a"),
        ({"a": "main", "b": "run:999999"}, "b"),
        ({"a": "main", "b": "human"}, "b"),  # no human snapshot
        ({"a": "main"}, "b"),
    ],
)
def test_api_bad_boards_are_400(run, anon, query, field):
    assert_error(anon.get(f"{API}/judges/stability/", query), 400, field=field)


def test_a_run_not_done_is_not_a_board(run, anon):
    m.JudgeRun.objects.filter(id=run.pk).update(status=m.JudgeRun.Status.RUNNING)
    assert_error(
        anon.get(f"{API}/judges/stability/", {"a": f"run:{run.pk}", "b": "main"}), 400, field="a"
    )


def test_pages_show_the_run_board_and_the_report(run, client):
    html = client.get("/judges/").content.decode()
    assert f'href="/judges/runs/{run.pk}/"' in html and 'id="stability-form"' in html
    page = client.get(f"/judges/runs/{run.pk}/").content.decode()
    for row in run.board["ratings"]:
        assert f'data-model="{row["model"]}"' in page
        assert f"{row['rating']:.1f}" in page
    report = stability_report(a=f"run:{run.pk}", b="main")
    stab = client.get("/judges/stability/", {"a": f"run:{run.pk}", "b": "main"}).content.decode()
    tau = re.search(r'data-field="tau">([^<]*)<', stab).group(1)
    assert tau.startswith(f"{report['tau']:.3f} [{report['tau_lower']:.3f}, ")
    flips = re.search(r'data-field="flips">([^<]*)<', stab).group(1)
    assert flips == f"{report['n_flips']} of 10 ({report['n_significant_flips']} significant)"
    bad = client.get("/judges/stability/", {"a": "nope", "b": "main"})
    assert bad.status_code == 400 and b"must be one of" in bad.content
    assert client.get("/judges/runs/999999/").status_code == 404
