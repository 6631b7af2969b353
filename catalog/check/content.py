"""Page analysis: what a fetched body says, reduced to comparable facts.

Stage: check (pure, no I/O). Input: the bytes read of one response (at most the body
cap), its Content-Type, whether the cap cut it short, and the ETag / full length the
server announced. Output: `PageFacts` (title, first heading, normalized visible text
and a fingerprint) plus `similarity` for comparing two texts.

The fingerprint answers "did the content change since last time?", so it must not
move when only noise moves: for HTML it hashes the visible text of the page's own content
(its <main> or one <article> without chrome, see `_read_marks`; the whole page when the
markup tells none) with timestamps, dates, relative times, tokens, ids, counters and
cache-busting query strings removed. Binaries hash their bytes; a PDF's without the
creation stamps a generator puts in each copy (`_without_pdf_stamps`).
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
import string
import unicodedata
from dataclasses import dataclass, field, replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

from catalog.text import META_CHARSET, charset_codec, media_type, without_controls

__all__ = [
    "OPAQUE_TYPE",
    "PageFacts",
    "Words",
    "analyse_body",
    "decoded_html",
    "is_login_title",
    "reads_as_html",
    "similar_enough",
    "similarity",
    "stable_text",
    "title_parts",
]


@dataclass(frozen=True)
class PageFacts:
    #: <title>, whitespace-collapsed and entity-decoded; for PDFs the document-info title.
    title: str | None
    #: Text of the first non-empty <h1>.
    heading: str | None
    #: Whitespace-collapsed visible text (volatile tokens kept, for people); "" for binaries.
    text: str
    #: "sha256:<hex>"; equal for pages that differ only by noise.
    fingerprint: str
    is_html: bool
    #: The content of the page's first `<meta http-equiv="refresh">` ("0; url=/moved").
    refresh: str | None = None
    #: The page is the shell of a site built by script in the browser: little visible
    #: text, scripts, and an empty element the script fills (`<div id="root">`).
    script_shell: bool = False
    #: The page is a login form: a visible password field, and a title or heading about
    #: logging in or little else on the page (`_login_form`).
    login_form: bool = False
    #: `stable_text(text)`, which the fingerprint hashed already: a soft-404 probe compares
    #: it (`stable_text` costs ~0.6 ms on a 20 KB page). None on facts made by hand; out of
    #: equality, as it follows from `text`.
    stable: str | None = field(default=None, repr=False, compare=False)
    #: The stored fingerprint of this body's first bytes, when the link's baseline is one
    #: and this longer read begins with the same bytes (`checker._against_first_bytes`).
    extends: str | None = None
    #: The body read as the file its label says, when it was read as a page or a text
    #: only to find a server's error message there ("File not found.", an HTML "Page not
    #: found" under a file's or a CSV's label): unless the check finds one, it is that file
    #: (`as_file`; `fingerprint` is the file's). A small CSV or an "Export to Excel" HTML
    #: table under Excel's label, a read-me under `application/octet-stream`, is no web
    #: page to judge for drift; a CSV is the text it was.
    file: PageFacts | None = field(default=None, repr=False)
    #: The title the release before gave this body, where this one reads another (a PDF
    #: behind an included HTML banner, read before as the banner's page: "Agency"): a link
    #: whose stored title is it takes `title` with no "Page title changed" (`_pdf_facts`).
    title_before: str | None = None

    @property
    def for_errors(self) -> bool:
        """Read as a page or a text only to find an error message (`file`)."""
        return self.file is not None

    def stable_text(self) -> str:
        """`text` without the noise that changes between fetches (`stable_text`)."""
        return self.stable if self.stable is not None else stable_text(self.text)

    def as_file(self) -> PageFacts:
        """The body as the file its label says, when read otherwise only to find an error
        message (`file`): its bytes' fingerprint and no title or text, or a text's."""
        if self.file is None:
            return self
        return replace(self.file, extends=self.extends)


def analyse_body(
    body: bytes,
    content_type: str | None,
    *,
    truncated: bool,
    etag: str | None = None,
    total_length: int | None = None,
    tags: int | None = None,
) -> PageFacts:
    """Facts about one response body. Never raises on malformed input.

    `tags` is `body.count(b"<")` when the caller has counted already (`fetch.read_page`
    does, to choose a thread): 2 MiB are not scanned twice.
    """
    mime = media_type(content_type)
    if _is_pdf(mime, body):
        return _pdf_facts(body, content_type, mime, truncated, etag, total_length, tags)
    if _is_html(mime, body):
        page = _html_facts(body, content_type, truncated, tags)
        if not _for_errors(mime):
            return page
        # Under another file's label (a Word file's, a spreadsheet's, a zip's) or a data
        # file's (a CSV's, JSON's): a Word or "Export to Excel" document is HTML too, read
        # as the page it is for its error message alone, the file it is otherwise.
        file = _file_facts(body, content_type, mime, truncated, etag, total_length)
        return replace(page, fingerprint=file.fingerprint, file=file)
    file = _file_facts(body, content_type, mime, truncated, etag, total_length)
    message = None if _is_text(mime, body) else _short_text(mime, body, truncated)
    if message is None:
        return file
    # A server's message under the missing file's label ("File not found.", or a download
    # script's "<h1>File not found</h1>" or "<h2>...</h2>"), read for the soft-404 rule;
    # the file's fingerprint as before (a tiny file's unchanged). A body opening with any
    # tag is read as HTML: it is read for an error message alone, so a file it may be
    # loses nothing (not only the tags browsers sniff, `_HTML_START`).
    if _A_TAG.match(body.removeprefix(codecs.BOM_UTF8).lstrip()) is not None:
        page = _html_facts(body, content_type, truncated, tags)
    else:
        page = PageFacts(None, None, message, file.fingerprint, False)
    return replace(page, fingerprint=file.fingerprint, file=file)


def _file_facts(
    body: bytes,
    content_type: str | None,
    mime: str | None,
    truncated: bool,
    etag: str | None,
    total_length: int | None,
) -> PageFacts:
    """The body as the file its label says, as it was read before bodies under a file's
    label were read for errors: a text's (a CSV's, JSON's) or its bytes' (without a PDF's
    stamps, and with its title, under a PDF's label)."""
    if _is_text(mime, body):
        text = _collapse(_decode(body, _charset_param(content_type), sniff_meta=False))
        return PageFacts(None, None, text, _hash_text(_stable_prefix(text, truncated)), False)
    # The bytes of a body under the PDF's label are hashed without a PDF's stamps, as
    # they always were.
    stamps = mime == "application/pdf"
    title = _pdf_title(body) if stamps else None
    return _binary_facts(body, truncated, etag, total_length, title=title, pdf=stamps)


def _pdf_facts(
    body: bytes,
    content_type: str | None,
    mime: str | None,
    truncated: bool,
    etag: str | None,
    total_length: int | None,
    tags: int | None,
) -> PageFacts:
    """A PDF's facts: its title, and the fingerprint its bytes had under the rule before
    the header was looked for past the first byte (`_is_pdf`), so that an unchanged PDF
    behind a prefix is no "content changed" after the upgrade: its bytes without stamps
    (under the PDF's label, or opening with the header), its bytes, or the text of the page
    or text file it was read as (`_read_before`). Read before as a page (an included HTML
    banner's), the page's title is `title_before`: the PDF's title replaces it with no
    "Page title changed" ("Agency" to "Annual Report 2019") the night after the upgrade."""
    stamps = body.startswith(b"%PDF-") or mime == "application/pdf"
    facts = _binary_facts(body, truncated, etag, total_length, title=_pdf_title(body), pdf=stamps)
    if body.startswith(b"%PDF-"):
        return facts
    before = _read_before(mime, body)
    if before == "page":
        page = _html_facts(body, content_type, truncated, tags)
        return replace(facts, fingerprint=page.fingerprint, title_before=page.title or None)
    if before == "text":  # the text file's fingerprint, as `_file_facts` gives it
        text = _file_facts(body, content_type, mime, truncated, etag, total_length)
        return replace(facts, fingerprint=text.fingerprint)
    return facts


def _read_before(mime: str | None, body: bytes) -> str | None:
    """How the release before read a body that holds a PDF past its first byte: "page"
    (under a page's label; an HTML document's opening, an included banner, under an
    untyped or a PDF's label; a tag's with no label), "text" (a text's label, or UTF-8
    with no label) or None (the file's bytes)."""
    head = body[:512]
    if mime is None:
        page = _HTML_START.match(head.lstrip()) is not None
    elif mime in _UNTYPED or mime in _PDF_TYPES:
        page = _HTML_DOCUMENT.match(head.removeprefix(codecs.BOM_UTF8).lstrip()) is not None
    else:
        page = mime in _PAGE_TYPES
    if page:
        return "page"
    if mime != "application/pdf" and _is_text(mime, body):
        return "text"
    return None


# --- HTML -----------------------------------------------------------------------------

#: What `_html_facts` reads of the tree in one search: <h1> for the heading, and the
#: elements of `_refresh` and `_login_form`.
_HEADINGS_METAS_PASSWORDS = 'h1, meta[http-equiv], input[type="password" i]'
#: Elements whose text a visitor never reads.
_INVISIBLE = ["script", "style", "noscript", "template", "iframe", "object"]
#: An inline style declaration that hides its element (`display: none !important` too, not
#: `display: none-ish` or `--x-display: none`).
_HIDING_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\s*(?:!\s*important\s*)?(?:;|$)",
    re.IGNORECASE,
)


#: Tags the HTML parser is given at most: a longer page is analysed up to its 20,000th tag,
#: as a body cut at the byte cap is. The parser's time and memory grow faster than linearly
#: with nesting and unclosed formatting tags (a hostile 2 MiB page of 16 open formatting
#: tags and short paragraphs took 1.66 GB and seconds); even long reports hold fewer tags.
MAX_PARSED_TAGS = 20_000


def _tag_capped(body: bytes, tags: int | None = None) -> bytes | None:
    """`body` up to its `MAX_PARSED_TAGS`-th tag, or None when it holds no more than that
    (`tags`: its count of "<", if known)."""
    if (body.count(b"<") if tags is None else tags) <= MAX_PARSED_TAGS:
        return None
    at = -1
    for _ in range(MAX_PARSED_TAGS + 1):
        at = body.find(b"<", at + 1)
    return body[:at]


def _html_facts(
    body: bytes, content_type: str | None, truncated: bool, tags: int | None = None
) -> PageFacts:
    capped = _tag_capped(body, tags)
    if capped is not None:
        body, truncated = capped, True
    text, utf8 = _decoded(body, _charset_param(content_type), sniff_meta=True)
    # The parser reads UTF-8 bytes: given the text, it would encode it back to `body`.
    tree = LexborHTMLParser(bytes(body) if utf8 else text)  # (`bytes` of bytes is itself)
    title_node = tree.css_first("head > title") or tree.css_first("title")
    title = _label(title_node.text()) if title_node is not None else ""
    tree.strip_tags(_INVISIBLE)
    for node in tree.css('[hidden], input[type="hidden" i], [aria-hidden="true"]'):
        node.decompose()
    heading = ""
    headings: list[LexborNode] = []
    metas: list[LexborNode] = []
    password = False
    # One walk finds the headings and what the refresh and login rules read: each search
    # walks the whole tree, and the byte searches that used to come first read the whole
    # body when they find nothing (four of them cost more than one walk).
    for node in tree.css(_HEADINGS_METAS_PASSWORDS):
        tag = node.tag
        if tag == "h1":
            if _styled_hidden(node):
                continue  # a notice a script shows when a lookup fails: no heading of the page
            headings.append(node)
            heading = heading or _label(node.text(separator=" "))
        elif tag == "meta":
            metas.append(node)
        else:
            password = True
    root = tree.body if tree.body is not None else tree.root
    marks, has_scope = _mark(root, headings) if root is not None else (0, False)
    visible = _node_text(root) if root is not None else ""
    content: str | None = None
    if marks:
        visible, stable_visible, content = _read_marks(visible, marks, has_scope)
    else:
        stable_visible = stable_text(visible)
    # A refresh is followed only if the body says so in these letters (byte searches,
    # after the walk: they read the whole body when they find nothing).
    refresh = _refresh(metas)
    if refresh is not None and b"efresh" not in body and b"EFRESH" not in body:
        refresh = None
    shell = _script_shell(tree, visible, body)
    if content is None:  # no content told from chrome: the whole page, as it always was
        stable = stable_text(title) + "\n" + _stable_prefix(stable_visible, truncated)
    else:
        stable = "\n".join(
            (stable_text(title), stable_text(heading), _stable_prefix(content, truncated))
        )
    return PageFacts(
        title or None,
        heading or None,
        visible,
        _hash_text(stable),
        True,
        refresh,
        shell,
        # A password field counts on a page that says "password" in these letters. A SAML
        # hand-off (a form posting SAMLRequest to the identity provider) is the way to a
        # login page too; a page about SAML that names the field is not.
        (b"SAMLRequest" in body and _SAML_FIELD.search(body) is not None)
        or (
            password
            and (b"assword" in body or b"ASSWORD" in body)
            and _login_form(title, heading, visible)
        ),
        stable_visible,
    )


def _styled_hidden(node: LexborNode) -> bool:
    """Whether an inline style hides `node` or an element around it (below <body>).

    Only headings ask: `[hidden]` and `aria-hidden` leave the text too, but text hidden by
    style (menus, dialogs, "Loading...") is on most pages, and taking it out of every page's
    fingerprint would call them all changed the night after an upgrade. A heading is one
    line: a "Page not found" notice shown when a script's lookup fails, first on a detail
    page, made that page a soft 404."""
    at: LexborNode | None = node
    while at is not None and at.tag not in ("body", "html"):
        style = at.attributes.get("style")
        if style and _HIDING_STYLE.search(style) is not None:
            return True
        at = at.parent
    return False


# --- the page's own content -------------------------------------------------------------
#
# A page's fingerprint answers "did what the catalog links to change?", so it covers the
# page's own content, as link checkers and web archives read it: the element the markup
# names as the main content (<main>, role="main", or the one <article>), without the
# navigation and asides in it, and without the banners, promotions, share bars and
# "related" lists that rotate from one fetch to the next, wherever they are. A page whose
# markup says nothing of the kind is hashed whole, as before. The page's `text` stays the
# whole visible text: soft-404 probes and drift compare pages as people see them.

#: Elements whose class may name chrome (ids of cookie banners too); `_CHROME_NAME`
#: decides on each. Few selectors: each costs every element of the page a test. (Ads and
#: most consent managers are put in by scripts: the HTML read holds an empty box at most.)
_NAMED = (
    ", ".join(
        f"[class*={stem} i]"
        for stem in ("cookie", "consent", "related", "promo", "shar", "sidebar", "tagline")
    )
    + ", [id*=cookie i], [id*=consent i], [class~=ad i], [class~=ads i]"
)
#: Everything `_mark` looks at, in one search; landmark roles are told apart in Python
#: (a selector per role cost more than the few elements that have a role).
_CANDIDATES = f"main, article, header, footer, nav, aside, button, [role], {_NAMED}"
#: A class or id (lower-cased) that names chrome: a cookie or consent banner, a promotion,
#: an advertisement, share buttons, a "related" list, a sidebar, a tagline (A/B tested),
#: comments. Words start at a boundary: "shareholders" is content, "unrelated" is no list.
_CHROME_NAME = re.compile(
    r"cookie|gdpr|onetrust"
    r"|consent[-_]?(?:banner|bar|notice|dialog|modal|popup|manager|sdk|box|wrapper|container)"
    # "related", "promo" and "share" name chrome alone or with a chrome word after them:
    # "related-posts", "promo-banner", "share-buttons"; not "related-work" (a section of a
    # paper), "promo-code" or "share-your-story" (content).
    r"|(?<![a-z0-9])(?:"
    r"related(?:[-_]?(?:posts?|articles?|links?|content|stories|items|reading|pages?|news))?"
    r"(?![a-z0-9_-])"
    r"|promos?(?:[-_]?(?:banner|box|block|bar|slot|area|container|wrapper))?(?![a-z0-9_-])"
    r"|promoted|promotional|advert|sponsor"
    r"|(?:share|sharing)(?:[-_]?(?:bar|buttons?|links?|icons?|tools?|this|box|widget"
    r"|container|wrapper|count))?(?![a-z0-9_-])"
    r"|social[-_]?(?:share|sharing|links|media|icons|buttons|bar)"
    r"|sidebar|tagline|comments|disqus|ads?(?![a-z0-9]))"
)
#: A button of a cookie notice that names itself nowhere ("Accept all", "Got it").
_CONSENT_BUTTON = re.compile(
    r"\b(?:accept|agree|allow|ok|okay|got it|reject|decline|deny|refuse|dismiss|close|manage"
    r"|preferences|settings|customi[sz]e|acepto|aceptar|rechazar|configurar|accepter|refuser"
    r"|continuer|paramétrer)\b",
    re.IGNORECASE,
)
#: A cookie notice is a short element: one holding more is a page about cookies.
_MAX_NOTICE_CHARS = 2000
#: Buttons followed up for a cookie notice at most (a notice has a few).
_MAX_NOTICE_BUTTONS = 40


#: Marks put around elements before the page's text is read (`_mark`): one reading of the
#: text then tells the content from the chrome, without reading each element's text again
#: (collapsing 20 KB of text costs ~0.2 ms). A control character no page shows, then a
#: letter for what it opens or closes; a page that holds the character is read whole.
_MARK = "\x02"
_SCOPE, _SCOPE_END = _MARK + "S", _MARK + "s"  # the content element
_NAMED_MARK, _NAMED_END = _MARK + "N", _MARK + "n"  # chrome by its name, wherever it is
_SIDE, _SIDE_END = _MARK + "A", _MARK + "a"  # navigation and asides
_FRAME, _FRAME_END = _MARK + "F", _MARK + "f"  # the site's header and footer
_MARK_TOKEN = re.compile(_MARK + "[SsNnAaFf]")
#: What each mark opens or closes (by the letter after `_MARK`): a counter and +1 or -1.
_MARK_STEPS = {
    "S": (0, 1),
    "s": (0, -1),
    "N": (1, 1),
    "n": (1, -1),
    "A": (2, 1),
    "a": (2, -1),
    "F": (3, 1),
    "f": (3, -1),
}
_SIDE_ROLES = ("complementary", "navigation")
_FRAME_ROLES = ("banner", "contentinfo")


def _mark(root: LexborNode, headings: list[LexborNode]) -> tuple[int, bool]:
    """Put marks around the content element and the chrome of the page: how many marks,
    and whether the page has a content element. One search finds every candidate (each
    search costs its selector's parsing and a walk over the page); `headings` are the
    page's <h1> elements."""
    mains: list[LexborNode] = []
    articles: list[LexborNode] = []
    buttons: list[LexborNode] = []
    chrome: list[tuple[LexborNode, str, str]] = []
    for node in root.css(_CANDIDATES):
        tag = node.tag
        if tag in ("html", "body"):
            continue
        attributes = node.attributes
        role = (attributes.get("role") or "").lower()
        if tag == "main" or role == "main":  # the element holding the page's content
            mains.append(node)
        elif tag == "article":
            articles.append(node)
        elif tag == "button" or role == "button":
            buttons.append(node)
        elif _CHROME_NAME.search(
            f"{attributes.get('class') or ''} {attributes.get('id') or ''}".lower()
        ):
            chrome.append((node, _NAMED_MARK, _NAMED_END))
        elif tag in ("aside", "nav") or role in _SIDE_ROLES:
            chrome.append((node, _SIDE, _SIDE_END))
        elif tag in ("header", "footer") or role in _FRAME_ROLES:
            chrome.append((node, _FRAME, _FRAME_END))
    scope = mains[0] if mains else _one_article(articles)
    marks = 0
    around: set[int] = set()  # the content element and what holds it are no chrome
    if scope is not None:
        scope.insert_before(_SCOPE)
        scope.insert_after(_SCOPE_END)
        marks += 2
        holder: LexborNode | None = scope
        while holder is not None:
            around.add(holder.mem_id)
            holder = holder.parent
    holders: set[int] | None = None  # what holds an <h1>, found once for all named chrome
    for node, opening, closing in chrome:
        if scope is None and opening != _NAMED_MARK:  # the frame counts around content only
            continue
        if node.mem_id in around:
            continue
        if opening == _NAMED_MARK:
            holders = _heading_holders(headings) if holders is None else holders
            if node.mem_id in holders:
                continue
        if opening == _SIDE and scope is not None and _inside(node, scope) and not _links(node):
            continue  # a callout in the content (a hotline's number), no list of links
        node.insert_before(opening)
        node.insert_after(closing)
        marks += 2
    for node in _cookie_notices(buttons, root):
        node.insert_before(_NAMED_MARK)
        node.insert_after(_NAMED_END)
        marks += 2
    return marks, scope is not None


def _read_marks(marked: str, marks: int, has_scope: bool) -> tuple[str, str, str | None]:
    """The visible text of a page read with `_mark`'s marks in it, its `stable_text`, and
    the `stable_text` of its own content (None when the page tells none from chrome).

    The content is what the content element holds outside named chrome, navigation and
    asides, if the element is trusted: the text outside it is mostly the site's header,
    footer, navigation and asides. Some sites put their content beside a <main> that holds
    a banner, or mark up one teaser as an <article>: then the text outside it and outside
    the chrome outweighs it, and the content is the whole page but its named chrome. Chrome
    that outweighs the content is not chrome: a wrapper named "has-share-bar" may hold the
    whole article.
    """
    parts = marked.split(_MARK)
    if len(parts) != marks + 1 or any(part[:1] not in _MARK_STEPS for part in parts[1:]):
        # The page holds marks of its own. (`str.translate` looked up every character of a
        # text with any non-ASCII character in a dict: ~35 µs per 1,000 characters.)
        visible = _collapse(marked.replace(_MARK, " "))
        return visible, stable_text(visible), None
    # Pass 1: each stretch of text and where it lies.
    depth = [0, 0, 0, 0]  # scope, named, side, frame
    stretches: list[tuple[str, int, int, int, int]] = []
    for i, part in enumerate(parts):
        if i:
            counter, step = _MARK_STEPS[part[0]]
            depth[counter] = max(0, depth[counter] + step)
            part = part[1:]
        part = part.strip()
        if part:
            stretches.append((part, depth[0], depth[1], depth[2], depth[3]))
    scope_chars = unexplained = dropped = named = 0
    for text, in_scope, in_named, in_side, in_frame in stretches:
        if in_scope:
            scope_chars += len(text)
            if in_named or in_side:
                dropped += len(text)
        elif not (in_named or in_side or in_frame):
            unexplained += len(text)
        if in_named:
            named += len(text)
    total = sum(len(text) for text, *_ in stretches)
    scoped = has_scope and scope_chars > dropped and unexplained <= scope_chars
    if scoped:
        keep = dropped * 2 < scope_chars
    else:
        keep = bool(named) and named * 2 < total
        if not keep:
            visible = " ".join(text for text, *_ in stretches)
            return visible, stable_text(visible), None

    def kept(in_scope: int, in_named: int, in_side: int) -> bool:
        if scoped:
            return bool(in_scope) and not (keep and (in_named or in_side))
        return not in_named

    # Pass 2: runs of kept or left text, each made stable once.
    runs: list[tuple[bool, list[str]]] = []
    for text, in_scope, in_named, in_side, _ in stretches:
        flag = kept(in_scope, in_named, in_side)
        if runs and runs[-1][0] == flag:
            runs[-1][1].append(text)
        else:
            runs.append((flag, [text]))
    visible_parts: list[str] = []
    whole: list[str] = []
    content: list[str] = []
    for flag, texts in runs:
        joined = " ".join(texts)
        visible_parts.append(joined)
        stable = stable_text(joined)
        if stable:
            whole.append(stable)
            if flag:
                content.append(stable)
    return " ".join(visible_parts), " ".join(whole), " ".join(content)


def _inside(node: LexborNode, scope: LexborNode) -> bool:
    """Whether `node` is within `scope` (the page's content element)."""
    holder = node.parent
    while holder is not None:
        if holder.mem_id == scope.mem_id:
            return True
        holder = holder.parent
    return False


def _links(node: LexborNode) -> bool:
    """Whether `node`'s text is mostly its links' (half or more): a related list, a table
    of contents, a menu. An aside or nav in the content holding mostly text of its own (a
    hotline's number, a note, a chapter list written out) is content: an edit there shows,
    as boilerplate detectors (Readability, boilerpipe) tell lists of links from text."""
    text = len(node.text(separator=" ").split())
    linked = sum(len(a.text(separator=" ").split()) for a in node.css("a"))
    return text == 0 or linked * 2 >= text


def _heading_holders(headings: list[LexborNode]) -> set[int]:
    """The `mem_id`s of the page's <h1> elements and of everything holding one: a layout's
    wrapper named after its sidebar ("content-sidebar-wrap") holds the content; a banner,
    promotion or list does not. (One walk up from each heading: a search of each named
    element for an <h1> cost a selector's parsing and a walk each.)"""
    holders: set[int] = set()
    for node in headings:
        holder: LexborNode | None = node
        while holder is not None and holder.mem_id not in holders:
            holders.add(holder.mem_id)
            holder = holder.parent
    return holders


def _one_article(articles: list[LexborNode]) -> LexborNode | None:
    """The page's one outermost <article> (comments in it may be articles too), or None
    when there are several (a list of posts) or none."""
    if not articles:
        return None
    first = articles[0].mem_id
    for other in articles[1:]:
        parent = other.parent
        while parent is not None and parent.mem_id != first:
            parent = parent.parent
        if parent is None:
            return None
    return articles[0]


def _cookie_notices(buttons: list[LexborNode], where: LexborNode) -> list[LexborNode]:
    """Short elements in `where` that hold a cookie notice's buttons ("Accept all", "Manage
    preferences") and say "cookie", named or not.

    Each element's text is read once, and only `_MAX_NOTICE_BUTTONS` buttons are followed
    up: a page of thousands of "OK" buttons in one big element read its text for each.
    """
    notices: list[LexborNode] = []
    seen: set[int] = set()
    followed = 0
    for button in buttons:
        label = button.text(separator=" ")
        if len(label) > 60 or not _CONSENT_BUTTON.search(label):
            continue
        followed += 1
        if followed > _MAX_NOTICE_BUTTONS:
            break
        node = button.parent
        for _ in range(4):
            if node is None or node.mem_id in seen or node.mem_id == where.mem_id:
                break
            seen.add(node.mem_id)
            text = node.text(separator=" ")
            if len(text) > _MAX_NOTICE_CHARS:
                break
            if "cookie" in text.lower():
                notices.append(node)
                break
            node = node.parent
    return notices


#: A part of a title or heading that only says "log in" ("Log in - AEquitas", "Secure
#: Logon", "Iniciar sesión | …"). A whole part: "Single sign-on for students", "Acceso a
#: la Información" or "Victim Identification Toolkit" are titles of pages, not of forms.
_LOGIN_PART = re.compile(
    r"(?:(?:member|members|user|staff|secure|account|portal|partner)\s+)?"
    r"(?:log[ -]?in|log[ -]?on|sign[ -]?in|sign[ -]?on|iniciar sesi[oó]n|inicio de sesi[oó]n"
    r"|connexion|se connecter|s'identifier|identifiez-vous|authentication required)"
    r"(?:\s+(?:page|required))?",
    re.IGNORECASE,
)
#: The SAMLRequest field of a form (bounded: see `_PASSWORD_INPUT` in classify).
_SAML_FIELD = re.compile(rb"<input\b[^>]{0,512}?\bname\s*=\s*[\"']?SAMLRequest\b", re.IGNORECASE)
#: Separators between a title's parts ("Page not found | UNICEF", "Log in - AEquitas").
_TITLE_PARTS = re.compile(r"\s+[|\-–—:·•»«~]+\s+|\s*[|·•»]\s*|::")
#: A page with a password field and at most this many words is a login page, whatever its
#: title says.
_LOGIN_PAGE_WORDS = 150


def title_parts(text: str) -> list[str]:
    """A title's parts between separators ("Page not found", "UNICEF"), empty ones left
    out: what the login and soft-404 readings of a title weigh one by one."""
    return [part for part in _TITLE_PARTS.split(text) if part.strip()]


def is_login_title(text: str) -> bool:
    """Whether a page's title or heading says "log in" in one of its parts."""
    return any(_LOGIN_PART.fullmatch(part.strip(" .")) for part in title_parts(text))


#: Characters per word of the head `words_up_to` splits first (a word and its space are
#: ~7 on average): a page's head nearly always settles the count.
_HEAD_CHARS_PER_WORD = 16


def words_up_to(text: str, limit: int) -> int:
    """`len(text.split(None, limit))`: the words of `text`, `limit` + 1 meaning "more".

    Without copying the text past its `limit`-th word, as `split` does to return it (a
    20 KB page's text, three times a page): a head of the text that holds more than
    `limit` words already says so, and only a head that holds fewer is split whole."""
    head = text[: _HEAD_CHARS_PER_WORD * (limit + 1)]
    count = len(head.split(None, limit))
    if count > limit or len(head) == len(text):
        return count  # a head's words are the text's (its last may be cut short)
    return len(text.split(None, limit))


def _login_form(title: str, heading: str, visible: str) -> bool:
    """Whether a page with a visible password field (hidden dialogs and templates are gone
    from the tree searched) is about logging in: a sidebar's login box on every page of a
    site does not make each of them a login page."""
    if is_login_title(title) or is_login_title(heading):
        return True
    return words_up_to(visible, _LOGIN_PAGE_WORDS) <= _LOGIN_PAGE_WORDS


#: Characters of a refresh's content kept (a URL and a delay).
_MAX_REFRESH = 2048


def _refresh(metas: list[LexborNode]) -> str | None:
    """The content of the first `<meta http-equiv="refresh">` of `metas` (the page's
    `meta[http-equiv]`), the one browsers follow; one inside <noscript> (gone by now) is
    for browsers without scripts only."""
    for node in metas:
        if (node.attributes.get("http-equiv") or "").strip().lower() == "refresh":
            return without_controls(node.attributes.get("content") or "")[:_MAX_REFRESH]
    return None


#: A page with more visible words than this is no script shell, whatever builds the rest.
_SHELL_WORDS = 60
#: Elements single-page-app frameworks render into (React, Vue, Next, Nuxt, Gatsby,
#: Svelte, Angular).
_MOUNTS = (
    "#root, #app, #__next, #__nuxt, #___gatsby, #svelte, app-root, [data-reactroot], "
    "[ng-app], [ng-version]"
)


def _script_shell(tree: LexborHTMLParser, visible: str, body: bytes) -> bool:
    """Whether the page is a script-built app's shell: few visible words (a footer the
    server renders is allowed), a script, and elements to render into that each hold at
    most a "Loading...". One that holds text the server rendered ("Sorry, the item could
    not be found", beside an empty widget's `#app`) is a page to judge as any other."""
    if words_up_to(visible, _SHELL_WORDS) > _SHELL_WORDS:
        return False  # first: the byte searches read a body without scripts whole
    if b"<script" not in body and b"<SCRIPT" not in body:
        return False
    # `<body ng-app>` holds the whole page, footer and all: the mounts are the others.
    mounts = [node for node in tree.css(_MOUNTS) if node.tag not in ("html", "body")]
    return bool(mounts) and all(
        len(_MARK_TOKEN.sub(" ", node.text(separator=" ")).split()) <= 3 for node in mounts
    )


def _node_text(node: LexborNode) -> str:
    return _collapse(node.text(separator=" "))


def reads_as_html(content_type: str | None, body: bytes) -> bool:
    """Whether `analyse_body` reads `body` as an HTML page (a PDF never is)."""
    return _is_html(media_type(content_type), body)


def _is_html(mime: str | None, body: bytes) -> bool:
    if _is_pdf(mime, body):
        return False
    if mime in _PAGE_TYPES:
        return True
    if mime is None:
        return _HTML_START.match(body[:512].lstrip()) is not None
    if mime == OPAQUE_TYPE or (_for_errors(mime) and len(body) > _ERROR_PAGE_BYTES):
        return False
    # Under a label that says nothing of the file, or a file's own (a PDF's, a zip's, an
    # image's, a CSV's, which an error page keeps from the missing file): only a whole
    # document's opening, which no file of those opens with; a text file that starts with
    # a tag stays text.
    return _HTML_DOCUMENT.match(body[:512].removeprefix(codecs.BOM_UTF8).lstrip()) is not None


def _for_errors(mime: str | None) -> bool:
    """Whether an HTML body under `mime` is read only to find an error message there
    (`PageFacts.file`): under a file's label (not a PDF's, under which it is the page it
    is since migration 0024) or a text's (a CSV's, JSON's: an IIS "Page Not Found" keeps
    the missing file's type); not under a page's or an untyped label, or none."""
    return not (mime is None or mime in _PAGE_TYPES or mime in _UNTYPED or mime in _PDF_TYPES)


#: Bytes of a body read for errors alone (`_for_errors`) that are parsed at most: an IIS,
#: Apache, nginx or SharePoint error page is a few KiB to a few tens; a longer body is the
#: file its label says (a 2 MiB "Export to Excel" table), hashed as before, not parsed to
#: 20,000 tags (~20 times the cost) nor worth a soft-404 probe of its host.
_ERROR_PAGE_BYTES = 64 * 1024


_PAGE_TYPES = ("text/html", "application/xhtml+xml")
#: A PDF's labels: a body opening as an HTML document under them is the page it is (since
#: migration 0024), as under an untyped label; under another file's, it is read for its
#: error message alone (`PageFacts.for_errors`): a Word or Excel document may be HTML.
_PDF_TYPES = ("application/pdf", "application/x-pdf")
#: The type a body in a coding we cannot undo is read as (`fetch.page_facts`): bytes,
#: whatever they begin with.
OPAQUE_TYPE = "application/x-undecoded"
#: PDF readers (Acrobat, pdf.js, PDFBox) look for the "%PDF-" header in a file's first
#: 1024 bytes: what a server put in front (a blank line, a PHP notice, an included HTML
#: banner) does not stop them opening it.
_PDF_HEADER_WITHIN = 1024
#: A control character no text holds, before a PDF's header: the bytes of another file
#: that holds a PDF (a zip's entry header), not a prefix a server wrote.
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")


def _is_pdf(mime: str | None, body: bytes) -> bool:
    """Whether `body` is a PDF: its header in the first 1024 bytes, after white space and
    a byte-order mark at most, or after any text but under no text's or page's label (a
    text or page that names "%PDF-" is not one)."""
    at = body.find(b"%PDF-", 0, _PDF_HEADER_WITHIN)
    if at <= 0:
        return at == 0
    lead = body[:at]
    if not lead.removeprefix(codecs.BOM_UTF8).strip():
        return True
    if mime in _PAGE_TYPES or (mime is not None and _is_text(mime, body)):
        return False
    return _CONTROL.search(lead) is None


#: Types a misconfigured server labels any file with: a "Page Not Found" page served so
#: was "OK" (r3 #9), a missing resource all the same. Browsers sniff the last three for
#: HTML (WHATWG MIME sniffing); text/plain and octet-stream they show as text or download.
_UNTYPED = frozenset(
    {
        "text/plain",
        "application/octet-stream",
        "binary/octet-stream",  # S3's default for an object uploaded without a type
        "application/unknown",
        "unknown/unknown",
        "*/*",
    }
)
#: The opening of an HTML document, by which a body under an `_UNTYPED` label or a file's
#: (which an error page keeps from the missing file it answers for, on IIS and SharePoint
#: sites and CDNs: a PDF report's address answering 200 `application/pdf` with an HTML
#: "Page not found" was read as the PDF's bytes, "OK"; a Word file's, a zip's or an
#: image's the same) is HTML: "<!doctype html" or "<html", after an XHTML page's XML
#: declaration and comments, if any (an XHTML "Page not found" opening
#: `<?xml version="1.0"?>` was read as a PDF's bytes). Only within the first 512 bytes
#: (`_is_html`); no file opens so (a PDF with "%PDF-", a zip with "PK", an image with its
#: signature).
_HTML_DOCUMENT = re.compile(
    rb"(?:<\?xml\s[^<>]*\?>\s*)?(?:<!--(?:(?!-->)[\s\S])*-->\s*)*<(?:!doctype\s+html|html)[\s>]",
    re.IGNORECASE,
)


#: The WHATWG MIME sniffing signatures for HTML: these tags opening a body mean HTML.
_HTML_START = re.compile(
    rb"<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    rb"|meta|link|!--)[\s>]",
    re.IGNORECASE,
)


#: Any tag opening a body, by which a short body read for errors alone (`_short_text`) is
#: read as HTML: "<h2>File not found</h2>" as well as the sniffed "<h1>" (`_HTML_START`).
_A_TAG = re.compile(rb"<(?:!--|!doctype\s|[a-z][a-z0-9]*[\s/>])", re.IGNORECASE)


_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "text/")


def _is_text(mime: str | None, body: bytes) -> bool:
    if mime is None:  # no Content-Type: text if it looks like UTF-8 without NULs
        head = body[:2048]
        if b"\x00" in head:
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start >= len(head) - 3  # a character cut by the slice
        return True
    return mime.startswith(_TEXT_TYPES) or mime.endswith(("+json", "+xml"))


#: Bytes of a body under a file's label that may be a server's message instead of the
#: file ("File not found.", "404 Not Found"); only so short a body is decoded to see.
_MESSAGE_BYTES = 1024
#: How files that could pass for short text open (most others hold a NUL or a byte that
#: is no UTF-8 in their first bytes): zip (and docx, xlsx, epub), PNG, GIF, JPEG, the
#: compound file of .doc and .xls, RTF, PostScript, gzip, BMP, RIFF (WebP, WAV), Ogg, MP3.
_MAGIC = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\xd0\xcf\x11\xe0",
    b"{\\rtf",
    b"%!",
    b"\x1f\x8b",
    b"BM",
    b"RIFF",
    b"OggS",
    b"ID3",
)
#: A character no text holds: a control character other than white space.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _short_text(mime: str | None, body: bytes, truncated: bool) -> str | None:
    """The text of a short body in UTF-8, with letters and no control character, under a
    file's label (not one of a coding we cannot undo), or None.

    A server that keeps a missing file's type answers with its message under it: read as
    the file's bytes, "File not found." under `application/pdf` was "OK". Only the first
    bytes are looked at: a body longer than `_MESSAGE_BYTES` is a file, never decoded.
    """
    if mime is None or mime == OPAQUE_TYPE or truncated or len(body) > _MESSAGE_BYTES:
        return None
    if body.startswith(_MAGIC):
        return None
    try:
        text = body.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _NOT_TEXT.search(text) is not None or not any(ch.isalpha() for ch in text):
        return None
    return _collapse(text)


# --- decoding -------------------------------------------------------------------------

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _charset_param(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET_PARAM.search(content_type)
    return match.group(1) if match else None


def decoded_html(body: bytes, content_type: str | None) -> str:
    """An HTML body's text as the page's analysis decodes it (`_html_facts`), for a rule
    that must read the markup itself (`classify._skeleton`)."""
    return _decode(body, _charset_param(content_type), sniff_meta=True)


def _decode(body: bytes, declared: str | None, *, sniff_meta: bool) -> str:
    """Byte-order mark, then the header's charset, then <meta charset>, then UTF-8 or,
    for bytes that are no UTF-8 at all, windows-1252 (`_undeclared`)."""
    return _decoded(body, declared, sniff_meta=sniff_meta)[0]


def _decoded(body: bytes, declared: str | None, *, sniff_meta: bool) -> tuple[str, bool]:
    """`_decode`'s text, and whether `body` is exactly that text in UTF-8 (read as UTF-8,
    without a byte-order mark or a byte that is no UTF-8)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace"), False
    candidates = [declared]
    if sniff_meta:
        match = META_CHARSET.search(body[:4096])
        candidates.append(match.group(1).decode("ascii", "replace") if match else None)
    for label in candidates:
        name = charset_codec(label)
        if name:
            text = body.decode(name, errors="replace")
            # A U+FFFD may be the page's own (then the text is passed on, as it was).
            return text, name == "utf-8" and "\ufffd" not in text
    return _undeclared(body)


def _undeclared(body: bytes) -> tuple[str, bool]:
    """A body that names no charset: UTF-8 when it is (a character cut at the byte cap or
    a stray byte aside), else windows-1252, the fallback of browsers in Western locales
    (WHATWG), which old pages in Spanish or French rely on without saying so. And whether
    `body` is exactly the text's UTF-8 (as `_decoded`)."""
    utf16 = _utf16(body)
    if utf16 is not None:
        return body.decode(utf16, errors="replace"), False
    try:
        return body.decode("utf-8"), True
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="replace")
    if text.replace("\ufffd", "").isascii() and _latin(body):  # no UTF-8 beyond ASCII
        return body.decode("cp1252", errors="replace"), False
    return text, False


def _utf16(body: bytes) -> str | None:
    """The UTF-16 codec of a body without a byte-order mark, told by its first eight
    characters being ASCII with a NUL byte beside each (markup and white space open a
    page), or None. Read as UTF-8, a "Page Not Found" page so encoded had no title: "OK"
    (r3 #9)."""
    if len(body) < 16 or (body[0] and body[1]):  # no NUL in the first two bytes: no UTF-16
        return None
    head = body[:16]
    low, high = head[0::2], head[1::2]
    if high == bytes(len(high)) and low.isascii() and b"\x00" not in low:
        return "utf-16-le"
    if low == bytes(len(low)) and high.isascii() and b"\x00" not in high:
        return "utf-16-be"
    return None


#: Bytes beyond ASCII three or more in a row: whole words of another script's encoding.
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3,}")
_HIGH_BYTES = bytes(range(0x80, 0x100))


def _latin(body: bytes) -> bool:
    """Whether the bytes beyond ASCII sit among ASCII letters, as a Western language's
    accented letters do ("café", "ações"), rather than making up whole words (windows-1251
    Russian, Shift_JIS): windows-1252 would read those as Latin-looking words ("Ðóêîâîäñòâî")
    that count as the page's text, which then shares nothing with its entry (drift)."""
    high = len(body) - len(body.translate(None, _HIGH_BYTES))
    in_runs = sum(len(run) for run in _HIGH_RUN.findall(body))
    return in_runs * 2 < high


# --- normalization --------------------------------------------------------------------


def _collapse(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


#: Characters of a title or heading kept: no real one is longer, and a hostile 1.5 MB
#: <title> was stored whole on every observation and printed on the resource's page.
MAX_LABEL_CHARS = 500


def _label(text: str) -> str:
    """A title or heading: collapsed, without control characters, at most `MAX_LABEL_CHARS`.
    Titles end up in terminals (`linkhealth resource` prints the drift reason that quotes
    one) and in the database, where an escape sequence would act and a NUL is refused
    (PostgreSQL); no reader sees either on a page. (The page text is only hashed, compared
    and stored packed, and 2 MiB of it are not worth another pass.)"""
    # Only a bounded head is cleaned: the rest would be cut off anyway.
    label = _collapse(without_controls(text[: MAX_LABEL_CHARS * 8]))
    if len(label) <= MAX_LABEL_CHARS:
        return label
    cut = label[: MAX_LABEL_CHARS - 1]
    space = cut.rfind(" ")
    if space > MAX_LABEL_CHARS // 2:  # at a word, unless that loses half of it
        cut = cut[:space]
    return cut.rstrip() + "…"


def _wordlist(text: str) -> list[str]:
    return text.split()


# Patterns below run on lower-cased text with a space in front of every word, and each
# starts with that space, so `re` jumps from space to space. Keyword patterns are grouped
# by first letter (`_by_first_letter`) so each word costs a test or two, not one per
# keyword: a 2 MiB page takes tens of milliseconds, not hundreds.
_MONTHS = _wordlist(
    "january jan february feb march mar april apr may june jun july jul august aug "
    "september sept sep october oct november nov december dec "
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre "
    "noviembre diciembre janvier février fevrier mars avril mai juin juillet août aout "
    "septembre octobre novembre décembre decembre"
)
#: Weekday names go wherever they stand ("Today is Monday"); abbreviations only before a date.
_WEEKDAYS = _wordlist(
    "monday tuesday wednesday thursday friday saturday sunday lunes martes miércoles "
    "miercoles jueves viernes sábado sabado domingo lundi mardi mercredi jeudi vendredi "
    "samedi dimanche"
)
_WEEKDAY_ABBREVIATIONS = _wordlist("mon tue tues wed thu thur thurs fri sat sun")
_LABELS = _wordlist(
    "csrf xsrf authenticity nonce session sid jsessionid phpsessid request trace "
    "correlation ray reference incident token"
)
_COUNTED = [
    *_wordlist(
        "views view visits visit visitors visitor reads read hits hit downloads download "
        "comments comment likes like shares share vistas vista visitas visita visualizaciones "
        "visitantes visitante lecturas lectura descargas descarga comentarios comentario vues "
        "vue visites visite visiteurs visiteur téléchargements téléchargement telechargements "
        "commentaires commentaire pageviews pageview"
    ),
    "page views",
    "page view",
]
#: Counted words a bare number may follow ("Views 1234"): nouns only, never a verb before
#: a count ("visits 3 museums", "reads 2 books", "hits 5 states" are the page's words).
_COUNTED_BARE = ["views", "pageviews", "page views", "visualizaciones"]
#: "This page has been viewed 100,181 times", "descargado 12 veces", "vu 12 fois"; "read
#: 3 times" or "visited 3 times" may be the text's own.
_COUNTED_TIMES = {
    r"times?\b": ["viewed", "downloaded"],
    r"(?:veces|vez)\b": ["visto", "descargado"],
    r"fois\b": ["vu", "téléchargé", "telecharge"],
}
_DAY = r"\d\d?(?:st|nd|rd|th|º|°|er)?"
_TIME = (
    r"\d\d?:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[ap]\.?\s?m\b\.?)?"
    r"(?:\s?(?:z\b|utc|gmt|[ecmp][sd]t\b|ces?t\b|[+-]\d{2}:?\d{2}))?"
)
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_COUNTED_WORD = "(?:" + "|".join(sorted(_COUNTED, key=len, reverse=True)) + ")"
_UNITS_EN = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
_UNITS_ES = r"(?:segundos?|minutos?|horas?|d[íi]as?|semanas?|mes(?:es)?|años?)"
_UNITS_FR = r"(?:secondes?|minutes?|heures?|jours?|semaines?|mois|ans?)"
#: How long the server took: "generated in 0.042 seconds", "generada en 0,04 segundos",
#: "in 0.04s". A bare "s" only after a fraction: "fashion in 1990s" is a decade, not noise.
_SERVER_TIME = (
    r"(?:\d[\d.,]*\s?(?:ms|milliseconds?|milisegundos?|millisecondes?|seconds?|secs?|segundos?"
    r"|secondes?)|\d+[.,]\d+\s?s)\b"
)
#: "Visitors today: 312", "visitor number 48213", "Visitor count: 1234", "visitante número
#: 48213", and a share button's count: "Share (12)" (its bracket a space by now). "count"
#: only after a counted word: "Death count: 1,234" is the page's own.
_COUNTED_LABEL = (
    r"(?:(?:\s+(?:today|this month|online|count|counter|total|hoy|este mes|aujourd hui"
    r"|ce mois|en ligne))?\s*"
    r"(?:[:#]|(?:number|no\.?|n[º°o]\.?|número|numero|numéro)\s*[:#]?)\s*\d[\d.,]*"
    r"|\s+\d[\d.,]*[km]?\))"
)
#: "12 people online", "7 users online", "3 online", "15 personas en línea".
_ONLINE = (
    r"\d[\d.,]*\s+(?:(?:people|users|members|guests|readers|personas|usuarios|personnes"
    r"|membres|utilisateurs)\s+(?:are\s+|están\s+|sont\s+)?)?"
    r"(?:online|en\s+l[íi]nea|en\s+ligne|connected|conectados|connectés)\b"
)
#: What a clock on the page says of now, in words: "yesterday", "just now", "an hour ago".
#: Few words: each adds a test to every word of its first letter.
_RELATIVE_DAYS = ["yesterday", "today", "tomorrow", "just now"]
#: "an hour ago", "a few seconds ago": apart from `_VOLATILE`, and only for a text that
#: says " ago" (in `_VOLATILE`, "a" and "an" tested every word of the page twice as long).
_AN_HOUR_AGO = re.compile(rf" (?:an?|a few) {_UNITS_EN} ago\b")
#: A countdown: "Conference starts in 23 days" ("Apply in 30 days" is a deadline).
_COUNTDOWN = "|".join(
    f"(?<= {verb} in)" for verb in ("starts", "begins", "ends", "closes", "opens")
)


def _by_first_letter(families: list[tuple[list[str], str]]) -> str:
    """One alternation whose branches each start with a literal letter, which `re` can
    reject in one step; a branch holds every family's words for that letter and each
    family's own continuation (`suffix`)."""
    branches: dict[str, list[str]] = {}
    for words, suffix in families:
        rests: dict[str, list[str]] = {}
        for word in words:
            rests.setdefault(word[0], []).append(word[1:])
        for first, tails in rests.items():
            tails = sorted(set(tails), key=len, reverse=True)  # "march" before "mar"
            branches.setdefault(first, []).append(
                "(?:" + "|".join(re.escape(t) for t in tails) + ")" + suffix
            )
    return "|".join(
        re.escape(first) + "(?:" + "|".join(alts) + ")" for first, alts in branches.items()
    )


#: Noise that changes between two fetches of an unchanged page. Order matters: longer
#: forms (ISO date-times, full dates) before their parts (times, bare numbers).
_VOLATILE = re.compile(
    # Each branch spells its first character out (\d\d? for \d{1,2}, [0-9a-f][0-9a-f]{7}):
    # `re` skips a branch that opens with a plain character test in one step, and factors
    # a first \d shared by every form of the group out of it.
    r" (?:(?:"  # all start with \d, which `re` factors out: one test skips them all
    + "|".join(
        [
            rf"\d\d{{3}}-\d{{2}}-\d{{2}}(?:[t\s]{_TIME})?",  # ISO 8601
            # 28 de noviembre de 2026, 28 Nov 2026; 28-Nov-2026 (Apache's file listings, SSI)
            rf"{_DAY}(?:\s+(?:de\s+)?{_MONTH},?\s+(?:de\s+|del\s+)?|-{_MONTH}-)\d{{4}}\b",
            r"\d\d?[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b",
            r"\d\d{3}/\d{1,2}/\d{1,2}\b",
            _TIME,
            rf"\d\d*\s+{_UNITS_EN}\s+(?:ago|left|to\s+go|remaining)\b",  # and countdowns
            _ONLINE,
            # "1,234 views", "1.2k downloads", "the 48,213th visitor"
            rf"\d\d*(?:[.,\u00a0\u202f]\d{{3}})*(?:[.,]\d+)?\s?(?:[km]|st|nd|rd|th|e)?"
            rf"\s+{_COUNTED_WORD}\b",
            r"\d(?<=1)[5-9]\d{8}(?:\d{3})?\b",  # Unix epoch seconds or milliseconds, 2017-2033
        ]
    )
    + r")|©\s*(?:\d{4}\s*[-–]\s*)?\d{4}"  # rolls over every January
    + r"|[0-9a-f][0-9a-f]{7}(?:-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{8,})\b|"
    # ^ UUIDs and hex digests and ids of 16+ digits
    + _by_first_letter(
        [
            (_WEEKDAYS, r"\b"),
            # "Mon, 28 Nov 2026"; ctime's "Thu Feb 4 02:05:11 2027" ("the sun may 5" stays)
            (_WEEKDAY_ABBREVIATIONS, rf"\.?,?(?= \d| {_MONTH}\s+\d\d?,?\s+\d)"),
            (
                _MONTHS,  # Nov 28, 2026; Nov 28; noviembre de 2026; Feb 4 02:05:11 UTC 2027
                rf"\.?\s+(?:{_DAY}(?:,?\s+\d{{4}})?(?:,?\s+(?:at\s+)?{_TIME}(?:\s+\d{{4}})?)?"
                rf"|(?:de\s+|del\s+)?\d{{4}})\b",
            ),
            (  # "Reference #18.4f1d", "nonce: x", "Session ID: 7f3a"
                _LABELS,
                r"(?:[\s_-]?(?:token|id|key|number|no\.?|code))?\s*(?:[:=#]|is\b)\s*#?\s*\S+",
            ),
            (["hace"], rf"\s+(?:\d+|una?|unos|unas|pocos|algunos)\s+{_UNITS_ES}\b"),
            (["il y a"], rf"\s+(?:\d+|une?|quelques)\s+{_UNITS_FR}\b"),
            (_RELATIVE_DAYS, r"\b"),
            (["in"], rf"(?:{_COUNTDOWN})\s+\d+\s+{_UNITS_EN}\b"),
            (_COUNTED, _COUNTED_LABEL),  # "Views: 1234", "visitor number 48213"
            (_COUNTED_BARE, r"\s+\d[\d.,]*\b"),  # "Views 1234"
            *((words, rf"\s+\d[\d.,]*\s+{unit}") for unit, words in _COUNTED_TIMES.items()),
            # "Page generated in 0.042 seconds.", "Rendered in 38 ms by web-03."
            (["in", "en"], rf"\s+{_SERVER_TIME}(?:\s+(?:by|on|por|en|par|sur)\s+\S+)?"),
            (["copyright"], r"\s*(?:\d{4}\s*[-–]\s*)?\d{4}"),
        ]
    )
    + ")"
)
#: Opening brackets and quotes become spaces so that "(2026-11-28)" starts a word.
_OPENERS = "([{\"'¿¡«“‘"
#: Cache-busting and session query strings of URLs printed in the text ("a.css?v=123").
_QUERY = re.compile(r"\?[\w%.~+-]+=[^\s#]*")
#: Candidates for opaque tokens (base64, base64url, JWT pieces) of 16+ characters.
_TOKENISH = re.compile(r"[A-Za-z0-9+/_.=-]{16,}")
_LOWER_UPPER = re.compile(r"[a-z][A-Z]")
_TOKEN_PARTS = re.compile(r"[-./]")
#: `_TOKENISH`'s characters (all ASCII) become \x01 in the UTF-8 bytes of a text and every
#: other byte \x00 (a \x01 of the text itself passed for one of them), so a run of 16 of
#: them is a substring test.
_TOKEN_ASCII = (string.ascii_letters + string.digits + "+/_.=-").encode()
_TOKEN_BYTES = bytes(1 if b in _TOKEN_ASCII else 0 for b in range(256))
_TOKEN_RUN = b"\x01" * 16


def _may_hold_token(text: str) -> bool:
    """True exactly when `_TOKENISH` matches somewhere in `text` (most pages: nowhere).

    `_TOKENISH.sub` tries a match at every character and costs about as much as the rest
    of `stable_text`; encoding plus `bytes.translate` is one C loop over a 256-byte table,
    for ASCII and other text alike (`str.translate` is that fast for ASCII text only).
    """
    return _TOKEN_RUN in text.encode("utf-8", "surrogatepass").translate(_TOKEN_BYTES)


def _openers_to_spaces(text: str) -> str:
    """`text` with each of `_OPENERS` replaced by a space.

    Not `str.translate`: for text with one non-ASCII character (a "©", an "é", a curly
    quote: most real pages) it looks every character up in a dict, ~1.2 ms for a 25 KB
    page; a search per opener is ~50 times cheaper.
    """
    for opener in _OPENERS:
        if opener in text:
            text = text.replace(opener, " ")
    return text


def _opaque(match: re.Match[str]) -> str:
    token = match.group(0)
    core = token.strip(".-_/=")
    if any(c.isdigit() for c in core) and any(c.isalpha() for c in core):
        # "COVID-19-related-guidance" or "2019-2020" are words, not tokens.
        if all(p.isalpha() or p.isdigit() for p in _TOKEN_PARTS.split(core) if p):
            return token
        return " "
    if len(_LOWER_UPPER.findall(core)) >= 3:  # "aZxQvBmnTpLk..." random mixed case
        return " "
    return token


def stable_text(text: str) -> str:
    """`text` without the noise that changes between fetches of an unchanged page.

    `text` is whitespace-collapsed (as in `PageFacts`). The result is lower-cased and
    without opening brackets or quotes: it is for hashing and comparing, never for people.
    """
    if _may_hold_token(text):
        text = _TOKENISH.sub(_opaque, text)  # before lower-casing: mixed case is a signal
    text = _QUERY.sub(" ", text).replace("(c)", "©").replace("(C)", "©")
    text = " " + _openers_to_spaces(text.lower()) + " "
    if " ago" in text:
        text = _AN_HOUR_AGO.sub(" ", text)
    return _SPACES.sub(" ", _VOLATILE.sub(" ", text)).strip()


_SPACES = re.compile("  +")  # the input has single spaces; removals leave doubles


#: Text kept of a truncated body is rounded down to a multiple of this many characters.
_TRUNCATED_QUANTUM = 2048


def _stable_prefix(text: str, truncated: bool) -> str:
    """A prefix of a truncated text that survives small shifts of where the cap fell.

    When a body is cut at the byte cap, a token earlier in the page that grows or
    shrinks moves the cut, so the last words differ between two fetches of the same
    page. Hashing only whole 2 KiB blocks of text makes that rare (a shift of d
    characters changes the hash with probability ~ d / 2048) while any change in the
    text we keep still shows.
    """
    if not truncated:
        return text
    if len(text) >= _TRUNCATED_QUANTUM:
        return text[: len(text) - len(text) % _TRUNCATED_QUANTUM]
    return text.rsplit(" ", 1)[0]  # the last word may be cut


def _hash_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- binaries -------------------------------------------------------------------------


def _binary_facts(
    body: bytes,
    truncated: bool,
    etag: str | None,
    total_length: int | None,
    *,
    title: str | None,
    pdf: bool = False,
) -> PageFacts:
    digest = hashlib.sha256(_without_pdf_stamps(body) if pdf else body)
    if truncated:
        # We read only the first part of the file, and PDFs are often updated by appending
        # (incremental saves), so a change past the cap would not move the hash of what we
        # read. The server's ETag and full length do see the whole file, so they go in too.
        combined = hashlib.sha256()
        for piece in (b"truncated", (etag or "").encode(), str(total_length or "").encode()):
            combined.update(piece + b"\x00")
        combined.update(digest.digest())
        digest = combined
    return PageFacts(title, None, "", "sha256:" + digest.hexdigest(), False)


#: What a PDF made anew on each download stamps it with, though its pages are the same:
#: the document-info dates, the trailer's file /ID, and the XMP metadata's dates and ids.
#: Each value is bounded (a date is ~25 bytes, an id 16 bytes in hex), so a hostile body
#: costs one linear pass; a stamp past its bound stays in the hash.
_PDF_STRING = rb"(?:\((?:[^()\\]|\\[\s\S]){0,120}\)|<[0-9A-Fa-f\s]{0,260}>)"
#: Each expression starts with a literal, between whose occurrences `re` jumps: ~1.5 ms
#: for 3 MB each (one expression of alternatives, tried at every offset, took 146 ms).
_INFO_STAMPS = re.compile(
    rb"/(?:((?:CreationDate|ModDate)\s*)"
    + _PDF_STRING
    + rb"|(ID\s*\[\s*)"
    + _PDF_STRING
    + rb"\s*"
    + _PDF_STRING
    + rb"(\s*\]))"
)
_XMP_STAMPS = re.compile(
    rb"xmp(:(?:CreateDate|ModifyDate|MetadataDate)|MM:(?:DocumentID|InstanceID))"
    rb"(?:(>)[^<]{0,200}(</xmp\1>)|(\s*=\s*)(?:\"[^\"]{0,200}\"|'[^']{0,200}'))"
)


def _blank_info(match: re.Match[bytes]) -> bytes:
    """/CreationDate or /ID [ ], without the value."""
    return b"/" + b"".join(group for group in match.groups() if group is not None)


def _blank_xmp(match: re.Match[bytes]) -> bytes:
    """xmp:ModifyDate></xmp:ModifyDate> or xmpMM:DocumentID=, without the value."""
    name, opened, closed, equals = match.groups()
    return b"xmp" + name + (opened + closed if opened else equals)


def _without_pdf_stamps(body: bytes) -> bytes:
    """A PDF's bytes with its creation stamps blanked: a report the site renders on each
    request (wkhtmltopdf, a CMS's "export to PDF") keeps its fingerprint, while other text,
    pages or an edition's new title still change it. Offsets in the cross-reference table
    move only when a stamp changes length, which a generator's fixed-width dates and ids
    do not."""
    return _XMP_STAMPS.sub(_blank_xmp, _INFO_STAMPS.sub(_blank_info, body))


_PDF_TITLE = re.compile(rb"/Title\s*([(<])")
_PDF_INFO_KEYS = (b"/Producer", b"/Creator", b"/CreationDate", b"/ModDate", b"/Author")
#: The title text stops at the next "<" (XML text holds none): with `.*?` each "<dc:title>"
#: that never closed was read to the end of the body, time quadratic in its size.
_XMP_TITLE = re.compile(
    rb"<dc:title>\s*<rdf:Alt>\s*<rdf:li[^<>]{0,200}>([^<]*)</rdf:li>", re.IGNORECASE
)
#: Dictionaries with a /Title and a document-info key read before giving up (see _pdf_title).
_PDF_INFO_TRIES = 8
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _pdf_title(body: bytes) -> str | None:
    """The document-info /Title when it is stored uncompressed, else the XMP dc:title.

    Outline entries also carry /Title, so only a /Title whose dictionary also holds a
    document-info key (/Producer, /Author ...) counts. Titles inside compressed object
    streams are not worth inflating the file for: None.

    A file has one document-info dictionary; after `_PDF_INFO_TRIES` that look like one
    and hold no readable title, the search stops (a body of 2 MiB made of nothing else,
    each opening a string that never closes, took minutes of the shared event loop).
    """
    tries = _PDF_INFO_TRIES
    for match in _PDF_TITLE.finditer(body):
        opened = body.rfind(b"<<", max(0, match.start() - 2000), match.start())
        closed = body.find(b">>", match.end(), match.end() + 4000)
        window = body[opened:closed] if opened >= 0 and closed >= 0 else b""
        if not any(key in window for key in _PDF_INFO_KEYS):
            continue
        if tries == 0:
            break
        tries -= 1
        raw = _pdf_string(body, match.end(1) - 1)
        title = _label(_pdf_text(raw)) if raw is not None else ""
        if title:
            return title
    xmp = _XMP_TITLE.search(body)
    if xmp:
        title = _label(html.unescape(xmp.group(1).decode("utf-8", "replace")))
        return title or None
    return None


def _pdf_string(body: bytes, start: int) -> bytes | None:
    """The bytes of the PDF literal `( ... )` or hex `< ... >` string at `start`."""
    if body[start : start + 1] == b"<":
        end = body.find(b">", start)
        if end < 0:
            return None
        hexdigits = re.sub(rb"[^0-9A-Fa-f]", b"", body[start + 1 : end])
        return bytes.fromhex((hexdigits + b"0" * (len(hexdigits) % 2)).decode())
    out = bytearray()
    depth, i = 0, start
    while i < len(body) and i - start < 4096:
        ch = body[i : i + 1]
        if ch == b"\\":
            nxt = body[i + 1 : i + 2]
            octal = re.match(rb"[0-7]{1,3}", body[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            out += _PDF_ESCAPES.get(nxt, b"" if nxt in (b"\r", b"\n") else nxt)
            i += 2
            continue
        if ch == b"(":
            depth += 1
            if depth > 1:
                out += ch
        elif ch == b")":
            depth -= 1
            if depth == 0:
                return bytes(out)
            out += ch
        else:
            out += ch
        i += 1
    return None


def _pdf_text(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF16_BE):
        return raw[2:].decode("utf-16-be", "replace")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", "replace")
    return raw.decode("cp1252", "replace")  # close enough to PDFDocEncoding for titles


# --- similarity -----------------------------------------------------------------------

_WORD_EDGES = ".,;:!?¡¿\"'()[]{}«»“”‘’"


def _words(text: str) -> list[str]:
    words = (w.strip(_WORD_EDGES) for w in text.lower().split())
    return [w for w in words if w]


class Words:
    """A text's words for `similarity`, and their shingle sets, each built once: a text
    compared with many (a soft-404 probe, with every page of its host) is split once."""

    __slots__ = ("_shingles", "words")

    def __init__(self, text: str) -> None:
        self.words = _words(text)
        self._shingles: dict[int, set[str]] = {}

    def shingles(self, k: int) -> set[str]:
        """The distinct runs of `k` words."""
        found = self._shingles.get(k)
        if found is None:
            words = self.words
            found = {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}
            self._shingles[k] = found
        return found


def similarity(a: str | Words, b: str | Words) -> float:
    """Jaccard similarity of word shingles, 0.0 (nothing shared) to 1.0 (same words).

    Shingles are longer for longer texts: single words on short pages (so one echoed
    path in a 20-word error page barely matters), word triples on long ones (so two
    articles sharing a vocabulary are not "the same"). Linear time; fine on 100 KB.
    """
    wa = a if isinstance(a, Words) else Words(a)
    wb = b if isinstance(b, Words) else Words(b)
    if not wa.words and not wb.words:
        return 1.0
    if not wa.words or not wb.words:
        return 0.0
    k = _shingle_size(wa, wb)
    sa, sb = wa.shingles(k), wb.shingles(k)
    shared = len(sa & sb)
    return shared / (len(sa) + len(sb) - shared)  # |sa | sb|, without building the union


def _shingle_size(a: Words, b: Words) -> int:
    shortest = min(len(a.words), len(b.words))
    return 1 if shortest < 60 else 2 if shortest < 200 else 3


def similar_enough(a: Words, b: Words, least: float) -> float | None:
    """`similarity(a, b)`, or None when it is below `least` for sure; `b` is the text
    compared with many (a soft-404 probe), whose shingles are kept.

    A page unlike `b` is told from the first of its shingles that `b` lacks: with D
    distinct ones, the similarity is at most |b| / (|b| + D), so more than
    |b| (1 - least) / least of them settle it (one more, against rounding). Building the
    page's whole shingle set took ~0.8 ms on a 20 KB page.
    """
    wa, wb = a.words, b.words
    if not wa or not wb:
        return similarity(a, b)
    k = _shingle_size(a, b)
    theirs = b.shingles(k)
    # At most len(wa) - k + 1 shingles: a page that much shorter shares too few.
    if len(wa) - k + 1 < least * len(theirs) - 1:
        return None
    allowed = len(theirs) * (1 - least) / least + 1
    ours: set[str] = set()
    lacking = 0
    for i in range(len(wa) - k + 1):
        shingle = " ".join(wa[i : i + k])
        if shingle in ours:
            continue
        ours.add(shingle)
        if shingle not in theirs:
            lacking += 1
            if lacking > allowed:
                return None
    # `similarity` from the set this pass built, not a second one.
    shared = len(ours) - lacking
    return shared / (len(ours) + len(theirs) - shared)
