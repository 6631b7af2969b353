"""Review (round 2) of fx-binary-label: bodies under a file's label read for errors alone.

What curators rely on: a download script's or a site's "not found" answer at 200 is the
soft 404 it is whatever label the missing file's type left on it (an `<h2>` as well as an
`<h1>`; a CSV's `text/csv` as well as a PDF's label); an unchanged report brings no news
on the night after the upgrade ("Page title changed" is listed with the content changes);
and an operator relies on a large spreadsheet under its file's label costing about its
hash, as before, not a parse of its whole HTML to look for an error message.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import respx
from alembic import command
from sqlalchemy import Engine

from catalog import migrate, store
from catalog.check import content
from catalog.check.content import _html_facts, analyse_body
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import days
from tests.test_fx_mislabelled_error_pages import IIS_NOT_FOUND
from tests.test_rv_binary import BANNER, CSV_URL, PDF, PDF_URL, check, engine, link

__all__ = ["engine"]  # the fixture, used by name


@pytest.mark.parametrize("content_type", ["application/pdf", "application/zip", "image/png"])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<h2>File not found</h2>\n", id="h2"),
        pytest.param(b"<h3>File not found</h3>", id="h3"),
        pytest.param(b"<strong>File not found</strong>", id="strong"),
    ],
)
def test_a_download_script_s_message_in_any_tag_under_the_file_s_label_is_a_soft_404(
    respx_mock: respx.MockRouter, content_type: str, body: bytes
) -> None:
    """`exit('<h2>File not found</h2>')` after the script set the file's Content-Type is
    the same answer as `exit('<h1>File not found</h1>')`, which is now a soft 404. Only
    bodies opening with a tag of the WHATWG sniffing list (`<h1`, `<p`, `<b` ...) are read
    as HTML: these are read as text with their tags ("<h2>File not found</h2>"), which is
    no whole message, and the dead report is "OK"."""
    obs = check(respx_mock, PDF_URL, content_type, body, 0)
    assert obs.outcome is Outcome.SOFT_404, obs.reason


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_a_site_s_not_found_page_under_a_data_file_s_label_is_a_soft_404(
    respx_mock: respx.MockRouter, content_type: str
) -> None:
    """The IIS or SharePoint "Page Not Found" page a site answers with 200 under the
    missing file's type is a soft 404 under a PDF's, a Word file's or a zip's label; under
    the type of a missing CSV (or JSON) file it is read as that file's text, tags and
    all, and the dataset's dead link is "OK". No CSV or JSON file opens as an HTML
    document (`<!DOCTYPE html`, `<html`)."""
    assert check(respx_mock, CSV_URL, "text/html", IIS_NOT_FOUND, 0).outcome is Outcome.SOFT_404
    obs = check(respx_mock, CSV_URL, content_type, IIS_NOT_FOUND, 1)
    assert obs.outcome is Outcome.SOFT_404, obs.reason


@pytest.mark.parametrize("content_type", ["application/pdf", "application/octet-stream"])
def test_a_pdf_behind_a_banner_brings_no_news_on_the_upgrade_s_first_night(
    respx_mock: respx.MockRouter, engine: Engine, content_type: str
) -> None:
    """The release before read a report behind an included HTML banner as the banner's
    page, and stored that page's title ("Agency"). It keeps its fingerprint after the
    upgrade (no "content changed"), but its title is now the PDF's, and the night after
    the upgrade tells the curator "Page title changed" ("Agency" to "Annual Report
    2019"), listed with the content changes, though the report did not change."""
    body = BANNER + PDF
    health = HealthSettings()
    obs = check(respx_mock, PDF_URL, content_type, body, 0)
    page = _html_facts(body, content_type, False)  # as the release before read it
    assert page.title == "Agency"
    before = replace(obs, fingerprint=page.fingerprint, title=page.title)
    store.record_observations(engine, None, [before], health, now=days(0))
    with engine.begin() as conn:  # the upgrade
        command.downgrade(migrate.alembic_config(conn), "0024")
    migrate.upgrade(engine)
    after = check(respx_mock, PDF_URL, content_type, body, 7)
    assert after.outcome is Outcome.OK, after.reason
    kinds = [e.kind for e in store.record_observations(engine, None, [after], health, now=days(7))]
    assert kinds == [], kinds
    assert link(engine, PDF_URL).fingerprint == page.fingerprint


def test_a_large_html_spreadsheet_under_excel_s_label_is_not_parsed_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 2 MiB "Export to Excel" spreadsheet (HTML) under `application/vnd.ms-excel` was
    hashed as the file's bytes (~2 ms). It is now parsed as a page, up to 20,000 tags, and
    its visible text normalized, only to look for a server's error message (15 to 25
    times the cost, on every read), and it sends the host a soft-404 probe. An error page
    says so in its first kilobytes: no more of a body under a file's label needs parsing."""
    rows = "".join(f"<tr><td>County {n}</td><td>{n * 7}</td></tr>\n" for n in range(60_000))
    body = (f"<html><head><title>Arrests</title></head><body><table>{rows}</table>").encode()
    body = body[: 2 * 1024 * 1024]
    parsed: list[int] = []
    real = content.LexborHTMLParser

    def spy(markup: bytes | str) -> object:
        parsed.append(len(markup))
        return real(markup)

    monkeypatch.setattr(content, "LexborHTMLParser", spy)
    facts = analyse_body(body, "application/vnd.ms-excel", truncated=True)
    assert facts.as_file().title is None
    assert max(parsed, default=0) <= 64 * 1024, parsed
