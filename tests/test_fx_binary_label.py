"""A server's "not found" message at 200 under a file's label is a soft 404; files stay files.

A server that keeps the missing file's Content-Type answered a report's address with 200
`application/pdf` and a plain-text "File not found." (read as a PDF's bytes: "OK"), and a
Word file's, a zip's or an image's address with its HTML "Page not found" or that text
(read as bytes: "OK"). Each is now the soft 404 the same answer is under `text/plain` or
`text/html`. A real file (its magic bytes, or bytes that are no short readable text) stays
the file it was, its fingerprint that of its bytes as before the change: no "content
changed" on the night after the upgrade. A PDF whose `%PDF-` header comes after a few
bytes a server put in front (white space, a byte-order mark, an included HTML banner)
is the PDF PDF readers open (they look for the header in the first 1024 bytes), its
title read.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
import respx
from alembic import command
from sqlalchemy import Engine

from catalog import migrate, store
from catalog.check.content import _html_facts, analyse_body
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import days
from tests.test_fx_mislabelled_error_pages import NOT_FOUND_PAGES, PAGE_NOT_FOUND, PDF, check
from tests.test_fx_pdf_label_drift import DOWNLOADS
from tests.test_rv_mislabelled import engine, link

__all__ = ["engine"]  # the fixture, used by name

#: Labels a server may keep from a missing file for its error answer.
FILE_LABELS = [
    "application/pdf",
    "application/x-pdf",
    "application/zip",
    "application/octet-stream",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "image/png",
    "image/jpeg; charset=utf-8",
]


def bytes_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    "message",
    [
        "File not found.",
        "File not found.\n",
        "404 Not Found",
        "\ufeffThe requested file was not found on this server.\r\n",
    ],
)
@pytest.mark.parametrize("content_type", FILE_LABELS)
def test_a_short_text_saying_not_found_under_a_file_s_label_is_a_soft_404(
    respx_mock: respx.MockRouter, content_type: str, message: str
) -> None:
    obs = check(respx_mock, content_type, message.encode())
    said = message.strip().lstrip("\ufeff")
    assert (obs.outcome, obs.reason) == (Outcome.SOFT_404, f"GET 200: the page only says “{said}”.")


@pytest.mark.parametrize(
    ("body", "said"),
    NOT_FOUND_PAGES,
)
@pytest.mark.parametrize("content_type", FILE_LABELS)
def test_an_html_not_found_page_under_a_file_s_label_is_a_soft_404(
    respx_mock: respx.MockRouter, content_type: str, body: bytes, said: str
) -> None:
    obs = check(respx_mock, content_type, body)
    assert (obs.outcome, obs.reason) == (Outcome.SOFT_404, f"GET 200: {said}.")
    assert obs.content_type == content_type


#: A zip (a .docx is one) holding a stored file that says "File not found.": a zip.
ZIP = (
    b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00!\x00\x8c\x1a\x9d\x0f\x0f\x00\x00\x00\x0f"
    b"\x00\x00\x00\x08\x00\x00\x00note.txtFile not found.PK\x05\x06" + bytes(18)
)
BINARIES = [
    pytest.param("application/zip", ZIP, id="zip"),
    pytest.param(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ZIP.replace(b"File not found.", b"<html>404</html"),
        id="docx",
    ),
    pytest.param("application/octet-stream", ZIP, id="zip-untyped"),
    pytest.param(
        "image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01tEXtNot found", id="png"
    ),
    pytest.param("image/gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00Not found;", id="gif"),
    pytest.param("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00File not found", id="jpeg"),
    pytest.param(
        "application/msword", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"File not found.", id="doc"
    ),
    pytest.param("application/msword", b"{\\rtf1\\ansi File not found.}", id="rtf"),
    pytest.param("application/pdf", b"\x1f\x8b\x08\x00File not found.", id="gzipped"),
    pytest.param("application/zip", b"File not found.\x00\x00", id="nul"),
    pytest.param("application/zip", b"File not found. \xff\xfe", id="undecodable"),
]


@pytest.mark.parametrize(("content_type", "body"), BINARIES)
def test_a_real_file_under_its_label_stays_a_file_with_the_fingerprint_of_its_bytes(
    respx_mock: respx.MockRouter, content_type: str, body: bytes
) -> None:
    obs = check(respx_mock, content_type, body)
    assert (obs.outcome, obs.title) == (Outcome.OK, None), obs.reason
    assert obs.fingerprint == bytes_hash(body)


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/zip", "application/pdf"]
)
def test_a_short_text_of_its_own_under_a_file_s_label_stays_ok_and_keeps_its_fingerprint(
    respx_mock: respx.MockRouter, content_type: str
) -> None:
    body = b"Hotline: 1-888-373-7888\n"
    obs = check(respx_mock, content_type, body)
    assert obs.outcome is Outcome.OK, obs.reason
    assert obs.fingerprint == bytes_hash(body)


#: A PDF generated on each request: its creation stamp is no part of its fingerprint.
STAMPED = PDF.replace(b"/Producer (Word)", b"/Producer (Word) /CreationDate (D:20191231)")


@pytest.mark.parametrize(
    ("content_type", "body", "fingerprint"),
    [
        pytest.param("application/pdf", PDF, bytes_hash(PDF), id="pdf"),
        pytest.param(
            "application/pdf",
            STAMPED,
            bytes_hash(STAMPED.replace(b"(D:20191231)", b"")),
            id="stamped",
        ),
        pytest.param("application/x-pdf", STAMPED, None, id="x-pdf"),
        pytest.param("application/octet-stream", STAMPED, None, id="untyped"),
    ],
)
def test_a_real_pdf_keeps_its_title_and_fingerprint(
    respx_mock: respx.MockRouter, content_type: str, body: bytes, fingerprint: str | None
) -> None:
    obs = check(respx_mock, content_type, body)
    assert (obs.outcome, obs.title) == (Outcome.OK, "Annual Report 2019"), obs.reason
    assert obs.fingerprint == (fingerprint or bytes_hash(STAMPED.replace(b"(D:20191231)", b"")))


#: What a server may put before a PDF it serves: a blank line, a byte-order mark, a PHP
#: notice, or an HTML banner an include wrote.
PREFIXES = [
    pytest.param(b"\r\n", id="blank-line"),
    pytest.param(b"\xef\xbb\xbf", id="bom"),
    pytest.param(b"<br />\n<b>Notice</b>:  Undefined index: id in download.php<br />\n", id="php"),
    pytest.param(
        b"<!DOCTYPE html>\n<html><head><title>Agency</title></head><body>"
        b"<!-- header.shtml --></body></html>\n",
        id="html-banner",
    ),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "content_type", ["application/pdf", "application/x-pdf", "application/octet-stream"]
)
def test_a_pdf_behind_a_few_bytes_a_server_put_in_front_keeps_its_title(
    respx_mock: respx.MockRouter, content_type: str, prefix: bytes
) -> None:
    body = prefix + PDF
    obs = check(respx_mock, content_type, body)
    assert (obs.outcome, obs.title) == (Outcome.OK, "Annual Report 2019"), obs.reason
    # Its fingerprint is the one it had before: its bytes' (a PDF's under the PDF's own
    # label), or, behind a banner that opens as an HTML document under these labels, the
    # text's of the page it was read as (0024's rule, migration 0024 marked nothing else).
    banner = prefix.startswith(b"<!DOCTYPE")
    before = _html_facts(body, content_type, False).fingerprint if banner else bytes_hash(body)
    assert obs.fingerprint == before


@pytest.mark.parametrize("content_type", ["text/plain", "text/csv"])
def test_a_pdf_behind_a_blank_line_under_a_text_label_keeps_the_text_s_fingerprint(
    content_type: str,
) -> None:
    """Read as the text it opened as before the header was looked for past the first byte,
    it keeps that text's fingerprint (whitespace collapsed), so the upgrade's first night
    says no "content changed"; its title is the PDF's."""
    body = b"\n" + PDF
    facts = analyse_body(body, content_type, truncated=False)
    text = " ".join(body.decode().split())
    assert facts.title == "Annual Report 2019"
    assert facts.fingerprint == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_a_pdf_header_past_the_first_1024_bytes_is_no_pdf() -> None:
    body = b"x" * 1020 + b"\n" + PDF
    facts = analyse_body(body, "application/octet-stream", truncated=False)
    assert (facts.title, facts.fingerprint) == (None, bytes_hash(body))


def test_a_long_body_under_a_file_s_label_is_never_decoded_as_text() -> None:
    """Only a short body may be a server's message; a 2 MiB file of letters stays bytes."""
    body = b"File not found. " * (2 * 1024 * 1024 // 16)
    facts = analyse_body(body, "application/zip", truncated=True)
    assert (facts.text, facts.is_html) == ("", False)


@pytest.mark.parametrize("body", [b"File not found.", PAGE_NOT_FOUND])
def test_an_undecoded_body_stays_bytes(body: bytes) -> None:
    """A body in a coding we cannot undo (`fetch.OPAQUE_TYPE`) is bytes, whatever they are."""
    facts = analyse_body(body, "application/x-undecoded", truncated=False)
    assert (facts.text, facts.is_html, facts.fingerprint) == ("", False, bytes_hash(body))


def test_a_page_always_served_as_a_word_file_is_no_change_nor_drift_after_the_upgrade(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    """A download page a server answered under `application/msword` all along: the release
    before stored the fingerprint of its bytes, and no title or text. Read as a page only
    to find an error message there (it holds none: a Word document may be HTML), it is
    the file it was after the upgrade, with the same fingerprint: it neither "changed" nor
    "no longer serves its document", and no migration needs to mark it."""
    health = HealthSettings()
    kinds: list[str] = []
    for day in (0, 1):
        obs = check(respx_mock, "application/msword", DOWNLOADS, day=day)
        before = replace(
            obs, fingerprint=bytes_hash(DOWNLOADS), title=None, text_sample_packed=None
        )
        kinds += [
            e.kind for e in store.record_observations(engine, None, [before], health, now=days(day))
        ]
    since = link(engine).fingerprint_since
    with engine.begin() as conn:  # the upgrade
        command.downgrade(migrate.alembic_config(conn), "0024")
    migrate.upgrade(engine)
    assert link(engine).fingerprint == bytes_hash(DOWNLOADS)
    for day in (7, 8, 14):
        obs = check(respx_mock, "application/msword", DOWNLOADS, day=day)
        assert (obs.outcome, obs.title, obs.text_sample) == (Outcome.OK, None, ""), obs.reason
        assert obs.fingerprint == bytes_hash(DOWNLOADS)
        events = store.record_observations(engine, None, [obs], health, now=days(day))
        kinds += [e.kind for e in events]
    assert not [k for k in kinds if k.startswith("drift") or k == "content_changed"], kinds
    assert link(engine).fingerprint_since == since
    assert link(engine).drift_reason is None


#: A Word document saved as a web page (`.doc`, HTML), as Word and report systems write it.
WORD_HTML = (
    b'<html xmlns:o="urn:schemas-microsoft-com:office:office" '
    b'xmlns:w="urn:schemas-microsoft-com:office:word">\n<head><title>Annual Report 2019'
    b"</title></head><body><h1>Annual Report 2019</h1><p>Arrests rose by %d in 2019.</p>"
    b"</body></html>"
)


def test_a_word_document_in_html_updated_is_a_content_change_alone(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    """A Word document saved as HTML under `application/msword` is the document: an update
    is "content changed", never "no longer serves its document ... now answers with a web
    page", and its title and text are not judged for drift, as before."""
    health = HealthSettings()
    kinds: list[str] = []
    for day, figure in enumerate((12, 12, 14)):
        obs = check(respx_mock, "application/msword", WORD_HTML % figure, day=day)
        assert (obs.outcome, obs.title, obs.text_sample) == (Outcome.OK, None, ""), obs.reason
        assert obs.fingerprint == bytes_hash(WORD_HTML % figure)
        kinds += [
            e.kind for e in store.record_observations(engine, None, [obs], health, now=days(day))
        ]
    assert kinds == ["content_changed"]
    assert link(engine).drift_reason is None


@pytest.mark.parametrize("content_type", ["application/zip", "application/pdf", "image/png"])
@pytest.mark.parametrize(
    "body", [b"<b>Hotline</b>: 1-888-373-7888\n", b"<p>Arrests,2019</p>"], ids=["b", "p"]
)
def test_an_html_fragment_of_its_own_under_a_file_s_label_stays_the_file(
    respx_mock: respx.MockRouter, content_type: str, body: bytes
) -> None:
    """A short body opening with a tag browsers sniff as HTML is read as HTML for its
    error message alone: one that is none stays "OK", the file's bytes, as before."""
    obs = check(respx_mock, content_type, body)
    assert (obs.outcome, obs.title, obs.text_sample) == (Outcome.OK, None, ""), obs.reason
    assert obs.fingerprint == bytes_hash(body)
