"""α-Rank: OpenSpiel reference distributions, log-space stability at large α, properties."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose
from scipy.linalg import null_space

from ranking.alpharank import (
    AlphaRankResult,
    alpharank_from_battles,
    alpharank_game,
    alpharank_rating,
    alpharank_sweep,
    log_fixation,
    stationary_log_distribution,
)
from ranking.battles import Battles
from ranking.errors import InputError
from ranking.types import A_WINS, B_WINS, TIE

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "alpharank_vectors.json").read_text())["vectors"]
GAMES = json.loads((DATA / "alpharank_games.json").read_text())

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
alphas = st.sampled_from([0.0, 1e-3, 0.1, 1.0, 10.0, 100.0, 1e4, 1e6, 1e8])


def _elo_table() -> np.ndarray:
    r = np.array(GAMES["elo_ratings"])
    return 1.0 / (1.0 + 10.0 ** ((r[None, :] - r[:, None]) / 400.0))


def _tables(game: str) -> list[np.ndarray]:
    if game == "pd_2pop":
        return [np.array(GAMES["pd"]), np.array(GAMES["pd_column"])]
    if game == "bos_2pop":
        return [np.array(GAMES["bos_row"]), np.array(GAMES["bos_column"])]
    if game == "rps_2pop":
        rps = np.array(GAMES["rps"])
        return [rps, -rps]
    if game == "elo":
        return [_elo_table()]
    return [np.array(GAMES[game])]


# vector name -> (game, keyword arguments); the names spell out OpenSpiel's settings
CASES = {
    "han2013_m20_alpha0.1_nonlocal": (
        "han2013",
        dict(population_size=20, alpha=0.1, local_selection=False),
    ),
    "han2013_m50_alpha100_local": ("han2013", dict(population_size=50, alpha=100.0)),
    "rps_m50_alpha100_local": ("rps", dict(population_size=50, alpha=100.0)),
    "rps_m20_alpha0.1_local": ("rps", dict(population_size=20, alpha=0.1)),
    "rps_m20_alpha0.1_nonlocal_constsum": (
        "rps",
        dict(population_size=20, alpha=0.1, local_selection=False),
    ),
    "brps_m50_alpha100_local": ("brps", dict(population_size=50, alpha=100.0)),
    "brps_m50_alpha0.1_local": ("brps", dict(population_size=50, alpha=0.1)),
    "brps_m50_alpha0.01_local": ("brps", dict(population_size=50, alpha=0.01)),
    "brps_m20_alpha0.1_local": ("brps", dict(population_size=20, alpha=0.1)),
    "pd_single_m50_alpha100": ("pd", dict(population_size=50, alpha=100.0)),
    "pd_single_m50_alpha0.1": ("pd", dict(population_size=50, alpha=0.1)),
    "pd_2pop_m50_alpha0.1": ("pd_2pop", dict(population_size=50, alpha=0.1)),
    "rps_2pop_m50_alpha100": ("rps_2pop", dict(population_size=50, alpha=100.0)),
    "bos_2pop_m50_alpha0.05": ("bos_2pop", dict(population_size=50, alpha=0.05)),
    "rps_inf_alpha_eps0.01": ("rps", dict(alpha=math.inf, inf_alpha_eps=0.01)),
    "brps_inf_alpha_eps0.01": ("brps", dict(alpha=math.inf, inf_alpha_eps=0.01)),
    "pd_single_inf_alpha_eps0.01": ("pd", dict(alpha=math.inf, inf_alpha_eps=0.01)),
    "elo_1200_1100_1000_winprob_m50_alpha100": ("elo", dict(population_size=50, alpha=100.0)),
    "elo_1200_1100_1000_winprob_m50_alpha10": ("elo", dict(population_size=50, alpha=10.0)),
    "elo_1200_1100_1000_winprob_m50_alpha1": ("elo", dict(population_size=50, alpha=1.0)),
}


def test_every_reference_vector_has_a_case() -> None:
    assert set(CASES) == set(REF) - {"rps_m20_alpha0.1_nonlocal_C"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_openspiel_reference(name: str) -> None:
    game, kwargs = CASES[name]
    tables = _tables(game)
    result = alpharank_game(tables if len(tables) > 1 else tables[0], **kwargs)
    # OpenSpiel's eigen-solver leaves ~1e-15 absolute noise (and a few 1e-16 negative masses)
    assert_allclose(result.mass, REF[name], rtol=1e-9, atol=1e-12)


def test_nonlocal_transition_matrix_matches_openspiel() -> None:
    """Off-diagonal fixation rates η·ρ of RPS (m = 20, α = 0.1, global fitness)."""
    from ranking.alpharank import _single_log_rates

    expected = np.array(REF["rps_m20_alpha0.1_nonlocal_C"])
    rates = np.exp(_single_log_rates(np.array(GAMES["rps"]), 0.1, 20, False, 0.01))
    off = ~np.eye(3, dtype=bool)
    assert_allclose(rates[off], expected[off], rtol=1e-12)
    assert_allclose(1 - rates.sum(axis=1), np.diag(expected), rtol=1e-12)


@pytest.mark.parametrize("alpha", [1e3, 1e6, 1e8])
def test_large_alpha_is_finite_and_settles(alpha: float) -> None:
    """Where OpenSpiel's (1 - e^-u)/(1 - e^-mu) overflows, the log-space chain is exact."""
    han = alpharank_game(np.array(GAMES["han2013"]), alpha=alpha)
    assert np.all(np.isfinite(han.mass))
    # Han et al.'s game has settled by α = 100 (OpenSpiel reference at α = 100)
    assert_allclose(han.mass, REF["han2013_m50_alpha100_local"], rtol=1e-9, atol=1e-12)
    brps = alpharank_game(np.array(GAMES["brps"]), alpha=alpha)
    assert_allclose(brps.mass, [1 / 3] * 3, rtol=1e-12)
    pd = alpharank_game([np.array(GAMES["pd"]), np.array(GAMES["pd_column"])], alpha=alpha)
    assert_allclose(pd.mass, [0, 0, 0, 1], atol=1e-300)
    # two symmetric strict equilibria of the battle of the sexes share the mass
    bos = alpharank_game([np.array(GAMES["bos_row"]), np.array(GAMES["bos_column"])], alpha=alpha)
    assert_allclose(bos.mass, [0.5, 0, 0, 0.5], atol=1e-12)


def test_log_fixation_formula() -> None:
    m = 50
    u = np.array([-10.0, -1.0, -1e-3, 1e-3, 0.5, 30.0])
    direct = (1 - np.exp(-u)) / (1 - np.exp(-m * u))
    assert_allclose(np.exp(log_fixation(u, m)), direct, rtol=1e-12)
    assert log_fixation(0.0, m) == pytest.approx(-math.log(m))
    # continuous through the neutral point
    assert_allclose(np.exp(log_fixation([1e-10, -1e-10], m)), 1 / m, rtol=1e-8)
    # huge |u|: ρ → 1 for an advantageous mutant, log ρ ≈ -(m-1)|u| otherwise
    assert log_fixation(1e9, m) == pytest.approx(0.0, abs=1e-300)
    assert log_fixation(-1e9, m) == pytest.approx(-(m - 1) * 1e9, rel=1e-15)


def _naive_global_rho(mm: np.ndarray, r: int, s: int, alpha: float, m: int) -> float:
    """Eq. 4 of Omidshafiei et al. term by term (mutant r, resident s)."""
    total = 0.0
    for ell in range(1, m):
        prod = 1.0
        for p in range(1, ell + 1):
            f_r = (p - 1) / (m - 1) * mm[r, r] + (m - p) / (m - 1) * mm[r, s]
            f_s = (m - p - 1) / (m - 1) * mm[s, s] + p / (m - 1) * mm[s, r]
            prod *= math.exp(-alpha * (f_r - f_s))
        total += prod
    return 1.0 / (1.0 + total)


def test_global_selection_equals_the_product_formula() -> None:
    from ranking.alpharank import _single_log_rates

    rng = np.random.default_rng(3)
    mm = rng.normal(size=(4, 4))
    m, alpha = 12, 0.7
    rates = np.exp(_single_log_rates(mm, alpha, m, False, 0.01)) * 3  # remove η = 1/3
    for s, r in itertools.permutations(range(4), 2):
        assert rates[s, r] == pytest.approx(_naive_global_rho(mm, r, s, alpha, m), rel=1e-10)


def _stationary_null_space(q: np.ndarray) -> np.ndarray:
    gen = q.copy()
    np.fill_diagonal(gen, 0.0)
    np.fill_diagonal(gen, -gen.sum(axis=1))
    v = null_space(gen.T)[:, 0]
    return v / v.sum()


def test_stationary_distribution_matches_null_space() -> None:
    rng = np.random.default_rng(7)
    for n in (2, 5, 40, 130):
        q = rng.random((n, n)) ** 4
        np.fill_diagonal(q, 0.0)
        with np.errstate(divide="ignore"):
            pi = np.exp(stationary_log_distribution(np.log(q)))
        assert_allclose(pi, _stationary_null_space(q), rtol=1e-8, atol=1e-15)


def test_stiff_chain_falls_back_to_log_space_exactly() -> None:
    """A three-state trap reached and left only through rates of e^-5000.

    States 0-2 cycle with rate 1 and leave to 3 with e^-5000; state 3 goes to 0 with rate
    e^-5000 and to 4 with rate 1; 4 returns to 3 with rate 1. Exact answer by lumping.
    """
    big = -5000.0
    lq = np.full((5, 5), -np.inf)
    lq[0, 1] = lq[1, 2] = lq[2, 0] = 0.0
    lq[0, 3] = lq[1, 3] = lq[2, 3] = big
    lq[3, 0] = big
    lq[3, 4] = 0.0
    lq[4, 3] = 0.0
    lpi = stationary_log_distribution(lq)
    # balance: flow out of {0,1,2} (each e^big) equals flow 3 -> 0 (e^big), so
    # π3 = π0 + π1 + π2 = 3p, π4 = π3, and 9p = 1
    pi = np.exp(lpi)
    assert_allclose(pi, [1 / 9, 1 / 9, 1 / 9, 1 / 3, 1 / 3], rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.sampled_from([(3,), (6,), (2, 2), (2, 3), (3, 3), (2, 2, 2)]),
    data=st.data(),
    alpha=alphas,
    m=st.integers(2, 60),
)
def test_fast_reduction_equals_log_space_reduction(
    shape: tuple[int, ...], data: st.DataObject, alpha: float, m: int
) -> None:
    """The linear-space GTH on the row-scaled chain equals GTH done entirely in logs."""
    from scipy.special import logsumexp

    from ranking.alpharank import _gth_log, _multi_log_rates, _single_log_rates

    if len(shape) == 1:
        mm = data.draw(arrays(np.float64, (shape[0], shape[0]), elements=finite))
        lq = _single_log_rates(mm, alpha, m, True, 0.01)
    else:
        tables = [data.draw(arrays(np.float64, shape, elements=finite)) for _ in shape]
        lq = _multi_log_rates(tables, alpha, m, 0.01)
    fast = stationary_log_distribution(lq)
    exact = _gth_log(lq)
    exact -= logsumexp(exact)
    # log rates near -(m-1)·α·Δ carry an absolute rounding error of ~eps·|log rate|, which
    # is a relative error of the masses: the problem itself is this well conditioned
    tol = 1e-9 + 1e-14 * np.max(np.abs(lq[np.isfinite(lq)]))
    assert_allclose(np.exp(fast), np.exp(exact), rtol=tol, atol=1e-13)


def test_alpha_zero_is_neutral_drift() -> None:
    result = alpharank_game(np.array(GAMES["han2013"]), alpha=0.0)
    assert_allclose(result.mass, 0.2, rtol=1e-12)


def test_result_fields_and_json_shape() -> None:
    result = alpharank_game(
        [np.array(GAMES["pd"]), np.array(GAMES["pd_column"])],
        alpha=0.1,
        strategies=[["C", "D"], ["c", "d"]],
    )
    assert isinstance(result, AlphaRankResult)
    assert result.profiles.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert result.names == [("C", "c"), ("C", "d"), ("D", "c"), ("D", "d")]
    doc = result.to_json()
    assert doc["alpha"] == 0.1 and doc["population_size"] == 50
    assert [p["names"] for p in doc["profiles"]][0] == ["D", "d"]
    masses = [p["mass"] for p in doc["profiles"]]
    assert masses == sorted(masses, reverse=True)
    assert [p["rank"] for p in doc["profiles"]] == [1, 2, 2, 4]
    with pytest.raises(AttributeError):
        result.alpha = 1.0  # type: ignore[misc]


def test_sweep_returns_one_result_per_alpha() -> None:
    results = alpharank_sweep(np.array(GAMES["brps"]), [0.01, 0.1, 100.0])
    assert [r.alpha for r in results] == [0.01, 0.1, 100.0]
    assert_allclose(results[0].mass, REF["brps_m50_alpha0.01_local"], rtol=1e-9)
    assert_allclose(results[2].mass, REF["brps_m50_alpha100_local"], rtol=1e-9)
    assert len(alpharank_sweep(np.array(GAMES["rps"]))) == 9


@pytest.mark.parametrize(
    ("payoffs", "message"),
    [
        ([[0, 1, 2], [1, 0, 2]], "square matrix"),
        ([[0, 1], [2]], "rectangular"),
        ([[0, float("nan")], [1, 0]], "finite"),
        ([[0, float("inf")], [1, 0]], "finite"),
        ([[[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]]], "shape"),
        ([np.zeros((2, 2, 2)), np.zeros((2, 2, 2))], "2 dimensions"),
        ([[["a", "b"], ["c", "d"]]], "numbers"),
        ([], "empty"),
    ],
)
def test_bad_payoffs_raise_input_error(payoffs: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        alpharank_game(payoffs)


def test_bad_parameters_raise_input_error() -> None:
    rps = np.array(GAMES["rps"])
    with pytest.raises(InputError, match="alpha"):
        alpharank_game(rps, alpha=-1.0)
    with pytest.raises(InputError, match="alpha"):
        alpharank_game(rps, alpha=float("nan"))
    with pytest.raises(InputError, match="population_size"):
        alpharank_game(rps, population_size=1)
    with pytest.raises(InputError, match="strategies"):
        alpharank_game(rps, strategies=["R", "P"])
    with pytest.raises(InputError, match="overflows"):
        alpharank_game(rps * 1e300, alpha=1e10)


# ----------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    mm=st.integers(2, 7).flatmap(lambda n: arrays(np.float64, (n, n), elements=finite)),
    alpha=alphas,
    m=st.integers(2, 80),
    local=st.booleans(),
)
def test_masses_are_a_distribution_at_any_alpha(
    mm: np.ndarray, alpha: float, m: int, local: bool
) -> None:
    result = alpharank_game(mm, alpha=alpha, population_size=m, local_selection=local)
    assert np.all(np.isfinite(result.mass))
    assert np.all(result.mass >= 0) and np.all(result.mass <= 1)
    assert result.mass.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 9), data=st.data(), alpha=alphas, m=st.integers(2, 60))
def test_cyclic_zero_sum_games_give_uniform_mass(
    n: int, data: st.DataObject, alpha: float, m: int
) -> None:
    """Circulant skew-symmetric games (RPS and its n-strategy relatives)."""
    half = data.draw(arrays(np.float64, (n,), elements=finite))
    c = np.zeros(n)
    for k in range(1, n):
        c[k] = half[k] if k < n - k else (-half[n - k] if k > n - k else 0.0)
    mm = np.array([[c[(j - i) % n] for j in range(n)] for i in range(n)])
    result = alpharank_game(mm, alpha=alpha, population_size=m)
    assert_allclose(result.mass, 1.0 / n, rtol=1e-9)
    assert set(result.rank.tolist()) == {1}


@settings(max_examples=40, deadline=None)
@given(
    mm=st.integers(2, 7).flatmap(lambda n: arrays(np.float64, (n, n), elements=finite)),
    alpha=alphas,
    data=st.data(),
)
def test_relabelling_strategies_permutes_the_masses(
    mm: np.ndarray, alpha: float, data: st.DataObject
) -> None:
    n = mm.shape[0]
    perm = np.array(data.draw(st.permutations(range(n))))
    base = alpharank_game(mm, alpha=alpha).mass
    permuted = alpharank_game(mm[np.ix_(perm, perm)], alpha=alpha).mass
    assert_allclose(permuted, base[perm], rtol=1e-8, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    mm=st.integers(2, 7).flatmap(lambda n: arrays(np.float64, (n, n), elements=st.floats(0, 1))),
    margin=st.floats(0.01, 0.5),
    m=st.integers(2, 60),
)
def test_a_strategy_that_beats_everyone_takes_all_mass_as_alpha_grows(
    mm: np.ndarray, margin: float, m: int
) -> None:
    mm = mm.copy()
    mm[0, 1:] = mm[1:, 0] + margin
    masses = [alpharank_game(mm, alpha=a, population_size=m).mass[0] for a in (1e3, 1e5, 1e8)]
    assert masses[1] == pytest.approx(1.0, abs=1e-6)
    assert masses[2] == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from([(2, 2), (2, 3), (3, 3), (2, 2, 2)]), data=st.data())
def test_strictly_dominant_strategies_take_all_mass_in_several_populations(
    shape: tuple[int, ...], data: st.DataObject
) -> None:
    tables = []
    for k in range(len(shape)):
        t = data.draw(arrays(np.float64, shape, elements=st.floats(0, 1)))
        t = np.moveaxis(t, k, 0).copy()
        t[0] = t[1:].max(axis=0) + 0.1  # strategy 0 of population k strictly dominates
        tables.append(np.moveaxis(t, 0, k))
    result = alpharank_game(tables, alpha=1e6)
    assert result.mass[0] == pytest.approx(1.0, abs=1e-12)
    assert result.rank[0] == 1


# ------------------------------------------------------------------------- battles


def _battles(rows: list[tuple[int, int, int]], n: int) -> Battles:
    a, b, o = (np.array(x) for x in zip(*rows))
    return Battles(
        tuple(f"m{i}" for i in range(n)), a.astype(np.int32), b.astype(np.int32), o.astype(np.int8)
    )


def test_from_battles_uses_empirical_win_rates_and_flags_unplayed_pairs() -> None:
    rows = (
        [(0, 1, A_WINS)] * 3
        + [(1, 0, A_WINS)]
        + [(0, 1, TIE)] * 2
        + [(1, 2, B_WINS)] * 2
        + [(2, 1, TIE)]
    )
    result = alpharank_from_battles(_battles(rows, 4), alpha=5.0, population_size=30)
    # m0 vs m1: 3 wins, 1 loss, 2 ties -> 4/6; m1 vs m2: 0 wins, 2 losses, 1 tie -> 1/6
    table = np.full((4, 4), 0.5)
    table[0, 1], table[1, 0] = 4 / 6, 2 / 6
    table[1, 2], table[2, 1] = 1 / 6, 5 / 6
    expected = alpharank_game(table, alpha=5.0, population_size=30).mass
    assert_allclose(result.mass, expected, rtol=1e-12)
    assert result.unplayed == (("m0", "m2"), ("m0", "m3"), ("m1", "m3"), ("m2", "m3"))
    assert result.lower is None and result.upper is None
    assert result.names[0] == ("m0",)


def test_bootstrap_intervals_are_seeded_and_contain_the_estimate() -> None:
    rng = np.random.default_rng(11)
    strength = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
    a = rng.integers(0, 5, 3000)
    b = (a + rng.integers(1, 5, 3000)) % 5
    p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(3000)
    o = np.where(u < 0.1, TIE, np.where(u < 0.1 + 0.9 * p, A_WINS, B_WINS))
    battles = Battles(tuple("abcde"), a.astype(np.int32), b.astype(np.int32), o.astype(np.int8))
    r1 = alpharank_from_battles(battles, alpha=10.0, rounds=30, rng=5)
    r2 = alpharank_from_battles(battles, alpha=10.0, rounds=30, rng=5)
    assert r1.lower is not None and r1.upper is not None
    assert_allclose(r1.lower, r2.lower)
    assert_allclose(r1.upper, r2.upper)
    assert np.all(r1.lower <= r1.mass) and np.all(r1.mass <= r1.upper)
    assert np.all(r1.lower >= 0) and np.all(r1.upper <= 1)
    assert r1.to_json()["profiles"][0]["names"] == ["a"]
    with pytest.raises(InputError, match="rounds"):
        alpharank_from_battles(battles, rounds=-1)


def test_agrees_with_openspiel_when_installed() -> None:
    """Random games at moderate α, where OpenSpiel's linear-space formula is finite."""
    import sys
    import types

    pytest.importorskip("open_spiel")
    sys.modules.setdefault(
        "open_spiel.python.egt.alpharank_visualizer", types.ModuleType("alpharank_visualizer")
    )
    from open_spiel.python.egt import alpharank as os_alpharank

    rng = np.random.default_rng(5)
    for n in (3, 6, 12):
        mm = rng.random((n, n))
        for alpha in (0.1, 1.0, 10.0):
            theirs = os_alpharank.compute([mm], m=50, alpha=alpha)[2]
            assert_allclose(alpharank_game(mm, alpha=alpha).mass, theirs, atol=1e-10)


def test_rating_result_gives_each_model_its_mass_and_bootstrap_interval() -> None:
    # m2 (listed last) is best: 5-1 over m0, 4-2 over m1; m0 and m1 3-3 with 2 ties
    rows = (
        [(2, 0, A_WINS)] * 5
        + [(0, 2, A_WINS)]
        + [(1, 2, B_WINS)] * 4
        + [(1, 2, A_WINS)] * 2
        + [(0, 1, A_WINS)] * 3
        + [(0, 1, B_WINS)] * 3
        + [(1, 0, TIE)] * 2
    )
    battles = _battles(rows, 3)
    table = np.full((3, 3), 0.5)
    table[2, 0], table[0, 2] = 5 / 6, 1 / 6
    table[2, 1], table[1, 2] = 4 / 6, 2 / 6
    expected = alpharank_game(table, alpha=100.0, population_size=50).mass
    result = alpharank_rating(battles, rounds=200, rng=3)
    assert result.method == "alpharank" and result.models == ["m0", "m1", "m2"]
    assert_allclose(result.rating, expected, rtol=1e-12)
    assert result.order()[0] == 2
    assert np.all(result.lower <= result.rating) and np.all(result.rating <= result.upper)
    assert np.all(result.lower >= 0) and np.all(result.upper <= 1)
    assert (result.upper - result.lower).max() > 0.1  # 20 battles leave real doubt
    again = alpharank_rating(battles, rounds=200, rng=3)
    assert_allclose(again.lower, result.lower, rtol=0, atol=0)
    assert_allclose(again.upper, result.upper, rtol=0, atol=0)
    assert result.params["seed"] == 3 and result.params["rounds"] == 200
    assert result.battles.tolist() == [14, 14, 12] and result.n_battles == 20
    json.dumps(result.to_json())


def test_rating_result_of_a_lone_model_and_bad_rounds() -> None:
    lone = alpharank_rating(Battles(("solo",), [], [], []), rounds=5)
    assert lone.rating.tolist() == [1.0] and lone.lower.tolist() == [1.0] == lone.upper.tolist()
    with pytest.raises(InputError, match="rounds must be a positive integer"):
        alpharank_rating(_battles([(0, 1, A_WINS)], 2), rounds=0)
