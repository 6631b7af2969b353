"""HTTPS upgrades: does an `http://` link's `https://` form serve the same page?

Input: one batch's observations. Output: the same observations, with `suggested_url`
set to the https form where it was shown to serve the same content (same final page,
fingerprint or title — `catalog.hygiene.same_content`), or to the https address it
redirects permanently to where that serves it, and `https_found` saying what it
served instead where it was tried and did not. Only links that answered OK over
plain http with their page fetched are tried: an http link that redirects permanently to
https already carries that suggestion, and a HEAD-only check has nothing to compare, so
the https probe costs one extra fetch per link only when its fingerprint is due (weekly by
default), not every night. The extra requests go through the checker, so the host's
politeness applies; they are never stored as observations of their own.

`check_batch_with_upgrades` is the check step of a run: the batch, then its upgrades, in
one event loop (the run's shared loop, `catalog.check.loop`, when given).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from catalog.check import check_targets
from catalog.check.loop import SharedLoop
from catalog.health import not_the_page
from catalog.hygiene import same_content
from catalog.model import Batch, Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import canonical_url, host_of, https_upgrade_candidate


def candidates(observations: Sequence[Observation]) -> dict[str, str]:
    """http URL -> its https form, for the observations worth trying."""
    out = {}
    for obs in observations:
        https = https_upgrade_candidate(obs.url)
        fetched = obs.fingerprint is not None or obs.title is not None
        if https and fetched and obs.outcome is Outcome.OK and not obs.suggested_url:
            out[obs.url] = https
    return out


async def confirm_https_async(
    observations: Sequence[Observation], settings: CheckSettings, **check_kwargs: Any
) -> list[Observation]:
    wanted = candidates(observations)
    if not wanted:
        return list(observations)
    targets = [Target(url=https, host=host_of(https)) for https in wanted.values()]
    answers = await check_targets(targets, settings, **check_kwargs)
    by_https = {t.url: obs for t, obs in zip(targets, answers, strict=True)}
    return [
        _judged(obs, wanted[obs.url], by_https[wanted[obs.url]]) if obs.url in wanted else obs
        for obs in observations
    ]


def _judged(obs: Observation, https: str, https_obs: Observation) -> Observation:
    """`obs` with its https form's verdict: `suggested_url` when it serves the same page
    (where it redirects permanently to another https address that serves it, that
    address: the one browsers end at), else `https_found`, what it served instead (the
    report then offers no switch).

    No verdict from an answer that was not the page (`health.not_the_page`: a 503, a 429,
    a bot wall, a timeout, which the check of a link counts as failures that may pass):
    the probe is weekly, and "keep the http:// address" would stand for a week on a
    server's bad minute. A connection not taken is a verdict here (`Observation.
    unanswered`: refused, or timed out while connecting): port 443 refusing, or dropped by
    a firewall, the minute port 80 served the page is a site that does not serve https; a
    "no verdict" offered the switch, with its command, every week for ever."""
    if same_content(obs, https_obs):
        return replace(obs, suggested_url=https)
    if (end := _same_page_moved_to(obs, https_obs)) is not None:
        return replace(obs, suggested_url=end)
    if https_obs.held or https_obs.outcome is Outcome.NETWORK_UNAVAILABLE:
        return obs  # not asked (its host away, our network down): nothing found
    if not_the_page(https_obs) and not (
        https_obs.unanswered or https_obs.outcome is Outcome.CONNECTION_REFUSED
    ):
        return obs  # no answer about the page: nothing found
    return replace(obs, https_found=https_found(https_obs))


def _same_page_moved_to(obs: Observation, https_obs: Observation) -> str | None:
    """The https address an https form redirects permanently to, where that serves the
    http page itself (`same_content` of the page the redirect ended at): the same page,
    as "https://example.org/report" moved to "https://www.example.org/report" is.

    Served over https: every hop from that address to the page is https (one that sends
    https visitors back to http:// serves the page only there). And shown to be the page:
    at another path, by a fingerprint of some text, not of a title alone (every shell of
    a script-built site has one print, so a portal's app "served" any of its pages)."""
    if https_obs.outcome is not Outcome.REDIRECTED_PERMANENT:
        return None
    end = https_obs.suggested_url or https_obs.final_url
    if end is None or not _over_https_from(end, https_obs):
        return None
    if not (_same_path(obs, end) or https_obs.text_sample):
        return None
    ended = replace(https_obs, outcome=Outcome.OK, url=end, final_url=end)
    return end if same_content(obs, ended) else None


def _over_https_from(end: str, https_obs: Observation) -> bool:
    """Whether `end` and every address the journey went to after it are https."""
    hops = [hop.url for hop in https_obs.chain]
    if https_obs.final_url is not None:
        hops.append(https_obs.final_url)
    start = max((i for i, url in enumerate(hops) if url == end), default=0)
    return all(url.lower().startswith("https://") for url in [end, *hops[start:]])


def _same_path(obs: Observation, end: str) -> bool:
    """Whether `end` has the path and query of the http page (on any host: "www.")."""
    ends = urlsplit(canonical_url(end))
    return any(
        (parts.path.rstrip("/"), parts.query) == (ends.path.rstrip("/"), ends.query)
        for parts in (urlsplit(canonical_url(url)) for url in (obs.url, obs.final_url) if url)
    )


def https_found(https_obs: Observation) -> str:
    """What an https form that is not the http page served, in words: "another page
    ('Parked domain')", "a permanent redirect to https://example.org/", "no working page
    (Timed out)"."""
    if https_obs.outcome.is_ok:
        title = " ".join((https_obs.title or "").split())
        return f"another page ({title!r})" if title else "another page"
    if https_obs.outcome is Outcome.REDIRECTED_PERMANENT and https_obs.final_url:
        return f"a permanent redirect to {https_obs.final_url}"
    return f"no working page ({https_obs.outcome.label})"


def confirm_https(
    observations: Sequence[Observation], settings: CheckSettings, **check_kwargs: Any
) -> list[Observation]:
    """Synchronous wrapper for the check task's worker thread."""
    return asyncio.run(confirm_https_async(observations, settings, **check_kwargs))


async def check_batch_with_upgrades_async(
    batch: Batch,
    settings: CheckSettings,
    *,
    on_result: Callable[[Observation], None] | None = None,
    on_settled: Callable[[Observation], None] | None = None,
    **check_kwargs: Any,
) -> list[Observation]:
    """One batch's observations, with https suggestions when `settings.https_upgrades`.

    `on_result` hears each of the batch's own observations as it is made (live progress),
    not the https confirmations made after them; `on_settled`, the links held for their
    host's silence judged again (`check_targets`).
    """
    observations = await check_targets(
        batch.targets, settings, on_result=on_result, on_settled=on_settled, **check_kwargs
    )
    if not settings.https_upgrades:
        return observations
    return await confirm_https_async(observations, settings, **check_kwargs)


def check_batch_with_upgrades(
    batch: Batch,
    settings: CheckSettings,
    *,
    loop: SharedLoop | None = None,
    stopped: Callable[[], bool] | None = None,
    **check_kwargs: Any,
) -> list[Observation]:
    """`check_batch_with_upgrades_async` for a worker thread: on `loop`, shared with the
    run's other batches (`catalog.check.loop`), or else in an event loop of its own. On
    `loop`, never started once `stopped()` (`SharedLoop.run`'s `unless`)."""
    work = check_batch_with_upgrades_async(batch, settings, **check_kwargs)
    return loop.run(work, unless=stopped) if loop is not None else asyncio.run(work)
