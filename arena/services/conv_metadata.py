"""LMArena's ``conv_metadata`` for the answers Ludus generates itself.

A match's two answers get their style counts once, when both are stored (see
:func:`arena.services.matches.match_run`): headers h1..h6, ordered and unordered list items and
``**``/``__`` bold spans counted as FastChat counts them (its ``count_markdown_elements`` after
removing code blocks, :func:`ranking.style.markdown_counts`), and the answer's length in
``cl100k_base`` tokens (:func:`clients.tokens.count_tokens`, the tokenizer FastChat uses for
LMArena's ``sum_assistant_*_tokens``). The counts are of the text a voter is shown: a simulated
answer's hidden quality marker is removed first. Every Battle written from the match (the judged
result, each human vote) carries a copy.
"""

from __future__ import annotations

from typing import Any

from arena.models import Generation
from clients import SIM_MARKER
from clients.tokens import TOKENIZER, count_tokens
from ranking.style import conv_metadata_from_answers

__all__ = ["TOKENIZER", "conv_metadata_for_answers", "match_conv_metadata"]


def _shown(text: str) -> str:
    return SIM_MARKER.sub("", text).rstrip()


def conv_metadata_for_answers(*, answer_a: str, answer_b: str) -> dict[str, Any]:
    """The ``conv_metadata`` of two answers as shown (side a, side b)."""
    shown_a, shown_b = _shown(answer_a), _shown(answer_b)
    return conv_metadata_from_answers(
        answer_a=shown_a,
        answer_b=shown_b,
        tokens_a=count_tokens(shown_a),
        tokens_b=count_tokens(shown_b),
    )


def match_conv_metadata(*, match_id: int) -> dict[str, Any] | None:
    """The ``conv_metadata`` of a match's stored answers; ``None`` until both are stored."""
    texts = dict(Generation.objects.filter(match_id=match_id).values_list("side", "text"))
    if "a" not in texts or "b" not in texts:
        return None
    return conv_metadata_for_answers(answer_a=texts["a"], answer_b=texts["b"])
