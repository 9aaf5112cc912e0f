"""The pages as a person uses them, in headless Chromium against gunicorn + a Celery worker."""

from __future__ import annotations

import re
import time

import pytest

from arena.services.demo import DEMO_COMPETITORS

pytestmark = pytest.mark.e2e

DEMO_NAMES = [name for name, *_ in DEMO_COMPETITORS]


def _battles_of(page, model: str) -> int:
    cell = page.locator(f'#lb-body tr[data-model="{model}"] td.battles')
    return int(cell.inner_text().replace(",", ""))


def test_leaderboard_shows_demo_models_with_intervals(page, shots):
    page.goto("/")
    rows = page.locator("#lb-body tr")
    rows.first.wait_for()
    names = [rows.nth(i).get_attribute("data-model") for i in range(rows.count())]
    assert sorted(names) == sorted(DEMO_NAMES)
    assert page.locator("#lb-body .ci .range").count() == len(DEMO_NAMES)  # an error bar per model
    first = page.locator("#lb-body tr").first.locator("td.rating").inner_text()
    assert re.match(r"^\d+\.\d \[\d+\.\d, \d+\.\d\]$", first), first
    assert page.locator("#lb-version").inner_text().startswith("v")
    assert page.locator("#ch-int + svg circle").count() == len(DEMO_NAMES)
    assert page.locator(".heatmap tbody tr").count() == len(DEMO_NAMES)
    page.screenshot(path=shots / "leaderboard.png", full_page=True)

    # The page's script policy allows no inline or injected script.
    assert "script-src 'self'" in page.request.get("/").headers["content-security-policy"]

    # Client-side search and sort, no reload.
    page.fill("#lb-search", "atlas")
    assert page.locator("#lb-body tr:visible").count() == 1
    page.fill("#lb-search", "")
    page.click('th[data-key="battles"] button')
    counts = [
        int(t.replace(",", "")) for t in page.locator("#lb-body td.battles").all_inner_texts()
    ]
    assert counts == sorted(counts, reverse=True)

    # Switching the source reloads with the human-only board.
    page.select_option("#lb-source", "human")
    page.wait_for_url(re.compile(r"source=human"))
    assert page.locator("#lb-body tr").count() == len(DEMO_NAMES)

    phone = page.context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto("/")
    phone.locator("#lb-body tr").first.wait_for()
    phone.screenshot(path=shots / "leaderboard-phone.png", full_page=True)
    phone.close()


def test_vote_reveals_models_and_leaderboard_updates_without_reload(page, live_url, shots):
    board = page
    board.goto("/")
    board.locator("#lb-body tr").first.wait_for()
    board.evaluate("window.__not_reloaded = true")
    total_before = int(board.locator("#lb-n-battles").inner_text())

    voter = board.context.browser.new_context(
        base_url=live_url, viewport={"width": 1280, "height": 900}
    )
    vote = voter.new_page()
    errors: list[str] = []
    vote.on("pageerror", lambda exc: errors.append(str(exc)))
    vote.goto("/vote")
    vote.locator('button[data-choice="A"]:enabled').wait_for()
    assert vote.locator("#reveal-a").is_hidden()
    assert "Model A" in vote.locator("#answer-a-h").inner_text()
    vote.screenshot(path=shots / "vote.png", full_page=True)

    started = time.monotonic()
    vote.keyboard.press("1")  # keyboard shortcut: A is better
    vote.locator("#reveal-a").wait_for(state="visible")
    model_a = vote.locator("#reveal-a").inner_text().removeprefix("Model A was ").strip()
    model_b = vote.locator("#reveal-b").inner_text().removeprefix("Model B was ").strip()
    assert model_a in DEMO_NAMES and model_b in DEMO_NAMES and model_a != model_b
    vote.screenshot(path=shots / "vote-revealed.png", full_page=True)

    # Until the debounced rebuild has run, the live feed says the board is being recomputed.
    assert board.request.get("/leaderboard.json").json()["pending"] is True
    before_a = _battles_of(board, model_a)
    board.wait_for_function(
        "n => Number(document.getElementById('lb-n-battles').textContent) > n",
        arg=total_before,
        timeout=30_000,
    )
    elapsed = time.monotonic() - started
    assert board.evaluate("window.__not_reloaded === true"), "the leaderboard page reloaded"
    board.wait_for_function(
        "() => document.getElementById('lb-recomputing').hidden", timeout=10_000
    )
    board.wait_for_function(
        "([model, before]) => {"
        ' const c = document.querySelector(`#lb-body tr[data-model="${model}"] td.battles`);'
        " return c && Number(c.textContent.replace(/,/g, '')) > before; }",
        arg=[model_a, before_a],
        timeout=10_000,
    )
    ratings = [float(t.split()[0]) for t in board.locator("#lb-body td.rating").all_inner_texts()]
    ranks = [int(t) for t in board.locator("#lb-body tr td:first-child").all_inner_texts()]
    rows = list(zip(ranks, [-r for r in ratings]))
    assert rows == sorted(rows)  # re-rendered rows keep the board's order: by rank, then rating
    board.screenshot(path=shots / "leaderboard-after-vote.png", full_page=True)
    print(f"vote -> leaderboard shows it after {elapsed:.1f} s")
    assert elapsed < 20, f"the new vote took {elapsed:.1f} s to show"

    # Next battle, voted with the mouse this time; the identities are hidden again until then.
    for choice in ("tie", "bothbad"):
        vote.keyboard.press("Enter")
        vote.locator('button[data-choice="A"]:enabled').wait_for()
        assert vote.locator("#reveal-a").is_hidden()
        vote.click(f'button[data-choice="{choice}"]')
        vote.locator("#reveal-b").wait_for(state="visible")
    voter.close()
    assert not errors, errors


def test_contestant_html_is_shown_as_text_and_never_runs(page, shots):
    page.goto("/vote")
    page.locator('button[data-choice="A"]:enabled').wait_for()
    page.select_option("#vote-category", "security")
    page.wait_for_function(
        "() => document.getElementById('vote-status').textContent.includes('security')"
    )
    body = page.locator("#answer-a-body")
    text = body.inner_text()
    assert "<script>window.__ludus_xss = 'script';</script>" in text
    assert '<img src="x" onerror="window.__ludus_xss = \'img\'">' in text
    assert body.locator("script, img, iframe, object").count() == 0
    assert body.locator("pre code").inner_text() == "<script>alert('in a code block')</script>"
    assert body.locator("strong").inner_text() == "Bold"
    assert body.locator("a").count() == 0  # a javascript: link is not made a link
    assert "<script>" in page.locator("#prompt").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__ludus_xss") == "undefined"
    page.screenshot(path=shots / "vote-hostile-html.png", full_page=True)
    page.keyboard.press("b")
    page.locator("#reveal-b").wait_for(state="visible")
    assert page.evaluate("typeof window.__ludus_xss") == "undefined"
    # That was the only battle in the category: this voter is never served it again.
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('vote-status').textContent.includes('No battle is waiting')"
    )
    assert page.locator("#answer-a-body").is_hidden()


def _tournament_link(page, name: str) -> None:
    page.goto("/tournaments/")
    page.get_by_role("link", name=name).click()
    page.wait_for_load_state()


def test_tournament_pages_render_finished_tournaments(page, shots):
    page.goto("/tournaments/")
    assert page.locator("tbody tr").count() == 4
    assert page.locator(".badge.completed").count() == 4
    page.screenshot(path=shots / "tournaments.png", full_page=True)

    _tournament_link(page, "Demo knockout")
    bracket = page.locator(".bracket")
    assert [h.strip() for h in bracket.locator("h3").all_inner_texts()] == [
        "Round 1",
        "Semi-finals",
        "Final",
    ]
    assert bracket.locator(".match").count() == 7
    assert bracket.locator(".slot.winner").count() == 7
    assert (
        bracket.locator(".round").nth(0).locator(".p").count() == 8
    )  # probability of advancing per entrant
    assert page.locator("#mc-table tbody tr").count() == 8
    page.screenshot(path=shots / "tournament-bracket.png", full_page=True)

    _tournament_link(page, "Demo Swiss")
    assert page.locator("details.panel").count() == 4
    last = page.locator("details.panel").last
    assert last.get_attribute("open") is not None
    assert last.locator("table tbody tr").count() >= 4  # the last round's pairings
    # One standings table, the same computation as the API's, with the FIDE tie-breaks.
    standings = page.locator("#standings")
    assert standings.locator("tbody tr").count() == 9
    headers = standings.locator("thead").inner_text()
    assert "BH" in headers and "SB" in headers
    page.screenshot(path=shots / "tournament-swiss.png", full_page=True)

    _tournament_link(page, "Demo round robin")
    assert page.get_by_role("heading", name="Cross-table").is_visible()
    page.screenshot(path=shots / "tournament-round-robin.png", full_page=True)

    _tournament_link(page, "Demo benchmark Swiss")
    assert page.get_by_role("heading", name="Failure sensitivity").is_visible()
    assert page.locator("figure.chart svg polyline").count() == 8  # one E[S] line per model
    page.screenshot(path=shots / "tournament-swiss-dynamics.png", full_page=True)


def test_model_page_and_not_found(page, shots):
    page.goto("/models/")
    assert page.locator("#models tbody tr").count() == len(DEMO_NAMES)
    assert page.locator("#rating-cost tbody tr").count() == len(DEMO_NAMES)  # all judged
    page.screenshot(path=shots / "models.png", full_page=True)
    page.locator("#models").get_by_role("link", name="atlas-70b").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="atlas-70b", level=1).is_visible()
    assert page.get_by_role("heading", name="Head-to-head record").is_visible()
    assert (
        page.locator("h2:has-text('Head-to-head record') + .table-wrap tbody tr").count()
        == len(DEMO_NAMES) - 1
    )
    page.screenshot(path=shots / "model.png", full_page=True)

    response = page.goto("/no-such-page")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    page.screenshot(path=shots / "404.png", full_page=True)


SHARE_TEXT = re.compile(r"^\d+\.\d % \(\d+\.\d–\d+\.\d %\)$")


def test_judges_page_shows_both_demo_judges_with_intervals(page, shots):
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Judges").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Judges", level=1).is_visible()
    api = page.request.get("/api/v1/judges/").json()
    names = [j["judge"] for j in api["judges"]]
    assert {"sim-judge", "sim-judge-2"} <= set(names)
    rows = page.locator("#judges tbody tr")
    assert rows.count() == len(names)
    for i, judge in enumerate(api["judges"]):
        row = rows.nth(i)
        assert row.get_attribute("data-judge") == judge["judge"]
        for key in ("position_bias", "swap_inconsistency", "decisiveness"):
            text = row.locator(f'td[data-figure="{key}"] .share').inner_text()
            assert SHARE_TEXT.match(text), text
            value = float(text.split(" %")[0])
            assert value == pytest.approx(100 * judge[key]["value"], abs=0.051)
    note = page.locator("#judges-note")
    assert note.get_by_text("cluster bootstrap", exact=False).first.is_visible()
    assert note.get_by_text("Self-preference", exact=True).is_visible()
    page.screenshot(path=shots / "judges.png", full_page=True)


def test_judges_page_self_preference_is_the_api(page, shots):
    """The demo judges name providers that demo competitors share: each row shows the API's
    provider and status, with shares for a shown judge and the reason otherwise."""
    page.goto("/judges/")
    api = page.request.get("/api/v1/judges/").json()
    rows = page.locator("#judge-selfpref tbody tr")
    assert rows.count() == len(api["judges"])
    providers = {j["judge"]: j["self_preference"]["provider"] for j in api["judges"]}
    assert providers["sim-judge"] == "Cloudworks" and providers["sim-judge-2"] == "Demo Labs"
    for i, judge in enumerate(api["judges"]):
        sp, row = judge["self_preference"], rows.nth(i)
        assert row.get_attribute("data-selfpref-judge") == judge["judge"]
        assert row.get_attribute("data-status") == sp["status"]
        assert row.locator('td[data-figure="provider"]').inner_text() == (sp["provider"] or "–")
        assert row.locator('td[data-figure="matches"]').inner_text() == str(sp["matches"])
        if sp["status"] == "shown":
            text = row.locator('td[data-figure="own_side_wins"]').inner_text()
            assert SHARE_TEXT.match(text), text
            assert float(text.split(" %")[0]) == pytest.approx(
                100 * sp["own_side_wins"]["value"], abs=0.051
            )
        else:
            assert sp["reason"] in row.locator('td[data-figure="status"]').inner_text()
    page.locator("#judge-selfpref").screenshot(path=shots / "judges_selfpref.png")


def test_judges_page_usage_judge_run_and_stability(page, shots):
    """The judges page's usage table and runs list, the run's board, and the stability report
    chosen with the page's form, each against the API's numbers."""
    page.goto("/judges/")
    api = page.request.get("/api/v1/judges/").json()
    usage = page.locator("#judge-usage tbody tr")
    assert usage.count() == len(api["judges"]) >= 3  # the two demo judges and the re-judge one
    for i, judge in enumerate(api["judges"]):
        row = usage.nth(i)
        assert row.get_attribute("data-usage-judge") == judge["judge"]
        assert row.locator('td[data-figure="calls"]').inner_text() == str(judge["usage"]["calls"])
        p50 = row.locator('td[data-figure="latency_p50_ms"]').inner_text()
        assert p50.startswith(f"{judge['usage']['latency_p50_ms']['value']:.0f} ms")
    runs = page.request.get("/api/v1/judge-runs/").json()["results"]
    (run,) = [r for r in runs if r["status"] == "done"]
    link = page.locator("#judge-runs").get_by_role("link", name=run["name"])
    assert link.is_visible()
    link.click()
    page.wait_for_load_state()
    detail = page.request.get(f"/api/v1/judge-runs/{run['id']}/").json()
    board = page.locator("#run-board tbody tr")
    assert board.count() == len(detail["board"]["ratings"]) > 0
    assert board.first.get_attribute("data-model") == detail["board"]["ratings"][0]["model"]
    assert page.locator("#run-calibration tbody tr").count() == 1  # the pinned judge passed
    page.screenshot(path=shots / "judge_run.png", full_page=True)

    page.goto("/judges/")
    form = page.locator("#stability-form")
    form.get_by_label("Board A").select_option(f"run:{run['id']}")
    form.get_by_label("Board B").select_option("main")
    form.get_by_role("button", name="Compare").click()
    page.wait_for_load_state()
    report = page.request.get(f"/api/v1/judges/stability/?a=run:{run['id']}&b=main").json()
    tau = page.locator('#stability-summary [data-field="tau"]').inner_text()
    assert tau.startswith(f"{report['tau']:.3f} [{report['tau_lower']:.3f}, ")
    flips = page.locator('#stability-summary [data-field="flips"]').inner_text()
    assert flips.startswith(f"{report['n_flips']} of {report['n_pairs']}")
    if report["flips"]:
        assert page.locator("#stability-flips tbody tr").count() == report["n_flips"]
    if report["moves"]:
        assert page.locator("#stability-moves tbody tr").count() == len(report["moves"])
    page.screenshot(path=shots / "judge_stability.png", full_page=True)


def test_keyboard_focus_is_visible(page):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_leaderboard_lists_provisional_models_apart_and_keeps_them_apart_when_sorted(page, shots):
    # the human-vote coding board of the demo: most models have fewer battles than the listing rule
    page.goto("/?method=bt&source=human&category=coding")
    page.locator("#lb-body tr[data-model]").first.wait_for()

    def sections() -> list[str]:
        return page.locator("#lb-body tr[data-model]").evaluate_all(
            "rs => rs.map(r => r.dataset.section)"
        )

    before = sections()
    assert "provisional" in before
    assert before == sorted(before, key=["ranked", "provisional", "separate"].index)
    assert page.locator("#lb-body tr.section-head").count() == len(set(before))
    ranks = page.locator('#lb-body tr[data-section="provisional"] td:first-child').all_inner_texts()
    assert ranks and set(ranks) == {"–"}
    assert (
        "Listing rule" in page.locator("#lb-note-listing").text_content()
    )  # inside the closed note
    page.click('th[data-key="battles"] button')  # client-side sort: sections stay apart
    after = sections()
    assert after == sorted(after, key=["ranked", "provisional", "separate"].index)
    assert page.locator("#lb-body tr.section-head").count() == len(set(after))
    page.screenshot(path=shots / "leaderboard-provisional.png", full_page=True)
