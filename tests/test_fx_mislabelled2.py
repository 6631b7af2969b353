"""A report's PDF replaced by the site's error page under the PDF's own label drifts, and
the flag holds until the PDF is back, as under text/html.

The flag of a document replaced by a web page cleared once the link's type was a
document's again (`health.apply_drift`): under a server that keeps the PDF's type, every
night the error page was the flag's, the next (a HEAD, a 304, or the page read again)
cleared it, "matches again", and the next read flagged it anew.
"""

from __future__ import annotations

from dataclasses import replace

import respx
from sqlalchemy import Engine

from catalog import drift, store
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import days, make_observation
from tests.test_fx_mislabelled_error_pages import PDF, check
from tests.test_rv_mislabelled import ERROR_PAGE, URL, engine, link

__all__ = ["engine"]  # the fixture, used by name


def test_a_pdf_replaced_by_an_error_page_under_its_label_stays_flagged_until_it_is_back(
    respx_mock: respx.MockRouter, engine: Engine
) -> None:
    health = HealthSettings()

    def night(obs: Observation, day: float) -> list[str]:
        events = store.record_observations(engine, None, [obs], health, now=days(day))
        return [e.kind for e in events if e.kind.startswith("drift")]

    assert night(check(respx_mock, "application/pdf", PDF, day=0), 0) == []
    assert night(check(respx_mock, "application/pdf", ERROR_PAGE, day=1), 1) == ["drift_detected"]
    flagged = link(engine)
    assert flagged.drift_reason is not None and drift.names_replaced(flagged.drift_reason)
    assert "served as application/pdf" in flagged.drift_reason
    # A HEAD night (the label alone), a 304, then the page read again: the flag holds.
    head = make_observation(
        URL, Outcome.OK, days(2), methods=("HEAD",), content_type="application/pdf"
    )
    assert night(head, 2) == []
    same = replace(head, checked_at=days(3), methods=("GET",), not_modified=True)
    assert night(same, 3) == []
    assert night(check(respx_mock, "application/pdf", ERROR_PAGE, day=4), 4) == []
    assert link(engine).drift_reason == flagged.drift_reason
    assert link(engine).drift_since == flagged.drift_since
    # The PDF back: the flag clears.
    assert night(check(respx_mock, "application/pdf", PDF, day=5), 5) == ["drift_cleared"]
    assert link(engine).drift_reason is None
