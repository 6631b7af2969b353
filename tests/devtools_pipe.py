"""One headless Chromium driven over the DevTools protocol on a pipe, for the browser tests.

A Chromium start costs ~2-3 s of wall and ~0.7 CPU-s: started once per call, the browser
tests cost ~50 s. `--remote-debugging-pipe` makes Chromium read JSON messages, each ended
by a NUL byte, on its fd 3 and write its replies and events on its fd 4: no port, no
WebSocket client. Every read and write has a deadline, so a crashed or hung browser fails
the call with a message instead of hanging the suite.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

#: How long one protocol command, or one page's load, may take: a whole Chromium start
#: took ~3 s on a loaded machine, and the one-process-per-call runs had 90 s.
CALL_TIMEOUT_S = 60.0

Message = dict[str, Any]


class BrowserError(Exception):
    """The browser failed, hung or answered with an error; the message says which."""


def _above_4(fd: int) -> int:
    """`fd` moved to a number above 4 (the old one closed), so that placing the child's
    ends on 3 and 4 never overwrites one with the other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
    os.close(fd)
    return moved


class Browser:
    """A running Chromium and its pipe: `call` sends a command and returns its result;
    events that arrive meanwhile are kept for `wait_for`. After a timeout or a lost pipe
    the browser is killed and every later call fails at once (`broken` says why)."""

    def __init__(self, command: list[str], log: Path) -> None:
        reads, to_browser = os.pipe()  # the browser reads on its fd 3
        from_browser, writes = os.pipe()  # and writes on its fd 4
        reads, writes = _above_4(reads), _above_4(writes)
        self.log = log
        self.timeout = CALL_TIMEOUT_S
        # bash puts the ends on 3 and 4 and becomes Chromium (dash takes one-digit
        # descriptors only; a preexec_fn is not safe in a process with threads). A session
        # of its own: `stop` kills the renderers and the GPU process with it.
        try:
            with log.open("wb") as out:
                self.process = subprocess.Popen(
                    [
                        shutil.which("bash") or "/bin/bash",
                        "-c",
                        f'exec "$@" 3<&{reads} 4>&{writes} {reads}<&- {writes}>&-',
                        "chromium",
                        *command,
                        "--remote-debugging-pipe",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    pass_fds=(reads, writes),
                    start_new_session=True,
                )
        finally:
            os.close(reads)
            os.close(writes)
        os.set_blocking(to_browser, False)  # a write never waits past its deadline
        self._to = to_browser
        self._from = from_browser
        self._buffer = b""
        self._events: list[Message] = []
        self._next_id = 0
        self.broken: str | None = None

    def _fail(self, why: str) -> BrowserError:
        """Kills the browser (later calls fail at once, not after a timeout of their own)
        and says why, with its exit code and the end of its output."""
        if self.broken is None:
            self.broken = why
            self.stop()
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        return BrowserError(
            f"{self.broken} (Chromium's exit code: {self.process.returncode})\n"
            f"--- the end of Chromium's output ---\n{tail}"
        )

    def _read_message(self, deadline: float, waiting_for: str) -> Message:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"Chromium did not answer {waiting_for} in {self.timeout:.0f} s")
            if not select.select([self._from], [], [], left)[0]:
                continue
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=5)  # for its own exit code, not our kill's
                raise self._fail(f"Chromium closed its pipe waiting for {waiting_for}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: Message = json.loads(raw)
        return message

    def _send(self, message: Message) -> None:
        data = json.dumps(message).encode() + b"\0"
        deadline = time.monotonic() + self.timeout
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"Chromium did not read {message['method']} in time")
            if not select.select([], [self._to], [], left)[1]:
                continue
            try:
                data = data[os.write(self._to, data) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=5)
                raise self._fail(f"Chromium is gone: {message['method']} not sent") from None

    def call(
        self, method: str, session: str | None = None, timeout: float | None = None, **params: Any
    ) -> Message:
        """`method`'s result, sent to the page of `session` (or to the browser)."""
        if self.broken is not None:
            raise BrowserError(f"the module's Chromium is stopped: {self.broken}")
        self._next_id += 1
        message: Message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline, method)
            if reply.get("id") != self._next_id:
                self._events.append(reply)
                self._check_crash(reply, session)
                continue
            if "error" in reply:
                raise BrowserError(f"{method} failed: {reply['error']}")
            result: Message = reply.get("result", {})
            return result

    def _check_crash(self, event: Message, session: str | None) -> None:
        """Fails the call that waits on `session` when its page is gone."""
        if session is None:
            return
        method, params = event.get("method"), event.get("params", {})
        if method == "Inspector.targetCrashed" and event.get("sessionId") == session:
            raise BrowserError("the page's renderer crashed")
        if method == "Target.detachedFromTarget" and params.get("sessionId") == session:
            raise BrowserError("the page was closed under the test")

    def wait_for(self, wanted: Callable[[Message], bool], session: str, what: str) -> Message:
        """The first event of `session` that is `wanted`, kept or still to come."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("sessionId") == session and wanted(event):
                    del self._events[i]
                    return event
            event = self._read_message(deadline, what)
            self._check_crash(event, session)
            self._events.append(event)

    def close(self) -> None:
        """Asks the browser to quit (it then reaps its renderers: their CPU time counts for
        this process, as it did for a Chromium per call), and `stop`s it if it does not."""
        if self.broken is None and self.process.poll() is None:
            with suppress(BrowserError, OSError):
                self._send({"id": 0, "method": "Browser.close", "params": {}})
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        self.stop()

    def stop(self) -> None:
        """Kills the browser's whole process group and closes the pipe. Idempotent."""
        if self.process.poll() is None:  # not reaped: the group is still ours to kill
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        for fd in (self._to, self._from):
            with suppress(OSError):
                os.close(fd)
        self._to = self._from = -1

    @contextmanager
    def page(
        self, url: str, window: tuple[int, int] | None = None, scrollbars: bool = True
    ) -> Iterator[Tab]:
        """A new tab that has loaded `url` (its load event has fired), closed after. Its
        viewport is `window` (width, height) as `--window-size` made it, if given, and
        without scrollbars as `--hide-scrollbars` drew it if not `scrollbars`."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        try:
            session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.call("Page.enable", session)
            self.call("Page.setLifecycleEventsEnabled", session, enabled=True)
            if window is not None:
                width, height = window
                self.call(
                    "Emulation.setDeviceMetricsOverride",
                    session,
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
            if not scrollbars:
                self.call("Emulation.setScrollbarsHidden", session, hidden=True)
            navigated = self.call("Page.navigate", session, url=url)
            if "errorText" in navigated:
                raise BrowserError(f"{url} did not open: {navigated['errorText']}")

            def loaded(event: Message) -> bool:
                """The load event of this navigation's document, not about:blank's."""
                params = event.get("params", {})
                return (
                    event.get("method") == "Page.lifecycleEvent"
                    and params.get("name") == "load"
                    and params.get("frameId") == navigated["frameId"]
                    and navigated.get("loaderId") in (None, params.get("loaderId"))
                )

            self.wait_for(loaded, session, f"the load of {url}")
            yield Tab(self, session)
        finally:
            if self.broken is None:
                self.call("Target.closeTarget", targetId=target)
            self._events.clear()


class Tab:
    """A page of the browser, loaded."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, **params: Any) -> Message:
        return self.browser.call(method, self.session, **params)

    def evaluate(self, expression: str) -> Any:
        """The value of the JavaScript `expression`, as JSON brings it back."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def dom(self) -> str:
        """The page's DOM as `--dump-dom` printed it (less its doctype)."""
        html: str = self.evaluate("document.documentElement.outerHTML")
        return html

    def poll(self, expression: str, what: str, timeout: float) -> Any:
        """The first truthy value of `expression`, evaluated every 50 ms for up to
        `timeout` s: a page's own script has no event to wait for."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"{what}: still nothing after {timeout:.0f} s")
            time.sleep(0.05)

    def bytes_of(self, method: str, **params: Any) -> bytes:
        """The decoded `data` of a command that answers with base64 (a screenshot, a PDF)."""
        return base64.b64decode(self.call(method, **params)["data"])


def launch(chromium: str, flags: tuple[str, ...], profile: Path) -> Browser:
    """A started browser (its profile and output in `profile`), checked to answer."""
    profile.mkdir(parents=True, exist_ok=True)
    browser = Browser([chromium, *flags, f"--user-data-dir={profile}"], profile / "chromium.log")
    try:
        browser.call("Browser.getVersion")
    except BaseException:
        browser.stop()
        raise
    return browser
