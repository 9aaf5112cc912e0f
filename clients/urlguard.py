"""The SSRF guard: endpoint URLs are checked before they are stored and before every call.

A submitted model must not make the workers probe the internal network, so its base URL
must name a public host (after DNS resolution) unless an admin allows internal endpoints.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["address_problem", "resolve_host", "validate_endpoint_url"]

_BLOCKED_HOSTS = {"localhost", "localhost.localdomain", "metadata.google.internal"}

_ADDRESS_KINDS = (
    ("is_unspecified", "an unspecified"),
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local (cloud metadata)"),
    ("is_private", "a private"),
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
)


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a public address (``"a loopback address (::1)"``), or ``None``.

    IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, label in _ADDRESS_KINDS:
        if getattr(ip, attribute):
            return f"{label} address ({ip})"
    if not ip.is_global:
        return f"a non-global address ({ip})"
    return None


def resolve_host(host: str) -> list[str]:
    """The IP addresses ``host`` resolves to (``socket.getaddrinfo``), sorted, without repeats."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def validate_endpoint_url(
    url: str,
    *,
    allow_internal: bool = False,
    require_https: bool = False,
    resolve: Callable[[str], list[str]] | None = None,
) -> str:
    """Check an endpoint base URL and return it without a trailing slash.

    The one parser of endpoint URLs: the API checks a submitted model with it (and turns the
    message into a field error), the workers again before every call.

    Parameters
    ----------
    url : str
        ``http(s)://host[:port][/path]``, for example ``https://api.example.com/v1``.
    allow_internal : bool, default False
        Allow loopback, private, link-local and other non-public addresses (admin only;
        otherwise a submitted endpoint could make the workers probe the internal network).
    require_https : bool, default False
        Refuse plain ``http://`` (the API does unless internal endpoints are allowed).
    resolve : callable, optional
        ``host -> list of IP strings`` (default: :func:`resolve_host`); a host that does
        not resolve is refused unless ``allow_internal``.

    Raises
    ------
    ValueError
        With a message naming what is wrong and what is expected.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("An endpoint URL is required (https://...).")
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"Not a valid URL ({exc}): {url!r}.") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"Expected an https:// URL; got scheme {parts.scheme or 'none'!r}.")
    if parts.scheme == "http" and require_https:
        raise ValueError("Plain http is not allowed; use an https:// URL.")
    if parts.username or parts.password:
        raise ValueError("Credentials in the URL are not allowed; give the API key separately.")
    if parts.query or parts.fragment:
        raise ValueError("The base URL must not have a query string or fragment.")
    if not parts.hostname:
        raise ValueError(f"The URL has no host name: {url!r}.")
    if port == 0:
        raise ValueError("Port 0 is out of range.")
    host = parts.hostname.lower()
    if not allow_internal:
        if host in _BLOCKED_HOSTS or host.endswith((".local", ".internal", ".localhost")):
            raise ValueError(
                f"The host {host!r} is an internal name (loopback or cloud metadata); only public "
                "addresses are allowed unless an admin allows internal endpoints for this model."
            )
        try:
            addresses = [host] if _is_ip(host) else (resolve or resolve_host)(host)
        except (OSError, UnicodeError):
            raise ValueError(f"The host {host!r} does not resolve to any address.") from None
        if not addresses:
            raise ValueError(f"The host {host!r} does not resolve to any address.")
        for addr in addresses:
            problem = address_problem(addr)
            if problem:
                raise ValueError(
                    f"The host {host!r} resolves to {problem}; only public addresses are allowed "
                    "unless an admin allows internal endpoints for this model."
                )
    return url.rstrip("/")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
