"""A command in the report wraps at its spaces: `word-break: break-all` broke it anywhere
("--db sq|lite:////tmp/...") even on a desktop, where the words fit. Inside a word it
breaks only when that word alone is wider than the line (a long --db URL on a phone)."""

from __future__ import annotations

import re

from reports.render import stylesheet


def _declarations(selector: str) -> dict[str, str]:
    """The declarations of the stylesheet's rules for exactly `selector`, outside @media."""
    css = re.sub(r"/\*.*?\*/", "", stylesheet(), flags=re.S)
    found: dict[str, str] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if selector in (s.strip() for s in selectors.split(",")) and "@" not in selectors:
            for declaration in body.split(";"):
                name, _, value = declaration.partition(":")
                if name.strip():
                    found[name.strip()] = value.strip()
    return found


def test_a_command_wraps_at_spaces_and_breaks_a_word_only_when_it_cannot_fit() -> None:
    rule = _declarations("code.cmd")
    assert rule.get("word-break", "normal") == "normal"
    assert rule.get("overflow-wrap") == "anywhere"
    assert rule.get("white-space") == "pre-wrap"  # spaces kept, and lines wrap at them
