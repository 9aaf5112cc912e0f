"""The K-wise vote page (K-Sort Arena) in headless Chromium: rank with the keyboard and with
the mouse, the reveal, the stacked layout at 390 px, and the K-wise board."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def _reveals(page, labels: str) -> dict[str, tuple[int, str]]:
    out = {}
    for label in labels:
        text = page.locator(f"#reveal-{label}").inner_text()
        match = re.fullmatch(r"#(\d): (.+)", text.strip())
        assert match, text
        out[label] = (int(match.group(1)), match.group(2))
    return out


def test_rank_four_answers_with_the_keyboard_then_three_with_the_mouse(page, shots):
    page.goto("/vote/kwise?k=4")
    page.locator("#pick-A:enabled").wait_for()
    assert page.locator("#answers .answer").count() == 4
    assert all(page.locator(f"#reveal-{x}").is_hidden() for x in "ABCD")
    assert page.locator("#kwise-submit").is_disabled()
    # the answers are rendered as text: no hostile HTML in an answer ever runs
    assert page.evaluate("window.__ludus_xss") is None
    page.screenshot(path=shots / "vote-kwise.png", full_page=True)

    # keyboard: 3, 1, 4 pick C, A, D; the last answer (B) is placed last by itself
    for key in ("3", "1", "4"):
        page.keyboard.press(key)
    assert page.locator("#kwise-order").inner_text() == "Your ranking: C > A > D > B"
    assert page.locator("#rank-C").inner_text() == "#1"
    page.keyboard.press("Backspace")  # undoes D and the automatic last place
    assert page.locator("#kwise-order").inner_text() == "Your ranking: C > A"
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    page.locator("#reveal-A").wait_for(state="visible")
    shown = _reveals(page, "ABCD")
    assert {label: rank for label, (rank, _) in shown.items()} == {"C": 1, "A": 2, "D": 3, "B": 4}
    assert len({name for _, name in shown.values()}) == 4
    assert "Thanks!" in page.locator("#vote-status").inner_text()
    page.screenshot(path=shots / "vote-kwise-revealed.png", full_page=True)

    # Enter: the next battle, identities hidden again
    page.keyboard.press("Enter")
    page.locator("#pick-A:enabled").wait_for()
    assert page.locator("#reveal-A").is_hidden()

    # the mouse, with three answers: B, undo, C, A; B is last by itself; Submit
    page.goto("/vote/kwise?k=3")
    page.locator("#pick-A:enabled").wait_for()
    assert page.locator("#answers .answer").count() == 3
    page.click("#pick-B")
    assert page.locator("#pick-B").is_disabled()
    page.click("#kwise-undo")
    page.click("#pick-C")
    page.click("#pick-A")
    assert page.locator("#kwise-order").inner_text() == "Your ranking: C > A > B"
    page.click("#kwise-submit")
    page.locator("#reveal-A").wait_for(state="visible")
    shown = _reveals(page, "ABC")
    assert {label: rank for label, (rank, _) in shown.items()} == {"C": 1, "A": 2, "B": 3}
    assert page.locator("#pick-A").is_disabled() and page.locator("#kwise-submit").is_disabled()


def test_answers_stack_at_390_px(browser, live_url):
    context = browser.new_context(base_url=live_url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto("/vote/kwise?k=4")
        page.locator("#pick-A:enabled").wait_for()
        boxes = [page.locator(f"#answer-{x}").bounding_box() for x in "ABCD"]
        assert len({round(b["x"]) for b in boxes}) == 1  # one column
        assert all(b["y"] < c["y"] for b, c in zip(boxes, boxes[1:]))  # in label order
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        page.click("#pick-D")
        assert page.locator("#rank-D").inner_text() == "#1"
    finally:
        context.close()


def test_kwise_board_is_on_the_leaderboard_page(page):
    page.goto("/?method=kwise_bt&source=human")
    rows = page.locator("#lb-body tr")
    rows.first.wait_for()
    assert rows.count() >= 10
    assert "implied pairs" in page.content()
