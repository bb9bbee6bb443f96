"""`merge.plan_linking_note`, the pure per-note planner of a merge for the notes that link a merged SOURCE:
a note's text and the merges in, its verified change out, with no vault on disk (the link indexes and the
suffix matcher are built from a list of paths)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools.config import RELATED_HEADING, Config
from vaulttools.merge import (
    Merge,
    MergeContext,
    MergeReport,
    may_need_edits,
    merge_context,
    plan_linking_note,
    plan_target_note,
)
from vaulttools.note import Note
from vaulttools.resolve import LinkIndex
from vaulttools.suffixes import SuffixMatcher

VAULT = ["a.md", "a-d9.md", "b.md", "deep/a 1.md", "x-d3.md", "x-d9.md", "n.md"]
# a-d9 and `deep/a 1` fold into a; x-d9 into x-d3 (no `x.md`: `[[x]]` is broken, the family's by a suffix)
MERGES = [Merge("a.md", ("a-d9.md", "deep/a 1.md")), Merge("x-d3.md", ("x-d9.md",))]
LINK_PROPERTIES = frozenset({"related"})


def context(merges: list[Merge] = MERGES) -> MergeContext:
    config = Config()
    return merge_context(LinkIndex(VAULT), merges, config, lambda: SuffixMatcher(VAULT, config.suffix_rules))


def merged_text(text: str, merges: list[Merge] = MERGES, report: MergeReport | None = None) -> str:
    note = Note("n.md", text.encode("utf-8"), LINK_PROPERTIES)
    change = plan_linking_note(note, context(merges), report or MergeReport())
    if change is None:
        return text
    assert change.path == "n.md" and change.old == note.raw and change.new_path is None
    assert change.new is not None
    return change.new.decode("utf-8")


@pytest.mark.parametrize(
    ("text", "merges", "expected"),
    [
        # no-op: nothing names a SOURCE, the link is not a link, or nothing is merged
        ("no links at all\n", MERGES, "no links at all\n"),
        ("[[a]] and [[b]] and [[x-d3]]\n", MERGES, "[[a]] and [[b]] and [[x-d3]]\n"),
        ("`[[a-d9]]` and <!-- [[a-d9]] -->\n", MERGES, "`[[a-d9]]` and <!-- [[a-d9]] -->\n"),
        ("```\n[[a-d9]]\n```\n", MERGES, "```\n[[a-d9]]\n```\n"),
        ("[[a-d9]]\n", [], "[[a-d9]]\n"),
        ("---\nrelated: [a, b]\n---\n", MERGES, "---\nrelated: [a, b]\n---\n"),
        # every form of a link to a SOURCE points at its TARGET, in its own syntax
        ("[[a-d9]]\n", MERGES, "[[a]]\n"),
        ("[[A-D9|shown]] ![[a-d9#part]]\n", MERGES, "[[a|shown]] ![[a#part]]\n"),
        ("[x](a-d9.md) [[deep/a 1]] [[a 1]]\n", MERGES, "[x](a.md) [[a]] [[a]]\n"),
        ("---\nrelated: '[[x-d9]]'\n---\nbody\r\n", MERGES, "---\nrelated: '[[x-d3]]'\n---\nbody\r\n"),
        # a broken link that misses only one family's members by a suffix goes to its TARGET
        ("[[x]]\n", MERGES, "[[x-d3]]\n"),
        ("[[x]]\n", [Merge("b.md", ("a-d9.md",))], "[[x]]\n"),
        # a link list that then names a TARGET twice keeps its first entry
        ("---\nrelated: [a, a-d9, b]\n---\n", MERGES, "---\nrelated: [a, b]\n---\n"),
        ("---\nrelated:\n  - a-d9\n  - a\n---\n", MERGES, "---\nrelated:\n  - a\n---\n"),
        (
            f"text\n\n## {RELATED_HEADING}\n- [[a]]\n- [[a-d9]]\n- [[b]]\n",
            MERGES,
            f"text\n\n## {RELATED_HEADING}\n- [[a]]\n- [[b]]\n",
        ),
        # the related list as well where a broken link becomes the TARGET's, or named it twice already
        (
            f"[[a-d9]]\n\n## {RELATED_HEADING}\n- [[x-d3]]\n- [[x]]\n- [[b]]\n",
            MERGES,
            f"[[a]]\n\n## {RELATED_HEADING}\n- [[x-d3]]\n- [[b]]\n",
        ),
        (
            f"[[a-d9]]\n\n## {RELATED_HEADING}\n- [[a]]\n- [[b]]\n- [[a]]\n",
            MERGES,
            f"[[a]]\n\n## {RELATED_HEADING}\n- [[a]]\n- [[b]]\n",
        ),
        (
            f"[[a-d9]]\n\n## {RELATED_HEADING}\n- [[a]]\n- [[x-d9]]\n- [[b]]\n",
            MERGES,
            f"[[a]]\n\n## {RELATED_HEADING}\n- [[a]]\n- [[x-d3]]\n- [[b]]\n",
        ),
    ],
)
def test_links_follow_the_merge(text: str, merges: list[Merge], expected: str) -> None:
    assert merged_text(text, merges) == expected


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("no links at all\n", False),
        ("[[a]] and [[b]] and [[x-d3]] and [b](b.md)\n", False),  # a TARGET and another note: they stay
        ("[[zzz]] [[b-d4]]\n", False),  # broken, but no member's name: no merge can mend them
        ('---\nrelated: "a"\nid: note-1\n---\n[[b]]\n', False),
        ("[[a-d9]]\n", True),  # a SOURCE
        ("[[b]] [x](deep/a%201.md)\n", True),
        ('---\nrelated: "a-d9"\n---\n', True),
        ("[[x]]\n", True),  # broken: a suffix fix may point it at the family
        ("[[a-d7]]\n", True),
        ("`[[a-d9]]`\n", False),  # a SOURCE's name in code: no link
        ("`x` [[a-d9]]\n", True),  # a SOURCE beside code
        ("---\nrelated: [a]\n---\n", True),  # YAML beyond the simple grammar: the same
    ],
)
def test_may_need_edits(text: str, needs: bool) -> None:
    note = Note("n.md", text.encode(), LINK_PROPERTIES)
    assert may_need_edits(note, context()) is needs


def test_a_link_that_no_longer_reaches_its_note_may_need_an_edit() -> None:
    """`link_edits` re-points a link to a note that stays when the merge's index no longer resolves it there;
    the quick test says so too (an index without the TARGET `a.md` stands for such a change)."""
    note = Note("n.md", b"[[a]]\n", LINK_PROPERTIES)
    without_a = LinkIndex([path for path in VAULT if path != "a.md"])
    assert not may_need_edits(note, context())
    assert may_need_edits(note, dataclasses.replace(context(), after=without_a))


def test_an_ambiguous_link_that_a_merge_leaves_alone_keeps_its_warning() -> None:
    """`[[c]]` ties `p/c` and `q/c` before `p/c` folds into `q/c`, and resolves to `q/c` after it: the
    planner leaves the link alone with a warning, so the quick test must not pass the note over."""
    vault = ["n.md", "p/c.md", "q/c.md"]
    config = Config()
    merges = [Merge("q/c.md", ("p/c.md",))]
    tied = merge_context(LinkIndex(vault), merges, config, lambda: SuffixMatcher(vault, config.suffix_rules))
    note = Note("n.md", b"[[c]]\n", LINK_PROPERTIES)
    report = MergeReport()
    assert may_need_edits(note, tied)
    assert plan_linking_note(note, tied, report) is None
    assert "ambiguous" in " ".join(report.links.warnings)


_PIECES = [
    "[[a]]",
    "[[a-d9]]",
    "[[A-D9|s]]",
    "![[a-d9#h]]",
    "[[x]]",
    "[[x-d3]]",
    "[[x-d9]]",
    "[[b]]",
    "[[zzz]]",
    "[[a-d7]]",
    "[[a 1]]",
    "[[deep/a 1]]",
    "[[#h]]",
    "[t](a-d9.md)",
    "[t](b.md)",
    "`",
    "```\n",
    "<!--",
    "-->",
    " ",
    "\n",
    f"\n## {RELATED_HEADING}\n- ",
]
_FRONTMATTERS = [
    "",
    "---\nid: note-1\n---\n",
    '---\nrelated: "a"\n---\n',
    '---\nrelated: ["a", "a-d9", "b"]\n---\n',
    '---\nrelated: "[[x]]"\n---\n',
    "---\nrelated:\n  - a-d9\n  - a\n---\n",
]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_FRONTMATTERS), st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_a_note_the_quick_test_passes_over_gets_no_change(frontmatter: str, body: str) -> None:
    note = Note("n.md", (frontmatter + body).encode(), LINK_PROPERTIES)
    if not may_need_edits(note, context()):
        assert plan_linking_note(note, context(), MergeReport()) is None


def test_an_unreadable_note_is_left_alone() -> None:
    note = Note("n.md", b"[[a-d9]] \xff\n", LINK_PROPERTIES)
    assert plan_linking_note(note, context(), MergeReport()) is None


def test_the_report_counts_what_the_note_planned() -> None:
    report = MergeReport()
    text = "---\nrelated: [a, a-d9]\n---\n[[a-d9]] `[[a-d9]]` [[x]]\n"
    assert merged_text(text, report=report) == "---\nrelated: [a]\n---\n[[a]] `[[a-d9]]` [[x-d3]]\n"
    assert (dict(report.links.rewritten), dict(report.links.left_alone)) == (
        {"bare": 1, "wikilink": 1},
        {"code": 1},
    )
    assert (report.suffixed_links_fixed, report.duplicates_removed) == (1, 1)


def merged_target(source: str, source_text: str) -> str:
    """a.md (an empty body) once the SOURCE `source` (with `source_text` as its body) folds into it."""
    target = Note("a.md", b"---\nid: a\n---\n", LINK_PROPERTIES)
    note = Note(source, source_text.encode("utf-8"), LINK_PROPERTIES)
    merges = [Merge("a.md", (source,))]
    change = plan_target_note(target, [note], context(merges), frozenset(), MergeReport())
    assert change is not None and change.new is not None
    return change.new.decode("utf-8").partition("---\n")[2].partition("---\n")[2]


@pytest.mark.parametrize(
    ("source", "text", "body"),
    [
        # a SOURCE beside its TARGET: its links reach the same notes from there, as written
        ("a-d9.md", "[x](b.md) [[b]] [[a-d9]]\n", "[x](b.md) [[b]] [[a]]\n"),
        # a SOURCE in another folder: a relative link is re-pointed to reach its note from TARGET's folder
        ("deep/a 1.md", "[x](../b.md) [[b]]\n", "[x](b.md) [[b]]\n"),
        ("deep/a 1.md", "[x](./../n.md)\n", "[x](./n.md)\n"),
    ],
)
def test_a_sources_links_reach_their_notes_from_the_target(source: str, text: str, body: str) -> None:
    assert merged_target(source, text) == body
