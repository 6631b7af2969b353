"""URL validation, the canonical form used as a link's identity, and URL hygiene facts.

The catalog keeps what the curator wrote; the database keys links by the canonical
form so that trivially different spellings are fetched once per run. The canonical
form (RFC 3986 section 6 normalisation, plus a stable query order):

- as browsers request it (`as_browsers_request`): a backslash that ends the host read as
  "/", a user name and password before the host dropped;
- lower-case scheme and host, IDNA (punycode) host, trailing dot of the host dropped;
- default port, fragment and an empty `?` dropped; an empty path becomes "/";
- percent-encoding normalised: hex digits upper-case, unreserved characters
  (letters, digits, `-._~`) decoded, non-ASCII and unsafe characters encoded (a space
  inside the address as %20: browsers open such a URL, and send it so);
- `.` and `..` path segments resolved;
- query parameters sorted by name when no name repeats (blank values kept);
  with a repeated name the order may matter to the server, so it is kept.

Tracking parameters are deliberately kept: they may change what a server answers,
and `catalog.hygiene` reports them to the curator instead.
"""

from __future__ import annotations

import contextlib
import functools
import re
import string
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import idna

SUPPORTED_SCHEMES = ("http", "https")
#: The longest host a URL may name: DNS's limit on a name (RFC 1035), under the 255
#: characters the database keeps of a link's host (`links.host`).
MAX_HOST_LENGTH = 253
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: RFC 3986 unreserved characters: percent-encoding them changes nothing, so they are decoded.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
#: ASCII characters a URL may hold as they are (reserved, unreserved and `%`).
_ALLOWED_ASCII = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")

#: Query parameters that only track a click (exact names; `utm_*` is matched by prefix).
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "_ga",
        "_gl",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "ref_src",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_")

#: Hosts of link shorteners: the catalog should name where they lead, not the shortener.
SHORTENER_HOSTS = frozenset(
    {
        "bit.ly",
        "bitly.com",
        "j.mp",
        "t.co",
        "tinyurl.com",
        "ow.ly",
        "goo.gl",
        "buff.ly",
        "is.gd",
        "v.gd",
        "t.ly",
        "rb.gy",
        "cutt.ly",
        "shorturl.at",
        "tiny.cc",
        "lnkd.in",
        "fb.me",
        "youtu.be",
        "rebrand.ly",
        "s.id",
        "go.usa.gov",
        "qrco.de",
    }
)


@dataclass(frozen=True)
class UrlProblem:
    """Why a URL cannot be fetched; becomes the reason of an `invalid_url` observation."""

    reason: str


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    canonical: str
    host: str
    scheme: str
    port: int


def parse_url(raw: str) -> CheckedUrl | UrlProblem:
    """Validate `raw` as a fetchable http(s) URL. Never raises.

    Answers are remembered for the last `_PARSE_CACHE_SIZE` URLs: loading, syncing,
    linting, storing and the report each ask about a resource's URL, some several times,
    and both answers are immutable. Anything but a `str` (a
    list from a hand-edited YAML file) is unhashable and is answered uncached.
    """
    return _parse_cached(raw) if type(raw) is str else _parse(raw)


def _parse(raw: str) -> CheckedUrl | UrlProblem:
    if not isinstance(raw, str) or not raw.strip():
        return UrlProblem("the URL is empty")
    # Printable ASCII without a space has none of the three faults below: one C-level test
    # spares three passes per character on nearly every URL.
    if not (raw.isascii() and raw.isprintable() and " " not in raw):
        addresses = len(_SCHEME_START.findall(raw))
        if addresses > 1:
            return UrlProblem(
                f"the URL holds {addresses} addresses; an entry links one page, so give each "
                "its own entry"
            )
        # A space inside the address is one browsers open: they send it as %20, as the
        # canonical form does (WHATWG URL). A line break or tab there, another kind of space
        # (no-break, ideographic) or one around the address is pasted with it.
        inside = raw[1:-1].replace(" ", "")
        if raw[:1].isspace() or raw[-1:].isspace() or any(ch.isspace() for ch in inside):
            return UrlProblem("the URL contains spaces or line breaks")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
            return UrlProblem("the URL contains control characters")
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in raw):
            return UrlProblem("the URL contains characters that are not valid text")
    if "\\" in raw or "@" in raw:
        raw = as_browsers_request(raw)
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        return UrlProblem(f"the URL cannot be parsed ({exc})")
    scheme = parts.scheme.lower()
    if not scheme:
        return UrlProblem("the URL has no scheme (it should start with https://)")
    if scheme in _NOT_A_PAGE:
        return UrlProblem(
            f"{_NOT_A_PAGE[scheme]} ({parts.scheme}:) cannot be checked as a link; give the web "
            "page that lists it as url and keep it in notes"
        )
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
    if port == 0:  # urlsplit accepts it; no server listens there, every check failed
        return UrlProblem("the URL's port is 0, which no server listens on; remove ':0'")
    host = _ascii_host(hostname)
    if host is None:
        return UrlProblem(f"the host name {hostname!r} is not a valid domain name")
    if len(host) > MAX_HOST_LENGTH:
        # Only an IPv6 literal is let through so long, by its zone id (`[fe80::1%25...]`,
        # any length): valid, it was synced into `links.host`, which PostgreSQL refused.
        return UrlProblem(
            f"the URL's host is {len(host):,} characters long; no server's name or address "
            f"is over {MAX_HOST_LENGTH}"
        )
    effective_port = port if port is not None else _DEFAULT_PORTS[scheme]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _remove_dot_segments(_normalise_percent(parts.path)) or "/"
    query = _stable_query(_normalise_percent(parts.query))
    canonical = urlunsplit((scheme, netloc, path, query, ""))
    return CheckedUrl(canonical=canonical, host=host, scheme=scheme, port=effective_port)


#: Answers remembered: a first run asks about each URL five times or more, in passes over
#: the catalog (loading, syncing) and over each batch of up to 5,000 observations
#: (storing, public hosts, outages). With room for 4,096, each pass evicted what the next
#: one asked for: a 10,000-entry catalog's URLs were parsed three times each. ~400 bytes
#: an answer (URL included): under 7 MB, which a long-lived `serve` keeps too.
_PARSE_CACHE_SIZE = 16_384
_parse_cached = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(_parse)


@contextlib.contextmanager
def every_parse_kept() -> Iterator[None]:
    """Within: every answer is kept, for a one-shot command's passes over a catalog
    larger than the cache (`catalog lint` of 20,000 entries: the loader's, then lint's),
    and dropped on leaving. Not for a long-lived process's shared work: the answers of
    one catalog are what it keeps meanwhile."""
    global _parse_cached
    bounded = _parse_cached
    _parse_cached = functools.lru_cache(maxsize=None)(_parse)
    try:
        yield
    finally:
        _parse_cached = bounded


#: Schemes of a hotline's or a contact's link, which a catalog of resources does hold: the
#: reason says what to write instead, as `import-csv` does, not just "use https".
_NOT_A_PAGE = {
    "tel": "a phone number",
    "callto": "a phone number",
    "sms": "a text-message number",
    "mailto": "an e-mail address",
}
#: Where an http(s) address starts inside a text: two of them are two addresses pasted.
_SCHEME_START = re.compile(r"(?i)(?:^|(?<=[\s,;]))https?://")


def _ascii_host(hostname: str) -> str | None:
    hostname = hostname.rstrip(".").lower()
    if not hostname:
        return None
    if ":" in hostname:  # IPv6 literal
        return hostname
    if hostname.isascii():
        ok = _ASCII_HOST.fullmatch(hostname) is not None and len(hostname) <= MAX_HOST_LENGTH
        if ok and "xn--" in hostname:
            # A malformed label from a hostile redirect: httpx raises when it decodes it.
            labels = hostname.split(".")
            ok = all(_a_label_ok(label) for label in labels if label.startswith("xn--"))
        return hostname if ok else None
    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return _emoji_host(hostname)


def _a_label_ok(label: str) -> bool:
    """Whether an "xn--" label is the punycode of an IDNA 2008 label or of an emoji one."""
    try:
        idna.decode(label)
        return True
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    try:
        text = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return False
    return _emoji_label(text) and _punycode(text) == label


def _emoji_host(hostname: str) -> str | None:
    """The punycode of a host with emoji labels (`i❤.ws`), which IDNA 2008 forbids and
    browsers open (UTS 46 allows them); None when a label is neither emoji nor IDNA 2008."""
    try:
        mapped = idna.uts46_remap(hostname, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = []
    for label in mapped.split("."):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(idna.alabel(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError, ValueError):
            if not _emoji_label(label):
                return None
            labels.append(_punycode(label))
    host = ".".join(labels)
    return host if _ASCII_HOST.fullmatch(host) and len(host) <= MAX_HOST_LENGTH else None


#: Characters an emoji label holds besides letters, marks, digits and symbols: the
#: zero-width joiner of emoji sequences (👩‍💻) and the hyphen.
_EMOJI_GLUE = frozenset("\u200d-")


def _emoji_label(text: str) -> bool:
    """A label with at least one emoji (or other pictograph: "So"), made of nothing a host
    name may not hold (no spaces, controls or ASCII punctuation)."""
    if not any(unicodedata.category(ch) == "So" for ch in text):
        return False
    return all(
        ch in _EMOJI_GLUE
        or (ch.isalnum() if ch.isascii() else unicodedata.category(ch)[0] in "LMNS")
        for ch in text
    )


def _punycode(text: str) -> str:
    return "xn--" + text.encode("punycode").decode("ascii")


#: Labels of 1 to 63 letters, digits, `-` or `_`, separated by dots (host already lowered).
_ASCII_HOST = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
#: Text that `_normalise_percent` would return unchanged: allowed ASCII and no `%`.
_PLAIN = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*")


def _normalise_percent(text: str) -> str:
    """Upper-case escapes, decode unreserved characters, encode what may not appear raw."""
    if _PLAIN.fullmatch(text):
        return text
    out: list[str] = []
    since_lone = 2  # characters written since a lone `%` (2 or more: none is pending)
    i = 0
    while i < len(text):
        ch = text[i]
        escape = _PERCENT.match(text, i) if ch == "%" else None
        if escape is not None:
            decoded = chr(int(escape.group(1), 16))
            # Right after a lone `%`, a decoded hex digit would form a new escape next time.
            keep = decoded not in _UNRESERVED or since_lone < 2
            out.append(escape.group(0).upper() if keep else decoded)
            since_lone = 2
            i += 3
            continue
        if ch == "%":
            # A lone `%` stays: httpx sends it as written, and `%25` would be another URL.
            out.append(ch)
            since_lone = 0
        elif ch in _ALLOWED_ASCII:
            out.append(ch)
            since_lone = since_lone + 1 if ch in string.hexdigits else 2
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8"))
            since_lone = 2
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: `/a/./b/../c` is `/a/c`."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") or not path.startswith("/") else "/" + result


def _stable_query(query: str) -> str:
    """Parameters sorted by name when no name repeats; otherwise the order as written."""
    if not query:
        return query
    pairs = [pair for pair in query.split("&") if pair]
    names = [pair.split("=", 1)[0] for pair in pairs]
    if len(set(names)) != len(names):
        return query
    return "&".join(sorted(pairs, key=lambda pair: pair.split("=", 1)[0]))


#: What ends an address's authority (its user information, host and port) for browsers.
_AUTHORITY_END = re.compile(r"[/\\?#]")


def as_browsers_request(raw: str) -> str:
    r"""`raw` as browsers request an http(s) address written so (WHATWG URL); other text
    unchanged. They read "\" as "/" in an address whose host it ends ("http://host\report",
    "http:\\host\a\b"; up to the query), and request the page without the user name
    and password before the host ("http://guest@host/"): they send those only when the
    server asks for a login, and the check never sends them to a site.

    A backslash within a path ("http://host/a\b") is left to the canonical form, which
    has always encoded it (%5C): links keyed so cannot be told from a written "%5C"."""
    scheme, colon, rest = raw.partition(":")
    special = scheme.lower() in SUPPORTED_SCHEMES
    if not colon or not special or rest[:2].replace("\\", "/") != "//":
        return raw
    stop = _AUTHORITY_END.search(rest, 2)
    end = stop.start() if stop else len(rest)
    if "\\" in rest[:2] or rest[end : end + 1] == "\\":
        query = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        rest = rest[:query].replace("\\", "/") + rest[query:]
    authority = rest[2:end]
    if "@" in authority:
        rest = "//" + authority.rpartition("@")[2] + rest[end:]
    return f"{scheme}:{rest}"


def plain_address(url: str) -> str:
    """`url` written as browsers request it: `as_browsers_request`, and a backslash before
    the query a slash within the path too (which the check sends as %5C)."""
    plain = as_browsers_request(url)
    if "\\" not in plain or plain.partition(":")[0].lower() not in SUPPORTED_SCHEMES:
        return plain
    query = min((i for i in (plain.find("?"), plain.find("#")) if i >= 0), default=len(plain))
    return plain[:query].replace("\\", "/") + plain[query:]


def canonical_url(raw: str) -> str:
    """The link key: the canonical form, or the stripped text itself for invalid URLs.

    Surrounding whitespace never counts (the key of " https://x " is that of "https://x"),
    so the key of any text is its own key.
    """
    stripped = raw.strip() if isinstance(raw, str) else ""
    parsed = parse_url(stripped)
    return parsed.canonical if isinstance(parsed, CheckedUrl) else stripped


def loose_url_key(canonical: str) -> str | None:
    """`canonical` with http as https (on the default port), its host without a leading
    `www.` and no trailing `/` on its path; None for a URL that is not http(s). URLs with
    one such key are likely the same page (lint's `likely_duplicate_url`, an import's
    `likely_duplicate` note, an entry's URL edited keeping its set-asides: `catalog.sync`)."""
    parts = urlsplit(canonical)
    if parts.scheme not in ("http", "https"):
        return None
    scheme = "https" if parts.scheme == "http" and parts.port is None else parts.scheme
    netloc = parts.netloc.removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def same_place(a: str, b: str) -> bool:
    """Whether two URLs of one page (`canonical_url` drops the fragment) also name one
    place on it: two sections (`#texas`, `#ohio`) or two views of a script-built site
    (`#/resources/1`) are two resources; a section and the page itself, or one section
    twice, are one."""
    here, there = fragment_of(a), fragment_of(b)
    return not here or not there or here == there


def same_place_partners(urls: Sequence[str]) -> list[list[int]]:
    """For each of `urls` (one page's), the positions of the others that name the same
    place on it (`same_place`), in order. Found by fragment, not pair by pair: 4,000
    sections of one page (`#/resource/N`) took 70 s to lint, comparing every two."""
    if len(urls) < 2:  # nearly every page of a catalog: no other URL to split off
        return [[] for _ in urls]
    fragments = [fragment_of(url) for url in urls]
    bare = [i for i, fragment in enumerate(fragments) if not fragment]
    by_fragment: dict[str, list[int]] = {}
    for i, fragment in enumerate(fragments):
        if fragment:
            by_fragment.setdefault(fragment, []).append(i)
    everyone = range(len(urls))
    return [
        [j for j in everyone if j != i]
        if not fragment
        else sorted(j for j in (*bare, *by_fragment[fragment]) if j != i)
        for i, fragment in enumerate(fragments)
    ]


def with_fragment_of(url: str, old: str) -> str:
    """`url` (where `old` now leads) with `old`'s fragment when it has none of its own, as
    a browser keeps `#ohio` through a redirect (RFC 9110 10.2.2): the section the entry
    names is still the one meant at the new address."""
    fragment = fragment_of(old)
    if not fragment or fragment_of(url) or "#" in url:
        return url
    return f"{url}#{fragment}"


def fragment_of(url: str) -> str:
    """`url`'s fragment ("" for none, or for text that is no URL)."""
    try:
        return urlsplit(url.strip()).fragment if isinstance(url, str) else ""
    except ValueError:
        return ""


#: A URL's scheme and user information with a password, anywhere in a text: the password
#: runs to the authority's last "@" (the user name and the password may each hold an
#: unencoded "@": "https://jane@org.example:pw@host/").
_PASSWORD = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://[^\s/?#:\\]*):[^\s/?#\\]*@")


def without_password(text: str) -> str:
    """`text` (a URL, or a sentence quoting URLs) with each URL's password replaced by
    "***", for what others read (the reports, their JSON and CSV, Prefect's artifacts).

    Such a URL is requested without its user information (`as_browsers_request`), but the
    curator's entry is shown as written, and a report published to colleagues would hand
    out the password as a link. The user name stays, so the curator can tell which entry it is.
    """
    return _PASSWORD.sub(r"\1:***@", text) if "@" in text else text


def host_of(raw: str) -> str:
    parsed = parse_url(raw)
    return parsed.host if isinstance(parsed, CheckedUrl) else ""


def site_host(url: str | None) -> str:
    """The host name of `url` lower-cased, "www." aside ("" for none): what tells whether
    two addresses are on one site (a redirect home, a notice forwarding, a marketplace)."""
    return (urlsplit(url).hostname or "").removeprefix("www.") if url else ""


# --- hygiene facts (pure; `catalog.hygiene` turns them into findings) --------------------------


def https_upgrade_candidate(url: str) -> str | None:
    """The https form of an `http://` URL as the curator wrote it, or None when there is none.

    None for invalid or non-http URLs and for explicit non-default ports (the https
    service would live on another port we cannot guess). Whether the https form answers
    with the same content is decided during a run (`catalog.hygiene.same_content`).
    """
    parsed = parse_url(url)
    if not isinstance(parsed, CheckedUrl) or parsed.scheme != "http" or parsed.port != 80:
        return None
    parts = urlsplit(url.strip())
    netloc = parts.netloc
    if parts.port == 80:
        netloc = netloc[: netloc.rindex(":")]
    return urlunsplit(("https", netloc, parts.path, parts.query, parts.fragment))


#: Printable ASCII characters RFC 3986 does not allow in a URL as they are, which the check
#: sends percent-encoded (the canonical form), as browsers send a space (%20), quotes and
#: angle brackets; servers decode either spelling alike. Not the backslash, which browsers
#: read as "/" (the canonical form encodes it), nor non-ASCII letters: an address in the
#: curator's script is legible and standard (RFC 3987), and browsers show it that way.
_UNENCODED = ' "<>^`{|}'
_ENCODE_UNENCODED = str.maketrans({ch: f"%{ord(ch):02X}" for ch in _UNENCODED})


def unencoded_characters(url: str) -> str:
    """The characters of `_UNENCODED` that `url` holds as they are, each once, in order."""
    return "".join(dict.fromkeys(ch for ch in url if ch in _UNENCODED))


def browser_encoded(url: str) -> str:
    """`url` as written with each character of `_UNENCODED` percent-encoded (a space as
    %20), the address the check requests; nothing else of it changes. For a valid URL
    (`parse_url`): they cannot be in its host, so they are in its path, query or fragment."""
    return url.translate(_ENCODE_UNENCODED)


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def tracking_params(url: str) -> tuple[str, ...]:
    """Names of the tracking parameters in `url`'s query, in order, each once."""
    try:
        query = urlsplit(url.strip()).query
    except ValueError:
        return ()
    found: list[str] = []
    for name, _ in parse_qsl(query, keep_blank_values=True):
        if is_tracking_param(name) and name not in found:
            found.append(name)
    return tuple(found)


def without_tracking(url: str) -> str:
    """`url` as written, minus its tracking parameters (other parameters keep their order)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and not is_tracking_param(_unquote_name(pair.split("=", 1)[0]))
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


def _unquote_name(name: str) -> str:
    return parse_qsl(f"{name}=", keep_blank_values=True)[0][0] if name else name


def is_shortener(url: str) -> bool:
    """True when `url`'s host is a known link shortener (or a subdomain such as www.bit.ly)."""
    labels = host_of(url).split(".")
    return any(".".join(labels[i:]) in SHORTENER_HOSTS for i in range(len(labels) - 1))
