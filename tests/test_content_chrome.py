"""The fingerprint covers a page's own content: chrome that rotates from one fetch to the
next (promotions, "related" lists, cookie banners, share counts, relative times) and a PDF
rendered anew on each download do not say "content changed"; real edits still do."""

from __future__ import annotations

import hashlib
import random

import pytest

from catalog.check import content
from catalog.check.content import PageFacts, analyse_body, stable_text
from tests.complexity import growth

HTML = "text/html; charset=utf-8"
ARTICLE = (
    "<h1>Victim Services Guide</h1>"
    "<p>This guide helps officers connect trafficking victims with shelter, medical care "
    "and legal aid. It explains how to work with advocates from first contact through "
    "prosecution, and which services each county provides.</p>"
    "<p>Officers should screen every person found in a raid for signs of trafficking, "
    "explain their rights in a language they understand and call an advocate.</p>"
)
RELATED = ["Screening tools", "Building a task force", "Labor indicators", "Trauma-informed"]
PROMOS = ["Register now for the conference in Denver.", "New webinar series: sign up today."]


def site(
    main: str,
    *,
    title: str = "Victim Services Guide | Justice Center",
    around: str = "",
    night: int = 0,
) -> bytes:
    """A page as a CMS serves it: header, navigation, content, footer, on night `night`."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        "<header><a href='/'>Justice Center</a><nav><a href='/a'>About</a> "
        f"<a href='/n'>News ({night} new)</a></nav></header>"
        f"{main}{around}"
        f"<footer>Justice Center, 1 Main St. Page {night} of the site tour.</footer>"
        "</body></html>"
    ).encode()


def facts(body: bytes, content_type: str = HTML) -> PageFacts:
    return analyse_body(body, content_type, truncated=False)


def fingerprints(make: object, nights: int = 6) -> set[str]:
    assert callable(make)
    return {facts(make(n)).fingerprint for n in range(nights)}


def _shuffled(n: int) -> list[str]:
    related = RELATED[:]
    random.Random(n).shuffle(related)
    return related


def _related(n: int) -> str:
    return "<ul>" + "".join(f"<li><a href='/r'>{t}</a></li>" for t in _shuffled(n)) + "</ul>"


NOISE = {
    "promo-aside-in-main": lambda n: site(
        f"<main>{ARTICLE}<aside class='promo'>{PROMOS[n % 2]}</aside></main>", night=n
    ),
    "related-aside-shuffled": lambda n: site(
        f"<main>{ARTICLE}<aside><h2>Related articles</h2>{_related(n)}</aside></main>", night=n
    ),
    "related-div-by-class": lambda n: site(
        f"<main>{ARTICLE}<div class='related-posts'>{_related(n)}</div></main>", night=n
    ),
    "sidebar-beside-an-article": lambda n: site(
        f"<article>{ARTICLE}</article><div class='sidebar'>{PROMOS[n % 2]}</div>", night=n
    ),
    "named-cookie-banner-some-nights": lambda n: site(
        f"<main>{ARTICLE}</main>",
        around="<div id='cookie-notice'>We use cookies. <a>Accept</a></div>" if n % 3 else "",
        night=n,
    ),
    "unnamed-cookie-banner-inside-main": lambda n: site(
        f"<main>{ARTICLE}"
        + (
            "<div><p>We use cookies to improve your experience.</p>"
            "<button>Accept all</button><button>Manage preferences</button></div>"
            if n % 2
            else ""
        )
        + "</main>",
        night=n,
    ),
    "ab-tagline": lambda n: site(
        f"<main><p class='tagline'>{['Read the guide below.', 'Explore this guide.'][n % 2]}"
        f"</p>{ARTICLE}</main>",
        night=n,
    ),
    "share-bar-counts": lambda n: site(
        f"<main>{ARTICLE}<div class='share-buttons'>Share ({n * 7}) Tweet ({n})</div></main>",
        night=n,
    ),
    "ad-slot": lambda n: site(
        f"<main>{ARTICLE}<div class='ad ad-top'>Buy {PROMOS[n % 2]}</div></main>", night=n
    ),
}

#: Noise in the content itself, as words: the noise expression drops it.
WORDS = {
    "an-hour-ago-or-yesterday": lambda n: ["Updated an hour ago.", "Updated yesterday."][n % 2],
    "just-now-or-a-minute-ago": lambda n: ["Edited just now.", "Edited a minute ago."][n % 2],
    "a-few-minutes-ago": lambda n: ["Seen a few seconds ago.", "Seen a few minutes ago."][n % 2],
    "viewed-n-times": lambda n: f"This page has been viewed {100_181 + 97 * n:,} times.",
    "people-online": lambda n: f"{10 + n} people online.",
    "users-online": lambda n: f"There are {3 + n} users online now.",
    "share-count-in-brackets": lambda n: f"Share ({n * 3})",
    "countdown-starts-in": lambda n: f"The conference starts in {30 - n} days.",
    "countdown-days-left": lambda n: f"Only {30 - n} days left to register.",
    "hace-una-hora": lambda n: ["Actualizado hace una hora.", "Actualizado hace unos minutos."][
        n % 2
    ],
    "il-y-a-une-heure": lambda n: ["Mis à jour il y a une heure.", "Mis à jour il y a 3 jours."][
        n % 2
    ],
}


@pytest.mark.parametrize("make", NOISE.values(), ids=NOISE.keys())
def test_chrome_that_rotates_leaves_the_fingerprint_alone(make: object) -> None:
    assert len(fingerprints(make)) == 1


@pytest.mark.parametrize("say", WORDS.values(), ids=WORDS.keys())
def test_relative_times_counts_and_countdowns_are_noise(say: object) -> None:
    assert callable(say)
    assert len(fingerprints(lambda n: site(f"<main>{ARTICLE}<p>{say(n)}</p></main>"))) == 1


def test_the_site_header_navigation_and_footer_are_no_content() -> None:
    """A site-wide menu or footer edit said "content changed" for every page of the site."""
    assert len(fingerprints(lambda n: site(f"<main>{ARTICLE}</main>", night=n))) == 1


EDITED = ARTICLE.replace("call an advocate", "call a victim advocate and a lawyer")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            site(f"<main>{ARTICLE}<aside class='promo'>{PROMOS[0]}</aside></main>"),
            site(f"<main>{EDITED}<aside class='promo'>{PROMOS[1]}</aside></main>"),
            id="paragraph-edited-in-main",
        ),
        pytest.param(
            site(f"<main>{ARTICLE}</main>"),
            site(f"<main>{ARTICLE}<p>New annex on labour exploitation.</p></main>"),
            id="paragraph-added-in-main",
        ),
        pytest.param(
            site(f"<article>{ARTICLE}</article>"),
            site(f"<article>{EDITED}</article>"),
            id="paragraph-edited-in-the-article",
        ),
        pytest.param(
            site(f"<main>{ARTICLE}</main>"),
            site(f"<main>{ARTICLE}</main>", title="Victim Services Guide, 2027 | Justice Center"),
            id="title-changed",
        ),
        pytest.param(
            site(f"<div class='content'>{ARTICLE}</div>"),
            site(f"<div class='content'>{EDITED}</div>"),
            id="page-without-a-content-element",
        ),
        pytest.param(  # <main> holds a banner; the text is beside it
            site(f"<main><p>Welcome!</p></main><div>{ARTICLE}</div>"),
            site(f"<main><p>Welcome!</p></main><div>{EDITED}</div>"),
            id="content-beside-a-main-that-holds-a-banner",
        ),
        pytest.param(  # one teaser marked up as an article, the text in plain divs
            site(f"<div>{ARTICLE}</div><div><article>Read our news.</article></div>"),
            site(f"<div>{EDITED}</div><div><article>Read our news.</article></div>"),
            id="content-beside-one-teaser-article",
        ),
        pytest.param(  # a wrapper whose class names share buttons holds the whole article
            site(f"<main><div class='has-share-bar'>{ARTICLE}</div></main>"),
            site(f"<main><div class='has-share-bar'>{EDITED}</div></main>"),
            id="content-in-a-wrapper-named-like-chrome",
        ),
        pytest.param(
            site(f"<main><div id='shareholders-report'>{ARTICLE}</div><p>Intro.</p></main>"),
            site(f"<main><div id='shareholders-report'>{EDITED}</div><p>Intro.</p></main>"),
            id="a-section-about-shareholders-is-content",
        ),
        pytest.param(
            site(f"<main>{ARTICLE}<p>Apply in 30 days.</p></main>"),
            site(f"<main>{ARTICLE}<p>Apply in 60 days.</p></main>"),
            id="a-deadline-is-no-countdown",
        ),
    ],
)
def test_a_real_content_change_still_changes_the_fingerprint(before: bytes, after: bytes) -> None:
    assert facts(before).fingerprint != facts(after).fingerprint


def test_a_page_that_tells_no_content_from_chrome_keeps_its_fingerprint() -> None:
    """Pages without a content element or named chrome are hashed as before the content
    was told from chrome, so an upgrade does not say "content changed" for all of them."""
    body = (
        "<html><head><title>Guide</title></head><body><nav>Home About</nav>"
        f"<div>{ARTICLE}</div><footer>© 2026 Center</footer></body></html>"
    ).encode()
    page = facts(body)
    expected = stable_text("Guide") + "\n" + stable_text(page.text)
    assert page.fingerprint == "sha256:" + hashlib.sha256(expected.encode()).hexdigest()


def test_the_text_stays_the_whole_page_for_probes_and_drift() -> None:
    body = site(
        f"<main>{ARTICLE}<aside class='promo'>{PROMOS[0]}</aside></main>",
        around="<div class='cookie-banner'>We use cookies.</div>",
    )
    page = facts(body)
    assert page.text.startswith("Justice Center About News (0 new) Victim Services Guide")
    assert PROMOS[0] in page.text and "We use cookies." in page.text
    assert page.text.endswith("Page 0 of the site tour.")
    assert page.stable_text() == stable_text(page.text)
    assert "\x02" not in page.text and page.heading == "Victim Services Guide"


def test_a_page_holding_the_marks_itself_is_read_whole() -> None:
    odd = site(f"<main>{ARTICLE}<p>\x02\x05 odd bytes</p></main>")
    page = facts(odd)
    assert "odd bytes" in page.text
    assert page.fingerprint == facts(odd).fingerprint
    assert page.fingerprint != facts(odd.replace(b"odd bytes", b"other bytes")).fingerprint


def test_a_script_shell_is_still_told_with_marks_in_its_mount() -> None:
    shell = (
        b"<html><head><title>App</title><script src='/app.js'></script></head><body>"
        b"<div id='root'><main>Loading</main></div></body></html>"
    )
    assert facts(shell).script_shell


# --- PDFs rendered on each download ---------------------------------------------------


def pdf(n: int, text: bytes = b"Annual guide to victim services", title: bytes = b"Guide") -> bytes:
    """A PDF as wkhtmltopdf renders it on request `n`: same pages, new stamps."""
    r = random.Random(n)
    ident = "".join(r.choice("0123456789ABCDEF") for _ in range(32)).encode()
    uuid = "".join(r.choice("0123456789abcdef") for _ in range(32)).encode()
    date = f"2026120{n % 9}1{n % 10}10{n % 6}0".encode()
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/Metadata 5 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"3 0 obj<</Title("
        + title
        + b")/Producer(wkhtmltopdf 0.12.6)/CreationDate(D:"
        + date
        + b"Z)/ModDate(D:"
        + date
        + b"+01'00')>>endobj\n"
        b"4 0 obj<</Length 44>>stream\nBT /F1 12 Tf 72 720 Td (" + text + b") Tj ET\nendstream\n"
        b"5 0 obj<</Type/Metadata/Subtype/XML>>stream\n<x:xmpmeta><rdf:Description "
        b"xmp:CreateDate='2026-12-0" + date[7:8] + b"T10:00:00Z'>"
        b"<xmp:ModifyDate>2026-12-0" + date[7:8] + b"T10:00:00Z</xmp:ModifyDate>"
        b"<xmpMM:DocumentID>uuid:" + uuid + b"</xmpMM:DocumentID>"
        b"<xmpMM:InstanceID>uuid:" + uuid[::-1] + b"</xmpMM:InstanceID>"
        b"</rdf:Description></x:xmpmeta>\nendstream\n"
        b"trailer<</Root 1 0 R/Info 3 0 R/ID[<" + ident + b"><" + ident[::-1] + b">]>>\n%%EOF\n"
    )


def test_a_pdf_rendered_on_each_download_keeps_its_fingerprint() -> None:
    assert len({facts(pdf(n), "application/pdf").fingerprint for n in range(6)}) == 1
    assert facts(pdf(1), "application/pdf").title == "Guide"


def test_a_new_pdf_edition_changes_the_fingerprint() -> None:
    base = facts(pdf(1), "application/pdf").fingerprint
    assert (
        facts(pdf(2, text=b"Annual guide to victim services, 2027"), "application/pdf").fingerprint
        != base
    )
    assert facts(pdf(2, title=b"Guide 2027"), "application/pdf").fingerprint != base


def test_a_pdf_of_stamps_costs_in_proportion_to_its_size() -> None:
    """The stamp search is bounded: a body of unclosed stamps is one linear pass."""

    def body(count: int) -> bytes:
        return b"%PDF-1.4\n" + b"/CreationDate (D:2026 /ID [<0A1B <xmp:CreateDate>2026" * count

    def analyse(data: bytes) -> PageFacts:
        return analyse_body(data, "application/pdf", truncated=False)

    assert growth(analyse, body(5_000), body(40_000), size_ratio=8) < 3


def test_a_page_of_many_chrome_elements_costs_in_proportion_to_its_size() -> None:
    def page(count: int) -> bytes:
        chrome = "<aside class='promo'>Sign up <button>OK</button></aside><p>Text.</p>" * count
        return site(f"<main>{chrome}</main>")

    def analyse(data: bytes) -> PageFacts:
        return analyse_body(data, HTML, truncated=False)

    assert analyse(page(10)).fingerprint != analyse(page(11)).fingerprint
    assert growth(analyse, page(500), page(4_000), size_ratio=8) < 3


def test_the_stamps_are_blanked_not_the_rest() -> None:
    stamped = b"/CreationDate (D:20261205) /ID [<AB12> <CD34>] <xmp:ModifyDate>x</xmp:ModifyDate>"
    assert content._without_pdf_stamps(stamped) == (
        b"/CreationDate  /ID [] <xmp:ModifyDate></xmp:ModifyDate>"
    )


def test_marks_in_a_mount_are_no_words_of_it() -> None:
    shell = (
        b"<html><head><title>App</title><script src='/app.js'></script></head><body>"
        b"<div id='app'><main><aside>Loading</aside><div class='promo'></div></main></div>"
        b"</body></html>"
    )
    assert facts(shell).script_shell


FOOTER = "<footer>" + "Links to every office of the center. " * 40 + "</footer>"


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(
            "<div class='content-sidebar-wrap'><div>{}</div><aside>Donate.</aside></div>" + FOOTER,
            id="layout-wrapper-named-after-its-sidebar",
        ),
        pytest.param(
            "<div class='promo-layout'><main>{}</main></div>" + FOOTER,
            id="main-inside-an-element-named-like-chrome",
        ),
    ],
)
def test_content_inside_an_element_named_like_chrome_is_content(layout: str) -> None:
    assert facts(site(layout.format(ARTICLE))).fingerprint != (
        facts(site(layout.format(EDITED))).fingerprint
    )


@pytest.mark.parametrize(
    "before, after",
    [
        pytest.param(  # a section of a paper, not a list of related posts
            site(f"<main>{ARTICLE}<div class='related-work'><p>Smith 2019.</p></div></main>"),
            site(f"<main>{ARTICLE}<div class='related-work'><p>Jones 2024.</p></div></main>"),
            id="related-work-is-content",
        ),
        pytest.param(
            site(f"<main>{ARTICLE}<div class='share-your-story'><p>Call us.</p></div></main>"),
            site(f"<main>{ARTICLE}<div class='share-your-story'><p>Write us.</p></div></main>"),
            id="share-your-story-is-content",
        ),
        pytest.param(
            site(f"<main>{ARTICLE}<div class='promo-code'><p>Code SPRING.</p></div></main>"),
            site(f"<main>{ARTICLE}<div class='promo-code'><p>Code AUTUMN.</p></div></main>"),
            id="promo-code-is-content",
        ),
        pytest.param(  # a callout in the content, not a list of links
            site(f"<main>{ARTICLE}<aside><p>Hotline: 1-888-373-7888, any hour.</p></aside></main>"),
            site(f"<main>{ARTICLE}<aside><p>Hotline: 1-800-555-0100, any hour.</p></aside></main>"),
            id="a-callout-aside-in-the-content-is-content",
        ),
    ],
)
def test_content_named_like_chrome_or_set_aside_still_changes_the_fingerprint(
    before: bytes, after: bytes
) -> None:
    assert facts(before).fingerprint != facts(after).fingerprint
