"""Where a redirect leads, recorded so that tomorrow's check can be compared with today's.

Stage: check (pure). Input: the URLs of a redirect chain. Output: the same URLs without
what a server makes up afresh at every request (URL signatures, session ids, campaign and
click tracking), and the address a curator should move the catalog to.

Why: PDFs on a CDN are reached through a 302 to a signed address whose expiry and
signature change at every request (S3 `X-Amz-Signature`, CloudFront `Signature` /
`Expires`, Google Cloud Storage, Azure SAS, Akamai tokens); old Java, ColdFusion and
ASP.NET sites put a new session id into the address. Recorded as sent, each night's check
"moved" the link (a redirect_changed and a final_url_changed event a night), and the
report pointed curators at an address that stopped working within minutes. A site's 301
that adds `?sid=<random>` to the page's own address was "Moved permanently" every night,
and `accept-redirect` would have written that session into the catalog; a newsletter's click
tracker (`utm_campaign`, `mc_eid`) or a download's `?token=...&expires=...` "led somewhere
else" every night.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from catalog.check.facts import PERMANENT_REDIRECTS
from catalog.model import Hop
from catalog.urls import TRACKING_PARAMS, TRACKING_PREFIXES, canonical_url

__all__ = ["RESOLVERS", "address_key", "is_signed", "moved_to", "same_address", "stable_url"]

#: Query parameters (lower-cased) that carry a signature: their presence makes a URL signed.
_SIGNATURES = frozenset(
    {"x-amz-signature", "x-goog-signature", "signature", "sig", "hdnts", "hdnea", "__token__"}
)
#: Download tokens: a signature when the address also says when it expires
#: (`?token=...&expires=...`); alone, maybe the content's own key (a password reset's).
_TOKENS = frozenset({"token", "access_token", "auth_token", "download_token"})
#: When an address that carries a token expires.
_EXPIRIES = frozenset({"expires", "expiry", "expire", "expires_at", "exp"})
#: Parameters of the signing schemes that change with each signature (expiry, date, key,
#: policy, token); dropped from a signed URL only.
_SIGNING = (
    _SIGNATURES
    | _TOKENS
    | _EXPIRIES
    | frozenset(
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
)
_SIGNING_PREFIXES = ("x-amz-", "x-goog-")
#: Session ids some servers put in the query instead of a cookie, and the campaign and
#: click ids of analytics and mailing tools (`catalog.urls.TRACKING_PARAMS`, which lint
#: names in a catalog's URLs): none names what the page shows. Content keys
#: (`id`, `page`, `q`, `doc`, ...) are never here.
_SESSION_KEYS = TRACKING_PARAMS | frozenset(
    {
        "jsessionid",
        "phpsessid",
        "cfid",
        "cftoken",
        "aspsessionid",
        "sessionid",
        "session_id",
        "sessid",
        "sess_id",
    }
)
_SESSION_PREFIXES = TRACKING_PREFIXES
#: Keys that name a session on some sites and content on others (`?sid=42`, a story id):
#: volatile only with a value that looks made up (`_MADE_UP`).
_MAYBE_SESSION_KEYS = frozenset({"sid", "session", "s_id"})
#: A value no person chose: 16 or more hex digits, letters and digits among them (a long
#: number is a document's or a story's id), or a base64-like run of 20 or more that mixes
#: lower case, upper case and digits with no word separator. Readable ids stay content
#: (`session=keynote-2026-day1`, `CS101-2026-SPRING`), and so do all-caps document ids
#: (`sid=2019JB017123456789`): dropped, a 301 from one document to another compared as no
#: move, and `accept-redirect` would have written the address without them.
_MADE_UP = re.compile(
    r"(?=[^=]*\d)(?=[^=]*[a-fA-F])[0-9a-fA-F]{16,}"
    r"|(?=[^=%]*[a-z])(?=[^=%]*[A-Z])(?=[^=%]*\d)[A-Za-z0-9]{20,}(?:=|%3[dD]){0,2}"
)
#: ";jsessionid=..." path parameters (Java) and "/(S(...))" segments (ASP.NET cookieless).
_SESSION_PATH = re.compile(r";jsessionid=[^/?#;]*|/\((?:[A-Z]\([^()/]*\))+\)(?=/)", re.IGNORECASE)


def is_signed(url: str) -> bool:
    """True when `url` carries a URL signature (an address that expires)."""
    query = urlsplit(url).query
    return bool(query) and _signed({_key(piece) for piece in query.split("&")})


def _signed(keys: Iterable[str]) -> bool:
    """Whether a query with these keys carries a signature: a signing scheme's, or a token
    with an expiry (`?token=...&expires=...`, a download's address of the minute)."""
    keys = set(keys)
    return not keys.isdisjoint(_SIGNATURES) or (
        not keys.isdisjoint(_TOKENS) and not keys.isdisjoint(_EXPIRIES)
    )


def stable_url(url: str) -> str:
    """`url` without its signature, session-id and tracking parts; other URLs unchanged."""
    parts = urlsplit(url)
    path = _SESSION_PATH.sub("", parts.path) if ";" in parts.path or "(" in parts.path else None
    query = None
    if parts.query:
        # Piece by piece, so the parameters kept keep the encoding the server gave them.
        pieces = parts.query.split("&")
        keys = [_key(piece) for piece in pieces]
        signed = _signed(keys)
        kept = [
            piece
            for piece, key in zip(pieces, keys, strict=True)
            if not _volatile(key, piece, signed)
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


def _volatile(key: str, piece: str, signed: bool) -> bool:
    """Whether the query's `piece` (named `key`) changes at every request."""
    if key in _SESSION_KEYS or key.startswith(_SESSION_PREFIXES):
        return True
    if key in _MAYBE_SESSION_KEYS:
        return _MADE_UP.fullmatch(piece.partition("=")[2]) is not None
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
    """Whether `a` is `b` as the catalog keys links (`canonical_url`), what changes at every
    request aside (`stable_url`): "HTTP://Site/x" and "http://site/x" are one address, and so
    are "/x" and "/x?sid=<random>" (a 301 that hands out a session was no move)."""
    return a is not None and (a == b or address_key(a) == address_key(b))


def address_key(url: str) -> str:
    """`url` as `same_address` compares it: two URLs with the same key lead to one place."""
    return canonical_url(stable_url(url))


def _hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
