"""A model's battle figures (stats API, model page head to head) from the pair aggregates up
to the watermark plus the battles newer than it.

The expected figures are counted in the test from every stored Battle row, never by the code
under test.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from arena import models as m
from arena.selectors.competitors import competitor_stats
from arena.selectors.web import competitor_head_to_head
from arena.services.aggregates import WATERMARK, aggregates_advance, competitor_results
from tests.factories import BattleFactory, CompetitorFactory, MatchFactory

pytestmark = pytest.mark.django_db

OUTCOMES = ["model_a", "model_b", "tie", "tie (bothbad)"]
SOURCES = ["human", "judge", "import"]
CATEGORIES = ["general", "code", "math"]


def _random_battles(rng, comps, n: int) -> None:
    rows = []
    for _ in range(n):
        i, j = rng.choice(len(comps), 2, replace=False)
        rows.append(
            m.Battle(
                model_a=comps[i],
                model_b=comps[j],
                outcome=OUTCOMES[rng.integers(4)],
                source=SOURCES[rng.integers(3)],
                category=CATEGORIES[rng.integers(3)],
            )
        )
    m.Battle.objects.bulk_create(rows)


def _counted(cid: int) -> tuple[dict[int, Counter], Counter]:
    """Per opponent ``Counter(wins, losses, ties)`` and battles per source, from every row."""
    per_opponent: dict[int, Counter] = {}
    per_source: Counter = Counter()
    for a, b, outcome, source in m.Battle.objects.values_list(
        "model_a_id", "model_b_id", "outcome", "source"
    ):
        if cid not in (a, b):
            continue
        other = b if a == cid else a
        mine = "model_a" if a == cid else "model_b"
        if outcome == mine:
            result = "wins"
        elif outcome in ("model_a", "model_b"):
            result = "losses"
        else:
            result = "ties"
        per_opponent.setdefault(other, Counter())[result] += 1
        per_source[source] += 1
    return per_opponent, per_source


def _max_id() -> int:
    return m.Battle.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_equal_a_count_over_the_battles(seed):
    rng = np.random.default_rng(seed)
    comps = [CompetitorFactory(name=f"cr-{seed}-{k}") for k in range(6)]
    _random_battles(rng, comps, 300)
    aggregates_advance(battles_upto=_max_id(), pair_counts_upto=0)
    _random_battles(rng, comps, 200)
    aggregates_advance(battles_upto=_max_id() - 50, pair_counts_upto=0)  # a partial fold
    _random_battles(rng, comps, 120)  # newer than the watermark: the tail
    upto = m.AggregateWatermark.objects.get(name=WATERMARK).battles_upto
    assert 0 < upto < _max_id()
    for c in comps:
        per_opponent, per_source = _counted(c.pk)
        h2h = {r["id"]: r for r in competitor_head_to_head(competitor_id=c.pk)}
        assert set(h2h) == set(per_opponent)
        for other, counted in per_opponent.items():
            row = h2h[other]
            assert (row["wins"], row["losses"], row["ties"]) == (
                counted["wins"],
                counted["losses"],
                counted["ties"],
            )
            assert row["total"] == sum(counted.values())
        stats = competitor_stats(competitor=c)
        total = sum(per_opponent.values(), Counter())
        assert (stats["battles"], stats["wins"], stats["losses"], stats["ties"]) == (
            sum(total.values()),
            total["wins"],
            total["losses"],
            total["ties"],
        )
        assert stats["by_source"] == {s: per_source[s] for s in SOURCES}
    # the reads never advance the aggregates
    assert m.AggregateWatermark.objects.get(name=WATERMARK).battles_upto == upto


def test_figures_before_any_fold_come_from_the_battles():
    a, b = CompetitorFactory(), CompetitorFactory()
    BattleFactory(model_a=a, model_b=b, outcome="model_a", source="judge")
    BattleFactory(model_a=b, model_b=a, outcome="tie (bothbad)", source="human")
    assert not m.AggregateWatermark.objects.exists()
    got = competitor_results(competitor_id=a.pk)
    assert [(r.source, r.opponent_id, r.wins, r.losses, r.ties) for r in got] == [
        ("human", b.pk, 0, 0, 1),
        ("judge", b.pk, 1, 0, 0),
    ]
    assert not m.AggregateWatermark.objects.exists()


def test_battles_up_to_the_watermark_are_read_from_the_aggregates():
    a, b = CompetitorFactory(), CompetitorFactory()
    BattleFactory(model_a=a, model_b=b, outcome="model_a", source="human")
    aggregates_advance(battles_upto=_max_id(), pair_counts_upto=0)
    BattleFactory(model_a=b, model_b=a, outcome="model_a", source="human")  # the tail
    lo_is_a = a.pk < b.pk
    # the folded battle is counted once, from its aggregate row (made 5 wins here)
    m.PairAggregate.objects.filter(source="human", category="").update(
        **({"wins_lo": 5} if lo_is_a else {"wins_hi": 5})
    )
    (row,) = competitor_head_to_head(competitor_id=a.pk)
    assert (row["wins"], row["losses"], row["ties"]) == (5, 1, 0)


def test_a_vote_has_at_most_one_battle():
    match = MatchFactory()
    vote = m.Vote.objects.create(match=match, voter_hash="v", outcome="model_a")
    a, b = match.competitor_a, match.competitor_b
    BattleFactory(model_a=a, model_b=b, vote=vote, match=match)
    with pytest.raises(IntegrityError), transaction.atomic():
        BattleFactory(model_a=a, model_b=b, vote=vote, match=match)
    # battles without a vote (imported, judged) are not constrained
    BattleFactory(model_a=a, model_b=b)
    BattleFactory(model_a=a, model_b=b)
    assert m.Battle.objects.filter(vote=vote).count() == 1


@pytest.mark.parametrize("seed", [4, 5])
def test_pair_totals_equal_a_count_over_the_battles(seed):
    # the arena's matchmaking counts (arena_mode._pair_counts) read the aggregates plus the tail
    from arena.services.aggregates import pair_battle_totals

    rng = np.random.default_rng(seed)
    comps = [CompetitorFactory(name=f"pt-{seed}-{k}") for k in range(7)]
    _random_battles(rng, comps, 300)
    aggregates_advance(battles_upto=_max_id() - 40, pair_counts_upto=0)  # a partial fold
    _random_battles(rng, comps, 150)  # newer than the watermark
    chosen = [c.pk for c in comps[:5]]  # two competitors left out
    expected: Counter = Counter()
    for a, b in m.Battle.objects.values_list("model_a_id", "model_b_id"):
        if a in chosen and b in chosen:
            expected[(min(a, b), max(a, b))] += 1
    got = pair_battle_totals(competitor_ids=chosen)
    assert {(lo, hi): n for lo, hi, n in got} == dict(expected)
    assert [(lo, hi) for lo, hi, _ in got] == sorted(expected)
    assert pair_battle_totals(competitor_ids=[]) == []


def test_packed_pair_rows_equal_the_plain_rows():
    # PostgreSQL reads a scope's pair aggregates packed into one bytea; its plain twin (rows)
    # is what SQLite uses: the same numbers for every scope, with and without exclusions
    from django.db import connection

    from arena.services import aggregates as agg

    if connection.vendor != "postgresql":
        pytest.skip("the packed read is PostgreSQL's")
    rng = np.random.default_rng(9)
    comps = [CompetitorFactory(name=f"pk-{k}") for k in range(8)]
    _random_battles(rng, comps, 400)
    aggregates_advance(battles_upto=_max_id(), pair_counts_upto=0)
    scopes = [(s, c) for s in [*SOURCES, agg.ANY] for c in [*CATEGORIES, agg.ANY, "none-such"]]
    for source, category in scopes:
        for excluded in ([], [comps[1].pk, comps[5].pk]):
            where = "source = %s AND category = %s"
            params: list = [source, category]
            if excluded:
                where += " AND model_lo_id NOT IN (%s, %s) AND model_hi_id NOT IN (%s, %s)"
                params += [*excluded, *excluded]
            plain = agg._rows_plain(where, params)
            packed = agg._rows_packed(where, params)
            order = lambda r: r[np.lexsort((r[:, 1], r[:, 0]))]  # noqa: E731
            assert packed.dtype == np.int64 and packed.shape == plain.shape
            assert np.array_equal(order(packed), order(plain)), (source, category, excluded)
    assert len(agg._rows_packed("source = %s", ["none-such"])) == 0
