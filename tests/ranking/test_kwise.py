"""K-wise votes (ranking.kwise): rank breaking by hand, OpenSkill free-for-all against the
openskill package, Bradley-Terry on implied pairs against known strengths, the file form."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ranking.battle_files import read_battles, write_battles
from ranking.battles import Battles
from ranking.bradley_terry import bradley_terry
from ranking.errors import BattleFileError, InputError
from ranking.kwise import (
    KwiseVotes,
    combine,
    implied_pairs,
    kwise_bradley_terry,
    kwise_openskill,
    pair_weight,
    plackett_luce_sample,
)
from ranking.types import A_WINS

from .conftest import CliRun


def _kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    n = len(x)
    s = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return s / (n * (n - 1) / 2)


# --------------------------------------------------------------------------- rank breaking


def test_implied_pairs_of_a_three_way_vote_worked_by_hand() -> None:
    # shown x, y, z ranked 2, 1, 3: y > x > z, so y beats x, y beats z, x beats z, each 1/2
    votes = KwiseVotes(("x", "y", "z"), [(0, 1, 2)], [(2, 1, 3)])
    pairs = implied_pairs(votes)
    wins, ties = pairs.pair_counts()
    expected = np.zeros((3, 3))
    expected[1, 0] = expected[1, 2] = expected[0, 2] = 0.5
    assert_allclose(wins, expected, atol=0)
    assert not ties.any()
    assert (pairs.outcome == A_WINS).all()
    # every answer of a vote carries one comparison; the vote K/2 = 1.5 pairwise votes
    assert_allclose(pairs.weight.sum(), 1.5)
    assert pairs.battles_per_model().tolist() == [1, 1, 1]


def test_four_way_vote_has_six_pairs_of_a_third_summing_to_two() -> None:
    votes = KwiseVotes(("a", "b", "c", "d"), [(3, 0, 2, 1)], [(1, 2, 3, 4)])  # d > a > c > b
    pairs = implied_pairs(votes)
    assert len(pairs) == 6
    assert_allclose(pairs.weight, [1 / 3] * 6)
    assert_allclose(pairs.weight.sum(), 2.0)  # K/2
    wins, _ = pairs.pair_counts()
    third = 1 / 3
    expected = np.array(
        [  # a, b, c, d (row beat column)
            [0, third, third, 0],
            [0, 0, 0, 0],
            [0, third, 0, 0],
            [third, third, third, 0],
        ]
    )
    assert_allclose(wins, expected, atol=1e-15)
    assert pair_weight(3) == 0.5 and pair_weight(4) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("shown", "ranks", "message"),
    [
        ([(0, 1)], [(1, 2)], "from 3 to"),
        ([(0, 1, 2)], [(1, 1, 2)], "permutation"),  # a tie is not allowed
        ([(0, 1, 2)], [(1, 2, 4)], "permutation"),
        ([(0, 1, 2)], [(1, 2)], "one rank per model"),
        ([(0, 0, 2)], [(1, 2, 3)], "distinct"),
        ([(0, 1, 7)], [(1, 2, 3)], "index"),
    ],
)
def test_malformed_votes_are_refused(shown, ranks, message) -> None:
    with pytest.raises(InputError, match=message):
        KwiseVotes(("a", "b", "c"), shown, ranks)


def test_combine_gives_pairwise_battles_weight_one_beside_the_implied_pairs() -> None:
    battles = Battles(("p", "x"), [0], [1], [A_WINS])
    votes = KwiseVotes(("x", "y", "z"), [(0, 1, 2)], [(1, 2, 3)])
    both = combine(battles, votes)
    assert both.models == ("p", "x", "y", "z")
    assert_allclose(both.weight, [1.0, 0.5, 0.5, 0.5])
    assert both.n_battles == 2  # 1 + K/2 = 2.5, rounded


# --------------------------------------------------------------------------- OpenSkill FFA


def _random_votes(rng: np.random.Generator, n_models: int, n_votes: int, k: int) -> KwiseVotes:
    strength = np.linspace(-300, 300, n_models)
    shown, ranks = [], []
    for _ in range(n_votes):
        s = tuple(int(x) for x in rng.choice(n_models, size=k, replace=False))
        shown.append(s)
        ranks.append(plackett_luce_sample(strength, s, rng))
    names = tuple(f"m{i:02d}" for i in range(n_models))
    return KwiseVotes(names, shown, ranks)


def test_openskill_free_for_all_equals_the_package_called_directly() -> None:
    from openskill.models import PlackettLuce

    votes = _random_votes(np.random.default_rng(3), 6, 40, 4)
    model = PlackettLuce()
    ratings = {name: model.rating() for name in votes.models}
    for shown, ranks in zip(votes.shown, votes.ranks):
        # the package's own ordering path: teams passed best first, without ranks
        names = [votes.models[x] for _, x in sorted(zip(ranks, shown))]
        new = model.rate([[ratings[n]] for n in names])
        for n, [r] in zip(names, new):
            ratings[n] = r
    res = kwise_openskill(votes)
    assert res.models == list(votes.models)
    assert_allclose(res.rating, [ratings[n].mu for n in votes.models], rtol=1e-12)
    assert_allclose(res.extra["sigma"], [ratings[n].sigma for n in votes.models], rtol=1e-12)
    assert_allclose(res.extra["ordinal"], [ratings[n].ordinal() for n in votes.models], rtol=1e-12)
    assert res.battles.sum() == 40 * 4


def test_openskill_interleaves_votes_and_battles_by_time() -> None:
    from openskill.models import PlackettLuce

    votes = KwiseVotes(("a", "b", "c"), [(0, 1, 2)], [(3, 1, 2)], tstamp=[5.0])
    battles = Battles(("a", "b"), [0, 0], [1, 1], [A_WINS, A_WINS], tstamp=[1.0, 9.0])
    model = PlackettLuce()
    a, b, c = model.rating(), model.rating(), model.rating()
    [[a], [b]] = model.rate([[a], [b]])  # t=1: a beats b
    [[b], [c], [a]] = model.rate([[b], [c], [a]])  # t=5: b > c > a
    [[a], [b]] = model.rate([[a], [b]])  # t=9: a beats b
    res = kwise_openskill(votes, battles=battles)
    assert_allclose(res.rating, [a.mu, b.mu, c.mu], rtol=1e-12)


# --------------------------------------------------------------------------- Bradley-Terry


def test_bt_on_implied_pairs_recovers_plackett_luce_strengths() -> None:
    rng = np.random.default_rng(11)
    strength = np.array([-250.0, -150.0, -60.0, 0.0, 40.0, 120.0, 200.0, 300.0])
    shown, ranks = [], []
    for _ in range(6000):
        s = tuple(int(x) for x in rng.choice(8, size=4, replace=False))
        shown.append(s)
        ranks.append(plackett_luce_sample(strength, s, rng))
    votes = KwiseVotes(tuple(f"m{i}" for i in range(8)), shown, ranks)
    res = kwise_bradley_terry(votes, ci="none")
    # the mean-1000 gauge: compare differences from the mean
    assert_allclose(res.rating - res.rating.mean(), strength - strength.mean(), atol=15)
    assert _kendall_tau(res.rating, strength) == 1.0
    assert res.battles.tolist() == np.bincount(np.ravel(shown), minlength=8).tolist()


def test_bootstrap_interval_over_votes_covers_the_truth_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(5)
    strength = np.array([-150.0, -50.0, 0.0, 60.0, 140.0])
    centred = strength - strength.mean()
    hits = total = 0
    for _ in range(150):
        shown, ranks = [], []
        for _ in range(150):
            s = tuple(int(x) for x in rng.choice(5, size=3, replace=False))
            shown.append(s)
            ranks.append(plackett_luce_sample(strength, s, rng))
        votes = KwiseVotes(tuple("abcde"), shown, ranks)
        res = kwise_bradley_terry(votes, rounds=100, rng=rng)
        shift = res.rating.mean()
        hits += int(((res.lower - shift <= centred) & (centred <= res.upper - shift)).sum())
        total += 5
    assert 0.91 <= hits / total <= 0.985, hits / total


def test_kwise_bt_equals_bt_on_the_implied_pairs_as_plain_battles() -> None:
    # with one K for every vote, the 1/(K-1) weights are uniform: the unpenalised optimum is
    # the same as on the implied pairs written out as unweighted pairwise battles
    votes = _random_votes(np.random.default_rng(2), 5, 80, 3)
    a, b = [], []
    for order in votes.best_first():
        for i in range(3):
            for j in range(i + 1, 3):
                a.append(order[i])
                b.append(order[j])
    plain = bradley_terry(Battles(votes.models, a, b, [A_WINS] * len(a)))
    assert_allclose(kwise_bradley_terry(votes, ci="none").rating, plain.rating, atol=1e-8)


# --------------------------------------------------------------------------- files and CLI


def _kwise_file(tmp_path: Path, lines: list[dict]) -> Path:
    path = tmp_path / "kwise.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def test_file_round_trip_keeps_battles_and_kwise_votes() -> None:
    battles = Battles(("a", "b", "c", "d"), [0, 2], [1, 3], [A_WINS, 2], tstamp=[1.0, 2.0])
    votes = KwiseVotes(
        ("a", "b", "c", "d"), [(2, 0, 3), (1, 3, 0, 2)], [(1, 3, 2), (4, 1, 3, 2)], [3.0, 4.0]
    )
    out = io.StringIO()
    n = write_battles(
        out, battles, kwise=votes, kwise_anony=[True, False], kwise_category=["x", None]
    )
    assert n == 4
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[2] == {
        "models": ["c", "a", "d"],
        "ranks": [1, 3, 2],
        "tstamp": 3.0,
        "anony": True,
        "category": "x",
    }
    read = read_battles(io.StringIO(out.getvalue()))
    assert read.n_rows == 4 and len(read.battles) == 2
    assert read.kwise is not None
    assert read.kwise.models == votes.models
    assert read.kwise.shown == votes.shown and read.kwise.ranks == votes.ranks
    assert_allclose(read.kwise.tstamp, [3.0, 4.0])
    assert read.kwise_anony.tolist() == [True, False]
    assert read.kwise_category.tolist() == ["x", None]
    assert read.battles.a.tolist() == [0, 2]
    only = read_battles(io.StringIO(out.getvalue()), anonymous_only=True)
    assert only.kwise is not None and len(only.kwise) == 1


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"models": ["a", "b", "c"], "ranks": [1, 1, 2]}, "permutation"),
        ({"models": ["a", "b"], "ranks": [1, 2]}, "from 3 to 10"),
        ({"models": ["a", "a", "c"], "ranks": [1, 2, 3]}, "distinct"),
        ({"models": ["a", "b", "c"], "ranks": [1, 2]}, "one rank per model"),
        ({"models": ["a", "b", 3], "ranks": [1, 2, 3]}, r"models\[2\] must be a string"),
        ({"models": "abc", "ranks": [1, 2, 3]}, "models must be a list"),
        ({"models": ["a", "b", "c"], "ranks": [1, 2, 3], "winner": "model_a"}, "must not have"),
        ({"models": ["a", "b", "c"], "ranks": [1, 2, 3], "tstamp": -1}, "tstamp"),
    ],
)
def test_malformed_kwise_record_is_a_line_numbered_error(tmp_path, record, message) -> None:
    path = _kwise_file(tmp_path, [{"model_a": "a", "model_b": "b", "winner": "tie"}, record])
    with pytest.raises(BattleFileError, match=f"line 2: .*{message}"):
        read_battles(path)
    read = read_battles(path, skip_invalid=True)
    assert read.skipped == 1 and read.kwise is None and len(read.battles) == 1


@pytest.fixture
def run(run_cli: Callable[..., CliRun]) -> Callable[..., CliRun]:
    def call(*args: str) -> CliRun:
        return run_cli("rate", *args)

    return call


def test_cli_bt_on_kwise_records_equals_bt_on_the_implied_pairs_file(tmp_path, run) -> None:
    votes = _random_votes(np.random.default_rng(9), 5, 60, 4)
    records = [
        {"models": [votes.models[x] for x in s], "ranks": list(r)}
        for s, r in zip(votes.shown, votes.ranks)
    ]
    pairs = [
        {"model_a": votes.models[o[i]], "model_b": votes.models[o[j]], "winner": "model_a"}
        for o in votes.best_first()
        for i in range(4)
        for j in range(i + 1, 4)
    ]
    kw = run(str(_kwise_file(tmp_path, records)), "--method", "bt", "--output", "json")
    assert kw.returncode == 0, kw.stderr
    plain_path = tmp_path / "pairs.jsonl"
    plain_path.write_text("".join(json.dumps(r) + "\n" for r in pairs))
    plain = run(str(plain_path), "--method", "bt", "--output", "json")
    got = {r["model"]: r["rating"] for r in json.loads(kw.stdout)["ratings"]}
    want = {r["model"]: r["rating"] for r in json.loads(plain.stdout)["ratings"]}
    assert got.keys() == want.keys()
    assert_allclose([got[m] for m in want], list(want.values()), atol=1e-6)
    assert json.loads(kw.stdout)["n_battles"] == 60 * 2  # a vote counts as K/2 battles


def test_cli_openskill_on_kwise_records_equals_the_package(tmp_path, run) -> None:
    from openskill.models import PlackettLuce

    lines = [
        {"models": ["a", "b", "c"], "ranks": [2, 1, 3]},
        {"models": ["d", "a", "c", "b"], "ranks": [1, 4, 2, 3]},
    ]
    model = PlackettLuce()
    r = {n: model.rating() for n in "abcd"}
    [[r["b"]], [r["a"]], [r["c"]]] = model.rate([[r["b"]], [r["a"]], [r["c"]]])
    [[r["d"]], [r["c"]], [r["b"]], [r["a"]]] = model.rate([[r["d"]], [r["c"]], [r["b"]], [r["a"]]])
    proc = run(str(_kwise_file(tmp_path, lines)), "--method", "openskill", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    got = {row["model"]: row["rating"] for row in json.loads(proc.stdout)["ratings"]}
    assert_allclose([got[n] for n in "abcd"], [r[n].mu for n in "abcd"], rtol=1e-12)


def test_cli_elo_refuses_kwise_records(tmp_path, run) -> None:
    path = _kwise_file(tmp_path, [{"models": ["a", "b", "c"], "ranks": [1, 2, 3]}])
    proc = run(str(path), "--method", "elo")
    assert proc.returncode == 2
    assert "K-wise records are rated with --method bt, openskill or winrate" in proc.stderr
