"""Where each resource entry of a YAML catalog sits in its text, so one entry can be edited
alone.

Inputs:  a YAML catalog's text (BOM removed, line endings as written).
Outputs: `Resources`, the offsets of the `resources` entries and what each entry shares with
         the rest of the file; `Excerpt`, a small document holding one entry in the
         surroundings a parser needs to read it as it reads the whole file.

`catalog_edit` round-trips one entry through ruamel.yaml instead of the whole file: ruamel
needs a minute and more for 20,000 entries, libyaml's events give the entries' places in
about a second. `scan` answers None for anything it cannot be sure of (a second document,
directives, a flow-style list, repeated keys, an entry's dash followed by a comment or by
blank lines, line breaks other than LF and CRLF), and `catalog_edit` then takes the whole
file. An entry whose dash stands alone on the line above it starts at the dash's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["HEAD", "Excerpt", "Item", "Resources", "Span", "excerpt", "scan", "spans"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Scalar = yaml.ScalarEvent
_Alias = yaml.AliasEvent
_SequenceStart = yaml.SequenceStartEvent
_SequenceEnd = yaml.SequenceEndEvent
_MappingStart = yaml.MappingStartEvent
_MappingEnd = yaml.MappingEndEvent

#: The region of the text before the first entry; the region after the last is
#: `len(items)`, and entry `i` is region `i`.
HEAD = -1

#: Line breaks libyaml counts that `str.split("\n")` does not: a lone CR, NEL, LS, PS.
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")

#: A line holding a dash alone, the entry it starts written on the lines below.
_LONE_DASH = re.compile(r"( *)- *\r?\n")

#: A synthetic last entry after an excerpt's neighbour: the neighbour's trailing comments
#: are then followed by an entry, as in the file, not by the end of the document.
_CLOSING_ITEM = "- x"


@dataclass(frozen=True)
class Item:
    """One entry of the `resources` list."""

    #: Offset of the line the entry's dash is on; None when that line cannot be told
    #: plainly (a comment after the dash, or lines between it and the entry).
    start: int | None
    #: Column of the dash.
    dash: int
    #: The `id` scalar as written (its value, not its spelling), if the entry is a mapping
    #: with a scalar `id`.
    id: str | None = None
    #: Whether that scalar is plain (a YAML type other than text may be read from it).
    id_plain: bool = False
    #: The tag written on that scalar, if any (`!!str`, `!`, ...).
    id_tag: str | None = None


@dataclass(frozen=True)
class Resources:
    """The `resources` list of a one-document catalog whose top level is a block mapping."""

    #: The line of the `resources:` key, as written, with its line break.
    header: str
    items: tuple[Item, ...]
    #: Offset where the list ends: the next top-level key, or what ends the document.
    end: int
    #: Regions (`HEAD`, entry indices, `len(items)`) with an anchor or alias that refers
    #: across regions: such an entry cannot be read without the rest.
    tangled: frozenset[int]
    #: Whether every entry's id is a scalar the entry writes itself (no merge key, alias or
    #: collection as the id), so an id found nowhere here is in no entry.
    ids_certain: bool


def scan(text: str) -> Resources | None:
    """The `resources` list of `text`, or None when `text` is not plainly a catalog laid out
    as `excerpt` needs (a parse error included: the whole-file path words it)."""
    if text.count("\r") != text.count("\r\n") or any(c in text for c in _OTHER_BREAKS):
        return None
    loader = _Loader(text)
    try:
        return _Walk(text, loader).run()
    except (yaml.YAMLError, _Unsure, RecursionError):
        return None
    finally:
        loader.dispose()


class _Unsure(Exception):
    """The text uses something the splicing path leaves to the whole-file round trip."""


class _Walk:
    """One pass over libyaml's events, keeping only what `Resources` needs."""

    def __init__(self, text: str, loader: yaml.CSafeLoader) -> None:
        self.text = text
        self.get = loader.get_event
        self.items: list[Item] = []
        self.anchors: dict[str, int] = {}
        self.tangled: set[int] = set()
        self.ids_certain = True

    def expect(self, kind: type[yaml.Event]) -> yaml.Event:
        event = self.get()
        if not isinstance(event, kind):
            raise _Unsure
        return event

    def run(self) -> Resources | None:
        text = self.text
        self.expect(yaml.StreamStartEvent)
        start = self.expect(yaml.DocumentStartEvent)
        if start.version is not None or start.tags:
            raise _Unsure  # a %YAML or %TAG directive: the round trip reads the file otherwise
        top = self.expect(yaml.MappingStartEvent)
        if top.flow_style or top.anchor is not None or top.tag is not None:
            raise _Unsure
        keys: set[str] = set()
        header: str | None = None
        end = 0
        region = HEAD
        while True:
            key = self.get()
            if isinstance(key, yaml.MappingEndEvent):
                break
            if key.start_mark.column != 0:
                raise _Unsure
            name = self.key(key, keys, region)
            value = self.get()
            if name != "resources":
                self.node(value, region)
                continue
            if not isinstance(value, yaml.SequenceStartEvent):
                raise _Unsure
            if value.flow_style or value.anchor is not None or value.tag is not None:
                raise _Unsure
            line_start = key.start_mark.index  # column 0
            line_end = text.find("\n", line_start)
            if line_end < 0 or line_end >= value.start_mark.index:
                raise _Unsure
            header = text[line_start : line_end + 1]
            end = self.entries()
            region = len(self.items)
        self.expect(yaml.DocumentEndEvent)
        self.expect(yaml.StreamEndEvent)  # a second document: the whole-file path refuses it
        if header is None or not self.items:
            return None
        return Resources(
            header=header,
            items=tuple(self.items),
            end=end,
            tangled=frozenset(self.tangled),
            ids_certain=self.ids_certain,
        )

    def entries(self) -> int:
        """Read the entries of `resources`; the offset where the list ends."""
        text = self.text
        while True:
            event = self.get()
            if isinstance(event, yaml.SequenceEndEvent):
                end = event.start_mark.index
                if end < len(text) and end > 0 and text[end - 1] != "\n":
                    raise _Unsure
                return end
            region = len(self.items)
            mark = event.start_mark
            line_start = text.rfind("\n", 0, mark.index) + 1
            lead = text[line_start : mark.index]
            dash = lead.find("-")
            flat = (
                dash >= 0
                and not lead[:dash].strip(" ")
                and not lead[dash + 1 :].strip(" ")
                and lead[dash + 1 :] != ""
            )
            if flat:
                item = Item(start=line_start, dash=dash)
            elif not lead.strip(" "):
                item = self.lone_dash(line_start)
            else:
                item = Item(start=None, dash=dash)
            if isinstance(event, yaml.MappingStartEvent):
                item = self.entry(event, item, region)
            else:
                self.node(event, region)
            self.items.append(item)

    def lone_dash(self, line_start: int) -> Item:
        """The entry whose first line starts at `line_start`, when its dash stands alone on
        the line right above (`-` and spaces only): the entry starts at the dash's line.
        Other ways of writing it (a comment after the dash, lines between) stay unsure."""
        text = self.text
        if line_start < 2:
            return Item(start=None, dash=-1)
        above = text.rfind("\n", 0, line_start - 1) + 1
        found = _LONE_DASH.fullmatch(text, above, line_start)
        if found is None:
            return Item(start=None, dash=-1)
        return Item(start=above, dash=len(found.group(1)))

    def entry(self, start: yaml.MappingStartEvent, item: Item, region: int) -> Item:
        """Read one entry that is a mapping, noting its id."""
        self.anchor(start, region)
        get = self.get
        keys: set[str] = set()
        while True:
            key = get()
            if key.__class__ is _MappingEnd:
                return item
            name = self.key(key, keys, region)
            value = get()
            if name == "<<":
                self.ids_certain = False
            elif name == "id":
                if value.__class__ is _Scalar:
                    item = Item(item.start, item.dash, value.value, not value.style, value.tag)
                else:
                    self.ids_certain = False
            if value.__class__ is not _Scalar or value.anchor is not None:
                self.node(value, region)

    def key(self, event: yaml.Event, keys: set[str], region: int) -> str:
        """A mapping key: a scalar, written once in its mapping (ruamel refuses repeats)."""
        if event.__class__ is not _Scalar:
            raise _Unsure  # an alias or a collection as a key
        if event.anchor is not None:
            self.anchors[str(event.anchor)] = region
        name = str(event.value)
        if name in keys:
            raise _Unsure
        keys.add(name)
        return name

    def node(self, event: yaml.Event, region: int) -> None:
        """Read the rest of the node `event` starts, noting anchors, aliases and repeats."""
        kind = event.__class__
        if kind is _Scalar:
            self.anchor(event, region)
        elif kind is _Alias:
            where = self.anchors.get(str(event.anchor))
            if where is None:
                raise _Unsure
            if where != region:
                self.tangled.update((where, region))
        elif kind is _SequenceStart:
            self.anchor(event, region)
            get = self.get
            while True:
                child = get()
                if child.__class__ is _Scalar and child.anchor is None:
                    continue
                if child.__class__ is _SequenceEnd:
                    return
                self.node(child, region)
        elif kind is _MappingStart:
            self.anchor(event, region)
            get = self.get
            keys: set[str] = set()
            while True:
                child = get()
                if child.__class__ is _MappingEnd:
                    return
                self.key(child, keys, region)
                value = get()
                if value.__class__ is not _Scalar or value.anchor is not None:
                    self.node(value, region)
        else:
            raise _Unsure

    def anchor(self, event: yaml.NodeEvent, region: int) -> None:
        if event.anchor is not None:
            self.anchors[str(event.anchor)] = region


@dataclass(frozen=True)
class Excerpt:
    """One entry in a document of its own, read by a parser as it reads the whole file."""

    #: The document: the `resources:` line, the entry, and what follows it.
    text: str
    #: The entry's text in the file, from its dash line to the next entry's.
    start: int
    end: int
    #: What follows the entry in `text`, which the edited document must end with.
    after: str
    #: The entries in `text`, and the column of their dashes.
    count: int
    dash: int

    def entry(self, edited: str, header: str) -> str | None:
        """The entry's text in `edited` (this excerpt, edited), or None when it cannot be
        told or would not fit among the file's entries."""
        if edited.startswith(header) and edited.endswith(self.after):
            return edited[len(header) : len(edited) - len(self.after)]
        # The round trip wrote the excerpt anew (as it writes a whole file anew when the
        # layout it restores would read otherwise): the entry as written anew, which is
        # what the whole file's round trip writes for it, if its dash is where the file's are.
        found = scan(edited)
        if found is None or len(found.items) != self.count:
            return None
        first = found.items[0]
        end = found.items[1].start if self.count > 1 else found.end
        if first.start is None or first.dash != self.dash or end is None:
            return None
        return edited[first.start : end]


def excerpt(text: str, resources: Resources, index: int, newline: str) -> Excerpt | None:
    """The excerpt for entry `index`: the entry, its neighbour and a closing entry, or for
    the last entry, the rest of the file. None when an anchor ties it to other entries or
    the line an entry of it starts on cannot be told (`Item.start`)."""
    items = resources.items
    last = len(items) - 1
    involved = [index] + ([index + 1] if index < last else [])
    if any(i in resources.tangled for i in involved):
        return None
    if index == last and len(items) in resources.tangled:
        return None
    start = items[index].start
    if start is None:
        return None
    if index == last:
        return Excerpt(
            resources.header + text[start:],
            start,
            resources.end,
            text[resources.end :],
            1,
            items[index].dash,
        )
    following = items[index + 1].start
    if following is None:
        return None
    after_next = items[index + 2].start if index + 1 < last else resources.end
    if after_next is None:
        return None
    closing = " " * items[index].dash + _CLOSING_ITEM + newline
    tail = text[following:after_next]
    if not tail.endswith("\n"):
        tail += newline  # the last entry of a file without a last line break
    return Excerpt(
        resources.header + text[start:following] + tail + closing,
        start,
        following,
        tail + closing,
        3,
        items[index].dash,
    )


@dataclass(frozen=True)
class Span:
    """Where one entry of the `resources` list is written, however its dash is: on the
    line of its first key, alone on a line above it, or followed by a comment."""

    #: Offset of the line the entry's dash is on.
    start: int
    #: Offset of the entry's first content (key, anchor, tag) and its column.
    content: int
    column: int
    #: Offset of the line `content` is on (`start` when it is the dash's line).
    first: int
    #: Offset after the entry's last line of content: the comment and blank lines after it
    #: (up to `end`) are its trailer.
    body_end: int
    #: The next entry's `start`, or the line the list ends on.
    end: int
    #: An entry of a flow list (`resources: [{...}, {...}]`): the span is the entry's
    #: text alone, from its first character to its last (`}`), without the comma after it.
    flow: bool = False


#: A line holding a dash and maybe a comment: an entry written on the lines below.
_DASH_ABOVE = re.compile(r"( *)-[ \t]*(?:#[^\n]*)?\r?\n?")


def spans(text: str) -> list[Span] | None:
    """Where each entry of `text`'s `resources` list is written, for any block layout the
    parser reads (entries indented by four, `- # comment`, a dash alone, anchors shared
    between entries) and for a flow list (`Span.flow`); None when `text` is no such
    catalog or an entry's dash cannot be found plainly."""
    loader = _Loader(text)
    try:
        return _spans(text, loader.get_event)
    except (yaml.YAMLError, _Unsure, RecursionError):
        return None
    finally:
        loader.dispose()


def _spans(text: str, get: Any) -> list[Span] | None:
    for kind in (yaml.StreamStartEvent, yaml.DocumentStartEvent, yaml.MappingStartEvent):
        if not isinstance(get(), kind):
            raise _Unsure
    while True:
        key = get()
        if not isinstance(key, _Scalar):
            raise _Unsure  # the end of the top mapping, or a key that is no scalar
        value = get()
        if key.value != "resources":
            _skip(value, get)
            continue
        if not isinstance(value, _SequenceStart):
            raise _Unsure
        if value.flow_style:
            return _flow_spans(text, get)
        found: list[Span] = []
        column: int | None = None
        while True:
            event = get()
            if isinstance(event, _SequenceEnd):
                at = event.start_mark.index
                end = text.rfind("\n", 0, at) + 1 if at < len(text) else len(text)
                if found:
                    found[-1] = _ended(found[-1], end)
                return found
            mark = event.start_mark
            start, dash = _dash_line(text, mark.index)
            if column is None:
                column = dash
            elif dash != column:
                raise _Unsure
            last = _skip(event, get)
            body_end = last if last and text[last - 1] == "\n" else _line_end(text, last)
            first = text.rfind("\n", 0, mark.index) + 1
            if found:
                found[-1] = _ended(found[-1], start)
            found.append(Span(start, mark.index, mark.column, first, body_end, body_end))


def _flow_spans(text: str, get: Any) -> list[Span]:
    """`spans` of a flow list's entries: each from its first character (an anchor or tag
    included) to its last, wherever the lines of the list break."""
    found: list[Span] = []
    while True:
        event = get()
        if isinstance(event, _SequenceEnd):
            return found
        mark = event.start_mark
        last = _skip(event, get)
        first = text.rfind("\n", 0, mark.index) + 1
        found.append(Span(mark.index, mark.index, mark.column, first, last, last, flow=True))


def _ended(span: Span, end: int) -> Span:
    if end < span.body_end:
        raise _Unsure
    return Span(span.start, span.content, span.column, span.first, span.body_end, end)


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end < 0 else end + 1


def _dash_line(text: str, index: int) -> tuple[int, int]:
    """(offset of the line, column) of the dash of the entry whose content starts at
    `index`: on the same line, or above it past comment and blank lines only."""
    line_start = text.rfind("\n", 0, index) + 1
    lead = text[line_start:index]
    stripped = lead.lstrip(" ")
    if stripped.startswith("-") and not stripped[1:].strip(" "):
        return line_start, len(lead) - len(stripped)
    if lead.strip(" "):
        raise _Unsure
    at = line_start
    while at > 0:
        above = text.rfind("\n", 0, at - 1) + 1
        line = text[above:at]
        dash = _DASH_ABOVE.fullmatch(line)
        if dash is not None:
            return above, len(dash.group(1))
        if line.strip(" \t\r\n") and not line.lstrip(" \t").startswith("#"):
            raise _Unsure
        at = above
    raise _Unsure


def _skip(event: yaml.Event, get: Any) -> int:
    """Pass the rest of the node `event` starts; the offset where its last content ends
    (a block collection's end event is marked at what follows it, comments included)."""
    last = event.end_mark.index
    depth = 1 if isinstance(event, _SequenceStart | _MappingStart) else 0
    while depth:
        child = get()
        if isinstance(child, _SequenceStart | _MappingStart):
            depth += 1
        elif isinstance(child, _SequenceEnd | _MappingEnd):
            depth -= 1
        if child.end_mark.index > child.start_mark.index:  # not a block collection's end
            last = max(last, child.end_mark.index)
    return last
