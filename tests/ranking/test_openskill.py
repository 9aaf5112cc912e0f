"""OpenSkill: openskill.py 6.2.0 reference updates, equal to the documented package loop, API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ranking.battles import Battles
from ranking.errors import InputError
from ranking.openskill import OPENSKILL_MODELS, openskill_rank_update, openskill_rate
from ranking.types import A_WINS, B_WINS, TIE, TIE_BOTHBAD

DATA = Path(__file__).resolve().parents[1] / "data"
VECTORS = json.loads((DATA / "openskill_vectors_6.2.0.json").read_text())
CLASS_NAMES = {
    "PlackettLuce": "plackett-luce",
    "BradleyTerryFull": "bradley-terry-full",
    "BradleyTerryPart": "bradley-terry-part",
    "ThurstoneMostellerFull": "thurstone-mosteller-full",
    "ThurstoneMostellerPart": "thurstone-mosteller-part",
}
SUITE_FILES = {
    "plackett-luce": "plackettluce.json",
    "bradley-terry-full": "bradleyterryfull.json",
    "bradley-terry-part": "bradleyterrypart.json",
    "thurstone-mosteller-full": "thurstonemostellerfull.json",
    "thurstone-mosteller-part": "thurstonemostellerpart.json",
}


def one_battle(outcome: int) -> Battles:
    return Battles(
        ("A", "B"), np.array([0], np.int32), np.array([1], np.int32), np.array([outcome], np.int8)
    )


def random_battles(rng: np.random.Generator, n: int, size: int, *, tstamp: bool = False) -> Battles:
    a = rng.integers(0, n, size)
    b = (a + rng.integers(1, n, size)) % n
    o = rng.choice(4, size, p=[0.4, 0.35, 0.15, 0.1])
    ts = rng.permutation(size).astype(np.float64) if tstamp else None
    return Battles(
        tuple(f"m{i}" for i in range(n)),
        a.astype(np.int32),
        b.astype(np.int32),
        o.astype(np.int8),
        tstamp=ts,
    )


def mu_sigma(result, i: int) -> list[float]:  # type: ignore[no-untyped-def]
    return [float(result.extra["mu"][i]), float(result.extra["sigma"][i])]


@pytest.mark.parametrize("cls", sorted(CLASS_NAMES))
def test_one_vs_one_reference_updates(cls: str) -> None:
    ref = VECTORS[cls]
    model = CLASS_NAMES[cls]
    won = openskill_rate(one_battle(A_WINS), model=model)
    exp = ref["1v1_default_A_wins"]
    assert_allclose(mu_sigma(won, 0), exp["winner"], rtol=1e-12)
    assert_allclose(mu_sigma(won, 1), exp["loser"], rtol=1e-12)
    assert_allclose(won.extra["ordinal"], [exp["winner_ordinal"], exp["loser_ordinal"]], rtol=1e-12)
    # the "scores 2:1" game is the same ordering
    assert_allclose(mu_sigma(won, 0), ref["1v1_default_scores_2_1"]["A"], rtol=1e-12)
    for code in (TIE, TIE_BOTHBAD):
        drawn = openskill_rate(one_battle(code), model=model)
        assert_allclose(mu_sigma(drawn, 0), ref["1v1_default_draw_ranks_1_1"]["A"], rtol=1e-12)
        assert_allclose(mu_sigma(drawn, 1), ref["1v1_default_draw_ranks_1_1"]["B"], rtol=1e-12)
    start = {"A": (30.0, 5.0), "B": (20.0, 7.0)}
    fav = openskill_rate(one_battle(A_WINS), model=model, initial=start)
    assert_allclose(mu_sigma(fav, 0), ref["1v1_mu30s5_beats_mu20s7"]["A"], rtol=1e-12)
    assert_allclose(mu_sigma(fav, 1), ref["1v1_mu30s5_beats_mu20s7"]["B"], rtol=1e-12)
    upset = openskill_rate(one_battle(B_WINS), model=model, initial=start)
    assert_allclose(mu_sigma(upset, 0), ref["1v1_mu20s7_upsets_mu30s5"]["A(30,5)"], rtol=1e-12)
    assert_allclose(mu_sigma(upset, 1), ref["1v1_mu20s7_upsets_mu30s5"]["B(20,7)"], rtol=1e-12)


@pytest.mark.parametrize("cls", sorted(CLASS_NAMES))
def test_three_player_free_for_all_reference(cls: str) -> None:
    state = openskill_rank_update({}, ["x", "y", "z"], model=CLASS_NAMES[cls])
    assert_allclose([state[k] for k in "xyz"], VECTORS[cls]["3ffa_ranks_1_2_3"], rtol=1e-12)


@pytest.mark.parametrize("model", sorted(SUITE_FILES))
def test_installed_openskill_reproduces_its_own_suite(model: str) -> None:
    """The wrapper delegates to openskill; pin the package's arithmetic to its 6.x suite.

    Rebuilds the 'ties' and 'ranks' games of openskill's ``tests/models/generate.py`` with
    the suite's prior and compares with the stored expectations.
    """
    suite = json.loads((DATA / "openskill_tests" / SUITE_FILES[model]).read_text())
    engine = OPENSKILL_MODELS[model](mu=suite["model"]["mu"], sigma=suite["model"]["sigma"])
    r = engine.rating
    teams = [[r()], [r(), r()], [r(), r(), r()]]
    got = engine.rate(teams, ranks=[1, 2, 1])
    for t, team in enumerate(got):
        expected = suite["ties"][f"team_{t + 1}"]
        assert_allclose(
            [[p.mu, p.sigma] for p in team], [[e["mu"], e["sigma"]] for e in expected], rtol=1e-12
        )
    teams = [[r()], [r(), r()], [r()], [r(), r()]]
    got = engine.rate(teams, ranks=[2, 1, 4, 3])
    for t, team in enumerate(got):
        expected = suite["ranks"][f"team_{t + 1}"]
        assert_allclose(
            [[p.mu, p.sigma] for p in team], [[e["mu"], e["sigma"]] for e in expected], rtol=1e-12
        )


@settings(max_examples=30, deadline=None)
@given(
    model=st.sampled_from(sorted(OPENSKILL_MODELS)),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 8),
    size=st.integers(1, 300),
    limit_sigma=st.booleans(),
    prior=st.sampled_from(sorted(SUITE_FILES)),
    tau=st.sampled_from([0.0, 25 / 300, 1.0]),
    window_size=st.sampled_from([0, 1, 4]),
)
def test_equals_the_plain_package_loop(
    model: str,
    seed: int,
    n: int,
    size: int,
    limit_sigma: bool,
    prior: str,
    tau: float,
    window_size: int,
) -> None:
    """Battle by battle, with the random priors of openskill's own test data."""
    p = json.loads((DATA / "openskill_tests" / SUITE_FILES[prior]).read_text())["model"]
    battles = random_battles(np.random.default_rng(seed), n, size)
    kw = dict(
        model=model,
        mu=p["mu"],
        sigma=p["sigma"],
        limit_sigma=limit_sigma,
        tau=tau,
        window_size=window_size,
    )
    got = openskill_rate(battles, **kw)
    # the package's documented usage: one rate([[a], [b]], ranks=...) call per battle
    engine = (
        OPENSKILL_MODELS[model](
            mu=p["mu"], sigma=p["sigma"], limit_sigma=limit_sigma, tau=tau, window_size=window_size
        )
        if model.endswith("-part")
        else OPENSKILL_MODELS[model](mu=p["mu"], sigma=p["sigma"], limit_sigma=limit_sigma, tau=tau)
    )
    ratings = [engine.rating() for _ in range(n)]
    for i, j, o in zip(battles.a.tolist(), battles.b.tolist(), battles.outcome.tolist()):
        ranks = [1, 2] if o == A_WINS else [2, 1] if o == B_WINS else [1, 1]
        [[ri], [rj]] = engine.rate([[ratings[i]], [ratings[j]]], ranks=ranks)
        ratings[i], ratings[j] = ri, rj
    assert_allclose(got.extra["mu"], [r.mu for r in ratings], rtol=1e-13, atol=1e-12)
    assert_allclose(got.extra["sigma"], [r.sigma for r in ratings], rtol=1e-13, atol=1e-12)


def test_result_shape_and_interval() -> None:
    battles = Battles(
        ("a", "b", "c", "idle"),
        np.array([0, 1, 0], np.int32),
        np.array([1, 2, 2], np.int32),
        np.array([A_WINS, TIE, B_WINS], np.int8),
    )
    res = openskill_rate(battles)
    assert res.method == "openskill"
    assert res.models == ["a", "b", "c", "idle"]
    assert_array_equal(res.rating, res.extra["mu"])
    z = 1.959963984540054
    assert_allclose(res.lower, res.extra["mu"] - z * res.extra["sigma"], rtol=1e-12)
    assert_allclose(res.upper, res.extra["mu"] + z * res.extra["sigma"], rtol=1e-12)
    assert_allclose(res.extra["ordinal"], res.extra["mu"] - 3 * res.extra["sigma"], rtol=1e-12)
    assert res.battles.tolist() == [2, 2, 2, 0]
    assert res.component.tolist() == [0, 0, 0, 1]
    assert res.n_battles == 3
    # the model that never played keeps the prior
    assert mu_sigma(res, 3) == [25.0, 25.0 / 3.0]
    assert res.params["model"] == "plackett-luce" and res.params["z"] == pytest.approx(z)
    rows = res.to_rows()
    assert {"mu", "sigma", "ordinal", "lower", "upper"} <= set(rows[0])
    json.dumps(res.to_json())


def test_battles_are_processed_in_time_order() -> None:
    rng = np.random.default_rng(2)
    battles = random_battles(rng, 6, 200, tstamp=True)
    order = np.argsort(battles.tstamp, kind="stable")
    sorted_battles = Battles(
        battles.models, battles.a[order], battles.b[order], battles.outcome[order]
    )
    assert_allclose(
        openskill_rate(battles).rating, openskill_rate(sorted_battles).rating, rtol=1e-15
    )
    # and order matters for an online method
    assert not np.allclose(
        openskill_rate(battles).rating,
        openskill_rate(Battles(battles.models, battles.a, battles.b, battles.outcome)).rating,
    )


def test_integer_weights_repeat_battles() -> None:
    weighted = Battles(
        ("a", "b"),
        np.array([0, 1], np.int32),
        np.array([1, 0], np.int32),
        np.array([A_WINS, TIE], np.int8),
        weight=np.array([3.0, 2.0]),
    )
    repeated = Battles(
        ("a", "b"),
        np.array([0, 0, 0, 1, 1], np.int32),
        np.array([1, 1, 1, 0, 0], np.int32),
        np.array([A_WINS] * 3 + [TIE] * 2, np.int8),
    )
    assert_allclose(openskill_rate(weighted).rating, openskill_rate(repeated).rating)
    with pytest.raises(InputError, match="whole numbers"):
        openskill_rate(Battles(("a", "b"), [0], [1], [A_WINS], weight=[0.5]))


def test_swapping_sides_of_a_decided_battle_changes_nothing() -> None:
    left = Battles(
        ("a", "b"), np.array([0], np.int32), np.array([1], np.int32), np.array([A_WINS], np.int8)
    )
    right = Battles(
        ("a", "b"), np.array([1], np.int32), np.array([0], np.int32), np.array([B_WINS], np.int8)
    )
    for model in OPENSKILL_MODELS:
        assert_allclose(
            openskill_rate(left, model=model).rating,
            openskill_rate(right, model=model).rating,
            rtol=1e-15,
        )


def test_rank_update_with_ties_equals_the_package_and_keeps_state() -> None:
    state = {"a": (27.0, 6.0), "b": (24.0, 7.5), "other": (1.0, 1.0)}
    before = dict(state)
    new = openskill_rank_update(state, ["c", ["a", "b"], "d"], model="bradley-terry-full")
    assert state == before
    assert new["other"] == (1.0, 1.0)
    engine = OPENSKILL_MODELS["bradley-terry-full"]()
    teams = [
        [engine.rating()],
        [engine.rating(mu=27.0, sigma=6.0)],
        [engine.rating(mu=24.0, sigma=7.5)],
        [engine.rating()],
    ]
    expected = engine.rate(teams, ranks=[0, 1, 1, 2])
    for name, [p] in zip("cabd", expected):
        assert new[name] == pytest.approx((p.mu, p.sigma), rel=1e-15)
    assert new["c"][0] > 25.0 > new["d"][0]


@pytest.mark.parametrize(
    ("ranking", "message"),
    [
        (["a"], "at least two"),
        (["a", "a"], "twice"),
        (["a", []], "non-empty"),
        (["a", 3], "model name|non-empty"),
        ("ab", "list of names"),
    ],
)
def test_rank_update_rejects_bad_rankings(ranking: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        openskill_rank_update({}, ranking)  # type: ignore[arg-type]


def test_bad_parameters_raise_input_error() -> None:
    battles = one_battle(A_WINS)
    with pytest.raises(InputError, match="model"):
        openskill_rate(battles, model="glicko")
    with pytest.raises(InputError, match="sigma"):
        openskill_rate(battles, sigma=0.0)
    with pytest.raises(InputError, match="confidence"):
        openskill_rate(battles, confidence=1.5)
    with pytest.raises(InputError, match="initial"):
        openskill_rate(battles, initial={"Z": (1.0, 1.0)})
    with pytest.raises(InputError, match="self-battle|itself"):
        openskill_rate(Battles(("a", "b"), [0], [0], [A_WINS]))


@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_interval_bounds_are_the_packages_ordinal_at_plus_minus_z(confidence: float) -> None:
    # openskill's own Rating.ordinal(z) = μ - zσ, after the package's own update loop
    from openskill.models import PlackettLuce
    from scipy.stats import norm

    battles = random_battles(np.random.default_rng(8), 5, 60)
    model = PlackettLuce()
    ratings = [model.rating() for _ in battles.models]
    for i, j, o in zip(battles.a.tolist(), battles.b.tolist(), battles.outcome.tolist()):
        ranks = [0, 1] if o == A_WINS else [1, 0] if o == B_WINS else [0, 0]
        [[ratings[i]], [ratings[j]]] = model.rate([[ratings[i]], [ratings[j]]], ranks=ranks)
    z = norm.ppf(0.5 + confidence / 2)
    res = openskill_rate(battles, confidence=confidence)
    assert_allclose(res.rating, [r.mu for r in ratings], rtol=1e-12)
    assert_allclose(res.lower, [r.ordinal(z=z) for r in ratings], rtol=1e-12)
    assert_allclose(res.upper, [r.ordinal(z=-z) for r in ratings], rtol=1e-12)
    assert (res.lower < res.rating).all() and (res.rating < res.upper).all()


# ------------------------------------------------ scalar twins against the package path


def twin_and_package(
    model: str,
    kw: dict[str, float | int | bool],
    mus: list[float],
    sigmas: list[float],
    battles: Battles,
) -> tuple[tuple[list[float], list[float]], tuple[list[float], list[float]]]:
    """``_rate_battles`` (the twins) and ``_rate_battles_package`` from the same start."""
    from ranking.openskill import _engine_kwargs, _rate_battles, _rate_battles_package

    defaults = dict(
        mu=25.0,
        sigma=25.0 / 3.0,
        beta=25.0 / 6.0,
        kappa=0.0001,
        tau=25.0 / 300.0,
        epsilon=0.1,
        window_size=4,
        limit_sigma=False,
    )
    name, kwargs = _engine_kwargs(model, **{**defaults, **kw})  # type: ignore[arg-type]
    a, b, o = battles.a.tolist(), battles.b.tolist(), battles.outcome.tolist()
    twin = (list(mus), list(sigmas))
    _rate_battles(name, kwargs, twin[0], twin[1], a, b, o)
    package = (list(mus), list(sigmas))
    _rate_battles_package(OPENSKILL_MODELS[name](**kwargs), package[0], package[1], a, b, o)
    return twin, package


def assert_same(twin: tuple[list[float], list[float]], package: tuple[list[float], list[float]]):  # type: ignore[no-untyped-def]
    """Equal to the last bit (the twins repeat the package's operations in its order)."""
    assert all(isinstance(x, float) for x in twin[0] + twin[1])
    assert twin[0] == package[0], max(abs(x - y) for x, y in zip(twin[0], package[0]))
    assert twin[1] == package[1], max(abs(x - y) for x, y in zip(twin[1], package[1]))


@pytest.mark.parametrize("model", sorted(OPENSKILL_MODELS))
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tau", [0.0, 25.0 / 300.0, 2.0])
@pytest.mark.parametrize("limit_sigma", [False, True])
def test_scalar_twin_equals_the_package_update(
    model: str, seed: int, tau: float, limit_sigma: bool
) -> None:
    """Random battle sequences (all outcome codes), from the prior and from random states."""
    rng = np.random.default_rng(seed)
    n = 12
    battles = random_battles(rng, n, 1500)
    assert set(battles.outcome.tolist()) == {A_WINS, B_WINS, TIE, TIE_BOTHBAD}
    for window_size in (0, 1, 4) if model.endswith("-part") else (4,):
        kw = dict(tau=tau, limit_sigma=limit_sigma, window_size=window_size)
        # the prior (no initial states)
        assert_same(*twin_and_package(model, kw, [25.0] * n, [25.0 / 3.0] * n, battles))
        # initial states, spread wide, and other parameters
        mus = rng.normal(0.0, 200.0, n).tolist()
        sigmas = np.exp(rng.uniform(np.log(1e-3), np.log(300.0), n)).tolist()
        kw2 = dict(kw, beta=float(rng.uniform(0.5, 20.0)), kappa=float(rng.choice([1e-4, 0.3])))
        kw2["epsilon"] = float(rng.choice([0.0, 0.1, 3.0]))
        assert_same(*twin_and_package(model, kw2, mus, sigmas, battles))


@pytest.mark.parametrize("model", sorted(OPENSKILL_MODELS))
def test_scalar_twin_at_extreme_states(model: str) -> None:
    """Large |μ| gaps (near-certain results, upsets), tiny and huge σ, κ above 1."""
    rng = np.random.default_rng(11)
    battles = random_battles(rng, 6, 600)
    mus = [2000.0, -2000.0, 0.0, 1e-9, -700.0, 700.0]
    sigmas = [1e-6, 1e3, 25.0 / 3.0, 1e-3, 500.0, 0.05]
    for kw in (
        dict(tau=0.0, limit_sigma=True),
        dict(tau=25.0 / 300.0),
        dict(tau=5.0, kappa=2.0),
        dict(beta=100.0, epsilon=20.0, window_size=1),
    ):
        assert_same(*twin_and_package(model, kw, mus, sigmas, battles))  # type: ignore[arg-type]


@pytest.mark.parametrize("model", sorted(OPENSKILL_MODELS))
def test_openskill_rate_uses_the_twin_and_matches_the_package_with_initial(
    model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``openskill_rate`` (initial states, time order) equals the package path exactly;
    it does not call the package at all except for a ``-part`` model with window 0."""
    import ranking.openskill as mod

    # the twins are checked against this release; an upgrade must re-run this file
    assert mod._TWINS_ACTIVE, f"installed openskill is not {mod.TWINNED_OPENSKILL}"

    battles = random_battles(np.random.default_rng(5), 7, 400, tstamp=True)
    initial = {"m0": (40.0, 2.0), "m3": (-10.0, 15.0), "m6": (25.0, 0.01)}
    calls: list[int] = []
    package = mod._rate_battles_package

    def spy(*args: object) -> None:
        calls.append(1)
        package(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(mod, "_rate_battles_package", spy)
    got = openskill_rate(battles, model=model, initial=initial, tau=0.5, limit_sigma=True)
    assert calls == []

    def package_path(name, kwargs, mus, sigmas, a, b, o):  # type: ignore[no-untyped-def]
        package(OPENSKILL_MODELS[name](**kwargs), mus, sigmas, a, b, o)

    monkeypatch.setattr(mod, "_rate_battles", package_path)
    expected = openskill_rate(battles, model=model, initial=initial, tau=0.5, limit_sigma=True)
    assert_array_equal(got.extra["mu"], expected.extra["mu"])
    assert_array_equal(got.extra["sigma"], expected.extra["sigma"])
    if model.endswith("-part"):
        monkeypatch.undo()
        monkeypatch.setattr(mod, "_rate_battles_package", spy)
        still = openskill_rate(battles, model=model, window_size=0)
        assert calls == [1]
        assert_array_equal(still.extra["mu"][battles.a[:1]], [25.0])  # no comparison, no change


def test_another_openskill_release_goes_through_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ranking.openskill as mod

    calls: list[int] = []
    package = mod._rate_battles_package

    def spy(*args: object) -> None:
        calls.append(1)
        package(*args)  # type: ignore[arg-type]

    battles = random_battles(np.random.default_rng(6), 5, 50)
    twin = openskill_rate(battles)
    monkeypatch.setattr(mod, "_rate_battles_package", spy)
    monkeypatch.setattr(mod, "_TWINS_ACTIVE", False)
    assert_array_equal(openskill_rate(battles).extra["mu"], twin.extra["mu"])
    assert calls == [1]


def test_blocks_of_python_lists_do_not_change_the_ratings(monkeypatch):
    # the replay makes its Python lists a block at a time (bounded memory); the state carries
    # over between blocks, so any block size gives the same ratings to the last bit
    import ranking.openskill as osk

    rng = np.random.default_rng(21)
    n = 5000
    a = rng.integers(0, 12, n)
    b = (a + rng.integers(1, 12, n)) % 12
    battles = Battles(
        tuple(f"m{i}" for i in range(12)), a, b, rng.integers(0, 4, n), tstamp=rng.random(n)
    )
    whole = osk.openskill_rate(battles)
    monkeypatch.setattr(osk, "_BLOCK", 7)
    blocks = osk.openskill_rate(battles)
    assert np.array_equal(whole.extra["mu"], blocks.extra["mu"])
    assert np.array_equal(whole.extra["sigma"], blocks.extra["sigma"])
