"""Parameter checks shared by the rating functions.

Each helper raises :class:`ranking.errors.InputError` with a message that names the
parameter and says what was expected, so every public function validates in one place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ranking.errors import InputError

#: Characters no name, label or query value may hold: C0 controls other than tab, line feed
#: and carriage return, DEL, and lone surrogates. PostgreSQL cannot store NUL in text, and a
#: lone surrogate cannot be encoded as UTF-8.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def text_problem(value: str, *, max_length: int | None = None) -> str | None:
    """Return what is wrong with a text value (``None`` when nothing is).

    The one text rule of Ludus: battle-file names and categories, query strings and API
    bodies all go through it, so no layer can store what another refuses.
    """
    bad = FORBIDDEN_CHARACTERS.search(value)
    if bad is not None:
        return (
            f"must not contain control characters; got U+{ord(bad.group()):04X} "
            f"at position {bad.start()}"
        )
    if max_length is not None and len(value) > max_length:
        return f"must have at most {max_length} characters; got {len(value)}"
    return None


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(f"{name} must be finite; got {value!r}")
    return number


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    number = check_finite(name, value)
    if number <= 0:
        raise InputError(f"{name} must be positive; got {value!r}")
    return number


def check_base(value: Any) -> float:
    """Check the logistic base: a finite number > 1."""
    number = check_finite("base", value)
    if number <= 1:
        raise InputError(f"base must be greater than 1; got {value!r}")
    return number


def check_probability(name: str, value: Any) -> float:
    """Check a probability strictly between 0 and 1 (a confidence level, for example)."""
    number = check_finite(name, value)
    if not 0.0 < number < 1.0:
        raise InputError(f"{name} must be strictly between 0 and 1; got {value!r}")
    return number


def check_positive_int(name: str, value: Any) -> int:
    """Check a positive integer (booleans are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def check_anchor(anchor: Any, models: Sequence[str]) -> tuple[str, float] | None:
    """``None`` or a ``(model, value)`` pair naming a model of ``models``."""
    if anchor is None:
        return None
    if not isinstance(anchor, tuple | list) or len(anchor) != 2:
        raise InputError(f"anchor must be a (model, value) pair; got {anchor!r}")
    model, value = anchor
    if model not in models:
        raise InputError(f"anchor model {model!r} does not appear in the battles")
    return str(model), check_finite("anchor value", value)


def parse_anchor(text: str) -> tuple[str, float]:
    """Parse the CLI form ``MODEL=VALUE`` (the model name may itself contain ``=``)."""
    model, sep, value = text.rpartition("=")
    if not sep or not model:
        raise InputError(f"--anchor must look like MODEL=VALUE; got {text!r}")
    return model, check_finite("--anchor value", value)


def as_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Turn a seed, a generator or ``None`` into a :class:`numpy.random.Generator`."""
    if isinstance(rng, bool):
        raise InputError(f"rng must be an integer seed, a numpy Generator or None; got {rng!r}")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise InputError(
            f"rng must be an integer seed, a numpy Generator or None; got {rng!r}"
        ) from None


def seed_param(rng: int | np.random.Generator | None) -> int | None:
    """Return the seed to report in a result's ``params``: ``rng`` if it is an integer seed.

    A generator or ``None`` cannot be replayed from the params, so they report ``None``.
    """
    return rng if isinstance(rng, int) and not isinstance(rng, bool) else None
