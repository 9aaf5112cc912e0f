"""ranking.power and ``python -m ranking plan``: sample sizes checked by hand, by the exact
binomial distribution of the test, and by simulation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binom

from ranking.cli import main
from ranking.errors import InputError
from ranking.power import battles_power, battles_to_separate

Z975 = 1.959963984540054  # standard normal quantiles (tables)
Z80 = 0.8416212335729143


def test_hand_calculation_ties_excluded():
    """delta = 400 on scale 400, base 10: p = 10/11, d = ln 10, v = 1/(p(1-p)) = 12.1."""
    plan = battles_to_separate(400.0, ties="exclude")
    expected = (Z975 + Z80) ** 2 * 12.1 / math.log(10) ** 2  # 17.9127
    assert_allclose(plan.p, 10 / 11, rtol=1e-12)
    assert_allclose(plan.n_exact, expected, rtol=1e-9)
    assert plan.decisive == 18 and plan.battles == 18
    # a tie rate only adds battles when ties are excluded: 18 / 0.75 = 24
    assert battles_to_separate(400.0, ties="exclude", tie_rate=0.25).battles == 24


def test_hand_calculation_ties_half():
    """Ties at rate t = 0.1, half a win each: v = (q - t/4) / q^2 with q = p(1-p) = 10/121."""
    q = 10 / 121
    v = (q - 0.1 / 4) / q**2
    expected = (Z975 + Z80) ** 2 * v / math.log(10) ** 2  # 12.49
    plan = battles_to_separate(-400.0, ties="half", tie_rate=0.1)
    assert_allclose(plan.n_exact, expected, rtol=1e-9)
    assert plan.battles == 13 and plan.decisive is None
    assert plan.delta == 400.0


def _exact_wald_power(n: int, p: float, z: float) -> float:
    """P(|logit(k/n)| / se > z) for k ~ Binomial(n, p), se^2 = 1 / (n p_hat (1 - p_hat))."""
    k = np.arange(n + 1)
    ph = k / n
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.abs(np.log(ph / (1 - ph))) * np.sqrt(n * ph * (1 - ph))
    reject = np.where((k == 0) | (k == n), True, stat > z)
    return float(binom.pmf(k[reject], n, p).sum())


@pytest.mark.parametrize("delta", [30.0, 60.0, 120.0])
def test_planned_n_reaches_the_power_exactly_binomial(delta):
    """Ties excluded: the exact distribution of the Wald test at the planned n."""
    plan = battles_to_separate(delta, ties="exclude", confidence=0.95, power=0.8)
    p = 1 / (1 + 10 ** (-delta / 400))
    exact = _exact_wald_power(plan.decisive, p, Z975)
    assert exact >= 0.78, exact  # the normal approximation holds to within 2 points
    assert exact <= 0.84, exact  # and does not over-plan much
    assert_allclose(plan.achieved_power, 0.8, atol=0.01)


def test_planned_n_reaches_the_power_in_simulation_with_ties_half():
    """Ties at rate 0.2 counted half: simulate battles, fit the two-model Bradley-Terry
    (closed form: logit of the mean score) with its sandwich variance, test at 95%."""
    rng = np.random.default_rng(7)
    delta, t = 50.0, 0.2
    plan = battles_to_separate(delta, ties="half", tie_rate=t)
    p = 1 / (1 + 10 ** (-delta / 400))  # expected score of the stronger model
    p_win = (p - t / 2) / (1 - t)  # decisive battles won, so that E[score] = p
    reps, n = 20000, plan.battles
    u = rng.random((reps, n))
    tie = u < t
    win = ~tie & (rng.random((reps, n)) < p_win)
    score = np.where(tie, 0.5, win.astype(float))
    s = score.mean(axis=1)
    var_y = score.var(axis=1)
    d_hat = np.log(s / (1 - s))
    se = np.sqrt(var_y / n) / (s * (1 - s))
    rejected = np.abs(d_hat / se) > Z975
    power = rejected.mean()
    mc = math.sqrt(0.8 * 0.2 / reps)
    assert power >= 0.8 - 4 * mc - 0.01, (power, n)
    assert power <= 0.8 + 4 * mc + 0.03, (power, n)
    # ties counted half need fewer battles than ties excluded at the same tie rate
    excluded = battles_to_separate(delta, ties="exclude", tie_rate=t)
    assert n < excluded.battles


def test_power_is_monotone_and_symmetric():
    powers = [battles_power(n, 50.0) for n in (10, 100, 300, 1000)]
    assert all(a < b for a, b in zip(powers, powers[1:]))
    assert_allclose(battles_power(200, 50.0), battles_power(200, -50.0), rtol=1e-12)
    assert 0.0 < powers[0] < 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delta": 0.0}, "delta must be non-zero"),
        ({"delta": float("nan")}, "delta must be finite"),
        ({"delta": 50.0, "confidence": 1.0}, "confidence must be strictly between"),
        ({"delta": 50.0, "power": 0.0}, "power must be strictly between"),
        ({"delta": 50.0, "tie_rate": 1.0}, "tie_rate must be in"),
        ({"delta": 50.0, "ties": "drop"}, "ties must be one of"),
        ({"delta": 800.0, "tie_rate": 0.5}, "impossible with ties counted as half"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, message):
    delta = kwargs.pop("delta")
    with pytest.raises(InputError, match=message):
        battles_to_separate(delta, **kwargs)


def test_cli_json(capsys):
    code = main(["plan", "--delta", "400", "50", "--ties", "exclude", "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["params"]["ties"] == "exclude"
    assert "Wald" in doc["method"]
    assert [r["delta"] for r in doc["plans"]] == [400.0, 50.0]
    assert doc["plans"][0]["battles"] == 18


def test_cli_table_and_bad_input(capsys):
    assert main(["plan", "--delta", "400"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].split() == ["delta", "p", "battles", "achieved_power"]
    assert out.splitlines()[1].split()[2] == "18"
    assert main(["plan", "--delta", "50", "--confidence", "1.5"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: confidence must be strictly between 0 and 1")
    assert len(err.strip().splitlines()) == 1
