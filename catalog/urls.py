"""URL validation and the canonical form used as a link's identity.

The catalog keeps what the curator wrote; the database keys links by the
canonical form (lower-case scheme and host, IDNA host, default port and fragment
dropped) so that trivially different spellings are fetched once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import idna

SUPPORTED_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class UrlProblem:
    """Why a URL cannot be fetched; becomes the reason of an `invalid_url` observation."""

    reason: str


@dataclass(frozen=True)
class CheckedUrl:
    canonical: str
    host: str
    scheme: str
    port: int


def parse_url(raw: str) -> CheckedUrl | UrlProblem:
    """Validate `raw` as a fetchable http(s) URL. Never raises."""
    if not isinstance(raw, str) or not raw.strip():
        return UrlProblem("the URL is empty")
    if any(ch.isspace() for ch in raw):
        return UrlProblem("the URL contains spaces or line breaks")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        return UrlProblem("the URL contains control characters")
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        return UrlProblem(f"the URL cannot be parsed ({exc})")
    scheme = parts.scheme.lower()
    if not scheme:
        return UrlProblem("the URL has no scheme (it should start with https://)")
    if scheme not in SUPPORTED_SCHEMES:
        return UrlProblem(f"the scheme {parts.scheme!r} is not a web address (use http or https)")
    if not raw[len(parts.scheme) :].startswith("://"):
        return UrlProblem("the URL is missing '//' after the scheme")
    try:
        hostname = parts.hostname
        port = parts.port
    except ValueError as exc:
        return UrlProblem(f"the URL's host or port is malformed ({exc})")
    if not hostname:
        return UrlProblem("the URL has no host name")
    host = _ascii_host(hostname)
    if host is None:
        return UrlProblem(f"the host name {hostname!r} is not a valid domain name")
    if parts.username or parts.password:
        return UrlProblem("the URL embeds a user name or password")
    effective_port = port if port is not None else _DEFAULT_PORTS[scheme]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    canonical = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return CheckedUrl(canonical=canonical, host=host, scheme=scheme, port=effective_port)


def _ascii_host(hostname: str) -> str | None:
    hostname = hostname.rstrip(".").lower()
    if not hostname:
        return None
    if ":" in hostname:  # IPv6 literal
        return hostname
    if hostname.isascii():
        labels = hostname.split(".")
        ok = all(
            0 < len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label)
            for label in labels
        )
        return hostname if ok and len(hostname) <= 253 else None
    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def canonical_url(raw: str) -> str:
    """The link key: the canonical form, or the stripped text itself for invalid URLs."""
    parsed = parse_url(raw)
    return parsed.canonical if isinstance(parsed, CheckedUrl) else raw.strip()


def host_of(raw: str) -> str:
    parsed = parse_url(raw)
    return parsed.host if isinstance(parsed, CheckedUrl) else ""
