"""The source of an import: a file, or a page fetched with httpx."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from catalog.errors import LinkhealthError
from catalog.importer._csv import decode_spreadsheet
from catalog.text import META_CHARSET, charset_codec


def read_source(
    file_or_url: str, *, client: httpx.Client | None = None, user_agent: str | None = None
) -> tuple[str, str | None]:
    """The text of a file or an http(s) URL, and the URL relative links resolve against."""
    if re.match(r"(?i)https?://", file_or_url):
        response = _fetch(file_or_url, client=client, user_agent=user_agent)
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
    file_or_url: str, *, client: httpx.Client | None = None, user_agent: str | None = None
) -> str:
    """The text of a CSV export (a file or an http(s) URL), decoded without losing a
    character: UTF-8 or the UTF-16 of "Unicode text" exports, else a clear refusal
    (`decode_spreadsheet`), never text with replacement marks where accents were."""
    if re.match(r"(?i)https?://", file_or_url):
        response = _fetch(file_or_url, client=client, user_agent=user_agent)
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


def _fetch(url: str, *, client: httpx.Client | None, user_agent: str | None) -> httpx.Response:
    headers = {"User-Agent": user_agent} if user_agent else {}
    owned = client is None
    http = client or httpx.Client(follow_redirects=True, timeout=30.0)
    try:
        response = http.get(url, headers=headers)
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
