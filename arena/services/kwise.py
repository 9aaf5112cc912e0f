"""K-wise votes (K-Sort Arena): a voter ranks K anonymous answers to one prompt.

A voter asks for a K-wise battle (:func:`kwise_battle_next`, K = 3 or 4): a prompt from the
open arena's servable matches on which at least K distinct competitors have an answer, K of
those competitors at random, one stored answer of each, shown as "A", "B", "C", ("D") in a
random order. The serve is recorded as a :class:`KwiseServe` and handed out as a signed,
single-use, short-lived token (the pairwise flow's token, with its own salt). A vote
(:func:`kwise_vote_record`) carries the token and the voter's strict ranking of the K labels,
best first (no ties: each implied pair is decided); it writes one append-only
:class:`KwiseBattle` with its K :class:`KwiseEntry` rows in one transaction and reveals the
models. Ratings come from :mod:`ranking.kwise` on the K-wise boards
(:mod:`arena.services.kwise_board`).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from arena.exceptions import ApplicationError
from arena.models import Generation, KwiseBattle, KwiseEntry, KwiseServe, Match, Prompt, Source
from arena.selectors.prompts import match_prompt_shown
from arena.services import leaderboard
from arena.services.votes import (
    battle_token_make,
    battle_token_max_age,
    battle_token_read,
    serve_refusal,
)
from clients import SIM_MARKER

KWISE_TOKEN_SALT = "ludus.kwise-token"
#: The K a voter may ask for.
KWISE_SIZES = (3, 4)
_PROMPT_CANDIDATES = 25


def kwise_labels(k: int) -> list[str]:
    """The labels of K answers as shown: A, B, C, ..."""
    return list(string.ascii_uppercase[:k])


@dataclass(frozen=True)
class ServedKwise:
    """What a voter sees: a prompt and K anonymous answers (label, text), plus the token."""

    token: str
    expires_in: int
    prompt: str
    category: str
    answers: list[dict[str, str]]
    serve: KwiseServe


@dataclass(frozen=True)
class RecordedKwiseVote:
    """A recorded K-wise vote with the identities revealed, in the voter's labels."""

    battle: KwiseBattle
    ranking: list[str]
    models: dict[str, str]
    ranks: dict[str, int]


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k not in KWISE_SIZES:
        raise ApplicationError(
            "Invalid input.",
            field_errors={"k": [f"Must be one of {', '.join(map(str, KWISE_SIZES))}; got {k!r}."]},
        )
    return k


def _servable_generations(*, category: str | None) -> Any:
    matches = Match.objects.filter(
        status__in=[Match.Status.AWAITING_VOTES, Match.Status.DONE], prompt__isnull=False
    ).filter(match_prompt_shown())
    if category:
        matches = matches.filter(
            Q(prompt__category=category)
            | Q(prompt__category="", prompt__prompt_set__category=category)
        )
    return Generation.objects.filter(match__in=matches.values("pk"))


def kwise_battle_next(
    *,
    voter_hash: str,
    k: int = 4,
    category: str | None = None,
    rng: int | np.random.Generator | None = None,
) -> ServedKwise:
    """Serve a voter K anonymous answers to one prompt, from K distinct competitors.

    Prompts this voter has been served K-wise the fewest times come first.

    Raises
    ------
    ApplicationError
        400 for a K other than 3 or 4; 404 when no prompt has answers from K competitors.
    """
    k = _check_k(k)
    generator = np.random.default_rng(rng)
    gens = _servable_generations(category=category)
    prompts = list(
        gens.values("match__prompt_id")
        .annotate(n=Count("competitor", distinct=True))
        .filter(n__gte=k)
        .values_list("match__prompt_id", flat=True)[: _PROMPT_CANDIDATES * 4]
    )
    if not prompts:
        where = f" in category {category!r}" if category else ""
        raise ApplicationError(
            f"No prompt has answers from {k} different models{where} right now; "
            "try again later or ask for fewer answers.",
            code="no_battle",
            status=404,
        )
    seen = dict(
        KwiseServe.objects.filter(voter_hash=voter_hash, prompt_id__in=prompts)
        .values("prompt_id")
        .annotate(n=Count("id"))
        .values_list("prompt_id", "n")
    )
    fewest = min(seen.get(p, 0) for p in prompts)
    candidates = sorted(p for p in prompts if seen.get(p, 0) == fewest)
    prompt_id = int(candidates[int(generator.integers(len(candidates)))])
    latest: dict[int, tuple[int, str]] = {}
    for gid, cid, text in (
        gens.filter(match__prompt_id=prompt_id)
        .order_by("-id")
        .values_list("id", "competitor_id", "text")
    ):
        latest.setdefault(cid, (gid, text))
    competitors = sorted(latest)
    chosen = [competitors[i] for i in generator.permutation(len(competitors))[:k]]
    shown = [latest[c] for c in chosen]
    serve = KwiseServe.objects.create(
        prompt_id=prompt_id,
        voter_hash=voter_hash,
        generations=[gid for gid, _ in shown],
        nonce=secrets.token_hex(16),
    )
    prompt = (
        Prompt.objects.filter(pk=prompt_id)
        .values_list("text", "category", "prompt_set__category")
        .get()
    )
    labels = kwise_labels(k)
    return ServedKwise(
        token=battle_token_make(serve_id=serve.pk, nonce=serve.nonce, salt=KWISE_TOKEN_SALT),
        expires_in=battle_token_max_age(),
        prompt=prompt[0],
        category=prompt[1] or prompt[2] or "general",
        # a simulated answer ends with its hidden quality for the simulated judge; hide it
        answers=[
            {"label": label, "text": SIM_MARKER.sub("", text).rstrip()}
            for label, (_, text) in zip(labels, shown)
        ],
        serve=serve,
    )


def _ranking_errors(ranking: Any, k: int) -> list[str]:
    labels = kwise_labels(k)
    if not isinstance(ranking, list) or not all(isinstance(x, str) for x in ranking):
        return [f"Must be a list of the answer labels {', '.join(labels)}, best first."]
    unknown = [x for x in ranking if x not in labels]
    if unknown:
        return [f"Unknown answer label {unknown[0]!r}; this battle has {', '.join(labels)}."]
    if len(set(ranking)) != len(ranking):
        dup = next(x for x in ranking if ranking.count(x) > 1)
        return [f"Answer {dup} is ranked twice; rank each answer once (ties are not allowed)."]
    if len(ranking) != k:
        return [f"Rank all {k} answers ({', '.join(labels)}), best first; got {len(ranking)}."]
    return []


def kwise_vote_record(
    *, token: str, ranking: Any, voter_hash: str, ip_hash: str = ""
) -> RecordedKwiseVote:
    """Record one voter's strict ranking of the K answers served to them.

    Parameters
    ----------
    token : str
        From :func:`kwise_battle_next`.
    ranking : list of str
        The answer labels (``"A"``, ``"B"``, ...) best first, each exactly once.
    voter_hash, ip_hash : str
        Who votes (the voter it was served to) and from where.

    Raises
    ------
    ApplicationError
        400 for a forged, malformed or expired token or a ranking that is not a permutation
        of the served labels (field ``ranking``); 403 when served to another voter; 409 when
        already voted.
    """
    serve_id, nonce = battle_token_read(token=token, salt=KWISE_TOKEN_SALT)
    try:
        return _kwise_vote_write(
            serve_id=serve_id, nonce=nonce, ranking=ranking, voter_hash=voter_hash, ip_hash=ip_hash
        )
    except IntegrityError:  # one result per serve (a unique key), if a race got past the lock
        raise ApplicationError(
            "You have already voted on this battle.", code="already_voted", status=409
        ) from None


def _kwise_vote_write(
    *, serve_id: int, nonce: str, ranking: Any, voter_hash: str, ip_hash: str
) -> RecordedKwiseVote:
    problem: ApplicationError | None = None
    # No savepoint: inside a caller's transaction (the Idempotency-Key record) this joins it;
    # refusals leave the block normally (nothing written) and are raised after it.
    with transaction.atomic(savepoint=False):
        row = (
            KwiseServe.objects.select_for_update(of=("self",))
            .filter(pk=serve_id, nonce=nonce)
            .values_list(
                "voter_hash",
                "voted_at",
                "generations",
                "prompt_id",
                "prompt__category",
                "prompt__prompt_set__category",
            )
            .first()
        )
        problem = serve_refusal(row=row, voter_hash=voter_hash, next_path="battles/kwise/next/")
        if problem is None:
            assert row is not None
            _, _, gen_ids, prompt_id, prompt_cat, set_cat = row
            k = len(gen_ids)
            errors = _ranking_errors(ranking, k)
            if errors:
                problem = ApplicationError("Invalid input.", field_errors={"ranking": errors})
            else:
                labels = kwise_labels(k)
                rank_of = {label: place + 1 for place, label in enumerate(ranking)}
                gens = dict(
                    Generation.objects.filter(pk__in=gen_ids).values_list("pk", "competitor_id")
                )
                now = timezone.now()
                battle = KwiseBattle.objects.create(
                    k=k,
                    source=Source.HUMAN,
                    category=prompt_cat or set_cat or "general",
                    anony=True,
                    tstamp=now,
                    prompt_id=prompt_id,
                    serve_id=serve_id,
                    voter_hash=voter_hash,
                    ip_hash=ip_hash,
                )
                KwiseEntry.objects.bulk_create(
                    KwiseEntry(
                        battle=battle,
                        competitor_id=gens[gid],
                        position=pos,
                        rank=rank_of[labels[pos]],
                        generation_id=gid,
                    )
                    for pos, gid in enumerate(gen_ids)
                )
                KwiseServe.objects.filter(pk=serve_id).update(voted_at=now)
                transaction.on_commit(leaderboard.leaderboard_schedule_rebuild)
    if problem is not None:
        raise problem
    names = dict(
        KwiseEntry.objects.filter(battle=battle).values_list("position", "competitor__name")
    )
    return RecordedKwiseVote(
        battle=battle,
        ranking=list(ranking),
        models={label: names[pos] for pos, label in enumerate(labels)},
        ranks=rank_of,
    )


def kwise_battles_store(
    records: list[dict[str, Any]],
    *,
    ids: dict[str, int],
    batch_id: int,
    category: str,
    now: Any,
) -> int:
    """Store K-wise records read from a battle file (``BattleBlock.kwise``) as imported
    :class:`KwiseBattle` rows with their entries; returns how many.

    A record keeps its own ``tstamp``, ``anony`` and ``category``; ``category`` is the default
    for records without one and ``now`` the time of records without a ``tstamp``.
    """
    from datetime import UTC, datetime

    battles = KwiseBattle.objects.bulk_create(
        KwiseBattle(
            k=len(r["models"]),
            source=Source.IMPORT,
            category=r["category"] or category,
            anony=r["anony"],
            tstamp=now if r["tstamp"] is None else datetime.fromtimestamp(r["tstamp"], tz=UTC),
            batch_id=batch_id,
        )
        for r in records
    )
    KwiseEntry.objects.bulk_create(
        KwiseEntry(battle=battle, competitor_id=ids[name], position=pos, rank=rank)
        for battle, r in zip(battles, records)
        for pos, (name, rank) in enumerate(zip(r["models"], r["ranks"]))
    )
    return len(battles)


def kwise_records(battles: Any, *, with_source: bool = True) -> Any:
    """The K-wise record form (``ranking.battle_files``) of stored K-wise battles, in
    (tstamp, id) order: ``models`` as shown, ``ranks``, ``tstamp``, ``anony``, ``category``
    (and ``source``)."""
    from itertools import groupby

    rows = (
        KwiseEntry.objects.filter(battle__in=battles.values("pk"))
        .order_by("battle__tstamp", "battle_id", "position")
        .values_list(
            "battle_id",
            "competitor__name",
            "rank",
            "battle__tstamp",
            "battle__anony",
            "battle__category",
            "battle__source",
        )
        .iterator(chunk_size=2000)
    )
    for _, group in groupby(rows, key=lambda r: r[0]):
        entries = list(group)
        _, _, _, tstamp, anony, category, source = entries[0]
        record: dict[str, Any] = {
            "models": [e[1] for e in entries],
            "ranks": [e[2] for e in entries],
            "tstamp": tstamp.timestamp(),
            "anony": anony,
            "category": category,
        }
        if with_source:
            record["source"] = source
        yield record
