"""``python -m ranking rate INPUT --method elo|bt|openskill|winrate [--style-control]``.

K-wise records (:mod:`ranking.kwise`) in the file are rated with the battles: ``bt`` and
``winrate`` on their implied pairs (each weighted ``1/(K-1)``, so ``n_battles`` counts a vote
as K/2 battles), ``openskill`` as free-for-all games (one ``rate`` call per vote); ``elo`` and
``--style-control`` refuse them.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import replace
from typing import Any

from ranking._validation import parse_anchor
from ranking.battle_files import FORMATS, ReadResult
from ranking.cli import (
    add_battle_file_options,
    add_logistic_options,
    add_output_option,
    read_battle_file,
)
from ranking.cli._output import Output
from ranking.errors import InputError, RankingWarning
from ranking.types import RatingResult

METHODS: tuple[str, ...] = ("elo", "bt", "openskill", "winrate")
OPENSKILL_MODELS: tuple[str, ...] = (
    "plackett-luce",
    "bradley-terry-full",
    "bradley-terry-part",
    "thurstone-mosteller-full",
    "thurstone-mosteller-part",
)
COLUMNS: list[str] = ["model", "rating", "lower", "upper", "rank", "battles", "component"]


def register(subparsers: Any) -> None:
    """Add the ``rate`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rate",
        help="rate models from a battle file",
        description="Rate models from a battle file (JSON Lines, JSON array, battle CSV "
        "or pair-counts CSV; '-' reads standard input).",
    )
    parser.add_argument("input", metavar="INPUT", help="battle file, or - for stdin")
    parser.add_argument("--method", choices=METHODS, default="bt")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="auto",
        help="input format (default: detected from the content)",
    )
    add_battle_file_options(parser)
    add_logistic_options(parser)
    parser.add_argument("--init", type=float, default=1000.0)
    parser.add_argument("--anchor", metavar="MODEL=VALUE", help="shift ratings so MODEL has VALUE")
    parser.add_argument("--k", type=float, default=4.0, help="Elo K (default 4)")
    parser.add_argument(
        "--l2",
        type=float,
        default=None,
        metavar="C",
        help="bt: FastChat's L2-penalised objective with this C",
    )
    parser.add_argument(
        "--ci",
        choices=("none", "sandwich", "bootstrap", "profile"),
        default="none",
        help="bt: none, sandwich, bootstrap or profile (likelihood-ratio intervals that "
        "hold at every battle count; an unbounded side is null); "
        "elo: none or bootstrap",
    )
    parser.add_argument(
        "--reweight",
        choices=("none", "pair_frequency"),
        default="none",
        help="bt: weight battles inversely to their pair's frequency",
    )
    parser.add_argument(
        "--style-control",
        action="store_true",
        help="bt: fit the contextual Bradley-Terry model with LMArena's style features "
        "(length, headers, lists, bold) from each record's conv_metadata; --l2 C sets "
        "FastChat's ridge to 1/C (default 2, its reg 0.5); --ci none, sandwich or bootstrap",
    )
    parser.add_argument("--rounds", type=int, default=100, help="bootstrap rounds")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="interval coverage (bt, elo, openskill, winrate)",
    )
    parser.add_argument(
        "--model", choices=OPENSKILL_MODELS, default="plackett-luce", help="openskill model"
    )
    add_output_option(parser)
    parser.set_defaults(handler=handle)


def _shift(result: RatingResult, model: str, value: float) -> RatingResult:
    """Shift a location-only rating so ``model`` has ``value`` (intervals move along)."""
    if model not in result.models:
        raise InputError(f"anchor model {model!r} does not appear in the battles")
    delta = value - float(result.rating[result.models.index(model)])
    params = dict(result.params, anchor={"model": model, "value": value})
    return replace(
        result,
        params=params,
        rating=result.rating + delta,
        lower=None if result.lower is None else result.lower + delta,
        upper=None if result.upper is None else result.upper + delta,
    )


def _scale_and_interval(
    args: argparse.Namespace, anchor: tuple[str, float] | None
) -> dict[str, Any]:
    """Return the keywords Elo, Bradley-Terry and style control share (scale, interval)."""
    return {
        "scale": args.scale,
        "base": args.base,
        "init": args.init,
        "anchor": anchor,
        "ci": args.ci,
        "rounds": args.rounds,
        "confidence": args.confidence,
        "rng": args.seed,
    }


def _rate_kwise(
    args: argparse.Namespace, read: ReadResult, anchor: tuple[str, float] | None
) -> RatingResult:
    """Rate a file holding K-wise records (and maybe battles)."""
    from ranking.kwise import combine, kwise_openskill

    assert read.kwise is not None
    if args.style_control:
        raise InputError("--style-control does not take K-wise records (they have no sides)")
    if args.method == "elo":
        raise InputError("K-wise records are rated with --method bt, openskill or winrate, not elo")
    battles = read.battles if len(read.battles) else None
    if args.method == "openskill":
        result = kwise_openskill(
            read.kwise, battles=battles, model=args.model, confidence=args.confidence
        )
        result = replace(result, method="openskill", params={**result.params, "kwise": True})
        return result if anchor is None else _shift(result, *anchor)
    return _rate(args, combine(battles, read.kwise), anchor)


def _rate(args: argparse.Namespace, battles: Any, anchor: tuple[str, float] | None) -> RatingResult:
    if args.method == "elo":
        from ranking.elo import elo

        return elo(battles, k=args.k, **_scale_and_interval(args, anchor))
    if args.method == "bt":
        from ranking.bradley_terry import bradley_terry

        return bradley_terry(
            battles, l2=args.l2, reweight=args.reweight, **_scale_and_interval(args, anchor)
        )
    if args.method == "winrate":
        if anchor is not None:
            raise InputError("--anchor does not apply to --method winrate (a win rate)")
        from ranking.winrate import average_win_rate

        return average_win_rate(battles, confidence=args.confidence)
    from ranking.openskill import openskill_rate  # type: ignore[import-not-found]

    result: RatingResult = openskill_rate(battles, model=args.model, confidence=args.confidence)
    return result if anchor is None else _shift(result, *anchor)


def _rate_style(
    args: argparse.Namespace, read: ReadResult, anchor: tuple[str, float] | None
) -> Any:
    if args.method != "bt":
        raise InputError(f"--style-control needs --method bt; got --method {args.method}")
    if args.ci == "profile":
        raise InputError("--style-control takes --ci none, sandwich or bootstrap; got profile")
    if args.reweight != "none":
        raise InputError("--style-control does not take --reweight")
    meta = read.conv_metadata
    n = len(read.battles)
    missing = n if meta is None else int(sum(1 for m in meta if m is None))
    if missing:
        what = "no battle has one" if missing == n else f"{missing} of {n} battles have none"
        raise InputError(
            f"{args.input}: --style-control needs a conv_metadata object on every battle "
            f"record; {what}"
        )
    if args.l2 is not None and not args.l2 > 0:
        raise InputError(f"--l2 must be > 0 with --style-control; got {args.l2}")
    from ranking.style import FASTCHAT_RIDGE, bradley_terry_style

    assert meta is not None
    return bradley_terry_style(
        read.battles,
        list(meta),
        ridge=FASTCHAT_RIDGE if args.l2 is None else 1.0 / args.l2,
        **_scale_and_interval(args, anchor),
    )


def handle(args: argparse.Namespace) -> Output:
    """Read the battles, rate them and return the DESIGN.md document."""
    anchor = parse_anchor(args.anchor) if args.anchor is not None else None
    source: Any = sys.stdin if args.input == "-" else args.input
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RankingWarning)
        read = read_battle_file(source, args, fmt=args.fmt)
        if len(read.battles) == 0 and read.kwise is None:
            raise InputError(f"{args.input}: no battles to rate")
        style = None
        if read.kwise is not None:
            result = _rate_kwise(args, read, anchor)
        else:
            style = _rate_style(args, read, anchor) if args.style_control else None
            result = _rate(args, read.battles, anchor) if style is None else style.ratings
    for item in caught:
        if issubclass(item.category, RankingWarning):
            print(f"warning: {item.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    rows = result.to_rows()
    columns = COLUMNS + [c for c in (rows[0] if rows else {}) if c not in COLUMNS]
    document = result.to_json() if style is None else style.to_json()
    return Output(document=document, rows=rows, columns=columns)
