"""FIDE Tournament Report File (TRF-16) reading and writing.

Player lines (``001``) use the fixed columns of TRF-16: pairing number in columns 5-8,
name 15-47, rating 49-52, points 81-84, rank 86-89, and one 10-column block per round
from column 92 (opponent in 4 columns or ``0000``, colour ``w``/``b``/``-``/blank,
result code). The bbpPairings extensions are understood: ``XXR n`` (number of rounds),
``XXC white1|black1`` (colour of the first player in round 1), ``XXS KEY=points ...``
(point system: ``W D L FW FL PAB FPB HPB ZPB``, and the per-colour ``WW BW WD BD WL BL``
when both colours score alike) and ``XXZ n n ...`` (players absent from the next round).
Other lines (``012`` tournament name and the like) are kept verbatim for the round trip.

References
----------
FIDE TRF-16 specification; bbpPairings ``src/fileformats/trf.cpp``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ranking.errors import InputError
from ranking.swiss import RESULT_CODES, RoundResult, Scoring, SwissPlayer, SwissState

_XXS_KEYS = {
    "W": ("win",),
    "WW": ("win",),
    "BW": ("win",),
    "D": ("draw",),
    "WD": ("draw",),
    "BD": ("draw",),
    "L": ("loss",),
    "WL": ("loss",),
    "BL": ("loss",),
    "FW": ("forfeit_win",),
    "FL": ("forfeit_loss",),
    "PAB": ("pab",),
    "FPB": ("fpb",),
    "HPB": ("hpb",),
    "ZPB": ("zpb",),
}


@dataclass(frozen=True)
class TrfFile:
    """A parsed TRF: the Swiss state plus the lines Ludus does not interpret.

    ``extra`` holds ``(line_number, text)`` of the other lines; ``details`` maps a pairing
    number to the raw sex/title/federation/FIDE id/birth fields so writing reproduces them.
    """

    state: SwissState
    extra: tuple[tuple[int, str], ...] = ()
    details: dict[int, tuple[str, str, str, str, str]] = field(default_factory=dict)


def _tenths(text: str, where: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: expected a number, got {text.strip()!r}") from None
    if value < 0 or abs(value * 10 - round(value * 10)) > 1e-9:
        raise InputError(f"{where}: points must be non-negative with one decimal; got {text!r}")
    return int(round(value * 10))


def _parse_player(line: str, ln: int) -> tuple[SwissPlayer, tuple[str, str, str, str, str]]:
    if len(line) < 84:
        raise InputError(f"line {ln}: a 001 player line needs at least 84 columns, got {len(line)}")
    num_text = line[4:8].strip()
    if not num_text.isdigit() or int(num_text) == 0:
        raise InputError(
            f"line {ln}: pairing number (columns 5-8) must be a positive integer; got {line[4:8]!r}"
        )
    number = int(num_text)
    rating_text = line[48:52].strip()
    if rating_text and not rating_text.isdigit():
        raise InputError(
            f"line {ln}: rating (columns 49-52) must be an integer; got {rating_text!r}"
        )
    points = line[80:84].strip()
    if points:
        _tenths(points, f"line {ln}: points (columns 81-84)")
    results: list[RoundResult] = []
    skipped = 0
    start = 91
    while start < len(line):
        block = line[start : start + 8].ljust(8)
        col = start + 1
        if line[start - 2 : start].strip():
            raise InputError(f"line {ln}: columns {col - 2}-{col - 1} must be blank")
        opp_text, color, code = block[0:4], block[5], block[7]
        if block[4] != " " or block[6] != " ":
            raise InputError(f"line {ln}: round block at column {col} is misaligned")
        if code.upper() not in RESULT_CODES:
            raise InputError(
                f"line {ln}: result code at column {col + 7} must be one of "
                f"1 0 = + - W D L H F U Z; got {code!r}"
            )
        code = code.upper()
        if color not in "wb- ":
            raise InputError(
                f"line {ln}: colour at column {col + 5} must be w, b, - or blank; got {color!r}"
            )
        opponent: int | None = None
        if opp_text.strip() and opp_text != "0000":
            if not opp_text.strip().isdigit():
                raise InputError(
                    f"line {ln}: opponent at column {col} must be a pairing number; "
                    f"got {opp_text!r}"
                )
            opponent = int(opp_text)
            if opponent == number:
                raise InputError(f"line {ln}: player {number} cannot play itself")
        if opponent is None and color in "wb":
            raise InputError(f"line {ln}: a colour without an opponent at column {col + 5}")
        if opponent is not None and code in "UFHZ ":
            raise InputError(
                f"line {ln}: result {code!r} at column {col + 7} cannot have an opponent"
            )
        if opponent is not None and code in "10=WDL" and color not in "wb":
            raise InputError(f"line {ln}: a played game needs colour w or b at column {col + 5}")
        if opponent is None and code in "10WDL":
            raise InputError(f"line {ln}: a played result needs an opponent at column {col}")
        blank = not opp_text.strip() and color == " " and code == " "
        if blank:
            skipped += 1
        else:
            results.extend([RoundResult(None, None, " ")] * skipped)
            skipped = 0
            results.append(RoundResult(opponent, color if color in "wb" else None, code))
        start += 10
    details = (line[9:10], line[10:13], line[53:56], line[57:68], line[69:79])
    player = SwissPlayer(
        number=number,
        rating=int(rating_text or 0),
        name=line[14:47].strip(),
        results=tuple(results),
    )
    return player, details


def parse_trf(text: str) -> TrfFile:
    """Parse TRF-16 text.

    Raises
    ------
    InputError
        With the line number of the first malformed line.
    """
    players: list[SwissPlayer] = []
    details: dict[int, tuple[str, str, str, str, str]] = {}
    extra: list[tuple[int, str]] = []
    total_rounds: int | None = None
    initial = "w"
    absent: set[int] = set()
    scoring_kwargs: dict[str, int] = {}
    for ln, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        tag = line[:3]
        if tag == "001":
            player, det = _parse_player(line, ln)
            if player.number in details:
                raise InputError(f"line {ln}: pairing number {player.number} is repeated")
            players.append(player)
            details[player.number] = det
        elif tag == "XXR":
            value = line[3:].strip()
            if not value.isdigit() or int(value) == 0:
                raise InputError(f"line {ln}: XXR needs a positive number of rounds; got {value!r}")
            total_rounds = int(value)
        elif tag == "XXC":
            words = line[3:].split()
            for word in words:
                if word.lower() == "white1":
                    initial = "w"
                elif word.lower() == "black1":
                    initial = "b"
                elif word.lower() != "rank":
                    raise InputError(f"line {ln}: XXC accepts white1, black1 or rank; got {word!r}")
        elif tag == "XXS":
            for word in line[3:].split():
                key, sep, value = word.partition("=")
                if not sep or key.upper() not in _XXS_KEYS:
                    raise InputError(
                        f"line {ln}: XXS entries look like KEY=points with KEY in "
                        f"{', '.join(_XXS_KEYS)}; got {word!r}"
                    )
                pts = _tenths(value, f"line {ln}: XXS {key}")
                for attr in _XXS_KEYS[key.upper()]:
                    if attr in scoring_kwargs and scoring_kwargs[attr] != pts:
                        raise InputError(
                            f"line {ln}: XXS gives {attr} two different values "
                            "(colour-dependent points are not supported)"
                        )
                    scoring_kwargs[attr] = pts
        elif tag == "XXZ":
            for word in line[3:].split():
                if not word.isdigit() or int(word) == 0:
                    raise InputError(f"line {ln}: XXZ lists pairing numbers; got {word!r}")
                absent.add(int(word))
        else:
            extra.append((ln, line))
    if not players:
        raise InputError("TRF: no 001 player lines found")
    numbers = {p.number for p in players}
    for p in players:
        for r, res in enumerate(p.results):
            if res.opponent is not None and res.opponent not in numbers:
                raise InputError(
                    f"player {p.number}, round {r + 1}: opponent {res.opponent} has no 001 line"
                )
    win = scoring_kwargs.get("win", 10)
    draw = scoring_kwargs.get("draw", 5)
    defaults = {"forfeit_win": win, "pab": win, "fpb": win, "hpb": draw}
    for k, v in defaults.items():
        scoring_kwargs.setdefault(k, v)
    scoring = Scoring(**scoring_kwargs)
    players.sort(key=lambda p: p.number)
    state = SwissState(
        players=tuple(players),
        total_rounds=total_rounds,
        scoring=scoring,
        initial_color=initial,
        absent=frozenset(absent),
    )
    return TrfFile(state=state, extra=tuple(extra), details=details)


def read_trf(path: str | Path) -> TrfFile:
    """Read a TRF-16 file (UTF-8, Latin-1 fallback)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_trf(text)


def _fmt_points(tenths: int) -> str:
    return f"{tenths / 10:4.1f}"


def write_trf(trf: TrfFile | SwissState) -> str:
    """TRF-16 text for a state (with its extension lines) or a parsed file."""
    if isinstance(trf, SwissState):
        trf = TrfFile(state=trf)
    state = trf.state
    n_rounds = max((len(p.results) for p in state.players), default=0)
    from ranking.tiebreaks import standings  # local: tiebreaks imports swiss too

    table = standings(state, tiebreaks=())
    rank = {row.player: row.rank for row in table}
    lines = [text for _, text in trf.extra]
    if not any(text.startswith("012") for text in lines):
        lines.insert(0, "012 Ludus Swiss tournament")
    for p in state.players:
        sex, title, fed, fide, birth = trf.details.get(
            p.number, (" ", "   ", "   ", " " * 11, " " * 10)
        )
        points = sum(state.scoring.points(r.code) for r in p.results)
        head = (
            f"001 {p.number:4d} {sex:1.1}{title:>3.3} {p.name[:33]:<33} "
            f"{(str(p.rating) if p.rating else ''):>4} {fed:>3.3} {fide:>11.11} {birth:>10.10} "
            f"{_fmt_points(points)} {rank.get(p.number, 0):4d}"
        )
        blocks = []
        for r in range(n_rounds):
            res = p.results[r] if r < len(p.results) else RoundResult(None, None, " ")
            opp = (
                f"{res.opponent:4d}"
                if res.opponent is not None
                else ("0000" if res.code != " " else "    ")
            )
            color = res.color or ("-" if res.code != " " else " ")
            blocks.append(f"  {opp} {color} {res.code}")
        lines.append((head + "".join(blocks)).rstrip())
    if state.total_rounds is not None:
        lines.append(f"XXR {state.total_rounds}")
    if state.initial_color == "b":
        lines.append("XXC black1")
    sc = state.scoring
    if sc != Scoring():
        keys = {
            "W": sc.win,
            "D": sc.draw,
            "L": sc.loss,
            "FW": sc.forfeit_win,
            "FL": sc.forfeit_loss,
            "PAB": sc.pab,
            "FPB": sc.fpb,
            "HPB": sc.hpb,
            "ZPB": sc.zpb,
        }
        lines.append("XXS " + " ".join(f"{k}={v / 10:.1f}" for k, v in keys.items()))
    if state.absent:
        lines.append("XXZ " + " ".join(str(n) for n in sorted(state.absent)))
    return "\n".join(lines) + "\n"


__all__ = ["TrfFile", "parse_trf", "read_trf", "write_trf"]
