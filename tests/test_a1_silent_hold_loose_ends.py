"""Loose ends of the silent-host hold (`checker._Run._ask_early`, `ask_silent_again`).

- A run stopped after a silent host answered again and had some of its held links
  checked stores those checks, not the held tries `on_result` heard: `on_settled` hears
  every held link judged again (checked, or `timeout` once the host answered our asking
  again neither), and a stopped run's batches are taken with them
  (`flows.check_flow._Unstored.take`, `catalog.runs.store_unfinished`).
- The held link a silent host is asked again at (one bare GET) has its own check when the
  host answers it, as its held siblings do: the check sends the validators the link's last
  read gave (or a HEAD), which the bare GET did not.
- A host held again while its held links are checked early (back, then stalled again)
  is asked early again once that hold is old enough, as after its first: its links held
  the second time waited for the batch's other links, and were checked after them all.
- A slot the dispatcher took for a URL's task is given back even when the task is
  cancelled before its first step (a task group cancels the tasks it has not started yet
  when one of its tasks fails, and `SharedLoop.cancel_all` cancels every task): their
  body never runs, so their `finally` never freed it, and the run's other batches waited
  for slots no one would free.

The batches run on a virtual clock (`test_maintenance_host.VirtualLoop`): the tests count
slots and requests, and compare times of that clock only, never the machine's. The
stopped run is the flow's batch task over 127.0.0.2-3 with timeouts of a second or so,
stopped as a stopped run is once the silent host's held links were answered.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.check.fetch import Fetcher, Progress
from catalog.check.loop import cancel_checks
from catalog.check.politeness import HostGate, Slots
from catalog.model import Batch, Observation, Previous, Target
from catalog.outcomes import Outcome
from catalog.runs import store_unfinished
from catalog.settings import HostPolicy
from catalog.urls import host_of
from tests.factories import T0, make_observation, public_resolver, temporary_database
from tests.local_site import PAGES as SITE_PAGES
from tests.local_site import Answer, served_at, serving_at
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual
from tests.test_run_safety import wait_until
from tests.test_s1_unfinished import _run, _stored
from tests.test_w1_silent_host_final import PAGES as SILENT_PAGES
from tests.test_w1_silent_host_final import silent_from
from tests.test_x1r_silent_hold_review import (
    BUSY,
    BUSY_SETTINGS,
    HOST,
    PAGES,
    hang,
    silent_held,
    timed,
)


class CallbackFailed(Exception):
    pass


def test_a_slot_taken_for_a_task_cancelled_before_it_began_is_given_back() -> None:
    """Two slots, four hosts: the first URL's `on_result` fails as the dispatcher, handed
    its slot, starts the next URLs' tasks; the task group cancels those before their first
    step. Every slot is free once the batch has failed."""
    slots = Slots(2)
    urls = [f"https://site{h}.example/page" for h in range(4)]
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]

    async def web(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return httpx.Response(200, html=PAGE)

    def on_result(observation: Observation) -> None:
        if observation.url == urls[0]:
            raise CallbackFailed(observation.url)

    async def batch() -> int:
        with pytest.raises(CallbackFailed):
            await check_targets(
                targets,
                SETTINGS,
                transport=httpx.MockTransport(web),
                resolver=public_resolver,
                slots=slots,
                on_result=on_result,
            )
        await asyncio.sleep(0)  # the done callbacks of the cancelled tasks
        return slots.in_use

    assert run_virtual(batch()) == 0


def test_a_stopped_batch_is_taken_with_its_held_links_as_judged_since() -> None:
    """What a stopped run stores of a batch (`_Unstored.take`): a held link checked since
    its host answered is that check, one held anew is held, one never judged again is
    its held try."""
    from flows.check_flow import _UNSTORED

    urls = ["https://a.example/1", "https://a.example/2", "https://a.example/3"]
    batch = Batch(9, tuple(Target(url=u, host=host_of(u)) for u in urls))
    heard = _UNSTORED.start(-45, batch.index)
    heard.extend(silent_held(u) for u in urls)
    checked = make_observation(url=urls[0])
    _UNSTORED.settled(-45, batch.index, checked)
    held_anew = silent_held(urls[1])
    _UNSTORED.settled(-45, batch.index, held_anew)
    (taken,) = _UNSTORED.take(-45)
    assert taken == [checked, held_anew, heard[2]]
    assert _UNSTORED.take(-45) == []


def test_the_held_links_timed_out_at_the_end_of_a_batch_are_heard_settled() -> None:
    """Silent to our asking it again at the end of the batch, the host's held links are
    each that night's `timeout`: `on_settled` hears every one, the one asked too, as the
    batch returns them (a run stopped then stores them, not their held tries)."""
    asked: Counter[str] = Counter()
    settled: list[Observation] = []
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in SILENT_PAGES]
    observations = run_virtual(
        check_targets(
            targets,
            SETTINGS,
            transport=httpx.MockTransport(silent_from(1, 1, asked)),
            resolver=public_resolver,
            on_settled=settled.append,
        )
    )
    first = politeness.SILENT_LINKS
    assert [o.outcome for o in observations] == [Outcome.TIMEOUT] * len(SILENT_PAGES)
    assert sorted(o.url for o in settled) == SILENT_PAGES[first:]
    by_url = {o.url: o for o in observations}
    assert all(o == by_url[o.url] and not o.held for o in settled)


@pytest.mark.waits  # nights over real sockets
def test_a_run_stopped_after_a_silent_host_answered_stores_its_held_links_checked(
    tmp_path: Path,
) -> None:
    """127.0.0.3 leaves its first 3 links unanswered, is held, and answers from then on:
    asked early, its held links are checked while 127.0.0.2's links, at its rate, keep
    the batch going. The run is stopped then, as `check_catalog` stops it (`cancel_checks`,
    `_UNSTORED.take`, `store_unfinished`): the stored tries of those links are their
    checks, `ok`, not the held `timeout` live progress heard.

    The batch is the flow's task (`check_batch_task`, its `on_result` and `on_settled`) on
    the process's checking loop, in a thread as a Prefect worker's; no Prefect server nor
    `linkhealth` process: the stop's own path is `test_s1_unfinished`'s."""
    from flows.check_flow import _LIVE, _UNSTORED, check_batch_task

    release = threading.Event()
    lock = threading.Lock()
    hung: list[str] = []
    answered: dict[str, list[str]] = {"127.0.0.2": [], "127.0.0.3": []}

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        ip = served_at(request)
        with lock:
            hangs = ip == "127.0.0.3" and len(hung) < politeness.SILENT_LINKS
            if hangs:
                hung.append(request.path)
        if hangs:
            release.wait(60)  # set when the test ends
        with lock:
            answered[ip].append(request.path)
        return SITE_PAGES["/report.html"]

    with serving_at(answer, "127.0.0.2", "127.0.0.3") as (busy, silent):
        paths = [f"/s{i}" for i in range(8)]
        urls = [f"{silent}{p}" for p in paths] + [f"{busy}/p{i:02}" for i in range(80)]
        with temporary_database(tmp_path) as engine:
            settings, prepared = _run(engine, tmp_path, urls)
            check = replace(
                settings.check,
                allow_private=True,
                https_upgrades=False,
                soft404_probe=False,
                total_timeout=1.0,
                read_timeout=0.5,
                connect_timeout=0.5,
                per_host_concurrency=1,
                per_host_rate=20.0,
                hosts={"127.0.0.2": HostPolicy(per_host_rate=4.0)},  # 20 s of links
            )
            (batch,) = prepared.batches

            def worker() -> None:
                with contextlib.suppress(concurrent.futures.CancelledError):
                    check_batch_task.fn(batch, check, prepared.run_id)

            checking = threading.Thread(target=worker, daemon=True)
            checking.start()
            try:

                def held_links_checked() -> bool:
                    """Once 127.0.0.3 answered every link it held, and the checking loop told
                    `on_settled` of their checks: no link of the batch is held still."""
                    with lock:
                        held = set(paths) - set(hung)
                        back = len(hung) == politeness.SILENT_LINKS
                        back = back and held <= set(answered["127.0.0.3"])
                    return back and not _UNSTORED.held_silent(prepared.run_id, batch.index)

                wait_until(held_links_checked, "127.0.0.3's held links are checked")
            finally:
                cancel_checks()  # the batch's tasks; the stop's first step (`check_catalog`)
                checking.join(30)
                unfinished = _UNSTORED.take(prepared.run_id)
                _LIVE.forget(prepared.run_id)
                release.set()
            store_unfinished(settings, prepared.run_id, unfinished, lease=prepared.lease)
            stored = _stored(engine, prepared.run_id)
    assert len(stored) < len(urls), "stopped before the batch's end"
    held = sorted(set(paths) - set(hung))
    assert {p: stored.get(f"{silent}{p}") for p in held} == dict.fromkeys(held, "ok"), hung


def asked_again_twice(*, early: bool, fingerprint_due: bool) -> tuple[Counter[str], Observation]:
    """The silent host's requests by method and URL, and the verdict of its link asked
    again: the host leaves its first links unanswered, is held and answers from then on;
    asked early (`BUSY` keeps the batch going) or at the end of the batch."""
    hung = set(PAGES[: politeness.SILENT_LINKS])
    asked: Counter[str] = Counter()

    async def web(request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(HOST):
            asked[f"{request.method} {request.url}"] += 1
            if str(request.url) in hung:
                return await hang(request)
        return httpx.Response(200, html=PAGE)

    urls = [*PAGES, *BUSY] if early else PAGES
    targets = [
        Target(url=u, host=host_of(u), fingerprint_due=fingerprint_due or u not in PAGES)
        for u in urls
    ]
    observations = run_virtual(
        check_targets(
            targets, BUSY_SETTINGS, transport=httpx.MockTransport(web), resolver=public_resolver
        )
    )
    first = politeness.SILENT_LINKS
    outcomes = [o.outcome for o in observations[: len(PAGES)]]
    assert outcomes == [Outcome.TIMEOUT] * first + [Outcome.OK] * (len(PAGES) - first)
    return asked, observations[len(PAGES) - 1]  # the link asked again (`_to_ask_again`)


@pytest.mark.parametrize("early", [True, False])
def test_the_link_asked_again_is_checked_with_the_validators_its_check_sends(early: bool) -> None:
    """The held link a silent host is asked again at (one bare GET) has its own check once
    the host answers, as its held siblings do: the check sends the validators the link's
    last read gave, and the page unchanged since is the 304 that vouches for it. The
    bare GET's 200 taken for that check (one request less to a host just back) stored a
    page read afresh, with a fingerprint of its own, where the night's check asks
    "changed since?"."""
    hung = set(PAGES[: politeness.SILENT_LINKS])
    etag = '"v1"'
    sent: list[tuple[str, str | None]] = []

    async def web(request: httpx.Request) -> httpx.Response:
        if not str(request.url).startswith(HOST):
            return httpx.Response(200, html=PAGE)
        sent.append((str(request.url), request.headers.get("if-none-match")))
        if str(request.url) in hung:
            return await hang(request)
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, html=PAGE, headers={"ETag": etag})

    previous = Previous(
        etag=etag, fingerprint="sha256:" + "0" * 64, fingerprinted_at=T0, title="A report"
    )
    urls = [*PAGES, *BUSY] if early else PAGES
    targets = [
        Target(url=u, host=host_of(u), previous=previous if u in PAGES else None) for u in urls
    ]
    observations = run_virtual(
        check_targets(
            targets, BUSY_SETTINGS, transport=httpx.MockTransport(web), resolver=public_resolver
        )
    )
    (asked,) = {url for url, validator in sent if validator is None}  # the bare GET
    assert asked in PAGES and asked not in hung
    assert (asked, etag) in sent, sent  # its own check
    checked = observations[PAGES.index(asked)]
    assert checked.outcome is Outcome.OK and not checked.held
    assert checked.http_status == 304 and checked.not_modified, checked
    assert checked.fingerprint == previous.fingerprint


def test_a_link_whose_check_asks_head_first_is_checked_on_its_own_request() -> None:
    """A GET where its check sends HEAD (no fingerprint due) reads a page the night does
    not read, and sends the soft-404 probe with it: the link's check asks as ever."""
    asked, checked = asked_again_twice(early=True, fingerprint_due=False)
    assert asked[f"GET {PAGES[-1]}"] == 1 and asked[f"HEAD {PAGES[-1]}"] == 1, asked
    assert checked.outcome is Outcome.OK and checked.methods == ("HEAD",)


def test_a_host_held_again_after_it_answered_early_is_asked_early_again() -> None:
    """16 links: the first 3 hang and hold the host; asked early, it answers, and its held
    links are checked, of which the 6th to 8th hang again and hold it anew. Its 8 links
    held then are checked while `BUSY`'s links (800 s at its rate) still are, once it
    answers being asked early again: not after them all."""
    pages = [f"{HOST}/guide{i:02}" for i in range(16)]
    hung = {*pages[:3], *pages[5:8]}
    log: list[tuple[float, str]] = []

    async def web(request: httpx.Request) -> httpx.Response:
        if str(request.url) in hung:
            return await hang(request)
        return httpx.Response(200, html=PAGE)

    settings = replace(BUSY_SETTINGS, hosts={"busy.example": HostPolicy(per_host_rate=0.5)})
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in [*pages, *BUSY]]
    observations = run_virtual(
        check_targets(
            targets,
            settings,
            transport=httpx.MockTransport(timed(web, log)),
            resolver=public_resolver,
        )
    )
    outcomes = [o.outcome for o in observations[: len(pages)]]
    T, OK = Outcome.TIMEOUT, Outcome.OK
    assert outcomes == [T] * 3 + [OK] * 2 + [T] * 3 + [OK] * 8, outcomes
    held_again = set(pages[8:])
    last_checked = max(t for t, url in log if url in held_again)
    assert last_checked < max(t for t, url in log if url.startswith("https://busy.")), log[-3:]


def test_a_host_that_stalls_after_each_answer_is_asked_once_a_hold_and_lets_its_batch_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """10 links of a host that answers being asked again, then leaves the next 3 of its
    links unanswered, each time: held anew after each round, it is asked early again,
    once for each hold and never before that hold is `SILENT_AGAIN_DEADLINES` old; one
    request of its at a time (its `per_host_concurrency`); each round ends 3 of its links
    as `timeout`, so the rounds end and so does the batch, `BUSY` still checked."""
    pages = [f"{HOST}/guide{i:02}" for i in range(10)]
    to_hang, hung, asked = [politeness.SILENT_LINKS], set[str](), list[tuple[float, str]]()
    holds: list[float] = []
    open_now, most_open, in_ask = [0], [0], [False]
    ask_again = Fetcher.ask_again
    hold = HostGate.unanswered_link

    async def asking(fetcher: Fetcher, gate: HostGate, url: str, progress: Progress) -> bool:
        asked.append((asyncio.get_running_loop().time(), url))
        to_hang[0] = politeness.SILENT_LINKS  # answered, then silent for as many links
        in_ask[0] = True
        try:
            return await ask_again(fetcher, gate, url, progress)
        finally:
            in_ask[0] = False

    def unanswered(gate: HostGate, url: str) -> None:
        hold(gate, url)
        if gate.unanswered == gate.silent_after:
            holds.append(asyncio.get_running_loop().time())

    async def web(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if not url.startswith(HOST):
            return httpx.Response(200, html=PAGE)
        open_now[0] += 1
        most_open[0] = max(most_open[0], open_now[0])
        try:
            if not in_ask[0] and url not in hung and to_hang[0] > 0:
                hung.add(url)
                to_hang[0] -= 1
            if url in hung:
                return await hang(request)
            return httpx.Response(200, html=PAGE)
        finally:
            open_now[0] -= 1

    monkeypatch.setattr(Fetcher, "ask_again", asking)
    monkeypatch.setattr(HostGate, "unanswered_link", unanswered)
    settings = replace(BUSY_SETTINGS, hosts={"busy.example": HostPolicy(per_host_rate=0.5)})
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in [*pages, *BUSY]]
    observations = run_virtual(
        check_targets(
            targets, settings, transport=httpx.MockTransport(web), resolver=public_resolver
        )
    )
    mine = observations[: len(pages)]
    assert all(o.outcome is Outcome.TIMEOUT and not o.held for o in mine), mine
    assert len(hung) == len(pages)  # every link asked: 3 a round, the last one alone
    again = politeness.SILENT_AGAIN_DEADLINES * settings.total_timeout
    assert len(holds) == len(asked) == 3, (holds, asked)  # 3 + 3 + 3 + 1 links
    assert all(at >= held + again for (at, _), held in zip(asked, holds, strict=True))
    assert most_open[0] == settings.per_host_concurrency
