"""Check many URLs politely and turn each into an `Observation`.

Stage: check. Input: `Target`s (or a `Batch`) and `CheckSettings`. Output: one
`Observation` per target, in target order. Nothing a URL or a server does makes this
raise: bad URLs, dead hosts, broken TLS, endless redirects and slow trickles all end as
outcomes.

One `httpx.AsyncClient` serves the whole call, with a small connection pool per host
(`HostPools`, each an aiohttp pool behind httpx's transport interface: `transport.py`).
URLs come from a `HostScheduler` (per-host concurrency and rate, busiest host first),
each checked in its own task under a hard `total_timeout`. The global
`settings.concurrency` is a `Slots` semaphore held around requests only: a URL sleeping
in retry back-off or a Retry-After pause gives its slot to another host's URL instead of
idling it (a batch of 8 slots with a few URLs asleep would otherwise send with 5). The
soft-404 probe runs once per host per call (again, up to `soft404.PROBE_TRIES` in all,
when one is cut short by the deadline of the URL that sent it) and is shared by that
host's URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
import ssl
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from itertools import takewhile
from typing import Any
from urllib.parse import urlsplit

import httpx

from catalog.check import contacts
from catalog.check.classify import classify, is_home
from catalog.check.content import PageFacts
from catalog.check.facts import Answer, CheckFacts, Cut, Exchange, Probe, Stop
from catalog.check.fetch import (
    ACCEPT,
    ACCEPT_ENCODING,
    SLOW_BODY_BYTES,
    Fetcher,
    Progress,
    content_length,
    read_page,
    validators_of_read,
)
from catalog.check.politeness import HostGate, HostScheduler, Politeness, Slots
from catalog.check.reasons import FailureKind, describe_error
from catalog.check.redirects import moved_to, same_address, stable_url
from catalog.check.safety import AddressBook, Resolver, check_allowlist, refused_as_written
from catalog.check.soft404 import (
    LAPSED_SHELL,
    PROBE_TRIES,
    probe_cut_short,
    probe_time,
    probe_url_for,
)
from catalog.check.transport import AiohttpPool
from catalog.clock import Clock, http_date, utcnow
from catalog.model import (
    LEGACY_FINGERPRINT,
    Batch,
    Hop,
    Observation,
    Previous,
    Target,
    pack_text,
)
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import (
    CheckedUrl,
    UrlProblem,
    https_upgrade_candidate,
    parse_url,
    plain_address,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
#: Characters of page text kept on the observation for drift detection.
TEXT_SAMPLE_CHARS = 2000
#: Characters of a longer page's end kept besides: spam injected into a footer is there.
TEXT_TAIL_CHARS = 2000


async def check_targets(
    targets: Sequence[Target],
    settings: CheckSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    clock: Clock = utcnow,
    sleep: Sleep = asyncio.sleep,
    on_result: Callable[[Observation], None] | None = None,
    slots: Slots | None = None,
    on_settled: Callable[[Observation], None] | None = None,
) -> list[Observation]:
    """One observation per target, in target order.

    `on_result` hears each target's first verdict as it is made (live progress counts it);
    `on_settled` hears a link held for its host's silence judged again: checked once the
    host answered (`_Run._ask_early`, `ask_silent_again`), or `timeout` once it answered
    our asking again neither (`_Run._silent_still`). Never counted twice, it is what a
    run stopped meanwhile stores for the link, and what a quiet run waits for names no
    host judged since (`progress.waiting_line`).

    `slots` is the global concurrency to draw from when several calls share one event loop
    (a run's batches, `catalog.check.loop`); by default the call has `settings.concurrency`
    slots of its own.
    """
    if not settings.allow_private:
        check_allowlist(settings.private_allowlist)  # a bad entry is the operator's to fix
    results: list[Observation | None] = [None] * len(targets)
    work: list[tuple[str, int]] = []
    checked: dict[int, CheckedUrl] = {}
    for index, target in enumerate(targets):
        parsed = parse_url(target.url)
        if isinstance(parsed, UrlProblem):
            observation = results[index] = _invalid(target, parsed, clock())
            if on_result is not None:
                on_result(observation)
        else:
            work.append((parsed.host, index))
            checked[index] = parsed
    if work:
        addresses = AddressBook(resolver)
        async with make_client(settings, transport, addresses) as client:
            slots = slots if slots is not None else Slots(settings.concurrency)
            run = _Run(
                targets,
                settings,
                client,
                addresses,
                clock,
                sleep,
                on_result,
                results,
                slots,
                on_settled,
            )
            await run.all(work, checked)
    return [obs for obs in results if obs is not None]


def check_batch(batch: Batch, settings: CheckSettings, **kwargs: Any) -> list[Observation]:
    """Blocking wrapper for one batch; Prefect tasks call it from worker threads."""
    return asyncio.run(check_targets(batch.targets, settings, **kwargs))


def _invalid(target: Target, problem: UrlProblem, checked_at: datetime) -> Observation:
    """The check's verdict on `target`, whose URL cannot be requested as written
    (`invalid_url`): made before any request, by `check_targets` and `unasked_verdict`."""
    facts = CheckFacts(url=target.url, invalid=problem, previous=target.previous)
    return _observe(target, facts, checked_at)


def unasked_verdict(
    target: Target, settings: CheckSettings, checked_at: datetime
) -> Observation | None:
    """The check's own verdict on `target` when it needs no network, else None: a URL
    that cannot be requested as written (`invalid_url`), or a host refused as written
    (`refused_unasked`: `private_address`). Each is what `check_targets` says of the link
    on any night, and what a run the canaries found offline stores (`runs.store_offline`):
    a curator must hear of it whatever our network does."""
    parsed = parse_url(target.url)
    if isinstance(parsed, UrlProblem):
        return _invalid(target, parsed, checked_at)
    return refused_unasked(target, settings, checked_at)


def refused_unasked(
    target: Target, settings: CheckSettings, checked_at: datetime
) -> Observation | None:
    """The check's own verdict on `target` when its address rule refuses the host as
    written (`safety.refused_as_written`: a private address, a name of this machine),
    else None: `private_address`, as `check_targets` says it (`Fetcher._refuse` refuses
    it before any lookup, on its first method, `Fetcher.fetch`). Needing no network, it
    holds whatever ours does: a run the canaries found offline keeps it
    (`runs.store_offline`) rather than hide a finding the curator must act on behind
    "our network was down"."""
    if settings.allow_private:
        return None
    parsed = parse_url(target.url)
    if isinstance(parsed, UrlProblem):
        return None
    why = refused_as_written(parsed.host, settings.private_allowlist, looked_up=True)
    if why is None:
        return None
    method = "GET" if target.fingerprint_due else "HEAD"
    refused = Exchange(method, stop=Stop.PRIVATE, stop_detail=why, stop_url=parsed.canonical)
    facts = CheckFacts(
        url=parsed.canonical,
        exchanges=(refused,),
        previous=target.previous,
        entry_titles=target.titles,
    )
    return _observe(target, facts, checked_at, 0)


def make_client(
    settings: CheckSettings,
    transport: httpx.AsyncBaseTransport | None = None,
    addresses: AddressBook | None = None,
) -> httpx.AsyncClient:
    """The one client of a run: our User-Agent, our timeouts, redirects left to us, and
    connections to the addresses `addresses` resolved (and the fetcher checked)."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.total_timeout,
    )
    limits = httpx.Limits(
        max_connections=max(1, settings.concurrency),
        max_keepalive_connections=max(1, settings.concurrency),
        keepalive_expiry=KEEPALIVE_S,
    )
    if transport is None:
        transport = HostPools(settings, addresses=addresses)
    # The client's own jar refuses everything: each URL keeps its cookies in its own jar.
    # (The jar itself, not an httpx.Cookies around it: the client copies a Cookies into a
    # new default-policy jar, which accepted every cookie.) `Fetcher` bypasses it anyway.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        limits=limits,
        follow_redirects=False,
        cookies=no_cookies,
        headers={
            "User-Agent": settings.effective_user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
            **({"Accept-Language": settings.accept_language} if settings.accept_language else {}),
        },
    )


#: Seconds an idle connection is kept for the host's next request.
KEEPALIVE_S = 15.0


class HostPools(httpx.AsyncBaseTransport):
    """One small connection pool per host (`AiohttpPool`) instead of one pool for all hosts.

    A host never has more than its concurrency in flight, so a pool of that size per host
    is enough; pools whose connections are all idle are closed once more than `max_pools`
    exist, oldest use first. That cap bounds the sockets a run holds open: a pool keeps
    its idle connections for `KEEPALIVE_S`, and a catalog of 2,000 one-link hosts would
    otherwise hold 2,000 of them. (The per-host split began with httpcore, whose shared
    pool matched each request against every connection it held.)
    """

    def __init__(
        self,
        settings: CheckSettings,
        max_pools: int = 256,
        addresses: AddressBook | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._max_pools = max_pools
        #: Where new pools look hosts up: the run's address book, or aiohttp's own lookup.
        self._resolve = addresses.addresses if addresses is not None else None
        #: The run's one TLS context (`tls`: a test's trust store); `issuers.py` adds to it.
        self._tls: ssl.SSLContext | None = tls
        #: Requests per pool whose response body is not closed yet.
        self._busy: dict[tuple[bytes, bytes, int | None], int] = {}
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], AiohttpPool] = OrderedDict()
        #: Idle pools taken out of `_pools` and not closed yet.
        self._retired: set[AiohttpPool] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        # Nothing awaits between looking the pool up and counting this request on it:
        # other requests run while idle pools close, and must see the pool table settled
        # (two requests to a new host must share one pool; a pool being closed must be gone).
        idle: list[AiohttpPool] = []
        pool = self._pools.get(key)
        if pool is None:
            idle = self._take_idle()
            self._retired.update(idle)  # closed below, or by aclose() if this is cancelled
            size = self._settings.policy_for(_host(url))[0] + 1  # +1: a redirect to itself
            # Only https:// connections read the trust store: loading it (235 M instructions
            # a run, `bench/RESULTS.md`) is wasted on a run or batch of http:// links. The
            # pool loads it when it first connects (`_context`: once a run).
            tls = self._context if url.raw_scheme == b"https" else None
            pool = self._pools[key] = AiohttpPool(tls, size, KEEPALIVE_S, self._resolve)
        else:
            self._pools.move_to_end(key)
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            for old in idle:
                # A failure to close another host's idle sockets is not this URL's answer.
                with contextlib.suppress(Exception):
                    await old.aclose()
                self._retired.discard(old)
            response = await pool.handle_async_request(request)
        except BaseException:
            self._release(key)
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _Released(stream, lambda: self._release(key))
        return response

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:  # loading the CA bundle costs ~20 ms: once per run
            self._tls = httpx.create_ssl_context()
            # httpcore sets this on the context of a re-read (`transport.AiohttpPool._reread`),
            # which is this one: set from the start, every handshake of the run offers the
            # same, not those after the first re-read only.
            self._tls.set_alpn_protocols(["http/1.1"])
        return self._tls

    async def peer_certificate(self, host: str, port: int) -> bytes | None:
        """The certificate `host` sends, unverified, read by a bare TLS handshake (no HTTP
        request) to the address its connections use."""
        addresses = await self._resolve(host, port) if self._resolve is not None else [host]
        unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        async with asyncio.timeout(self._settings.connect_timeout):
            _reader, writer = await asyncio.open_connection(
                addresses[0], port, ssl=unverified, server_hostname=host
            )
        try:
            tls = writer.get_extra_info("ssl_object")
            return tls.getpeercert(binary_form=True) if tls is not None else None
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def trust_intermediate(self, der: bytes) -> None:
        """Let later handshakes of the run build chains through `der` (`issuers.py`)."""
        tls = self._context()
        # Never a trust anchor of its own: chains must still end at a root we trust.
        tls.verify_flags &= ~ssl.VERIFY_X509_PARTIAL_CHAIN
        tls.load_verify_locations(cadata=der)

    def _release(self, key: tuple[bytes, bytes, int | None]) -> None:
        left = self._busy[key] - 1
        if left:
            self._busy[key] = left
        else:
            del self._busy[key]

    def _take_idle(self) -> list[AiohttpPool]:
        """Remove the least recently used pools with nothing in flight, leaving room for one
        more within `max_pools`; the caller closes them."""
        excess = len(self._pools) - self._max_pools + 1
        idle = []
        for key in list(self._pools):
            if excess <= 0:
                break
            if key not in self._busy:  # no request between sending and closing its body
                idle.append(self._pools.pop(key))
                excess -= 1
        return idle

    async def aclose(self) -> None:
        pools, self._pools = [*self._pools.values(), *self._retired], OrderedDict()
        self._retired = set()
        for pool in pools:
            await pool.aclose()


def _host(url: httpx.URL) -> str:
    """`url.host`, or its punycode when httpx cannot decode it (an emoji domain)."""
    try:
        return url.host
    except UnicodeError:
        return url.raw_host.decode("ascii")


class _Released(httpx.AsyncByteStream):
    """A response body that tells its pool's owner once it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The inner stream's own iterator: no extra generator frame per chunk.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class _Run:
    """The state of one `check_targets` call."""

    def __init__(
        self,
        targets: Sequence[Target],
        settings: CheckSettings,
        client: httpx.AsyncClient,
        addresses: AddressBook,
        clock: Clock,
        sleep: Sleep,
        on_result: Callable[[Observation], None] | None,
        results: list[Observation | None],
        slots: Slots,
        on_settled: Callable[[Observation], None] | None = None,
    ) -> None:
        self.targets = targets
        self.settings = settings
        self.clock = clock
        self.on_result = on_result
        #: Hears the held links checked again (`check_targets`).
        self.on_settled = on_settled
        self.results = results
        self.politeness = Politeness(settings)
        self.slots = slots
        self.fetcher = Fetcher(
            client,
            settings,
            self.politeness,
            addresses=addresses,
            clock=clock,
            sleep=self.slots.sleeper(sleep),
            idle=self.slots.idle,
            chain_trust=client._transport if isinstance(client._transport, HostPools) else None,
        )
        #: The same fetcher (client, caches, gates) sending each request once: the https try.
        self._once_fetcher = copy.copy(self.fetcher)
        self._once_fetcher.settings = replace(settings, max_attempts=1)
        self.token = secrets.token_hex(8)
        #: Host -> its soft-404 probe, the last sent (None: cut short, `_probe`), and how
        #: many it was sent this run.
        self._probes: dict[str, asyncio.Task[Probe | None]] = {}
        self._probe_tries: Counter[str] = Counter()
        #: URL task -> the probe it sent that may outlive it, in its slots (`_send_probe`).
        self._tails: dict[asyncio.Task[Any], asyncio.Task[Probe | None]] = {}
        #: Host -> its URLs not begun yet.
        self._unbegun: Counter[str] = Counter()
        #: The URLs whose HEAD's 503 "come back later" was taken as the host's word
        #: (`Progress.said`): judged again once all are done (`_judge_told`).
        self._told: list[_Told] = []
        #: The URLs held for their host's silence (`HostGate.unanswered_link`): asked again
        #: once all are done (`ask_silent_again`). None once that is under way: a check
        #: then is final.
        self._silent_held: list[_SilentHeld] | None = []
        self._sleep = sleep
        #: While the batch's URLs are dispatched: where a host held for its silence gets a
        #: task that asks it again early (`_ask_early`), and the hosts that have one.
        self._early: asyncio.TaskGroup | None = None
        self._asked_early: set[HostGate] = set()
        self._scheduler: HostScheduler | None = None
        #: Set once the batch's URLs are done (the first `_dispatch`).
        self._dispatched = asyncio.Event()

    async def all(self, work: list[tuple[str, int]], checked: dict[int, CheckedUrl]) -> None:
        """Check every (host, target index) of `work`; `checked` holds each one's parsed URL.

        One dispatcher takes a slot, then the next URL whose host may send now, and starts
        a task for it that owns the slot (with no host ready, it waits without the slot).
        Tasks in flight are bounded by the slots plus the URLs asleep, which the
        scheduler's per-host concurrency bounds in turn. A host held for its silence is
        asked once more meanwhile, once its hold is old enough (`_ask_early`), and its
        held links are checked if it answers. Then the URLs held for their host's silence
        still are checked, if their host answers once more (`ask_silent_again`), and the
        URLs that took a HEAD's 503 as the host's word are judged (`_judge_told`).
        """
        try:
            async with asyncio.TaskGroup() as early:  # and the hosts asked early
                self._early = early
                try:
                    await self._dispatch(work, checked, heard=True)
                finally:
                    self._early = None
                    self._dispatched.set()
            again = await self.ask_silent_again()
            if again:
                await self._dispatch(*again, heard=False)
            self._judge_told()
        except BaseExceptionGroup as group_error:
            # Only the caller's own callback can fail a task; surface its exception as is.
            raise _first_error(group_error) from None
        finally:
            # Probes and lookups outlive a URL that hit its deadline; none outlives the run.
            for task in [*self._probes.values(), *self.fetcher.addresses.pending()]:
                task.cancel()
            if self.fetcher.issuers is not None:
                self.fetcher.issuers.cancel()

    async def _dispatch(
        self, work: list[tuple[str, int]], checked: dict[int, CheckedUrl], *, heard: bool
    ) -> None:
        """Check every (host, target index) of `work` (`all`); `heard`: `on_result` hears
        each observation."""
        scheduler = HostScheduler(work, self.politeness)
        if heard:  # the batch's own: what `_ask_early` must leave to it
            self._scheduler = scheduler
        self._unbegun.update(host for host, _ in work)
        slots = self.slots
        async with asyncio.TaskGroup() as group:
            while scheduler.pending:
                await slots.acquire()
                job = scheduler.poll()
                if job is None:  # no host may send yet: wait without holding a slot
                    slots.release()
                    await scheduler.wait()
                    continue
                slots.hand_to(group.create_task(self._check_job(scheduler, job, checked, heard)))

    async def ask_silent_again(
        self,
    ) -> tuple[list[tuple[str, int]], dict[int, CheckedUrl]] | None:
        """The URLs held for their host's silence to check now, with their parsed URLs, or
        None: each host that held some is asked once more, all at once, now that the
        batch's other URLs are done and the hold is `SILENT_AGAIN_DEADLINES` old at least
        (`Fetcher.ask_again`: one request, a link's deadline at most); those of a host that
        answers it, or answered since it held them, are checked as any URL, at the host's
        politeness. A host that does not answer it either, it too hanging until its
        deadline or its connect timing out, gives each link it held its night's `timeout`
        (`_silent_still`). One whose request fails otherwise (refused, its name not found:
        our own network may be down) says nothing of its silence, and its links keep their
        held verdict (no check of the link: it keeps its state).

        A silent hold rests on a few links that hung, which a stall of a minute (a restart,
        a stalled load balancer) gives too: held for the rest of the run, every other link
        of a host that answered again a minute later was `timeout` for the night, hundreds
        of them. Held for good, a dead site's links (a parking load balancer that never
        answers) kept "OK when last checked" for months, three asked a night; every one had
        timed out and been confirmed broken before any hold. A 503's hold rests on the
        host's word, and is left as it is.

        `on_result` heard each one's held verdict when it was done, and hears nothing of
        the verdicts here, `on_settled` does (live progress counts a URL once; a run
        stopped meanwhile stores those judged by then, the others held, which keeps the
        link's state); the observations returned are theirs, as for `_judge_told`."""
        held, self._silent_held = self._silent_held or [], None
        if not held:
            return None
        by_gate = self._by_gate(held)
        async with asyncio.TaskGroup() as group:
            asked = {
                gate: group.create_task(self._ask_again(gate, *_to_ask_again(links)))
                for gate, links in by_gate.items()
                if gate.silent()
            }
        work: list[tuple[str, int]] = []
        checked: dict[int, CheckedUrl] = {}
        for gate, links in by_gate.items():
            again = asked[gate].result() if gate in asked else None
            self._settle(links, again, work, checked)
        work.sort(key=lambda job: job[1])  # the batch's order, host by host
        return (work, checked) if work else None

    def _by_gate(
        self, held: Sequence[_SilentHeld]
    ) -> dict[HostGate, list[tuple[_SilentHeld, bool]]]:
        """`held` by the gate of the address each was held at, with whether that address is
        all the link's check would ask (`own`), in the batch's order."""
        by_gate: dict[HostGate, list[tuple[_SilentHeld, bool]]] = {}
        for link in sorted(held, key=lambda h: h.index):
            address = parse_url(link.url)
            if isinstance(address, CheckedUrl):  # as it was when it was held
                # Held at its first hop; an http:// address with an https:// form is not
                # all its check would ask (`_over_https`).
                own = _parsed(self.targets[link.index]).canonical == link.url
                own = own and https_upgrade_candidate(link.url) is None
                by_gate.setdefault(self.politeness.gate(address.host), []).append((link, own))
        return by_gate

    def _settle(
        self,
        links: Sequence[tuple[_SilentHeld, bool]],
        again: _AskedAgain | None,
        work: list[tuple[str, int]],
        checked: dict[int, CheckedUrl],
    ) -> None:
        """The held `links` of one host once it was asked again (`again`; None: it answered
        since, unasked): into `work` to check if it answered, else `timeout` if it was
        silent still (`_silent_still`), else left held."""
        if again is not None and not again.answered:
            if again.silent:
                for link, own in links:
                    if not (own and link.index == again.index):  # that one was asked
                        self._silent_still(link, again)
            return  # silent still, or not known: `_silent_still`, or held
        for link, _ in links:
            parsed = checked[link.index] = _parsed(self.targets[link.index])
            work.append((parsed.host, link.index))

    async def _ask_early(self, gate: HostGate) -> None:
        """Ask `gate`'s host, held for its silence, once more as soon as the hold is
        `SILENT_AGAIN_DEADLINES` old, while the batch's other URLs are still checked; if it
        answers, check its own links it held now (`on_result` hears nothing of them, as in
        `ask_silent_again`).

        Asked only at the end of the batch, a host back a minute after its hold had its
        held links wait for every other URL of the batch (hours of a big host), then
        checked at its politeness after them all: the night took the batch's time and
        the held host's on top. Silent still, it is not judged now, while the batch goes
        on: its held links, the one asked included, wait for the end of the batch, as
        before, and are asked again then (`ask_silent_again`): a host back by then has
        them checked. A host silent throughout costs one request more.

        Only its own links, and once the batch has none of them left to send or in flight
        (`HostScheduler.idle`): checked beside the batch's, by a scheduler of their own,
        the host could have had twice its concurrency open. Links of other hosts that
        redirect into it wait for the end of the batch, their own host's politeness kept
        by the batch's scheduler meanwhile.

        Held anew while they are checked (back, then stalled again), it is asked early
        again once that hold is as old: its links held the second time waited for the
        batch's other links, as all its held links had before. Each round ends a hold
        and waits `SILENT_AGAIN_DEADLINES` for the next, one request each."""
        while await self._ask_early_once(gate):
            pass

    async def _ask_early_once(self, gate: HostGate) -> bool:
        """`_ask_early` for `gate`'s latest hold: whether it answered and its held links
        were checked (then it may have been held anew meanwhile)."""
        if (wait := gate.again_at() - asyncio.get_running_loop().time()) > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._dispatched.wait()
        scheduler = self._scheduler
        if self._dispatched.is_set() or scheduler is None or not scheduler.idle(gate.host):
            return False  # asked with the others at the end of the batch (`ask_silent_again`)
        held = self._by_gate(self._silent_held or []).get(gate, [])
        links = [(h, own) for h, own in held if self._host_of(h.index) == gate.host]
        if not links:
            return False
        if gate.silent():
            link, _ = _to_ask_again(links)
            again = await self._ask_again(gate, link, own=False)  # no verdict of its own
            if not again.answered:
                return False  # silent still, or not known: asked again at the end of the batch
        self._unhold([link for link, _ in links])
        work: list[tuple[str, int]] = []
        checked: dict[int, CheckedUrl] = {}
        self._settle(links, None, work, checked)
        await self._dispatch(work, checked, heard=False)
        return True

    def _host_of(self, index: int) -> str:
        """The host of target `index`, as its gate is keyed (`Politeness.gate`)."""
        return _parsed(self.targets[index]).host.lower()

    def _unhold(self, links: Sequence[_SilentHeld]) -> None:
        """Take `links` out of those to ask again at the end of the batch."""
        gone = {id(link) for link in links}
        if self._silent_held is not None:
            self._silent_held = [h for h in self._silent_held if id(h) not in gone]

    async def _ask_again(self, gate: HostGate, link: _SilentHeld, own: bool) -> _AskedAgain:
        """`Fetcher.ask_again` of `link.url`, held for `gate`'s silence, in a run-wide slot
        of its own as a URL's check takes one, once the hold is old enough (`HostGate.
        again_at`: the wait takes no slot). When the host is silent still and the address
        is link `link.index`'s own (`own`), the GET is that link's check: `timeout`, asked,
        not held ("not sent" would be untrue of it).

        When the host answers it, the link is checked on its own request, as its siblings
        are (`_settle`): a bare GET, with no validators and no retry, is not the check its
        night makes (a conditional GET, or a HEAD), and a page read afresh where the night
        asks "changed since?" would be stored as that check. It costs a host just back one
        request more.

        An http:// address whose server took no connection is asked at its https:// form
        too, as a link's check does (`_over_https`): a site that never listens on port 80,
        whose https:// address stalled for its first links, read as silent still, and its
        links stayed held."""
        index, url = link.index, link.url
        loop = asyncio.get_running_loop()
        if (wait := gate.again_at() - loop.time()) > 0:
            await self._sleep(wait)
        progress = Progress()
        await self.slots.acquire()
        self.slots.hold()
        target, checked_at, started = self.targets[index], self.clock(), time.monotonic()
        after = loop.time() - gate.silent_since
        try:
            answered = await self.fetcher.ask_again(gate, url, progress)
            https, tried = https_upgrade_candidate(url), progress.snapshot()
            # Silent: a connect that timed out, or no answer begun by the deadline.
            silent, asked = progress.unheard is not None, url
            # No connection taken at the http:// address: its https:// form is asked.
            if not answered and https and tried and all(map(_unanswered_exchange, tried)):
                over_https = Progress()
                answered = await self.fetcher.ask_again(gate, https, over_https)
                silent, asked = over_https.unheard is not None, https
        except Exception:  # a bug of ours: the held verdicts stand, the batch goes on
            log.exception("asking %s again failed", url)
            return _AskedAgain(index, url, answered=False, silent=False, after=after)
        finally:
            self.slots.drop()
        again = _AskedAgain(index, asked, answered, silent and not answered, after)
        if answered or not own:
            return again
        cut = not progress.exchanges  # the deadline ended it
        facts = CheckFacts(
            url=url,
            exchanges=progress.snapshot(),
            deadline_exceeded=self.settings.total_timeout if cut else None,
            previous=target.previous,
        )
        elapsed_ms = round((time.monotonic() - started) * 1000)
        try:
            observation = self.results[index] = _observe(target, facts, checked_at, elapsed_ms)
        except Exception:  # judging failed: its held verdict stands, never a crash
            log.exception("judging %s failed", target.url)
            return again
        self._settled(observation)
        return again

    def _silent_still(self, link: _SilentHeld, again: _AskedAgain) -> None:
        """`link`, held for its host's silence, judged again now that the host answered none
        of its links nor the request that asked it again (`again`): `timeout`, a check of
        the link (`Away.kept_state`), with a reason that says it was not sent and why."""
        facts = link.facts
        *before, last = facts.exchanges
        assert last.held is not None  # held: `check_one`
        away = replace(last.held, asked_again=again.url, asked_after=again.after)
        facts = replace(facts, exchanges=(*before, replace(last, held=away)))
        target = self.targets[link.index]
        try:
            # No time of its own: nothing was sent ("took 0 ms" read as an answer timed).
            observation = _observe(target, facts, link.checked_at, None)
        except Exception:  # judging failed: its held verdict stands, never a crash
            log.exception("judging %s again failed", target.url)
            return
        self.results[link.index] = observation
        self._settled(observation)

    def _settled(self, observation: Observation) -> None:
        """Tell `on_settled` of a link held for its host's silence judged again."""
        if self.on_settled is not None:
            self.on_settled(observation)

    async def _check_job(
        self,
        scheduler: HostScheduler,
        job: tuple[str, int],
        checked: dict[int, CheckedUrl],
        heard: bool = True,
    ) -> None:
        """Check one URL in the slot the dispatcher took for it (`Slots.hand_to`); free both
        when done."""
        host, index = job
        self._unbegun[host] -= 1
        try:
            observation = await self.check_one(self.targets[index], checked.pop(index), index)
            self.results[index] = observation
            if heard and self.on_result is not None:
                self.on_result(observation)
            elif not heard:
                self._settled(observation)
            tail = self._tails.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            if tail is not None:  # a probe sent late: its request holds the URL's slots
                await asyncio.wait([tail])
        finally:
            self.slots.drop()
            await scheduler.done(host)

    def _judge_told(self) -> None:
        """The URLs that heard the host's 503 "come back later" to HEAD and got no page to
        GET, judged on that word when the host was held on it and served no page after
        (`HostGate.held_on`), as their held siblings are: one night of maintenance read as
        `timeout` for the links asked first. Their `on_result` has heard the verdict made
        when each was done (live progress counts a URL once; a run stopped mid-batch stores
        it): the host's 503 for those done once it was held, their own for the first; the
        observations returned are these, on what the host said by the end."""
        for told in self._told:
            away = told.gate.held_on(told.since)  # None: a page came since, its own verdict
            target, facts = self.targets[told.index], replace(told.facts, away=away)
            try:
                observation = _observe(target, facts, told.checked_at, told.elapsed_ms)
                if told.upgrade is not None:  # an http:// link checked over https
                    observation = _upgraded(observation, *told.upgrade, target.previous)
                self.results[told.index] = observation
            except Exception:  # judging failed: its first verdict stands, never a crash
                log.exception("judging %s again failed", target.url)

    async def check_one(self, target: Target, parsed: CheckedUrl, index: int) -> Observation:
        """`parsed` is the target's URL as `check_targets` parsed it (parsed once per run);
        `index`, its place in the results."""
        checked_at = self.clock()
        started = time.monotonic()
        progress = Progress()
        plain = parsed.canonical  # the http:// address, when its https:// form answers
        if parsed.scheme == "http" and parsed.port == 80:  # one `_over_https` may try
            progress.connect_left = self.settings.total_timeout * HTTP_CONNECT_SHARE
        unanswered: str | None = None  # why the http:// address did not answer, if https did
        deadline = asyncio.timeout(self.settings.total_timeout)
        try:
            await self._fetch_in_time(self.fetcher, target, parsed.canonical, progress, deadline)
            # Outside the URL's deadline: the https try has a deadline of its own.
            upgraded = await self._over_https(target, progress)
            if upgraded is not None:
                parsed, progress, unanswered = upgraded
            # Outside the URL's deadline: a slow probe must not turn a live page into a
            # timeout. The probe gets what is left of it (`soft404.probe_time`).
            page, probe = await self._page_and_probe(parsed, progress, target.previous)
            facts = CheckFacts(
                url=parsed.canonical,
                exchanges=tuple(progress.exchanges),
                page=page,
                probe=probe,
                previous=target.previous,
                entry_titles=target.titles,
            )
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                facts = CheckFacts(
                    url=parsed.canonical,
                    exchanges=progress.snapshot(),
                    deadline_exceeded=self.settings.total_timeout,
                    paused=progress.paused_for if progress.in_pause() else None,
                    previous=target.previous,
                )
            else:  # a bug of ours; one URL must not sink the run
                log.exception("checking %s failed", target.url)
                facts = CheckFacts(
                    url=parsed.canonical,
                    exchanges=progress.snapshot(),
                    internal_error=f"{type(exc).__name__}: {exc}",
                    previous=target.previous,
                )
        if progress.unheard is not None and progress.unheard_url is not None:
            # The host gave no answer at all to the check's last request: silent, the
            # `HostGate.unanswered_link`th in a row may hold it (an https:// form that
            # answered is `progress` now, `_over_https`: its host answered).
            progress.unheard.unanswered_link(progress.unheard_url)
        last = facts.last
        held = last.held if last is not None else None
        elapsed_ms = round((time.monotonic() - started) * 1000)
        if held is not None and held.status is None and self._silent_held is not None:
            # Held for its host's silence: not final yet (`ask_silent_again`).
            url = facts.exchanges[-1].chain[-1].url
            self._silent_held.append(_SilentHeld(index, url, facts, checked_at))
            self._asking_early(url)
        try:
            observation = _observe(target, facts, checked_at, elapsed_ms)
            upgrade = None if unanswered is None else (unanswered, plain)
            if progress.said is not None and facts.deadline_exceeded is None:
                gate, since = progress.said
                told = _Told(index, gate, since, facts, checked_at, elapsed_ms, upgrade)
                self._told.append(told)
                if (away := gate.held_on(since)) is not None:  # held already: said at once
                    observation = _observe(
                        target, replace(facts, away=away), checked_at, elapsed_ms
                    )
            if upgrade is None:
                return observation
            return _upgraded(observation, *upgrade, target.previous)
        except Exception as exc:  # judging failed: still one observation, never a crash
            log.exception("judging %s failed", target.url)
            broken = CheckFacts(url=parsed.canonical, internal_error=f"{type(exc).__name__}: {exc}")
            return _observe(target, broken, checked_at, elapsed_ms)

    def _asking_early(self, url: str) -> None:
        """Start the task that asks the host of `url`, held for its silence, once more
        early (`_ask_early`), if it has none and the batch's URLs are being dispatched."""
        address = parse_url(url)
        if self._early is None or not isinstance(address, CheckedUrl):
            return
        gate = self.politeness.gate(address.host)
        if gate not in self._asked_early:
            self._asked_early.add(gate)
            self._early.create_task(self._ask_early(gate))

    async def _fetch_in_time(
        self,
        fetcher: Fetcher,
        target: Target,
        url: str,
        progress: Progress,
        deadline: asyncio.Timeout,
    ) -> None:
        """Fetch `url` into `progress` within `deadline` (the URL's `total_timeout`). A page
        still coming when it passes is judged on what came, if enough did
        (`Progress.cut_read`); otherwise its TimeoutError goes on."""
        try:
            async with deadline:
                progress.deadline, progress.timeout = deadline.when(), deadline
                # Pauses the host asked for push the deadline back by at most as much
                # again: no URL holds its worker longer than twice `total_timeout`.
                progress.grace = self.settings.total_timeout
                await fetcher.fetch(target, url, progress)
        except TimeoutError:
            cut = progress.cut_read() if deadline.expired() else None
            if cut is None:
                raise
            progress.exchanges.append(cut)

    async def _over_https(
        self, target: Target, progress: Progress
    ) -> tuple[CheckedUrl, Progress, str] | None:
        """The check of the https:// form of an http:// link whose server did not answer at
        all (refused, reset or timed out while connecting, on every request and attempt of
        the check), when that form answers; else None.

        Browsers open such a link over https (Chrome's HTTPS-Upgrades, HSTS preloading of
        .app, .dev and many .gov hosts), and many of those sites never listen on port 80:
        `connection_refused` called a page every visitor reads broken. The https form is
        checked as any link is (`Fetcher.fetch`: HEAD between fingerprints, GET with the
        validators the last answer gave, which was this https answer), but each request
        once: a host down on both ports costs one more connect timeout or two at most. A
        bespoke GET read the whole page or file again every night.
        """
        if not progress.exchanges or not all(map(_unanswered_exchange, progress.exchanges)):
            return None  # the http server answered something: its answer is the verdict
        last = progress.exchanges[-1]
        assert last.error is not None  # `_unanswered_exchange`
        https = https_upgrade_candidate(target.url)
        checked = parse_url(https) if https is not None else None
        if not isinstance(checked, CheckedUrl):
            return None
        tried = Progress()
        deadline = asyncio.timeout(self.settings.total_timeout)
        try:
            await self._fetch_in_time(
                self._once_fetcher, target, checked.canonical, tried, deadline
            )
        except TimeoutError:
            return None
        done = tried.exchanges[-1] if tried.exchanges else None
        told = done is not None and done.held is not None and done.held.status is not None
        if done is None or (done.answer is None and not told):
            # No answer over https either (nor a host's word to other links, only its
            # silence: `HostGate.unanswered_link`): the http failure stands.
            return None
        return checked, tried, describe_error(last.error).sentence

    async def _page_and_probe(
        self, parsed: CheckedUrl, progress: Progress, previous: Previous | None
    ) -> tuple[PageFacts | None, Probe | None]:
        last = progress.exchanges[-1] if progress.exchanges else None
        answer = last.answer if last else None
        if last is None or answer is None or last.method != "GET":
            return None, None
        if not 200 <= answer.status < 300:
            return None, None
        page = await _against_first_bytes(await read_page(answer), answer, previous)
        final = last.final_url or parsed.canonical
        if not (self.settings.soft404_probe and page.is_html and answer.status == 200):
            return page, None
        if is_home(parsed.canonical) or is_home(final):
            return page, None
        return page, await self._probe(final, progress.left())

    async def _probe(self, final_url: str, left: float | None) -> Probe | None:
        """The host's probe as far as it comes in the `left` seconds before the URL's
        deadline (None: no deadline), each URL of the host waiting for it as long as it has.

        At most one probe of a host is in flight, shared by its URLs. One cut short by the
        deadline of the URL that sent it is no answer of the host's (`probe_cut_short`):
        the URL finding it so sends it again when it has time (`_send_probe`), up to
        `PROBE_TRIES` in the run. One the host answered, or failed (refused, reset, no
        DNS, a stall or a trickle as long as a request waits), stands for the run."""
        host = urlsplit(final_url).hostname or ""
        ends = None if left is None else asyncio.get_running_loop().time() + left
        while True:
            task = self._probes.get(host)
            if task is not None and (probe := _answered(task)) is not None:
                return probe  # the host's probe, answered: every page of the host after the first
            if task is None or _cut_short(task):
                task = self._send_probe(host, final_url, ends)
                if task is None:
                    return None
            try:
                async with asyncio.timeout_at(ends):
                    probe = await asyncio.shield(task)
            except Exception:  # a probe that fails or runs out of time tells us nothing
                log.debug("soft-404 probe for %s failed", host, exc_info=True)
                return None
            if probe is not None:
                return probe
            # Cut short by its sender's deadline (this URL's, or another's): again, if
            # this URL has time for it.

    def _send_probe(
        self, host: str, final_url: str, ends: float | None
    ) -> asyncio.Task[Probe | None] | None:
        """Send the host's probe for a URL whose deadline `ends` (loop time), or None when
        it sends none.

        The probe gets what is left of the URL's time (`probe_time`). A URL with less
        sends none, except the first of a host to try while other URLs of the host wait
        to begin: a host whose every page takes more than half its deadline (30 s of 45)
        was otherwise never probed, its catch-all "pages" all passing. That probe gets
        `read_timeout` of its own and outlives the URL, which waits for it only as long as
        it has (its verdict is on time) but holds its host slot and its global slot until
        the probe ends (`_check_job`): the host never has more requests in flight than
        its concurrency. It costs the host's slot at most `read_timeout` once a run, and
        is never sent for a host's last URL, whose pages it could not serve."""
        tries = self._probe_tries[host]
        if tries >= PROBE_TRIES:
            return None
        left = None if ends is None else ends - asyncio.get_running_loop().time()
        within = probe_time(left, self.settings)
        late = within is None
        if within is None:
            if tries or self._unbegun[host] <= 0:
                return None
            within = self.settings.read_timeout
        self._probe_tries[host] += 1
        url = probe_url_for(final_url, self.token)
        task = asyncio.ensure_future(self._probe_in(url, within))
        self._probes[host] = task
        sender = asyncio.current_task()
        if late and sender is not None:
            self._tails[sender] = task
        return task

    async def _probe_in(self, url: str, within: float) -> Probe | None:
        """The probe of `url` in `within` seconds; None: cut short by the deadline of the
        URL that sent it (`probe_cut_short`), not the host's answer."""
        probe = await self.fetcher.probe(url, within)
        if probe is None and not probe_cut_short(within, self.settings):
            return Probe(url, None, None)  # the host had a request's whole wait: no answer
        return probe


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception of `group`, out of the task groups it is nested in."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _parsed(target: Target) -> CheckedUrl:
    """The URL of `target`, one `check_targets` checked: a parsed one."""
    parsed = parse_url(target.url)
    assert isinstance(parsed, CheckedUrl)
    return parsed


def _answered(task: asyncio.Task[Probe | None]) -> Probe | None:
    """`task`'s probe if it ended with one: what awaiting it under the URL's deadline
    gives at once, without the deadline's timer (a few µs a page)."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result()


def _cut_short(task: asyncio.Task[Probe | None]) -> bool:
    """Whether `task`, a host's probe, ended cut short by its sender's deadline."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return False
    return task.result() is None


#: The share of a URL's `total_timeout` its requests to an http:// address with an https://
#: form may spend waiting for connections the server never takes (a firewall dropping
#: port 80): 22.5 s of 45 by default, the HEAD's and the GET's connect timeouts and a
#: shorter last try. Then the https:// form is tried (`_over_https`), with a deadline of its
#: own. Unbounded, a black-holed port 80 took four connect timeouts of 10 to 11 s (aiohttp
#: rounds a wait over 5 s up to a whole second) and two back-offs: past the 45 s deadline
#: mostly, a "timeout" with the https:// form never tried, else 42 s before it was.
#: A server that takes a connection lifts the bound (`fetch.Progress.connect_left`).
HTTP_CONNECT_SHARE = 0.5


def _unanswered_exchange(exchange: Exchange) -> bool:
    """Whether no request of `exchange` reached its server: no answer on any attempt (a
    retried 503 is one), no redirect, and an error that is a connection not taken."""
    if exchange.answer is not None or exchange.stop is not None or exchange.error is None:
        return False
    if any(hop.status is not None for hop in exchange.chain):
        return False  # a redirect, or an answer whose body broke off
    if any(note.connected for note in exchange.retries):
        # An attempt the server answered, or whose connection it took before a read timed
        # out or was reset (a server restarting), before this error: it was there.
        return False
    return _unanswered(exchange.error)


def _unanswered(error: BaseException) -> bool:
    """Whether `error` is a server that did not take the connection: refused, or reset or
    timed out while connecting (not a name that does not resolve, nor a TLS failure)."""
    kind = describe_error(error).kind
    if kind is FailureKind.REFUSED:
        return True
    connecting = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
    return connecting and kind in (FailureKind.RESET, FailureKind.TIMEOUT)


def _upgraded(
    observation: Observation, unanswered: str, plain: str, previous: Previous | None
) -> Observation:
    """`observation` of a link's https:// form, said as the check of its http:// address
    `plain`; a working page suggests the https address (`replace-url`, as
    `catalog.upgrades`).

    A port 80 that refuses some nights and answers others with a permanent redirect to
    the https:// page (a load balancer with one node that does not listen) flipped the
    link between "OK" and "moved permanently" night after night, each flip an
    `outcome_changed` and a `redirect_changed` event, the row in and out of the
    curator's queue. When the link's last verdict is that move, to where the https://
    try ends, the night is that move still, as its journey (the http:// address, then
    where browsers went) and its verdict: a port that does not answer says nothing
    against it. A night whose port 80 serves the page itself ends the move, as any
    answer of a link that no longer redirects does.
    """
    suggested = observation.suggested_url
    if suggested is None and observation.outcome is Outcome.OK:
        # The address browsers open: without the user name and password of the link's.
        suggested = https_upgrade_candidate(plain_address(observation.url))
    final = observation.final_url
    if (
        observation.outcome is Outcome.OK
        and previous is not None
        and previous.outcome is Outcome.REDIRECTED_PERMANENT
        and final is not None
        and same_address(previous.final_url, final)
    ):
        reason = (
            f"The http:// address does not answer ({unanswered}); it last answered with a "
            f"permanent redirect to {final}, which browsers open and which answers: "
            f"{observation.reason}"
        )
        chain = (Hop(plain, None), *observation.chain)
        outcome = Outcome.REDIRECTED_PERMANENT
        return replace(
            observation, outcome=outcome, reason=reason, chain=chain, suggested_url=suggested
        )
    reason = (
        f"The http:// address does not answer ({unanswered}); browsers open it over https://, "
        f"which answers: {observation.reason}"
    )
    return replace(observation, reason=reason, suggested_url=suggested)


#: Characters of a validator or a Content-Type an observation keeps: real ones are tens
#: of characters, and a hostile site's (a header line may be 64 KiB) were stored whole on
#: every night's observation and on the link, and sent back in the next night's request.
MAX_HEADER_CHARS = 1024


def _kept(validator: str | None) -> str | None:
    """An ETag or Last-Modified to keep, or None when it is longer than any real one (cut
    short, it would be another validator)."""
    return validator if validator is None or len(validator) <= MAX_HEADER_CHARS else None


def _same_file(
    previous: Previous, etag: str | None, last_modified: str | None, length: int | None
) -> bool:
    """Whether the server vouches that a file is the one `previous` fingerprinted: the
    same strong ETag, or the same Last-Modified and length. Last-Modified compares as a
    date: the stored one may end with `fetch.STANDS_IN`, and compared as text it never
    matched the GET's, so a slow night of an unchanged file kept no fingerprint and the
    file was read again the next night."""
    if etag and previous.etag and not etag.startswith("W/"):
        return etag == previous.etag
    return _same_date(last_modified, previous.last_modified) and length == previous.content_length


def _same_date(said: str | None, stored: str | None) -> bool:
    """Whether two Last-Modified name the same moment; as text when either is no date."""
    if not said or not stored:
        return False
    when, before = http_date(said), http_date(stored)
    return when == before if when and before else said == stored


#: How the fingerprint of a body's first `SLOW_BODY_BYTES` alone is stored (`_observe`), in
#: place of "sha256:": a later night that reads more compares that much of it
#: (`_against_first_bytes`). The size is part of it, so that prefixes of another size are
#: never compared. 76 characters; the columns hold 80.
FIRST_BYTES = f"sha256@{SLOW_BODY_BYTES // 1024}k:"


def _of_first_bytes(fingerprint: str) -> str:
    """`fingerprint` (of a body's first `SLOW_BODY_BYTES`) as it is stored."""
    return FIRST_BYTES + fingerprint.removeprefix("sha256:")


async def _against_first_bytes(
    page: PageFacts, answer: Answer, previous: Previous | None
) -> PageFacts:
    """`page`, marked as extending the fingerprint `previous` holds when that is of a
    body's first bytes (a file first read slowly: `_observe`) and this longer read begins
    with the same (`PageFacts.extends`).

    A file whose first night was slow has the fingerprint of its first 256 KiB; a later
    night that read it fast, whole or to the byte cap, hashed more and said "content
    changed" once though nothing had. The same first bytes are the same file as far as
    the baseline can tell: this read's fingerprint becomes the baseline without counting
    as a change (`catalog.health`), so an edit past the first bytes shows from then on.
    Other first bytes are a change. The extra hashing is done only for such a baseline
    (rare), on 256 KiB.
    """
    before = previous.fingerprint if previous is not None else None
    if before is None or not before.startswith(FIRST_BYTES) or answer.cut is Cut.SLOW:
        return page
    if len(answer.body) < SLOW_BODY_BYTES:
        return page  # shorter than the first bytes hashed: another file
    first = replace(answer, body=answer.body[:SLOW_BODY_BYTES], truncated=True, cut=Cut.SLOW)
    same = _of_first_bytes((await read_page(first)).fingerprint) == before
    return replace(page, extends=before) if same else page


def _tail(text: str) -> bytes | None:
    """The end of a page's text that the sample does not hold, packed; None for a page the
    sample holds whole (most). Drift reads it for spam markers only: a lapsed-then-restored
    domain's "slot gacor" links sit in the footer of a long page, far past the sample."""
    if len(text) <= TEXT_SAMPLE_CHARS:
        return None
    return pack_text(text[max(TEXT_SAMPLE_CHARS, len(text) - TEXT_TAIL_CHARS) :])


@dataclass(frozen=True)
class _SilentHeld:
    """A URL held for its host's silence (`_Run.ask_silent_again`), as it was judged then."""

    index: int
    #: The address held (its last hop).
    url: str
    facts: CheckFacts
    checked_at: datetime


@dataclass(frozen=True)
class _AskedAgain:
    """What asking a silent host again at the end of its batch found (`_Run._ask_again`)."""

    #: The link held whose address was asked.
    index: int
    #: The address asked: the link's held one, or its https:// form (`_over_https`).
    url: str
    #: The host answered since its hold, to this request or another: its links are checked.
    answered: bool
    #: No answer to it either: a connect that timed out, or no answer begun by its
    #: deadline. Neither (a refusal, a name not found, a bug of ours) says nothing of the
    #: silence, and the links stay held.
    silent: bool
    #: Seconds from the host's hold to the request.
    after: float


def _to_ask_again(links: Sequence[tuple[_SilentHeld, bool]]) -> tuple[_SilentHeld, bool]:
    """Of a silent host's held links (each with whether its held address is all its check
    would ask: `own`), the one to ask again: one held at its own address, where there is
    one (the answer is its own), and of those the least like the link whose silence held
    the host, the latest in the batch among equals. A host dead behind one path (/archive/
    proxied to a backend that never answers) whose first links hung there is asked at
    another (/docs/) if it held one: asked at a fourth /archive/ link, silent too, every
    /docs/ link it held was a night's `timeout` (`_Run._silent_still`)."""

    def key(held: tuple[_SilentHeld, bool]) -> tuple[bool, int, int]:
        link, own = held
        last = link.facts.last
        hung = last.held.url if last is not None and last.held is not None else ""
        return own, -_shared_segments(link.url, hung), link.index

    return max(links, key=key)


def _shared_segments(a: str, b: str) -> int:
    """How many leading segments of their paths the addresses `a` and `b` share."""
    pairs = zip(urlsplit(a).path.split("/"), urlsplit(b).path.split("/"), strict=False)
    return sum(1 for _ in takewhile(lambda pair: pair[0] == pair[1], pairs))


@dataclass(frozen=True)
class _Told:
    """A URL whose HEAD's 503 "come back later" was taken as the host's word (`_judge_told`)."""

    index: int
    gate: HostGate
    #: The host's `answers` when its HEAD said it.
    since: int
    facts: CheckFacts
    checked_at: datetime
    elapsed_ms: int
    #: Why its http:// address did not answer, and that address, when the https:// form
    #: was the one that heard the word (`_upgraded`); the host in maintenance is its answer
    #: as for its https:// siblings, where it read `timeout` or `http_error`.
    upgrade: tuple[str, str] | None = None


def _observe(
    target: Target, facts: CheckFacts, checked_at: datetime, elapsed_ms: int | None = None
) -> Observation:
    """Put the verdict and the facts a curator or a later run needs on one record."""
    verdict = classify(facts)
    last = facts.last
    answer = last.answer if last else None
    headers = answer.headers if answer else httpx.Headers()
    page = facts.page
    if page is not None and verdict.outcome is not Outcome.SOFT_404:
        # A page or text read under a file's label only to find an error message, and
        # none found: the file it is, judged and stored as before (no title or text for
        # drift nor "no longer serves its document": a small CSV under Excel's label).
        page = page.as_file()
    previous = target.previous
    # Only a 304 to the validators we sent vouches for our copy (`classify._not_modified`).
    not_modified = (
        answer is not None and answer.status == 304 and last is not None and last.conditional
    )
    fingerprint = page.fingerprint if page else None
    title = page.title if page else None
    etag = _kept(headers.get("etag"))
    last_modified = _kept(headers.get("last-modified"))
    length = content_length(headers)
    if answer is not None and answer.cut is Cut.SLOW and fingerprint is not None:
        # Judged on its first bytes (`fetch.judged_when_cut`), which are not what a night
        # that read it to its end or to the byte cap hashed: compared with that night's
        # fingerprint, it said "content changed" each time the server's speed crossed
        # over. The server's own word for the whole file decides instead, as a 304 would;
        # without it, no fingerprint (the last stays, and the next night reads again). A
        # first read has nothing to compare: its first bytes are the baseline, with their
        # validators, so the next nights ask "changed since?"; stored as of the first
        # bytes, so that the night that reads more compares as much (`_against_first_bytes`).
        first_bytes = _of_first_bytes(fingerprint)
        if (
            previous is None
            or not previous.fingerprint
            or previous.fingerprint.startswith(LEGACY_FINGERPRINT)  # a baseline to replace
        ):
            fingerprint = first_bytes
        elif previous.fingerprint.startswith(FIRST_BYTES):
            fingerprint = first_bytes  # the same first bytes as the baseline's, or a change
        else:
            same = _same_file(previous, etag, last_modified, length)
            fingerprint = previous.fingerprint if same else None
    if not_modified and previous is not None:
        fingerprint = previous.fingerprint
        title = previous.title
        etag = etag or previous.etag
        last_modified = last_modified or previous.last_modified
        length = length if length is not None else previous.content_length
    if length is None and len(facts.exchanges) > 1:
        # A GET sent chunked after a HEAD that gave the length: keep the HEAD's, which the
        # next night's HEAD compares with (`fetch.changed_since`). With the stale length
        # kept instead, each night's HEAD differed from it and fetched the page again.
        first = facts.exchanges[0].answer
        if first is not None and first.url == (answer.url if answer else None):
            length = content_length(first.headers) or None
    if (
        answer is not None
        and 200 <= answer.status < 300
        and fingerprint is not None
        and not etag
        and not last_modified
        and length is None
    ):
        # A read with nothing the next nights' HEADs can compare with (chunked, no
        # validator): the validators of that night's HEAD, or the last read's, stand for it.
        before = facts.exchanges[0]
        head = before.answer if before is not last and before.method == "HEAD" else None
        said = head.headers if head and head.url == answer.url and head.status < 300 else None
        kept = validators_of_read(previous, said)
        etag, last_modified = _kept(kept[0]), _kept(kept[1])
    if page is not None and (verdict.outcome is Outcome.BLOCKED or LAPSED_SHELL in verdict.reason):
        # Not stored as the page read: the link keeps the title (what the next read compares
        # with, `soft404.lapsed_shell`), fingerprint, validators and length of the page it
        # had, so whatever sent this read sends the next night's too (a fingerprint still
        # due, a HEAD unlike that page: `fetch.changed_since`), and the queue says it again
        # each night the parking lasts, not only the night it began. A wall answering 200
        # (a bot check, a login page) is no read of the page either, as a 403's is none:
        # its fingerprint said "content changed" in `export` the night it came and the
        # night the page was back (`store.fingerprints_to_compare`).
        fingerprint = title = etag = last_modified = length = None
    status = answer.status if answer else None
    if status is None and last is not None and last.chain:
        status = last.chain[-1].status
    if facts.away is not None:  # the host's 503 (`_judge_told`): an unavailable night
        status = facts.away.status
    # Held: nothing sent. A link whose own HEAD heard the host's 503 was asked, its GET
    # held or not (`_judge_told`).
    held = last is not None and last.held is not None and last.held.kept_state
    held = held and facts.away is None
    # The catalog's URL as it is; the redirects' targets without signatures and session
    # ids, so that a CDN's fresh signature each night is no "move" (`redirects`).
    chain = last.chain if last else ()
    if len(chain) > 1:
        chain = (chain[0], *(replace(hop, url=stable_url(hop.url)) for hop in chain[1:]))
    final_url = chain[-1].url if chain else None
    # Only for links whose entries name a phone number or email (few), on the text the
    # analysis made already: the whole visible text, chrome included.
    found = contacts.read_answer(target.contacts, page, answer)
    # A read that stopped short (the byte cap, a slow night's first 256 KiB, the parser's
    # tag cap) has no page end in its text: a page builder's 300 KB of inline CSS left a
    # slow night's text without the guide, read as a page emptied of it.
    text_cut = page is not None and answer is not None and answer.stopped_short
    # Only a slow night's cut moves with the server's speed (`health.short_of_sample`).
    text_cut_steady = text_cut and answer is not None and not answer.cut_by_speed
    return Observation(
        url=target.url,
        checked_at=checked_at,
        outcome=verdict.outcome,
        reason=verdict.reason,
        http_status=status,
        final_url=final_url,
        chain=chain,
        methods=tuple(exchange.method for exchange in facts.exchanges),
        elapsed_ms=elapsed_ms,
        retries=sum(len(exchange.retries) for exchange in facts.exchanges),
        content_type=(headers.get("content-type") or "")[:MAX_HEADER_CHARS] or None,
        content_length=length,
        etag=etag,
        last_modified=last_modified,
        fingerprint=fingerprint,
        title=title,
        bytes_read=len(answer.body) if answer else 0,
        not_modified=not_modified,
        text_sample_packed=pack_text(page.text[:TEXT_SAMPLE_CHARS]) if page else None,
        text_tail_packed=_tail(page.text) if page else None,
        text_cut=text_cut,
        text_cut_steady=text_cut_steady,
        fingerprint_extends=page.extends if page is not None and not not_modified else None,
        title_before=page.title_before if page is not None and not not_modified else None,
        contacts=found.shown if found is not None else None,
        contacts_written=found.written if found is not None else (),
        contacts_judged=found.judged if found is not None else None,
        held=held,
        unanswered=bool(facts.exchanges) and all(map(_unanswered_exchange, facts.exchanges)),
        suggested_url=(
            moved_to(target.url, chain) or final_url
            if verdict.outcome is Outcome.REDIRECTED_PERMANENT
            else None
        ),
    )
