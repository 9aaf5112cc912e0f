"""Honest boards (issue 13 items 3-6, issue 14 "only the Bradley-Terry board moves").

A one-battle newcomer and a two-model island next to an established group; a private and a
withdrawn model; pair counts imported after individual battles; an old snapshot reproduced by
``python -m ranking rate`` from its export after new battles arrived. Expected values come from
the ranking CLI run on the exported file (an independent path through the data) or from the
listing rule's definition, never from the service's own output.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from arena import models as m
from arena.services import leaderboard as lb
from arena.services.battles_io import battles_import
from tests.arena.test_api_common import API
from tests.factories import CompetitorFactory

pytest_plugins = ["tests.arena.test_api_common"]

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ESTABLISHED = [f"est-{k}" for k in range(6)]


def _battles(
    pairs: list[tuple[m.Competitor, m.Competitor, str]],
    *,
    start: int = 0,
    source: str = "human",
    category: str = "general",
) -> None:
    m.Battle.objects.bulk_create(
        [
            m.Battle(
                model_a=a,
                model_b=b,
                outcome=o,
                source=source,
                category=category,
                tstamp=T0 + timedelta(seconds=start + k, microseconds=137 * k),
            )
            for k, (a, b, o) in enumerate(pairs)
        ]
    )


def _round_robin(rng: np.random.Generator, comps: list[m.Competitor], per_pair: int) -> list:
    strength = {c.id: 60.0 * k for k, c in enumerate(comps)}
    out = []
    for i, a in enumerate(comps):
        for b in comps[i + 1 :]:
            p = 1.0 / (1.0 + 10 ** (-(strength[a.id] - strength[b.id]) / 400.0))
            for _ in range(per_pair):
                u = rng.random()
                out.append((a, b, "model_a" if u < p * 0.9 else "model_b" if u < 0.9 else "tie"))
    rng.shuffle(out)
    return out


@pytest.fixture
def board(db, private_cache):
    """Six established models (125 battles, 5 opponents each), a one-battle newcomer that won,
    a two-model island, a private model that beat everyone, a withdrawn established model."""
    rng = np.random.default_rng(13)
    est = [CompetitorFactory(name=n) for n in ESTABLISHED]
    newcomer = CompetitorFactory(name="newcomer-one-win")
    i1, i2 = CompetitorFactory(name="island-a"), CompetitorFactory(name="island-b")
    private = CompetitorFactory(name="secret-model", visibility=m.Competitor.Visibility.PRIVATE)
    m.Competitor.objects.filter(id=est[1].id).update(status=m.Competitor.Status.WITHDRAWN)
    pairs = _round_robin(rng, est, 25)
    pairs.append((newcomer, est[5], "model_a"))
    pairs += [(i1, i2, "model_a")] * 30 + [(i1, i2, "model_b")] * 2
    pairs += [(private, e, "model_a") for e in est for _ in range(30)]
    _battles(pairs)
    return {"est": est, "newcomer": newcomer, "island": (i1, i2), "private": private}


def _latest(method: str, source: str = "combined", category: str = "all") -> m.LeaderboardSnapshot:
    return m.LeaderboardSnapshot.objects.filter(
        method=method, source=source, category=category
    ).latest("version")


def test_newcomer_and_island_never_ranked_above_established(board, anon, client):
    snaps = lb.leaderboard_rebuild()
    assert {s.method for s in snaps} >= {
        "bt",
        "bt_pair_frequency",
        "elo",
        "openskill",
        "winrate",
        "alpharank",
        "expected_score",
    }
    for snap in snaps:
        rows = {r["model"]: r for r in snap.ratings}
        assert "secret-model" not in rows
        new, ia, ib = rows["newcomer-one-win"], rows["island-a"], rows["island-b"]
        assert (new["provisional"], new["rank"], new["component"], new["section"]) == (
            True,
            None,
            0,
            "provisional",
        )
        for r in (ia, ib):
            assert r["component"] == 1 and r["rank"] is None and r["section"] == "separate"
        for name in ESTABLISHED:  # est-5 also met the newcomer
            r = rows[name]
            expected = (126, 6) if name == "est-5" else (125, 5)
            assert (r["provisional"], r["component"], r["battles"], r["opponents"]) == (
                False,
                0,
                *expected,
            )
            assert r["rank"] >= 1
        assert (
            rows[ESTABLISHED[1]]["withdrawn"] is True and rows[ESTABLISHED[0]]["withdrawn"] is False
        )
        # the ranked section comes first, every unranked model after every ranked one
        sections = [r["section"] for r in snap.ratings]
        assert sections == sorted(sections, key=lb.SECTIONS.index)
        # every bound that exists holds its value
        for r in snap.ratings:
            if r["lower"] is not None:
                assert r["lower"] <= r["rating"], (snap.method, r)
            if r["upper"] is not None:
                assert r["rating"] <= r["upper"], (snap.method, r)
        assert snap.board["listing"] == {"min_battles": 100, "min_opponents": 5}

    bt = {r["model"]: r for r in _latest("bt").ratings}
    # Rank(UB) by hand from the established rows' own intervals
    est_rows = [bt[n] for n in ESTABLISHED]
    for r in est_rows:
        assert r["rank"] == 1 + sum(o["lower"] > r["upper"] for o in est_rows)
    # every board has an interval now (Elo: bootstrap); Rank(UB) among the established uses it
    for method in (
        "bt_pair_frequency",
        "elo",
        "openskill",
        "winrate",
        "alpharank",
        "expected_score",
    ):
        rows_m = {r["model"]: r for r in _latest(method).ratings}
        est_m = [rows_m[n] for n in ESTABLISHED]
        for r in est_m:
            assert r["lower"] is not None and r["upper"] is not None, (method, r)
            assert r["rank"] == 1 + sum(o["lower"] > r["upper"] for o in est_m), (method, r)

    # page == API for these flags, and the page lists the unranked apart
    api = anon.get(f"{API}/leaderboard/?method=bt").json()
    # the private id as a number of its own (not a digit run of another, e.g. battles_upto)
    assert "excluded_competitors" not in api["inputs"] and not re.search(
        rf"\b{board['private'].id}\b", json.dumps(api["inputs"])
    )
    page = client.get("/?method=bt")
    assert page.status_code == 200
    keys = ("model", "rank", "provisional", "component", "withdrawn", "section")
    assert [{k: r[k] for k in keys} for r in api["ratings"]] == [
        {k: r[k] for k in keys} for r in page.context["lb"]["rows"]
    ]
    html = page.content.decode()
    assert "secret-model" not in html
    assert "Provisional" in html and "Not comparable with the main group" in html
    assert (
        '<span class="badge">withdrawn</span>' in html
        and '<span class="badge">group 2</span>' in html
    )


def test_listing_rule_comes_from_settings(board, settings):
    settings.LUDUS_LISTING_MIN_BATTLES = 1
    settings.LUDUS_LISTING_MIN_OPPONENTS = 1
    rows = {r["model"]: r for r in lb.leaderboard_rebuild(methods=["bt"])[0].ratings}
    assert (
        rows["newcomer-one-win"]["provisional"] is False
        and rows["newcomer-one-win"]["rank"] is not None
    )
    assert (
        rows["island-a"]["rank"] is None
    )  # another component is never ranked against the main group


def _cli_rate(path: Path, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "ranking", "rate", str(path), *args, "--output", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return {r["model"]: r for r in json.loads(out.stdout)["ratings"]}


def _assert_reproduced(snapshot: m.LeaderboardSnapshot, cli: dict) -> None:
    rows = {r["model"]: r for r in snapshot.ratings}
    assert set(rows) == set(cli)
    for name, r in rows.items():
        for key in ("rating", "lower", "upper"):
            if r[key] is None:
                assert cli[name][key] is None
            else:
                assert abs(r[key] - cli[name][key]) <= 1e-9, (
                    snapshot.method,
                    name,
                    key,
                    r[key],
                    cli[name][key],
                )


def test_old_snapshot_reproduced_from_its_export(board, tmp_path, admin_client):
    old_bt, old_elo, old_os, old_wr = lb.leaderboard_rebuild(
        methods=["bt", "elo", "openskill", "winrate"]
    )
    est = board["est"]
    # many new battles, some with timestamps older than the old snapshot's battles
    _battles(_round_robin(np.random.default_rng(5), est, 40), start=-10_000)
    new_bt, new_elo = lb.leaderboard_rebuild(methods=["bt", "elo"])
    assert new_bt.version == old_bt.version + 1 and new_bt.n_battles > old_bt.n_battles

    path = tmp_path / "old.jsonl"
    call_command("export_battles", "--snapshot", str(old_bt.id), "-o", str(path))
    lines = path.read_text().splitlines()
    assert len(lines) == old_bt.n_battles
    assert "secret-model" not in path.read_text()
    _assert_reproduced(old_bt, _cli_rate(path, "--method", "bt", "--ci", "profile"))
    # the API returns the same bytes
    r = admin_client.get(f"{API}/battles/export/?snapshot={old_elo.id}")
    assert r.status_code == 200
    api_path = tmp_path / "old-api.jsonl"
    api_path.write_bytes(b"".join(r.streaming_content))
    assert api_path.read_text() == path.read_text()
    _assert_reproduced(
        old_elo,
        _cli_rate(
            api_path,
            "--method",
            "elo",
            "--k",
            "4",
            "--ci",
            "bootstrap",
            "--rounds",
            "100",
            "--seed",
            "0",
        ),
    )
    for snap, args in (
        (old_os, ("--method", "openskill", "--model", "plackett-luce")),
        (old_wr, ("--method", "winrate")),
    ):
        assert snap.inputs["battles_upto"] == old_bt.inputs["battles_upto"]
        _assert_reproduced(snap, _cli_rate(path, *args))
    # and the new snapshot differs from the old one (the new battles did arrive)
    assert {r["model"]: r["rating"] for r in new_bt.ratings} != {
        r["model"]: r["rating"] for r in old_bt.ratings
    }


def test_snapshot_export_errors(board, admin_client):
    (snap,) = lb.leaderboard_rebuild(methods=["bt"])
    r = admin_client.get(f"{API}/battles/export/?snapshot=999999")
    assert r.status_code == 404 and "snapshot" in r.json()["error"]["fields"]
    r = admin_client.get(f"{API}/battles/export/?snapshot={snap.id}&source=human")
    assert r.status_code == 400 and "snapshot" in r.json()["error"]["fields"]
    legacy = m.LeaderboardSnapshot.objects.create(method="bt", version=99, data_version="x")
    r = admin_client.get(f"{API}/battles/export/?snapshot={legacy.id}")
    assert r.status_code == 400 and "snapshot" in r.json()["error"]["fields"]
    with pytest.raises(CommandError, match="snapshot"):
        call_command("export_battles", "--snapshot", "999999", stdout=io.StringIO())


PAIRS = "model_a,model_b,wins_a,wins_b,ties\nest-0,est-5,70,20,10\nest-2,est-3,5,40,5\n"


def test_every_board_moves_after_a_pair_counts_import(board, tmp_path, client):
    before = {s.method: s for s in lb.leaderboard_rebuild()}
    report = battles_import(source=io.StringIO(PAIRS), fmt="pairs")
    assert report.n_battles == 150
    after = {s.method: s for s in lb.leaderboard_rebuild()}
    assert set(after) == set(before)
    last_pc = m.PairCount.objects.latest("id").id
    for method, snap in after.items():
        assert snap.version == before[method].version + 1, method
        used, excluded = snap.inputs["pair_counts_upto"], snap.inputs["excluded_pair_counts"]
        if method in ("elo", "openskill"):  # online: pair counts have no order; the board says so
            assert used is None and excluded == {"rows": 2, "battles": 150}, method
            assert snap.n_battles == before[method].n_battles
        else:
            assert used == last_pc and excluded == {"rows": 0, "battles": 0}, method
            assert snap.n_battles == before[method].n_battles + 150, method
    assert "excludes 150 imported pair-count battles" in client.get("/?method=elo").content.decode()
    assert "excludes" not in client.get("/?method=winrate").content.decode()

    # a snapshot that used pair counts is exported (and reproduced) as pair counts
    bt = after["bt"]
    out = io.StringIO()
    with pytest.raises(CommandError, match="format=pairs"):
        call_command("export_battles", "--snapshot", str(bt.id), stdout=out)
    path = tmp_path / "bt.csv"
    call_command("export_battles", "--snapshot", str(bt.id), "--format", "pairs", "-o", str(path))
    _assert_reproduced(bt, _cli_rate(path, "--method", "bt", "--ci", "profile"))


def test_public_vote_export(board, anon):
    _battles([(board["est"][0], board["est"][2], "model_b")], start=50_000, source="judge")
    r = anon.get(f"{API}/battles/export/public/")
    assert r.status_code == 200
    records = [json.loads(line) for line in b"".join(r.streaming_content).decode().splitlines()]
    expected = m.Battle.objects.filter(source="human").exclude(model_a=board["private"]).count()
    assert len(records) == expected
    assert set(records[0]) == {"model_a", "model_b", "winner", "tstamp", "anony", "category"}
    assert not any("secret-model" in (x["model_a"], x["model_b"]) for x in records)
    r = anon.get(f"{API}/battles/export/public/?format=pairs")
    assert r.status_code == 400 and "format" in r.json()["error"]["fields"]
    assert anon.get(f"{API}/battles/export/").status_code in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_watermark_waits_for_a_battle_committing_late(private_cache):
    """A battle with a smaller id committing after one with a larger id is not lost between
    the snapshot and its export."""
    if connection.vendor != "postgresql":
        pytest.skip("the commit-order race exists on PostgreSQL")
    a, b = CompetitorFactory(name="late-a"), CompetitorFactory(name="late-b")
    inserted, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                m.Battle.objects.create(model_a=a, model_b=b, outcome="model_a", source="human")
                inserted.set()
                release.wait(5)
                time.sleep(0.05)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert inserted.wait(5)
    m.Battle.objects.create(
        model_a=b, model_b=a, outcome="model_a", source="human"
    )  # larger id, committed
    release.set()
    data = lb.battle_data_load()
    writer.join()
    assert data.n_records == 2
    assert lb.scope_battles(data.inputs).count() == data.n_records


def _shown(text: str) -> float:
    return float(text.replace("−∞", "-inf").replace("+∞", "inf"))


def test_shown_values_stay_apart_and_inside_their_shown_intervals(db, private_cache, client):
    """α-Rank masses that differ in the 4th decimal, and E[S] = 3.4 with a narrow interval
    (shown as "3.4 [3, 3]" before)."""
    from arena.services.leaderboard import snapshot_publish

    comps = [CompetitorFactory(name=f"m{k:02d}") for k in range(18)]
    masses = [0.05 + 0.0004 * k for k in range(18)]
    snapshot_publish(
        method="alpharank",
        source="combined",
        category="all",
        data_version="a",
        params={},
        ratings=[
            {
                "model": c.name,
                "competitor_id": c.id,
                "rating": v,
                "lower": None,
                "upper": None,
                "rank": 1,
                "battles": 200,
                "section": "ranked",
            }
            for c, v in zip(comps, masses)
        ],
        n_battles=1800,
        compute_ms=1,
        board={"interval": "", "listing": {"min_battles": 100, "min_opponents": 5}},
    )
    snapshot_publish(
        method="expected_score",
        source="combined",
        category="all",
        data_version="e",
        params={},
        ratings=[
            {
                "model": c.name,
                "competitor_id": c.id,
                "rating": 3.4 - 0.01 * k,
                "lower": 3.37 - 0.01 * k,
                "upper": 3.43 - 0.01 * k,
                "rank": 1,
                "battles": 200,
                "section": "ranked",
            }
            for k, c in enumerate(comps[:3])
        ],
        n_battles=600,
        compute_ms=1,
        board={"interval": "± 1.96 Monte Carlo standard errors"},
    )
    rows = client.get("/?method=alpharank").context["lb"]["rows"]
    assert len({r["rating_text"] for r in rows}) == 18
    assert all(r["interval_text"] == "no interval" for r in rows)
    page = client.get("/?method=expected_score")
    html = page.content.decode()
    assert "Interval: ± 1.96 Monte Carlo standard errors." in html
    for r in page.context["lb"]["rows"]:
        lo, hi = (_shown(x) for x in r["interval_text"].strip("[]").split(", "))
        assert lo <= _shown(r["rating_text"]) <= hi, r
        assert f'{r["rating_text"]} <span class="muted small">{r["interval_text"]}</span>' in html
    assert page.context["lb"]["rows"][0]["rating_text"] == "3.400"


@pytest.mark.django_db(transaction=True)
def test_a_long_import_does_not_stall_the_rebuild(private_cache):
    """While a long write holds its transaction, the rebuild gives up within the lock timeout
    (votes would queue behind a waiting lock) and publishes nothing half-known."""
    if connection.vendor != "postgresql":
        pytest.skip("the commit-order race exists on PostgreSQL")
    a, b = CompetitorFactory(name="long-a"), CompetitorFactory(name="long-b")
    m.Battle.objects.create(model_a=b, model_b=a, outcome="model_a", source="human")
    inserted, release = threading.Event(), threading.Event()

    def long_writer() -> None:
        try:
            with transaction.atomic():
                m.Battle.objects.create(model_a=a, model_b=b, outcome="model_a", source="human")
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=long_writer)
    writer.start()
    try:
        assert inserted.wait(5)
        started = time.perf_counter()
        assert lb.leaderboard_rebuild_all() == {}
        assert time.perf_counter() - started < 2.0
        assert not m.LeaderboardSnapshot.objects.exists()
    finally:
        release.set()
        writer.join()
    lb.leaderboard_rebuild_all()
    assert _latest("bt").n_battles == 2


def test_rank_ub_counts_an_unbounded_side_as_unbounded():
    """Rank(UB) by hand: a model with no finite upper bound is never placed below anyone, and
    its missing lower bound never places anyone below it."""
    from ranking.battles import Battles
    from ranking.types import RatingResult

    names = ("a", "b", "c", "d")
    pairs = [(i, j) for i in range(4) for j in range(4) if i < j] * 2
    battles = Battles(
        models=names,
        a=np.array([p[0] for p in pairs], dtype=np.int32),
        b=np.array([p[1] for p in pairs], dtype=np.int32),
        outcome=np.zeros(len(pairs), dtype=np.int8),
    )
    data = lb.BattleData(
        battles=battles, competitor_ids=[11, 12, 13, 14], n_records=len(pairs), inputs={}
    )
    result = RatingResult(
        method="bt",
        params={},
        models=list(names),
        rating=np.array([1300.0, 1200.0, 1000.0, 900.0]),
        lower=np.array([1250.0, 1150.0, -np.inf, 850.0]),
        upper=np.array([1350.0, 1250.0, np.inf, 950.0]),
        battles=np.full(4, 6),
        component=np.zeros(4, dtype=np.int64),
        n_battles=len(pairs),
    )
    rows = {
        r["model"]: r
        for r in lb._rows(
            result, data, rule={"min_battles": 1, "min_opponents": 1}, withdrawn=set()
        )
    }
    # a: nobody's lower > 1350 -> 1; b: a's 1250 > 1250? no -> 1; c: upper +inf -> 1;
    # d: a (1250) and b (1150) are above 950, c's lower is unbounded -> 3
    assert {n: rows[n]["rank"] for n in names} == {"a": 1, "b": 1, "c": 1, "d": 3}


def test_model_page_says_provisional_instead_of_a_rank(board, client):
    lb.leaderboard_rebuild(methods=["bt"])
    html = client.get(f"/models/{board['newcomer'].id}/").content.decode()
    assert "provisional, not ranked" in html and "rank None" not in html
    html = client.get(f"/models/{board['island'][0].id}/").content.decode()
    assert "not comparable with the main group (group 2), not ranked" in html
    assert client.get(f"/models/{board['private'].id}/").status_code == 404
