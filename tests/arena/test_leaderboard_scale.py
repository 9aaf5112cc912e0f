"""A vote's cost independent of history (issue 16): pair aggregates, online state, cadence.

The expected values come from the battle-level path (``battle_data_load``: every stored Battle
row read one by one, as the leaderboard did before the aggregates) and from the ranking
library run on all battles at once, never from the aggregates or states under test.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from arena import models as m
from arena.services import leaderboard as lb
from arena.services.battles_io import battles_import
from ranking.bradley_terry import bradley_terry
from ranking.elo import elo
from ranking.openskill import openskill_rate
from tests.arena.test_api_common import API
from tests.factories import CompetitorFactory

pytest_plugins = ["tests.arena.test_api_common"]

T0 = datetime(2026, 3, 1, tzinfo=UTC)
OUTCOMES = ["model_a", "model_b", "tie", "tie (bothbad)"]


def _random_battles(rng, comps, n, *, sources=("human",), categories=("general",), start=0):
    out = []
    for k in range(n):
        i, j = rng.choice(len(comps), 2, replace=False)
        out.append(
            m.Battle(
                model_a=comps[i],
                model_b=comps[j],
                outcome=OUTCOMES[rng.choice(4, p=[0.42, 0.38, 0.12, 0.08])],
                source=sources[rng.integers(len(sources))],
                category=categories[rng.integers(len(categories))],
                # whole seconds: equal timestamps happen, and then the id decides the order
                tstamp=T0 + timedelta(seconds=int(start + rng.integers(0, 3 * n + 1))),
            )
        )
    return out


def _battle_level_rows(method: str, source: str, category: str) -> tuple[list, dict]:
    """The board's rows computed from every Battle row (the path before the aggregates)."""
    spec = lb._method_registry()[method]
    full = lb.battle_data_load(source=source, category=category, ordered=spec.ordered)
    assert full.battles.weight is None or full.battles.tstamp is None
    withdrawn = set(
        m.Competitor.objects.filter(status=m.Competitor.Status.WITHDRAWN).values_list(
            "id", flat=True
        )
    )
    result = spec.fn(full.battles, **spec.params)
    return lb._rows(result, full, rule=lb.listing_rule(), withdrawn=withdrawn), full.inputs


@pytest.mark.parametrize("seed", [1, 2])
def test_aggregate_path_equals_the_battle_level_path(db, private_cache, seed):
    rng = np.random.default_rng(seed)
    comps = [CompetitorFactory(name=f"agg-{k}") for k in range(7)]
    hidden = CompetitorFactory(name="agg-private", visibility=m.Competitor.Visibility.PRIVATE)
    m.Competitor.objects.filter(id=comps[2].id).update(status=m.Competitor.Status.WITHDRAWN)
    kinds = {"sources": ("human", "judge"), "categories": ("general", "code")}
    fast = ["bt", "bt_pair_frequency", "winrate", "alpharank"]
    # battles arrive in batches, the aggregates advancing by each rebuild in between
    for batch in range(3):
        m.Battle.objects.bulk_create(
            _random_battles(rng, [*comps, hidden], 150, start=1000 * batch, **kinds)
        )
        if batch == 1:
            csv = "model_a,model_b,wins_a,wins_b,ties\nagg-0,agg-1,7,3,2\nagg-4,agg-5,1,9,0\n"
            battles_import(source=io.StringIO(csv), fmt="pairs", category="code")
        for source, category in lb.leaderboard_scopes():
            lb.leaderboard_rebuild(source=source, category=category, methods=fast)
    assert m.PairAggregate.objects.exists()
    scopes = lb.leaderboard_scopes()
    assert ("import", "code") in scopes and ("judge", "general") in scopes
    for source, category in scopes:
        for method in fast:
            (snap,) = lb.leaderboard_rebuild(source=source, category=category, methods=[method])
            rows, inputs = _battle_level_rows(method, source, category)
            assert snap.ratings == rows, (method, source, category)
            assert snap.inputs == inputs and snap.n_battles == sum(r["battles"] for r in rows) / 2
    (snap,) = lb.leaderboard_rebuild(methods=["expected_score"])
    rows, _ = _battle_level_rows("expected_score", "combined", "all")
    assert snap.ratings == rows


def _inside(row: dict) -> bool:
    lower = -np.inf if row["lower"] is None else row["lower"]
    upper = np.inf if row["upper"] is None else row["upper"]
    return bool(lower <= row["rating"] <= upper)


def _state_resumed(monkeypatch) -> list[int]:
    """Record how many battles each online computation read (all of them: a full replay)."""
    sizes: list[int] = []
    build = lb._build

    def spy(rows, count_rows, **kwargs):
        if len(count_rows) == 0:
            sizes.append(len(rows))
        return build(rows, count_rows, **kwargs)

    monkeypatch.setattr(lb, "_build", spy)
    return sizes


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_online_state_continued_equals_the_full_recompute(db, private_cache, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    comps = [CompetitorFactory(name=f"on-{k}") for k in range(6)]
    battles = sorted(_random_battles(rng, comps, 160), key=lambda b: b.tstamp)
    # most battles arrive in time order in batches of random sizes; a random fifth is held back
    # and imported later as history (older than the state's last battle: a full replay)
    held = set(rng.choice(len(battles), len(battles) // 5, replace=False).tolist())
    live = [b for k, b in enumerate(battles) if k not in held]
    history = [b for k, b in enumerate(battles) if k in held]
    cuts = sorted(rng.choice(np.arange(1, len(live)), 4, replace=False).tolist())
    batches = [live[a:b] for a, b in zip([0, *cuts], [*cuts, len(live)])]
    at = int(rng.integers(2, len(batches)))
    batches.insert(at, history)
    sizes = _state_resumed(monkeypatch)
    stored = 0
    for k, batch in enumerate(batches):
        m.Battle.objects.bulk_create(batch)
        stored += len(batch)
        sizes.clear()
        snaps = {
            s.method: s
            for s in lb.leaderboard_rebuild(methods=["elo", "openskill"], slow_seconds=3600)
        }
        older = min(b.tstamp for b in batch) < max(
            (b.tstamp for kk in range(k) for b in batches[kk]), default=T0
        )
        # the first build and an import of history replay everything; otherwise only the batch
        expected = stored if (k == 0 or older) else len(batch)
        assert sizes == [expected, expected], (k, sizes, len(batch), stored)
        full = lb.battle_data_load(ordered=True).battles
        assert len(full) == stored
        want_elo = elo(full, k=4.0, scale=400.0, base=10.0, init=1000.0)
        got = {r["model"]: r for r in snaps["elo"].ratings}
        assert {n: got[n]["rating"] for n in full.models} == dict(
            zip(full.models, want_elo.rating.tolist())
        )
        # the interval is the slow part: a model new since the last bootstrap has none (null)
        assert all(_inside(r) for r in got.values())
        want_os = openskill_rate(full, model="plackett-luce", confidence=0.95)
        got = {r["model"]: r for r in snaps["openskill"].ratings}
        for i, name in enumerate(full.models):
            assert got[name]["rating"] == want_os.rating[i]
            assert (got[name]["lower"], got[name]["upper"]) == (
                want_os.lower[i],
                want_os.upper[i],
            )
            assert got[name]["sigma"] == want_os.extra["sigma"][i]
    assert any(k > 0 for k in range(len(batches)))  # (several arrivals were exercised)


def _versions(method: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for s in m.LeaderboardSnapshot.objects.filter(method=method).values(
        "source", "category", "version"
    ):
        key = (s["source"], s["category"])
        out[key] = max(out.get(key, 0), s["version"])
    return out


def test_a_vote_rebuilds_only_its_scopes_and_slow_parts_keep_their_cadence(
    db, private_cache, settings, client, anon
):
    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 3600
    rng = np.random.default_rng(7)
    comps = [CompetitorFactory(name=f"cad-{k}") for k in range(5)]
    m.Battle.objects.bulk_create(_random_battles(rng, comps, 200, categories=("general", "code")))
    lb.leaderboard_rebuild_all()
    bt, alpha, es, elo_v = (_versions(x) for x in ("bt", "alpharank", "expected_score", "elo"))
    old_elo = m.LeaderboardSnapshot.objects.get(
        method="elo", source="human", category="code", version=elo_v[("human", "code")]
    )
    m.Battle.objects.create(
        model_a=comps[0],
        model_b=comps[1],
        outcome="model_b",
        source="human",
        category="code",
        tstamp=T0 + timedelta(days=30),
    )
    lb.leaderboard_rebuild_all(scopes="touched")
    touched = {("human", "code"), ("human", "all"), ("combined", "code"), ("combined", "all")}
    after = _versions("bt")
    assert {k for k in after if after[k] != bt[k]} == touched
    assert _versions("alpharank") == alpha and _versions("expected_score") == es
    assert {k for k, v in _versions("elo").items() if v != elo_v[k]} == touched

    new_elo = m.LeaderboardSnapshot.objects.filter(
        method="elo", source="human", category="code"
    ).latest("version")
    # the rating is the chronological Elo of every battle; the interval is the earlier one
    full = lb.battle_data_load(source="human", category="code", ordered=True).battles
    want = dict(zip(full.models, elo(full, k=4.0).rating.tolist()))
    assert {r["model"]: r["rating"] for r in new_elo.ratings} == want
    assert new_elo.inputs["interval_battles_upto"] == old_elo.inputs["battles_upto"]
    fresh = new_elo.board["freshness"]
    assert fresh["interval_computed_at"] == old_elo.board["freshness"]["interval_computed_at"]
    assert fresh["rating_computed_at"] > fresh["interval_computed_at"]
    before = {r["model"]: r for r in old_elo.ratings}
    for r in new_elo.ratings:
        assert _inside(r)
        assert r["lower"] <= before[r["model"]]["lower"]
    # the API and the page say how fresh each number is
    body = anon.get(f"{API}/leaderboard/?method=elo&source=human&category=code").json()
    assert body["board"]["freshness"] == fresh
    html = client.get("/?method=elo&source=human&category=code").content.decode()
    assert (
        "intervals computed" in html and f"battles up to #{old_elo.inputs['battles_upto']}" in html
    )

    # nothing new: a touched-only rebuild does nothing
    assert lb.leaderboard_rebuild_all(scopes="touched") == {}
    # slow parts due: a vote's rebuild still leaves them to the periodic one, which refreshes
    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 0
    m.Battle.objects.create(
        model_a=comps[2], model_b=comps[3], outcome="tie", source="human", category="code"
    )
    lb.leaderboard_rebuild_all(scopes="touched")
    assert _versions("alpharank") == alpha and _versions("expected_score") == es
    assert "interval_battles_upto" in (
        m.LeaderboardSnapshot.objects.filter(method="elo", source="human", category="code")
        .latest("version")
        .inputs
    )
    lb.leaderboard_rebuild_all()
    assert {k for k, v in _versions("alpharank").items() if v != alpha[k]} == touched
    latest = m.LeaderboardSnapshot.objects.filter(
        method="elo", source="human", category="code"
    ).latest("version")
    assert "interval_battles_upto" not in latest.inputs
    assert latest.board["freshness"]["interval_battles_upto"] == latest.inputs["battles_upto"]


def _bt_latest(source: str, category: str) -> m.LeaderboardSnapshot:
    return m.LeaderboardSnapshot.objects.filter(
        method="bt", source=source, category=category
    ).latest("version")


def test_a_votes_bt_board_has_fresh_ratings_and_says_its_interval_is_older(
    db, private_cache, settings
):
    # The profile bounds are the slow part of Bradley-Terry: a vote's rebuild computes the
    # ratings (identical to the full fit's, an undefeated model's 50 % end included) and keeps
    # the last interval, saying from which battles it was computed, widened to contain them.
    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 3600
    rng = np.random.default_rng(11)
    comps = [CompetitorFactory(name=f"slow-bt-{k}") for k in range(6)]
    m.Battle.objects.bulk_create(_random_battles(rng, comps[:5], 120, categories=("code",)))
    unbeaten = comps[5]  # won every battle it played: no finite maximum-likelihood rating
    m.Battle.objects.bulk_create(
        [
            m.Battle(
                model_a=unbeaten, model_b=c, outcome="model_a", source="human", category="code"
            )
            for c in comps[:3]
        ]
    )
    lb.leaderboard_rebuild_all()
    first = _bt_latest("human", "code")
    assert first.board["freshness"]["interval_battles_upto"] == first.inputs["battles_upto"]
    original = {r["model"]: (r["lower"], r["upper"]) for r in first.ratings}
    assert original[unbeaten.name][1] is None  # open above

    for k, (a, b) in enumerate([(0, 1), (2, 3)]):
        m.Battle.objects.create(
            model_a=comps[a], model_b=comps[b], outcome="model_b", source="human", category="code"
        )
        lb.leaderboard_rebuild_all(scopes="touched")
        snap = _bt_latest("human", "code")
        assert snap.version == first.version + k + 1
        full = lb.battle_data_load(source="human", category="code").battles
        want = bradley_terry(full, ci="profile")  # the full fit on every battle, row by row
        assert {r["model"]: r["rating"] for r in snap.ratings} == dict(
            zip(full.models, want.rating.tolist())
        )
        assert snap.n_battles == 124 + k
        fresh = snap.board["freshness"]
        assert fresh["interval_battles_upto"] == first.inputs["battles_upto"]
        assert snap.inputs["interval_battles_upto"] == first.inputs["battles_upto"]
        assert fresh["interval_n_battles"] == first.n_battles == 123
        assert fresh["interval_computed_at"] == first.board["freshness"]["interval_computed_at"]
        assert fresh["rating_computed_at"] > fresh["interval_computed_at"]
        for r in snap.ratings:
            # the first computation's bounds (not the last vote's widened ones), widened
            lo, hi = original[r["model"]]
            assert r["lower"] == (None if lo is None else min(lo, r["rating"]))
            assert r["upper"] == (None if hi is None else max(hi, r["rating"]))
            assert _inside(r)

    # the scheduled rebuild, once the interval is due, computes it afresh
    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 0
    lb.leaderboard_rebuild_all()
    snap = _bt_latest("human", "code")
    full = lb.battle_data_load(source="human", category="code").battles
    want = bradley_terry(full, ci="profile")
    got = {r["model"]: r for r in snap.ratings}
    for i, name in enumerate(full.models):
        upper = None if np.isinf(want.upper[i]) else want.upper[i]
        assert (got[name]["lower"], got[name]["upper"]) == (want.lower[i], upper)
    assert snap.board["freshness"]["interval_battles_upto"] == snap.inputs["battles_upto"]
    assert snap.board["freshness"]["interval_n_battles"] == 125
    assert "interval_battles_upto" not in snap.inputs


def test_a_scopes_boards_commit_together_and_reach_the_cache_only_then(
    db, private_cache, monkeypatch
):
    # one scope's new snapshots and states are one transaction: a method failing after others
    # have been computed leaves neither their rows nor their cache entries behind
    from django.core.cache import cache

    rng = np.random.default_rng(11)
    comps = [CompetitorFactory(name=f"tx-{k}") for k in range(5)]
    m.Battle.objects.bulk_create(_random_battles(rng, comps, 120))
    lb.leaderboard_rebuild(source="human", category="general")
    versions = {s: _versions(s)[("human", "general")] for s in ("bt", "elo", "winrate")}
    cached = cache.get(lb.cache_key("bt", "human", "general"))
    m.Battle.objects.bulk_create(_random_battles(rng, comps, 30, start=10_000))
    registry = lb._method_registry()

    def broken(*args, **kwargs):
        raise RuntimeError("winrate failed")

    spec = registry["winrate"]
    failing = {**registry, "winrate": lb.MethodSpec(spec.params, broken)}
    with monkeypatch.context() as patch:
        patch.setattr(lb, "_method_registry", lambda: failing)
        with pytest.raises(RuntimeError, match="winrate failed"):
            lb.leaderboard_rebuild(source="human", category="general")  # bt and elo come first
    assert {s: _versions(s)[("human", "general")] for s in versions} == versions
    assert cache.get(lb.cache_key("bt", "human", "general")) == cached
    snaps = lb.leaderboard_rebuild(source="human", category="general")
    assert {s.method for s in snaps} >= set(versions)
    for snap in snaps:
        if snap.method in versions:
            assert snap.version == versions[snap.method] + 1
            assert cache.get(lb.cache_key(snap.method, "human", "general"))["id"] == snap.id


def test_a_scopes_rebuild_reads_its_snapshots_and_states_once(db, private_cache):
    # the rebuild after a vote: per scope one query for the methods' latest snapshots, one for
    # their stored states and one for competitor names, whatever the number of methods
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rng = np.random.default_rng(12)
    comps = [CompetitorFactory(name=f"q-{k}") for k in range(5)]
    m.Battle.objects.bulk_create(_random_battles(rng, comps, 120))
    lb.leaderboard_rebuild(source="human", category="general")
    m.Battle.objects.bulk_create(_random_battles(rng, comps, 5, start=10_000))
    with CaptureQueriesContext(connection) as ctx:
        lb.leaderboard_rebuild(source="human", category="general", slow_seconds=float("inf"))
    sql = [q["sql"] for q in ctx.captured_queries]
    reads = {
        "snapshot": [s for s in sql if s.startswith("SELECT") and "leaderboardsnapshot" in s],
        "state": [s for s in sql if s.startswith("SELECT") and "leaderboardstate" in s],
        "names": [
            s
            for s in sql
            if s.startswith('SELECT "arena_competitor"."id" AS "id", "arena_competitor"."name"')
        ],
    }
    assert {k: len(v) for k, v in reads.items()} == {"snapshot": 1, "state": 1, "names": 1}


def test_slow_part_due_bounds_the_share_of_time_refreshing_takes(settings):
    settings.LUDUS_LEADERBOARD_SLOW_SHARE = 0.1
    now = T0 + timedelta(hours=5)

    def due(age: float, seconds: float, slow: float = 300) -> bool:
        stamp = (now - timedelta(seconds=age)).isoformat()
        return lb.slow_part_due(computed_at=stamp, seconds=seconds, slow_seconds=slow, now=now)

    assert not due(299, 1) and due(300, 1)  # a cheap part: every LUDUS_LEADERBOARD_SLOW_SECONDS
    assert not due(999, 100) and due(1000, 100)  # 100 s of work: at most a tenth of the time
    assert due(0, 100, slow=0)  # 0: on every rebuild, whatever the cost
    assert lb.slow_part_due(computed_at=None, seconds=0, slow_seconds=300, now=now)  # never


def test_elo_bootstrap_and_style_board_keep_a_cadence_bounded_by_their_cost(
    db, private_cache, settings
):
    from arena.services.style_board import METHOD as STYLE

    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 60
    settings.LUDUS_LEADERBOARD_SLOW_SHARE = 0.1
    rng = np.random.default_rng(13)
    comps = [CompetitorFactory(name=f"cost-{k}") for k in range(5)]
    meta = {
        "sum_assistant_a_tokens": 100,
        "sum_assistant_b_tokens": 80,
        **{
            f"{kind}_count_{side}": {part: 1 for part in parts}
            for kind, parts in (
                ("header", ("h1", "h2", "h3", "h4", "h5", "h6")),
                ("list", ("ordered", "unordered")),
                ("bold", ("**", "__")),
            )
            for side in "ab"
        },
    }

    def add(n: int, start: int) -> None:
        rows = _random_battles(rng, comps, n, start=start)
        for k, row in enumerate(rows):
            row.conv_metadata = {**meta, "sum_assistant_b_tokens": 50 + 10 * (k % 7)}
        m.Battle.objects.bulk_create(rows)

    add(150, 0)
    lb.leaderboard_rebuild_all()
    scope = {"source": "human", "category": "general"}
    style_v, elo_v = (_versions(x)[("human", "general")] for x in (STYLE, "elo"))

    def age(method: str, seconds_ago: float, took: float) -> None:
        state = m.LeaderboardState.objects.get(method=method, **scope)
        stamp = (datetime.now(tz=UTC) - timedelta(seconds=seconds_ago)).isoformat()
        state.interval = {**state.interval, "computed_at": stamp, "seconds": took}
        state.save()

    # past LUDUS_LEADERBOARD_SLOW_SECONDS but their last computation took 20 s: not yet due
    age(STYLE, 120, 20.0)
    age("elo", 120, 20.0)
    add(20, 10_000)
    lb.leaderboard_rebuild_all()
    assert _versions(STYLE)[("human", "general")] == style_v
    elo_snap = m.LeaderboardSnapshot.objects.filter(method="elo", **scope).latest("version")
    assert elo_snap.version == elo_v + 1  # new ratings, the earlier bootstrap interval
    assert "interval_battles_upto" in elo_snap.inputs
    # 200 s old, 20 s of work: due (a tenth of the time)
    age(STYLE, 200, 20.0)
    age("elo", 200, 20.0)
    lb.leaderboard_rebuild_all()
    assert _versions(STYLE)[("human", "general")] == style_v + 1
    elo_snap = m.LeaderboardSnapshot.objects.filter(method="elo", **scope).latest("version")
    assert "interval_battles_upto" not in elo_snap.inputs  # the bootstrap was recomputed
    took = m.LeaderboardState.objects.get(method="elo", **scope).interval["seconds"]
    assert 0 < took < 20


def test_one_every_scope_rebuild_at_a_time(db, private_cache):
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("an advisory lock of PostgreSQL")
    rng = np.random.default_rng(14)
    comps = [CompetitorFactory(name=f"one-{k}") for k in range(4)]
    m.Battle.objects.bulk_create(_random_battles(rng, comps, 60))
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:  # another worker's rebuild
        other.execute("SELECT pg_advisory_lock(%s)", [lb.PERIODIC_LOCK])
        assert lb.leaderboard_rebuild_all() == {}
        assert not m.LeaderboardSnapshot.objects.exists()
        # a vote's rebuild of its touched scopes does not wait for it
        assert lb.leaderboard_rebuild_all(scopes="touched")["bt"] == 4
        other.execute("SELECT pg_advisory_unlock(%s)", [lb.PERIODIC_LOCK])
    assert lb.leaderboard_rebuild_all()["bt"] == 4


def test_a_scopes_writes_wait_until_every_method_is_computed(db, private_cache, monkeypatch):
    # no row of the scope is written (so no lock is held) while a method computes: a periodic
    # rebuild's slow part never makes a vote's rebuild of the same scope wait
    rng = np.random.default_rng(15)
    comps = [CompetitorFactory(name=f"late-{k}") for k in range(5)]
    m.Battle.objects.bulk_create(_random_battles(rng, comps, 120))
    registry = lb._method_registry()
    last = list(registry)[-1]
    seen: list[tuple[int, int]] = []

    def watching(*args, **kwargs):
        scope = {"source": "human", "category": "general"}
        seen.append(
            (
                m.LeaderboardSnapshot.objects.filter(**scope).count(),
                m.LeaderboardState.objects.filter(**scope).count(),
            )
        )
        return registry[last].fn(*args, **kwargs)

    spec = registry[last]
    watched = {**registry, last: lb.MethodSpec(spec.params, watching, slow=spec.slow)}
    monkeypatch.setattr(lb, "_method_registry", lambda: watched)
    snaps = lb.leaderboard_rebuild(source="human", category="general")
    assert seen == [(0, 0)]  # the earlier methods' snapshots and states came after
    assert [s.method for s in snaps] == list(registry)  # in the registry's order, as before
    assert m.LeaderboardState.objects.filter(source="human", category="general").exists()
