"""Per-judge reliability from stored verdicts, each a share with a 95 % interval.

The shares: position bias, swap inconsistency, decisiveness and agreement with human votes.

The interval follows the unit the share counts. Items that are independent (one per match)
get the Wilson score interval [1]_; items that cluster by match (the two presentation orders of
one match, or several samples) get a percentile cluster bootstrap that resamples whole matches
[2]_ with a fixed seed, so the same data always gives the same interval; at a share of 0 or 1
that bootstrap collapses to a point, and Wilson over matches is used instead. Which one was
used is reported with every share (``method``).

Self-preference (a judge favouring its own provider's models) is computed for a judge whose
spec names its ``provider``: see :func:`self_preference` and :data:`SELF_PREFERENCE_RULE`.

References
----------
.. [1] E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
   JASA 22 (1927) 209-212.
.. [2] A. C. Davison and D. V. Hinkley, *Bootstrap Methods and their Application*,
   Cambridge University Press (1997), section 3.8 (multi-stage sampling).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: Verdicts in which the first shown answer wins (the verdict grammar names it ``A``).
FIRST_WINS = frozenset({"A>B", "A>>B"})
SECOND_WINS = frozenset({"B>A", "B>>A"})
TIE_VERDICT = "A=B"
BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95

METHOD_WILSON = "wilson"
METHOD_CLUSTER_BOOTSTRAP = "cluster-bootstrap"
METHOD_WILSON_MATCHES = "wilson-matches"

HUMAN_RULE = (
    "A judge's outcome on a match is the most frequent of its mapped outcomes over its primary "
    "verdicts there (a tie for the top, as when its two orders disagree, counts as tie); the "
    "human outcome is the most frequent vote (tie and tie (bothbad) are one class, tie); a "
    "match whose human votes have no single most frequent outcome is left out. Agreement is "
    "the share of matches where the two are equal, with a Wilson interval (one item per match)."
)


#: Fewer matches with exactly one own-provider side than this: "not enough data".
SELF_PREFERENCE_MIN_MATCHES = 10
SELF_SHOWN = "shown"
SELF_NOT_ENOUGH = "not enough data"
SELF_NOT_SHOWN = "not shown"

SELF_PREFERENCE_RULE = (
    "For a judge whose spec names a provider: the matches it judged where exactly one side's "
    "competitor has that provider (compared case-insensitively, surrounding spaces ignored). "
    "The judge's outcome on a match is the most frequent of its mapped primary outcomes (a tie "
    "for the top counts as tie). own_side_wins is the share of its decisive outcomes (not tie) "
    "won by the own-provider side, with a Wilson interval (one item per match). The baseline on "
    "the same matches is the share of decisive outcomes of the other judges (one per judge and "
    "match, the same rule) and of the human votes there that went to the same side (several "
    "items per match: cluster bootstrap over matches, as for the other shares). The difference "
    "is own_side_wins minus baseline, with a MOVER (Newcombe) interval built from the two "
    "intervals; it treats the two shares as independent, which is conservative here because "
    "both are taken on the same matches and a stronger own-provider model raises both. A "
    f"positive difference whose interval excludes 0 is self-preference. With fewer than "
    f"{SELF_PREFERENCE_MIN_MATCHES} such matches the judge gets 'not enough data'; a judge "
    "without a provider gets 'not shown'."
)


@dataclass(frozen=True)
class Share:
    """``successes`` out of ``n`` items with a ``confidence`` interval ``[lower, upper]``."""

    value: float
    lower: float
    upper: float
    successes: int
    n: int
    method: str


@dataclass(frozen=True)
class JudgmentRow:
    """One parsed primary-stage verdict (``outcome`` already mapped to the match's sides)."""

    match: int
    judge: str
    order: str
    sample: int
    verdict: str
    outcome: str


@dataclass(frozen=True)
class JudgeReliability:
    """One judge's reliability figures; a share is ``None`` when it has no items."""

    judge: str
    judgments: int
    matches: int
    position_bias: Share | None
    swap_inconsistency: Share | None
    decisiveness: Share | None
    human_agreement: Share | None
    human_matches_left_out: int


@dataclass(frozen=True)
class Difference:
    """``value`` = own share minus baseline share, with a ``confidence`` interval."""

    value: float
    lower: float
    upper: float
    method: str


@dataclass(frozen=True)
class SelfPreference:
    """One judge's self-preference (``status`` is shown, not enough data or not shown)."""

    judge: str
    provider: str
    status: str
    reason: str
    matches: int
    own_side_wins: Share | None
    baseline: Share | None
    difference: Difference | None


def wilson_interval(
    successes: int, n: int, *, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Return the Wilson score interval for a binomial proportion (no continuity correction)."""
    if n <= 0:
        raise ValueError("n must be positive")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def cluster_bootstrap_interval(
    successes: Sequence[int] | np.ndarray,
    totals: Sequence[int] | np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    rounds: int = BOOTSTRAP_ROUNDS,
    rng: int | np.random.Generator | None = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile interval of ``sum(successes) / sum(totals)`` resampling whole clusters.

    ``successes[i]`` and ``totals[i]`` are cluster ``i``'s counts (every total positive).
    """
    s = np.asarray(successes, dtype=np.float64)
    t = np.asarray(totals, dtype=np.float64)
    if s.shape != t.shape or s.ndim != 1 or s.size == 0:
        raise ValueError("successes and totals must be non-empty and of the same length")
    gen = np.random.default_rng(rng)
    k = s.size
    stats = np.empty(rounds)
    chunk = max(1, min(rounds, 4_000_000 // k))
    for start in range(0, rounds, chunk):
        b = min(chunk, rounds - start)
        idx = gen.integers(0, k, size=(b, k))
        stats[start : start + b] = s[idx].sum(axis=1) / t[idx].sum(axis=1)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def share(
    successes: Sequence[int], totals: Sequence[int], *, confidence: float = CONFIDENCE
) -> Share | None:
    """Return the pooled share of per-match counts and its interval; ``None`` without items.

    Wilson when every match gives at most one item; otherwise a cluster bootstrap over
    matches, except when the share is 0 or 1, where every resample repeats it and the
    bootstrap interval collapses to a point: then Wilson with one item per match
    (``wilson-matches``), as if the verdicts of a match were one (the most conservative
    reading of their correlation).
    """
    pairs = [(s, t) for s, t in zip(successes, totals, strict=True) if t > 0]
    n = sum(t for _, t in pairs)
    if n == 0:
        return None
    k = sum(s for s, _ in pairs)
    if all(t == 1 for _, t in pairs):
        lo, hi = wilson_interval(k, n, confidence=confidence)
        method = METHOD_WILSON
    elif k in (0, n):
        lo, hi = wilson_interval(k and len(pairs), len(pairs), confidence=confidence)
        method = METHOD_WILSON_MATCHES
    else:
        lo, hi = cluster_bootstrap_interval(
            [s for s, _ in pairs], [t for _, t in pairs], confidence=confidence
        )
        method = METHOD_CLUSTER_BOOTSTRAP
    return Share(value=k / n, lower=lo, upper=hi, successes=k, n=n, method=method)


def _cls(outcome: str) -> str:
    return "tie" if outcome.startswith("tie") else outcome


def _single_top(counts: Counter[str]) -> str | None:
    ranked = counts.most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def judge_reliability(
    rows: Iterable[JudgmentRow],
    *,
    human_votes: Mapping[int, Sequence[str]] | None = None,
    confidence: float = CONFIDENCE,
) -> list[JudgeReliability]:
    """Reliability of every judge in ``rows``, sorted by judge name.

    Parameters
    ----------
    rows
        Parsed primary-stage verdicts (one per judge, match, order and sample).
    human_votes
        Human vote outcomes by match id.

    Notes
    -----
    - position bias: share of decisive verdicts that pick the first shown answer (0.5 is
      unbiased when orders are balanced); clusters by match.
    - swap inconsistency: share of (match, sample) pairs judged in both orders whose two mapped
      outcomes differ (tie as its own outcome); one item per match unless several samples.
    - decisiveness: share of verdicts that are not ties; clusters by match.
    - human agreement: see :data:`HUMAN_RULE`.
    """
    by_judge: dict[str, list[JudgmentRow]] = defaultdict(list)
    for row in rows:
        by_judge[row.judge].append(row)
    humans = human_votes or {}
    out = []
    for judge in sorted(by_judge):
        mine = by_judge[judge]
        per_match: dict[int, list[JudgmentRow]] = defaultdict(list)
        for row in mine:
            per_match[row.match].append(row)
        first, decisive, non_tie, total, flips, both = [], [], [], [], [], []
        agree: list[int] = []
        left_out = 0
        for match, items in per_match.items():
            dec = [r for r in items if r.verdict != TIE_VERDICT]
            first.append(sum(r.verdict in FIRST_WINS for r in dec))
            decisive.append(len(dec))
            non_tie.append(len(dec))
            total.append(len(items))
            orders: dict[int, dict[str, str]] = defaultdict(dict)
            for r in items:
                orders[r.sample][r.order] = _cls(r.outcome)
            paired = [o for o in orders.values() if "ab" in o and "ba" in o]
            both.append(len(paired))
            flips.append(sum(o["ab"] != o["ba"] for o in paired))
            votes = humans.get(match)
            if votes:
                human = _single_top(Counter(_cls(v) for v in votes))
                if human is None:
                    left_out += 1
                    continue
                mine_outcome = _single_top(Counter(_cls(r.outcome) for r in items)) or "tie"
                agree.append(int(mine_outcome == human))
        out.append(
            JudgeReliability(
                judge=judge,
                judgments=len(mine),
                matches=len(per_match),
                position_bias=share(first, decisive, confidence=confidence),
                swap_inconsistency=share(flips, both, confidence=confidence),
                decisiveness=share(non_tie, total, confidence=confidence),
                human_agreement=share(agree, [1] * len(agree), confidence=confidence),
                human_matches_left_out=left_out,
            )
        )
    return out


def _norm_provider(name: str | None) -> str:
    return (name or "").strip().casefold()


def mover_difference(a: Share, b: Share) -> Difference:
    """Return ``a - b`` with the MOVER interval (Newcombe's method 10 for Wilson intervals).

    ``lower = d - sqrt((a - a_lo)^2 + (b_hi - b)^2)`` and
    ``upper = d + sqrt((a_hi - a)^2 + (b - b_lo)^2)`` [3]_.

    References
    ----------
    .. [3] R. G. Newcombe, "Interval estimation for the difference between independent
       proportions: comparison of eleven methods", Statistics in Medicine 17 (1998) 873-890.
    """
    d = a.value - b.value
    lower = d - math.sqrt((a.value - a.lower) ** 2 + (b.upper - b.value) ** 2)
    upper = d + math.sqrt((a.upper - a.value) ** 2 + (b.value - b.lower) ** 2)
    return Difference(value=d, lower=max(-1.0, lower), upper=min(1.0, upper), method="mover")


def self_preference(
    rows: Iterable[JudgmentRow],
    *,
    judge_providers: Mapping[str, str | None],
    match_providers: Mapping[int, tuple[str | None, str | None]],
    human_votes: Mapping[int, Sequence[str]] | None = None,
    min_matches: int = SELF_PREFERENCE_MIN_MATCHES,
    confidence: float = CONFIDENCE,
) -> list[SelfPreference]:
    """Self-preference of every judge in ``rows``, sorted by judge name.

    Parameters
    ----------
    rows
        Parsed primary-stage verdicts (one per judge, match, order and sample), outcomes
        mapped to the match's sides (``model_a``, ``model_b``, ``tie``...).
    judge_providers
        The provider each judge's spec names (missing or empty: not shown).
    match_providers
        The providers of a match's competitors ``(a, b)`` by match id.
    human_votes
        Human vote outcomes by match id; they count in the baseline.
    min_matches
        The fewest matches with exactly one own-provider side for a figure to be shown.

    Notes
    -----
    See :data:`SELF_PREFERENCE_RULE`.
    """
    outcomes: dict[str, dict[int, str]] = defaultdict(dict)
    per_cell: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    for row in rows:
        per_cell[(row.judge, row.match)][_cls(row.outcome)] += 1
    for (judge, match), counts in per_cell.items():
        outcomes[judge][match] = _single_top(counts) or "tie"
    humans = human_votes or {}
    out = []
    for judge in sorted(outcomes):
        provider = (judge_providers.get(judge) or "").strip()
        own = _norm_provider(provider)
        if not own:
            out.append(
                SelfPreference(
                    judge=judge,
                    provider="",
                    status=SELF_NOT_SHOWN,
                    reason="The judge spec names no provider to compare with the "
                    "competitors' providers.",
                    matches=0,
                    own_side_wins=None,
                    baseline=None,
                    difference=None,
                )
            )
            continue
        sides: dict[int, str] = {}
        for match in outcomes[judge]:
            a, b = (_norm_provider(p) for p in match_providers.get(match, (None, None)))
            if (a == own) != (b == own):
                sides[match] = "model_a" if a == own else "model_b"
        own_wins, own_dec, base_wins, base_dec = [], [], [], []
        for match, side in sides.items():
            mine = outcomes[judge][match]
            own_dec.append(int(mine != "tie"))
            own_wins.append(int(mine == side))
            others = [o[match] for name, o in outcomes.items() if name != judge and match in o]
            others += [_cls(v) for v in humans.get(match, ())]
            decisive = [o for o in others if o != "tie"]
            base_dec.append(len(decisive))
            base_wins.append(sum(o == side for o in decisive))
        if len(sides) < min_matches:
            out.append(
                SelfPreference(
                    judge=judge,
                    provider=provider,
                    status=SELF_NOT_ENOUGH,
                    reason=f"{len(sides)} match(es) with exactly one {provider} side; at least "
                    f"{min_matches} are needed.",
                    matches=len(sides),
                    own_side_wins=None,
                    baseline=None,
                    difference=None,
                )
            )
            continue
        mine_share = share(own_wins, own_dec, confidence=confidence)
        base_share = share(base_wins, base_dec, confidence=confidence)
        difference = (
            mover_difference(mine_share, base_share)
            if mine_share is not None and base_share is not None
            else None
        )
        reason = ""
        if mine_share is None:
            reason = "The judge gave no decisive verdict on these matches."
        elif base_share is None:
            reason = "No other judge or human vote gave a decisive outcome on these matches."
        out.append(
            SelfPreference(
                judge=judge,
                provider=provider,
                status=SELF_SHOWN,
                reason=reason,
                matches=len(sides),
                own_side_wins=mine_share,
                baseline=base_share,
                difference=difference,
            )
        )
    return out


__all__ = [
    "HUMAN_RULE",
    "SELF_PREFERENCE_MIN_MATCHES",
    "SELF_PREFERENCE_RULE",
    "Difference",
    "SelfPreference",
    "JudgeReliability",
    "JudgmentRow",
    "Share",
    "cluster_bootstrap_interval",
    "judge_reliability",
    "mover_difference",
    "self_preference",
    "share",
    "wilson_interval",
]
