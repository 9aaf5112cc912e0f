"""Entry point of ``python -m ranking``.

The library never changes process-wide settings; this program owns its process, so it
runs BLAS on one thread: the rating systems here are small (a few hundred models), and on
a shared machine OpenBLAS's thread hand-off made them several times slower
(bench/RESULTS.md, "BLAS threads"). A program that calls the library can do the same
with ``threadpoolctl.threadpool_limits(1, "blas")``.
"""

from __future__ import annotations

import sys

from threadpoolctl import threadpool_limits

from ranking.cli import main

if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        status = main()
    sys.exit(status)
