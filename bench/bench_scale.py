"""The service at arena scale: import, rebuilds, a vote through a real worker, export, the CLI.

For each size N (battle records; 200 models, 20 categories, Bradley-Terry-distributed
outcomes, increasing ``tstamp``), on a fresh PostgreSQL database (``ludus_bench_scale`` on the
server of ``BENCH_PG`` or ``DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432``) and
a Redis database (``BENCH_REDIS``, default ``redis://127.0.0.1:6379/13``) for broker and cache:

1. import the JSON Lines file through ``arena.services.battles_io.battles_import`` with the
   plain writer (``bulk_create``; the same-run baseline, up to ``--plain-max`` records), then on
   a fresh database with the default writer (``COPY`` on PostgreSQL): time and records/s;
2. the first ``leaderboard_rebuild_all()`` (every scope, every method) in this process, or with
   ``--touched-only`` only the four scopes a ``cat-00`` battle touches (import and combined,
   ``cat-00`` and all categories);
3. five times: one more ``cat-00`` record imported through the service, then the rebuild of
   the touched scopes (what the debounced rebuild after a vote costs; median wall and CPU
   time, the process's and its PostgreSQL backend's); then, unless ``--touched-only``, the
   periodic every-scope rebuild (its slow parts not yet due);
4. a human vote through ``battle_next``/``vote_record`` with a real Celery worker running
   (``celery -A workers worker -P threads -c 2``, default debounce): the time from the vote's
   commit until the main board (combined, all categories, Bradley-Terry) counts it, and until
   the whole rebuild has finished; the worker's peak RSS (``VmHWM``) afterwards;
5. ``manage.py export_battles --format jsonl`` of everything: time and the process's peak RSS;
6. the pure computation on the same file: ``python -m ranking rate FILE --method bt``, reading
   included (time and peak RSS), as the same-run baseline for the rebuilds.

Usage: ``.venv/bin/python bench/bench_scale.py [--sizes 100000,1000000] [--with-10m]
[--plain-max 1000000] [--touched-only] [--reuse] [--no-write]``; ``--reuse`` starts at step 3
on the records and boards a previous run left in ``BENCH_SCALE_DB`` (migrated first). Results
go to bench/RESULTS.md (section below).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from _results import cpu_model, results_section_write  # bench/ is sys.path[0] when a script runs

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Scale: import, rebuilds, vote to board, export (bench_scale.py)"
DB_NAME = os.environ.get("BENCH_SCALE_DB", "ludus_bench_scale")
N_MODELS = 200  # --models
N_CATEGORIES = 20  # --categories
#: The category of the measured battles and vote (a built scope of every size).
CATEGORY = "cat-00"
REBUILD_REPS = 5
DATA_DIR = ROOT / "var" / "bench-scale"


def _base_url() -> str:
    url = os.environ.get("BENCH_PG") or os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return url.rsplit("/", 1)[0]
    return "postgres://postgres@127.0.0.1:5432"


def _env(base_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"{base_url}/{DB_NAME}",
            "REDIS_URL": redis_url,
            "CACHE_URL": redis_url,
            "CACHE_KEY_PREFIX": "ludus-bench-scale",
            "DEBUG": "0",
            "SECRET_KEY": "bench-scale-" + "k" * 50,
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "arena.settings",
        }
    )
    env.pop("LUDUS_EAGER", None)
    return env


def _fresh_database(base_url: str) -> None:
    import psycopg
    from django import db
    from django.core.management import call_command

    db.connections.close_all()
    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    call_command("migrate", verbosity=0, interactive=False)


def _battle_file(n: int, seed: int = 0) -> Path:
    """JSON Lines: ``n`` records over N_MODELS models and N_CATEGORIES categories."""
    import numpy as np

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"battles-{n}-{N_MODELS}m-{N_CATEGORIES}c.jsonl"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, N_MODELS)
    names = [f"scale-model-{i:03d}" for i in range(N_MODELS)]
    categories = [f"cat-{k:02d}" for k in range(N_CATEGORIES)]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as out:
        for start in range(0, n, 200_000):
            m = min(200_000, n - start)
            a = rng.integers(0, N_MODELS, m)
            b = (a + rng.integers(1, N_MODELS, m)) % N_MODELS
            p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
            u = rng.random(m)
            tie = u < 0.1
            win_a = ~tie & (rng.random(m) < p)
            cat = rng.integers(0, N_CATEGORIES, m)
            anony = rng.random(m) < 0.9
            lines = []
            for i in range(m):
                winner = "tie" if tie[i] else "model_a" if win_a[i] else "model_b"
                lines.append(
                    f'{{"model_a": "{names[a[i]]}", "model_b": "{names[b[i]]}", '
                    f'"winner": "{winner}", "tstamp": {1_600_000_000 + start + i}, '
                    f'"anony": {"true" if anony[i] else "false"}, '
                    f'"category": "{categories[cat[i]]}"}}\n'
                )
            out.write("".join(lines))
    tmp.rename(path)
    return path


def checkout_commit(path: Path) -> str:
    """The short commit of the checkout at ``path`` (``?`` when git cannot tell)."""
    res = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return res.stdout.strip() or "?"


def checkout_child(root: Path, env: dict[str, str], code: str, *args: str) -> Any:
    """Run ``code`` with ``args`` in a child Python process on the checkout at ``root`` (its
    code first on the path); return the JSON its last output line holds, or exit with its
    error."""
    res = subprocess.run(
        [sys.executable, "-c", code, str(root), *args],
        cwd=root,
        env=dict(env, PYTHONPATH=str(root)),
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        sys.exit(f"{root} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _timed_child(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run ``cmd``; return (seconds, peak RSS in MiB).

    The peak is the child's own ``VmHWM`` (per address space, so it starts afresh at exec),
    read every 20 ms until it exits; ``wait4``'s ``ru_maxrss`` would report at least this
    process's size, inherited through fork.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(OSError, ValueError):  # it may exit between poll and read
            peak = max(peak, _vm_hwm_mib(proc.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return elapsed, peak


def _vm_hwm_mib(pid: int | str, field: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    return -1


def _peak_reset() -> int:
    """Reset this process's peak RSS (``/proc/self/clear_refs``); return the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")
    return _vm_hwm_mib("self", "VmRSS")


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-P", "threads", "-c", "2"]
    cmd += ["-Q", "ludus", "-l", "INFO", "--without-gossip", "--without-mingle"]
    cmd += ["--without-heartbeat", "-n", f"bench-scale-{os.getpid()}@%h"]
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if " ready." in log.read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"celery worker did not start:\n{log.read_text()}")


def _vote_match() -> None:
    """One open-arena match with both answers, waiting for a vote."""
    from arena import models as m

    comps = list(m.Competitor.objects.order_by("id")[:2])
    ps = m.PromptSet.objects.create(
        name=f"bench-scale-{time.time_ns()}", category=CATEGORY, public=True
    )
    prompt = m.Prompt.objects.create(prompt_set=ps, text="Which answer is better?")
    match = m.Match.objects.create(
        competitor_a=comps[0],
        competitor_b=comps[1],
        prompt=prompt,
        status=m.Match.Status.AWAITING_VOTES,
    )
    m.Generation.objects.bulk_create(
        [
            m.Generation(match=match, side=s, competitor=c, text=f"Answer {s}. " * 20)
            for s, c in (("a", comps[0]), ("b", comps[1]))
        ]
    )


def _main_board_battles() -> int:
    from arena import models as m
    from arena.services.leaderboard import ALL_CATEGORIES

    snap = (
        m.LeaderboardSnapshot.objects.filter(
            method="bt", source="combined", category=ALL_CATEGORIES
        )
        .order_by("-version")
        .values_list("n_battles", flat=True)
        .first()
    )
    return int(snap or 0)


class _Cpu:
    """CPU seconds of this process and of its PostgreSQL backend (``/proc``: same host)."""

    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.pid = cursor.fetchone()[0]

    def now(self) -> tuple[float, float, float]:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        pg = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return time.perf_counter(), time.process_time(), pg


def _touched_first_build() -> None:
    """Build only the four scopes a battle in ``CATEGORY`` touches (every method)."""
    from arena.services.leaderboard import ALL_CATEGORIES, leaderboard_rebuild

    for source in ("import", "combined"):
        for category in (CATEGORY, ALL_CATEGORIES):
            leaderboard_rebuild(source=source, category=category)


def run_size(
    n: int,
    *,
    base_url: str,
    env: dict[str, str],
    plain: bool,
    import_only: bool = False,
    touched_only: bool = False,
    reuse: bool = False,
) -> dict[str, float]:
    import redis
    from django.core.cache import cache
    from django.db import connection

    from arena.services import leaderboard
    from arena.services.battles_io import battles_import
    from arena.services.votes import battle_next, vote_record, voter_hash_make

    r: dict[str, float] = {"n": n}
    path = _battle_file(n)
    r["file_mb"] = path.stat().st_size / 2**20
    if plain:
        _fresh_database(base_url)
        rss = _peak_reset()
        t0 = time.perf_counter()
        battles_import(source=path, create_models=True, writer="plain")
        r["import_plain_s"] = time.perf_counter() - t0
        r["import_plain_mib"] = _vm_hwm_mib("self") - rss
        print(f"  N={n:,}: plain import {r['import_plain_s']:.1f} s", flush=True)
    if reuse:  # the records and the touched scopes' boards of an earlier --keep run
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        from arena.models import Battle

        stored = Battle.objects.count()
        if stored < n:
            raise SystemExit(f"--reuse: {DB_NAME} holds {stored:,} battles, fewer than {n:,}")
    else:
        _fresh_database(base_url)
        cpu = _Cpu()
        rss = _peak_reset()
        t0, c0, p0 = cpu.now()
        report = battles_import(source=path, create_models=True)
        t1, c1, p1 = cpu.now()
        r.update(import_s=t1 - t0, import_py_s=c1 - c0, import_pg_s=p1 - p0)
        r["import_mib"] = _vm_hwm_mib("self") - rss
        assert report.n_stored == n, report
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE arena_battle")
        print(
            f"  N={n:,}: import {r['import_s']:.1f} s (CPU: Python {r['import_py_s']:.1f} s, "
            f"PostgreSQL {r['import_pg_s']:.1f} s; +{r['import_mib']} MiB peak)",
            flush=True,
        )
        if import_only:
            return _cli(r, path, env)

        t0 = time.perf_counter()
        if touched_only:
            _touched_first_build()
        else:
            leaderboard.leaderboard_rebuild_all()
        r["first_rebuild_s"] = time.perf_counter() - t0
        print(f"  N={n:,}: first rebuild {r['first_rebuild_s']:.1f} s", flush=True)
    r["scopes"] = len(leaderboard.leaderboard_scopes())

    cpu = _Cpu()
    runs = []
    for k in range(REBUILD_REPS):
        one = (
            f'{{"model_a": "scale-model-000", "model_b": "scale-model-{k + 1:03d}", '
            f'"winner": "tie", "category": "{CATEGORY}"}}\n'
        )
        battles_import(source=__import__("io").BytesIO(one.encode()))
        t0, c0, p0 = cpu.now()
        leaderboard.leaderboard_rebuild_all(scopes="touched")  # what the task after a vote runs
        t1, c1, p1 = cpu.now()
        runs.append((t1 - t0, c1 - c0, p1 - p0))
    r["rebuild_one_s"], r["rebuild_one_py_s"], r["rebuild_one_pg_s"] = (
        statistics.median(x[k] for x in runs) for k in range(3)
    )
    r["rebuild_one_cpu_s"] = statistics.median(x[1] + x[2] for x in runs)
    print(
        f"  N={n:,}: rebuild after one battle (median of {REBUILD_REPS}) "
        f"{r['rebuild_one_s']:.2f} s wall, {r['rebuild_one_cpu_s']:.2f} s CPU; every run "
        + ", ".join(f"{w:.2f}/{c + p:.2f}" for w, c, p in runs),
        flush=True,
    )
    if not touched_only:
        t0 = time.perf_counter()
        leaderboard.leaderboard_rebuild_all()  # the periodic one: every scope, slow parts not due
        r["periodic_s"] = time.perf_counter() - t0

    _vote_match()
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    leaderboard.leaderboard_schedule_forget()
    log = DATA_DIR / f"worker-{n}.log"
    worker = _start_worker(env, log)
    try:
        voter = voter_hash_make(anon_id=f"bench-scale-{n}")
        served = battle_next(voter_hash=voter, rng=0)
        before = _main_board_battles()
        t0 = time.perf_counter()
        vote_record(token=served.token, choice="A", voter_hash=voter)
        committed = time.time()
        deadline = t0 + 1800
        while _main_board_battles() <= before and time.perf_counter() < deadline:
            time.sleep(0.05)
        r["vote_to_board_s"] = time.perf_counter() - t0
        while time.perf_counter() < deadline:
            done = cache.get("leaderboard:v1:rebuilt_at")
            if isinstance(done, float) and done > committed:
                break
            time.sleep(0.05)
        r["vote_to_all_boards_s"] = time.perf_counter() - t0
        time.sleep(0.5)  # the heat maps are warmed after the rebuild
        r["worker_peak_mib"] = _vm_hwm_mib(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    print(
        f"  N={n:,}: vote to main board {r['vote_to_board_s']:.1f} s, "
        f"to every board {r['vote_to_all_boards_s']:.1f} s, worker {r['worker_peak_mib']} MiB",
        flush=True,
    )

    manage = [sys.executable, "manage.py", "export_battles", "--format", "jsonl"]
    r["export_s"], r["export_peak_mib"] = _timed_child([*manage, "-o", "/dev/null"], env)
    print(f"  N={n:,}: export {r['export_s']:.1f} s ({r['export_peak_mib']} MiB)", flush=True)
    return _cli(r, path, env)


def _cli(r: dict[str, float], path: Path, env: dict[str, str]) -> dict[str, float]:
    cli = [sys.executable, "-m", "ranking", "rate", str(path), "--method", "bt"]
    r["cli_s"], r["cli_peak_mib"] = _timed_child([*cli, "--output", "json"], env)
    print(f"  N={int(r['n']):,}: CLI bt {r['cli_s']:.1f} s ({r['cli_peak_mib']} MiB)", flush=True)
    return r


def _cell(r: dict[str, float], key: str, peak: str = "") -> str:
    if key not in r:
        return "-"
    return f"{r[key]:.1f} s" + (f" ({int(r[peak])} MiB)" if peak else "")


def _table(rows: list[dict[str, float]]) -> str:
    head = (
        "| records | import (COPY; peak RSS added) | import CPU: Python + PostgreSQL | records/s "
        "| import (plain) | first rebuild | rebuild after 1 battle (touched scopes): wall, CPU "
        "| periodic rebuild | vote to main board | "
        "vote to every board | worker peak RSS | "
        "export jsonl (peak RSS) | CLI `rate --method bt` (peak RSS) |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        plain = (
            f"{r['import_plain_s']:.1f} s ({r['n'] / r['import_plain_s']:,.0f}/s, "
            f"+{int(r['import_plain_mib'])} MiB)"
            if "import_plain_s" in r
            else "-"
        )
        cells = [
            f"{int(r['n']):,}",
            f"{r['import_s']:.1f} s (+{int(r['import_mib'])} MiB)" if "import_s" in r else "-",
            f"{r['import_py_s']:.1f} + {r['import_pg_s']:.1f} s" if "import_py_s" in r else "-",
            f"{r['n'] / r['import_s']:,.0f}" if "import_s" in r else "-",
            plain,
            _cell(r, "first_rebuild_s"),
            f"{r['rebuild_one_s']:.2f} s, {r['rebuild_one_cpu_s']:.2f} s ("
            f"{r['rebuild_one_py_s']:.2f} + {r['rebuild_one_pg_s']:.2f})"
            if "rebuild_one_s" in r
            else "-",
            _cell(r, "periodic_s"),
            _cell(r, "vote_to_board_s"),
            _cell(r, "vote_to_all_boards_s"),
            f"{int(r['worker_peak_mib'])} MiB" if "worker_peak_mib" in r else "-",
            _cell(r, "export_s", "export_peak_mib"),
            _cell(r, "cli_s", "cli_peak_mib"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated record counts")
    parser.add_argument("--with-10m", action="store_true", help="add 10,000,000 records")
    parser.add_argument(
        "--plain-max",
        type=int,
        default=1_000_000,
        help="time the plain (bulk_create) import as the baseline up to this size",
    )
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument(
        "--import-only", action="store_true", help="only the imports and the CLI baseline"
    )
    parser.add_argument(
        "--touched-only",
        action="store_true",
        help="first build only the four scopes a cat-00 battle touches; no periodic rebuild "
        "(at 10M every scope's first build takes hours here)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the records and boards already in BENCH_SCALE_DB (one size): no import, no "
        "first build",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers; got {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes needs at least one positive size")
    if args.with_10m:
        sizes.append(10_000_000)
    if args.reuse and len(sizes) != 1:
        parser.error("--reuse takes one size (the records in BENCH_SCALE_DB)")
    if args.models < 2 or args.categories < 1:
        parser.error("--models must be at least 2 and --categories at least 1")
    globals().update(N_MODELS=args.models, N_CATEGORIES=args.categories)

    base_url = _base_url()
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
    env = _env(base_url, redis_url)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from ranking.errors import RankingWarning

    warnings.filterwarnings("ignore", category=RankingWarning)  # sparse categories: expected
    load = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    rows = []
    for n in sizes:
        print(f"N = {n:,}", flush=True)
        rows.append(
            run_size(
                n,
                base_url=base_url,
                env=env,
                plain=n <= args.plain_max,
                import_only=args.import_only,
                touched_only=args.touched_only,
                reuse=args.reuse,
            )
        )
    load_after = os.getloadavg()
    # a --reuse run (10M: its import and first build measured by an earlier run) has its own
    section = f"{SECTION}, --reuse of {sizes[0]:,} records" if args.reuse else SECTION
    table = _table(rows)
    print(table)
    print(json.dumps(rows))
    if args.no_write:
        return
    text = (
        f"{section}\n\n"
        f"Run {started:%Y-%m-%d %H:%M} UTC on {cpu_model()} ({os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}); load average "
        f"{load[0]:.2f} before, {load_after[0]:.2f} after (other engineers' tests share the "
        f"machine). PostgreSQL on the same host. {N_MODELS} models, {N_CATEGORIES} categories, "
        f"{int(rows[0].get('scopes', 0))} board scopes after the import.\n\n"
        f"{table}\n\n"
        "Import: the JSON Lines file through `battles_import` (validation included), COPY on a "
        "fresh database; the plain column is the `bulk_create` writer on the same file in the "
        "same run. Rebuilds in-process: the first `leaderboard_rebuild_all()` (every scope, every "
        "method; `--touched-only`: the four scopes a cat-00 battle touches), then five times "
        "one more cat-00 battle and `leaderboard_rebuild_all(scopes='touched')` (the task after "
        "a vote; median wall, and CPU time of the process plus its PostgreSQL backend) and the "
        "periodic `leaderboard_rebuild_all()` (slow parts not due; not with `--touched-only`). "
        "Vote to board: from `vote_record` returning (committed) until the combined/all/bt "
        "snapshot counts the vote, through a real Celery worker (threads, 2), debounce "
        "(2 s) included; every board: until the whole rebuild finished. Worker peak RSS: its "
        "`VmHWM`. Export and CLI: separate processes, peak RSS their `VmHWM`. The CLI is the "
        "pure computation on the same file (reading included): the same-run baseline for the "
        "rebuilds.\n"
    )
    results_section_write(section, text)


if __name__ == "__main__":
    main()
