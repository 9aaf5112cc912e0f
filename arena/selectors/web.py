"""Reads behind the HTML pages: each returns plain dicts and lists built with few queries.

The leaderboard itself comes from the cached snapshot (:func:`leaderboard_get`); these
selectors add what a page needs around it (owners, available scopes, pairwise win rates,
rating history, head-to-head records, tournament tables). Nothing here writes.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from arena import models as m
from arena.selectors import content_key
from arena.selectors.leaderboard import leaderboard_get
from arena.services import leaderboard as leaderboard_service
from arena.services.aggregates import aggregate_key, competitor_results

ALL = "all"
METHODS: tuple[tuple[str, str], ...] = (
    ("bt", "Bradley-Terry"),
    ("bt_pair_frequency", "Bradley-Terry, pairs weighted equally"),
    ("bt_style", "Bradley-Terry, style-controlled"),
    ("elo", "Elo"),
    ("openskill", "OpenSkill"),
    ("alpharank", "α-Rank mass"),
    ("expected_score", "E[S] (Swiss dynamics)"),
    ("kwise_bt", "K-wise votes: Bradley-Terry on implied pairs"),
    ("kwise_openskill", "K-wise votes: OpenSkill free-for-all"),
)
METHOD_NOTES: dict[str, str] = {
    "bt": (
        "Bradley-Terry maximum likelihood on the Elo scale: "
        "P(i beats j) = 1 / (1 + base^(-(r_i - r_j)/scale)); ties count half a win to each side."
    ),
    "bt_pair_frequency": (
        "Bradley-Terry with each battle weighted inversely to how often its pair was played "
        "(as LMArena since July 2025), so over-sampled pairs do not dominate the fit."
    ),
    "bt_style": (
        "Style-controlled Bradley-Terry (LMArena's default board): the contextual "
        "Bradley-Terry model P(i beats j) = σ(ln(base)·(r_i − r_j)/scale + Σ_k β_k·x_k), where x "
        "holds four differences between the two answers (length in tokens, markdown headers, list "
        "items, bold spans), each (a − b)/(a + b + 1) standardised over the battles, as FastChat "
        "builds them. A rating is what a model wins beyond its answers' style; β says how much "
        "each style difference sways the verdicts. Only battles that carry conv_metadata enter."
    ),
    "elo": "Online Elo in battle order; a tie counts ½. Elo depends on the order of battles.",
    "openskill": "OpenSkill (Weng-Lin Bayesian rating), updated battle by battle in time order.",
    "alpharank": (
        "α-Rank: the mass of each model in the stationary distribution of an evolutionary "
        "process over the pairwise win-rate game (higher is better)."
    ),
    "expected_score": (
        "E[S]: expected number of wins under simulated Competitive Swiss-system dynamics."
    ),
    "winrate": "Average win rate against the other models (ties ½).",
    "kwise_bt": (
        "K-wise votes only (K-Sort Arena: a voter ranks 3 or 4 answers to one prompt). Each "
        "ranking is broken into its K(K−1)/2 implied pairs (each answer beats every answer "
        "ranked below it), each weighted 1/(K−1) so a vote counts as K/2 pairwise votes, and "
        "Bradley-Terry is fitted on them (consistent for Plackett-Luce rankings). Battles = "
        "K-wise votes a model appeared in."
    ),
    "kwise_openskill": (
        "K-wise votes only: OpenSkill (Plackett-Luce) free-for-all, one update of the K "
        "models per vote in time order, as K-Sort Arena rates its votes. Battles = K-wise votes "
        "a model appeared in."
    ),
}
#: Titles of the board's row sections (see ``arena.services.leaderboard.SECTIONS``).
SECTION_TITLES: dict[str, str] = {
    "ranked": "Ranked: established models of the main comparison group",
    "provisional": "Provisional: below the listing rule, not ranked",
    "separate": (
        "Not comparable with the main group: never met it, directly or through other models; "
        "not ranked"
    ),
}
SOURCES: tuple[tuple[str, str], ...] = (
    ("combined", "Combined"),
    ("human", "Human votes"),
    ("judge", "LLM judges"),
    ("import", "Imported"),
)
METHOD_LABELS = dict(METHODS)
SOURCE_LABELS = dict(SOURCES)
HEATMAP_MAX_MODELS = 16
HISTORY_MAX_SNAPSHOTS = 40


# --------------------------------------------------------------------------- leaderboard


def leaderboard_scopes_available() -> dict[str, Any]:
    """Which methods, sources and categories have at least one published snapshot (one query)."""
    rows = list(
        m.LeaderboardSnapshot.objects.values_list("method", "source", "category").distinct()
    )
    methods = {r[0] for r in rows}
    sources = {r[1] for r in rows}
    categories = sorted({r[2] for r in rows if r[2] != ALL})
    by_scope: dict[str, list[str]] = defaultdict(list)
    for method, source, category in rows:
        by_scope[f"{source}:{category}"].append(method)
    return {
        "methods": [{"value": v, "label": label, "available": v in methods} for v, label in METHODS]
        + [
            {"value": v, "label": v, "available": True}
            for v in sorted(methods - set(METHOD_LABELS))
        ],
        "sources": [
            {"value": v, "label": label, "available": v in sources} for v, label in SOURCES
        ],
        "categories": [ALL, *categories],
        "by_scope": {k: sorted(v) for k, v in by_scope.items()},
    }


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_datetime(value)
    return None


def leaderboard_rebuild_pending(
    *, source: str, category: str, snapshot: dict[str, Any] | None
) -> bool:
    """Whether a rebuild is pending for this scope.

    True while the debounced rebuild is scheduled (the service's cache flag), and also while
    the scope's newest battle is newer than its snapshot (one indexed query), which covers the
    time the rebuild itself takes.
    """
    key = getattr(leaderboard_service, "REBUILD_PENDING_KEY", None)
    if key:
        try:
            if cache.get(key) is not None:
                return True
        except Exception:  # noqa: S110 - no cache: fall back to comparing times
            pass
    q = Q()
    if source != "combined":
        q &= Q(source=source)
    if category != ALL:
        q &= Q(category=category)
    latest = m.Battle.objects.filter(q).order_by("-id").values_list("tstamp", flat=True).first()
    if (
        latest is None or snapshot is None
    ):  # no snapshot at all: "not computed yet", not "recomputing"
        return False
    created = _parse_time(snapshot.get("created_at"))
    return created is not None and latest > created


def _owners(competitor_ids: list[int]) -> dict[int, str]:
    rows = m.Competitor.objects.filter(id__in=competitor_ids).values_list(
        "id", "owner__username", "provider"
    )
    return {cid: (owner or provider or "") for cid, owner, provider in rows}


def leaderboard_etag(
    *, method: str, source: str, category: str
) -> tuple[str, dict[str, Any] | None, bool]:
    """A cheap fingerprint of what the leaderboard JSON would contain, plus its inputs."""
    snapshot = leaderboard_get(method=method, source=source, category=category)
    pending = leaderboard_rebuild_pending(source=source, category=category, snapshot=snapshot)
    version = snapshot and snapshot["version"]
    data_version = snapshot and snapshot["data_version"]
    key = f"{method}|{source}|{category}|{version}|{data_version}|{pending}"
    return hashlib.sha256(key.encode()).hexdigest()[:20], snapshot, pending


def leaderboard_view_data(
    *,
    method: str,
    source: str,
    category: str,
    snapshot: dict[str, Any] | None = None,
    pending: bool | None = None,
) -> dict[str, Any]:
    """One scope's leaderboard for a page or the live JSON: rows with owners and bar geometry."""
    if snapshot is None:
        snapshot = leaderboard_get(method=method, source=source, category=category)
    if pending is None:
        pending = leaderboard_rebuild_pending(source=source, category=category, snapshot=snapshot)
    data: dict[str, Any] = {
        "method": method,
        "method_label": METHOD_LABELS.get(method, method),
        "method_note": METHOD_NOTES.get(method, ""),
        "source": source,
        "source_label": SOURCE_LABELS.get(source, source),
        "category": category,
        "pending": pending,
        "snapshot": None,
        "rows": [],
    }
    if snapshot is None:
        return data
    ratings = list(snapshot.get("ratings") or [])
    owners = _owners([r["competitor_id"] for r in ratings if r.get("competitor_id") is not None])
    finite = [r["rating"] for r in ratings] + [
        r[k] for r in ratings for k in ("lower", "upper") if r.get(k) is not None
    ]
    lo, hi = (min(finite), max(finite)) if ratings else (0.0, 1.0)
    span = (hi - lo) or 1.0
    pad = span * 0.04
    lo, span = lo - pad, span + 2 * pad

    def pct(x: float) -> float:
        return round(100.0 * (x - lo) / span, 2)

    decimals = display_decimals([r["rating"] for r in ratings])
    board_interval = bool((snapshot.get("board") or {}).get("interval")) or any(
        r.get("lower") is not None or r.get("upper") is not None for r in ratings
    )
    rows = []
    # section headings only when the board has more than one section
    previous_section = None if len({r.get("section", "ranked") for r in ratings}) > 1 else "ranked"
    for r in ratings:
        lower, upper = r.get("lower"), r.get("upper")
        section = r.get("section", "ranked")
        x_lo = pct(lower) if lower is not None else 0.0
        x_hi = pct(upper) if upper is not None else 100.0
        rows.append(
            {
                "rank": r.get("rank"),
                "model": r["model"],
                "competitor_id": r.get("competitor_id"),
                "rating": r["rating"],
                "lower": lower,
                "upper": upper,
                "rating_text": f"{r['rating']:.{decimals}f}",
                "interval_text": interval_text(lower, upper, decimals)
                if board_interval
                else "no interval",
                "battles": r.get("battles", 0),
                "win_rate": r.get("win_rate"),
                "win_rate_text": "–"
                if r.get("win_rate") is None
                else f"{100 * r['win_rate']:.1f}%",
                "provisional": r.get("provisional", False),
                "component": r.get("component", 0),
                "withdrawn": r.get("withdrawn", False),
                "sampling": r.get("sampling"),
                "section": section,
                "section_title": SECTION_TITLES.get(section, section)
                if section != previous_section
                else "",
                "badges": _badges(r),
                "owner": owners.get(r.get("competitor_id"), ""),
                "x": pct(r["rating"]),
                "x_lo": x_lo if board_interval else None,
                "x_hi": x_hi if board_interval else None,
                "x_w": round(x_hi - x_lo, 2) if board_interval else None,
            }
        )
        previous_section = section
    data["rows"] = rows
    data["snapshot"] = {
        k: snapshot.get(k)
        for k in (
            "id",
            "version",
            "data_version",
            "params",
            "n_battles",
            "n_models",
            "compute_ms",
            "created_at",
        )
    }
    data["notes"] = board_notes(snapshot)
    data["style"] = style_note(snapshot)
    created = _parse_time(snapshot.get("created_at"))
    data["snapshot"]["created_label"] = (
        created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if created else ""
    )
    data["axis"] = {"lo": lo, "hi": lo + span}
    return data


def display_decimals(values: list[float]) -> int:
    """Decimals that keep every two different values different when shown (at least 1 for
    values of magnitude 10 or more, else 3; at most 12)."""
    distinct = len(set(values))
    start = 1 if values and max(abs(v) for v in values) >= 10 else 3
    for d in range(start, 13):
        if len({round(v, d) for v in values}) == distinct:
            return d
    return 12


def interval_text(lower: float | None, upper: float | None, decimals: int) -> str:
    """``[lower, upper]`` rounded outwards, so the shown value always lies in the shown interval;
    a missing bound is unbounded."""
    scale = 10.0**decimals
    lo = "−∞" if lower is None else f"{math.floor(lower * scale) / scale:.{decimals}f}"
    hi = "+∞" if upper is None else f"{math.ceil(upper * scale) / scale:.{decimals}f}"
    return f"[{lo}, {hi}]"


def _badges(row: dict[str, Any]) -> list[str]:
    badges = []
    if row.get("provisional"):
        badges.append("provisional")
    if row.get("component", 0):
        badges.append(f"group {row['component'] + 1}")
    if row.get("withdrawn"):
        badges.append("withdrawn")
    if row.get("sampling"):
        badges.append("sampling")
    return badges


def board_notes(snapshot: dict[str, Any]) -> dict[str, str]:
    """The methodology note's sentences that come from the snapshot itself: the interval method,
    the listing rule and the data the method could not use."""
    board = snapshot.get("board") or {}
    inputs = snapshot.get("inputs") or {}
    rule = board.get("listing") or {}
    interval = board.get("interval") or ""
    excluded = (inputs.get("excluded_pair_counts") or {}).get("battles", 0)
    if board.get("style"):  # the style board says what it leaves out, and why (style_note)
        excluded = 0
    return {
        "interval": f"Interval: {interval}."
        if interval
        else (
            "Interval: none. This method gives no interval yet, so its rows show none and its "
            "ranks are "
            "the order of the established models."
        ),
        "listing": (
            f"Listing rule: a model is ranked once it has at least {rule['min_battles']} battles "
            "against at "
            f"least {rule['min_opponents']} distinct opponents in this board's data; below that "
            "it is "
            "provisional and listed apart, never above an established model. Only the main "
            "comparison group "
            "(the largest set of models connected by battles) is ranked; models that never met "
            "it, directly "
            "or through others, are listed apart as groups 2, 3, …"
        )
        if rule
        else "",
        "freshness": freshness_note(board.get("freshness") or {}),
        "excluded": (
            f"This board excludes {excluded} imported pair-count battles: the method updates "
            "battle by battle "
            "and pair counts carry no order."
        )
        if excluded
        else "",
        "sampling": sampling_note(snapshot.get("sampling")),
    }


def sampling_note(sampling: dict[str, Any] | None) -> str:
    """The methodology note's sentence on sampling to a target (empty on other boards)."""
    if sampling is None:
        return ""
    width = float(sampling["target_width"])
    confidence = 100 * float(sampling["settled_confidence"])
    stop = (
        f"models whose interval is at most {width:g} points wide and "
        if width > 0
        else "no model for its interval width (no target is set), and "
    )
    return (
        f"Sampling to a target: the open arena stops asking for votes on {stop}on pairs whose "
        f"order is settled (the {confidence:g}% interval of their difference, from the two "
        "intervals shown, excludes 0); models marked sampling are still being sampled. When "
        "nothing else is left, the widest intervals keep being sampled."
    )


STYLE_FEATURE_LABELS: dict[str, str] = {
    "length": "Answer length (tokens)",
    "header": "Markdown headers",
    "list": "List items",
    "bold": "Bold spans",
}


def style_note(snapshot: dict[str, Any]) -> dict[str, Any] | None:
    """The style coefficients of a style-controlled snapshot, ready for the methodology note."""
    style = (snapshot.get("board") or {}).get("style")
    if not style:
        return None
    inputs = snapshot.get("inputs") or {}
    lower, upper = style.get("lower"), style.get("upper")
    rows = []
    for k, (name, beta) in enumerate(zip(style["features"], style["coefficients"])):
        lo = lower[k] if lower else None
        hi = upper[k] if upper else None
        rows.append(
            {
                "feature": name,
                "label": STYLE_FEATURE_LABELS.get(name, name),
                "coefficient": beta,
                "text": f"{beta:+.3f}",
                "interval_text": interval_text(lo, hi, 3) if lower and upper else "no interval",
                "odds_text": f"×{math.exp(beta):.2f}",
            }
        )
    pairs = (inputs.get("excluded_pair_counts") or {}).get("battles", 0)
    return {
        "rows": rows,
        "tokenizer": style.get("tokenizer", ""),
        "without_metadata": inputs.get("excluded_without_metadata", 0),
        "pair_counts": pairs,
    }


def _utc_label(value: Any) -> str:
    stamp = _parse_time(value)
    return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if stamp else ""


def freshness_note(freshness: dict[str, Any]) -> str:
    """When the board's numbers were computed: the ratings, and the interval (a slow part,
    refreshed on its own cadence, can be older and come from fewer battles)."""
    rating = _utc_label(freshness.get("rating_computed_at"))
    interval = _utc_label(freshness.get("interval_computed_at"))
    if not rating:
        return ""
    text = f"Ratings computed {rating}"
    if interval and freshness.get("interval_computed_at") != freshness.get("rating_computed_at"):
        upto, count = freshness.get("interval_battles_upto"), freshness.get("interval_n_battles")
        counted = f" {count:,}" if isinstance(count, int) else ""
        text += f"; intervals computed {interval}" + (
            f" from the{counted} battles up to #{upto}" if upto is not None else ""
        )
        text += " (slow parts are refreshed on their own schedule; the interval is widened to "
        text += "contain the current rating)"
    elif interval:
        text += ", intervals with them"
    return text + "."


def pairwise_win_rates(
    *,
    source: str = "combined",
    category: str = ALL,
    models: list[tuple[int, str]],
    data_version: str = "",
) -> dict[str, Any]:
    """Win rate of each model against each other (ties ½) for the given models, in that order.

    Read from the pair aggregates the leaderboard rebuild keeps (O(pairs), never O(battles))
    plus pair counts for imported data, cached per data version.
    """
    ids = [cid for cid, _ in models]
    key = content_key("web:winrates", source, category, data_version, ids)
    if data_version:
        cached = cache.get(key)
        if cached is not None:
            return cached
    scope_source, scope_category = aggregate_key(
        source=source, category=category, all_categories=ALL
    )
    q = Q(
        model_lo_id__in=ids,
        model_hi_id__in=ids,
        source=scope_source,
        category=scope_category,
    )
    score: dict[tuple[int, int], float] = defaultdict(float)
    played: dict[tuple[int, int], float] = defaultdict(float)

    def add(a: int, b: int, outcome: str, n: float) -> None:
        played[(a, b)] += n
        played[(b, a)] += n
        if outcome == m.Outcome.MODEL_A:
            score[(a, b)] += n
        elif outcome == m.Outcome.MODEL_B:
            score[(b, a)] += n
        else:
            score[(a, b)] += 0.5 * n
            score[(b, a)] += 0.5 * n

    for lo, hi, w_lo, w_hi, ties in m.PairAggregate.objects.filter(q).values_list(
        "model_lo_id", "model_hi_id", "wins_lo", "wins_hi", "ties"
    ):
        add(lo, hi, m.Outcome.MODEL_A, float(w_lo))
        add(lo, hi, m.Outcome.MODEL_B, float(w_hi))
        add(lo, hi, m.Outcome.TIE, float(ties))
    if source in ("combined", "import"):
        pc = m.PairCount.objects.filter(model_a_id__in=ids, model_b_id__in=ids)
        if category != ALL:
            pc = pc.filter(category=category)
        for a, b, wa, wb, t in pc.values_list(
            "model_a_id", "model_b_id", "wins_a", "wins_b", "ties"
        ):
            add(a, b, m.Outcome.MODEL_A, float(wa))
            add(a, b, m.Outcome.MODEL_B, float(wb))
            add(a, b, m.Outcome.TIE, float(t))
    grid = []
    for ia, (_, name) in zip(ids, models):
        row = []
        for ib in ids:
            n = played.get((ia, ib), 0.0)
            rate = score[(ia, ib)] / n if n and ia != ib else None
            row.append({"rate": rate, "n": int(n), "color": _heat_color(rate)})
        grid.append({"name": name, "cells": row})
    result = {"models": [name for _, name in models], "ids": ids, "grid": grid}
    if data_version:  # the key names the data version: the entry never goes stale, only unused
        cache.set(key, result, timeout=24 * 3600)
    return result


def leaderboard_heatmap(
    *, source: str, category: str, rows: list[dict[str, Any]], data_version: str
) -> dict[str, Any] | None:
    """The home page's heat map: pairwise win rates of the top models (``None``: fewer than 2)."""
    top = [
        (r["competitor_id"], r["model"]) for r in rows[:HEATMAP_MAX_MODELS] if r["competitor_id"]
    ]
    if len(top) < 2:
        return None
    return pairwise_win_rates(
        source=source, category=category, models=top, data_version=data_version
    )


def leaderboard_heatmaps_warm(*, method: str = "bt") -> int:
    """Compute the heat map of every scope's ``method`` leaderboard into the cache; how many.

    Run after a rebuild (by the rebuild task), so that with votes streaming in (a new data
    version every few seconds) no page view pays for the aggregate query over all battles.
    """
    warmed = 0
    for source, category in leaderboard_service.leaderboard_scopes():
        data = leaderboard_view_data(method=method, source=source, category=category, pending=False)
        if data["snapshot"] is not None and leaderboard_heatmap(
            source=source,
            category=category,
            rows=data["rows"],
            data_version=data["snapshot"]["data_version"],
        ):
            warmed += 1
    return warmed


def _heat_color(rate: float | None) -> str:
    """Diverging blue (wins) to red (losses) background with dark text kept readable."""
    if rate is None:
        return "#f0f2f5"
    d = rate - 0.5
    light = 96 - int(abs(d) * 2 * 34)  # never darker than 62%: dark text stays readable (WCAG AA)
    return f"hsl(214 80% {light}%)" if d >= 0 else f"hsl(4 75% {light}%)"


def rating_history(
    *, competitor_id: int, method: str = "bt", source: str = "combined", category: str = ALL
) -> list[dict[str, Any]]:
    """The competitor's rating (and interval) in each of the latest snapshots, oldest first."""
    rows = (
        m.LeaderboardSnapshot.objects.filter(method=method, source=source, category=category)
        .order_by("-version")
        .values_list("version", "created_at", "ratings")[:HISTORY_MAX_SNAPSHOTS]
    )
    history = []
    for version, created_at, ratings in rows:
        for r in ratings or []:
            if r.get("competitor_id") == competitor_id:
                history.append(
                    {
                        "version": version,
                        "created_at": created_at,
                        "rating": r["rating"],
                        "lower": r.get("lower"),
                        "upper": r.get("upper"),
                        "rank": r.get("rank"),
                    }
                )
                break
    history.reverse()
    return history


# --------------------------------------------------------------------------- models


def competitor_list() -> list[dict[str, Any]]:
    """Public, active-or-withdrawn competitors with their battle counts (one query)."""
    qs = (
        m.Competitor.objects.filter(visibility=m.Competitor.Visibility.PUBLIC)
        .exclude(status=m.Competitor.Status.PENDING)
        .select_related("owner")
        .order_by("name")
    )
    return [
        {
            "id": c.id,
            "name": c.name,
            "provider": c.provider,
            "status": c.get_status_display(),
            "owner": c.owner.username if c.owner else "",
            "kind": c.get_kind_display(),
        }
        for c in qs
    ]


def competitor_head_to_head(*, competitor_id: int) -> list[dict[str, Any]]:
    """Wins, losses and ties against each opponent over all battles (from the pair
    aggregates and the battles newer than them: O(pairs), two queries)."""
    rec: dict[int, dict[str, int]] = defaultdict(lambda: {"wins": 0, "losses": 0, "ties": 0})
    for res in competitor_results(competitor_id=competitor_id):
        row = rec[res.opponent_id]
        row["wins"] += res.wins
        row["losses"] += res.losses
        row["ties"] += res.ties
    names = dict(m.Competitor.objects.filter(id__in=list(rec)).values_list("id", "name"))
    out: list[dict[str, Any]] = []
    for other, r in rec.items():
        total = r["wins"] + r["losses"] + r["ties"]
        out.append(
            {
                "id": other,
                "name": names.get(other, f"#{other}"),
                **r,
                "total": total,
                "score": (r["wins"] + 0.5 * r["ties"]) / total if total else None,
            }
        )
    out.sort(key=lambda r: (-r["total"], r["name"]))
    return out


def competitor_recent_battles(*, competitor_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The competitor's latest battles, newest first, from its own point of view (one query).

    No index on the model columns (a bulk import would maintain it): the primary key read
    backwards until ``limit`` of them are found.
    """
    qs = (
        m.Battle.objects.filter(Q(model_a_id=competitor_id) | Q(model_b_id=competitor_id))
        .select_related("model_a", "model_b")
        .order_by("-id")[:limit]
    )
    out = []
    for b in qs:
        me_a = b.model_a_id == competitor_id
        opponent = b.model_b if me_a else b.model_a
        if b.outcome == m.Outcome.MODEL_A:
            result = "win" if me_a else "loss"
        elif b.outcome == m.Outcome.MODEL_B:
            result = "loss" if me_a else "win"
        else:
            result = "both bad" if b.outcome == m.Outcome.BOTH_BAD else "tie"
        out.append(
            {
                "id": b.id,
                "opponent": opponent.name,
                "opponent_id": opponent.id,
                "result": result,
                "source": b.get_source_display(),
                "category": b.category,
                "tstamp": b.tstamp,
            }
        )
    return out
