"""Start the web server, a Celery worker and Celery beat together; one Ctrl-C stops all.

Where Redis cannot be reached, say so and run tasks in-process instead (``LUDUS_EAGER=1``):
the service still works, without background workers or periodic rebuilds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand

from arena.services.health import _redis


class Command(BaseCommand):
    help = "Run web + worker + beat (make run)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument(
            "--demo", action="store_true", help="migrate and load the demo data first"
        )

    def handle(self, *args, host: str, port: int, concurrency: int, demo: bool, **options):
        env = dict(os.environ)
        eager = settings.CELERY_EAGER
        if not eager:
            try:
                _redis()
            except Exception as exc:
                eager = True
                self.stderr.write(
                    self.style.WARNING(
                        f"WARNING: Redis is not reachable at {settings.REDIS_URL} ({exc}).\n"
                        "         Falling back to in-process tasks (LUDUS_EAGER=1): "
                        "no background worker,\n"
                        "         no periodic leaderboard rebuilds. "
                        "Start Redis and set REDIS_URL for the full service."
                    )
                )
        if eager:
            env["LUDUS_EAGER"] = "1"
        python = sys.executable
        if demo:  # in child processes, so they see the same LUDUS_EAGER decision
            for step in (["migrate", "--noinput", "-v", "0"], ["load_demo"]):
                subprocess.run([python, "manage.py", *step], env=env, check=True)
        commands = [("web", [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"])]
        if not eager:
            from workers.celery import worker_command

            beat = [python, "-m", "celery", "-A", "workers", "beat", "-l", "INFO"]
            commands += [
                ("worker", worker_command(concurrency=concurrency)),
                ("beat", [*beat, "-s", settings.CELERY_BEAT_SCHEDULE_FILENAME]),
            ]
        procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        for name, cmd in commands:
            procs.append((name, subprocess.Popen(cmd, env=env, start_new_session=True)))

        def stop(*_signal: object) -> None:
            for _, p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            deadline = time.time() + 10
            for _, p in procs:
                try:
                    p.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)

        def stop_and_exit(*_signal: object) -> None:
            stop()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop_and_exit)
        url = f"http://{host}:{port}/"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "healthz", timeout=5)  # noqa: S310 - our own local server
                break
            except OSError as exc:
                if getattr(
                    exc, "code", None
                ):  # an HTTP error (503 while the worker starts) means it is up
                    break
                time.sleep(0.2)
        started = ", ".join(name for name, _ in procs)
        self.stdout.write(
            self.style.SUCCESS(f"\nLudus is running ({started}): {url}\nPress Ctrl-C to stop.\n")
        )
        self.stdout.flush()
        try:
            while all(p.poll() is None for _, p in procs):
                time.sleep(0.5)
            dead = [name for name, p in procs if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} exited; stopping the rest")
        except KeyboardInterrupt:
            pass
        finally:
            stop()
