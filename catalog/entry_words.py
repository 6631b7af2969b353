"""What the report and `linkhealth resource ID` both say of an entry, worded once.

Stage: report wording (pure, no I/O). `reports.build` words the report's rows with these,
and `catalog.decisions.history_lines` the terminal's history (catalog never imports
reports): with two copies of a rule, `resource` told a web portal to "look for a newer
edition" while the report told it to open the site, and called an accepted redirect's new
address "never checked" while the report said the last check had reached it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from catalog.clock import as_utc

__all__ = [
    "EDITION_ADVICE",
    "SITE_ADVICE",
    "no_editions",
    "reached_at",
    "reached_words",
    "shown_stale",
]

#: The advice of a `dated` reason (`catalog.staleness`), and what it says instead for an
#: entry of a type that has no editions: "look for a newer edition" of DHS's Blue Campaign
#: portal asked for something that does not exist.
EDITION_ADVICE = (
    "look for a newer edition and link it, or, if this one is kept on purpose, mark the "
    "entry reviewed."
)
SITE_ADVICE = (
    "open the site and check that the entry still describes it (what it offers, who runs "
    "it), then mark the entry reviewed."
)
#: Words of an entry's `type` naming a site or service, not a publication with editions.
_NO_EDITION_WORDS = frozenset(
    {"website", "site", "portal", "hotline", "helpline", "database", "directory", "service"}
)


def no_editions(resource_type: Any) -> bool:
    """Whether an entry of this `type` is a site or service (no newer edition to link).
    A `type` that is no text (a list written by hand) names none."""
    if not isinstance(resource_type, str):
        return False
    return bool(_NO_EDITION_WORDS.intersection(re.findall(r"[a-z]+", resource_type.casefold())))


def shown_stale(reason: str, code: str | None, resource_type: Any) -> str:
    """A stored staleness reason as it is shown: a `dated` one of a site's entry with
    `SITE_ADVICE`. Reasons are stored by `catalog.staleness` whatever the entry's type, and
    the type may change without the reason being rewritten, so this is decided when shown."""
    if code == "dated" and no_editions(resource_type):
        return reason.replace(EDITION_ADVICE, SITE_ADVICE)
    return reason


def reached_at(url_edits: Iterable[Mapping[str, Any] | None]) -> datetime | None:
    """When the last check of an entry's old URL reached its present one as the redirect's
    target (200), given the details of the entry's `url_edited` events, oldest first: the
    last edit's `reached` (`catalog.sync`), None when it has none. It holds until the new
    link's first check; `catalog.queries.report_data` reads it for the report as this does."""
    at = None
    for details in url_edits:
        found = (details or {}).get("reached")
        at = as_utc(datetime.fromisoformat(str(found))) if found else None
    return at


def reached_words(on: str) -> str:
    """What an entry whose new address was `reached_at` `on` (a date, or a time) is, in
    place of "not checked yet": the night's check fetched that address."""
    return f"not checked at its new address yet; reached as the redirect target on {on}: OK (200)"
