"""The one writer of bench/RESULTS.md: each benchmark owns one ``## ...`` section."""

from __future__ import annotations

import re
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")


def results_section_write(section: str, text: str, *, path: Path = RESULTS) -> Path:
    """Replace the section headed ``section`` with ``text`` (appended when absent).

    ``text`` is the whole section, heading included; other sections are left as they are.
    """
    if not text.startswith(section):
        raise ValueError(f"section text must start with its heading {section!r}")
    block = text.rstrip("\n") + "\n"
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        current = pattern.sub(lambda _: block + "\n", current).rstrip("\n") + "\n"
    else:
        current = current.rstrip("\n") + "\n\n" + block
    path.write_text(current)
    return path


def results_report(section: str, text: str, *, write: bool, path: Path = RESULTS) -> None:
    """Print the section ``text``; with ``write``, store it in RESULTS.md and say so on stderr."""
    print(text)
    if write:
        print(f"updated {results_section_write(section, text, path=path)}", file=sys.stderr)


def cpu_model(default: str = "?") -> str:
    """The CPU's model name as ``lscpu`` reports it, or ``default``."""
    import subprocess

    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return default
    return next(
        (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")),
        default,
    )
