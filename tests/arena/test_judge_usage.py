"""Judge calls record tokens, latency and cost; the judges page and API show them per judge."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pytest

from arena import models as m
from arena.selectors.judges import judge_list
from clients import JudgeSpec, completion_cost, pipeline_from_config, simulated_judge_completion
from tests.factories import CompetitorFactory, MatchFactory, prompt_set_with_prompts


def test_completion_cost_by_hand():
    # 1000 prompt tokens at 0.0025 per 1k and 500 completion tokens at 0.01 per 1k
    assert completion_cost(
        prompt_tokens=1000,
        completion_tokens=500,
        price_prompt_per_1k=0.0025,
        price_completion_per_1k=0.01,
    ) == Decimal("0.007500")


def test_simulated_judge_reports_usage_at_the_spec_prices():
    messages = [
        {"role": "system", "content": "one two three"},  # 3 words: round(3.9) = 4 tokens
        {"role": "user", "content": "four five six seven eight nine ten"},  # round(9.1) = 9
    ]
    judge = JudgeSpec(name="j", price_input_per_million=2.0, price_output_per_million=8.0)
    done = simulated_judge_completion(messages, judge=judge, slot_key="k")
    assert done.prompt_tokens == 13
    words = len(done.text.split())
    assert done.completion_tokens == max(1, round(words * 1.3))
    expected = (Decimal(13) * 2 + Decimal(done.completion_tokens) * 8) / Decimal(10**6)
    assert done.cost == expected.quantize(Decimal("0.000001"))
    free = simulated_judge_completion(messages, judge=JudgeSpec(name="j"), slot_key="k")
    assert free.cost == 0 and free.text == done.text


@pytest.mark.parametrize("key", ["price_input_per_million", "price_output_per_million"])
def test_bad_price_is_a_field_error(key):
    with pytest.raises(ValueError) as err:
        pipeline_from_config({"pipeline": "single", "judges": [{"name": "j", key: -1}]})
    assert f"judge_pipeline.judges[0].{key}" in err.value.args[1]


@pytest.mark.django_db
def test_tournament_judge_calls_store_their_usage():
    from arena.services.tournaments import tournament_create, tournament_run_inline

    comps = [CompetitorFactory(name=f"u{i}", sim_strength=1000.0 + 50 * i) for i in range(3)]
    pipeline = {
        "pipeline": "single",
        "judges": [
            {"name": "priced", "price_input_per_million": 3.0, "price_output_per_million": 15.0}
        ],
    }
    tournament_run_inline(
        tournament=tournament_create(
            name="usage",
            format="round_robin",
            competitors=comps,
            prompt_sets=[prompt_set_with_prompts(3, name="uset")],
            judge_pipeline=pipeline,
            seed=1,
        )
    )
    rows = list(m.Judgment.objects.all())
    assert len(rows) == 6  # three matches, both orders
    for row in rows:
        assert row.prompt_tokens > 50 and row.completion_tokens > 0
        expected = (Decimal(row.prompt_tokens) * 3 + Decimal(row.completion_tokens) * 15) / 10**6
        assert row.cost == expected.quantize(Decimal("0.000001"))
    (judge,) = judge_list()["judges"]
    usage = judge["usage"]
    assert usage["calls"] == 6
    assert usage["prompt_tokens"] == sum(r.prompt_tokens for r in rows)
    assert usage["cost_total"] == pytest.approx(float(sum(r.cost for r in rows)))


def _call(match, judge, latency, pt, ct, cost, **extra):
    return m.Judgment.objects.create(
        match=match,
        judge=judge,
        order=extra.pop("order", "ab"),
        stage=extra.pop("stage", "primary"),
        verdict=extra.pop("verdict", "A>B"),
        outcome=extra.pop("outcome", "model_a"),
        latency_ms=latency,
        prompt_tokens=pt,
        completion_tokens=ct,
        cost=Decimal(cost),
        **extra,
    )


@pytest.fixture
def calls():
    matches = MatchFactory.create_batch(5)
    latencies = [40, 10, 50, 20, 30]
    costs = ["0.001", "0.002", "0.003", "0.004", "0.010"]
    for match, lat, cost in zip(matches, latencies, costs, strict=True):
        _call(match, "j1", lat, 100, 10, cost)
    # a parse error is a call too; a reviewer has calls but no primary verdict
    _call(matches[0], "j1", 60, 100, 5, "0", order="ba", verdict="", outcome=None)
    _call(matches[0], "rev", 7, 200, 20, "0.5", stage="review")
    return matches


@pytest.mark.django_db
def test_usage_per_judge_by_hand(calls):
    data = judge_list()
    j1, rev = data["judges"]
    u = j1["usage"]
    assert (u["calls"], u["prompt_tokens"], u["completion_tokens"]) == (6, 600, 55)
    lat = [40, 10, 50, 20, 30, 60]
    assert u["latency_p50_ms"]["value"] == pytest.approx(35.0)  # (30 + 40) / 2
    assert u["latency_p95_ms"]["value"] == pytest.approx(np.quantile(lat, 0.95))
    assert u["cost_total"] == pytest.approx(0.020)
    assert u["cost_per_call"]["value"] == pytest.approx(0.020 / 6)
    assert rev["judge"] == "rev" and rev["judgments"] == 0 and rev["position_bias"] is None
    assert rev["usage"]["calls"] == 1 and rev["usage"]["cost_total"] == pytest.approx(0.5)
    assert "usage" in data["methodology"]


@pytest.mark.django_db
def test_page_shows_the_usage_of_the_api(calls, client):
    api = client.get("/api/v1/judges/").json()
    html = client.get("/judges/").content.decode()
    rows = re.findall(r'<tr data-usage-judge="([^"]*)">(.*?)</tr>', html, flags=re.S)
    assert [name for name, _ in rows] == [j["judge"] for j in api["judges"]]
    for (_, row), judge in zip(rows, api["judges"], strict=True):
        u = judge["usage"]
        assert f'data-figure="calls">{u["calls"]}<' in row
        tokens = f"{u['prompt_tokens']} + {u['completion_tokens']}"
        assert f'data-figure="tokens">{tokens}<' in row
        assert f'data-figure="cost_total">{u["cost_total"]:.6f}<' in row
        p50 = re.search(r'data-figure="latency_p50_ms">([^<]*)<', row).group(1)
        assert p50.startswith(f"{u['latency_p50_ms']['value']:.0f} ms")


@pytest.mark.django_db
def test_a_rejudged_verdict_counts_once_in_reliability_but_its_call_counts(calls):
    before = {j["judge"]: j for j in judge_list()["judges"]}["j1"]
    run = m.JudgeRun.objects.create(name="again", pipeline={})
    # the same judge on the same match, order and sample, in a re-judge run, and a new one
    _call(calls[0], "j1", 5, 10, 1, "0.1", run=run)
    _call(calls[1], "j1", 5, 10, 1, "0.1", run=run, order="ba", verdict="B>A")
    after = {j["judge"]: j for j in judge_list()["judges"]}["j1"]
    assert after["judgments"] == before["judgments"] + 1
    assert after["usage"]["calls"] == before["usage"]["calls"] + 2
    assert after["usage"]["cost_total"] == pytest.approx(before["usage"]["cost_total"] + 0.2)
