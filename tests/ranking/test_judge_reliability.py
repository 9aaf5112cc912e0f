"""ranking.judge_reliability: hand-computed shares on a small set, intervals checked against scipy,
and the coverage of the position-bias interval for a simulated judge with a known bias."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats

from ranking.judge_reliability import (
    JudgmentRow,
    cluster_bootstrap_interval,
    judge_reliability,
    share,
    wilson_interval,
)


def row(match: int, order: str, verdict: str, outcome: str, judge: str = "j1") -> JudgmentRow:
    return JudgmentRow(
        match=match, judge=judge, order=order, sample=0, verdict=verdict, outcome=outcome
    )


#: The hand-built set (outcomes mapped by hand: in order ba, "A>B" means model_b won).
ROWS = [
    row(1, "ab", "A>B", "model_a"),
    row(1, "ba", "A>B", "model_b"),  # first shown wins in both orders: a flip
    row(2, "ab", "B>>A", "model_b"),
    row(2, "ba", "A>B", "model_b"),  # consistent
    row(3, "ab", "A=B", "tie"),
    row(3, "ba", "B>A", "model_a"),  # tie vs model_a: a flip
    row(4, "ab", "A>B", "model_a"),  # one order only
    row(1, "ab", "A=B", "tie", judge="j2"),
]
HUMAN = {
    1: ["model_a", "model_a", "model_b"],  # model_a; j1 split 1-1 -> tie: disagree
    2: ["model_b"],  # j1 model_b: agree
    3: ["tie", "tie (bothbad)", "model_a"],  # tie; j1 split 1-1 -> tie: agree
    4: ["model_a", "model_b"],  # no single most frequent outcome: left out
}


def scipy_wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def test_hand_built_set():
    j1, j2 = judge_reliability(ROWS, human_votes=HUMAN)
    assert (j1.judge, j1.judgments, j1.matches) == ("j1", 7, 4)
    # position bias: first wins 2 + 1 + 0 + 1 of decisive 2 + 2 + 1 + 1
    pb = j1.position_bias
    assert pb is not None
    assert (pb.successes, pb.n, pb.method) == (4, 6, "cluster-bootstrap")
    assert pb.value == pytest.approx(4 / 6) and pb.lower <= pb.value <= pb.upper
    # swap inconsistency: matches 1 and 3 flip, 2 does not, 4 has one order
    si = j1.swap_inconsistency
    assert si is not None
    assert (si.successes, si.n, si.method) == (2, 3, "wilson")
    assert_allclose((si.lower, si.upper), scipy_wilson(2, 3), rtol=1e-12)
    dec = j1.decisiveness
    assert dec is not None and (dec.successes, dec.n) == (6, 7)
    ha = j1.human_agreement
    assert ha is not None and (ha.successes, ha.n, ha.method) == (2, 3, "wilson")
    assert j1.human_matches_left_out == 1

    assert (j2.judge, j2.judgments, j2.matches) == ("j2", 1, 1)
    assert j2.position_bias is None and j2.swap_inconsistency is None
    assert j2.decisiveness is not None and (j2.decisiveness.successes, j2.decisiveness.n) == (0, 1)
    assert_allclose((j2.decisiveness.lower, j2.decisiveness.upper), scipy_wilson(0, 1))
    assert j2.human_agreement is not None
    assert (j2.human_agreement.successes, j2.human_agreement.n) == (0, 1)


@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 10), (47, 50), (500, 1000)])
def test_wilson_matches_scipy(k, n):
    assert_allclose(wilson_interval(k, n), scipy_wilson(k, n), rtol=1e-12, atol=1e-15)


def test_cluster_bootstrap_matches_scipy_bootstrap():
    gen = np.random.default_rng(7)
    totals = gen.integers(1, 4, size=80)
    successes = gen.binomial(totals, 0.6)
    ours = cluster_bootstrap_interval(successes, totals, rounds=20000, rng=1)
    ref = stats.bootstrap(
        (successes, totals),
        lambda s, t, axis: s.sum(axis=axis) / t.sum(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=20000,
        method="percentile",
        random_state=2,
    ).confidence_interval
    assert_allclose(ours, (ref.low, ref.high), atol=0.01)


def _p_first(d: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + 10.0 ** (-np.asarray(d) / 400.0))


def _true_position_bias(bias: float, sigma: float, tie_rate: float) -> float:
    """E[first wins] / E[decisive] for the simulated judge of clients/simulated.py (noise 0)."""

    def terms(delta: float) -> tuple[float, float]:
        first = decisive = 0.0
        for d in (delta + bias, -delta + bias):  # order ab, order ba
            p = float(_p_first(d))
            no_tie = 1.0 - tie_rate * 4.0 * p * (1.0 - p)
            first += no_tie * p
            decisive += no_tie
        return first, decisive

    dens = stats.norm(0.0, sigma).pdf
    num = integrate.quad(lambda x: terms(x)[0] * dens(x), -10 * sigma, 10 * sigma)[0]
    den = integrate.quad(lambda x: terms(x)[1] * dens(x), -10 * sigma, 10 * sigma)[0]
    return num / den


def test_position_bias_interval_covers_a_known_bias():
    """A judge that adds ``bias`` Elo points to the first answer, both orders judged on each
    match: the 95 % cluster-bootstrap interval covers the true share about 95 % of the time."""
    bias, sigma, tie_rate, n_matches, reps = 80.0, 150.0, 0.3, 120, 300
    truth = _true_position_bias(bias, sigma, tie_rate)
    assert 0.55 < truth < 0.65
    gen = np.random.default_rng(2026)
    covered = 0
    for _ in range(reps):
        delta = gen.normal(0.0, sigma, size=n_matches)
        rows = []
        for m, dm in enumerate(delta):
            for order, d in (("ab", dm + bias), ("ba", -dm + bias)):
                p = float(_p_first(d))
                if gen.random() < tie_rate * 4.0 * p * (1.0 - p):
                    verdict = "A=B"
                else:
                    verdict = "A>B" if gen.random() < p else "B>A"
                rows.append(JudgmentRow(m, "sim", order, 0, verdict, "tie"))
        (result,) = judge_reliability(rows)
        pb = result.position_bias
        assert pb is not None and pb.method == "cluster-bootstrap"
        covered += pb.lower <= truth <= pb.upper
    rate = covered / reps
    # 300 replicates: the standard error at 0.95 is 0.0126; allow about 3 of them.
    assert 0.91 <= rate <= 0.99, rate


def test_all_or_none_share_over_clustered_verdicts_uses_wilson_over_matches():
    """Two matches, both orders decisive: decisiveness 4/4. A percentile bootstrap would give
    [1, 1]; the interval is Wilson for 2 of 2 (one item per match)."""
    rows = [
        row(1, "ab", "A>B", "model_a"),
        row(1, "ba", "B>A", "model_a"),
        row(2, "ab", "B>A", "model_b"),
        row(2, "ba", "A>B", "model_b"),
    ]
    (result,) = judge_reliability(rows)
    dec = result.decisiveness
    assert dec is not None
    assert (dec.value, dec.successes, dec.n, dec.method) == (1.0, 4, 4, "wilson-matches")
    assert_allclose((dec.lower, dec.upper), scipy_wilson(2, 2), rtol=1e-12)
    si = result.swap_inconsistency
    assert si is not None and (si.successes, si.n, si.method) == (0, 2, "wilson")


@pytest.mark.parametrize(("p", "n_matches"), [(0.6, 15), (0.9, 40), (0.97, 40), (0.97, 120)])
def test_clustered_share_interval_covers_near_the_boundary(p, n_matches):
    """Two verdicts per match, each non-tie with probability ``p``: the interval of the pooled
    share (bootstrap, or Wilson over matches at 0 or 1) covers ``p`` at about 95 % or more."""
    gen = np.random.default_rng(11)
    reps = 300
    covered = 0
    for _ in range(reps):
        s = gen.binomial(2, p, size=n_matches)
        result = share(list(s), [2] * n_matches)
        assert result is not None
        covered += result.lower <= p <= result.upper
    assert covered / reps >= 0.91, covered / reps
