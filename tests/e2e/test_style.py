"""The style-control toggle on the leaderboard, in headless Chromium: with and without script."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def _ratings(page) -> dict[str, str]:
    rows = page.locator("#lb-body tr[data-model]")
    rows.first.wait_for()
    return {
        rows.nth(i).get_attribute("data-model"): rows.nth(i).locator("td.rating").inner_text()
        for i in range(rows.count())
    }


@pytest.mark.parametrize("script", [True, False], ids=["with-js", "without-js"])
def test_style_toggle_switches_between_the_plain_and_the_style_board(
    browser, live_url, shots, script
):
    context = browser.new_context(
        base_url=live_url, viewport={"width": 1280, "height": 900}, java_script_enabled=script
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/")
        plain = _ratings(page)
        assert page.locator("#lb-style-off").get_attribute("aria-current") == "page"
        assert page.locator("#lb-style-on").get_attribute("aria-current") is None

        page.click("#lb-style-on")
        page.wait_for_url(re.compile(r"style_control=true"))
        styled = _ratings(page)
        assert page.locator("#lb-style-on").get_attribute("aria-current") == "page"
        assert "style-controlled" in page.locator("#lb-status").inner_text()
        assert set(styled) == set(plain) and styled != plain
        page.locator("#lb-note summary").click()
        coefficients = page.locator("#lb-style-coefficients tbody tr")
        assert coefficients.count() == 4
        first = coefficients.first.locator("td").all_inner_texts()
        assert first[0].startswith("Answer length") and re.match(r"^[+-]\d\.\d{3}$", first[1])
        assert re.match(r"^\[-?\d\.\d{3}, -?\d\.\d{3}\]$", first[2].replace("−", "-"))
        if script:
            page.screenshot(path=shots / "leaderboard-style.png", full_page=True)

        # keyboard: the other link is reachable and follows with Enter
        page.focus("#lb-style-off")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "style_control" not in url)
        assert page.locator("#lb-style-off").get_attribute("aria-current") == "page"
        # (the same models; their numbers may have moved if a vote was rated in the meantime)
        assert set(_ratings(page)) == set(plain)
    finally:
        context.close()
    assert not errors, errors


def test_style_board_fits_a_phone(browser, live_url, shots):
    context = browser.new_context(base_url=live_url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto("/?method=bt&style_control=true")
        page.locator("#lb-body tr").first.wait_for()
        page.locator("#lb-note summary").click()
        assert page.locator("#lb-style-on").is_visible()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        page.screenshot(path=shots / "leaderboard-style-phone.png", full_page=True)
    finally:
        context.close()
