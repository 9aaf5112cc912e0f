"""Anonymous battles and human votes.

A voter asks for a battle (:func:`battle_next`): a match with both answers, shown as "A" and
"B" with the sides swapped at random, recorded as a :class:`BattleServe` and handed out as a
signed, single-use, short-lived token. A vote (:func:`vote_record`) must carry that token and
come from the voter it was served to; it writes the Vote and the rated Battle in one
transaction and reveals the identities.

Voter identity is a keyed hash (HMAC with ``SECRET_KEY``): ``user:<id>`` for an
authenticated user, ``anon:<random id>`` for an anonymous browser (the random id lives in
the signed ``ludus_voter`` cookie), so the database never holds a raw identity.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from arena.exceptions import ApplicationError, Conflict
from arena.models import Battle, BattleServe, Generation, Match, Outcome, Source, Vote
from arena.selectors.prompts import match_prompt_shown
from arena.services import leaderboard, votes_fast
from clients import SIM_MARKER

TOKEN_SALT = "ludus.battle-token"
#: Choices a voter makes on the page, as they saw the sides.
VOTE_CHOICES = ("A", "B", "tie", "bothbad")


def battle_token_max_age() -> int:
    """Seconds a battle token stays valid (``settings.LUDUS_BATTLE_TOKEN_MAX_AGE``, 1 h)."""
    return settings.LUDUS_BATTLE_TOKEN_MAX_AGE


def voter_hash_make(*, user_id: int | None = None, anon_id: str | None = None) -> str:
    """The stored identity of a voter: an HMAC of the user id or the anonymous cookie id."""
    if user_id is not None:
        subject = f"user:{user_id}"
    elif anon_id:
        subject = f"anon:{anon_id}"
    else:
        raise ValueError("voter_hash_make needs user_id or anon_id")
    return hmac.new(settings.SECRET_KEY.encode(), subject.encode(), hashlib.sha256).hexdigest()


def ip_hash_make(*, ip: str) -> str:
    return (
        hmac.new(settings.SECRET_KEY.encode(), f"ip:{ip}".encode(), hashlib.sha256).hexdigest()
        if ip
        else ""
    )


@dataclass(frozen=True)
class ServedBattle:
    """What a voter sees: a prompt and two anonymous answers, plus the token to vote with."""

    token: str
    expires_in: int
    prompt: str
    category: str
    answer_a: str
    answer_b: str
    serve: BattleServe


@dataclass(frozen=True)
class RecordedVote:
    """A recorded vote with the identities revealed, in the voter's A/B terms."""

    vote: Vote
    battle: Battle
    choice: str
    model_a: str
    model_b: str


def _servable(*, voter_hash: str, category: str | None) -> Any:
    gens = Generation.objects.filter(match=OuterRef("pk"))
    qs = Match.objects.filter(
        match_prompt_shown(),
        Exists(gens.filter(side="a")),
        Exists(gens.filter(side="b")),
        ~Exists(BattleServe.objects.filter(match=OuterRef("pk"), voter_hash=voter_hash)),
        status__in=[Match.Status.AWAITING_VOTES, Match.Status.DONE],
        prompt__isnull=False,
    )
    if category:
        qs = qs.filter(
            Q(prompt__category=category)
            | Q(prompt__category="", prompt__prompt_set__category=category)
        )
    return qs


def battle_next(
    *, voter_hash: str, category: str | None = None, rng: int | np.random.Generator | None = None
) -> ServedBattle:
    """Serve a voter an anonymous battle they have not seen, one of the least-voted ones.

    Three statements: one query picks the battle (the fewest votes first, ties broken at random
    by the database), one ``INSERT`` records the serve, one query reads its prompt and answers.
    (One query that also joins the answers and the prompt sends one statement less and builds
    faster, but costs PostgreSQL more to plan and run than the two: bench/RESULTS.md.)

    Parameters
    ----------
    voter_hash : str
        From :func:`voter_hash_make`.
    category : str, optional
        Only prompts of this category.
    rng : int, Generator or None
        Decides the side swap.

    Raises
    ------
    NotFound
        No servable battle is left for this voter (in this category).
    """
    generator = np.random.default_rng(rng)
    picked_qs = (
        _servable(voter_hash=voter_hash, category=category)
        .order_by("n_votes", "?")
        .values_list("pk", flat=True)[:1]
    )
    connection = transaction.get_connection()
    for _ in range(3):
        picked = list(picked_qs.all())
        if not picked:
            where = f" in category {category!r}" if category else ""
            raise ApplicationError(
                f"No battle is waiting for your vote{where} right now; try again later.",
                code="no_battle",
                status=404,
            )
        match_id = picked[0]
        # Losing a race (IntegrityError) must not spoil a caller's transaction, hence a
        # savepoint inside one; in autocommit the INSERT is a transaction of its own, and
        # atomic() would only add a BEGIN and a COMMIT.
        guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
        try:
            with guard:
                serve = BattleServe.objects.create(
                    match_id=match_id,
                    voter_hash=voter_hash,
                    swapped=bool(generator.random() < 0.5),
                    nonce=secrets.token_hex(16),
                )
            break
        except IntegrityError:
            # the same voter asked twice at once and got this match the other time; pick again
            continue
    else:  # pragma: no cover - needs three lost races in a row
        raise Conflict("Could not reserve a battle; please retry.")
    rows = list(
        Generation.objects.filter(match_id=match_id).values_list(
            "side",
            "text",
            "match__prompt__text",
            "match__prompt__category",
            "match__prompt__prompt_set__category",
        )
    )
    # A simulated answer ends with its hidden quality for the simulated judge; hide it.
    texts = {side: SIM_MARKER.sub("", text).rstrip() for side, text, *_ in rows}
    prompt_text, prompt_category, set_category = rows[0][2:]
    left, right = (texts["b"], texts["a"]) if serve.swapped else (texts["a"], texts["b"])
    token = battle_token_make(serve_id=serve.pk, nonce=serve.nonce)
    return ServedBattle(
        token=token,
        expires_in=battle_token_max_age(),
        prompt=prompt_text,
        category=prompt_category or set_category or "general",
        answer_a=left,
        answer_b=right,
        serve=serve,
    )


def _outcome_for(choice: str, *, swapped: bool) -> str:
    if choice == "tie":
        return Outcome.TIE
    if choice == "bothbad":
        return Outcome.BOTH_BAD
    left_wins = choice == "A"
    # The voter's "A" is competitor_a unless the sides were swapped.
    return Outcome.MODEL_A if left_wins != swapped else Outcome.MODEL_B


def battle_token_make(*, serve_id: int, nonce: str, salt: str = TOKEN_SALT) -> str:
    """The signed token of a serve (read back by :func:`battle_token_read` with ``salt``)."""
    return signing.dumps({"s": serve_id, "n": nonce}, salt=salt, compress=False)


def battle_token_read(*, token: str, salt: str = TOKEN_SALT) -> tuple[int, str]:
    """The (serve id, nonce) a battle token carries (``salt`` names the kind of serve).

    Raises
    ------
    ApplicationError
        ``token_expired`` (older than :func:`battle_token_max_age`) or ``invalid_token``.
    """
    try:
        payload = signing.loads(token, salt=salt, max_age=battle_token_max_age())
    except signing.SignatureExpired:
        raise ApplicationError(
            "This battle token has expired; fetch a new battle.",
            field_errors={"token": ["Expired."]},
            code="token_expired",
        ) from None
    except signing.BadSignature:
        raise ApplicationError(
            "This battle token is not valid.",
            field_errors={"token": ["Invalid or forged token."]},
            code="invalid_token",
        ) from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("s"), int)
        or not isinstance(payload.get("n"), str)
    ):
        raise ApplicationError(
            "This battle token is not valid.",
            field_errors={"token": ["Malformed token."]},
            code="invalid_token",
        )
    return payload["s"], payload["n"]


def _schedule_rebuild() -> None:
    leaderboard.leaderboard_schedule_rebuild()


def vote_sql_fast() -> bool:
    """Whether votes are read and written by :mod:`arena.services.votes_fast`.

    On PostgreSQL with ``settings.LUDUS_VOTES_FAST_SQL`` (the default); otherwise by the ORM twins
    below, which have the same effects.
    """
    return settings.LUDUS_VOTES_FAST_SQL and transaction.get_connection().vendor == "postgresql"


def serve_for_vote_orm(*, serve_id: int, nonce: str) -> tuple[Any, ...] | None:
    """The serve row (locked) with its match's competitors and categories, or ``None``."""
    return (
        BattleServe.objects.select_for_update(of=("self",))
        .filter(pk=serve_id, nonce=nonce)
        .values_list(
            "voter_hash",
            "voted_at",
            "swapped",
            "match_id",
            "match__competitor_a_id",
            "match__competitor_b_id",
            "match__competitor_a__name",
            "match__competitor_b__name",
            "match__prompt__category",
            "match__prompt__prompt_set__category",
            "match__conv_metadata",
        )
        .first()
    )


def write_vote_orm(
    *,
    serve_id: int,
    match_id: int,
    a_id: int,
    b_id: int,
    voter_hash: str,
    ip_hash: str,
    outcome: str,
    category: str,
    now: datetime,
    conv_metadata: dict[str, Any] | None = None,
) -> tuple[Vote, Battle]:
    """Write the Vote, its human Battle, the serve's ``voted_at`` and the match's vote count.

    Runs inside the caller's transaction.
    """
    vote = Vote.objects.create(
        match_id=match_id,
        serve_id=serve_id,
        voter_hash=voter_hash,
        ip_hash=ip_hash,
        outcome=outcome,
        created_at=now,
    )
    battle = Battle.objects.create(
        model_a_id=a_id,
        model_b_id=b_id,
        outcome=outcome,
        source=Source.HUMAN,
        category=category,
        anony=True,
        tstamp=now,
        match_id=match_id,
        vote=vote,
        conv_metadata=conv_metadata,
    )
    BattleServe.objects.filter(pk=serve_id).update(voted_at=now)
    Match.objects.filter(pk=match_id).update(n_votes=F("n_votes") + 1)
    return vote, battle


def serve_refusal(
    *, row: Sequence[Any] | None, voter_hash: str, next_path: str
) -> ApplicationError | None:
    """Why a served battle cannot take this vote, or ``None`` when it can.

    ``row`` is the serve read under its lock (``None`` when the token names no serve), starting
    with the voter hash it was served to and its ``voted_at``; ``next_path`` is where a voter
    fetches a battle of this kind. One rule for pairwise and K-wise votes: 400 for an unknown
    battle, 403 when served to another voter, 409 when already voted.
    """
    if row is None:
        return ApplicationError(
            "This battle token is not valid.",
            field_errors={"token": ["Unknown battle."]},
            code="invalid_token",
        )
    if not hmac.compare_digest(row[0], voter_hash):
        return ApplicationError(
            f"This battle was not served to you; fetch your own battle from {next_path}.",
            code="not_served",
            status=403,
        )
    if row[1] is not None:
        return ApplicationError(
            "You have already voted on this battle; the token is used.",
            code="already_voted",
            status=409,
        )
    return None


def vote_record(*, token: str, choice: str, voter_hash: str, ip_hash: str = "") -> RecordedVote:
    """Record one voter's verdict on a battle served to them.

    Parameters
    ----------
    token : str
        The battle token from :func:`battle_next`.
    choice : {"A", "B", "tie", "bothbad"}
        As the voter saw the sides; mapped to ``model_a``/``model_b``/``tie``/``tie (bothbad)``
        of the match after undoing the side swap.
    voter_hash, ip_hash : str
        Who votes (must be the voter the battle was served to) and from where.

    Raises
    ------
    ApplicationError
        400 for a forged, malformed or expired token or a bad choice; 403 when the battle
        was served to another voter; 409 when this battle already has this voter's vote.
    """
    if choice not in VOTE_CHOICES:
        raise ApplicationError(
            "Invalid input.",
            field_errors={
                "outcome": [f"Must be one of {', '.join(VOTE_CHOICES)}; got {choice!r}."]
            },
        )
    serve_id, nonce = battle_token_read(token=token)
    if vote_sql_fast():
        serve_for_vote, write_vote = votes_fast.serve_for_vote, votes_fast.write_vote
    else:
        serve_for_vote, write_vote = serve_for_vote_orm, write_vote_orm
    problem: ApplicationError | None = None
    try:
        # No savepoint: inside a caller's transaction (the Idempotency-Key record) this joins
        # it. Refusals leave the block normally (nothing written) and are raised after it, so
        # they never poison the caller's transaction.
        with transaction.atomic(savepoint=False):
            row = serve_for_vote(serve_id=serve_id, nonce=nonce)
            problem = serve_refusal(row=row, voter_hash=voter_hash, next_path="battles/next/")
            if problem is None:
                assert row is not None
                _, _, swapped, match_id, a_id, b_id, a_name, b_name, prompt_cat, set_cat, meta = row
                outcome = _outcome_for(choice, swapped=swapped)
                vote, battle = write_vote(
                    serve_id=serve_id,
                    match_id=match_id,
                    a_id=a_id,
                    b_id=b_id,
                    voter_hash=voter_hash,
                    ip_hash=ip_hash,
                    outcome=outcome,
                    category=prompt_cat or set_cat or "general",
                    conv_metadata=meta,
                    now=timezone.now(),
                )
                transaction.on_commit(_schedule_rebuild)
    except (
        IntegrityError
    ):  # the one-vote-per-voter constraint, if a race ever got past the row lock
        raise ApplicationError(
            "You have already voted on this battle.", code="already_voted", status=409
        ) from None
    if problem is not None:
        raise problem
    left, right = (b_name, a_name) if swapped else (a_name, b_name)
    return RecordedVote(vote=vote, battle=battle, choice=choice, model_a=left, model_b=right)
