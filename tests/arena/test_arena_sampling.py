"""Sampling to a target in the open arena: pairs it leaves out, its fallback, and the board."""

from __future__ import annotations

import pytest

from arena.api.views import leaderboard as leaderboard_views
from arena.selectors import sampling as sampling_selectors
from arena.selectors.leaderboard import leaderboard_get
from arena.selectors.sampling import leaderboard_sampling_add
from arena.selectors.web import leaderboard_view_data
from arena.services.arena_mode import arena_choose_pairs
from arena.services.leaderboard import snapshot_publish
from tests.arena.test_api_common import API
from tests.arena.test_settings import _manage
from tests.factories import CompetitorFactory

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

Z95 = 1.959963984540054

# Five models, 95% intervals rating ± 1.96 se. With a target width of 100 points (widths
# 78.4, 117.6, 156.8, 39.2, 58.8) models 1 and 2 are still sampled. By hand, a pair is
# settled when |r_i - r_j| > 1.96 sqrt(se_i^2 + se_j^2): open pairs are (0,1) 60 < 70.7,
# (0,4) 10 < 49.0, (1,4) 50 < 65.9 and (2,3) 20 < 80.8; (0,4) has both models at target.
# (0,1), (1,4), (2,3) leave two groups; of the settled pairs with a sampled model between
# them, (1,2) is the least settled (z = 240 / sqrt(30^2 + 40^2) = 4.8; then (0,2) 6.7, (2,4)
# 6.8), so it is kept as the bridge. The arena may spend votes on these four pairs only.
RATINGS = [1000.0, 1060.0, 1300.0, 1320.0, 1010.0]
SE = [20.0, 30.0, 40.0, 10.0, 15.0]
ELIGIBLE = {(0, 1), (1, 4), (2, 3), (1, 2)}


@pytest.fixture
def board(settings, private_cache):
    settings.LUDUS_ARENA_TARGET_WIDTH = 100.0
    settings.LUDUS_ARENA_SETTLED_CONFIDENCE = 0.95
    leaderboard_views.rendered_forget()
    comps = [CompetitorFactory() for _ in RATINGS]
    rows = [
        {
            "model": c.name,
            "competitor_id": c.id,
            "rating": r,
            "lower": r - Z95 * se,
            "upper": r + Z95 * se,
            "rank": 1,
            "battles": 500,
            "win_rate": 0.5,
            "withdrawn": False,
        }
        for c, r, se in zip(comps, RATINGS, SE)
    ]
    for method in ("bt", "elo"):
        snapshot_publish(
            method=method,
            source="combined",
            category="all",
            data_version="d1",
            params={"confidence": 0.95},
            ratings=rows,
            n_battles=1250,
            compute_ms=1,
        )
    yield [c.id for c in comps]
    leaderboard_views.rendered_forget()


def _as_index(ids: list[int], pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    pos = {cid: i for i, cid in enumerate(ids)}
    return {(min(pos[a], pos[b]), max(pos[a], pos[b])) for a, b in pairs}


def test_arena_spends_votes_only_on_open_pairs_with_a_model_above_target(board):
    for seed in range(10):
        pairs = arena_choose_pairs(board, 4, rng=seed)
        assert _as_index(board, pairs) == ELIGIBLE


def test_arena_falls_back_to_the_widest_models_instead_of_stalling(board, settings):
    # every interval at target: nothing is eligible, yet the pool is still filled, widest first
    settings.LUDUS_ARENA_TARGET_WIDTH = 500.0
    pairs = arena_choose_pairs(board, 2, rng=0)
    assert _as_index(board, pairs) == {(1, 2), (0, 2)}  # se 40+30 and 40+20 are the largest
    # with the target switched off (0), only settled pairs are left out (but the bridge)
    settings.LUDUS_ARENA_TARGET_WIDTH = 0.0
    pairs = arena_choose_pairs(board, 5, rng=0)
    assert _as_index(board, pairs) == ELIGIBLE | {(0, 4)}


def test_the_board_says_which_models_are_still_sampled(board, anon, client):
    body = anon.get(f"{API}/leaderboard/").json()
    assert body["sampling"] == {
        "target_width": 100.0,
        "settled_confidence": 0.95,
        "sampling": [board[1], board[2]],
    }
    flags = {r["competitor_id"]: r["sampling"] for r in body["ratings"]}
    assert flags == {cid: i in (1, 2) for i, cid in enumerate(board)}
    # other boards: the arena does not sample from them
    elo = anon.get(f"{API}/leaderboard/?method=elo").json()
    assert elo["sampling"] is None and all(r["sampling"] is None for r in elo["ratings"])
    # the page shows what the API says (the same selector)
    page = leaderboard_view_data(method="bt", source="combined", category="all")
    assert {r["competitor_id"]: r["sampling"] for r in page["rows"]} == flags
    assert all(("sampling" in r["badges"]) == flags[r["competitor_id"]] for r in page["rows"])
    html = client.get("/").content.decode()
    assert 'id="lb-note-sampling"' in html
    assert "at most 100 points wide" in html
    assert html.count('<span class="badge">sampling</span>') == 2


def test_a_cached_read_does_not_compute_the_sampling_again(board, monkeypatch):
    # the flags are computed once per snapshot, when it is cached, not on every read of the
    # board (about 10 ms for 200 models, against ~1 ms for the rest of a cached read)
    first = leaderboard_get(method="bt")
    assert first is not None and first["sampling"] is not None

    def refuse(**_: object) -> None:
        raise AssertionError("sampling recomputed on a read")

    monkeypatch.setattr(sampling_selectors, "arena_sampling_status", refuse)
    again = leaderboard_get(method="bt")
    assert again is not None and again["sampling"] == first["sampling"]
    assert [r["sampling"] for r in again["ratings"]] == [r["sampling"] for r in first["ratings"]]


def test_withdrawn_models_are_not_sampled(board):
    data = leaderboard_get(method="bt")
    assert data is not None
    data["ratings"][1]["withdrawn"] = True
    assert leaderboard_sampling_add(data)["sampling"]["sampling"] == [board[2]]


def test_settled_confidence_must_be_below_one():
    result = _manage("check", LUDUS_ARENA_SETTLED_CONFIDENCE="1")
    assert result.returncode != 0
    assert "LUDUS_ARENA_SETTLED_CONFIDENCE must be below 1" in result.stderr
    result = _manage("check", LUDUS_ARENA_TARGET_WIDTH="-5")
    assert result.returncode != 0
    assert "LUDUS_ARENA_TARGET_WIDTH must be at least 0" in result.stderr
