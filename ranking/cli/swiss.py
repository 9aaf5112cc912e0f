"""``swiss pair TRF`` and ``swiss standings TRF``: Swiss pairing and tie-break standings."""

from __future__ import annotations

import argparse

from ranking.cli._output import Output
from ranking.swiss import pair_round
from ranking.tiebreaks import parse_tiebreaks, standings
from ranking.trf import read_trf


def _pair(args: argparse.Namespace) -> Output:
    trf = read_trf(args.trf)
    pairing = pair_round(trf.state, system=args.system, rng=args.seed)
    rows = [{"first": a, "second": b} for a, b in pairing.pairs]
    if pairing.bye is not None:
        rows.append({"first": pairing.bye, "second": 0})
    document = {
        "system": args.system,
        "round": trf.state.played_rounds + 1,
        "pairs": [[a, b] for a, b in pairing.pairs],
        "bye": pairing.bye,
    }
    return Output(document=document, rows=rows, columns=["first", "second"], text=pairing.to_text())


def _standings(args: argparse.Namespace) -> Output:
    trf = read_trf(args.trf)
    codes = parse_tiebreaks(args.tiebreaks)
    table = standings(trf.state, tiebreaks=codes)
    rows = []
    for row in table:
        flat: dict[str, object] = {
            "rank": row.rank,
            "player": row.player,
            "name": row.name,
            "points": row.points,
        }
        flat.update(row.tiebreaks)
        rows.append(flat)
    document = {
        "tiebreaks": list(codes),
        "rounds": trf.state.played_rounds,
        "standings": [row.to_json() for row in table],
    }
    return Output(
        document=document, rows=rows, columns=["rank", "player", "name", "points", *codes]
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``swiss`` subcommand and its ``pair`` / ``standings`` actions."""
    from ranking.cli import add_output_option

    parser = subparsers.add_parser(
        "swiss", help="Swiss pairing (FIDE Dutch or random) and standings"
    )
    actions = parser.add_subparsers(dest="swiss_command", required=True, parser_class=type(parser))
    pair = actions.add_parser(
        "pair", help="pair the next round of a TRF-16 file (bbpPairings output)"
    )
    pair.add_argument("trf", help="TRF-16 file")
    pair.add_argument("--system", choices=("dutch", "random"), default="dutch")
    pair.add_argument(
        "--seed", type=int, default=None, help="seed for --system random (dutch is deterministic)"
    )
    add_output_option(pair)
    pair.set_defaults(handler=_pair)
    stand = actions.add_parser("standings", help="standings with FIDE tie-breaks")
    stand.add_argument("trf", help="TRF-16 file")
    stand.add_argument(
        "--tiebreaks",
        default="BH,BH-C1,SB",
        help="comma-separated FIDE codes: BH, BH-C1, SB, DE, WIN, WON, ARO",
    )
    add_output_option(stand)
    stand.set_defaults(handler=_standings)
