"""Server-rendered pages: status codes, escaping, empty states, the live JSON feed, query counts."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from arena import models as m
from arena.selectors import web as sel
from arena.services.leaderboard import leaderboard_aggregates_refresh, snapshot_publish
from tests.factories import BattleFactory, CompetitorFactory, UserFactory

pytestmark = pytest.mark.django_db

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def _locmem_cache(settings):
    """Pages read snapshots through the cache; a per-test local cache keeps tests off Redis."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "web-tests",
        }
    }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def client() -> Client:
    return Client(HTTP_HOST="localhost")


def _publish(
    comps, *, method="bt", source="combined", category="all", version_tag="v1", with_ci=True
):
    rows = []
    for i, c in enumerate(comps):
        rating = 1100.0 - 50.0 * i
        rows.append(
            {
                "model": c.name,
                "competitor_id": c.id,
                "rating": rating,
                "lower": rating - 20 if with_ci else None,
                "upper": rating + 20 if with_ci else None,
                "rank": i + 1,
                "battles": 10 + i,
                "component": 0,
                "win_rate": 0.6 - 0.1 * i,
            }
        )
    return snapshot_publish(
        method=method,
        source=source,
        category=category,
        data_version=version_tag,
        params={"scale": 400.0},
        ratings=rows,
        n_battles=30,
        compute_ms=3,
    )


@pytest.fixture
def board():
    owner = UserFactory(username="ada")
    comps = [
        CompetitorFactory(name="alpha", owner=owner, provider="Acme"),
        CompetitorFactory(name="beta"),
        CompetitorFactory(name=EVIL),
    ]
    old = timezone.now() - timezone.timedelta(hours=1)
    for a, b, outcome in [
        (0, 1, "model_a"),
        (0, 1, "model_a"),
        (1, 0, "model_a"),
        (0, 1, "tie"),
        (2, 0, "model_b"),
    ]:
        BattleFactory(model_a=comps[a], model_b=comps[b], outcome=outcome, tstamp=old)
    _publish(comps)
    return comps


def test_home_lists_models_with_intervals_and_escapes_names(client, board):
    r = client.get("/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-model="alpha"' in html
    assert "[1080.0, 1120.0]" in html  # the interval next to the rating, with the rating's digits
    assert 'class="range"' in html  # the drawn error bar
    assert "ada" in html  # owner
    assert EVIL not in html
    assert "&lt;script&gt;" in html
    assert "<script>alert" not in html
    assert 'Snapshot <strong id="lb-version">v1</strong>' in html


def test_home_query_count(client, board, django_assert_num_queries):
    client.get("/")  # warm the snapshot and win-rate caches
    # scopes, owners, latest battle (pending check), the (absent) alpha-rank snapshot;
    # the snapshot and the heat map come from the cache
    with django_assert_num_queries(4):
        assert client.get("/").status_code == 200


def test_rebuild_task_computes_the_heat_map_before_any_page_view(
    client, board, django_assert_max_num_queries
):
    from workers.tasks.leaderboard import rebuild_leaderboards_task

    rebuild_leaderboards_task()  # a real rebuild of every scope (new versions), then the warm-up
    # The page's heat map is served from the cache: no more queries than a warm page, no aggregate.
    with django_assert_max_num_queries(4) as ctx:
        html = client.get("/").content.decode()
    assert not any("COUNT(" in q["sql"] for q in ctx.captured_queries)
    assert 'class="heatmap' in html or "Pairwise win rate" in html


def test_home_empty_state(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "not computed yet" in r.content.decode()


def test_home_unknown_method_says_not_computed(client, board):
    r = client.get("/?method=alpharank&source=judge&category=nope")
    assert r.status_code == 200
    html = r.content.decode()
    assert "not computed yet" in html
    assert 'data-model="alpha"' not in html


def test_home_missing_methods_are_named(client, board):
    html = client.get("/").content.decode()
    assert (
        "Not computed yet: Bradley-Terry, pairs weighted equally, "
        "Bradley-Terry, style-controlled, Elo, OpenSkill" in html
    )


def test_leaderboard_json_and_etag(client, board, django_assert_max_num_queries):
    r = client.get("/leaderboard.json")
    assert r.status_code == 200
    data = r.json()
    assert [row["model"] for row in data["rows"]] == ["alpha", "beta", EVIL]
    assert data["rows"][0]["owner"] == "ada"
    assert data["snapshot"]["version"] == 1
    assert data["pending"] is False
    etag = r["ETag"]
    with django_assert_max_num_queries(1):
        again = client.get("/leaderboard.json", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304


def test_leaderboard_json_reports_pending_rebuild_then_new_version(client, board):
    etag = client.get("/leaderboard.json")["ETag"]
    BattleFactory(model_a=board[0], model_b=board[1], outcome="model_b")  # a new vote lands
    r = client.get("/leaderboard.json", HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r.json()["pending"] is True
    _publish(board, version_tag="v2")
    data = client.get("/leaderboard.json").json()
    assert data["pending"] is False and data["snapshot"]["version"] == 2


def test_pairwise_win_rates_counts_ties_half(board):
    a, b = board[0], board[1]
    leaderboard_aggregates_refresh()  # (the rebuild does this before it publishes a snapshot)
    res = sel.pairwise_win_rates(models=[(a.id, a.name), (b.id, b.name)])
    # alpha vs beta: 2 wins as A, 1 loss as B, 1 tie -> (2 + 0.5) / 4
    assert res["grid"][0]["cells"][1]["rate"] == pytest.approx(2.5 / 4)
    assert res["grid"][1]["cells"][0]["rate"] == pytest.approx(1.5 / 4)
    assert res["grid"][0]["cells"][1]["n"] == 4
    assert res["grid"][0]["cells"][0]["rate"] is None


def test_model_page_head_to_head_and_history(client, board, django_assert_max_num_queries):
    _publish(board, version_tag="v2")
    # competitor, history, head to head (2), recent battles, usage, the admin price
    with django_assert_max_num_queries(7):
        r = client.get(f"/models/{board[0].id}/")
    assert r.status_code == 200
    h2h = {row["name"]: row for row in r.context["head_to_head"]}
    assert (h2h["beta"]["wins"], h2h["beta"]["losses"], h2h["beta"]["ties"]) == (2, 1, 1)
    assert (h2h[EVIL]["wins"], h2h[EVIL]["losses"]) == (1, 0)
    assert [h["version"] for h in r.context["history"]] == [1, 2]
    html = r.content.decode()
    assert "<svg" in html and EVIL not in html


def test_model_page_404_and_private(client, board):
    assert client.get("/models/999999/").status_code == 404
    hidden = CompetitorFactory(name="secret", visibility=m.Competitor.Visibility.PRIVATE)
    assert client.get(f"/models/{hidden.id}/").status_code == 404


def test_models_list_escapes_and_empty(client, board):
    html = client.get("/models/").content.decode()
    assert "alpha" in html and EVIL not in html


def test_custom_404_page(client):
    r = client.get("/no/such/page/")
    assert r.status_code == 404
    assert "Page not found" in r.content.decode()


@override_settings(DEBUG=False)
def test_custom_500_page():
    from django.test import RequestFactory
    from django.views.defaults import server_error

    r = server_error(RequestFactory().get("/"))
    assert r.status_code == 500
    assert "Something went wrong on our side" in r.content.decode()


def test_vote_page_sets_csrf_cookie(client):
    r = client.get("/vote")
    assert r.status_code == 200
    assert "csrftoken" in r.cookies
    html = r.content.decode()
    assert "/api/v1/battles/next/" in html and "/api/v1/votes/" in html
    assert 'aria-live="polite"' in html


def test_static_assets_have_no_inner_html():
    """Contestant and model text reaches the DOM only through textContent."""
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "static" / "ludus"
    for js in static.glob("*.js"):
        source = js.read_text()
        assert (
            "innerHTML" not in source
            and "insertAdjacentHTML" not in source
            and "eval(" not in source
        ), js.name


# --------------------------------------------------------------------------- tournaments


@pytest.fixture
def comps8():
    strengths = [1180, 1120, 1090, 1075, 1060, 1040, 1010, 930, 900]
    return [CompetitorFactory(name=f"m{i}", sim_strength=s) for i, s in enumerate(strengths)]


def test_tournament_list_empty(client):
    r = client.get("/tournaments/")
    assert r.status_code == 200 and "No tournaments yet" in r.content.decode()


def test_bracket_page_with_exact_probabilities(client, comps8, django_assert_max_num_queries):
    from tests.e2e.seed import seed_single_elimination

    t = seed_single_elimination(np.random.default_rng(1), comps8)
    client.get(
        f"/tournaments/{t.id}/"
    )  # the seeded results hold no E[S]: the first view computes and caches it
    with django_assert_max_num_queries(7):
        r = client.get(f"/tournaments/{t.id}/")
    assert r.status_code == 200
    bracket = r.context["bracket"]
    assert [c["label"] for c in bracket["rounds"]] == ["Round 1", "Semi-finals", "Final"]
    assert [len(c["matches"]) for c in bracket["rounds"]] == [4, 2, 1]
    # Round 1 pairs seeds 1-8, 4-5, 2-7, 3-6 (standard seeding).
    assert [[s["seed"] for s in mt["slots"]] for mt in bracket["rounds"][0]["matches"]] == [
        [1, 8],
        [4, 5],
        [2, 7],
        [3, 6],
    ]
    # Seed 1 (1180) against seed 8 (930): P(win) = 1 / (1 + 10^(-250/400)).
    p = 1 / (1 + 10 ** (-250 / 400))
    assert bracket["rounds"][0]["matches"][0]["slots"][0]["p_next"] == pytest.approx(p)
    champions = sum(r["p_reach"][-1] for r in bracket["probabilities"])
    assert champions == pytest.approx(1.0)
    finals = [s for s in bracket["rounds"][2]["matches"][0]["slots"] if s["winner"]]
    assert len(finals) == 1
    assert "Monte Carlo table" in r.content.decode()


def test_swiss_page_standings_and_tiebreaks(client, comps8):
    from tests.e2e.seed import seed_swiss

    t = seed_swiss(np.random.default_rng(2), comps8, name="S", fmt="swiss", rounds=3)
    r = client.get(f"/tournaments/{t.id}/")
    assert r.status_code == 200
    rounds = r.context["rounds"]
    assert [rd["number"] for rd in rounds] == [1, 2, 3]
    assert all(len(rd["pairings"]) == 4 and len(rd["byes"]) == 1 for rd in rounds)
    standings = r.context["standings"]
    assert standings["tiebreaks"] == ["BH-C1", "BH", "SB", "DE", "WIN"]
    rows = standings["rows"]
    # 9 players: 4 boards and one bye a round; points add up to 4 + 1 per round.
    assert sum(row["points"] for row in rows) == pytest.approx(3 * 5)
    points = {c.name: 0.0 for c in comps8}
    for mt in m.Match.objects.filter(tournament=t):  # counted here from the stored results
        a = {"model_a": 1.0, "model_b": 0.0}.get(mt.outcome, 0.5)
        points[mt.competitor_a.name] += a
        points[mt.competitor_b.name] += 1.0 - a
    for bye in m.Bye.objects.filter(round__tournament=t):
        points[bye.competitor.name] += bye.points
    assert {row["name"]: row["points"] for row in rows} == points
    keys = [(row["points"], *row["tiebreaks"]) for row in rows]
    assert keys == sorted(keys, reverse=True)  # points, then the tie-breaks in precedence
    ranks = [row["rank"] for row in rows]
    assert ranks[0] == 1 and ranks == sorted(ranks)  # tied rows may share a rank


def test_round_robin_crosstable(client, comps8):
    from tests.e2e.seed import seed_round_robin

    t = seed_round_robin(np.random.default_rng(3), comps8)
    r = client.get(f"/tournaments/{t.id}/")
    ct = r.context["crosstable"]
    assert len(ct["rows"]) == 5
    assert sum(row["total"] for row in ct["rows"]) == pytest.approx(
        10
    )  # C(5, 2) games, one point each
    assert all(row["cells"][i] is None for i, row in enumerate(ct["rows"]))


def test_swiss_dynamics_sensitivity_chart(client, comps8):
    from tests.e2e.seed import seed_swiss_dynamics

    t = seed_swiss_dynamics(np.random.default_rng(4), comps8)
    r = client.get(f"/tournaments/{t.id}/")
    html = r.content.decode()
    assert "Failure sensitivity" in html and "<polyline" in html
    assert r.context["simulation"]["rows"]


def test_tournament_list_progress(client, comps8):
    from tests.e2e.seed import seed_round_robin

    seed_round_robin(np.random.default_rng(3), comps8)
    r = client.get("/tournaments/")
    row = r.context["tournaments"][0]
    assert (row["matches"], row["done"], row["progress"]) == (10, 10, 100)


def test_tournament_page_escapes_names(client):
    a = CompetitorFactory(name=EVIL, sim_strength=1000)
    b = CompetitorFactory(name="plain", sim_strength=1000)
    t = m.Tournament.objects.create(name="<b>T</b>", format="round_robin")
    m.Entry.objects.create(tournament=t, competitor=a, seed=1)
    m.Entry.objects.create(tournament=t, competitor=b, seed=2)
    html = client.get(f"/tournaments/{t.id}/").content.decode()
    assert EVIL not in html and "<b>T</b>" not in html


def test_pages_of_tournaments_run_by_the_service(client):
    """Tournaments played to the end by the tournament service render with its stored results."""
    from arena.services.tournaments import tournament_create, tournament_run_inline
    from tests.factories import prompt_set_with_prompts

    comps = [CompetitorFactory(name=f"s{i}", sim_strength=1000 + 40 * i) for i in range(8)]
    sets = [prompt_set_with_prompts(4, name=f"set{k}") for k in range(2)]
    knockout = tournament_run_inline(
        tournament=tournament_create(
            name="ko", format="single_elimination", competitors=comps, prompt_sets=sets, seed=1
        )
    )
    r = client.get(f"/tournaments/{knockout.id}/")
    assert r.status_code == 200
    cols = r.context["bracket"]["rounds"]
    assert [len(c["matches"]) for c in cols] == [4, 2, 1]
    # Exactly one side of every finished match advanced, and the final's winner is the champion.
    assert all(sum(s["winner"] for s in mt["slots"]) == 1 for c in cols for mt in c["matches"])
    champion = next(s["name"] for s in cols[-1]["matches"][0]["slots"] if s["winner"])
    assert champion == knockout.results["champion"]
    assert r.context["standings"]["final"]
    assert [row["name"] for row in r.context["standings"]["rows"]][0] == champion

    dynamics = tournament_run_inline(
        tournament=tournament_create(
            name="dyn",
            format="swiss_dynamics",
            competitors=comps,
            prompt_sets=sets,
            seed=2,
            config={"rounds": ["set0", "set1", "set0"], "eliminate": [2, 2]},
        )
    )
    r = client.get(f"/tournaments/{dynamics.id}/")
    assert r.status_code == 200
    assert r.context["sensitivity"]["levels"][0] == 0
    assert len(r.context["simulation"]["survival_rounds"]) == 3
    out = [row["eliminated_in_round"] for row in r.context["standings"]["rows"]]
    assert sorted(k for k in out if k) == [1, 1, 2, 2]  # two after round 1, two after round 2
    assert "Failure sensitivity" in r.content.decode()


def test_pages_send_a_script_policy(client, board):
    for url in ("/", "/vote", "/models/", "/tournaments/", f"/models/{board[0].id}/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert (
            "script-src 'self'" in policy
            and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        )
