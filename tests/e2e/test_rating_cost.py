"""The rating-against-cost chart on the models page, in headless Chromium: desktop and phone.

The demo sets an admin price for every model before the tournaments are played, so every model
that played one has a rating and priced answers: a point, with its rating and cost bars.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_rating_cost_chart_renders_beside_its_table(browser, live_url, shots, width):
    context = browser.new_context(base_url=live_url, viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        api = page.request.get(f"{live_url}/api/v1/models/rating-cost/").json()
        charted = {
            r["name"]: r
            for r in api["rows"]
            if r["rating"] is not None and r["cost_per_battle"]["value"] is not None
        }
        assert len(charted) >= 8, api["rows"]  # the tournaments' models, rated and priced
        with_bars = [
            r
            for r in charted.values()
            if r["lower"] is not None and r["cost_per_battle"]["lower"] is not None
        ]
        assert len(with_bars) >= 8

        page.goto("/models/")
        figure = page.locator("#rating-cost-chart")
        svg = figure.locator("svg")
        assert svg.is_visible()
        points = svg.locator("g.point")
        assert points.count() == len(charted)
        assert svg.locator("g.point line.bar-rating").count() == sum(
            r["lower"] is not None or r["upper"] is not None for r in charted.values()
        )
        assert svg.locator("g.point line.bar-cost").count() == sum(
            r["cost_per_battle"]["lower"] is not None or r["cost_per_battle"]["upper"] is not None
            for r in charted.values()
        )
        # every point is the API's model with the API's numbers (page == API)
        for i in range(points.count()):
            g = points.nth(i)
            row = charted[g.get_attribute("data-model")]
            assert float(g.get_attribute("data-rating")) == row["rating"]
            assert float(g.get_attribute("data-cost")) == row["cost_per_battle"]["value"]
        assert "t interval" in svg.locator("text.axis-x").text_content()
        assert "Bradley-Terry" in svg.locator("text.axis-y").text_content()

        chart_box, table_box = figure.bounding_box(), page.locator("#rating-cost").bounding_box()
        svg_box = svg.bounding_box()
        assert svg_box["width"] > 0.6 * min(width, 640) - 40  # drawn at a usable size
        assert svg_box["x"] >= 0 and svg_box["x"] + svg_box["width"] <= width + 0.5
        if width >= 1100:  # beside the table
            assert chart_box["x"] + chart_box["width"] <= table_box["x"] + 0.5
            assert chart_box["y"] < table_box["y"] + table_box["height"]
        else:  # above it, the whole chart on screen without scrolling sideways
            assert chart_box["y"] + chart_box["height"] <= table_box["y"] + 0.5
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
            overflow = page.evaluate(
                "(el) => el.scrollWidth - el.clientWidth", figure.element_handle()
            )
            assert overflow <= 0
        figure.screenshot(path=shots / f"rating-cost-chart-{width}.png")
        page.screenshot(path=shots / f"models-{width}.png", full_page=True)
    finally:
        context.close()
    assert not errors, errors
