"""Model submission: validation of endpoints and parameters, status changes, secrets.

An OpenAI-compatible endpoint must be an ``https`` URL whose host resolves only to public
addresses. Plain ``http``, loopback, private, link-local (cloud metadata at
169.254.169.254 included), multicast, reserved and unspecified addresses are refused unless
an admin allows them for the competitor (``allow_internal``) or for the whole deployment
(``settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS``). Every address the host resolves to is checked,
so a name with one public and one private record is refused too. A competitor's allowance
covers only the URL it was given for: when the owner changes the URL, the allowance lapses
and the new URL is checked as a new submission's would be (an admin re-allows it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from arena.exceptions import ApplicationError, Conflict
from arena.models import Competitor
from clients import (
    OWNER_PARAMS,
    PermanentEndpointError,
    api_key_decrypt,
    api_key_encrypt,
    param_error,
    validate_endpoint_url,
)

MAX_CONCURRENCY = 64
SIM_STRENGTH_BOUNDS = (0.0, 3000.0)
DEFAULT_SIM_STRENGTH = 1000.0
_PUBLIC_FIELDS = ("provider", "version", "licence", "description", "visibility")
_ADMIN_FIELDS = ("allow_internal", "api_key_env", "sim_strength", "sim_style", "sim_seed")


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError("Invalid input.", field_errors={field: [message]})


def endpoint_url_validate(*, url: str, allow_internal: bool = False) -> str:
    """Check an OpenAI-compatible base URL; returns it normalised (no trailing slash).

    Parameters
    ----------
    url : str
        The endpoint's base URL, for example ``https://api.example.com/v1``.
    allow_internal : bool
        Accept ``http`` and internal addresses (an admin's decision, per competitor or via
        ``settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS``).

    Raises
    ------
    ApplicationError
        With a field error on ``endpoint_url`` saying what is wrong and what is expected.
    """
    allow_internal = allow_internal or settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS
    try:
        return validate_endpoint_url(
            url, allow_internal=allow_internal, require_https=not allow_internal
        )
    except ValueError as exc:
        raise _invalid("endpoint_url", str(exc)) from None


def params_validate(*, params: Any) -> dict[str, Any]:
    """Check endpoint parameters against the client's :data:`clients.config.OWNER_PARAMS`.

    Returns a clean copy; every parameter accepted here is sent to the endpoint as given.
    """
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise _invalid(
            "params", 'Expected an object such as {"temperature": 0.7, "max_tokens": 1024}.'
        )
    errors = [
        f"{problem}." for key, value in params.items() if (problem := param_error(key, value))
    ]
    if errors:
        raise ApplicationError("Invalid input.", field_errors={"params": errors})
    return {key: OWNER_PARAMS[key][0](value) for key, value in params.items()}


def competitor_api_key_get(*, competitor: Competitor) -> str:
    """The decrypted endpoint API key ('' when none is stored) for the worker that calls it."""
    if not competitor.api_key_encrypted:
        return ""
    try:
        return api_key_decrypt(competitor.api_key_encrypted, secret_key=settings.SECRET_KEY)
    except PermanentEndpointError:
        raise ApplicationError(
            f"The stored API key of {competitor.name!r} cannot be decrypted (SECRET_KEY "
            "changed?); set it again."
        ) from None


def _apply(competitor: Competitor, *, data: dict[str, Any], is_admin: bool) -> None:
    denied = [f for f in _ADMIN_FIELDS if f in data and not is_admin]
    if denied:
        raise ApplicationError(
            "Invalid input.",
            field_errors={f: ["Only admins may set this field."] for f in denied},
            status=403,
            code="permission_denied",
        )
    for field in _PUBLIC_FIELDS + _ADMIN_FIELDS + ("endpoint_model",):
        if field in data:
            setattr(competitor, field, data[field])
    if "name" in data:
        competitor.name = data["name"].strip()
    if "params" in data:
        competitor.params = params_validate(params=data["params"])
    if "max_concurrency" in data:
        value = data["max_concurrency"]
        if not 1 <= value <= MAX_CONCURRENCY:
            raise _invalid(
                "max_concurrency", f"Must be between 1 and {MAX_CONCURRENCY}; got {value}."
            )
        competitor.max_concurrency = value
    if "api_key" in data:
        raw = data["api_key"] or ""
        competitor.api_key_encrypted = (
            api_key_encrypt(raw, secret_key=settings.SECRET_KEY) if raw else ""
        )
    if "endpoint_url" in data:
        url = (data["endpoint_url"] or "").strip()
        if not is_admin and url.rstrip("/") != competitor.endpoint_url.rstrip("/"):
            competitor.allow_internal = (
                False  # the admin's allowance covered the URL the admin saw, no other
            )
        competitor.endpoint_url = url
    if competitor.kind == Competitor.Kind.OPENAI:
        if not competitor.endpoint_url:
            raise _invalid("endpoint_url", "An openai-kind model needs an endpoint URL.")
        if not competitor.endpoint_model:
            raise _invalid(
                "endpoint_model", "An openai-kind model needs the model name the endpoint expects."
            )
        competitor.endpoint_url = endpoint_url_validate(
            url=competitor.endpoint_url, allow_internal=competitor.allow_internal
        )
    else:
        if competitor.endpoint_url:
            raise _invalid("endpoint_url", "A simulated model has no endpoint; leave it empty.")
        if competitor.sim_strength is None:
            competitor.sim_strength = DEFAULT_SIM_STRENGTH
        low, high = SIM_STRENGTH_BOUNDS
        if not low <= competitor.sim_strength <= high:
            raise _invalid(
                "sim_strength", f"Must be between {low} and {high}; got {competitor.sim_strength}."
            )


def _save(competitor: Competitor) -> Competitor:
    if Competitor.objects.filter(name__iexact=competitor.name).exclude(pk=competitor.pk).exists():
        raise _invalid("name", f"A model named {competitor.name!r} already exists.")
    try:
        with transaction.atomic():
            competitor.save()
    except IntegrityError:
        raise _invalid("name", f"A model named {competitor.name!r} already exists.") from None
    return competitor


def competitor_submit(*, owner: Any, data: dict[str, Any], is_admin: bool = False) -> Competitor:
    """Submit a model; it starts ``pending`` until an admin activates it.

    Parameters
    ----------
    owner : User
        The submitting account (the owner).
    data : dict
        Validated serializer data: ``name``, ``kind`` (``openai`` or ``simulated``), the model
        card (``provider``, ``version``, ``licence``, ``description``), ``visibility``,
        ``endpoint_url``, ``endpoint_model``, ``api_key`` (stored encrypted), ``params``,
        ``max_concurrency``; admins also ``allow_internal``, ``api_key_env`` and the hidden
        simulation fields.
    is_admin : bool
        Whether the caller is staff (admin-only fields are refused otherwise).

    Raises
    ------
    ApplicationError
        Field errors: duplicate name, bad or internal endpoint URL, parameters out of bounds.
    """
    name = (data.get("name") or "").strip()
    if not name:
        raise _invalid("name", "This field may not be blank.")
    competitor = Competitor(
        owner=owner, kind=data.get("kind", Competitor.Kind.OPENAI), status=Competitor.Status.PENDING
    )
    _apply(competitor, data={**data, "name": name}, is_admin=is_admin)
    return _save(competitor)


def competitor_update(
    *, competitor: Competitor, data: dict[str, Any], is_admin: bool = False
) -> Competitor:
    """Change a model's card, endpoint or parameters (the kind cannot change)."""
    if competitor.status == Competitor.Status.WITHDRAWN and not is_admin:
        raise Conflict(f"{competitor.name!r} is withdrawn and can no longer be edited.")
    if "kind" in data and data["kind"] != competitor.kind:
        raise _invalid("kind", "The kind of a model cannot change; submit a new model instead.")
    _apply(competitor, data=data, is_admin=is_admin)
    return _save(competitor)


def competitor_activate(*, competitor: Competitor) -> Competitor:
    """Admit a pending (or re-admit a withdrawn) model to tournaments and the arena."""
    competitor.status = Competitor.Status.ACTIVE
    competitor.save(update_fields=["status", "updated_at"])
    return competitor


def competitor_withdraw(*, competitor: Competitor) -> Competitor:
    """Withdraw a model: it is scheduled no more; its past battles and ratings stay."""
    if competitor.status != Competitor.Status.WITHDRAWN:
        competitor.status = Competitor.Status.WITHDRAWN
        competitor.save(update_fields=["status", "updated_at"])
    return competitor
