"""A check run whose last URLs are slow says what it is still waiting for.

Its progress lines ("1199/1200 URLs checked") came only when the count moved: while the
last slow URLs finished (a host in no hurry, long timeouts, a pause the host asked for)
`linkhealth check` said nothing for minutes, and an operator took it for hung. Now, once
nothing has moved for `QUIET_AFTER_S`, and every `QUIET_EVERY_S` after, it says how many
URLs it still waits for and of which hosts. Decided on a fake clock (`Quiet`) and by the
function that writes the line (`waiting_line`); the flow test's slow page waits for the
line itself, so no assertion depends on time.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from catalog.model import Batch, Target
from catalog.progress import Quiet, waiting_line
from tests.factories import make_observation, prefect_log
from tests.local_site import PAGES, handler_class


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_run_says_so_after_a_while_then_now_and_then() -> None:
    clock = FakeClock()
    quiet = Quiet(clock, after_s=30, every_s=60)
    said = []
    for _ in range(20):  # the flow looks every 10 s while no batch finishes
        clock.now += 10
        if (seconds := quiet.due()) is not None:
            said.append(round(seconds))
    assert said == [30, 90, 150]
    quiet.moved()  # a URL finished: quiet again from now
    clock.now += 10
    assert quiet.due() is None
    clock.now += 20
    assert quiet.due() == pytest.approx(30)


def test_the_line_names_the_url_and_host_or_counts_by_host() -> None:
    one = waiting_line([("https://slow.example/report.pdf", "slow.example")], 42.4)
    assert one == (
        "Still checking 1 URL, https://slow.example/report.pdf (host slow.example); "
        "none finished in the last 42 s"
    )
    same = [(f"https://slow.example/{i}", "slow.example") for i in range(3)]
    assert waiting_line(same, 60) == (
        "Still checking 3 URLs of slow.example; none finished in the last 60 s"
    )
    hosts = ["a.example"] * 4 + ["b.example"] * 3 + ["c.example"] * 2 + ["d.example", "e.example"]
    mixed = [(f"https://{h}/{i}", h) for i, h in enumerate(hosts)]
    assert waiting_line(mixed, 30) == (
        "Still checking 11 URLs of 5 hosts (a.example: 4, b.example: 3, c.example: 2, "
        "2 more hosts); none finished in the last 30 s"
    )
    assert waiting_line([], 30).startswith("Still finishing")


def test_the_urls_waited_for_are_those_of_the_batches_not_heard_yet() -> None:
    from flows.check_flow import _UNSTORED, _still_checking

    urls = ["https://a.example/1", "https://a.example/2", "https://b.example/1"]
    batch = Batch(7, tuple(Target(url=u, host=u.split("/")[2]) for u in urls))
    heard = _UNSTORED.start(-42, batch.index)
    try:
        heard.append(make_observation(url=urls[0]))
        assert _still_checking(-42, [batch]) == [
            ("https://a.example/2", "a.example"),
            ("https://b.example/1", "b.example"),
        ]
    finally:
        _UNSTORED.stored(-42, batch.index)


def quiet_run(
    cwd: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    urls: list[str],
    settings: dict[str, Any],
) -> list[str]:
    """The flow log's lines of `check_catalog` over a catalog of `urls` (local sites),
    progress every 0.05 s and a waiting line after 0.2 s quiet, every 0.2 s; `settings`
    over private addresses allowed and no soft-404 probe."""
    import catalog.progress
    import flows.check_flow
    from flows.check_flow import check_catalog

    catalog_file = cwd / "quiet.yaml"
    resources = [{"id": f"r{i}", "title": "Annual Report", "url": u} for i, u in enumerate(urls)]
    catalog_file.write_text(json.dumps({"resources": resources}))
    monkeypatch.setattr(flows.check_flow, "PROGRESS_EVERY_S", 0.05)
    monkeypatch.setattr(catalog.progress, "QUIET_AFTER_S", 0.2)
    monkeypatch.setattr(catalog.progress, "QUIET_EVERY_S", 0.2)
    overrides = {
        "database_url": database_url,
        "catalogs": [str(catalog_file)],
        "allow_private": True,
        "soft404_probe": False,
        **settings,
    }
    with prefect_log("prefect.flow_runs") as records:
        check_catalog(overrides=overrides, render=False)
    return [r.getMessage() for r in records]


def test_a_run_waiting_on_its_last_slow_url_says_which(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three pages answer at once, /slow only once the run has said it waits for it (or
    after 20 s, when the test fails): the run names it, where it said nothing."""
    from http.server import ThreadingHTTPServer

    # First imported, Prefect's flow machinery sets up its logging, which drops the handlers
    # of its loggers: `Heard` went with them and the line never released /slow (the test
    # run alone, or first of its worker's flow tests).
    import flows.check_flow  # noqa: F401

    told = threading.Event()

    class Heard(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("Still checking 1 URL"):
                told.set()

    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        if request.path == "/slow":
            told.wait(20)
        return PAGES["/report.html"]

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(answer))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [f"{base}{p}" for p in ["/p0", "/p1", "/p2", "/slow"]]
    heard = Heard()
    logging.getLogger("prefect.flow_runs").addHandler(heard)
    try:
        lines = quiet_run(
            isolated_cwd,
            migrated_db_url,
            monkeypatch,
            urls,
            {"total_timeout": 60.0, "read_timeout": 30.0},
        )
    finally:
        logging.getLogger("prefect.flow_runs").removeHandler(heard)
        server.shutdown()
        server.server_close()
    waiting = [line for line in lines if line.startswith("Still checking")]
    assert told.is_set(), lines
    # Once the slow URL is the last one out, the line names it. A slow hour may say "Still
    # checking 2 URLs of 127.0.0.1" first, while a fast page is still stored, or all 4
    # while none was heard yet: right too.
    one = [line for line in waiting if line.startswith("Still checking 1 URL")]
    assert one[0].startswith(f"Still checking 1 URL, {base}/slow (host 127.0.0.1); "), waiting
    before = waiting[: waiting.index(one[0])]
    assert all(re.match(r"Still checking [2-4] URLs of 127\.0\.0\.1; ", w) for w in before), waiting
