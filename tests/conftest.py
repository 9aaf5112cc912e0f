"""Shared fixtures.

Tests that need Redis, a Celery worker or a browser skip when those are missing on a
developer's machine, but fail in CI (``LUDUS_REQUIRE_SERVICES=1``), where nothing may be
skipped for want of a service.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("LUDUS_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis
    from django.conf import settings

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        skip_or_fail(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    return settings.REDIS_URL


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    path = Path(
        os.environ.get("LUDUS_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _clear_cache(request: pytest.FixtureRequest):
    """Each database test starts with an empty cache (the cache holds leaderboard snapshots)."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker(
        "django_db"
    ):
        yield
        return
    from django.core.cache import cache

    from arena.api.views.leaderboard import rendered_forget
    from arena.selectors.leaderboard import leaderboard_etags_forget
    from arena.services.leaderboard import leaderboard_schedule_forget

    with contextlib.suppress(Exception):  # Redis down on a laptop: cache tests skip on their own
        cache.clear()
    leaderboard_schedule_forget()
    rendered_forget()
    leaderboard_etags_forget()
    yield


# --------------------------------------------------------------------------- real Celery worker


class CeleryWorkerProcess:
    """A real ``celery worker`` subprocess against the test database and a dedicated Redis DB.

    ``start()``, ``stop()`` (graceful, then SIGKILL), ``kill()`` (SIGKILL now, as a crash),
    ``restart()``; ``log`` is the worker's combined output so far.
    """

    def __init__(
        self, *, env: dict[str, str], log_dir: Path, concurrency: int = 16, beat: bool = True
    ) -> None:
        self.env = env
        self.log_dir = log_dir
        self.concurrency = concurrency
        self.beat = beat
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"celery-worker-{self.generation}.log"

    @property
    def log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("celery-worker-*.log"))
        )

    def start(self, *, timeout: float = 40.0) -> CeleryWorkerProcess:
        import time

        from workers.celery import worker_command

        self.generation += 1
        cmd = worker_command(
            concurrency=self.concurrency, name=f"test{self.generation}-{os.getpid()}@%h"
        )
        if self.beat:
            cmd += ["-B", "-s", str(self.log_dir / "celerybeat-schedule")]
        out = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            cmd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_path.read_text()
                raise RuntimeError(f"celery worker exited with {self.proc.returncode}:\n{log}")
            if " ready." in self.log_path.read_text(errors="replace"):
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"celery worker not ready within {timeout} s:\n{self.log_path.read_text()}"
        )

    def kill(self) -> None:
        """SIGKILL the worker and its children (a crash: unacknowledged tasks stay in Redis)."""
        import signal

        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self, *, timeout: float = 10.0) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def restart(self) -> CeleryWorkerProcess:
        self.stop()
        return self.start()


def _test_redis_url() -> str:
    from django.conf import settings

    explicit = os.environ.get("LUDUS_TEST_REDIS_URL")
    if explicit:
        return explicit
    base = (
        settings.REDIS_URL.rsplit("/", 1)[0]
        if settings.REDIS_URL.count("/") >= 3
        else settings.REDIS_URL
    )
    return f"{base}/5"


def _worker_database_url() -> str:
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(s.get("USER") or "", safe="")
        if s.get("PASSWORD"):
            auth += ":" + quote(s["PASSWORD"], safe="")
        host = s.get("HOST") or "127.0.0.1"
        port = f":{s['PORT']}" if s.get("PORT") else ""
        return f"postgres://{auth}@{host}{port}/{s['NAME']}"
    name = str(s.get("NAME") or "")
    if (
        connection.vendor == "sqlite"
        and name
        and ":memory:" not in name
        and "mode=memory" not in name
    ):
        return f"sqlite:///{name}"
    skip_or_fail(
        "a real Celery worker needs a database another process can open: run with "
        "DATABASE_URL=postgres://... (the SQLite test database is in memory)"
    )
    raise AssertionError("unreachable")


@pytest.fixture
def eager_tasks():
    """Tasks sent by name (``arena.services.queue``) run in this process, retries included.

    Errors are not propagated (Celery then runs an eager ``retry`` again at once instead of
    raising it); a test checks the state the tasks leave behind.
    """
    from workers.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    """Extra environment for the worker of ``celery_worker_process`` (override in a test module)."""
    return {}


@pytest.fixture
def celery_redis_url() -> str:
    """The Redis (broker, cache) of ``celery_worker_process`` (override in a test module)."""
    return _test_redis_url()


@pytest.fixture
def celery_worker_process(transactional_db, celery_worker_env, celery_redis_url, tmp_path):
    """A started real Celery worker (threads pool, embedded beat) on the test database.

    The worker and this process use a dedicated Redis database (``celery_redis_url``:
    ``LUDUS_TEST_REDIS_URL``, default DB 5 of ``REDIS_URL``), flushed first, so helpers' workers
    never consume each other's tasks; tasks sent from the test process
    (``transaction.on_commit``) reach it.
    Short recovery settings make crash tests fast: visibility timeout 10 s, stuck-step sweep
    every 2 s for steps idle 8 s. Yields a :class:`CeleryWorkerProcess` (``kill()`` is a
    SIGKILL; ``start()`` brings up a new worker).
    """
    import redis

    from workers.celery import app

    url = celery_redis_url
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except Exception as exc:
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    database_url = _worker_database_url()
    client.flushdb()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": url,
            "CELERY_BROKER_URL": url,
            "CACHE_URL": url,
            "LUDUS_EAGER": "0",
            "LUDUS_VAR_DIR": str(tmp_path),
            "CELERY_VISIBILITY_TIMEOUT": "10",
            "LUDUS_SWEEP_PERIOD": "2",
            "LUDUS_STUCK_AFTER_SECONDS": "8",
            "LUDUS_ARENA_POOL_SIZE": "0",
            "LUDUS_ARENA_TOPUP_PERIOD": "3600",
            "LUDUS_LEADERBOARD_PERIOD": "3600",
            "LUDUS_ALLOW_INTERNAL_ENDPOINTS": "1",
            "DB_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(celery_worker_env)
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None
    worker = CeleryWorkerProcess(env=env, log_dir=tmp_path)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
        app.conf.broker_url = saved["broker_url"]
        app.conf.task_always_eager = saved["task_always_eager"]
        app._pool = None
        app.amqp._producer_pool = None
        with contextlib.suppress(Exception):
            client.flushdb()
