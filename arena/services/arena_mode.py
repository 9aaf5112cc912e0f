"""Open arena mode: keep a pool of battles with both answers ready for human voters.

A periodic task (:func:`arena_top_up`) counts the servable arena battles (matches outside
tournaments that are being generated or await votes and still want votes) and creates new
ones up to the pool size. Pairs come from ``ranking.matchmaking``'s ``active`` policy on the
current Bradley-Terry leaderboard. Sampling to a target (:func:`arena_sampling_status`) leaves
out pairs whose order is settled and models whose interval is already narrow enough, and draws
the other pairs by how far their models' intervals are above the target (a new model, with no
interval, first), not by rating-dependent scores (``ranking.matchmaking.select_target_pairs``:
as many votes or fewer in simulation, the same coverage within the noise). With no target
(``LUDUS_ARENA_TARGET_WIDTH=0``) the ``active`` scores decide: new and under-sampled models
first, then the pairs whose intervals overlap most. Prompts come only
from public prompt sets (voters read them before any judgment; a tournament's sets stay
hidden). The same policy picks the battles of ``arena``-format tournaments.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from arena.models import Battle, Competitor, Entry, Match, Tournament
from arena.selectors.leaderboard import leaderboard_get
from arena.selectors.prompts import prompts_for_open_arena
from arena.selectors.sampling import arena_sampling_status, board_arrays
from arena.services.aggregates import pair_battle_totals
from arena.services.dispatch import dispatch
from clients import sim_seed

log = logging.getLogger(__name__)

POOL_SIZE = settings.LUDUS_ARENA_POOL_SIZE
VOTES_PER_BATTLE = settings.LUDUS_ARENA_VOTES_PER_BATTLE
OPEN_STATUSES = (Match.Status.PENDING, Match.Status.GENERATING, Match.Status.AWAITING_VOTES)


def arena_servable_matches() -> Any:
    """Arena matches still in the pool: unfinished and with fewer than the wanted votes."""
    return Match.objects.filter(
        tournament__isnull=True, status__in=OPEN_STATUSES, n_votes__lt=VOTES_PER_BATTLE
    )


def _pair_counts(ids: list[int], index: dict[int, int]) -> np.ndarray:
    """Battles between every two of ``ids`` so far (symmetric), from the pair aggregates."""
    pc = np.zeros((len(ids), len(ids)))
    for lo, hi, n in pair_battle_totals(competitor_ids=ids):
        pc[index[lo], index[hi]] += n
        pc[index[hi], index[lo]] += n
    return pc


def arena_choose_pairs(
    competitor_ids: list[int],
    k: int,
    *,
    policy: str = "active",
    rng: int | np.random.Generator | None = None,
    pending: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """``k`` pairs of competitor ids by the matchmaking policy on the current leaderboard."""
    from ranking.matchmaking import pair_scores, select_target_pairs, uniform_pairs

    ids = list(competitor_ids)
    if len(ids) < 2 or k <= 0:
        return []
    gen = np.random.default_rng(rng)
    if policy == "random":
        chosen = uniform_pairs(len(ids), k, rng=gen)
    else:
        board = leaderboard_get(method="bt") or {}
        status = arena_sampling_status(competitor_ids=ids, board=board)
        scores = None  # sampling to a target: by need alone (see select_target_pairs)
        if settings.LUDUS_ARENA_TARGET_WIDTH <= 0:  # no target: the active policy's scores
            rating, lower, upper, n = board_arrays(ids, board)
            index = {cid: i for i, cid in enumerate(ids)}
            pc = _pair_counts(ids, index)
            if pending is not None:
                pc = pc + pending
                n = n + pending.sum(axis=1)
            scores = pair_scores(rating, lower=lower, upper=upper, n_battles=n, pair_counts=pc)
        chosen = select_target_pairs(scores, status, k, rng=gen)
    out = []
    for i, j in chosen:
        a, b = (ids[i], ids[j]) if gen.random() < 0.5 else (ids[j], ids[i])
        out.append((a, b))
    return out


def arena_top_up(*, pool_size: int | None = None, seed: int | None = None) -> list[int]:
    """Create arena battles until the pool of servable battles is full; returns new match ids."""
    target = POOL_SIZE if pool_size is None else pool_size
    with transaction.atomic():
        have = arena_servable_matches().count()
        need = target - have
        ids = list(
            Competitor.objects.filter(status=Competitor.Status.ACTIVE)
            .order_by("id")
            .values_list("id", flat=True)
        )
        prompts = list(prompts_for_open_arena().order_by("id").values_list("id", flat=True))
        if need <= 0 or len(ids) < 2 or not prompts:
            return []
        index = {cid: i for i, cid in enumerate(ids)}
        pending = np.zeros((len(ids), len(ids)))
        open_pairs = Match.objects.filter(
            tournament__isnull=True, status__in=OPEN_STATUSES
        ).values_list("competitor_a_id", "competitor_b_id")
        for a, b in open_pairs:
            if a in index and b in index:
                pending[index[a], index[b]] += 1
                pending[index[b], index[a]] += 1
        rng = np.random.default_rng(
            seed if seed is not None else sim_seed("arena", have, Match.objects.count())
        )
        pairs = arena_choose_pairs(ids, need, rng=rng, pending=pending)
        picks = rng.choice(prompts, size=len(pairs))
        created = [
            Match.objects.create(competitor_a_id=a, competitor_b_id=b, prompt_id=int(p))
            for (a, b), p in zip(pairs, picks)
        ]
        for match in created:
            dispatch("match", match.pk)
    log.info(
        "arena pool topped up", extra={"battles_created": len(created), "pool": have + len(created)}
    )
    return [m.pk for m in created]


def arena_pairs_for_tournament(
    tournament: Tournament, *, entries: list[Entry], k: int, round_number: int
) -> list[tuple[Entry, Entry]]:
    """Pairs for one round of an ``arena``-format tournament (its own battles drive the policy)."""
    from ranking.battles import Battles
    from ranking.matchmaking import pair_scores, select_pairs, uniform_pairs
    from ranking.types import OUTCOMES

    m = len(entries)
    if m < 2 or k <= 0:
        return []
    rng = np.random.default_rng(sim_seed(tournament.seed, "arena", round_number))
    k = min(k, m * (m - 1) // 2)
    if tournament.config.get("policy") == "random":
        chosen = uniform_pairs(m, k, rng=rng)
    else:
        index = {e.competitor_id: i for i, e in enumerate(entries)}
        rows = [
            r
            for r in Battle.objects.filter(match__tournament=tournament).values_list(
                "model_a_id", "model_b_id", "outcome"
            )
            if r[0] in index and r[1] in index
        ]  # models still in
        code = {o: i for i, o in enumerate(OUTCOMES)}
        a = np.array([index[r[0]] for r in rows], dtype=np.int32)
        b = np.array([index[r[1]] for r in rows], dtype=np.int32)
        n = (np.bincount(a, minlength=m) + np.bincount(b, minlength=m)).astype(float)
        pc = np.zeros((m, m))
        if rows:
            np.add.at(pc, (a, b), 1.0)
        rating = np.full(m, np.nan)
        lower = upper = None
        if rows and np.all(n > 0):
            from ranking.bradley_terry import bradley_terry

            res = bradley_terry(
                Battles(
                    models=tuple(e.competitor.name for e in entries),
                    a=a,
                    b=b,
                    outcome=np.array([code[r[2]] for r in rows], dtype=np.int8),
                ),
                l2=1.0,
                ci="sandwich",
            )
            rating, lower, upper = res.rating, res.lower, res.upper
        chosen = select_pairs(
            pair_scores(rating, lower=lower, upper=upper, n_battles=n, pair_counts=pc + pc.T),
            k,
            rng=rng,
        )
    return [
        (entries[i], entries[j]) if rng.random() < 0.5 else (entries[j], entries[i])
        for i, j in chosen
    ]
