"""Narrow error types raised by the ranking library.

Every error a user can provoke with bad input subclasses :class:`RankingError` and
``ValueError``, so callers can catch either; the CLI turns them into a one-line message
and a non-zero exit.
"""

from __future__ import annotations


class RankingError(Exception):
    """Base class of every error raised on purpose by :mod:`ranking`."""


class InputError(RankingError, ValueError):
    """Bad input: a malformed file, an unknown name, an out-of-range parameter."""


class BattleFileError(InputError):
    """A battle file could not be read; ``errors`` holds ``(line, message)`` pairs."""

    def __init__(self, message: str, errors: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[tuple[int, str]] = list(errors or [])


class ConvergenceError(RankingError, RuntimeError):
    """An iterative solver did not converge within its iteration budget."""


class PairingError(RankingError, RuntimeError):
    """No legal pairing exists for the requested round."""


class RankingWarning(UserWarning):
    """A result is computed but needs care.

    A disconnected comparison graph, ratings that maximum likelihood leaves unbounded,
    and the like.
    """
