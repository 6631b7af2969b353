"""The soft-404 probe comparison on a site that answers 200 for anything: every page of the
host is compared with one probe answer, so the comparison reuses the page's analysed text
and reads the probe's once, with the same verdicts as reading both again for every page."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bench.simweb import html_page
from catalog.check import content, soft404
from catalog.check.content import PageFacts, analyse_body, stable_text
from catalog.check.soft404 import PROBE_SIMILARITY, probe_soft404, unverified_shell

# --- the comparison as it was, kept as the reference -----------------------------------

_URLISH = re.compile(r"/|\.[a-z0-9]{2,5}\b|" + soft404.PROBE_PREFIX, re.IGNORECASE)
_WORD_EDGES = ".,;:!?¡¿\"'()[]{}«»“”‘’"


def _reference_without_urlish(text: str) -> str:
    return " ".join(word for word in text.split() if not _URLISH.search(word))


def _reference_similarity(a: str, b: str) -> float:
    def words(text: str) -> list[str]:
        stripped = (w.strip(_WORD_EDGES) for w in text.lower().split())
        return [w for w in stripped if w]

    wa, wb = words(a), words(b)
    if not wa and not wb:
        return 1.0
    if not wa or not wb:
        return 0.0
    shortest = min(len(wa), len(wb))
    k = 1 if shortest < 60 else 2 if shortest < 200 else 3
    sa = {" ".join(wa[i : i + k]) for i in range(len(wa) - k + 1)}
    sb = {" ".join(wb[i : i + k]) for i in range(len(wb) - k + 1)}
    return len(sa & sb) / len(sa | sb)


#: The probe's name written out as words, as a site may echo it in a title or heading.
_PROBE_NAME = re.compile(r"linkhealth[\s_-]*probe[\s_-]*[a-z0-9]*")


def _reference_label_words(label: str | None) -> set[str]:
    text = _reference_without_urlish(_PROBE_NAME.sub(" ", stable_text(label or "")))
    return {word for word in (w.strip(_WORD_EDGES) for w in text.split()) if word}


def _reference_labels_agree(page: PageFacts, probe: PageFacts) -> bool:
    """The page's title and heading hold every word of the probe's, or its text has no
    word beyond the probe's text and its own title and heading."""
    if all(
        _reference_label_words(theirs) <= _reference_label_words(mine)
        for mine, theirs in ((page.title, probe.title), (page.heading, probe.heading))
    ):
        return True

    def words(facts: PageFacts) -> set[str]:
        text = _reference_without_urlish(stable_text(facts.text)).lower().split()
        return {word for word in (w.strip(_WORD_EDGES) for w in text) if word}

    labels = _reference_label_words(page.title) | _reference_label_words(page.heading)
    return words(page) <= words(probe) | labels


def _reference_scores(
    page: PageFacts, probe: PageFacts | None, probe_status: int | None
) -> dict[int, float | None]:
    """`soft404._probe_score` before it reused anything (both texts read again for every
    page), for `min_words` 0 (`unverified_shell`) and 5 (`probe_soft404`); a page whose
    title or heading lacks words of the probe's, and whose text has words of its own, is
    unlike it."""
    if probe is None or probe_status is None or not 200 <= probe_status < 300:
        return {0: None, 5: None}
    if not page.is_html or not probe.is_html:
        return {0: None, 5: None}
    page_text = _reference_without_urlish(stable_text(page.text))
    probe_text = _reference_without_urlish(stable_text(probe.text))
    same = page.fingerprint == probe.fingerprint
    score = 1.0 if same else _reference_similarity(page_text, probe_text)
    if not same and not _reference_labels_agree(page, probe):
        score = 0.0
    words = min(len(page_text.split()), len(probe_text.split()))
    return {
        min_words: score if words >= min_words and score >= PROBE_SIMILARITY else None
        for min_words in (0, 5)
    }


# --- pages of a site that answers 200 for anything --------------------------------------


def _html(title: str, body: str) -> PageFacts:
    markup = f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    return analyse_body(markup.encode(), "text/html; charset=utf-8", truncated=False)


_CHROME = (
    "<nav>Home / About us / Programs / Grants and funding / Publications / News / Contact</nav>"
    "<p>Last updated on 12/03/2025 at 10:41 am. Visitors today: 4821. See also "
    "www.example.gov/sitemap.xml and the annual-report.pdf (2.1 MB).</p>"
    "<footer>© 2026 Department of Justice · Privacy · Accessibility · FOIA</footer>"
)
_MISSING = (
    "<p>We are sorry, but the address {path} does not lead anywhere on our site. Try the "
    "search box or the site map, or write to webmaster@example.gov.</p>"
)


def _missing(path: str, extra: str = "") -> PageFacts:
    return _html("Example Agency", _CHROME + _MISSING.format(path=path) + extra)


@functools.cache
def _pages() -> tuple[PageFacts, ...]:
    return tuple(_some_pages())


def _some_pages() -> Iterator[PageFacts]:
    """Ordinary pages, the site's "missing" page for other addresses (soft 404s), near
    copies of the probe on either side of the threshold, short pages and script shells."""
    for n in range(0, 400, 5):
        yield analyse_body(html_page(n), "text/html; charset=utf-8", truncated=False)
    for n in range(0, 60, 7):  # long pages cut at the byte cap
        yield analyse_body(html_page(n)[:9000], "text/html", truncated=True)
    for path in ("/a/b/report.pdf", "/grants/2019", "/x", "/Docs/Annual-Report.PDF?v=3"):
        yield _missing(path)
    for words in range(0, 40, 3):  # the missing page and ever more words of its own
        yield _missing("/a/b", "<p>" + " ".join(f"word{i}" for i in range(words)) + "</p>")
    yield _missing(f"/a/{soft404.PROBE_PREFIX}x1y2")  # the probe itself, another token
    home = html_page(9)
    for extra in range(0, 600, 40):  # the home page and ever more words, across the threshold
        more = "<p>" + " ".join(f"extra{i}" for i in range(extra)) + "</p></body>"
        yield analyse_body(home.replace(b"</body>", more.encode()), "text/html", truncated=False)
    for cut in range(1_000, 8_000, 500):  # the home page, ever shorter
        yield analyse_body(home[: len(home) - cut], "text/html", truncated=False)
    yield _html("Example Agency", "<p>Not here.</p>")
    yield _html("App", "<div id='root'></div><script src='/app.js'></script>")
    yield _html("App", "<div id='app'>Loading...</div><footer>© 2026 Example</footer><script>")
    yield analyse_body(b"%PDF-1.4\n<< /Title (Not Found) /Producer (x) >>", None, truncated=False)
    yield PageFacts("Made by hand", None, "A page / of words. " * 30, "f1", True)


def _probes() -> Iterator[PageFacts]:
    yield _missing(f"/a/b/{soft404.PROBE_PREFIX}x1y2")
    yield _html("Example Agency", "<p>Not here.</p>")  # fewer words than any comparison
    yield analyse_body(html_page(9), "text/html", truncated=False)  # the site's home page
    yield _html("App", "<div id='root'></div><script src='/app.js'></script>")


@pytest.mark.parametrize(
    ("probe", "finds"),
    list(zip(_probes(), [True, False, True, False], strict=True)),
    ids=["missing-page", "short", "home-page", "shell"],
)
def test_pages_compared_with_one_probe_get_the_verdicts_of_a_fresh_reading(
    probe: PageFacts, finds: bool
) -> None:
    found = 0
    for page in _pages():
        for status in (200, 404, None):
            reference = _reference_scores(page, probe, status)
            strict, loose = reference[5], reference[0]
            assert soft404._probe_score(page, probe, status, min_words=5) == strict
            assert soft404._probe_score(page, probe, status, min_words=0) == loose
            # What classify reads.
            soft = probe_soft404(page, probe, status)
            assert (soft is not None) is (not page.script_shell and strict is not None)
            shell = unverified_shell(page, probe, status)
            assert (shell is not None) is (page.script_shell and loose is not None)
            found += soft is not None
    assert (found > 0) is finds  # the missing pages and the home page itself were found


def test_a_probe_is_read_once_and_pages_not_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A site that answers 200 for anything compared every page with its probe by reading
    both texts afresh: two `stable_text` passes of ~0.6 ms per page on top of the one
    `analyse_body` made, and the probe's path-like words sorted out again each time. Only
    a page whose text is alike has its title and heading read (and the probe's, once)."""
    pages = [analyse_body(html_page(n), "text/html", truncated=False) for n in range(20)]
    pages.append(_missing("/a/b/report.pdf"))
    probe = _missing(f"/a/b/{soft404.PROBE_PREFIX}r1e2a3d4")  # a probe no other test made
    calls: list[str] = []

    def counted(text: str) -> str:
        calls.append(text)
        return stable_text(text)

    sorted_out: list[str] = []
    without_urlish = soft404._without_urlish

    def sorting(text: str) -> str:
        sorted_out.append(text)
        return without_urlish(text)

    monkeypatch.setattr(content, "stable_text", counted)
    monkeypatch.setattr(soft404, "stable_text", counted, raising=False)
    monkeypatch.setattr(soft404, "_without_urlish", sorting)
    verdicts = [probe_soft404(page, probe, 200) for page in pages]
    assert verdicts[-1] is not None and verdicts.count(None) == 20
    labels = ["Example Agency"] * 4  # the missing page's title and heading, the probe's
    assert calls == labels
    assert len(sorted_out) == len(pages) + 1 + len(labels)  # each text, the probe's once
    assert probe_soft404(pages[-1], probe, 200) is not None  # the probe's are kept
    assert calls == labels + labels[:2] and len(sorted_out) == len(pages) + 1 + len(labels) + 3


# --- the pieces, against their reference on any text ------------------------------------

#: Whitespace of every kind `str.split` knows, look-alikes of the pattern's letters under
#: IGNORECASE (Kelvin sign, dotted I, long s), extensions, paths and the probe's name.
_PIECES = st.sampled_from(
    [
        " ",
        "  ",
        "\t",
        "\n",
        "\xa0",
        "\x1c",
        "\u2028",
        "a",
        "Z",
        "é",
        "\u212a",
        "\u0130",
        "\u017f",
        "1",
        ".",
        ".pdf",
        ".PDF",
        ".h",
        "/",
        "//",
        "x/y",
        "-",
        "report",
        "é.é",
        ".abcdef",
        ".ab.c",
        "«",
        "”",
        ",",
        "?",
        "LINKHEALTH-PROBE-",
        soft404.PROBE_PREFIX,
    ]
)


@settings(deadline=None)  # the machine is shared: a slow example is no failure
@given(st.lists(_PIECES, max_size=30).map("".join))
@example("a.pdf b /c d")
@example(" a.pdf")
@example("a b.pdf")
@example("x" * 50 + ".html")
def test_path_like_words_are_dropped_as_word_by_word(text: str) -> None:
    assert soft404._without_urlish(text) == _reference_without_urlish(text)


@settings(deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join), st.lists(_PIECES, max_size=40).map("".join))
def test_similarity_of_reused_words_is_the_similarity_of_the_texts(a: str, b: str) -> None:
    expected = _reference_similarity(a, b)
    assert content.similarity(a, b) == expected
    words = content.Words(b)
    assert content.similarity(a, words) == expected
    assert content.similarity(a, words) == expected  # its shingles, kept, again


#: Texts of few distinct words, whose shingles are often shared: scores near any threshold.
_FEW_WORDS = st.lists(st.sampled_from(list("abcdefgh")), max_size=300).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    _FEW_WORDS,
    _FEW_WORDS,
    st.sampled_from([0.5, 0.8, PROBE_SIMILARITY, 0.95, 1.0]),
)
@example("a b c d e f g h " * 30, "a b c d e f g h " * 29 + "a b c", PROBE_SIMILARITY)
def test_a_similarity_cut_short_is_below_the_threshold(a: str, b: str, least: float) -> None:
    expected = _reference_similarity(a, b)
    found = content.similar_enough(content.Words(a), content.Words(b), least)
    assert found == expected if found is not None else expected < least
