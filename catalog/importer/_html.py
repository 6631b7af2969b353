"""Entries from a clearinghouse toolkit page: each block whose one link names a resource."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from catalog.errors import LinkhealthError
from catalog.hygiene import normalise_title
from catalog.importer._records import ImportedEntry, Parsed, Skipped, quote_skipped
from catalog.text import without_controls
from catalog.urls import CheckedUrl, browser_encoded, canonical_url, parse_url

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
    #: One item of a list that holds others (an item after a heading is then no heading's link).
    in_longer_list: bool = False

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
                and not block.in_longer_list
                and current is not None
                and current.url is None
            ):
                # "<h3>Title</h3><p><a href=...>Visit the website</a></p>": the heading's link.
                # Not the first item of a list of links: "<h1>Toolkit</h1><ul><li><a>..." is
                # the page's heading over its resources, the first of which kept its own title.
                if url is not None:
                    current.url, current.problem = url, None
                elif current.problem is None:
                    current.problem = problem
                continue
            if url is None:
                origin = f"link {counter['link']}"
                skipped.append(Skipped(origin, _collapse(link_text), problem, "unusable_url"))
                # The paragraphs after it describe the skipped link, not the link entry above
                # it; an entry under a heading still runs to the next heading (the hotline's
                # number as a tel: link sits inside the hotline's own description).
                if current is not None and not current.from_heading:
                    current = None
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
                reason = "the link has no text to use as a title"
                skipped.append(Skipped(item.origin, "", reason, "no_title"))
            continue
        if item.url is None:
            reason = item.problem or "no link found in or right after the heading"
            if item.title != page_title or item.problem:
                code = "unusable_url" if item.problem else "no_link"
                skipped.append(Skipped(item.origin, item.title, reason, code))
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
            f"{where}: no resource links found on the page; {quote_skipped(skipped)}"
        )
    return Parsed(tuple(entries), tuple(skipped), page_title, source)


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
            current, current_id = (
                _Block(block.tag or "div", in_longer_list=_in_longer_list(block)),
                block.mem_id,
            )
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


def _in_longer_list(block: LexborNode) -> bool:
    """Whether `block` is a list item with another item beside it. Stops at the second
    item: counting every item for every item was quadratic (4,000 items took 4.7 s)."""
    if block.tag not in _LIST_ITEMS or block.parent is None:
        return False
    items = (sibling for sibling in block.parent.iter() if sibling.tag == block.tag)
    return next(items, None) is not None and next(items, None) is not None


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
    if base_url and urlsplit(href).fragment and canonical_url(href) == canonical_url(base_url):
        # `/toolkit#contacts` on the toolkit page itself is its `#contacts`, written long.
        return None, "the link points inside the page"
    return browser_encoded(href), ""


def _collapse(text: str) -> str:
    """Whitespace-collapsed, without control characters: the page is anyone's, and its
    titles go into the catalog and from there to terminals (`linkhealth resource`)."""
    return " ".join(without_controls(text).split())
