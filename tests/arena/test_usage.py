"""Latency, tokens and cost per answer: one selector behind the model page and the API."""

from __future__ import annotations

import html as htmllib
from decimal import Decimal

import pytest

from arena import models as m
from arena.selectors.usage import competitor_usage
from tests.factories import CompetitorFactory, MatchFactory

pytestmark = pytest.mark.django_db

LATENCIES = [700, 100, 1200, 400, 900, 300, 1100, 200, 600, 1000, 500, 800]


def _answer(match, competitor, *, latency, prompt_tokens, completion_tokens, cost):
    return m.Generation.objects.create(
        match=match,
        side="a",
        competitor=competitor,
        text="answer",
        latency_ms=latency,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=Decimal(cost),
    )


@pytest.fixture
def model():
    """Twelve answers in judged matches, and one in a running match the figures must skip."""
    competitor = CompetitorFactory(name="<i>fast</i>")
    for i, latency in enumerate(LATENCIES, start=1):
        match = MatchFactory(competitor_a=competitor, status=m.Match.Status.DONE)
        _answer(
            match,
            competitor,
            latency=latency,
            prompt_tokens=10,
            completion_tokens=10 * i,
            cost=f"{0.001 * i:.3f}",
        )
    running = MatchFactory(competitor_a=competitor, status=m.Match.Status.AWAITING_VOTES)
    _answer(
        running, competitor, latency=999_999, prompt_tokens=55_555, completion_tokens=1, cost="9"
    )
    return competitor


def test_figures_by_hand(model):
    usage = competitor_usage(competitor=model)
    assert usage["answers"] == 12  # the running match's answer is left out
    p50 = usage["latency_p50_ms"]
    # Median of 100..1200 is 650. Binomial(12, 1/2): P(B <= 2) = 79/4096 <= 0.025 <
    # P(B <= 3) = 299/4096, so the interval is [x_(3), x_(10)] = [300, 1000].
    assert (p50["value"], p50["lower"], p50["upper"]) == (650.0, 300.0, 1000.0)
    assert p50["coverage"] == pytest.approx(1 - 2 * 79 / 4096, rel=1e-12)
    # p95 of 12: 1100 + 0.45 * 100; no upper rank exists below 72 answers.
    assert usage["latency_p95_ms"]["value"] == pytest.approx(1145.0)
    assert usage["latency_p95_ms"]["upper"] is None
    # Tokens 10 + 10 i, i = 1..12: mean 75; s = 10 * sqrt(13) = 36.06; t(0.975, 11) = 2.201.
    tokens = usage["tokens_per_answer"]
    half = 2.201 * 10 * 13**0.5 / 12**0.5
    assert tokens["value"] == pytest.approx(75.0)
    assert (tokens["lower"], tokens["upper"]) == pytest.approx((75 - half, 75 + half), abs=0.02)
    assert usage["cost_per_answer"]["value"] == pytest.approx(0.0065)


def test_page_and_api_show_the_selector(model, client):
    api = client.get(f"/api/v1/models/{model.pk}/usage/")
    assert api.status_code == 200
    page = client.get(f"/models/{model.pk}/")
    assert page.status_code == 200
    assert page.context["usage"] == api.json() == competitor_usage(competitor=model)
    text = htmllib.unescape(page.content.decode())
    assert "650 ms [300, 1000]" in text
    assert "1145 ms [" in text and "–]" in text  # p95 with no upper bound
    assert api.json()["methods"]["latency"] in text
    assert "999999" not in text and "55555" not in text
    raw = page.content.decode()
    assert "<i>fast</i>" not in raw and "&lt;i&gt;fast&lt;/i&gt;" in raw


def test_private_model_leaks_nothing(model, client, django_user_model):
    model.visibility = m.Competitor.Visibility.PRIVATE
    model.save()
    assert client.get(f"/api/v1/models/{model.pk}/usage/").status_code == 404
    assert client.get(f"/models/{model.pk}/").status_code == 404
    # The opponents' pages and API show only their own answers (none here).
    opponent = m.Match.objects.filter(competitor_a=model).first().competitor_b
    assert client.get(f"/api/v1/models/{opponent.pk}/usage/").json()["answers"] == 0


def test_no_answers_yet(client):
    competitor = CompetitorFactory()
    body = client.get(f"/api/v1/models/{competitor.pk}/usage/").json()
    assert body["answers"] == 0 and body["latency_p50_ms"]["value"] is None
    assert (
        "No answers in judged matches yet."
        in client.get(f"/models/{competitor.pk}/").content.decode()
    )


def test_usage_is_read_only(model, client):
    assert client.post(f"/api/v1/models/{model.pk}/usage/", {}).status_code in (401, 403, 405)


def _snapshot(rows):
    from arena.services.leaderboard import snapshot_publish

    return snapshot_publish(
        method="bt",
        source="combined",
        category="all",
        data_version="d1",
        params={"scale": 400},
        ratings=rows,
        n_battles=10,
        compute_ms=1,
    )


@pytest.fixture
def board(model):
    """``model`` (12 priced answers) rated below a cheaper rival; a private model, rated in an
    old snapshot, must stay off the table."""
    rival = CompetitorFactory(name="rival")
    for cost in ("0.110", "0.120", "0.130"):
        match = MatchFactory(competitor_a=rival, status=m.Match.Status.DONE)
        _answer(match, rival, latency=1, prompt_tokens=1, completion_tokens=1, cost=cost)
    hidden = CompetitorFactory(name="hidden", visibility=m.Competitor.Visibility.PRIVATE)
    match = MatchFactory(competitor_a=hidden, status=m.Match.Status.DONE)
    _answer(match, hidden, latency=1, prompt_tokens=1, completion_tokens=1, cost="5")
    _snapshot(
        [
            {
                "model": "rival",
                "competitor_id": rival.pk,
                "rating": 1100.0,
                "lower": 1050.0,
                "upper": 1150.0,
                "rank": 1,
                "battles": 6,
            },
            {
                "model": "hidden",
                "competitor_id": hidden.pk,
                "rating": 1050.0,
                "lower": None,
                "upper": None,
                "rank": 2,
                "battles": 6,
            },
            {
                "model": model.name,
                "competitor_id": model.pk,
                "rating": 900.0,
                "lower": 850.0,
                "upper": 950.0,
                "rank": 3,
                "battles": 6,
            },
        ]
    )
    return rival


def test_rating_against_cost_by_hand(board, model):
    from arena.selectors.usage import competitor_rating_cost

    table = competitor_rating_cost()
    named = [(r["name"], r["rating"]) for r in table["rows"]]
    assert named[:2] == [("rival", 1100.0), (model.name, 900.0)]
    assert "hidden" not in [r["name"] for r in table["rows"]]
    rival = table["rows"][0]["cost_per_battle"]
    # 0.11, 0.12, 0.13: mean 0.12, s = 0.01, t(0.975, 2) = 4.303 from a printed table.
    half = 4.303 * 0.01 / 3**0.5
    assert rival["value"] == pytest.approx(0.12)
    assert (rival["lower"], rival["upper"]) == pytest.approx((0.12 - half, 0.12 + half), abs=1e-5)
    mine = table["rows"][1]
    assert mine["answers"] == 12  # the running match's answer is left out
    # The same mean and interval as the model's own usage figures (same answers, same method).
    assert mine["cost_per_battle"] == pytest.approx(
        competitor_usage(competitor=model)["cost_per_answer"]
    )
    # The opponents the factories made: listed, unrated, no answers, after the rated ones.
    assert all(r["rating"] is None and r["answers"] == 0 for r in table["rows"][2:])


def test_rating_cost_page_and_api_agree(board, client, django_assert_max_num_queries):
    from arena.selectors.usage import competitor_rating_cost

    with django_assert_max_num_queries(6):
        api = client.get("/api/v1/models/rating-cost/")
    assert api.status_code == 200
    page = client.get("/models/")
    assert page.context["rating_cost"] == api.json() == competitor_rating_cost()
    raw = page.content.decode()
    assert "<i>fast</i>" not in raw and "&lt;i&gt;fast&lt;/i&gt;" in raw
    assert "hidden" not in raw
    assert "1100.0 [1050.0, 1150.0]" in raw
    assert client.post("/api/v1/models/rating-cost/", {}).status_code in (401, 403, 405)
