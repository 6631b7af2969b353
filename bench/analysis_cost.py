"""What page analysis (`content.analyse_body`) costs per page, and that it still says the same.

Stage: benchmark (never imported by the product). Prints the CPU time per page
(`time.process_time`, best of several passes) on the bench's simulated pages
(`simweb.html_page`) and on generated pages with a site's chrome (header, navigation,
asides, cookie banners, promotions, related lists), then checks every fact `analyse_body`
returns for a fixed corpus (the bench's pages, small pages, PDFs and ~1,500 generated
HTML, text and binary bodies) against `CORPUS_DIGEST`: a change that makes analysis
cheaper must leave that digest alone.

    PYTHONPATH=. .venv/bin/python -m bench.analysis_cost

Timings on a shared VM spread by ±30 %; instruction counts do not. Per page, with
`--pages N` analysing N bench pages once and nothing else (`--pages 0` is the base):

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.N \\
        .venv/bin/python -m bench.analysis_cost --pages N

and (total over N pages - total over 0) / N.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.simweb import _CHALLENGE_PAGE, _NOT_FOUND_PAGE, _small_page, html_page, pdf_document
from catalog.check.content import PageFacts, analyse_body

#: sha256 of every field of every `PageFacts` of `corpus()`, as `digest` makes it.
CORPUS_DIGEST = "b3161ece7982cd447563745fd4961aeb44936d093ebfbee12a67c76a766172ac"

HTML = "text/html; charset=utf-8"
#: (body, Content-Type, truncated)
Body = tuple[bytes, str | None, bool]


# --- the corpus ------------------------------------------------------------------------

_VOCABULARY = (
    "victim services guide officers shelter medical legal aid advocates county screening "
    "trafficking rights language hotline report toolkit webinar federal grant youth "
    "housing labour exploitation survivor community partnership"
)
_WORDS = tuple(_VOCABULARY.split())
_NOISE = (
    "Updated March 12, 2024.",
    "Posted 3 hours ago.",
    "Session ID: 7f3a9c2e11",
    "1,234 views",
    "Rendered in 38 ms by web-03.",
    "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcDEFghiJKL",
    "\u00a9 2026 Justice Center",
    "See \u201cFact sheet 4\u201d, p\u00e1gina 7 \u2014 2025-11-28T10:00:00Z.",
    "Call 1-888-373-7888 (24/7).",
    "Visit https://example.org/a.css?v=12345 today",
)
_CLASSES = (
    "cookie-banner",
    "consent-manager",
    "consent",
    "related-posts",
    "related-work",
    "unrelated",
    "promo",
    "promo-code",
    "share-buttons",
    "shareholders",
    "share-your-story",
    "social-links",
    "sidebar",
    "content-sidebar-wrap",
    "has-share-bar",
    "tagline",
    "ad",
    "ads",
    "Ad banner",
    "comments",
    "disqus_thread",
    "card",
    "",
)
_BUTTONS = ("Accept all", "OK", "Got it", "Manage preferences", "Read more", "Rechazar", "")
_ROLES = ("main", "navigation", "complementary", "banner", "contentinfo", "button", "note")


def _sentence(rng: random.Random) -> str:
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 40)))
    return f"{words.capitalize()}. {rng.choice(_NOISE) if rng.random() < 0.5 else ''}"


def _para(rng: random.Random) -> str:
    text = _sentence(rng)
    if rng.random() < 0.3:
        text += f" <a href='/x{rng.randint(0, 99)}'>{_sentence(rng)}</a>"
    return f"<p>{text}</p>"


def _links(rng: random.Random) -> str:
    items = "".join(
        f"<li><a href='/l{i}'>{rng.choice(_WORDS).title()}</a></li>"
        for i in range(rng.randint(1, 8))
    )
    return f"<ul>{items}</ul>"


def _tag(rng: random.Random, name: str) -> str:
    return name.upper() if rng.random() < 0.1 else name


def _block(rng: random.Random, depth: int = 0) -> str:
    """One piece of a page: content, chrome or a trap for the chrome rule."""
    kind = rng.randrange(14 if depth < 2 else 4)
    inner = "".join(_block(rng, depth + 1) for _ in range(rng.randint(0, 3))) if depth < 2 else ""
    if kind <= 1:
        return _para(rng)
    if kind == 2:
        return f"<h2>{_sentence(rng)}</h2>{_para(rng)}"
    if kind == 3:
        return _links(rng)
    if kind == 4:
        attribute = rng.choice(("class", "id", "CLASS"))
        return f"<div {attribute}='{rng.choice(_CLASSES)}'>{_para(rng)}{inner}</div>"
    if kind == 5:
        label = rng.choice(_BUTTONS)
        words = "We use cookies to improve the site." if rng.random() < 0.7 else _sentence(rng)
        return f"<div><p>{words}</p><button>{label}</button><button>Reject</button></div>"
    if kind == 6:
        name = _tag(rng, rng.choice(("aside", "nav")))
        body = _links(rng) if rng.random() < 0.5 else _para(rng)
        return f"<{name}>{body}</{name}>"
    if kind == 7:
        return f"<div role='{rng.choice(_ROLES)}'>{_para(rng)}{inner}</div>"
    if kind == 8:
        name = _tag(rng, "article")
        return f"<{name}>{_para(rng)}{inner}</{name}>"
    if kind == 9:
        hidden = rng.choice(("hidden", "aria-hidden='true'", "style='x'"))
        kind_of_input = rng.choice(("hidden", "HIDDEN", "text"))
        return f"<div {hidden}>{_para(rng)}</div><input type='{kind_of_input}'>"
    if kind == 10:
        return f"<section>{inner}{_para(rng)}</section>"
    if kind == 11:
        return f"<h1>{_sentence(rng) if rng.random() < 0.8 else ' '}</h1>"
    if kind == 12:
        return rng.choice(
            (
                "<form><input type='password' name='pw'></form>",
                "<form action='/sso'><input type=hidden name=SAMLRequest value=x></form>",
                "<p>Choose a strong password.</p>",
                "<div id='root'></div>",
                "<div id='app'>Loading...</div>",
                "<p>Odd \x02S text with a mark</p>",
                "<button role='button'>OK</button>",
            )
        )
    return f"<div>{inner}</div>"


def _page(rng: random.Random) -> Body:
    title = rng.choice(("Victim Services Guide | Justice Center", "Log in", "", "A &amp; B"))
    head = f"<title>{title}</title>" if rng.random() < 0.9 else ""
    if rng.random() < 0.15:
        refresh = rng.choice(("refresh", "REFRESH", "Refresh", "x-refresh"))
        head += f"<meta http-equiv='{refresh}' content='0; url=/moved'>"
    if rng.random() < 0.4:
        head += rng.choice(("<script>var a = 1;</script>", "<SCRIPT src='/a.js'></SCRIPT>"))
    blocks = [_block(rng) for _ in range(rng.randint(1, 12))]
    frame = rng.random()
    if frame < 0.5:
        main = _tag(rng, rng.choice(("main", "article", "div")))
        blocks = [f"<{main}>{''.join(blocks)}</{main}>"]
    if rng.random() < 0.6:
        blocks.insert(0, f"<header><a href='/'>Site</a><nav>{_links(rng)}</nav></header>")
    if rng.random() < 0.6:
        blocks.append(f"<footer>{_sentence(rng)}</footer>")
    if rng.random() < 0.3:
        blocks.append(
            f"<div id='{rng.choice(('cookie-notice', 'onetrust-banner', 'consent'))}'>"
            "<p>This site uses cookies.</p><button>Accept</button></div>"
        )
    page = f"<!doctype html><html><head>{head}</head><body>{''.join(blocks)}</body></html>"
    content_type = rng.choice((HTML, HTML, HTML, None, "text/plain", "text/html"))
    encoding = "utf-8" if rng.random() < 0.9 else "utf-16"
    return page.encode(encoding, "replace"), content_type, rng.random() < 0.15


def chrome_pages(count: int, seed: int = 7) -> list[Body]:
    """Generated pages full of chrome, traps for it and the other rules' triggers."""
    rng = random.Random(seed)
    return [_page(rng) for _ in range(count)]


#: Pages for the rules the generated ones seldom reach: script shells, marks of the page's own.
_EDGES = (
    "<html><head><script src='/a.js'></script></head><body><div id='root'></div></body></html>",
    "<html><head><SCRIPT>x()</SCRIPT></head><body><app-root>Loading...</app-root>"
    "<footer>\u00a9 2026 Site</footer></body></html>",
    "<html><body ng-app><p>Sorry, the item could not be found.</p><div id='app'></div>"
    "<script>y()</script></body></html>",
    "<html><body><main>\x02S a page with marks \x02s of its own</main><nav>x</nav></body></html>",
    "<html><body><h1></h1><h1>Second heading</h1><p>Text</p></body></html>",
    "<html><head><noscript><meta http-equiv=refresh content='0;url=/js'></noscript></head>"
    "<body><p>Needs scripts.</p></body></html>",
    "<html><body><div hidden><input type=password></div><p>Log in below.</p></body></html>",
    "<html><head><title>Sign in</title></head><body><form><input type=PASSWORD></form>"
    + "<p>word</p>" * 200
    + "</body></html>",
)


def corpus() -> Iterator[Body]:
    """The bodies whose facts `CORPUS_DIGEST` pins."""
    for n in range(0, 4000, 10):
        yield html_page(n), HTML, n % 7 == 0
    for n in range(20):
        yield _small_page(n), HTML, False
        yield pdf_document(n), "application/pdf", n % 2 == 0
    yield _NOT_FOUND_PAGE, HTML, False
    yield _CHALLENGE_PAGE, HTML, False
    for page in _EDGES:
        yield page.encode(), HTML, False
    # Charsets: a byte that is no UTF-8, a U+FFFD of the page's own, windows-1252 with and
    # without a label, byte-order marks.
    accented = (
        "<html><body><h1>Se\u00f1ales</h1><p>Caf\u00e9 \ufffd \u201cok\u201d</p></body></html>"
    )
    for content_type in (HTML, "text/html", None, "text/html; charset=windows-1252"):
        yield accented.encode(), content_type, False
        yield accented.encode("cp1252", "replace"), content_type, False
        yield accented.encode()[:-30] + b"\xff\xfe" + accented.encode()[-30:], content_type, False
        yield b"\xef\xbb\xbf" + accented.encode(), content_type, False
        yield accented.encode("utf-16"), content_type, False
    yield from chrome_pages(1500)
    rng = random.Random(11)
    for _ in range(40):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(1, 30)))
        yield text.encode(), rng.choice(("text/plain", None, "application/json")), False
        yield bytes(rng.randrange(256) for _ in range(300)), None, False


def facts_of(body: Body) -> PageFacts:
    data, content_type, truncated = body
    return analyse_body(data, content_type, truncated=truncated, tags=data.count(b"<"))


def digest(bodies: Sequence[Body] | Iterator[Body]) -> str:
    """sha256 over every field of each body's facts, `stable` too (it is out of equality)."""
    hashed = hashlib.sha256()
    for body in bodies:
        f = facts_of(body)
        fields = (f.title, f.heading, f.text, f.fingerprint, f.is_html, f.refresh)
        fields_more = (f.script_shell, f.login_form, f.stable, f.extends)
        hashed.update(repr((fields, fields_more)).encode("utf-8", "surrogatepass") + b"\n")
    return hashed.hexdigest()


# --- timing ----------------------------------------------------------------------------


def per_page_us(bodies: Sequence[Body], passes: int = 5) -> float:
    """Best of `passes` of the CPU time to analyse each body once, per body in µs."""
    best = float("inf")
    for _ in range(passes):
        started = time.process_time()
        for body in bodies:
            facts_of(body)
        best = min(best, time.process_time() - started)
    return best / len(bodies) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, help="analyse this many bench pages once, no more")
    parser.add_argument("--count", type=int, default=500, help="bench pages timed")
    parser.add_argument(
        "--files", nargs="*", default=[], help="saved HTML pages to time too (real sites')"
    )
    args = parser.parse_args(argv)
    bench = [(html_page(n), HTML, False) for n in range(args.count)]
    if args.pages is not None:  # for callgrind: the same setup, then N pages
        for body in bench[: args.pages]:
            facts_of(body)
        return 0
    chrome = chrome_pages(300, seed=3)
    facts_of(bench[0])  # the first parse initializes lexbor
    print(f"bench pages (simweb.html_page, {len(bench)}): {per_page_us(bench):,.1f} µs a page")
    print(f"generated pages with chrome ({len(chrome)}): {per_page_us(chrome):,.1f} µs a page")
    if args.files:
        saved = [(Path(name).read_bytes(), HTML, False) for name in args.files]
        print(f"saved pages ({len(saved)}): {per_page_us(saved):,.1f} µs a page")
    found = digest(corpus())
    same = found == CORPUS_DIGEST
    print(f"facts of the corpus: {'unchanged' if same else 'CHANGED'} ({found})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
