"""Stage "hygiene": what a curator should tidy in catalog entries, beyond dead links.

Inputs:  the `Catalog` records the source stage read (any number of collections).
Outputs: `Finding`s, one per problem and resource, each with a code from `FINDING_CODES`, a
         `Level`, the file and line (of the field the finding is about, else of the entry),
         a message, and the fix (with the exact `linkhealth` command when one exists).
         Duplicates are a pair's problem, reported once, at the later entry of the pair
         (where its `duplicate_of` would go), naming the earlier.
         No database, no network; a YAML file is read again only to find field lines.

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
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from itertools import combinations, groupby
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from catalog.clock import AHEAD_OF_UTC, latest_date, utcnow
from catalog.commands import CommandOptions, command_words, with_options
from catalog.model import Catalog, Observation, Resource
from catalog.outcomes import Outcome
from catalog.progress import still_working
from catalog.source import field_lines
from catalog.staleness import REVIEW_FIELDS, review_date
from catalog.text import counted, invisible_characters, strip_accents
from catalog.urls import (
    CheckedUrl,
    browser_encoded,
    canonical_url,
    https_upgrade_candidate,
    is_shortener,
    loose_url_key,
    parse_url,
    plain_address,
    same_place_partners,
    tracking_params,
    unencoded_characters,
    without_tracking,
)

__all__ = [
    "FINDING_CODES",
    "NEAR_DUPLICATE_RATIO",
    "Finding",
    "FindingKind",
    "Level",
    "at_or_above",
    "counts_by_level",
    "finding_label",
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


class FindingKind(NamedTuple):
    level: Level
    #: The kind's plain name, for curators (the report sums findings up by kind): the code
    #: is for machines and searches.
    label: str
    meaning: str


#: Every finding code with its level, label and meaning (for the README, reports and
#: `--json` readers).
FINDING_CODES: dict[str, FindingKind] = {
    "duplicate_url": FindingKind(
        Level.ERROR,
        "Same page in two entries",
        "Two entries of one collection lead to the same page (after URL normalisation; "
        "two sections of it, `#texas` and `#ohio`, are two places). Fix the wrong one, or "
        "mark the sharing as intended with `shared_url: true` or `duplicate_of: <id>`.",
    ),
    "likely_duplicate_url": FindingKind(
        Level.WARNING,
        "Probably the same page in two entries",
        "Two entries of one collection differ only in http:// and https://, a leading `www.` "
        "or a trailing `/`: most sites serve one page at both. Keep one entry, or mark the "
        "pair as meant with `shared_url: true`.",
    ),
    "bad_duplicate_of": FindingKind(
        Level.WARNING,
        "duplicate_of names the wrong entry",
        "`duplicate_of` names an id that is not an entry with the same URL.",
    ),
    "url_in_other_collection": FindingKind(
        Level.INFO,
        "Also listed in another collection",
        "Another collection lists the same page; it is checked once and fixing one entry "
        "does not fix the other.",
    ),
    "near_duplicate_title": FindingKind(
        Level.WARNING,
        "Similar titles",
        "Two entries have almost the same title but different URLs; one may be a stale copy. "
        "Editions in other languages are not flagged once each entry's `languages` names its "
        "own (`[en]`, `[es]`).",
    ),
    "http_url": FindingKind(
        Level.WARNING,
        "Plain http:// address",
        "The URL uses http://; the https form is safer when it serves the same page.",
    ),
    "tracking_params": FindingKind(
        Level.WARNING,
        "Tracking parameters in the address",
        "The URL carries click-tracking parameters (utm_*, fbclid, ...); they can be removed.",
    ),
    "url_shortener": FindingKind(
        Level.WARNING,
        "Link shortener",
        "The URL goes through a link shortener; name the page it leads to instead.",
    ),
    "invisible_in_url": FindingKind(
        Level.ERROR,
        "Invisible character in the address",
        "The URL holds a character that shows as nothing (a zero-width space, a soft hyphen), "
        "pasted with it: the address fetched is not the one the curator sees.",
    ),
    "unplain_url": FindingKind(
        Level.WARNING,
        "Backslash or user name in the address",
        'The URL holds a backslash before its query, which browsers read as "/" (the check '
        "too, but for one within the path, which it sends as %5C), or a user name (and "
        "password) before its host, which browsers send only to a site that asks for a login "
        "and the check never sends. Write the address without them: it is not plainly what "
        "it seems (a user name can pass for the host).",
    ),
    "unencoded_in_url": FindingKind(
        Level.WARNING,
        "Space or symbol not encoded in the address",
        "The URL holds a space (or a double quote, angle or curly brackets, a caret, a "
        "vertical bar, a backtick) as it is. The check sends it percent-encoded, as browsers "
        "send a space (%20), so the link works, but the address breaks where it is pasted "
        "as text (an e-mail cuts it at the space): write it encoded.",
    ),
    "year_mismatch": FindingKind(
        Level.WARNING,
        "Year differs from the title",
        "The entry's year disagrees with the year its title names. A fiscal year's report "
        "comes out once the year has ended, and its budget request, plan or solicitation "
        "before it begins: a title naming one (`FY 2015`, `FY15`, `SFY 2015`, `Fiscal Year "
        "2015`) allows the year before and the year after it too, as a span (`2006-2011`) "
        "allows a year after its end.",
    ),
    "comma_in_list": FindingKind(
        Level.WARNING,
        "List written as one item",
        "An item of `tags` or `languages` holds a comma: `tags: training, hotline` is one "
        "tag, 'training, hotline'. Write the items as a list, `[training, hotline]`.",
    ),
    "missing_description": FindingKind(
        Level.WARNING, "No description", "The entry has no description."
    ),
    "missing_publisher": FindingKind(
        Level.WARNING, "No publisher", "The entry names no publisher."
    ),
    "missing_type": FindingKind(
        Level.WARNING, "No type", "The entry has no type (guide, report, toolkit, ...)."
    ),
    "missing_year": FindingKind(Level.INFO, "No year", "The entry has no year."),
    "bad_reviewed_at": FindingKind(
        Level.WARNING,
        "Unreadable or future review date",
        "The entry's `reviewed_at` is not a date, or lies in the future for everyone (after "
        "today in the earliest time zone, UTC+14: a curator's today is never flagged, "
        "wherever the report is built): staleness ignores a date it cannot read, and trusts "
        "a future one until it comes.",
    ),
}


@dataclass(frozen=True)
class Finding:
    code: str
    level: Level
    #: Collection key (the catalog file's stem) and the curator's id of the resource.
    collection: str
    resource_id: str
    file: str
    #: Where the curator's editor should jump: the line of `field` when the finding is
    #: about one field and the file says where it is, else the entry's first line.
    line: int | None
    message: str
    #: What to do, in one sentence.
    fix: str
    #: The exact command that applies the fix, when one exists.
    command: str | None = None
    #: Ids of the other resources involved (duplicates), in the same collection or not.
    related: tuple[str, ...] = ()
    #: The entry's field the finding is about (`url`, `year`, ...); None for the whole entry.
    field: str | None = None
    #: The entry's URL as the file writes it, for a finding about its `url` (the report
    #: matches it to the link a check followed); not in `to_dict`: the message names it.
    url: str | None = None

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
            "field": self.field,
        }


def lint(
    catalogs: Sequence[Catalog],
    *,
    now: datetime | None = None,
    options: CommandOptions | None = None,
    shared_ids: Collection[str] = (),
) -> list[Finding]:
    """Every hygiene finding of `catalogs`, ordered by file, line and code. `options`: what
    the findings' commands must carry to act on these files and the database meant;
    `shared_ids`: ids that database holds in several collections (`catalog lint FILE`
    sees one of them), whose commands must name the collection too."""
    moment = now if now is not None else utcnow()
    today = latest_date(moment)  # the curator's today, wherever the curator is
    ambiguous = _ids_in_several(catalogs) | frozenset(shared_ids)
    findings: list[Finding] = []
    links: dict[str, tuple[bool, str]] = {}
    https_forms: list[tuple[_Entry, str, str]] = []
    entries = sum(len(c.resources) for c in catalogs)
    # 20,000 entries take 2 to 3 s, after the 1 to 4 s of reading them.
    with still_working("Linting catalog entries", entries) as working:
        working.done = 0
        for catalog in catalogs:
            for resource in catalog.resources:
                entry = _Entry(catalog, resource, resource.id in ambiguous)
                findings.extend(_fields(entry))
                findings.extend(_review(entry, moment, today))
                findings.extend(_url(entry, https_forms))
                _add_link(links, resource.url)  # right after `_url`: the URL is parsed already
                working.done += 1
        working.what, working.done = "Looking for duplicate URLs and titles", None
        findings.extend(_http_urls(https_forms, catalogs, links))
        findings.extend(_duplicate_urls(catalogs, ambiguous, links))
        findings.extend(_likely_duplicate_urls(catalogs, ambiguous, links))
        findings.extend(_near_duplicate_titles(catalogs, ambiguous, links))
        working.what = "Finding the lines of the findings in the catalog files"
        _on_field_lines(findings)
    if options is not None:
        findings = [
            replace(f, command=with_options(f.command, f.resource_id, options.for_file(f.file)))
            if f.command
            else f
            for f in findings
        ]
    return sorted(findings, key=lambda f: (f.file, f.line or 0, f.resource_id, f.code))


def finding_label(code: str) -> str:
    """The plain name of a finding code's kind, for curators; a code it does not know
    shows as itself (a report is not failed over a label)."""
    kind = FINDING_CODES.get(code)
    return kind.label if kind is not None else code


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

    @property
    def in_csv(self) -> bool:
        """Is the entry a row of a CSV catalog (cells and columns, not YAML keys)?"""
        return self.catalog.path.suffix.lower() == ".csv"

    def finding(
        self,
        code: str,
        message: str,
        fix: str,
        command: Sequence[str] | None = None,
        related: tuple[str, ...] = (),
        field: str | None = None,
    ) -> Finding:
        words = None
        if command is not None:
            choose = ["--collection", self.catalog.key] if self.ambiguous else []
            # --collection as the curator commands ask (README: Curator decisions)
            words = command_words(command[0], self.resource.id, *command[1:], *choose)
        return Finding(
            code=code,
            level=FINDING_CODES[code].level,
            collection=self.catalog.key,
            resource_id=self.resource.id,
            file=str(self.catalog.path),
            line=self.resource.line,
            message=message,
            fix=fix,
            command=shlex.join(words) if words else None,
            related=related,
            field=field,
            url=self.resource.url if field == "url" else None,
        )


def _on_field_lines(findings: list[Finding]) -> None:
    """Move the findings about one field to the line of its key, in place.

    Loading keeps only each entry's line (memory, at 100,000 entries), so each file with
    such findings is read again, once, beside the findings sorted by entry line. A field
    the file does not show (a CSV row, a key from a `<<` merge, an entry changed since
    loading) keeps the entry's line.
    """
    about = sorted(
        (f.file, f.line, i)
        for i, f in enumerate(findings)
        if f.field is not None and f.line is not None
    )
    for file, group in groupby(about, key=itemgetter(0)):
        waiting = [(line, i) for _, line, i in group]
        at = 0
        for entry in field_lines(file):
            while at < len(waiting) and waiting[at][0] < entry.line:
                at += 1
            if at == len(waiting):
                break
            same = at  # entries in a [ list ] share a line: `at` stays for the next one
            while same < len(waiting) and waiting[same][0] == entry.line:
                f = findings[waiting[same][1]]
                if f.resource_id == entry.id and f.field in entry.lines:
                    findings[waiting[same][1]] = replace(f, line=entry.lines[f.field])
                same += 1


def _fields(entry: _Entry) -> Iterable[Finding]:
    r = entry.resource
    for name in ("tags", "languages"):
        joined = [item for item in getattr(r, name) if "," in item]
        if joined:
            items = [part.strip() for part in joined[0].split(",") if part.strip()]
            yield entry.finding(
                "comma_in_list",
                f"{name} item {joined[0]!r} is one item, not {len(items)}",
                f"separate them with ';' in the cell: '{'; '.join(items)}'"
                if entry.in_csv
                else f"write them as a list: '{name}: [{', '.join(items)}]'",
                field=name,
            )
    for name in ("description", "publisher", "type"):
        value = getattr(r, name)
        if value is None or not str(value).strip():
            # Written empty (`description:`), the key is where to fill it in: a second
            # `description:` added to the entry makes the catalog refuse to load.
            written = value is not None or name in r.written_empty
            yield entry.finding(
                f"missing_{name}",
                f"no {name}",
                _csv_fill_in(name, written)
                if entry.in_csv
                else f"fill in the entry's empty '{name}:'"
                if written
                else f"add a '{name}:' to the entry",
                field=name if written else None,
            )
    named, fiscal = _years_in(r.title)
    if r.year is None:
        written = "year" in r.written_empty
        if len(named) == 1:
            yield entry.finding(
                "missing_year",
                f"no year, but the title names {named[0]}",
                (
                    _csv_fill_in("year", written, named[0])
                    if entry.in_csv
                    else f"fill in the entry's empty 'year:' with {named[0]}"
                    if written
                    else f"add 'year: {named[0]}'"
                )
                + " if that is when it was published",
                field="year" if written else None,
            )
        else:
            yield entry.finding(
                "missing_year",
                "no year",
                (
                    _csv_fill_in("year", written)
                    if entry.in_csv
                    else "fill in the entry's empty 'year:'"
                    if written
                    else "add a 'year:'"
                )
                + " if it is known",
                field="year" if written else None,
            )
    elif named and not _year_agrees(r.year, named, fiscal):
        title_years = " and ".join(str(y) for y in named)
        yield entry.finding(
            "year_mismatch",
            f"year {r.year} but the title names {title_years}",
            "correct the row's 'year' cell (or the title) so they agree"
            if entry.in_csv
            else "correct the 'year:' (or the title) so they agree",
            field="year",
        )


def _csv_cell(entry: _Entry, name: str, value: str) -> str:
    """Where a CSV row takes a mark (`duplicate_of`, `shared_url`): "'a' in the row's
    'duplicate_of' cell", or, in a file without that column, in the cell of a new one."""
    if _has_column(entry, name):
        return f"'{value}' in the row's '{name}' cell"
    return f"'{value}' in the row's cell of a new '{name}' column"


def _has_column(entry: _Entry, name: str) -> bool:
    """Whether the entry's CSV file has a `name` column (an empty cell included)."""
    r = entry.resource
    return name in r.extra or name in r.written_empty or bool(getattr(r, name, None))


def _csv_fill_in(name: str, written: bool, value: int | None = None) -> str:
    """A CSV row's missing field, to fill in: its empty cell, or the column the file lacks
    (no `description:` key there to write, nor an entry to add one to)."""
    if written:
        cell = f"fill in the row's empty '{name}' cell"
        return cell if value is None else f"{cell} with {value}"
    cell = "fill in the row's cell" if value is None else f"write {value} in the row's cell"
    return f"add a '{name}' column to the file, and {cell}"


def _review(entry: _Entry, now: datetime, today: date) -> Iterable[Finding]:
    """A review date that is no date, or lies ahead for every curator: a plain date after
    `today` (`clock.latest_date`), a time of day after `now` by the moment it names
    ("2026-12-05T08:00+10:00" is over once UTC's clock passes 22:00 on the 4th), or, one
    without a zone, after `now` in every zone."""
    for name in REVIEW_FIELDS:
        value = entry.resource.extra.get(name)
        if value is None or value == "":
            continue
        moment = review_date(value)
        timed = isinstance(value, datetime) or (isinstance(value, str) and len(value.strip()) > 10)
        earliest = moment
        if moment is not None and timed and not _names_zone(value):
            earliest = moment - AHEAD_OF_UTC  # the earliest it may name (`review_date`: UTC)
        if moment is None or earliest is None:
            problem = f"{name} {str(value)!r} is not a date"
        elif earliest > now if timed else moment.date() > today:
            problem = f"{name} {moment.date().isoformat()} lies in the future"
        else:
            continue
        yield entry.finding(
            "bad_reviewed_at",
            problem,
            "write the date of the last review as YYYY-MM-DD, or record one today",
            command=["mark-reviewed"],
            field=name,
        )


def _names_zone(value: object) -> bool:
    """Whether a review time as written names its zone ("2026-12-05T08:00+10:00")."""
    if isinstance(value, datetime):
        return value.tzinfo is not None
    try:
        return datetime.fromisoformat(str(value).strip()).tzinfo is not None
    except ValueError:
        return False


def _url(entry: _Entry, https_forms: list[tuple[_Entry, str, str]]) -> Iterable[Finding]:
    """The findings about the form of the entry's URL, each fix building on the ones before
    it (none puts back what another takes out). Its https form, if any, goes to
    `https_forms`: whether another entry already has it is known once all are read."""
    url = entry.resource.url
    hidden = invisible_characters(url, controls=False)  # controls: the loader's business
    if hidden:
        clean = "".join(c for c in url if c not in hidden)
        codes = ", ".join(f"U+{ord(c):04X}" for c in hidden)
        yield entry.finding(
            "invisible_in_url",
            f"the URL holds {counted(len(hidden), 'invisible character')} ({codes})",
            f"use {clean}",
            ("replace-url", clean),
            field="url",
        )
        url = clean  # the other fixes must not put the character back
    plain = plain_address(url)
    if plain != url and isinstance(parse_url(url), CheckedUrl):
        yield entry.finding(
            "unplain_url",
            f"the URL holds {_unplain_words(url, plain)}",
            f"use {plain}",
            ("replace-url", plain),
            field="url",
        )
        url = plain
    unencoded = unencoded_characters(url)
    if unencoded and isinstance(parse_url(url), CheckedUrl):
        encoded = browser_encoded(url)
        yield entry.finding(
            "unencoded_in_url",
            f"the URL holds {_unencoded_words(url, unencoded)} as written (sent "
            "percent-encoded, a space as %20)",
            f"use {encoded} (or, if text after a space is no part of the address, remove it)",
            ("replace-url", encoded),
            field="url",
        )
        url = encoded
    params = tracking_params(url)
    if params:
        clean = without_tracking(url)
        yield entry.finding(
            "tracking_params",
            f"the URL carries tracking parameters: {', '.join(params)}",
            f"use {clean}",
            ("replace-url", clean),
            field="url",
        )
        url = clean  # the https form leaves them out too: two fixes must not undo each other
    upgrade = https_upgrade_candidate(url)
    if upgrade is not None:
        https_forms.append((entry, url, upgrade))  # `_http_urls`, once every URL is known
    if is_shortener(url):
        yield entry.finding(
            "url_shortener",
            f"the URL is a link shortener ({url})",
            "replace it with the address it leads to (the check report shows where it ends)",
            field="url",
        )


def _http_urls(
    https_forms: Sequence[tuple[_Entry, str, str]],
    catalogs: Sequence[Catalog],
    links: dict[str, tuple[bool, str]],
) -> Iterable[Finding]:
    """`http_url` for each (entry, its URL as `_url` left it, that URL's https form).

    Where another entry of the collection already has the https form, switching would make
    the two a `duplicate_url` error: the finding names that entry and offers no command
    (the pair is `likely_duplicate_url`'s: keep one). Not where either entry is marked as
    meant (`shared_url: true`), which no `duplicate_url` reports."""
    if not https_forms:
        return
    wanted = {(e.catalog.key, canonical_url(upgrade)) for e, _, upgrade in https_forms}
    taken: dict[tuple[str, str], str] = {}
    for catalog in catalogs:
        for r in catalog.resources:
            valid, key = links[r.url]
            if valid and (catalog.key, key) in wanted and not _intended(r):
                taken.setdefault((catalog.key, key), r.id)
    for entry, url, upgrade in https_forms:
        other = taken.get((entry.catalog.key, canonical_url(upgrade)))
        if other is None or other == entry.resource.id or _intended(entry.resource):
            yield entry.finding(
                "http_url",
                f"the URL uses http:// ({url})",
                f"switch to {upgrade} if it serves the same page (the check run compares them)",
                ("replace-url", upgrade),
                field="url",
            )
        else:
            yield entry.finding(
                "http_url",
                f"the URL uses http:// ({url})",
                f"its https form, {upgrade}, is already {other}'s URL: keep one of the two "
                "entries rather than switch this one to it (that would make the two a "
                "duplicate_url)",
                related=(other,),
                field="url",
            )


def _unplain_words(url: str, plain: str) -> str:
    """What `plain_address` took out of `url`, in words (a slash is as long as a
    backslash: only the user information makes the address shorter)."""
    words = []
    if "\\" in re.split("[?#]", url, maxsplit=1)[0]:
        words.append("a backslash, which browsers read as '/'")
    if len(plain) < len(url):
        words.append(
            "a user name or password before the host, which browsers send only to a site that "
            "asks for a login (the check never sends it)"
        )
    return " and ".join(words)


def _unencoded_words(url: str, unencoded: str) -> str:
    """E.g. "3 spaces and '|'"."""
    words = []
    if " " in unencoded:
        words.append(counted(url.count(" "), "space"))
    words += [repr(ch) for ch in unencoded if ch != " "]
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


# --- across entries ----------------------------------------------------------------------------


def _ids_in_several(catalogs: Sequence[Catalog]) -> frozenset[str]:
    seen: Counter[str] = Counter()
    for catalog in catalogs:
        seen.update({r.id for r in catalog.resources})
    return frozenset(rid for rid, n in seen.items() if n > 1)


def _earlier_unmarked(
    resources: Sequence[Resource], partners: Sequence[Sequence[int]]
) -> list[list[int]]:
    """For each of `resources` (in file order), the positions of its `partners` listed
    before it, where neither of the two is marked as intended; none for a marked one.

    A pair is reported once, at its later entry: where its `duplicate_of` goes (as
    `catalog validate` reports a repeated id at the repeat). Reported at both, a pair
    counted twice and gave its one fix twice.
    """
    marked = [_intended(r) for r in resources]
    return [
        [] if marked[n] else [j for j in place if j < n and not marked[j]]
        for n, place in enumerate(partners)
    ]


def _intended(resource: Resource) -> bool:
    shared = resource.extra.get("shared_url")
    marked = shared is True or str(shared).lower() in ("true", "yes")
    return marked or _duplicate_of(resource) is not None


def _duplicate_of(resource: Resource) -> str | None:
    value = resource.extra.get("duplicate_of")
    return str(value).strip() if value not in (None, "") else None


def _add_link(links: dict[str, tuple[bool, str]], url: str) -> None:
    """Record `url`'s (valid?, `canonical_url`) once: parsing is most of lint's time."""
    if url not in links:
        parsed = parse_url(url)
        valid = isinstance(parsed, CheckedUrl)
        if isinstance(url, str) and url == url.strip():
            key = parsed.canonical if isinstance(parsed, CheckedUrl) else url
        else:
            key = canonical_url(url)
        links[url] = (valid, key)


def _duplicate_urls(
    catalogs: Sequence[Catalog], ambiguous: frozenset[str], links: dict[str, tuple[bool, str]]
) -> Iterable[Finding]:
    groups: dict[str, list[_Entry]] = defaultdict(list)
    for catalog in catalogs:
        for r in catalog.resources:
            valid, key = links[r.url]
            if valid:  # invalid URLs are the loader's business
                groups[key].append(_Entry(catalog, r, r.id in ambiguous))
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
                        field="duplicate_of",
                    )
            places = same_place_partners([m.resource.url for m in same])
            earliers = _earlier_unmarked([m.resource for m in same], places)
            for m, earlier in zip(same, earliers, strict=True):
                if not earlier:
                    continue
                others = tuple(same[j].resource.id for j in earlier)
                first = others[0]
                yield m.finding(
                    "duplicate_url",
                    f"the same URL as {', '.join(others)}, listed before",
                    (
                        "fix the URL of the wrong row; if they really share the page, write "
                        f"{_csv_cell(m, 'duplicate_of', first)} (or "
                        f"{_csv_cell(m, 'shared_url', 'true')})"
                    )
                    if m.in_csv
                    else "fix the URL of the wrong entry; if they really share the page, add "
                    f"'duplicate_of: {first}' to this entry (or 'shared_url: true')",
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


def _likely_duplicate_urls(
    catalogs: Sequence[Catalog], ambiguous: frozenset[str], links: dict[str, tuple[bool, str]]
) -> Iterable[Finding]:
    """Entries of one collection whose URLs `canonical_url` keeps apart (a server may
    answer differently) but that differ only in the scheme or a trailing `/`. Each is
    fetched and judged on its own, so nothing else says so (`http_url` names the entry
    that already has its https form; `near_duplicate_title` leaves such a pair to this)."""
    groups: dict[tuple[str, str], list[tuple[_Entry, str]]] = defaultdict(list)
    for catalog in catalogs:
        for r in catalog.resources:
            valid, key = links[r.url]
            loose = loose_url_key(key) if valid else None
            if loose is not None:
                groups[catalog.key, loose].append((_Entry(catalog, r, r.id in ambiguous), key))
    for members in groups.values():
        if len({key for _, key in members}) < 2:
            continue  # one URL (a `duplicate_url`, if anything)
        places = same_place_partners([m.resource.url for m, _ in members])
        other_urls = [
            [j for j in place if members[j][1] != key]
            for place, (_, key) in zip(places, members, strict=True)
        ]
        earliers = _earlier_unmarked([m.resource for m, _ in members], other_urls)
        for (m, key), earlier in zip(members, earliers, strict=True):
            if not earlier:
                continue
            partners = [members[j] for j in earlier]
            ids = tuple(o.resource.id for o, _ in partners)
            by_how: dict[str, list[str]] = defaultdict(list)
            for o, other in partners:  # each pair's own differences, not the group's
                by_how[how_urls_differ(key, other)].append(o.resource.id)
            keep = (
                "the https one"
                if any(urlsplit(key).scheme != urlsplit(other).scheme for _, other in partners)
                else "the one the other redirects to"
            )
            yield m.finding(
                "likely_duplicate_url",
                _likely_duplicate_message(by_how),
                f"keep one row ({keep}); if the site serves two pages, write "
                f"{_csv_cell(m, 'shared_url', 'true')}"
                if m.in_csv
                else f"keep one entry ({keep}); if the site serves two pages, add "
                "'shared_url: true' to one of them",
                related=ids,
            )


def _likely_duplicate_message(by_how: Mapping[str, Sequence[str]]) -> str:
    """The message: "probably the same page as b: the URLs differ only in a trailing '/'"; for
    partners that differ from this entry in different ways, each way with its ids."""
    if len(by_how) == 1:
        ((how, ids),) = by_how.items()
        return f"probably the same page as {', '.join(ids)}: the URLs differ only in {how}"
    each = [f"{', '.join(ids)} (the URLs differ only in {how})" for how, ids in by_how.items()]
    return f"probably the same page as {' and as '.join(each)}"


def how_urls_differ(a: str, b: str) -> str:
    """How two canonical URLs of one `loose_url_key` differ ("http:// and https://, a
    leading 'www.' and a trailing '/'"), for lint and import; "" for the same URL."""
    one, other = urlsplit(a), urlsplit(b)
    ways = [
        way
        for way, differs in (
            ("http:// and https://", one.scheme != other.scheme),
            ("a leading 'www.'", one.netloc != other.netloc),
            ("a trailing '/'", one.path != other.path),
        )
        if differs
    ]
    return " and ".join([", ".join(ways[:-1]), ways[-1]] if ways[1:] else ways)


def _near_duplicate_titles(
    catalogs: Sequence[Catalog], ambiguous: frozenset[str], links: dict[str, tuple[bool, str]]
) -> Iterable[Finding]:
    """Pairs of entries whose titles are equal or `_similar`, in entry order.

    Comparing every pair is quadratic (a 100,000-entry catalog never finished), so only
    candidate pairs are compared: equal normalised titles, and fuzzy candidates from
    `_fuzzy_candidates`. Findings come in the order the pairwise scan produced them.
    """
    entries = [
        (_Entry(c, r, r.id in ambiguous), normalise_title(r.title))
        for c in catalogs
        for r in c.resources
    ]
    keys = [links[e.resource.url][1] for e, _ in entries]
    same_title: dict[str, list[int]] = defaultdict(list)
    for i, (_, words) in enumerate(entries):
        if words:
            same_title[words].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in same_title.values():
        for n, i in enumerate(members):
            pairs.update((i, j) for j in members[n + 1 :] if keys[i] != keys[j])
    titles = [words for _, words in entries]
    for i, j in _fuzzy_candidates(titles):
        if keys[i] != keys[j] and titles[i] != titles[j] and _similar(titles[i], titles[j]):
            pairs.add((i, j))
    for i, j in sorted(pairs):
        a, b = entries[i][0], entries[j][0]
        if _duplicate_of(a.resource) == b.resource.id or _duplicate_of(b.resource) == a.resource.id:
            continue  # (a `duplicate_of` another URL is `bad_duplicate_of`'s business)
        if _other_languages(a.resource, b.resource):
            continue  # an English and a Spanish edition: both meant
        if _likely_duplicate_pair(links, a, b):
            continue  # probably one page (`likely_duplicate_url`): the pair is reported once
        label = _label(a, b)  # once per pair, at the later entry, as duplicate URLs
        yield b.finding(
            "near_duplicate_title",
            f"title almost the same as {label} ({a.resource.title!r}), listed before, with "
            "another URL",
            "check whether both are needed; if one is stale, remove it; if both are meant, "
            "make the titles tell them apart, or, for editions in other languages, give "
            + (
                "each row its 'languages' cell (e.g. en and es; several: 'en; es')"
                + ("" if _has_column(b, "languages") else ", adding a 'languages' column")
                if b.in_csv
                else "each its 'languages' (e.g. [en] and [es])"
            ),
            related=(label,),
        )


#: Word stems a title may have that its near-duplicate lacks, for blocking (see below).
_ALTERED_STEMS = 2
#: Letters of a word that make its stem: plurals, -ise/-ize and late typos keep it.
_STEM_LENGTH = 5
#: Titles a blocking key collects at most; later titles with the key are still compared
#: with these, so the work stays linear even for a catalog of look-alike titles.
_BUCKET_LIMIT = 50


def _fuzzy_candidates(titles: Sequence[str]) -> Iterable[tuple[int, int]]:
    """Index pairs (i < j) of long titles worth a `_similar` comparison, each once.

    Exact filters first: both titles at least `_FUZZY_MIN_LENGTH` long and naming the same
    numbers ("2017 report" and "2018 report" are different editions). Then blocking, a
    heuristic: titles at least 90 % alike differ in a letter or a word or two, so at most
    `_ALTERED_STEMS` of either title's word stems are missing from the other. Ordering each
    title's stems by rarity among the titles with the same numbers (then alphabetically),
    two such titles share at least two of their `_ALTERED_STEMS + 2` rarest stems (prefix
    filtering), so each title is filed under every pair of those; titles with too few
    stems for that under each stem. A pair of rare stems is shared by few titles, which
    keeps the comparisons near-linear; `_BUCKET_LIMIT` bounds them for any input.
    """
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, words in enumerate(titles):
        if len(words) >= _FUZZY_MIN_LENGTH:
            groups[tuple(_digits(words))].append(i)
    prefix = _ALTERED_STEMS + 2
    for members in groups.values():
        if len(members) < 2:
            continue
        stems = {i: {w[:_STEM_LENGTH] for w in titles[i].split()} for i in members}
        letters = {i: dict(Counter(titles[i])) for i in members}
        frequency: Counter[str] = Counter()
        for own in stems.values():
            frequency.update(own)
        index: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for i in members:
            rarest = sorted(stems[i], key=lambda s: (frequency[s], s))
            keys: set[tuple[str, ...]] = set(combinations(rarest[:prefix], 2))
            if len(rarest) < prefix:
                keys.update((stem,) for stem in rarest)
            partners: set[int] = set()
            for key in keys:
                bucket = index[key]
                partners.update(bucket)
                if len(bucket) < _BUCKET_LIMIT:
                    bucket.append(i)
            own, size = stems[i], len(titles[i])
            for j in sorted(partners):
                other = titles[j]
                if 2.0 * min(size, len(other)) / (size + len(other)) < NEAR_DUPLICATE_RATIO:
                    continue  # `real_quick_ratio`, the length bound of the ratio, fails
                if len(own & stems[j]) < max(len(own), len(stems[j])) - _ALTERED_STEMS:
                    continue  # more stems altered than blocking assumes
                same = _common_letters(letters[i], letters[j])
                if 2.0 * same / (size + len(other)) < NEAR_DUPLICATE_RATIO:
                    continue  # `quick_ratio`, the letter-count bound, fails
                yield j, i


def _common_letters(a: Mapping[str, int], b: Mapping[str, int]) -> int:
    """Characters two titles share, repeats counted (`quick_ratio`'s matches), from counts
    made once per title: a `SequenceMatcher` per candidate pair, built only to reject it
    by this bound, was most of lint's time at 20,000 entries."""
    get = b.get
    return sum([n if n < (m := get(ch, 0)) else m for ch, n in a.items()])


def _similar(a_words: str, b_words: str) -> bool:
    """Are two (long, unequal) normalised titles at least `NEAR_DUPLICATE_RATIO` alike?

    Cheapest bounds first: the length bound and the letter-count bound never reject a
    pair whose full ratio would pass.
    """
    matcher = difflib.SequenceMatcher(None, a_words, b_words, autojunk=False)
    return (
        matcher.real_quick_ratio() >= NEAR_DUPLICATE_RATIO
        and matcher.quick_ratio() >= NEAR_DUPLICATE_RATIO
        and matcher.ratio() >= NEAR_DUPLICATE_RATIO
    )


def _other_languages(a: Resource, b: Resource) -> bool:
    """Do both entries name their languages, and not the same ones? Editions of one
    document in two languages share a title but for the language's name."""
    ours, theirs = ({lang.strip().casefold() for lang in r.languages} for r in (a, b))
    return bool(ours) and bool(theirs) and ours != theirs


def _likely_duplicate_pair(links: dict[str, tuple[bool, str]], a: _Entry, b: _Entry) -> bool:
    """Does `_likely_duplicate_urls` report the pair: one collection, URLs of one
    `loose_url_key`, and neither entry marked as meant? (A marked one, `shared_url: true`,
    is in no such pair: an unmarked copy of its title at its http:// form is then only
    found as a `near_duplicate_title`.)"""
    if a.catalog.key != b.catalog.key or _intended(a.resource) or _intended(b.resource):
        return False
    loose = _loose_key(links, a)
    return loose is not None and loose == _loose_key(links, b)


def _loose_key(links: dict[str, tuple[bool, str]], entry: _Entry) -> str | None:
    """The entry's `loose_url_key`, as `_likely_duplicate_urls` groups it; None for an
    invalid URL, whose key matches nothing (not even another one's)."""
    valid, key = links[entry.resource.url]
    return loose_url_key(key) if valid else None


def _label(other: _Entry, this: _Entry) -> str:
    if other.catalog.key == this.catalog.key:
        return other.resource.id
    return f"{other.catalog.key}/{other.resource.id}"


# --- text helpers ------------------------------------------------------------------------------

_YEAR = re.compile(r"(?<![0-9])(19[0-9]{2}|20[0-9]{2})(?![0-9])")
_NOT_WORD = re.compile(r"[^\w]+")


#: A fiscal year, or a span of them: "FY 2015", "FY15", "Fiscal Year (FY) 2015", "fiscal
#: years 2014-2015", "FY2014-15", "FY 1999-00", "FY 2014 and FY 2015"; a US state's or
#: the federal one, "SFY 2015", "FFY 2015". A span's end of two digits follows a dash or
#: '/' ("FY2014-15") or its own FY ("FY 2014 and FY 15"): after a bare 'to', 'through' or
#: 'and' it is a four-digit year, as "FY 2016 to 25 States" names no FY 2025.
_FISCAL = re.compile(
    r"\b(?:[SF]?FY|fiscal[ -]+years?(?:\s*\([SF]?FY\))?)\s*[-']?\s*"
    r"((?:19|20)[0-9]{2}|[0-9]{2})(?![0-9])"
    r"(?:\s*(?:(?:-|–|—|/)\s*(?:[SF]?FY\s*[-']?\s*)?"
    r"|(?:to|through|and)\s*(?:[SF]?FY\s*[-']?\s*|(?=(?:19|20)[0-9]{2}(?![0-9]))))"
    r"((?:19|20)[0-9]{2}|[0-9]{2})(?![0-9]))?",
    re.IGNORECASE,
)


def _years_in(title: str) -> tuple[list[int], frozenset[int]]:
    """The years `title` names, in order, and those of them it names as fiscal years
    (two-digit ones, "FY15", included)."""
    found = [(m.start(), int(m.group(1))) for m in _YEAR.finditer(title)]
    fiscal: set[int] = set()
    for match in _FISCAL.finditer(title):
        start = _full_year(match.group(1))
        end = _full_year(match.group(2), after=start) if match.group(2) else None
        for at, year in ((match.start(1), start), (match.start(2), end)):
            if year is not None:
                fiscal.add(year)
                found.append((at, year))
    years: list[int] = []
    for _, year in sorted(found):
        if year not in years:
            years.append(year)
    return years, frozenset(fiscal)


def _full_year(digits: str, after: int | None = None) -> int | None:
    """A fiscal year's number as four digits: "15" is 2015 (1999 for "99"); the end of a
    span ("FY2014-15") must come after its start, its two digits in the next century if
    they would not ("FY 1999-00" is 1999 to 2000), and no more than a lifetime later."""
    if len(digits) == 4:
        year = int(digits)
    elif after is not None:
        year = after - after % 100 + int(digits)
        if year <= after:
            year += 100
    else:
        year = (2000 if int(digits) < 50 else 1900) + int(digits)
    if after is None:
        return year
    return year if after < year < after + _LONGEST_SPAN else None


#: A two-digit end of a fiscal span this far after its start is no end ("FY 2015-14").
_LONGEST_SPAN = 50


def _year_agrees(year: int, named: Sequence[int], fiscal: Collection[int] = ()) -> bool:
    """One named year must match, or, named as a fiscal year, be the year before or after
    it (a fiscal year's report comes out once it has ended; its budget request, plan or
    solicitation before it begins, and US federal FY 2016 begins in October 2015); a span
    ("2006-2011") allows up to a year after its end, and a year before it when its first
    year is a fiscal one."""
    first, last = min(named), max(named)
    if len(named) == 1 and first not in fiscal:
        return year == first
    return first - (1 if first in fiscal else 0) <= year <= last + 1


def normalise_title(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a title (for matching titles)."""
    return " ".join(_NOT_WORD.sub(" ", strip_accents(text.casefold())).split())


def _digits(words: str) -> list[str]:
    return re.findall(r"[0-9]+", words)
