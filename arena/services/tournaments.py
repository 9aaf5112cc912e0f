"""Tournaments: create with a validated configuration, start, pair round after round, finish.

Formats and their ``config``:

- ``round_robin`` / ``double_round_robin``: FIDE Berger schedule (``ranking.roundrobin``);
  ``bye_points`` (default 0) for the player sitting out with an odd field.
- ``swiss``: ``system`` ``dutch`` (FIDE Dutch, ``ranking.swiss``) or ``random`` (random inside
  score groups), ``rounds`` (default ``ceil(log2 N)``, at most ``N - 1``).
- ``swiss_dynamics``: Competitive Swiss-system dynamics; ``rounds`` is the list of prompt set
  names, one benchmark per round; ``eliminate`` the ``T_k`` lowest records removed after
  round ``k``; players with the same record meet at random, the odd one out gets a
  zero-point bye.
- ``single_elimination``: seeded bracket (``ranking.bracket``), ``third_place`` (bool). A tie
  or a failed match advances the higher seed.
- ``arena``: ``battles`` judged battles among the entrants, ``batch`` per round, pairs chosen
  by the matchmaking ``policy`` (``active`` or ``random``, ``ranking.matchmaking``).

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
import math
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
from arena.selectors.prompts import prompts_published
from arena.services.judging import judge_pipeline_validate
from arena.services.matches import dispatch
from ranking.errors import RankingError
from workers.endpoints import sim_seed

log = logging.getLogger(__name__)

F = Tournament.Format
MAX_ENTRANTS = 256


# --------------------------------------------------------------------------- validation


def _int_in(
    config: dict[str, Any], key: str, lo: int, hi: int, default: int, errors: dict[str, list[str]]
) -> int | None:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        errors[f"config.{key}"] = [f"must be an integer from {lo} to {hi}; got {value!r}"]
        return None
    return value


def _validate_config(
    fmt: str,
    config: dict[str, Any],
    n: int,
    prompt_sets: list[PromptSet],
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    allowed = {"forfeit_after", "reuse_published_prompts"} | {
        F.ROUND_ROBIN: {"bye_points"},
        F.DOUBLE_ROUND_ROBIN: {"bye_points"},
        F.SWISS: {"system", "rounds"},
        F.SWISS_DYNAMICS: {"rounds", "eliminate"},
        F.SINGLE_ELIMINATION: {"third_place"},
        F.ARENA: {"battles", "batch", "policy"},
    }.get(fmt, set())  # type: ignore[call-overload]  # keys are str choices, fmt a str
    if not isinstance(config, dict):
        errors["config"] = ["must be an object"]
        return {}
    unknown = sorted(set(config) - allowed)
    if unknown:
        errors["config"] = [
            f"unknown key(s) for {fmt}: {', '.join(unknown)}; expected some of {', '.join(sorted(allowed))}"
        ]
    out: dict[str, Any] = {"forfeit_after": _int_in(config, "forfeit_after", 1, 20, 3, errors)}
    reuse = config.get("reuse_published_prompts", False)
    if not isinstance(reuse, bool):
        errors["config.reuse_published_prompts"] = [f"must be true or false; got {reuse!r}"]
    out["reuse_published_prompts"] = reuse is True
    if fmt in (F.ROUND_ROBIN, F.DOUBLE_ROUND_ROBIN):
        bye = config.get("bye_points", 0.0)
        if isinstance(bye, bool) or bye not in (0, 0.5, 1):
            errors["config.bye_points"] = [f"must be 0, 0.5 or 1; got {bye!r}"]
        out["bye_points"] = float(bye) if bye in (0, 0.5, 1) else 0.0
    elif fmt == F.SWISS:
        system = config.get("system", "dutch")
        if system not in ("dutch", "random"):
            errors["config.system"] = [f"must be 'dutch' or 'random'; got {system!r}"]
        out["system"] = system
        out["rounds"] = _int_in(
            config, "rounds", 1, max(1, n - 1), max(1, math.ceil(math.log2(max(n, 2)))), errors
        )
    elif fmt == F.SWISS_DYNAMICS:
        rounds = config.get("rounds")
        names = {p.name for p in prompt_sets}
        if (
            not isinstance(rounds, list)
            or not rounds
            or not all(isinstance(r, str) for r in rounds)
        ):
            errors["config.rounds"] = [
                "must be a non-empty list of prompt set names, one per round"
            ]
            rounds = []
        else:
            missing = [r for r in rounds if r not in names]
            if missing:
                errors["config.rounds"] = [
                    f"prompt set(s) {', '.join(missing)} are not among the tournament's prompt sets"
                ]
        eliminate = config.get("eliminate", [0] * len(rounds))
        if (
            not isinstance(eliminate, list)
            or len(eliminate) > len(rounds)
            or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in eliminate)
        ):
            errors["config.eliminate"] = [
                "must be a list of non-negative integers, at most one per round"
            ]
            eliminate = []
        elif sum(eliminate) > n - 2:
            errors["config.eliminate"] = [
                f"eliminates {sum(eliminate)} of {n} entrants; at least 2 must remain"
            ]
        out["rounds"] = rounds
        out["eliminate"] = list(eliminate) + [0] * (len(rounds) - len(eliminate))
    elif fmt == F.SINGLE_ELIMINATION:
        third = config.get("third_place", False)
        if not isinstance(third, bool):
            errors["config.third_place"] = ["must be true or false"]
        elif third and n < 4:
            errors["config.third_place"] = ["a third-place match needs at least 4 entrants"]
        out["third_place"] = bool(third)
    elif fmt == F.ARENA:
        out["battles"] = _int_in(config, "battles", 1, 100_000, 10 * n, errors)
        out["batch"] = _int_in(config, "batch", 1, 1000, max(1, n // 2), errors)
        policy = config.get("policy", "active")
        if policy not in ("active", "random"):
            errors["config.policy"] = [f"must be 'active' or 'random'; got {policy!r}"]
        out["policy"] = policy
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
    from arena.selectors.leaderboard import leaderboard_get

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
    if format not in F.values:
        errors["format"] = [f"must be one of {', '.join(F.values)}; got {format!r}"]
    entrants = _resolve_competitors(competitors, errors)
    sets = _resolve_prompt_sets(prompt_sets, errors)
    normalised = (
        _validate_config(format, config or {}, len(entrants), sets, errors)
        if format in F.values
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
    cfg = tournament.config
    n = tournament.entries.filter(withdrawn=False).count()
    if tournament.format in (F.ROUND_ROBIN, F.DOUBLE_ROUND_ROBIN):
        per = n - 1 if n % 2 == 0 else n
        return per * (2 if tournament.format == F.DOUBLE_ROUND_ROBIN else 1)
    if tournament.format == F.SWISS:
        return int(cfg["rounds"])
    if tournament.format == F.SWISS_DYNAMICS:
        return len(cfg["rounds"])
    if tournament.format == F.SINGLE_ELIMINATION:
        return max(1, math.ceil(math.log2(n)))
    if tournament.format == F.ARENA:
        # a round holds each pair of the models still in at most once: rounds so far plus
        # enough rounds of min(batch, pairs) for the battles still to play
        played = tournament.rounds.count()
        playing = sum(1 for e in _entries(tournament) if not _is_withdrawn(e))
        per_round = min(int(cfg["batch"]), playing * (playing - 1) // 2)
        remaining = int(cfg["battles"]) - Match.objects.filter(tournament=tournament).count()
        return played + (math.ceil(remaining / per_round) if per_round and remaining > 0 else 0)
    raise ValueError(f"unknown format {tournament.format!r}")


# --------------------------------------------------------------------------- pairing


def _entries(tournament: Tournament) -> list[Entry]:
    """The field in seed order (entrants withdrawn before the start are not in it)."""
    return list(
        tournament.entries.filter(withdrawn=False).select_related("competitor").order_by("seed")
    )


def _is_withdrawn(entry: Entry) -> bool:
    return entry.withdrawn or entry.competitor.status == Competitor.Status.WITHDRAWN


def _drop_withdrawn(tournament: Tournament) -> None:
    """At the start: take entrants whose model is withdrawn out of the field and re-seed the rest."""
    entries = list(tournament.entries.select_related("competitor").order_by("seed"))
    kept = [e for e in entries if not _is_withdrawn(e)]
    if len(kept) < 2:
        raise Conflict(
            f"tournament {tournament.name!r} needs at least 2 entrants whose models are not withdrawn; "
            f"it has {len(kept)}"
        )
    if len(kept) == len(entries):
        return
    order = kept + [e for e in entries if _is_withdrawn(e)]
    offset = max(e.seed for e in entries)
    Entry.objects.filter(tournament=tournament).update(
        seed=models_F("seed") + offset
    )  # free the seeds
    for seed, entry in enumerate(order, start=1):
        Entry.objects.filter(pk=entry.pk).update(seed=seed, withdrawn=entry not in kept)


def _swiss_code(match: Match) -> str:
    if match.status == Match.Status.DONE:
        return {"model_a": "1", "model_b": "0"}.get(match.outcome or "", "=")
    if match.status == Match.Status.FORFEIT:
        return "-" if match.forfeit_by_id == match.competitor_a_id else "+"
    return "--"


def swiss_state_for(tournament: Tournament, *, upto: int | None = None) -> Any:
    """The ``ranking.swiss.SwissState`` of a tournament after its complete rounds."""
    from ranking.swiss import Pairing, Scoring, SwissPlayer, SwissState, record_round

    entries = _entries(tournament)
    seed_of = {e.competitor_id: e.seed for e in entries}
    bye_points = (
        float(tournament.config.get("bye_points", 1.0)) if tournament.format != F.SWISS else 1.0
    )
    scoring = Scoring(pab=int(round(bye_points * 10)))
    total = tournament_total_rounds(tournament)
    state = SwissState(
        players=tuple(
            SwissPlayer(
                number=e.seed, rating=int(round(e.initial_rating or 0)), name=e.competitor.name
            )
            for e in entries
        ),
        total_rounds=total,
        scoring=scoring,
    )
    rounds = tournament.rounds.filter(status=Round.Status.COMPLETE).order_by("number")
    if upto is not None:
        rounds = rounds.filter(number__lte=upto)
    for rnd in rounds.prefetch_related("matches", "byes"):
        matches = sorted(rnd.matches.all(), key=lambda m: (m.board or 0, m.pk))
        byes = [seed_of[b.competitor_id] for b in rnd.byes.all() if b.kind == Bye.Kind.PAIRING]
        pairing = Pairing(
            pairs=tuple((seed_of[m.competitor_a_id], seed_of[m.competitor_b_id]) for m in matches),
            bye=byes[0] if byes else None,
        )
        state = record_round(state, pairing, [_swiss_code(m) for m in matches])
    return state


def _winner_side(match: Match, seeds: dict[int, int]) -> int:
    """Competitor id advancing from a bracket match (a tie or failure advances the higher seed)."""
    if match.status in (Match.Status.DONE, Match.Status.FORFEIT) and match.outcome in (
        "model_a",
        "model_b",
    ):
        return match.competitor_a_id if match.outcome == "model_a" else match.competitor_b_id
    a, b = match.competitor_a_id, match.competitor_b_id
    return a if seeds[a] < seeds[b] else b


def bracket_advancer(match: Match, seeds: dict[int, int]) -> int | None:
    """Competitor id that advanced from a bracket match, ``None`` while it is unfinished.

    The rule the engine applies (:func:`_winner_side`): the winner, or on a tie or a failed
    match the higher seed. Pages and the API show brackets with it, so they never disagree
    with the tournament itself.
    """
    if match.status not in Match.FINISHED:
        return None
    return _winner_side(match, seeds)


def bracket_state_for(tournament: Tournament) -> Any:
    """The ``ranking.bracket.BracketState`` of a single-elimination tournament so far."""
    from ranking.bracket import bracket_advance, bracket_create

    entries = _entries(tournament)
    names = [e.competitor.name for e in entries]
    index = {e.competitor_id: i for i, e in enumerate(entries)}
    seeds = {e.competitor_id: e.seed for e in entries}
    state = bracket_create(names, third_place=bool(tournament.config.get("third_place")))
    for rnd in tournament.rounds.filter(status=Round.Status.COMPLETE).order_by("number"):
        matches = sorted(rnd.matches.all(), key=lambda m: (m.board or 0, m.pk))
        state = bracket_advance(state, [index[_winner_side(m, seeds)] for m in matches])
    return state


def _record_wins(tournament: Tournament) -> dict[int, float]:
    wins: dict[int, float] = {e.competitor_id: 0.0 for e in tournament.entries.all()}
    for m in Match.objects.filter(
        tournament=tournament, status__in=[Match.Status.DONE, Match.Status.FORFEIT]
    ):
        if m.outcome == "model_a":
            wins[m.competitor_a_id] += 1
        elif m.outcome == "model_b":
            wins[m.competitor_b_id] += 1
        else:
            wins[m.competitor_a_id] += 0.5
            wins[m.competitor_b_id] += 0.5
    return wins


def _pairings(
    tournament: Tournament, number: int
) -> tuple[list[tuple[Entry, Entry]], list[tuple[Entry, float]]]:
    """Pairs (first side, second side) and byes (entry, points) of round ``number``."""
    entries = _entries(tournament)
    by_seed = {e.seed: e for e in entries}
    fmt, cfg = tournament.format, tournament.config
    if fmt in (F.ROUND_ROBIN, F.DOUBLE_ROUND_ROBIN):
        from ranking.roundrobin import round_robin

        schedule = round_robin(len(entries), double=fmt == F.DOUBLE_ROUND_ROBIN)
        games = schedule.rounds[number - 1]
        bye = schedule.byes[number - 1]
        return (
            [(entries[int(a)], entries[int(b)]) for a, b in games],
            [] if bye is None else [(entries[int(bye)], float(cfg.get("bye_points", 0.0)))],
        )
    if fmt == F.SWISS:
        from ranking.swiss import pair_round

        state = swiss_state_for(tournament)
        pairing = pair_round(
            state,
            system=cfg.get("system", "dutch"),
            rng=sim_seed(tournament.seed, "swiss", number) % 2**63,
        )
        return (
            [(by_seed[a], by_seed[b]) for a, b in pairing.pairs],
            [] if pairing.bye is None else [(by_seed[pairing.bye], 1.0)],
        )
    if fmt == F.SWISS_DYNAMICS:
        rng = np.random.default_rng(sim_seed(tournament.seed, "dynamics", number))
        wins = _record_wins(tournament)
        alive = [e for e in entries if e.eliminated_in_round is None]
        keys = rng.random(len(alive))
        order = sorted(range(len(alive)), key=lambda i: (-wins[alive[i].competitor_id], keys[i]))
        ranked = [alive[i] for i in order]
        pairs = [(ranked[k], ranked[k + 1]) for k in range(0, len(ranked) - 1, 2)]
        return pairs, ([(ranked[-1], 0.0)] if len(ranked) % 2 else [])
    if fmt == F.SINGLE_ELIMINATION:
        state = bracket_state_for(tournament)
        pairs = [(entries[a], entries[b]) for a, b in state.pending()]
        byes = []
        if number == 1:
            byes = [(entries[a], 1.0) for a, b in state.matches[0] if b is None]
        return pairs, byes
    if fmt == F.ARENA:
        from arena.services.arena_mode import arena_pairs_for_tournament

        done = Match.objects.filter(tournament=tournament).count()
        k = min(int(cfg["batch"]), int(cfg["battles"]) - done)
        playing = [e for e in entries if not _is_withdrawn(e)]
        return arena_pairs_for_tournament(tournament, entries=playing, k=k, round_number=number), []
    raise ValueError(f"unknown format {fmt!r}")


class PromptsExhausted(ApplicationError):
    """A round has no prompt left that is unpublished and unused by the tournament's earlier rounds."""


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


def _pool_rounds(tournament: Tournament) -> list[tuple[PromptSet | None, list[int]]]:
    """Each prompt pool of the tournament (a set per round in Swiss dynamics) and the rounds drawing from it."""
    if tournament.format == F.SWISS_DYNAMICS:
        names = tournament.config["rounds"]
        sets = {p.name: p for p in PromptSet.objects.filter(name__in=names)}
        return [
            (sets[name], [k for k, n in enumerate(names, 1) if n == name])
            for name in dict.fromkeys(names)
        ]
    return [(None, list(range(1, tournament_total_rounds(tournament) + 1)))]


def _prompt_supply_check(tournament: Tournament) -> None:
    """Refuse a tournament whose pools cannot give each remaining round an unpublished prompt."""
    if tournament.config.get("reuse_published_prompts"):
        return
    started = tournament.rounds.count()
    problems = []
    for prompt_set, rounds in _pool_rounds(tournament):
        needed = sum(1 for k in rounds if k > started)
        available = _pool_prompts(tournament, prompt_set).count()
        if available < needed:
            label = f"prompt set {prompt_set.name!r}" if prompt_set else "the prompt sets"
            problems.append(
                f"{label} has {available} unpublished prompt(s) for {needed} round(s); each round needs "
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
    prompt_set, rounds = next((p, r) for p, r in _pool_rounds(tournament) if number in r)
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
    pairs, byes = _pairings(tournament, number)
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
        quitter = a if _is_withdrawn(a) else b if _is_withdrawn(b) else None
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


def _eliminate(tournament: Tournament, number: int) -> None:
    if tournament.format == F.SWISS_DYNAMICS:
        t_k = (
            tournament.config["eliminate"][number - 1]
            if number <= len(tournament.config["eliminate"])
            else 0
        )
        if t_k <= 0:
            return
        wins = _record_wins(tournament)
        alive = [e for e in _entries(tournament) if e.eliminated_in_round is None]
        keys = np.random.default_rng(sim_seed(tournament.seed, "eliminate", number)).random(
            len(alive)
        )
        order = sorted(range(len(alive)), key=lambda i: (wins[alive[i].competitor_id], keys[i]))
        out = [alive[i].pk for i in order[:t_k]]
        Entry.objects.filter(pk__in=out).update(eliminated_in_round=number)
    elif tournament.format == F.SINGLE_ELIMINATION:
        seeds = {e.competitor_id: e.seed for e in _entries(tournament)}
        rnd = tournament.rounds.get(number=number)
        third = bool(tournament.config.get("third_place")) and number == tournament_total_rounds(
            tournament
        )
        for k, m in enumerate(sorted(rnd.matches.all(), key=lambda m: (m.board or 0, m.pk))):
            if third and k > 0:
                continue
            winner = _winner_side(m, seeds)
            loser = m.competitor_b_id if winner == m.competitor_a_id else m.competitor_a_id
            Entry.objects.filter(tournament=tournament, competitor_id=loser).update(
                eliminated_in_round=number
            )


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
            _eliminate(tournament, rnd.number)
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
                note = f"stopped after round {rnd.number}: round {rnd.number + 1} could not be paired ({exc})"
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


def _tournament_battles(tournament: Tournament) -> tuple[list[str], list[int], Any]:
    from ranking.battles import Battles
    from ranking.types import OUTCOMES

    entries = _entries(tournament)
    names = [e.competitor.name for e in entries]
    index = {e.competitor_id: i for i, e in enumerate(entries)}
    rows = list(
        Battle.objects.filter(match__tournament=tournament, source=Source.JUDGE).values_list(
            "model_a_id", "model_b_id", "outcome"
        )
    )
    code = {o: i for i, o in enumerate(OUTCOMES)}
    battles = Battles(
        models=tuple(names),
        a=np.array([index[r[0]] for r in rows], dtype=np.int32),
        b=np.array([index[r[1]] for r in rows], dtype=np.int32),
        outcome=np.array([code[r[2]] for r in rows], dtype=np.int8),
    )
    return names, [e.competitor_id for e in entries], battles


def tournament_ratings(tournament: Tournament) -> dict[str, float]:
    """Bradley-Terry ratings (Elo scale, mean 1000, light L2 so they exist for unbeaten players)."""
    names, _, battles = _tournament_battles(tournament)
    if len(battles) == 0:
        return {n: 1000.0 for n in names}
    from ranking.bradley_terry import bradley_terry

    result = bradley_terry(battles, l2=1.0, ci="none")
    mean = float(np.mean(result.rating))
    return {m: float(r) - mean + 1000.0 for m, r in zip(result.models, result.rating)}


PREDICTION_ITERATIONS = 10_000


def _unfinished_pairs(rnd: Round | None, index: dict[int, int]) -> tuple[tuple[int, int], ...]:
    if rnd is None or rnd.status == Round.Status.COMPLETE:
        return ()
    return tuple(
        (index[m.competitor_a_id], index[m.competitor_b_id])
        for m in rnd.matches.exclude(status__in=Match.FINISHED).order_by("board", "id")
    )


def _rest_of(
    tournament: Tournament, entries: list[Entry]
) -> tuple[list[Any], list[list[float] | None]]:
    """What remains to be played (``ranking.simulate`` steps) and, per round, who is known to
    have survived it (``None`` for rounds still to come), for formats that eliminate."""
    from ranking.simulate import Cut, FixedRound, KnockoutRounds, RandomRound, ScoreRound

    index = {e.competitor_id: i for i, e in enumerate(entries)}
    fmt, cfg = tournament.format, tournament.config
    running = tournament.status in (
        Tournament.Status.DRAFT,
        Tournament.Status.RUNNING,
        Tournament.Status.PAUSED,
    )
    rnd = tournament.rounds.order_by("-number").first()
    current = rnd.number if rnd else 0
    complete = rnd is None or rnd.status == Round.Status.COMPLETE
    steps: list[Any] = []
    if fmt == F.SINGLE_ELIMINATION:
        state = bracket_state_for(tournament)
        known = [
            [
                float(i in w[:1] if state.third_place and k == state.rounds - 1 else i in w)
                for i in range(len(entries))
            ]
            for k, w in enumerate(state.winners)
        ]
        if running and not state.finished:
            played = {}
            if rnd is not None and not complete:
                seeds = {e.competitor_id: e.seed for e in entries}
                played = {
                    frozenset((index[m.competitor_a_id], index[m.competitor_b_id])): index[
                        _winner_side(m, seeds)
                    ]
                    for m in rnd.matches.filter(status__in=Match.FINISHED)
                }
            matches = state.matches[len(state.winners)]
            steps.append(
                KnockoutRounds(
                    matches=matches,
                    decided=tuple(played.get(frozenset(p)) for p in matches),
                    rounds=state.rounds - len(state.winners),
                    third_place=state.third_place,
                )
            )
        return steps, [*known, *([None] * (steps[0].rounds if steps else 0))]
    if not running:
        pass
    elif fmt in (F.ROUND_ROBIN, F.DOUBLE_ROUND_ROBIN):
        from ranking.roundrobin import round_robin

        schedule = round_robin(len(entries), double=fmt == F.DOUBLE_ROUND_ROBIN)
        bye_points = float(cfg.get("bye_points", 0.0))
        steps.append(FixedRound(pairs=_unfinished_pairs(rnd, index)))
        steps += [
            FixedRound(
                pairs=tuple((int(a), int(b)) for a, b in games),
                byes=() if bye is None else ((int(bye), bye_points),),
            )
            for games, bye in list(zip(schedule.rounds, schedule.byes))[current:]
        ]
    elif fmt == F.SWISS:
        steps.append(FixedRound(pairs=_unfinished_pairs(rnd, index)))
        steps += [ScoreRound(bye_points=1.0)] * (int(cfg["rounds"]) - current)
    elif fmt == F.SWISS_DYNAMICS:
        cuts = list(cfg["eliminate"])
        if not complete:
            steps += [FixedRound(pairs=_unfinished_pairs(rnd, index)), Cut(t=cuts[current - 1])]
        for k in range(current, len(cfg["rounds"])):
            steps += [ScoreRound(bye_points=0.0), Cut(t=cuts[k])]
    elif fmt == F.ARENA:
        remaining = int(cfg["battles"]) - Match.objects.filter(tournament=tournament).count()
        steps += [FixedRound(pairs=_unfinished_pairs(rnd, index)), RandomRound(k=max(0, remaining))]
    steps = [s for s in steps if s not in (FixedRound(pairs=()), RandomRound(k=0))]
    if fmt != F.SWISS_DYNAMICS:
        return steps, []
    done = tournament.rounds.filter(status=Round.Status.COMPLETE).count()
    known = [
        [float(e.eliminated_in_round is None or e.eliminated_in_round > k) for e in entries]
        for k in range(1, done + 1)
    ]
    return steps, [*known, *([None] * sum(isinstance(s, Cut) for s in steps))]


def tournament_predict(*, tournament: Tournament) -> dict[str, Any]:
    """``E[S]``: each entrant's points so far plus its expected points from what remains.

    The rest of the tournament is simulated (``ranking.simulate.simulate_rest``) with the
    win probabilities of the Bradley-Terry ratings fitted to the tournament's own battles
    (:func:`tournament_ratings`). The games still to come are the format's: the fixed
    schedule of a round robin, the rest of a bracket, Swiss rounds paired by score (the
    model's approximation of the Dutch system: neighbours in score order, rematches
    allowed) with a one-point bye, Swiss-dynamics rounds with their eliminations, the
    arena's remaining battles between uniformly drawn pairs of the models still in. A
    model withdrawn after the start loses every game still to come (it forfeits them).
    So ``E[S]`` sums to the points the whole event distributes, and once the tournament
    is over it equals each entrant's actual score.

    Returns
    -------
    dict
        ``ratings`` (name, rating), ``expected_score`` rows (name, expected_score, stderr,
        p_win, p_survive by round for formats that eliminate), best first, ``iterations``.
    """
    from ranking.bracket import win_matrix
    from ranking.simulate import simulate_rest

    entries = _entries(tournament)
    names = [e.competitor.name for e in entries]
    ratings = tournament_ratings(tournament)
    points = {
        r["competitor_id"]: r["points"]
        for r in tournament_compute_standings(tournament)["standings"]
    }
    steps, survival = _rest_of(tournament, entries)
    p = win_matrix(np.array([ratings[n] for n in names]))
    for i, e in enumerate(entries):
        if _is_withdrawn(e):
            p[i, :], p[:, i] = 0.0, 1.0
            p[i, i] = 0.5
    alive = [
        e.eliminated_in_round is None and not (tournament.format == F.ARENA and _is_withdrawn(e))
        for e in entries
    ]
    rest = simulate_rest(
        p,
        points=[points[e.competitor_id] for e in entries],
        steps=steps,
        alive=alive,
        iterations=PREDICTION_ITERATIONS,
        rng=sim_seed(tournament.seed, "predict") % 2**63,
    )
    future = iter(rest.p_alive.T.tolist())
    by_round = [known if known is not None else next(future) for known in survival]
    rows = [
        {
            "name": n,
            "expected_score": float(rest.expected_score[i]),
            "stderr": float(rest.stderr[i]),
            "p_win": float(rest.p_win[i]),
            "p_survive": [float(col[i]) for col in by_round],
        }
        for i, n in enumerate(names)
    ]
    return {
        "ratings": [
            {"name": n, "rating": ratings[n]} for n in sorted(names, key=lambda n: -ratings[n])
        ],
        "expected_score": sorted(rows, key=lambda r: -r["expected_score"]),
        "iterations": rest.iterations,
    }


def tournament_compute_standings(tournament: Tournament) -> dict[str, Any]:
    """Standings (points, games, tie-breaks or bracket placement) from the results so far."""
    entries = _entries(tournament)
    stats: dict[int, dict[str, Any]] = {
        e.competitor_id: {
            "competitor_id": e.competitor_id,
            "name": e.competitor.name,
            "seed": e.seed,
            "points": 0.0,
            "played": 0,
            "wins": 0,
            "losses": 0,
            "ties": 0,
            "forfeits": 0,
            "byes": 0,
            "eliminated_in_round": e.eliminated_in_round,
        }
        for e in entries
    }
    for m in Match.objects.filter(tournament=tournament, status__in=Match.FINISHED):
        a, b = stats[m.competitor_a_id], stats[m.competitor_b_id]
        if m.status == Match.Status.DONE:
            a["played"] += 1
            b["played"] += 1
        if m.status == Match.Status.FORFEIT:
            (a if m.forfeit_by_id == m.competitor_a_id else b)["forfeits"] += 1
        if m.outcome == "model_a":
            a["wins"] += 1
            b["losses"] += 1
            a["points"] += 1
        elif m.outcome == "model_b":
            b["wins"] += 1
            a["losses"] += 1
            b["points"] += 1
        elif m.outcome:
            a["ties"] += 1
            b["ties"] += 1
            a["points"] += 0.5
            b["points"] += 0.5
    for bye in Bye.objects.filter(round__tournament=tournament):
        stats[bye.competitor_id]["byes"] += 1
        if tournament.format != F.SINGLE_ELIMINATION:
            stats[bye.competitor_id]["points"] += bye.points
    tiebreaks: tuple[str, ...] = ()
    rows = list(stats.values())
    if tournament.format in (F.SWISS, F.ROUND_ROBIN, F.DOUBLE_ROUND_ROBIN):
        from ranking.tiebreaks import standings

        tiebreaks = (
            ("BH-C1", "BH", "SB", "DE", "WIN")
            if tournament.format == F.SWISS
            else ("SB", "DE", "WIN")
        )
        state = swiss_state_for(tournament)
        by_seed = {r["seed"]: r for r in rows}
        ordered = []
        for row in standings(state, tiebreaks=tiebreaks):
            target = by_seed[row.player]
            target["tiebreaks"] = {k: float(v) for k, v in row.tiebreaks.items()}
            target["rank"] = row.rank
            ordered.append(target)
        rows = ordered + [r for r in rows if "rank" not in r]
    elif tournament.format == F.SINGLE_ELIMINATION:
        state = bracket_state_for(tournament)
        by_name = {r["name"]: r for r in rows}
        if state.finished:
            from ranking.bracket import bracket_ranking

            ranked = bracket_ranking(state)
            rows = []
            for rank, (name, place) in enumerate(ranked, start=1):
                by_name[name]["place"] = place
                by_name[name]["rank"] = rank
                rows.append(by_name[name])
        else:
            rows.sort(
                key=lambda r: (
                    r["eliminated_in_round"] is not None,
                    -(r["eliminated_in_round"] or 0),
                    r["seed"],
                )
            )
    else:
        rows.sort(
            key=lambda r: (
                r["eliminated_in_round"] is not None,
                -(r["eliminated_in_round"] or 0),
                -r["points"],
                r["seed"],
            )
        )
    for rank, standing in enumerate(rows, start=1):
        standing.setdefault("rank", rank)
    return {"standings": rows, "tiebreaks": list(tiebreaks)}


def tournament_compute_results(tournament: Tournament) -> dict[str, Any]:
    """Everything stored in ``Tournament.results`` when a tournament finishes."""
    out = tournament_compute_standings(tournament)
    _, _, battles = _tournament_battles(tournament)
    prediction = tournament_predict(tournament=tournament)
    out["ratings"], out["expected_score"] = prediction["ratings"], prediction["expected_score"]
    out["n_battles"] = len(battles)
    out["matches"] = dict(
        Match.objects.filter(tournament=tournament).values_list("status").annotate(n=Count("id"))
    )
    if tournament.format == F.SINGLE_ELIMINATION:
        state = bracket_state_for(tournament)
        out["champion"] = (
            state.names[state.champion] if state.finished and state.champion is not None else None
        )
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
    from arena.services.leaderboard import leaderboard_rebuilds_deferred
    from arena.services.matches import inline_dispatch, run_inline

    with leaderboard_rebuilds_deferred(), inline_dispatch() as queue:
        if tournament.status == Tournament.Status.DRAFT:
            tournament_start(tournament=tournament)
        else:
            dispatch("round_check", tournament.pk)
        run_inline(queue)
    tournament.refresh_from_db()
    return tournament
