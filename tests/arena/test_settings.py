"""Settings come from the environment; production mode is strict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_the_default_secret_key():
    result = _manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_in_production_mode():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-0123456789",
        ALLOWED_HOSTS="ludus.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_bad_boolean_is_refused_with_a_clear_message():
    result = _manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_env_helpers(monkeypatch):
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from arena.env import env_int, env_list

    monkeypatch.setenv("X_INT", "7")
    assert env_int("X_INT", 1) == 7
    monkeypatch.setenv("X_INT", "seven")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be an integer"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_LIST", "a.org, b.org,")
    assert env_list("X_LIST", []) == ["a.org", "b.org"]


def test_database_pool_is_opt_in_and_replaces_persistent_connections():
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d.get('OPTIONS', {}).get('pool'), d['CONN_MAX_AGE'])"
    )
    url = "postgres://postgres@127.0.0.1:5432/ludus"
    pooled = _manage("shell", "-c", code, DATABASE_URL=url, DB_POOL_SIZE="3", DB_CONN_MAX_AGE="60")
    assert pooled.returncode == 0, pooled.stderr
    assert (
        pooled.stdout.strip()
        .splitlines()[-1]
        .startswith(
            "{'min_size': 1, 'max_size': 3, 'timeout': 30, 'check': <function ConnectionPool.check_connection"
        )
    )
    plain = _manage("shell", "-c", code, DATABASE_URL=url, DB_CONN_MAX_AGE="60")
    assert plain.stdout.strip().splitlines()[-1] == "None 60", plain.stdout + plain.stderr
