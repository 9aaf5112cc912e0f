"""Online Elo against FastChat's compute_online_elo and evalica's golden values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ranking.battle_files import battles_from_records
from ranking.battles import Battles
from ranking.elo import elo
from ranking.errors import InputError
from ranking.types import A_WINS, B_WINS, TIE

from .conftest import battles_among_four, by_name, evalica_golden, evalica_records

# Both references run the same floating-point recurrence; only summation order differs.
ATOL = 1e-9


@pytest.mark.parametrize("name", ["simple", "food"])
def test_equals_fastchat_compute_elo(name, vectors, evalica_battles):
    ref = vectors["fastchat"][name]["fc_compute_elo"]
    result = elo(evalica_battles(name), k=4.0)
    assert_allclose(by_name(result, list(ref)), list(ref.values()), rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", ["simple", "food", "llmfao"])
def test_equals_evalica_golden(name, evalica_battles):
    ref = evalica_golden(name, "elo")
    result = elo(evalica_battles(name))
    assert_allclose(by_name(result, list(ref)), list(ref.values()), rtol=0, atol=ATOL)
    assert result.method == "elo" and result.lower is None
    assert result.n_battles == len(evalica_records(name))


def test_one_battle_by_hand():
    b = Battles(("a", "b"), [0], [1], [A_WINS])
    result = elo(b, k=32.0)
    assert_allclose(result.rating, [1016.0, 984.0])
    tie = elo(Battles(("a", "b"), [0], [1], [TIE]), k=32.0)
    assert_allclose(tie.rating, [1000.0, 1000.0])


def test_processes_battles_in_tstamp_order():
    recs = evalica_records("food")
    stamped = [dict(r, tstamp=float(k)) for k, r in enumerate(recs)]
    shuffled = [stamped[k] for k in np.random.default_rng(3).permutation(len(stamped))]
    assert_allclose(
        elo(battles_from_records(shuffled)).rating,
        elo(battles_from_records(recs)).rating,
        rtol=0,
        atol=ATOL,
    )


def test_anchor_shifts_everything():
    result = elo(battles_from_records(evalica_records("food")), anchor=("Pizza", 1200.0))
    plain = elo(battles_from_records(evalica_records("food")))
    assert result.rating[result.models.index("Pizza")] == pytest.approx(1200.0)
    assert_allclose(np.diff(result.rating), np.diff(plain.rating))


def test_rejects_pair_counts_and_bad_parameters():
    agg = Battles(("a", "b"), [0], [1], [A_WINS], weight=[3.0])
    with pytest.raises(InputError, match="individual battles"):
        elo(agg)
    b = Battles(("a", "b"), [0], [1], [A_WINS])
    with pytest.raises(InputError, match="k must be positive"):
        elo(b, k=0)
    with pytest.raises(InputError, match="base must be greater than 1"):
        elo(b, base=1.0)
    with pytest.raises(InputError, match="anchor model 'c'"):
        elo(b, anchor=("c", 1.0))


@settings(max_examples=30, deadline=None)
@given(battles_among_four(max_size=60))
def test_total_rating_is_conserved(battles):
    result = elo(battles)
    assert result.rating.sum() == pytest.approx(4000.0)


# ------------------------------------------------------------------ bootstrap intervals


def _fastchat_online(a, b, winner, n_models, k, init=1000.0):
    """FastChat's compute_elo loop written out (the reference for every bootstrap round)."""
    rating = [init] * n_models
    for ia, ib, w in zip(a, b, winner):
        ea = 1 / (1 + 10 ** ((rating[ib] - rating[ia]) / 400))
        eb = 1 / (1 + 10 ** ((rating[ia] - rating[ib]) / 400))
        sa = 1.0 if w == 0 else 0.0 if w == 1 else 0.5
        rating[ia] += k * (sa - ea)
        rating[ib] += k * (1 - sa - eb)
    return rating


def test_bootstrap_of_two_battles_spans_the_four_resamples_by_hand():
    # a beat b, then b beat a: a resample is one of the 4 ordered pairs of these battles
    battles = Battles(("a", "b"), [0, 0], [1, 1], [A_WINS, B_WINS])
    outcomes = [[x, y] for x in (A_WINS, B_WINS) for y in (A_WINS, B_WINS)]
    hand = [_fastchat_online([0, 0], [1, 1], o, 2, k=32.0)[0] for o in outcomes]
    result = elo(battles, k=32.0, ci="bootstrap", rounds=4000, rng=0)
    # each resample has probability 1/4 > 2.5 %: the percentiles are the extremes
    assert_allclose(result.lower[0], min(hand), rtol=0, atol=1e-9)
    assert_allclose(result.upper[0], max(hand), rtol=0, atol=1e-9)
    assert_allclose(result.lower + result.upper[::-1], [2000.0, 2000.0], atol=1e-9)
    assert result.params["ci"] == "bootstrap" and result.params["rounds"] == 4000


def test_bootstrap_distribution_equals_fastchat_get_bootstrap_result(evalica_battles):
    battles = evalica_battles("food")
    n = len(battles)
    rng = np.random.default_rng(11)
    reference = []
    for _ in range(1500):  # DataFrame.sample(frac=1.0, replace=True), then compute_elo
        idx = rng.integers(0, n, n)
        reference.append(
            _fastchat_online(
                battles.a[idx], battles.b[idx], battles.outcome[idx], battles.n_models, k=4.0
            )
        )
    ref = np.array(reference)
    tail = [0.025, 0.975]
    ours = elo(battles, ci="bootstrap", rounds=1500, rng=5)
    lo, hi = np.quantile(ref, tail, axis=0)
    point = ours.rating
    # percentile intervals of two independent 1500-round bootstraps agree within their
    # Monte Carlo error (a few percent of the width); ours is widened to contain the point
    width = hi - lo
    assert_allclose(ours.lower, np.minimum(lo, point), rtol=0, atol=0.12 * width.max())
    assert_allclose(ours.upper, np.maximum(hi, point), rtol=0, atol=0.12 * width.max())


def test_bootstrap_interval_covers_the_expected_elo():
    # Truth: the mean online Elo over independent data sets from a known Bradley-Terry
    # field (computed with the plain loop); the 95 % interval must hold it about 95 %.
    true = np.array([0.0, 50.0, 100.0, 200.0])
    rng = np.random.default_rng(0)

    def draw(n):
        a = rng.integers(0, 4, n)
        b = (a + rng.integers(1, 4, n)) % 4
        p = 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
        return Battles(("a", "b", "c", "d"), a, b, np.where(rng.random(n) < p, A_WINS, B_WINS))

    expected = np.mean([elo(draw(400)).rating for _ in range(600)], axis=0)
    hits = np.zeros(4)
    for rep in range(150):
        r = elo(draw(400), ci="bootstrap", rounds=200, rng=rep)
        hits += (r.lower <= expected) & (expected <= r.upper)
    assert (hits / 150 >= 0.88).all(), hits / 150


def test_bootstrap_properties(evalica_battles):
    battles = evalica_battles("food")
    one = elo(battles, ci="bootstrap", rounds=50, rng=3)
    two = elo(battles, ci="bootstrap", rounds=50, rng=np.random.default_rng(3))
    assert_array_equal(one.lower, two.lower)
    assert_array_equal(one.upper, two.upper)
    assert one.params["seed"] == 3 and two.params["seed"] is None
    assert_array_equal(one.rating, elo(battles).rating)
    assert (one.lower <= one.rating).all() and (one.rating <= one.upper).all()
    assert (one.lower < one.upper).all()
    anchored = elo(battles, anchor=("Pizza", 1200.0), ci="bootstrap", rounds=50, rng=3)
    k = anchored.models.index("Pizza")
    assert anchored.lower[k] == pytest.approx(1200.0) == anchored.upper[k]
    assert (anchored.lower <= anchored.rating).all()
    assert (anchored.rating <= anchored.upper).all()


def test_bootstrap_keeps_a_model_missing_from_a_resample_at_init():
    # c played once (a loss); about 37 % of resamples miss that battle and leave c at 1000
    battles = Battles(("a", "b", "c"), [0, 0, 1], [1, 2, 2], [A_WINS, A_WINS, A_WINS])
    result = elo(battles, k=32.0, ci="bootstrap", rounds=400, rng=1)
    assert result.upper[2] == pytest.approx(1000.0)
    assert result.rating[2] < 1000.0


def test_bootstrap_rejects_bad_options():
    b = Battles(("a", "b"), [0], [1], [A_WINS])
    with pytest.raises(InputError, match="ci must be one of none, bootstrap"):
        elo(b, ci="sandwich")
    with pytest.raises(InputError, match="rounds must be a positive integer"):
        elo(b, ci="bootstrap", rounds=0)
    with pytest.raises(InputError, match="confidence must be strictly between 0 and 1"):
        elo(b, ci="bootstrap", confidence=1.0)
    with pytest.raises(InputError, match="rng must be"):
        elo(b, ci="bootstrap", rng="x")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(0, 60))
def test_elo_continued_from_initial_equals_elo_of_all_battles(seed, cut):
    """Elo of B1 + B2 equals Elo of B2 started from Elo of B1, exactly (an online state)."""
    rng = np.random.default_rng(seed)
    names = ("a", "b", "c", "d", "e")
    n = 60
    a = rng.integers(0, 5, n)
    b = (a + rng.integers(1, 5, n)) % 5
    outcome = rng.choice([A_WINS, B_WINS, TIE], n)
    tstamp = np.sort(rng.integers(0, 30, n)).astype(float)  # equal stamps keep their order
    whole = elo(Battles(names, a, b, outcome, tstamp))
    first = Battles(names, a[:cut], b[:cut], outcome[:cut], tstamp[:cut])
    state = dict(zip(names, elo(first).rating.tolist()))
    rest = Battles(names, a[cut:], b[cut:], outcome[cut:], tstamp[cut:])
    assert_array_equal(elo(rest, initial=state).rating, whole.rating)


def test_elo_initial_is_validated():
    battles = Battles(("a", "b"), [0], [1], [A_WINS])
    with pytest.raises(InputError, match="ci='none'"):
        elo(battles, initial={"a": 1010.0}, ci="bootstrap", rng=0)
    with pytest.raises(InputError, match="'z'"):
        elo(battles, initial={"z": 1010.0})
    assert elo(battles, initial={"a": 1100.0}).rating[0] > 1100.0


def test_blocks_of_python_lists_do_not_change_the_ratings(monkeypatch):
    # the replay makes its Python lists a block at a time (bounded memory): same ratings
    import importlib

    elo_module = importlib.import_module("ranking.elo")  # the package exports a function elo

    rng = np.random.default_rng(22)
    n = 3000
    a = rng.integers(0, 9, n)
    b = (a + rng.integers(1, 9, n)) % 9
    battles = Battles(
        tuple(f"m{i}" for i in range(9)), a, b, rng.integers(0, 4, n), tstamp=rng.random(n)
    )
    whole = elo_module.elo(battles, k=4.0)
    monkeypatch.setattr(elo_module, "_BLOCK", 7)
    assert np.array_equal(elo_module.elo(battles, k=4.0).rating, whole.rating)
