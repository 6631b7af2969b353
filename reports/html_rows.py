"""HTML rows and cells formatted in Python, every value escaped.

The action-queue, status, hygiene and history rows are formatted here rather than by
Jinja macros: the summary pages of 100,000 resources hold tens of thousands of queue
rows (a nest of macro calls cost ~100 µs a row), and the publisher and host pages list
every resource twice. The pieces the templates share with them (`ext`, `moment`,
`badge`, `resource_cell`, `fix_cell`, `facts`) are globals of the template environment
(`reports.render`), so each piece of markup has a single definition.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from markupsafe import Markup

from catalog.outcomes import Severity, held_silent, held_why
from catalog.text import LRI, PDI, counted, quotations_isolated, without_bidi_overrides
from reports.context import (
    CHECKS_NOT_COUNTED,
    CONTACT_CHECKS_NOT_COUNTED,
    ChangeItem,
    HistoryItem,
    HygieneRow,
    Priority,
    Row,
    When,
    names_address,
    sentences,
)


def _escape_str(text: str) -> str:
    """`markupsafe.escape` for a str, byte for byte, without building a `Markup` per value."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


_escape_markup: Callable[[str], str]
try:
    # What `markupsafe.escape` itself calls on a str (C, a fifth of the time of the
    # replace chain above); the report escapes millions of values. Private: fall back.
    from markupsafe._speedups import _escape_inner as _escape_markup
except ImportError:  # pragma: no cover - markupsafe without its C extension
    _escape_markup = _escape_str


def _escape(text: str) -> str:
    """`text` escaped, and without explicit bidirectional controls (`without_bidi_overrides`):
    a title's override turned around the id and the sentence after it, and its own words.
    Our own text never holds one, and most text is ASCII, which holds none. Hrefs keep
    theirs (`_ext`): the link goes where the URL checked says."""
    return _escape_markup(text if text.isascii() else without_bidi_overrides(text))


#: Outside text a plain sentence isolates (`catalog.text.isolated`): FSI or LRI, the text
#: (no isolate of its own), PDI.
_ISLAND = re.compile("([\u2066\u2068])([^\u2066-\u2069]*)\u2069")


def _islands(text: str) -> str:
    """`text` escaped, each piece of outside text it isolates (`catalog.text.isolated`)
    in `<bdi>` (`<bdi dir="ltr">`, an address); explicit controls left out as `_escape`
    does. ASCII text isolates nothing."""
    if text.isascii():
        return _escape_markup(text)
    if PDI not in text:  # non-ASCII, but our own (“...”, "→") or left as it was
        return _escape(text)
    out: list[str] = []
    at = 0
    for m in _ISLAND.finditer(text):
        if m[1] == LRI:
            island = f'<bdi dir="ltr">{_address(m[2])}</bdi>'
        else:
            island = f"<bdi>{_escape(m[2])}</bdi>"
        out += (_escape(text[at : m.start()]), island)
        at = m.end()
    out.append(_escape(text[at:]))
    return "".join(out)


def _quoting(text: str) -> str:
    """A reason of ours escaped, the page's text it quotes in `<bdi>`
    (`catalog.text.quotations_isolated`): a right-to-left page title moved the words
    around it in "What we saw"."""
    return _islands(quotations_isolated(text))


def history_rows(items: Iterable[HistoryItem]) -> Markup:
    """The `<tr>`s of a resource page's history table (one a line), every value escaped.

    Formatted here rather than in a template loop: it is the report's innermost loop
    (a page per resource, up to `HISTORY_PER_RESOURCE` checks plus events each), and a
    Jinja loop costs about 20 µs a row: a minute for 100,000 pages of 30 rows.
    """
    return Markup(
        "\n".join(
            f'<tr data-kind="{_escape(i.kind)}"><th scope="row" class="first">'
            f'<time datetime="{_escape(i.at.iso)}">{_escape(i.at.text)}</time></th>'
            f'<td data-label="What"><span class="badge sev-{_escape(i.severity)}">'
            f"{_escape(i.label)}</span></td>"
            f'<td data-label="Details">{_islands(i.detail or "")}</td>'
            '<td data-label="HTTP" class="num">'
            f"{'' if i.http_status is None else i.http_status}</td>"
            '<td data-label="Response" class="num">'
            f"{'' if i.elapsed_ms is None else f'{int(i.elapsed_ms)} ms'}</td></tr>"
            for i in items
        )
    )


def _isolated(text: str) -> str:
    """Outside text (a title, an address) escaped and isolated from its neighbours: a
    right-to-left one keeps its direction without moving ours, or the one beside it."""
    return f"<bdi>{_escape(text)}</bdi>"


def change_summary(item: ChangeItem) -> Markup:
    """A change's sentence, each page title it quotes (`ChangeItem.quoted`) isolated:
    "title “A” → “B”" with two right-to-left titles read "B" before "A". The rest is a
    sentence such as a drift's reason, whose quotations are isolated too (`_quoting`)."""
    text, at = item.summary, 0
    out: list[str] = []
    for quoted in item.quoted:
        found = text.find(f"“{quoted}”", at)
        if found < 0:  # not as quoted: the sentence is shown as it is
            break
        out += (_quoting(text[at : found + 1]), _isolated(quoted))
        at = found + 1 + len(quoted)
    out.append(_quoting(text[at:]))
    return Markup("".join(out))


#: Changes whose before and after are addresses (`reports.changes`).
_ADDRESS_CHANGES = frozenset(
    {"added", "removed", "url_edited", "redirect_changed", "final_url_changed"}
)


def _isolated_address(url: str) -> str:
    """An address escaped and isolated, laid out left to right (`_ltr`, `_address`)."""
    return f"<bdi{_ltr(url)}>{_address(url)}</bdi>"


def before_after(item: ChangeItem) -> Markup | None:
    """`ChangeItem.before_after` with each address or title isolated."""
    isolated = _isolated_address if item.kind in _ADDRESS_CHANGES else _isolated
    shown = item.before_after_with(isolated)
    return None if shown is None else Markup(shown)


def _ltr(url: str) -> str:
    """The attribute that lays an address out left to right, apart from the words beside
    it (`_address` keeps its parts in order). An ASCII one can move nothing, and goes
    without."""
    return "" if url.isascii() else ' dir="ltr"'


#: A part of an address: its scheme, a label of its host, a segment of its path, a name
#: or value of its query.
_ADDRESS_PART = re.compile(r"[^/?#&=.:;,@+]+")


def _address(url: str) -> str:
    """`url` escaped, each of its parts holding other than ASCII in `<bdi>`. Right-to-left
    parts with only "/" between them read as one right-to-left run, even laid out left to
    right: "https://x.org/a/ב/ג" showed "https://x.org/a/ג/ב". Isolated, each keeps its
    own direction, in the address's order."""
    if url.isascii():
        return _escape_markup(url)
    url = without_bidi_overrides(url)
    out: list[str] = []
    at = 0
    for m in _ADDRESS_PART.finditer(url):
        part = m[0]
        shown = _escape_markup(part) if part.isascii() else f"<bdi>{_escape_markup(part)}</bdi>"
        out += (_escape_markup(url[at : m.start()]), shown)
        at = m.end()
    out.append(_escape_markup(url[at:]))
    return "".join(out)


def _ext(url: str, href: str | None, cls: str) -> str:
    if href:
        return (
            f'<a class="{_escape(cls)}"{_ltr(url)} href="{_escape_markup(href)}" '
            f'rel="noopener noreferrer nofollow">{_address(url)}</a>'
        )
    return f'<span class="{_escape(cls)}"{_ltr(url)}>{_address(url)}</span>'


def _moment(w: When | None, *, full: bool = False) -> str:
    """The date of `w` (or, `full`, its date and time), or a dash. No `title` with the time
    on hover: a keyboard or a touch screen cannot show it. A list shows the date; the
    time is said where it matters (the resource's page, a run's date)."""
    if not w:
        return "—"
    return f'<time datetime="{_escape(w.iso)}">{_escape(w.text if full else w.date)}</time>'


def _badge(severity: str, label: str) -> str:
    return f'<span class="badge sev-{_escape(severity)}">{_escape(label)}</span>'


def ext(url: str, href: str | None, cls: str = "url") -> Markup:
    """An outside address: a link when `href` is safe (`context.safe_href`), else text."""
    return Markup(_ext(url, href, cls))


def moment(w: When | None, full: bool = False) -> Markup:
    """A date (`full`: with its time), or a dash."""
    return Markup(_moment(w, full=full))


def badge(severity: str, label: str) -> Markup:
    return Markup(_badge(severity, label))


def _site_link(root: str, page: str | None, text: str, cls: str = "") -> str:
    """A link to another page of the report, named by outside text (a title, a publisher,
    a host) and isolated from its neighbours (`dir="auto"`): a right-to-left name keeps
    its own direction without moving the id or URL beside it. `root` is escaped already."""
    attr = f' class="{cls}"' if cls else ""
    return f'<a{attr} dir="auto" href="{root}{_escape(page or "")}">{_escape(text)}</a>'


def _state(row: Row) -> str:
    """A row's badge and, when it adds to it, its state."""
    text = _badge(*row.status_badge)
    if row.state_note:
        text += f' <span class="small">({_escape(row.state_note)})</span>'
    return text


def _resource_cell(row: Row, root: str) -> str:
    publisher = f" · {_site_link(root, row.publisher_page, row.publisher)}" if row.publisher else ""
    return (
        f"{_site_link(root, row.page, row.title, 'title')}\n"
        f'<div class="small"><span class="id">{_escape(row.resource_id)}</span> · '
        f"{_isolated(row.collection)}{publisher}</div>\n{_ext(row.url, row.href, 'url')}"
    )


def _seen_cell(row: Row) -> str:
    parts = [_state(row)]
    seen = row.seen_with_reasons
    if seen != row.label:
        parts.append(f'<div class="small">{_quoting(seen)}</div>')
    if row.page_title:
        label = row.page_title_label
        parts.append(f'<div class="small">{label}: “<bdi>{_escape(row.page_title)}</bdi>”</div>')
    if row.final_url:
        parts.append(
            f'<div class="small">Ended at: {_ext(row.final_url, row.final_href, "")}</div>'
        )
    return "".join(parts)


def _fix_cell(row: Row) -> str:
    step = row.fix or row.next_step
    text = _escape(step)
    # The sentence names the address to switch to ("Link the archived copy URL until ..."):
    # that mention is the link. A line of its own below said the 130 characters again,
    # and the command a third time, in the column a curator reads first.
    suggested = _linked(text, step, row.suggested_url, row.suggested_href, "suggested")
    text = suggested or text
    archive = _linked(text, step, row.archive_url, row.archive_href, "archive")
    text = archive or text
    parts = [f'<p class="step">{text}</p>']
    if row.suggested_url and not suggested:
        parts.append(
            '<p class="step small">New address: '
            f"{_ext(row.suggested_url, row.suggested_href, 'suggested')}</p>"
        )
    if row.archive_url and not archive:
        parts.append(
            '<p class="step small">Archived copy: '
            f"{_ext(row.archive_url, row.archive_href, 'archive')}</p>"
        )
    if row.command:
        parts.append(f'<code class="cmd">{_escape(row.command)}</code>')
        if row.command_needs_input:
            parts.append('<span class="needs-input">Replace NEW_URL first.</span>')
    return "".join(parts)


def _linked(text: str, step: str, url: str | None, href: str | None, cls: str) -> str | None:
    """`text` (the escaped `step`) with its one mention of `url` as a link, or None when
    `step` names it not once as a word of its own (an address inside another, such as the
    original one inside an archived copy's, is not its mention) or it has no safe link."""
    if not url or not href or not names_address(step, url):
        return None
    escaped = _escape(url)
    if text.count(escaped) != 1:
        return None
    return text.replace(escaped, _ext(url, href, cls), 1)


def _facts(row: Row, root: str) -> str:
    """A resource page's "Where it stands" list (`<dt>`/`<dd>` pairs), one fact a line.

    Formatted here for the reason the rows are: 100,000 resource pages, and in Jinja
    this list was half of each page's time.
    """
    facts = [
        (
            "Catalog",
            f'{_isolated(row.collection)} · <span class="id">{_escape(row.resource_id)}</span>',
        ),
        ("URL", _ext(row.url, row.href, "url")),
    ]
    if row.publisher:
        facts.append(("Publisher", _site_link(root, row.publisher_page, row.publisher)))
    if row.host:
        facts.append(("Host", _site_link(root, row.host_page, row.host)))
    facts.append(("What we saw", _quoting(row.seen)))
    if row.page_title:
        facts.append((row.page_title_label, f"“<bdi>{_escape(row.page_title)}</bdi>”"))
    if row.final_url:
        facts.append(("Ended at", _ext(row.final_url, row.final_href, "url")))
    if row.since and row.priority is Priority.CONTACT:
        # The first read that missed the contact: the link's checks say nothing of it.
        facts.append(("Missing from the page since", _moment(row.since, full=True)))
    elif row.since:
        since, plural = row.since, "" if row.checks == 1 else "s"
        if row.entry_only:
            # Queued for the entry alone: the time is the link's, not the entry's (which
            # the index leaves blank).
            term = "Link working since"
        elif row.priority is None and row.severity == Severity.OK.value:
            # Nothing to do: "Since a month ago" of a working link read as a problem's age.
            term = "Working since"
        elif row.flapping_since:
            term = "Flapping since"
        else:
            term = "Since"
        facts.append(
            (
                term,
                f"{_escape(since.ago)} ({_moment(since, full=True)}), {row.checks} check{plural}",
            )
        )
    last, tried = row.last_checked, row.last_tried
    if last:
        checked = f'<time datetime="{_escape(last.iso)}">{_escape(last.text)}</time>'
    elif tried:  # a try that found our own network down, or its host away, is no check
        why = held_why(row.reason) if row.tried_held else "our network was unavailable"
        checked = (
            f'never (last tried <time datetime="{_escape(tried.iso)}">{_escape(tried.text)}'
            f"</time>, while {why})"
        )
    else:
        checked = "never"
    if row.elapsed_ms is not None:
        # A timeout or a refused connection took that long; it did not answer.
        verb = "answered in" if row.http_status is not None else "took"
        checked += f", {verb} {row.elapsed_ms} ms"
    if last and row.held_tries:
        # Its state is that check's: the tries since were not sent, as `linkhealth
        # resource` says (before, only "What we saw" told of the last night's).
        checked += f"; {held_words(row.held_tries, row.reason)}"
    facts.append(("Last checked", checked))
    # "What we saw" is the drift or staleness reasons when they put the resource in the
    # queue (`build._row`): said again, the page would read as two problems.
    if row.drift_reason and row.priority is not Priority.DRIFT:
        facts.append(("Content drift", _quoting(row.drift_reason)))
    if row.stale_reasons and row.priority not in (Priority.STALE, Priority.CONTACT):
        facts.append(("Possibly out of date", _quoting(sentences(row.stale_reasons))))
    if row.ignored_reason:
        facts.append(("Ignored", _escape(row.ignored_reason)))
    if row.snoozed_until:
        snooze = _moment(row.snoozed_until, full=True)
        if row.snooze_reason:
            snooze += f": {_escape(row.snooze_reason)}"
        facts.append(("Snoozed until", snooze))
    return "\n".join(f"<dt>{term}</dt><dd>{value}</dd>" for term, value in facts)


def held_words(tries: int, reason: str | None) -> str:
    """The latest `tries` in a row not sent (`Row.held_tries`), as `catalog.decisions`'s
    "not sent" line says them: why, by the latest try's `reason` (`held_why`: its host's
    word, or its silence)."""
    many = "the last try was" if tries == 1 else f"the last {tries} tries were"
    return f"{many} not sent: {held_why(reason)}"


def newest_checks(items: Iterable[HistoryItem]) -> str:
    """How a capped resource page words the checks its history shows: its rows that were
    no check of the link (a try not sent, its host away or silent; one that found our
    network down) apart, as "Working since ..., N checks" leaves them out. "The newest 30
    checks" read beside "5 checks" for the same nights. A link of a held host with many
    links is asked two a night: its 30 rows may hold no check, which "The newest 0 checks"
    said badly. Tries not sent say why by their reason (`held_why`): "their host said it
    was away" was untrue of a host held for its silence."""
    held: Counter[bool] = Counter()  # by `held_silent`, with a reason of each kind
    reasons: dict[bool, str | None] = {}
    offline = checks = 0
    for item in items:
        if item.kind != "check":
            continue
        if item.held:
            silent = held_silent(item.detail)
            held[silent] += 1
            reasons.setdefault(silent, item.detail)
        offline += item.offline
        checks += not (item.held or item.offline)
    kinds = [
        *(
            (f"not sent: {held_why(reasons[silent], _whose(n))}", n)
            for silent, n in sorted(held.items())
        ),
        ("while our network was down", offline),
    ]
    kinds = [(words, n) for words, n in kinds if n]
    if not checks:
        # Of one kind: "all"; of several, each counted, the tries said once before them.
        said = "; ".join(f"{'all' if len(kinds) == 1 else n} {words}" for words, n in kinds)
        tries = counted(held.total() + offline, "try", "tries")
        return f"The newest {tries}, none of them a check ({said})"
    others = [f"{counted(n, 'try', 'tries')} {words}" for words, n in kinds]
    apart = f" (and {'; '.join(others)})" if others else ""
    return f"The newest {counted(checks, 'check')}{apart}"


def _whose(tries: int) -> str:
    return "its" if tries == 1 else "their"


def facts(row: Row, root: str) -> Markup:
    return Markup(_facts(row, _escape(root)))


def resource_cell(row: Row, root: str) -> Markup:
    """A resource's title (linked to its page), id, catalog, publisher and address."""
    return Markup(_resource_cell(row, _escape(root)))


def fix_cell(row: Row) -> Markup:
    """The suggested fix of a row: the step, the new or archived address, the command."""
    return Markup(_fix_cell(row))


#: Under a flapping link's "Since": the date is when the flipping began.
FLAPPING_SINCE = "when it began flapping"


#: An uncounted "Checks" cell: a dash, and why for a screen reader (a blank cell read as
#: missing data).
def _checks_not_counted(heard: str) -> str:
    return f'<span aria-hidden="true">—</span><span class="skip">{heard}</span>'


_CHECKS_NOT_COUNTED = _checks_not_counted(CHECKS_NOT_COUNTED)
_CONTACT_CHECKS_NOT_COUNTED = _checks_not_counted(CONTACT_CHECKS_NOT_COUNTED)


def _queue_row(row: Row, root: str) -> str:
    about_link = not row.entry_only
    since = (
        f'{_escape(row.since.ago)}<div class="small">{_moment(row.since)}</div>'
        if row.since and about_link
        else "—"
    )
    if row.checks_counted:
        checks = str(row.checks)
    elif row.priority is Priority.CONTACT:  # to fix, not an entry to review
        checks = _CONTACT_CHECKS_NOT_COUNTED
    else:
        checks = _CHECKS_NOT_COUNTED
    if row.since and row.flapping_since:
        since += f'<div class="small">{FLAPPING_SINCE}</div>'
    return (
        f'<tr data-resource-id="{_escape(row.resource_id)}" '
        f'data-collection="{_escape(row.collection_key)}" '
        f'data-outcome="{_escape(row.outcome or "")}" data-state="{_escape(row.state)}">\n'
        f'<th scope="row" class="first">{_resource_cell(row, root)}</th>\n'
        f'<td data-label="What we saw">{_seen_cell(row)}</td>\n'
        f'<td data-label="Since">{since}</td>\n'
        f'<td data-label="Checks" class="num">{checks}</td>\n'
        f'<td data-label="Suggested fix" class="fix">{_fix_cell(row)}</td>\n'
        "</tr>\n"
    )


def queue_rows(rows: Iterable[Row], root: str) -> Markup:
    """The `<tr>`s of action-queue rows, each ending a line."""
    root = _escape(root)
    return Markup("".join([_queue_row(row, root) for row in rows]))


def _status_note(row: Row) -> str:
    """What a publisher's or host's page must say beside a row's badge: why a resource
    whose link works is in the queue all the same (its badge says OK, while the page's
    "Need attention" counts it), or why one is out of the queue (its badge alone would
    read as a problem nobody is handling)."""
    if row.priority is not None and not row.set_aside and row.status_badge[0] == Severity.OK.value:
        return f'<div class="small">{_escape(row.priority.heading)}</div>'
    parts = []
    if row.ignored_reason:
        parts.append(f"Ignored: {_escape(row.ignored_reason)}")
    if row.snoozed_until:
        snooze = f"Snoozed until {_moment(row.snoozed_until)}"
        if row.snooze_reason:
            snooze += f": {_escape(row.snooze_reason)}"
        parts.append(snooze)
    return f'<div class="small">{"<br>".join(parts)}</div>' if parts else ""


def _status_row(row: Row, root: str) -> str:
    checked = _escape(row.last_checked.date) if row.last_checked else "—"
    ms = "—" if row.elapsed_ms is None else f"{int(row.elapsed_ms)} ms"
    return (
        f'<tr data-resource-id="{_escape(row.resource_id)}" '
        f'data-outcome="{_escape(row.outcome or "")}"><th scope="row" class="first">'
        f"{_site_link(root, row.page, row.title, 'title')}"
        f'<span class="url"{_ltr(row.url)}>{_address(row.url)}</span></th>'
        f'<td data-label="Status">{_state(row)}{_status_note(row)}</td>'
        f'<td data-label="Last checked">{checked}</td>'
        f'<td data-label="Response" class="num">{ms}</td></tr>\n'
    )


def status_rows(rows: Iterable[Row], root: str) -> Markup:
    """The `<tr>`s of a publisher's or host's resource table, each ending a line."""
    root = _escape(root)
    return Markup("".join([_status_row(row, root) for row in rows]))


def _finding_row(f: HygieneRow) -> str:
    """A finding's row; its sentences quote the catalog ("title almost the same as a-2
    ('...')", "rename '...' to 'title'"), each quotation isolated (`_quoting`)."""
    command = f"<br><code>{_escape(f.command)}</code>" if f.command else ""
    return (
        f'<tr data-resource-id="{_escape(f.resource_id)}" data-code="{_escape(f.code)}">\n'
        f'<th scope="row" class="first"><code>{_escape(f.resource_id)}</code><br>'
        f"<small>{_escape(f.where)}</small></th>\n"
        f'<td data-label="Level">{_escape(f.level.capitalize())}</td>\n'
        f'<td data-label="What is wrong">{_quoting(f.message)}</td>\n'
        f'<td data-label="Suggested fix">{_quoting(f.fix)}{command}</td>\n'
        "</tr>\n"
    )


def finding_rows(rows: Iterable[HygieneRow]) -> Markup:
    """The `<tr>`s of the hygiene table (a catalog of 100,000 may have as many findings)."""
    return Markup("".join([_finding_row(f) for f in rows]))
