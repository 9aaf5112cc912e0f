"""Data for the browser tests and the page bench: the demo set plus finished tournaments and
anonymous battles waiting for votes (one of them with hostile HTML in an answer).

The tournaments are created and played to the end by the tournament service (simulated
competitors and judges, run in process). The ``seed_*`` functions instead write finished
tournaments directly from the competitors' hidden strengths (a seeded draw per match); the
unit tests use them to check the pages against tables computed independently.

Run inside a configured Django process: ``python manage.py shell -c
"from tests.e2e.seed import seed_all; seed_all()"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from arena import models as m
from arena.services.demo import DEMO_PANEL, demo_judge_run, demo_kwise, demo_load

XSS_CATEGORY = "security"
XSS_ANSWER = (
    "Here is the payload you asked about, shown as text:\n\n"
    "<script>window.__ludus_xss = 'script';</script>\n\n"
    '<img src="x" onerror="window.__ludus_xss = \'img\'">\n\n'
    "```html\n<script>alert('in a code block')</script>\n```\n\n"
    "**Bold** and `inline <b>code</b>`, and a [link](javascript:alert(1))."
)
LONG_ANSWER = "\n\n".join(
    [
        "## Merging two sorted lists",
        "The idea: walk both lists with two indices and always take the smaller head.",
        "```python\ndef merge(a, b):\n    i = j = 0\n    out = []\n"
        "    while i < len(a) and j < len(b):\n"
        "        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n"
        "            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]\n```",
        "- runs in O(n + m)\n- stable: equal items keep their order\n"
        "- works on any comparable items",
        *[
            f"Paragraph {k}: a long explanation that makes this answer scroll inside its box."
            for k in range(25)
        ],
    ]
)


def _p_win(ra: float, rb: float) -> float:
    return 1.0 / (1.0 + 10.0 ** (-(ra - rb) / 400.0))


def _play(rng: np.random.Generator, a: m.Competitor, b: m.Competitor, *, ties: bool = True) -> str:
    u = rng.random()
    if ties and u < 0.1:
        return m.Outcome.TIE
    return (
        m.Outcome.MODEL_A
        if rng.random() < _p_win(a.sim_strength or 1000.0, b.sim_strength or 1000.0)
        else m.Outcome.MODEL_B
    )


def _tournament(name: str, fmt: str, comps: list[m.Competitor], **kw: Any) -> m.Tournament:
    now = timezone.now()
    t = m.Tournament.objects.create(
        name=name,
        format=fmt,
        status=m.Tournament.Status.COMPLETED,
        seed=7,
        started_at=now,
        finished_at=now,
        **kw,
    )
    ordered = sorted(comps, key=lambda c: -(c.sim_strength or 0.0))
    m.Entry.objects.bulk_create(
        m.Entry(tournament=t, competitor=c, seed=i + 1, initial_rating=c.sim_strength)
        for i, c in enumerate(ordered)
    )
    return t


def _match(
    t: m.Tournament, rnd: m.Round, a: m.Competitor, b: m.Competitor, outcome: str, board: int
) -> m.Match:
    return m.Match.objects.create(
        tournament=t,
        round=rnd,
        competitor_a=a,
        competitor_b=b,
        status=m.Match.Status.DONE,
        outcome=outcome,
        board=board,
        finished_at=timezone.now(),
    )


def seed_single_elimination(rng: np.random.Generator, comps: list[m.Competitor]) -> m.Tournament:
    from ranking.bracket import seed_slots

    t = _tournament("Demo knockout", "single_elimination", comps[:8])
    entrants = [e.competitor for e in t.entries.order_by("seed")]
    alive = [entrants[s] for s in seed_slots(8)]
    number = 1
    while len(alive) > 1:
        rnd = m.Round.objects.create(
            tournament=t, number=number, status=m.Round.Status.COMPLETE, completed_at=timezone.now()
        )
        winners = []
        for k in range(0, len(alive), 2):
            a, b = alive[k], alive[k + 1]
            outcome = _play(rng, a, b, ties=False)
            _match(t, rnd, a, b, outcome, board=k // 2 + 1)
            winner, loser = (a, b) if outcome == m.Outcome.MODEL_A else (b, a)
            winners.append(winner)
            m.Entry.objects.filter(tournament=t, competitor=loser).update(
                eliminated_in_round=number
            )
        alive = winners
        number += 1
    t.results = {"champion": alive[0].name}
    t.save(update_fields=["results"])
    return t


def seed_swiss(
    rng: np.random.Generator,
    comps: list[m.Competitor],
    *,
    name: str,
    fmt: str,
    rounds: int,
    results: dict[str, Any] | None = None,
) -> m.Tournament:
    t = _tournament(name, fmt, comps, results=results or {})
    players = [e.competitor for e in t.entries.order_by("seed")]
    points = {c.id: 0.0 for c in players}
    met: set[tuple[int, int]] = set()
    for number in range(1, rounds + 1):
        rnd = m.Round.objects.create(
            tournament=t, number=number, status=m.Round.Status.COMPLETE, completed_at=timezone.now()
        )
        pool = sorted(players, key=lambda c: (-points[c.id], -(c.sim_strength or 0.0)))
        if len(pool) % 2:
            bye = pool.pop()
            m.Bye.objects.create(round=rnd, competitor=bye, points=1.0)
            points[bye.id] += 1.0
        board = 1
        while pool:
            a = pool.pop(0)
            j = next(
                (k for k, c in enumerate(pool) if (min(a.id, c.id), max(a.id, c.id)) not in met), 0
            )
            b = pool.pop(j)
            met.add((min(a.id, b.id), max(a.id, b.id)))
            outcome = _play(rng, a, b)
            _match(t, rnd, a, b, outcome, board)
            board += 1
            pa = {m.Outcome.MODEL_A: 1.0, m.Outcome.MODEL_B: 0.0}.get(outcome, 0.5)
            points[a.id] += pa
            points[b.id] += 1.0 - pa
    return t


def seed_round_robin(rng: np.random.Generator, comps: list[m.Competitor]) -> m.Tournament:
    t = _tournament("Demo round robin", "round_robin", comps[:5])
    players = [e.competitor for e in t.entries.order_by("seed")]
    rnd = m.Round.objects.create(
        tournament=t, number=1, status=m.Round.Status.COMPLETE, completed_at=timezone.now()
    )
    board = 1
    for i in range(len(players)):
        for j in range(i + 1, len(players)):
            _match(t, rnd, players[i], players[j], _play(rng, players[i], players[j]), board)
            board += 1
    return t


def seed_swiss_dynamics(rng: np.random.Generator, comps: list[m.Competitor]) -> m.Tournament:
    from ranking.bracket import win_matrix
    from ranking.simulate import failure_sensitivity

    names = [c.name for c in comps[:8]]
    ratings = [c.sim_strength or 1000.0 for c in comps[:8]]
    p = win_matrix(ratings)
    fs = failure_sensitivity(
        np.broadcast_to(p, (3, len(names), len(names))),
        names=names,
        levels=[0, 1, 2],
        iterations=2000,
        rng=3,
    )
    results = {
        "failure_sensitivity": {
            "models": list(fs.models),
            "levels": list(fs.levels),
            "expected_score": fs.expected_score.tolist(),
            "stderr": fs.stderr.tolist(),
            "profile": list(fs.profile),
            "retention": fs.retention.tolist(),
        }
    }
    return seed_swiss(
        rng,
        comps[:8],
        name="Demo benchmark Swiss",
        fmt="swiss_dynamics",
        rounds=3,
        results=results,
    )


def seed_vote_battles(rng: np.random.Generator, comps: list[m.Competitor], *, n: int = 12) -> None:
    """Arena matches awaiting human votes, plus one with hostile HTML in a category of its own."""
    prompts = list(m.Prompt.objects.select_related("prompt_set").all())
    for k in range(n):
        i, j = rng.choice(len(comps), size=2, replace=False)
        a, b = comps[int(i)], comps[int(j)]
        prompt = prompts[k % len(prompts)]
        match = m.Match.objects.create(
            competitor_a=a, competitor_b=b, prompt=prompt, status=m.Match.Status.AWAITING_VOTES
        )
        m.Generation.objects.create(
            match=match,
            side="a",
            competitor=a,
            text=LONG_ANSWER if k == 0 else f"{a.sim_style} answer to: {prompt.text}",
        )
        m.Generation.objects.create(
            match=match,
            side="b",
            competitor=b,
            text=f"A {b.sim_style} answer.\n\n```\nprint('hello')\n```",
        )
    pset, _ = m.PromptSet.objects.get_or_create(
        name="xss-probe", defaults={"category": XSS_CATEGORY, "public": True}
    )
    prompt = m.Prompt.objects.create(
        prompt_set=pset, text="Show me an HTML snippet with <script> in it."
    )
    a, b = comps[0], comps[1]
    match = m.Match.objects.create(
        competitor_a=a, competitor_b=b, prompt=prompt, status=m.Match.Status.AWAITING_VOTES
    )
    m.Generation.objects.create(match=match, side="a", competitor=a, text=XSS_ANSWER)
    m.Generation.objects.create(match=match, side="b", competitor=b, text=XSS_ANSWER)


TOURNAMENTS: tuple[tuple[str, str, int, dict[str, Any]], ...] = (
    # name, format, number of entrants (strongest first), config
    ("Demo knockout", "single_elimination", 8, {}),
    ("Demo Swiss", "swiss", 9, {"rounds": 4}),
    ("Demo round robin", "round_robin", 5, {}),
    (
        "Demo benchmark Swiss",
        "swiss_dynamics",
        8,
        {"rounds": ["demo-coding", "demo-writing", "demo-math"], "eliminate": [2, 2]},
    ),
)


def seed_tournaments_with_service() -> list[m.Tournament]:
    """Create and run the demo tournaments to the end with the tournament service (in process)."""
    from arena.services.tournaments import tournament_create, tournament_run_inline

    comps = list(
        m.Competitor.objects.filter(sim_strength__isnull=False).order_by("-sim_strength", "name")
    )
    sets = list(m.PromptSet.objects.filter(name__startswith="demo-"))
    out = []
    for name, fmt, n, config in TOURNAMENTS:
        t = tournament_create(
            name=name,
            format=fmt,
            competitors=comps[:n],
            prompt_sets=sets,
            seed=11,
            config={**config, "reuse_published_prompts": True},
            # the knockout has a two-judge panel, as in the demo, so the judges page has two
            judge_pipeline=DEMO_PANEL if fmt == "single_elimination" else None,
        )  # the demo sets are public
        out.append(tournament_run_inline(tournament=t))
    return out


def seed_all(*, rebuild: bool = True, with_service: bool = True) -> dict[str, int]:
    """Everything the pages show, in a fresh database.

    With ``with_service`` (the default) the tournaments are played by the tournament service
    itself; otherwise they are written directly by the ``seed_*`` functions above.
    """
    from arena.services.leaderboard import leaderboard_rebuild_all

    demo_load()
    demo_kwise()
    rng = np.random.default_rng(8)
    if rebuild:  # entrants are seeded with their current ratings
        leaderboard_rebuild_all()
    if not m.Tournament.objects.exists():
        comps = list(m.Competitor.objects.filter(sim_strength__isnull=False).order_by("name"))
        if with_service:
            seed_tournaments_with_service()
            # a judge run re-judges the Swiss, as in the demo: a judge board to compare
            demo_judge_run(tournament="Demo Swiss", calibration_from="Demo knockout")
        else:
            with transaction.atomic():
                seed_single_elimination(rng, comps)
                seed_swiss(rng, comps[:9], name="Demo Swiss", fmt="swiss", rounds=4)
                seed_round_robin(rng, comps)
                seed_swiss_dynamics(rng, comps)
        with transaction.atomic():
            seed_vote_battles(rng, comps)
    if rebuild:
        leaderboard_rebuild_all()
    return {
        "snapshots": m.LeaderboardSnapshot.objects.count(),
        "tournaments": m.Tournament.objects.count(),
    }
