"""Server-side response time of each web page on the demo data, and the leaderboard's weight.

Builds a fresh database (SQLite in a temporary folder unless DATABASE_URL is set), loads the
demo set plus the e2e tournaments and vote battles (tests/e2e/seed.py), builds every
leaderboard with the real rebuild service, then requests each page N times through Django's
test client (the full middleware stack, templates and selectors; no network) and reports p50
and p95. The cache is Redis when reachable (as in production), else local memory.

Usage: ``.venv/bin/python bench/bench_pages.py [-n 50] [--no-write]``
Targets: every page under 100 ms at the server; the leaderboard page with its assets under 300 kB.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _results import cpu_model, results_section_write  # bench/ is sys.path[0] when a script runs

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Pages (bench_pages.py)"


def _configure(tmp: Path) -> str:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}")
    os.environ["LUDUS_VAR_DIR"] = str(tmp)
    os.environ["DEBUG"] = "0"
    os.environ["SECRET_KEY"] = "bench-" + "x" * 50
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["LUDUS_TESTING"] = "1"  # static files from static/ through the finders
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["LOG_LEVEL"] = "ERROR"
    cache = "local memory"
    try:
        import redis

        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/12"
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        os.environ["CACHE_URL"] = url
        os.environ["CACHE_KEY_PREFIX"] = f"ludus-bench-{os.getpid()}"
        cache = "Redis"
    except Exception:
        os.environ["LUDUS_EAGER"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return cache


def _machine() -> str:
    model = cpu_model("")
    return f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, {model}".rstrip(
        ", "
    )


def _weight(client, html: bytes) -> tuple[int, int, list[tuple[str, int]]]:
    """Bytes of the page and every same-origin stylesheet and script it loads (raw and gzip)."""
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
    raw = len(html)
    gz = len(gzip.compress(html))
    parts = [("HTML", len(html))]
    for url in dict.fromkeys(a.decode() for a in assets):
        resp = client.get(url)
        body = b"".join(resp.streaming_content) if resp.streaming else resp.content
        raw += len(body)
        gz += len(gzip.compress(body))
        parts.append((url, len(body)))
    external = re.findall(rb'(?:href|src)="(https?:)?//', html)
    if external:
        raise SystemExit("the leaderboard page loads something from outside")
    return raw, gz, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-n", type=int, default=50, help="requests per page (after 3 warm-up requests)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ludus-bench-pages-"))
    cache_kind = _configure(tmp)
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from arena import models as m
    from tests.e2e.seed import seed_all

    call_command("migrate", verbosity=0)
    cache.clear()
    started = time.perf_counter()
    seeded = seed_all()
    seed_s = time.perf_counter() - started

    client = Client()
    t = {x.name: x.id for x in m.Tournament.objects.all()}
    model_id = m.Competitor.objects.get(name="atlas-70b").id

    def current_etag() -> dict[
        str, str
    ]:  # taken after the cache is cleared, as a polling client would hold it
        return {"HTTP_IF_NONE_MATCH": client.get("/leaderboard.json")["ETag"]}

    pages = [
        ("leaderboard (bt, combined)", "/", {}),
        ("leaderboard (elo, human, coding)", "/?method=elo&source=human&category=coding", {}),
        ("leaderboard.json", "/leaderboard.json", {}),
        ("leaderboard.json (304)", "/leaderboard.json", current_etag),
        ("vote page", "/vote", {}),
        ("models", "/models/", {}),
        ("model page", f"/models/{model_id}/", {}),
        ("tournaments", "/tournaments/", {}),
        ("bracket (single elimination)", f"/tournaments/{t['Demo knockout']}/", {}),
        ("Swiss standings", f"/tournaments/{t['Demo Swiss']}/", {}),
        ("round robin cross-table", f"/tournaments/{t['Demo round robin']}/", {}),
        ("Swiss dynamics + sensitivity", f"/tournaments/{t['Demo benchmark Swiss']}/", {}),
        ("404 page", "/no-such-page", {}),
    ]
    rows = []
    for label, url, headers in pages:
        cache.clear()  # the first request fills the snapshot, win-rate and simulation caches
        if callable(headers):
            headers = headers()
            cache.clear()  # and cold again
        t0 = time.perf_counter()
        client.get(url, **headers)
        cold = (time.perf_counter() - t0) * 1000
        for _ in range(3):
            client.get(url, **headers)
        times = []
        with CaptureQueriesContext(connection) as q:
            client.get(url, **headers)
        queries = len(q.captured_queries)
        status = None
        for _ in range(args.n):
            t0 = time.perf_counter()
            resp = client.get(url, **headers)
            times.append((time.perf_counter() - t0) * 1000)
            status = resp.status_code
        reset_queries()
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        rows.append((label, url, status, queries, cold, statistics.median(times), p95, max(times)))

    html = client.get("/").content
    raw, gz, parts = _weight(client, html)

    lines = [
        SECTION,
        "",
        f"{dt.date.today().isoformat()} · {_machine()} · Python {platform.python_version()} · "
        f"{connection.vendor} · cache: {cache_kind} · {args.n} requests per page "
        "after 3 warm-up requests.",
        f"Demo data: {m.Battle.objects.count()} battles, {m.Competitor.objects.count()} models, "
        f"{seeded['snapshots']} leaderboard snapshots, "
        f"{seeded['tournaments']} finished tournaments "
        f"(seeding and building every leaderboard took {seed_s:.1f} s).",
        "Time is measured at the server through Django's test client "
        "(middleware, selectors, templates; no network).",
        "`cold` is the first request after the cache was cleared "
        "(it reads the snapshot from the database and runs",
        "the tournament simulation, both then cached); `queries` is counted on a warm cache.",
        "",
        "| page | status | queries | cold ms | p50 ms | p95 ms | max ms | p95 < 100 ms |",
        "|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for label, url, status, queries, cold, p50, p95, mx in rows:
        lines.append(
            f"| {label} (`{url}`) | {status} | {queries} | {cold:.1f} | {p50:.1f} | {p95:.1f} "
            f"| {mx:.1f} | {'yes' if p95 < 100 else 'NO'} |"
        )
    lines += [
        "",
        f"Leaderboard page weight with its assets: {raw / 1000:.1f} kB raw, "
        f"{gz / 1000:.1f} kB gzipped (target < 300 kB; {'met' if raw < 300_000 else 'NOT met'}); "
        "nothing is loaded from another origin.",
        "",
        "| resource | bytes |",
        "|---|---:|",
        *[f"| {name} | {size:,} |" for name, size in parts],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        results_section_write(SECTION, text)
    with contextlib.suppress(Exception):
        cache.clear()


if __name__ == "__main__":
    main()
