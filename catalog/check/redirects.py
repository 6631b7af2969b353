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
from catalog.urls import canonical_url

__all__ = ["RESOLVERS", "is_signed", "moved_to", "same_address", "stable_url"]

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


#: Persistent-identifier resolvers: their addresses are meant to redirect, for good, to
#: wherever the publisher keeps the work now. A publisher's own permanent redirect beyond
#: them moves the publisher's address, never the identifier a catalog should keep
#: (doi.org -302-> nap.edu -301-> nap.nationalacademies.org asked curators to replace a
#: DOI with the publisher's page of the day). GPO's PURLs are how federal documents are
#: cited.
RESOLVERS = frozenset(
    {
        "doi.org",
        "dx.doi.org",
        "www.doi.org",
        "hdl.handle.net",
        "purl.org",
        "www.purl.org",
        "purl.fdlp.gov",
        "purl.access.gpo.gov",
        "n2t.net",
        "w3id.org",
        "identifiers.org",
        "perma.cc",
    }
)


def moved_to(url: str, chain: Sequence[Hop]) -> str | None:
    """Where `url` has moved for good by its redirect `chain`, or None if it has not: the
    target of the last permanent redirect (301, 308) that speaks for it.

    /old -301-> /new -302-> a signed CDN address: the site moved the page to /new, and the
    302 beyond it is a temporary place (a download, a login); /new is what the catalog
    should hold. For a resolver's address only the resolver's own redirects speak.

    A journey that comes back to `url` after its last permanent redirect moved nothing: a
    cookie check answered with a 301 or 308 to the page itself (/report -301-> /report
    with the cookie, or by way of /cookie-check) asked curators to replace the address
    with itself, for ever.
    """
    resolver = _hostname(url) in RESOLVERS
    for index in range(len(chain) - 2, -1, -1):
        if same_address(chain[index + 1].url, url):
            return None
        hop = chain[index]
        if hop.status in PERMANENT_REDIRECTS and (not resolver or _hostname(hop.url) in RESOLVERS):
            return chain[index + 1].url
    return None


def same_address(a: str | None, b: str) -> bool:
    """Whether `a` is `b` as the catalog keys links (`canonical_url`): "HTTP://Site/x"
    and "http://site/x" are one address."""
    return a is not None and (a == b or canonical_url(a) == canonical_url(b))


def _hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
