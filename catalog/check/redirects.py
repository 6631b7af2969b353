"""Where a redirect leads, recorded so that tomorrow's check can be compared with today's.

Stage: check (pure). Input: the URLs of a redirect chain. Output: the same URLs without
what a server makes up afresh at every request (URL signatures and session ids), and the
address a curator should move the catalog to.

Why: PDFs on a CDN are reached through a 302 to a signed address whose expiry and
signature change at every request (S3 `X-Amz-Signature`, CloudFront `Signature` /
`Expires`, Google Cloud Storage, Azure SAS, Akamai tokens); old Java, ColdFusion and
ASP.NET sites put a new session id into the address. Recorded as sent, each night's check
"moved" the link (a redirect_changed and a final_url_changed event a night), and the
report pointed curators at an address that stopped working within minutes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from catalog.check.facts import PERMANENT_REDIRECTS
from catalog.model import Hop

__all__ = ["is_signed", "moved_to", "stable_url"]

#: Query parameters (lower-cased) that carry a signature: their presence makes a URL signed.
_SIGNATURES = frozenset(
    {"x-amz-signature", "x-goog-signature", "signature", "sig", "hdnts", "hdnea", "__token__"}
)
#: Parameters of the signing schemes that change with each signature (expiry, date, key,
#: policy, token); dropped from a signed URL only.
_SIGNING = _SIGNATURES | frozenset(
    {
        "awsaccesskeyid",
        "googleaccessid",
        "expires",
        "key-pair-id",
        "policy",
        # Azure shared access signatures
        "sv",
        "ss",
        "srt",
        "sp",
        "se",
        "st",
        "spr",
        "sr",
        "skoid",
        "sktid",
        "skt",
        "ske",
        "sks",
        "skv",
    }
)
_SIGNING_PREFIXES = ("x-amz-", "x-goog-")
#: Session ids some servers put in the query instead of a cookie.
_SESSION_KEYS = frozenset({"jsessionid", "phpsessid", "cfid", "cftoken", "aspsessionid"})
#: ";jsessionid=..." path parameters (Java) and "/(S(...))" segments (ASP.NET cookieless).
_SESSION_PATH = re.compile(r";jsessionid=[^/?#;]*|/\((?:[A-Z]\([^()/]*\))+\)(?=/)", re.IGNORECASE)


def is_signed(url: str) -> bool:
    """True when `url` carries a URL signature (an address that expires)."""
    query = urlsplit(url).query
    return bool(query) and any(_key(piece) in _SIGNATURES for piece in query.split("&"))


def stable_url(url: str) -> str:
    """`url` without its signature and session-id parts; other URLs unchanged."""
    parts = urlsplit(url)
    path = _SESSION_PATH.sub("", parts.path) if ";" in parts.path or "(" in parts.path else None
    query = None
    if parts.query:
        # Piece by piece, so the parameters kept keep the encoding the server gave them.
        pieces = parts.query.split("&")
        keys = [_key(piece) for piece in pieces]
        signed = any(key in _SIGNATURES for key in keys)
        kept = [
            piece for piece, key in zip(pieces, keys, strict=True) if not _volatile(key, signed)
        ]
        if len(kept) < len(pieces):
            query = "&".join(kept)
    if path is None and query is None:
        return url
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            parts.path if path is None else path,
            parts.query if query is None else query,
            parts.fragment,
        )
    )


def _key(piece: str) -> str:
    """The lower-cased name of one `name=value` piece of a query."""
    return unquote_plus(piece.split("=", 1)[0]).lower()


def _volatile(key: str, signed: bool) -> bool:
    if key in _SESSION_KEYS:
        return True
    return signed and (key in _SIGNING or key.startswith(_SIGNING_PREFIXES))


def moved_to(chain: Sequence[Hop]) -> str | None:
    """Where the last permanent redirect of `chain` points, or None without one.

    /old -301-> /new -302-> a signed CDN address: the site moved the page to /new, and the
    302 beyond it is a temporary place (a download, a login); /new is what the catalog
    should hold.
    """
    for index in range(len(chain) - 2, -1, -1):
        if chain[index].status in PERMANENT_REDIRECTS:
            return chain[index + 1].url
    return None
