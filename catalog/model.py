"""The frozen records the stages hand each other.

    source  -> Catalog, Resource       (what the curator wrote)
    plan    -> Target, Batch           (what to fetch this run, grouped by host)
    check   -> Observation, Hop        (what one fetch found)

Storage turns them into rows and back; reports never see them raw.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog.outcomes import Outcome

#: The fields a resource may have besides `extra`; anything else is kept in `extra`.
RESOURCE_FIELDS = (
    "id",
    "title",
    "url",
    "description",
    "publisher",
    "type",
    "languages",
    "year",
    "tags",
    "notes",
)


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    title: str
    url: str
    description: str | None = None
    publisher: str | None = None
    type: str | None = None
    languages: tuple[str, ...] = ()
    year: int | None = None
    tags: tuple[str, ...] = ()
    notes: str | None = None
    #: Fields the schema does not name (e.g. `url_confidence`), kept verbatim.
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: 1-based line of the entry in its file, for messages.
    line: int | None = None
    #: Fields the entry itself writes without a value (`year:`, `year: null`, an empty
    #: CSV cell): lint points at their lines and says to fill them in, not to add them.
    written_empty: frozenset[str] = field(default=frozenset(), compare=False)

    def fields_dict(self) -> dict[str, Any]:
        """The curator's data, comparable between syncs (no line numbers)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in RESOURCE_FIELDS}
        data["languages"] = list(self.languages)
        data["tags"] = list(self.tags)
        data.update(self.extra)
        return data


@dataclass(frozen=True, slots=True)
class Catalog:
    path: Path
    #: The `collection` mapping (title, description, ...); for CSV, derived from the file name.
    collection: Mapping[str, Any]
    resources: tuple[Resource, ...]

    @property
    def key(self) -> str:
        """Stable collection key: the file's stem."""
        return self.path.stem

    @property
    def title(self) -> str:
        return str(self.collection.get("title") or self.key)


#: Put before every fingerprint stored when the fingerprint's rule last changed (migration
#: 0015: the page's main content without its chrome, PDFs without their regeneration
#: stamps). The next check of such a link reads its page, unconditionally (`catalog.store`'s
#: targets), and takes its fingerprint as the new baseline without calling it a change
#: (`catalog.health`): otherwise the upgrade's first nights would say "content changed" for
#: most of a catalog whose pages had not. A real change in the night of that read is taken
#: as the baseline too.
LEGACY_FINGERPRINT = "v1:"


@dataclass(frozen=True, slots=True)
class Previous:
    """What the last observation of a URL left us, for conditional requests and change checks."""

    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    fingerprinted_at: datetime | None = None
    content_length: int | None = None
    title: str | None = None
    outcome: Outcome | None = None
    content_type: str | None = None
    #: Where the check that read the page (`fingerprinted_at`) ended, and the addresses it
    #: was redirected from on the way: a HEAD that a permanent redirect sends to none of
    #: them reached another page (`fetch.changed_since`).
    final_url: str | None = None
    read_via: tuple[str, ...] = ()
    #: That read was sent after a HEAD of the same night, not for a fingerprint due: its
    #: address is not read again before the fingerprint is due (no GET a night for ever).
    read_after_head: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """One URL to check this run (shared URLs appear once)."""

    url: str
    #: Host key for politeness ("" for URLs with no host, e.g. invalid ones).
    host: str
    resource_ids: tuple[str, ...] = ()
    previous: Previous | None = None
    #: Fetch the body this time (first check, or fingerprint older than the setting).
    fingerprint_due: bool = True
    #: The titles of the entries that link it that hold a not-found message ("Nothing
    #: Here | Stories of Survivors"), each once: such a page title is its own, no soft 404.
    titles: tuple[str, ...] = ()
    #: The contacts (`catalog.check.contacts` keys) the entries that link it name: a full
    #: read of the page looks for them (`Observation.contacts`). Empty for most links.
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Batch:
    """The unit of one coarse task: whole hosts, never split."""

    index: int
    targets: tuple[Target, ...]

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted({t.host for t in self.targets}))


@dataclass(frozen=True, slots=True)
class Hop:
    url: str
    status: int | None


def pack_text(text: str) -> bytes:
    """`text` as deflated UTF-8 for an observation to carry; "" stays empty (so falsy).
    Level 1: ~20 µs for a 2,000-character sample, nearly the ratio of the default level."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 1) if text else b""


def unpack_text(packed: bytes) -> str:
    return zlib.decompress(packed).decode("utf-8", "surrogatepass") if packed else ""


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything one check of one URL found. Facts only; health comes later."""

    url: str
    checked_at: datetime
    outcome: Outcome
    #: One sentence for curators, e.g. "HEAD 405, GET 200 after 1 retry (503, Retry-After 1 s)".
    reason: str
    http_status: int | None = None
    final_url: str | None = None
    chain: tuple[Hop, ...] = ()
    methods: tuple[str, ...] = ()
    elapsed_ms: int | None = None
    retries: int = 0
    content_type: str | None = None
    content_length: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    title: str | None = None
    bytes_read: int = 0
    #: True when a 304 (or equal fingerprint) said the content did not change.
    not_modified: bool = False
    #: Normalized visible text (truncated) for drift detection, never stored: `pack_text`
    #: of it, read back by `text_sample`. A run holds tens of thousands of these until their
    #: batches are stored, so they travel small: UTF-8 (one curly quote makes a `str` two
    #: bytes per character) deflated (a 2,000-character sample: ~2.0 KB -> ~0.7 KB).
    text_sample_packed: bytes | None = None
    #: The end of a page's text past the sample (at most as long, packed the same way), or
    #: None when the sample holds the whole text: spam injected into a long page's footer
    #: lies there, read for drift's markers alone (`text_tail`).
    text_tail_packed: bytes | None = None
    #: The read stopped short of the page's end (the byte cap, a slow night's first bytes,
    #: the parser's tag cap), so the sample and tail are not its whole text: a page whose
    #: words lie past the cut is no page emptied (`drift.judge_emptied`). Not stored.
    text_cut: bool = False
    #: The cut lies where every night's read stops (the byte cap, the parser's tag cap),
    #: not at a slow night's first bytes, which a faster night reads past: the text is
    #: what any night reads, so its match score is judged as a full read's
    #: (`health.short_of_sample`). Not stored (a slow night's `bytes_read` is
    #: `fetch.SLOW_BODY_BYTES`).
    text_cut_steady: bool = False
    #: The replacement a curator should consider (final URL of a permanent redirect).
    suggested_url: str | None = None
    #: What the https form of this working http link served when this check tried it
    #: (`catalog.upgrades`) and it was not this page: "another page ('Parked domain')",
    #: "no page (Timed out)". None: not tried, or the same page (`suggested_url`). Stored.
    https_found: str | None = None
    #: The link's stored fingerprint of a body's first bytes (a file first read slowly),
    #: when `fingerprint` is of a longer read that begins with the same bytes: the longer
    #: fingerprint becomes the baseline without counting as a change (`catalog.health`).
    fingerprint_extends: str | None = None
    #: The title the release before gave this body, where this one reads another title
    #: (`content.PageFacts.title_before`): a stored title that is it gives way to `title`
    #: with no `title_changed` (`catalog.health`), as an unchanged report behind an HTML
    #: banner brought "Agency" to "Annual Report 2019" on the upgrade's night. Not stored.
    title_before: str | None = None
    #: The contacts the page showed (`contacts.on_page`: the target's named ones first,
    #: then others), at a full read of a page whose entries name some; None otherwise
    #: (not looked for, or a page without text: nothing to judge by).
    contacts: tuple[str, ...] | None = None
    #: Each of `contacts` as the page writes it ("(888) 555-0100"), when known: what the
    #: finding says the page now shows. Not stored.
    contacts_written: tuple[str, ...] = ()
    #: The named contacts this read may find missing (`contacts.judged_on_page`): none on
    #: a read that stopped short of the page's end, which only confirms what it shows; None
    #: (observations made by hand): every one the entries name. Not stored.
    contacts_judged: tuple[str, ...] | None = None
    #: Nothing was sent: the host had said it is away (a 429, or a 503 from two paths,
    #: asking for longer than a check waits), and its answer is this one's outcome; or it
    #: had answered none of its last links (`timeout`). Stored, but no check of the link:
    #: its health stays as the last check left it. (A silent host's, silent again when
    #: asked at the end of the batch, is a check, its `timeout` the night's: not held.)
    held: bool = False
    #: No request of the check reached the server: each was refused, or reset or timed
    #: out while connecting, on every attempt (`checker._unanswered_exchange`); a check
    #: its deadline cut mid-request is not known to be one. Not stored.
    unanswered: bool = False

    @property
    def text_sample(self) -> str | None:
        return None if self.text_sample_packed is None else unpack_text(self.text_sample_packed)

    @property
    def text_tail(self) -> str | None:
        return None if self.text_tail_packed is None else unpack_text(self.text_tail_packed)
