"""Locating frontmatter entries: the one-line fast path for one-key-per-line frontmatter gives the very spans
the full composer gives, on every note of the sample vault, the fixtures and the brain corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BRAIN, FIXTURES, SAMPLE_VAULT
from vaulttools.note import Note
from vaulttools.yamlnodes import Entry, UnreadableFrontmatter, frontmatter_entries, scalar_of, sequence_items

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
