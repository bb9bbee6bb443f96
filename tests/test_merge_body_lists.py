"""merge adds a SOURCE's missing list items to TARGET's copy of the list (not the whole list again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaulttools import Vault
from vaulttools.bodylists import flat_list_items
from vaulttools.config import Config
from vaulttools.merge import Merge, MergeReport, merge_context, plan_target_note
from vaulttools.note import Note
from vaulttools.resolve import LinkIndex
from vaulttools.suffixes import SuffixMatcher


@pytest.mark.parametrize(
    ("block", "contents"),
    [
        ("- a\n- b", ["a", "b"]),
        ("* a\n+ b", ["a", "b"]),
        ("1. a\n2) b", ["a", "b"]),
        ("- a\n  more of a\n- b", ["a more of a", "b"]),
        ("- a\nlazy continuation", ["a lazy continuation"]),
        ("- a  \n- b\t", ["a", "b"]),
        # not flat lists
        ("- a\n  - child", None),
        ("- a\n    1. child", None),
        ("text\n- a", None),
        ("* * *", None),
        ("- - -", None),
        ("-no space", None),
        ("", None),
    ],
)
def test_flat_list_items(block: str, contents: list[str] | None) -> None:
    items = flat_list_items(block)
    assert (None if items is None else [item.content for item in items]) == contents


def _merge(target: str, *sources: str) -> tuple[bytes, MergeReport]:
    """TARGET `x.md` after SOURCEs `x-d2.md`, `x-d3.md`, … fold into it, planned from the texts alone."""
    paths = [f"x-d{number}.md" for number in range(2, 2 + len(sources))]
    merges = [Merge("x.md", tuple(paths))]
    config = Config()
    context = merge_context(
        LinkIndex(["x.md", *paths]),
        merges,
        config,
        lambda: SuffixMatcher(["x.md", *paths], config.suffix_rules),
    )
    notes = [Note(path, body.encode()) for path, body in zip(paths, sources, strict=True)]
    report = MergeReport()
    change = plan_target_note(Note("x.md", target.encode()), notes, context, frozenset(), report)
    return (change.new if change and change.new else target.encode()), report


@pytest.mark.parametrize(
    ("target", "sources", "merged", "items_added"),
    [
        # the missing item goes at the end of TARGET's list, in TARGET's marker
        ("# X\n\n- a\n- b\n\nEnd.\n", ["# X\n\n* a\n* b\n* c\n"], "# X\n\n- a\n- b\n- c\n\nEnd.\n", 1),
        # numbered: the next number, TARGET's delimiter
        ("1) a\n2) b\n", ["1. a\n2. c\n3. d\n"], "1) a\n2) b\n3) c\n4) d\n", 2),
        # CRLF TARGET, LF SOURCE; TARGET without a final newline
        ("- a\r\n- b", ["- b\n- c\n"], "- a\r\n- b\r\n- c", 1),
        # two SOURCEs adding the same item add it once
        ("- a\n", ["- a\n- c\n", "- a\n- c\n- d\n"], "- a\n- c\n- d\n", 2),
        # an item with its continuation line
        ("- a\n", ["- a\n- c\n  more of c\n"], "- a\n- c\n  more of c\n", 1),
        # every item already there, in another order and style: nothing at all
        ("- a\n- b\n", ["* b\n* a\n"], "- a\n- b\n", 0),
        # no shared item: the SOURCE's list is a paragraph of its own (as before)
        ("- a\n", ["- c\n- d\n"], "- a\n\n- c\n- d\n", 0),
        # a nested SOURCE list is appended whole: its child would get the wrong parent
        ("- a\n", ["- a\n  - child\n"], "- a\n\n- a\n  - child\n", 0),
        # a list inside TARGET's code block is not TARGET's list
        ("```\n- a\n```\n", ["- a\n- b\n"], "```\n- a\n```\n\n- a\n- b\n", 0),
        # the list goes where it is, paragraphs after the body
        ("- a\n\nText.\n", ["- a\n- b\n\nOther.\n"], "- a\n- b\n\nText.\n\nOther.\n", 1),
    ],
)
def test_a_source_list_adds_its_missing_items(
    target: str, sources: list[str], merged: str, items_added: int
) -> None:
    new, report = _merge(target, *sources)
    assert new == merged.encode()
    assert report.body_list_items_added == items_added


def test_the_merge_command_counts_the_items_it_adds(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    (root / "x.md").write_bytes(b"- a\n- b\n")
    (root / "x-d2.md").write_bytes(b"* b\n* c\n")
    plan = Vault(root).merge(["x-d2"], into="x")
    [target] = [c for c in plan.changes if c.path == "x.md"]
    assert target.new == b"- a\n- b\n- c\n"
    assert plan.counts["body_list_items_added"] == 1 and plan.counts["paragraphs_added"] == 0
