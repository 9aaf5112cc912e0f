"""Profile-likelihood intervals and pair-frequency weighting of Bradley-Terry.

Reference values come from a direct computation that shares nothing with the library:
the log-likelihood written battle by battle, the constraint eliminated by substitution,
BFGS for the constrained maximum and Brent's method for the bound. Separated models are
handled there by pushing the unbounded model far out (the supremum is approached to
1e-20), not by the library's decomposition.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.optimize import brentq, minimize
from scipy.special import log_expit
from scipy.stats import chi2

from ranking.battle_files import battles_from_records
from ranking.battles import Battles
from ranking.bradley_terry import bradley_terry
from ranking.cli import main as cli_main
from ranking.errors import InputError, RankingWarning
from ranking.types import A_WINS, B_WINS, TIE

NATURAL = {"scale": 1.0, "base": math.e, "init": 0.0}
HALF_Q = chi2.ppf(0.95, 1) / 2


def _battles(rows: list[tuple[str, str, str]]) -> Battles:
    return battles_from_records([{"model_a": a, "model_b": b, "winner": w} for a, b, w in rows])


def _fit(battles: Battles, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankingWarning)
        return bradley_terry(battles, **kw)


def _loglik(battles: Battles, theta: np.ndarray) -> float:
    """Battle-by-battle log-likelihood, a tie counting half a win each way."""
    d = theta[battles.a] - theta[battles.b]
    y = np.where(battles.outcome == A_WINS, 1.0, np.where(battles.outcome == B_WINS, 0.0, 0.5))
    return float((y * log_expit(d) + (1 - y) * log_expit(-d)).sum())


def _reference_profile(
    battles: Battles, k: int, ref: list[int], fixed: dict[int, float], t: float
) -> float:
    """max ℓ subject to θ_k - mean(θ_ref) = t (and the ``fixed`` coordinates), by BFGS.

    θ_k is eliminated: θ_k (1 - [k∈ref]/|ref|) = t + Σ_{j∈ref, j≠k} θ_j / |ref|. One free
    model (not k) is pinned at 0 to remove the shift.
    """
    m = battles.n_models
    free = [j for j in range(m) if j != k and j not in fixed][1:]
    pinned = [j for j in range(m) if j != k and j not in fixed][0]

    def theta_of(x: np.ndarray) -> np.ndarray:
        theta = np.zeros(m)
        theta[free] = x
        theta[pinned] = 0.0
        for j, v in fixed.items():
            theta[j] = v
        others = sum(theta[j] for j in ref if j != k) / len(ref)
        theta[k] = (t + others) / (1.0 - (k in ref) / len(ref))
        return theta

    best = -np.inf
    for start in (np.zeros(len(free)), np.full(len(free), t)):
        opt = minimize(
            lambda x: -_loglik(battles, theta_of(x)), start, method="BFGS", options={"gtol": 1e-11}
        )
        best = max(best, -opt.fun)
    return best


def _reference_bound(battles, k, ref, fixed, sup, t_hat, side, half=HALF_Q):
    f = lambda t: _reference_profile(battles, k, ref, fixed, t) - (sup - half)  # noqa: E731
    far = t_hat + side * 1.0
    while f(far) > 0:
        far += side * 2.0
    return brentq(f, t_hat, far, xtol=1e-11) if side > 0 else brentq(f, far, t_hat, xtol=1e-11)


# A strongly connected core {b, c, d} and 'a', which won its only battle (against b).
SEPARATED = [
    ("b", "c", "model_a"),
    ("c", "b", "model_a"),
    ("c", "d", "tie"),
    ("d", "b", "model_a"),
    ("c", "d", "model_a"),
    ("a", "b", "model_a"),
]


def _separated_sup(battles):
    """Sup of ℓ on SEPARATED by scipy: 'a' held 60 units above b (its battle then costs 1e-26)."""
    a, b, c, d = (battles.models.index(x) for x in "abcd")
    opt = minimize(
        lambda x: -_loglik(battles, np.array([x[0] + 60, x[0], x[1], 0.0])[[a, b, c, d]]),
        [0.0, 0.0],
        method="BFGS",
        options={"gtol": 1e-12},
    )
    return -opt.fun


def test_core_bounds_equal_a_direct_scipy_profile():
    battles = _battles(SEPARATED)
    _, b, c, d = (battles.models.index(x) for x in "abcd")
    sup = _separated_sup(battles)
    result = _fit(battles, ci="profile", **NATURAL)
    for k in (b, c, d):
        lo = _reference_bound(battles, k, [b, c, d], {}, sup, float(result.rating[k]), -1)
        hi = _reference_bound(battles, k, [b, c, d], {}, sup, float(result.rating[k]), 1)
        assert result.lower[k] == pytest.approx(lo, abs=1e-6)
        assert result.upper[k] == pytest.approx(hi, abs=1e-6)


def test_one_win_only_has_no_upper_bound_and_a_scipy_lower_bound():
    battles = _battles(SEPARATED)
    a, b, c, d = (battles.models.index(x) for x in "abcd")
    sup = _separated_sup(battles)
    with pytest.warns(RankingWarning, match="open on that side"):
        result = bradley_terry(battles, ci="profile", **NATURAL)
    assert result.upper[a] == math.inf
    lo = _reference_bound(battles, a, [b, c, d], {}, sup, 5.0, -1)
    assert result.lower[a] == pytest.approx(lo, abs=1e-6)
    # Reported at the finite end of its 50 % interval, inside the 95 % one.
    mid = _reference_bound(battles, a, [b, c, d], {}, sup, 5.0, -1, chi2.ppf(0.5, 1) / 2)
    assert result.rating[a] == pytest.approx(mid, abs=1e-6)
    assert result.lower[a] < result.rating[a] < result.upper[a]
    row = next(r for r in result.to_rows() if r["model"] == "a")
    assert row["upper"] is None and row["lower"] == pytest.approx(lo, abs=1e-6)
    json.dumps(result.to_json(), allow_nan=False)  # valid JSON: no Infinity


def test_one_loss_only_has_no_lower_bound():
    rows = [(b, a, w) for a, b, w in SEPARATED[:-1]] + [("b", "a", "model_a")]
    result = _fit(_battles(rows), ci="profile")
    k = result.models.index("a")
    assert result.lower[k] == -math.inf and math.isfinite(result.upper[k])
    assert result.lower[k] < result.rating[k] < result.upper[k]


def test_well_connected_profile_agrees_with_scipy_and_keeps_the_mle():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, 60)
    b = (a + rng.integers(1, 4, 60)) % 4
    p = 1 / (1 + np.exp(-(np.array([0.0, 0.5, -0.4, 1.0])[a] - np.array([0.0, 0.5, -0.4, 1.0])[b])))
    outcome = np.where(rng.random(60) < p, A_WINS, B_WINS)
    outcome[:5] = TIE
    battles = Battles(("w", "x", "y", "z"), a, b, outcome)
    profile = _fit(battles, ci="profile", **NATURAL)
    plain = _fit(battles, ci="sandwich", **NATURAL)
    assert_allclose(profile.rating, plain.rating, rtol=0, atol=1e-12)  # same exact optimum
    sup = _loglik(battles, plain.rating)
    for k in range(4):
        for side, got in ((-1, profile.lower[k]), (1, profile.upper[k])):
            ref = _reference_bound(battles, k, [0, 1, 2, 3], {}, sup, float(plain.rating[k]), side)
            assert got == pytest.approx(ref, abs=1e-6)
    # Against an anchor: the interval of θ_k - θ_anchor.
    anchored = _fit(battles, ci="profile", anchor=("w", 5.0), **NATURAL)
    assert anchored.lower[0] == anchored.upper[0] == 5.0
    ref = _reference_bound(battles, 3, [0], {}, sup, float(plain.rating[3] - plain.rating[0]), 1)
    assert anchored.upper[3] - 5.0 == pytest.approx(ref, abs=1e-6)


def test_a_model_that_only_beat_the_group_above_the_core_is_open_above():
    # 'e' beat 'a', which itself only beat the core: e's interval is bounded below through a.
    rows = SEPARATED + [("e", "a", "model_a"), ("e", "a", "model_a")]
    result = _fit(_battles(rows), ci="profile")
    e, a = result.models.index("e"), result.models.index("a")
    assert result.upper[e] == math.inf and result.lower[e] > result.lower[a]


def test_two_models_reweighting_changes_nothing():
    # Two models: w = N / (P n) is one constant; it scales the information by w and the
    # score variance by w², so the sandwich is unchanged, and the profile threshold
    # scales by κ = w as the weighted log-likelihood does.
    rows = [("a", "b", "model_a")] * 7 + [("a", "b", "model_b")] * 3
    battles = _battles(rows)
    for ci in ("sandwich", "profile"):
        plain = _fit(battles, ci=ci)
        weighted = _fit(battles, ci=ci, reweight="pair_frequency")
        assert_allclose(weighted.rating, plain.rating, atol=1e-9)
        assert_allclose(weighted.lower, plain.lower, atol=1e-6)
        assert_allclose(weighted.upper, plain.upper, atol=1e-6)


def test_pair_frequency_weights_by_hand():
    # Pairs (a,b): 6 battles, (b,c): 2, (a,c): 1, so N = 9, P = 3 and the weights are
    # w = 9 / (3 n): 1/2, 3/2 and 3; each pair then carries a total weight of 3.
    rows = (
        [("a", "b", "model_a")] * 4
        + [("a", "b", "model_b")] * 2
        + [("b", "c", "model_a"), ("b", "c", "tie"), ("c", "a", "model_a")]
    )
    battles = _battles(rows)
    weighted = _fit(battles, reweight="pair_frequency")
    by_hand = Battles(
        battles.models,
        battles.a,
        battles.b,
        battles.outcome,
        weight=np.array([0.5] * 6 + [1.5, 1.5, 3.0]),
    )
    assert_allclose(weighted.rating, _fit(by_hand).rating, atol=1e-9)
    assert not np.allclose(weighted.rating, _fit(battles).rating, atol=1.0)
    assert weighted.n_battles == 9 and weighted.params["reweight"] == "pair_frequency"


def test_bad_combinations_are_input_errors():
    battles = _battles(SEPARATED)
    with pytest.raises(InputError, match="ci='profile'.*l2"):
        bradley_terry(battles, ci="profile", l2=1.0)
    with pytest.raises(InputError, match="reweight.*bootstrap"):
        bradley_terry(battles, ci="bootstrap", reweight="pair_frequency")
    with pytest.raises(InputError, match="reweight must be one of none, pair_frequency"):
        bradley_terry(battles, reweight="inverse")  # type: ignore[arg-type]


def test_cli_profile_and_reweight(tmp_path, capsys):
    path = tmp_path / "b.jsonl"
    path.write_text(
        "\n".join(json.dumps({"model_a": a, "model_b": b, "winner": w}) for a, b, w in SEPARATED)
    )
    assert cli_main(["rate", str(path), "--ci", "profile", "--output", "json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    row = next(r for r in doc["ratings"] if r["model"] == "a")
    assert row["upper"] is None and row["lower"] < row["rating"]
    assert "open on that side" in out.err
    assert (
        cli_main(
            [
                "rate",
                str(path),
                "--ci",
                "sandwich",
                "--reweight",
                "pair_frequency",
                "--output",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["params"]["reweight"] == "pair_frequency"
    assert cli_main(["rate", str(path), "--ci", "profile", "--l2", "1"]) != 0
    assert "l2" in capsys.readouterr().err


# ----------------------------------------------------------------------------- properties

rows_strategy = st.lists(
    st.tuples(st.integers(0, 4), st.integers(1, 4), st.sampled_from([A_WINS, B_WINS, TIE])),
    min_size=1,
    max_size=25,
)


def _raw(rows, names=("m0", "m1", "m2", "m3", "m4")):
    a = np.array([r[0] for r in rows])
    return Battles(names, a, (a + np.array([r[1] for r in rows])) % 5, [r[2] for r in rows])


@settings(max_examples=40, deadline=None)
@given(rows_strategy, st.sampled_from(["none", "pair_frequency"]))
def test_value_inside_its_interval_even_when_separated(rows, reweight):
    result = _fit(_raw(rows), ci="profile", reweight=reweight)
    assert (result.lower <= result.rating + 1e-9).all()
    assert (result.rating <= result.upper + 1e-9).all()
    assert np.isfinite(result.rating).all()


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.permutations(range(5)))
def test_relabelling_models_permutes_the_intervals(rows, perm):
    battles = _raw(rows)
    perm = np.array(perm)
    inverse = np.argsort(perm)
    relabelled = Battles(
        tuple(battles.models[p] for p in perm),
        inverse[battles.a],
        inverse[battles.b],
        battles.outcome,
    )
    one = _fit(battles, ci="profile")
    two = _fit(relabelled, ci="profile")
    for name in battles.models:
        i, j = one.models.index(name), two.models.index(name)
        assert one.lower[i] == pytest.approx(two.lower[j], abs=1e-6)
        assert one.upper[i] == pytest.approx(two.upper[j], abs=1e-6)
        assert one.rating[i] == pytest.approx(two.rating[j], abs=1e-6)


def test_exact_search_agrees_with_the_chord_iteration(monkeypatch):
    import ranking._profile as profile_module

    rows = SEPARATED + [("b", "d", "model_a"), ("d", "c", "tie"), ("c", "b", "model_a")]
    battles = _battles(rows)
    chord = _fit(battles, ci="profile")

    def no_chord(core, theta_hat, contrasts, target, z):
        k = contrasts.shape[0]
        return np.zeros((2, k)), np.zeros((2, k), dtype=bool)

    monkeypatch.setattr(profile_module, "_chord_bounds", no_chord)
    exact = _fit(battles, ci="profile")
    assert_allclose(exact.lower, chord.lower, atol=1e-7)
    assert_allclose(exact.upper, chord.upper, atol=1e-7)


# ------------------------------------------------------------------ ratings without the bounds


def test_ratings_without_the_bounds_keep_the_50_percent_end_of_an_unbounded_model():
    # bounds=False (a vote's leaderboard rebuild) skips the interval search, not the ratings:
    # the one-win model 'a' is still rated at the finite end of its 50 % interval, checked
    # against a direct scipy profile; ci="none" rates it under a tiny ridge, far above
    battles = _battles(SEPARATED)
    a, b, c, d = (battles.models.index(x) for x in "abcd")
    mid = _reference_bound(
        battles, a, [b, c, d], {}, _separated_sup(battles), 5.0, -1, chi2.ppf(0.5, 1) / 2
    )
    point = _fit(battles, ci="profile", bounds=False, **NATURAL)
    assert point.lower is None and point.upper is None
    assert point.rating[a] == pytest.approx(mid, abs=1e-6)
    assert _fit(battles, ci="none", **NATURAL).rating[a] > mid + 1.0


@settings(max_examples=40, deadline=None)
@given(rows_strategy, st.sampled_from(["none", "pair_frequency"]), st.booleans())
def test_ratings_without_the_bounds_equal_those_with_them(rows, reweight, anchored):
    battles = _raw(rows)
    kw = {"ci": "profile", "reweight": reweight, "anchor": ("m0", 0.0) if anchored else None}
    full = _fit(battles, **kw)
    point = _fit(battles, **kw, bounds=False)
    assert point.lower is None and point.upper is None
    assert np.array_equal(point.rating, full.rating)  # the same numbers, to the last digit
