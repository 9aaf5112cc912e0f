"""Clients of the models and judges Ludus ranks: no Django, no Celery.

- :mod:`clients.http`: the OpenAI-compatible chat-completions client;
- :mod:`clients.config`: an endpoint's validated configuration and the owner's parameters;
- :mod:`clients.urlguard`: the SSRF guard on endpoint URLs;
- :mod:`clients.keys`: API keys encrypted at rest;
- :mod:`clients.limits`: in-flight leases and the adaptive (AIMD) limit per endpoint;
- :mod:`clients.backoff`: retry delays and ``Retry-After``;
- :mod:`clients.judges`, :mod:`clients.pipelines`: judge prompts, verdicts and pipelines;
- :mod:`clients.simulated`: the simulated competitor and judge (no network).

Callers (the services) pass settings in as keyword arguments; nothing here reads them.
Dependencies run one way: this package imports nothing of the project but ``ranking``.
"""

from __future__ import annotations

from clients.backoff import backoff_delay, parse_retry_after
from clients.config import OWNER_PARAMS, SAMPLING_PARAMS, EndpointConfig, param_error
from clients.errors import EndpointError, PermanentEndpointError, TransientEndpointError
from clients.http import Completion, chat_completion, completion_cost
from clients.judges import (
    VERDICTS,
    AggregationError,
    ParsedVerdict,
    VerdictParseError,
    neutralise,
    parse_verdict,
    render_debate_messages,
    render_judge_messages,
    render_review_messages,
    swap_combine,
    verdict_outcome,
    verdict_score,
)
from clients.keys import api_key_decrypt, api_key_encrypt
from clients.limits import (
    InflightLimiter,
    LocalLimiter,
    RedisLimiter,
    acquire,
    admitted,
    aimd_next,
)
from clients.pipelines import (
    DEFAULT_PIPELINE,
    PIPELINE_KEYS,
    PIPELINES,
    Aggregate,
    JudgeSpec,
    JudgeVote,
    PipelineSpec,
    Slot,
    aggregate,
    attempt_stage,
    debate_stages,
    pipeline_from_config,
    primary_slots,
)
from clients.simulated import (
    SIM_MARKER,
    SimAnswer,
    sim_quality,
    sim_seed,
    simulated_answer,
    simulated_judge_completion,
    simulated_judge_reply,
)
from clients.urlguard import address_problem, validate_endpoint_url

__all__ = [
    "DEFAULT_PIPELINE",
    "OWNER_PARAMS",
    "PIPELINE_KEYS",
    "PIPELINES",
    "SAMPLING_PARAMS",
    "SIM_MARKER",
    "VERDICTS",
    "Aggregate",
    "AggregationError",
    "Completion",
    "EndpointConfig",
    "EndpointError",
    "InflightLimiter",
    "JudgeSpec",
    "JudgeVote",
    "LocalLimiter",
    "ParsedVerdict",
    "PermanentEndpointError",
    "PipelineSpec",
    "RedisLimiter",
    "SimAnswer",
    "Slot",
    "TransientEndpointError",
    "VerdictParseError",
    "acquire",
    "address_problem",
    "admitted",
    "aggregate",
    "aimd_next",
    "annotations",
    "api_key_decrypt",
    "api_key_encrypt",
    "attempt_stage",
    "backoff_delay",
    "debate_stages",
    "chat_completion",
    "completion_cost",
    "neutralise",
    "param_error",
    "parse_retry_after",
    "parse_verdict",
    "pipeline_from_config",
    "primary_slots",
    "render_debate_messages",
    "render_judge_messages",
    "render_review_messages",
    "sim_quality",
    "sim_seed",
    "simulated_answer",
    "simulated_judge_completion",
    "simulated_judge_reply",
    "swap_combine",
    "validate_endpoint_url",
    "verdict_outcome",
    "verdict_score",
]
