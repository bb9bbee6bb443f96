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
nothing and are what would make the walk quadratic. Everything here is plain lists of ints and floats.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from vaulttools.note import Note

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
                shown = link.display or link.target.rsplit("/", 1)[-1].removesuffix(".md")
                pieces.append(f" {shown} ")
            position = link.end
        pieces.append(text[position:end])
    return _ENRICHMENT_LABEL_RE.sub(" ", "".join(pieces))


def body_words(note: Note, section: tuple[int, int]) -> tuple[str, bytes]:
    """The note's words and their counts, compact for the facts cache and quick to load: the distinct words
    by name, space-separated, and each one's count as a byte (at most 255)."""
    counts: dict[str, int] = {}
    for word in _WORD_RE.findall(words_text(note, section).lower()):
        if word not in _STOPWORDS:
            counts[word] = counts.get(word, 0) + 1
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
    targets: tuple[str, ...]  # sorted resolved paths it links, outside its related section
    words: tuple[str, bytes]  # `body_words` of the note


class RelatedIndex:
    """Every grouped note by number (path order) and the inverted indexes scoring walks."""

    def __init__(self, rows: list[IndexRow], common_share: float = COMMON_FRACTION) -> None:
        rows.sort(key=lambda row: row.path)
        self.paths: list[str] = [row.path for row in rows]
        self.stems: list[str] = [_stem(path) for path in self.paths]
        self.number: dict[str, int] = {path: number for number, path in enumerate(self.paths)}
        self.cutoff = common_cutoff(len(rows), common_share)
        self._number_groups(rows)
        self._number_tags(rows)
        self._number_links(rows)
        self._number_words(rows)

    @property
    def total(self) -> int:
        return len(self.paths)

    def group(self, path: str) -> str:
        return ", ".join(self.group_names[g] for g in self.groups_of[self.number[path]])

    def _number_groups(self, rows: list[IndexRow]) -> None:
        numbers: dict[str, int] = {}
        self.groups_of: list[tuple[int, ...]] = [
            tuple(numbers.setdefault(g, len(numbers)) for g in row.groups) for row in rows
        ]
        self.group_names: list[str] = list(numbers)
        self.members: list[list[int]] = [[] for _ in numbers]
        for note, groups in enumerate(self.groups_of):
            for group in groups:
                self.members[group].append(note)

    def _number_tags(self, rows: list[IndexRow]) -> None:
        postings = _postings(row.tags for row in rows)
        total = max(1, len(rows))
        self.tag_name: list[str] = []
        self.tag_notes: list[list[int]] = []
        self.tag_rarity: list[float] = []
        ids: dict[str, int] = {}
        for name, notes in postings.items():
            if len(notes) <= self.cutoff:
                ids[name] = len(self.tag_name)
                self.tag_name.append(name)
                self.tag_notes.append(notes)
                self.tag_rarity.append(math.log(total / len(notes)))
        self.tags: list[tuple[int, ...]] = [tuple(ids[t] for t in row.tags if t in ids) for row in rows]

    def _number_links(self, rows: list[IndexRow]) -> None:
        """Link neighbours: grouped notes are nodes 0..n-1, every other linked path a node after them."""
        number = dict(self.number)
        self.node_names: list[str] = list(self.paths)
        self.links_out: list[tuple[int, ...]] = []
        for row in rows:
            out = []
            for target in row.targets:
                node = number.get(target)
                if node is None:
                    node = number[target] = len(self.node_names)
                    self.node_names.append(target)
                if target != row.path:
                    out.append(node)
            self.links_out.append(tuple(sorted(out)))
        self.linked_from: list[list[int]] = [[] for _ in rows]
        around: list[set[int]] = [set() for _ in self.node_names]
        for source, linked in enumerate(self.links_out):
            for node in linked:
                if node < len(rows):
                    self.linked_from[node].append(source)
                around[source].add(node)
                around[node].add(source)
        self.neighbours: list[tuple[int, ...]] = [tuple(sorted(nodes)) for nodes in around]
        # 1 / log(degree) of each node that may be shared: at least two neighbours, not a hub.
        self.neighbour_worth: list[float] = [
            1 / math.log(len(nodes)) if 2 <= len(nodes) <= self.cutoff else 0.0 for nodes in around
        ]

    def _number_words(self, rows: list[IndexRow]) -> None:
        """Each note's `TEXT_TERMS` most telling words as (word number, weight / note's vector length), and
        the postings of those words: what the cosine walk reads."""
        counts = [unpack_words(row.words) for row in rows]
        total = len(rows)
        df: Counter[str] = Counter()
        for words in counts:
            df.update(words.keys())  # counted in C
        ceiling = max(MIN_COMMON_CUTOFF, int(total * WORD_COMMON_FRACTION))
        ids: dict[str, int] = {}
        self.word_name: list[str] = []
        self.word_notes: list[list[tuple[int, float]]] = []
        self.words: list[tuple[tuple[int, float], ...]] = []
        self._number_mentions(counts, df, max(MENTION_MIN_CUTOFF, self.cutoff))
        for note, words in enumerate(counts):
            weights = {
                word: (1 + math.log(n)) * math.log(total / df[word])
                for word, n in words.items()
                if df[word] <= ceiling
            }
            length = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            best = sorted(
                ((w, word) for word, w in weights.items() if df[word] > 1), key=lambda x: (-x[0], x[1])
            )
            mine = []
            for weight, word in best[:TEXT_TERMS]:
                word_id = ids.get(word)
                if word_id is None:
                    word_id = ids[word] = len(self.word_name)
                    self.word_name.append(word)
                    self.word_notes.append([])
                self.word_notes[word_id].append((note, weight / length))
                mine.append((word_id, weight / length))
            self.words.append(tuple(sorted(mine)))
        for word_id, notes in enumerate(self.word_notes):
            if len(notes) > CHAMPIONS:
                notes.sort(key=lambda entry: (-entry[1], entry[0]))
                self.word_notes[word_id] = sorted(notes[:CHAMPIONS])

    def _number_mentions(self, counts: list[dict[str, int]], df: Counter[str], ceiling: int) -> None:
        """Which notes each note names in its text: B's name words all among A's words, found from B's
        rarest name word. A name whose words are all on more than `ceiling` notes names nothing: too
        common to point at one note, and what would make this walk quadratic."""
        by_rare_word: dict[str, list[tuple[int, frozenset[str]]]] = {}
        for note, stem in enumerate(self.stems):
            name = frozenset(w for w in _WORD_RE.findall(stem.lower()) if w not in _STOPWORDS and w in df)
            if name:
                rarest = min(name, key=lambda w: (df[w], w))
                if df[rarest] <= ceiling:
                    by_rare_word.setdefault(rarest, []).append((note, name))
        self.mentions: list[tuple[int, ...]] = []
        keys = by_rare_word.keys()
        for note, counted in enumerate(counts):
            words = counted.keys()  # a set view: `<=` needs no copy
            named = [
                other
                for word in sorted(words & keys)  # the intersection in C: most words name nothing
                for other, name in by_rare_word[word]
                if other != note and name <= words
            ]
            self.mentions.append(tuple(sorted(named)))


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[:-3] if name.lower().endswith(".md") else name


def _postings(per_note: Iterable[Sequence[str]]) -> dict[str, list[int]]:
    postings: dict[str, list[int]] = {}
    for note, names in enumerate(per_note):
        for name in names:
            postings.setdefault(name, []).append(note)
    return postings


# --- scoring -----------------------------------------------------------------------------------------


def evidence_of(index: RelatedIndex, me: int, weights: Weights) -> dict[str, dict[int, float]]:
    """The raw value of each kind of evidence for every note that has some (same group included)."""
    found: dict[str, dict[int, float]] = {}
    if weights.text:
        found[TEXT] = _text(index, me)
    if weights.mention:
        found[MENTION] = dict.fromkeys(index.mentions[me], 1.0)
    if weights.neighbours:
        found[NEIGHBOURS] = _neighbours(index, me)
    if weights.link:
        links = dict.fromkeys(index.linked_from[me], 1.0)
        if weights.include_linked:
            links.update(dict.fromkeys((n for n in index.links_out[me] if n < index.total), 1.0))
        found[LINK] = links
    if weights.tag:
        found[TAG] = _tags(index, me)
    return found


def _text(index: RelatedIndex, me: int) -> dict[int, float]:
    scores: dict[int, float] = {}
    get, postings = scores.get, index.word_notes
    for word, weight in index.words[me]:
        for other, other_weight in postings[word]:
            scores[other] = get(other, 0.0) + weight * other_weight
    return scores


def _neighbours(index: RelatedIndex, me: int) -> dict[int, float]:
    scores: dict[int, float] = {}
    get, total = scores.get, index.total
    around, worth = index.neighbours, index.neighbour_worth
    for middle in around[me]:
        points = worth[middle]
        if points:
            for other in around[middle]:
                if other < total:
                    scores[other] = get(other, 0.0) + points
    return scores


def _tags(index: RelatedIndex, me: int) -> dict[int, float]:
    scores: dict[int, float] = {}
    get = scores.get
    for tag in index.tags[me]:
        rarity = index.tag_rarity[tag]
        for other in index.tag_notes[tag]:
            scores[other] = get(other, 0.0) + rarity
    return scores


def not_candidates(index: RelatedIndex, me: int, weights: Weights) -> set[int]:
    """Notes that may not be listed for `me`: itself, its groups' notes, and (unless `include_linked`)
    the notes it already links."""
    excluded = {me}
    for group in index.groups_of[me]:
        excluded.update(index.members[group])
    if not weights.include_linked:
        excluded.update(index.links_out[me])
    return excluded


def combined_scores(
    index: RelatedIndex, me: int, weights: Weights, reasons: dict[int, list[Reason]] | None = None
) -> dict[int, float]:
    """Each candidate's score: per kind, weight · value / the best value of that kind among the candidates;
    summed in the fixed order of `KINDS` (float sums must not depend on dict order)."""
    excluded = not_candidates(index, me, weights)
    scores: dict[int, float] = {}
    for kind, values in evidence_of(index, me, weights).items():
        for other in excluded.intersection(values):
            del values[other]
        if not values:
            continue
        weight = getattr(weights, kind) / max(STRONG[kind], max(values.values()))
        get = scores.get
        for other, value in values.items():
            scores[other] = get(other, 0.0) + weight * value
        if reasons is not None:
            for other, value in values.items():
                reasons[other].append(Reason(kind, _detail(index, me, other, kind, value), weight * value))
    return scores


def _detail(index: RelatedIndex, me: int, other: int, kind: str, value: float) -> str:
    """What the evidence of one kind is, in words (only for `--explain`)."""
    if kind == TEXT:
        theirs = {word for word, _ in index.words[other]}
        shared = sorted(
            ((weight, index.word_name[word]) for word, weight in index.words[me] if word in theirs),
            key=lambda item: (-item[0], item[1]),
        )
        words = ", ".join(word for _, word in shared[:6])
        return f"cosine {value:.3f} over shared words: {words}"
    if kind == MENTION:
        return f"this note names {index.stems[other]!r} without linking it"
    if kind == NEIGHBOURS:
        mine = set(index.neighbours[me]).intersection(index.neighbours[other])
        names = sorted(_stem(index.node_names[n]) for n in mine if index.neighbour_worth[n])
        more = f" and {len(names) - 4} more" if len(names) > 4 else ""
        return f"{len(names)} shared link neighbours: {', '.join(names[:4])}{more}"
    if kind == LINK:
        back = other in index.linked_from[me]
        forth = other in index.links_out[me]
        return "both ways" if back and forth else "links to this note" if back else "linked from this note"
    shared_tags = sorted(set(index.tags[me]).intersection(index.tags[other]))
    return ", ".join(f"#{index.tag_name[t]} (on {len(index.tag_notes[t])} notes)" for t in shared_tags)


def rank_key(candidate: Candidate) -> tuple[float, str, str]:
    return (-candidate.score, candidate.stem, candidate.path)


def ranked_candidates(
    index: RelatedIndex, me: int, weights: Weights, *, explain: bool = False
) -> list[Candidate]:
    """Every candidate with any evidence, best first (score, then name); with reasons when `explain`."""
    reasons: dict[int, list[Reason]] | None = _ReasonLists() if explain else None
    scores = combined_scores(index, me, weights, reasons)
    ranked = [
        Candidate(
            index.paths[other],
            index.stems[other],
            round(score, 6),
            tuple(reasons[other]) if reasons is not None else (),
        )
        for other, score in scores.items()
        if score > 0
    ]
    ranked.sort(key=rank_key)
    return ranked


class _ReasonLists(dict[int, list[Reason]]):
    """Each candidate's reasons, an empty list for a candidate not seen yet."""

    def __missing__(self, key: int) -> list[Reason]:
        found: list[Reason] = []
        self[key] = found
        return found


def top_candidates(
    index: RelatedIndex, me: int, weights: Weights, limit: int, min_score: float
) -> list[Candidate]:
    """The `limit` best candidates scoring at least `min_score`, in `ranked_candidates` order, without
    building a Candidate for every note with evidence: the top scores are found by value alone, then every
    candidate tied with the last of them joins before the name breaks ties."""
    scores = combined_scores(index, me, weights)
    if not scores:
        return []
    values = sorted(scores.values(), reverse=True)
    floor = max(min_score, values[min(limit, len(values)) - 1] - TIE_TOLERANCE, 1e-9)
    if values[0] < floor:
        return []
    paths, stems = index.paths, index.stems
    pool = sorted(
        (-round(score, 6), stems[other], paths[other]) for other, score in scores.items() if score >= floor
    )
    chosen = []
    for negative, stem, path in pool[:limit]:
        if -negative < min_score or -negative <= 0:
            break
        chosen.append(Candidate(path, stem, -negative))
    return chosen
