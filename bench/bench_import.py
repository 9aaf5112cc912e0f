"""Battle import through the service, this checkout against a baseline checkout, same run.

For each round, alternating (baseline, this checkout, baseline, ...): a fresh PostgreSQL
database (``ludus_bench_import`` on the server of ``BENCH_PG`` or ``DATABASE_URL``) migrated by
that checkout, then ``battles_import(source=<bench_scale.py's file>, create_models=True)`` in a
child process running that checkout's code: wall time, the child's CPU time and its PostgreSQL
backend's CPU time (``/proc``: the server must run on this host). On a shared machine the CPU
times are the steadier figure; the import overlaps reading with the database's work, so its
wall time can be below their sum.

Usage: ``.venv/bin/python bench/bench_import.py [--size 1000000] [--rounds 2]
[--baseline /path/to/checkout] [--no-write]``; without ``--baseline``, this checkout alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
from pathlib import Path

import bench_scale  # bench/ is sys.path[0] when a script runs
from _results import cpu_model, results_report

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Import through the service, against a baseline (bench_import.py)"
DB_NAME = os.environ.get("BENCH_IMPORT_DB", "ludus_bench_import")

CHILD = r"""
import json, os, sys, time, warnings
import django
django.setup()
import arena
assert arena.__file__.startswith(sys.argv[1]), arena.__file__
from django.core.management import call_command
from django.db import connection
from arena.services.battles_io import battles_import
warnings.filterwarnings("ignore")
call_command("migrate", verbosity=0, interactive=False)
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
def pg_cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
c0, p0, t0 = time.process_time(), pg_cpu(), time.perf_counter()
report = battles_import(source=sys.argv[2], create_models=True)
out = [time.perf_counter() - t0, time.process_time() - c0, pg_cpu() - p0, report.n_stored]
print(json.dumps(out))
"""


def _fresh(base_url: str) -> None:
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def _drop(base_url: str) -> None:
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="battle records")
    parser.add_argument("--rounds", type=int, default=2, help="imports per side")
    parser.add_argument(
        "--baseline", default="", help="checkout of the baseline (none: this checkout alone)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    if args.size < 1 or args.rounds < 1:
        parser.error("--size and --rounds must be positive")
    baseline = Path(args.baseline).resolve() if args.baseline else None
    if baseline is not None and not (baseline / "arena" / "services" / "battles_io.py").exists():
        parser.error(f"--baseline {baseline} is not a Ludus checkout")
    sides = [("this checkout", ROOT)]
    if baseline is not None:
        sides.insert(0, ("baseline", baseline))
    base_url = bench_scale._base_url()
    env = bench_scale._env(base_url, os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13"))
    env["DATABASE_URL"] = f"{base_url}/{DB_NAME}"
    os.environ.update(env)
    path = bench_scale._battle_file(args.size)
    load = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    runs: dict[str, list[list[float]]] = {side: [] for side, _ in sides}
    for _ in range(args.rounds):
        for side, root in sides:
            _fresh(base_url)
            run = bench_scale.checkout_child(root, env, CHILD, str(path))
            if run[3] != args.size:
                sys.exit(f"{side} stored {run[3]} records, not {args.size}")
            runs[side].append(run)
            print(f"  {side}: {run[0]:.1f} s wall, CPU {run[1]:.1f} + {run[2]:.1f} s", flush=True)
    _drop(base_url)
    load_after = os.getloadavg()
    lines = [
        "| side | commit | wall (median) | records/s | CPU: Python + PostgreSQL (median) "
        "| every run: wall / Python / PostgreSQL (s) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for side, root in sides:
        rs = runs[side]
        wall = statistics.median(r[0] for r in rs)
        py = statistics.median(r[1] for r in rs)
        pg = statistics.median(r[2] for r in rs)
        every = ", ".join(f"{r[0]:.1f}/{r[1]:.1f}/{r[2]:.1f}" for r in rs)
        commit = bench_scale.checkout_commit(root)
        lines.append(
            f"| {side} | `{commit}` | {wall:.1f} s | {args.size / wall:,.0f} "
            f"| {py:.1f} + {pg:.1f} s | {every} |"
        )
    text = (
        f"{SECTION}\n\n"
        f"Run {started:%Y-%m-%d %H:%M} UTC on {cpu_model()} ({os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}); load average "
        f"{load[0]:.2f} before, {load_after[0]:.2f} after. PostgreSQL on the same host. "
        f"{args.size:,} records of `bench_scale.py`'s file ({bench_scale.N_MODELS} models, "
        f"{bench_scale.N_CATEGORIES} categories), each import on a fresh database migrated by "
        f"its own checkout, {args.rounds} rounds alternating.\n\n" + "\n".join(lines) + "\n"
    )
    results_report(SECTION, text, write=not args.no_write)


if __name__ == "__main__":
    main()
