"""HTTPS upgrades: does an `http://` link's `https://` form serve the same page?

Input: one batch's observations. Output: the same observations, with `suggested_url`
set to the https form where it was shown to serve the same content (same final page,
fingerprint or title — `catalog.hygiene.same_content`). Only links that answered OK over
plain http are tried: an http link that redirects permanently to https already carries
that suggestion. The extra requests go through the checker, so the host's politeness
applies; they are never stored as observations of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from catalog.check import check_targets
from catalog.hygiene import same_content
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of, https_upgrade_candidate


def candidates(observations: Sequence[Observation]) -> dict[str, str]:
    """http URL -> its https form, for the observations worth trying."""
    out = {}
    for obs in observations:
        https = https_upgrade_candidate(obs.url)
        if https and obs.outcome is Outcome.OK and not obs.suggested_url:
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
        replace(obs, suggested_url=wanted[obs.url])
        if obs.url in wanted and same_content(obs, by_https[wanted[obs.url]])
        else obs
        for obs in observations
    ]


def confirm_https(
    observations: Sequence[Observation], settings: CheckSettings, **check_kwargs: Any
) -> list[Observation]:
    """Synchronous wrapper for the check task's worker thread."""
    return asyncio.run(confirm_https_async(observations, settings, **check_kwargs))
