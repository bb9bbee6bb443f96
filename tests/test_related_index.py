"""The block scoring of `related_index` (sparse products over many notes at once) against the one-note walk
that `--explain` uses: the same candidates with the same scores, whatever the block size."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaulttools import related_index
from vaulttools.config import RelatedConfig
from vaulttools.related import ScoringFacts, build_index, choose, index_row, score_candidates, weights_of
from vaulttools.related_index import RelatedIndex, top_candidates_of
from vaulttools.related_rank import IndexRow, LinkPlaces, WordNumbers

WORDS = ["alpha", "beta", "gamma", "delta", "zebra", "stripes", "omega", "kappa", "lambda", "sigma"]


def random_vault(seed: int, count: int, two_groups: float = 0.1) -> list[ScoringFacts]:
    """Notes with words, names made of those words (so some are mentioned), tags, links and groups, a few
    notes (a share of `two_groups`) in two groups."""
    rng = random.Random(seed)
    paths = [f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:03d}.md" for i in range(count)]
    notes = []
    for path in paths:
        group: str | tuple[str, ...] = f"g{rng.randrange(count // 5)}"
        if rng.random() < two_groups:
            group = (group, f"g{rng.randrange(count // 5)}")
        words = " ".join(f"{w}*{rng.randrange(1, 4)}" for w in rng.sample(WORDS, rng.randrange(1, 7)))
        notes.append(
            ScoringFacts(
                path,
                group,
                frozenset(f"t{rng.randrange(15)}" for _ in range(rng.randrange(4))),
                frozenset(rng.choice(paths) for _ in range(rng.randrange(6))) - {path},
                words,
            )
        )
    return notes


CONFIGS = {
    "defaults": RelatedConfig(),
    "no min score": RelatedConfig(min_score=0.0, limit=3),
    "include linked": RelatedConfig(min_score=0.0, include_linked=True),
    "text only": RelatedConfig(
        min_score=0.0, mention_weight=0.0, target_weight=0.0, link_weight=0.0, tag_weight=0.0
    ),
    "nothing weighs": RelatedConfig(
        min_score=0.0, text_weight=0.0, mention_weight=0.0, target_weight=0.0, link_weight=0.0, tag_weight=0.0
    ),
    "high min score": RelatedConfig(min_score=50.0),
    # Candidates scoring under `min_score` are left out of the sums (`_kind_points`): cuts near the scores
    # the kinds give, a tag weight that alone reaches the floor, neighbours and tags alone.
    "low min score": RelatedConfig(min_score=0.1),
    "tags reach it": RelatedConfig(min_score=0.3, tag_weight=0.6),
    "neighbours and tags": RelatedConfig(min_score=0.4, text_weight=0.0, mention_weight=0.0, link_weight=0.0),
    "neighbours only": RelatedConfig(min_score=0.2, text_weight=0.0, mention_weight=0.0, tag_weight=0.0),
    "tags only": RelatedConfig(
        min_score=0.1, text_weight=0.0, mention_weight=0.0, target_weight=0.0, link_weight=0.0
    ),
    "include linked, cut": RelatedConfig(min_score=0.5, include_linked=True),
    # Nothing forbids a negative weight: then no bound holds, and nothing is left out.
    "negative tag weight": RelatedConfig(min_score=0.1, tag_weight=-0.5, target_weight=0.4),
    "negative neighbour weight": RelatedConfig(min_score=0.2, target_weight=-0.3, tag_weight=0.9),
}


@pytest.mark.parametrize("marks", [related_index.GROUP_MARKS_PER_ROW, 0])  # 0: groups compared instead
@pytest.mark.parametrize("two_groups", [0.1, 0.0])  # 0.0: every note in one group (a narrower table)
@pytest.mark.parametrize("block", [1, 7, 512])
@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seed", range(3))
def test_blocks_choose_what_the_one_note_walk_ranks(
    seed: int, name: str, block: int, two_groups: float, marks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(related_index, "SCORE_BLOCK", block)
    monkeypatch.setattr(related_index, "GROUP_MARKS_PER_ROW", marks)
    config = CONFIGS[name]
    index = build_index(random_vault(seed, 90, two_groups))
    assert index.group_table.shape[1] == (1 if two_groups == 0.0 else 2)
    chosen = top_candidates_of(
        index, list(range(index.total)), weights_of(config), config.limit, config.min_score
    )
    for path, got in zip(index.paths, chosen, strict=True):
        ranked = score_candidates(index, path, config)
        assert got == choose(ranked, config.limit, config.min_score), path
    if name == "nothing weighs":
        assert not any(chosen)
    elif name != "high min score":
        assert sum(map(len, chosen)) > index.total  # the vault has evidence to rank, not only no-ops


@pytest.mark.parametrize("seed", [35, 36])
def test_a_negative_weight_leaves_out_no_candidate(seed: int) -> None:
    """Vaults where a negative tag weight lifts a candidate's neighbour points above what a bound for
    non-negative weights would allow: every choice is still the one-note walk's."""
    config = CONFIGS["negative tag weight"]
    index = build_index(random_vault(seed, 120))
    chosen = top_candidates_of(
        index, list(range(index.total)), weights_of(config), config.limit, config.min_score
    )
    for path, got in zip(index.paths, chosen, strict=True):
        assert got == choose(score_candidates(index, path, config), config.limit, config.min_score), path


def test_explain_reasons_add_up_to_the_block_score() -> None:
    index = build_index(random_vault(5, 60))
    config = replace(RelatedConfig(), min_score=0.0)
    for path in index.paths[:20]:
        [best] = top_candidates_of(index, [index.number[path]], weights_of(config), 1, 0.0) or [[]]
        ranked = score_candidates(index, path, config, explain=True)
        if not best:
            assert ranked == []
            continue
        top = ranked[0]
        assert (top.path, top.score) == (best[0].path, best[0].score)
        assert round(sum(reason.points for reason in top.reasons), 6) == top.score
        assert {reason.kind for reason in top.reasons} <= {"text", "mention", "neighbours", "link", "tag"}


@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
@pytest.mark.parametrize("setting", ["_PAIR_CHUNK", "_PRESENCE_CHUNK"])
def test_mentions_found_in_chunks_are_the_same(
    setting: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pairs checked a chunk at a time, and which notes have which words gathered a chunk of notes at a
    time, find the same mentions."""
    whole = build_index(random_vault(7, 120)).mentions
    monkeypatch.setattr(related_index, setting, chunk)
    chunked = build_index(random_vault(7, 120)).mentions
    assert whole.nnz > 10  # names of the vault are mentioned
    assert (whole != chunked).nnz == 0


def test_mentions_and_words_found_aside_in_forked_processes_are_the_same() -> None:
    """A big vault's mentions and word matrices are found in forked copies of the process
    (`parallel.in_fork`) while the rest of the index is built: the same matrices, the rest untouched."""
    from vaulttools.parallel import in_fork

    rows = [index_row(f) for f in random_vault(5, 150)]
    here, aside = RelatedIndex(list(rows)), RelatedIndex(list(rows), aside=in_fork)
    assert here.mentions.nnz > 10
    for name in ("mentions", "words", "champions", "around", "note_tags"):
        assert (getattr(here, name) != getattr(aside, name)).nnz == 0, name
    assert here.word_name == aside.word_name


def test_words_given_as_numbers_build_the_same_index() -> None:
    """`scan_facts` keeps each note's words as `WordNumbers` numbers, not text; numbered in another order
    (the last note first), they make the same word matrices, word names and mentions."""
    rows = [index_row(f) for f in random_vault(3, 80)]
    numbers = WordNumbers()
    numbered = [row._replace(words=numbers.numbered(row.words)) for row in reversed(rows)]  # type: ignore[arg-type]
    from_text, from_numbers = RelatedIndex(list(rows)), RelatedIndex(numbered, numbers=numbers)
    assert from_text.words.nnz > 50 and from_text.mentions.nnz > 5  # words and names to compare
    for name in ("words", "champions", "mentions"):
        assert (getattr(from_text, name) != getattr(from_numbers, name)).nnz == 0, name
    assert from_text.word_name == from_numbers.word_name


def _first_linked_order(rows: list[IndexRow]) -> tuple[list[str], list[list[int]]]:
    """The link nodes the straightforward way: grouped notes (by path) first, then every other target in
    the order the notes, by path, first link it; each note's neighbours as sorted node numbers."""
    ordered = sorted(rows, key=lambda row: row.path)
    number = {row.path: place for place, row in enumerate(ordered)}
    names = [row.path for row in ordered]
    out = []
    for row in ordered:
        for target in row.targets:
            if target not in number:
                number[target] = len(names)
                names.append(str(target))
        out.append(sorted(number[t] for t in row.targets if t != row.path))
    return names, out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("extra", [(), ("attachments/a.png", "zz/elsewhere.md", "0-first.md")])
def test_targets_given_as_places_number_the_nodes_as_paths_do(seed: int, extra: tuple[str, ...]) -> None:
    """`scan_facts` sends targets as places in the vault's `LinkPlaces` (notes, attachments, files no
    note is grouped with); the nodes are those of the path walk, in the same order (it sets the order a
    neighbour product adds its terms in), whatever else the places list."""
    rng = random.Random(seed)
    rows = [index_row(f) for f in random_vault(seed, 60)]
    outside = [f"other/{rng.choice(WORDS)}-{i}.md" for i in range(8)]
    rows = [
        row._replace(targets=tuple(sorted({*row.targets, *rng.sample(outside, rng.randrange(3))})))
        for row in rows
    ]
    places = LinkPlaces.of([*(row.path for row in rows), *outside, *extra])
    packed = [row._replace(targets=places.packed(row.targets)) for row in reversed(rows)]  # type: ignore[arg-type]
    from_paths, from_places = RelatedIndex(list(rows)), RelatedIndex(packed, link_places=places)
    names, out = _first_linked_order(rows)
    assert from_paths.node_names == from_places.node_names == names
    assert len(names) > len(rows)  # targets outside the grouped notes are numbered after them
    for index in (from_paths, from_places):
        links = index.links_out
        assert [links.indices[a:b].tolist() for a, b in itertools.pairwise(links.indptr)] == out
    for name in ("links_out", "links_to_notes", "linked_from", "around", "shared_through"):
        assert (getattr(from_paths, name) != getattr(from_places, name)).nnz == 0, name


@pytest.mark.parametrize("marks", [related_index.GROUP_MARKS_PER_ROW, 0])  # 0: groups compared instead
@pytest.mark.parametrize("two_groups", [0.1, 0.0])
@pytest.mark.parametrize(("seed", "count"), [(1, 61), (2, 64), (3, 9)])
def test_the_candidate_table_says_which_notes_are_no_candidates(
    seed: int, count: int, two_groups: float, marks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The byte table that keeps notes out of a block's candidates: `EXCLUDED` exactly where the row's note
    links the other note or shares a group with it (itself included); only the groups with
    `include_linked`; only the links when the rows' groups are too big to mark."""
    monkeypatch.setattr(related_index, "GROUP_MARKS_PER_ROW", marks)
    index = build_index(random_vault(seed, count, two_groups))
    rows = np.array(random.Random(seed).sample(range(count), count // 2), dtype=np.int64)
    links = index.links_to_notes
    assert links[rows].nnz > 0  # some notes link others
    for config in (RelatedConfig(), CONFIGS["include linked"]):
        table = related_index._candidate_table(index, rows, weights_of(config))
        assert table.groups_marked is bool(marks)
        for local, me in enumerate(rows.tolist()):
            linked = set(links.indices[links.indptr[me] : links.indptr[me + 1]].tolist())
            grouped = {n for g in index.groups_of[me] for n in index.members[g]} if marks else set()
            expected = grouped | (set() if config.include_linked else linked)
            told = {n for n in range(count) if table.codes[local * count + n] == related_index.EXCLUDED}
            assert told == expected
            assert me in told or not marks


@given(
    runs=st.lists(
        st.lists(st.sampled_from([0.1, 0.25, 0.5, 0.5000001, 1.0, 2.0, 3.5]), min_size=1, max_size=12),
        min_size=1,
        max_size=8,
    ),
    k=st.integers(min_value=1, max_value=6),
)
def test_best_and_kth_are_those_of_sorting_each_run(runs: list[list[float]], k: int) -> None:
    """The cut of `_top_of_block` (each row's best score and its `limit`-th best) by partial sorts is the
    one that sorting each row gives, ties included."""
    values = np.array([value for run in runs for value in run])
    counts = np.array([len(run) for run in runs])
    best, kth = related_index._best_and_kth(values, counts, k)
    assert best.tolist() == [max(run) for run in runs]
    assert kth.tolist() == [sorted(run, reverse=True)[min(k, len(run)) - 1] for run in runs]


def _tags_numbered_one_by_one(
    rows: list[IndexRow], cutoff: int
) -> tuple[list[str], list[int], list[list[int]]]:
    """The tag numbering spelled out: a list of notes per tag, the rare ones numbered by name."""
    postings: dict[str, list[int]] = {}
    for note, row in enumerate(rows):
        for tag in row.tags:
            postings.setdefault(tag, []).append(note)
    names = sorted(name for name, notes in postings.items() if len(notes) <= cutoff)
    ids = {name: number for number, name in enumerate(names)}
    return (
        names,
        [len(postings[name]) for name in names],
        [[ids[t] for t in row.tags if t in ids] for row in rows],
    )


@pytest.mark.parametrize(
    ("case", "tags_of"),
    [
        ("no tags at all", lambda note, rng: ()),
        ("one tag on every note: too common", lambda note, rng: ("everywhere",)),
        ("rare tags met out of order", lambda note, rng: (f"z{note % 7}", f"a{rng.randrange(30)}")),
        (
            "a common tag among rare ones",
            lambda note, rng: ("common", *(f"t{rng.randrange(40)}",) * (note % 3)),
        ),
        ("on exactly the cutoff's number of notes", lambda note, rng: ("edge",) if note < 50 else ("b",)),
    ],
)
def test_tags_are_numbered_by_name_leaving_out_common_ones(
    case: str, tags_of: Callable[[int, random.Random], tuple[str, ...]]
) -> None:
    rng = random.Random(case)
    rows = [
        IndexRow(f"n{note:03d}.md", ("g",), tuple(sorted(set(tags_of(note, rng)))), (), ("alpha", b"\x01"))
        for note in range(60)
    ]
    names, counts, per_row = _tags_numbered_one_by_one(rows, cutoff=50)
    index = RelatedIndex(list(rows))
    assert index.cutoff == 50
    assert (index.tag_name, index.tag_count) == (names, counts)
    assert [index.note_tags[note].indices.tolist() for note in range(len(rows))] == per_row
    assert index.note_tags.shape == (len(rows), len(names))


def test_numpy_and_scipy_load_only_once_a_scan_needs_them() -> None:
    """numpy and SciPy take ~0.25 s to import: `sync-related` loads them while its workers read the facts
    (`related._ranking_modules`), not when the command's module is imported."""
    import subprocess
    import sys

    code = (
        "import sys\nimport vaulttools.commands.related\nfrom vaulttools import related\n"
        "print('numpy' in sys.modules, 'scipy' in sys.modules)\n"
        "related._ranking_modules()\n"
        "print('numpy' in sys.modules, 'scipy.sparse' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "True", "True"], done.stderr
