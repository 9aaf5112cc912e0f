"""What a model owner may set for an endpoint, and the validated configuration of one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["OWNER_PARAMS", "SAMPLING_PARAMS", "EndpointConfig", "param_error"]


#: Chat-completion parameters sent in the request body when set (OpenAI accepts each):
#: name -> (type, lowest, highest), bounds inclusive.
SAMPLING_PARAMS: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "top_p": (float, 0.0, 1.0),
    "max_tokens": (int, 1, 32768),
    "presence_penalty": (float, -2.0, 2.0),
    "frequency_penalty": (float, -2.0, 2.0),
    "seed": (int, 0, 2**31 - 1),
}
#: The parameters a model owner may set at submission: the sampling ones and the timeout.
#: Submission validation and :class:`EndpointConfig` both check values with :func:`param_error`.
OWNER_PARAMS: dict[str, tuple[type, float, float]] = {
    **SAMPLING_PARAMS,
    "timeout": (float, 1.0, 600.0),
}


def param_error(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the owner parameter ``name`` (``None`` when it is valid)."""
    if name not in OWNER_PARAMS:
        return f"unknown parameter {name!r}; expected some of {', '.join(OWNER_PARAMS)}"
    kind, low, high = OWNER_PARAMS[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not float(value).is_integer())
    ):
        return f"{name} must be {'an integer' if kind is int else 'a number'}; got {value!r}"
    if not low <= value <= high:
        low_s, high_s = (int(b) if float(b).is_integer() else b for b in (low, high))
        return f"{name} must be between {low_s} and {high_s}; got {value!r}"
    return None


@dataclass(frozen=True)
class EndpointConfig:
    """Everything needed to call one OpenAI-compatible model.

    ``key`` names the endpoint for the shared limiter (leases and the adaptive limit).
    Prices are per 1,000 tokens.
    """

    key: str
    base_url: str
    model: str
    api_key: str | None = None
    temperature: float = 0.7
    max_tokens: int = 1024
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    timeout: float = 60.0
    max_retries: int = 3
    max_concurrency: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    acquire_timeout: float = 120.0
    price_prompt_per_1k: float = 0.0
    price_completion_per_1k: float = 0.0
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in SAMPLING_PARAMS:
            value = getattr(self, name)
            problem = None if value is None else param_error(name, value)
            if problem:
                raise ValueError(f"endpoint {problem}")
        checks = [
            ("timeout", self.timeout > 0, "positive (seconds)"),
            (
                "max_retries",
                isinstance(self.max_retries, int) and self.max_retries >= 0,
                "a non-negative integer",
            ),
            (
                "max_concurrency",
                isinstance(self.max_concurrency, int) and self.max_concurrency >= 1,
                "a positive integer",
            ),
            ("price_prompt_per_1k", self.price_prompt_per_1k >= 0, "non-negative"),
            ("price_completion_per_1k", self.price_completion_per_1k >= 0, "non-negative"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"endpoint {name} must be {expected}; got {getattr(self, name)!r}")
        if not self.model:
            raise ValueError("endpoint model name is required")

    @classmethod
    def from_params(
        cls,
        *,
        key: str,
        base_url: str,
        model: str,
        api_key: str | None,
        params: dict[str, Any],
        max_concurrency: int,
    ) -> EndpointConfig:
        """Build from a competitor's ``params`` JSON (unknown keys are refused)."""
        allowed = set(OWNER_PARAMS) | {
            "max_retries",
            "backoff_base",
            "backoff_cap",
            "acquire_timeout",
            "price_prompt_per_1k",
            "price_completion_per_1k",
            "extra_body",
        }
        unknown = sorted(set(params) - allowed - {"sim_latency_ms"})
        if unknown:
            raise ValueError(
                f"unknown endpoint parameter(s): {', '.join(unknown)}; "
                f"expected some of {', '.join(sorted(allowed))}"
            )
        kwargs: dict[str, Any] = {k: v for k, v in params.items() if k in allowed}
        for name in set(OWNER_PARAMS) & set(kwargs):
            problem = param_error(name, kwargs[name])
            if problem:
                raise ValueError(f"endpoint {problem}")
            kwargs[name] = OWNER_PARAMS[name][0](kwargs[name])
        for name in (
            "backoff_base",
            "backoff_cap",
            "acquire_timeout",
            "price_prompt_per_1k",
            "price_completion_per_1k",
        ):
            if name in kwargs:
                try:
                    kwargs[name] = float(kwargs[name])
                except (TypeError, ValueError):
                    raise ValueError(
                        f"endpoint {name} must be a number; got {kwargs[name]!r}"
                    ) from None
        return cls(
            key=key,
            base_url=base_url.rstrip("/"),
            model=model,
            api_key=api_key,
            max_concurrency=max_concurrency,
            **kwargs,
        )
