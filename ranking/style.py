r"""Style control: the contextual Bradley-Terry model with LMArena's four style features.

A battle's outcome is modelled as

.. math:: P(a \text{ beats } b) = \sigma(\ln(\text{base})\,(r_a - r_b) + x^\top\beta)

where :math:`x` holds four style differences between the two answers (length, markdown
headers, lists, bold) and :math:`\beta` their coefficients, so :math:`r` is what is left of
a model's strength once style is accounted for. The features are built exactly as FastChat
builds them for LMArena's style-controlled board [1]_: for each element the difference
``a - b`` divided by ``a + b + 1`` (every element is a ratio), then standardised over the
battles (mean 0, population standard deviation 1). A count given per kind (``h1``..``h6``,
ordered/unordered, ``**``/``__``) is summed first, as FastChat does.

The fit minimises FastChat's objective [1]_

.. math:: \sum_i w_i\,\ell_i(\theta) + \tfrac{\lambda}{2}\lVert\theta\rVert^2

with :math:`\ell_i` the cross-entropy of battle ``i`` (a tie is the label ½), and
:math:`\theta = (r, \beta)`; FastChat's ``reg`` is :math:`\lambda = 0.5`. With
``ratings_ridge=False`` only :math:`\beta` is penalised and each connected component's
ratings are centred instead, which is arena-rank's ``ContextualBradleyTerry`` objective [2]_
(its mean loss with ``reg`` :math:`\rho` is this one with :math:`\lambda = N\rho`). The
optimum is found by Newton's method with a backtracking line search (the objective is convex;
a handful of steps reach machine precision).

Intervals: ``"sandwich"`` is the robust covariance :math:`H^{-1} G H^{-1}` of the
M-estimator (:math:`H` the Hessian of the objective, :math:`G` the centred covariance of the
per-battle scores, as in arena-rank); ``"bootstrap"`` refits on battles resampled with
replacement and takes percentile intervals. Both cover ratings and coefficients.

References
----------
.. [1] lm-sys/FastChat, ``fastchat/serve/monitor/rating_systems.py``
   (``preprocess_for_style``, ``fit_contextual_bt``, ``compute_style_control``) and
   ``fastchat/serve/monitor/add_markdown_info.py`` (``count_markdown_elements``).
.. [2] lmarena/arena-rank, ``arena_rank/models/contextual_bradley_terry.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from scipy.stats import norm

from ranking._bootstrap import percentile_interval
from ranking._validation import (
    as_rng,
    check_anchor,
    check_base,
    check_choice,
    check_finite,
    check_positive,
    check_positive_int,
    check_probability,
    seed_param,
)
from ranking.battle_files import conv_metadata_problem
from ranking.battles import Battles, components
from ranking.errors import ConvergenceError, InputError
from ranking.types import A_WINS, B_WINS, RatingResult

#: The style features, in the order of :attr:`StyleResult.coefficients`.
STYLE_FEATURES: tuple[str, ...] = ("length", "header", "list", "bold")
#: FastChat's ``STYLE_CONTROL_ELEMENTS_V1``: side a's four counts, then side b's.
STYLE_ELEMENTS: tuple[str, ...] = (
    "sum_assistant_a_tokens",
    "header_count_a",
    "list_count_a",
    "bold_count_a",
    "sum_assistant_b_tokens",
    "header_count_b",
    "list_count_b",
    "bold_count_b",
)
#: FastChat's ``reg`` for its style-controlled board.
FASTCHAT_RIDGE = 0.5
CI_METHODS: tuple[str, ...] = ("none", "sandwich", "bootstrap")
BREADS: tuple[str, ...] = ("penalised", "likelihood")
_MAX_ITER = 100
_GRAD_TOL = 1e-10


@dataclass(frozen=True)
class StyleResult:
    """A style-controlled Bradley-Terry fit.

    Attributes
    ----------
    ratings : RatingResult
        Style-controlled ratings (``method`` ``"bt-style"``) with their intervals.
    features : tuple of str
        :data:`STYLE_FEATURES`.
    coefficients : ndarray of float64
        Log-odds of side a winning per standard deviation of each style difference.
    lower, upper : ndarray of float64 or None
        Interval bounds of the coefficients (``None`` without an interval).
    feature_mean, feature_std : ndarray of float64
        The standardisation applied to the ratio differences (FastChat's ``style_mean`` and
        ``style_std``), so a coefficient can be read per raw ratio unit.
    """

    ratings: RatingResult
    features: tuple[str, ...]
    coefficients: NDArray[np.float64]
    lower: NDArray[np.float64] | None
    upper: NDArray[np.float64] | None
    feature_mean: NDArray[np.float64]
    feature_std: NDArray[np.float64]

    def style_json(self) -> dict[str, Any]:
        """Return the ``"style"`` member of the CLI's JSON document."""
        return {
            "features": list(self.features),
            "coefficients": [float(c) for c in self.coefficients],
            "lower": None if self.lower is None else [float(c) for c in self.lower],
            "upper": None if self.upper is None else [float(c) for c in self.upper],
            "feature_mean": [float(c) for c in self.feature_mean],
            "feature_std": [float(c) for c in self.feature_std],
        }

    def to_json(self) -> dict[str, Any]:
        """Return the ratings document with the ``"style"`` member added."""
        document = self.ratings.to_json()
        document["style"] = self.style_json()
        return document


def style_counts(conv_metadata: Sequence[Mapping[str, Any] | None]) -> NDArray[np.float64]:
    """Return the eight raw counts of :data:`STYLE_ELEMENTS` for each battle, shape ``(n, 8)``.

    A count given as an object is summed over its kinds (FastChat's
    ``extract_style_feature``).

    Raises
    ------
    InputError
        A battle has no ``conv_metadata`` or a malformed one; the message names the battle.
    """
    n = len(conv_metadata)
    width = len(STYLE_ELEMENTS)
    rows: list[list[float]] = []
    for i, meta in enumerate(conv_metadata):
        if meta is None:
            missing = sum(1 for m in conv_metadata if m is None)
            more = f" (and {missing - 1} more of {n})" if missing > 1 else ""
            raise InputError(
                f"style control needs conv_metadata on every battle; battle {i + 1}{more} has none"
            )
        try:
            rows.append([_total(meta[key]) for key in STYLE_ELEMENTS])
        except (KeyError, TypeError, ValueError, AttributeError):
            rows.append([math.nan] * width)
    out = np.array(rows, dtype=np.float64).reshape(n, width)
    bad = ~np.isfinite(out).all(axis=1) | (out < 0).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        meta = conv_metadata[i]
        problem = conv_metadata_problem(meta) or "conv_metadata holds a count that is not valid"
        raise InputError(f"battle {i + 1}: {problem}")
    return out


def _total(value: Any) -> float:
    """Return a count, or the sum of its kinds (FastChat's ``extract_style_feature``)."""
    if type(value) is int:
        return value
    if type(value) is dict and all(type(v) is int for v in value.values()):
        return sum(value.values())
    return math.nan


def style_features(
    counts: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """FastChat's style features from the raw counts (``preprocess_for_style``).

    Parameters
    ----------
    counts : ndarray, shape (n, 8)
        As returned by :func:`style_counts`.

    Returns
    -------
    features : ndarray, shape (n, 4)
        ``(a - b) / (a + b + 1)`` per element, standardised over the battles.
    mean, std : ndarray, shape (4,)
        The standardisation. A feature that is constant over the battles (FastChat would
        divide by zero) keeps a standard deviation of 1, so its column is zero.
    """
    counts = np.asarray(counts, dtype=np.float64)
    k = len(STYLE_FEATURES)
    if counts.ndim != 2 or counts.shape[1] != 2 * k:
        raise InputError(f"style_features: counts must have shape (n, {2 * k})")
    diff = counts[:, :k] - counts[:, k:]
    ratio = diff / (counts[:, :k] + counts[:, k:] + 1.0)
    mean = ratio.mean(axis=0) if len(ratio) else np.zeros(k)
    std = ratio.std(axis=0) if len(ratio) else np.ones(k)
    std = np.where(std > 0, std, 1.0)
    return (ratio - mean) / std, mean, std


@dataclass
class _Problem:
    """Battle arrays of one fit (``y`` is side a's score: 1, ½ or 0)."""

    n_models: int
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    y: NDArray[np.float64]
    w: NDArray[np.float64]
    x: NDArray[np.float64]
    alpha: float
    ridge: float
    ratings_ridge: bool
    groups: NDArray[np.int64]  # component of each model (gauge when ratings are free)

    def take(self, idx: NDArray[np.int64]) -> _Problem:
        return _Problem(
            self.n_models,
            self.a[idx],
            self.b[idx],
            self.y[idx],
            self.w[idx],
            self.x[idx],
            self.alpha,
            self.ridge,
            self.ratings_ridge,
            self.groups,
        )

    def penalty(self) -> NDArray[np.float64]:
        k = self.x.shape[1]
        rr = self.ridge if self.ratings_ridge else 0.0
        return np.concatenate([np.full(self.n_models, rr), np.full(k, self.ridge)])

    def logits(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        r = theta[: self.n_models]
        return self.alpha * (r[self.a] - r[self.b]) + self.x @ theta[self.n_models :]

    def loss(self, theta: NDArray[np.float64]) -> float:
        z = self.logits(theta)
        nll = np.logaddexp(0.0, z) - self.y * z  # cross-entropy with the label y
        return float(self.w @ nll + 0.5 * (self.penalty() @ theta**2))

    def gradient_hessian(
        self, theta: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        m = self.n_models
        p = expit(self.logits(theta))
        e = self.w * (p - self.y)  # d loss / d logit
        g_r = self.alpha * (
            np.bincount(self.a, weights=e, minlength=m)
            - np.bincount(self.b, weights=e, minlength=m)
        )
        g_f = self.x.T @ e
        h = self.weighted_outer(self.w * p * (1.0 - p))
        penalty = self.penalty()
        grad = np.concatenate([g_r, g_f]) + penalty * theta
        h[np.diag_indices_from(h)] += penalty
        return grad, h

    def weighted_outer(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return ``Σ_i u_i x_i x_iᵀ`` over the battles, ``x_i = (α(e_a - e_b), f_i)``.

        The Hessian of the loss (``u = w p (1 - p)``) and the score covariance of the
        sandwich (``u = s²``) are both of this form.
        """
        m, k = self.n_models, self.x.shape[1]
        out = np.zeros((m + k, m + k))
        out[:m, :m] = _pair_block(self.a, self.b, u * self.alpha**2, m)
        ux = self.alpha * u[:, None] * self.x
        for f in range(k):
            out[:m, m + f] = np.bincount(self.a, weights=ux[:, f], minlength=m) - np.bincount(
                self.b, weights=ux[:, f], minlength=m
            )
        out[m:, :m] = out[:m, m:].T
        out[m:, m:] = self.x.T @ (u[:, None] * self.x)
        return out

    def gauge(self) -> NDArray[np.float64]:
        """Return the term added to the Hessian when ratings are free.

        It fixes each component's mean rating, the direction the likelihood leaves free.
        """
        m, k = self.n_models, self.x.shape[1]
        out = np.zeros((m + k, m + k))
        if not self.ratings_ridge:
            same = (self.groups[:, None] == self.groups[None, :]).astype(np.float64)
            out[:m, :m] = same
        return out

    def centre(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.ratings_ridge:
            return theta
        r = theta[: self.n_models]
        size = np.bincount(self.groups, minlength=int(self.groups.max()) + 1)
        mean = np.bincount(self.groups, weights=r) / np.maximum(size, 1)
        return np.concatenate([r - mean[self.groups], theta[self.n_models :]])


def _pair_block(
    a: NDArray[np.int64], b: NDArray[np.int64], v: NDArray[np.float64], m: int
) -> NDArray[np.float64]:
    """``Σ v (e_a - e_b)(e_a - e_b)ᵀ`` as an ``m × m`` matrix."""
    off = np.bincount(a * m + b, weights=v, minlength=m * m).reshape(m, m)
    off = off + off.T
    diag = np.bincount(a, weights=v, minlength=m) + np.bincount(b, weights=v, minlength=m)
    return np.diag(diag) - off


def _fit(problem: _Problem, start: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """Newton's method with backtracking on the convex objective."""
    m, k = problem.n_models, problem.x.shape[1]
    theta = np.zeros(m + k) if start is None else problem.centre(start.copy())
    gauge = problem.gauge()
    loss = problem.loss(theta)
    scale = max(1.0, float(problem.w.sum()))
    for _ in range(_MAX_ITER):
        grad, hess = problem.gradient_hessian(theta)
        if np.abs(grad).max() <= _GRAD_TOL * scale:
            return theta
        try:
            step = np.linalg.solve(hess + gauge, -grad)
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(hess + gauge, grad, rcond=None)[0]
        t = 1.0
        while True:
            candidate = problem.centre(theta + t * step)
            new_loss = problem.loss(candidate)
            if new_loss <= loss + 1e-4 * t * float(grad @ step) or t < 1e-10:
                break
            t *= 0.5
        if t < 1e-10 or abs(loss - new_loss) <= 1e-15 * max(1.0, abs(loss)):
            theta, loss = candidate, new_loss
            break
        theta, loss = candidate, new_loss
    grad, _ = problem.gradient_hessian(theta)
    if np.abs(grad).max() > 1e-6 * scale:
        raise ConvergenceError(
            f"style fit did not converge (largest gradient {np.abs(grad).max():.3g}); "
            "use a larger ridge"
        )
    return theta


def _sandwich(problem: _Problem, theta: NDArray[np.float64], *, bread: str) -> NDArray[np.float64]:
    """Compute the standard errors of ``theta`` from ``H⁻¹ G H⁻¹`` (G: centred score covariance)."""
    m, k = problem.n_models, problem.x.shape[1]
    n = len(problem.y)
    _, hess = problem.gradient_hessian(theta)
    if bread == "likelihood":
        hess[np.diag_indices_from(hess)] -= problem.penalty()
    p = expit(problem.logits(theta))
    s = problem.w * (p - problem.y)  # each battle's score is s · x_i, x_i = (α(e_a - e_b), f)
    g = problem.weighted_outer(s**2)
    total = problem.penalty() * theta  # Σ scores = −penalty·θ at the optimum
    if n:
        g -= np.outer(total, total) / n
    h_inv = np.linalg.pinv(hess + problem.gauge() if not problem.ratings_ridge else hess)
    if not problem.ratings_ridge:  # remove the gauge directions again
        project = np.eye(m + k) - problem.gauge() / np.maximum(
            problem.gauge().sum(axis=1, keepdims=True), 1.0
        )
        h_inv = project @ h_inv @ project.T
    cov = h_inv @ g @ h_inv
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


def bradley_terry_style(
    battles: Battles,
    conv_metadata: Sequence[Mapping[str, Any] | None] | NDArray[np.float64],
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    ridge: float = FASTCHAT_RIDGE,
    ratings_ridge: bool = True,
    anchor: tuple[str, float] | None = None,
    ci: str = "sandwich",
    bread: str = "penalised",
    rounds: int = 100,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = 0,
) -> StyleResult:
    r"""Style-controlled Bradley-Terry ratings (FastChat's ``compute_style_control``).

    Parameters
    ----------
    battles : Battles
        Unweighted battles (style features are per battle, so pair counts cannot be used).
    conv_metadata : sequence of mapping, or ndarray of shape (n, 8)
        One LMArena ``conv_metadata`` per battle (as :attr:`ReadResult.conv_metadata`), or
        their :func:`style_counts` (a caller streaming the battles computes them a block at a
        time instead of holding every battle's dict).
    scale, base, init : float
        ``rating = scale · r + init`` with ``P(a beats b) = σ(ln(base)(r_a − r_b) + xᵀβ)``.
    ridge : float
        :math:`\lambda`, the L2 penalty per summed loss (FastChat's ``reg``, 0.5).
    ratings_ridge : bool
        Penalise the ratings too (FastChat); ``False`` penalises only the coefficients and
        centres each component's ratings (arena-rank).
    anchor : (str, float) or None
        Shift the ratings (and their intervals) so this model has this value.
    ci : {"sandwich", "bootstrap", "none"}
        Intervals for ratings and coefficients.
    bread : {"penalised", "likelihood"}
        The Hessian of the sandwich: of the penalised objective (the M-estimator actually
        fitted; default), or of the log-likelihood alone, as arena-rank computes it, which
        gives wider intervals when the ridge is strong.
    rounds : int
        Bootstrap resamples.
    confidence : float
        Interval coverage.
    rng : int, Generator or None
        Bootstrap seed.

    Returns
    -------
    StyleResult

    Raises
    ------
    InputError
        Weighted battles, a battle without ``conv_metadata``, or a bad parameter.
    """
    check_choice("ci", ci, CI_METHODS)
    check_choice("bread", bread, BREADS)
    check_base(base)
    check_positive("scale", scale)
    check_finite("init", init)
    check_finite("ridge", ridge)
    if ridge < 0 or (ratings_ridge is False and ridge <= 0 and len(battles)):
        raise InputError(
            f"ridge must be >= 0 (> 0 when only coefficients are penalised); got {ridge}"
        )
    check_probability("confidence", confidence)
    if ci == "bootstrap":
        check_positive_int("rounds", rounds)
    anchor = check_anchor(anchor, battles.models)
    if battles.is_aggregated:
        raise InputError(
            "style control needs one record per battle with its conv_metadata; "
            "pair counts have none"
        )
    if len(conv_metadata) != len(battles):
        raise InputError(
            f"conv_metadata must have one entry per battle ({len(battles)}); "
            f"got {len(conv_metadata)}"
        )
    if len(battles) == 0:
        raise InputError("style control needs at least one battle")
    if isinstance(conv_metadata, np.ndarray):
        counts = np.asarray(conv_metadata, dtype=np.float64)
        if counts.size and not (np.isfinite(counts).all() and (counts >= 0).all()):
            raise InputError("style counts must be finite and non-negative")
    else:
        counts = style_counts(conv_metadata)
    features, mean, std = style_features(counts)
    o = battles.outcome
    y = np.where(o == A_WINS, 1.0, np.where(o == B_WINS, 0.0, 0.5))
    comp = components(battles)
    problem = _Problem(
        n_models=battles.n_models,
        a=battles.a.astype(np.int64),
        b=battles.b.astype(np.int64),
        y=y,
        w=np.ones(len(battles)),
        x=features,
        alpha=math.log(base),
        ridge=float(ridge),
        ratings_ridge=bool(ratings_ridge),
        groups=comp,
    )
    theta = _fit(problem)
    m = battles.n_models
    z = float(norm.ppf(0.5 + confidence / 2.0))
    lo = hi = None
    if ci == "sandwich":
        se = _sandwich(problem, theta, bread=bread)
        lo, hi = theta - z * se, theta + z * se
    elif ci == "bootstrap":
        gen = as_rng(rng)
        n = len(battles)
        samples = np.empty((rounds, len(theta)))
        for r in range(rounds):
            idx = gen.integers(0, n, size=n)
            samples[r] = _fit(problem.take(idx), start=theta)
        lo, hi = percentile_interval(samples, theta, confidence=confidence)
    shift = init
    if anchor is not None:
        name, value = anchor
        shift = value - scale * float(theta[battles.models.index(name)])
    params: dict[str, Any] = {
        "scale": scale,
        "base": base,
        "init": init,
        "ridge": ridge,
        "ratings_ridge": ratings_ridge,
        "ci": ci,
        "confidence": confidence,
        "style_control": True,
        "features": list(STYLE_FEATURES),
    }
    if ci == "sandwich":
        params["bread"] = bread
    if ci == "bootstrap":
        params.update(rounds=rounds, seed=seed_param(rng))
    if anchor is not None:
        params["anchor"] = {"model": anchor[0], "value": anchor[1]}
    ratings = RatingResult(
        method="bt-style",
        params=params,
        models=list(battles.models),
        rating=scale * theta[:m] + shift,
        lower=None if lo is None else scale * lo[:m] + shift,
        upper=None if hi is None else scale * hi[:m] + shift,
        battles=battles.battles_per_model(),
        component=comp,
        n_battles=battles.n_battles,
    )
    return StyleResult(
        ratings=ratings,
        features=STYLE_FEATURES,
        coefficients=theta[m:].copy(),
        lower=None if lo is None else lo[m:].copy(),
        upper=None if hi is None else hi[m:].copy(),
        feature_mean=mean,
        feature_std=std,
    )


# ------------------------------------------------------------------ Ludus's own answers

_CODE_BLOCK = re.compile("```([^`]*)```")
_MARKDOWN: dict[str, dict[str, re.Pattern[str]]] = {
    "header_count": {f"h{n}": re.compile(rf"^#{{{n}}}\s", re.MULTILINE) for n in range(1, 7)},
    "list_count": {
        "ordered": re.compile(r"^\s*\d+\.\s", re.MULTILINE),
        "unordered": re.compile(r"^\s*[-*+]\s", re.MULTILINE),
    },
    "bold_count": {
        "**": re.compile(r"\*\*[^*\n]+\*\*"),
        "__": re.compile(r"__[^_\n]+__"),
    },
}


def markdown_counts(text: str) -> dict[str, dict[str, int]]:
    """FastChat's ``count_markdown_elements`` after its code-block removal.

    As in FastChat's ``get_element_counts``, the text between each pair of triple
    backticks is removed first (the backticks themselves stay), then headers, list items
    and bold spans are counted with FastChat's regular expressions.
    """
    for block in _CODE_BLOCK.findall(text):
        text = text.replace(block, "")
    return {
        group: {kind: len(pattern.findall(text)) for kind, pattern in patterns.items()}
        for group, patterns in _MARKDOWN.items()
    }


def conv_metadata_from_answers(
    *, answer_a: str, answer_b: str, tokens_a: int, tokens_b: int
) -> dict[str, Any]:
    """LMArena's ``conv_metadata`` for a battle between two answers Ludus generated.

    Parameters
    ----------
    answer_a, answer_b : str
        The two answers (side a, side b).
    tokens_a, tokens_b : int
        Their lengths in tokens (the completion tokens the endpoint reported).

    Returns
    -------
    dict
        The :data:`~ranking.battle_files.CONV_METADATA_FIELDS` keys, counts per kind.
    """
    if type(tokens_a) is not int or type(tokens_b) is not int or min(tokens_a, tokens_b) < 0:
        raise InputError(
            f"tokens_a and tokens_b must be integers >= 0; got {tokens_a!r}, {tokens_b!r}"
        )
    out: dict[str, Any] = {"sum_assistant_a_tokens": tokens_a, "sum_assistant_b_tokens": tokens_b}
    for side, text in (("a", answer_a), ("b", answer_b)):
        for group, counts in markdown_counts(text).items():
            out[f"{group}_{side}"] = counts
    return out
