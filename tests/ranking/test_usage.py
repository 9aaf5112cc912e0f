"""Latency quantiles, mean tokens and mean cost per answer, with their intervals.

Expected values are worked by hand from the binomial distribution and a printed t table.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ranking import answer_usage
from ranking.errors import InputError
from ranking.usage import mean_interval, quantile_interval


def test_median_interval_of_ten_by_hand():
    # B ~ Binomial(10, 1/2): P(B <= 1) = 11/1024 <= 0.025 < P(B <= 2) = 56/1024, so l = 2;
    # P(B >= 9) = 11/1024 <= 0.025 < P(B >= 8) = 56/1024, so u = 9.
    x = [70, 10, 90, 30, 50, 100, 20, 80, 40, 60]
    est = quantile_interval(x, 0.5)
    assert est.value == 55.0  # halfway between the 5th and 6th values
    assert (est.lower, est.upper) == (20.0, 90.0)  # x_(2), x_(9)
    assert_allclose(est.coverage, 1 - 2 * 11 / 1024, rtol=1e-12)


def test_p95_of_ten_has_no_upper_bound():
    # B ~ Binomial(10, 0.95): P(B <= 7) = 1 - .95^10 - 10 .95^9 .05 - 45 .95^8 .05^2 = 0.01150,
    # P(B <= 8) = 0.08614, so l = 8; P(B >= 10) = .95^10 = 0.599 > 0.025, so no u exists.
    x = np.arange(1.0, 11.0)
    est = quantile_interval(x, 0.95)
    assert_allclose(est.value, 9.55, rtol=1e-12)  # 9 + 0.55 * (10 - 9)
    assert est.lower == 8.0
    assert est.upper is None
    p_le_7 = 1 - 0.95**10 - 10 * 0.95**9 * 0.05 - 45 * 0.95**8 * 0.05**2
    assert_allclose(est.coverage, 1 - p_le_7, rtol=1e-10)


def test_small_sample_has_no_median_bounds():
    # n = 5: P(B <= 0) = 1/32 > 0.025, so no rank works at 95 %.
    est = quantile_interval([1, 2, 3, 4, 5], 0.5)
    assert est.value == 3.0
    assert est.lower is None and est.upper is None
    assert est.coverage == 1.0


def test_mean_t_interval_by_hand():
    # mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776 from a printed table.
    est = mean_interval([1, 2, 3, 4, 5])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)
    assert est.value == 3.0
    assert_allclose([est.lower, est.upper], [3 - half, 3 + half], atol=1e-3)  # table: 3 digits


def test_mean_interval_is_cut_at_zero():
    # mean 1, s = sqrt(3), t(0.975, 2) = 4.303: 1 - 4.303 = negative, so the lower end is 0.
    est = mean_interval([0, 0, 3])
    assert est.lower == 0.0
    assert_allclose(est.upper, 1 + 4.303 * math.sqrt(3) / math.sqrt(3), atol=1e-3)


def test_answer_usage_assembles_the_figures():
    usage = answer_usage(latency_ms=[100, 300, 200], tokens=[10, 20, 30], cost=[0.1, 0.2, 0.3])
    assert usage.n == 3
    assert usage.latency_p50.value == 200.0
    assert_allclose(usage.latency_p95.value, 290.0)  # 200 + 0.9 * 100
    assert usage.tokens_mean.value == 20.0
    assert_allclose(usage.cost_mean.value, 0.2)


def test_no_answers():
    usage = answer_usage(latency_ms=[], tokens=[], cost=[])
    assert usage.n == 0
    assert usage.latency_p50.value is None and usage.cost_mean.value is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"latency_ms": [1, 2], "tokens": [1], "cost": [1, 2]}, "one entry per answer"),
        ({"latency_ms": [-1], "tokens": [1], "cost": [1]}, "non-negative"),
        ({"latency_ms": [float("nan")], "tokens": [1], "cost": [1]}, "finite"),
        ({"latency_ms": [1], "tokens": [1], "cost": [1], "confidence": 1.5}, "confidence"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, message):
    with pytest.raises(InputError, match=message):
        answer_usage(**kwargs)


@pytest.mark.parametrize("q", [0.5, 0.95])
def test_quantile_intervals_cover_at_the_stated_rate(q):
    # Log-normal latencies (median 800 ms, sigma 0.6): the true quantile is
    # 800 * exp(0.6 * z_q), with z_0.5 = 0 and z_0.95 = 1.644854.
    z = {0.5: 0.0, 0.95: 1.6448536269514722}[q]
    truth = 800.0 * math.exp(0.6 * z)
    rng = np.random.default_rng(17)
    reps, n = 2000, 150
    hits = 0
    coverage = None
    for _ in range(reps):
        est = quantile_interval(rng.lognormal(math.log(800.0), 0.6, size=n), q)
        assert est.lower is not None and est.upper is not None
        hits += est.lower <= truth <= est.upper
        coverage = est.coverage
    assert coverage is not None and coverage >= 0.95
    rate = hits / reps
    se = math.sqrt(coverage * (1 - coverage) / reps)
    assert abs(rate - coverage) < 4 * se, (rate, coverage)


def test_t_interval_from_summary_statistics_by_hand():
    # n = 9, mean 5, sd 3: t(0.975, 8) = 2.306 from a printed table; half-width 2.306.
    from ranking.usage import t_interval

    est = t_interval(n=9, mean=5.0, sd=3.0)
    assert_allclose([est.lower, est.upper], [5 - 2.306, 5 + 2.306], atol=1e-3)
    assert t_interval(n=1, mean=5.0, sd=None).lower is None
    assert t_interval(n=0, mean=None, sd=None).value is None
    with pytest.raises(InputError, match="sd"):
        t_interval(n=3, mean=1.0, sd=-1.0)


@pytest.mark.parametrize("n", [30, 200])
def test_mean_intervals_cover_at_about_the_nominal_rate(n):
    # Skewed, cost-like answers: Gamma(shape 2, scale 0.01), whose mean is 0.02.
    rng = np.random.default_rng(5)
    reps = 2000
    hits = 0
    for _ in range(reps):
        est = mean_interval(rng.gamma(2.0, 0.01, size=n))
        assert est.lower is not None and est.upper is not None
        hits += est.lower <= 0.02 <= est.upper
    # The t interval is approximate for skewed data; with 30 answers it may fall a little short.
    assert 0.92 <= hits / reps <= 0.975, hits / reps


def test_cost_is_over_the_priced_answers_only():
    # three answers, two with a price: the cost is their mean, the rest over all three
    usage = answer_usage(latency_ms=[100, 300, 200], tokens=[10, 20, 30], cost=[0.1, 0.3])
    assert (usage.n, usage.cost_n) == (3, 2)
    assert_allclose(usage.cost_mean.value, 0.2)
    assert usage.tokens_mean.value == 20.0
    with pytest.raises(InputError, match="cost at most one"):
        answer_usage(latency_ms=[1], tokens=[1], cost=[1, 2])
