"""Bradley-Terry against FastChat, arena-rank, evalica and choix reference values.

Tolerances (points on the 400/10 scale unless said otherwise):

* FastChat ``compute_bt`` stops L-BFGS at ``gtol=1e-6``; it sits up to 0.003 points from
  the exact optimum on these sets, so we allow 0.01.
* arena-rank stops L-BFGS at ``gtol=1e-9`` on a mean loss: up to 8e-4 points away, and
  its sandwich bounds inherit that, so we allow 0.01 (1e-5 in natural units on the
  4-team table, where it converged further).
* evalica's golden BT scores and choix's ML estimates agree with the exact optimum to
  1e-9 or better; we allow 1e-6.
* FastChat's bootstrap quantiles come from 100 random resamples with a non-converging
  optimiser on resamples whose MLE is infinite; see ``test_bootstrap_matches_fastchat_shape``.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from scipy.special import log_expit
from scipy.stats import spearmanr

from ranking.battle_files import battles_from_records
from ranking.battles import Battles
from ranking.bradley_terry import bradley_terry, predict_win_matrix
from ranking.errors import InputError, RankingWarning
from ranking.types import A_WINS, B_WINS, TIE, TIE_BOTHBAD

from .conftest import DATA, by_name, evalica_golden

NATURAL = {"scale": 1.0, "base": math.e, "init": 0.0}


@pytest.mark.parametrize("name", ["simple", "food"])
def test_equals_fastchat_compute_bt(name, vectors, evalica_battles):
    ref = vectors["fastchat"][name]["fc_compute_bt"]
    result = bradley_terry(evalica_battles(name))
    assert_allclose(by_name(result, list(ref)), list(ref.values()), rtol=0, atol=0.01)
    assert result.rating.mean() == pytest.approx(1000.0)


@pytest.mark.parametrize("name", ["simple", "food", "llmfao"])
def test_equals_evalica_golden(name, evalica_battles):
    # evalica reports strengths π normalised to sum 1: rating = 400·log10 π + const.
    ref = evalica_golden(name, "bradley_terry")
    logs = np.log10(np.array(list(ref.values())))
    expected = 400.0 * (logs - logs.mean()) + 1000.0
    result = bradley_terry(evalica_battles(name))
    assert_allclose(by_name(result, list(ref)), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", [1, 2])
def test_equals_choix_ml_estimates(case):
    spec = json.loads((DATA / "choix_tests" / f"testcase-pairwise-{case}.json").read_text())
    data = np.array(spec["data"])
    names = tuple(str(k) for k in range(spec["n_items"]))
    b = Battles(names, data[:, 0], data[:, 1], np.full(len(data), A_WINS))
    result = bradley_terry(b, **NATURAL)
    assert_allclose(result.rating, spec["ml_est"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["simple", "food"])
def test_sandwich_equals_arena_rank(name, vectors, evalica_battles):
    ref = vectors["arena_rank"][f"{name}_sandwich"]
    result = bradley_terry(evalica_battles(name), ci="sandwich")
    idx = [result.models.index(c) for c in ref["competitors"]]
    assert_allclose(result.rating[idx], ref["ratings"], rtol=0, atol=0.01)
    assert_allclose(result.lower[idx], ref["rating_lower"], rtol=0, atol=0.01)
    assert_allclose(result.upper[idx], ref["rating_upper"], rtol=0, atol=0.01)


def test_sandwich_equals_arena_rank_on_wikipedia_table(vectors, wikipedia_battles):
    natural = bradley_terry(wikipedia_battles, ci="sandwich", **NATURAL)
    ref = vectors["arena_rank"]["wiki"]
    assert_allclose(natural.rating, ref["ratings"], rtol=0, atol=1e-5)
    assert_allclose(natural.lower, ref["rating_lower"], rtol=0, atol=1e-5)
    assert_allclose(natural.upper, ref["rating_upper"], rtol=0, atol=1e-5)
    points = bradley_terry(wikipedia_battles, ci="sandwich")
    ref = vectors["arena_rank"]["wiki_elo"]
    assert_allclose(points.rating, ref["ratings"], rtol=0, atol=1e-3)
    assert_allclose(points.lower, ref["rating_lower"], rtol=0, atol=1e-3)
    # Wikipedia's own answer: strengths 0.640, 1.043, 0.660, 2.270 (geometric mean 1).
    assert_allclose(np.exp(natural.rating), [0.640, 1.043, 0.660, 2.270], atol=6e-3)


def _fastchat_l2_objective(battles: Battles, c: float, base: float):
    """FastChat's early-2024 compute_mle_elo objective, written battle by battle.

    sklearn's LogisticRegression(fit_intercept=False, C=c) on the doubled battle table:
    each battle appears twice, a decided battle with the winner's label both times, a tie
    once with each label; features are ±log(base).
    """
    a, b, o = battles.a, battles.b, battles.outcome
    y_first = np.where(o == B_WINS, 0.0, 1.0)
    y_second = np.where(o == A_WINS, 1.0, 0.0)
    lb = math.log(base)

    def f(w):
        z = lb * (w[a] - w[b])
        loss = -(y_first * log_expit(z) + (1 - y_first) * log_expit(-z)).sum()
        loss -= (y_second * log_expit(z) + (1 - y_second) * log_expit(-z)).sum()
        return 0.5 * w @ w + c * loss

    return f


@pytest.mark.parametrize("name,c", [("simple", 1.0), ("food", 1.0), ("food", 0.05)])
def test_l2_is_the_exact_optimum_of_fastchat_objective(name, c, evalica_battles):
    battles = evalica_battles(name)
    f = _fastchat_l2_objective(battles, c, 10.0)
    opt = minimize(f, np.zeros(battles.n_models), method="BFGS", options={"gtol": 1e-10})
    result = bradley_terry(battles, l2=c)
    assert_allclose(result.rating, 400.0 * opt.x + 1000.0, rtol=0, atol=1e-4)
    assert f((result.rating - 1000.0) / 400.0) <= opt.fun + 1e-9


def test_bootstrap_matches_fastchat_shape(vectors, evalica_battles):
    """Compare with FastChat's 100-round bootstrap quantiles, loosely and on purpose.

    Both resample battles from the same multinomial, but (1) FastChat used 100 rounds, so
    its 2.5 % and 97.5 % quantiles carry a Monte Carlo error of about ±100 points on
    16-30 battles, and (2) on resamples where some model wins or loses everything the
    MLE is infinite: FastChat reports wherever L-BFGS stopped (up to ±2,000), Ludus the
    tiny-ridge solution. So we use 2,000 rounds, compare only quantiles that FastChat
    placed within 500 points of its point estimate (not driven by divergent resamples)
    at 250 points, and require the same ordering of interval midpoints.
    """
    for name in ("simple", "food"):
        fc = vectors["fastchat"][name]
        point = fc["fc_compute_bt"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankingWarning)
            result = bradley_terry(evalica_battles(name), ci="bootstrap", rounds=2000, rng=7)
        names = list(point)
        idx = [result.models.index(n) for n in names]
        compared = 0
        for key, ours in (("q025", result.lower[idx]), ("q975", result.upper[idx])):
            theirs = np.array([fc[f"fc_bootstrap_bt_seed0_100rounds_{key}"][n] for n in names])
            bounded = np.abs(theirs - np.array([point[n] for n in names])) < 500
            assert_allclose(ours[bounded], theirs[bounded], rtol=0, atol=250)
            compared += int(bounded.sum())
        assert compared >= 4
        mid_fc = [
            fc["fc_bootstrap_bt_seed0_100rounds_q025"][n]
            + fc["fc_bootstrap_bt_seed0_100rounds_q975"][n]
            for n in names
        ]
        mid_ours = result.lower[idx] + result.upper[idx]
        assert spearmanr(mid_fc, mid_ours).statistic >= 0.8


def test_bootstrap_on_large_data_agrees_with_sandwich():
    rng = np.random.default_rng(11)
    theta = np.linspace(-1.0, 1.0, 6)
    a = rng.integers(0, 6, 20000)
    b = (a + rng.integers(1, 6, 20000)) % 6
    p = 1.0 / (1.0 + 10 ** (-(theta[a] - theta[b])))
    outcome = np.where(rng.random(20000) < 0.1, TIE, np.where(rng.random(20000) < p, 0, 1))
    battles = Battles(tuple("abcdef"), a, b, outcome)
    sandwich = bradley_terry(battles, ci="sandwich")
    boot = bradley_terry(battles, ci="bootstrap", rounds=400, rng=1)
    width_s = sandwich.upper - sandwich.lower
    width_b = boot.upper - boot.lower
    assert_allclose(width_b, width_s, rtol=0.2)


def test_same_seed_same_output_and_seed_matters(evalica_battles):
    b = evalica_battles("llmfao")
    one = bradley_terry(b, ci="bootstrap", rounds=20, rng=5)
    two = bradley_terry(b, ci="bootstrap", rounds=20, rng=5)
    other = bradley_terry(b, ci="bootstrap", rounds=20, rng=6)
    assert_array_equal(one.lower, two.lower)
    assert_array_equal(one.upper, two.upper)
    assert not np.array_equal(one.lower, other.lower)
    assert one.params["seed"] == 5 and one.params["rounds"] == 20


def test_disconnected_graph_is_reported_not_misranked():
    recs = [
        {"model_a": "a", "model_b": "b", "winner": "model_a"},
        {"model_a": "b", "model_b": "a", "winner": "tie"},
        {"model_a": "c", "model_b": "d", "winner": "model_a"},
        {"model_a": "d", "model_b": "c", "winner": "tie"},
        {"model_a": "c", "model_b": "e", "winner": "tie"},
    ]
    battles = battles_from_records(recs)
    with pytest.warns(RankingWarning, match="3 connected components|2 connected components"):
        result = bradley_terry(battles, ci="sandwich")
    assert_array_equal(result.component, [1, 1, 0, 0, 0])
    for comp in (0, 1):
        assert result.rating[result.component == comp].mean() == pytest.approx(1000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankingWarning)
        penalised = bradley_terry(battles, l2=1.0)
    assert np.isfinite(penalised.rating).all()


def test_unbounded_mle_warns_and_stays_finite():
    recs = [
        {"model_a": "a", "model_b": "b", "winner": "model_a"},
        {"model_a": "b", "model_b": "c", "winner": "model_a"},
        {"model_a": "c", "model_b": "b", "winner": "model_a"},
    ]
    with pytest.warns(RankingWarning, match=r"groups \{'a'\} \| \{'b', 'c'\} won"):
        result = bradley_terry(battles_from_records(recs), ci="sandwich")
    assert np.isfinite(result.rating).all() and np.isfinite(result.lower).all()
    assert result.rating[0] - result.rating[1] > 1000
    assert result.rank[0] == 1


def test_anchor_gauge(evalica_battles):
    b = evalica_battles("food")
    plain = bradley_terry(b, ci="sandwich")
    anchored = bradley_terry(b, ci="sandwich", anchor=("Pizza", 1114.0))
    k = anchored.models.index("Pizza")
    assert anchored.rating[k] == pytest.approx(1114.0)
    assert anchored.lower[k] == pytest.approx(1114.0) == anchored.upper[k]
    assert_allclose(anchored.rating - plain.rating, 1114.0 - plain.rating[k])
    assert anchored.params["anchor"] == {"model": "Pizza", "value": 1114.0}
    boot = bradley_terry(b, ci="bootstrap", rounds=30, rng=0, anchor=("Pizza", 1114.0))
    assert boot.lower[k] == pytest.approx(1114.0) == boot.upper[k]


def test_predict_win_matrix(evalica_battles):
    result = bradley_terry(evalica_battles("food"))
    p = predict_win_matrix(result)
    assert_allclose(p + p.T, 1.0)
    assert_allclose(np.diag(p), 0.5)
    i, j = result.models.index("Tacos"), result.models.index("Pizza")
    expected = 1.0 / (1.0 + 10 ** ((result.rating[j] - result.rating[i]) / 400.0))
    assert p[i, j] == pytest.approx(expected)


def test_bad_parameters():
    b = Battles(("a", "b"), [0, 1], [1, 0], [A_WINS, A_WINS])
    with pytest.raises(InputError, match="ci must be one of none, sandwich, bootstrap"):
        bradley_terry(b, ci="jackknife")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="confidence must be strictly between 0 and 1"):
        bradley_terry(b, confidence=1.5)
    with pytest.raises(InputError, match="l2 must be positive"):
        bradley_terry(b, l2=-1.0)
    with pytest.raises(InputError, match="rounds must be a positive integer"):
        bradley_terry(b, ci="bootstrap", rounds=0)
    with pytest.raises(InputError, match="at least one battle"):
        bradley_terry(b.subset([False, False]))


# ----------------------------------------------------------------------------- properties

battle_rows = st.lists(
    st.tuples(
        st.integers(0, 4), st.integers(1, 4), st.sampled_from([A_WINS, B_WINS, TIE, TIE_BOTHBAD])
    ),
    min_size=1,
    max_size=50,
)


def _battles(rows, names=("m0", "m1", "m2", "m3", "m4")):
    a = np.array([r[0] for r in rows])
    b = (a + np.array([r[1] for r in rows])) % 5
    # A tie between every consecutive pair keeps the MLE finite and the graph connected.
    ring_a, ring_b = np.arange(5), (np.arange(5) + 1) % 5
    return Battles(
        names,
        np.concatenate([a, ring_a]),
        np.concatenate([b, ring_b]),
        np.concatenate([[r[2] for r in rows], np.full(5, TIE)]),
    )


def _fit(battles, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankingWarning)
        return bradley_terry(battles, **kw)


@settings(max_examples=30, deadline=None)
@given(battle_rows, st.randoms(use_true_random=False))
def test_invariant_to_battle_order(rows, rnd):
    battles = _battles(rows)
    perm = np.array(rnd.sample(range(len(battles)), len(battles)))
    shuffled = Battles(battles.models, battles.a[perm], battles.b[perm], battles.outcome[perm])
    assert_allclose(_fit(shuffled).rating, _fit(battles).rating, rtol=0, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(battle_rows)
def test_swapping_sides_changes_nothing_and_mirroring_flips(rows):
    battles = _battles(rows)
    flip = np.array([B_WINS, A_WINS, TIE, TIE_BOTHBAD])[battles.outcome]
    swapped = Battles(battles.models, battles.b, battles.a, flip)
    mirrored = Battles(battles.models, battles.a, battles.b, flip)
    base = _fit(battles, ci="sandwich")
    assert_allclose(_fit(swapped).rating, base.rating, rtol=0, atol=1e-7)
    mirror = _fit(mirrored, ci="sandwich")
    assert_allclose(mirror.rating - 1000.0, -(base.rating - 1000.0), rtol=0, atol=1e-7)
    assert_allclose(mirror.upper - mirror.lower, base.upper - base.lower, rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(battle_rows, st.sampled_from(["sandwich", "bootstrap"]), st.sampled_from([None, 0.5]))
def test_intervals_contain_the_point_estimate(rows, ci, l2):
    result = _fit(_battles(rows), ci=ci, rounds=20, rng=0, l2=l2)
    assert (result.lower <= result.rating + 1e-9).all()
    assert (result.rating <= result.upper + 1e-9).all()


@settings(max_examples=30, deadline=None)
@given(battle_rows, st.sampled_from([None, 1.0]))
def test_a_model_that_never_plays_changes_nothing(rows, l2):
    battles = _battles(rows)
    wider = battles.with_models(battles.models + ("idle",))
    base = _fit(battles, l2=l2, ci="sandwich")
    more = _fit(wider, l2=l2, ci="sandwich")
    assert_allclose(more.rating[:5], base.rating, rtol=0, atol=1e-7)
    assert_allclose(more.lower[:5], base.lower, rtol=0, atol=1e-6)
    assert more.battles[5] == 0


@settings(max_examples=15, deadline=None)
@given(battle_rows, st.integers(0, 2**32 - 1))
def test_same_seed_same_bootstrap(rows, seed):
    battles = _battles(rows)
    one = _fit(battles, ci="bootstrap", rounds=10, rng=seed)
    two = _fit(battles, ci="bootstrap", rounds=10, rng=np.random.default_rng(seed))
    assert_array_equal(one.lower, two.lower)
    assert_array_equal(one.upper, two.upper)


def test_bootstrap_resampling_is_multinomial():
    import sys

    bt_module = sys.modules["ranking.bradley_terry"]
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    draws = bt_module._multinomial(np.random.default_rng(0), 10, probs, 100_000)
    assert (draws.sum(axis=1) == 10).all() and (draws >= 0).all()
    assert_allclose(draws.mean(axis=0), 10 * probs, atol=0.02)
    cov = np.cov(draws.T)
    expected = 10 * (np.diag(probs) - np.outer(probs, probs))
    assert_allclose(cov, expected, atol=0.03)
