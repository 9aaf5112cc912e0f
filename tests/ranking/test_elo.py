"""Online Elo against FastChat's compute_online_elo and evalica's golden values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from ranking.battles import Battles
from ranking.elo import elo
from ranking.errors import InputError
from ranking.types import A_WINS, TIE

from .conftest import by_name, evalica_golden, evalica_records

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
    assert_allclose(elo(Battles.from_records(shuffled)).rating,
                    elo(Battles.from_records(recs)).rating, rtol=0, atol=ATOL)


def test_anchor_shifts_everything():
    result = elo(Battles.from_records(evalica_records("food")), anchor=("Pizza", 1200.0))
    plain = elo(Battles.from_records(evalica_records("food")))
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
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(0, 3)),
                min_size=1, max_size=60))
def test_total_rating_is_conserved(rows):
    a = np.array([r[0] for r in rows])
    b = (a + np.array([r[1] for r in rows])) % 4
    result = elo(Battles(("a", "b", "c", "d"), a, b, [r[2] for r in rows]))
    assert result.rating.sum() == pytest.approx(4000.0)
