"""The checker against a real, misbehaving server on 127.0.0.1 (see `tests.fixture_web`).

Each test checks one URL with `check_targets` over real sockets and asserts the outcome plus
the evidence that makes it trustworthy: what reached the server, how long it took, what the
observation carries. Timeouts are small so the whole module runs in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from catalog.check import check_targets
from catalog.check.fetch import SLOW_BODY_BYTES
from catalog.health import LinkState, apply_observation
from catalog.model import Observation, Previous, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings
from catalog.urls import host_of
from tests.factories import RecordingSleep
from tests.fixture_web import (  # noqa: F401 - pytest fixtures
    BOMB_DECOMPRESSED_BYTES,
    ETAG,
    HUGE_BODY_BYTES,
    LAST_MODIFIED,
    FixtureWeb,
    fixture_web,
    fresh_web,
    gzip_bomb,
)
from tests.local_site import PAGES, Answer, Site, handler_class, serving
from tests.test_soft404 import HOTLINE_TEXT, UNAVAILABLE_TEXT, agency_page

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits

CONTACT = "links@fixture.example"
FAST = replace(
    CheckSettings(),
    allow_private=True,
    total_timeout=3.0,
    read_timeout=2.0,
    connect_timeout=1.0,
    backoff_initial=0.01,
    backoff_max=0.05,
    per_host_rate=200.0,
    contact=CONTACT,
)
#: Time a check may take beyond its deadline (event loop and teardown).
SLACK = 1.5
#: Deadlines for a check meant to end well within them (a fast file read whole): a loaded
#: machine must not turn the control of a slow-read test into a timeout.
GENEROUS = replace(FAST, total_timeout=30.0, read_timeout=10.0)
#: Deadlines for a read `/slow-file` must not finish (`SLOW_KBPS`, cut at the deadline and
#: judged on its first `SLOW_BODY_BYTES`): 9 s, and 3 s to connect, for its answer to begin
#: and those bytes to come however late a loaded machine runs the server and the client (3 s
#: was too little: the answer begun late, a connection retried, the server's ticks late; 6 s
#: once too, in CI's PostgreSQL pass: no answer had begun). 6 s for the answer to begin: on
#: a loaded machine one begun after 3 s was asked again ("after 1 retry (timeout)"), which
#: spent the time the first answer would have used.
SLOW_READ = replace(FAST, total_timeout=9.0, read_timeout=6.0, connect_timeout=3.0)
#: KiB/s of a slow file: its first `SLOW_BODY_BYTES` within 2 s, and short of the 2 MiB byte
#: cap by `SLOW_READ`'s deadline (1.3 MiB) however fast the machine: the cap is 4.5 s past it.
SLOW_KBPS = 150


def check(
    url: str,
    settings: CheckSettings = FAST,
    *,
    previous: Previous | None = None,
    fingerprint_due: bool = True,
    **kwargs: Any,
) -> Observation:
    target = Target(
        url=url,
        host=host_of(url),
        resource_ids=("res-1",),
        previous=previous,
        fingerprint_due=fingerprint_due,
    )
    observations = asyncio.run(check_targets([target], settings, **kwargs))
    assert len(observations) == 1
    return observations[0]


def timed_check(url: str, **kwargs: Any) -> tuple[Observation, float]:
    start = time.monotonic()
    obs = check(url, **kwargs)
    return obs, time.monotonic() - start


def read_slowly(
    web: FixtureWeb, kbps: int = SLOW_KBPS, previous: Previous | None = None
) -> tuple[Observation, float]:
    """`/slow-file` at `kbps` checked under `SLOW_READ`, which must judge it: (observation,
    seconds taken). When it does not, says when the server saw the request, to tell a
    machine that stalled from a checker that gave up on a file arriving."""
    start = time.monotonic()
    obs = check(web.url(f"/slow-file?kbps={kbps}"), SLOW_READ, previous=previous)
    elapsed = time.monotonic() - start
    seen = [f"+{t - start:.2f} s" for t in web.stats("/slow-file").arrivals if t >= start]
    assert obs.outcome is Outcome.OK, f"{obs.reason} (the server saw it at {seen or 'never'})"
    return obs, elapsed


def trusting(server: FixtureWeb) -> dict[str, Any]:
    """Checker arguments that trust the fixture CA, so its certificates' own faults show."""
    return {"transport": httpx.AsyncHTTPTransport(verify=server.certs.client_context())}


def wait_until(predicate: Any, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# --- pages that work ------------------------------------------------------------------------


def test_live_page_is_ok_with_its_title(web: FixtureWeb) -> None:
    obs = check(web.url("/ok"))
    assert obs.outcome is Outcome.OK
    assert obs.http_status == 200
    assert obs.title == "Survivor Support Toolkit"
    assert obs.fingerprint
    assert obs.content_type is not None and obs.content_type.startswith("text/html")


def test_user_agent_names_the_contact_address(web: FixtureWeb) -> None:
    check(web.url("/ok"))
    user_agent = web.stats("/ok").last_headers.get("user-agent", "")
    assert CONTACT in user_agent


def test_accept_language_is_sent_as_configured(web: FixtureWeb) -> None:
    check(web.url("/ok"))
    assert web.stats("/ok").last_headers.get("accept-language") == "en-US,en;q=0.9"
    check(web.url("/ok"), settings=replace(FAST, accept_language=""))
    assert "accept-language" not in web.stats("/ok").last_headers


def test_pdf_is_ok_with_its_content_type(web: FixtureWeb) -> None:
    obs = check(web.url("/pdf"))
    assert obs.outcome is Outcome.OK
    assert obs.content_type is not None and obs.content_type.startswith("application/pdf")
    assert obs.fingerprint


@pytest.mark.parametrize("path", ["/head-405", "/head-404"])
def test_head_refused_falls_back_to_get(web: FixtureWeb, path: str) -> None:
    obs = check(web.url(path), fingerprint_due=False)
    assert obs.outcome is Outcome.OK
    assert obs.methods == ("HEAD", "GET")
    assert web.stats(path).methods == ["HEAD", "GET"]


def test_unchanged_page_answers_304_without_a_body(web: FixtureWeb) -> None:
    first = check(web.url("/conditional"))
    assert first.etag == ETAG
    assert first.last_modified == LAST_MODIFIED
    web.reset()
    previous = Previous(
        etag=first.etag,
        last_modified=first.last_modified,
        fingerprint=first.fingerprint,
        fingerprinted_at=first.checked_at,
        content_length=first.content_length,
        title=first.title,
        outcome=first.outcome,
    )
    obs = check(web.url("/conditional"), previous=previous)
    assert obs.outcome is Outcome.OK
    assert obs.not_modified
    stats = web.stats("/conditional")
    assert stats.last_headers.get("if-none-match") == ETAG
    assert 304 in stats.statuses
    assert stats.body_bytes_sent == 0


def test_a_304_to_a_request_that_named_no_copy_is_no_unchanged_page(web: FixtureWeb) -> None:
    # HEAD's 304 passed as "unchanged since the last check" with no check before it, and
    # the observation carried the last fingerprint as if the server had vouched for it.
    previous = Previous(fingerprint="f-old", title="Old title", outcome=Outcome.OK)
    obs = check(web.url("/always-304"), previous=previous, fingerprint_due=False)
    assert obs.methods == ("HEAD", "GET"), "HEAD asks nothing conditionally: GET asks again"
    assert web.stats("/always-304").methods == ["HEAD", "GET"]
    assert "if-none-match" not in web.stats("/always-304").last_headers
    assert obs.outcome is Outcome.OK
    assert "unchanged" not in obs.reason and "named no copy" in obs.reason, obs.reason
    assert not obs.not_modified
    assert (obs.fingerprint, obs.title) == (None, None)


def test_page_differing_only_by_tokens_keeps_its_fingerprint(web: FixtureWeb) -> None:
    first = check(web.url("/dynamic"))
    second = check(web.url("/dynamic"))
    assert first.outcome is second.outcome is Outcome.OK
    assert first.fingerprint and first.fingerprint == second.fingerprint


def test_pages_of_one_host_never_exceed_its_concurrency(web: FixtureWeb) -> None:
    settings = replace(FAST, per_host_concurrency=2)
    targets = [
        Target(url=web.url(f"/slow/{i}"), host="127.0.0.1", resource_ids=(f"r{i}",))
        for i in range(6)
    ]
    observations = asyncio.run(check_targets(targets, settings))
    assert [o.outcome for o in observations] == [Outcome.OK] * 6
    assert 1 <= web.max_open_total <= 2


# --- retries --------------------------------------------------------------------------------


def test_one_503_is_retried_and_ends_ok(web: FixtureWeb) -> None:
    obs = check(web.url("/flaky-503-once"))
    assert obs.outcome is Outcome.OK
    assert obs.retries == 1
    assert web.stats("/flaky-503-once").statuses[:2] == [503, 200]


def test_503_retry_waits_for_retry_after(web: FixtureWeb) -> None:
    obs = check(web.url("/retry-after-503-once"))
    assert obs.outcome is Outcome.OK
    assert obs.retries == 1
    arrivals = web.stats("/retry-after-503-once").arrivals
    assert arrivals[1] - arrivals[0] >= 0.9


def test_persistent_429_is_rate_limited_after_retries(web: FixtureWeb) -> None:
    sleep = RecordingSleep()
    obs = check(web.url("/rate-limited"), sleep=sleep)
    assert obs.outcome is Outcome.RATE_LIMITED
    assert web.stats("/rate-limited").count == FAST.max_attempts
    assert obs.retries == FAST.max_attempts - 1
    assert any(wait >= 1.0 for wait in sleep.waits)


def test_persistent_500_is_an_http_error_after_retries(web: FixtureWeb) -> None:
    obs = check(web.url("/server-error"))
    assert obs.outcome is Outcome.HTTP_ERROR
    assert obs.http_status == 500
    assert obs.retries == FAST.max_attempts - 1


# --- errors ---------------------------------------------------------------------------------


def test_404_is_not_found(web: FixtureWeb) -> None:
    obs = check(web.url("/not-found"))
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.http_status == 404
    assert web.stats("/not-found").count == 1, "a 404 is final, never retried"


def test_410_is_gone(web: FixtureWeb) -> None:
    obs = check(web.url("/gone"))
    assert obs.outcome is Outcome.GONE
    assert obs.http_status == 410


# --- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/redirect-301", "/redirect-308"])
def test_permanent_redirect_suggests_new_url(web: FixtureWeb, path: str) -> None:
    obs = check(web.url(path))
    assert obs.outcome is Outcome.REDIRECTED_PERMANENT
    assert obs.suggested_url == web.url("/toolkit")
    assert obs.final_url == web.url("/toolkit")
    assert [hop.status for hop in obs.chain] == [int(path[-3:]), 200]


def test_temporary_redirect_is_ok_without_suggestion(web: FixtureWeb) -> None:
    obs = check(web.url("/redirect-302"))
    assert obs.outcome is Outcome.OK
    assert obs.suggested_url is None
    assert obs.final_url == web.url("/toolkit")


def test_chain_of_three_redirects_is_followed(web: FixtureWeb) -> None:
    obs = check(web.url("/redirects/3"))
    assert obs.outcome is Outcome.OK
    assert [hop.status for hop in obs.chain] == [302, 302, 302, 200]
    assert obs.final_url == web.url("/redirects/0?code=302")


def test_redirect_loop_is_detected(web: FixtureWeb) -> None:
    obs = check(web.url("/loop-a"))
    assert obs.outcome is Outcome.REDIRECT_LOOP
    assert web.stats("/loop-a").count <= 2 * FAST.max_attempts


def test_thirty_redirects_are_too_many(web: FixtureWeb) -> None:
    obs = check(web.url("/redirects/30"))
    assert obs.outcome is Outcome.TOO_MANY_REDIRECTS
    followed = [t for _, t in web.requests() if t.startswith("/redirects/")]
    assert len(followed) <= 2 * (FAST.max_redirects + 1), "stopped following near the limit"


def test_redirect_to_a_404_is_a_redirect_to_error(web: FixtureWeb) -> None:
    obs = check(web.url("/redirect-to-404"))
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR
    assert obs.http_status == 404
    assert obs.final_url == web.url("/not-found")


# --- soft 404s ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/deep-301/old-article", "/deep-302/old-article"])
def test_deep_link_sent_to_home_page_is_soft_404(web: FixtureWeb, path: str) -> None:
    obs = check(web.url(path))
    assert obs.outcome is Outcome.SOFT_404
    assert obs.final_url == web.url("/")
    assert obs.suggested_url != web.url("/"), "the home page is no replacement"


@pytest.mark.parametrize("path", ["/soft-404-title", "/soft-404-es"])
def test_200_page_titled_not_found_is_soft_404(web: FixtureWeb, path: str) -> None:
    obs = check(web.url(path))
    assert obs.outcome is Outcome.SOFT_404
    assert obs.http_status == 200


@pytest.mark.parametrize(
    "path", ["/soft-404-plain", "/soft-404-octet-stream", "/soft-404-utf16", "/soft-404-as-zip"]
)
def test_a_not_found_page_a_server_mislabels_is_soft_404(web: FixtureWeb, path: str) -> None:
    # Labelled text/plain, application/octet-stream or the missing file's application/zip,
    # or in UTF-16 without a byte-order mark or charset, the page was read as text or bytes
    # with no title: "OK". (A real zip stays a zip: tests/test_fx_binary_label.py.)
    obs = check(web.url(path))
    assert (obs.outcome, obs.title) == (Outcome.SOFT_404, "Page Not Found"), obs.reason


def test_section_answering_any_path_is_soft_404(web: FixtureWeb) -> None:
    obs = check(web.url("/catchall/annual-report-2019"))
    assert obs.outcome is Outcome.SOFT_404
    probes = [t for _, t in web.requests() if t.startswith("/catchall/") and "2019" not in t]
    assert probes, "a made-up sibling URL was requested"


def test_a_short_page_under_a_big_menu_on_a_site_answering_any_path_is_ok() -> None:
    """The site answers every address with 200 and its full frame (a 480-word menu); the
    hotline's page, 25 words of its own, was called a soft 404 ("92% alike")."""
    hotline = agency_page("Human Trafficking Hotline", "Human Trafficking Hotline", HOTLINE_TEXT)
    unavailable = agency_page(
        "Page Unavailable", "Page Unavailable", UNAVAILABLE_TEXT.format(path="that item")
    )

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        body = hotline if request.path == "/programs/trafficking-hotline" else unavailable
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body

    with serving(answer) as base:
        obs = check(base + "/programs/trafficking-hotline")
        missing = check(base + "/programs/trafficking-shelters")
    assert obs.outcome is Outcome.OK, obs.reason
    assert missing.outcome is Outcome.SOFT_404, missing.reason


# --- bot walls ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/status-999", 999),
        ("/cf-challenge", 403),
        ("/waf-challenge", 202),
        ("/login-required", 401),
    ],
)
def test_bot_wall_or_login_is_blocked(web: FixtureWeb, path: str, status: int) -> None:
    obs = check(web.url(path))
    assert obs.outcome is Outcome.BLOCKED
    assert obs.http_status == status


# --- servers that misbehave on the wire -------------------------------------------------------


def test_trickling_body_times_out_at_the_deadline(web: FixtureWeb) -> None:
    obs, elapsed = timed_check(web.url("/trickle"))
    assert obs.outcome is Outcome.TIMEOUT
    assert elapsed < FAST.total_timeout + SLACK
    assert wait_until(lambda: web.stats("/trickle").open_now == 0), "the client hung up"


def test_a_large_file_served_steadily_but_slowly_is_judged_on_its_first_bytes(
    web: FixtureWeb,
) -> None:
    """A 4 MiB PDF at a steady 100 or 150 KiB/s (a throttled server; browsers download it)
    does not end by the deadline: it was "timeout", its fingerprint never taken, so each
    night read it again and the third confirmed a working link broken. What came is judged."""
    slow, elapsed = read_slowly(web)
    assert slow.reason == (
        "GET 200; the answer came too slowly to be read whole in the time one URL has, so it "
        f"was judged on its first {SLOW_BODY_BYTES // 1024} KiB."
    )
    assert slow.bytes_read == SLOW_BODY_BYTES
    assert SLOW_READ.total_timeout <= elapsed < SLOW_READ.total_timeout + SLACK
    assert wait_until(lambda: web.stats("/slow-file").open_now == 0), "the client hung up"
    read_slowly(web, kbps=100)


def test_a_slow_night_is_judged_on_the_servers_word_for_the_file_not_its_first_bytes(
    web: FixtureWeb,
) -> None:
    """The same file read to the byte cap on a fast night and judged on its first bytes on
    a slow one hashed two ways: each night the server's speed crossed over said "content
    changed" for a file that had not. Its ETag decides, as a 304 would; a file read slowly
    from its first night takes those bytes as its baseline, with the validators."""
    fast = check(web.url("/slow-file?kbps=20000"), GENEROUS)  # to the byte cap
    assert fast.outcome is Outcome.OK and fast.bytes_read > SLOW_BODY_BYTES, fast.reason
    assert fast.fingerprint is not None and fast.etag == ETAG
    read = Previous(
        etag=fast.etag, fingerprint=fast.fingerprint, content_length=fast.content_length
    )
    slow, _ = read_slowly(web, previous=read)
    assert slow.bytes_read == SLOW_BODY_BYTES, slow.reason
    assert slow.fingerprint == fast.fingerprint
    state, _ = apply_observation(LinkState(), fast, HealthSettings(), now=fast.checked_at)
    state, changes = apply_observation(state, slow, HealthSettings(), now=slow.checked_at)
    assert state.fingerprint == fast.fingerprint and state.fingerprinted_at == slow.checked_at
    assert [c.kind for c in changes if c.kind == "content_changed"] == []

    replaced, _ = read_slowly(web, previous=replace(read, etag='"v0"'))
    assert replaced.fingerprint is None  # read again
    first, _ = read_slowly(web)
    assert first.fingerprint is not None and first.etag == ETAG, first.reason  # the baseline


def test_a_file_first_read_slowly_is_no_content_change_the_night_it_is_read_fast(
    web: FixtureWeb,
) -> None:
    """Its first night's fingerprint is of its first 256 KiB; the night it came fast and
    was read to the byte cap hashed more, and the link's history said "content changed"
    for a file that had not."""
    slow, _ = read_slowly(web)
    assert slow.bytes_read == SLOW_BODY_BYTES, slow.reason
    read = Previous(
        etag=slow.etag, fingerprint=slow.fingerprint, content_length=slow.content_length
    )
    fast = check(web.url("/slow-file?kbps=20000"), GENEROUS, previous=read)
    assert fast.outcome is Outcome.OK and fast.bytes_read > SLOW_BODY_BYTES, fast.reason
    assert fast.fingerprint_extends == slow.fingerprint
    state, _ = apply_observation(LinkState(), slow, HealthSettings(), now=slow.checked_at)
    state, changes = apply_observation(state, fast, HealthSettings(), now=fast.checked_at)
    assert state.fingerprint == fast.fingerprint and state.fingerprinted_at == fast.checked_at
    assert state.fingerprint_since == slow.checked_at
    assert [c.kind for c in changes if c.kind == "content_changed"] == []


def test_a_file_too_slow_to_give_enough_by_the_deadline_is_a_timeout(web: FixtureWeb) -> None:
    # 40 KiB/s for 3 s is under `SLOW_BODY_BYTES`: too little to judge the file by.
    obs = check(web.url("/slow-file?kbps=40"))
    assert obs.outcome is Outcome.TIMEOUT, obs.reason
    assert obs.fingerprint is None


def test_a_404_whose_page_trickles_is_not_found_before_the_deadline(web: FixtureWeb) -> None:
    # Its page is only sniffed for a bot wall; a byte a second never let the read timeout
    # fire, and the link "timed out" at the deadline: a slow site, not a missing page.
    obs, elapsed = timed_check(web.url("/trickle-404"))
    assert obs.outcome is Outcome.NOT_FOUND, obs.reason
    assert obs.http_status == 404
    assert elapsed < FAST.total_timeout
    assert wait_until(lambda: web.stats("/trickle-404").open_now == 0), "the client hung up"


def test_trickling_headers_time_out_at_the_deadline(web: FixtureWeb) -> None:
    obs, elapsed = timed_check(web.url("/trickle-headers"))
    assert obs.outcome is Outcome.TIMEOUT
    assert elapsed < FAST.total_timeout + SLACK


def test_server_that_never_answers_times_out(web: FixtureWeb) -> None:
    obs, elapsed = timed_check(web.url("/never-answers"))
    assert obs.outcome is Outcome.TIMEOUT
    assert elapsed < FAST.total_timeout + SLACK
    assert web.stats("/never-answers").count >= 1
    assert "not sent" not in obs.reason, "the request was sent; only the answer never came"


def test_a_slow_first_byte_is_not_called_a_broken_answer(web: FixtureWeb) -> None:
    """A server that takes the request and says nothing for longer than `read_timeout`:
    the reason said it "stopped sending data before the answer was complete", as if it
    had broken off an answer it never began."""
    settings = replace(FAST, read_timeout=0.3, max_attempts=1)
    obs = check(web.url("/never-answers"), settings, fingerprint_due=False)
    assert obs.outcome is Outcome.TIMEOUT
    assert obs.reason == (
        "HEAD no answer, GET no answer: the server took the request but did not begin to "
        "answer in time."
    )


def test_a_page_that_stops_part_way_is_said_to_have_stopped(web: FixtureWeb) -> None:
    """Headers and part of the page, then silence: the read timeout ends it, and the reason
    says the answer broke off (the protocol fix for llhttp's refusals took this case too,
    and said "did not answer in time", as of a server that never began)."""
    settings = replace(FAST, read_timeout=0.3, max_attempts=1)
    obs = check(web.url("/stall-body"), settings)
    assert obs.outcome is Outcome.TIMEOUT
    assert obs.reason.endswith(
        "GET 200: the server stopped sending data before the answer was complete."
    ), obs.reason


def test_a_page_that_stops_part_way_is_cut_at_the_read_timeout_not_the_answer_wait(
    web: FixtureWeb,
) -> None:
    # A GET waits for its answer to begin as long as the deadline allows; once it began,
    # its body may go quiet for `read_timeout` only, as before.
    settings = replace(FAST, read_timeout=0.3, max_attempts=1)
    obs, elapsed = timed_check(web.url("/stall-body"), settings=settings)
    assert obs.outcome is Outcome.TIMEOUT
    assert obs.reason.endswith("the server stopped sending data before the answer was complete.")
    assert elapsed < FAST.total_timeout / 2


def check_both(urls: list[str], settings: CheckSettings) -> list[Observation]:
    targets = [Target(url=u, host=host_of(u), resource_ids=(f"r{n}",)) for n, u in enumerate(urls)]
    return asyncio.run(check_targets(targets, settings))


def test_a_pause_the_host_asked_for_is_not_spent_from_a_links_deadline(web: FixtureWeb) -> None:
    """A sibling's 503 with Retry-After 2 (renewed by its retry) holds the host while the
    link is between redirects: twice 1.8 s of waiting that were the host's, not the
    link's, which is otherwise done in 1.5 s. Its 3 s deadline ran out in the second."""
    settings = replace(FAST, per_host_concurrency=2)
    busy, link = check_both([web.url("/slow-retry-after"), web.url("/slow-hops/2")], settings)
    assert busy.http_status == 503
    assert link.outcome is Outcome.OK, link.reason
    assert link.chain[-1].status == 200 and len(link.chain) == 3
    assert link.elapsed_ms is not None and link.elapsed_ms > FAST.total_timeout * 1000


def test_a_deadline_that_runs_out_in_the_hosts_pause_is_rate_limited(web: FixtureWeb) -> None:
    # Retry-After 3 from the sibling, a deadline of 1.5 s and as much grace: the link
    # waits out the pause until its deadline, at 3 s, which is the host's doing.
    settings = replace(FAST, per_host_concurrency=2, total_timeout=1.5)
    _busy, link = check_both([web.url("/slow-retry-after?s=3"), web.url("/slow-hops/2")], settings)
    assert link.outcome is Outcome.RATE_LIMITED, link.reason
    assert link.reason == (
        "GET 302; the site asked us to pause our requests to it for 3 s "
        "(Retry-After), longer than the check can wait for one link."
    )
    assert link.elapsed_ms is not None and link.elapsed_ms < 2 * 1500 + SLACK * 1000


@pytest.mark.parametrize(
    "path",
    [
        "/reset-connection",
        "/reset-mid-body",
        "/truncated-body",
        "/reset-before-page-end",
        "/reset-after-pdf",
        "/reset-after-script-string",
    ],
)
def test_dropped_connection_is_connection_reset(web: FixtureWeb, path: str) -> None:
    obs = check(web.url(path))
    assert obs.outcome is Outcome.CONNECTION_RESET
    assert web.stats(path).count == FAST.max_attempts, "a reset is transient, so retried"


@pytest.mark.parametrize(
    "path", ["/reset-after-page", "/closed-after-page", "/bad-chunk-after-page"]
)
def test_an_answer_broken_off_after_a_whole_page_is_the_page(web: FixtureWeb, path: str) -> None:
    # Browsers show the page behind a server whose chunked encoding breaks after it, or a
    # proxy that closes early: it was "connection reset", retried, and confirmed broken.
    obs, elapsed = timed_check(web.url(path))
    assert (obs.outcome, obs.title) == (Outcome.OK, "Survivor Support Toolkit"), obs.reason
    assert "broke its answer off after the whole page" in obs.reason
    assert obs.fingerprint == check(web.url("/ok")).fingerprint, "the broken chunk is no part"
    assert web.stats(path).count == 1, "an answer, not retried"
    assert elapsed < FAST.read_timeout


@pytest.mark.parametrize("read_timeout", [FAST.read_timeout, 10.0])
@pytest.mark.parametrize("path", ["/stall-after-page", "/stall-after-page-length"])
def test_an_answer_never_ended_after_a_whole_page_is_the_page(
    web: FixtureWeb, path: str, read_timeout: float
) -> None:
    # The last chunk never comes, or the length announced is 2 bytes too long, and the
    # connection stays open: browsers show the page. It was "timeout", retried, and
    # confirmed broken. Judged when the read timeout fires, or the deadline if sooner.
    obs, elapsed = timed_check(web.url(path), settings=replace(FAST, read_timeout=read_timeout))
    assert (obs.outcome, obs.title) == (Outcome.OK, "Survivor Support Toolkit"), obs.reason
    assert obs.reason == (
        "GET 200; the server never ended its answer after the whole page had come "
        "(browsers show it)."
    )
    assert obs.fingerprint == check(web.url("/ok")).fingerprint
    assert web.stats(path).count == 1, "an answer, not retried"
    assert elapsed < FAST.total_timeout + SLACK


def test_a_page_stalled_part_way_is_a_timeout_at_the_deadline_too(web: FixtureWeb) -> None:
    # Part of a page and silence past the deadline: nothing to judge it by.
    obs = check(web.url("/stall-body"), replace(FAST, read_timeout=10.0))
    assert obs.outcome is Outcome.TIMEOUT, obs.reason


def test_huge_body_is_cut_off_at_the_cap(web: FixtureWeb) -> None:
    obs, elapsed = timed_check(web.url("/huge"))
    assert obs.outcome is Outcome.OK
    assert obs.bytes_read <= FAST.max_body_bytes
    assert obs.fingerprint
    assert elapsed < FAST.total_timeout
    assert wait_until(lambda: web.stats("/huge").open_now == 0)
    assert web.stats("/huge").body_bytes_sent < HUGE_BODY_BYTES / 5


def bomb_checked(url: str) -> tuple[Observation, float, int]:
    """`timed_check` of a gzip bomb's URL, and the peak of memory Python allocated meanwhile."""
    gzip_bomb()  # built once, before measuring
    tracemalloc.start()
    try:
        obs, elapsed = timed_check(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return obs, elapsed, peak


def test_gzip_bomb_is_not_inflated_in_memory(web: FixtureWeb) -> None:
    obs, elapsed, peak = bomb_checked(web.url("/gzip-bomb"))
    assert obs.outcome is Outcome.OK
    assert obs.bytes_read <= FAST.max_body_bytes
    assert elapsed < FAST.total_timeout
    assert peak < BOMB_DECOMPRESSED_BYTES / 2, "inflating the whole bomb needs 50 MB at once"


def test_a_page_gzipped_twice_is_read_as_browsers_read_it(web: FixtureWeb) -> None:
    # With one layer undone, the page was gzip bytes: no title, no soft-404 judgement.
    obs = check(web.url("/gzip-twice"))
    assert (obs.outcome, obs.title) == (Outcome.OK, "Survivor Support Toolkit"), obs.reason


def test_a_gzip_bomb_gzipped_again_is_not_inflated_in_memory(web: FixtureWeb) -> None:
    obs, elapsed, peak = bomb_checked(web.url("/gzip-bomb-twice"))
    assert (obs.outcome, obs.title) == (Outcome.OK, "Bomb"), obs.reason
    assert obs.bytes_read <= FAST.max_body_bytes
    assert elapsed < FAST.total_timeout
    assert peak < BOMB_DECOMPRESSED_BYTES / 2


@pytest.mark.parametrize(
    "path",
    [
        "/length-twice",
        "/length-list",
        "/length-in-characters",
        "/chunked-and-length",
        "/huge-cookie",
    ],
)
def test_an_answer_browsers_read_is_no_broken_link(web: FixtureWeb, path: str) -> None:
    """llhttp refuses these framings; browsers, curl and h11 read them, and so must we."""
    obs = check(web.url(path))
    assert obs.outcome is Outcome.OK, obs.reason
    assert obs.http_status == 200 and obs.title
    assert obs.retries == 0
    # The GET and its one re-read; HEAD is not sent when a fingerprint is due.
    assert web.stats(path).count == 2


@pytest.mark.parametrize(
    ("path", "flaw"),
    [
        ("/lengths-disagree", "two Content-Length headers that disagree"),
        ("/negative-length", "a Content-Length that cannot be read"),
        # h11 waits for a head that never ends: the re-read timed out, or the server hung
        # up, and that was the reason ("timeout", "connection reset"), retried.
        ("/ssh-banner", "a first line that is not an HTTP status line"),
        ("/http-0.9", "a first line that is not an HTTP status line"),
    ],
)
def test_an_answer_no_parser_reads_is_one_plain_sentence(
    web: FixtureWeb, path: str, flaw: str
) -> None:
    obs = check(web.url(path))
    assert obs.outcome is Outcome.CONNECTION_ERROR
    assert obs.reason == f"GET no answer: the server sent a malformed HTTP answer ({flaw})."
    assert web.stats(path).count == 2, "one re-read, never retried"


def test_a_chunk_malformed_in_a_later_read_is_a_malformed_answer_at_once(
    web: FixtureWeb,
) -> None:
    # llhttp refused the second chunk after the page had come: aiohttp failed the
    # connection but not the body, which waited for the deadline ("timeout", a slow site).
    obs, elapsed = timed_check(web.url("/bad-chunk-later"))
    assert obs.outcome is Outcome.CONNECTION_ERROR, obs.reason
    assert obs.reason == (
        "GET 200: the server sent a malformed HTTP answer (a chunked body whose framing is broken)."
    )
    assert elapsed < FAST.read_timeout
    assert web.stats("/bad-chunk-later").count == 1, "never retried"


def test_an_answer_nobody_asked_for_is_no_later_links_answer(web: FixtureWeb) -> None:
    # The stray 404 came on the idle kept-alive connection and was queued there: the next
    # request on it took it for its own (a working link "not found"), and every later one
    # got the answer of the request before it.
    settings = replace(FAST, per_host_concurrency=1, per_host_rate=2.0)
    urls = [web.url("/stray-answer-after"), web.url("/toolkit"), web.url("/pdf")]
    first, page, pdf = check_both(urls, settings)
    assert first.outcome is Outcome.OK, first.reason
    assert (page.outcome, page.http_status, page.title) == (Outcome.OK, 200, first.title)
    assert (pdf.outcome, pdf.content_type) == (Outcome.OK, "application/pdf"), pdf.reason


def test_an_answer_reread_goes_to_the_address_that_was_checked(web: FixtureWeb) -> None:
    # The re-read by httpx's own transport opens a connection of its own: it must take
    # the checked address as aiohttp's did, not ask DNS again (127.0.0.2, nobody there).
    dns = ChangingDns("127.0.0.1", "127.0.0.2")
    settings = replace(FAST, allow_private=False, private_allowlist=("127.0.0.1",))
    obs = check(web.url("/length-twice", host="rebinding.test"), settings, resolver=dns)
    assert obs.outcome is Outcome.OK, obs.reason
    assert web.stats("/length-twice").count == 2
    assert dns.asked == ["rebinding.test"]


# --- connections that fail ------------------------------------------------------------------


def test_closed_port_is_connection_refused(web: FixtureWeb) -> None:
    obs = check(web.closed_url())
    assert obs.outcome is Outcome.CONNECTION_REFUSED


@pytest.mark.parametrize("allow_private", [True, False])
def test_unresolvable_host_is_dns_error(allow_private: bool) -> None:
    obs = check("http://nothing.invalid/", replace(FAST, allow_private=allow_private))
    assert obs.outcome is Outcome.DNS_ERROR


def test_self_signed_certificate_is_tls_error(web: FixtureWeb) -> None:
    obs = check(web.url("/ok", tls="self_signed"))
    assert obs.outcome is Outcome.TLS_ERROR
    reason = obs.reason.lower()
    assert "self-signed" in reason or "trust" in reason
    assert web.total_requests == 0


def test_expired_certificate_is_tls_error_naming_expiry(web: FixtureWeb) -> None:
    obs = check(web.url("/ok", tls="expired"), **trusting(web))
    assert obs.outcome is Outcome.TLS_ERROR
    assert "expired" in obs.reason.lower()


def test_certificate_for_another_host_is_tls_error(web: FixtureWeb) -> None:
    obs = check(web.url("/ok", tls="wrong_host"), **trusting(web))
    assert obs.outcome is Outcome.TLS_ERROR
    assert "host" in obs.reason.lower()


def test_valid_certificate_from_trusted_authority_is_ok(web: FixtureWeb) -> None:
    obs = check(web.url("/ok", tls="valid"), **trusting(web))
    assert obs.outcome is Outcome.OK
    assert web.stats("/ok").count >= 1


class ChangingDns:
    """A DNS server that answers `first` once and `later` ever after (DNS rebinding)."""

    def __init__(self, first: str, later: str) -> None:
        self.answers = [first, later]
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answers[min(len(self.asked), 2) - 1]]


def test_a_host_is_connected_to_at_the_address_that_was_checked(web: FixtureWeb) -> None:
    # The check sees 127.0.0.1 (allowed here); a second lookup would get 127.0.0.2, which
    # is not. The connection must go to the checked address: the run looks the name up
    # once, and the connection reads that answer instead of asking DNS again (which,
    # for this made-up name, would fail).
    dns = ChangingDns("127.0.0.1", "127.0.0.2")
    settings = replace(FAST, allow_private=False, private_allowlist=("127.0.0.1",))
    obs = check(web.url("/ok", host="rebinding.test"), settings, resolver=dns)
    assert obs.outcome is Outcome.OK, obs.reason
    assert web.stats("/ok").count >= 1
    assert dns.asked == ["rebinding.test"]


def test_connections_use_the_runs_resolver_even_without_the_address_check(
    web: FixtureWeb,
) -> None:
    dns = ChangingDns("127.0.0.1", "127.0.0.2")
    targets = [
        Target(
            url=web.url(f"/ok?n={n}", host="pinned.test"),
            host="pinned.test",
            resource_ids=(f"r{n}",),
        )
        for n in range(3)
    ]
    observations = asyncio.run(check_targets(targets, FAST, resolver=dns))
    assert [o.outcome for o in observations] == [Outcome.OK] * 3
    assert dns.asked == ["pinned.test"]


def test_an_emoji_domain_is_requested_over_the_wire(web: FixtureWeb) -> None:
    """Through the run's own transport (a pool per host, named by httpx's decoded host,
    which raised for an emoji) with the Host header in punycode, as browsers send it."""
    dns = ChangingDns("127.0.0.1", "127.0.0.1")
    obs = check(web.url("/echo-headers", host="xn--i-7iq.ws"), resolver=dns)
    assert obs.outcome is Outcome.OK, obs.reason
    assert web.stats("/echo-headers").last_headers["host"] == f"xn--i-7iq.ws:{web.port}"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_address_is_never_requested(web: FixtureWeb, host: str) -> None:
    obs = check(web.url("/ok", host=host), replace(FAST, allow_private=False))
    assert obs.outcome is Outcome.PRIVATE_ADDRESS
    assert web.total_requests == 0


# --- a slow night: a server that answers late, but within the URL's deadline ------------------

#: `FAST` near the ratios of the defaults (a 45 s deadline, 15 s a HEAD waits): a URL has
#: 4 s, a HEAD waits 1 s for its answer (a second more than 3:1, for a loaded machine).
SLOW_NIGHT = replace(FAST, read_timeout=1.0, total_timeout=4.0)


class Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client left before the late answer: what these tests are about


@contextlib.contextmanager
def late_site(head_delay: float | None, get_delay: float) -> Iterator[Site]:
    """/report.html on 127.0.0.1, whose server answers HEAD after `head_delay` s (None:
    not before the test ends) and GET after `get_delay` s; `hits` counts its requests."""
    site = Site(base="")
    gone = threading.Event()

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        if request.path != "/report.html":
            return PAGES["/missing"]  # the soft-404 probe's
        site.hits[request.command] += 1
        delay = head_delay if request.command == "HEAD" else get_delay
        gone.wait(SLOW_NIGHT.total_timeout * 3 if delay is None else delay)
        return PAGES["/report.html"]

    server = Quiet(("127.0.0.1", 0), handler_class(answer))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        gone.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("fingerprint_due", [False, True])
def test_a_page_that_answers_late_but_within_the_deadline_is_judged_on_its_answer(
    fingerprint_due: bool,
) -> None:
    """The r2 night: a page took 18 s to answer (a person waits for it), well within the
    URL's 45 s. The HEAD's 15 s ran out, the GET sent after it had 15 s too, and its retry
    ran into the deadline: "timeout", news of a break, "recovered" the next night, and
    `--strict` failed the run. A HEAD that got no answer sends the GET with the rest of
    the URL's time; a GET alone waits for its answer as long as the deadline allows."""
    with late_site(head_delay=1.2, get_delay=1.2) as site:
        obs, elapsed = timed_check(
            site.url("/report.html"), settings=SLOW_NIGHT, fingerprint_due=fingerprint_due
        )
    assert (obs.outcome, obs.title) == (Outcome.OK, "Annual Report"), obs.reason
    assert obs.retries == 0
    assert site.hits["GET"] == 1
    assert elapsed < SLOW_NIGHT.total_timeout


def test_a_server_that_never_answers_a_head_still_gets_its_get_in_time() -> None:
    # Servers that hang on HEAD exist: the HEAD waits `read_timeout` for its answer, not the
    # whole deadline, so that the GET is asked.
    with late_site(head_delay=None, get_delay=0.0) as site:
        obs, elapsed = timed_check(
            site.url("/report.html"), settings=SLOW_NIGHT, fingerprint_due=False
        )
    assert (obs.outcome, obs.title) == (Outcome.OK, "Annual Report"), obs.reason
    assert elapsed < SLOW_NIGHT.read_timeout + SLACK


@pytest.mark.parametrize("fingerprint_due", [False, True])
def test_a_server_that_never_answers_is_a_timeout_no_later_and_with_fewer_requests(
    fingerprint_due: bool,
) -> None:
    """Waiting for an answer as long as the deadline allows takes no longer than before
    (one GET where the GET and two retries each waited `read_timeout` until the deadline),
    and no request is sent that could only end at the deadline. The reason says what
    happened: the server took the request and never began to answer."""
    with late_site(head_delay=None, get_delay=SLOW_NIGHT.total_timeout * 3) as site:
        obs, elapsed = timed_check(
            site.url("/report.html"), settings=SLOW_NIGHT, fingerprint_due=fingerprint_due
        )
        hits = dict(site.hits)
    assert obs.outcome is Outcome.TIMEOUT, obs.reason
    assert obs.reason.endswith(
        "GET no answer: the server took the request but did not begin to answer in time."
    ), obs.reason
    assert elapsed < SLOW_NIGHT.total_timeout + SLACK
    assert hits == ({"GET": 1} if fingerprint_due else {"HEAD": 1, "GET": 1})
