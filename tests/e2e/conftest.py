"""A real Ludus for the browser: gunicorn + a Celery worker on a fresh database, and Chromium.

One server and one worker per test session (starting them takes a few seconds), on their own
SQLite file, Redis database and cache prefix, so they never touch another run's data. The
database is seeded by :mod:`tests.e2e.seed` (demo data, finished tournaments, battles to vote
on) and the leaderboards are built by the real rebuild service before the server starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CeleryWorkerProcess, skip_or_fail
from tests.processes import gunicorn_serving

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LUDUS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
E2E_REDIS_DB = os.environ.get("LUDUS_E2E_REDIS_DB", "11")


def _redis_base() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return url.rsplit("/", 1)[0] if url.count("/") >= 3 else url


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import redis

    url = f"{_redis_base()}/{E2E_REDIS_DB}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except Exception as exc:
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    client.flushdb()
    tmp = tmp_path_factory.mktemp("ludus-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "arena.settings",
            "DATABASE_URL": f"sqlite:///{tmp / 'e2e.sqlite3'}",
            "LUDUS_VAR_DIR": str(tmp),
            "REDIS_URL": url,
            "CELERY_BROKER_URL": url,
            "CACHE_URL": url,
            "CACHE_KEY_PREFIX": f"ludus-e2e-{os.getpid()}",
            "LUDUS_EAGER": "0",
            "LUDUS_TESTING": "1",  # static files served from static/ by WhiteNoise's finders
            "DEBUG": "0",  # the real 404/500 pages
            "SECRET_KEY": "e2e-" + "x" * 50,
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LUDUS_LEADERBOARD_DEBOUNCE_SECONDS": "1",
            "LUDUS_LEADERBOARD_PERIOD": "3600",
            "LUDUS_ARENA_TOPUP_PERIOD": "3600",
            "LUDUS_ARENA_POOL_SIZE": "0",
            "THROTTLE_VOTES": "1000/min",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "LOG_FORMAT": "text",
        }
    )
    return env


@pytest.fixture(scope="session")
def e2e_database(e2e_env: dict[str, str]) -> dict[str, str]:
    py = sys.executable
    for cmd in (
        [py, "manage.py", "migrate", "-v", "0"],
        [py, "manage.py", "shell", "-c", "from tests.e2e.seed import seed_all; print(seed_all())"],
    ):
        done = subprocess.run(
            cmd, cwd=ROOT, env=e2e_env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd[1:3])} failed:\n{done.stdout}\n{done.stderr}")
    return e2e_env


@pytest.fixture(scope="session")
def ludus_worker(
    e2e_database: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorkerProcess]:
    worker = CeleryWorkerProcess(
        env=e2e_database, log_dir=tmp_path_factory.mktemp("e2e-worker"), concurrency=2, beat=False
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def live_url(
    e2e_database: dict[str, str],
    ludus_worker: CeleryWorkerProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The base URL of a gunicorn serving Ludus (with a worker running behind it)."""
    log_path = tmp_path_factory.mktemp("e2e-server") / "gunicorn.log"
    with gunicorn_serving(
        env=e2e_database,
        log_path=log_path,
        ready_path="/tournaments/",
        workers=2,
        threads=4,
        args=("--access-logfile", "-"),
    ) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        skip_or_fail(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, live_url: str) -> Iterator[object]:
    """A fresh browser context (no cookies: a new anonymous voter); a JS error fails the test."""
    context = browser.new_context(base_url=live_url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("dialog", lambda d: (errors.append(f"dialog opened: {d.message}"), d.dismiss()))
    pg.js_errors = errors
    yield pg
    context.close()
    assert not errors, f"JavaScript errors or dialogs on the page: {errors}"


@pytest.fixture(scope="session")
def shots(test_output_dir: Path) -> Path:
    path = test_output_dir / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
