"""Competitors and judges that need no network, so every pipeline runs offline.

A simulated competitor's hidden strength, plus deterministic per-prompt noise, sets the
quality of an answer; the answer's length and a trailing ``[sim quality=...]`` marker reflect
it, and its markdown (headers, lists, bold) leans to the competitor's style. The simulated judge
reads those markers and decides by a noisy Bradley-Terry draw, with a configurable bias towards
the answer shown first, like an LLM judge would from the text alone.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clients.http import Completion, completion_cost
from clients.judges import fenced
from clients.pipelines import JudgeSpec
from clients.tokens import estimate_tokens

__all__ = [
    "SIM_MARKER",
    "SimAnswer",
    "sim_quality",
    "sim_seed",
    "simulated_answer",
    "simulated_judge_completion",
    "simulated_judge_reply",
]


SIM_MARKER = re.compile(r"\[sim quality=(-?\d+(?:\.\d+)?)\]")

_STYLE_OPENERS = {
    "thorough": "Let me work through this carefully.",
    "concise": "Short answer:",
    "friendly": "Great question! Happy to help.",
    "verbose": "There is a lot to say about this, so let us take it step by step.",
    "terse": "Answer:",
}
_POINTS = (
    "the key idea is to state the problem precisely before solving it",
    "a worked example makes the reasoning concrete",
    "edge cases such as empty or very large inputs need care",
    "the approach is checked against a simple known case",
    "the trade-offs between the alternatives are weighed explicitly",
    "the assumptions are stated so the reader can verify them",
    "the result is summarised in one clear sentence",
    "common mistakes are pointed out and avoided",
    "the answer cites the relevant definition",
    "a short justification shows why the method is correct",
    "complexity and cost are estimated",
    "the final answer is double-checked",
)


@dataclass(frozen=True)
class SimAnswer:
    """A simulated competitor's answer and its hidden quality (Elo points)."""

    text: str
    quality: float
    prompt_tokens: int
    completion_tokens: int


def sim_seed(*parts: object) -> int:
    """A stable 64-bit seed from any parts (same parts, same seed, in every process)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def simulated_answer(
    *, name: str, strength: float, style: str, seed: int, prompt: str, noise: float = 25.0
) -> SimAnswer:
    """A deterministic answer whose quality is ``strength`` plus per-prompt noise.

    Parameters
    ----------
    name, style : str
        Competitor name and answer style (``thorough``, ``concise``, ...).
    strength : float
        Hidden Bradley-Terry strength on the Elo scale.
    seed : int
        The competitor's seed; with the prompt it fixes the answer.
    prompt : str
        The prompt text.
    noise : float, default 25
        Standard deviation (Elo points) of the per-prompt quality variation.
    """
    rng = np.random.default_rng(sim_seed("answer", seed, prompt))
    quality = float(strength + noise * rng.standard_normal()) if noise > 0 else float(strength)
    n_points = int(np.clip(round((quality - 760.0) / 45.0), 1, len(_POINTS)))
    chosen = rng.choice(len(_POINTS), size=n_points, replace=False)
    topic = " ".join(prompt.split()[:8]).rstrip("?.!:")
    opener = _STYLE_OPENERS.get(style, "Here is my answer.")
    points = [_POINTS[int(i)].capitalize() + "." for i in chosen]
    layout = _pick_layout(style, float(rng.random()))
    text = f"{_layout(layout, opener, topic, points)}\n[sim quality={quality:.1f}]"
    return SimAnswer(
        text=text,
        quality=quality,
        prompt_tokens=estimate_tokens(prompt),
        completion_tokens=estimate_tokens(text),
    )


#: How often each style lays an answer out as ``outline`` (a header and a numbered list),
#: ``bullets`` (a bullet list with bold leads), ``bold`` (a paragraph, first point in bold) or
#: ``plain`` (one paragraph): a style leans to a layout but varies by prompt, so style differences
#: are not fixed per model (style control could not tell them from the models otherwise).
LAYOUT_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "thorough": (("outline", 0.6), ("bullets", 0.2), ("plain", 0.2)),
    "verbose": (("bullets", 0.6), ("outline", 0.2), ("bold", 0.2)),
    "friendly": (("bold", 0.6), ("plain", 0.3), ("bullets", 0.1)),
    "concise": (("plain", 0.8), ("bold", 0.2)),
    "terse": (("plain", 0.9), ("outline", 0.1)),
}


def _pick_layout(style: str, u: float) -> str:
    for layout, share in LAYOUT_MIX.get(style, (("plain", 1.0),)):
        if u < share:
            return layout
        u -= share
    return "plain"


def _layout(layout: str, opener: str, topic: str, points: list[str]) -> str:
    """The answer's markdown: what style control measures (headers, lists, bold)."""
    if layout == "outline":
        items = "\n".join(f"{k + 1}. {p}" for k, p in enumerate(points))
        return f"## {topic}\n\n{opener}\n\n{items}"
    if layout == "bullets":
        items = "\n".join(f"- **Point {k + 1}.** {p}" for k, p in enumerate(points))
        return f"{opener} On \u201c{topic}\u201d:\n\n{items}"
    if layout == "bold":
        first, *rest = points
        return f"{opener} On \u201c{topic}\u201d: **{first}** {' '.join(rest)}".rstrip()
    body = " ".join(f"{k + 1}. {p}" for k, p in enumerate(points))
    return f"{opener} On \u201c{topic}\u201d: {body}"


def sim_quality(text: str) -> float | None:
    """The quality marker of a simulated answer (the last one), or ``None``."""
    found = SIM_MARKER.findall(text)
    return float(found[-1]) if found else None


def simulated_judge_reply(
    messages: Sequence[dict[str, str]],
    *,
    judge: JudgeSpec,
    slot_key: str,
    require_confidence: bool = False,
) -> str:
    """What a simulated judge answers, deterministic for the same messages and ``slot_key``.

    The answers' hidden qualities ``q1, q2`` (Elo points, read from their markers) give
    ``d = q1 - q2 + position_bias + noise * N(0, 1)`` and ``p = 1 / (1 + 10^(-d / 400))``;
    a tie is drawn with probability ``tie_rate * 4 p (1 - p)``, otherwise Answer 1 wins
    with probability ``p``; a clear win (``p`` beyond 0.8 or 0.2) is ``>>``. A reviewer
    (the messages contain a first judge's output) decides independently the same way.
    """
    first, second = fenced(messages, "ANSWER 1"), fenced(messages, "ANSWER 2")
    q1 = sim_quality(first or "")
    q2 = sim_quality(second or "")
    text_blob = "\n".join(m["content"] for m in messages)
    rng = np.random.default_rng(sim_seed("judge", judge.name, judge.seed, slot_key, text_blob))
    if q1 is None or q2 is None:
        # Not simulated answers: compare lengths, a crude but deterministic proxy.
        q1 = 1000.0 + 0.5 * len(first or "")
        q2 = 1000.0 + 0.5 * len(second or "")
    d = q1 - q2 + judge.position_bias + judge.noise * float(rng.standard_normal())
    p = 1.0 / (1.0 + 10.0 ** (-d / 400.0))
    u_tie, u_win = float(rng.random()), float(rng.random())
    if u_tie < judge.tie_rate * 4.0 * p * (1.0 - p):
        verdict = "A=B"
        reason = "Both answers are of similar quality."
    elif u_win < p:
        verdict = "A>>B" if p > 0.8 else "A>B"
        reason = "Answer 1 covers more of what matters and is better justified."
    else:
        verdict = "B>>A" if p < 0.2 else "B>A"
        reason = "Answer 2 covers more of what matters and is better justified."
    conf = f"Confidence: {max(p, 1.0 - p):.2f}\n" if require_confidence else ""
    return f"{reason}\n{conf}[[{verdict}]]"


def simulated_judge_completion(
    messages: Sequence[dict[str, str]],
    *,
    judge: JudgeSpec,
    slot_key: str,
    require_confidence: bool = False,
) -> Completion:
    """:func:`simulated_judge_reply` with its usage, as the chat client reports a call's.

    Tokens are estimated (:func:`clients.tokens.estimate_tokens`) over the messages and the
    reply; the cost follows the judge spec's prices (0 unless the spec sets them).
    """
    started = time.perf_counter()
    text = simulated_judge_reply(
        messages, judge=judge, slot_key=slot_key, require_confidence=require_confidence
    )
    prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
    completion_tokens = estimate_tokens(text)
    per_1k_in, per_1k_out = judge.prices_per_1k
    return Completion(
        text=text,
        latency_ms=int((time.perf_counter() - started) * 1000),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=completion_cost(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            price_prompt_per_1k=per_1k_in,
            price_completion_per_1k=per_1k_out,
        ),
    )
