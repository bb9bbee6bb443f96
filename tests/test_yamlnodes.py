"""Locating frontmatter entries: the one-line fast path for one-key-per-line frontmatter gives the very spans
the full composer gives, on every note of the sample vault, the fixtures and the brain corpus. And one list
located, extended and shortened byte-safely (what `merge` splices at)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BRAIN, FIXTURES, SAMPLE_VAULT
from vaulttools.edits import apply_edits
from vaulttools.note import Note
from vaulttools.yamlnodes import (
    BLOCK,
    FLOW,
    Entry,
    UnreadableFrontmatter,
    format_item,
    frontmatter_entries,
    list_edits,
    locate,
    scalar_of,
    sequence_items,
)

KEYS = ("tags", "tag", "status", "related", "title", "id", "type", "obsolete")


def spans(note: Note, entry: Entry) -> tuple:
    """Everything an edit is placed by, as offsets into the note's text."""
    items = sequence_items(note.text, entry.value, entry.base)
    value = items if items is not None else scalar_of(note.text, entry.value, entry.base)
    return (entry.key, entry.line_start, entry.end, value)


def notes_of(*roots: Path) -> list[Path]:
    return [path for root in roots if root.is_dir() for path in sorted(root.rglob("*.md"))]


def test_fast_path_matches_the_full_composer() -> None:
    simple = 0
    for path in notes_of(
        SAMPLE_VAULT, FIXTURES / "tags" / "before", FIXTURES / "properties" / "before", BRAIN
    ):
        note = Note(path.name, path.read_bytes())
        try:
            fast = frontmatter_entries(note, KEYS)
            full = [entry for entry in frontmatter_entries(note) if entry.key.value in KEYS]
        except UnreadableFrontmatter:
            continue
        simple += note.simple_yaml
        assert [spans(note, e) for e in fast] == [spans(note, e) for e in full], path
    assert simple > 30  # the fast path was taken


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("a: 1\na: 2\n", "duplicate key"),
        ("[a, b]\n", "not a mapping"),
        ("a: [b\n", "does not parse"),
        ("? [a]\n: 1\n", "unhashable key"),
        ("1: x\n", None),
        ("", None),
        ("# only a comment\n", None),
    ],
)
def test_unusual_frontmatter(yaml_text: str, problem: str | None) -> None:
    note = Note("n.md", f"---\n{yaml_text}---\n".encode())
    if problem is None:
        expected = ["1"] if yaml_text.startswith("1") else []
        assert [entry.key.value for entry in frontmatter_entries(note)] == expected
        assert [entry.key.value for entry in frontmatter_entries(note, ("1", "tags"))] == expected
        return
    with pytest.raises(UnreadableFrontmatter, match=problem):
        frontmatter_entries(note)


# --- one list, item by item (merge) ---


def note_of(yaml_text: str) -> Note:
    return Note("n.md", f"---\n{yaml_text}---\nbody\n".encode())


# yaml, key, removed indexes, added (already formatted) -> expected yaml after the edits
LIST_CASES = [
    ('tags: ["a", "b"]\n', "tags", set(), [], 'tags: ["a", "b"]\n'),  # no-op
    ('tags: ["a", "b"]\n', "tags", set(), ['"c"'], 'tags: ["a", "b", "c"]\n'),
    ("tags: [a,b]  # kept\n", "tags", set(), ["c"], "tags: [a,b,c]  # kept\n"),
    ('tags: ["a"]\n', "tags", set(), ['"c"', '"d"'], 'tags: ["a", "c", "d"]\n'),
    ("tags: []\n", "tags", set(), ['"c"'], 'tags: ["c"]\n'),
    ('tags: ["a", "b", "a"]\n', "tags", {2}, [], 'tags: ["a", "b"]\n'),
    ('tags: ["a", "b", "c"]\n', "tags", {0}, ['"d"'], 'tags: ["b", "c", "d"]\n'),
    ("tags:\n  - a\n  - 'b'\nx: 1\n", "tags", set(), ["c"], "tags:\n  - a\n  - 'b'\n  - c\nx: 1\n"),
    ("tags:\n- a  # one\n- b\n- a\n", "tags", {2}, [], "tags:\n- a  # one\n- b\n"),
    ("tags:\n  - a\n  - b\n", "tags", {0}, ["c"], "tags:\n  - b\n  - c\n"),
]


@pytest.mark.parametrize(("yaml_text", "key", "removed", "added", "expected"), LIST_CASES)
def test_list_edits(yaml_text: str, key: str, removed: set[int], added: list[str], expected: str) -> None:
    note = note_of(yaml_text)
    found = locate(note, key)
    assert found is not None and found.style in (FLOW, BLOCK)
    new_text = apply_edits(note.text, list_edits(note, found, removed, added, "\n"))
    assert new_text == f"---\n{expected}---\nbody\n"


@pytest.mark.parametrize(
    ("yaml_text", "key", "style", "values"),
    [
        ("tags: [\"a\", 'b', c]\n", "tags", FLOW, ["a", "b", "c"]),
        ("days: [1, 2]\n", "days", FLOW, [1, 2]),
        ('title: "x" # c\n', "title", "scalar", []),
        ('tags:\n  - a\n  # a comment line\n  - "b, c"\n', "tags", BLOCK, ["a", "b, c"]),
    ],
)
def test_locate_reads_items(yaml_text: str, key: str, style: str, values: list[object]) -> None:
    found = locate(note_of(yaml_text), key)
    assert found is not None and found.style == style
    assert [item.value for item in found.items] == values


@pytest.mark.parametrize(
    "yaml_text",
    [
        "tags: [a,\n  b]\n",  # a flow list over several lines
        "tags:\n  - a\n    b\n",  # an item over several lines
        "tags:\n  - a:\n      b\n",  # a nested mapping
        "tags: [[a], b]\n",  # a nested list
        "other: 1\n",  # no such key
    ],
)
def test_locate_refuses_shapes_it_cannot_edit(yaml_text: str) -> None:
    assert locate(note_of(yaml_text), "tags") is None


@pytest.mark.parametrize(
    ("value", "raw", "quote", "in_flow", "written"),
    [
        ("ai", None, '"', True, '"ai"'),
        ("ai", None, "'", True, "'ai'"),
        ("ai", None, "", True, "ai"),
        ("a, b", None, "", True, '"a, b"'),  # plain would split the item
        ("yes", None, "", False, '"yes"'),  # plain would be a boolean
        ("it's", None, "'", False, "'it''s'"),
        (3, "3", '"', True, "3"),
    ],
)
def test_format_item(value: object, raw: str | None, quote: str, in_flow: bool, written: str) -> None:
    assert format_item(value, raw, quote, in_flow=in_flow, where="n.md") == written
