"""Whether a statement of an inline script runs when the page opens, or only when called.

Stage: check (pure). Input: a script's text and positions in it (where `soft404` found a
literal `location` assignment). Output: for each, whether it runs on load.

Why: victim-services and hotline pages carry a "Quick Exit" button whose handler sends
the visitor to Google (`function quickExit(){ window.location.replace(...) }`, `onclick`,
`addEventListener("click", ...)`); such a page is the resource, not a page forwarding its
visitors. Counted as on load: top-level statements (inside `if`, `try` and other blocks
too), timer callbacks (`setTimeout(function(){...}, 3000)`), load handlers (`onload =`,
`addEventListener("load", ...)`, jQuery's ready) and functions called where they are
written (`(function(){...})()`). Any other function (named, a click handler, a method)
runs only if something calls it, which is unknown, so it is not counted.

A scanner, not a parser: it skips strings, comments and regular expressions and follows
brackets, in one pass over the script (linear in its length: a failed regular expression
is not tried again on its line).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
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
    #: An arrow function's body without braces runs from here to the next "," or ";".
    arrow: bool = False


def runs_on_load(script: str, positions: Sequence[int]) -> list[bool]:
    """For each of `positions` (ascending offsets into `script`), whether the statement
    there runs when the page opens. A position inside a string or comment never does."""
    answers: list[bool] = []
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
            answers.append(_here(stack[-1], script))
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
            answers.append(False)  # inside a string, a comment or a regular expression
        at = end
    answers.extend(False for _ in pending)
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
    if char == "[":
        return _Frame(char, parent.on_load, i + 1)
    if char == "(":
        head = _FUNCTION_HEAD.search(before)
        if head is not None:
            return _Frame(char, parent.on_load, i + 1, params=True, named=bool(head.group(1)))
        word = _TRAILING_WORD.search(before)
        callee = word.group(0).lower() if word else ""
        grouping = callee in _OPERATOR_WORDS or (
            not callee and (not before or before[-1] not in ")]\"'`")
        )
        return _Frame(char, parent.on_load, i + 1, callee=callee, grouping=grouping)
    # "{": a function's body, or a block or an object that runs where it stands.
    if before.endswith("=>"):
        body = True
        named = False
    elif before.endswith(")") and closed is not None and closed_at == base + len(before) - 1:
        body = closed.params or closed.callee not in _BLOCK_CALLS
        named = closed.named or (not closed.params and not closed.grouping)
    else:
        body, named = False, False
    if not body:
        return _Frame(char, parent.on_load, i + 1)
    on_load = parent.on_load and not named and _called_on_load(parent, script, before)
    return _Frame(char, on_load, i + 1)


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
