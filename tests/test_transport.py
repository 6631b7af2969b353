"""`AiohttpPool`: what goes on the wire is what httpx built, and failures read as httpx's.

Each test talks to a raw server on 127.0.0.1 that records the bytes it receives and sends
back the bytes the test chose, so request targets, header lines and malformed answers are
exact, not whatever an HTTP library on the server side would make of them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from catalog.check.checker import KEEPALIVE_S
from catalog.check.reasons import FailureKind, describe_error
from catalog.check.transport import AiohttpPool

TIMEOUT = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


@dataclass
class RawServer:
    """Answers the n-th request with `answers[n]`; records heads and connections."""

    answers: list[bytes]
    #: Close the connection after each answer (a server that drops it mid-body).
    close_after: bool = False
    heads: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                writer.write(self.answers[len(self.heads) - 1])
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _with_server(
    answers: list[bytes],
    scenario: Callable[[RawServer, AiohttpPool], Awaitable[None]],
    close_after: bool = False,
) -> RawServer:
    raw = RawServer(answers, close_after)
    server = await asyncio.start_server(raw._serve, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    pool = AiohttpPool(ssl.create_default_context(), 2, KEEPALIVE_S)
    try:
        async with server:
            await scenario(raw, pool)
    finally:
        await pool.aclose()
    return raw


async def _get(pool: AiohttpPool, url: str, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", url, headers=headers, extensions={"timeout": TIMEOUT})
    response = await pool.handle_async_request(request)
    await response.aread()
    await response.aclose()
    return response


def _answer(body: bytes = b"ok", *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def test_request_target_and_headers_go_out_as_httpx_built_them() -> None:
    # The catalog's percent-encoding is part of the URL a server sees: yarl must not
    # re-quote it, and aiohttp must add no User-Agent or Accept of its own.
    path = "/a%2Fb/%7Euser/caf%C3%A9;v=1?q=a%20b&x=%2F&y=%3D"

    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        response = await _get(pool, f"http://127.0.0.1:{raw.port}{path}", **{"User-Agent": "lh"})
        assert response.status_code == 200 and response.content == b"ok"

    raw = asyncio.run(_with_server([_answer()], scenario))
    request_line, *header_lines = raw.heads[0].decode("latin-1").strip().split("\r\n")
    assert request_line == f"GET {path} HTTP/1.1"
    names = [line.split(":", 1)[0].lower() for line in header_lines]
    assert "user-agent: lh" in [line.lower() for line in header_lines]
    assert "accept" not in names and "accept-encoding" not in names
    assert names.count("host") == 1


def test_a_hosts_next_request_reuses_the_connection() -> None:
    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        for n in range(3):
            response = await _get(pool, f"http://127.0.0.1:{raw.port}/{n}")
            assert response.content == b"ok"

    raw = asyncio.run(_with_server([_answer()] * 3, scenario))
    assert len(raw.heads) == 3 and raw.connections == 1


def test_a_body_left_unread_is_never_read_as_the_next_answer() -> None:
    # Closing a body before its end must drop the connection (the rest of it would
    # otherwise be parsed as the next answer) and give its place in the pool back: more
    # bodies cut short than the pool holds must not leave the host's next request waiting.
    # A body far longer than what arrives: the server sends a start and then waits.
    unfinished = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000
    cut_short = 3  # the pool holds 2

    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        for n in range(cut_short):
            request = httpx.Request(
                "GET", f"http://127.0.0.1:{raw.port}/big/{n}", extensions={"timeout": TIMEOUT}
            )
            response = await asyncio.wait_for(pool.handle_async_request(request), 5)
            async for _chunk in response.aiter_raw():
                break
            await response.aclose()
        second = await asyncio.wait_for(_get(pool, f"http://127.0.0.1:{raw.port}/next"), 5)
        assert second.status_code == 200 and second.content == b"ok"

    raw = asyncio.run(_with_server([unfinished] * cut_short + [_answer()], scenario))
    assert raw.connections == cut_short + 1


def test_header_lines_of_tens_of_kilobytes_are_read() -> None:
    cookie = "Set-Cookie: session=" + "c" * 20_000

    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        response = await _get(pool, f"http://127.0.0.1:{raw.port}/")
        assert response.status_code == 200
        assert len(response.headers["set-cookie"]) > 20_000

    asyncio.run(_with_server([_answer(b"ok", cookie)], scenario))


@pytest.mark.parametrize(
    "answer",
    [
        b"SPDY/9 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["not-http", "bad-status", "bad-chunk-size"],
)
def test_a_malformed_answer_is_a_protocol_error_not_a_crash(answer: bytes) -> None:
    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await _get(pool, f"http://127.0.0.1:{raw.port}/")
        failure = describe_error(caught.value)
        assert failure.kind is FailureKind.OTHER and "malformed" in failure.sentence

    # Twice: llhttp's refusal is read once more by h11 (`AiohttpPool._reread`).
    asyncio.run(_with_server([answer] * 2, scenario))


@pytest.mark.parametrize(
    "answer",
    [
        _answer(b"ok", "Content-Length: 2"),
        _answer(b"ok").replace(b"Content-Length: 2", b"Content-Length: 2, 2"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokay, and then some",
    ],
    ids=["length-twice", "length-list", "body-past-length"],
)
def test_an_answer_llhttp_refuses_is_read_once_more_by_h11(answer: bytes) -> None:
    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        response = await _get(pool, f"http://127.0.0.1:{raw.port}/page")
        assert response.status_code == 200 and response.content == b"ok"

    raw = asyncio.run(_with_server([answer, answer], scenario, close_after=True))
    assert raw.connections == 2 and len(raw.heads) == 2, "one re-read, on its own connection"
    first, again = (sorted(head.lower().split(b"\r\n")) for head in raw.heads)
    assert first == again, "the same request"


def test_an_answer_both_parsers_refuse_is_read_twice_at_most() -> None:
    answer = _answer(b"ok", "Content-Length: 3")  # two lengths that disagree

    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await _get(pool, f"http://127.0.0.1:{raw.port}/")
        assert describe_error(caught.value).sentence == (
            "the server sent a malformed HTTP answer (two Content-Length headers that disagree)"
        )

    raw = asyncio.run(_with_server([answer] * 3, scenario, close_after=True))
    assert len(raw.heads) == 2


@pytest.mark.parametrize(
    "short",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_cut_short_by_the_server_is_a_broken_connection(short: bytes) -> None:
    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await _get(pool, f"http://127.0.0.1:{raw.port}/")
        assert describe_error(caught.value).kind is FailureKind.RESET

    asyncio.run(_with_server([short], scenario, close_after=True))


@pytest.mark.parametrize(
    "short",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly this\r\n1000\r\nab",
    ],
    ids=["content-length", "chunked"],
)
def test_a_cut_bodys_bytes_come_before_the_failure_even_to_a_late_reader(short: bytes) -> None:
    # A body that came whole with the hang-up, read a moment later (the check busy elsewhere
    # on the loop): aiohttp raised at once and dropped the bytes it held, so a whole page
    # followed by a broken chunk read as cut before its end.
    async def scenario(raw: RawServer, pool: AiohttpPool) -> None:
        request = httpx.Request(
            "GET", f"http://127.0.0.1:{raw.port}/", extensions={"timeout": TIMEOUT}
        )
        response = await pool.handle_async_request(request)
        await asyncio.sleep(0.2)  # the rest and the hang-up arrive meanwhile
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            async for chunk in response.aiter_raw():
                received.append(chunk)
        await response.aclose()
        assert b"".join(received).startswith(b"only this")

    asyncio.run(_with_server([short], scenario, close_after=True))


def test_a_refused_connection_reads_as_refused() -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        pool = AiohttpPool(ssl.create_default_context(), 2, KEEPALIVE_S)
        try:
            with pytest.raises(httpx.ConnectError) as caught:
                await _get(pool, f"http://127.0.0.1:{port}/")
        finally:
            await pool.aclose()
        assert describe_error(caught.value).kind is FailureKind.REFUSED

    asyncio.run(scenario())


def test_aiohttp_still_makes_each_connection_s_protocol_where_the_checker_replaces_it() -> None:
    """`_Handler` (a chunk llhttp refuses fails the body; a connection holding a stray
    answer is not reused) is put in through aiohttp's private `_factory`. Were it renamed
    by an aiohttp release, the assignment would silently do nothing: this fails first."""
    import aiohttp

    from catalog.check.transport import _default_protocol

    async def made() -> bool:
        connector = aiohttp.TCPConnector()
        try:
            return _default_protocol(connector)
        finally:
            await connector.close()

    assert asyncio.run(made())


def test_a_request_dropped_on_a_reused_connection_is_resent_on_a_fresh_one() -> None:
    # A server that answers one request per connection and drops the next unanswered (it
    # closed the connection while we held it idle). The retry of a dropped request took
    # the host's next idle connection, as stale, and a working link ended "connection
    # reset" after its retries (r2 F11). Browsers resend on a fresh connection.
    served: list[int] = []
    both_in = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(0)
        try:
            await reader.readuntil(b"\r\n\r\n")
            if len(served) == 2:
                both_in.set()
            await asyncio.wait_for(both_in.wait(), 5)  # two connections open at once
            writer.write(_answer())
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")  # the next request: dropped unanswered
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = AiohttpPool(ssl.create_default_context(), 3, KEEPALIVE_S)
        try:
            async with server:
                await asyncio.gather(_get(pool, f"{base}/a"), _get(pool, f"{base}/b"))
                with pytest.raises(httpx.RemoteProtocolError):
                    await _get(pool, f"{base}/page")  # on a stale connection
                both_in.set()
                # Another URL of the host meanwhile: its fresh connection is idle after it.
                assert (await _get(pool, f"{base}/other")).status_code == 200
                retry = await asyncio.wait_for(_get(pool, f"{base}/page"), 5)
                assert retry.status_code == 200 and retry.content == b"ok"
        finally:
            await pool.aclose()
        # The other URL on a connection of its own, and the retry on another.
        assert len(served) == 4

    asyncio.run(scenario())
