"""Stage "import": resources listed elsewhere merged into a catalog file.

Inputs:  a clearinghouse toolkit page (HTML text, a file or a URL fetched with httpx) or a
         CSV export; the path of the `.yaml`/`.yml`/`.csv` catalog to merge into.
Outputs: `ImportedEntry`s (`parse_toolkit_html`, `parse_csv`), then an `ImportResult`: the
         ids added, the empty fields filled, what was skipped and why, where the page and the
         catalog disagree, and the unified diff of the file. The file is replaced atomically
         unless `dry_run` is set; a new file is created when it does not exist.

Merging never deletes or overwrites: an imported entry that matches an existing one (same
normalised title, else same canonical URL) only fills that entry's empty fields; anything
else is added with an id made from its title. Existing entries keep their text byte for byte:
additions are appended after the last entry, fills go through `catalog_edit.apply_edits`.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import fcntl
import io
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString
from ruamel.yaml.util import load_yaml_guess_indent
from selectolax.lexbor import LexborHTMLParser, LexborNode

from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.errors import CatalogError, LinkhealthError, Problem
from catalog.hygiene import normalise_title
from catalog.model import RESOURCE_FIELDS, Resource
from catalog.source import CATALOG_SUFFIXES, load_catalog, validate_catalog
from catalog.urls import CheckedUrl, canonical_url, parse_url

__all__ = [
    "ImportResult",
    "ImportedEntry",
    "Parsed",
    "Skipped",
    "import_entries",
    "parse_csv",
    "parse_toolkit_html",
    "read_source",
    "slug_id",
]

#: Fields an import may fill in an existing entry (never id, title or url).
FILLABLE = ("description", "publisher", "type", "languages", "year", "tags", "notes")
_LIST_FIELDS = ("languages", "tags")
_ID_MAX = 60
_FOLD_WIDTH = 100
#: Separators a CSV to import may use, tried in this order on its header row.
_SEPARATORS = (",", ";", "\t")
#: Skipped items quoted in the error for a source with nothing to import.
_SKIPPED_QUOTED = 5


@dataclass(frozen=True)
class ImportedEntry:
    title: str
    url: str
    description: str | None = None
    #: Other catalog fields the source gave (publisher, type, year, languages, ...).
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: The id the source asked for (a CSV `id` column); used when free.
    preferred_id: str | None = None
    #: Where in the source it was found, for messages ("line 4", "heading 3").
    origin: str = ""


@dataclass(frozen=True)
class Skipped:
    origin: str
    title: str
    reason: str


@dataclass(frozen=True)
class Parsed:
    entries: tuple[ImportedEntry, ...]
    skipped: tuple[Skipped, ...] = ()
    #: The page's <title> (or first heading); names a new catalog's collection.
    title: str | None = None
    #: The file or URL it was read from, to name in messages (errors are about the source).
    source: str | None = None


@dataclass(frozen=True)
class Difference:
    """The source and the catalog disagree on a field the import may not overwrite."""

    resource_id: str
    field: str
    catalog: Any
    source: Any


@dataclass(frozen=True)
class ImportResult:
    path: Path
    #: Ids of the entries added, in source order.
    added: tuple[str, ...]
    #: Empty fields of existing entries that were filled.
    filled: tuple[FieldEdit, ...]
    #: Ids of existing entries the source matched, whether or not anything was filled.
    matched: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    differences: tuple[Difference, ...]
    #: Unified diff of the file ("" when nothing changed).
    diff: str
    created: bool = False
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.diff)

    def headline(self) -> str:
        verb = "would add" if self.dry_run else "added"
        return (
            f"{self.path}: {verb} {len(self.added)}, filled {len(self.filled)} field(s) in "
            f"{len({e.resource_id for e in self.filled})} existing entr(ies), "
            f"{len(self.matched)} matched, {len(self.skipped)} skipped, "
            f"{len(self.differences)} difference(s) left for a person."
        )


# --- reading the source ------------------------------------------------------------------------


def read_source(
    file_or_url: str, *, client: httpx.Client | None = None, user_agent: str | None = None
) -> tuple[str, str | None]:
    """The text of a file or an http(s) URL, and the URL relative links resolve against."""
    if re.match(r"(?i)https?://", file_or_url):
        return _fetch(file_or_url, client=client, user_agent=user_agent)
    path = Path(file_or_url)
    try:
        return path.read_bytes().decode("utf-8-sig", errors="replace"), None
    except OSError as exc:
        raise LinkhealthError(
            f"{path}: cannot read the file to import ({exc.strerror or exc}); check the path"
        ) from exc


def _fetch(
    url: str, *, client: httpx.Client | None, user_agent: str | None
) -> tuple[str, str | None]:
    headers = {"User-Agent": user_agent} if user_agent else {}
    owned = client is None
    http = client or httpx.Client(follow_redirects=True, timeout=30.0)
    try:
        response = http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise LinkhealthError(
            f"{url}: the page could not be fetched ({type(exc).__name__}: {exc}); "
            "save it from a browser and import the file instead"
        ) from exc
    finally:
        if owned:
            http.close()
    if response.status_code >= 400:
        raise LinkhealthError(
            f"{url}: the server answered {response.status_code}; check the address, or save "
            "the page from a browser and import the file instead"
        )
    return response.text, str(response.url)


# --- HTML --------------------------------------------------------------------------------------

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {
        *_HEADINGS,
        "p",
        "div",
        "li",
        "dt",
        "dd",
        "td",
        "th",
        "tr",
        "ul",
        "ol",
        "dl",
        "table",
        "section",
        "article",
        "main",
        "aside",
        "blockquote",
        "figure",
        "figcaption",
        "pre",
        "address",
        "body",
    }
)
#: Page furniture, never resources ("Back to Clearinghouse", menus, scripts).
_SKIP = frozenset(
    {"script", "style", "noscript", "template", "nav", "header", "footer", "head", "button"}
)
#: Blocks whose leading link names the item even with text after it ("<li><a>T</a> - desc").
_LIST_ITEMS = frozenset({"li", "dt"})


@dataclass
class _Block:
    tag: str
    texts: list[str] = field(default_factory=list)
    #: (href, link text, node id) of each link, in order.
    links: list[tuple[str, str, int]] = field(default_factory=list)
    #: Text of chunks that sit in no link.
    plain: list[str] = field(default_factory=list)
    starts_with_link: bool | None = None

    @property
    def text(self) -> str:
        return _collapse("".join(self.texts))

    @property
    def link_only(self) -> bool:
        return bool(self.links) and not _collapse("".join(self.plain)) and _one_link(self.links)


@dataclass
class _Item:
    title: str
    origin: str
    url: str | None = None
    problem: str | None = None
    description: list[str] = field(default_factory=list)
    from_heading: bool = False


def parse_toolkit_html(
    text: str, *, base_url: str | None = None, source: str | None = None
) -> Parsed:
    """Resources of a toolkit page: each a heading or a link, then paragraphs describing it.

    A heading's link is the first usable link inside it, else a paragraph right after it
    that holds nothing but a link. A link that stands alone in its block, or opens a list
    item, also starts a resource. `javascript:`, `mailto:`, `tel:` and in-page links never
    name a resource; relative links resolve against `base_url` (or the page's <base>).
    A page with no resource at all is refused, naming `source` (the file or URL): importing
    nothing is never what was meant, and an empty new catalog would be blamed instead.
    """
    tree = LexborHTMLParser(text)
    base = tree.css_first("base[href]")
    if base is not None and base.attributes.get("href"):
        base_url = urljoin(base_url or "", base.attributes["href"] or "")
    page_title = _page_title(tree)
    items: list[_Item] = []
    skipped: list[Skipped] = []
    current: _Item | None = None
    after_heading = False  # the previous block was a heading
    counter = Counter[str]()
    for block in _blocks(tree):
        if not block.text:
            continue  # whitespace between elements
        if block.tag in _HEADINGS:
            counter["heading"] += 1
            current = _Item(block.text, f"heading {counter['heading']}", from_heading=True)
            items.append(current)
            current.url, current.problem = _first_usable(block.links, base_url)
            after_heading = True
            continue
        right_after_heading, after_heading = after_heading, False
        leading = block.link_only or (block.tag in _LIST_ITEMS and block.starts_with_link)
        if leading:
            href, link_text, _ = block.links[0]
            url, problem = _usable(href, base_url)
            counter["link"] += 1
            if (
                right_after_heading
                and block.link_only
                and current is not None
                and current.url is None
            ):
                # "<h3>Title</h3><p><a href=...>Visit the website</a></p>": the heading's link
                if url is not None:
                    current.url, current.problem = url, None
                elif current.problem is None:
                    current.problem = problem
                continue
            if url is None:
                skipped.append(Skipped(f"link {counter['link']}", _collapse(link_text), problem))
                continue
            current = _Item(_collapse(link_text), f"link {counter['link']}", url=url)
            items.append(current)
            rest = block.text[len(_collapse(link_text)) :].lstrip(" -–—:|")
            if rest:
                current.description.append(rest)
            continue
        if current is not None and block.text:
            current.description.append(block.text)
    entries: list[ImportedEntry] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        if not item.title:
            if item.url:
                skipped.append(Skipped(item.origin, "", "the link has no text to use as a title"))
            continue
        if item.url is None:
            reason = item.problem or "no link found in or right after the heading"
            if item.title != page_title or item.problem:
                skipped.append(Skipped(item.origin, item.title, reason))
            continue
        key = (normalise_title(item.title), canonical_url(item.url))
        if key in seen:
            continue
        seen.add(key)
        description = _collapse(" ".join(item.description)) or None
        entries.append(ImportedEntry(item.title, item.url, description, origin=item.origin))
    if not entries:
        where = source or "the page to import"
        if not skipped:
            raise LinkhealthError(
                f"{where}: no resource links found on the page; import-html takes a heading "
                "with a link, or a link alone in its paragraph or opening a list item, as a "
                "resource. If the page builds its list with JavaScript, save it from a browser "
                "once it has loaded and import the file"
            )
        raise LinkhealthError(
            f"{where}: no resource links found on the page; {_quote_skipped(skipped)}"
        )
    return Parsed(tuple(entries), tuple(skipped), page_title, source)


def _quote_skipped(skipped: Sequence[Skipped]) -> str:
    """The first few skipped items and why, for an error about a source that gave nothing."""
    quoted = "; ".join(f"{s.origin} {s.title!r}: {s.reason}" for s in skipped[:_SKIPPED_QUOTED])
    more = len(skipped) - _SKIPPED_QUOTED
    return f"skipped {quoted}" + (f"; and {more} more" if more > 0 else "")


def _page_title(tree: LexborHTMLParser) -> str | None:
    for selector in ("title", "h1"):
        node = tree.css_first(selector)
        if node is not None and _collapse(node.text()):
            return _collapse(node.text())
    return None


def _blocks(tree: LexborHTMLParser) -> Iterator[_Block]:
    """Runs of text that share their nearest block element, in document order."""
    body = tree.body
    if body is None:
        return
    current: _Block | None = None
    current_id: int | None = None
    for node in body.traverse(include_text=True):
        if node.tag != "-text":
            continue
        chunk = node.text_content or ""
        context = _context(node)
        if context is None:
            continue
        block, link = context
        if block.mem_id != current_id:
            if current is not None:
                yield current
            current, current_id = _Block(block.tag or "div"), block.mem_id
        assert current is not None
        current.texts.append(chunk)
        if not chunk.strip():
            continue
        if current.starts_with_link is None:
            current.starts_with_link = link is not None
        if link is None:
            current.plain.append(chunk)
        else:
            href = link.attributes.get("href") or ""
            if current.links and current.links[-1][2] == link.mem_id:
                h, t, i = current.links[-1]
                current.links[-1] = (h, t + chunk, i)
            else:
                current.links.append((href, chunk, link.mem_id))
    if current is not None:
        yield current


def _context(node: LexborNode) -> tuple[LexborNode, LexborNode | None] | None:
    """(nearest block, enclosing link) of a text node; None inside page furniture."""
    block: LexborNode | None = None
    link: LexborNode | None = None
    parent = node.parent
    while parent is not None and parent.tag not in ("html", "-document"):
        tag = parent.tag or ""
        if tag in _SKIP:
            return None
        if tag == "a" and link is None and parent.attributes.get("href") is not None:
            link = parent
        if tag in _HEADINGS:
            block = parent  # a heading is one block, whatever it nests
        elif block is None and tag in _BLOCKS:
            block = parent
        parent = parent.parent
    if block is None:
        return None
    return block, link


def _one_link(links: list[tuple[str, str, int]]) -> bool:
    return len({node for _, _, node in links}) == 1 or len({href for href, _, _ in links}) == 1


def _first_usable(
    links: list[tuple[str, str, int]], base_url: str | None
) -> tuple[str | None, str | None]:
    problem = None
    for href, _, _ in links:
        url, why = _usable(href, base_url)
        if url is not None:
            return url, None
        problem = problem or why
    return None, problem


def _usable(href: str, base_url: str | None) -> tuple[str | None, str]:
    """(absolute http(s) URL, "") or (None, why the link cannot name a resource)."""
    href = href.strip()
    scheme = urlsplit(href).scheme.lower() if href else ""
    if not href or href.startswith("#"):
        return None, "the link points inside the page"
    if scheme in ("javascript", "mailto", "tel", "data", "sms", "file"):
        return None, f"a {scheme}: link is not a web resource"
    if not scheme:
        if not base_url:
            return None, "the link is relative and no base URL is known (give --base-url)"
        href = urljoin(base_url, href)
    if not isinstance(parse_url(href), CheckedUrl):
        return None, f"the link {href!r} is not a usable http(s) address"
    return href, ""


def _collapse(text: str) -> str:
    return " ".join(text.split())


# --- CSV ---------------------------------------------------------------------------------------


def parse_csv(text: str, *, source: str | None = None) -> Parsed:
    """Rows of a CSV with at least `title` and `url` columns (any case, any order).

    Commas separate the cells, or semicolons or tabs when only they make the header name
    both columns (spreadsheets saved in many locales use ';'). A CSV without those columns
    or without a usable row is refused, naming `source` (the file or URL).
    """
    where = source or "the CSV to import"
    rows, header_index = _csv_rows(text.lstrip("\ufeff"), where)
    names = [_column(c) for c in rows[header_index]]
    entries: list[ImportedEntry] = []
    skipped: list[Skipped] = []
    for number, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        values = {n: c.strip() for n, c in zip(names, row, strict=False) if n and c.strip()}
        if not values:
            continue
        origin = f"row {number}"
        title, url = values.pop("title", ""), values.pop("url", "")
        if not title or not url:
            skipped.append(Skipped(origin, title, "the row has no title or no url"))
            continue
        if not isinstance(parse_url(url), CheckedUrl):
            skipped.append(Skipped(origin, title, f"{url!r} is not a usable http(s) address"))
            continue
        preferred = values.pop("id", None)
        description = values.pop("description", None)
        extra: dict[str, Any] = {}
        for name, value in values.items():
            if name in _LIST_FIELDS:
                extra[name] = [p.strip() for p in re.split(r"[;|]", value) if p.strip()]
            elif name == "year" and value.isdigit():
                extra[name] = int(value)
            else:
                extra[name] = value
        entries.append(ImportedEntry(title, url, description, extra, preferred, origin))
    if not entries:
        if not skipped:
            raise LinkhealthError(f"{where}: the CSV has a header but no rows; nothing to import")
        raise LinkhealthError(f"{where}: no row could be imported; {_quote_skipped(skipped)}")
    return Parsed(tuple(entries), tuple(skipped), source=source)


def _csv_rows(text: str, where: str) -> tuple[list[list[str]], int]:
    """The rows and the index of the header row, split at the first of `_SEPARATORS` that
    makes the header name both `title` and `url` (a whole header is needed, so a comma
    inside a cell of a ';' file cannot fool it)."""
    first: list[str] | None = None
    for separator in _SEPARATORS:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
        header = next((i for i, row in enumerate(rows) if any(c.strip() for c in row)), None)
        if header is None:
            raise LinkhealthError(
                f"{where}: the CSV is empty; write a header row naming at least the 'title' "
                "and 'url' columns, then one row per resource"
            )
        names = {_column(c) for c in rows[header]}
        if "title" in names and "url" in names:
            return rows, header
        first = first or rows[header]
    found = ", ".join(repr(c.strip()) for c in first or () if c.strip())
    raise LinkhealthError(
        f"{where}: the CSV has no 'title' and 'url' columns (its header row reads {found}); "
        "name them in the first row. Cells may be separated by commas, semicolons or tabs"
    )


def _column(cell: str) -> str:
    name = cell.strip()
    return name.lower() if name.lower() in RESOURCE_FIELDS else name


# --- merging -----------------------------------------------------------------------------------


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


def _plan(existing: Sequence[Resource], entries: Sequence[ImportedEntry]) -> _Plan:
    plan = _Plan()
    by_title: dict[str, list[Resource]] = {}
    by_url: dict[str, list[Resource]] = {}
    for r in existing:
        by_title.setdefault(normalise_title(r.title), []).append(r)
        by_url.setdefault(canonical_url(r.url), []).append(r)
    claimed: set[str] = set()
    taken = {r.id for r in existing}

    def unclaimed(candidates: list[Resource]) -> Resource | None:
        return next((r for r in candidates if r.id not in claimed), None)

    for entry in entries:
        match = unclaimed(by_title.get(normalise_title(entry.title), [])) or unclaimed(
            by_url.get(canonical_url(entry.url), [])
        )
        if match is None:
            rid = entry.preferred_id
            if not rid or rid in taken:
                rid = slug_id(entry.title, taken)
            taken.add(rid)
            plan.additions.append(_new_entry(rid, entry))
            continue
        claimed.add(match.id)
        plan.matched.append(match.id)
        current = match.fields_dict()
        for name, value in _offered(entry).items():
            if name in ("title", "url"):
                if name == "url" and canonical_url(value) != canonical_url(match.url):
                    plan.differences.append(Difference(match.id, "url", match.url, value))
                continue
            if _empty(current.get(name)):
                plan.fills.append(FieldEdit(match.id, name, value))
            elif name == "description" and normalise_title(str(current[name])) != (
                normalise_title(str(value))
            ):
                plan.differences.append(Difference(match.id, name, current[name], value))
    return plan


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


# --- writing -----------------------------------------------------------------------------------


def import_entries(
    path: str | Path,
    parsed: Parsed | Sequence[ImportedEntry],
    *,
    dry_run: bool = False,
    collection_title: str | None = None,
) -> ImportResult:
    """Merge `parsed` into the catalog at `path` (created when missing); see the module doc."""
    path = Path(path)
    if not isinstance(parsed, Parsed):
        parsed = Parsed(tuple(parsed))
    if not parsed.entries and not path.exists():
        # An empty new catalog would be refused as the catalog's fault, at a line it never had.
        where = f"{parsed.source}: " if parsed.source else ""
        raise LinkhealthError(f"{where}nothing to import, so {path} was not created")
    suffix = path.suffix.lower()
    if suffix not in CATALOG_SUFFIXES:
        raise CatalogError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    "unknown_format",
                    "import into a .yaml, .yml or .csv catalog",
                )
            ]
        )
    with _locked(path):
        created = not path.exists()
        if created:
            existing: tuple[Resource, ...] = ()
            original = b""
        else:
            existing = load_catalog(path).resources
            original = path.read_bytes()
        plan = _plan(existing, parsed.entries)
        with tempfile.TemporaryDirectory(prefix="linkhealth-import-") as tmp:
            work = Path(tmp) / path.name
            if created:
                title = collection_title or parsed.title or path.stem
                work.write_text(_new_file(suffix, title, plan.additions), encoding="utf-8")
                csv_fills: list[FieldEdit] = []
            else:
                shutil.copyfile(path, work)
                csv_fills = _append(work, plan.additions, path) if plan.additions else []
            if plan.fills or csv_fills:
                apply_edits(work, [*plan.fills, *csv_fills])
            new = work.read_bytes()
            _refuse_new_problems(path, work, created, parsed.source)
            diff = _diff(path, original, new)
            if not dry_run and new != original:
                _replace(path, new)
    return ImportResult(
        path=path,
        added=tuple(a["id"] for a in plan.additions),
        filled=tuple(plan.fills),
        matched=tuple(plan.matched),
        skipped=parsed.skipped,
        differences=tuple(plan.differences),
        diff=diff,
        created=created,
        dry_run=dry_run,
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # The same sibling lock file as `catalog_edit.apply_edits`, so an import and an edit of
    # one catalog never interleave.
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        handle = open(lock_path, "a")  # noqa: SIM115 - closed in finally
    except OSError as exc:
        raise LinkhealthError(f"{lock_path}: cannot create the lock file ({exc})") from exc
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _refuse_new_problems(path: Path, work: Path, created: bool, source: str | None) -> None:
    """Refuse an import whose entries would make the catalog invalid; the source is at fault
    (a plain `LinkhealthError`, not a `CatalogError`), and the lines are of the file as the
    import would have written it, which may not exist."""
    after = validate_catalog(work).problems
    if not after:
        return
    before = (
        Counter()
        if created
        else Counter((p.code, p.field) for p in validate_catalog(path).problems)
    )
    added = Counter((p.code, p.field) for p in after) - before
    if added:
        listed = "\n".join(
            f"  {replace(p, file=str(path))}" for p in after if (p.code, p.field) in added
        )
        where = f"{source}: its entries" if source else "the imported entries"
        raise LinkhealthError(
            f"{where} would make {path} invalid, so nothing was written; fix them in the source "
            f"and import again (lines are those of {path} as the import would write it):\n{listed}"
        )


def _diff(path: Path, old: bytes, new: bytes) -> str:
    if old == new:
        return ""
    return "".join(
        difflib.unified_diff(
            old.decode("utf-8-sig").splitlines(keepends=True),
            new.decode("utf-8-sig").splitlines(keepends=True),
            fromfile="/dev/null" if not old else str(path),
            tofile=str(path),
        )
    )


def _replace(path: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _new_file(suffix: str, title: str, additions: list[dict[str, Any]]) -> str:
    if suffix == ".csv":
        columns = ["id", "title", "url"]
        for entry in additions:
            columns += [name for name in entry if name not in columns]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for entry in additions:
            writer.writerow([_csv_cell(entry.get(name)) for name in columns])
        return out.getvalue()
    yaml = _yaml(indent=2, offset=0)
    out = io.StringIO()
    yaml.dump({"collection": {"title": title}}, out)
    return out.getvalue() + _render_resources(yaml, additions, indent=2)


def _append(work: Path, additions: list[dict[str, Any]], path: Path) -> list[FieldEdit]:
    """Append `additions` to the file; for CSV, the edits for fields it has no column for.

    `work` is a copy of the catalog at `path`; problems name `path`, the file people know.
    """
    data = work.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n")
    if work.suffix.lower() == ".csv":
        text, later = _append_csv(text, additions)
    else:
        text, later = _append_yaml(work, text, additions, path), []
    work.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.replace("\n", newline).encode())
    return later


def _append_csv(text: str, additions: list[dict[str, Any]]) -> tuple[str, list[FieldEdit]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = next(row for row in rows if any(c.strip() for c in row))
    names = [_column(c) for c in header]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    later: list[FieldEdit] = []
    for entry in additions:
        writer.writerow([_csv_cell(entry.get(n)) if n else "" for n in names])
        later += [FieldEdit(entry["id"], k, v) for k, v in entry.items() if k not in names]
    if text and not text.endswith("\n"):
        text += "\n"
    return text + out.getvalue(), later


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _append_yaml(work: Path, text: str, additions: list[dict[str, Any]], path: Path) -> str:
    """Insert the new entries after the last line of the `resources` list, as block YAML."""
    try:
        doc, indent, offset = load_yaml_guess_indent(text, yaml=YAML(typ="rt"))
    except (YAMLError, ValueError) as exc:
        problems = validate_catalog(work).problems
        raise CatalogError([replace(p, file=str(path)) for p in problems]) from exc
    items = doc.get("resources") if isinstance(doc, CommentedMap) else None
    if isinstance(items, CommentedSeq) and items.fa.flow_style():
        raise CatalogError(
            [
                Problem(
                    str(path),
                    _key_line(doc, "resources"),
                    "resources",
                    "bad_structure",
                    "the resources are written as a [flow] list; write one '- id: ...' entry "
                    "per line to let import append to it",
                )
            ]
        )
    keys = list(doc)
    after = keys.index("resources") + 1
    lines = text.splitlines(keepends=True)
    end = _key_line(doc, keys[after]) - 1 if after < len(keys) else len(lines)
    dash = _dash_column(items, lines, offset or 0)
    while end > 0:
        line = lines[end - 1]
        shallow_comment = line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= dash
        if line.strip() and not shallow_comment:
            break  # comments indented into the last entry belong to it
        end -= 1  # blank lines and comments before the next key (or the end) stay after us
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    yaml = _yaml(indent=indent or 2, offset=offset or 0)
    block = _render_resources(yaml, additions, indent=indent or 2).split("\n", 1)[1]
    return "".join(lines[:end]) + block + "".join(lines[end:])


def _dash_column(items: Any, lines: list[str], default: int) -> int:
    if isinstance(items, CommentedSeq) and items:
        try:
            line = lines[int(items.lc.item(0)[0])]
        except (AttributeError, IndexError, KeyError, TypeError):
            return default
        return len(line) - len(line.lstrip(" "))
    return default


def _key_line(doc: CommentedMap, key: Any) -> int:
    return int(doc.lc.key(key)[0]) + 1


def _yaml(*, indent: int, offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 1_000_000  # long lines are folded by `_folded`, never by the emitter
    yaml.indent(mapping=max(indent - offset, 1), sequence=indent, offset=offset)
    return yaml


def _render_resources(yaml: YAML, additions: list[dict[str, Any]], *, indent: int) -> str:
    seq = CommentedSeq()
    for entry in additions:
        item = CommentedMap()
        for name, value in entry.items():
            if isinstance(value, list):
                value = CommentedSeq(value)
            elif isinstance(value, str) and name in ("description", "notes") and len(value) > 80:
                value = _folded(value, _FOLD_WIDTH - 2 * indent)
            item[name] = value
        seq.append(item)
    out = io.StringIO()
    yaml.dump({"resources": seq}, out)
    return out.getvalue()


def _folded(text: str, width: int) -> FoldedScalarString:
    """A `>-` block, wrapped at spaces near `width` (single spaces only, so it reads back)."""
    folded = FoldedScalarString(text)
    if "\n" in text or "  " in text or text != text.strip():
        return folded
    positions: list[int] = []
    start = 0
    while len(text) - start > width:
        cut = text.rfind(" ", start, start + width)
        if cut <= start:
            cut = text.find(" ", start + width)
            if cut < 0:
                break
        positions.append(cut)
        start = cut + 1
    folded.fold_pos = positions  # type: ignore[attr-defined]
    return folded
