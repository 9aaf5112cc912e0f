"""Per-request cost of the three hot API requests, in-process, with deterministic measures.

For ``GET battles/next/``, ``POST votes/`` on the ORM path (``vote``) and on the
prepared-statement path (``vote_fast``, ``arena/services/votes_fast.py``; each chosen with
``settings.LUDUS_VOTES_FAST_SQL`` whatever the tree's default) and a cached
``GET leaderboard/``, run through ``django.test.Client`` (the full middleware stack, the same
settings as ``bench_api.py``): SQL statements per request (Django's query log, which includes
BEGIN and COMMIT, plus the prepared statements, which bypass it), Redis commands per request
(from ``INFO commandstats``), Python function calls per request (cProfile, deterministic), CPU
per request of this process (``time.process_time``) and of its PostgreSQL backend
(``/proc/<pid>/stat``, so PostgreSQL must run on this machine), over many requests.
``--root`` points at another checkout (run it with that checkout's venv, or with this one's when
the dependencies are the same), so an old tree and this one are measured by the same script;
``--dump DIR`` writes the SQL and the cProfile top functions of one request of each kind.

Usage: ``.venv/bin/python bench/bench_api_profile.py [--root .] [--n 300] [--dump DIR]``;
``BENCH_PG`` and ``BENCH_REDIS`` choose the servers, ``BENCH_PROFILE_DB`` the database
(default ``ludus_bench_profile``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

PROF_N = 20


def _setup(root: Path, base_url: str, db_name: str, redis_url: str) -> None:
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")
    os.environ.update(
        {
            "DATABASE_URL": f"{base_url}/{db_name}",
            "REDIS_URL": redis_url,
            "CACHE_URL": redis_url,
            "CACHE_KEY_PREFIX": "ludus-bench-profile",
            "DEBUG": "0",
            "SECRET_KEY": "bench-api-" + "k" * 50,
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "LOG_LEVEL": "ERROR",
            "DB_CONN_MAX_AGE": "600",
            "THROTTLE_ANON": "10000000/min",
            "THROTTLE_USER": "10000000/min",
            "THROTTLE_VOTES": "10000000/min",
            "THROTTLE_VOTES_IP": "10000000/min",
            "THROTTLE_BATTLES": "10000000/min",
            "THROTTLE_BATTLES_IP": "10000000/min",
            "LUDUS_LEADERBOARD_DEBOUNCE_SECONDS": "3600",
            "DJANGO_SETTINGS_MODULE": "arena.settings",
        }
    )
    sys.path.insert(0, str(root))
    os.chdir(root)
    import django

    django.setup()
    import arena

    assert Path(arena.__file__).resolve().is_relative_to(root), arena.__file__


def _data(n_matches: int) -> None:
    """Competitors, battles, one bt snapshot and matches awaiting votes (as bench_api.py)."""
    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    from arena import models as m
    from arena.services.leaderboard import leaderboard_rebuild

    call_command("migrate", verbosity=0)
    comps = m.Competitor.objects.bulk_create(
        [m.Competitor(name=f"bench-model-{i:03d}", status="active") for i in range(20)]
    )
    rng = np.random.default_rng(0)
    battles = []
    for _ in range(3000):
        i, j = rng.choice(20, size=2, replace=False)
        outcome = ("model_a", "model_b", "tie")[int(rng.integers(3))]
        battles.append(
            m.Battle(model_a=comps[i], model_b=comps[j], outcome=outcome, source="import")
        )
    m.Battle.objects.bulk_create(battles)
    assert leaderboard_rebuild(source="combined", category="all", methods=["bt"])
    ps = m.PromptSet.objects.create(name="bench", category="general", public=True)
    prompts = m.Prompt.objects.bulk_create(
        [m.Prompt(prompt_set=ps, text=f"Question {i}?") for i in range(50)]
    )
    matches = m.Match.objects.bulk_create(
        [
            m.Match(
                competitor_a=comps[i % 20],
                competitor_b=comps[(i % 20 + 1 + i // 20) % 20]
                if (i % 20 + 1 + i // 20) % 20 != i % 20
                else comps[(i % 20 + 1) % 20],
                prompt=prompts[i % 50],
                status=m.Match.Status.AWAITING_VOTES,
            )
            for i in range(n_matches)
        ]
    )
    m.Generation.objects.bulk_create(
        [
            m.Generation(
                match=x,
                side=s,
                competitor=x.competitor_a if s == "a" else x.competitor_b,
                text=f"Answer {s} to match {x.pk}. " * 20,
            )
            for x in matches
            for s in "ab"
        ]
    )
    # Planner statistics, as a live database has them (else the plans depend on whether
    # autovacuum happened to analyse the new tables during the run).
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local process has used, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _redis_calls(client) -> dict[str, int]:
    return {k: v["calls"] for k, v in client.info("commandstats").items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--n", type=int, default=300, help="requests of each kind timed")
    parser.add_argument("--dump", default="", help="directory for SQL and profile listings")
    args = parser.parse_args()
    base_url = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
    db_name = os.environ.get("BENCH_PROFILE_DB", "ludus_bench_profile")
    root = Path(args.root).resolve()
    _setup(root, base_url, db_name, redis_url)
    import redis
    from django.conf import settings
    from django.core import signing
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from arena.api.voters import COOKIE_NAME, COOKIE_SALT
    from arena.services import votes_fast

    prepared: list[str] = []  # the prepared statements run (Django's query log misses them)
    execute_prepared = votes_fast._execute_prepared

    def counted(sql: str, params: list) -> list:
        prepared.append(sql)
        return execute_prepared(sql, params)

    votes_fast._execute_prepared = counted

    rconn = redis.Redis.from_url(redis_url)
    rconn.flushdb()
    warm, n = 20, args.n
    _data(n_matches=2 * (warm + 1 + PROF_N + n))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    signer = signing.get_cookie_signer(salt=COOKIE_NAME + COOKIE_SALT)
    dump = Path(args.dump) if args.dump else None
    if dump:
        dump.mkdir(parents=True, exist_ok=True)

    client = Client(REMOTE_ADDR="127.0.0.1")  # one handler, loaded once, as in a server process

    def voter() -> dict:
        return {"cookie": signer.sign(uuid.uuid4().hex)}

    def as_voter(v: dict) -> Client:
        client.cookies.clear()
        client.cookies[COOKIE_NAME] = v["cookie"]
        return client

    def next_req(c: Client) -> dict:
        r = c.get("/api/v1/battles/next/")
        assert r.status_code == 200, r.content
        return {"token": r.json()["token"]}

    def vote_req(c: Client, token: str) -> None:
        r = c.post(
            "/api/v1/votes/",
            data=json.dumps({"token": token, "outcome": "A"}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
        assert r.status_code == 201, r.content

    def board_req() -> None:
        client.cookies.clear()
        r = client.get("/api/v1/leaderboard/?method=bt")
        assert r.status_code == 200, r.content

    # One voter per request of each vote path: "next" serves the ORM path's voter (timed),
    # the prepared path's voter is served just before its vote (not timed).
    voters = {
        path: [voter() for _ in range(warm + 1 + PROF_N + n)] for path in ("vote", "vote_fast")
    }
    kinds = ("next", "vote", "vote_fast", "leaderboard")
    out: dict = {"root": str(root), "n": n, "fast_default": settings.LUDUS_VOTES_FAST_SQL}

    def prepare(kind: str, i: int) -> None:
        """Untimed set-up of a request: the prepared path's battle, the vote path to use."""
        if kind == "vote_fast":
            v = voters[kind][i]
            v["token"] = next_req(as_voter(v))["token"]
        settings.LUDUS_VOTES_FAST_SQL = kind == "vote_fast"

    def measure(kind: str, i: int) -> None:
        if kind == "next":
            v = voters["vote"][i]
            v["token"] = next_req(as_voter(v))["token"]
        elif kind in ("vote", "vote_fast"):
            v = voters[kind][i]
            vote_req(as_voter(v), v["token"])
        else:
            board_req()

    # Warm-up (connections, caches, imports) on the first voters.
    for i in range(warm):
        for kind in kinds:
            prepare(kind, i)
            measure(kind, i)
    # One request of each kind: queries, Redis commands, Python calls.
    i = warm
    for kind in kinds:
        prepare(kind, i)
        prepared.clear()
        r0 = _redis_calls(rconn)
        with CaptureQueriesContext(connection) as ctx:
            measure(kind, i)
        r1 = _redis_calls(rconn)
        redis_diff = {k: v - r0.get(k, 0) for k, v in r1.items() if v - r0.get(k, 0)}
        # INFO itself is counted once in the diff
        redis_diff["cmdstat_info"] = redis_diff.get("cmdstat_info", 1) - 1
        redis_diff = {k.removeprefix("cmdstat_"): v for k, v in redis_diff.items() if v}
        out[kind] = {
            "statements": len(ctx.captured_queries) + len(prepared),
            "prepared": len(prepared),
            "redis": redis_diff,
        }
        if dump:
            (dump / f"{kind}.sql").write_text(
                "\n".join(q["sql"] for q in ctx.captured_queries)
                + "".join(f"\n-- prepared, run among the above:\n{sql.strip()}" for sql in prepared)
                + "\n"
            )
    # Python calls: PROF_N more requests of each kind under cProfile, per request.
    first = warm + 1
    for kind in kinds:
        prof = cProfile.Profile(time.process_time)
        for i in range(first, first + PROF_N):
            prepare(kind, i)
            prof.enable()
            measure(kind, i)
            prof.disable()
        stats = pstats.Stats(prof)
        out[kind]["py_calls"] = stats.total_calls / PROF_N  # type: ignore[attr-defined]
        if dump:
            prof.dump_stats(dump / f"{kind}.prof")
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(60)
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(40)
            (dump / f"{kind}.prof.txt").write_text(buf.getvalue())
    # CPU per request, kinds interleaved, n each.
    cpu = dict.fromkeys(kinds, 0.0)
    pg_cpu = dict.fromkeys(kinds, 0.0)
    for i in range(first + PROF_N, first + PROF_N + n):
        for kind in kinds:
            prepare(kind, i)
            p0 = _backend_cpu(backend)
            t0 = time.process_time()
            measure(kind, i)
            cpu[kind] += time.process_time() - t0
            pg_cpu[kind] += _backend_cpu(backend) - p0
    for kind in kinds:
        out[kind]["cpu_ms"] = round(cpu[kind] / n * 1000, 3)
        out[kind]["pg_cpu_ms"] = round(pg_cpu[kind] / n * 1000, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
