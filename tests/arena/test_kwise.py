"""K-wise votes (K-Sort Arena): serving, ranking, 4xx cases, idempotency, the K-wise boards."""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid

import pytest
from django.core import signing
from numpy.testing import assert_allclose

from arena import models as m
from arena.exceptions import ApplicationError
from arena.services.battles_io import battles_export, battles_import
from arena.services.kwise import KWISE_TOKEN_SALT, kwise_battle_next, kwise_vote_record
from arena.services.kwise_board import kwise_board_rebuild
from arena.services.leaderboard import leaderboard_rebuild, listing_rule
from arena.services.votes import voter_hash_make
from ranking.battle_files import read_battles
from tests.arena.test_api_common import API, assert_error, servable_match
from tests.factories import CompetitorFactory, MatchFactory, PromptFactory

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db


def _prompt_with_answers(n: int, *, category: str = "") -> tuple[m.Prompt, list[m.Competitor]]:
    """One open-arena prompt answered by ``n`` competitors (in n // 2 + 1 matches)."""
    prompt = PromptFactory(category=category, prompt_set__public=True)
    comps = [CompetitorFactory() for _ in range(n)]
    for i in range(0, n, 2):
        a, b = comps[i], comps[(i + 1) % n]
        match = MatchFactory(
            competitor_a=a, competitor_b=b, prompt=prompt, status=m.Match.Status.AWAITING_VOTES
        )
        m.Generation.objects.create(match=match, side="a", competitor=a, text=f"text {a.pk}")
        m.Generation.objects.create(match=match, side="b", competitor=b, text=f"text {b.pk}")
    return prompt, comps


def _next(client, **params):
    return client.get(f"{API}/battles/kwise/next/", params)


def _vote(client, token, ranking, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        f"{API}/votes/kwise/", {"token": token, "ranking": ranking}, format="json", **headers
    )


def _owner_of(text: str) -> int:
    return int(text.split()[-1])


def test_kwise_flow_hides_names_then_records_one_result(anon):
    _, comps = _prompt_with_answers(4, category="coding")
    r = _next(anon, k=4)
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"token", "expires_in", "prompt", "category", "k", "answers"}
    assert body["k"] == 4 and body["category"] == "coding"
    assert [a["label"] for a in body["answers"]] == ["A", "B", "C", "D"]
    for c in comps:
        assert c.name not in r.content.decode()
    owners = {a["label"]: _owner_of(a["text"]) for a in body["answers"]}
    assert sorted(owners.values()) == sorted(c.pk for c in comps)

    v = _vote(anon, body["token"], ["C", "A", "D", "B"])
    assert v.status_code == 201, v.content
    out = v.json()
    names = {c.pk: c.name for c in comps}
    assert out["ranking"] == ["C", "A", "D", "B"] and out["k"] == 4
    assert out["results"] == [
        {"label": label, "model": names[owners[label]], "rank": rank}
        for label, rank in (("A", 2), ("B", 4), ("C", 1), ("D", 3))
    ]
    battle = m.KwiseBattle.objects.get()
    assert (battle.k, battle.source, battle.category) == (4, "human", "coding")
    entries = list(battle.entries.order_by("position").values_list("competitor_id", "rank"))
    assert entries == [(owners["A"], 2), (owners["B"], 4), (owners["C"], 1), (owners["D"], 3)]
    assert m.KwiseServe.objects.get().voted_at is not None
    # pairwise records are untouched
    assert m.Vote.objects.count() == 0 and m.Battle.objects.count() == 0

    again = _vote(anon, body["token"], ["A", "B", "C", "D"])
    assert_error(again, 409, "already_voted")
    assert m.KwiseBattle.objects.count() == 1


def test_idempotency_key_replays_the_first_response(anon):
    _prompt_with_answers(3)
    token = _next(anon, k=3).json()["token"]
    key = str(uuid.uuid4())
    first = _vote(anon, token, ["B", "A", "C"], key=key)
    second = _vote(anon, token, ["B", "A", "C"], key=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert m.KwiseBattle.objects.count() == 1 and m.KwiseEntry.objects.count() == 3


@pytest.mark.parametrize(
    ("ranking", "message"),
    [
        (["A", "A", "B"], "ranked twice"),
        (["A", "B"], "Rank all 3"),
        (["A", "B", "E"], "Unknown answer label 'E'"),
        (["A", "B", "C", "D"], "Unknown answer label 'D'"),
        ("ABC", None),
        ([], "Rank all 3"),
    ],
)
def test_bad_rankings_are_400_with_a_field_message(anon, ranking, message):
    _prompt_with_answers(3)
    token = _next(anon, k=3).json()["token"]
    err = assert_error(_vote(anon, token, ranking), 400, field="ranking")
    if message:
        assert message in " ".join(err["fields"]["ranking"])
    assert m.KwiseBattle.objects.count() == 0
    # the serve is still open: a good ranking goes through
    assert _vote(anon, token, ["C", "B", "A"]).status_code == 201


@pytest.mark.parametrize("k", ["5", "2", "x"])
def test_wrong_k_is_400_on_the_k_field(anon, k):
    _prompt_with_answers(4)
    assert_error(_next(anon, k=k), 400, field="k")
    assert m.KwiseServe.objects.count() == 0


def test_no_prompt_with_k_answers_is_404(anon):
    servable_match()  # two competitors only
    assert_error(_next(anon, k=3), 404, "no_battle")
    _prompt_with_answers(3)
    assert _next(anon, k=3).status_code == 200
    assert_error(_next(anon, k=4), 404, "no_battle")


def test_token_checks(anon, settings):
    _prompt_with_answers(3)
    token = _next(anon, k=3).json()["token"]
    assert_error(_vote(anon, token + "x", ["A", "B", "C"]), 400, "invalid_token", field="token")
    # a pairwise token is not a K-wise token (its own salt)
    pair = signing.dumps({"s": 1, "n": "x"}, salt="ludus.battle-token", compress=False)
    assert_error(_vote(anon, pair, ["A", "B", "C"]), 400, "invalid_token")
    serve = m.KwiseServe.objects.get()
    forged_nonce = signing.dumps({"s": serve.pk, "n": "0" * 32}, salt=KWISE_TOKEN_SALT)
    assert_error(_vote(anon, forged_nonce, ["A", "B", "C"]), 400, "invalid_token")
    settings.LUDUS_BATTLE_TOKEN_MAX_AGE = 1
    time.sleep(2.1)
    assert_error(_vote(anon, token, ["A", "B", "C"]), 400, "token_expired", field="token")
    assert m.KwiseBattle.objects.count() == 0


def test_another_voters_serve_is_403(anon):
    from rest_framework.test import APIClient

    _prompt_with_answers(3)
    token = _next(anon, k=3).json()["token"]
    other = APIClient()
    _next(other, k=3)  # gets its own cookie
    assert_error(_vote(other, token, ["A", "B", "C"]), 403, "not_served")
    fresh = APIClient()
    assert_error(_vote(fresh, token, ["A", "B", "C"]), 403, "not_served")


def _stored_votes(n_voters: int, comps: list[m.Competitor], order_of) -> None:
    for v in range(n_voters):
        voter = voter_hash_make(anon_id=f"v{v}")
        served = kwise_battle_next(voter_hash=voter, k=len(comps), rng=v)
        labels = [a["label"] for a in served.answers]
        owner = {a["label"]: _owner_of(a["text"]) for a in served.answers}
        ranking = sorted(labels, key=lambda lab: order_of(owner[lab], v))
        kwise_vote_record(token=served.token, ranking=ranking, voter_hash=voter)


def test_kwise_boards_rank_from_the_stored_votes():
    from openskill.models import PlackettLuce

    _, comps = _prompt_with_answers(3)
    strength = {comps[0].pk: 0, comps[1].pk: 1, comps[2].pk: 2}  # comps[0] best
    # voters mostly agree; every fourth swaps the top two (so no model wins every pair)
    _stored_votes(12, comps, lambda cid, v: strength[cid] if v % 4 else [1, 0, 2][strength[cid]])
    snaps = {
        s.method: s
        for s in leaderboard_rebuild(source="human", methods=["kwise_bt", "kwise_openskill"])
    }
    assert set(snaps) == {"kwise_bt", "kwise_openskill"}
    bt_rows = snaps["kwise_bt"].ratings
    assert [r["competitor_id"] for r in sorted(bt_rows, key=lambda r: -r["rating"])] == [
        c.pk for c in comps
    ]
    assert all(r["battles"] == 12 for r in bt_rows)
    assert snaps["kwise_bt"].n_battles == 12
    # the OpenSkill board is the package's free-for-all updates over the votes in time order
    model = PlackettLuce()
    rating = {c.pk: model.rating() for c in comps}
    for battle in m.KwiseBattle.objects.order_by("tstamp", "id"):
        best_first = list(battle.entries.order_by("rank").values_list("competitor_id", flat=True))
        new = model.rate([[rating[c]] for c in best_first])
        for c, [r] in zip(best_first, new):
            rating[c] = r
    got = {r["competitor_id"]: r["rating"] for r in snaps["kwise_openskill"].ratings}
    assert_allclose([got[c.pk] for c in comps], [rating[c.pk].mu for c in comps], rtol=1e-12)
    # unchanged data: no new version
    again = kwise_board_rebuild(
        method="kwise_bt",
        source="human",
        category="all",
        selection={"excluded_competitors": []},
        withdrawn=set(),
        rule=listing_rule(),
    )
    assert again is not None and again.version == snaps["kwise_bt"].version


def test_page_and_api_show_the_same_kwise_board(anon, client):
    _, comps = _prompt_with_answers(3)
    _stored_votes(4, comps, lambda cid, v: (cid + v) % 3)
    leaderboard_rebuild(source="human", methods=["kwise_bt"])
    api = anon.get(f"{API}/leaderboard/", {"method": "kwise_bt", "source": "human"})
    assert api.status_code == 200, api.content
    assert {r["model"] for r in api.json()["ratings"]} == {c.name for c in comps}
    page = client.get("/", {"method": "kwise_bt", "source": "human"})
    assert page.status_code == 200
    for row in api.json()["ratings"]:
        assert row["model"] in page.content.decode()


def test_pairwise_boards_ignore_kwise_votes():
    match = servable_match()
    m.Battle.objects.create(
        model_a=match.competitor_a, model_b=match.competitor_b, outcome="model_a", source="human"
    )
    _, comps = _prompt_with_answers(3)
    _stored_votes(3, comps, lambda cid, v: cid)
    snaps = {s.method: s for s in leaderboard_rebuild(source="human", methods=["bt"])}
    assert snaps["bt"].n_battles == 1
    assert {r["competitor_id"] for r in snaps["bt"].ratings} == {
        match.competitor_a_id,
        match.competitor_b_id,
    }


def test_vote_page_renders(client):
    page = client.get("/vote/kwise", {"k": 3})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-k="3"' in html and "vote_kwise.js" in html
    assert 'data-k="4"' in client.get("/vote/kwise", {"k": "<script>"}).content.decode()


# --------------------------------------------------------------------------- import and export

KWISE_FILE = (
    "\n".join(
        json.dumps(r)
        for r in [
            {"model_a": "alpha", "model_b": "beta", "winner": "model_a", "tstamp": 1700000000},
            {"models": ["alpha", "beta", "gamma"], "ranks": [2, 1, 3], "tstamp": 1700000001},
            {
                "models": ["delta", "gamma", "beta", "alpha"],
                "ranks": [1, 4, 2, 3],
                "tstamp": 1700000002,
                "category": "math",
                "anony": False,
            },
        ]
    )
    + "\n"
)


@pytest.fixture
def models4(db):
    return {n: CompetitorFactory(name=n) for n in ("alpha", "beta", "gamma", "delta")}


def test_import_stores_kwise_records_and_export_round_trips(models4):
    report = battles_import(source=io.BytesIO(KWISE_FILE.encode()), category="general")
    assert (report.n_battles, report.n_kwise, report.n_rows) == (1, 2, 3)
    battles = list(m.KwiseBattle.objects.order_by("tstamp"))
    assert [(b.k, b.source, b.category, b.anony) for b in battles] == [
        (3, "import", "general", True),
        (4, "import", "math", False),
    ]
    assert list(
        battles[1].entries.order_by("position").values_list("competitor__name", "rank")
    ) == [("delta", 1), ("gamma", 4), ("beta", 2), ("alpha", 3)]
    text = "".join(battles_export(fmt="jsonl"))
    read = read_battles(io.StringIO(text))
    original = read_battles(io.StringIO(KWISE_FILE))
    assert read.kwise is not None and original.kwise is not None
    assert read.kwise.models == original.kwise.models
    assert read.kwise.shown == original.kwise.shown
    assert read.kwise.ranks == original.kwise.ranks
    assert_allclose(read.kwise.tstamp, original.kwise.tstamp)
    assert read.kwise_category.tolist() == ["general", "math"]
    assert len(read.battles) == 1
    # a CSV export has no K-wise form: they are left out
    assert "delta" not in "".join(battles_export(fmt="csv"))


def test_malformed_kwise_record_fails_the_import_with_its_line(models4):
    bad = KWISE_FILE + json.dumps({"models": ["alpha", "beta", "gamma"], "ranks": [1, 1, 2]})
    with pytest.raises(ApplicationError) as info:
        battles_import(source=io.BytesIO(bad.encode()))
    assert info.value.code == "invalid_file"
    assert info.value.extra["errors"][0]["line"] == 4
    assert "permutation" in info.value.extra["errors"][0]["message"]
    assert m.KwiseBattle.objects.count() == 0 and m.Battle.objects.count() == 0


def test_kwise_board_snapshot_export_rates_to_the_same_numbers(models4, tmp_path):
    from ranking.cli import main

    battles_import(source=io.BytesIO(KWISE_FILE.encode()))
    _, comps = _prompt_with_answers(3)
    _stored_votes(5, comps, lambda cid, v: (cid * 7 + v) % 5)
    snaps = {
        s.method: s
        for s in leaderboard_rebuild(source="combined", methods=["kwise_openskill", "kwise_bt"])
    }
    snap = snaps["kwise_openskill"]
    text = "".join(battles_export(fmt="jsonl", snapshot=snap.pk))
    assert text.count("\n") == 7 and '"model_a"' not in text
    path = tmp_path / "snap.jsonl"
    path.write_text(text)
    out = tmp_path / "out.json"
    with open(out, "w") as fh, contextlib.redirect_stdout(fh):
        assert main(["rate", str(path), "--method", "openskill", "--output", "json"]) == 0
    cli = {r["model"]: r["rating"] for r in json.loads(out.read_text())["ratings"]}
    board = {r["model"]: r["rating"] for r in snap.ratings}
    assert cli.keys() == board.keys()
    assert_allclose([cli[k] for k in board], list(board.values()), rtol=1e-12)
    with pytest.raises(ApplicationError) as info:
        list(battles_export(fmt="csv", snapshot=snap.pk))
    assert "JSON Lines" in info.value.field_errors["format"][0]


def test_demo_kwise_votes_follow_the_hidden_strengths_and_load_once():
    import numpy as np

    from arena.services.demo import DEMO_COMPETITORS, demo_kwise, demo_load

    demo_load(n_battles=10)
    assert demo_kwise(n_votes=300) == 300
    assert demo_kwise(n_votes=300) == 0  # a second load adds nothing
    assert sorted(set(m.KwiseBattle.objects.values_list("k", flat=True))) == [3, 4]
    snap = {s.method: s for s in leaderboard_rebuild(source="human", methods=["kwise_bt"])}
    rating = {r["model"]: r["rating"] for r in snap["kwise_bt"].ratings}
    truth = {name: strength for name, strength, *_ in DEMO_COMPETITORS}
    names = sorted(truth)
    x = np.array([rating[n] for n in names])
    y = np.array([truth[n] for n in names])
    concordant = np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])
    tau = concordant.sum() / (len(names) * (len(names) - 1))
    assert tau > 0.6, tau


def test_admin_shows_a_kwise_battle_read_only(client, admin, models4):
    battles_import(source=io.BytesIO(KWISE_FILE.encode()))
    battle = m.KwiseBattle.objects.filter(k=4).get()
    client.force_login(admin)
    listing = client.get("/admin/arena/kwisebattle/")
    assert listing.status_code == 200
    detail = client.get(f"/admin/arena/kwisebattle/{battle.pk}/change/")
    assert detail.status_code == 200
    assert "delta" in detail.content.decode()
    assert client.post(f"/admin/arena/kwisebattle/{battle.pk}/delete/").status_code == 403
