"""Tournament formats, one module each, behind one protocol (:class:`TournamentFormat`).

Importing this package imports every format module in it, and each registers its kinds;
:func:`format_get` returns one by kind. A new format is a new module here (its pure rules go
to :mod:`ranking`).
"""

from __future__ import annotations

import importlib
import pkgutil

from arena.formats.base import (
    Remaining,
    RoundPairing,
    TournamentFormat,
    format_choices,
    format_get,
    format_kinds,
    format_label,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "Remaining",
    "RoundPairing",
    "TournamentFormat",
    "format_choices",
    "format_get",
    "format_kinds",
    "format_label",
]
