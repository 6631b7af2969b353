"""Which imported entries are new and which only fill an existing entry's empty fields."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.catalog_edit import FieldEdit
from catalog.hygiene import how_urls_differ, normalise_title
from catalog.importer._records import Difference, ImportedEntry, Note
from catalog.model import Resource
from catalog.source import plain_id
from catalog.urls import UrlProblem, canonical_url, fragment_of, loose_url_key, parse_url

_ID_MAX = 60


def slug_id(title: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A short, readable id from a title, unique against `taken` (-2, -3, ... when needed)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "resource"
    if len(words) > _ID_MAX:
        words = words[:_ID_MAX].rsplit("-", 1)[0] if "-" in words[:_ID_MAX] else words[:_ID_MAX]
    candidate, n = words, 1
    while candidate in taken:
        n += 1
        candidate = f"{words}-{n}"
    return candidate


@dataclass
class _Plan:
    additions: list[dict[str, Any]] = field(default_factory=list)
    fills: list[FieldEdit] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    #: The source's entry each added or matched resource (by id) was made from or filled
    #: by: what a refused fill is told by (its row).
    sources: dict[str, ImportedEntry] = field(default_factory=dict)
    #: Additions whose URL is likely that of an entry already there (`_twin_notes`).
    notes: list[Note] = field(default_factory=list)


def plan_merge(existing: Sequence[Resource], entries: Sequence[ImportedEntry]) -> _Plan:
    plan = _Plan()
    by_title: dict[str, list[Resource]] = {}
    by_url: dict[str, list[Resource]] = {}
    #: By page and section (`same_place`): comparing an imported row with each entry of
    #: its page took 79 s for 4,000 sections of one page.
    by_place: dict[tuple[str, str], list[Resource]] = {}
    order = {id(r): n for n, r in enumerate(existing)}
    for r in existing:
        by_title.setdefault(normalise_title(r.title), []).append(r)
        page = canonical_url(r.url)
        by_url.setdefault(page, []).append(r)
        by_place.setdefault((page, fragment_of(r.url)), []).append(r)

    def at_place(url: str) -> list[Resource]:
        """The entries at `url`'s place: any section of its page for a bare URL; for a
        section, that section's and the bare page's, in catalog order."""
        page, section = canonical_url(url), fragment_of(url)
        if not section:
            return by_url.get(page, [])
        here = by_place.get((page, section), []) + by_place.get((page, ""), [])
        return sorted(here, key=lambda r: order[id(r)])

    by_id = {r.id: r for r in existing}
    twins = _Twins()
    for r in existing:
        twins.add(r.id, r.url)
    claimed: set[str] = set()
    taken = set(by_id)

    def unclaimed(candidates: list[Resource]) -> Resource | None:
        return next((r for r in candidates if r.id not in claimed), None)

    def titled(entry: ImportedEntry) -> Resource | None:
        """The entry with the row's title; of several ("Fact Sheet"), the one at the row's
        URL, then the first: a sheet need not list them in the catalog's order."""
        title = normalise_title(entry.title)
        candidates = [r for r in by_title.get(title, []) if r.id not in claimed]
        if len(candidates) < 2:
            return next(iter(candidates), None)
        place = (canonical_url(entry.url), fragment_of(entry.url))
        here = {r.id for r in at_place(entry.url)}
        return (
            next(
                (r for r in candidates if (canonical_url(r.url), fragment_of(r.url)) == place), None
            )
            or next((r for r in candidates if r.id in here), None)
            or candidates[0]
        )

    for entry in entries:
        # A sheet with an id column (exported from the catalog, edited, imported again)
        # names its entries: its row is that entry even when the title and URL were edited.
        own = by_id.get(plain_id(entry.preferred_id or ""))
        match = unclaimed([own] if own else []) or titled(entry) or unclaimed(at_place(entry.url))
        if match is None:
            # A spreadsheet's "my guide" would be refused as an id: it is meant as my-guide.
            given = rid = plain_id(entry.preferred_id or "")
            if not rid or rid in taken:
                rid = slug_id(entry.title, taken)
            if given and given != rid:  # its id cell is not dropped without a word
                plan.notes.append(_id_taken_note(rid, given, entry, plan.sources.get(given)))
            taken.add(rid)
            plan.additions.append(_new_entry(rid, entry))
            plan.sources[rid] = entry
            note = twins.note(rid, entry)
            if note is not None:
                plan.notes.append(note)
            twins.add(rid, entry.url)
            continue
        claimed.add(match.id)
        plan.sources[match.id] = entry
        plan.matched.append(match.id)
        current = match.fields_dict()
        for name, value in _offered(entry).items():
            if name == "url":
                if canonical_url(value) != canonical_url(match.url):
                    plan.differences.append(Difference(match.id, "url", match.url, value))
                continue
            if name == "title":
                if normalise_title(value) != normalise_title(match.title):
                    plan.differences.append(Difference(match.id, "title", match.title, value))
                continue
            if _empty(current.get(name)):
                plan.fills.append(FieldEdit(match.id, name, value))
            elif name == "description" and normalise_title(str(current[name])) != (
                normalise_title(str(value))
            ):
                plan.differences.append(Difference(match.id, name, current[name], value))
    return plan


def _id_taken_note(
    rid: str, given: str, entry: ImportedEntry, holder: ImportedEntry | None
) -> Note:
    """The `id_taken` note of a row added as `rid` whose id, `given`, an earlier row of the
    source (`holder`: added under it, or matched to the entry with it) has."""
    origin = f"{entry.origin} " if entry.origin else ""
    held = f"{holder.origin} ({holder.title!r})" if holder and holder.origin else "another row"
    return Note(
        f"{origin}({entry.title!r}) gives the id {given}, which {held} has: added as {rid}, "
        "an id made from its title; give each row an id of its own to choose it",
        "id_taken",
        id=rid,
        given=given,
        origin=entry.origin,
        of=holder.origin if holder else "",
    )


class _Twins:
    """The entries so far by their URL's `loose_url_key` and section: an addition at the
    same place as one of them, written with or without https, `www.` or a trailing `/`,
    adds the pair lint then calls a `likely_duplicate_url` (or at the same URL, when the
    entry there was taken by another row), and the summary says so at once."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], tuple[str, str]] = {}

    @staticmethod
    def _key(url: str) -> tuple[str, str] | None:
        # An entry whose URL cannot be fetched (a port over 65535, an unclosed "[") is in
        # no pair, as in lint: its canonical form raised, and the whole import with it.
        checked = parse_url(url)
        if isinstance(checked, UrlProblem):
            return None
        loose = loose_url_key(checked.canonical)
        return None if loose is None else (loose, fragment_of(url))

    def add(self, rid: str, url: str) -> None:
        key = self._key(url)
        if key is not None:
            self.by_key.setdefault(key, (rid, url))

    def note(self, rid: str, entry: ImportedEntry) -> Note | None:
        """The `likely_duplicate` note of addition `rid`, if an entry is at its place."""
        key = self._key(entry.url)
        if key is None or key not in self.by_key:
            return None
        other, other_url = self.by_key[key]
        how = how_urls_differ(canonical_url(entry.url), canonical_url(other_url))
        origin = f"{entry.origin} " if entry.origin else ""
        differ = f"the URLs differ only in {how}" if how else "the same URL"
        return Note(
            f"new entry {rid} ({origin}{entry.title!r}) is probably the same page as {other} "
            f"({other_url}): {differ}; keep one entry, or add 'shared_url: true' to one if "
            "the site serves two pages",
            "likely_duplicate",
            id=rid,
            url=entry.url,
            of=other,
            of_url=other_url,
            origin=entry.origin,
        )


def _offered(entry: ImportedEntry) -> dict[str, Any]:
    data: dict[str, Any] = {"title": entry.title, "url": entry.url}
    if entry.description:
        data["description"] = entry.description
    for name, value in entry.fields.items():
        if not _empty(value) and name not in ("id", "title", "url"):
            data[name] = list(value) if isinstance(value, list | tuple) else value
    return data


def _new_entry(rid: str, entry: ImportedEntry) -> dict[str, Any]:
    return {"id": rid, **_offered(entry)}


def _empty(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str | list | tuple | dict) and not value)
        or (isinstance(value, str) and not value.strip())
    )
