"""simulate_rest: the rest of a running tournament, against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ranking.errors import InputError
from ranking.simulate import Cut, FixedRound, KnockoutRounds, RandomRound, ScoreRound, simulate_rest


def _p(r):
    r = np.asarray(r, dtype=float)
    return 1.0 / (1.0 + 10 ** (-(r[:, None] - r[None, :]) / 400))


R = [1250.0, 1100.0, 1000.0, 900.0, 1050.0, 980.0]


def test_nothing_left_gives_the_points_so_far_exactly():
    res = simulate_rest(_p(R), points=[3, 2.5, 0, 1, 0.5, 2], steps=[])
    assert_allclose(res.expected_score, [3, 2.5, 0, 1, 0.5, 2], rtol=0, atol=0)
    assert_allclose(res.stderr, 0.0)
    assert_allclose(res.p_win, [1, 0, 0, 0, 0, 0])


def test_fixed_games_add_their_win_probabilities():
    p = _p(R)
    points = np.array([1.0, 0.5, 0.5, 0.0, 2.0, 1.0])
    games = ((0, 1), (2, 3), (4, 5), (0, 2), (1, 4))
    res = simulate_rest(
        p,
        points=points,
        steps=[FixedRound(pairs=games[:3], byes=((5, 0.5),)), FixedRound(pairs=games[3:])],
        iterations=200_000,
        rng=1,
    )
    expected = points.copy()
    expected[5] += 0.5
    for a, b in games:  # E[points of a game] = its win probability, by hand
        expected[a] += p[a, b]
        expected[b] += p[b, a]
    assert np.all(np.abs(res.expected_score - expected) < 5 * res.stderr + 1e-12)
    assert res.expected_score.sum() == pytest.approx(points.sum() + 5 + 0.5, abs=1e-9)


def test_first_place_is_shared_among_the_contenders_only():
    # With nothing left, the non-contender's lead does not count: 1 and 2 share first.
    res = simulate_rest(_p(R), points=[5, 1, 1, 0, 0, 0], steps=[], contenders=[0, 1, 1, 1, 1, 1])
    assert_allclose(res.p_win, [0, 0.5, 0.5, 0, 0, 0])
    # 0 plays 1 and 2; P(1 beats 0) = 0.7, P(2 beats 0) = 0.4, independent. By hand:
    # both win 0.28 (shared), only 1 wins 0.42, only 2 wins 0.12, neither 0.18 (shared):
    # p_win(1) = 0.14 + 0.42 + 0.09 = 0.65, p_win(2) = 0.14 + 0.12 + 0.09 = 0.35.
    p = np.full((3, 3), 0.5)
    p[1, 0], p[0, 1], p[2, 0], p[0, 2] = 0.7, 0.3, 0.4, 0.6
    res = simulate_rest(
        p,
        points=[0, 0, 0],
        steps=[FixedRound(pairs=((0, 1), (2, 0)))],
        contenders=[False, True, True],
        iterations=200_000,
        rng=2,
    )
    assert_allclose(res.p_win, [0, 0.65, 0.35], atol=0.005)
    assert_allclose(res.expected_score, [0.3 + 0.6, 0.7, 0.4], atol=0.005)


@pytest.mark.parametrize("m,bye", [(6, 1.0), (5, 1.0), (7, 0.0)])
def test_score_rounds_play_every_model_still_in(m, bye):
    res = simulate_rest(
        _p(R + [1010.0])[:m, :m],
        points=np.zeros(m),
        steps=[ScoreRound(bye_points=bye)] * 3,
        iterations=2000,
        rng=2,
    )
    assert res.expected_score.sum() == pytest.approx(3 * (m // 2 + bye * (m % 2)), abs=1e-9)


def test_cuts_remove_the_lowest_and_survival_counts_add_up():
    steps = [ScoreRound(), Cut(2), ScoreRound(), Cut(1), ScoreRound()]
    res = simulate_rest(_p(R), points=np.zeros(6), steps=steps, iterations=5000, rng=3)
    assert_allclose(res.p_alive.sum(axis=0), [4, 3])
    assert res.expected_score.sum() == pytest.approx(3 + 2 + 1, abs=1e-9)
    # a model out before the start never scores
    res = simulate_rest(
        _p(R), points=np.zeros(6), steps=[ScoreRound()], alive=[1, 1, 1, 1, 1, 0], iterations=500
    )
    assert res.expected_score[5] == 0.0 and res.expected_score.sum() == pytest.approx(2.0)


def test_random_rounds_only_draw_models_still_in():
    res = simulate_rest(
        _p(R),
        points=np.zeros(6),
        steps=[RandomRound(k=9)],
        alive=[1, 1, 0, 1, 1, 1],
        iterations=3000,
        rng=4,
    )
    assert res.expected_score[2] == 0.0 and res.expected_score.sum() == pytest.approx(9.0, abs=1e-9)


def test_a_knockout_of_four_with_third_place_matches_the_hand_computation():
    p = _p(R[:4])
    res = simulate_rest(
        p,
        points=np.zeros(4),
        steps=[
            KnockoutRounds(
                matches=((0, 3), (1, 2)), decided=(None, None), rounds=2, third_place=True
            )
        ],
        iterations=400_000,
        rng=5,
    )
    # seed 1 is champion if it beats 4 and then the winner of 2-3
    p0 = p[0, 3] * (p[1, 2] * p[0, 1] + p[2, 1] * p[0, 2])
    assert res.p_win[0] == pytest.approx(p0, abs=0.004)
    assert_allclose(res.p_alive[:, 0], [p[0, 3], p[1, 2], p[2, 1], p[3, 0]], atol=0.004)
    assert res.expected_score.sum() == pytest.approx(
        4.0, abs=1e-9
    )  # 2 semi-finals, final, third place
    # with the first semi-final already won by 4: 1 scores nothing more
    res = simulate_rest(
        p,
        points=[0, 0, 0, 1],
        steps=[
            KnockoutRounds(matches=((0, 3), (1, 2)), decided=(3, None), rounds=2, third_place=True)
        ],
        iterations=200_000,
        rng=6,
    )
    assert res.p_win[0] == 0.0 and res.p_alive[0, 0] == 0.0
    # 4 meets the winner of 2-3 in the final: one more point with probability P(4 beats it)
    assert res.expected_score[3] == pytest.approx(
        1 + p[1, 2] * p[3, 1] + p[2, 1] * p[3, 2], abs=0.005
    )


def test_bad_inputs_name_the_parameter():
    with pytest.raises(InputError, match="points"):
        simulate_rest(_p(R), points=[0, 0], steps=[])
    with pytest.raises(InputError, match="alive"):
        simulate_rest(_p(R), points=np.zeros(6), steps=[], alive=[True])
    with pytest.raises(InputError, match="contenders"):
        simulate_rest(_p(R), points=np.zeros(6), steps=[], contenders=[False] * 6)
