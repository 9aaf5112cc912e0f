"""Sampling to a target: votes until every interval is narrow enough, target rule vs uniform.

Each simulated arena refits the board as the service does (unpenalised Bradley-Terry, ties
half, 95% profile-likelihood intervals) after every 100 battles, drawn as pools of 10
distinct pairs, and stops when every model's interval is at most ``TARGET`` points wide
(``ranking.matchmaking.target_simulate``). Outcomes follow Bradley-Terry on the true
strengths, decisive by default (``--tie-rate R`` adds ties at rate R · 4p(1 - p); ties counted
half pull the fitted gaps towards 0 by up to R, so the coverage column then measures that
shift too, not only the interval). The policies:

* ``target``: the arena's rule (``sampling_status`` + ``select_target_pairs``): pairs whose
  order is not settled at 95% and that have a model still wider than the target, drawn by
  how far above the target their intervals are, and topped up with the widest-interval pairs;
* ``target (old)``: the earlier rule, the same pairs drawn by the active policy's
  ``pair_scores`` (interval overlap, exploration) times that need (kept to measure the
  change);
* ``target (old), stop at 99%``: the earlier rule, stopping only when each model's interval
  taken at 99% (normal rescaling of the 95% one) fits the target: the other cure tried for
  optional stopping;
* ``uniform``: every pair equally likely.

Scenarios: ``fresh`` (10 models 600 points apart end to end, no history), ``newcomers`` (12
models, the 6 established ones with 6,000 battles among themselves before the run, 6 new
ones with none), ``runaway`` (12 models within 200 points and one 650 points above them).
The same seeds drive both policies. Also reported, at the stop: how often a model's 95%
interval held its true (mean-centred) strength, and how many pairs the rule called settled
and how many of those were in the wrong order.

Usage: ``python bench/bench_sampling.py [--seeds N] [--no-write]``; writes (appends, or
replaces when it is there) the section named by ``SECTION`` in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _results import cpu_model, results_report  # noqa: E402 - bench/ is sys.path[0] when a script runs

from ranking.battles import Battles  # noqa: E402
from ranking.errors import RankingWarning  # noqa: E402
from ranking.matchmaking import TargetRun, target_simulate  # noqa: E402
from ranking.types import A_WINS, B_WINS, TIE  # noqa: E402

SECTION = "## Sampling to a target: pairs drawn by need, coverage at the stop (bench_sampling.py)"
#: policy label -> (target_simulate policy, its pair scores, level of the stop interval)
POLICIES: dict[str, tuple[str, str, float | None]] = {
    "target (old)": ("target", "pair_scores", None),
    "target (old), stop at 99%": ("target", "pair_scores", 0.99),
    "target": ("target", "need", None),
    "uniform": ("uniform", "need", None),
}
BUDGET = 20000


def _history(
    strength: np.ndarray, players: np.ndarray, n: int, seed: int, tie_rate: float
) -> Battles:
    gen = np.random.default_rng(10_000 + seed)
    a = gen.choice(players, n)
    b = gen.choice(players, n)
    keep = a != b
    a, b = a[keep], b[keep]
    p = 1.0 / (1.0 + 10.0 ** (-(strength[a] - strength[b]) / 400.0))
    tie = gen.random(a.shape[0]) < tie_rate * 4 * p * (1 - p)
    win = gen.random(a.shape[0]) < p
    outcome = np.where(tie, TIE, np.where(win, A_WINS, B_WINS)).astype(np.int8)
    return Battles(
        models=tuple(f"m{i}" for i in range(strength.shape[0])),
        a=a.astype(np.int32),
        b=b.astype(np.int32),
        outcome=outcome,
    )


def scenarios(tie_rate: float) -> dict[str, dict[str, object]]:
    runaway = np.array([*np.linspace(0.0, 200.0, 12), 650.0])
    newcomers = np.linspace(-300.0, 300.0, 12)
    return {
        "fresh": {"strength": np.linspace(-300.0, 300.0, 10), "target": 80.0},
        "newcomers": {
            "strength": newcomers,
            "target": 80.0,
            "history": lambda seed: _history(newcomers, np.arange(0, 12, 2), 6000, seed, tie_rate),
        },
        "runaway": {"strength": runaway, "target": 100.0},
    }


def run(seeds: int, tie_rate: float) -> tuple[list[dict[str, object]], float]:
    rows = []
    started = time.perf_counter()
    for name, sc in scenarios(tie_rate).items():
        for policy, (kind, weights, stop) in POLICIES.items():
            runs: list[TargetRun] = []
            for seed in range(seeds):
                history = sc.get("history")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RankingWarning)
                    runs.append(
                        target_simulate(
                            sc["strength"],  # type: ignore[arg-type]
                            target_width=float(sc["target"]),  # type: ignore[arg-type]
                            policy=kind,
                            scores=weights,
                            stop_confidence=stop,
                            budget=BUDGET,
                            tie_rate=tie_rate,
                            history=history(seed) if callable(history) else None,
                            rng=seed,
                        )
                    )
            votes = [r.battles_to_target for r in runs]
            done = [v for v in votes if v is not None]
            m = len(sc["strength"])  # type: ignore[arg-type]
            rows.append(
                {
                    "scenario": name,
                    "models": m,
                    "target": sc["target"],
                    "policy": policy,
                    "votes": votes,
                    "mean": float(np.mean(done)) if done else float("nan"),
                    "median": float(np.median(done)) if done else float("nan"),
                    "sd": float(np.std(done, ddof=1)) if len(done) > 1 else float("nan"),
                    "not_reached": len(votes) - len(done),
                    "coverage": float(np.mean([r.coverage for r in runs])),
                    "coverage_runs": [r.coverage for r in runs],
                    "settled": sum(r.settled_pairs for r in runs),
                    "wrong": sum(r.settled_wrong for r in runs),
                }
            )
            print(rows[-1], flush=True)
    return rows, time.perf_counter() - started


def render(rows: list[dict[str, object]], seeds: int, tie_rate: float, elapsed: float) -> str:
    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} cores, CPU `{cpu_model()}`, "
        f"Python {platform.python_version()}, "
        f"numpy {np.__version__}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{load:.1f} at the end (2 cores shared with other engineers' tests); {seeds} seeds per "
        f"cell, the same seeds for every policy, all in this one run; {elapsed:.0f} s in all.",
        "",
        "Votes (battles) until every model's 95% profile interval is at most the target width; "
        "refit every 100 battles, so counts are multiples of 100. Budget "
        f"{BUDGET:,} battles; tie rate {tie_rate:g} · 4p(1 - p). 'coverage': share of "
        "(model, seed) whose interval held the "
        "true mean-centred strength at the stop (nominal 95%, after optional stopping; ± 2 se "
        "over the seeds' coverages). "
        "'settled wrong': pairs the rule called settled at 95% that were in the wrong order.",
        "",
        "| scenario | models | target width | policy | mean votes | median | sd | not reached "
        "| / uniform | coverage (± 2 se) | settled wrong / settled |",
        "|:---|---:|---:|:---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by = {(r["scenario"], r["policy"]): r for r in rows}
    for r in rows:
        uni = by[(r["scenario"], "uniform")]
        ratio = f"{float(r['mean']) / float(uni['mean']):.2f}" if r["policy"] != "uniform" else "—"
        cov = np.asarray(r["coverage_runs"], dtype=float)
        se = float(cov.std(ddof=1) / np.sqrt(cov.size)) if cov.size > 1 else float("nan")
        lines.append(
            f"| {r['scenario']} | {r['models']} | {float(r['target']):.0f} | {r['policy']} "  # type: ignore[arg-type]
            f"| {float(r['mean']):,.0f} | {float(r['median']):,.0f} | {float(r['sd']):,.0f} "  # type: ignore[arg-type]
            f"| {r['not_reached']} | {ratio} | {float(r['coverage']):.3f} ± {2 * se:.3f} "  # type: ignore[arg-type]
            f"| {r['wrong']} / {r['settled']} |"
        )
    lines += [
        "",
        "Per-seed votes: "
        + "; ".join(f"{r['scenario']}/{r['policy']}: {r['votes']}" for r in rows)
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--tie-rate", type=float, default=0.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows, elapsed = run(args.seeds, args.tie_rate)
    results_report(
        SECTION, render(rows, args.seeds, args.tie_rate, elapsed), write=not args.no_write
    )


if __name__ == "__main__":
    main()
