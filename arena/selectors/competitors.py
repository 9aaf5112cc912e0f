"""Reads of competitors: who sees which model, and per-model statistics."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet, Sum

from arena.models import Competitor, LeaderboardSnapshot, PairCount, Source
from arena.services.aggregates import competitor_results

RATING_HISTORY_LIMIT = 200


def competitor_list(*, user: Any) -> QuerySet[Competitor]:
    """Models visible to ``user``: admins see all; others see public models plus their own."""
    qs = Competitor.objects.select_related("owner")
    if user is not None and user.is_authenticated and user.is_staff:
        return qs
    visible = Q(visibility=Competitor.Visibility.PUBLIC)
    if user is not None and user.is_authenticated:
        visible |= Q(owner=user)
    return qs.filter(visible)


def competitor_stats(
    *, competitor: Competitor, method: str = "bt", source: str = "combined"
) -> dict[str, Any]:
    """Battles, wins, losses, ties and win rate over every battle (imported pair counts
    included), and the model's rating in each published snapshot of ``method``/``source``.

    The battles are counted from the pair aggregates and the battles newer than them
    (:func:`arena.services.aggregates.competitor_results`): O(pairs), not O(battles).

    Returns
    -------
    dict
        ``{"battles", "wins", "losses", "ties", "win_rate", "by_source": {...},
        "rating_history": [{"version", "created_at", "rating", "lower", "upper", "rank"}]}``
        with the history oldest first (at most ``RATING_HISTORY_LIMIT`` entries).
    """
    cid = competitor.pk
    results = competitor_results(competitor_id=cid)
    by_source = {s: 0 for s in (Source.HUMAN, Source.JUDGE, Source.IMPORT)}
    for r in results:
        by_source[Source(r.source)] += r.wins + r.losses + r.ties
    agg = {
        "battles": sum(by_source.values()),
        "wins": sum(r.wins for r in results),
        "losses": sum(r.losses for r in results),
    }
    as_a = PairCount.objects.filter(model_a_id=cid).aggregate(
        w=Sum("wins_a"), losses=Sum("wins_b"), t=Sum("ties")
    )
    as_b = PairCount.objects.filter(model_b_id=cid).aggregate(
        w=Sum("wins_b"), losses=Sum("wins_a"), t=Sum("ties")
    )
    pc_wins = (as_a["w"] or 0) + (as_b["w"] or 0)
    pc_losses = (as_a["losses"] or 0) + (as_b["losses"] or 0)
    pc_ties = (as_a["t"] or 0) + (as_b["t"] or 0)
    wins = agg["wins"] + pc_wins
    losses = agg["losses"] + pc_losses
    battles = agg["battles"] + pc_wins + pc_losses + pc_ties
    ties = battles - wins - losses
    snapshots = (
        LeaderboardSnapshot.objects.filter(method=method, source=source, category="all")
        .order_by("-version")
        .values_list("version", "created_at", "ratings")[:RATING_HISTORY_LIMIT]
    )
    history = []
    for version, created_at, ratings in reversed(list(snapshots)):
        for row in ratings:
            if row.get("competitor_id") == cid or (
                row.get("competitor_id") is None and row.get("model") == competitor.name
            ):
                history.append(
                    {
                        "version": version,
                        "created_at": created_at,
                        "rating": row.get("rating"),
                        "lower": row.get("lower"),
                        "upper": row.get("upper"),
                        "rank": row.get("rank"),
                    }
                )
                break
    return {
        "competitor_id": cid,
        "name": competitor.name,
        "battles": battles,
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": None if battles == 0 else (wins + 0.5 * ties) / battles,
        "by_source": {
            "human": by_source[Source.HUMAN],
            "judge": by_source[Source.JUDGE],
            "import": by_source[Source.IMPORT] + pc_wins + pc_losses + pc_ties,
        },
        "method": method,
        "source": source,
        "rating_history": history,
    }
