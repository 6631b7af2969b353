"""Health over time through storage and the run steps: outages, drift, archive, staleness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine, select

from catalog import drift, runs, store
from catalog import tables as t
from catalog.archive import CDX_URL, ArchiveLookup
from catalog.check import check_targets
from catalog.clock import utcnow
from catalog.health import BROKEN, OK, SUSPECT, UNCHECKED
from catalog.model import Hop, Observation, Target, pack_text
from catalog.ops import verdict_lines
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import CheckSettings, HealthSettings
from catalog.source import load_catalog
from catalog.sync import ADDED, URL_EDITED, sync_catalogs
from catalog.urls import host_of
from reports.trends import health_trend
from tests.factories import (
    T0,
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
    write_catalog,
)
from tests.local_site import local_site

GUIDE_TITLE = "Human Trafficking Task Force e-Guide"
GUIDE_TEXT = (
    "The Human Trafficking Task Force e-Guide helps task forces build collaborative "
    "investigations of human trafficking, support victims and survivors, and prosecute "
    "traffickers. Sections cover forming a task force, victim services, investigations, "
    "prosecution, labor trafficking, sex trafficking, trauma informed interviewing, "
    "strategic planning, and community partnerships for multidisciplinary teams."
)
CASINO_TEXT = (
    "Online casino with free spins and a welcome bonus. Play slots, poker, roulette and "
    "blackjack. Sports betting and live casino games with the best betting odds tonight."
)
HOSTS = ("a", "b", "c", "d", "e", "f")
CATALOG = make_catalog(
    "toolkit",
    [make_resource(h, url=f"https://{h}.example/{h}", title=GUIDE_TITLE, year=2024) for h in HOSTS],
)


def url(h: str) -> str:
    return f"https://{h}.example/{h}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [CATALOG], now=T0)
        yield engine


def link(engine: Engine, u: str) -> store.LinkStateRecord:
    (found,) = [s for s in store.link_states(engine) if s.url == u]
    return found


def offline(u: str, at: datetime):
    return make_observation(u, Outcome.CONNECTION_ERROR, at, http_status=None)


# --- network outage in the middle of a run ---------------------------------------------------


def test_an_outage_in_the_middle_of_a_run_only_hides_that_batch(engine: Engine) -> None:
    settings = settings_for(engine)
    clock = Ticker()
    # Yesterday everything worked.
    store.record_observations(
        engine, None, [make_observation(url(h)) for h in HOSTS], settings.health, now=T0
    )
    before = {h: link(engine, url(h)) for h in HOSTS}
    run_id = store.start_run(engine, trigger="schedule", now=clock.at(1))

    first = runs.store_batch(
        settings, run_id, [make_observation(url(h), checked_at=days(1)) for h in "ab"], clock=clock
    )
    # Three hosts are too few to judge alone: the witnesses (hosts that answered
    # yesterday, outside this batch) cannot be reached either.
    second = runs.store_batch(
        settings,
        run_id,
        [offline(url(h), days(1.01)) for h in "cde"],
        clock=clock,
        transport=httpx.MockTransport(_unreachable),
        resolver=public,
    )
    third = runs.store_batch(
        settings,
        run_id,
        [make_observation(url("f"), Outcome.NOT_FOUND, days(1.02))],
        clock=clock,
    )

    assert (first.network_down, second.network_down, third.network_down) == (False, True, False)
    for h in "cde":
        during = link(engine, url(h))
        assert (during.state, during.consecutive_failures, during.outcome) == (OK, 0, Outcome.OK)
        assert during.last_observation_id == before[h].last_observation_id
        assert during.last_checked_at == before[h].last_checked_at == T0
    assert link(engine, url("a")).last_success_at == days(1)
    assert (link(engine, url("f")).state, link(engine, url("f")).consecutive_failures) == (
        SUSPECT,
        1,
    )
    with store.read_session(engine) as s:
        stored = dict(
            s.execute(
                select(t.Observation.url, t.Observation.outcome).where(
                    t.Observation.run_id == run_id
                )
            ).all()
        )
    assert {stored[url(h)] for h in "cde"} == {"network_unavailable"}
    summary = runs.finish_run(settings, run_id, stored=[first, second, third], clock=clock)
    assert summary.network_unavailable
    assert summary.counts["network_unavailable"] == 3


def test_two_lapsed_domains_in_one_batch_count_when_the_witnesses_answer(engine: Engine) -> None:
    """Two dead hosts alone in a batch (a recheck of two edited links, or a night's batch
    of hosts that time out) were taken for our network being down, night after night, so
    their links were never confirmed broken."""
    settings = replace(settings_for(engine), check=CheckSettings(max_attempts=1, total_timeout=5))
    store.record_observations(
        engine, None, [make_observation(url(h)) for h in HOSTS], settings.health, now=T0
    )
    asked: list[str] = []

    def witness(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        return httpx.Response(200)

    run_id = store.start_run(engine, trigger="schedule", now=days(1))
    stored = runs.store_batch(
        settings,
        run_id,
        [offline(url(h), days(1)) for h in "ab"],
        clock=Ticker(days(1)),
        transport=httpx.MockTransport(witness),
        resolver=public,
    )

    assert not stored.network_down
    assert asked and not {"a.example", "b.example"} & set(asked)
    for h in "ab":
        state = link(engine, url(h))
        assert (state.state, state.consecutive_failures) == (SUSPECT, 1)


# --- a lone unreachable host: witnesses ------------------------------------------------------


def _recheck_of_a(
    engine: Engine, answer: httpx.Response | None, *, answered_before: bool = True
) -> tuple[runs.BatchStored, list[str], list[str]]:
    """Yesterday every host answered (or, without `answered_before`, no check has run yet);
    today a recheck of a.example alone cannot reach it, and the witnesses are fetched
    through a transport that answers `answer` (or nothing)."""
    settings = replace(settings_for(engine), check=CheckSettings(max_attempts=1, total_timeout=5))
    if answered_before:
        store.record_observations(
            engine, None, [make_observation(url(h)) for h in HOSTS], settings.health, now=T0
        )
    asked: list[str] = []

    def witness(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        return answer if answer is not None else _unreachable(request)

    run_id = store.start_run(engine, trigger="manual", now=days(1))
    stored = runs.store_batch(
        settings,
        run_id,
        [make_observation(url("a"), Outcome.DNS_ERROR, days(1), http_status=None)],
        clock=Ticker(days(1)),
        transport=httpx.MockTransport(witness),
        resolver=public,
    )
    summary = runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(1.01)))
    return stored, asked, summary.lines()


def test_a_run_offline_for_some_links_only_does_not_say_no_site_could_be_contacted() -> None:
    """Public links are witnessed by public hosts only, so a run can judge our network down
    for them while an intranet's links answered: "no site could be contacted" and "nothing
    was marked broken" above "3 ok, 1 not found" were untrue of it."""

    def said(counts: dict[str, int]) -> str:
        summary = runs.RunSummary(
            1, "completed", "schedule", days(1), days(1), sum(counts.values()), counts, True
        )
        (line,) = [line for line in summary.lines() if "network was unreachable" in line]
        return line

    mixed = said({"network_unavailable": 25, "ok": 3, "not_found": 1})
    assert mixed.startswith("The network was unreachable for 25 of these URLs: their sites ")
    assert "none of them was marked broken" in mixed
    assert "no site could be contacted" not in mixed and "Nothing was marked" not in mixed
    offline = said({"network_unavailable": 28})
    assert offline.startswith("The network was unreachable: no site could be contacted")
    assert "Nothing was marked broken." in offline
    # A try not sent (its host held) reached no site either.
    held = runs.RunSummary(
        1,
        "completed",
        "schedule",
        days(1),
        days(1),
        28,
        {"network_unavailable": 27, "rate_limited": 1},
        True,
        unsent={"rate_limited": 1},
    )
    assert any("no site could be contacted" in line for line in held.lines())


def test_a_recheck_while_offline_is_not_counted_against_the_link(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="catalog.runs"):
        stored, asked, lines = _recheck_of_a(engine, answer=None)

    assert stored.network_down
    (said,) = [r.getMessage() for r in caplog.records if "witness" in r.getMessage()]
    assert said == (  # the hosts asked, by name: not a Python list of URLs
        f"no witness host answered either ({', '.join(sorted(set(asked)))}): our network looks down"
    )
    assert lines[0].startswith("Run 1 (manual) completed: 1 URL in ")
    assert "network was unreachable" in lines[1]
    assert len(set(asked)) == 3 and "a.example" not in asked  # three other hosts, once each
    state = link(engine, url("a"))
    assert (state.state, state.consecutive_failures, state.outcome) == (OK, 0, Outcome.OK)
    (latest, *_) = store.resource_history(engine, "a").observations
    assert latest.outcome is Outcome.NETWORK_UNAVAILABLE
    assert "3 other host(s) of the catalog" in latest.reason


def test_a_recheck_whose_witnesses_answer_counts_the_failure(engine: Engine) -> None:
    stored, asked, lines = _recheck_of_a(engine, answer=httpx.Response(503))

    assert not stored.network_down and "a.example" not in asked
    assert not any("network" in line for line in lines)
    state = link(engine, url("a"))
    assert (state.state, state.consecutive_failures, state.outcome) == (
        SUSPECT,
        1,
        Outcome.DNS_ERROR,
    )


def test_before_any_host_answered_other_hosts_of_the_catalog_are_the_witnesses(
    engine: Engine,
) -> None:
    """A machine offline since the catalog was added: no host ever answered, and a recheck
    of one link must still not blame its site (it once ended as "confirmed broken")."""
    stored, asked, lines = _recheck_of_a(engine, answer=None, answered_before=False)

    assert stored.network_down and "network was unreachable" in lines[1]
    assert len(set(asked)) == 3 and "a.example" not in asked
    assert link(engine, url("a")).consecutive_failures == 0
    (latest, *_) = store.resource_history(engine, "a").observations
    assert latest.outcome is Outcome.NETWORK_UNAVAILABLE
    assert "3 other host(s) of the catalog" in latest.reason


def test_before_any_host_answered_witnesses_that_answer_let_the_failure_count(
    engine: Engine,
) -> None:
    stored, asked, _ = _recheck_of_a(engine, answer=httpx.Response(200), answered_before=False)

    assert not stored.network_down and len(set(asked)) == 3
    state = link(engine, url("a"))
    assert (state.state, state.consecutive_failures) == (SUSPECT, 1)


def test_a_catalog_of_one_host_has_no_witness_to_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[object] = []
    monkeypatch.setattr(runs, "check_canaries", lambda *a, **k: asked.append(a))
    one_host = make_catalog("toolkit", [make_resource("a", url=url("a"), title=GUIDE_TITLE)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [one_host], now=T0)
        run_id = store.start_run(engine, trigger="manual", now=days(1))
        failing = [make_observation(url("a"), Outcome.DNS_ERROR, days(1), http_status=None)]

        stored = runs.store_batch(settings_for(engine), run_id, failing, clock=Ticker(days(1)))

        assert not asked and not stored.network_down
        assert link(engine, url("a")).state == SUSPECT


# --- canaries before the run -----------------------------------------------------------------


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)


def _canary_settings(engine: Engine, catalog_file: Path):
    settings = settings_for(engine, [catalog_file], canary_urls=("https://canary.example/",))
    return replace(settings, check=CheckSettings(max_attempts=1, total_timeout=5))


def test_failing_canaries_make_the_whole_run_network_down(engine: Engine, tmp_path: Path) -> None:
    catalog_file = write_catalog(
        tmp_path / "canary.yaml",
        [{"id": "x", "title": "X", "url": url("x")}, {"id": "y", "title": "Y", "url": url("y")}],
    )
    settings = _canary_settings(engine, catalog_file)
    clock = Ticker(days(1))

    prepared = runs.prepare_run(
        settings,
        trigger="schedule",
        clock=clock,
        transport=httpx.MockTransport(_unreachable),
        resolver=public,
    )

    assert prepared.network_down and prepared.batches == ()
    assert prepared.offline is not None and prepared.offline.observations == 2
    for u in (url("x"), url("y")):
        state = link(engine, u)
        assert (state.state, state.consecutive_failures, state.outcome) == (UNCHECKED, 0, None)
    history = store.resource_history(engine, "x")
    assert [o.outcome for o in history.observations] == [Outcome.NETWORK_UNAVAILABLE]
    assert "canary" in history.observations[0].reason
    summary = runs.finish_run(settings, prepared.run_id, stored=[], sync=prepared.sync, clock=clock)
    assert summary.network_unavailable
    assert summary.counts == {"network_unavailable": 2}
    assert any("canary" in line for line in summary.lines())


def test_answering_canaries_leave_the_run_to_check(engine: Engine, tmp_path: Path) -> None:
    catalog_file = write_catalog(tmp_path / "up.yaml", [{"id": "x", "title": "X", "url": url("x")}])
    settings = _canary_settings(engine, catalog_file)
    prepared = runs.prepare_run(
        settings,
        trigger="schedule",
        clock=Ticker(days(1)),
        transport=httpx.MockTransport(lambda request: httpx.Response(200)),
        resolver=public,
    )
    assert not prepared.network_down
    assert prepared.url_count == 1 and prepared.offline is None


# --- drift -----------------------------------------------------------------------------------


def page(u: str, day: float, title: str, text: str):
    return make_observation(
        u, checked_at=days(day), title=title, text_sample_packed=pack_text(text)
    )


def test_drift_is_scored_flagged_with_evidence_and_cleared(engine: Engine) -> None:
    health = HealthSettings()
    u = url("a")
    for day in (0, 1):
        store.record_observations(
            engine, None, [page(u, day, GUIDE_TITLE, GUIDE_TEXT)], health, now=days(day)
        )
    assert link(engine, u).drift_reason is None

    events = store.record_observations(
        engine, None, [page(u, 2, "Best Online Casino", CASINO_TEXT)], health, now=days(2)
    )

    drifted = link(engine, u)
    assert drifted.drift_reason and drifted.drift_since == days(2)
    (event,) = [e for e in events if e.kind == "drift_detected"]
    assert event.resource_id is not None and event.details["evidence"]
    history = store.resource_history(engine, "a")
    scores = [o.relevance for o in history.observations]
    assert scores[0] is not None and scores[1] is not None and scores[0] < scores[1]

    events = store.record_observations(
        engine, None, [page(u, 3, GUIDE_TITLE, GUIDE_TEXT)], health, now=days(3)
    )
    assert link(engine, u).drift_reason is None
    assert "drift_cleared" in [e.kind for e in events]


def _pdf(u: str, day: float):
    return make_observation(
        u, checked_at=days(day), content_type="application/pdf", fingerprint=f"pdf{day}"
    )


def _html(u: str, day: float, title: str, text: str):
    return replace(page(u, day, title, text), content_type="text/html; charset=utf-8")


ERROR_PAGE = ("Error", "An error occurred. The requested document is not available.")
#: A home page with words enough to be judged by them, and a few of the guide's.
HOME_PAGE = (
    "Example Agency | Home",
    "Welcome to Example Agency. News Programs Grants Careers About us Contact. Our agency "
    "funds victim services, training for law enforcement, community programs, research "
    "grants and technical assistance across the state. Apply for funding, read the latest "
    "news releases, find upcoming events, meetings and public notices, and sign up for our "
    "newsletter. Accessibility FOIA Privacy Policy.",
)


def test_a_pdf_an_error_or_home_page_replaced_drifts_until_the_pdf_is_back(
    engine: Engine,
) -> None:
    # A report's PDF now answered 200 by the site's error page, then its home page: "OK"
    # night after night, and the report offered mark-reviewed for the dead link.
    health, u = HealthSettings(), url("a")
    store.record_observations(engine, None, [_pdf(u, 0)], health, now=days(0))
    events = store.record_observations(
        engine, None, [_html(u, 1, *ERROR_PAGE)], health, now=days(1)
    )
    flagged = link(engine, u)
    assert flagged.drift_reason is not None and drift.names_replaced(flagged.drift_reason)
    assert "'Error'" in flagged.drift_reason and not drift.names_markers(flagged.drift_reason)
    assert [e.kind for e in events if e.kind.startswith("drift")] == ["drift_detected"]
    # Later nights the link's last type is the web page's: the flag holds, even over a page
    # with enough words to be judged, whose score never becomes the baseline.
    for day, shown in ((2, ERROR_PAGE), (3, HOME_PAGE), (4, HOME_PAGE)):
        events = store.record_observations(
            engine, None, [_html(u, day, *shown)], health, now=days(day)
        )
        assert link(engine, u).drift_reason is not None
        assert not [e for e in events if e.kind.startswith("drift")]
    events = store.record_observations(engine, None, [_pdf(u, 5)], health, now=days(5))
    assert link(engine, u).drift_reason is None
    assert [e.kind for e in events if e.kind.startswith("drift")] == ["drift_cleared"]


def test_a_pdf_replaced_by_its_own_landing_page_is_no_drift(engine: Engine) -> None:
    health, u = HealthSettings(), url("a")
    store.record_observations(engine, None, [_pdf(u, 0)], health, now=days(0))
    landing = (
        "Publications | Example Agency",
        f"Publications {GUIDE_TITLE} (2024). The guide helps task forces build "
        "investigations. Download the PDF (2 MB).",
    )
    events = store.record_observations(engine, None, [_html(u, 1, *landing)], health, now=days(1))
    assert link(engine, u).drift_reason is None
    assert "content_type_changed" in [e.kind for e in events]


@pytest.mark.parametrize("chunk", [1, 2, store.STORE_CHUNK])
def test_a_batch_holding_a_urls_history_applies_it_in_order_in_any_chunking(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # A batch is stored a chunk at a time: a URL whose observations fall into several
    # chunks must see the state and drift history the chunk before left.
    monkeypatch.setattr(store._observations, "STORE_CHUNK", chunk)
    u = url("a")
    texts = [(GUIDE_TITLE, GUIDE_TEXT)] * 2 + [("Best Online Casino", CASINO_TEXT)]
    batch = [page(u, day, title, text) for day, (title, text) in enumerate(texts)]
    batch += [make_observation(url("b"), Outcome.NOT_FOUND, days(day)) for day in range(4)]
    batch.insert(3, page(u, 3, GUIDE_TITLE, GUIDE_TEXT))

    events = store.record_observations(engine, None, batch, HealthSettings(), now=days(4))

    kinds = [e.kind for e in events if e.url == u]
    assert kinds.index("drift_detected") < kinds.index("drift_cleared")
    assert link(engine, u).drift_reason is None
    assert [o.relevance is not None for o in store.resource_history(engine, "a").observations] == [
        True
    ] * 4
    b = link(engine, url("b"))
    assert (b.state, b.consecutive_failures) == (BROKEN, 4)
    assert [
        e.details.get("new") for e in events if e.kind == "state_changed" and e.url == url("b")
    ] == [
        SUSPECT,
        BROKEN,
    ]


# --- archive copies --------------------------------------------------------------------------


def _break(engine: Engine, u: str, health: HealthSettings) -> None:
    for day in (0, 1, 2):
        obs = make_observation(u, Outcome.NOT_FOUND, days(day))
        store.record_observations(engine, None, [obs], health, now=days(day))


@respx.mock
def test_broken_links_get_an_archived_copy_once_and_the_cache_persists(engine: Engine) -> None:
    settings = settings_for(engine, archive_lookups=True, archive_lookups_per_run=5)
    _break(engine, url("a"), settings.health)
    assert link(engine, url("a")).state == BROKEN
    cdx = respx.get(CDX_URL).mock(
        return_value=httpx.Response(
            200,
            json=[
                ["timestamp", "original", "statuscode"],
                ["20240101000000", url("a"), "200"],
            ],
        )
    )
    clock = Ticker(days(2))
    run_id = store.start_run(engine, trigger="schedule", now=days(2))
    with httpx.Client() as client:
        lookup = ArchiveLookup(client=client, cache=store.ArchiveCache(engine), clock=clock)
        made = runs.lookup_archives(settings, run_id, archive=lookup, clock=clock)
        assert made == 1
        found = link(engine, url("a"))
        assert found.archive_url and "20240101000000" in found.archive_url
        assert found.archive_checked_at == days(2)
        # Found once: the next run does not ask again.
        assert runs.lookup_archives(settings, run_id, archive=lookup, clock=clock) == 0
    assert cdx.call_count == 1
    assert len(store.ArchiveCache(engine)) == 1
    (key,) = list(store.ArchiveCache(engine))
    assert store.ArchiveCache(engine)[key][1] is not None


def test_archive_lookups_are_bounded_per_run_and_can_be_switched_off(engine: Engine) -> None:
    class Counting:
        calls = 0

        def closest_before(self, u: str, before: datetime) -> None:
            Counting.calls += 1
            return None

    settings = settings_for(engine, archive_lookups=True, archive_lookups_per_run=2)
    for h in "abc":
        _break(engine, url(h), settings.health)
    run_id = store.start_run(engine, trigger="schedule", now=days(2))
    lookup = Counting()
    assert runs.lookup_archives(settings, run_id, archive=lookup, clock=Ticker(days(2))) == 2  # type: ignore[arg-type]
    assert runs.lookup_archives(settings, run_id, archive=lookup, clock=Ticker(days(2))) == 0  # type: ignore[arg-type]
    assert Counting.calls == 2

    off = settings_for(engine)  # archive_lookups=False
    runs.store_batch(off, run_id, [make_observation(url("d"), checked_at=days(3))])
    assert Counting.calls == 2


def test_a_failing_archive_never_fails_the_batch(engine: Engine) -> None:
    class Exploding:
        def closest_before(self, u: str, before: datetime) -> None:
            raise RuntimeError("boom")

    settings = settings_for(engine, archive_lookups=True)
    _break(engine, url("a"), settings.health)
    run_id = store.start_run(engine, trigger="schedule", now=days(3))
    stored = runs.store_batch(
        settings,
        run_id,
        [make_observation(url("a"), Outcome.NOT_FOUND, days(3))],
        archive=Exploding(),  # type: ignore[arg-type]
    )
    assert stored.observations == 1


def test_private_hosts_are_never_looked_up(engine: Engine) -> None:
    sync_catalogs(
        engine,
        [make_catalog("intranet", [make_resource("p", url="http://127.0.0.1:8080/p")])],
        now=T0,
    )
    settings = settings_for(engine, archive_lookups=True)
    _break(engine, "http://127.0.0.1:8080/p", settings.health)

    class Refusing:
        def closest_before(self, u: str, before: datetime) -> None:
            raise AssertionError("looked up a private address")

    run_id = store.start_run(engine, trigger="schedule", now=days(3))
    assert runs.lookup_archives(settings, run_id, archive=Refusing(), clock=Ticker(days(3))) == 0  # type: ignore[arg-type]


# --- staleness -------------------------------------------------------------------------------


def test_staleness_reasons_are_stored_after_sync_and_after_a_run(engine: Engine) -> None:
    dated = make_catalog(
        "old", [make_resource("old", url=url("old"), title="2009 Trafficking in Persons Report")]
    )
    sync_catalogs(engine, [dated], now=T0)
    (note,) = store.find_resource(engine, "old").stale
    assert note.code == "dated" and note.since is not None and note.reason

    settings = settings_for(engine)
    run_id = store.start_run(engine, trigger="schedule", now=days(400))
    runs.finish_run(settings, run_id, stored=[], clock=Ticker(days(400)))
    codes = {n.code for n in store.find_resource(engine, "old").stale}
    assert codes == {"dated", "unverified", "review_overdue"}


def test_a_new_url_is_not_unverified_for_the_time_before_it_was_given(engine: Engine) -> None:
    # The entry's old URL worked every night; the curator then moved it to a new address.
    # Until the new one is checked nothing has failed: the report must not say "no check
    # has succeeded since the link was added" two months ago.
    entry = make_resource(
        "moved", url=url("old"), title="Guide", extra={"reviewed_at": "2025-03-01"}
    )
    sync_catalogs(engine, [make_catalog("moved", [entry])], now=T0)
    for day in range(60):
        obs = make_observation(url("old"), Outcome.OK, days(day))
        store.record_observations(engine, None, [obs], HealthSettings(), now=days(day))
    moved = replace(entry, url=url("new"))
    sync_catalogs(engine, [make_catalog("moved", [moved])], now=days(60), health=HealthSettings())
    assert store.find_resource(engine, "moved").stale == ()

    # Never succeeding at its new address is counted from the change, not from the entry.
    store.refresh_staleness(engine, HealthSettings(), now=days(80))
    (note,) = store.find_resource(engine, "moved").stale
    assert note.code == "unverified" and note.since == days(60)
    assert store._staleness.LINKING_EVENTS == (ADDED, URL_EDITED)


def test_a_reviewed_at_field_in_the_entry_counts_as_a_review(engine: Engine) -> None:
    entry = make_resource("rev", url=url("rev"), title="Guide", extra={"reviewed_at": "2025-12-01"})
    sync_catalogs(engine, [make_catalog("rev", [entry])], now=days(400))
    codes = {n.code for n in store.find_resource(engine, "rev").stale}
    assert "review_overdue" not in codes


def test_witnesses_over_real_sockets(tmp_path: Path) -> None:
    """A recheck of a dead local host while the witness site is up counts the failure; the
    same recheck after the witness site went away too is our network's fault, not the
    link's (127.0.0.2 has no listener: connections to it are refused)."""
    check = CheckSettings(max_attempts=1, total_timeout=5, private_allowlist=("127.0.0.0/8",))
    with temporary_database(tmp_path) as engine, local_site() as site:
        dead = site.url("/gone").replace("127.0.0.1", "127.0.0.2")
        entries = [
            {"id": "report", "title": "Report", "url": site.url("/report.html")},
            {"id": "dead", "title": "Dead", "url": dead},
        ]
        sync_catalogs(
            engine, [load_catalog(write_catalog(tmp_path / "c.yaml", entries))], now=utcnow()
        )
        settings = replace(settings_for(engine), check=check)

        def recheck(*urls: str) -> runs.BatchStored:
            targets = [Target(url=u, host=host_of(u)) for u in urls]
            run_id = store.start_run(engine, trigger="manual", now=utcnow())
            observed = asyncio.run(check_targets(targets, check))
            return runs.store_batch(settings, run_id, observed)

        assert not recheck(site.url("/report.html"), dead).network_down
        assert not recheck(dead).network_down  # the witness answered: 127.0.0.2 is down
        assert link(engine, dead).consecutive_failures == 2
        site_hits = sum(site.hits.values())
        site.stop()

        assert recheck(dead).network_down
        assert sum(site.hits.values()) == site_hits  # nothing answered there any more
        assert (link(engine, dead).consecutive_failures, link(engine, dead).state) == (2, SUSPECT)


# --- conditional GETs across nights ----------------------------------------------------------


class ChangingPage:
    """a.example/a served with an ETag that moves with `version` (none before version
    `etags_from`), as do its title and text; it answers a GET whose If-None-Match is the
    current ETag with 304."""

    def __init__(self, etags_from: int = 1) -> None:
        self.version = 1
        self.etags_from = etags_from
        #: The If-None-Match of every GET, in order.
        self.asked_with: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        etag = f'"v{self.version}"'
        headers = {"Content-Type": "text/html"}
        if self.version >= self.etags_from:
            headers["ETag"] = etag
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        self.asked_with.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers=headers)
        title, text = (GUIDE_TITLE, GUIDE_TEXT) if self.version == 1 else ("For sale", CASINO_TEXT)
        body = f"<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"
        return httpx.Response(200, headers=headers, text=body)


def _night(
    engine: Engine,
    page: ChangingPage,
    day: float,
    *,
    run_id: int | None = None,
    fingerprint_max_age_days: float = 7,
) -> list[store.EventRecord]:
    """One night's check of a.example/a, fingerprints due after 7 days, stored (in run
    `run_id`, if given)."""
    settings = CheckSettings(max_attempts=1, total_timeout=5, soft404_probe=False)
    targets = store.targets_for_check(
        engine,
        now=days(day),
        fingerprint_max_age_days=fingerprint_max_age_days,
        resource_ids=["a"],
    )
    observations = asyncio.run(
        check_targets(
            targets,
            settings,
            transport=httpx.MockTransport(page),
            resolver=public,
            clock=lambda: days(day),
        )
    )
    return store.record_observations(engine, run_id, observations, HealthSettings(), now=days(day))


def test_a_head_night_that_sees_a_new_etag_fetches_the_page_at_once(engine: Engine) -> None:
    """A page taken over the night after its fingerprint must not pass as the resource
    until the next fingerprint is due: the HEAD's new ETag sends the GET that night."""
    page = ChangingPage()
    _night(engine, page, 1)  # GET: fingerprint and title of v1
    page.version = 2  # the page changes
    events = _night(engine, page, 2)  # fingerprint not due, but the HEAD sees "v2"

    assert page.asked_with == [None, '"v1"']  # the validator of the copy we fingerprinted
    assert "content_changed" in {event.kind for event in events}
    state = link(engine, url("a"))
    assert (state.title, state.etag, state.fingerprinted_at) == ("For sale", '"v2"', days(2))
    _night(engine, page, 3)  # nothing moved since: HEAD only
    assert page.asked_with == [None, '"v1"']


def test_a_validator_seen_only_by_a_head_never_makes_the_next_fingerprint_conditional(
    engine: Engine,
) -> None:
    """The page had no ETag when fingerprinted; a HEAD night then saw one (nothing to
    compare it with, so no GET). Had it become the link's validator, the fingerprint GET
    would have asked "changed since v2?", got 304, and kept the old fingerprint and title
    over a page now for sale, for good."""
    page = ChangingPage(etags_from=2)
    _night(engine, page, 1)  # GET: fingerprint and title of v1, no ETag
    page.version = 2  # the page changes, and now sends an ETag
    _night(engine, page, 2)  # fingerprint not due: HEAD only
    assert page.asked_with == [None]
    events = _night(engine, page, 9)  # fingerprint due: a GET

    assert page.asked_with == [None, None]  # not conditional on the HEAD's "v2"
    assert "content_changed" in {event.kind for event in events}
    state = link(engine, url("a"))
    assert state.title == "For sale"
    assert state.etag == '"v2"'
    assert state.fingerprinted_at == days(9)


TIP_2018 = "https://www.state.gov/j/tip/rls/tiprpt/2018/282570.htm"
TIP_2024 = "https://www.state.gov/reports/2024-trafficking-in-persons-report/"


class NextEdition:
    """The 2018 report's address, which answers 301 to the 2024 report once `moved`."""

    def __init__(self) -> None:
        self.moved = False
        #: (method, URL) of every request, in order.
        self.asked: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append((request.method, str(request.url)))
        if str(request.url) == TIP_2018 and self.moved:
            return httpx.Response(301, headers={"Location": TIP_2024})
        year = "2024" if str(request.url) == TIP_2024 else "2018"
        title = f"{year} Trafficking in Persons Report"
        text = f"<p>The {year} Trafficking in Persons Report, country narratives.</p>"
        body = f"<html><head><title>{title}</title></head><body>{text}</body></html>"
        return httpx.Response(200, headers={"Content-Type": "text/html"}, text=body)


TIP_CATALOG = make_catalog(
    "toolkit",
    [make_resource("tip", TIP_2018, title="2018 Trafficking in Persons Report", year=2018)],
)


def _tip_night(engine: Engine, site: NextEdition, day: float) -> list[str]:
    """One night's check of the report's address (fingerprints due after 7 days), stored
    with its staleness; the methods it used."""
    (obs,) = _check_all(engine, site, day)
    return list(obs.methods)


def _check_all(
    engine: Engine, site: Callable[[httpx.Request], httpx.Response], day: float
) -> list[Observation]:
    """One night's check of every link (fingerprints due after 7 days), stored with its
    staleness."""
    targets = store.targets_for_check(engine, now=days(day), fingerprint_max_age_days=7)
    observations = asyncio.run(
        check_targets(
            targets,
            CheckSettings(max_attempts=1, total_timeout=5, soft404_probe=False),
            transport=httpx.MockTransport(site),
            resolver=public,
            clock=lambda: days(day),
        )
    )
    store.record_observations(engine, None, observations, HealthSettings(), now=days(day))
    store.refresh_staleness(engine, HealthSettings(), now=days(day))
    return observations


def test_a_night_whose_head_ends_at_a_new_edition_reads_it_that_night(tmp_path: Path) -> None:
    """The 2018 report's address began to redirect to the 2024 edition the night after it
    was read: checked by HEAD alone until the weekly fingerprint, its row said "Page
    title: 2018 ..." beside the new address, and the 2024 page was not compared with the
    entry (no "names 2024") for a week. The HEAD that ends elsewhere reads the new page
    that night; the next night, nothing having moved, HEAD alone again."""
    site = NextEdition()
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [TIP_CATALOG], now=T0)
        assert _tip_night(engine, site, 1) == ["GET"]
        site.moved = True
        assert _tip_night(engine, site, 2) == ["HEAD", "GET"]  # the fingerprint is due on day 8
        assert ("GET", TIP_2024) in site.asked
        state = link(engine, TIP_2018)
        assert (state.outcome, state.title) == (
            Outcome.REDIRECTED_PERMANENT,
            "2024 Trafficking in Persons Report",
        )
        assert state.fingerprinted_at == days(2)
        assert "new_edition" in {note.code for note in store.find_resource(engine, "tip").stale}
        assert _tip_night(engine, site, 3) == ["HEAD"]


def test_a_head_night_stored_before_the_page_was_read_again_does_not_hide_the_move(
    tmp_path: Path,
) -> None:
    """A database whose HEAD nights already ended at the new edition without reading it
    (as checks before this rule stored them): the address compared with is the read's,
    not the last night's, so the first night after reads the 2024 page."""
    site = NextEdition()
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [TIP_CATALOG], now=T0)
        assert _tip_night(engine, site, 1) == ["GET"]
        head_only = make_observation(
            TIP_2018,
            Outcome.REDIRECTED_PERMANENT,
            days(2),
            methods=("HEAD",),
            final_url=TIP_2024,
            chain=(Hop(TIP_2018, 301), Hop(TIP_2024, 200)),
        )
        store.record_observations(engine, None, [head_only], HealthSettings(), now=days(2))
        site.moved = True
        assert _tip_night(engine, site, 3) == ["HEAD", "GET"]
        assert link(engine, TIP_2018).title == "2024 Trafficking in Persons Report"


SHARE = "https://files.example.org"
REPORT_TEXT = "Annual report on trafficking in persons: country narratives and data."


class Downloads:
    """A file host whose redirects are not the page moving: each request's (method, path)
    is kept in `asked`. `routes` maps a path to a function of (method, the request's number)
    giving a redirect's (status, Location), or None for the file itself."""

    def __init__(self, routes: dict[str, Callable[[str, int], tuple[int, str] | None]]) -> None:
        self.routes = routes
        self.asked: list[tuple[str, str]] = []
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.asked.append((request.method, path))
        self.requests += 1
        route = self.routes.get(request.url.path)
        redirect = route(request.method, self.requests) if route else None
        if redirect is not None:
            status, location = redirect
            return httpx.Response(status, headers={"Location": location})
        body = f"<html><head><title>Annual report 2019</title></head><body><p>{REPORT_TEXT}"
        return httpx.Response(200, headers={"ETag": '"v1"'}, html=body + "</p></body></html>")

    def gets_a_night(self, engine: Engine, nights: int) -> list[int]:
        """The GET requests of each of `nights` nights, a day apart from day 1."""
        counts = []
        for day in range(1, nights + 1):
            self.asked.clear()
            _check_all(engine, self, day)
            counts.append(sum(method == "GET" for method, _ in self.asked))
        return counts


@contextlib.contextmanager
def _shared(tmp_path: Path, paths: Sequence[str]) -> Iterator[Engine]:
    """A database whose catalog links each of `paths` on the file host."""
    rows = [
        make_resource(f"r{i}", f"{SHARE}{path}", title="Annual report 2019")
        for i, path in enumerate(paths)
    ]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", rows)], now=T0)
        yield engine


@pytest.mark.waits  # nights over real sockets
def test_a_redirect_to_a_fresh_download_token_is_no_reason_to_read_the_file_each_night(
    tmp_path: Path,
) -> None:
    """A Dropbox-style link answers 302 to `/cd/0/get/<token>/report.pdf`, another to
    `/dl?file=...&sid=<random>`: a new address at every request, which the HEAD of each
    night compared with the read's address (issue #7, r5). They downloaded every file every
    night; an unchanged night is HEAD alone, as for a file that never redirects. So it is
    for the share link's old address, moved to it for good (301) long ago."""
    site = Downloads(
        {
            "/s/abc/report.pdf": lambda method, n: (302, f"/cd/0/get/T{n}/report.pdf"),
            "/files/report2.pdf": lambda method, n: (302, f"/dl?file=report2.pdf&sid={n}"),
            "/old/report.pdf": lambda method, n: (301, "/s/abc/report.pdf"),
        }
    )
    paths = ("/s/abc/report.pdf", "/files/report2.pdf", "/plain.pdf", "/old/report.pdf")
    with _shared(tmp_path, paths) as engine:
        assert site.gets_a_night(engine, 4) == [8, 0, 0, 0]


def test_a_server_that_redirects_get_alone_is_no_reason_to_read_the_page_each_night(
    tmp_path: Path,
) -> None:
    """A download script that sends its Location to GET only, and a site that gives GET
    the trailing-slash 301 but answers HEAD where it asked: the read ends elsewhere than
    every HEAD (r5). Each night read both pages again; an unchanged night is HEAD alone."""

    def to_get(location: str, status: int) -> Callable[[str, int], tuple[int, str] | None]:
        return lambda method, n: (status, location) if method == "GET" else None

    site = Downloads(
        {
            "/download.php": to_get("/files/2019/annual-report.pdf", 302),
            "/toolkit": to_get("/toolkit/", 301),
        }
    )
    with _shared(tmp_path, ("/download.php?id=2019", "/toolkit")) as engine:
        assert site.gets_a_night(engine, 4) == [4, 0, 0, 0]


@pytest.mark.waits  # nights over real sockets
def test_a_permanent_redirect_that_ends_apart_from_the_read_is_not_read_every_night(
    tmp_path: Path,
) -> None:
    """A permanent redirect does say the page moved, but some lead to a new token at every
    request, and some servers redirect HEAD alone: the read it sends ends elsewhere than
    the HEAD again. That page is read on the night after its fingerprint (it may have
    moved) and then not before the next fingerprint is due, 7 days after that read: two
    reads a week, not a read every night (r5)."""
    site = Downloads(
        {
            "/box/report.pdf": lambda method, n: (301, f"/cd/0/get/T{n}/report.pdf"),
            "/head-moves.pdf": lambda method, n: (
                (301, "/elsewhere.pdf") if method == "HEAD" else None
            ),
        }
    )
    with _shared(tmp_path, ("/box/report.pdf", "/head-moves.pdf")) as engine:
        gets = site.gets_a_night(engine, 10)
    assert gets == [3, 3, 0, 0, 0, 0, 0, 0, 3, 3]


def test_a_night_that_finds_a_page_hijacked_draws_it_out_of_the_trend_s_ok(
    engine: Engine,
) -> None:
    """The trend counted outcomes only: a casino page answering 200 was "OK 100%" while
    its row said "Page no longer matches". The count is the night's own: the flag
    clearing later does not redraw past nights."""
    page = ChangingPage()
    for day, version in ((1, 1), (2, 2), (3, 1)):
        page.version = version
        run_id = store.start_run(engine, trigger="schedule", now=days(day))
        _night(engine, page, day, run_id=run_id, fingerprint_max_age_days=0)
        store.finish_run(engine, run_id, status="completed", now=days(day))
    trend = health_trend(report_data(engine).trend_runs, days(4))
    assert trend is not None
    points = [(p.ok, p.attention) for p in trend.points]
    assert points == [(1, 0), (0, 1), (1, 0)]
    assert "links OK stayed at 100%" in trend.description  # first and last nights


def test_a_recheck_that_finds_a_working_page_hijacked_says_drift_not_just_ok(
    engine: Engine,
) -> None:
    """The curator who rechecks an entry reads its verdict line and the run's summary:
    "OK" alone, for a page now selling casino bonuses, would tell them all is well."""
    page = ChangingPage()
    _night(engine, page, 1)
    page.version = 2
    run_id = store.start_run(engine, trigger="recheck", now=days(2))
    _night(engine, page, 2, run_id=run_id, fingerprint_max_age_days=0)

    (line,) = verdict_lines(store.recheck_statuses(engine, None, rids=["a"]), ["a"])
    assert line.startswith(
        "toolkit/a: OK - GET 200; the page no longer matches its entry: The page now"
    )
    assert "casino" in line.lower()
    assert store.drifted_in_run(engine, run_id, now=days(2)) == 1
    other = store.start_run(engine, trigger="recheck", now=days(3))  # checked nothing
    assert store.drifted_in_run(engine, other, now=days(3)) == 0
    summary = runs.RunSummary(
        run_id, "completed", "recheck", days(2), days(2), 1, {"ok": 1}, False, drifted=1
    )
    assert "Drift: 1 resource whose page no longer matches its entry" in (
        "\n".join(summary.lines())
    )
