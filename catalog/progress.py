"""Progress lines on stderr for a long step a command waits on, in the style of the CLI's
`ProgressLines` ("Syncing catalog entries: 8,000 of 20,000").

`still_working` says nothing for a step done within `AFTER_S`, then a line every
`EVERY_S` until it ends: a `sync` or `mark-reviewed` of a 20,000-entry catalog, a report of
a large database, sat silent for 8 to 12 s. A thread of its own speaks, so the step's hot
loops make no call and read no clock (issue #7): they set `done` (a plain attribute) once
per chunk, if at all.

Blocks nest: one opened inside another (the catalog read before a sync, inside the
command's block for both) is said by the outer block's thread, on the outer block's clock,
while it runs. Consecutive steps of a second or two each, each under `AFTER_S`, added up
to seconds of silence (`sync`, `catalog lint` of 20,000 entries: 4 s).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar

from catalog.text import for_terminal

#: Seconds a step runs before its first line.
AFTER_S = 2.0
#: Seconds between its lines after that.
EVERY_S = 5.0
#: Seconds a check run goes without a URL finishing before it says what it is still
#: waiting for (`Quiet`), and between such lines.
QUIET_AFTER_S = 30.0
QUIET_EVERY_S = 30.0
#: Hosts a waiting line names (`waiting_line`); the rest are counted.
WAITING_HOSTS = 3


class Working:
    """What a running step says: `what`, and `done` of `total` when it counts."""

    def __init__(self, what: str, total: int | None = None) -> None:
        self.what, self.total = what, total
        self.done: int | None = None

    def line(self) -> str:
        if self.done is None:
            return f"{self.what}..."
        of = f" of {self.total:,}" if self.total else ""
        return f"{self.what}: {self.done:,}{of}"


def say_on_stderr(line: str) -> None:
    """`line` on stderr. In a log (not a terminal) in one write of its own: the thread
    never takes the lock of Python's stderr buffer, which a process forked meanwhile would
    inherit held. On a terminal through `sys.stderr`, which a rich progress bar showing
    there (`linkhealth report`'s) replaces with a proxy that prints above the bar."""
    text = for_terminal(line)
    try:
        fd = None if sys.stderr.isatty() else sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (a test's)
        fd = None
    if fd is None:
        with suppress(OSError, ValueError):  # a closed stderr: not worth failing for
            print(text, file=sys.stderr, flush=True)
        return
    with suppress(OSError):
        os.write(fd, (text + "\n").encode("utf-8", "replace"))


#: The blocks open in this context, outermost first: the outermost's thread says the
#: innermost's line.
_open: ContextVar[list[Working] | None] = ContextVar("linkhealth_progress", default=None)

#: Whether this process says no progress at all (`silence`): a plain flag, no lock to
#: copy across a fork.
_silenced = False


def silence() -> None:
    """No progress line from this process from now on: for a child forked to work beside
    its parent (`reports.forked`). Its stderr is the parent's, on a terminal maybe
    `linkhealth report`'s rich progress bar's proxy, copied with its locks as they were at
    the fork: its lines were drawn through that stale bar, and a lock copied held would
    block its first line, and the report waiting for it, for good."""
    global _silenced
    _silenced = True


@contextmanager
def still_working(
    what: str,
    total: int | None = None,
    *,
    after_s: float | None = None,
    every_s: float | None = None,
    say: Callable[[str], None] = say_on_stderr,
) -> Iterator[Working]:
    """Say `what` (with the `Working.done` the step sets) after `after_s`, then every
    `every_s`, until the block ends; nothing for a block done sooner. Inside another
    block, the outer one says this one's line while it runs (its timing and `say` apply)."""
    working = Working(what, total)
    if _silenced:
        yield working
        return
    blocks = _open.get()
    if blocks is not None:
        blocks.append(working)
        try:
            yield working
        finally:
            blocks.remove(working)
        return
    blocks = [working]
    token = _open.set(blocks)
    first = AFTER_S if after_s is None else after_s
    every = EVERY_S if every_s is None else every_s
    ended = threading.Event()

    def speak() -> None:
        wait = first
        while not ended.wait(wait):
            say(blocks[-1].line())
            wait = every

    speaker = threading.Thread(target=speak, name="linkhealth-progress", daemon=True)
    speaker.start()
    try:
        yield working
    finally:
        ended.set()
        speaker.join()
        _open.reset(token)


class Quiet:
    """When a check run whose URLs stopped finishing says what it is still waiting for.

    Its progress lines say how many URLs are checked, and only when that number moved:
    while the last slow URLs finished (a host in no hurry, a long `total_timeout` or a
    pause the host asked for) the run said nothing for minutes, and an operator took it
    for hung. A line is due once nothing moved for `after_s`, then every `every_s`.
    `clock`: seconds, monotonic (a test's fake one)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        after_s: float | None = None,
        every_s: float | None = None,
    ) -> None:
        self._clock = clock
        self._after_s = QUIET_AFTER_S if after_s is None else after_s
        self._every_s = QUIET_EVERY_S if every_s is None else every_s
        self._since = clock()
        self._said = -math.inf

    def moved(self) -> None:
        """A URL finished (or a batch was stored): the quiet starts again."""
        self._since, self._said = self._clock(), -math.inf

    def due(self) -> float | None:
        """The seconds nothing has moved when a waiting line is due now (counted as said),
        else None."""
        now = self._clock()
        quiet = now - self._since
        if quiet < self._after_s or now - self._said < self._every_s:
            return None
        self._said = now
        return quiet


def waiting_line(
    pending: Sequence[tuple[str, str]],
    quiet_s: float,
    held: Sequence[tuple[str, str]] = (),
) -> str:
    """What a quiet check run is waiting for: its URLs not finished yet, as (URL, host),
    named when one is left, else counted by host (the busiest `WAITING_HOSTS` named), e.g.
    "Still checking 3 URLs of maintenance.example; none finished in the last 40 s". With
    none left, the links `held` for their host's silence (as (URL, host)), if any: their
    batch asks the host once more before it ends, up to 90 s after its hold, and checks
    them if it answers (`checker._Run.ask_silent_again`), every one counted already when
    it was held. "Still finishing the last URLs checked" read as a run hung at its end,
    for as long as a host of 1,000 links back by then had them checked."""
    since = f"none finished in the last {quiet_s:.0f} s"
    if not pending:
        return (
            _held_line(held, quiet_s) if held else f"Still finishing the last URLs checked; {since}"
        )
    if len(pending) == 1:
        ((url, host),) = pending
        return f"Still checking 1 URL, {url} (host {host}); {since}"
    hosts = Counter(host for _, host in pending)
    if len(hosts) == 1:
        return f"Still checking {len(pending):,} URLs of {next(iter(hosts))}; {since}"
    return (
        f"Still checking {len(pending):,} URLs of {len(hosts):,} hosts ({_busiest(hosts)}); {since}"
    )


def _held_line(held: Sequence[tuple[str, str]], quiet_s: float) -> str:
    """`waiting_line` once every URL was heard and some were held for their host's silence."""
    moved = f"the count has not moved for {quiet_s:.0f} s"
    hosts = Counter(host for _, host in held)
    if len(hosts) == 1:
        links = "link" if len(held) == 1 else "links"
        return (
            f"Still waiting for {next(iter(hosts))}, which answered none of its last links: "
            f"it is asked once more before its batch ends, and its {len(held):,} {links} held "
            f"meanwhile are checked if it answers; {moved}"
        )
    return (
        f"Still waiting for {len(hosts):,} hosts that answered none of their last links "
        f"({_busiest(hosts, ' links held')}): each is asked once more before its batch ends, "
        f"and its links held meanwhile are checked if it answers; {moved}"
    )


def _busiest(hosts: Counter[str], first: str = "") -> str:
    """The busiest `WAITING_HOSTS` of `hosts` with their counts (`first` after the first
    count), the rest counted."""
    named = [f"{host}: {count:,}" for host, count in hosts.most_common(WAITING_HOSTS)]
    named[0] += first
    rest = len(hosts) - len(named)
    if rest:
        named.append(f"{rest:,} more host{'s' if rest > 1 else ''}")
    return ", ".join(named)
