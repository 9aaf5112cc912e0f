"""Benchmark match execution through real Celery workers, and arena matchmaking.

Run: ``.venv/bin/python bench/bench_execution.py [--quick] [--configs 1x48,2x24]`` (needs Redis
and, by default, PostgreSQL; ``BENCH_DATABASE_URL`` picks another database, which is dropped and
recreated).
Prints markdown tables and replaces the ``## Execution (bench_execution.py)`` section of
``bench/RESULTS.md``.

1. Throughput: a 64-model Swiss tournament (6 rounds, 192 matches) whose competitors and
   judge are OpenAI-compatible endpoints on a local test server answering after 200 ms.
   ``celery worker`` processes with a threads pool play it (one process of 48 threads, and
   two of 24, one per core; persistent database connections, within PostgreSQL's 100); we
   report judged matches per minute, the peak and time-averaged number of generations in
   flight (seen by the server) and per-round wall times. Every match needs two generations
   and two judge calls (position swap), so a round's critical path is about 400 ms of network time.
2. Matchmaking: simulated arenas of 16 models with a Bradley-Terry truth; battles needed by
   the ``active`` policy (``ranking.matchmaking``) and by uniform random pairing to reach a
   target Kendall's tau between fitted Bradley-Terry ratings and the truth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import cpu_model, results_report  # bench/ is sys.path[0] when a script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Execution (bench_execution.py)"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/ludus_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"


def _machine() -> str:
    model = cpu_model()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Machine: {os.cpu_count()} cores, CPU `{model}` "
        f"(platform.processor: `{platform.processor() or '?'}`), "
        f"Python {platform.python_version()}, {dt.datetime.now():%Y-%m-%d %H:%M}, "
        f"load average {load:.1f} "
        "at the start (the cores are shared with other jobs)."
    )


def _recreate_database(url: str) -> None:
    if not url.startswith("postgres"):
        path = url.split("///", 1)[-1]
        if os.path.exists(path):
            os.remove(path)
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _start_worker(
    env: dict[str, str], concurrency: int, log_path: Path, index: int = 0
) -> subprocess.Popen[bytes]:
    from workers.celery import worker_command

    cmd = worker_command(
        concurrency=concurrency, loglevel="WARNING", name=f"bench-{os.getpid()}-{index}@%h"
    )
    out = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    out.close()
    return proc


def _wait_worker_ready(
    app: Any, procs: list[subprocess.Popen[bytes]], timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("worker exited early")
        try:
            if len(app.control.ping(timeout=0.5)) >= len(procs):
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.3)
    raise RuntimeError("worker not ready")


def bench_throughput(
    *, models: int, rounds: int, latency: float, concurrency: int, processes: int, timeout: float
) -> dict[str, Any]:
    import httpx

    from arena.models import Competitor, Generation, Match, Prompt, PromptSet, Round, Tournament
    from arena.services.tournaments import tournament_create, tournament_start

    port = 18765 + processes * 100 + concurrency % 100
    server_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_openai",
            "--port",
            str(port),
            "--latency",
            str(latency),
            "--models",
            str(models),
            "--prefix",
            "bench-",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/stats", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    names = [f"bench-{i:02d}" for i in range(models)]
    suffix = f"{processes}x{concurrency}-{int(time.time())}"
    ps = PromptSet.objects.create(name=f"bench-prompts-{suffix}", category="bench")
    Prompt.objects.bulk_create(
        Prompt(prompt_set=ps, text=f"Benchmark question {i}: explain idea {i}.") for i in range(20)
    )
    params = {"timeout": 10.0, "max_retries": 3}
    comps = [
        Competitor.objects.create(
            name=f"{n}-{suffix}",
            kind=Competitor.Kind.OPENAI,
            status=Competitor.Status.ACTIVE,
            endpoint_url=base_url,
            endpoint_model=n,
            allow_internal=True,
            params=params,
            max_concurrency=4,
        )
        for n in names
    ]
    pipeline = {
        "pipeline": "single",
        "judges": [
            {
                "name": "bench-judge",
                "kind": "openai",
                "base_url": base_url,
                "model": "judge",
                "allow_internal": True,
                "max_concurrency": 128,
                "params": params,
            }
        ],
    }
    t = tournament_create(
        name=f"bench-swiss-{suffix}",
        format="swiss",
        competitors=comps,
        config={"rounds": rounds},
        prompt_sets=[ps],
        judge_pipeline=pipeline,
        seed=1,
    )
    started = time.perf_counter()
    tournament_start(tournament=t)
    while time.perf_counter() - started < timeout:
        t.refresh_from_db()
        if t.status == Tournament.Status.COMPLETED:
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    stats = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).json()
    server_proc.terminate()
    server_proc.wait(10)
    matches = Match.objects.filter(tournament=t)
    done = matches.filter(status=Match.Status.DONE).count()
    round_end = [r.completed_at for r in Round.objects.filter(tournament=t).order_by("number")]
    start_dt = t.started_at
    round_secs = []
    prev = start_dt
    for end in round_end:
        if end is None or prev is None:
            break
        round_secs.append((end - prev).total_seconds())
        prev = end
    lat = np.array(
        list(Generation.objects.filter(match__tournament=t).values_list("latency_ms", flat=True))
    )
    return {
        "models": models,
        "rounds": rounds,
        "concurrency": concurrency,
        "processes": processes,
        "latency_ms": latency * 1000,
        "completed": t.status == Tournament.Status.COMPLETED,
        "matches": matches.count(),
        "done": done,
        "seconds": elapsed,
        "matches_per_min": 60.0 * done / elapsed,
        "max_generations_in_flight": stats["max_generations_in_flight"],
        "mean_generations_in_flight_when_busy": stats["mean_generations_in_flight_when_busy"],
        "server_requests": stats["requests"],
        "judge_requests": stats["judge_requests"],
        "round_seconds": round_secs,
        "generation_latency_p50": float(np.percentile(lat, 50)) if lat.size else float("nan"),
        "generation_latency_p95": float(np.percentile(lat, 95)) if lat.size else float("nan"),
    }


def bench_matchmaking(
    *, seeds: int, targets: list[float], models: int = 16
) -> list[dict[str, Any]]:
    from ranking.matchmaking import matchmaking_simulate

    rows = []
    for target in targets:
        res: dict[str, list[int]] = {"active": [], "uniform": []}
        budget = 10_000
        gen = np.random.default_rng(0)
        started = time.perf_counter()
        for seed in range(seeds):
            strength = np.sort(gen.normal(1000.0, 150.0, models))[::-1]
            for policy in res:
                run = matchmaking_simulate(
                    strength,
                    policy=policy,
                    budget=budget,
                    batch=40,
                    target=target,
                    metric="kendall",
                    rng=seed,
                )
                res[policy].append(
                    run.battles_to_target if run.battles_to_target is not None else budget
                )
        for policy, vals in res.items():
            rows.append(
                {
                    "target": target,
                    "policy": policy,
                    "mean": float(np.mean(vals)),
                    "median": float(np.median(vals)),
                    "p90": float(np.percentile(vals, 90)),
                    "not_reached": sum(v >= budget for v in vals),
                    "seeds": seeds,
                    "seconds": time.perf_counter() - started,
                }
            )
    return rows


def _render(
    machine: str, throughput: list[dict[str, Any]], matchmaking: list[dict[str, Any]]
) -> str:
    lines = [SECTION, "", machine, ""]
    lines += [
        "### Throughput: 64-model Swiss through a real worker",
        "",
        "Competitors and the judge are OpenAI-compatible endpoints on the local test server "
        "(`python -m tests.fake_openai`, its own process) answering after the stated latency; "
        "`celery worker -P threads` processes on the PostgreSQL database; each match = 2 "
        "generations + 2 judge calls (position swap); "
        "per-endpoint cap 4 for competitors, 128 for the judge. Targets: at least 50 generations "
        "in flight, "
        "at least 100 judged matches per minute.",
        "",
        "| worker processes x threads | latency (ms) | matches | wall (s) | judged matches / min "
        "| peak generations in flight | mean in flight while generating | round wall times (s) "
        "| generation latency p50 / p95 (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|:---|---:|",
    ]
    for r in throughput:
        rounds = ", ".join(f"{s:.1f}" for s in r["round_seconds"])
        lines.append(
            f"| {r['processes']} x {r['concurrency']} | {r['latency_ms']:.0f} "
            f"| {r['done']}/{r['matches']}{'' if r['completed'] else ' (timed out)'} "
            f"| {r['seconds']:.1f} | {r['matches_per_min']:.0f} "
            f"| {r['max_generations_in_flight']} "
            f"| {r['mean_generations_in_flight_when_busy']:.1f} | {rounds} | "
            f"{r['generation_latency_p50']:.0f} / {r['generation_latency_p95']:.0f} |"
        )
    lines += [
        "",
        "The peak depends on how fast the worker processes start a round's 32 match steps: "
        "each step does a few database queries before it requests both answers in parallel, "
        "so with less CPU to spare (other jobs on the 2 cores) fewer of the 64 answers overlap "
        "within the 200 ms; two processes (one per core) start them faster than one. "
        "Round wall times include pairing the next round (FIDE Dutch, 64 players).",
        "",
        "### Matchmaking: battles to a target ranking accuracy",
        "",
        "16 simulated models, strengths ~ N(1000, 150) Elo, Bradley-Terry outcomes with ties "
        "(`ranking.matchmaking.matchmaking_simulate`); battles in batches of 40, "
        "ratings refitted after each batch (Bradley-Terry, L2 C = 1, sandwich intervals); "
        "accuracy = Kendall's tau against the truth. "
        "`active` = interval-overlap exploitation + under-sampling exploration "
        "(K-Sort-Arena-like), `uniform` = uniformly random pairs. "
        "Budget 10,000 battles (runs that never reach the target count as 10,000).",
        "",
        "| target tau | policy | mean battles | median | p90 | not reached | seeds |",
        "|---:|:---|---:|---:|---:|---:|---:|",
    ]
    for r in matchmaking:
        lines.append(
            f"| {r['target']:.2f} | {r['policy']} | {r['mean']:.0f} | {r['median']:.0f} "
            f"| {r['p90']:.0f} | "
            f"{r['not_reached']} | {r['seeds']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller runs (16 models, fewer seeds)"
    )
    parser.add_argument(
        "--configs",
        default="1x48,2x24",
        help="worker processes x threads per process, comma separated (default 1x48,2x24)",
    )
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CACHE_URL": redis_url,
            "LUDUS_EAGER": "0",
            "DJANGO_SETTINGS_MODULE": "arena.settings",
            "LUDUS_ALLOW_INTERNAL_ENDPOINTS": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    machine = _machine()
    _recreate_database(database_url)
    import django
    import redis

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(redis_url).flushdb()
    from workers.celery import app

    models, rounds = (16, 4) if args.quick else (64, 6)
    throughput = []
    log_dir = ROOT / "var"
    log_dir.mkdir(exist_ok=True)
    for config in args.configs.split(","):
        processes, concurrency = (int(x) for x in config.lower().split("x"))
        env = dict(os.environ)
        procs = [
            _start_worker(env, concurrency, log_dir / f"bench-worker-{config}-{i}.log", i)
            for i in range(processes)
        ]
        try:
            _wait_worker_ready(app, procs)
            result = bench_throughput(
                models=models,
                rounds=rounds,
                latency=args.latency,
                concurrency=concurrency,
                processes=processes,
                timeout=600,
            )
            throughput.append(result)
            print(result, flush=True)
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    matchmaking = bench_matchmaking(seeds=4 if args.quick else 12, targets=[0.8, 0.9, 0.95])
    text = _render(machine, throughput, matchmaking)
    results_report(SECTION, text, write=not args.no_write)


if __name__ == "__main__":
    main()
