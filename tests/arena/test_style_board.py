"""Style control in the service: conv_metadata on battles, the style-controlled board.

Expected values come from outside the code under test: token counts published for OpenAI's
cl100k_base (the tiktoken cookbook), markdown counted by hand or line by line here, the
contextual Bradley-Terry optimum found by scipy on the objective written out in this file, and
intervals checked against the truth of a simulation.
"""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from arena import models as m
from arena.services import leaderboard as lb
from arena.services.battles_io import battles_export, battles_import
from arena.services.conv_metadata import conv_metadata_for_answers
from arena.services.demo import DEMO_STYLE_EFFECT, demo_load
from arena.services.matches import match_run
from arena.services.style_board import METHOD, PARAMS
from clients.tokens import count_tokens
from ranking.battle_files import read_battles
from ranking.battles import Battles
from ranking.style import bradley_terry_style
from tests.arena.test_api_common import API, assert_error
from tests.factories import CompetitorFactory, MatchFactory, PromptFactory

pytest_plugins = ["tests.arena.test_api_common"]

SIDES = ("a", "b")


# --------------------------------------------------------------------------- conv_metadata


@pytest.mark.parametrize(
    "text,n",
    [
        # OpenAI cookbook, "How to count tokens with tiktoken" (cl100k_base)
        ("tiktoken is great!", 6),
        ("antidisestablishmentarianism", 6),
        ("2 + 2 = 4", 7),
        ("お誕生日おめでとう", 9),
        ("China is great!", 4),  # [23078, 374, 2294, 0]
        ("", 0),
    ],
)
def test_token_counts_are_cl100k_base(text, n):
    assert count_tokens(text) == n


ANSWER_A = (
    "## Plan\n"
    "\n"
    "1. **Read** the input.\n"
    "  2. Sort it.\n"
    "- __note__ this\n"
    "####### seven hashes is no header\n"
    "```\n"
    "# a comment in code\n"
    "- not a list item\n"
    "**not bold**\n"
    "```\n"
    "# Done\n"
    "[sim quality=1012.5]"
)


def test_conv_metadata_of_hand_counted_answers():
    meta = conv_metadata_for_answers(answer_a=ANSWER_A, answer_b="tiktoken is great!")
    # by hand: '## Plan' and '# Done' (the code block's '# a comment' is removed first, as
    # FastChat removes code blocks); '1.' and '  2.'; '- __note__'; '**Read**'; '__note__'
    assert meta["header_count_a"] == {"h1": 1, "h2": 1, "h3": 0, "h4": 0, "h5": 0, "h6": 0}
    assert meta["list_count_a"] == {"ordered": 2, "unordered": 1}
    assert meta["bold_count_a"] == {"**": 1, "__": 1}
    assert meta["header_count_b"] == {f"h{k}": 0 for k in range(1, 7)}
    assert meta["list_count_b"] == {"ordered": 0, "unordered": 0}
    assert meta["bold_count_b"] == {"**": 0, "__": 0}
    assert meta["sum_assistant_b_tokens"] == 6  # the cookbook's count
    # the simulated answer's hidden quality marker is not part of the answer a voter sees
    shown = ANSWER_A.rsplit("\n", 1)[0]
    assert meta["sum_assistant_a_tokens"] == count_tokens(shown)
    assert meta["sum_assistant_a_tokens"] < count_tokens(ANSWER_A)


def _line_counts(text: str) -> dict[str, dict[str, int]]:
    """Markdown of a simulated answer (no code blocks) counted line by line."""
    lines = [line for line in text.splitlines() if not line.startswith("[sim quality=")]
    headers = {f"h{k}": 0 for k in range(1, 7)}
    for line in lines:
        hashes = len(line) - len(line.lstrip("#"))
        if 1 <= hashes <= 6 and line[hashes : hashes + 1] == " ":
            headers[f"h{hashes}"] += 1
    stripped = [line.lstrip() for line in lines]
    ordered = sum(1 for s in stripped if re.match(r"\d+\. ", s))
    unordered = sum(1 for s in stripped if s[:2] in ("- ", "* ", "+ "))
    bold = sum(len(re.findall(r"\*\*[^*]+\*\*", line)) for line in lines)
    return {
        "header_count": headers,
        "list_count": {"ordered": ordered, "unordered": unordered},
        "bold_count": {"**": bold, "__": 0},
    }


def _check_meta(meta: dict, texts: dict[str, str]) -> None:
    for side in SIDES:
        expected = _line_counts(texts[side])
        for group, counts in expected.items():
            assert meta[f"{group}_{side}"] == counts, (side, group, texts[side])
        shown = re.sub(r"\[sim quality=[^\]]*\]", "", texts[side]).rstrip()
        assert meta[f"sum_assistant_{side}_tokens"] == count_tokens(shown)


@pytest.mark.django_db
def test_judged_matches_carry_their_answers_conv_metadata():
    from arena.services.tournaments import tournament_create, tournament_run_inline

    styles = ("thorough", "verbose", "friendly", "concise")
    names = []
    for i, style in enumerate(styles):
        names.append(
            CompetitorFactory(sim_strength=1100 - 30 * i, sim_style=style, sim_seed=i).name
        )
    prompt = PromptFactory(text="Explain how a hash map works.")
    for topic in ("a heap", "a trie", "a B-tree"):
        PromptFactory(prompt_set=prompt.prompt_set, text=f"Explain how {topic} works.")
    t = tournament_create(
        name="style rr",
        format="round_robin",
        competitors=names,
        prompt_sets=[prompt.prompt_set.name],
        judge_pipeline={"pipeline": "single", "judges": [{"name": "sim", "kind": "simulated"}]},
        seed=2026,  # fixed: the prompt drawn per match (and so the answers' markdown) is seeded
    )
    tournament_run_inline(tournament=t)
    judged = list(m.Battle.objects.filter(source=m.Source.JUDGE).select_related("match"))
    assert len(judged) == 6
    seen = set()
    for battle in judged:
        texts = dict(battle.match.generations.values_list("side", "text"))
        assert (
            battle.conv_metadata is not None and battle.conv_metadata == battle.match.conv_metadata
        )
        _check_meta(battle.conv_metadata, texts)
        seen |= {k for s in SIDES for k, v in battle.conv_metadata[f"list_count_{s}"].items() if v}
    assert seen == {"ordered", "unordered"}  # the styles differ in markdown


@pytest.mark.django_db
def test_arena_votes_carry_the_answers_conv_metadata(anon):
    a = CompetitorFactory(sim_strength=1100, sim_style="thorough", sim_seed=1)
    b = CompetitorFactory(sim_strength=1000, sim_style="verbose", sim_seed=2)
    match = MatchFactory(
        competitor_a=a,
        competitor_b=b,
        prompt=PromptFactory(category="coding", prompt_set__public=True),
        status=m.Match.Status.PENDING,
    )
    match_run(match_id=match.pk)
    match.refresh_from_db()
    assert match.status == m.Match.Status.AWAITING_VOTES
    texts = dict(match.generations.values_list("side", "text"))
    _check_meta(match.conv_metadata, texts)
    r = anon.get(f"{API}/battles/next/")
    assert r.status_code == 200, r.content
    v = anon.post(f"{API}/votes/", {"token": r.json()["token"], "outcome": "A"}, format="json")
    assert v.status_code == 201, v.content
    battle = m.Battle.objects.get(source=m.Source.HUMAN)
    assert battle.conv_metadata == match.conv_metadata


# --------------------------------------------------------------------------- import, export


def _meta(ta: int, tb: int, *, h: int = 0, lst: int = 0, bold: int = 0, extra: bool = False):
    out = {
        "sum_assistant_a_tokens": ta,
        "sum_assistant_b_tokens": tb,
        "header_count_a": {"h1": 0, "h2": h, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "header_count_b": {"h1": 0, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "list_count_a": {"ordered": lst, "unordered": 0},
        "list_count_b": {"ordered": 0, "unordered": 1},
        "bold_count_a": {"**": bold, "__": 0},
        "bold_count_b": {"**": 0, "__": 2},
    }
    if extra:  # LMArena's other keys are kept as they are
        out.update(sum_user_tokens=17, turns=1)
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_import_keeps_and_export_writes_conv_metadata(fmt):
    records = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "conv_metadata": _meta(300, 120)},
        {"model_a": "y", "model_b": "z", "winner": "tie"},
        {
            "model_a": "z",
            "model_b": "x",
            "winner": "model_b",
            "conv_metadata": _meta(5, 900, h=3, lst=4, bold=1, extra=True),
        },
    ]
    text = "".join(json.dumps(r) + "\n" for r in records)
    report = battles_import(source=io.BytesIO(text.encode()), create_models=True)
    assert report.n_stored == 3
    stored = list(m.Battle.objects.order_by("id").values_list("conv_metadata", flat=True))
    assert stored == [r.get("conv_metadata") for r in records]
    exported = "".join(battles_export(fmt=fmt))
    if fmt == "jsonl":
        lines = [json.loads(line) for line in exported.splitlines()]
        assert [x.get("conv_metadata") for x in lines] == [r.get("conv_metadata") for r in records]
        assert "conv_metadata" not in lines[1]
    back = read_battles(io.StringIO(exported))
    assert list(back.conv_metadata) == [r.get("conv_metadata") for r in records]
    assert back.battles.n_battles == 3


# --------------------------------------------------------------------------- the board


def _simulate(seed: int, n: int, beta: np.ndarray, strength: np.ndarray):
    """Battles whose outcomes follow known strengths (log10 units) and style effects."""
    rng = np.random.default_rng(seed)
    k = len(strength)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    tokens = rng.integers(50, 800, (n, 2)) * np.where(np.arange(k) < 2, 2, 1)[np.c_[a, b]]
    marks = rng.poisson(2.0, (n, 6))
    counts = np.c_[tokens[:, 0], marks[:, :3], tokens[:, 1], marks[:, 3:]].astype(float)
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    x = (ratio - ratio.mean(0)) / ratio.std(0)
    p = expit(math.log(10) * (strength[a] - strength[b]) + x @ beta)
    outcome = np.where(rng.random(n) < p, 0, 1)
    metas = [
        {
            "sum_assistant_a_tokens": int(c[0]),
            "sum_assistant_b_tokens": int(c[4]),
            "header_count_a": int(c[1]),
            "header_count_b": int(c[5]),
            "list_count_a": int(c[2]),
            "list_count_b": int(c[6]),
            "bold_count_a": int(c[3]),
            "bold_count_b": int(c[7]),
        }
        for c in counts
    ]
    return a, b, outcome, metas, counts


def _scipy_fit(a, b, outcome, counts, k: int):
    """The board's objective written out, minimised by scipy: ratings with mean 0 (so the last
    one is minus the sum of the others), ridge 0.5 on the four coefficients only."""
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    x = (ratio - ratio.mean(0)) / ratio.std(0)
    y = np.where(outcome == 0, 1.0, np.where(outcome == 1, 0.0, 0.5))

    def split(theta):
        r = np.append(theta[: k - 1], -theta[: k - 1].sum())
        return r, theta[k - 1 :]

    def loss(theta):
        r, beta = split(theta)
        z = math.log(10) * (r[a] - r[b]) + x @ beta
        return float(np.sum(np.logaddexp(0, z) - y * z) + 0.25 * beta @ beta)

    res = minimize(loss, np.zeros(k + 3), method="BFGS", options={"gtol": 1e-9})
    r, beta = split(res.x)
    return 400 * r + 1000, beta


@pytest.fixture
def style_battles(db):
    strength = np.array([0.0, -0.1, 0.05, 0.1, -0.05])
    beta = np.array([0.5, 0.1, -0.1, 0.2])
    a, b, outcome, metas, counts = _simulate(7, 1500, beta, strength)
    comps = [CompetitorFactory(name=f"sm{i}") for i in range(len(strength))]
    names = ["model_a", "model_b", "tie"]
    m.Battle.objects.bulk_create(
        m.Battle(
            model_a=comps[int(i)],
            model_b=comps[int(j)],
            outcome=names[int(o)],
            source=m.Source.HUMAN,
            category="general",
            conv_metadata=meta,
        )
        for i, j, o, meta in zip(a, b, outcome, metas)
    )
    # battles without style counts: on the plain board, left out of the style board
    for _ in range(7):
        m.Battle.objects.create(
            model_a=comps[0], model_b=comps[1], outcome="model_a", source=m.Source.HUMAN
        )
    return a, b, outcome, counts, comps


def test_style_board_equals_an_independent_fit_and_is_served(style_battles, anon, admin_client):
    a, b, outcome, counts, comps = style_battles
    ratings, beta = _scipy_fit(a, b, outcome, counts, len(comps))
    snaps = {s.method: s for s in lb.leaderboard_rebuild(source="human", category="all")}
    assert {"bt", METHOD} <= set(snaps)
    snap = snaps[METHOD]
    style = snap.board["style"]
    assert style["features"] == ["length", "header", "list", "bold"]
    np.testing.assert_allclose(style["coefficients"], beta, atol=1e-4)
    got = {r["model"]: r["rating"] for r in snap.ratings}
    np.testing.assert_allclose([got[c.name] for c in comps], ratings, atol=0.05)
    assert snap.n_battles == 1500 and snaps["bt"].n_battles == 1507
    assert snap.inputs["excluded_without_metadata"] == 7
    assert all(lo < c < hi for lo, c, hi in zip(style["lower"], beta, style["upper"]))

    # the API: style_control=true is the bt_style board, with its coefficients
    r = anon.get(f"{API}/leaderboard/", {"source": "human", "style_control": "true"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["method"] == METHOD and body["version"] == snap.version
    assert body["board"]["style"]["coefficients"] == style["coefficients"]
    plain = anon.get(f"{API}/leaderboard/", {"source": "human"}).json()
    assert plain["method"] == "bt" and "style" not in plain["board"]
    bad = anon.get(f"{API}/leaderboard/", {"method": "elo", "style_control": "true"})
    assert_error(bad, 400, field="style_control")

    # the page: the toggle (links, no script needed) and the coefficients on the note
    page = anon.get("/", {"method": "bt", "style_control": "true", "source": "human"})
    html = page.content.decode()
    assert 'id="lb-style-toggle"' in html
    assert re.search(r'id="lb-style-on"[^>]*aria-current="page"', html)
    assert 'id="lb-style-coefficients"' in html
    for value in style["coefficients"]:
        assert f"{value:+.3f}" in html
    assert "7 battles of this selection carry no style counts" in html
    assert "cl100k_base" in html
    for row in body["ratings"]:  # the page shows the API's numbers
        assert f">{row['model']}</a>" in html
    plain_page = anon.get("/", {"method": "bt", "source": "human"}).content.decode()
    assert re.search(r'id="lb-style-off"[^>]*aria-current="page"', plain_page)
    assert 'id="lb-style-coefficients"' not in plain_page

    # the snapshot's export is exactly the battles it used
    export = admin_client.get(f"{API}/battles/export/", {"snapshot": snap.id})
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert len(lines) == 1500 and all("conv_metadata" in json.loads(x) for x in lines)


def test_rebuild_with_unchanged_data_publishes_no_new_style_version(style_battles):
    first = {s.method: s for s in lb.leaderboard_rebuild(source="human", methods=[METHOD])}
    again = {s.method: s for s in lb.leaderboard_rebuild(source="human", methods=[METHOD])}
    assert again[METHOD].pk == first[METHOD].pk


def test_board_intervals_cover_the_truth_in_simulation():
    """The board's 95% sandwich intervals, over 200 simulated arenas with a known truth."""
    beta = np.array([0.4, 0.15, -0.1, 0.2])
    strength = np.array([0.0, -0.08, 0.04, 0.1, -0.06])
    truth = 400 * (strength - strength.mean())
    hits_beta = np.zeros(4)
    hits_rating = np.zeros(len(strength))
    reps = 200
    for rep in range(reps):
        a, b, outcome, metas, _ = _simulate(1000 + rep, 800, beta, strength)
        battles = Battles(tuple(f"m{i}" for i in range(len(strength))), a, b, outcome)
        res = bradley_terry_style(battles, metas, **PARAMS)
        hits_beta += (res.lower <= beta) & (beta <= res.upper)
        shift = PARAMS["init"]
        lo, hi = res.ratings.lower - shift, res.ratings.upper - shift
        hits_rating += (lo <= truth) & (truth <= hi)
    coverage = np.r_[hits_beta, hits_rating] / reps
    # 95% nominal; 200 replicates give a standard error of 1.5 points
    assert ((coverage > 0.9) & (coverage < 0.99)).all(), coverage


# --------------------------------------------------------------------------- the demo


@pytest.mark.django_db
def test_demo_battles_carry_conv_metadata_and_show_a_style_effect():
    demo_load()
    assert not m.Battle.objects.filter(conv_metadata__isnull=True).exists()
    snaps = {s.method: s for s in lb.leaderboard_rebuild(methods=["bt", METHOD])}
    style = snaps[METHOD].board["style"]
    assert snaps[METHOD].n_battles == snaps["bt"].n_battles == m.Battle.objects.count()
    # the demo voters favour longer answers (DEMO_STYLE_EFFECT): the board finds it
    assert DEMO_STYLE_EFFECT[0] > 0 and style["lower"][0] > 0
