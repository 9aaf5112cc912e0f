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


def _answer(
    match, competitor, *, latency, prompt_tokens, completion_tokens, cost, basis="declared"
):
    return m.Generation.objects.create(
        match=match,
        side="a",
        competitor=competitor,
        text="answer",
        latency_ms=latency,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=Decimal(cost),
        cost_basis=basis,
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


def _chart(html: str):
    """The rating-against-cost SVG of the models page, parsed."""
    import xml.etree.ElementTree as ET

    start = html.index("<svg", html.index('id="rating-cost-chart"'))
    return ET.fromstring(html[start : html.index("</svg>", start) + len("</svg>")])


def _axis(svg, ns, *, vertical: bool):
    """Value -> coordinate of an axis, fitted independently from two of its tick labels (on
    log10 of the values when the axis says it is a log scale)."""
    import math

    labels = [
        t
        for t in svg.iter(f"{ns}text")
        if not t.get("class") and t.get("text-anchor") == ("end" if vertical else "middle")
    ]
    key = "y" if vertical else "x"
    (c0, v0), (c1, v1) = [(float(t.get(key)), float(t.text)) for t in (labels[0], labels[-1])]
    if vertical:  # tick labels sit 4 units below their grid line
        c0, c1 = c0 - 4, c1 - 4
    name = next(t.text for t in svg.iter(f"{ns}text") if t.get("class") == "axis-x")
    f = math.log10 if not vertical and "log scale" in name else (lambda v: v)
    return lambda v: c0 + (f(v) - f(v0)) * (c1 - c0) / (f(v1) - f(v0))


def test_rating_cost_chart_plots_the_api_numbers_with_both_intervals(board, model, client):
    api = client.get("/api/v1/models/rating-cost/").json()
    page = client.get("/models/")
    html = page.content.decode()
    assert page.context["rating_cost"] == api  # one computation behind table, chart and API
    svg = _chart(html)
    ns = "{http://www.w3.org/2000/svg}" if svg.tag.startswith("{") else ""
    points = {g.get("data-model"): g for g in svg.iter(f"{ns}g") if g.get("class") == "point"}
    # rated and priced: rival and the model; the unrated opponents and the private model are not
    assert set(points) == {"rival", model.name}
    assert "<i>fast</i>" not in html and "&lt;i&gt;fast&lt;/i&gt;" in html
    x_of, y_of = _axis(svg, ns, vertical=False), _axis(svg, ns, vertical=True)
    for row in api["rows"]:
        if row["name"] not in points:
            assert row["rating"] is None or row["cost_per_battle"]["value"] is None
            continue
        g = points[row["name"]]
        cost = row["cost_per_battle"]
        assert float(g.get("data-rating")) == row["rating"]
        assert float(g.get("data-cost")) == cost["value"]
        circle = g.find(f"{ns}circle")
        assert float(circle.get("cx")) == pytest.approx(x_of(cost["value"]), abs=0.15)
        assert float(circle.get("cy")) == pytest.approx(y_of(row["rating"]), abs=0.15)
        bars = {ln.get("class"): ln for ln in g.iter(f"{ns}line") if ln.get("class")}
        rating_bar, cost_bar = bars["bar-rating"], bars["bar-cost"]
        assert sorted(float(rating_bar.get(k)) for k in ("y1", "y2")) == pytest.approx(
            sorted([y_of(row["lower"]), y_of(row["upper"])]), abs=0.15
        )
        assert sorted(float(cost_bar.get(k)) for k in ("x1", "x2")) == pytest.approx(
            sorted([x_of(cost["lower"]), x_of(cost["upper"])]), abs=0.15
        )
    axis_x = next(t.text for t in svg.iter(f"{ns}text") if t.get("class") == "axis-x")
    axis_y = next(t.text for t in svg.iter(f"{ns}text") if t.get("class") == "axis-y")
    assert "mean cost per battle (USD)" in axis_x and "95 % t interval" in axis_x
    assert "Bradley-Terry rating, 95 % interval" in axis_y


def test_no_chart_without_priced_rated_models(client):
    CompetitorFactory(name="alone")
    html = client.get("/models/").content.decode()
    assert 'id="rating-cost-chart"' not in html and 'id="rating-cost-chart-empty"' in html


def _row(name, rating, lower, upper, cost, cost_lower, cost_upper):
    return {
        "name": name,
        "rating": rating,
        "lower": lower,
        "upper": upper,
        "cost_per_battle": {"value": cost, "lower": cost_lower, "upper": cost_upper},
    }


def test_costs_spanning_orders_of_magnitude_go_on_a_log_axis():
    """0.002 against 0.2 (100 times): a log axis; a lower bound cut at 0 runs to the axis'
    edge without a cap; a cost of one answer has no bar; a cost of 0 makes the axis linear."""
    import math
    import xml.etree.ElementTree as ET

    from arena.web.charts import rating_cost_chart

    rows = [
        _row("cheap", 1000.0, 980.0, 1020.0, 0.002, 0.0, 0.005),
        _row("dear", 1100.0, 1080.0, 1120.0, 0.2, 0.15, 0.25),
        _row("once", 1050.0, None, None, 0.02, None, None),
        _row("unrated", None, None, None, 0.01, 0.0, 0.02),
    ]
    kw = {"title": "t", "x_label": "cost", "y_label": "rating", "currency": "EUR"}
    svg = ET.fromstring(str(rating_cost_chart(rows, **kw)))
    axis = next(t.text for t in svg.iter("text") if t.get("class") == "axis-x")
    assert axis == "cost (log scale)"
    ticks = [
        t.text for t in svg.iter("text") if t.get("text-anchor") == "middle" and not t.get("class")
    ]
    assert {"0.01", "0.1"} <= set(ticks)
    x_of = _axis(svg, "", vertical=False)
    points = {g.get("data-model"): g for g in svg.iter("g")}
    assert set(points) == {"cheap", "dear", "once"}
    for name, cost in (("cheap", 0.002), ("dear", 0.2), ("once", 0.02)):
        assert float(points[name].find("circle").get("cx")) == pytest.approx(x_of(cost), abs=0.15)
    # one decade is the same width anywhere on the axis
    assert x_of(0.2) - x_of(0.02) == pytest.approx(x_of(0.02) - x_of(0.002))
    cheap_bar = next(ln for ln in points["cheap"].iter("line") if ln.get("class") == "bar-cost")
    left_edge = min(float(ln.get("x1")) for ln in svg.iter("line") if ln.get("y1") == ln.get("y2"))
    assert float(cheap_bar.get("x1")) == pytest.approx(left_edge)
    caps = [ln for ln in points["cheap"].iter("line") if not ln.get("class")]
    assert len(caps) == 3  # two on the rating bar, one (the upper) on the cost bar
    assert math.isclose(float(caps[-1].get("x1")), x_of(0.005), abs_tol=0.15)
    assert not [ln for ln in points["once"].iter("line")]
    assert "EUR" in points["cheap"].find("circle").find("title").text

    linear = ET.fromstring(
        str(rating_cost_chart([*rows, _row("free", 990.0, 970.0, 1010.0, 0.0, 0.0, 0.0)], **kw))
    )
    assert next(t.text for t in linear.iter("text") if t.get("class") == "axis-x") == "cost"


def test_chart_text_is_escaped():
    from arena.web.charts import rating_cost_chart

    svg = str(
        rating_cost_chart(
            [_row('<script>"x"</script>', 1000.0, 990.0, 1010.0, 0.1, 0.05, 0.15)],
            title="<b>t</b>",
            x_label="<x>",
            y_label="<y>",
            currency="<c>",
        )
    )
    assert "<script>" not in svg and "<b>" not in svg and "<x>" not in svg and "<c>" not in svg
    assert "&lt;script&gt;&quot;x&quot;&lt;/script&gt;" in svg
