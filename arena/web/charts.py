"""Small inline SVG charts drawn on the server: no chart library, no script, every label escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#0b57d0", "#b3261e", "#146c2e", "#7a4b00", "#6a1b9a", "#00695c", "#ad1457", "#37474f")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=raw)
    start = (lo // step) * step
    out = []
    x = start
    while x <= hi + 1e-9:
        if x >= lo - 1e-9:
            out.append(round(x, 10))
        x += step
    return out


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 10 else f"{x:.2f}".rstrip("0").rstrip(".")


def interval_chart(rows: Sequence[dict[str, Any]], *, title: str, limit: int = 25) -> SafeString:
    """A forest plot: one line per model from lower to upper bound, a dot at the rating."""
    rows = [r for r in rows if r.get("rating") is not None][:limit]
    if not rows:
        return mark_safe("")  # noqa: S308 - constant
    lows = [r["lower"] if r.get("lower") is not None else r["rating"] for r in rows]
    highs = [r["upper"] if r.get("upper") is not None else r["rating"] for r in rows]
    lo, hi = min(lows), max(highs)
    pad = (hi - lo) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    left, right, row_h, top = 120, 12, 18, 8
    width = 560
    height = top + row_h * len(rows) + 26
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + plot_w * (v - lo) / (hi - lo)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for t in _ticks(lo, hi):
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{height - 22}" '
            'stroke="#e3e7ec"/>'
            f'<text x="{x(t):.1f}" y="{height - 8}" text-anchor="middle">{_fmt(t)}</text>'
        )
    for i, (r, lw, hg) in enumerate(zip(rows, lows, highs)):
        y = top + row_h * i + row_h / 2
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(r["model"])}</text>'
            f'<line x1="{x(lw):.1f}" x2="{x(hg):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#0b57d0" stroke-width="2"/>'
            f'<line x1="{x(lw):.1f}" x2="{x(lw):.1f}" y1="{y - 4:.1f}" y2="{y + 4:.1f}" '
            'stroke="#0b57d0" stroke-width="2"/>'
            f'<line x1="{x(hg):.1f}" x2="{x(hg):.1f}" y1="{y - 4:.1f}" y2="{y + 4:.1f}" '
            'stroke="#0b57d0" stroke-width="2"/>'
            f'<circle cx="{x(r["rating"]):.1f}" cy="{y:.1f}" r="3.5" fill="#1b1f24">'
            f"<title>{escape(r['model'])}: {r['rating']:.1f} [{lw:.1f}, {hg:.1f}]</title></circle>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    bands: Sequence[Sequence[tuple[float, float, float]]] | None = None,
) -> SafeString:
    """Lines (name, [(x, y), ...]) on shared axes, with an optional shaded band per series."""
    pts = [p for _, s in series for p in s]
    if not pts:
        return mark_safe("")  # noqa: S308 - constant
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    if bands:
        ys += [v for b in bands for (_, lo, hi) in b for v in (lo, hi)]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pad = (y1 - y0) * 0.08 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    width, height = 560, 240
    left, right, top, bottom = 48, 12 + (110 if len(series) > 1 else 0), 10, 34
    pw, ph = width - left - right, height - top - bottom

    def sx(v: float) -> float:
        return left + pw * (v - x0) / (x1 - x0)

    def sy(v: float) -> float:
        return top + ph * (1 - (v - y0) / (y1 - y0))

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for t in _ticks(y0, y1, 4):
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
            'stroke="#e3e7ec"/>'
            f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    x_ticks = _ticks(x0, x1, 6)
    if all(float(v).is_integer() for v in xs):
        x_ticks = [t for t in x_ticks if float(t).is_integer()] or sorted(set(xs))
    for t in x_ticks:
        parts.append(
            f'<text x="{sx(t):.1f}" y="{top + ph + 14}" text-anchor="middle">{_fmt(t)}</text>'
        )
    if x_label:
        parts.append(
            f'<text x="{left + pw / 2:.1f}" y="{height - 4}" text-anchor="middle">'
            f"{escape(x_label)}</text>"
        )
    if y_label:
        parts.append(
            f'<text x="10" y="{top + ph / 2:.1f}" transform="rotate(-90 10 {top + ph / 2:.1f})" '
            f'text-anchor="middle">{escape(y_label)}</text>'
        )
    for i, band in enumerate(bands or []):
        if len(band) < 2:
            continue
        upper = " ".join(f"{sx(bx):.1f},{sy(hi):.1f}" for bx, _, hi in band)
        lower = " ".join(f"{sx(bx):.1f},{sy(lo):.1f}" for bx, lo, _ in reversed(band))
        parts.append(
            f'<polygon points="{upper} {lower}" fill="{PALETTE[i % len(PALETTE)]}" '
            'fill-opacity="0.15"/>'
        )
    for i, (name, s) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in s)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        for a, b in s:
            parts.append(
                f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(name)}: {_fmt(a)} → {b:.2f}</title></circle>"
            )
        if len(series) > 1:
            ly = top + 12 + 14 * i
            parts.append(
                f'<rect x="{left + pw + 10}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
                f'<text x="{left + pw + 24}" y="{ly + 1}">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above


def heatmap_table(heatmap: dict[str, Any], *, caption: str) -> SafeString:
    """The pairwise win-rate matrix as an accessible HTML table with coloured cells.

    Built here rather than in a template: a 16 x 16 grid is a few hundred cells, and this is
    several times faster than the template language; every name is escaped.
    """
    names = [escape(n) for n in heatmap["models"]]
    parts = [
        '<table class="heatmap">',
        f'<caption class="sr-only">{escape(caption)}</caption>',
        '<thead><tr><th scope="col"><span class="sr-only">model</span></th>',
    ]
    parts += [f'<th scope="col" class="col">{n}</th>' for n in names]
    parts.append("</tr></thead><tbody>")
    for i, row in enumerate(heatmap["grid"]):
        parts.append(f'<tr><th scope="row" class="row">{escape(row["name"])}</th>')
        for j, cell in enumerate(row["cells"]):
            if cell["rate"] is not None:
                text = f"{round(100 * cell['rate'])}"
            elif i == j:
                text = '<span class="sr-only">same model</span>'
            else:
                text = '<span class="muted">·</span>'
            parts.append(
                f'<td style="background:{escape(cell["color"])}" '
                f'title="{cell["n"]} battles">{text}</td>'
            )
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above


#: A cost axis is logarithmic when the dearest point costs at least this many times the cheapest
#: (model prices span orders of magnitude; on a linear axis the cheap ones would pile up at 0).
LOG_COST_RATIO = 20.0


def _plain(v: float) -> str:
    """``v`` in plain decimals, as many as its first significant digit needs (no exponent)."""
    if v == 0:
        return "0"
    return f"{v:.{max(0, -math.floor(math.log10(abs(v)) + 1e-9))}f}"


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1, 2 and 5 times the powers of ten within ``[lo, hi]`` (only the powers over 3 decades)."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    steps = (1.0,) if last - first > 3 else (1.0, 2.0, 5.0)
    return [
        float(f"{k * 10.0**e:.12g}")
        for e in range(first, last + 1)
        for k in steps
        if lo <= k * 10.0**e <= hi
    ]


def rating_cost_chart(
    rows: Sequence[dict[str, Any]], *, title: str, x_label: str, y_label: str, currency: str
) -> SafeString:
    """A scatter of rating (y) against mean cost per battle (x), both with error bars.

    ``rows`` are :func:`arena.selectors.usage.competitor_rating_cost` rows: a point for each
    with a rating and a cost, its vertical bar the rating interval and its horizontal bar the
    cost interval (no bar where both bounds are unknown, no cap on an unknown bound). The cost
    axis is linear from 0, or logarithmic (said on the axis) when every cost is positive and
    the dearest is at least :data:`LOG_COST_RATIO` times the cheapest; there a lower bound
    below the axis (a t interval cut at 0) runs to the axis' edge without a cap. Names label
    the points where they do not overlap; every point also carries its name and numbers in a
    ``<title>`` tooltip and in ``data-`` attributes.
    """
    pts = [
        r
        for r in rows
        if r.get("rating") is not None and (r.get("cost_per_battle") or {}).get("value") is not None
    ]
    if not pts:
        return mark_safe("")  # noqa: S308 - constant
    ys = [v for r in pts for v in (r["rating"], r.get("lower"), r.get("upper")) if v is not None]
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.06 or 10.0
    y0, y1 = y0 - pad, y1 + pad
    values = [r["cost_per_battle"]["value"] for r in pts]
    highs = [r["cost_per_battle"]["upper"] or r["cost_per_battle"]["value"] for r in pts]
    lows = [r["cost_per_battle"]["lower"] for r in pts]
    log = min(values) > 0 and max(values) >= LOG_COST_RATIO * min(values)
    if log:
        x0 = min([*values, *(v for v in lows if v and v > 0)]) / 1.25
        x1 = max(highs) * 1.25
        x_ticks = _log_ticks(x0, x1)
        x_label = f"{x_label} (log scale)"
    else:
        x0, x1 = 0.0, max(highs) * 1.06 or 1.0
        x_ticks = _ticks(x0, x1, 4)
    width, height = 440, 330
    left, right, top, bottom = 56, 14, 10, 44
    pw, ph = width - left - right, height - top - bottom

    def sx(v: float) -> float:
        if log:
            if v <= x0:
                return float(left)
            return left + pw * (math.log10(v) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))
        return left + pw * (v - x0) / (x1 - x0)

    def sy(v: float) -> float:
        return top + ph * (1 - (v - y0) / (y1 - y0))

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for t in _ticks(y0, y1, 5):
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
            'stroke="#e3e7ec"/>'
            f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    digits = 0  # enough decimals to write every tick exactly (a step of 0.025 needs three)
    while digits < 10 and any(abs(round(t, digits) - t) > 1e-12 for t in x_ticks):
        digits += 1
    for t in x_ticks:
        parts.append(
            f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top}" y2="{top + ph}" '
            'stroke="#e3e7ec"/>'
            f'<text x="{sx(t):.1f}" y="{top + ph + 14}" text-anchor="middle">'
            f"{_plain(t) if log else f'{t:.{digits}f}'}</text>"
        )
    parts.append(
        f'<text class="axis-x" x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text class="axis-y" x="12" y="{top + ph / 2:.1f}" '
        f'transform="rotate(-90 12 {top + ph / 2:.1f})" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    bar = f'stroke="{PALETTE[0]}" stroke-width="1.5"'

    def caps(ends: Sequence[tuple[float, Any]], *, vertical: bool, at: float) -> str:
        """The end ticks of a bar, at each bound that is known (and on the axis)."""
        out = []
        for v, given in ends:
            if given is None or (log and not vertical and given <= x0):
                continue
            if vertical:
                out.append(
                    f'<line x1="{at - 3:.1f}" x2="{at + 3:.1f}" y1="{v:.1f}" y2="{v:.1f}" {bar}/>'
                )
            else:
                out.append(
                    f'<line x1="{v:.1f}" x2="{v:.1f}" y1="{at - 3:.1f}" y2="{at + 3:.1f}" {bar}/>'
                )
        return "".join(out)

    def interval(lo: Any, hi: Any, fmt: str) -> str:
        return "[" + ", ".join("–" if v is None else format(v, fmt) for v in (lo, hi)) + "]"

    placed: list[tuple[float, float, float, float]] = []
    for r in sorted(pts, key=lambda r: -r["rating"]):
        cost = r["cost_per_battle"]
        cx, cy = sx(cost["value"]), sy(r["rating"])
        name = escape(r["name"])
        parts.append(
            f'<g class="point" data-model="{name}" data-rating="{r["rating"]!r}" '
            f'data-cost="{cost["value"]!r}">'
        )
        r_lo, r_hi = r.get("lower"), r.get("upper")
        if r_lo is not None or r_hi is not None:
            lo, hi = (
                sy(r["rating"] if r_lo is None else r_lo),
                sy(r["rating"] if r_hi is None else r_hi),
            )
            parts.append(
                f'<line class="bar-rating" x1="{cx:.1f}" x2="{cx:.1f}" y1="{lo:.1f}" '
                f'y2="{hi:.1f}" {bar}/>' + caps(((lo, r_lo), (hi, r_hi)), vertical=True, at=cx)
            )
        c_lo, c_hi = cost["lower"], cost["upper"]
        if c_lo is not None or c_hi is not None:
            lo = sx(cost["value"] if c_lo is None else c_lo)
            hi = sx(cost["value"] if c_hi is None else c_hi)
            parts.append(
                f'<line class="bar-cost" x1="{lo:.1f}" x2="{hi:.1f}" y1="{cy:.1f}" '
                f'y2="{cy:.1f}" {bar}/>' + caps(((lo, c_lo), (hi, c_hi)), vertical=False, at=cy)
            )
        tip = (
            f"{name}: rating {r['rating']:.1f} {interval(r_lo, r_hi, '.1f')}; "
            f"cost per battle {cost['value']:.6f} {interval(c_lo, c_hi, '.6f')} "
            f"{escape(currency)}"
        )
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="#1b1f24">'
            f"<title>{tip}</title></circle>"
        )
        label_w, label_h = 5.8 * len(r["name"]), 10.0
        for dx, dy, anchor in (
            (5, -4, "start"),
            (5, 12, "start"),
            (-5, -4, "end"),
            (-5, 12, "end"),
        ):
            lx = cx + dx if anchor == "start" else cx + dx - label_w
            box = (lx, cy + dy - label_h + 2, lx + label_w, cy + dy + 2)
            inside = box[0] >= left and box[2] <= left + pw and box[1] >= top and box[3] <= top + ph
            if inside and not any(
                box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed
            ):
                placed.append(box)
                parts.append(
                    f'<text class="label" x="{cx + dx:.1f}" y="{cy + dy:.1f}" '
                    f'text-anchor="{anchor}">{name}</text>'
                )
                break
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above
