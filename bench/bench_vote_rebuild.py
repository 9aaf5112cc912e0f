"""The rebuild after a vote at arena size, this checkout against a baseline, in the same run.

One PostgreSQL database (``ludus_bench_vote`` on the server of ``BENCH_PG`` or
``DATABASE_URL``) gets N battle records (``bench_scale.py``'s file: 200 models, 20
categories) through the service's import; this checkout builds the four scopes a battle in
``cat-00`` touches (import and combined, ``cat-00`` and all categories: every method, the slow
parts included), then the database is copied (``CREATE DATABASE ... TEMPLATE``) and the copy
migrated back to the baseline's latest migration, so both sides start from the same battles
and boards. Then, in alternating child processes (baseline, this checkout, baseline, ...),
``--reps`` times: one battle imported in ``cat-00`` and ``leaderboard_rebuild_all(
scopes="touched")`` timed as the task after a vote runs it: wall time, the process's CPU time
and its PostgreSQL backend's CPU time (``/proc``: the server must run on this host). On a
shared machine the CPU times are the steadier figure: on an idle one, the wall time of this
serial work is about their sum.

Usage: ``.venv/bin/python bench/bench_vote_rebuild.py [--size 100000] [--reps 3]
[--rounds 2] [--baseline /work/main] [--no-write]``.
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
import warnings
from pathlib import Path

import bench_scale  # bench/ is sys.path[0] when a script runs
from _results import cpu_model, results_section_write

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Rebuild after a vote at 200 models, against a baseline (bench_vote_rebuild.py)"
DB_NAME = os.environ.get("BENCH_VOTE_DB", "ludus_bench_vote")
CATEGORY = "cat-00"

CHILD = r"""
import io, json, os, sys, time, warnings
import django
django.setup()
import arena
assert arena.__file__.startswith(sys.argv[1]), arena.__file__
from django.db import connection
from arena.services.battles_io import battles_import
from arena.services.leaderboard import leaderboard_rebuild_all
warnings.filterwarnings("ignore")
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
def pg_cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
out = []
for k in range(int(sys.argv[2])):
    record = {"model_a": "scale-model-000", "model_b": f"scale-model-{k + 1:03d}",
              "winner": "model_a", "category": sys.argv[3]}
    battles_import(source=io.BytesIO((json.dumps(record) + "\n").encode()))
    c0, p0, t0 = time.process_time(), pg_cpu(), time.perf_counter()
    leaderboard_rebuild_all(scopes="touched")
    out.append([time.perf_counter() - t0, time.process_time() - c0, pg_cpu() - p0])
print(json.dumps(out))
"""


def _latest_migration(root: Path) -> str:
    names = [p.stem for p in (root / "arena" / "migrations").glob("[0-9][0-9][0-9][0-9]_*.py")]
    return max(names)


def _child(root: Path, env: dict[str, str], reps: int) -> list[list[float]]:
    return list(bench_scale.checkout_child(root, env, CHILD, str(reps), CATEGORY))


def _setup(n: int, base_url: str) -> float:
    """Import ``n`` records and build the four touched scopes; return the build's seconds."""
    from django.db import connection

    from arena.services.battles_io import battles_import
    from arena.services.leaderboard import ALL_CATEGORIES, leaderboard_rebuild

    bench_scale._fresh_database(base_url)
    battles_import(source=bench_scale._battle_file(n), create_models=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    t0 = time.perf_counter()
    for source in ("import", "combined"):
        for category in (CATEGORY, ALL_CATEGORIES):
            leaderboard_rebuild(source=source, category=category)
    return time.perf_counter() - t0


def _clone(base_url: str, name: str) -> None:
    import psycopg
    from django import db

    db.connections.close_all()
    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {DB_NAME}")


def _drop(base_url: str, *names: str) -> None:
    import psycopg
    from django import db

    db.connections.close_all()
    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _summary(runs: list[list[float]]) -> dict[str, float]:
    return {
        "wall": statistics.median(r[0] for r in runs),
        "py": statistics.median(r[1] for r in runs),
        "pg": statistics.median(r[2] for r in runs),
        "cpu": statistics.median(r[1] + r[2] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="battle records")
    parser.add_argument("--reps", type=int, default=3, help="votes per child process")
    parser.add_argument("--rounds", type=int, default=2, help="child processes per side")
    parser.add_argument("--baseline", default="/work/main", help="checkout of the baseline")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    if args.size < 1000 or args.reps < 1 or args.rounds < 1:
        parser.error("--size must be at least 1000, --reps and --rounds at least 1")
    baseline = Path(args.baseline).resolve()
    if not (baseline / "arena" / "migrations").is_dir():
        parser.error(f"--baseline {baseline} is not a Ludus checkout")

    base_url = bench_scale._base_url()
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
    bench_scale.DB_NAME = DB_NAME
    env = bench_scale._env(base_url, redis_url)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from ranking.errors import RankingWarning

    warnings.filterwarnings("ignore", category=RankingWarning)
    load = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    build_s = _setup(args.size, base_url)
    print(f"N={args.size:,}: four scopes built in {build_s:.1f} s", flush=True)
    base_db = f"{DB_NAME}_base"
    _clone(base_url, base_db)
    base_env = dict(env, DATABASE_URL=f"{base_url}/{base_db}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "arena", _latest_migration(baseline), "-v", "0"],
        cwd=ROOT,
        env=base_env,
        check=True,
    )
    runs: dict[str, list[list[float]]] = {"before": [], "after": []}
    try:
        for _ in range(args.rounds):
            runs["before"] += _child(baseline, base_env, args.reps)
            runs["after"] += _child(ROOT, env, args.reps)
            print(json.dumps(runs), flush=True)
    finally:
        _drop(base_url, base_db, DB_NAME)
    load_after = os.getloadavg()
    before, after = _summary(runs["before"]), _summary(runs["after"])
    table = (
        "| side | wall (median) | CPU: Python + PostgreSQL backend (median) | Python | "
        "PostgreSQL | every run: wall / CPU (s) |\n|---|---:|---:|---:|---:|---|\n"
    )
    for label, key, s in (
        (f"before (`{bench_scale.checkout_commit(baseline)}`)", "before", before),
        (f"after (`{bench_scale.checkout_commit(ROOT)}`)", "after", after),
    ):
        every = ", ".join(f"{r[0]:.2f}/{r[1] + r[2]:.2f}" for r in runs[key])
        table += (
            f"| {label} | {s['wall']:.2f} s | {s['cpu']:.2f} s | {s['py']:.2f} s | "
            f"{s['pg']:.2f} s | {every} |\n"
        )
    print(table)
    if args.no_write:
        return
    text = (
        f"{SECTION}\n\n"
        f"Run {started:%Y-%m-%d %H:%M} UTC on {cpu_model()} ({os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}); load average "
        f"{load[0]:.2f} before, {load_after[0]:.2f} after. {args.size:,} records, "
        f"{bench_scale.N_MODELS} models, {bench_scale.N_CATEGORIES} categories; the four "
        f"scopes of a `{CATEGORY}` battle built first ({build_s:.0f} s); then "
        f"{args.rounds} x {args.reps} votes per side, alternating.\n\n{table}"
    )
    results_section_write(SECTION, text)


if __name__ == "__main__":
    main()
