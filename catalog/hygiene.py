"""Stage "hygiene": what a curator should tidy in catalog entries, beyond dead links.

Inputs:  the `Catalog` records the source stage read (any number of collections).
Outputs: `Finding`s, one per problem and resource, each with a code from `FINDING_CODES`, a
         `Level`, the file and line of the entry, a message, and the fix (with the exact
         `linkhealth` command when one exists). Pure: no database, no network.

`same_content` is the judge for the one check that needs the network (does the https form
of an http:// URL serve the same page?); the check run calls it on two `Observation`s.

Marking intent: an entry with `shared_url: true`, or `duplicate_of: <id>` naming another
entry with the same URL, is not reported as a duplicate URL (nor as a near-duplicate title
of the entry it names).
"""

from __future__ import annotations

import difflib
import re
import shlex
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from catalog.model import Catalog, Observation, Resource
from catalog.outcomes import Outcome
from catalog.urls import (
    CheckedUrl,
    canonical_url,
    https_upgrade_candidate,
    is_shortener,
    parse_url,
    tracking_params,
    without_tracking,
)

__all__ = [
    "FINDING_CODES",
    "NEAR_DUPLICATE_RATIO",
    "Finding",
    "Level",
    "at_or_above",
    "counts_by_level",
    "lint",
    "normalise_title",
    "same_content",
]

#: Titles at least this similar (difflib ratio of their normalised forms) are near-duplicates.
NEAR_DUPLICATE_RATIO = 0.9
#: Shorter normalised titles count as near-duplicates only when equal.
_FUZZY_MIN_LENGTH = 20


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.INFO: 0, Level.WARNING: 1, Level.ERROR: 2}

#: Every finding code with its level and meaning (for the README, reports and `--json` readers).
FINDING_CODES: dict[str, tuple[Level, str]] = {
    "duplicate_url": (
        Level.ERROR,
        "Two entries of one collection lead to the same page (after URL normalisation). "
        "Fix the wrong one, or mark the sharing as intended with `shared_url: true` or "
        "`duplicate_of: <id>`.",
    ),
    "bad_duplicate_of": (
        Level.WARNING,
        "`duplicate_of` names an id that is not an entry with the same URL.",
    ),
    "url_in_other_collection": (
        Level.INFO,
        "Another collection lists the same page; it is checked once and fixing one entry "
        "does not fix the other.",
    ),
    "near_duplicate_title": (
        Level.WARNING,
        "Two entries have almost the same title but different URLs; one may be a stale copy.",
    ),
    "http_url": (
        Level.WARNING,
        "The URL uses http://; the https form is safer when it serves the same page.",
    ),
    "tracking_params": (
        Level.WARNING,
        "The URL carries click-tracking parameters (utm_*, fbclid, ...); they can be removed.",
    ),
    "url_shortener": (
        Level.WARNING,
        "The URL goes through a link shortener; name the page it leads to instead.",
    ),
    "year_mismatch": (
        Level.WARNING,
        "The entry's year disagrees with the year its title names.",
    ),
    "missing_description": (Level.WARNING, "The entry has no description."),
    "missing_publisher": (Level.WARNING, "The entry names no publisher."),
    "missing_type": (Level.WARNING, "The entry has no type (guide, report, toolkit, ...)."),
    "missing_year": (Level.INFO, "The entry has no year."),
}


@dataclass(frozen=True)
class Finding:
    code: str
    level: Level
    #: Collection key (the catalog file's stem) and the curator's id of the resource.
    collection: str
    resource_id: str
    file: str
    line: int | None
    message: str
    #: What to do, in one sentence.
    fix: str
    #: The exact command that applies the fix, when one exists.
    command: str | None = None
    #: Ids of the other resources involved (duplicates), in the same collection or not.
    related: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.level}: {self.resource_id}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": str(self.level),
            "collection": self.collection,
            "resource_id": self.resource_id,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "command": self.command,
            "related": list(self.related),
        }


def lint(catalogs: Sequence[Catalog]) -> list[Finding]:
    """Every hygiene finding of `catalogs`, ordered by file, line and code."""
    ambiguous = _ids_in_several(catalogs)
    findings: list[Finding] = []
    for catalog in catalogs:
        for resource in catalog.resources:
            entry = _Entry(catalog, resource, resource.id in ambiguous)
            findings.extend(_fields(entry))
            findings.extend(_url(entry))
    findings.extend(_duplicate_urls(catalogs, ambiguous))
    findings.extend(_near_duplicate_titles(catalogs, ambiguous))
    return sorted(findings, key=lambda f: (f.file, f.line or 0, f.resource_id, f.code))


def at_or_above(findings: Iterable[Finding], level: Level) -> list[Finding]:
    return [f for f in findings if f.level.rank >= level.rank]


def counts_by_level(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(str(f.level) for f in findings)
    return {str(level): counts.get(str(level), 0) for level in Level}


def same_content(http_obs: Observation, https_obs: Observation) -> bool:
    """Did the https form answer with the page the http URL serves?

    Yes when both answered (the http one possibly by redirecting) and either the http URL
    ended on the https page itself, or both pages have the same content fingerprint, or,
    lacking fingerprints, the same title. Anything less is "not shown to be the same".
    """
    if not https_obs.outcome.is_ok:
        return False
    if not (http_obs.outcome.is_ok or http_obs.outcome is Outcome.REDIRECTED_PERMANENT):
        return False
    https_final = canonical_url(https_obs.final_url or https_obs.url)
    if http_obs.final_url and canonical_url(http_obs.final_url) in (
        https_final,
        canonical_url(https_obs.url),
    ):
        return True
    if http_obs.fingerprint and https_obs.fingerprint:
        return http_obs.fingerprint == https_obs.fingerprint
    if http_obs.title and https_obs.title:
        return normalise_title(http_obs.title) == normalise_title(https_obs.title) != ""
    return False


# --- one entry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    catalog: Catalog
    resource: Resource
    #: The id is used in several collections, so commands must name the catalog.
    ambiguous: bool

    def finding(
        self,
        code: str,
        message: str,
        fix: str,
        command: Sequence[str] | None = None,
        related: tuple[str, ...] = (),
    ) -> Finding:
        words = None
        if command is not None:
            words = ["linkhealth", command[0], self.resource.id, *command[1:]]
            if self.ambiguous:
                words += ["--catalog", str(self.catalog.path)]
        return Finding(
            code=code,
            level=FINDING_CODES[code][0],
            collection=self.catalog.key,
            resource_id=self.resource.id,
            file=str(self.catalog.path),
            line=self.resource.line,
            message=message,
            fix=fix,
            command=shlex.join(words) if words else None,
            related=related,
        )


def _fields(entry: _Entry) -> Iterable[Finding]:
    r = entry.resource
    for name in ("description", "publisher", "type"):
        value = getattr(r, name)
        if value is None or not str(value).strip():
            yield entry.finding(
                f"missing_{name}",
                f"no {name}",
                f"add a '{name}:' to the entry",
            )
    named = _years_in(r.title)
    if r.year is None:
        if len(named) == 1:
            yield entry.finding(
                "missing_year",
                f"no year, but the title names {named[0]}",
                f"add 'year: {named[0]}' if that is when it was published",
            )
        else:
            yield entry.finding("missing_year", "no year", "add a 'year:' if it is known")
    elif named and not _year_agrees(r.year, named):
        title_years = " and ".join(str(y) for y in named)
        yield entry.finding(
            "year_mismatch",
            f"year {r.year} but the title names {title_years}",
            "correct the 'year:' (or the title) so they agree",
        )


def _url(entry: _Entry) -> Iterable[Finding]:
    url = entry.resource.url
    upgrade = https_upgrade_candidate(url)
    if upgrade is not None:
        yield entry.finding(
            "http_url",
            f"the URL uses http:// ({url})",
            f"switch to {upgrade} if it serves the same page (the check run compares them)",
            ("replace-url", upgrade),
        )
    params = tracking_params(url)
    if params:
        clean = without_tracking(url)
        yield entry.finding(
            "tracking_params",
            f"the URL carries tracking parameters: {', '.join(params)}",
            f"use {clean}",
            ("replace-url", clean),
        )
    if is_shortener(url):
        yield entry.finding(
            "url_shortener",
            f"the URL is a link shortener ({url})",
            "replace it with the address it leads to (the check report shows where it ends)",
        )


# --- across entries ----------------------------------------------------------------------------


def _ids_in_several(catalogs: Sequence[Catalog]) -> frozenset[str]:
    seen: Counter[str] = Counter()
    for catalog in catalogs:
        seen.update({r.id for r in catalog.resources})
    return frozenset(rid for rid, n in seen.items() if n > 1)


def _intended(resource: Resource) -> bool:
    shared = resource.extra.get("shared_url")
    marked = shared is True or str(shared).lower() in ("true", "yes")
    return marked or _duplicate_of(resource) is not None


def _duplicate_of(resource: Resource) -> str | None:
    value = resource.extra.get("duplicate_of")
    return str(value).strip() if value not in (None, "") else None


def _duplicate_urls(catalogs: Sequence[Catalog], ambiguous: frozenset[str]) -> Iterable[Finding]:
    groups: dict[str, list[_Entry]] = defaultdict(list)
    for catalog in catalogs:
        for r in catalog.resources:
            if isinstance(parse_url(r.url), CheckedUrl):  # invalid URLs are the loader's business
                groups[canonical_url(r.url)].append(_Entry(catalog, r, r.id in ambiguous))
    for members in groups.values():
        by_collection: dict[str, list[_Entry]] = defaultdict(list)
        for m in members:
            by_collection[m.catalog.key].append(m)
        for key, same in by_collection.items():
            ids = {m.resource.id for m in same}
            for m in same:
                target = _duplicate_of(m.resource)
                if target is not None and target not in ids - {m.resource.id}:
                    yield m.finding(
                        "bad_duplicate_of",
                        f"duplicate_of names {target!r}, which is not an entry of this "
                        "collection with the same URL",
                        "name the id of the entry this one repeats, or remove 'duplicate_of'",
                    )
            unmarked = [m for m in same if not _intended(m.resource)]
            if len(same) > 1 and len(unmarked) > 1:
                first = min(same, key=lambda m: m.resource.line or 0).resource.id
                for m in unmarked:
                    others = tuple(o.resource.id for o in same if o is not m)
                    mark = (
                        f"add 'duplicate_of: {first}' to the others"
                        if m.resource.id == first
                        else f"add 'duplicate_of: {first}' to this entry"
                    )
                    yield m.finding(
                        "duplicate_url",
                        f"the same URL as {', '.join(others)}",
                        f"fix the URL of the wrong entry; if they really share the page, {mark} "
                        "(or 'shared_url: true')",
                        related=others,
                    )
            elsewhere = tuple(
                f"{m.catalog.key}/{m.resource.id}" for m in members if m.catalog.key != key
            )
            if elsewhere:
                for m in same:
                    yield m.finding(
                        "url_in_other_collection",
                        f"also listed as {', '.join(elsewhere)}",
                        "keep both entries in step when the URL changes",
                        related=elsewhere,
                    )


def _near_duplicate_titles(
    catalogs: Sequence[Catalog], ambiguous: frozenset[str]
) -> Iterable[Finding]:
    entries = [
        (_Entry(c, r, r.id in ambiguous), normalise_title(r.title))
        for c in catalogs
        for r in c.resources
    ]
    for i, (a, a_words) in enumerate(entries):
        for b, b_words in entries[i + 1 :]:
            ra, rb = a.resource, b.resource
            if not a_words or canonical_url(ra.url) == canonical_url(rb.url):
                continue  # same page: the URL findings cover it
            if _duplicate_of(ra) == rb.id or _duplicate_of(rb) == ra.id:
                continue
            if _digits(a_words) != _digits(b_words):
                continue  # "2017 report" and "2018 report" are different editions
            if a_words == b_words:
                pass
            elif min(len(a_words), len(b_words)) < _FUZZY_MIN_LENGTH:
                continue  # one letter apart in a short title ("Part A", "Part B") is too little
            matcher = difflib.SequenceMatcher(None, a_words, b_words, autojunk=False)
            if matcher.quick_ratio() < NEAR_DUPLICATE_RATIO:
                continue
            if matcher.ratio() < NEAR_DUPLICATE_RATIO:
                continue
            for this, other in ((a, b), (b, a)):
                label = _label(other, this)
                yield this.finding(
                    "near_duplicate_title",
                    f"title almost the same as {label} ({other.resource.title!r}), "
                    "with another URL",
                    f"check whether both are needed; if one is stale, remove it or give it "
                    f"'duplicate_of: {other.resource.id}'",
                    related=(label,),
                )


def _label(other: _Entry, this: _Entry) -> str:
    if other.catalog.key == this.catalog.key:
        return other.resource.id
    return f"{other.catalog.key}/{other.resource.id}"


# --- text helpers ------------------------------------------------------------------------------

_YEAR = re.compile(r"(?<![0-9])(19[0-9]{2}|20[0-9]{2})(?![0-9])")
_NOT_WORD = re.compile(r"[^\w]+")


def _years_in(title: str) -> list[int]:
    years: list[int] = []
    for match in _YEAR.finditer(title):
        year = int(match.group(1))
        if year not in years:
            years.append(year)
    return years


def _year_agrees(year: int, named: Sequence[int]) -> bool:
    """One named year must match; a span ("2006-2011") allows up to a year after its end."""
    if len(named) == 1:
        return year == named[0]
    return min(named) <= year <= max(named) + 1


def normalise_title(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a title (for matching titles)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def _digits(words: str) -> list[str]:
    return re.findall(r"[0-9]+", words)
