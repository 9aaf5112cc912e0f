"""``python -m ranking plan --delta D``: battles needed to separate two models D points apart."""

from __future__ import annotations

import argparse
from typing import Any

from ranking.cli._output import Output
from ranking.power import TIES, battles_to_separate

METHOD = (
    "normal approximation of the two-sided Wald test on the Bradley-Terry log-odds difference: "
    "n = (z_(1-alpha/2) + z_power)^2 * v / d^2"
)


def handle(args: argparse.Namespace) -> Output:
    """Plan the battles for each ``--delta``: one row each."""
    rows: list[dict[str, Any]] = []
    for delta in args.delta:
        plan = battles_to_separate(
            delta,
            confidence=args.confidence,
            power=args.power,
            ties=args.ties,
            tie_rate=args.tie_rate,
            scale=args.scale,
            base=args.base,
        )
        rows.append(
            {
                "delta": plan.delta,
                "p": plan.p,
                "battles": plan.battles,
                "decisive": plan.decisive,
                "achieved_power": plan.achieved_power,
                "n_exact": plan.n_exact,
            }
        )
    doc = {
        "method": METHOD,
        "params": {
            "confidence": args.confidence,
            "power": args.power,
            "ties": args.ties,
            "tie_rate": args.tie_rate,
            "scale": args.scale,
            "base": args.base,
        },
        "plans": rows,
    }
    columns = ["delta", "p", "battles", "achieved_power"]
    if args.ties == "exclude":
        columns.insert(3, "decisive")
    return Output(document=doc, rows=rows, columns=columns)


def register(subparsers: Any) -> None:
    """Add the ``plan`` subcommand."""
    from ranking.cli import add_logistic_options, add_output_option

    parser = subparsers.add_parser(
        "plan",
        help="battles needed to separate two models delta points apart",
        description="How many battles between two models DELTA rating points apart make the "
        "CONFIDENCE interval of their Bradley-Terry difference exclude 0 with probability "
        "POWER (normal approximation; ties counted as half a win each, or excluded).",
    )
    parser.add_argument(
        "--delta",
        type=float,
        nargs="+",
        required=True,
        help="rating difference(s) on the board's scale (one row each)",
    )
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--power", type=float, default=0.8)
    parser.add_argument(
        "--ties",
        choices=TIES,
        default="half",
        help="half: a tie is half a win for each side (as the bt boards); exclude: ties carry "
        "no information and only add battles",
    )
    parser.add_argument("--tie-rate", type=float, default=0.0, help="expected share of ties")
    add_logistic_options(parser)
    add_output_option(parser)
    parser.set_defaults(handler=handle)
