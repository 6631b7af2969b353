"""Translate a transport failure into one short sentence, once.

Stage: check (helper of `classify` and `retry`).
Input: any exception raised while talking to a server (httpx wraps httpcore, which wraps
the socket or ssl error in `__cause__`/`__context__`).
Output: a `Failure` — the kind of failure and a sentence a curator can act on.

Modelled on lychee's `utils/reqwest.rs`: walk the causes, recognise the few that matter,
fall back to the exception's own text. Callers match on `Failure.kind`, never on the text.
"""

from __future__ import annotations

import socket
import ssl
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import httpx

from catalog.text import clipped


class FailureKind(StrEnum):
    """The kinds of "no answer" that lead to different outcomes and retry rules."""

    TIMEOUT = "timeout"
    DNS = "dns"
    REFUSED = "refused"
    RESET = "reset"
    TLS = "tls"
    INVALID_URL = "invalid_url"
    OTHER = "other"


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    #: Lower-case clause, e.g. "the certificate has expired".
    sentence: str


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it was raised from or during, nearest first, each once."""
    seen: set[int] = set()
    queue: deque[BaseException] = deque([exc])
    while queue:
        current = queue.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        queue.extend(link for link in (current.__cause__, current.__context__) if link)


def describe_error(exc: BaseException) -> Failure:
    """Classify at the most specific level that says something useful."""
    chain = list(causes(exc))
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Failure(FailureKind.TLS, _certificate_sentence(cause))
    for cause in chain:
        if isinstance(cause, ssl.SSLError) and not isinstance(cause, _NOT_A_FAILURE):
            return _handshake_failure(cause)
    if isinstance(exc, httpx.TimeoutException) or any(isinstance(c, TimeoutError) for c in chain):
        return Failure(FailureKind.TIMEOUT, _timeout_sentence(exc))
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return Failure(FailureKind.DNS, _dns_sentence(cause))
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError):
            return Failure(FailureKind.REFUSED, "the server refused the connection")
        if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return Failure(FailureKind.RESET, "the server reset the connection")
    return _by_httpx_type(exc)


def _by_httpx_type(exc: BaseException) -> Failure:
    if isinstance(exc, httpx.RemoteProtocolError):
        text = _gist(exc)
        if "disconnect" in text or "closed" in text or "incomplete" in text:
            return Failure(
                FailureKind.RESET, "the server closed the connection before answering completely"
            )
        return Failure(
            FailureKind.OTHER, f"the server sent a malformed HTTP answer ({_flaw(text)})"
        )
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return Failure(FailureKind.RESET, "the connection broke in the middle of the answer")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Failure(
            FailureKind.INVALID_URL, f"the address cannot be requested ({_one_line(str(exc))})"
        )
    if isinstance(exc, httpx.DecodingError):
        return Failure(FailureKind.OTHER, "the server's compressed answer could not be decoded")
    if isinstance(exc, httpx.ConnectError):
        detail = _os_detail(exc)
        return Failure(FailureKind.OTHER, f"could not connect to the server ({detail})")
    if isinstance(exc, httpx.ProxyError):
        return Failure(FailureKind.OTHER, f"the proxy failed ({_one_line(str(exc))})")
    if isinstance(exc, httpx.TransportError):
        return Failure(FailureKind.OTHER, f"the connection failed ({_os_detail(exc)})")
    return Failure(
        FailureKind.OTHER, f"the request failed ({type(exc).__name__}: {_one_line(str(exc))})"
    )


def _gist(exc: BaseException) -> str:
    """What a parser's message says, lower-case, without what it quotes of the answer.

    llhttp (through aiohttp) and h11 put the offending bytes after a colon, on the same
    line or the next ("Duplicate Content-Length:\n\n  b'Content-Length: 733'\n  ^"), and
    those bytes can be a whole page: they must not reach a reason, nor decide its kind
    (a page saying "closed" read as a dropped connection)."""
    text = str(exc)
    if ", message:\n" in text[:24]:  # aiohttp's "400, message:\n  <llhttp's message>"
        text = text.split("\n", 1)[1]
    return text.strip().split("\n", 1)[0].split(":", 1)[0].lower()


#: What is wrong with a malformed answer, by the words llhttp's or h11's message uses,
#: first match wins: (words that must all appear, the clause a curator reads).
_FLAWS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("conflicting", "content-length"), "two Content-Length headers that disagree"),
    (("duplicate", "content-length"), "two Content-Length headers"),
    (("content-length", "transfer-encoding"), "both Content-Length and Transfer-Encoding"),
    (("content-length",), "a Content-Length that cannot be read"),
    (("transfer-encoding",), "a Transfer-Encoding that cannot be read"),
    (("chunk",), "a chunked body whose framing is broken"),
    (("status",), "a first line that is not an HTTP status line"),
    (("expected http",), "a first line that is not an HTTP status line"),
    (("version",), "a first line that is not an HTTP status line"),
    (("got more than",), "a header line too long to read"),
    (("too long",), "headers too long to read"),
    (("header",), "malformed headers"),
)


def _flaw(gist: str) -> str:
    """A short clause naming what is malformed, from a fixed list: one line, bounded."""
    for words, clause in _FLAWS:
        if all(word in gist for word in words):
            return clause
    return "an answer that cannot be read"


def _os_detail(exc: BaseException) -> str:
    for cause in causes(exc):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return _one_line(str(exc)) or type(exc).__name__


#: Characters of an exception's own text a reason quotes at most.
DETAIL_CHARS = 120


def _one_line(text: str) -> str:
    """`text`'s first line, cut to `DETAIL_CHARS`: exception texts can quote whole answers."""
    return clipped(text.strip().split("\n", 1)[0].strip(), DETAIL_CHARS)


def _timeout_sentence(exc: BaseException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "the server did not accept a connection in time"
    if isinstance(exc, httpx.ReadTimeout):
        return "the server stopped sending data before the answer was complete"
    if isinstance(exc, httpx.WriteTimeout):
        return "the server stopped accepting our request"
    if isinstance(exc, httpx.PoolTimeout):
        return "no connection became free in time (our side was too busy)"
    return "the server did not answer in time"


def _dns_sentence(exc: socket.gaierror) -> str:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return "the host name does not exist in DNS"
    if exc.errno == socket.EAI_AGAIN:
        return "DNS did not answer for the host name (temporary failure)"
    return f"the host name could not be resolved ({exc.strerror or exc})"


def _certificate_sentence(exc: ssl.SSLCertVerificationError) -> str:
    message = str(
        getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
    ).strip()
    lowered = message.lower()
    if "expired" in lowered:
        return "the certificate has expired"
    if "not yet valid" in lowered:
        return "the certificate is not valid yet"
    if "hostname mismatch" in lowered or "ip address mismatch" in lowered:
        return "the certificate belongs to a different host name"
    if "self-signed" in lowered or "self signed" in lowered:
        return "the certificate is self-signed, so browsers do not trust it"
    if "local issuer" in lowered or "issuer certificate" in lowered:
        return (
            "the certificate is not signed by an authority browsers trust "
            "(or the server omits its intermediate certificate)"
        )
    if "revoked" in lowered:
        return "the certificate has been revoked"
    return f"the certificate was rejected ({message})"


#: ssl's "call again when data comes" signals, which asyncio's TLS layer handles: aiohttp
#: leaves one beside the `ConnectionResetError` of a reset during the handshake, where it
#: says nothing of the failure (read first, it made a reset a "Certificate problem").
_NOT_A_FAILURE = (ssl.SSLWantReadError, ssl.SSLWantWriteError)


def _handshake_failure(exc: ssl.SSLError) -> Failure:
    reason = str(getattr(exc, "reason", None) or "").upper()
    if isinstance(exc, ssl.SSLEOFError) or "EOF" in reason:
        return Failure(FailureKind.TLS, "the server cut off the secure (TLS) handshake")
    if "WRONG_VERSION_NUMBER" in reason:
        # No certificate was offered, so no certificate is at fault (the outcome's
        # "browsers will warn about its certificate" was untrue): plain HTTP on the HTTPS
        # port, or a proxy on the way that answers so.
        return Failure(
            FailureKind.OTHER,
            "the server does not speak HTTPS on this port (it answered the secure "
            "connection in another protocol, most often plain HTTP)",
        )
    if "PROTOCOL_VERSION" in reason or "UNSUPPORTED_PROTOCOL" in reason:
        return Failure(FailureKind.TLS, "the server only offers outdated TLS versions")
    detail = getattr(exc, "reason", None) or str(exc)
    return Failure(FailureKind.TLS, f"the secure (TLS) handshake failed ({detail})")
