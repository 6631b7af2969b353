"""Per-page tests made cheaper with the same answers: word counts that read a page's head
only (`content.words_up_to`), YouTube's test that parses only YouTube-like addresses."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from catalog.check.content import words_up_to
from catalog.check.soft404 import video_status
from tests.test_real_world_sites import youtube_watch_page

_WORD = st.text(st.characters(blacklist_categories=("Z", "Cc")), min_size=1, max_size=40)
_SPACE = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\u2003", " \r\n "])


@st.composite
def _texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(_WORD, max_size=80))
    spaces = draw(st.lists(_SPACE, min_size=len(words) + 1, max_size=len(words) + 1))
    return spaces[0] + "".join(w + s for w, s in zip(words, spaces[1:], strict=True))


@given(_texts(), st.integers(min_value=0, max_value=61))
@example("x" * 5000 + " a b", 1)  # a head of one long word: the whole text decides
@example("a " * 40 + "b" * 5000, 30)
@example("", 30)
@example("   ", 30)
def test_words_up_to_counts_as_split_does(text: str, limit: int) -> None:
    assert words_up_to(text, limit) == len(text.split(None, limit))


_REMOVED = '{"status":"ERROR","reason":"Video unavailable"}'


def test_a_youtube_address_in_capitals_is_read_as_youtube() -> None:
    page = youtube_watch_page(_REMOVED)
    for url in ("https://www.youtube.com/watch?v=x", "HTTPS://WWW.YouTube.COM/watch?v=x"):
        found = video_status(url, page)
        assert found is not None and found[0], url
    assert video_status("https://example.org/youtube.com/watch?v=x", page) is None
    assert video_status("https://youtube.example.org/watch?v=x", page) is None
