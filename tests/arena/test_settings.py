"""Settings come from the environment; production mode is strict."""

from __future__ import annotations

import ast
import os
import re
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
            "{'min_size': 1, 'max_size': 3, 'timeout': 30, "
            "'check': <function ConnectionPool.check_connection"
        )
    )
    plain = _manage("shell", "-c", code, DATABASE_URL=url, DB_CONN_MAX_AGE="60")
    assert plain.stdout.strip().splitlines()[-1] == "None 60", plain.stdout + plain.stderr


# --------------------------------------------------------------------------- one declaration each

PACKAGES = ("arena", "workers", "ranking", "clients")
SETTINGS_FILE = ROOT / "arena" / "settings.py"
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_float", "env_list", "env_networks"}


def _modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        if (ROOT / package).is_dir()
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _first_str(args: list[ast.expr]) -> str | None:
    if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        return args[0].value
    return None


def _scan(path: Path) -> dict[str, list[tuple[str, int]]]:
    """Where a module declares (env helper), reads directly (os.environ) and uses settings."""
    found: dict[str, list[tuple[str, int]]] = {"declared": [], "environ": [], "used": []}
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            key = _first_str(node.args)
            if key is None:
                continue
            if name in ENV_HELPERS:
                found["declared"].append((key, node.lineno))
            elif (isinstance(func, ast.Attribute) and _is_os_environ(func.value)) or (
                name == "getenv"
            ):
                found["environ"].append((key, node.lineno))
            elif (
                name == "getattr"
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "settings"
                and (attribute := _first_str(node.args[1:])) is not None
            ):
                found["used"].append((attribute, node.lineno))
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                found["environ"].append((node.slice.value, node.lineno))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "settings"
            and node.attr.startswith("LUDUS_")
        ):
            found["used"].append((node.attr, node.lineno))
    return found


def _readme_settings() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_column))
    return names


def test_every_setting_is_declared_once_in_settings_and_listed_in_the_readme():
    declared: dict[str, list[str]] = {}
    elsewhere, environ, used = [], [], []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        found = _scan(path)
        for name, line in found["declared"]:
            declared.setdefault(name, []).append(f"{rel}:{line}")
            if path != SETTINGS_FILE:
                elsewhere.append(f"{rel}:{line} {name}")
        environ += [f"{rel}:{line} {n}" for n, line in found["environ"] if n.startswith("LUDUS_")]
        used += [(n, f"{rel}:{line}") for n, line in found["used"]]

    assert not elsewhere, (
        f"settings read outside arena/settings.py (declare them there): {elsewhere}"
    )
    assert not environ, f"LUDUS_* read from os.environ outside the env helpers: {environ}"
    twice = {name: where for name, where in declared.items() if len(where) > 1}
    assert not twice, f"settings declared more than once: {twice}"
    undeclared = sorted({f"{name} ({where})" for name, where in used if name not in declared})
    assert not undeclared, f"settings read but never declared in arena/settings.py: {undeclared}"
    ludus_attributes = {
        target.id
        for node in ast.parse(SETTINGS_FILE.read_text()).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.startswith("LUDUS_")
    }
    unread = sorted(ludus_attributes - {name for name, _ in used})
    assert not unread, f"settings.LUDUS_* declared but never read: {unread}"
    readme = _readme_settings()
    assert sorted(set(declared) - readme) == [], "settings missing from the README's table"
    assert sorted(readme - set(declared)) == [], "README lists settings the code does not declare"


def test_env_float_refuses_bad_values(monkeypatch):
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from arena.env import env_float

    monkeypatch.setenv("X_FLOAT", "2.5")
    assert env_float("X_FLOAT", 1.0, minimum=1.0) == 2.5
    for bad, message in (
        ("soon", "must be a number"),
        ("nan", "must be a finite"),
        ("0.5", "must be at least 1"),
    ):
        monkeypatch.setenv("X_FLOAT", bad)
        with pytest.raises(ImproperlyConfigured, match=f"X_FLOAT {message}"):
            env_float("X_FLOAT", 1.0, minimum=1.0)


def test_beat_periods_come_from_settings():
    result = _manage(
        "shell",
        "-c",
        "from workers.celery import app; "
        "print({k: v['schedule'] for k, v in sorted(app.conf.beat_schedule.items())})",
        LUDUS_SWEEP_PERIOD="7.5",
        LUDUS_ARENA_TOPUP_PERIOD="12",
    )
    assert result.returncode == 0, result.stderr
    schedule = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert schedule["sweep-stuck-steps"] == 7.5
    assert schedule["arena-top-up"] == 12.0
    assert schedule["leaderboard-rebuild"] == 60.0
    bad = _manage("check", LUDUS_SWEEP_PERIOD="often")
    assert bad.returncode != 0
    assert "LUDUS_SWEEP_PERIOD must be a number" in bad.stderr
