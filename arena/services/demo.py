"""The demo data set behind ``make run``: simulated competitors and battles from a known truth.

Besides competitors, prompts, battles and K-wise votes (:func:`demo_kwise`), the demo plays
two finished tournaments through the real services (a 16-model Swiss and a 16-model single
elimination, simulated competitors and a simulated judge, run in-process) and fills the open
arena's pool with battles whose answers are ready to vote on. Every step checks what already
exists, so loading twice adds nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from arena.models import Battle, Competitor, Outcome, Price, Prompt, PromptSet, Source
from arena.services.conv_metadata import conv_metadata_for_answers
from arena.services.prices import price_set
from clients import simulated_answer
from ranking.style import style_counts, style_features

DEMO_COMPETITORS: tuple[tuple[str, float, str, str], ...] = (
    # name, hidden strength (Elo points), style, provider
    ("atlas-70b", 1180.0, "thorough", "Demo Labs"),
    ("boreas-8x7b", 1120.0, "concise", "Demo Labs"),
    ("cirrus-34b", 1090.0, "friendly", "Cloudworks"),
    ("delta-13b", 1060.0, "concise", "Cloudworks"),
    ("ember-7b", 1010.0, "verbose", "Open Forge"),
    ("fjord-32b", 1040.0, "thorough", "Open Forge"),
    ("gale-3b", 930.0, "terse", "Tiny Models"),
    ("halo-14b", 1075.0, "friendly", "Halo AI"),
    ("iris-9b", 985.0, "verbose", "Halo AI"),
    ("juniper-1b", 880.0, "terse", "Tiny Models"),
    ("kestrel-72b", 1150.0, "thorough", "Kestrel"),
    ("lumen-4b", 955.0, "concise", "Kestrel"),
    ("meridian-22b", 1065.0, "thorough", "Meridian"),
    ("nimbus-11b", 1000.0, "friendly", "Cloudworks"),
    ("orion-40b", 1130.0, "verbose", "Meridian"),
    ("pico-2b", 905.0, "terse", "Tiny Models"),
)

#: Made-up admin prices (input, output per million tokens, in the deployment's currency): the
#: stronger models cost more, with exceptions, so the rating-against-cost chart has a trade-off.
DEMO_PRICES: dict[str, tuple[str, str]] = {
    "atlas-70b": ("3.00", "15.00"),
    "boreas-8x7b": ("0.70", "0.70"),
    "cirrus-34b": ("0.80", "2.40"),
    "delta-13b": ("0.30", "0.60"),
    "ember-7b": ("0.20", "0.40"),
    "fjord-32b": ("0.90", "0.90"),
    "gale-3b": ("0.10", "0.10"),
    "halo-14b": ("1.20", "4.80"),
    "iris-9b": ("0.25", "0.50"),
    "juniper-1b": ("0.05", "0.10"),
    "kestrel-72b": ("2.50", "10.00"),
    "lumen-4b": ("0.10", "0.20"),
    "meridian-22b": ("0.60", "1.80"),
    "nimbus-11b": ("0.40", "0.80"),
    "orion-40b": ("1.00", "3.00"),
    "pico-2b": ("0.08", "0.16"),
}

DEMO_PROMPTS: dict[str, tuple[str, list[str]]] = {
    "demo-coding": (
        "coding",
        [
            "Write a Python function that merges two sorted lists.",
            "Explain the difference between a process and a thread.",
            "How would you detect a cycle in a linked list?",
            "Write a SQL query that finds duplicate emails in a users table.",
            "What does `git rebase` do, and when should you avoid it?",
        ],
    ),
    "demo-writing": (
        "writing",
        [
            "Write a haiku about autumn rain.",
            "Summarise the plot of Hamlet in three sentences.",
            "Draft a polite email declining a meeting invitation.",
            "Write an opening line for a mystery novel.",
            "Explain photosynthesis to a ten-year-old.",
        ],
    ),
    "demo-math": (
        "math",
        [
            "What is the derivative of x^3 * sin(x)?",
            "Prove that the square root of 2 is irrational.",
            "How many ways can 8 rooks be placed on a chessboard so none attack each other?",
            "Solve 3x + 7 = 22.",
            "What is the expected number of coin flips to get two heads in a row?",
        ],
    ),
}


#: The demo voters' taste for style: log-odds that answer A wins per standard deviation of each
#: of FastChat's style differences (length, headers, lists, bold), on top of the hidden strengths.
#: Like LMArena's voters they favour longer, more formatted answers, so the plain board credits
#: the verbose and thorough models with their style and the style-controlled board takes it out.
DEMO_STYLE_EFFECT: tuple[float, float, float, float] = (0.35, 0.05, 0.1, 0.15)


def _demo_conv_metadata(
    competitors: list[Competitor], a: np.ndarray, b: np.ndarray, prompts: list[str]
) -> list[dict[str, Any]]:
    """Each battle's ``conv_metadata``: the two competitors' simulated answers to its prompt."""
    answers: dict[tuple[int, str], str] = {}

    def answer(i: int, prompt: str) -> str:
        if (i, prompt) not in answers:
            c = competitors[i]
            answers[(i, prompt)] = simulated_answer(
                name=c.name,
                strength=float(c.sim_strength or 1000.0),
                style=c.sim_style,
                seed=c.sim_seed,
                prompt=prompt,
            ).text
        return answers[(i, prompt)]

    metas: dict[tuple[int, int, str], dict[str, Any]] = {}
    out = []
    for i, j, prompt in zip(a.tolist(), b.tolist(), prompts):
        key = (i, j, prompt)
        if key not in metas:
            metas[key] = conv_metadata_for_answers(
                answer_a=answer(i, prompt), answer_b=answer(j, prompt)
            )
        out.append(metas[key])
    return out


def demo_load(*, n_battles: int = 3000, seed: int = 20261123) -> dict[str, int]:
    """Create the demo competitors (with admin prices), prompt sets and battles; a second call
    adds nothing.

    Each battle is on one of the demo prompts and carries the ``conv_metadata`` of the two
    competitors' simulated answers to it; its outcome follows the hidden strengths plus
    :data:`DEMO_STYLE_EFFECT` (so the demo's style-controlled board has a style to remove).
    """
    created = 0
    with transaction.atomic():
        competitors = []
        for i, (name, strength, style, provider) in enumerate(DEMO_COMPETITORS):
            comp, was_created = Competitor.objects.get_or_create(
                name=name,
                defaults={
                    "kind": Competitor.Kind.SIMULATED,
                    "status": Competitor.Status.ACTIVE,
                    "sim_strength": strength,
                    "sim_style": style,
                    "sim_seed": seed + i,
                    "provider": provider,
                    "version": "demo",
                    "licence": "Apache-2.0",
                    "description": f"A simulated competitor ({style} style) for demos and tests.",
                },
            )
            created += was_created
            competitors.append(comp)
            if not Price.objects.filter(competitor=comp).exists():
                price_in, price_out = DEMO_PRICES[name]
                price_set(
                    competitor=comp,
                    input_per_mtok=price_in,
                    output_per_mtok=price_out,
                    public_input_per_mtok=price_in,
                    public_output_per_mtok=price_out,
                    note="Demo price (made up).",
                    set_by="demo",
                )
        for set_name, (category, texts) in DEMO_PROMPTS.items():
            prompt_set, was_created = PromptSet.objects.get_or_create(
                name=set_name,
                defaults={
                    "category": category,
                    "description": f"Demo {category} prompts",
                    "public": True,
                },
            )
            if was_created:
                Prompt.objects.bulk_create(Prompt(prompt_set=prompt_set, text=t) for t in texts)
        if Battle.objects.filter(model_a__in=competitors).exists():
            return {"competitors": created, "battles": 0}

        rng = np.random.default_rng(seed)
        strengths = np.array([c.sim_strength for c in competitors])
        n = len(competitors)
        a = rng.integers(0, n, size=n_battles)
        b = (a + rng.integers(1, n, size=n_battles)) % n
        categories = rng.choice(["coding", "writing", "math"], size=n_battles)
        by_category = dict(DEMO_PROMPTS.values())
        pick = rng.integers(0, 5, size=n_battles)
        prompts = [
            by_category[str(c)][int(k) % len(by_category[str(c)])] for c, k in zip(categories, pick)
        ]
        metas = _demo_conv_metadata(competitors, a, b, prompts)
        x, _, _ = style_features(style_counts(metas))
        logit = np.log(10.0) * (strengths[a] - strengths[b]) / 400.0 + x @ DEMO_STYLE_EFFECT
        p_a = 1.0 / (1.0 + np.exp(-logit))
        u = rng.random(n_battles)
        tie = u < 0.12
        a_wins = ~tie & (rng.random(n_battles) < p_a)
        outcomes = np.where(
            tie,
            np.where(rng.random(n_battles) < 0.3, Outcome.BOTH_BAD, Outcome.TIE),
            np.where(a_wins, Outcome.MODEL_A, Outcome.MODEL_B),
        )
        sources = np.where(rng.random(n_battles) < 0.7, Source.HUMAN, Source.JUDGE)
        start = timezone.now() - timedelta(days=30)
        offsets = np.sort(rng.uniform(0, 30 * 86400, size=n_battles))
        Battle.objects.bulk_create(
            (
                Battle(
                    model_a=competitors[int(a[i])],
                    model_b=competitors[int(b[i])],
                    outcome=str(outcomes[i]),
                    source=str(sources[i]),
                    category=str(categories[i]),
                    judge="demo-judge" if sources[i] == Source.JUDGE else "",
                    tstamp=start + timedelta(seconds=float(offsets[i])),
                    conv_metadata=metas[i],
                )
                for i in range(n_battles)
            ),
            batch_size=1000,
        )
    return {"competitors": created, "battles": n_battles}


DEMO_SWISS = "Demo Swiss (16 models)"
DEMO_KNOCKOUT = "Demo knockout (16 models)"
DEMO_JUDGES = {
    "pipeline": "single",
    "judges": [
        {
            "name": "sim-judge",
            "kind": "simulated",
            # made-up providers shared with demo competitors, so the judges page has
            # self-preference figures; the simulated judge ignores providers, so they should
            # show none (a difference whose interval holds 0)
            "provider": "Cloudworks",
            "position_bias": 40.0,
            "noise": 60.0,
            "tie_rate": 0.15,
        }
    ],
}


#: The knockout is judged by a panel of two simulated judges (majority over both orders), so
#: the judges page has two judges to compare: the second has no position bias but more noise
#: and fewer ties.
DEMO_PANEL = {
    "pipeline": "majority",
    "judges": [
        *DEMO_JUDGES["judges"],
        {
            "name": "sim-judge-2",
            "kind": "simulated",
            "provider": "Demo Labs",
            "position_bias": 0.0,
            "noise": 120.0,
            "tie_rate": 0.05,
            "seed": 1,
        },
    ],
}


def demo_tournaments(*, seed: int = 20261123) -> dict[str, str]:
    """Play the demo Swiss and knockout tournaments to the end (once); returns their status."""
    from arena.models import Tournament
    from arena.services.tournaments import tournament_create, tournament_run_inline

    names = [name for name, *_ in DEMO_COMPETITORS]
    prompt_sets = list(DEMO_PROMPTS)
    specs: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        # the demo prompts are public (the open arena serves them), so the admin's reuse is explicit
        (
            DEMO_SWISS,
            "swiss",
            {"system": "dutch", "rounds": 5, "reuse_published_prompts": True},
            DEMO_JUDGES,
        ),
        (
            DEMO_KNOCKOUT,
            "single_elimination",
            {"third_place": True, "reuse_published_prompts": True},
            DEMO_PANEL,
        ),
    ]
    out: dict[str, str] = {}
    for offset, (name, fmt, config, pipeline) in enumerate(specs):
        tournament = Tournament.objects.filter(name=name).first()
        if tournament is None:
            tournament = tournament_create(
                name=name,
                format=fmt,
                competitors=names,
                config=config,
                prompt_sets=prompt_sets,
                judge_pipeline=pipeline,
                seed=seed + offset,
            )
        if tournament.status in (Tournament.Status.DRAFT, Tournament.Status.RUNNING):
            tournament = tournament_run_inline(tournament=tournament)
        out[name] = tournament.status
    return out


DEMO_REJUDGE = "Demo re-judge: strict judge"
DEMO_CALIBRATION_SET = "default"
#: The Swiss is re-judged by a pinned judge with no position bias and little noise: its board
#: can be compared with the main board and the Swiss judge's (the judges page links both).
DEMO_REJUDGE_PIPELINE = {
    "pipeline": "single",
    "judges": [
        {
            "name": "sim-judge-strict",
            "kind": "simulated",
            "provider": "Kestrel",
            "version": "2026-11",
            "position_bias": 0.0,
            "noise": 30.0,
            "tie_rate": 0.1,
            "seed": 2,
        }
    ],
}


def demo_judge_run(*, tournament: str = DEMO_SWISS, calibration_from: str = DEMO_KNOCKOUT) -> str:
    """Freeze the knockout's outcomes as the calibration set and re-judge the demo Swiss with
    another judge, in this process (once); returns the run's status."""
    from arena.models import JudgeRun, Match, Tournament
    from arena.services.judge_calibration import calibration_set_freeze
    from arena.services.judge_runs import judge_run_create, judge_run_inline

    run = JudgeRun.objects.filter(name=DEMO_REJUDGE).first()
    if run is None:
        swiss = Tournament.objects.filter(name=tournament).first()
        knockout = Tournament.objects.filter(name=calibration_from).first()
        if swiss is None or knockout is None:
            return "no demo tournaments"
        frozen = list(
            Match.objects.filter(
                tournament=knockout, status=Match.Status.DONE, outcome__isnull=False
            ).values_list("id", flat=True)
        )
        if frozen:
            calibration_set_freeze(name=DEMO_CALIBRATION_SET, match_ids=frozen)
        run = judge_run_create(
            name=DEMO_REJUDGE,
            pipeline=DEMO_REJUDGE_PIPELINE,
            tournament_id=swiss.pk,
            calibration_set=DEMO_CALIBRATION_SET,
            start=False,
        )
    if run.status in (JudgeRun.Status.PENDING, JudgeRun.Status.RUNNING):
        run = judge_run_inline(run_id=run.pk)
    return str(run.status)


def demo_arena_pool(*, size: int = 12, seed: int = 20261123) -> int:
    """Fill the open arena's pool with battles whose answers are generated; returns how many."""
    from arena.services.arena_mode import arena_top_up
    from arena.services.matches import inline_dispatch, run_inline

    with inline_dispatch() as queue:
        created = arena_top_up(pool_size=size, seed=seed)
        run_inline(queue)
    return len(created)


def demo_kwise(*, n_votes: int = 400, seed: int = 20261123) -> int:
    """Add simulated K-wise votes (K-Sort Arena) from the hidden strengths, once; returns how
    many were added.

    Half rank 3 answers and half rank 4, each a Plackett-Luce draw from the competitors'
    hidden strengths (:func:`ranking.kwise.plackett_luce_sample`), on a demo prompt of a random
    category, spread over the last 30 days: the K-wise boards have data, and the K-wise vote
    page serves the answers of the demo tournaments and arena pool.
    """
    from arena.models import KwiseBattle, KwiseEntry
    from ranking.kwise import plackett_luce_sample

    competitors = list(
        Competitor.objects.filter(name__in=[name for name, *_ in DEMO_COMPETITORS]).order_by("id")
    )
    if (
        len(competitors) < 4
        or KwiseBattle.objects.filter(entries__competitor__in=competitors).exists()
    ):
        return 0
    prompts = list(
        Prompt.objects.filter(prompt_set__name__in=list(DEMO_PROMPTS)).values_list(
            "id", "prompt_set__category"
        )
    )
    rng = np.random.default_rng(seed + 17)
    strengths = np.array([c.sim_strength or 1000.0 for c in competitors])
    start = timezone.now() - timedelta(days=30)
    offsets = np.sort(rng.uniform(0, 30 * 86400, size=n_votes))
    with transaction.atomic():
        for v in range(n_votes):
            k = 3 if v % 2 else 4
            shown = [int(x) for x in rng.choice(len(competitors), size=k, replace=False)]
            ranks = plackett_luce_sample(strengths, shown, rng)
            prompt_id, category = prompts[int(rng.integers(len(prompts)))]
            battle = KwiseBattle.objects.create(
                k=k,
                source=Source.HUMAN,
                category=category,
                tstamp=start + timedelta(seconds=float(offsets[v])),
                prompt_id=prompt_id,
            )
            KwiseEntry.objects.bulk_create(
                KwiseEntry(battle=battle, competitor=competitors[c], position=pos, rank=rank)
                for pos, (c, rank) in enumerate(zip(shown, ranks))
            )
    return n_votes
