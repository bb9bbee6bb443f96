"""The pure half of `sync-related`: section planning and scoring."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from vaulttools.config import RelatedConfig
from vaulttools.edits import apply_edits
from vaulttools.note import Note
from vaulttools.planning import note_change
from vaulttools.related import (
    ADDED,
    REMOVED,
    UNCHANGED,
    UPDATED,
    ScoringFacts,
    best_candidates,
    build_index,
    choose,
    entry_text,
    note_facts,
    score_candidates,
    section_edit,
    tags_of,
)
from vaulttools.resolve import LinkIndex
from vaulttools.sections import find_section

HEADING = "Related across articles"
WEIGHT_KEYS = ("text_weight", "mention_weight", "target_weight", "link_weight", "tag_weight")
FM = b'---\nid: "x"\narticleStem: "a"\n---\n'

# (case, note bytes, entries, expected bytes, expected action)
SECTION_CASES = [
    (
        "insert after two blank lines",
        FM + b"# X\n\nBody.\n",
        ["[[b]]", "[[c]]"],
        FM + b"# X\n\nBody.\n\n\n## Related across articles\n- [[b]]\n- [[c]]\n",
        ADDED,
    ),
    (
        "insert replaces trailing blank lines only",
        FM + b"Body.  \n\n\n\n",
        ["[[b]]"],
        FM + b"Body.  \n\n\n## Related across articles\n- [[b]]\n",
        ADDED,
    ),
    (
        "insert, no final newline: none added",
        FM + b"Body.",
        ["[[b]]"],
        FM + b"Body.\n\n\n## Related across articles\n- [[b]]",
        ADDED,
    ),
    (
        "insert, CRLF without final newline: none added",
        b"Body.\r\nEnd.",
        ["[[b]]", "[[c]]"],
        b"Body.\r\nEnd.\r\n\r\n\r\n## Related across articles\r\n- [[b]]\r\n- [[c]]",
        ADDED,
    ),
    (
        "replace a last list without final newline: none added",
        FM + b"Body.\n\n\n## Related across articles\n- [[old]]",
        ["[[b]]", "[[c]]"],
        FM + b"Body.\n\n\n## Related across articles\n- [[b]]\n- [[c]]",
        UPDATED,
    ),
    (
        "replace a list followed by text, no final newline: the text's end stays",
        b"Body.\n\n## Related across articles\n- [[old]]\n\n## Next\nMore.",
        ["[[b]]"],
        b"Body.\n\n## Related across articles\n- [[b]]\n\n## Next\nMore.",
        UPDATED,
    ),
    (
        "remove a last section without final newline: none added",
        FM + b"Body.\n\n\n## Related across articles\n- [[old]]",
        [],
        FM + b"Body.",
        REMOVED,
    ),
    (
        "insert, CRLF note",
        FM.replace(b"\n", b"\r\n") + b"Body.\r\n",
        ["[[b]]"],
        FM.replace(b"\n", b"\r\n") + b"Body.\r\n\r\n\r\n## Related across articles\r\n- [[b]]\r\n",
        ADDED,
    ),
    (
        "insert, BOM kept",
        b"\xef\xbb\xbf" + FM + b"Body.\n",
        ["[[b]]"],
        b"\xef\xbb\xbf" + FM + b"Body.\n\n\n## Related across articles\n- [[b]]\n",
        ADDED,
    ),
    (
        "insert, empty body",
        FM,
        ["[[b]]"],
        FM + b"## Related across articles\n- [[b]]\n",
        ADDED,
    ),
    ("no entries, no section: no-op", FM + b"Body.\n", [], FM + b"Body.\n", UNCHANGED),
    (
        "replace only the list",
        FM + b"Body.\n\n\n## Related across articles\n- [[old]]\n- [[b]]\n",
        ["[[b]]", "[[c]]"],
        FM + b"Body.\n\n\n## Related across articles\n- [[b]]\n- [[c]]\n",
        UPDATED,
    ),
    (
        "same list: no-op",
        FM + b"Body.\n\n\n## Related across articles\n- [[b]]\n",
        ["[[b]]"],
        FM + b"Body.\n\n\n## Related across articles\n- [[b]]\n",
        UNCHANGED,
    ),
    (
        "same list without final newline: no-op",
        FM + b"Body.\n\n\n## Related across articles\n- [[b]]",
        ["[[b]]"],
        FM + b"Body.\n\n\n## Related across articles\n- [[b]]",
        UNCHANGED,
    ),
    (
        "replace, CRLF",
        b"Body.\r\n\r\n\r\n## Related across articles\r\n- [[old]]\r\n",
        ["[[b]]"],
        b"Body.\r\n\r\n\r\n## Related across articles\r\n- [[b]]\r\n",
        UPDATED,
    ),
    (
        "replace in place, text after the section stays",
        b"Body.\n\n### related across articles ##\n\n* [[old]]\n\n## Next\nMore.\n",
        ["[[b]]"],
        b"Body.\n\n### related across articles ##\n\n- [[b]]\n\n## Next\nMore.\n",
        UPDATED,
    ),
    (
        "heading without list at the end, no newline: none added",
        b"Body.\n\n## Related across articles",
        ["[[b]]"],
        b"Body.\n\n## Related across articles\n- [[b]]",
        UPDATED,
    ),
    (
        "remove with the blank lines before it",
        FM + b"Body.\n\n\n## Related across articles\n- [[old]]\n",
        [],
        FM + b"Body.\n",
        REMOVED,
    ),
    (
        "remove, CRLF and BOM",
        b"\xef\xbb\xbfBody.\r\n\r\n\r\n## Related across articles\r\n- [[old]]\r\n",
        [],
        b"\xef\xbb\xbfBody.\r\n",
        REMOVED,
    ),
    (
        "remove a section followed by another heading",
        b"Body.\n\n## Related across articles\n- [[old]]\n\n## Next\nMore.\n",
        [],
        b"Body.\n\n## Next\nMore.\n",
        REMOVED,
    ),
    (
        "editors' text under the heading: only the list goes",
        b"Body.\n\n## Related across articles\n- [[old]]\nHand-written.\n",
        [],
        b"Body.\n\n## Related across articles\nHand-written.\n",
        REMOVED,
    ),
    (
        "heading in a code block is not the section",
        b"Body.\n\n```\n## Related across articles\n- [[old]]\n```\n",
        ["[[b]]"],
        b"Body.\n\n```\n## Related across articles\n- [[old]]\n```\n\n\n## Related across articles\n- [[b]]\n",
        ADDED,
    ),
    (
        "a level-1 heading is a title, not the section",
        b"# Related across articles\n\nBody.\n",
        ["[[b]]"],
        b"# Related across articles\n\nBody.\n\n\n## Related across articles\n- [[b]]\n",
        ADDED,
    ),
]


@pytest.mark.parametrize(
    ("raw", "entries", "expected", "action"),
    [case[1:] for case in SECTION_CASES],
    ids=[case[0] for case in SECTION_CASES],
)
def test_section_edit(raw: bytes, entries: list[str], expected: bytes, action: str) -> None:
    note = Note("x.md", raw)
    edit, got_action = section_edit(note, HEADING, entries)
    assert got_action == action
    change = note_change(note, [edit] if edit else [])
    assert (change.new if change else raw) == expected
    if change is not None:  # a second run on the result changes nothing
        again = Note("x.md", change.new)
        assert section_edit(again, HEADING, entries) == (None, UNCHANGED)


def test_section_edit_touches_nothing_before_the_section() -> None:
    raw = FM + b"Body with [[x]] and trailing spaces   \n\n\n## Related across articles\n- [[a]]\n"
    note = Note("x.md", raw)
    edit, _ = section_edit(note, HEADING, ["[[b]]"])
    assert edit is not None
    assert note.text[: edit.start] == note.text[: note.text.index("- [[a]]")]


def test_find_section_spans() -> None:
    note = Note("x.md", b"Body.\n\n## Related across articles\n- [[a]]\n- [[b]]\n\n## Next\n")
    section = find_section(note, HEADING)
    assert section is not None
    assert note.text[section.heading_start :].startswith("## Related")
    assert note.text[section.list_start : section.list_end] == "- [[a]]\n- [[b]]\n"
    assert note.text[section.end :] == "## Next\n"
    assert section.only_list


# --- scoring -----------------------------------------------------------------------------------------

CONFIG = RelatedConfig(min_score=0.0)
ONLY = {  # one kind of evidence at a time, weight 1
    kind: RelatedConfig(
        min_score=0.0,
        **{key: 1.0 if key == f"{kind}_weight" else 0.0 for key in WEIGHT_KEYS},
    )
    for kind in ("text", "mention", "target", "link", "tag")
}


def facts(
    path: str,
    group: str | tuple[str, ...],
    tags: tuple[str, ...] = (),
    targets: tuple[str, ...] = (),
    words: str = "",
) -> ScoringFacts:
    return ScoringFacts(path, group, frozenset(tags), frozenset(targets), words)


def test_rare_tag_beats_common_tag() -> None:
    notes = [
        facts("me.md", "g0", tags=("rare", "common")),
        facts("rare-friend.md", "g1", tags=("rare",)),
        facts("common-friend.md", "g2", tags=("common",)),
        *(facts(f"filler-{i}.md", f"f{i}", tags=("common",)) for i in range(6)),
    ]
    index = build_index(notes)
    ranked = score_candidates(index, "me.md", ONLY["tag"])
    assert ranked[0].path == "rare-friend.md"
    assert ranked[0].score == 1.0  # the best tag evidence, and strong (log 9/2 > 1): the whole weight
    common = next(c for c in ranked if c.path == "common-friend.md")
    assert common.score == round(math.log(9 / 8) / math.log(9 / 2), 6)


def test_linked_notes_are_not_candidates_but_backlinks_count() -> None:
    notes = [
        facts("me.md", "g0", targets=("out.md",)),
        facts("out.md", "g1"),
        facts("in.md", "g2", targets=("me.md",)),
        facts("stranger.md", "g3"),
    ]
    index = build_index(notes)
    ranked = score_candidates(index, "me.md", ONLY["link"], explain=True)
    assert [(c.path, c.score) for c in ranked] == [("in.md", 1.0)]
    assert ranked[0].reasons[0].detail == "links to this note"
    both = replace(ONLY["link"], include_linked=True)
    ranked = score_candidates(index, "me.md", both, explain=True)
    assert [(c.path, c.score) for c in ranked] == [("in.md", 1.0), ("out.md", 1.0)]
    assert ranked[1].reasons[0].detail == "linked from this note"


def test_same_group_and_self_never_candidates() -> None:
    index = build_index(
        [
            facts("me.md", "g0", tags=("t",), targets=("sib.md",)),
            facts("sib.md", "g0", tags=("t",)),
            facts("other.md", "g1", tags=("t",)),
            facts("untagged.md", "g2"),
        ]
    )
    assert [c.path for c in score_candidates(index, "me.md", CONFIG)] == ["other.md"]


def test_list_valued_groups_exclude_every_shared_group() -> None:
    index = build_index(
        [
            facts("me.md", ("a", "b"), tags=("t",)),
            facts("in-b.md", ("b", "c"), tags=("t",)),
            facts("in-c.md", "c", tags=("t",)),
            *(facts(f"filler-{i}.md", f"f{i}") for i in range(5)),
        ]
    )
    assert [c.path for c in score_candidates(index, "me.md", CONFIG)] == ["in-c.md"]
    assert [c.path for c in score_candidates(index, "in-c.md", CONFIG)] == ["me.md"]


def test_shared_neighbours_weighted_by_rarity() -> None:
    index = build_index(
        [
            facts("me.md", "g0", targets=("hub.md", "niche.md")),
            facts("a.md", "g1", targets=("niche.md",)),
            facts("b.md", "g2", targets=("hub.md",)),
            facts("c.md", "g3", targets=("hub.md",)),
            facts("cited.md", "g4"),
            facts("citer.md", "g5", targets=("me.md", "cited.md")),
        ]
    )
    ranked = score_candidates(index, "me.md", ONLY["target"], explain=True)
    scores = {c.path: c.score for c in ranked}
    # niche.md has 2 link neighbours, hub.md 3, citer.md 2: 1/log(degree), the best scaled to 1.
    assert scores["a.md"] == scores["cited.md"] == 1.0
    assert scores["b.md"] == round(math.log(2) / math.log(3), 6)
    assert "citer" in next(c for c in ranked if c.path == "cited.md").reasons[0].detail


def test_text_similarity_and_mentions() -> None:
    notes = [
        facts("me.md", "g0", words="alpha beta*2 gamma zebra"),
        facts("you.md", "g1", words="alpha beta gamma"),
        facts("far.md", "g2", words="gamma delta"),
        facts("zebra.md", "g3", words="zebra stripes"),
        facts("filler.md", "g4", words="delta stripes epsilon"),
    ]
    index = build_index(notes)
    texts = score_candidates(index, "me.md", ONLY["text"])
    assert [c.path for c in texts][:1] == ["you.md"]
    assert all(0 < c.score <= 1.0 for c in texts)
    mentions = score_candidates(index, "me.md", ONLY["mention"], explain=True)
    assert [(c.path, c.score) for c in mentions] == [("zebra.md", 1.0)]
    assert "names 'zebra'" in mentions[0].reasons[0].detail
    off = RelatedConfig(min_score=0.0, **dict.fromkeys(WEIGHT_KEYS, 0.0))
    assert score_candidates(index, "me.md", off) == []


def test_faint_evidence_does_not_get_the_whole_weight() -> None:
    index = build_index([facts("me.md", "g0", tags=("t",)), facts("you.md", "g1", tags=("t",))])
    # One tag on every note: log(2/2) = 0, nothing; on half of them it would be log 2 < 1 (not strong).
    assert score_candidates(index, "me.md", ONLY["tag"]) == []
    more = [facts(f"n{i}.md", f"n{i}") for i in range(2)]
    index = build_index([facts("me.md", "g0", tags=("t",)), facts("you.md", "g1", tags=("t",)), *more])
    assert score_candidates(index, "me.md", ONLY["tag"])[0].score == round(math.log(2), 6)


def test_ties_break_by_name_and_min_score_and_limit() -> None:
    others = [facts(f"{n}.md", n, tags=("t",)) for n in "dcba"]
    index = build_index([facts("me.md", "g0", tags=("t",)), *others, facts("z.md", "z")])
    ranked = score_candidates(index, "me.md", CONFIG)
    assert [c.stem for c in ranked] == ["a", "b", "c", "d"]
    assert [c.stem for c in choose(ranked, 2, 0.0)] == ["a", "b"]
    assert choose(ranked, 5, 10.0) == []
    assert best_candidates(index, "me.md", CONFIG, 2) == choose(ranked, 2, 0.0)


def test_self_feeding_section_links_are_not_evidence() -> None:
    raw = b'---\narticleStem: "g0"\n---\nBody links [[real]].\n\n\n## Related across articles\n- [[fed]]\n'
    note = Note("me.md", raw)
    index = LinkIndex(["me.md", "real.md", "fed.md"])

    def resolve(target: str, source: str) -> str | None:
        return index.resolve(target, source).path

    got = note_facts(note, note.properties or {}, "g0", resolve, RelatedConfig())
    assert got.targets == frozenset({"real.md"})


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"tags": ["A", "#b", "b"]}, {"a", "b"}),
        ({"tags": "x, #y z"}, {"x", "y", "z"}),
        ({"tag": "solo"}, {"solo"}),
        ({"tags": None}, set()),
        ({"tags": [{"nested": 1}, True, 7]}, {"7"}),
        ({}, set()),
    ],
)
def test_tags_of(properties: dict, expected: set[str]) -> None:
    assert tags_of(properties) == expected


def test_tags_of_with_one_table_of_written_tags_for_many_notes() -> None:
    """A scan passes one table for all its notes: each tag as written is worked out once, and every note
    gets the tags it gets alone."""
    known: dict[str, str] = {}
    notes = [{"tags": ["A", "#b"]}, {"tags": "#A, c"}, {"tag": ["a", " ", 7]}, {"tags": [" #B ", "A"]}, {}]
    assert [tags_of(properties, known) for properties in notes] == [
        tags_of(properties) for properties in notes
    ]
    assert known == {"A": "a", "#b": "b", "#A": "a", "c": "c", "a": "a", " ": "", " #B ": "b"}


@pytest.mark.parametrize(
    ("paths", "markdown", "expected"),
    [
        (["a.md", "b.md"], False, "[[b]]"),
        (["a.md", "x/b.md", "y/b.md"], False, "[[x/b]]"),
        (["a.md", "My Note.md"], True, "[My Note](My%20Note.md)"),
    ],
)
def test_entry_text(paths: list[str], markdown: bool, expected: str) -> None:
    index = LinkIndex(paths)
    target = paths[1]

    def resolve(name: str, source: str) -> str | None:
        return index.resolve(name, source).path

    assert entry_text("a.md", target, resolve, markdown) == expected


def test_apply_edits_of_section_is_exact() -> None:
    note = Note("x.md", b"Body.\n")
    edit, _ = section_edit(note, "See also", ["[[b]]"])
    assert edit is not None
    assert apply_edits(note.text, [edit]) == "Body.\n\n\n## See also\n- [[b]]\n"


@pytest.mark.parametrize(
    ("link_format", "markdown", "expected"),
    [
        ("shortest", False, "[[b]]"),
        ("absolute", False, "[[x/y/b]]"),
        ("relative", False, "[[../x/y/b]]"),
        ("shortest", True, "[b](b.md)"),
        ("absolute", True, "[b](x/y/b.md)"),
        ("relative", True, "[b](../x/y/b.md)"),
    ],
)
def test_entry_text_follows_new_link_format(link_format: str, markdown: bool, expected: str) -> None:
    from vaulttools.related import entry_text

    def resolve(name: str, source: str) -> str | None:
        return "x/y/b.md" if name in ("b", "x/y/b", "x/y/b.md") else None

    assert entry_text("z/a.md", "x/y/b.md", resolve, markdown, link_format) == expected
