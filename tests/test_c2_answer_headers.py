"""`transport.AnswerHeaders`: an answer's headers looked up by name read a table made once,
and every lookup answers as `httpx.Headers` does (the checker's verdicts read them)."""

from __future__ import annotations

import asyncio
import ssl

import httpx
from hypothesis import given
from hypothesis import strategies as st

from catalog.check.checker import KEEPALIVE_S
from catalog.check.transport import AiohttpPool, AnswerHeaders

TIMEOUT = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}

#: Header names as servers spell them, in any case, repeated or not.
_NAMES = st.sampled_from(
    [
        *(b"Content-Type", b"content-type", b"ETag", b"Set-Cookie", b"set-cookie"),
        *(b"Location", b"X-\xc3\xa9", b"Retry-After", b"CONTENT-LENGTH"),
    ]
)
#: Values in ASCII, UTF-8 and bytes only Latin-1 reads (the headers' encoding differs).
_VALUES = st.sampled_from(
    [b"", b"text/html", b'W/"1"', b"a=1; Path=/", b"caf\xc3\xa9", b"\xe9t\xe9"]
)
#: The names looked up are ASCII, as the checker's are.
_LOOKUPS = ["content-type", "Content-Type", "etag", "set-cookie", "location", "retry-after", "age"]


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=8))
def test_lookups_answer_as_httpx_headers_do(raw: list[tuple[bytes, bytes]]) -> None:
    ours, theirs = AnswerHeaders(raw), httpx.Headers(raw)
    assert ours.encoding == theirs.encoding
    for name in _LOOKUPS:
        assert ours.get(name) == theirs.get(name)
        assert ours.get(name, "none") == theirs.get(name, "none")
        assert (name in ours) == (name in theirs)
        try:
            expected: str | None = theirs[name]
        except KeyError:
            expected = None
        if expected is None:
            try:
                ours[name]
            except KeyError:
                pass
            else:
                raise AssertionError(f"{name!r} found in ours, not in httpx's")
        else:
            assert ours[name] == expected
    assert ours == theirs and ours.raw == theirs.raw


def test_changed_headers_are_looked_up_afresh() -> None:
    headers = AnswerHeaders([(b"ETag", b'"1"'), (b"Set-Cookie", b"a=1")])
    assert headers.get("etag") == '"1"' and "location" not in headers
    headers["ETag"] = '"2"'
    headers["Location"] = "/next"
    assert headers["etag"] == '"2"' and "location" in headers
    del headers["set-cookie"]
    assert headers.get("set-cookie") is None
    headers.update({"Set-Cookie": "b=2"})
    assert headers["set-cookie"] == "b=2"
    assert headers.setdefault("Age", "5") == "5" and headers["age"] == "5"
    headers.encoding = "iso-8859-1"
    assert headers["etag"] == '"2"'


def test_the_transports_answers_carry_them() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"
        b'ETag: W/"7"\r\n\r\nok'
    )

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def scenario() -> httpx.Response:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = AiohttpPool(ssl.create_default_context(), 2, KEEPALIVE_S)
        try:
            async with server:
                request = httpx.Request(
                    "GET", f"http://127.0.0.1:{port}/", extensions={"timeout": TIMEOUT}
                )
                response = await pool.handle_async_request(request)
                await response.aread()
                await response.aclose()
                return response
        finally:
            await pool.aclose()

    response = asyncio.run(scenario())
    assert isinstance(response.headers, AnswerHeaders)
    assert response.headers["set-cookie"] == "a=1, b=2"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["etag"] == 'W/"7"' and response.content == b"ok"
