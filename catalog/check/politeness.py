"""Politeness: how many requests, how fast, and in which order, per host.

Stage: check. Parts:

- `HostGate`: one per host. Spaces the host's requests `1/rate` seconds apart (no bursts;
  a slot is reserved in arrival order, so waiting requests leave one by one; a request a
  little late for its slot keeps the slot's time, `LATE_SLACK`) and holds a
  pause that a 429/503 with Retry-After sets, so the host's other URLs wait while other
  hosts carry on. It knows when its next request may start (`ready_at`), which the
  scheduler uses. A Retry-After longer than a check waits (`retry_after_cap`) is no
  pause but may be the host's word that it is away (`away`): a 429 at once, a 503 once a
  second path says so too (`strike`). Until it has passed, the host's other URLs send
  nothing and take that answer as theirs, so the scheduler hands them out without
  spacing them; a 503's hold waits for the answers already asked for, and any of them
  that is a page ends it (`answered`). A host that gives no answer at all to several of
  its links in a row is held the same way (`unanswered_link`), a pause at a time, and
  asked once more when its batch's other URLs are done (`checker._Run.ask_silent_again`).
- `HostScheduler`: hands out URLs (`poll`, and `wait` when none may go), never more than
  the host's concurrency at once, and only when the host may send now (rate slot free, no
  pause): no URL sits on a global slot waiting for a host. Among the hosts that may send,
  the one with the most work left (URLs ÷ rate) goes first, so the busiest host, which
  decides when the run can end, is kept busy from the first second to the last. Memory is
  one deque of indexes per host plus two heaps of hosts.
- `Politeness`: the gates of one run, created on first use.
- `Slots`: the run's global concurrency. A URL holds a slot around its requests but lets
  go of it while it sleeps (retry back-off, a Retry-After pause), so a sleeping URL does
  not keep another host's URL from being sent; it gets a slot back before any new URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from urllib.parse import urlsplit

from catalog.check.facts import Away
from catalog.settings import CheckSettings

Sleep = Callable[[float], Awaitable[None]]

#: Share of a host's interval by which a late request may keep its slot's time, so that
#: lateness from a busy event loop does not add up over a host's hundreds of requests.
#: Two starts are never closer than 3/4 interval, and a window of w seconds holds at most
#: 1 + (w + slack) // interval starts: at 5/s that is 6 in any second, as with exact spacing.
LATE_SLACK = 0.25


#: Links of a host in a row whose check ended with no answer at all from it (`HostGate.
#: unanswered_link`) before its other links are held, at least: one more than the default
#: `per_host_concurrency` (2), and one more than a host's own concurrency when that is
#: higher (`HostGate.silent_after`). The links open at once start together and may all
#: hang on one stalled moment of the server (a restart, a lock); one more means a link
#: sent after the first of them had given up hung too, so the silence outlasted a whole
#: deadline. Small, because each costs a link's whole deadline (45 s) and a slot of the
#: host: a host silent for the night holds after two waves of its slots instead of
#: holding the run for URLs × deadline ÷ concurrency (1,000 links: over 6 hours).
SILENT_LINKS = 3
#: How long a silent host's hold lasts, in links' deadlines (`total_timeout`): 4.5 minutes
#: by default. Then the next request asks again (one, `HostGate.asking`; the others stay
#: held), and a silence renews the hold. A re-ask costs at most one link's deadline of
#: one of the host's slots, so the host's silence takes at most a seventh of one slot
#: meanwhile; any answer ends the hold at once. Not the whole run: a link reached later (a
#: redirect from another host, a batch's late URL) is asked again within minutes. The links
#: held meanwhile are not final: once the batch's other URLs are done, the host is asked
#: once more and, if it answers, they are checked (`checker._Run.ask_silent_again`).
SILENT_PAUSE_DEADLINES = 6.0
#: The least time from a silent host's hold to the request that asks it again once its
#: batch's other URLs are done (`checker._Run.ask_silent_again`), in links' deadlines:
#: 90 s by default, waited without a slot when the batch ends sooner. Silent to that
#: request too, its held links' tries are the night's `timeout` checks of them, so that
#: silence must have lasted minutes (the links that held it, this wait, the request's own
#: deadline), not a stall the batch's end happened to fall in; one of a minute is over by
#: then, and its links are checked.
SILENT_AGAIN_DEADLINES = 2.0

#: Longest the checking loop lets events gather before it wakes (`wake_tick`).
MAX_WAKE_TICK = 0.05


def wake_tick(settings: CheckSettings) -> float:
    """How long the checking loop may let events gather (`catalog.check.loop`).

    A request that starts up to `LATE_SLACK` of its host's interval late keeps the host's
    schedule, so a tick of that much costs no throughput on any rate-limited host. With
    a host under no rate limit (only concurrency and latency bound it) every wait would
    slow it down: 0.
    """
    rates = [settings.per_host_rate, *(settings.policy_for(h)[1] for h in settings.hosts)]
    if min(rates) <= 0:
        return 0.0
    return min(MAX_WAKE_TICK, LATE_SLACK / max(rates))


def on_schedule(start: float, due: float, interval: float) -> float:
    """The time the next slot counts from: `due` if `start` came at most a slack late."""
    return due if start - due <= interval * LATE_SLACK else start


class Asker:
    """A link's check as its host's gate knows it (`HostGate.asking`, `away`, `lift_silence`):
    a token with nothing in it. The gate keeps the last one that asked a silent host again
    until its batch ends; keeping the check's `Progress` kept its exchanges, page body
    included, as long, one for each silent host of the batch. A check makes one only when
    it sends to a silent host (`fetch.Fetcher._send`): one made for every check cost each
    URL of a night with no silent host an allocation. None: a check that never did."""

    __slots__ = ()


class HostGate:
    """Rate and pause for one host; concurrency is the scheduler's job."""

    def __init__(
        self,
        host: str,
        concurrency: int,
        rate: float,
        silent_pause: float = SILENT_PAUSE_DEADLINES * CheckSettings.total_timeout,
        silent_again: float = SILENT_AGAIN_DEADLINES * CheckSettings.total_timeout,
    ) -> None:
        self.host = host
        self.concurrency = max(1, concurrency)
        #: Seconds between two request starts; 0 means no rate limit.
        self.interval = 1.0 / rate if rate > 0 else 0.0
        #: Loop time at which the next request may start.
        self.next_at = -math.inf
        self.paused_until = 0.0
        self._pause_owner: object | None = None
        self._away: Away | None = None
        self._away_until = -math.inf
        #: The last 429 "come back later" (`went_away`) and the loop time it ends: no page
        #: ends it, even when a longer 503 hold stood over it (`answered`).
        self._slow_down: Away | None = None
        self._slow_down_until = -math.inf
        #: A first 503 "come back later" (`strike`) and the loop time its Retry-After ends.
        self._strike: Away | None = None
        self._strike_until = -math.inf
        #: Ordinary answers heard so far (`answered`): a word said before the last of them
        #: is no longer the host's (`strike`'s `since`).
        self.answers = 0
        #: A HEAD's 503 "come back later" was followed by a page to GET (`refuses_head`):
        #: the host refuses only HEAD so, and its HEAD's word is no longer heard this run.
        self.head_refused = False
        #: Requests sent whose answer has not begun (`asking`), and those of them that were
        #: out when the host went away (`away_once_answered` waits for them).
        self._out: set[object] = set()
        self._awaited: set[object] = set()
        self._news: asyncio.Event | None = None
        #: Links in a row whose check ended with no answer at all from the host (`unanswered_
        #: link`); any answer's head sets it back to 0 (`Fetcher._send`), which ends a hold.
        self.unanswered = 0
        #: `unanswered` from which the host is held (`SILENT_LINKS`), and for how long.
        self.silent_after = max(SILENT_LINKS, self.concurrency + 1)
        self.silent_pause = silent_pause
        self._silence: Away | None = None
        self._silence_until = -math.inf
        #: Loop time the host was last held for its silence (`unanswered_link`), and how
        #: long after it it may be asked again at the end of its batch (`again_at`).
        self.silent_since = -math.inf
        self.silent_again = silent_again
        #: The link whose request asked again once the silent hold's pause had passed
        #: (`asking`): the rest of its link's requests go, its siblings' stay held.
        self._reasker: Asker | None = None

    def ready_at(self) -> float:
        """Loop time from which a new request could start without waiting."""
        return max(self.next_at, self.paused_until)

    def away(self, asker: Asker | None = None) -> Away | None:
        """The host's word that it is away (`went_away`) while its Retry-After lasts, or its
        silence (`unanswered_link`) while that hold's pause lasts, except to the link that
        asks again after it (`asker`, `asking`).

        A site in maintenance answering 503 with Retry-After 7200 to every URL made each
        of them wait `retry_after_cap` (30 s) for the pause the last one set and then ask
        again, one after another: 100 URLs held the nightly run for 50 minutes for the
        answer its first one had given. Its other URLs now send nothing until the time it
        named has passed (then the next request asks again, and a repeat of the answer
        holds them anew), and are judged on its answer, the same outcome, so that a
        night of maintenance is one such night for each of its links."""
        if self._away is None and self.unanswered < self.silent_after:
            return None  # most calls: one comparison more than the host's word alone
        now = asyncio.get_running_loop().time()
        if self._away is not None and now < self._away_until:
            return self._away
        if (
            self.unanswered >= self.silent_after
            and now < self._silence_until
            and (asker is None or asker is not self._reasker)
        ):
            return self._silence
        return None

    def unanswered_link(self, url: str) -> None:
        """A link's check ended with no answer at all from the host (`url`, its last request
        to the host): a connect that timed out, or a request whose answer had not begun by
        its deadline, with no answer's head from the host since (`Fetcher._send`).

        A host that took connections and never answered (a WAF's tarpit, a dead backend
        behind a live load balancer) cost each of its links a HEAD's `read_timeout` and a
        GET's whole deadline, two at a time: 1,000 links held the night for over 6 hours,
        every one a timeout all the same. Once `silent_after` links in a row have had no
        answer, the host's other links send nothing for `silent_pause` seconds and take
        that silence as theirs (`classify._held`: `timeout`, not sent), as for a host in
        maintenance (`went_away`). A refusal or a failed lookup is quick, and no silence:
        it counts neither way. Any answer's head (any status) sets `unanswered` back to 0,
        which ends the hold at once: a host slow on some paths that answers others is
        never held, nor is one that answers slowly, or trickles a begun answer."""
        self.unanswered += 1
        if self.unanswered == self.silent_after:
            self._silence = Away(None, self.silent_pause, url, unanswered=self.silent_after)
            self.silent_since = asyncio.get_running_loop().time()
            self._silence_until = self.silent_since + self.silent_pause

    def silent(self) -> bool:
        """Whether the host has answered nothing since it was held for its silence
        (`unanswered_link`), whether or not the hold's pause has passed."""
        return self.unanswered >= self.silent_after

    def again_at(self) -> float:
        """Loop time from which the host, silent, is asked again at the end of its batch
        (`SILENT_AGAIN_DEADLINES`)."""
        return self.silent_since + self.silent_again

    def lift_silence(self, asker: Asker) -> None:
        """Let `asker` (a link's check) ask the silent host again, before its pause has passed
        (`checker._Run.ask_silent_again`): the host's other links stay held meanwhile, and
        any answer to it ends the hold (`unanswered`)."""
        self._silence_until = asyncio.get_running_loop().time() + self.silent_pause
        self._reasker = asker

    def went_away(self, away: Away) -> None:
        """The host answered `away` (a 429, or a 503 from a second path, asking for longer
        than a check waits): hold its requests until that time has passed, or a later one
        it named, unless a page it serves says it is back first (`answered`)."""
        now = asyncio.get_running_loop().time()
        until = now + away.retry_after
        if away.status == 429 and until > self._slow_down_until:
            self._slow_down, self._slow_down_until = away, until
        if until > self._away_until:
            if self._away is None or now >= self._away_until:
                # A new hold: the answers already asked for may end it.
                self._awaited = set(self._out)
            self._away, self._away_until = away, until

    def strike(self, away: Away, since: int | None = None) -> None:
        """A 503 asking for longer than a check waits: the host is away once a second path
        has said so, with no ordinary answer of the host between (`answered`). `since`: the
        count of `answers` when it was said, for a word taken later (a HEAD's, once its GET
        is done: `Fetcher.fetch`); an answer after it left it its path's own.

        Taken at its first word, one path down (an app's /search or /shop in trouble while
        /docs and the PDFs are served) made every other URL of the host "rate_limited 503"
        for the night, an unavailable night for each of its links (flapping, "Watched",
        failing after `unavailable_days`). A site in maintenance says it at every path: the
        second one asked costs one URL's requests more, not the night. The path, not the
        URL: links into one broken path that differ in their query are still one path.
        Neither holds the host meanwhile: the first URL keeps its answer, as its own.
        Nothing else strikes: a 404, a 410, a bare or short 503, a timeout is one page's."""
        if since is not None and (since != self.answers or self.head_refused):
            return
        now = asyncio.get_running_loop().time()
        first = self._strike if now < self._strike_until else None
        if first is not None and urlsplit(first.url).path != urlsplit(away.url).path:
            self._strike, self._strike_until = None, -math.inf
            self.went_away(replace(away, url=first.url, again=away.url))
        elif first is None or now + away.retry_after > self._strike_until:
            self._strike, self._strike_until = away, now + away.retry_after

    def held_on(self, since: int) -> Away | None:
        """The host's 503 hold if one was set and no ordinary answer of the host (`answered`)
        came since its `answers` were `since` (a HEAD's word: `Fetcher.fetch`), even past
        its time; else None.

        The URLs asked before the hold began heard the HEAD's 503 "come back in 2 hours"
        themselves, then a GET that hung: they read `timeout`, their held siblings "host
        unavailable", and one night of maintenance read as broken links. No page since
        means the host served none: their GET's failure was the maintenance too."""
        away = self._away
        if away is None or away.status != 503 or self.answers != since or self.head_refused:
            return None
        return away

    def refuses_head(self) -> None:
        """A HEAD's 503 "come back later" and then a page to GET: the host refuses only HEAD
        so (README: such a server "is never held"), and its HEAD's 503 says nothing for
        the rest of the run (`strike`, `held_on`). Heard only while a page came since
        it, a pair of broken pages asked last (a HEAD's 503, a GET that hangs) held such a
        host and read "host unavailable" night after night: never the `timeout` they are."""
        self.head_refused = True

    def answered(self) -> None:
        """The host answered a request as it does when it is up (a page, a 404, anything but
        a redirect, a 429 or a 503; a soft-404 probe's 404 too: the host routes requests as
        when up): a first 503 "come back later" (`strike`) was its path's alone, so it no
        longer counts towards the host's being away, and a 503's hold ends: the host
        serves pages (two of its apps were down, or it is back). A
        429's stands: it says we ask too often, and a page answered to a request sent
        before it does not say that we may ask more."""
        self.answers += 1
        self._strike, self._strike_until = None, -math.inf
        if self._away is not None and self._away.status != 429:
            # A 429 said meanwhile, for less time than the 503's hold, stands on its own.
            self._away, self._away_until = self._slow_down, self._slow_down_until
        self._tell()

    def asking(self, asker: Asker | None = None) -> object:
        """A request goes out: a token for `heard`, once its answer begins or it fails.

        While the host is silent (`unanswered_link`), a request sent once the hold's pause
        has passed asks again for all: the hold is renewed for the others meanwhile, and
        `asker` (its link's check) may send the rest of its link's requests (`away`)."""
        token = object()
        self._out.add(token)
        if self.unanswered >= self.silent_after:
            now = asyncio.get_running_loop().time()
            if now >= self._silence_until:
                self._silence_until, self._reasker = now + self.silent_pause, asker
        return token

    def heard(self, token: object) -> None:
        """The request `asking` gave `token` for has its answer (its head) or failed."""
        self._out.discard(token)
        if token in self._awaited:
            self._awaited.discard(token)
            if not self._awaited:
                self._tell()

    async def away_once_answered(self, within: float | None) -> Away | None:
        """`away`, once the requests out when a 503's hold began have had their answers (or
        `within` seconds have passed; None: no bound but theirs).

        With two URLs of a host at once, one page could still be on its way while two
        paths said "come back in 2 hours": every other URL of the host was held in the
        instant before it came, and a page served was a night of "not sent" for the
        host's links. A 429's hold does not wait: no answer ends it. Nor does a hold whose
        time has passed: woken only by answers, the URLs waiting for one that never came
        were sent at the end of their own deadline, not when the host had asked."""
        loop = asyncio.get_running_loop()
        end = math.inf if within is None else loop.time() + within
        while (away := self.away()) is not None and away.status == 503 and self._awaited:
            until = min(end, self._away_until)  # finite: the host is away
            if until <= loop.time():
                break
            if self._news is None:
                self._news = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(until):
                    await self._news.wait()
        return self.away()

    def _tell(self) -> None:
        """Wake those waiting in `away_once_answered` to look again."""
        if self._news is not None:
            self._news.set()
            self._news = None

    def pause(self, seconds: float, owner: object) -> None:
        """Hold the host's requests for `seconds` (except the owner's own retry)."""
        until = asyncio.get_running_loop().time() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
            self._pause_owner = owner

    async def before_request(
        self, owner: object, sleep: Sleep, pausing: Callable[[float], None] | None = None
    ) -> None:
        """Wait for a rate slot, then out any pause (unless `owner` set it and waited);
        `pausing` hears how long, before that wait (the URL's deadline makes room for it)."""
        await self._tick()
        delay = self.paused_until - asyncio.get_running_loop().time()
        if delay > 0 and owner is not self._pause_owner:
            if pausing is not None:
                pausing(delay)
            await sleep(delay)
            await self._tick()  # requests held by a pause leave one by one, not in a burst

    async def _tick(self) -> None:
        if self.interval <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = self.reserve(now)
        if start > now:
            await asyncio.sleep(start - now)

    def reserve(self, now: float) -> float:
        """Take the host's next rate slot for a request asking at loop time `now`: the loop
        time it may start (`now` or later); the slot after it is `interval` on.

        Reserved before sleeping: arrival order. A start a little late for its slot (a
        busy event loop) keeps the schedule instead of pushing every later request back.
        Apart from `_tick` so that tests can read the schedule the gate gave, which a
        loaded machine's late wake-ups do not move (`tests/test_check_loop.py`)."""
        start = max(now, self.next_at)
        self.next_at = on_schedule(start, self.next_at, self.interval) + self.interval
        return start


class Politeness:
    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self._gates: dict[str, HostGate] = {}

    def gate(self, host: str) -> HostGate:
        key = host.lower()
        gate = self._gates.get(key)
        if gate is None:
            concurrency, rate = self.settings.policy_for(key)
            pause = SILENT_PAUSE_DEADLINES * self.settings.total_timeout
            again = SILENT_AGAIN_DEADLINES * self.settings.total_timeout
            gate = self._gates[key] = HostGate(key, concurrency, rate, pause, again)
        return gate


class HostScheduler:
    """Hand out (host, item index): host concurrency and rate honoured, busiest first.

    A host is in at most one of two heaps: `_ready` (may send now, keyed by work left) or
    `_timed` (has a free slot but must wait for its rate or a pause, keyed by time). One
    timer wakes one waiter when the earliest timed host comes due.
    """

    def __init__(self, work: Iterable[tuple[str, int]], politeness: Politeness) -> None:
        self._queues: dict[str, deque[int]] = {}
        for host, index in work:
            self._queues.setdefault(host, deque()).append(index)
        self._politeness = politeness
        self._gates = {host: politeness.gate(host) for host in self._queues}
        self._active: dict[str, int] = dict.fromkeys(self._queues, 0)
        #: When the scheduler last handed out a URL of the host (its first request follows).
        self._handed: dict[str, float] = dict.fromkeys(self._queues, -math.inf)
        self._pending = sum(len(q) for q in self._queues.values())
        self._queued: set[str] = set(self._queues)
        self._ready: list[tuple[float, int, str]] = []
        self._timed: list[tuple[float, int, str]] = []
        self._order = {host: i for i, host in enumerate(self._queues)}  # stable tie-break
        for host in self._queues:
            heapq.heappush(self._ready, (self._priority(host), self._order[host], host))
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    @property
    def pending(self) -> int:
        return self._pending

    def poll(self) -> tuple[str, int] | None:
        """The next URL whose host may send now, or None if none may (or none is left)."""
        now = asyncio.get_running_loop().time()
        self._promote(now)
        while self._ready:
            _, order, host = heapq.heappop(self._ready)
            at = self._eligible_at(host)
            if at > now:  # paused by a Retry-After since it was queued
                heapq.heappush(self._timed, (at, order, host))
                continue
            self._queued.discard(host)
            index = self._queues[host].popleft()
            self._pending -= 1
            self._active[host] += 1
            self._handed[host] = on_schedule(now, at, self._gates[host].interval)
            self._requeue(host, now)
            if self._pending == 0:
                self._wake_all()  # nothing left: no waiter needs to poll again
            elif self._ready:
                self._wake_one()  # more hosts may send: let another waiter poll
            return host, index
        return None

    async def wait(self) -> None:
        """Until a host may send (or may soon: `poll` again), or nothing is left."""
        if self._pending == 0:
            return
        loop = asyncio.get_running_loop()
        self._arm_timer(loop)
        waiter = loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():
                waiter.cancel()
                self._waiters.remove(waiter)

    def idle(self, host: str) -> bool:
        """Whether `host` has no URL left to hand out nor out now."""
        return not self._queues.get(host) and not self._active.get(host)

    async def done(self, host: str) -> None:
        self._active[host] -= 1
        loop = asyncio.get_running_loop()
        if self._requeue(host, loop.time()):
            self._wake_one()

    def _priority(self, host: str) -> float:
        """Most work left first: URLs left times seconds per URL (at least a token amount)."""
        return -len(self._queues[host]) * max(self._gates[host].interval, 1e-3)

    def _eligible_at(self, host: str) -> float:
        gate = self._gates[host]
        if gate.away() is not None:
            # Its URLs send nothing (`HostGate.away`): paced by its rate, a big host in
            # maintenance took URLs / rate seconds to record what it said once.
            return -math.inf
        return max(gate.ready_at(), self._handed[host] + gate.interval)

    def _requeue(self, host: str, now: float) -> bool:
        """Put `host` back in a heap if it has URLs and a free slot; True if it was put."""
        if host in self._queued or not self._queues[host]:
            return False
        if self._active[host] >= self._gates[host].concurrency:
            return False
        self._queued.add(host)
        at = self._eligible_at(host)
        if at <= now:
            heapq.heappush(self._ready, (self._priority(host), self._order[host], host))
        else:
            heapq.heappush(self._timed, (at, self._order[host], host))
        return True

    def _promote(self, now: float) -> None:
        """Move every timed host that has come due into the ready heap."""
        while self._timed and self._timed[0][0] <= now:
            _, order, host = heapq.heappop(self._timed)
            at = self._eligible_at(host)  # a retry or a pause may have moved it since
            if at > now:
                heapq.heappush(self._timed, (at, order, host))
            else:
                heapq.heappush(self._ready, (self._priority(host), order, host))

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._timed:
            return
        at = self._timed[0][0]
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class Slots:
    """A semaphore of `size` that knows which task holds which slot.

    Whoever waits to resume (a URL back from sleeping) is served before whoever waits to
    start a new URL, so a retry is not queued behind fresh work. Slots are handed over
    directly on release, in arrival order within each kind. A task gives up only a slot
    it holds (`hold`, then `drop` or a `sleeper` sleep), so one that holds none (a shared
    soft-404 probe) sleeps without giving away someone else's.
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._free = self.size
        self._resuming: deque[asyncio.Future[None]] = deque()
        self._fresh: deque[asyncio.Future[None]] = deque()
        self._holders: set[asyncio.Task[object]] = set()

    @property
    def in_use(self) -> int:
        return self.size - self._free

    async def acquire(self, *, resume: bool = False) -> None:
        """Wait for a slot (`resume`: ahead of every new URL)."""
        if self._free > 0 and not self._resuming and (resume or not self._fresh):
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        (self._resuming if resume else self._fresh).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    (self._resuming if resume else self._fresh).remove(waiter)
            raise

    def release(self) -> None:
        """Hand the slot to the next waiter (resuming first), or free it."""
        for queue in (self._resuming, self._fresh):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    def hold(self) -> None:
        """The current task holds a slot acquired for it (possibly by another task)."""
        task = asyncio.current_task()
        assert task is not None
        self._holders.add(task)

    def hand_to(self, task: asyncio.Task[object]) -> None:
        """`task`, just created, holds a slot acquired for it, from before its first step.

        A task cancelled before it begins (a task group cancels those it has not started
        when one of its tasks fails; `catalog.check.loop.SharedLoop.cancel_all` cancels
        every task) never runs its body: a slot it was to `hold` and `drop` in a `finally`
        was never given back, and the run's other batches waited for it. Its end gives
        it back, if the task still holds it then."""
        self._holders.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[object]) -> None:
        if task in self._holders:
            self._holders.discard(task)
            self.release()

    def drop(self) -> None:
        """Release the current task's slot, if it holds one."""
        task = asyncio.current_task()
        if task in self._holders:
            self._holders.discard(task)  # type: ignore[arg-type]
            self.release()

    def sleeper(self, sleep: Sleep) -> Sleep:
        """`sleep`, but a slot holder lets its slot go meanwhile and gets one back after.

        A sleep cut short by cancellation (the URL's deadline, the run failing) does not
        wait for a slot again: what follows a cancellation sends no request.
        """

        async def sleep_released(seconds: float) -> None:
            await self.idle(sleep(seconds))

        return sleep_released

    async def idle(self, waiting: Awaitable[object]) -> None:
        """Await `waiting` as `sleeper` sleeps: a slot holder lets its slot go meanwhile and
        gets one back after (not after a cancellation). For any wait that sends nothing: a
        URL of a held host waiting for the host's answers to others (`HostGate.
        away_once_answered`) kept its slot, and other hosts' URLs waited behind it."""
        task = asyncio.current_task()
        if task not in self._holders:
            await waiting
            return
        self._holders.discard(task)  # type: ignore[arg-type]
        self.release()
        await waiting
        await self.acquire(resume=True)
        self._holders.add(task)  # type: ignore[arg-type]
