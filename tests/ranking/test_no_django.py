"""The ranking library and the model/judge clients never import Django or Celery (DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys
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
    ("package", "extra", "at_least"),
    [
        ("ranking", "import ranking.__main__  # noqa: F401", 10),
        ("clients", "", 9),
    ],
)
def test_package_imports_neither_django_nor_celery(package, extra, at_least):
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
