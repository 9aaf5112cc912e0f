"""Check an environment that holds only the core distribution (``make core-check``).

Run with the interpreter of a fresh venv into which ``pip install '.[test]'`` (no service
extra) was done: Django, Celery and DRF must be absent, and ``python -m ranking rate``,
started outside the source tree so that the installed package is the one imported, must
rate a small battle file. ``make core-check`` then runs tests/ranking in the same venv.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SERVICE_MODULES = ("django", "rest_framework", "celery", "kombu", "redis", "httpx", "psycopg")


def main() -> int:
    """Exit non-zero, naming the problem, unless the core environment works."""
    present = [m for m in SERVICE_MODULES if importlib.util.find_spec(m) is not None]
    if present:
        print(f"core-check: service packages are installed: {present}", file=sys.stderr)
        return 1
    # a beats b, b beats c and a beats c, 3 to 1 each: the order must be a, b, c
    records = [
        {"model_a": x, "model_b": y, "winner": "model_a" if k < 3 else "model_b"}
        for x, y in (("a", "b"), ("b", "c"), ("a", "c"))
        for k in range(4)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "battles.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        where = subprocess.run(
            [sys.executable, "-c", "import ranking; print(ranking.__file__)"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        proc = subprocess.run(
            [sys.executable, "-m", "ranking", "rate", str(path), "--method", "bt"]
            + ["--ci", "sandwich", "--output", "json"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        print(f"core-check: python -m ranking rate failed:\n{proc.stderr}", file=sys.stderr)
        return 1
    doc = json.loads(proc.stdout)
    order = [row["model"] for row in doc["ratings"]]
    if doc["method"] != "bt" or order != ["a", "b", "c"] or doc["n_battles"] != 12:
        print(f"core-check: unexpected result {doc}", file=sys.stderr)
        return 1
    print(f"core-check: python -m ranking rate works without the service ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
