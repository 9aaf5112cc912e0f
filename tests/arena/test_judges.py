"""Judge reliability read from the database: the selector, the API and the page agree."""

from __future__ import annotations

import html as htmllib
import re

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arena import models as m
from arena.selectors.judges import judge_list
from tests.factories import MatchFactory

pytestmark = pytest.mark.django_db


def _judgment(match, order, verdict, outcome, *, judge="j1", stage="primary", **extra):
    return m.Judgment.objects.create(
        match=match,
        judge=judge,
        order=order,
        stage=stage,
        verdict=verdict,
        outcome=outcome,
        **extra,
    )


@pytest.fixture
def stored():
    """The hand-built set of tests/ranking/test_judge_reliability.py, stored, plus rows the
    selector must skip (review stage, a parse error) and one parsed retry it must count."""
    m1, m2, m3, m4 = MatchFactory.create_batch(4)
    _judgment(m1, "ab", "A>B", "model_a")
    _judgment(m1, "ba", "A>B", "model_b")
    _judgment(m2, "ab", "B>>A", "model_b")
    _judgment(m2, "ba", "", None, parse_error="no verdict")
    _judgment(m2, "ba", "A>B", "model_b", stage="primary/r1")
    _judgment(m3, "ab", "A=B", "tie")
    _judgment(m3, "ba", "B>A", "model_a")
    _judgment(m4, "ab", "A>B", "model_a")
    _judgment(m1, "ab", "A=B", "tie", judge="<b>j2</b>")
    _judgment(m1, "ab", "B>A", "model_b", judge="j1", stage="review")
    for match, outcomes in (
        (m1, ["model_a", "model_a", "model_b"]),
        (m2, ["model_b"]),
        (m3, ["tie", "tie (bothbad)", "model_a"]),
        (m4, ["model_a", "model_b"]),
    ):
        for i, outcome in enumerate(outcomes):
            m.Vote.objects.create(match=match, voter_hash=f"v{i}", outcome=outcome)


def test_selector_reads_primary_verdicts(stored):
    data = judge_list()
    j2, j1 = data["judges"]  # sorted by name: "<b>j2</b>" < "j1"
    assert (j1["judge"], j1["judgments"], j1["matches"]) == ("j1", 7, 4)
    assert (j1["position_bias"]["successes"], j1["position_bias"]["n"]) == (4, 6)
    assert (j1["swap_inconsistency"]["successes"], j1["swap_inconsistency"]["n"]) == (2, 3)
    assert (j1["decisiveness"]["successes"], j1["decisiveness"]["n"]) == (6, 7)
    assert (j1["human_agreement"]["successes"], j1["human_agreement"]["n"]) == (2, 3)
    assert j1["human_matches_left_out"] == 1
    assert j2["judge"] == "<b>j2</b>" and j2["position_bias"] is None
    assert set(data["methodology"]) >= {
        "position_bias",
        "swap_inconsistency",
        "decisiveness",
        "human_agreement",
        "intervals",
        "self_preference",
    }


def test_no_judgments():
    assert judge_list()["judges"] == []


def test_computed_once_per_change(stored):
    first = judge_list()
    with CaptureQueriesContext(connection) as queries:
        assert judge_list() == first
    # only the two largest ids that name the data; the rows themselves are not read again
    assert len(queries) == 2 and all("MAX(" in q["sql"].upper() for q in queries.captured_queries)
    # a new verdict changes the key: the figures are computed again and include it
    _judgment(m.Match.objects.order_by("id").first(), "ba", "B>A", "model_a", judge="j3")
    assert [j["judge"] for j in judge_list()["judges"]] == ["<b>j2</b>", "j1", "j3"]


def test_api_is_the_selector(stored, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):  # + matches' providers, pipelines
        response = client.get("/api/v1/judges/")
    assert response.status_code == 200
    assert response.json() == judge_list()


def test_api_is_read_only(stored, client):
    assert client.post("/api/v1/judges/", {}).status_code in (401, 403, 405)


def _expected_text(share):
    """The page's text for a share, formatted here from the API's numbers."""
    if share is None:
        return "–"
    v, lo, hi = (round(100 * share[k], 1) for k in ("value", "lower", "upper"))
    return f"{v:.1f} % ({lo:.1f}–{hi:.1f} %)"


def test_page_shows_the_api_numbers_and_escapes_names(stored, client):
    api = client.get("/api/v1/judges/").json()
    html = client.get("/judges/").content.decode()
    assert "<b>j2</b>" not in html and "&lt;b&gt;j2&lt;/b&gt;" in html
    rows = re.findall(r'<tr data-judge="([^"]*)">(.*?)</tr>', html, flags=re.S)
    assert [htmllib.unescape(name) for name, _ in rows] == [j["judge"] for j in api["judges"]]
    for (_, row), judge in zip(rows, api["judges"], strict=True):
        for key in ("position_bias", "swap_inconsistency", "decisiveness", "human_agreement"):
            (cell,) = re.findall(
                rf'<td data-figure="{key}"><span class="share">([^<]*)</span>', row
            )
            assert htmllib.unescape(cell) == _expected_text(judge[key])
    assert 'href="/judges/"' in html  # in the nav
    assert api["methodology"]["intervals"] in html


def test_a_tournament_judged_by_a_biased_simulated_judge():
    """End to end through the judging service: a simulated judge that adds 300 Elo points to
    the first answer, equal-strength competitors (answer quality noise 25 Elo each), no ties.
    P(first wins | quality gap x) = 1 / (1 + 10^(-(x + 300) / 400)), x ~ N(0, 25 sqrt 2)
    averaged over both orders; the selector's interval must hold that value."""
    from scipy import integrate, stats

    from arena.services.tournaments import tournament_create, tournament_run_inline
    from tests.factories import CompetitorFactory, prompt_set_with_prompts

    comps = [CompetitorFactory(name=f"eq{i}", sim_strength=1000.0) for i in range(8)]
    sets = [prompt_set_with_prompts(8, name="eqset")]
    pipeline = {
        "pipeline": "single",
        "judges": [{"name": "first-lover", "position_bias": 300.0, "noise": 0.0, "tie_rate": 0.0}],
    }
    tournament_run_inline(
        tournament=tournament_create(
            name="rr",
            format="round_robin",
            competitors=comps,
            prompt_sets=sets,
            judge_pipeline=pipeline,
            seed=3,
        )
    )
    sd = 25.0 * np.sqrt(2.0)

    def p_first(x):
        return 0.5 * sum(1.0 / (1.0 + 10.0 ** (-(s * x + 300.0) / 400.0)) for s in (1, -1))

    truth = integrate.quad(lambda x: p_first(x) * stats.norm(0, sd).pdf(x), -10 * sd, 10 * sd)[0]
    (row,) = judge_list()["judges"]
    pb = row["position_bias"]
    assert row["judge"] == "first-lover" and row["matches"] == 28 and pb["n"] == 56
    assert pb["lower"] <= truth <= pb["upper"]
    assert pb["lower"] > 0.6  # clearly biased towards the first answer
    assert row["decisiveness"]["value"] == 1.0


def _acme_tournament(name, pipeline_providers, n=10):
    """``n`` matches, side a an Acme model, side b a Rival model, in a tournament whose
    pipeline names judges j1 and j2 with ``pipeline_providers``."""
    from tests.factories import CompetitorFactory, TournamentFactory

    judges = [{"name": j, "kind": "simulated"} for j in ("j1", "j2")]
    for entry, provider in zip(judges, pipeline_providers, strict=True):
        if provider is not None:
            entry["provider"] = provider
    t = TournamentFactory(name=name, judge_pipeline={"pipeline": "majority", "judges": judges})
    return [
        MatchFactory(
            tournament=t,
            competitor_a=CompetitorFactory(provider="Acme"),
            competitor_b=CompetitorFactory(provider="Rival"),
        )
        for _ in range(n)
    ]


@pytest.fixture
def acme():
    """j1 (provider Acme) gives Acme 8 of 9 decisive outcomes (one tie); j2 (no provider)
    splits 5-5."""
    matches = _acme_tournament("acme-cup", ["Acme", None])
    for i, match in enumerate(matches):
        j1 = "A=B" if i == 0 else ("B>A" if i == 1 else "A>B")
        _judgment(match, "ab", j1, {"A=B": "tie", "B>A": "model_b", "A>B": "model_a"}[j1])
        _judgment(match, "ab", *(("A>B", "model_a") if i % 2 else ("B>A", "model_b")), judge="j2")
    return matches


def test_self_preference_from_the_pipeline_provider(acme):
    from tests.ranking.test_self_preference import wilson

    by_name = {j["judge"]: j["self_preference"] for j in judge_list()["judges"]}
    sp = by_name["j1"]
    assert (sp["status"], sp["provider"], sp["matches"]) == ("shown", "Acme", 10)
    assert (sp["own_side_wins"]["successes"], sp["own_side_wins"]["n"]) == (8, 9)
    assert (sp["own_side_wins"]["lower"], sp["own_side_wins"]["upper"]) == pytest.approx(
        wilson(8, 9)
    )
    assert (sp["baseline"]["successes"], sp["baseline"]["n"]) == (5, 10)
    assert sp["difference"]["value"] == pytest.approx(8 / 9 - 1 / 2)
    assert by_name["j2"]["status"] == "not shown" and "provider" in by_name["j2"]["reason"]


def test_self_preference_too_few_matches_and_conflicting_providers():
    for i, match in enumerate(_acme_tournament("small", ["Acme", "Acme"], n=3)):
        _judgment(match, "ab", "A>B", "model_a")
        _judgment(match, "ab", "B>A", "model_b", judge="j2")
    _acme_tournament("other", ["Acme", "Rival"], n=1)  # j2 named with another provider
    by_name = {j["judge"]: j["self_preference"] for j in judge_list()["judges"]}
    assert by_name["j1"]["status"] == "not enough data" and by_name["j1"]["matches"] == 3
    assert by_name["j1"]["difference"] is None
    # the second tournament has no verdicts: its pipeline is not read, j2 is Acme only
    assert by_name["j2"]["status"] == "not enough data"
    m0 = m.Match.objects.filter(tournament__name="other").get()
    _judgment(m0, "ab", "A>B", "model_a", judge="j2")
    by_name = {j["judge"]: j["self_preference"] for j in judge_list()["judges"]}
    assert by_name["j2"]["status"] == "not shown"
    assert "Acme, Rival" in by_name["j2"]["reason"]


def test_self_preference_page_is_the_api(acme, client):
    api = {j["judge"]: j["self_preference"] for j in client.get("/api/v1/judges/").json()["judges"]}
    html = client.get("/judges/").content.decode()
    rows = dict(
        re.findall(r'<tr data-selfpref-judge="([^"]*)" data-status="[^"]*">(.*?)</tr>', html, re.S)
    )
    assert set(rows) == set(api)
    shown = rows["j1"]
    for key in ("own_side_wins", "baseline"):
        (cell,) = re.findall(rf'<td data-figure="{key}">([^<]*)</td>', shown)
        assert htmllib.unescape(cell) == _expected_text(api["j1"][key])
    d = api["j1"]["difference"]
    (cell,) = re.findall(r'<td data-figure="difference">([^<]*)', shown)
    v, lo, hi = (round(100 * d[k], 1) for k in ("value", "lower", "upper"))
    assert htmllib.unescape(cell) == f"{v:+.1f} pt ({lo:+.1f} to {hi:+.1f} pt)"
    (status,) = re.findall(r'<td colspan="3" data-figure="status">(.*?)</td>', rows["j2"], re.S)
    assert htmllib.unescape(re.sub(r"<[^>]+>", "", status)) == ("Not shown: " + api["j2"]["reason"])
    assert htmllib.escape(judge_list()["methodology"]["self_preference"]) in html
