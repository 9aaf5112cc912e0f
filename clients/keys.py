"""Endpoint API keys at rest: Fernet encryption with a key derived from the site's secret."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from clients.errors import PermanentEndpointError

__all__ = ["api_key_decrypt", "api_key_encrypt"]


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"ludus-endpoint-api-key:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def api_key_encrypt(raw: str, *, secret_key: str) -> str:
    """Encrypt an endpoint API key for storage (Fernet, key derived from ``secret_key``)."""
    return _fernet(secret_key).encrypt(raw.encode()).decode()


def api_key_decrypt(token: str, *, secret_key: str) -> str:
    """Decrypt a key stored by :func:`api_key_encrypt`.

    Raises
    ------
    PermanentEndpointError
        When ``token`` was not made with this ``secret_key`` (or is not a token at all).
    """
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise PermanentEndpointError(
            "the stored API key cannot be decrypted (was SECRET_KEY changed?)"
        ) from None
