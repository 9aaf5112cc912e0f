"""ranking.judge_reliability.self_preference: a hand-worked small case (Wilson and the MOVER
difference written out here), and a simulation where a judge with a known bias toward its own
provider is detected and a fair judge mostly is not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ranking.judge_reliability import JudgmentRow, self_preference


def row(match: int, judge: str, outcome: str, order: str = "ab") -> JudgmentRow:
    verdict = {"model_a": "A>B", "model_b": "B>A", "tie": "A=B"}[outcome]
    return JudgmentRow(
        match=match, judge=judge, order=order, sample=0, verdict=verdict, outcome=outcome
    )


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score interval, written out from Wilson (1927), z from scipy."""
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    return centre - half, centre + half


PROVIDERS = {
    1: ("Acme", "Other"),
    2: ("Other", " acme "),  # case and spaces do not matter
    3: ("Acme", "Other"),
    4: ("Other", "Acme"),
    5: ("Acme", "Acme"),  # both sides own: not counted
    6: ("Other", None),  # no own side: not counted
}
ROWS = [
    row(1, "j", "model_a"),  # own side a wins
    row(2, "j", "model_b"),  # own side b wins
    row(3, "j", "model_a"),
    row(3, "j", "model_b", order="ba"),  # split 1-1: tie, not decisive
    row(4, "j", "model_a"),  # own side b loses
    row(5, "j", "model_a"),
    row(6, "j", "model_a"),
    row(1, "k", "model_a"),  # baseline: own side wins
    row(2, "k", "model_a"),  # loses
    row(3, "k", "model_b"),  # loses
    row(4, "k", "tie"),  # not decisive
]
HUMAN = {4: ["model_b"], 5: ["model_a"]}  # match 4: own side wins; match 5 is not counted


def test_hand_worked_case():
    out = {
        r.judge: r
        for r in self_preference(
            ROWS,
            judge_providers={"j": "Acme", "k": ""},
            match_providers=PROVIDERS,
            human_votes=HUMAN,
            min_matches=4,
        )
    }
    j = out["j"]
    assert j.status == "shown" and j.provider == "Acme" and j.matches == 4
    # own: decisive on 1, 2, 4; won on 1, 2 -> 2/3
    assert (j.own_side_wins.successes, j.own_side_wins.n) == (2, 3)
    lo1, hi1 = wilson(2, 3)
    assert j.own_side_wins.value == pytest.approx(2 / 3)
    assert (j.own_side_wins.lower, j.own_side_wins.upper) == pytest.approx((lo1, hi1))
    # baseline: k on 1 (win), 2 (loss), 3 (loss); human on 4 (win) -> 2/4, one item per match
    assert (j.baseline.successes, j.baseline.n) == (2, 4)
    lo2, hi2 = wilson(2, 4)
    assert (j.baseline.lower, j.baseline.upper) == pytest.approx((lo2, hi2))
    # MOVER (Newcombe 1998, method 10)
    d = 2 / 3 - 1 / 2
    assert j.difference.value == pytest.approx(d)
    assert j.difference.lower == pytest.approx(d - math.hypot(2 / 3 - lo1, hi2 - 1 / 2))
    assert j.difference.upper == pytest.approx(d + math.hypot(hi1 - 2 / 3, 1 / 2 - lo2))
    # no provider: not shown, with the reason
    assert out["k"].status == "not shown" and out["k"].own_side_wins is None
    assert "provider" in out["k"].reason


def test_too_few_matches_is_not_enough_data():
    (j,) = [
        r
        for r in self_preference(
            ROWS, judge_providers={"j": "Acme"}, match_providers=PROVIDERS, min_matches=5
        )
        if r.judge == "j"
    ]
    assert j.status == "not enough data" and j.matches == 4
    assert j.own_side_wins is None and j.difference is None
    assert "4 match" in j.reason and "5" in j.reason


def simulate(seed: int, bias: float, n_matches: int = 300) -> list[JudgmentRow]:
    """Judge ``j`` (provider Acme) and two fair judges; every match has one Acme side.

    A judge picks the Acme side with probability ``sigmoid(d + bias)`` (``d`` the true
    strength gap, ``bias`` 0 for the fair judges), else the other side; 10 % ties.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(n_matches):
        own = "model_a" if m % 2 == 0 else "model_b"
        other = "model_b" if own == "model_a" else "model_a"
        d = rng.normal(0.0, 1.0)
        for judge, b in (("j", bias), ("f1", 0.0), ("f2", 0.0)):
            if rng.random() < 0.1:
                outcome = "tie"
            else:
                outcome = own if rng.random() < 1 / (1 + math.exp(-(d + b))) else other
            rows.append(row(m, judge, outcome))
    return rows


def providers(n_matches: int = 300) -> dict[int, tuple[str, str]]:
    return {m: ("Acme", "Rival") if m % 2 == 0 else ("Rival", "Acme") for m in range(n_matches)}


def test_simulated_biased_judge_is_detected_and_fair_judge_mostly_not():
    detected_biased = detected_fair = 0
    seeds = range(20)
    for seed in seeds:
        for bias in (0.0, 1.0):
            (j,) = [
                r
                for r in self_preference(
                    simulate(seed, bias),
                    judge_providers={"j": "Acme"},
                    match_providers=providers(),
                )
                if r.judge == "j"
            ]
            assert j.status == "shown" and j.matches == 300
            excludes_zero = j.difference.lower > 0
            if bias:
                detected_biased += excludes_zero
            else:
                detected_fair += excludes_zero or j.difference.upper < 0
    assert detected_biased == len(seeds)
    assert detected_fair <= 2  # a 95 % (conservative) interval: about 1 in 20 or fewer
