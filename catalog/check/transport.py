"""One host's connections, spoken by aiohttp behind httpx's transport interface.

Stage: check (below `HostPools`). Input: an `httpx.Request`. Output: an `httpx.Response`
whose body streams from the socket, or an httpx exception carrying the socket or ssl
error as its cause, exactly as httpx's own transport raises them: `reasons.describe_error`
and everything above it see httpx and nothing else.

Why not httpx's own transport: httpcore parses HTTP in pure Python (h11) and wraps every
read, write, lock and deadline in anyio; on the benchmark that cost ~0.8 ms of CPU per
request, a quarter of the checker's CPU. aiohttp's connection pool and C parser (llhttp) do
the same exchange for ~0.45 ms (`bench/RESULTS.md`). httpx stays the API of the
checker (requests, responses, headers, cookies, URL joining); only the bytes on the wire
change hands. (No proxy: checks connect to the addresses the safety check resolved.)
The `httpx-aiohttp` package does the same in spirit but maps every connection error to
`ConnectTimeout` and a reset to a timeout, which would turn "the server reset the
connection" into "timed out".

llhttp is stricter than browsers, curl and h11: it refuses an answer with the same
Content-Length twice, a length list ("733, 733"), Transfer-Encoding beside a
Content-Length, a header line over `MAX_HEADER_LINE`, or bytes past the Content-Length in
the same read. An answer it refuses is read once more by httpx's own transport
(`_reread`), connected the same way, and only what h11 refuses too is a failure.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import aiohttp
import httpcore
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from catalog.check.reasons import causes
from catalog.check.safety import Resolver

#: Header lines up to this many bytes are read (aiohttp's default is 8 KiB; httpcore took
#: up to 100 KiB in all, and government sites do send cookies of several KiB).
MAX_HEADER_LINE = 64 * 1024


class AiohttpPool(httpx.AsyncBaseTransport):
    """Keep-alive connections to one host, at most `size` at once.

    With `resolve`, a host name is connected to at the addresses it gives (the run's
    `safety.AddressBook`, which the address check read) instead of aiohttp's own lookup.
    `tls` None: a pool of http:// URLs, which need no trust store (`HostPools` loads it
    for the first https:// host only); its stand-in trusts nothing, so a TLS handshake it
    were ever asked for would fail, never pass unverified. `tls` may be what makes the
    context, called when the pool first connects: a pool that never does (its requests
    answered by a test's mock of this transport) loads no trust store.
    """

    def __init__(
        self,
        tls: ssl.SSLContext | Callable[[], ssl.SSLContext] | None,
        size: int,
        keepalive_s: float,
        resolve: Resolver | None = None,
    ) -> None:
        self._tls_source = tls
        self._size = size
        self._keepalive_s = keepalive_s
        self._resolve = resolve
        self._session: aiohttp.ClientSession | None = None
        #: Connections made before the host last dropped one unanswered are not reused,
        #: and a request it dropped is sent again on a connection of its own (`_Handler`).
        self._epoch = _Epoch()
        self._dropped: set[tuple[str, str]] = set()

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        source = self._tls_source
        if source is None:
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return source if isinstance(source, ssl.SSLContext) else source()

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp binds a session to the running event loop.
        resolver = _Pinned(self._resolve) if self._resolve is not None else None
        connector = aiohttp.TCPConnector(
            limit=self._size,
            keepalive_timeout=self._keepalive_s,
            ssl=self._tls,
            resolver=resolver,
            use_dns_cache=resolver is None,  # the address book keeps them for the run
        )
        # Each connection's protocol, so that a body llhttp refuses part-way fails (`_Handler`).
        # A private hook: had aiohttp renamed it, the assignment would do nothing, silently.
        if not _default_protocol(connector):
            raise RuntimeError(f"aiohttp {aiohttp.__version__}: no protocol factory to replace")
        connector._factory = functools.partial(  # type: ignore[assignment]  # a subclass
            _Handler, loop=asyncio.get_running_loop(), epoch=self._epoch
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # each check keeps its cookies in its own jar
            auto_decompress=False,  # `fetch.read_capped` inflates with a cap (gzip bombs)
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),  # httpx's, or none
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=MAX_HEADER_LINE,
            max_field_size=MAX_HEADER_LINE,
        )
        # aiohttp resends a GET or HEAD once, unseen, when the connection drops: a request
        # the host's rate gate never granted, and a retry `retry.py` did not decide. Its own
        # test client turns this off the same way (no public switch as of aiohttp 3.14).
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None:
            session = self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        # "answer": how long to wait for the answer to begin, when not `read` (`fetch.
        # Fetcher.answer_wait`); `read` is the longest a begun answer may then go quiet.
        read, answer = timeout.get("read"), timeout.get("answer", timeout.get("read"))
        if self._dropped:  # the retry of a request dropped unanswered goes on a new connection
            sent = (request.method, str(request.url))
            if sent in self._dropped:
                self._dropped.discard(sent)
                self._epoch.now += 1
        try:
            response = await session.request(
                request.method,
                # As httpx encoded it: yarl must not re-quote what the catalog spelled.
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=timeout.get("connect"), sock_read=answer
                ),
            )
        except _FAILURES as exc:
            if isinstance(exc.__cause__, HttpProcessingError):  # an answer llhttp refused
                return await self._reread(request, exc)
            if _dropped(exc):
                self._epoch.now += 1
                self._dropped.add((request.method, str(request.url)))
            raise _as_httpx(exc) from _cause(exc)
        if answer != read:
            _quiet_body(response, read)
        extensions: dict[str, object] = {
            "http_version": b"HTTP/%d.%d" % tuple(response.version or (1, 1))
        }
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        answer = httpx.Response(
            response.status, stream=_Body(response), request=request, extensions=extensions
        )
        answer.headers = AnswerHeaders(response.raw_headers)
        return answer

    async def _reread(self, request: httpx.Request, refusal: BaseException) -> httpx.Response:
        """`request` once more, through httpx's own transport (httpcore and h11, which read
        what browsers read), on a connection of its own to the same checked addresses.

        This one re-read is part of the same request: the host's gate granted it once and
        `retry.py` sees one attempt, whatever h11 makes of the answer (its refusal, when
        the answer is malformed for h11 too, is the attempt's error). It is the only
        request sent behind the retry policy's back, and only after a refusal by the
        parser, never after a failure of the network or the server.

        A re-read that ends without h11's word on the answer (h11 waits for the end of a
        head that never comes, the server hangs up) leaves llhttp's `refusal` standing:
        an SSH banner or an HTTP/0.9 page read as "timed out" or "connection reset", a
        slow or flaky server, where the server had answered at once in no HTTP at all.
        """
        transport = httpx.AsyncHTTPTransport(verify=self._tls, trust_env=False)
        # Its pool, made again with a backend that connects where `_Pinned` does (httpx
        # takes no network backend; httpx is pinned). One connection, closed with the body.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=self._tls, max_connections=1, network_backend=_PinnedBackend(self._resolve)
        )
        response: httpx.Response | None
        try:
            response = await transport.handle_async_request(request)
        except BaseException as exc:
            await transport.aclose()
            if _h11_refused(exc) or not isinstance(exc, httpx.TransportError):
                raise
            response = None
        if response is None:  # raised here, where the re-read's failure is not its cause
            raise _as_httpx(refusal) from _cause(refusal)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Closing(response.stream, transport)
        return response

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _quiet_body(response: aiohttp.ClientResponse, read: float | None) -> None:
    """Hold the rest of `response`'s body to `read` seconds of quiet, from now and its
    later bytes, after a wait of another length for its head (aiohttp 3.14.5's timer).

    Only while the body is still coming: its end stops the timer (`on_eof`), and one
    started after that end fired later on the idle connection and failed the next request
    on it. Nor while reading is paused (our reader is behind): the pause stopped the timer
    and its end starts it again; one started meanwhile fired on a body that was coming."""
    connection, content = response.connection, response.content
    protocol = connection.protocol if connection is not None else None
    if protocol is None or content.is_eof():
        return  # read whole already, or none to read (HEAD, 204, 304)
    protocol.read_timeout = read
    if not (protocol._reading_paused or protocol._buffer_paused):
        protocol.start_timeout()


class AnswerHeaders(httpx.Headers):
    """`httpx.Headers` whose lookups by name (`get`, `[]`, `in`) read a table made at the
    first of them, with the same answers: a name's values joined by ", ", names compared
    without case, under the headers' own encoding.

    httpx scans and decodes every header at each lookup, and an answer's headers are
    looked up a dozen times per URL (type, length, encoding, validators, Retry-After,
    cookies, redirects, the block and login checks): 12 lookups of 20 headers cost
    15.6 µs a response, 8.8 µs with the table. Changing the headers drops the table;
    reading them otherwise (`raw`, `items`, `get_list`) is httpx's own. (A name that is
    not ASCII, which the checker never looks up, is not found rather than an error.)
    """

    _table: dict[str, str] | None = None

    def _names(self) -> dict[str, str]:
        names = self._table
        if names is None:
            encoding, names = self.encoding, {}
            for raw_name, raw_value in self.raw:
                name, value = raw_name.lower().decode(encoding), raw_value.decode(encoding)
                names[name] = f"{names[name]}, {value}" if name in names else value
            self._table = names
        return names

    @property
    def encoding(self) -> str:
        return httpx.Headers.encoding.fget(self)  # type: ignore[attr-defined,no-any-return]

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._table = None
        httpx.Headers.encoding.fset(self, value)  # type: ignore[attr-defined]

    def __getitem__(self, key: str) -> str:
        try:
            return self._names()[key.lower()]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._names().get(key.lower(), default)

    def __contains__(self, key: Any) -> bool:
        return key.lower() in self._names()

    def __setitem__(self, key: str, value: str) -> None:
        try:
            super().__setitem__(key, value)
        finally:
            self._table = None

    def __delitem__(self, key: str) -> None:
        try:
            super().__delitem__(key)
        finally:
            self._table = None

    def update(self, headers: Any = None) -> None:  # type: ignore[override]
        try:
            super().update(headers)  # looks names up before it adds the new headers
        finally:
            self._table = None


class _Epoch:
    """A pool's count of the times its host dropped a connection before answering."""

    now = 0


def _dropped(exc: BaseException) -> bool:
    """Whether `exc` is a connection closed or reset before an answer came, not a failure
    to connect (refused, DNS, TLS) or a timeout."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return False
    return isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)


class _Handler(ResponseHandler):
    """aiohttp's protocol for one connection, with two fixes for what servers send past
    an answer (aiohttp 3.14.5), and none reused after its host dropped a connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, epoch: _Epoch) -> None:
        super().__init__(loop)
        self._epoch = epoch
        self._born = epoch.now

    def is_connected(self) -> bool:
        """Whether the connection may serve another request, asked of idle connections only
        (the pool's reuse and clean-up): not when an answer came that nobody asked for.

        A server that sends a second answer a moment after the first (a stray 404 after a
        chunked page) had it queued on the idle connection, and the next request took it
        for its own: a working link read as "not found", and each later link on that
        connection got the answer of the one before. curl and browsers do not reuse a
        connection that has unread bytes, nor do we.

        Nor one made before its host last dropped a request unanswered: a server that
        closes idle connections (a restart, a limit of requests per connection) has closed
        their twins too, and each retry of a working link took the next of them and was
        dropped again ("connection reset" after two retries). Browsers resend on a fresh
        connection, and so does the retry (`AiohttpPool`).
        """
        return (
            not self._buffer
            and not self._tail
            and self._born == self._epoch.now
            and super().is_connected()
        )

    def set_exception(self, exc: BaseException, *args: Any, **kwargs: Any) -> None:
        """Fail the body being read too, not only the connection, when llhttp refused it.

        When llhttp refuses bytes after an answer's head (a malformed chunk in a later
        read), aiohttp fails the connection's queue of answers, closes the socket and stops
        the read timeout, but tells the body nothing: its reader waited for the URL's
        deadline, and a broken answer read as "timed out", a slow site, not a broken one.
        Any other failure (a read timeout, a reset) aiohttp gives the body itself.
        """
        payload = self._payload
        super().set_exception(exc, *args, **kwargs)
        if not isinstance(exc, HttpProcessingError):
            return
        if payload is not None and not payload.is_eof() and payload.exception() is None:
            failure = aiohttp.ClientPayloadError(exc.message or type(exc).__name__)
            payload.set_exception(failure, exc)


def _default_protocol(connector: aiohttp.BaseConnector) -> bool:
    """Whether `connector` makes its connections' protocol with the private `_factory`
    `_Handler` replaces (aiohttp 3.14: `functools.partial(ResponseHandler, loop=...)`)."""
    factory = getattr(connector, "_factory", None)
    return isinstance(factory, functools.partial) and factory.func is ResponseHandler


class _Pinned(AbstractResolver):
    """aiohttp's resolver interface over our `Resolver`, so that a connection goes to an
    address the address check has seen, not to a second DNS answer."""

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = []
        for address in await self._resolve(host, port):
            kind = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family in (socket.AF_UNSPEC, kind):
                found.append(
                    ResolveResult(
                        hostname=host,
                        host=address,
                        port=port,
                        family=kind,
                        proto=socket.IPPROTO_TCP,
                        flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                    )
                )
        if not found:
            raise OSError(f"no address of the family the connection asked for ({family})")
        return found

    async def close(self) -> None:
        pass


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting to the addresses `resolve` gives (the run's
    address book, as `_Pinned`), in turn. TLS still names and verifies the host itself."""

    def __init__(self, resolve: Resolver | None) -> None:
        self._resolve = resolve
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._resolve is None:
            addresses = [host]
        else:
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # the address book never holds an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("checks connect over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _Closing(httpx.AsyncByteStream):
    """A re-read answer's body; closing it closes the transport it came by."""

    def __init__(self, stream: httpx.AsyncByteStream, transport: httpx.AsyncHTTPTransport) -> None:
        self._stream = stream
        self._transport = transport

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            await self._transport.aclose()


class _Body(httpx.AsyncByteStream):
    """The response body as the socket delivers it, undecoded."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while chunk := await content.readany():
                yield chunk
        except _FAILURES as exc:
            if rest := _received(content):
                yield rest
            raise _as_httpx(exc) from _cause(exc)

    async def aclose(self) -> None:
        # A body read to its end gives the connection back for the next request; a body
        # left unread (HEAD aside) closes it, since its rest would be the next answer.
        self._response.release()


def _received(content: aiohttp.StreamReader) -> bytes:
    """The bytes of a body that came before it failed, not yet read: a socket gives them
    before its error, aiohttp's reader raises at once (3.14.5) and drops them.

    A page whose last bytes came in the same read as the server's hang-up (a page and a
    broken chunk after it, a proxy closing early) lost its end whenever the check was not
    already waiting for them, and read as cut short (`fetch.read_page_body`). A private
    method: had aiohttp renamed it, the bytes are lost as before (`test_transport` says).
    """
    read_nowait = getattr(content, "_read_nowait", None)
    if read_nowait is None:
        return b""
    try:
        data = read_nowait(-1)
    except Exception:  # its read timer ran out, or the reader was torn down meanwhile
        return b""
    return data if isinstance(data, bytes) else b""


#: What aiohttp raises for what a server or the network did; anything else is a bug of ours
#: and goes up unchanged.
_FAILURES = (aiohttp.ClientError, OSError, TimeoutError)


def _h11_refused(exc: BaseException) -> bool:
    """Whether h11 itself refused the answer under `exc` (httpcore raises its own errors
    from h11's); h11 is named by module, being httpcore's dependency, not ours."""
    return any(type(cause).__module__.partition(".")[0] == "h11" for cause in causes(exc))


def _cause(exc: BaseException) -> BaseException:
    """The socket or ssl error under an aiohttp error, where the caller looks for it."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return exc.certificate_error
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.os_error
    return exc.__cause__ or exc


def _as_httpx(exc: BaseException) -> httpx.TransportError:
    """The exception httpx's own transport raises for the same failure."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake
        return httpx.ConnectError(text)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, TimeoutError):  # aiohttp's read timeouts are TimeoutErrors too
        return httpx.ReadTimeout(text)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("Server disconnected without sending a response.")
    if isinstance(exc, aiohttp.ClientPayloadError):
        # A body cut short (closed early, Content-Length not reached, chunks ending
        # mid-way) or malformed chunked framing.
        if "not completed" in text or "ContentLength" in text:
            return httpx.RemoteProtocolError(f"incomplete message body: {text}")
        return httpx.RemoteProtocolError(text)
    if isinstance(exc, aiohttp.ClientResponseError):  # a status line or header llhttp refused
        return httpx.RemoteProtocolError(exc.message or text)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(text)
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):  # resets while talking
        return httpx.ReadError(text)
    return httpx.TransportError(text)
