"""A soft-404 probe cut short by the deadline of the URL that sent it is not the host's
answer, over real sockets on 127.0.0.1 (the sites of tests/test_f3_probe_deadline.py).

A host answering the made-up address after the first URL's time ran out was "no probe
answer" for the whole run: every later URL of a catch-all site, fast ones too, was judged
without a probe and passed. The host's next URL now sends the probe again (3 tries a run
at most), one probe of a host in flight at a time; and a host whose every page leaves
too little time for a probe gets one that outlives its first URL, in that URL's slot.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from catalog.check import check_targets
from catalog.check.soft404 import PROBE_TRIES
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from tests.test_f3_probe_deadline import SETTINGS, SLACK, Request, checked, probe_site

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits

#: One URL of the host at a time: its requests never overlap, but for a probe's.
ONE_SLOT = replace(SETTINGS, per_host_concurrency=1)


def on_time(observations: list[Observation], settings: CheckSettings) -> None:
    """Each verdict came by its URL's deadline, give or take the slack."""
    for obs in observations:
        assert obs.elapsed_ms is not None
        assert obs.elapsed_ms < (settings.total_timeout + SLACK) * 1000, (obs.url, obs.elapsed_ms)


def one_at_a_time(requests: list[Request]) -> None:
    for one in requests:
        for other in requests:
            if one is not other and one.opened <= other.opened:
                overlap = min(one.closed, other.closed) - other.opened
                assert overlap < 0.1, (one, other)


def test_the_hosts_next_url_sends_the_cut_probe_with_its_own_time() -> None:
    # 4 s a URL, 3 s a request waits: the slow page leaves its probe 2.5 s, and the site
    # answers it in 2.75 s with its one page. That lateness was the site's "no answer" for
    # the run: all three passed. Now the fast page, with 4 s, sends it again and gets the
    # answer the others are judged by too.
    settings = replace(ONE_SLOT, total_timeout=4.0, read_timeout=3.0)
    urls = ["/page/slow-annual-report", "/page/toolkit", "/page/other"]
    with probe_site(1.5, "catchall", probe_delay=2.75) as site:
        observations, _ = checked([site.url(u) for u in urls], settings)
        probes = site.probes()
    outcomes = [o.outcome for o in observations]
    assert outcomes == [Outcome.OK, Outcome.SOFT_404, Outcome.SOFT_404], outcomes
    assert len(probes) == 2, probes
    assert probes[1].opened >= probes[0].opened + 2.3, "never two probes in flight"
    on_time(observations, settings)


def test_a_host_that_answers_each_probe_too_late_is_sent_a_few_and_no_more() -> None:
    # Every page leaves its probe 1 s, less than the 1.2 s a request waits: each probe is
    # cut short by its URL's deadline, the next URL tries again, up to PROBE_TRIES.
    settings = replace(ONE_SLOT, total_timeout=1.5, read_timeout=1.2)
    urls = [f"/page/slow-{n}.html" for n in range(PROBE_TRIES + 1)]
    with probe_site(0.5, "stall") as site:
        observations, _ = checked([site.url(u) for u in urls], settings)
        requests = list(site.requests)
        probes = site.probes()
    assert [o.outcome for o in observations] == [Outcome.OK] * len(urls)
    assert len(probes) == PROBE_TRIES, probes
    one_at_a_time(requests)  # in the host's one slot, one probe at a time
    on_time(observations, settings)


def test_a_stalled_probe_with_a_requests_whole_wait_stands_for_the_host() -> None:
    # 2.7 s left, more than the 2 s read_timeout: the host's stall is its answer, not
    # the sender's lateness, and is not asked again.
    urls = [f"/page/slow-{n}.html" for n in range(3)]
    with probe_site(0.3, "stall") as site:
        observations, _ = checked([site.url(u) for u in urls], ONE_SLOT)
        probes = site.probes()
    assert [o.outcome for o in observations] == [Outcome.OK] * 3
    assert len(probes) == 1, probes
    on_time(observations, ONE_SLOT)


def test_a_host_whose_pages_all_leave_too_little_time_is_probed_once_all_the_same() -> None:
    # Each page takes 2 s of 3, leaving 1 s, less than half the deadline: no URL of the
    # host ever sent the probe, and its catch-all pages all passed.
    urls = ["/page/slow-annual-report", "/page/slow-toolkit"]
    with probe_site(2.0, "catchall", probe_delay=0.3) as site:
        observations, _ = checked([site.url(u) for u in urls], ONE_SLOT)
        probes = site.probes()
    outcomes = [o.outcome for o in observations]
    assert outcomes == [Outcome.SOFT_404, Outcome.SOFT_404], outcomes
    assert len(probes) == 1
    on_time(observations, ONE_SLOT)


def test_a_probe_that_outlives_its_url_keeps_the_hosts_slot_until_it_ends() -> None:
    # The first page's probe gets read_timeout (2 s) of its own though the URL has 1 s
    # left: the URL's verdict is on time, and the host's next page is requested only once
    # the probe has ended, in the host's one slot. Its stall stands for the host.
    urls = ["/page/slow-a.html", "/page/slow-b.html"]
    with probe_site(2.0, "stall") as site:
        observations, _ = checked([site.url(u) for u in urls], ONE_SLOT)
        requests = list(site.requests)
        probes = site.probes()
    assert [o.outcome for o in observations] == [Outcome.OK] * 2
    assert len(probes) == 1, probes
    assert probes[0].closed - probes[0].opened > ONE_SLOT.read_timeout - 0.2, probes
    one_at_a_time(requests)
    on_time(observations, ONE_SLOT)


def test_a_hosts_last_url_sends_no_probe_that_would_outlive_it() -> None:
    # No URL of the host is left to judge by its answer: no request for nothing.
    with probe_site(2.0, "catchall", probe_delay=0.3) as site:
        (obs,), elapsed = checked([site.url("/page/slow-annual-report")], ONE_SLOT)
        probes = site.probes()
    assert obs.outcome is Outcome.OK
    assert probes == []
    assert elapsed < ONE_SLOT.total_timeout + SLACK, elapsed


def test_a_probe_that_outlives_its_url_keeps_its_global_slot_too() -> None:
    # One slot for the whole run: another host's URL (the same server as "localhost") is
    # requested only once the probe its host's first URL sent has ended.
    settings = replace(ONE_SLOT, concurrency=1)
    with probe_site(2.0, "stall") as site:
        other = site.url("/page/report.html").replace("127.0.0.1", "localhost")
        urls = [site.url("/page/slow-a.html"), site.url("/page/slow-b.html"), other]
        targets = [
            Target(url=u, host=urlsplit(u).hostname or "", resource_ids=(f"r{i}",))
            for i, u in enumerate(urls)
        ]
        observations = asyncio.run(check_targets(targets, settings))
        requests = list(site.requests)
        probes = site.probes()
    assert [o.outcome for o in observations] == [Outcome.OK] * 3
    assert len(probes) == 2, "one a host"
    one_at_a_time(requests)
    on_time(observations, settings)
