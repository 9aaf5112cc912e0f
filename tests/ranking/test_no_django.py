"""The ranking library and the model/judge clients never import Django or Celery (DESIGN.md).

The core distribution's dependencies are what ranking/ imports, and nothing of the service:
``pip install .`` (without the ``service`` extra) gives a working library and command line.
``make core-check`` shows it in a fresh venv (too slow for the suite; CI runs it).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, sys
package = importlib.import_module({package!r})
names = [m.name for m in pkgutil.walk_packages(package.__path__, {package!r} + ".")]
for name in names:
    importlib.import_module(name)
{extra}
loaded = sorted(
    m for m in sys.modules if m.split(".")[0] in ("django", "celery", "kombu", "rest_framework")
)
print(len(names), loaded)
assert not loaded, loaded
"""


@pytest.mark.parametrize(
    ("package", "extra", "at_least", "needs"),
    [
        ("ranking", "import ranking.__main__  # noqa: F401", 10, ()),
        ("clients", "", 9, ("httpx", "cryptography")),
    ],
)
def test_package_imports_neither_django_nor_celery(package, extra, at_least, needs):
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:  # only in a core-only venv (make core-check): clients need the service extra
        pytest.skip(f"{package} needs the service extra; missing {missing}")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(package=package, extra=extra)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    count = int(proc.stdout.split()[0])
    assert count >= at_least  # every module of the package was imported


def _name(requirement: str) -> str:
    """``"celery[redis]>=5.4"`` -> ``"celery"`` (PEP 503 normalised)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group()).lower()


def _third_party_imports(package: str) -> set[str]:
    """Top-level modules imported anywhere in ``package`` that are neither stdlib nor its own."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {package, "__future__"}


def test_core_dependencies_are_what_ranking_imports_and_no_service_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    service = {_name(r) for r in project["optional-dependencies"]["service"]}
    for name in ("django", "djangorestframework", "celery", "redis", "psycopg", "httpx"):
        assert name in service and name not in core, name
    assert core.isdisjoint(service)
    by_module = packages_distributions()
    needed = {
        _name(dist)
        for module in _third_party_imports("ranking")
        for dist in by_module.get(module, [module])
    }
    assert needed <= core, f"ranking/ imports {sorted(needed - core)}, not core dependencies"
    # and nothing in the core that ranking/ does not import
    assert core <= needed, f"core dependencies ranking/ never imports: {sorted(core - needed)}"
