"""The store: runs, targets, observations with link state and events, history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from catalog import store
from catalog import tables as t
from catalog.errors import ConfigError, NotFoundError, StoreError
from catalog.health import BROKEN, CHECK_BY_HAND, OK, RECOVERED, SUSPECT, UNCHECKED
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    without,
)

HEALTH = HealthSettings(confirm_failures=3, confirm_days=2.0)
URL_A = "https://example.org/a"
URL_B = "https://example.org/b"
TOOLKIT = make_catalog("toolkit", [make_resource("a"), make_resource("b")])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [TOOLKIT], now=T0)
        yield engine


def state_of(engine: Engine, url: str) -> store.LinkStateRecord:
    (link,) = [s for s in store.link_states(engine) if s.url == url]
    return link


def observe(engine: Engine, *observations, run_id: int | None = None, now: datetime = T0):
    return store.record_observations(engine, run_id, observations, HEALTH, now=now)


def test_run_is_started_and_finished_with_counts_from_its_observations(engine: Engine) -> None:
    run_id = store.start_run(engine, trigger="schedule", now=T0, catalogs=["toolkit.yaml"])
    store.set_run_planned(engine, run_id, 2)
    observe(
        engine,
        make_observation(URL_A),
        make_observation(URL_B, Outcome.NOT_FOUND),
        make_observation(URL_B, Outcome.NOT_FOUND),
        run_id=run_id,
    )

    run = store.finish_run(
        engine, run_id, status="completed", now=days(0.01), summary={"batches": 1}
    )

    assert run.status == "completed"
    assert run.counts == {"not_found": 2, "ok": 1}
    assert (run.urls_planned, run.urls_checked) == (2, 2)
    assert run.duration_s == pytest.approx(864.0)
    assert run.summary == {"catalogs": ["toolkit.yaml"], "batches": 1, "drifted_links": 0}
    assert store.get_run(engine, run_id) == run


def test_latest_runs_come_newest_first(engine: Engine) -> None:
    ids = [store.start_run(engine, trigger="manual", now=days(i)) for i in range(3)]
    assert [r.id for r in store.latest_runs(engine, limit=2)] == ids[:0:-1]
    assert store.latest_runs(engine)[0].status == "running"


def test_unknown_run_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFoundError):
        store.get_run(engine, 999)


def test_targets_skip_removed_resources_and_filter_by_id_and_collection(engine: Engine) -> None:
    sync_catalogs(engine, [make_catalog("other", [make_resource("c")])], now=T0)
    all_urls = {
        tg.url for tg in store.targets_for_check(engine, now=T0, fingerprint_max_age_days=7)
    }
    assert all_urls == {URL_A, URL_B, "https://example.org/c"}

    sync_catalogs(engine, [without(TOOLKIT, "b")], now=days(1))
    targets = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
    assert {tg.url for tg in targets} == {URL_A, "https://example.org/c"}

    by_id = store.targets_for_check(engine, now=T0, fingerprint_max_age_days=7, resource_ids=["c"])
    assert [tg.resource_ids for tg in by_id] == [("c",)]
    by_collection = store.targets_for_check(
        engine, now=T0, fingerprint_max_age_days=7, collection_keys=["toolkit"]
    )
    assert [tg.url for tg in by_collection] == [URL_A]


def test_targets_carry_the_titles_of_the_entries_that_link_them(engine: Engine) -> None:
    """The soft-404 reading of a page title spares a page titled as its entry. Only titles
    that hold such a message ride along: 100,000 others would cost ~12 MB of a run."""
    shared = [make_resource("x", url=URL_A, title="Nothing Here | Stories")]
    sync_catalogs(engine, [TOOLKIT, make_catalog("other", shared)], now=T0)
    by_url = {
        tg.url: tg for tg in store.targets_for_check(engine, now=T0, fingerprint_max_age_days=7)
    }
    assert by_url[URL_A].titles == ("Nothing Here | Stories",)  # not "Resource a"


def test_targets_carry_previous_facts_and_fingerprint_due(engine: Engine) -> None:
    (fresh, _) = store.targets_for_check(engine, now=T0, fingerprint_max_age_days=7)
    assert fresh.previous is None and fresh.fingerprint_due

    observe(engine, make_observation(URL_A, etag='"v1"', fingerprint="aaa", title="A"))
    (soon, _) = store.targets_for_check(engine, now=days(3), fingerprint_max_age_days=7)
    assert soon.previous is not None
    assert (soon.previous.etag, soon.previous.fingerprint) == ('"v1"', "aaa")
    assert soon.previous.outcome is Outcome.OK
    assert soon.previous.fingerprinted_at == T0
    assert not soon.fingerprint_due
    (late, _) = store.targets_for_check(engine, now=days(7), fingerprint_max_age_days=7)
    assert late.fingerprint_due


def test_a_fingerprint_of_the_earlier_rule_is_read_again_unconditionally(engine: Engine) -> None:
    """After migration 0015 marked the stored fingerprints, each link's next check reads
    its page for a baseline of today's rule, without validators: a 304 would carry the old
    fingerprint on for months, and the first read would come the night the page changed,
    taken as the new baseline with no news of the change."""
    from sqlalchemy import update

    from catalog import tables as t
    from catalog.model import LEGACY_FINGERPRINT

    observe(engine, make_observation(URL_A, etag='"v1"', last_modified="Mon", fingerprint="aaa"))
    with engine.begin() as conn:
        conn.execute(update(t.Link).values(fingerprint=LEGACY_FINGERPRINT + "aaa"))
    (marked, _) = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
    assert marked.fingerprint_due
    assert marked.previous is not None and marked.previous.fingerprint == "v1:aaa"
    assert (marked.previous.etag, marked.previous.last_modified) == (None, None)
    observe(engine, make_observation(URL_A, etag='"v1"', fingerprint="bbb", checked_at=days(1)))
    (read, _) = store.targets_for_check(engine, now=days(2), fingerprint_max_age_days=7)
    assert not read.fingerprint_due and read.previous is not None
    assert (read.previous.etag, read.previous.fingerprint) == ('"v1"', "bbb")


def test_recording_observations_stores_them_and_updates_link_state(engine: Engine) -> None:
    run_id = store.start_run(engine, trigger="manual", now=T0)
    events = observe(
        engine,
        make_observation(URL_A, fingerprint="aaa", title="A"),
        make_observation(URL_B, Outcome.NOT_FOUND),
        run_id=run_id,
    )

    assert [(e.kind, e.url, e.run_id) for e in events] == [
        ("outcome_changed", URL_B, run_id),
        ("state_changed", URL_B, run_id),
    ]
    a, b = state_of(engine, URL_A), state_of(engine, URL_B)
    assert (a.state, a.outcome, a.fingerprint, a.resource_ids) == (OK, Outcome.OK, "aaa", ("a",))
    assert (b.state, b.outcome, b.http_status, b.consecutive_failures) == (
        SUSPECT,
        Outcome.NOT_FOUND,
        404,
        1,
    )
    with store.read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(t.Observation)) == 2
        linked_events = s.scalar(
            select(func.count()).select_from(t.Event).where(t.Event.link_id.is_not(None))
        )
        assert linked_events is not None and linked_events >= 2


def test_a_batch_is_one_transaction(engine: Engine) -> None:
    naive = make_observation(URL_B, checked_at=datetime(2025, 3, 1))
    with pytest.raises(Exception):  # noqa: B017 - any database error will do
        observe(engine, make_observation(URL_A), naive)
    assert state_of(engine, URL_A).state == UNCHECKED
    with store.read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(t.Observation)) == 0


def test_failures_are_confirmed_by_count_and_days_then_recover(engine: Engine) -> None:
    for day in (0, 0.5, 1):
        observe(engine, make_observation(URL_A, Outcome.NOT_FOUND, days(day)), now=days(day))
    assert state_of(engine, URL_A).state == SUSPECT

    events = observe(engine, make_observation(URL_A, Outcome.NOT_FOUND, days(2)), now=days(2))
    assert state_of(engine, URL_A).state == BROKEN
    assert [(e.kind, e.details["new"]) for e in events] == [("state_changed", BROKEN)]

    observe(engine, make_observation(URL_A, checked_at=days(3)), now=days(3))
    recovered = state_of(engine, URL_A)
    assert (recovered.state, recovered.consecutive_failures) == (RECOVERED, 0)
    assert recovered.last_success_at == days(3)


def test_blocked_observations_never_count_towards_broken(engine: Engine) -> None:
    for day in range(5):
        observe(engine, make_observation(URL_A, Outcome.BLOCKED, days(day)), now=days(day))
    link = state_of(engine, URL_A)
    assert (link.state, link.consecutive_failures) == (CHECK_BY_HAND, 0)


def test_network_unavailable_leaves_a_checked_link_as_it_was(engine: Engine) -> None:
    observe(engine, make_observation(URL_A, Outcome.NOT_FOUND))
    before = state_of(engine, URL_A)
    events = observe(
        engine, make_observation(URL_A, Outcome.NETWORK_UNAVAILABLE, days(1)), now=days(1)
    )
    after = state_of(engine, URL_A)
    assert events == []
    assert after.last_checked_at == before.last_checked_at  # the last check, not the try
    assert after.consecutive_failures == before.consecutive_failures
    assert after.last_observation_id == before.last_observation_id


def test_content_change_event_needs_two_fingerprints(engine: Engine) -> None:
    assert observe(engine, make_observation(URL_A, fingerprint="aaa")) == []
    events = observe(
        engine, make_observation(URL_A, checked_at=days(1), fingerprint="bbb"), now=days(1)
    )
    assert [e.kind for e in events] == ["content_changed"]


def test_the_biggest_content_length_and_longest_content_type_are_stored(engine: Engine) -> None:
    """A file of 2 GiB or more and a Content-Type of any length: on PostgreSQL an INTEGER
    and a VARCHAR(200) refused them, failing the store of the batch and the run."""
    content_type = "application/octet-stream; name=" + "x" * 300
    observe(
        engine,
        make_observation(URL_A, content_length=2**63 - 1, content_type=content_type),
        make_observation(URL_B, content_length=3 * 2**30),
    )
    with store.read_session(engine) as s:
        stored = s.execute(
            select(t.Observation.url, t.Observation.content_length, t.Observation.content_type)
        ).all()
        links = s.execute(select(t.Link.url, t.Link.content_length, t.Link.content_type)).all()
    assert (
        sorted(stored)
        == sorted(links)
        == [
            (URL_A, 2**63 - 1, content_type),
            (URL_B, 3 * 2**30, None),
        ]
    )


def test_observation_of_an_unknown_url_creates_its_link(engine: Engine) -> None:
    observe(engine, make_observation("https://elsewhere.example/x"))
    with store.read_session(engine) as s:
        link = s.scalar(select(t.Link).where(t.Link.url == "https://elsewhere.example/x"))
        assert link is not None and link.host == "elsewhere.example"
    # Not used by any active resource, so not part of the link report.
    assert "https://elsewhere.example/x" not in {s.url for s in store.link_states(engine)}


def test_resource_history_lists_observations_and_events_newest_first(engine: Engine) -> None:
    observe(engine, make_observation(URL_A, Outcome.NOT_FOUND, days(1)), now=days(1))
    observe(engine, make_observation(URL_A, checked_at=days(2)), now=days(2))

    history = store.resource_history(engine, "a")

    assert history.resource.collection == "toolkit"
    assert history.link is not None and history.link.state == RECOVERED
    assert [o.outcome for o in history.observations] == [Outcome.OK, Outcome.NOT_FOUND]
    kinds = [e.kind for e in history.events]
    assert kinds[-1] == "added"
    assert history.events[-1].rid == "a"
    assert "outcome_changed" in kinds
    assert all(x.at >= y.at for x, y in zip(history.events, history.events[1:], strict=False))


def test_history_of_an_unknown_id_is_not_found_and_of_an_ambiguous_one_needs_a_collection(
    engine: Engine,
) -> None:
    with pytest.raises(NotFoundError):
        store.resource_history(engine, "nope")
    sync_catalogs(engine, [make_catalog("other", [make_resource("a")])], now=T0)
    with pytest.raises(ConfigError, match="several collections"):
        store.resource_history(engine, "a")
    assert store.resource_history(engine, "a", collection="other").resource.collection == "other"


# --- the 0002 migration and the health-over-time columns -------------------------------------


def test_a_database_made_by_revision_0001_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    from catalog import migrate

    with temporary_database(tmp_path) as engine:
        with engine.begin() as conn:
            migrate.command.downgrade(migrate.alembic_config(conn), "0001")
        assert migrate.current_revision(engine) == "0001"
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO links (url, host, state, consecutive_failures) "
                    "VALUES ('https://example.org/kept', 'example.org', 'ok', 0)"
                )
            )

        migrate.upgrade(engine)

        assert migrate.current_revision(engine) == migrate.head_revision()
        with store.read_session(engine) as s:
            link = s.scalar(select(t.Link).where(t.Link.url == "https://example.org/kept"))
            assert link is not None
            assert (link.flapping, link.flips, link.drift_reason) == (False, [], None)
            assert s.scalar(select(func.count()).select_from(t.Decision)) == 0
        names = set(inspect(engine).get_table_names())
        assert {"decisions", "archive_cache"} <= names


def test_link_state_round_trips_flips_and_flapping(engine: Engine) -> None:
    health = HealthSettings(flap_changes=2, flap_window_days=14)
    observe_with = [
        make_observation(URL_A, checked_at=days(0)),
        make_observation(URL_A, Outcome.NOT_FOUND, days(1)),
        make_observation(URL_A, checked_at=days(2)),
    ]
    events = []
    for obs in observe_with:
        events += store.record_observations(engine, None, [obs], health, now=obs.checked_at)
    link = state_of(engine, URL_A)
    assert link.flapping and link.flips == (days(1), days(2))
    assert "flapping_started" in [e.kind for e in events]


def test_archive_cache_is_a_mapping_in_the_database(engine: Engine) -> None:
    from catalog.archive import Snapshot

    cache = store.ArchiveCache(engine)
    snap = Snapshot("https://web.archive.org/web/2024/x", days(-30), "https://example.org/x")
    cache["k1"] = (T0, snap)
    cache["k2"] = (T0, None)
    assert cache["k1"] == (T0, snap) and cache["k2"] == (T0, None)
    assert sorted(cache) == ["k1", "k2"] and len(cache) == 2
    del cache["k2"]
    with pytest.raises(KeyError):
        cache["k2"]


def test_witnesses_are_the_hosts_checked_last_one_url_each(tmp_path: Path) -> None:
    """A big host checked last must not take every place: three hosts, not three URLs."""
    small = [make_resource(h, url=f"https://{h}.org/x") for h in ("s1", "s2", "s3", "dead")]
    big = [make_resource(f"b{n}", url=f"https://big.org/p{n}") for n in range(30)]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", [*small, *big])], now=T0)
        for n, r in enumerate(small):  # s1 first ... dead last among the small ones
            observe(engine, make_observation(r.url, checked_at=days(1 + n / 10)), now=days(1))
        failed = make_observation("https://s3.org/x", Outcome.DNS_ERROR, days(2), http_status=None)
        observe(engine, failed, now=days(2))  # s3's last check got no answer: no witness
        for n, r in enumerate(big):
            observe(engine, make_observation(r.url, checked_at=days(3 + n / 100)), now=days(3))

        witnesses = store.answering_urls(engine, not_on={"dead.org"})

    assert witnesses == ["https://big.org/p29", "https://s2.org/x", "https://s1.org/x"]


def test_history_shows_the_links_events_but_not_another_entrys_on_a_shared_link(
    engine: Engine,
) -> None:
    shared = make_catalog("toolkit", [make_resource("a"), make_resource("b", url=URL_A)])
    sync_catalogs(engine, [shared], now=days(1))  # b now points where a does
    observe(engine, make_observation(URL_A, Outcome.NOT_FOUND, days(2)), now=days(2))
    b_pk = store.find_resource(engine, "b").id
    with store.write_session(engine) as s:  # drift is judged per entry: b's alone
        link_id = s.scalar(select(t.Link.id).where(t.Link.url == URL_A))
        s.add(t.Event(at=days(3), kind="drift_detected", link_id=link_id, resource_id=b_pk))

    of_a = {(e.kind, e.rid) for e in store.resource_history(engine, "a").events}
    of_b = {(e.kind, e.rid) for e in store.resource_history(engine, "b").events}

    assert ("outcome_changed", None) in of_a and ("outcome_changed", None) in of_b
    assert ("url_edited", "b") in of_b and ("drift_detected", "b") in of_b
    assert not any(rid == "b" for _, rid in of_a), of_a


def test_progress_is_noted_on_a_running_run_only(engine: Engine) -> None:
    run_id = store.start_run(engine, trigger="manual", now=days(1))
    store.note_run_progress(engine, run_id, 17)
    assert store.get_run(engine, run_id).urls_checked == 17
    store.finish_run(engine, run_id, status="completed", now=days(1))  # counts exactly: 0
    store.note_run_progress(engine, run_id, 40)  # a late note must not overwrite the count
    assert store.get_run(engine, run_id).urls_checked == 0


def test_a_database_that_cannot_be_reached_during_a_run_is_a_one_line_store_error() -> None:
    """A run's later connections (the pool opens more while the run goes on) to a server
    that went away: the error names the database, without the password or a traceback
    the run's log would print for a driver's exception."""
    from catalog.db import open_engine

    engine = open_engine("postgresql+psycopg://lh:secret@127.0.0.1:1/lh", migrate=False)
    try:
        for session in (store.write_session, store.read_session):
            with pytest.raises(StoreError) as caught, session(engine) as s:
                s.execute(text("SELECT 1"))
            message = str(caught.value)
            assert message.startswith(
                "cannot open database postgresql+psycopg://lh:***@127.0.0.1:1/lh"
            )
            assert "\n" not in message and "secret" not in message
    finally:
        engine.dispose()


def test_a_connection_lost_in_the_middle_of_a_run_is_a_one_line_store_error(
    tmp_path: Path,
) -> None:
    with temporary_database(tmp_path) as engine:
        if engine.dialect.name != "postgresql":
            pytest.skip("a server that drops the connection: PostgreSQL only")
        with store.read_session(engine) as s:  # the pooled connection the next session gets
            pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(engine.url)
        with admin.begin() as conn:  # the server ends it, as a restart would
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        with (
            pytest.raises(
                StoreError, match=r"^lost the connection to database postgresql"
            ) as caught,
            store.read_session(engine) as s,
        ):
            s.execute(text("SELECT 1"))
        assert "\n" not in str(caught.value)


def test_postgresql_sessions_run_without_jit(tmp_path: Path) -> None:
    """PostgreSQL compiled the report's reads of every resource and link with LLVM (their
    estimated cost passes `jit_above_cost`): ~1 s of compiling per query at 100,000
    resources, more than running them. Every session of ours has it off, the pool's
    later checkouts too (a setting made inside the first transaction was rolled back)."""
    with temporary_database(tmp_path) as engine:
        if engine.dialect.name != "postgresql":
            pytest.skip("JIT: PostgreSQL only")
        for _ in range(2):
            with store.read_session(engine) as s:
                assert s.execute(text("SHOW jit")).scalar_one() == "off"
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"


def test_the_links_row_holds_every_column_the_health_rules_changed(engine: Engine) -> None:
    """Only the columns that changed are written (a nightly run of unchanged links moves
    a few of twenty-four): after each observation of a varied history, including values
    that go back to what they were, the row must still equal the rules' own state."""
    from dataclasses import fields

    from catalog.health import LinkState, apply_observation

    history = [
        make_observation(URL_A, etag='"1"', fingerprint="f1", title="One", content_length=10),
        make_observation(URL_A, Outcome.NOT_FOUND, days(1)),
        make_observation(URL_A, Outcome.NOT_FOUND, days(1.5)),
        make_observation(URL_A, Outcome.BLOCKED, days(2)),
        make_observation(URL_A, Outcome.NOT_FOUND, days(3)),
        make_observation(URL_A, checked_at=days(4), fingerprint="f2", title="Two"),
        make_observation(URL_A, Outcome.NETWORK_UNAVAILABLE, days(4.5), http_status=None),
        make_observation(URL_A, checked_at=days(5), methods=("HEAD",)),
        make_observation(URL_A, checked_at=days(6), fingerprint="f1", title="One", etag='"1"'),
        make_observation(URL_A, Outcome.REDIRECTED_PERMANENT, days(7), final_url=URL_B),
        make_observation(URL_A, checked_at=days(8), not_modified=True, http_status=304),
    ]
    expected = LinkState()
    last_id = None
    for obs in history:
        observe(engine, obs, now=obs.checked_at)
        expected, _ = apply_observation(expected, obs, HEALTH, now=obs.checked_at)
        row = state_of(engine, URL_A)
        for field in fields(LinkState):
            assert getattr(row, field.name) == getattr(expected, field.name), (obs, field.name)
        with store.read_session(engine) as s:
            newest = s.scalar(select(func.max(t.Observation.id)))
        if obs.outcome is not Outcome.NETWORK_UNAVAILABLE:
            last_id = newest
        assert row.last_observation_id == last_id
