"""Stage "archive": the Internet Archive copy to suggest for a broken or drifting resource.

Inputs:  a URL and the moment it first failed (or drifted).
Outputs: the `Snapshot` closest before that moment with HTTP 200, or `None`.

A snapshot taken after the failure would show the error page or the new content, so only
earlier ones count. The Wayback CDX API answers exactly that question (`to=` plus
`limit=-1`, https://github.com/internetarchive/wayback/tree/master/wayback-cdx-server); the
availability API is the fallback when the CDX server has nothing or is down. The archive is
a courtesy service, so a lookup never raises for network trouble, and answers are cached per
URL and day.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from catalog.clock import Clock, as_utc, utcnow
from catalog.settings import CheckSettings

__all__ = [
    "AVAILABILITY_URL",
    "CDX_URL",
    "ArchiveLookup",
    "Snapshot",
    "cache_key",
    "format_timestamp",
    "parse_timestamp",
]

CDX_URL = "https://web.archive.org/cdx/search/cdx"
AVAILABILITY_URL = "https://archive.org/wayback/available"
_REPLAY_URL = "https://web.archive.org/web/{timestamp}/{original}"
_TIMESTAMP = re.compile(r"[0-9]{4,14}")
_TIMESTAMP_FLOOR = "00000101000000"  # pads a short wayback timestamp to its earliest moment
_REPLAY_ORIGINAL = re.compile(r"/web/[0-9]{4,14}[a-z_]*/(.+)$")

log = logging.getLogger(__name__)

CacheEntry = tuple[datetime, "Snapshot | None"]


@dataclass(frozen=True)
class Snapshot:
    """One archived capture: `url` opens it in the Wayback Machine."""

    url: str
    timestamp: datetime
    original: str


class _Unavailable(Exception):
    """The archive did not answer usefully (network, status, or body); never leaves the module."""


def parse_timestamp(value: str) -> datetime | None:
    """A wayback timestamp (`yyyyMMddhhmmss`, 4 to 14 digits) as an aware UTC datetime."""
    if not _TIMESTAMP.fullmatch(value):
        return None
    try:
        return datetime.strptime(value + _TIMESTAMP_FLOOR[len(value) :], "%Y%m%d%H%M%S").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def format_timestamp(moment: datetime) -> str:
    """`moment` as a 14-digit wayback timestamp (UTC)."""
    return as_utc(moment).strftime("%Y%m%d%H%M%S")


def is_archived_copy(url: str) -> bool:
    """Whether `url` is a Wayback Machine replay URL (web.archive.org/web/<timestamp>/...)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").casefold()
    return host in ("web.archive.org", "wayback.archive.org") and bool(
        _REPLAY_ORIGINAL.match(parts.path)
    )


class ArchiveLookup:
    """Finds the last good archived copy of a URL; pass a client carrying a polite User-Agent."""

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        enabled: bool = True,
        cache: MutableMapping[str, CacheEntry] | None = None,
        clock: Clock = utcnow,
        cache_days: float = 30,
        timeout: float = 10,
    ) -> None:
        self._client = client
        self._owns_client = client is None
        self.enabled = enabled
        self.cache: MutableMapping[str, CacheEntry] = {} if cache is None else cache
        self._clock = clock
        self._max_age = timedelta(days=cache_days)
        self._timeout = timeout

    def __enter__(self) -> ArchiveLookup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client this lookup created itself (a client passed in stays open)."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def closest_before(self, url: str, before: datetime) -> Snapshot | None:
        """The last 200 capture of `url` strictly before `before`; `None` if none or unreachable."""
        if not self.enabled or is_archived_copy(url):
            # An archived copy has no older copy to offer: the report's "link the archived
            # copy" would wrap it in another replay URL.
            return None
        key = cache_key(url, before)
        cached = self.cache.get(key)
        now = self._clock()
        if cached is not None and now - as_utc(cached[0]) < self._max_age:
            return cached[1]
        try:
            snapshot = self._lookup(url, as_utc(before))
        except _Unavailable as exc:
            # Not cached: the archive being down says nothing about the URL.
            log.debug("wayback lookup for %s failed: %s", url, exc)
            return None
        self.cache[key] = (now, snapshot)
        return snapshot

    def _lookup(self, url: str, before: datetime) -> Snapshot | None:
        failure: _Unavailable | None = None
        for source in (self._from_cdx, self._from_availability):
            try:
                snapshot = source(url, before)
            except _Unavailable as exc:
                failure = exc
                continue
            if snapshot is not None:
                return snapshot
        if failure is not None:  # one source failed, so "nothing found" is not a real answer
            raise failure
        return None

    def _from_cdx(self, url: str, before: datetime) -> Snapshot | None:
        # `to` is inclusive, so ask for one second earlier; rows are still checked below
        # because `limit=-1` switches on fastLatest, which may return more than asked.
        rows = self._get_json(
            CDX_URL,
            {
                "url": url,
                "output": "json",
                "to": format_timestamp(before - timedelta(seconds=1)),
                "filter": "statuscode:200",
                "limit": "-1",
                "fl": "timestamp,original,statuscode",
            },
        )
        if not rows:  # an empty body or [] means no capture
            return None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _Unavailable("the CDX answer is not a list of rows")
        header, *data = rows
        try:
            ts_col, orig_col = header.index("timestamp"), header.index("original")
        except ValueError:
            raise _Unavailable(f"the CDX header {header!r} lacks timestamp/original") from None
        status_col = header.index("statuscode") if "statuscode" in header else None
        best: Snapshot | None = None
        for row in data:
            if len(row) <= max(ts_col, orig_col):
                continue
            if status_col is not None and len(row) > status_col and str(row[status_col]) != "200":
                continue
            snapshot = _snapshot(str(row[ts_col]), str(row[orig_col]))
            if snapshot is None or snapshot.timestamp >= before:
                continue
            if best is None or snapshot.timestamp > best.timestamp:
                best = snapshot
        return best

    def _from_availability(self, url: str, before: datetime) -> Snapshot | None:
        body = self._get_json(
            AVAILABILITY_URL,
            {"url": url, "timestamp": format_timestamp(before - timedelta(seconds=1))},
        )
        if not isinstance(body, dict):
            raise _Unavailable("the availability answer is not a JSON object")
        closest = (body.get("archived_snapshots") or {}).get("closest")
        if not isinstance(closest, dict) or not closest.get("available", True):
            return None
        if str(closest.get("status", "200")) != "200":
            return None
        replay = str(closest.get("url") or "")
        match = _REPLAY_ORIGINAL.search(replay)
        snapshot = _snapshot(str(closest.get("timestamp") or ""), match.group(1) if match else url)
        # "closest" may lie after the failure; such a copy shows the broken page.
        if snapshot is None or snapshot.timestamp >= before:
            return None
        return snapshot

    def _get_json(self, endpoint: str, params: dict[str, str]) -> Any:
        try:
            response = self._http().get(endpoint, params=params, timeout=self._timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise _Unavailable(f"{type(exc).__name__}: {exc}") from exc
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise _Unavailable(f"the answer of {endpoint} is not JSON") from exc

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                headers={"User-Agent": CheckSettings().effective_user_agent},
                follow_redirects=True,
            )
        return self._client


def cache_key(url: str, before: datetime) -> str:
    """One answer per URL and UTC day of `before`: the same failure asks once."""
    return f"{as_utc(before).date().isoformat()} {url}"


def _snapshot(timestamp: str, original: str) -> Snapshot | None:
    moment = parse_timestamp(timestamp)
    if moment is None or not original:
        return None
    return Snapshot(
        url=_REPLAY_URL.format(timestamp=timestamp, original=original),
        timestamp=moment,
        original=original,
    )
