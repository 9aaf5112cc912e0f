"""Every page fits a 390 px wide phone: nothing makes the page itself scroll sideways.

Wide content (tables, brackets, charts) may scroll inside its own box; the page may not.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

WIDTH = 390

#: The elements that stick out of the viewport on their own (their parent does not, and no
#: scrolling box clips them), with their right edges (px), the widest first.
_OVERFLOW_JS = """(width) => {
  const out = [];
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible'
          && a.getBoundingClientRect().right <= width + 0.5) return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    const parent = el.parentElement.getBoundingClientRect();
    if (r.right > width + 0.5 && parent.right <= width + 0.5 && !clipped(el)) {
      const cls = typeof el.className === 'string' && el.className.trim()
        ? '.' + el.className.trim().replace(/\\s+/g, '.') : '';
      out.push([Math.round(r.right), el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls]);
    }
  }
  out.sort((a, b) => b[0] - a[0]);
  return out.slice(0, 8);
}"""


def _pages(page) -> list[str]:
    """The site's pages: the fixed ones, every tournament and every model linked from the lists."""
    paths = [
        "/",
        "/?source=human",
        "/?method=bt&style_control=true",
        "/vote",
        "/vote/kwise",
        "/vote/kwise?k=3",
        "/?method=kwise_bt&source=human",
        "/models/",
        "/tournaments/",
        "/judges/",
        "/no-such-page",
        "/admin/login/",
    ]
    page.goto("/judges/")
    runs = page.eval_on_selector_all(
        'main a[href^="/judges/runs/"]', "els => els.map(e => e.getAttribute('href'))"
    )
    paths += sorted(set(runs))
    paths += [f"/judges/stability/?a=run:{r.split('/')[3]}&b=main" for r in sorted(set(runs))]
    for listing, prefix in (("/tournaments/", "/tournaments/"), ("/models/", "/models/")):
        page.goto(listing)
        hrefs = page.eval_on_selector_all(
            f'main a[href^="{prefix}"]', "els => els.map(e => e.getAttribute('href'))"
        )
        paths += sorted({h for h in hrefs if h != prefix})
    return paths


def test_no_page_scrolls_sideways_at_390_px(browser, live_url):
    context = browser.new_context(base_url=live_url, viewport={"width": WIDTH, "height": 844})
    page = context.new_page()
    try:
        paths = _pages(page)
        assert (
            sum(p.startswith("/tournaments/") for p in paths) >= 5
            and sum(p.startswith("/models/") for p in paths) >= 5
        )
        wide = {}
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            if width > WIDTH:
                wide[path] = (width, page.evaluate(_OVERFLOW_JS, WIDTH))
        assert not wide, f"pages wider than {WIDTH} px (scrollWidth, widest elements): {wide}"
    finally:
        context.close()
