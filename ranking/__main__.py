"""Entry point of ``python -m ranking``."""

from __future__ import annotations

import sys

from ranking.cli import main

if __name__ == "__main__":
    sys.exit(main())
