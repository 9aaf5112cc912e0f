"""Tournaments: create with a validated configuration, start, pair round after round, finish.

Each format's rules (its ``config``, rounds, pairing, eliminations, standings order and
what remains to be played) live in its module of :mod:`arena.formats`; this module calls
them through :class:`arena.formats.TournamentFormat` and keeps the lifecycle and persistence.

Every format also takes ``forfeit_after`` (failures of a step before the side forfeits) and
``reuse_published_prompts`` (default false). A tournament's prompts stay hidden until their
matches are judged (:mod:`arena.selectors.prompts`); without ``reuse_published_prompts`` a round
draws only prompts that are unpublished and unused by the tournament's earlier rounds, the
pool shared evenly among the rounds still to come, and a tournament whose prompt sets cannot
give every round at least one such prompt is refused at creation and at start.
Entrants are seeded in the order given. A round is paired only when the previous one is
complete (:func:`tournament_round_check`, run after every finished match and by the sweep);
the last one stores standings, tie-breaks, ratings and ``E[S]`` in ``Tournament.results``.

Withdrawn models: an entrant whose model is withdrawn before the start leaves the field at
the start (its entry is kept, marked ``withdrawn``, and the others are re-seeded in order;
fewer than 2 left is a conflict). One withdrawn after the start keeps its results and
forfeits every game it is paired in from then on without being called (its opponent wins;
the schedule of the others does not change), except in an ``arena`` tournament, whose
battles are then drawn among the models still in. A match already under way when the
model is withdrawn is played out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count, Q
from django.db.models import F as models_F
from django.utils import timezone

from arena.exceptions import ApplicationError, Conflict
from arena.formats import RoundPairing, format_get, format_kinds
from arena.formats.base import int_option, is_withdrawn
from arena.models import (
    Battle,
    Bye,
    Competitor,
    Entry,
    Match,
    Prompt,
    PromptSet,
    Round,
    Source,
    Tournament,
)
from arena.selectors.leaderboard import leaderboard_get
from arena.selectors.prompts import prompts_published
from arena.selectors.tournaments import tournament_compute_standings, tournament_predict
from arena.services import matches as _match_steps  # noqa: F401  (registers the match step)
from arena.services.dispatch import dispatch, inline_dispatch, run_inline, step_handler
from arena.services.judging import judge_pipeline_validate
from arena.services.leaderboard import leaderboard_rebuilds_deferred
from clients import sim_seed
from ranking.errors import RankingError

log = logging.getLogger(__name__)

MAX_ENTRANTS = 256
#: ``config`` keys every format takes.
COMMON_OPTIONS = frozenset({"forfeit_after", "reuse_published_prompts"})


# --------------------------------------------------------------------------- validation


def _validate_config(
    fmt: str,
    config: dict[str, Any],
    n: int,
    prompt_sets: list[PromptSet],
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    """The options every format takes, then the format's own (:meth:`TournamentFormat.validate`)."""
    if not isinstance(config, dict):
        errors["config"] = ["must be an object"]
        return {}
    rules = format_get(fmt)
    allowed = COMMON_OPTIONS | rules.options
    unknown = sorted(set(config) - allowed)
    if unknown:
        errors["config"] = [
            f"unknown key(s) for {fmt}: {', '.join(unknown)}; "
            f"expected some of {', '.join(sorted(allowed))}"
        ]
    out: dict[str, Any] = {"forfeit_after": int_option(config, "forfeit_after", 1, 20, 3, errors)}
    reuse = config.get("reuse_published_prompts", False)
    if not isinstance(reuse, bool):
        errors["config.reuse_published_prompts"] = [f"must be true or false; got {reuse!r}"]
    out["reuse_published_prompts"] = reuse is True
    out.update(rules.validate(config, n=n, prompt_sets=prompt_sets, errors=errors))
    return out


def _resolve_competitors(
    competitors: Iterable[Competitor | int | str], errors: dict[str, list[str]]
) -> list[Competitor]:
    items = list(competitors)
    ids = [c.pk if isinstance(c, Competitor) else c for c in items]
    found: dict[int | str, Competitor] = {
        c.pk: c for c in Competitor.objects.filter(pk__in=[i for i in ids if isinstance(i, int)])
    }
    found.update(
        {
            c.name: c
            for c in Competitor.objects.filter(name__in=[i for i in ids if isinstance(i, str)])
        }
    )
    out: list[Competitor] = []
    bad = [str(i) for i in ids if i not in found]
    if bad:
        errors["competitors"] = [f"unknown competitor(s): {', '.join(bad[:10])}"]
        return []
    out = [found[i] for i in ids]
    if len({c.pk for c in out}) != len(out):
        errors["competitors"] = ["each competitor can enter only once"]
    inactive = [c.name for c in out if c.status != Competitor.Status.ACTIVE]
    if inactive:
        errors["competitors"] = [f"not active: {', '.join(inactive[:10])}"]
    if len(out) < 2:
        errors.setdefault("competitors", []).append("at least 2 competitors are required")
    if len(out) > MAX_ENTRANTS:
        errors.setdefault("competitors", []).append(
            f"at most {MAX_ENTRANTS} competitors are allowed"
        )
    return out


def _resolve_prompt_sets(
    prompt_sets: Iterable[PromptSet | int | str], errors: dict[str, list[str]]
) -> list[PromptSet]:
    out: list[PromptSet] = []
    for item in prompt_sets:
        ps = (
            item
            if isinstance(item, PromptSet)
            else PromptSet.objects.filter(
                **({"pk": item} if isinstance(item, int) else {"name": item})
            ).first()
        )
        if ps is None:
            errors.setdefault("prompt_sets", []).append(f"unknown prompt set {item!r}")
            continue
        out.append(ps)
    if not out and "prompt_sets" not in errors:
        errors["prompt_sets"] = ["at least one prompt set is required"]
    empty = [p.name for p in out if not p.prompts.exists()]
    if empty:
        errors.setdefault("prompt_sets", []).append(
            f"prompt set(s) without prompts: {', '.join(empty)}"
        )
    return out


def _current_ratings() -> dict[int, float]:
    try:
        board = leaderboard_get(method="bt")
    except Exception:  # a cold cache or no snapshot: seeding falls back to the given order
        board = None
    return {
        r["competitor_id"]: float(r["rating"])
        for r in (board or {}).get("ratings", [])
        if "competitor_id" in r
    }


def tournament_create(
    *,
    name: str,
    format: str,
    competitors: Sequence[Competitor | int | str],
    config: dict[str, Any] | None = None,
    prompt_sets: Sequence[PromptSet | int | str] = (),
    judge_pipeline: dict[str, Any] | None = None,
    seed: int | None = None,
    created_by: Any = None,
) -> Tournament:
    """Create a draft tournament; entrants are seeded in the order given.

    Raises
    ------
    ApplicationError
        With ``field_errors`` naming every invalid field.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["a name is required"]
    elif len(name) > 200:
        errors["name"] = ["at most 200 characters"]
    elif Tournament.objects.filter(name=name).exists():
        errors["name"] = [f"a tournament named {name!r} already exists"]
    if format not in format_kinds():
        errors["format"] = [f"must be one of {', '.join(format_kinds())}; got {format!r}"]
    entrants = _resolve_competitors(competitors, errors)
    sets = _resolve_prompt_sets(prompt_sets, errors)
    normalised = (
        _validate_config(format, config or {}, len(entrants), sets, errors)
        if format in format_kinds()
        else {}
    )
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**62
    ):
        errors["seed"] = ["must be a non-negative integer"]
    try:
        judge_pipeline_validate(judge_pipeline)
    except ApplicationError as exc:
        errors.update(exc.field_errors)
    if errors:
        raise ApplicationError("Invalid tournament.", field_errors=errors)
    ratings = _current_ratings()
    with transaction.atomic():
        tournament = Tournament.objects.create(
            name=name.strip(),
            format=format,
            config=normalised,
            judge_pipeline=judge_pipeline or {},
            seed=secrets.randbits(31) if seed is None else seed,
            created_by=created_by,
        )
        tournament.prompt_sets.set(sets)
        Entry.objects.bulk_create(
            Entry(tournament=tournament, competitor=c, seed=i + 1, initial_rating=ratings.get(c.pk))
            for i, c in enumerate(entrants)
        )
        _prompt_supply_check(tournament)
    return tournament


# --------------------------------------------------------------------------- lifecycle


def tournament_start(*, tournament: Tournament) -> Tournament:
    """Start a draft tournament: pair round 1 and send its matches to the workers.

    The entrants (admins may have removed some) and the config are checked again as at creation.
    """
    errors: dict[str, list[str]] = {}
    n = tournament.entries.count()
    if n < 2:
        errors["competitors"] = [f"a tournament needs at least 2 entrants; it has {n}"]
    else:
        _validate_config(
            tournament.format, tournament.config, n, list(tournament.prompt_sets.all()), errors
        )
    if errors:
        raise ApplicationError("The tournament cannot start.", field_errors=errors)
    with transaction.atomic():
        started = Tournament.objects.filter(
            pk=tournament.pk, status=Tournament.Status.DRAFT
        ).update(status=Tournament.Status.RUNNING, started_at=timezone.now())
        if not started:
            raise Conflict(f"tournament {tournament.name!r} is {tournament.status}, not draft")
        tournament.refresh_from_db()
        _drop_withdrawn(tournament)
        _prompt_supply_check(tournament)
        _create_round(tournament, 1)
    return tournament


def tournament_pause(*, tournament: Tournament) -> Tournament:
    """Stop pairing and stop starting new steps (answers in flight are kept)."""
    if not Tournament.objects.filter(pk=tournament.pk, status=Tournament.Status.RUNNING).update(
        status=Tournament.Status.PAUSED
    ):
        raise Conflict(f"tournament {tournament.name!r} is not running")
    tournament.refresh_from_db()
    return tournament


def tournament_resume(*, tournament: Tournament) -> Tournament:
    """Resume a paused tournament: re-send every unfinished match of the current round."""
    with transaction.atomic():
        if not Tournament.objects.filter(pk=tournament.pk, status=Tournament.Status.PAUSED).update(
            status=Tournament.Status.RUNNING
        ):
            raise Conflict(f"tournament {tournament.name!r} is not paused")
        tournament.refresh_from_db()
        for match_id in (
            Match.objects.filter(tournament=tournament)
            .exclude(status__in=Match.FINISHED)
            .values_list("id", flat=True)
        ):
            dispatch("match", match_id)
        dispatch("round_check", tournament.pk)
    return tournament


def tournament_cancel(*, tournament: Tournament) -> Tournament:
    """Cancel a tournament; unfinished matches are cancelled, finished results are kept."""
    with transaction.atomic():
        if not Tournament.objects.filter(
            pk=tournament.pk,
            status__in=[
                Tournament.Status.DRAFT,
                Tournament.Status.RUNNING,
                Tournament.Status.PAUSED,
            ],
        ).update(status=Tournament.Status.CANCELLED, finished_at=timezone.now()):
            raise Conflict(f"tournament {tournament.name!r} is already {tournament.status}")
        Match.objects.filter(tournament=tournament).exclude(status__in=Match.FINISHED).update(
            status=Match.Status.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now()
        )
    tournament.refresh_from_db()
    return tournament


def tournament_progress(*, tournament: Tournament) -> dict[str, Any]:
    """Status, round and match counts (for dashboards and tests)."""
    counts = dict(
        Match.objects.filter(tournament=tournament).values_list("status").annotate(n=Count("id"))
    )
    total = sum(counts.values())
    finished = sum(counts.get(s, 0) for s in Match.FINISHED)
    current = tournament.rounds.order_by("-number").values_list("number", flat=True).first() or 0
    return {
        "status": tournament.status,
        "format": tournament.format,
        "round": current,
        "rounds_total": tournament_total_rounds(tournament),
        "matches": counts,
        "matches_total": total,
        "matches_finished": finished,
        "fraction_finished": finished / total if total else 0.0,
    }


def tournament_total_rounds(tournament: Tournament) -> int:
    """How many rounds the tournament plays (:meth:`TournamentFormat.total_rounds`)."""
    return format_get(tournament.format).total_rounds(tournament)


# --------------------------------------------------------------------------- pairing


def _drop_withdrawn(tournament: Tournament) -> None:
    """At the start: take entrants whose model is withdrawn out of the field; re-seed the rest."""
    entries = list(tournament.entries.select_related("competitor").order_by("seed"))
    kept = [e for e in entries if not is_withdrawn(e)]
    if len(kept) < 2:
        raise Conflict(
            f"tournament {tournament.name!r} needs at least 2 entrants whose models are not "
            "withdrawn; "
            f"it has {len(kept)}"
        )
    if len(kept) == len(entries):
        return
    order = kept + [e for e in entries if is_withdrawn(e)]
    offset = max(e.seed for e in entries)
    Entry.objects.filter(tournament=tournament).update(
        seed=models_F("seed") + offset
    )  # free the seeds
    for seed, entry in enumerate(order, start=1):
        Entry.objects.filter(pk=entry.pk).update(seed=seed, withdrawn=entry not in kept)


def _pairings(tournament: Tournament, number: int) -> RoundPairing:
    """The pairing of round ``number`` (:meth:`TournamentFormat.pair`)."""
    return format_get(tournament.format).pair(tournament, number)


class PromptsExhausted(ApplicationError):
    """A round has no prompt left that is unpublished and unused by the earlier rounds."""


def _pool_prompts(tournament: Tournament, prompt_set: PromptSet | None) -> Any:
    """The prompts the tournament may still draw from ``prompt_set`` (``None``: all its sets)."""
    qs = (
        prompt_set.prompts.all()
        if prompt_set
        else Prompt.objects.filter(prompt_set__in=tournament.prompt_sets.all())
    )
    if tournament.config.get("reuse_published_prompts"):
        return qs
    return qs.exclude(pk__in=prompts_published().values("pk")).exclude(
        matches__tournament=tournament
    )


def _prompt_supply_check(tournament: Tournament) -> None:
    """Refuse a tournament whose pools cannot give each remaining round an unpublished prompt."""
    if tournament.config.get("reuse_published_prompts"):
        return
    started = tournament.rounds.count()
    problems = []
    for prompt_set, rounds in format_get(tournament.format).prompt_pools(tournament):
        needed = sum(1 for k in rounds if k > started)
        available = _pool_prompts(tournament, prompt_set).count()
        if available < needed:
            label = f"prompt set {prompt_set.name!r}" if prompt_set else "the prompt sets"
            problems.append(
                f"{label} has {available} unpublished prompt(s) for {needed} round(s); each round "
                "needs "
                "prompts of its own (published prompts are not reused unless "
                "config.reuse_published_prompts is true)"
            )
    if problems:
        raise ApplicationError(
            "Not enough unpublished prompts.", field_errors={"prompt_sets": problems}
        )


def _round_prompts(
    tournament: Tournament, number: int, n_pairs: int
) -> tuple[PromptSet | None, list[int]]:
    """The round's prompt set (Swiss dynamics) and a prompt for each of its ``n_pairs`` matches.

    A round takes its share of the pool (split evenly among the rounds still to draw from it)
    without replacement; when it has fewer prompts than matches, they are used in turn.
    """
    prompt_set, rounds = next(
        (p, r) for p, r in format_get(tournament.format).prompt_pools(tournament) if number in r
    )
    pool = list(_pool_prompts(tournament, prompt_set).order_by("id").values_list("id", flat=True))
    share = (
        len(pool)
        if tournament.config.get("reuse_published_prompts")
        else len(pool) // sum(1 for k in rounds if k >= number)
    )
    if not n_pairs:
        return prompt_set, []
    if share == 0:
        where = f"prompt set {prompt_set.name!r}" if prompt_set else "the prompt sets"
        raise PromptsExhausted(f"no unpublished prompt left in {where}")
    rng = np.random.default_rng(sim_seed(tournament.seed, "prompts", number))
    drawn = rng.choice(pool, size=min(n_pairs, share), replace=False)
    return prompt_set, [int(drawn[k % len(drawn)]) for k in range(n_pairs)]


def _create_round(tournament: Tournament, number: int) -> Round:
    pairing = _pairings(tournament, number)
    pairs, byes = pairing.pairs, pairing.byes
    prompt_set, picks = _round_prompts(tournament, number, len(pairs))
    rnd = Round.objects.create(
        tournament=tournament, number=number, prompt_set=prompt_set, status=Round.Status.RUNNING
    )
    now = timezone.now()
    matches = []
    for k, (a, b) in enumerate(pairs):
        match = Match(
            tournament=tournament,
            round=rnd,
            competitor_a=a.competitor,
            competitor_b=b.competitor,
            prompt_id=picks[k],
            board=k + 1,
        )
        quitter = a if is_withdrawn(a) else b if is_withdrawn(b) else None
        if quitter is not None:  # a withdrawn model forfeits without being called
            match.status, match.forfeit_by, match.finished_at = (
                Match.Status.FORFEIT,
                quitter.competitor,
                now,
            )
            match.outcome = "model_b" if quitter is a else "model_a"
        matches.append(match)
    Match.objects.bulk_create(matches)
    Bye.objects.bulk_create(
        Bye(round=rnd, competitor=e.competitor, points=p, kind=Bye.Kind.PAIRING) for e, p in byes
    )
    ids = list(rnd.matches.exclude(status__in=Match.FINISHED).values_list("id", flat=True))
    for match_id in ids:
        dispatch("match", match_id)
    if not ids:
        dispatch("round_check", tournament.pk)
    return rnd


def tournament_round_check(*, tournament_id: int) -> str:
    """Complete the current round if all its matches are finished; pair the next or finish.

    Idempotent and safe under concurrency (the tournament row is locked).
    Returns what happened: ``waiting``, ``paired``, ``finished`` or ``idle``.
    """
    with transaction.atomic():
        tournament = Tournament.objects.select_for_update().filter(pk=tournament_id).first()
        if tournament is None or tournament.status != Tournament.Status.RUNNING:
            return "idle"
        rnd = tournament.rounds.order_by("-number").first()
        if rnd is None:
            _create_round(tournament, 1)
            return "paired"
        if rnd.status != Round.Status.COMPLETE:
            if rnd.matches.exclude(status__in=Match.FINISHED).exists():
                return "waiting"
            rnd.status = Round.Status.COMPLETE
            rnd.completed_at = timezone.now()
            rnd.save(update_fields=["status", "completed_at"])
            format_get(tournament.format).after_round(tournament, rnd.number)
        note = None
        if rnd.number < tournament_total_rounds(tournament):
            try:
                with transaction.atomic():
                    _create_round(tournament, rnd.number + 1)
                return "paired"
            except (
                RankingError,
                PromptsExhausted,
            ) as exc:  # e.g. no Swiss pairing satisfies the absolute criteria
                nxt = rnd.number + 1
                note = f"stopped after round {rnd.number}: round {nxt} could not be paired ({exc})"
                log.warning(
                    "tournament stopped early", extra={"tournament": tournament.pk, "reason": note}
                )
        tournament.status = (
            Tournament.Status.COMPLETED
        )  # before the results: nothing remains to be played
        tournament.results = tournament_compute_results(tournament)
        if note:
            tournament.results["note"] = note
        tournament.finished_at = timezone.now()
        tournament.save(update_fields=["results", "status", "finished_at"])
        return "finished"


# --------------------------------------------------------------------------- results


def tournament_compute_results(tournament: Tournament) -> dict[str, Any]:
    """Everything stored in ``Tournament.results`` when a tournament finishes."""
    out = tournament_compute_standings(tournament=tournament)
    prediction = tournament_predict(tournament=tournament)
    out["ratings"], out["expected_score"] = prediction["ratings"], prediction["expected_score"]
    out["n_battles"] = Battle.objects.filter(
        match__tournament=tournament, source=Source.JUDGE
    ).count()
    out["matches"] = dict(
        Match.objects.filter(tournament=tournament).values_list("status").annotate(n=Count("id"))
    )
    out.update(format_get(tournament.format).results_extra(tournament))
    out["computed_at"] = timezone.now().isoformat()
    return out


# --------------------------------------------------------------------------- recovery


def tournament_sweep(*, older_than_seconds: float) -> dict[str, int]:
    """Re-send steps stuck after a crash and complete rounds whose last match was finished.

    A match step counts as stuck when the match is unfinished and untouched for
    ``older_than_seconds`` (steps touch ``updated_at`` while they work). The re-sent step is
    idempotent, so a step that was merely slow is not harmed.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = Match.objects.filter(
        status__in=[Match.Status.PENDING, Match.Status.GENERATING, Match.Status.JUDGING],
        updated_at__lt=cutoff,
    ).filter(Q(tournament__isnull=True) | Q(tournament__status=Tournament.Status.RUNNING))
    ids = list(stuck.values_list("id", flat=True)[:1000])
    with transaction.atomic():
        if ids:
            Match.objects.filter(id__in=ids).update(updated_at=timezone.now())
        for match_id in ids:
            dispatch("match", match_id)
        running = list(
            Tournament.objects.filter(status=Tournament.Status.RUNNING).values_list("id", flat=True)
        )
        for tournament_id in running:
            dispatch("round_check", tournament_id)
    return {"matches": len(ids), "tournaments": len(running)}


def tournament_run_inline(*, tournament: Tournament) -> Tournament:
    """Start (if draft) and run a tournament to the end in this process (demo, tests)."""
    with leaderboard_rebuilds_deferred(), inline_dispatch() as queue:
        if tournament.status == Tournament.Status.DRAFT:
            tournament_start(tournament=tournament)
        else:
            dispatch("round_check", tournament.pk)
        run_inline(queue)
    tournament.refresh_from_db()
    return tournament


@step_handler("round_check")
def _round_check_step(tournament_id: int) -> None:
    tournament_round_check(tournament_id=tournament_id)
