"""`merge.plan_linking_note`, the pure per-note planner of a merge for the notes that link a merged SOURCE:
a note's text and the merges in, its verified change out, with no vault on disk (the link indexes and the
suffix matcher are built from a list of paths)."""

from __future__ import annotations

import pytest

from vaulttools.config import RELATED_HEADING, Config
from vaulttools.merge import (
    Merge,
    MergeContext,
    MergeReport,
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
