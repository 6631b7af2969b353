"""Whether a statement of an inline script runs when the page opens, or only when called.

Stage: check (pure). Input: a script's text and positions in it (where `soft404` found a
literal `location` assignment). Output: for each, whether it runs on load.

Why: victim-services and hotline pages carry a "Quick Exit" button whose handler sends
the visitor to Google (`function quickExit(){ window.location.replace(...) }`, `onclick`,
`addEventListener("click", ...)`); such a page is the resource, not a page forwarding its
visitors. Counted as on load: top-level statements (inside `if`, `try` and other blocks
too), timer callbacks (`setTimeout(function(){...}, 3000)`), load handlers (`onload =`,
`addEventListener("load", ...)`, jQuery's ready), functions called where they are
written (`(function(){...})()`, `!function(){...}()`) and named functions (`function
go(){...}`, `var go = function(){...}`) that such code calls or hands to a timer or a load
handler (`setTimeout(go, 3000)`, `onload = go`, `<body onload="go()">`). A function that
only a click or a key calls, or nothing seen, is not counted.

A scanner, not a parser: it skips strings, comments and regular expressions and follows
brackets, in one pass over the script (linear in its length: a failed regular expression
is not tried again on its line).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass

__all__ = ["runs_on_load"]

#: Calls whose function argument runs when the page opens: timers, jQuery's ready.
_ON_LOAD_CALLS = frozenset({"settimeout", "setinterval", "ready", "$", "jquery"})
#: `addEventListener`'s first argument for events of the page opening.
_LOAD_EVENT = re.compile(r"\s*([\"'])(?:load|domcontentloaded|pageshow)\1", re.IGNORECASE)
#: The end of `window.onload = ` before a function: a handler of the page opening.
_ONLOAD_ASSIGNED = re.compile(
    r"on(?:load|pageshow)\s*=\s*(?:async\s+)?(?:function\s*\*?\s*\([^()]*\)|\([^()]*\)\s*=>"
    r"|[\w$]+\s*=>)\s*$",
    re.IGNORECASE,
)
#: Words before `(...) {` that open a block, not a function's body.
_BLOCK_CALLS = frozenset({"if", "for", "while", "switch", "catch", "with"})
#: Words after which `(` groups an expression instead of calling something.
_OPERATOR_WORDS = frozenset({"return", "typeof", "void", "in", "of", "new", "await", "yield"})
_FUNCTION_HEAD = re.compile(r"(?:^|[^\w$.])function\s*\*?\s*([\w$]*)\s*$")
_TRAILING_WORD = re.compile(r"[\w$]+$")
#: A function expression called where it is written: `!function(){...}()`.
_INVOKED = re.compile(r"(?:[!~+\-]|(?<![\w$.])void)\s*function\s*\*?\s*[\w$]*\s*$")
#: A variable given a function: `var go = function () {`, `go = () => {`.
_ASSIGNED = re.compile(
    r"(?:^|[^\w$.])([\w$]+)\s*=\s*(?:async\s+)?(?:function\s*\*?\s*\([^()]*\)|\([^()]*\)\s*=>"
    r"|[\w$]+\s*=>)\s*$"
)
#: After a function's name: it is called (`go(`), or defined as a method (`go() {`).
_CALL = re.compile(r"\s*\(")
_DEFINITION = re.compile(r"\s*\([^()]*\)\s*\{")
#: Before a function's name: it handles the page's opening (`window.onload = go`).
_ONLOAD_IS = re.compile(r"on(?:load|pageshow)\s*=$", re.IGNORECASE)
#: A timer given code as text: `setTimeout("go()", 3000)`.
_STRING_TIMER = re.compile(
    r"set(?:timeout|interval)\s*\(\s*([\"'`])\s*([\w$]+)\s*\(", re.IGNORECASE
)
#: Characters where the scanner's state may change.
_SPECIAL = re.compile(r"[\"'`/(){}\[\];,=]")
_STRINGS = {
    "'": re.compile(r"'(?:[^'\\\n]|\\.)*'", re.DOTALL),
    '"': re.compile(r'"(?:[^"\\\n]|\\.)*"', re.DOTALL),
    "`": re.compile(r"`(?:[^`\\]|\\.)*`", re.DOTALL),
}
_REGEX = re.compile(r"/(?:[^/\\\n\[]|\\.|\[(?:[^\]\\\n]|\\.)*\])+/")
#: Characters before a `/` that starts a regular expression rather than a division.
_BEFORE_REGEX = frozenset("(,=:[!&|?{};+-*%<>~^")
#: Characters looked back at to tell what an opening bracket belongs to.
_LOOK_BACK = 160


@dataclass
class _Frame:
    """One open bracket and whether the code inside it runs on load."""

    opener: str
    on_load: bool
    start: int
    #: For "(": the word before it, lower-cased ("settimeout", "if"), "" for none.
    callee: str = ""
    #: For "(": it groups an expression ("(function(){...})()"), calls nothing.
    grouping: bool = False
    #: For "(": the parameters of a `function` (named: a declaration or a method).
    params: bool = False
    named: bool = False
    #: For "(" of a `function`: its name ("" if anonymous); it is called where it is
    #: written, after `!`, `~`, `+`, `-` or `void` (minified `!function(){...}()`).
    name: str = ""
    invoked: bool = False
    #: The code here runs on load only if the function of this name is called on load
    #: (`function go(){...}`, `var go = function(){...}`): "" for no such condition.
    waits: str = ""
    #: An arrow function's body without braces runs from here to the next "," or ";".
    arrow: bool = False


@dataclass(frozen=True)
class _Point:
    """What the scanner knows of one position: whether it runs on load, provided the
    function `waits` (if any) is called on load; `frame`: its innermost bracket."""

    on_load: bool
    waits: str = ""
    frame: _Frame | None = None


def runs_on_load(script: str, positions: Sequence[int], called: Collection[str] = ()) -> list[bool]:
    """For each of `positions` (ascending offsets into `script`), whether the statement
    there runs when the page opens. A position inside a string or comment never does.

    `called`: names of functions the page calls when it opens (`<body onload="go()">`).
    """
    points = _scan(script, positions)
    waiting = {point.waits for point in points if point.on_load and point.waits}
    sure = _called_on_load_names(script, waiting, set(called)) if waiting else set(called)
    return [point.on_load and (not point.waits or point.waits in sure) for point in points]


def _called_on_load_names(script: str, names: set[str], sure: set[str]) -> set[str]:
    """Those of `names` (functions holding a `location` assignment) that the script calls
    when the page opens, with `sure`: called where the page opens (`go();`), by a timer
    (`setTimeout(go, 3000)`, `setTimeout("go()", 3000)`) or by a load handler
    (`onload = go`, `addEventListener("load", go)`, `$(go)`); not from a click handler,
    nor from another named function (one level)."""
    uses = re.compile(r"(?<![\w$.])(" + "|".join(map(re.escape, sorted(names))) + r")(?![\w$])")
    sites: list[tuple[int, str, bool]] = []  # (position, name, a call rather than a reference)
    for found in uses.finditer(script):
        before = script[max(0, found.start() - _LOOK_BACK) : found.start()].rstrip()
        if _DEFINITION.match(script, found.end()) or before.endswith("function"):
            continue  # `function go() {` or a method `go() {`: not a call
        called = _CALL.match(script, found.end()) or _ONLOAD_IS.search(before)
        sites.append((found.start(), found.group(1), called is not None))
    for found in _STRING_TIMER.finditer(script):
        if found.group(2) in names:
            sites.append((found.start(), found.group(2), True))
    sites.sort()
    points = _scan(script, [at for at, _, _ in sites])
    grew = True
    while grew:  # `go` called from a function known to be called: go on
        grew = False
        for (_, name, call), point in zip(sites, points, strict=True):
            if name in sure or not point.on_load or (point.waits and point.waits not in sure):
                continue
            frame = point.frame
            if call or (
                frame is not None and frame.opener == "(" and _called_on_load(frame, script)
            ):
                sure.add(name)
                grew = True
    return sure


def _scan(script: str, positions: Sequence[int]) -> list[_Point]:
    """For each of `positions`, what the scanner knows of it (`_Point`)."""
    answers: list[_Point] = []
    pending = deque(positions)
    stack = [_Frame("", True, 0)]
    closed: _Frame | None = None  # the "(" closed last, for a "{" right after it
    closed_at = -1
    at = 0
    # A regular expression cannot span a line break: after an attempt found none closed on
    # its line, the rest of that line is read as code (each character scanned once, not
    # once for each "/" on it: r6's "(/[(/[..." took 40 s for 63 KB).
    no_regex_until = -1
    while pending:
        found = _SPECIAL.search(script, at)
        i = found.start() if found else len(script)
        while pending and pending[0] < i:
            pending.popleft()
            frame = stack[-1]
            answers.append(_Point(_here(frame, script), frame.waits, frame))
        if found is None:
            break
        char = script[i]
        end = i + 1
        if char in _STRINGS or (char == "/" and script[i + 1 : i + 2] in ("/", "*")):
            end = _skip(script, i)
        elif char == "/":
            before = script[max(0, i - _LOOK_BACK) : i].rstrip()
            if i >= no_regex_until and (
                not before or before[-1] in _BEFORE_REGEX or before.endswith("return")
            ):
                matched = _REGEX.match(script, i)
                if matched:
                    end = matched.end()
                else:
                    newline = script.find("\n", i)
                    no_regex_until = len(script) if newline < 0 else newline
        elif char in "([{":
            stack.append(_opened(char, i, script, stack[-1], closed, closed_at))
        elif char in ")]}":
            if len(stack) > 1:
                frame = stack.pop()
                if char == ")":
                    closed, closed_at = frame, i
        elif char in ",;":
            stack[-1].arrow = False
        elif char == "=" and script[i + 1 : i + 2] == ">":
            rest = script[i + 2 : i + 2 + _LOOK_BACK].lstrip()
            if not rest.startswith("{"):
                stack[-1].arrow = True
            end = i + 2
        while pending and pending[0] < end and end > i + 1:
            pending.popleft()
            answers.append(_Point(False))  # inside a string, a comment or a regexp
        at = end
    answers.extend(_Point(False) for _ in pending)
    return answers


def _here(frame: _Frame, script: str) -> bool:
    """Whether code at the current point of `frame` runs on load."""
    if not frame.on_load:
        return False
    return not frame.arrow or _called_on_load(frame, script)


def _skip(script: str, i: int) -> int:
    """The end of the string or comment starting at `i` (the script's end if open)."""
    char = script[i]
    if char in _STRINGS:
        matched = _STRINGS[char].match(script, i)
        return matched.end() if matched else len(script)
    if script[i + 1] == "/":
        newline = script.find("\n", i)
        return len(script) if newline < 0 else newline
    close = script.find("*/", i + 2)
    return len(script) if close < 0 else close + 2


def _opened(
    char: str, i: int, script: str, parent: _Frame, closed: _Frame | None, closed_at: int
) -> _Frame:
    base = max(0, i - _LOOK_BACK)
    before = script[base:i].rstrip()
    waits = parent.waits
    if char == "[":
        return _Frame(char, parent.on_load, i + 1, waits=waits)
    if char == "(":
        head = _FUNCTION_HEAD.search(before)
        if head is not None:
            name = head.group(1)
            invoked = _INVOKED.search(before) is not None
            return _Frame(
                char,
                parent.on_load,
                i + 1,
                params=True,
                named=bool(name),
                name=name,
                invoked=invoked,
                waits=waits,
            )
        word = _TRAILING_WORD.search(before)
        callee = word.group(0).lower() if word else ""
        grouping = callee in _OPERATOR_WORDS or (
            not callee and (not before or before[-1] not in ")]\"'`")
        )
        return _Frame(char, parent.on_load, i + 1, callee=callee, grouping=grouping, waits=waits)
    # "{": a function's body, or a block or an object that runs where it stands.
    name, invoked = "", False
    if before.endswith("=>"):
        body = True
        named = False
    elif before.endswith(")") and closed is not None and closed_at == base + len(before) - 1:
        body = closed.params or closed.callee not in _BLOCK_CALLS
        named = closed.named or (not closed.params and not closed.grouping)
        name, invoked = closed.name, closed.invoked
    else:
        body, named = False, False
    if not body or invoked or (not named and _called_on_load(parent, script, before)):
        return _Frame(char, parent.on_load, i + 1, waits=waits)
    if not named:
        assigned = _ASSIGNED.search(before)
        name = assigned.group(1) if assigned else ""
    # A function that runs if called: on load if its name is (`runs_on_load`).
    if name and parent.on_load and not waits:
        return _Frame(char, True, i + 1, waits=name)
    return _Frame(char, False, i + 1)


def _called_on_load(parent: _Frame, script: str, before: str = "") -> bool:
    """Whether a function written inside `parent` (its text up to the body: `before`)
    is called when the page opens."""
    if parent.opener == "(":
        if parent.callee in _ON_LOAD_CALLS or parent.grouping:
            return True
        if parent.callee == "addeventlistener":
            return _LOAD_EVENT.match(script, parent.start) is not None
        return False
    return _ONLOAD_ASSIGNED.search(before) is not None
