"""The sparse matrices behind `sync-related`'s ranking (`related_rank` documents the evidence).

A note's score of every candidate, for a block of notes at once, is a handful of sparse products: text is
(block's kept word weights) · (each word's champion notes), neighbours (block's link neighbours) ·
(each neighbour's notes, times 1 / log of its degree), tags (block's tags) · (each tag's notes, times its
rarity); mentions and backlinks are rows of fixed matrices. Every matrix keeps each row's columns sorted,
so a product adds its terms in the order of the formula and a score is the same to the last bit as the
one-note walk in `combined_scores` (what `--explain` shows), however the notes are blocked.

Kept apart from `related_rank` because numpy and SciPy take a moment to import, and only `sync-related`
needs them (`related_rank`'s words are read by every command that builds the facts cache).
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import numpy as np
from scipy import sparse

from vaulttools.related_rank import (
    CHAMPIONS,
    COMMON_FRACTION,
    KINDS,
    LINK,
    MENTION,
    MENTION_MIN_CUTOFF,
    MIN_COMMON_CUTOFF,
    NEIGHBOURS,
    STRONG,
    TAG,
    TEXT,
    TEXT_TERMS,
    TIE_TOLERANCE,
    WORD_COMMON_FRACTION,
    Candidate,
    IndexRow,
    LinkPlaces,
    Reason,
    Weights,
    WordNumbers,
    common_cutoff,
    name_words,
)
from vaulttools.resolve import stem_of

__all__ = ["KINDS"]


class RelatedIndex:
    """Every grouped note by number (path order) and the sparse matrices scoring multiplies.

    Rows are notes; each kind of evidence for a block of notes is one sparse product (see `evidence_rows`).
    Every matrix keeps its column indices sorted, so a product adds its terms in the order the documented
    formula does and scores come out the same to the last bit however the notes are blocked.
    """

    def __init__(
        self,
        rows: list[IndexRow],
        common_share: float = COMMON_FRACTION,
        numbers: WordNumbers | None = None,
        link_places: LinkPlaces | None = None,
        aside: Callable[[Callable[[], Any]], Callable[[], Any]] | None = None,
    ) -> None:
        """`numbers`: the rows' words are `numbers.numbered` (else text, as `body_words` gives them);
        `link_places`: the rows' targets are their packed places in it (else paths); `aside`: starts a
        piece of the build elsewhere (`parallel.in_fork`) and gives the function that waits for its value."""
        rows.sort(key=lambda row: row.path)
        self.paths: list[str] = [row.path for row in rows]
        self.stems: list[str] = [stem_of(path) for path in self.paths]
        self.number: dict[str, int] = {path: number for number, path in enumerate(self.paths)}
        # Each note's place by name (stem, then path): how candidates of equal score are ordered.
        by_name = sorted(range(len(rows)), key=lambda note: (self.stems[note], self.paths[note]))
        self.name_rank = np.zeros(len(rows), dtype=np.int64)
        self.name_rank[by_name] = np.arange(len(rows))
        self.cutoff = common_cutoff(len(rows), common_share)
        words = _WordTable.of(rows, numbers)
        # The mentions and the word matrices are found aside (a big vault's: each in a forked copy of this
        # process) while the rest is built: on 20,000 long notes, ~0.35 s and ~0.25 s of CPU that the second
        # core takes off the index's serial build.
        mentions = aside(lambda: self._mentions(words)) if aside is not None else None
        word_matrices = aside(lambda: _word_matrices(words, len(rows))) if aside is not None else None
        self._number_groups(rows)
        self._number_tags(rows)
        self._number_links(rows, link_places)
        found = word_matrices() if word_matrices is not None else _word_matrices(words, len(rows))
        self.word_name: list[str] = found[0]
        self.words: sparse.csr_matrix = found[1]
        self.champions: sparse.csr_matrix = found[2]
        self.mentions = mentions() if mentions is not None else self._mentions(words)

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
        # The same as arrays: each group's members from `member_starts[group]` in `member_notes`.
        self.member_starts = np.zeros(len(self.members) + 1, dtype=np.int64)
        np.cumsum([len(members) for members in self.members], out=self.member_starts[1:])
        self.member_notes = np.fromiter(
            itertools.chain.from_iterable(self.members), np.int64, int(self.member_starts[-1])
        )
        # Each note's groups as a row of numbers, -1 where it has fewer than the widest: compared in bulk.
        widest = max((len(groups) for groups in self.groups_of), default=1)
        self.group_table = np.full((len(rows), max(1, widest)), -1, dtype=np.int32)
        for note, groups in enumerate(self.groups_of):
            self.group_table[note, : len(groups)] = groups

    def _number_tags(self, rows: list[IndexRow]) -> None:
        """Tags on at most `cutoff` notes, numbered by name; `tag_postings` holds each one's rarity.

        Every note's tags are counted in one pass of arrays (each tag numbered on first sight, in C),
        not a list of notes per tag: long notes carry 15-40 tags, ~440,000 on 20,000 notes."""
        seen: dict[str, int] = collections.defaultdict(itertools.count().__next__)
        sizes = np.fromiter(map(len, (row.tags for row in rows)), np.int64, len(rows))
        met = itertools.chain.from_iterable(row.tags for row in rows)
        first_seen = np.fromiter(map(seen.__getitem__, met), np.int64, int(sizes.sum()))
        counts = np.bincount(first_seen, minlength=len(seen))
        names = list(seen)
        kept = sorted(
            (n for n, count in enumerate(counts.tolist()) if count <= self.cutoff), key=names.__getitem__
        )
        self.tag_name: list[str] = [names[number] for number in kept]
        self.tag_count: list[int] = counts[kept].tolist()
        renumber = np.full(len(names), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        owner = np.repeat(np.arange(len(rows)), sizes)
        column = renumber[first_seen]
        common = column < 0  # a row's tags are sorted by name, so their new numbers stay in order
        self.note_tags = _pairs_incidence(owner[~common], column[~common], len(rows), len(kept))
        total = max(1, len(rows))
        rarity = np.array([math.log(total / count) for count in self.tag_count], dtype=np.float64)
        self.tag_postings = _scaled_rows(self.note_tags.T.tocsr(), rarity)

    def _number_links(self, rows: list[IndexRow], link_places: LinkPlaces | None) -> None:
        """Link neighbours: grouped notes are nodes 0..n-1, every other linked path a node after them,
        numbered in the order the notes (by path) first link them."""
        if link_places is None:
            targets = [cast(tuple[str, ...], row.targets) for row in rows]
            link_places = LinkPlaces.of(itertools.chain(self.paths, *targets))
            packed = [link_places.packed(paths) for paths in targets]
        else:
            packed = [cast(bytes, row.targets) for row in rows]
        notes = len(rows)
        places = np.frombuffer(b"".join(packed), dtype=np.intc).astype(np.int64)
        sizes = np.fromiter(map(len, packed), np.int64, notes) // np.dtype(np.intc).itemsize
        owner = np.repeat(np.arange(notes), sizes)
        node = np.full(len(link_places.paths), -1, dtype=np.int64)
        node[np.fromiter(map(link_places.place.__getitem__, self.paths), np.int64, notes)] = np.arange(notes)
        outside = places[node[places] < 0]
        unique, first = np.unique(outside, return_index=True)
        met = unique[np.argsort(first, kind="stable")]  # in the order they are first linked
        node[met] = np.arange(notes, notes + len(met))
        self.node_names: list[str] = [*self.paths, *(link_places.paths[place] for place in met.tolist())]
        linked = node[places]
        del places, node, outside  # each a few bytes a link: 100,000 long notes link 3.3 million times
        mine = linked != owner  # a note is no neighbour of itself
        owner, linked = owner[mine], linked[mine]
        order = np.lexsort((linked, owner))
        owner, linked = owner[order], linked[order]
        del mine, order
        nodes = len(self.node_names)
        self.links_out = _pairs_incidence(owner, linked, notes, nodes)
        del owner, linked
        # Every node a note (every link reaches a note): the same matrix, not a copy of it.
        self.links_to_notes = _notes_columns(self.links_out, notes)
        self.linked_from = _sorted(self.links_to_notes.T.tocsr())
        square = sparse.csr_matrix(
            (self.links_out.data, self.links_out.indices, _padded(self.links_out.indptr, nodes)),
            shape=(nodes, nodes),
        )
        around = _sorted((square + square.T).tocsr())
        del square
        around.data[:] = 1.0  # a note that links and is linked by the same node has it once
        self.around = around
        # 1 / log(degree) of each node that may be shared: at least two neighbours, not a hub.
        degrees = np.diff(around.indptr)
        worth = {int(d): 1 / math.log(d) if 2 <= d <= self.cutoff else 0.0 for d in np.unique(degrees)}
        self.neighbour_worth = np.array([worth[int(d)] for d in degrees], dtype=np.float64)
        self.shared_through = _scaled_rows(_notes_columns(around, notes), self.neighbour_worth)

    def _mentions(self, table: _WordTable) -> sparse.csr_matrix:
        """Which notes each note names in its text: B's name words all among A's words, found from B's
        rarest name word. A name whose words are all on more than `ceiling` notes names nothing: too
        common to point at one note, and what would make this walk quadratic."""
        vocabulary, ids, starts, df = table.vocabulary, table.ids, table.starts, table.df
        ceiling = max(MENTION_MIN_CUTOFF, self.cutoff)
        named: list[int] = []
        rarest: list[int] = []
        other_words: list[list[int]] = []
        for note, stem in enumerate(self.stems):
            words = {word for word in name_words(stem) if word in vocabulary}
            if words:
                rare = min(words, key=lambda w: (df[vocabulary[w]], w))
                if df[vocabulary[rare]] <= ceiling:
                    named.append(note)
                    rarest.append(vocabulary[rare])
                    other_words.append([vocabulary[w] for w in words if w != rare])
        return _mentions_of(len(self.stems), named, rarest, other_words, ids, starts, len(table.names))


def _word_matrices(table: _WordTable, total: int) -> tuple[list[str], sparse.csr_matrix, sparse.csr_matrix]:
    """(the kept words by number, each note's `TEXT_TERMS` most telling words (weight / the note's vector
    length), each word's champion notes): the two factors of the cosine product."""
    notes, top_words, weights = _top_terms(table.ids, table.counts, table.starts, table.df, total)
    # Words numbered in the order they are first met (note by note, best first): stable across runs.
    unique, first = np.unique(top_words, return_index=True)
    met = unique[np.argsort(first, kind="stable")]
    renumber = np.zeros(len(table.names), dtype=np.int32)
    renumber[met] = np.arange(len(met), dtype=np.int32)
    word_name = [table.names[word] for word in met.tolist()]
    words = _sorted(
        sparse.csr_matrix((weights, (notes, renumber[top_words])), shape=(total, len(met))).tocsr()
    )
    return word_name, words, _champions(words)


class _WordTable(NamedTuple):
    """Every note's words as one array of word numbers (`ids`, note by note from `starts`) with their
    counts, each word's document frequency (`df`), and the words by number (`names`)."""

    ids: np.ndarray
    counts: np.ndarray
    starts: np.ndarray
    df: np.ndarray
    vocabulary: dict[str, int]
    names: list[str]

    @classmethod
    def of(cls, rows: list[IndexRow], numbers: WordNumbers | None) -> _WordTable:
        """`numbers`: the rows' words are `numbers.numbered` (else text, as `body_words` gives them)."""
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(row.words[1]) for row in rows], out=starts[1:])
        if numbers is None:
            numbers = WordNumbers()
            lookup = numbers.number.__getitem__  # numbers a word on first sight, in C
            # One array for every note's words, filled straight from the text (no array per note to join).
            words = itertools.chain.from_iterable(cast(str, row.words[0]).split() for row in rows)
            ids = np.fromiter(map(lookup, words), np.int32, int(starts[-1]))
        else:
            ids = np.frombuffer(b"".join(cast(bytes, row.words[0]) for row in rows), dtype=np.intc)
        vocabulary = numbers.number
        counts = np.frombuffer(b"".join(row.words[1] for row in rows), dtype=np.uint8)
        df = np.bincount(ids, minlength=len(vocabulary))
        return cls(ids, counts, starts, df, vocabulary, list(vocabulary))


# --- building the matrices -----------------------------------------------------------------------------

# `1 + log(count)` for every count a note's word may have (counts are kept as bytes: at most 255).
_TERM_FREQUENCY = np.array([0.0, *(1 + math.log(count) for count in range(1, 256))], dtype=np.float64)
# Notes whose word weights are worked out at once: bounds the memory of a big vault's words.
_TERM_CHUNK = 1024


def _sorted(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """The matrix with each row's columns in order (what makes products add in the formula's order)."""
    matrix.sort_indices()
    return matrix


def _incidence(per_row: list[list[int]], width: int) -> sparse.csr_matrix:
    """1.0 at each row's sorted, distinct column numbers."""
    indptr = np.zeros(len(per_row) + 1, dtype=np.int64)
    np.cumsum([len(columns) for columns in per_row], out=indptr[1:])
    columns = np.fromiter(itertools.chain.from_iterable(per_row), np.int32, int(indptr[-1]))
    return sparse.csr_matrix((np.ones(len(columns)), columns, indptr), shape=(len(per_row), width))


def _pairs_incidence(rows: np.ndarray, columns: np.ndarray, height: int, width: int) -> sparse.csr_matrix:
    """1.0 at each (row, column) pair, given in row order and, within a row, column order, each once."""
    indptr = np.zeros(height + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=height), out=indptr[1:])
    data = np.ones(len(columns))
    return sparse.csr_matrix((data, columns.astype(np.int32), indptr), shape=(height, width))


def _notes_columns(matrix: sparse.csr_matrix, notes: int) -> sparse.csr_matrix:
    """The matrix's first `notes` columns, columns sorted: the matrix itself when it has no other."""
    if matrix.shape[1] == notes:
        return _sorted(matrix)
    return _sorted(matrix[:, :notes].tocsr())


def _padded(indptr: np.ndarray, rows: int) -> np.ndarray:
    """Row pointers of a matrix with empty rows added up to `rows`."""
    return np.concatenate([indptr, np.full(rows + 1 - len(indptr), indptr[-1], dtype=indptr.dtype)])


def _scaled_rows(matrix: sparse.csr_matrix, factors: np.ndarray) -> sparse.csr_matrix:
    """Each row times its factor; rows whose factor is 0 dropped (they can add nothing)."""
    scaled = matrix.copy()
    scaled.data = scaled.data * np.repeat(factors, np.diff(scaled.indptr))
    scaled.eliminate_zeros()
    return scaled


def _rank_in_runs(keys: np.ndarray) -> np.ndarray:
    """Each position's place within its run of equal (sorted) keys: 0 for the first of a run."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(first)
    return np.arange(len(keys)) - np.repeat(starts, np.diff(np.append(starts, len(keys))))


def _lengths(weights: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Each note's vector length, its squares summed one by one in word order as the formula does (a
    pairwise sum would differ in the last bit); 1.0 for a note without weighted words."""
    squares = (weights * weights).tolist()
    edges = bounds.tolist()
    return np.array(
        [math.sqrt(sum(squares[a:b])) or 1.0 for a, b in itertools.pairwise(edges)],
        dtype=np.float64,
    )


def _top_terms(
    ids: np.ndarray, counts: np.ndarray, starts: np.ndarray, df: np.ndarray, total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(note, word, weight / length) of each note's `TEXT_TERMS` heaviest words on more than one note, note
    by note and best first (ties by name: a note's words come in name order). Words on more than the word
    ceiling weigh nothing."""
    ceiling = max(MIN_COMMON_CUTOFF, int(total * WORD_COMMON_FRACTION))
    idf_of = {int(d): math.log(total / d) if d else 0.0 for d in np.unique(df)}
    idf = np.array([idf_of[int(d)] for d in df], dtype=np.float64)
    weighed, telling = df <= ceiling, (df <= ceiling) & (df > 1)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for first in range(0, total, _TERM_CHUNK):
        bounds = starts[first : min(total, first + _TERM_CHUNK) + 1]
        words = ids[bounds[0] : bounds[-1]]
        weights = np.where(weighed[words], _TERM_FREQUENCY[counts[bounds[0] : bounds[-1]]] * idf[words], 0.0)
        owner = np.repeat(np.arange(first, first + len(bounds) - 1), np.diff(bounds))
        pick = np.flatnonzero(telling[words])
        order = pick[np.lexsort((-weights[pick], owner[pick]))]  # stable: equal weights stay in name order
        top = order[_rank_in_runs(owner[order]) < TEXT_TERMS]
        lengths = _lengths(weights, bounds - bounds[0])
        found.append((owner[top], words[top], weights[top] / lengths[owner[top] - first]))
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float64)
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]


def _champions(words: sparse.csr_matrix) -> sparse.csr_matrix:
    """Words by notes: each word's postings cut to the `CHAMPIONS` notes it weighs most in (ties: the lower
    note number)."""
    by_word = words.tocsc()
    column = np.repeat(np.arange(words.shape[1]), np.diff(by_word.indptr))
    order = np.lexsort((by_word.indices, -by_word.data, column))
    keep = order[_rank_in_runs(column[order]) < CHAMPIONS]
    kept = (by_word.data[keep], (column[keep], by_word.indices[keep]))
    return _sorted(sparse.csr_matrix(kept, shape=(words.shape[1], words.shape[0])).tocsr())


# Candidate (note, name) pairs checked at once when finding mentions: bounds that step's memory.
_PAIR_CHUNK = 1 << 20


def _mentions_of(
    total: int,
    named: list[int],
    rarest: list[int],
    other_words: list[list[int]],
    ids: np.ndarray,
    starts: np.ndarray,
    vocabulary: int,
) -> sparse.csr_matrix:
    """Notes by notes, 1.0 where the row note has every word of the column note's name: pairs found
    through the name's rarest word, then kept when the note has its other words too."""
    postings = _presence(ids, starts, rarest, (vocabulary, total), by_word=True)
    widest = max((len(words) for words in other_words), default=0)
    table = np.full((len(named), max(1, widest)), -1, dtype=np.int64)
    for row, words in enumerate(other_words):
        table[row, : len(words)] = words
    has = _presence(ids, starts, table[table >= 0], (vocabulary, total), by_word=False)
    rare, names = np.array(rarest, dtype=np.int64), np.array(named, dtype=np.int64)
    sizes = np.diff(postings.indptr)[rare]
    ends = np.cumsum(sizes)
    found: list[tuple[np.ndarray, np.ndarray]] = []
    first = 0
    while first < len(named):  # names in chunks of about `_PAIR_CHUNK` candidate pairs
        last = max(first + 1, int(np.searchsorted(ends, ends[first] - sizes[first] + _PAIR_CHUNK, "right")))
        found.append(_naming(postings, has, table, names, rare, first, last))
        first = last
    rows = np.concatenate([pair[0] for pair in found]) if found else np.zeros(0, np.int64)
    columns = np.concatenate([pair[1] for pair in found]) if found else np.zeros(0, np.int64)
    return _sorted(sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(total, total)).tocsr())


def _presence(
    ids: np.ndarray,
    starts: np.ndarray,
    words: np.ndarray | list[int],
    shape: tuple[int, int],
    *,
    by_word: bool,
) -> sparse.csr_matrix:
    """Which notes have which of `words`: words by notes (postings), or notes by words, columns sorted.
    Built straight as rows of notes, a chunk of notes at a time: no (word, note) pair list of the whole
    vault (on 100,000 notes, ~12 million words) is ever made."""
    vocabulary, total = shape
    wanted = np.zeros(vocabulary, dtype=bool)
    wanted[words] = True
    indptr = np.zeros(total + 1, dtype=np.int64)
    found: list[np.ndarray] = []
    for first in range(0, total, _PRESENCE_CHUNK):
        last = min(total, first + _PRESENCE_CHUNK)
        span = ids[starts[first] : starts[last]]
        chosen = wanted[span]
        running = np.concatenate(([0], np.cumsum(chosen, dtype=np.int64)))
        indptr[first + 1 : last + 1] = indptr[first] + running[starts[first + 1 : last + 1] - starts[first]]
        found.append(span[chosen])
    indices = np.concatenate(found) if found else np.zeros(0, dtype=np.int32)
    matrix = sparse.csr_matrix(
        (np.ones(len(indices), dtype=bool), indices, indptr), shape=(total, vocabulary)
    )
    matrix = matrix.T.tocsr() if by_word else matrix
    matrix.sort_indices()  # looked up by binary search within each row
    return matrix


# Notes whose words `_presence` looks through at once.
_PRESENCE_CHUNK = 8192


def _naming(
    postings: sparse.csr_matrix,
    has: sparse.csr_matrix,
    table: np.ndarray,
    names: np.ndarray,
    rare: np.ndarray,
    first: int,
    last: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(note, named note) for the names `first:last`: each note with the name's rarest word, kept when it
    is not the named note and has every other word of the name."""
    rare = rare[first:last]
    sizes = np.diff(postings.indptr)[rare]
    offsets = np.repeat(postings.indptr[rare] - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
    notes = postings.indices[offsets].astype(np.int64)
    name_of = np.repeat(np.arange(first, last), sizes)
    keep = np.flatnonzero(notes != names[name_of])
    for column in range(table.shape[1]):  # each pass keeps the pairs whose note has the name's next word
        word = table[name_of[keep], column]
        asked = word >= 0
        present = np.ones(len(keep), dtype=bool)
        present[asked] = np.asarray(has[notes[keep][asked], word[asked]]).ravel()
        keep = keep[present]
    return notes[keep], names[name_of[keep]]


def _row(matrix: sparse.csr_matrix, number: int) -> list[int]:
    columns: list[int] = matrix.indices[matrix.indptr[number] : matrix.indptr[number + 1]].tolist()
    return columns


# --- scoring -----------------------------------------------------------------------------------------

# Notes scored in one sparse product: bounds the memory of the products, big enough to amortise them.
SCORE_BLOCK = 512


def evidence_rows(
    index: RelatedIndex, rows: np.ndarray, weights: Weights
) -> list[tuple[str, sparse.csr_matrix]]:
    """The raw value of each kind of evidence, `rows` by every note (same group and self included): the
    cosine of the kept words, the names mentioned, the Adamic-Adar sum over shared link neighbours, the
    links in, the tags' rarity summed."""
    found: list[tuple[str, sparse.csr_matrix]] = []
    if weights.text:
        found.append((TEXT, index.words[rows] @ index.champions))
    if weights.mention:
        found.append((MENTION, index.mentions[rows]))
    if weights.neighbours:
        found.append((NEIGHBOURS, index.around[rows] @ index.shared_through))
    if weights.link:
        links = index.linked_from[rows]
        if weights.include_linked:
            links = links + index.links_to_notes[rows]
            links.data[:] = 1.0  # a link either way counts once
        found.append((LINK, links))
    if weights.tag:
        found.append((TAG, index.note_tags[rows] @ index.tag_postings))
    return found


# The codes of a block's candidate table (`_candidate_table`): one byte per (row, note).
EXCLUDED = 1  # not a candidate of the row: its note itself, a note sharing a group, a note it links
KEPT = 2  # a candidate whose every entry is kept (see `_kind_points`)
# Most bytes a block's candidate table may take: blocks have fewer rows than `SCORE_BLOCK` in a vault of
# more notes than this over it (~65,000).
TABLE_BYTES = 32 * 2**20
# Most (row, group member) pairs a block marks `EXCLUDED` in its table, per row: past it (a vault of a
# few big groups, as folders of thousands of notes), each entry's groups are compared instead.
GROUP_MARKS_PER_ROW = 256
# Kinds whose entries may be left out (`_kind_points`): the two that give most candidates (on long notes,
# ~2,100 and ~1,150 a note), most of them weak. The others are scored first, and keep every entry.
PRUNED_KINDS = (NEIGHBOURS, TAG)
# A tag entry's points are at most the tag weight times this: `weight / best` and `· value` (value <= best)
# are rounded once each, which may add two units in the last place.
ROUNDING_MARGIN = 1 + 1e-12


class _CandidateTable(NamedTuple):
    """A block's candidate table (`_candidate_table`) and whether it marks the rows' groups too (else
    `_kind_points` compares each entry's groups)."""

    codes: np.ndarray
    groups_marked: bool


def _candidate_table(index: RelatedIndex, rows: np.ndarray, weights: Weights) -> _CandidateTable:
    """One byte per (row, note) of the block, `EXCLUDED` where that note may not be listed for the row's:
    the notes of its groups (itself among them), and unless `include_linked`, the notes it links. Looked up
    once per entry of every kind of evidence, instead of comparing each entry's groups and subtracting the
    linked notes from each kind's matrix; `_kind_points` marks it `KEPT` too. A block whose rows' groups
    hold more than `GROUP_MARKS_PER_ROW` notes a row leaves them unmarked: comparing costs less then."""
    table = np.zeros(len(rows) * index.total, dtype=np.uint8)
    if not weights.include_linked:
        links = index.links_to_notes[rows].tocoo()
        table[links.row.astype(np.int64) * index.total + links.col] = EXCLUDED
    groups = index.group_table[rows]
    marked = groups >= 0
    owner = np.nonzero(marked)[0]
    group = groups[marked].astype(np.int64)
    sizes = index.member_starts[group + 1] - index.member_starts[group]
    if sizes.sum() > GROUP_MARKS_PER_ROW * len(rows):
        return _CandidateTable(table, groups_marked=False)
    # Each (row, group) pair's members, one run after another.
    offsets = np.repeat(index.member_starts[group] - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
    table[np.repeat(owner, sizes) * index.total + index.member_notes[offsets]] = EXCLUDED
    return _CandidateTable(table, groups_marked=True)


def _block_rows(total: int) -> int:
    """Notes scored per block: `SCORE_BLOCK`, fewer when their candidate table would pass `TABLE_BYTES`."""
    return max(1, min(SCORE_BLOCK, TABLE_BYTES // max(1, total)))


def _kind_points(
    index: RelatedIndex,
    rows: np.ndarray,
    kind: str,
    evidence: sparse.csr_matrix,
    candidates: _CandidateTable,
    weights: Weights,
    floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row in the block, note, points) of one kind's evidence about notes that may be listed, row by row:
    not the note itself, no note sharing a group with it, no note it links (`EXCLUDED` in the block's
    `_candidate_table`). Points: weight · value / the best value of the kind among the row's candidates (at
    least the kind's `STRONG`).

    With a `floor` (kinds come text, mention, link, neighbours, tag; no weight negative), the entries of
    candidates that score under it whatever their evidence are left out, and each candidate kept whole is
    marked `KEPT`. A
    candidate with evidence of the first three kinds (few) keeps all of it. Each other candidate has only
    neighbour points n and tag points g, and scores fl(n + g): its g is at most the tag weight times
    `ROUNDING_MARGIN` (g_max), so it is dropped when fl(n + g_max) < `floor` (rounding is monotonic:
    fl(n + g) <= fl(n + g_max)), and with no neighbour points, when g < `floor`. A candidate keeps every
    entry or none, and those dropped could never be listed (only scores of at least `floor` are): no listed
    score changes. On long notes, ~3,250 entries a note, ~1.5 % of which score at least 0.5 (`min_score`),
    are cut to ~600, and summing the kinds gets ~5x cheaper."""
    counts = np.diff(evidence.indptr)
    # As positions: numpy converts any other index type on every lookup (~1 ms per million entries).
    local = np.repeat(np.arange(len(rows), dtype=np.intp), counts)
    other, value = evidence.indices.astype(np.intp), evidence.data
    places = local * index.total + other
    table = candidates.codes
    codes = table[places]
    keep = codes != EXCLUDED
    if not candidates.groups_marked:
        keep &= _outside_groups(index, rows, local, other, counts)
    # Each row's best value among its candidates (excluded entries count as 0: every value is positive).
    best = np.zeros(len(rows), dtype=np.float64)
    present = counts > 0
    best[present] = np.maximum.reduceat(np.where(keep, value, 0.0), evidence.indptr[:-1][present])
    points = (getattr(weights, kind) / np.maximum(STRONG[kind], best))[local] * value
    if floor > 0 and kind in PRUNED_KINDS:
        reach = points + weights.tag * ROUNDING_MARGIN if kind == NEIGHBOURS else points
        keep &= (codes == KEPT) | (reach >= floor)
    chosen = np.flatnonzero(keep)
    if floor > 0 and kind != TAG:
        table[places[chosen]] = KEPT
    return local[chosen], other[chosen], points[chosen]


def _outside_groups(
    index: RelatedIndex, rows: np.ndarray, local: np.ndarray, other: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Per entry, whether its note shares no group with the row's note (so is not the note itself)."""
    groups = index.group_table
    if groups.shape[1] == 1:  # one group per note (most vaults): a note shares its own, so self is out too
        group = groups[:, 0]
        outside: np.ndarray = group[other] != np.repeat(group[rows], counts)
        return outside
    me = rows[local]
    keep: np.ndarray = other != me
    theirs = groups[other]
    for mine in range(groups.shape[1]):
        group = groups[me, mine]
        keep &= ~((theirs == group[:, None]).any(axis=1) & (group >= 0))
    return keep


def block_scores(
    index: RelatedIndex, rows: np.ndarray, weights: Weights, floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row in the block, note, score) of every candidate with evidence, by row: per kind, its points
    (`_kind_points`) summed in the order of `KINDS`. With a `floor`, candidates shown to score under it
    may be left out; every other score is the same to the last bit."""
    shape = (len(rows), index.total)
    candidates = _candidate_table(index, rows, weights)
    if min(getattr(weights, kind) for kind in KINDS) < 0:
        floor = 0.0  # a negative weight (nothing forbids one) takes points away: no bound holds
    found: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    # The kinds whose candidates keep every entry first: `_kind_points` marks them before the others.
    for kind, evidence in sorted(evidence_rows(index, rows, weights), key=_pruning_order):
        found[kind] = _kind_points(index, rows, kind, evidence, candidates, weights, floor)
    total: sparse.csr_matrix | None = None
    for kind in KINDS:
        if kind not in found or not len(found[kind][0]):
            continue
        local, other, points = found[kind]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(local, minlength=len(rows)), out=indptr[1:])
        scores = sparse.csr_matrix((points, other, indptr), shape=shape)
        # Summed one kind after another: each score adds its kinds in the order of `KINDS` (a merge of
        # sorted rows per kind measured faster than one sort of every kind's entries).
        total = scores if total is None else total + scores
    if total is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    total = total.tocsr()
    return np.repeat(np.arange(len(rows)), np.diff(total.indptr)), total.indices, total.data


def _pruning_order(item: tuple[str, sparse.csr_matrix]) -> int:
    """Text, mention and link first (kept whole), then neighbours, then tags (see `_kind_points`)."""
    kind = item[0]
    return PRUNED_KINDS.index(kind) + 1 if kind in PRUNED_KINDS else 0


def top_candidates_of(
    index: RelatedIndex, numbers: Sequence[int], weights: Weights, limit: int, min_score: float
) -> list[list[Candidate]]:
    """`top_candidates` of many notes, a block of them per sparse product."""
    chosen: list[list[Candidate]] = []
    block = _block_rows(index.total)
    for first in range(0, len(numbers), block):
        rows = np.asarray(numbers[first : first + block], dtype=np.int64)
        # Only scores of at least `min_score` can be listed (`_top_of_block`): the others need not be summed.
        scores = block_scores(index, rows, weights, max(min_score, 1e-9))
        chosen.extend(_top_of_block(index, scores, len(rows), limit, min_score))
    return chosen


def _top_of_block(
    index: RelatedIndex,
    scores: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: int,
    limit: int,
    min_score: float,
) -> list[list[Candidate]]:
    """Per row, the `limit` best candidates scoring at least `min_score`: the scores are cut by value alone
    (every candidate tied with the last of the best joins), then the name breaks ties."""
    local, others, values = scores
    # Only scores of at least `min_score` can be listed, and the cut below needs no other: when fewer than
    # `limit` are left, every one of them is in the pool either way.
    high = np.flatnonzero(values >= max(min_score, 1e-9))
    values, others, local = values[high], others[high], local[high]
    if not len(values):
        return [[] for _ in range(rows)]
    counts = np.bincount(local, minlength=rows)
    present = counts > 0
    best, last = _best_and_kth(values, counts[present], limit)
    kept = np.maximum(np.maximum(min_score, last - TIE_TOLERANCE), 1e-9)
    kept[best < kept] = np.inf  # no candidate of the row reaches it
    floor = np.full(rows, np.inf)
    floor[present] = kept
    pool = values >= floor[local]
    return _by_name(index, values[pool], others[pool], local[pool], rows, limit, min_score)


def _best_and_kth(values: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per run of `counts` values (each run at least one), its largest value and its `k`-th largest (its
    smallest when it has no more than `k`): a partial sort of each long run, not a sort of them all."""
    starts = np.cumsum(counts) - counts
    best = np.maximum.reduceat(values, starts)
    kth = np.minimum.reduceat(values, starts)
    for run in np.flatnonzero(counts > k).tolist():
        start, count = int(starts[run]), int(counts[run])
        kth[run] = np.partition(values[start : start + count], count - k)[count - k]
    return best, kth


def _by_name(
    index: RelatedIndex,
    values: np.ndarray,
    others: np.ndarray,
    local: np.ndarray,
    rows: int,
    limit: int,
    min_score: float,
) -> list[list[Candidate]]:
    """Per row, the first `limit` of the pool by rounded score (rounded by Python's `round`, as the one-note
    walk does: numpy's rounding may differ in the last digit), then name; a score under `min_score` ends
    the row."""
    rounded = np.fromiter((round(value, 6) for value in values.tolist()), np.float64, len(values))
    order = np.lexsort((index.name_rank[others], -rounded, local))
    local, others, rounded = local[order], others[order], rounded[order]
    # Best first in each row, so the scores under `min_score` are the row's last: a cut, not a gap.
    listed = (_rank_in_runs(local) < limit) & (rounded >= min_score) & (rounded > 0)
    chosen: list[list[Candidate]] = [[] for _ in range(rows)]
    paths, stems = index.paths, index.stems
    for row, other, score in zip(
        local[listed].tolist(), others[listed].tolist(), rounded[listed].tolist(), strict=True
    ):
        chosen[row].append(Candidate(paths[other], stems[other], score))
    return chosen


def evidence_of(index: RelatedIndex, me: int, weights: Weights) -> dict[str, dict[int, float]]:
    """The raw value of each kind of evidence for every note that has some (same group included)."""
    rows = np.array([me], dtype=np.int64)
    return {
        kind: dict(zip(values.indices.tolist(), values.data.tolist(), strict=True))
        for kind, values in evidence_rows(index, rows, weights)
    }


def not_candidates(index: RelatedIndex, me: int, weights: Weights) -> set[int]:
    """Notes that may not be listed for `me`: itself, its groups' notes, and (unless `include_linked`)
    the notes it already links."""
    excluded = {me}
    for group in index.groups_of[me]:
        excluded.update(index.members[group])
    if not weights.include_linked:
        excluded.update(_row(index.links_to_notes, me))
    return excluded


def combined_scores(
    index: RelatedIndex, me: int, weights: Weights, reasons: dict[int, list[Reason]] | None = None
) -> dict[int, float]:
    """One note's `block_scores`, a candidate at a time, with the reasons behind each score (`--explain`)."""
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
        theirs = set(_row(index.words, other))
        mine = zip(_row(index.words, me), index.words[me].data.tolist(), strict=True)
        shared = sorted(
            ((weight, index.word_name[word]) for word, weight in mine if word in theirs),
            key=lambda item: (-item[0], item[1]),
        )
        words = ", ".join(word for _, word in shared[:6])
        return f"cosine {value:.3f} over shared words: {words}"
    if kind == MENTION:
        return f"this note names {index.stems[other]!r} without linking it"
    if kind == NEIGHBOURS:
        both = set(_row(index.around, me)).intersection(_row(index.around, other))
        names = sorted(stem_of(index.node_names[n]) for n in both if index.neighbour_worth[n])
        more = f" and {len(names) - 4} more" if len(names) > 4 else ""
        return f"{len(names)} shared link neighbours: {', '.join(names[:4])}{more}"
    if kind == LINK:
        back = other in _row(index.linked_from, me)
        forth = other in _row(index.links_out, me)
        return "both ways" if back and forth else "links to this note" if back else "linked from this note"
    shared_tags = sorted(set(_row(index.note_tags, me)).intersection(_row(index.note_tags, other)))
    return ", ".join(f"#{index.tag_name[t]} (on {index.tag_count[t]} notes)" for t in shared_tags)


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
    building a Candidate for every note with evidence."""
    return top_candidates_of(index, [me], weights, limit, min_score)[0]
