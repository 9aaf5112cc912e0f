"""The K-wise boards: ratings from K-wise votes alone, published beside the pairwise boards.

Two boards per scope, computed by :mod:`ranking.kwise` from the stored
:class:`~arena.models.KwiseBattle` rows (human K-wise votes and imported K-wise records):

* ``kwise_openskill``: OpenSkill (Plackett-Luce) free-for-all, one update per vote in time
  order, K-Sort Arena's kind of rating; interval μ ± 1.96σ.
* ``kwise_bt``: Bradley-Terry on the implied pairs of each vote, each weighted 1/(K-1) (a vote
  carries the weight of K/2 pairwise votes, every answer of it one comparison); on the
  pairwise board's scale and gauge, with a percentile bootstrap over whole votes.

They are separate boards rather than extra rows in the pairwise aggregates: a K-wise vote is
not a set of independent pairwise votes (its pairs share one voter and one reading), so the
pairwise boards' intervals, win rates and sampling flags stay about pairwise votes only, and
pairwise behaviour is unchanged. Like the style board they are extension boards
(``leaderboard_board_register``), so they are recomputed by the periodic rebuild, not after
every vote. ``inputs`` names the K-wise rows used (``kwise_upto``, the largest id).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from arena.models import Competitor, KwiseBattle, KwiseEntry, LeaderboardSnapshot
from arena.services import leaderboard
from ranking.kwise import KwiseVotes, implied_pairs, kwise_bradley_terry, kwise_openskill

BT_PARAMS: dict[str, Any] = {
    "scale": 400.0,
    "base": 10.0,
    "init": 1000.0,
    "ci": "bootstrap",
    "rounds": 100,
    "confidence": 0.95,
    "rng": 0,
}
OPENSKILL_PARAMS: dict[str, Any] = {"model": "plackett-luce", "confidence": 0.95}
BOARDS: dict[str, tuple[dict[str, Any], str]] = {
    "kwise_bt": (
        BT_PARAMS,
        "95% percentile bootstrap over resampled K-wise votes (whole votes, since the implied "
        "pairs of one vote are dependent) of Bradley-Terry on the implied pairs, each pair "
        "weighted 1/(K-1)",
    ),
    "kwise_openskill": (
        OPENSKILL_PARAMS,
        "μ ± 1.96σ of the OpenSkill (Plackett-Luce) posterior after free-for-all updates, one "
        "per K-wise vote (a Bayesian credible band, not a calibrated confidence interval)",
    ),
}


def kwise_board_register() -> None:
    """Add the K-wise boards to the leaderboard rebuild (called once at start-up)."""
    for name in BOARDS:
        leaderboard.leaderboard_board_register(name, _rebuilder(name))


def _rebuilder(method: str) -> Any:
    def rebuild(**kwargs: Any) -> LeaderboardSnapshot | None:
        return kwise_board_rebuild(method=method, **kwargs)

    return rebuild


def kwise_scope(*, source: str, category: str, excluded: list[int]) -> QuerySet[KwiseBattle]:
    """The K-wise battles of a public scope (battles with a private competitor left out)."""
    qs = KwiseBattle.objects.all()
    if source != "combined":
        qs = qs.filter(source=source)
    if category != leaderboard.ALL_CATEGORIES:
        qs = qs.filter(category=category)
    if excluded:
        qs = qs.exclude(
            Exists(KwiseEntry.objects.filter(battle=OuterRef("pk"), competitor_id__in=excluded))
        )
    return qs


def kwise_votes_load(battles: QuerySet[KwiseBattle]) -> tuple[KwiseVotes, list[int], int]:
    """The votes of ``battles`` in (tstamp, id) order, models in name order (as the battle
    file reader codes them); returns the votes, the competitor id of each model and the
    largest battle id."""
    order = list(battles.order_by("tstamp", "id").values_list("id", "tstamp"))
    entries: dict[int, list[tuple[int, int, int]]] = {}
    for bid, pos, cid, rank in (
        KwiseEntry.objects.filter(battle_id__in=[b for b, _ in order])
        .order_by("battle_id", "position")
        .values_list("battle_id", "position", "competitor_id", "rank")
    ):
        entries.setdefault(bid, []).append((pos, cid, rank))
    present = {cid for rows in entries.values() for _, cid, _ in rows}
    names = dict(Competitor.objects.filter(id__in=present).values_list("id", "name"))
    ids = sorted(present, key=names.__getitem__)
    index = {cid: i for i, cid in enumerate(ids)}
    votes = KwiseVotes(
        tuple(names[c] for c in ids),
        tuple(tuple(index[cid] for _, cid, _ in entries[b]) for b, _ in order),
        tuple(tuple(rank for _, _, rank in entries[b]) for b, _ in order),
        np.array([t.timestamp() for _, t in order]) if order else None,
    )
    return votes, ids, max((b for b, _ in order), default=0)


def kwise_board_rebuild(
    *,
    method: str,
    source: str,
    category: str,
    selection: dict[str, Any],
    withdrawn: set[int],
    rule: dict[str, int],
    force: bool = False,
) -> LeaderboardSnapshot | None:
    """Publish one K-wise board of one scope (``None``: the scope has no K-wise vote)."""
    params, interval = BOARDS[method]
    excluded = selection["excluded_competitors"]
    scope = kwise_scope(source=source, category=category, excluded=excluded)
    upto = max(scope.order_by("-id").values_list("id", flat=True)[:1], default=0)
    if not upto:
        return None
    inputs = {
        "source": source,
        "category": category,
        "kwise_upto": upto,
        "excluded_competitors": excluded,
    }
    presentation = {"interval": interval, "listing": rule}
    data_version = leaderboard._data_version(inputs, presentation, withdrawn)
    unchanged = leaderboard.snapshot_unchanged(
        method=method,
        source=source,
        category=category,
        data_version=data_version,
        params=params,
        force=force,
    )
    if unchanged is not None:
        return unchanged
    votes, ids, _ = kwise_votes_load(scope.filter(id__lte=upto))
    started = time.perf_counter()
    if method == "kwise_bt":
        result = kwise_bradley_terry(votes, **params)
    else:
        result = kwise_openskill(votes, **params)
    elapsed = int((time.perf_counter() - started) * 1000)
    data = leaderboard.BattleData(
        battles=implied_pairs(votes), competitor_ids=ids, n_records=len(votes), inputs=inputs
    )
    now = timezone.now().isoformat()
    return leaderboard.snapshot_publish(
        method=method,
        source=source,
        category=category,
        data_version=data_version,
        params=params,
        inputs=inputs,
        board={**presentation, "kwise": True, "freshness": {"rating_computed_at": now}},
        ratings=leaderboard._rows(result, data, rule=rule, withdrawn=withdrawn),
        n_battles=len(votes),
        compute_ms=elapsed,
        force=force,
    )
