"""The browser tests' Chromium (`tests.devtools_pipe`): a browser that hangs, dies or
crashes a page fails the call that waits on it, with a message, in its time; it never
hangs the suite, and a browser that hung is killed. Stand-in "browsers" (small scripts
on the same pipe) play the hung and the dying one; a real Chromium the crashed page."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devtools_pipe import Browser, BrowserError, launch
from tests.test_report_browser import CHROMIUM, FLAGS

#: A browser that answers its first command, then exits with code 7 at the second.
ANSWERS_ONCE = """
import json, os, sys
def read():
    data = b""
    while not data.endswith(b"\\0"):
        data += os.read(3, 1)
    return json.loads(data[:-1])
os.write(4, json.dumps({"id": read()["id"], "result": {"product": "stand-in"}}).encode() + b"\\0")
read()
print("stand-in: leaving", flush=True)
sys.exit(7)
"""


def stand_in(tmp_path: Path, name: str, script: str) -> Browser:
    """A `Browser` on `script` (Python), answering on the pipe's fds 3 and 4 as Chromium
    does, with a timeout of 1 s."""
    path = tmp_path / f"{name}.py"
    path.write_text(script)
    browser = Browser([sys.executable, str(path)], tmp_path / f"{name}.log")
    browser.timeout = 1.0
    return browser


def test_a_hung_browser_fails_the_call_in_its_time_and_is_killed(tmp_path: Path) -> None:
    browser = stand_in(tmp_path, "hung", "import time\ntime.sleep(600)\n")
    try:
        with pytest.raises(BrowserError, match=r"did not answer Browser\.getVersion in 1 s"):
            browser.call("Browser.getVersion")
        assert browser.process.returncode == -9  # killed, not left asleep
        with pytest.raises(BrowserError, match="is stopped: Chromium did not answer"):
            browser.call("Browser.getVersion")  # at once: no second timeout
    finally:
        browser.stop()


def test_a_browser_that_dies_fails_the_call_with_its_exit_code_and_output(
    tmp_path: Path,
) -> None:
    browser = stand_in(tmp_path, "dies", ANSWERS_ONCE)
    try:
        assert browser.call("Browser.getVersion") == {"product": "stand-in"}
        with pytest.raises(BrowserError) as failed:
            browser.call("Target.createTarget", url="about:blank")
        message = str(failed.value)
        assert "closed its pipe waiting for Target.createTarget" in message
        assert "exit code: 7" in message
        assert "stand-in: leaving" in message
    finally:
        browser.stop()


def test_a_browser_that_never_starts_fails_its_launch(tmp_path: Path) -> None:
    with pytest.raises(BrowserError, match="exit code: 127"):
        launch("/nonexistent/chromium", (), tmp_path / "profile")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: `make test` installs chromium as root")
        pytest.skip("headless Chromium not installed (apt-get install -y chromium)")
    browser = launch(CHROMIUM, FLAGS, tmp_path_factory.mktemp("chromium"))
    try:
        yield browser
    finally:
        browser.close()
    assert browser.process.returncode == 0  # it quit when asked


@pytest.mark.browser
def test_a_crashed_page_fails_its_call_and_the_browser_opens_the_next(
    chromium: Browser, tmp_path: Path
) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p id=out>here</p>")
    with (
        pytest.raises(BrowserError, match="renderer crashed"),
        chromium.page(page.as_uri()) as tab,
    ):
        tab.call("Page.crash")
    with chromium.page(page.as_uri()) as tab:
        assert tab.evaluate("document.getElementById('out').textContent") == "here"


@pytest.mark.browser
def test_a_page_that_never_answers_fails_the_poll_after_its_deadline(
    chromium: Browser, tmp_path: Path
) -> None:
    page = tmp_path / "silent.html"
    page.write_text("<pre id=out></pre>")
    with chromium.page(page.as_uri()) as tab:
        with pytest.raises(BrowserError, match=r"#out of silent\.html: still nothing after 1 s"):
            tab.poll("document.getElementById('out').textContent", "#out of silent.html", 1.0)
        assert tab.evaluate("1 + 1") == 2  # the page, and the browser, still answer
