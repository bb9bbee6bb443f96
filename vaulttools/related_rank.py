"""The ranking of `sync-related`: which notes of other groups a note should list, and why.

Five kinds of evidence that B belongs in A's section, each measured on its own scale, then put on one scale
by dividing by the best value any of A's candidates has of that kind, or by the kind's `STRONG` value when
the best is weaker (so the best candidate of a kind gets the kind's whole weight only if its evidence is
strong: a faint cosine with no competition stays faint), and summed with the weights of `[related]`:

* ``text`` (`text_weight`): TF-IDF cosine of the two notes' words (name and body; boilerplate left out:
  link syntax, enrichment labels, the related section itself; words on many notes, like template headings,
  count for nothing). Like Lucene's "more like this", only each note's `TEXT_TERMS` most telling words take
  part, and each word is walked only through the `CHAMPIONS` notes it weighs most in: the walk stays short
  and loses little, since the words that decide a cosine are the rare ones.
* ``neighbours`` (`target_weight`): Adamic-Adar over links in either direction: every note or file that
  both link, that links both (co-citation), or that one links and that links the other, counts
  1 / log(its number of link neighbours): a shared neighbour with few links says much, a hub little.
* ``mention`` (`mention_weight`): A's text names B (every word of B's name is among A's words) without
  linking it: Obsidian's "unlinked mentions". Names made only of common words do not count.
* ``link`` (`link_weight`): B links A (a backlink A does not return). A note A already links is not a
  candidate at all, unless `related.include_linked`; then a link either way counts here.
* ``tag`` (`tag_weight`): shared tags, each by its rarity log(N / notes with the tag).

Features (tags, link neighbours, words) on more than `common_cutoff` notes are left out: they say almost
nothing and are what would make the walk quadratic. The index and the scoring are `related_index`'s
sparse matrices; this module holds the rules, the words of a note and the types.
"""

from __future__ import annotations

import array
import collections
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from vaulttools.note import Note
from vaulttools.resolve import stem_of

# Features shared by more notes than this are too common to be evidence (and too costly to walk).
MIN_COMMON_CUTOFF = 50
COMMON_FRACTION = 0.02
# Words may be more common than tags or links before they stop telling notes apart.
WORD_COMMON_FRACTION = 0.2
# The most telling words of a note that take part in text similarity (see the module docstring).
TEXT_TERMS = 16
# Each word's postings keep only the notes it weighs most in ("champion lists"): the walk stays short on
# words many notes share, and the notes dropped are those where the word matters least.
CHAMPIONS = 32
# A name is specific enough to be mentioned if one of its words is on at most this many notes (or on
# `common_cutoff` notes, if more).
MENTION_MIN_CUTOFF = 100
# Scores are rounded to 6 decimals before ranking; anything closer than this may tie.
TIE_TOLERANCE = 1e-5

TEXT, MENTION, NEIGHBOURS, LINK, TAG = "text", "mention", "neighbours", "link", "tag"
KINDS = (TEXT, MENTION, NEIGHBOURS, LINK, TAG)  # the order a candidate's points are added (and explained) in
# Evidence at least this strong earns a kind's whole weight: a cosine of 0.1 (a few rare words in common),
# one shared neighbour with two links (1 / log 2 = 1.44, taken as 1), one tag on e^1 of the notes' share.
STRONG = {TEXT: 0.1, MENTION: 1.0, NEIGHBOURS: 1.0, LINK: 1.0, TAG: 1.0}


def common_cutoff(total: int, share: float = COMMON_FRACTION) -> int:
    """The most notes a tag, link neighbour or word may be on and still count: `share` of the grouped
    notes (`related.common_share`, 2% by default), at least 50."""
    return max(MIN_COMMON_CUTOFF, int(total * share))


# --- words of a note ---------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W\d_][^\W_]{2,}")
# `_WORD_RE` for a lowered ASCII text: a letter, then two or more letters or digits.
_ASCII_WORD_RE = re.compile(r"[a-z][a-z0-9]{2,}")
_ENRICHMENT_LABEL_RE = re.compile(r"\*\*(?:Enrichment context|Counterpoint):\*\*")
_STOPWORD_TEXT = """the and for that with from this are was were not but its into than then them they their
there these those which who whom what when where why how has have had can could should would will may might
must one two all any each more most other some such only own same very also about over under between while you
your our out just like been being does did doing get got use used using here http https www com"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def words_text(note: Note, section: tuple[int, int]) -> str:
    """What a reader sees of the note as words: its name and body, links shown as their display text (or
    the target's name), embeds and the related section (`section`: heading start, end) left out,
    enrichment labels dropped. Frontmatter is not text: its values are the same few words on every note."""
    text = note.text
    skip_from, skip_to = section
    spans = [(note.body_start, len(text))]
    if 0 <= skip_from < skip_to:
        spans = [(note.body_start, skip_from), (skip_to, len(text))]
    links = [lk for lk in note.links if lk.kind in ("wikilink", "markdown", "embed")]
    pieces = [note.stem.replace("-", " ").replace("_", " "), "\n"]
    for start, end in spans:
        position = start
        for link in links:
            if link.start < position or link.end > end:
                continue
            pieces.append(text[position : link.start])
            if not link.embed:
                shown = link.display or stem_of(link.target)
                pieces.append(f" {shown} ")
            position = link.end
        pieces.append(text[position:end])
    return _ENRICHMENT_LABEL_RE.sub(" ", "".join(pieces))


def name_words(stem: str) -> list[str]:
    """The words of a note's name that may tell it apart (what an unlinked mention must contain)."""
    return [word for word in words_of(stem.lower()) if word not in _STOPWORDS]


def words_of(lowered: str) -> list[str]:
    """`_WORD_RE`'s words of a lowered text. An ASCII text's are those of `_ASCII_WORD_RE`, which reads it
    ~1.8 times as fast (no Unicode category looked up for each character): a 30 KB note took ~1.3 ms."""
    return (_ASCII_WORD_RE if lowered.isascii() else _WORD_RE).findall(lowered)


def body_words(note: Note, section: tuple[int, int]) -> tuple[str, bytes]:
    """The note's words and their counts, compact for the facts cache and quick to load: the distinct words
    by name, space-separated, and each one's count as a byte (at most 255). Counted in C (`Counter`), the
    stopwords dropped after: a loop over a long note's 5,000 words took ~0.4 ms."""
    counts = collections.Counter(words_of(words_text(note, section).lower()))
    for stopword in _STOPWORDS.intersection(counts):
        del counts[stopword]
    return pack_words(counts)


def pack_words(counts: dict[str, int]) -> tuple[str, bytes]:
    ordered = sorted(counts)
    return " ".join(ordered), bytes(min(counts[word], 255) for word in ordered)


def unpack_words(packed: tuple[str, bytes]) -> dict[str, int]:
    text, counts = packed
    return dict(zip(text.split(), counts, strict=True))


def parse_words(text: str) -> dict[str, int]:
    """Words written as `word` or `word*count`, space-separated, to {word: count} (for callers and tests
    that state a note's words by hand)."""
    counts: dict[str, int] = {}
    for item in text.split():
        word, _, count = item.partition("*")
        counts[word] = int(count) if count else 1
    return counts


# --- the index ---------------------------------------------------------------------------------------


class Reason(NamedTuple):
    kind: str  # "text", "neighbours", "link", "tag"
    detail: str
    points: float


@dataclass(frozen=True)
class Candidate:
    path: str
    stem: str
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Weights:
    text: float = 1.0
    mention: float = 1.0
    neighbours: float = 1.0
    link: float = 1.0
    tag: float = 1.0
    include_linked: bool = False


class IndexRow(NamedTuple):
    path: str
    groups: tuple[str, ...]
    tags: tuple[str, ...]  # sorted
    # The sorted resolved paths it links, outside its related section; or their places in a `LinkPlaces`,
    # packed as native 4-byte integers (`LinkPlaces.packed`), when the index is given one.
    targets: tuple[str, ...] | bytes
    words: tuple[str | bytes, bytes]  # `body_words` of the note, or `WordNumbers.numbered` of them


class LinkPlaces(NamedTuple):
    """Every path a link may reach, sorted, and each one's place: a note's targets travel as places (from
    a forked worker, into the index) rather than as strings."""

    paths: list[str]
    place: dict[str, int]

    @classmethod
    def of(cls, paths: Iterable[str]) -> LinkPlaces:
        ordered = sorted(set(paths))
        return cls(ordered, {path: place for place, path in enumerate(ordered)})

    def packed(self, targets: Iterable[str]) -> bytes:
        """The places of `targets`, in their order, as native 4-byte integers."""
        return array.array("i", map(self.place.__getitem__, targets)).tobytes()


class WordNumbers:
    """Numbers for words, each given on first sight, so a note's words can be kept as 4-byte numbers
    (`numbered`) rather than text while a vault's index rows are gathered: on 100,000 notes, ~12 million
    words of only ~6,000 kinds, half the memory of their text. Which number a word gets changes no score."""

    def __init__(self) -> None:
        self.number: dict[str, int] = collections.defaultdict(itertools.count().__next__)

    def numbered(self, words: tuple[str, bytes]) -> tuple[bytes, bytes]:
        """`body_words` with the words as numbers (native 4-byte integers), in the same order."""
        text, counts = words
        return array.array("i", map(self.number.__getitem__, text.split())).tobytes(), counts
