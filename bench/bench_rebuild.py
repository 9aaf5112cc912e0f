"""The leaderboard rebuild after one new battle: pair aggregates and online state vs the full path.

Builds a fresh PostgreSQL database (``ludus_bench_rebuild`` on the server of ``DATABASE_URL``,
default ``postgres://postgres@127.0.0.1:5432``), migrates it, stores N human battle records
(100 models, 5 categories, Bradley-Terry truth, 10 % ties) and then, for each N:

1. **after** (this checkout, run second): the first ``leaderboard_rebuild_all()`` (every
   scope, every method: aggregates folded from scratch, Elo bootstrap, α-Rank, E[S]), then
   three times one new battle + ``leaderboard_rebuild_all(scopes="touched")`` as the rebuild
   after a vote runs it (it never computes the slow parts), then one new battle and the
   periodic every-scope rebuild, with the slow parts not due (``SLOW_SECONDS=300``) and due
   (``SLOW_SECONDS=0``: what the scheduled refresh costs);
2. **before** (the same run, same database, run first; its snapshots are then deleted): the
   main branch's code (``--baseline``, default ``/work/main``) in a subprocess: its first
   ``leaderboard_rebuild_all()``, then twice one new battle + ``leaderboard_rebuild_all()``,
   which is what its rebuild after a vote ran.

Usage: ``.venv/bin/python bench/bench_rebuild.py [--sizes 20000,100000] [--baseline /work/main]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _results import cpu_model, results_section_write  # bench/ is sys.path[0] when a script runs

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Rebuild after one battle (bench_rebuild.py)"
DB_NAME = os.environ.get("BENCH_REBUILD_DB", "ludus_bench_rebuild")
N_MODELS, CATEGORIES = 100, ("general", "code", "math", "writing", "chat")

BASELINE = r"""
import json, sys, time
import django
django.setup()
import arena
from arena import models as m
from arena.services.leaderboard import leaderboard_rebuild_all
assert arena.__file__.startswith(sys.argv[1]), arena.__file__
out = {}
t = time.perf_counter(); leaderboard_rebuild_all(); out["first"] = time.perf_counter() - t
a, b = m.Competitor.objects.order_by("id").values_list("id", flat=True)[:2]
times = []
for k in range(2):
    m.Battle.objects.create(model_a_id=a, model_b_id=b, outcome="model_a", source="human",
                            category="code")
    t = time.perf_counter(); leaderboard_rebuild_all(); times.append(time.perf_counter() - t)
out["after_one"] = times
print(json.dumps(out))
"""


def _server() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ludus")
    return url.rsplit("/", 1)[0]


def _fresh_database(server: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{server}/{DB_NAME}"


def _env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6421/13")
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis,
        CACHE_URL=redis,
        LUDUS_EAGER="1",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="arena.settings",
    )
    return env


def _store_battles(n: int, seed: int) -> None:
    import numpy as np

    from arena import models as m

    rng = np.random.default_rng(seed)
    if not m.Competitor.objects.exists():
        m.Competitor.objects.bulk_create(
            [m.Competitor(name=f"bench-model-{k:03d}") for k in range(N_MODELS)]
        )
    ids = list(m.Competitor.objects.order_by("id").values_list("id", flat=True))
    strength = rng.normal(0.0, 1.0, len(ids))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    batch = 20_000
    for lo in range(0, n, batch):
        k = min(batch, n - lo)
        a = rng.integers(0, len(ids), k)
        b = (a + rng.integers(1, len(ids), k)) % len(ids)
        p = 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))
        u = rng.random(k)
        outcome = np.where(u < 0.1, "tie", np.where(u < 0.1 + 0.9 * p, "model_a", "model_b"))
        cat = rng.integers(0, len(CATEGORIES), k)
        m.Battle.objects.bulk_create(
            [
                m.Battle(
                    model_a_id=ids[a[i]],
                    model_b_id=ids[b[i]],
                    outcome=str(outcome[i]),
                    source="human",
                    category=CATEGORIES[cat[i]],
                    tstamp=start + dt.timedelta(seconds=lo + i),
                )
                for i in range(k)
            ],
            batch_size=5000,
        )


def _after(settings_module: object) -> dict[str, object]:
    from arena import models as m
    from arena.services.leaderboard import leaderboard_rebuild_all

    settings = settings_module
    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 300  # type: ignore[attr-defined]
    out: dict[str, object] = {}
    t = time.perf_counter()
    leaderboard_rebuild_all()
    out["first"] = time.perf_counter() - t
    a, b = m.Competitor.objects.order_by("id").values_list("id", flat=True)[:2]

    def one_more(**kwargs: object) -> float:
        m.Battle.objects.create(
            model_a_id=a, model_b_id=b, outcome="model_b", source="human", category="code"
        )
        t = time.perf_counter()
        leaderboard_rebuild_all(**kwargs)  # type: ignore[arg-type]
        return time.perf_counter() - t

    out["after_one"] = [one_more(scopes="touched") for _ in range(3)]
    out["periodic_all_scopes"] = one_more(scopes="all")
    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 0  # type: ignore[attr-defined]
    out["slow_due"] = one_more(scopes="all")
    settings.LUDUS_LEADERBOARD_SLOW_SECONDS = 300  # type: ignore[attr-defined]
    return out


def _one_size(n: int, baseline: str) -> dict[str, object]:
    """Everything for one size in a fresh database (run in a process of its own)."""
    db_url = _fresh_database(_server())
    env = _env(db_url)
    os.environ.update(env)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache

    from arena import models as m
    from arena.services.leaderboard import leaderboard_scopes

    cache.clear()
    _store_battles(n, seed=n)
    res = subprocess.run(
        [sys.executable, "-c", BASELINE, baseline],
        cwd=baseline,
        env=dict(env, PYTHONPATH=baseline),
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        sys.exit(f"baseline failed:\n{res.stderr[-3000:]}")
    before = json.loads(res.stdout.strip().splitlines()[-1])
    # the baseline's snapshots would make this branch's first rebuild a no-op: start clean
    m.LeaderboardSnapshot.objects.all().delete()
    cache.clear()
    after = _after(settings)
    return {
        "n": n,
        "scopes": len(leaderboard_scopes()),
        "stored": m.Battle.objects.count(),
        "after": after,
        "before": before,
    }


def _commit(path: str) -> str:
    return subprocess.run(
        ["git", "-C", path, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--baseline", default="/work/main")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one_size(args.one, args.baseline)))
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    if max(sizes) > 100_000:
        parser.error("--sizes: at most 100000 battles (the machine is shared)")
    rows = []
    for n in sizes:
        res = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--baseline", args.baseline],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            sys.exit(f"size {n} failed:\n{res.stderr[-3000:]}")
        row = json.loads(res.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        rows.append(row)
    baseline_commit, this_commit = _commit(args.baseline), _commit(str(ROOT))
    load = os.getloadavg()[0]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} cores, CPU `{cpu_model()}`, "
        f"Python {platform.python_version()}, PostgreSQL on localhost, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `uptime`: "
        f"{uptime} (load {load:.1f}; the cores are shared with other engineers' test runs).",
        "",
        f"{N_MODELS} models, {len(CATEGORIES)} categories, human battle records in PostgreSQL "
        f"({rows[0]['scopes']} scopes with the combined ones, 7 methods each). 'before' is the "
        "main branch "
        f"(`{baseline_commit}`, every battle of every scope read for every method), 'after' this "
        f"branch (`{this_commit}`), in the same run on the same database. 'after one battle' adds "
        "one battle in one category and runs the rebuild as it runs after a vote (after: only "
        "the 4 touched scopes, never the slow parts; before: every scope, every method); medians "
        "of 3 (after) and 2 (before) runs.",
        "",
        "| stored battles | first rebuild, before (s) | first rebuild, after (s) "
        "| after one battle, before (s) | after one battle, after (s) | speed-up "
        "| after, periodic, slow parts due (s) | after, periodic, not due (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        before_one = statistics.median(r["before"]["after_one"])
        after_one = statistics.median(r["after"]["after_one"])
        lines.append(
            f"| {r['n']:,} | {r['before']['first']:.2f} | {r['after']['first']:.2f} "
            f"| {before_one:.2f} | {after_one:.3f} | {before_one / after_one:.0f}× "
            f"| {r['after']['slow_due']:.2f} | {r['after']['periodic_all_scopes']:.2f} |"
        )
    lines += [
        "",
        "'periodic' is the beat's every-scope rebuild after one more battle: 'slow parts due' "
        "recomputes the Elo bootstrap, α-Rank and E[S] of the changed scopes (at most every "
        "`LUDUS_LEADERBOARD_SLOW_SECONDS`; the Elo bootstrap is still O(battles)), 'not due' "
        "reads every scope's pair aggregates and refreshes the fast methods.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        results_section_write(SECTION, text)


if __name__ == "__main__":
    main()
