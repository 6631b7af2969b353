"""Review of deb7417/96e1972: an HTML page labelled application/pdf is read as HTML.

What curators rely on around it: an upgrade that changes how a stored link is
fingerprinted must not say "content changed" for links whose content did not change
(the project marks such baselines: migration 0015, `LEGACY_FINGERPRINT`), and a report's
PDF replaced by the site's error page is drift ("no longer serves its document"), as it is
under text/html, now that the body is read as the page it is; an XHTML "Page not found"
under the PDF label is the soft 404 the same page is as HTML.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import respx
from alembic import command
from sqlalchemy import Engine

from catalog import drift, migrate, store
from catalog.check.content import _binary_facts, _pdf_title
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import T0, days, make_catalog, make_resource, temporary_database
from tests.test_fx_mislabelled_error_pages import PDF, REPORT_PAGE, URL, check

TITLE = "Annual Report 2019"
CATALOG = make_catalog("toolkit", [make_resource("report", url=URL, title=TITLE, year=2019)])

#: The site's generic error page (no "not found" words: no soft 404), served at the
#: report's address at 200 under the PDF's type.
ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Error</title></head><body>"
    b"<h1>Error</h1><p>An error occurred while processing your request.</p></body></html>"
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [CATALOG], now=T0)
        yield engine


def link(engine: Engine) -> store.LinkStateRecord:
    (found,) = [s for s in store.link_states(engine) if s.url == URL]
    return found


def test_an_unchanged_page_labelled_pdf_is_no_content_change_on_the_upgrade_s_first_night(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    """A report's landing page served as application/pdf, stored OK by the release before
    with the fingerprint of its bytes (as a PDF), is read the night after the upgrade, the
    same bytes: the curator's news must not say "content changed" (nor restart "unchanged
    since") for each such link. The rule that changed the fingerprint of every page before
    marked the stored baselines (`LEGACY_FINGERPRINT`, migration 0015); this one did not."""
    health = HealthSettings()
    before = check(respx_mock, "application/pdf", REPORT_PAGE, day=0)
    assert before.outcome is Outcome.OK
    # What the release before (deb7417^) stored: the body read as a PDF's bytes, no title
    # and no text (its `analyse_body` gives this very fingerprint for this body).
    stored = _binary_facts(REPORT_PAGE, False, None, None, title=_pdf_title(REPORT_PAGE), pdf=True)
    old = replace(before, fingerprint=stored.fingerprint, title=None, text_sample_packed=None)
    store.record_observations(engine, None, [old], health, now=days(0))
    since = link(engine).fingerprint_since
    # The upgrade: the database migrated from the revision before the rule (0024 marks it).
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0023")
    migrate.upgrade(engine)
    after = check(respx_mock, "application/pdf", REPORT_PAGE, day=7)
    assert after.outcome is Outcome.OK
    events = store.record_observations(engine, None, [after], health, now=days(7))
    assert "content_changed" not in [e.kind for e in events]
    assert link(engine).fingerprint_since == since


@pytest.mark.parametrize("content_type", ["text/html", "application/pdf"])
def test_a_pdf_replaced_by_an_error_page_drifts_whatever_the_page_is_labelled(
    respx_mock: respx.MockRouter, engine: Engine, content_type: str
) -> None:
    """The report's PDF, then the site's "An error occurred" page at its address (200).
    Under text/html the link drifts ("The link no longer serves its document: ...",
    `drift.judge_replaced_document`); under application/pdf (a server keeping the file's
    type, the very case the change now reads as the HTML page it is) it stays "OK" with no
    flag: the rule keys on the label (`now_type` must be a web page's type)."""
    health = HealthSettings()
    pdf = check(respx_mock, "application/pdf", PDF, day=0)
    assert (pdf.outcome, pdf.title) == (Outcome.OK, TITLE)
    store.record_observations(engine, None, [pdf], health, now=days(0))
    page = check(respx_mock, content_type, ERROR_PAGE, day=1)
    assert (page.outcome, page.title) == (Outcome.OK, "Error"), page.reason
    store.record_observations(engine, None, [page], health, now=days(1))
    reason = link(engine).drift_reason
    assert reason is not None and drift.names_replaced(reason), reason


#: A "Page not found" page of an XHTML site: its XML declaration comes before the doctype.
XHTML_NOT_FOUND = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '
    b'Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html '
    b'xmlns="http://www.w3.org/1999/xhtml"><head><title>Page not found</title></head><body>'
    b"<h1>Page not found</h1><p>Sorry, the page you requested could not be found.</p>"
    b"</body></html>"
)


@pytest.mark.parametrize("content_type", ["text/html", "application/pdf"])
def test_an_xhtml_not_found_page_under_a_pdf_label_is_a_soft_404_as_under_its_own(
    respx_mock: respx.MockRouter, content_type: str
) -> None:
    """`_HTML_DOCUMENT` wants "<!doctype html" or "<html" first (BOM and blanks aside): an
    XHTML page opening with its `<?xml ...?>` declaration (or a leading comment) is read as
    a PDF's bytes under application/pdf, "OK", where the same page is a soft 404 as HTML."""
    obs = check(respx_mock, content_type, XHTML_NOT_FOUND, day=1)
    assert obs.outcome is Outcome.SOFT_404, obs.reason
