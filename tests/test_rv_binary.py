"""Review of fx-binary-label: what is behind a file's label is looked at.

What curators rely on: a real download (a small CSV or an HTML-format spreadsheet under
Excel's label, a read-me under `application/octet-stream`, a PDF a server put a few bytes
in front of) stays "OK" night after night, across the upgrade and when its data is
updated, without "content changed" for an unchanged file nor a drift flag for a file that
is there; and a download script's short HTML "File not found" under the file's label is
the soft 404 it is without a label.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import respx
from alembic import command
from sqlalchemy import Engine

from catalog import migrate, store
from catalog.check.content import _html_facts
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import T0, days, make_catalog, make_resource, temporary_database
from tests.test_fx_mislabelled_error_pages import PDF
from tests.test_fx_mislabelled_error_pages import check as checked_once

HOST = "data.agency.test"
CSV_URL = f"https://{HOST}/files/arrests-by-state-2019.csv"
PDF_URL = f"https://{HOST}/download.php?id=annual-report-2019"
CATALOG = make_catalog(
    "toolkit",
    [
        make_resource(
            "arrests", url=CSV_URL, title="Trafficking Arrests by State, 2019", year=2019
        ),
        make_resource("report", url=PDF_URL, title="Annual Report 2019", year=2019),
    ],
)
RESOURCE = {CSV_URL: "arrests", PDF_URL: "report"}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [CATALOG], now=T0)
        yield engine


def check(
    respx_mock: respx.MockRouter, url: str, content_type: str, body: bytes, day: float
) -> Observation:
    """The entry at `url` checked once on night `day`, answering 200 `body`."""
    return checked_once(respx_mock, content_type, body, day=day, url=url, resource=RESOURCE[url])


def link(engine: Engine, url: str) -> store.LinkStateRecord:
    (found,) = [s for s in store.link_states(engine) if s.url == url]
    return found


def nights(
    respx_mock: respx.MockRouter, engine: Engine, content_type: str, bodies: list[bytes]
) -> list[str]:
    """The CSV link checked one night per body; the events recorded."""
    health = HealthSettings()
    kinds: list[str] = []
    for day, body in enumerate(bodies):
        obs = check(respx_mock, CSV_URL, content_type, body, day)
        assert obs.outcome is Outcome.OK, obs.reason
        events = store.record_observations(engine, None, [obs], health, now=days(day))
        kinds += [e.kind for e in events]
    return kinds


def test_a_small_csv_under_excel_s_label_updated_is_no_replaced_document(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    """A 60-byte CSV a server labels as Excel's (Windows' type for .csv), checked nightly,
    whose figures are updated one night: a content change, and nothing else. It was read
    as the file's bytes (no text, no drift judged); now its text is read, and on the night
    its bytes change the link is flagged "it served a spreadsheet ... and now answers with
    a web page ... that does not name the entry": the curator is told to find where the
    spreadsheet went, while it is right there."""
    old, new = b"state,arrests\nOhio,12\nTexas,30\n", b"state,arrests\nOhio,14\nTexas,31\n"
    kinds = nights(respx_mock, engine, "application/vnd.ms-excel", [old, old, old, new])
    assert "content_changed" in kinds
    assert link(engine, CSV_URL).drift_reason is None, kinds


def excel_html(figures: tuple[int, int]) -> bytes:
    """A spreadsheet as "Export to Excel" writes it (an HTML table Excel opens), 2 KiB."""
    rows = "".join(f"<tr><td>County {n}</td><td>{figures[n % 2] + n}</td></tr>" for n in range(60))
    return (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel">\n<head><meta charset="utf-8">'
        "<!--[if gte mso 9]><xml><x:ExcelWorkbook></x:ExcelWorkbook></xml><![endif]-->"
        f"</head><body><table><tr><th>County</th><th>Arrests</th></tr>{rows}</table>"
        "</body></html>"
    ).encode()


def test_an_html_spreadsheet_under_excel_s_label_updated_is_no_replaced_document(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    """An "Export to Excel" spreadsheet (HTML markup, `.xls`, served as
    `application/vnd.ms-excel`, as Excel itself saves "Web Page" files and many report
    systems export) is the spreadsheet the catalog links. Its figures updated one night
    are a content change; now that a body opening as `<html` under a file's label is read
    as a web page, the link is flagged "no longer serves its document: it served a
    spreadsheet ... and now answers with a web page", for a spreadsheet that is there."""
    old, new = excel_html((12, 30)), excel_html((14, 31))
    kinds = nights(respx_mock, engine, "application/vnd.ms-excel", [old, old, old, new])
    assert "content_changed" in kinds
    assert link(engine, CSV_URL).drift_reason is None, kinds


#: A dataset's read-me as S3 serves a file uploaded without a type: 357 bytes of prose
#: that names no word of its entry (few read-mes do).
README = (
    b"README. This archive contains the files listed below, one for each year since 2010. "
    b"Open them with any spreadsheet program; the first row names the columns. Counts are "
    b"provisional until the annual review is published in June. Questions about these "
    b"files may be sent to the statistics office at the address on our contact page. Last "
    b"updated by the data team."
)


@pytest.mark.parametrize("content_type", ["application/octet-stream", "binary/octet-stream"])
def test_an_unchanged_small_text_under_an_untyped_label_raises_no_drift(
    respx_mock: respx.MockRouter, engine: Engine, content_type: str
) -> None:
    """A short text under a file's or an untyped label is read "for the soft-404 rule"
    (its fingerprint is its bytes', as before); its text now also reaches drift
    detection, which never judged it: the first night after the upgrade, an unchanged
    read-me linked for years is flagged "The page shares almost nothing with the entry",
    a new alarm the curator must clear by hand for a file that did not change."""
    kinds = nights(respx_mock, engine, content_type, [README, README])
    assert "drift_detected" not in kinds, link(engine, CSV_URL).drift_reason


#: What a download script's include wrote before the PDF, and a blank line a PHP file left
#: after its `?>` (which also sent the headers: the type stays PHP's `text/html`).
BANNER = (
    b"<!DOCTYPE html>\n<html><head><title>Agency</title></head><body>"
    b"<!-- header.shtml --></body></html>\n"
)


@pytest.mark.parametrize(
    ("content_type", "prefix"),
    [
        pytest.param("application/pdf", BANNER, id="banner-pdf"),
        pytest.param("application/octet-stream", BANNER, id="banner-untyped"),
        pytest.param("text/html; charset=UTF-8", b"\n", id="blank-line-html"),
    ],
)
def test_a_pdf_behind_a_prefix_is_no_content_change_on_the_upgrade_s_first_night(
    respx_mock: respx.MockRouter, engine: Engine, content_type: str, prefix: bytes
) -> None:
    """The release before (0024) read these bodies as HTML pages (a document's opening
    under the PDF's or an untyped label; any body under `text/html`) and stored the
    fingerprint of their text. Now read as the PDF behind the prefix, their fingerprint is
    that of the bytes, and migration 0025 marks none of these labels (it leaves the PDF's,
    the untyped and the page's): an unchanged report is "content changed" the night after
    the upgrade, its "unchanged since" restarted."""
    body = prefix + PDF
    health = HealthSettings()
    obs = check(respx_mock, PDF_URL, content_type, body, 0)
    assert obs.outcome is Outcome.OK, obs.reason
    page = _html_facts(body, content_type, False)  # as the release before read it
    before = replace(obs, fingerprint=page.fingerprint, title=page.title)
    store.record_observations(engine, None, [before], health, now=days(0))
    since = link(engine, PDF_URL).fingerprint_since
    with engine.begin() as conn:  # the upgrade
        command.downgrade(migrate.alembic_config(conn), "0024")
    migrate.upgrade(engine)
    after = check(respx_mock, PDF_URL, content_type, body, 7)
    assert (after.outcome, after.title) == (Outcome.OK, "Annual Report 2019"), after.reason
    events = store.record_observations(engine, None, [after], health, now=days(7))
    assert "content_changed" not in [e.kind for e in events]
    assert link(engine, PDF_URL).fingerprint_since == since


@pytest.mark.parametrize("content_type", ["application/pdf", "application/zip", "image/png"])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<h1>File not found</h1>\n", id="heading"),
        pytest.param(b"<p>404 Not Found</p>", id="paragraph"),
    ],
)
def test_a_download_script_s_html_message_under_the_file_s_label_is_a_soft_404(
    respx_mock: respx.MockRouter, content_type: str, body: bytes
) -> None:
    """A download script that set the file's Content-Type before it found no file and
    exits with `exit('<h1>File not found</h1>')`: a short body that opens with a tag
    browsers sniff as HTML (`<h1`, `<p`: no file opens so). Read as text with its tags
    ("<h1>File not found</h1>"), it is not the whole message `page_soft404` needs, and
    the link is "OK"; the same answer with no Content-Type is the soft 404 it is."""
    obs = check(respx_mock, PDF_URL, content_type, body, 0)
    assert obs.outcome is Outcome.SOFT_404, obs.reason
