"""The ranking library must never import Django (DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, pkgutil, sys
import ranking
names = [m.name for m in pkgutil.walk_packages(ranking.__path__, "ranking.")]
for name in names:
    importlib.import_module(name)
import ranking.__main__  # noqa: F401
loaded = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
print(len(names), loaded)
assert not loaded, loaded
"""


def test_ranking_imports_no_django():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    count = int(proc.stdout.split()[0])
    assert count >= 10  # every module of the package was imported
