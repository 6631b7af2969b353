"""bench.nightmain's replayed observations carry the text a check of the simulated page read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bench.nightmain import with_pages
from bench.simweb import html_page, page_title
from catalog.check.checker import TEXT_SAMPLE_CHARS
from catalog.check.content import analyse_body
from catalog.model import Observation
from catalog.outcomes import Outcome

HTML = "text/html; charset=utf-8"


def _observed(url: str, n: int, fingerprint: str) -> Observation:
    return Observation(
        url=url,
        checked_at=datetime(2026, 12, 1, tzinfo=UTC),
        outcome=Outcome.OK,
        reason="200",
        http_status=200,
        final_url=url,
        content_type=HTML,
        title=page_title(n),
        fingerprint=fingerprint,
    )


def test_a_replayed_page_gets_the_text_its_check_read_and_no_other_does() -> None:
    # Text samples are not stored: without them the replay judged drift on titles alone,
    # a third of what judging costs a real run.
    page = analyse_body(html_page(7), HTML, truncated=False)
    read = _observed("http://127.0.1.3:80/html/7", 7, page.fingerprint)
    other_page = _observed("http://127.0.1.3:80/html/8", 8, page.fingerprint)
    unchanged = replace(read, not_modified=True)
    unnumbered = replace(read, url="http://127.0.1.3:80/", final_url=None)

    got = with_pages([read, other_page, unchanged, unnumbered])

    assert got[0].text_sample == page.text[:TEXT_SAMPLE_CHARS]
    assert len(page.text) <= TEXT_SAMPLE_CHARS or got[0].text_tail
    # Another page than the one checked (its fingerprint says so), a 304, no page number.
    assert [o.text_sample_packed for o in got[1:]] == [None, None, None]
    assert got[1:] == [other_page, unchanged, unnumbered]
