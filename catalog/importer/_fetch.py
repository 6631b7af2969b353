"""The source of an import: a file, or a page fetched with httpx.

A page is fetched under the checker's address rule (`catalog.check.safety`): the address
given and every redirect's must be public or allow-listed, so an address from a mail or a
chat that redirects to 127.0.0.1 or the cloud metadata address reads nothing of ours.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from pathlib import Path

import httpcore
import httpx

from catalog.check.safety import (
    check_allowlist,
    forbidden_host,
    is_ip_address,
    refused_as_written,
)
from catalog.errors import LinkhealthError
from catalog.importer._csv import decode_spreadsheet
from catalog.settings import CheckSettings
from catalog.text import META_CHARSET, charset_codec


def read_source(
    file_or_url: str,
    *,
    client: httpx.Client | None = None,
    user_agent: str | None = None,
    check: CheckSettings | None = None,
) -> tuple[str, str | None]:
    """The text of a file or an http(s) URL, and the URL relative links resolve against.
    `check` gives the address rule (`allow_private`, `private_allowlist`; default: no
    private address); a `client` given is used as it is, without it."""
    if re.match(r"(?i)https?://", file_or_url):
        response = _fetch(file_or_url, client=client, user_agent=user_agent, check=check)
        if response.charset_encoding:
            return response.text, str(response.url)
        return decode_page(response.content), str(response.url)
    return decode_page(_read_file(file_or_url)), None


def decode_page(data: bytes) -> str:
    """A page's text as a browser shows it: by its byte order mark, else UTF-8 when it is
    that, else the charset its <meta> names (read as the checker reads it:
    `catalog.text.charset_codec`), else windows-1252 (what browsers take for an undeclared
    legacy page); a saved "Latin-1" page lost every accent to U+FFFD before."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = META_CHARSET.search(data[:4096])
    codec = charset_codec(declared.group(1).decode("ascii")) if declared else None
    return data.decode(codec or "cp1252", errors="replace")


def read_spreadsheet(
    file_or_url: str,
    *,
    client: httpx.Client | None = None,
    user_agent: str | None = None,
    check: CheckSettings | None = None,
) -> str:
    """The text of a CSV export (a file or an http(s) URL), decoded without losing a
    character: UTF-8 or the UTF-16 of "Unicode text" exports, else a clear refusal
    (`decode_spreadsheet`), never text with replacement marks where accents were. An
    address is fetched as `read_source` fetches it."""
    if re.match(r"(?i)https?://", file_or_url):
        response = _fetch(file_or_url, client=client, user_agent=user_agent, check=check)
        if response.headers.get("content-type", "").lower().startswith("text/html"):
            raise LinkhealthError(
                f"{file_or_url}: the address answered with a web page, not a CSV file (a "
                "sheet not shared publicly answers with its sign-in page); publish the sheet "
                "as CSV and import that address, or download it as CSV and import the file"
            )
        if response.charset_encoding:  # the server said which: trust it, as a browser would
            return response.text.lstrip("\ufeff")
        return decode_spreadsheet(response.content, file_or_url)
    return decode_spreadsheet(_read_file(file_or_url), file_or_url)


def _read_file(name: str) -> bytes:
    path = Path(name)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LinkhealthError(
            f"{path}: cannot read the file to import ({exc.strerror or exc}); check the path"
        ) from exc


def _fetch(
    url: str, *, client: httpx.Client | None, user_agent: str | None, check: CheckSettings | None
) -> httpx.Response:
    headers = {"User-Agent": user_agent} if user_agent else {}
    owned = client is None
    hops: list[str] = []  # each request's URL: the one a refusal names
    http = client or _guarded_client(check or CheckSettings(), hops)
    try:
        response = http.get(url, headers=headers)
    except _AddressRefused as exc:
        # The first request's URL is `url` as httpx spells it ("HTTP://x" is "http://x/").
        what = f"redirected to {hops[-1]}, which is not fetched" if len(hops) > 1 else "not fetched"
        raise LinkhealthError(
            f"{url}: {what}: {exc.reason}; an address on your own network is imported "
            "only when linkhealth.toml allows it ([check] private_allowlist)"
        ) from exc
    except httpx.HTTPError as exc:
        raise LinkhealthError(
            f"{url}: the page could not be fetched ({type(exc).__name__}: {exc}); "
            "save it from a browser and import the file instead"
        ) from exc
    finally:
        if owned:
            http.close()
    if response.status_code >= 400:
        raise LinkhealthError(
            f"{url}: the server answered {response.status_code}; check the address, or save "
            "the page from a browser and import the file instead"
        )
    return response


class _AddressRefused(Exception):
    """A connection the address rule refused; `_fetch` names the URL it was for."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _guarded_client(check: CheckSettings, hops: list[str]) -> httpx.Client:
    """A client whose every connection, the first URL's and each redirect's, passes the
    checker's address rule (`_GuardedBackend`), and which records each request's URL in
    `hops`. `allow_private` lifts the rule, and only then are proxy variables followed
    (a proxy would connect wherever it was asked, past the rule)."""
    record = {"request": [lambda request: hops.append(str(request.url))]}
    if check.allow_private:
        return httpx.Client(follow_redirects=True, timeout=30.0, event_hooks=record)
    check_allowlist(check.private_allowlist)  # a bad entry is the operator's to fix
    transport = httpx.HTTPTransport()
    # Its pool, made again with our backend (httpx takes no network backend; httpx is
    # pinned), as `catalog.check.transport` does for its re-reads.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=_GuardedBackend(check.private_allowlist),
    )
    return httpx.Client(
        transport=transport, follow_redirects=True, timeout=30.0, event_hooks=record
    )


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend connecting only where `safety.forbidden_host` allows,
    to the very addresses it judged: a DNS answer that changes between the check and the
    connection (DNS rebinding) cannot steer it. TLS still names and verifies the host."""

    def __init__(self, allowlist: tuple[str, ...]) -> None:
        self._allowlist = allowlist
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        # What the host shows is refused before any lookup, as the check does: "sub.localhost"
        # that no resolver knows was "Name or service not known", not why it is not fetched.
        written = refused_as_written(host, self._allowlist, looked_up=True)
        if written is not None:
            raise _AddressRefused(written)
        if is_ip_address(host):
            addresses = [host.strip("[]")]
        else:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from exc
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        reason = forbidden_host(host, addresses, self._allowlist)
        if reason is not None:
            raise _AddressRefused(reason)
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("imports connect over TCP only")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
