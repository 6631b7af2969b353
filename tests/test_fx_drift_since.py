"""A drifted row's "since" is the night the page first drifted from its entry, while it has
stayed drifted.

The rule, as `catalog.health.apply_drift` keeps it: the since is the `drift_detected` that
began the current stretch of drift. A check that cannot tell whether the page holds the
entry (a HEAD night, a 304, a failure, a soft 404, a read cut short before the page's end)
leaves the flag and its since as they were; only a read showing the page matches the entry
again ends the stretch (`drift_cleared`, "matches again" in the news), and a drift after
that is a new one, dated afresh. A page that flips between the two is unsteady
(`catalog.unsteady`): that quiets its news, each drift still has its own since.

What was wrong: a page emptied under its old title ("This resource is no longer
available") drifts by its text (`drift.judge_emptied`), which only a read to the page's end
can tell. A slow night's read, cut at its first 256 KiB (a page builder's inline CSS), held
none of the text and kept the title: it cleared the flag ("matches again") and the next
full read raised it again, so the row said "since yesterday" of a page wrong for weeks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import Engine

from catalog import store
from catalog.model import Observation, pack_text
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from reports import build_context
from reports.context import Priority, Row
from tests.factories import days, make_observation
from tests.test_e1_missed_rot import GUIDE, TITLE, URL, drift_reason, night
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_e3_false_alarms import STYLE

GONE = "This resource is no longer available."
MENU = "Home About Programs Grants News Contact. Accessibility Privacy Policy FOIA Site map."


def report_row(engine: Engine, day: float) -> Row | None:
    """The report's queue row of the entry, as the night's report shows it; None if unqueued."""
    ctx = build_context(report_data(engine), now=days(day))
    return next((r for r in ctx.resources if r.priority is not None), None)


def drifted_since(engine: Engine, day: float) -> str | None:
    """The "since" date of the entry's drift row in the report of `day`; None: no drift row."""
    row = report_row(engine, day)
    if row is None or row.priority is not Priority.DRIFT:
        return None
    assert row.since is not None
    return row.since.iso[:10]


# --- through the checker: a slow night between full reads ------------------------------------


def heavy(body: str) -> bytes:
    """A page builder's page: 300 KB of inline CSS before any of its text."""
    return (
        f"<html><head><title>{TITLE}</title>{STYLE}</head><body><h1>{TITLE}</h1>{body}"
        "</body></html>"
    ).encode()


class HeavySite:
    """The page, read to its end on fast nights; on a slow one, the read stops at the
    night's deadline after its first 256 KiB (all CSS)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.slow = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html"}
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=self._stream(self.body, self.slow))

    @staticmethod
    async def _stream(body: bytes, slow: bool) -> AsyncIterator[bytes]:
        for i in range(0, len(body), 16384):
            yield body[i : i + 16384]
            if slow and i > 280_000:
                await asyncio.sleep(30)  # the night's deadline (5 s) ends the read first


def test_a_slow_night_does_not_restart_an_emptied_pages_since(engine: Engine) -> None:
    site = HeavySite(heavy(f"<p>{GUIDE}</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    site.body = heavy(f"<p>{GONE}</p>")
    assert "drift_detected" in night(engine, site, 4)
    assert drifted_since(engine, 4) == days(4).date().isoformat()
    # A slow night: its read never reached the page's text. It cannot tell the guide is
    # back, so it is no "matches again"...
    site.slow = True
    assert "drift_cleared" not in night(engine, site, 5)
    assert drift_reason(engine) is not None
    assert drifted_since(engine, 5) == days(4).date().isoformat()
    # ... and the next full read is no new drift: the row still dates it from night 4.
    site.slow = False
    assert "drift_detected" not in night(engine, site, 6)
    assert drifted_since(engine, 6) == days(4).date().isoformat()


# --- through the store: which nights keep the since, which end it --------------------------


def read(day: float, text: str, *, cut: bool = False) -> Observation:
    """A GET of the page under its old title; `cut`: the read stopped short of its end."""
    return make_observation(
        URL,
        checked_at=days(day),
        title=TITLE,
        text_sample_packed=pack_text(f"{MENU} {TITLE}. {text}"),
        content_type="text/html; charset=utf-8",
        text_cut=cut,
    )


def store_night(engine: Engine, obs: Observation) -> list[str]:
    events = store.record_observations(engine, None, [obs], HealthSettings(), now=obs.checked_at)
    return [e.kind for e in events if e.kind.startswith("drift")]


def emptied_on_day_4(engine: Engine) -> None:
    for day in (1, 2, 3):
        store_night(engine, read(day, GUIDE))
    assert store_night(engine, read(4, GONE)) == ["drift_detected"]


def test_nights_that_cannot_tell_keep_the_since(engine: Engine) -> None:
    emptied_on_day_4(engine)
    cannot_tell = {
        5: read(5, "", cut=True),  # a slow night's read: nothing past the title
        6: make_observation(URL, checked_at=days(6), methods=("HEAD",), content_type="text/html"),
        7: make_observation(URL, checked_at=days(7), not_modified=True, http_status=304),
        8: make_observation(URL, Outcome.TIMEOUT, checked_at=days(8)),
        9: read(9, GONE[:20], cut=True),  # cut inside the notice
    }
    for day, obs in cannot_tell.items():
        assert store_night(engine, obs) == [], day
        assert drifted_since(engine, day) == days(4).date().isoformat(), day
    assert store_night(engine, read(10, GONE)) == []  # still emptied: no new drift
    row = report_row(engine, 10)
    assert row is not None and row.priority is Priority.DRIFT
    assert row.since is not None and row.since.iso[:10] == days(4).date().isoformat()
    assert row.checks == 7  # every check since night 4 (the HEAD and 304 nights too)


def test_a_read_cut_short_that_shows_the_guide_back_ends_the_drift(engine: Engine) -> None:
    """Cut short or not, a read that holds the entry's words shows the page matches it."""
    emptied_on_day_4(engine)
    assert store_night(engine, read(5, GUIDE, cut=True)) == ["drift_cleared"]
    assert drifted_since(engine, 5) is None


def test_a_page_that_matched_again_in_between_drifts_anew(engine: Engine) -> None:
    """The guide back for a night ends the stretch: the drift after it is dated from its
    own night, not the first one (an unsteady page's flips are each their own drift)."""
    emptied_on_day_4(engine)
    assert store_night(engine, read(5, GUIDE)) == ["drift_cleared"]
    assert drifted_since(engine, 5) is None
    assert store_night(engine, read(6, GONE)) == ["drift_detected"]
    assert drifted_since(engine, 6) == days(6).date().isoformat()
    assert store_night(engine, read(7, GONE)) == []
    assert drifted_since(engine, 7) == days(6).date().isoformat()
