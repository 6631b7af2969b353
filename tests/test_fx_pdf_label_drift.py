"""A page that was always served under a PDF's label is no PDF "replaced" by it.

A misconfigured server answers a report's address with its download page, as HTML, under
`application/pdf`, and has always done so. The release before read that body as a PDF's
bytes (no text); this one reads it as the page it is. The replaced-document rule
(`drift.judge_replaced_document`) took the link's stored label for proof that it "served a
PDF": on the night after the upgrade (and on any link's second read of such a page) the
curator got "The link no longer serves its document: it served a PDF ..." for a page that
had not changed. A real PDF replaced by the site's error page under the same label still
drifts (`tests/test_fx_mislabelled2.py`, `tests/test_rv_mislabelled.py`).
"""

from __future__ import annotations

from dataclasses import replace

import respx
from alembic import command
from sqlalchemy import Engine

from catalog import drift, migrate, store
from catalog.check.content import _binary_facts, _pdf_title
from catalog.model import LEGACY_FINGERPRINT, Observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import days
from tests.test_fx_mislabelled_error_pages import PDF, check
from tests.test_rv_mislabelled import ERROR_PAGE, engine, link

__all__ = ["engine"]  # the fixture, used by name

#: The agency's download page, served at the report's address under the PDF's type: it
#: names no report, and has too few words for the entry's to be missed in them (no soft
#: 404 either: the site answers other addresses 404).
DOWNLOADS = (
    b"<!DOCTYPE html><html><head><title>Download | Agency</title></head><body>"
    b"<h1>Download</h1><p>Your download will begin shortly. If it does not, choose the "
    b"link below.</p><a href='/files/get?id=4411'>Start download</a></body></html>"
)


def night(engine: Engine, obs: Observation, day: float) -> list[str]:
    events = store.record_observations(engine, None, [obs], HealthSettings(), now=days(day))
    return [e.kind for e in events if e.kind.startswith("drift")]


def as_the_release_before(obs: Observation, body: bytes) -> Observation:
    """`obs` as the release before the HTML reading stored it: the body read as a PDF's
    bytes, with no title and no text."""
    facts = _binary_facts(body, False, None, None, title=_pdf_title(body), pdf=True)
    return replace(obs, fingerprint=facts.fingerprint, title=None, text_sample_packed=None)


def test_a_page_always_served_as_a_pdf_is_no_replaced_document_after_the_upgrade(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    for day in (0, 1):
        obs = check(respx_mock, "application/pdf", DOWNLOADS, day=day)
        assert night(engine, as_the_release_before(obs, DOWNLOADS), day) == []
    # The upgrade: migration 0024 marks the fingerprint stored under the PDF label.
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0023")
    migrate.upgrade(engine)
    stored = link(engine)
    assert stored.fingerprint is not None and stored.fingerprint.startswith(LEGACY_FINGERPRINT)
    # The same page, now read as the page it is, on the nights after.
    for day in (7, 8, 14):
        obs = check(respx_mock, "application/pdf", DOWNLOADS, day=day)
        assert (obs.outcome, obs.title) == (Outcome.OK, "Download | Agency"), obs.reason
        assert night(engine, obs, day) == [], link(engine).drift_reason
    assert link(engine).drift_reason is None


def test_a_page_served_as_a_pdf_from_its_first_check_is_no_replaced_document(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    """A link checked first by this release: its second read of the same page said the
    link "served a PDF" (its first read's label); so does the page edited since."""
    edited = DOWNLOADS.replace(b"shortly", b"in a few seconds")
    for day, body in ((0, DOWNLOADS), (1, DOWNLOADS), (7, edited)):
        obs = check(respx_mock, "application/pdf", body, day=day)
        assert night(engine, obs, day) == [], link(engine).drift_reason
    assert link(engine).fingerprint_since == days(7)  # the edit was read
    assert link(engine).drift_reason is None


def test_a_pdf_replaced_by_an_error_page_on_the_upgrade_s_first_night_drifts(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    """The PDF's stored fingerprint is marked as the earlier rule's, as a page's would be;
    its title is the PDF's own, which a page read as a PDF's bytes had not."""
    assert night(engine, check(respx_mock, "application/pdf", PDF, day=0), 0) == []
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0023")
    migrate.upgrade(engine)
    assert link(engine).fingerprint.startswith(LEGACY_FINGERPRINT)  # type: ignore[union-attr]
    assert night(engine, check(respx_mock, "application/pdf", ERROR_PAGE, day=7), 7) == [
        "drift_detected"
    ]
    reason = link(engine).drift_reason
    assert reason is not None and drift.names_replaced(reason)


def test_a_pdf_replaced_by_an_error_page_under_its_label_still_drifts(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    assert night(engine, check(respx_mock, "application/pdf", PDF, day=0), 0) == []
    assert night(engine, check(respx_mock, "application/pdf", PDF, day=7), 7) == []
    assert night(engine, check(respx_mock, "application/pdf", ERROR_PAGE, day=8), 8) == [
        "drift_detected"
    ]
    reason = link(engine).drift_reason
    assert reason is not None and drift.names_replaced(reason)
    assert "it served a PDF (application/pdf)" in reason
    # The same error page the night after: the flag holds, no news.
    assert night(engine, check(respx_mock, "application/pdf", ERROR_PAGE, day=9), 9) == []
    assert link(engine).drift_reason == reason
