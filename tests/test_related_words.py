"""The words `sync-related` ranks by: the ASCII quick path reads the same words as the Unicode pattern."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools.note import Note
from vaulttools.related_rank import _STOPWORDS, _WORD_RE, body_words, name_words, unpack_words, words_of

_PIECES = [
    "abc",
    "Ab9",
    "9ab",
    "a_b",
    "under_score",
    "the",
    "and",
    "x",
    "café",
    "naïve",
    "ß",
    "ΣΊΣΥΦΟΣ",
    " ",
    "\n",
    ".",
    "-",
    "İ",
]
_texts = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_words_are_the_unicode_patterns(text: str) -> None:
    lowered = text.lower()
    assert words_of(lowered) == _WORD_RE.findall(lowered)


@settings(max_examples=200, deadline=None)
@given(_texts)
def test_body_words_count_every_word_but_stopwords(text: str) -> None:
    note = Note("n.md", text.encode("utf-8"))
    counted = unpack_words(body_words(note, (0, 0)))
    expected: dict[str, int] = {}
    for word in _WORD_RE.findall(note.text.lower()):
        if word not in _STOPWORDS:
            expected[word] = min(expected.get(word, 0) + 1, 255)
    assert counted == expected
    assert "the" not in counted


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The 3 Big cats_and dogs", ["the", "big", "cats", "and", "dogs"]),
        ("x1 ab a9bc 99abc", ["a9bc", "abc"]),  # a word starts with a letter and has three characters or more
        ("Café au lait", ["café", "lait"]),  # not ASCII: the Unicode pattern
        ("", []),
    ],
)
def test_words_examples(text: str, words: list[str]) -> None:
    assert words_of(text.lower()) == words


def test_name_words_leave_out_stopwords() -> None:
    assert name_words("The-Art-of-War") == ["art", "war"]
