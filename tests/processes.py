"""Throwaway service processes for fault tests: a redis-server and a PostgreSQL cluster of their
own, and a gunicorn serving Ludus.

Each runs on a free port in a temporary directory, apart from the services the suite uses,
so a test may stop and restart it. Both wait with bounded timeouts and are stopped (then
killed) by ``stop()``; a missing binary raises :class:`ServiceUnavailable`, which tests turn
into ``skip_or_fail``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    """The service cannot be run on this machine (binary or privileges missing)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, *, up: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                is_up = True
        except OSError:
            is_up = False
        if is_up == up:
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} still {'down' if up else 'up'} after {timeout} s")


@contextlib.contextmanager
def gunicorn_serving(
    *,
    env: dict[str, str],
    log_path: Path,
    ready_path: str,
    workers: int = 1,
    threads: int = 1,
    args: tuple[str, ...] = (),
    timeout: float = 30.0,
) -> Iterator[str]:
    """Ludus under ``gunicorn`` on a free port, its output in ``log_path``: the base URL.

    Ready once ``GET ready_path`` succeeds (``RuntimeError`` with the log after ``timeout``
    seconds or when gunicorn exits); stopped (then killed) on leaving the block.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "arena.wsgi", "-b", f"127.0.0.1:{port}"]
    cmd += ["-w", str(workers), "--threads", str(threads), "--timeout", "60", *args]
    root = Path(__file__).resolve().parents[1]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url + ready_path, timeout=2).close()  # noqa: S310 - local
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_text = log_path.read_text(errors="replace")
                    raise RuntimeError(f"gunicorn did not start:\n{log_text}") from None
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class RedisServer:
    """``redis-server`` on a free port with an append-only file, so a restart keeps queued tasks."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServiceUnavailable("redis-server is not installed")
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 10.0) -> RedisServer:
        assert self.binary is not None
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait_port(self.port, up=True, timeout=timeout)
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class PostgresCluster:
    """A PostgreSQL cluster made by ``initdb`` in a temporary directory, on a free port.

    Run as the ``postgres`` user when this process is root (PostgreSQL refuses to run as root).
    """

    def __init__(self) -> None:
        bindir = os.environ.get("LUDUS_PG_BINDIR") or _pg_bindir()
        if bindir is None:
            raise ServiceUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
            )
        self.bindir = Path(bindir)
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServiceUnavailable(
                    "running as root without runuser: cannot start PostgreSQL as postgres"
                )
            self._as_user = [runuser, "-u", "postgres", "--"]
        # not under pytest's tmp_path: its parents are private to root, and postgres must reach it
        self.directory = Path(tempfile.mkdtemp(prefix="ludus-pg-"))
        if self._as_user:
            shutil.chown(self.directory, user="postgres")
        self.data = self.directory / "pgdata"
        self.port = free_port()

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        out = subprocess.run(
            [*self._as_user, *args], capture_output=True, timeout=timeout, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed: {out.stdout.decode()} {out.stderr.decode()}"
            )

    def init(self) -> PostgresCluster:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return self

    def start(self, *, timeout: float = 30.0) -> PostgresCluster:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.directory / "postgres.log"),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 5,
        )
        return self

    def stop(self, *, mode: str = "immediate") -> None:
        """``immediate`` is a crash (no shutdown checkpoint, clients cut off)."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                mode,
                "-w",
                "stop",
                timeout=30,
            )

    def remove(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _pg_bindir() -> str | None:
    root = Path("/usr/lib/postgresql")
    candidates = (
        sorted(
            root.glob("*/bin/initdb"),
            key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        )
        if root.is_dir()
        else []
    )
    if candidates:
        return str(candidates[-1].parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else None
