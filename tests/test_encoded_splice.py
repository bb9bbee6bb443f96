"""`planning.encoded`: a note's new bytes spliced from its old ones, edit by edit, equal to encoding the whole
edited text (`Note.encode`), on every hostile shape: non-ASCII text before, inside and after an edit, an
edit's old text repeated before it (overlapping too), a BOM, CRLF, no final newline, an insertion."""

from __future__ import annotations

import pytest

from vaulttools import planning
from vaulttools.edits import Edit, apply_edits
from vaulttools.note import Note

BOM = "\ufeff"


@pytest.fixture(autouse=True)
def _splice_short_notes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases are short notes, which `encoded` encodes whole: here they are spliced, as long ones are."""
    monkeypatch.setattr(planning, "SPLICE_FROM", 0)


def _edit_at(text: str, old: str, new: str, occurrence: int = 0) -> Edit:
    start = -1
    for _ in range(occurrence + 1):
        start = text.find(old, start + 1)
    assert start >= 0
    return Edit(start, start + len(old), old, new)


CASES = [
    # (file text, [(old, new, occurrence)])
    ("plain ascii [[a]]\n", [("a", "a-d9", 0)]),  # ASCII: encoded whole
    ("café [[a]] 😀\n", [("a", "a-d9", 0)]),
    ("café [[a]] 😀 [[a]] ü\n", [("a", "a-d9", 1)]),  # the second of two
    ("ü aaa [[aa]]\n", [("aa", "b", 1)]),  # overlapping occurrences before it
    ("ü aaa [[aa]]\n", [("aa", "b", 2)]),
    (BOM + "ü [[x]]\r\nnext [[y]]", [("x", "x-d1", 0), ("y", "ÿ", 0)]),  # BOM, CRLF, no final newline
    ("[[é]] then [[é]]\n", [("é", "e", 0), ("é", "ë", 1)]),  # non-ASCII old text, two edits
    ("ü [[a]]\n", [("", "inserted ", 0)]),  # an insertion: encoded whole
    ("ü [[unchanged]]\n", [("unchanged", "unchanged", 0)]),  # a no-op edit
    ("😀" * 100 + " [[z]]", [("z", "zz", 0)]),
]


@pytest.mark.parametrize(("text", "changes"), CASES)
def test_spliced_bytes_equal_the_whole_text_encoded(
    text: str, changes: list[tuple[str, str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    note = Note("n.md", text.encode("utf-8"))
    body = note.text
    edits = [
        Edit(0, 0, "", new) if old == "" else _edit_at(body, old, new, occurrence)
        for old, new, occurrence in changes
    ]
    new_text = apply_edits(body, edits, path="n.md")
    expected = note.encode(new_text)
    spliced = not body.isascii() and all(edit.old for edit in edits)
    if spliced:  # not by encoding the whole note
        monkeypatch.setattr(Note, "encode", lambda *_: pytest.fail("encoded the whole note"))
    assert planning.encoded(note, new_text, edits) == expected


def test_too_many_occurrences_before_an_edit_encode_the_whole_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "SPLICE_SEARCH_LIMIT", 2)
    note = Note("n.md", "é a a a [[a]]\n".encode())
    edit = _edit_at(note.text, "a", "b", 3)
    new_text = apply_edits(note.text, [edit], path="n.md")
    assert planning.encoded(note, new_text, [edit]) == note.encode(new_text)


@pytest.mark.parametrize(
    ("text", "old", "new"),
    [
        ("café [[a]]\n", "", "\n\n## Related\n- [[ü]]\n"),  # appended at the end
        ("café [[a]]\n\n## Related\n- [[b]]\n", "- [[b]]\n", "- [[ü]]\n- [[c]]\n"),  # the last lines
        ("😀 x " * 50 + "ü x ü", "x", "y"),  # the last of many occurrences: placed from the end
        (BOM + "ü\r\n[[x]]", "[[x]]", ""),  # BOM, CRLF, no final newline, removed
    ],
)
def test_edits_near_the_end_are_spliced_from_the_end(
    text: str, old: str, new: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = Note("n.md", text.encode("utf-8"))
    body = note.text
    start = body.rfind(old) if old else len(body)
    edit = Edit(start, start + len(old), old, new)
    new_text = apply_edits(body, [edit], path="n.md")
    expected = note.encode(new_text)
    monkeypatch.setattr(Note, "encode", lambda *_: pytest.fail("encoded the whole note"))
    assert planning.encoded(note, new_text, [edit]) == expected


@pytest.mark.parametrize("size", [100, 12 * 1024 - 1])
def test_a_short_note_is_encoded_whole(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `SPLICE_FROM` bytes, encoding the whole note is the faster way, whatever its text."""
    monkeypatch.setattr(planning, "SPLICE_FROM", 12 * 1024)
    text = "ü [[a]]\n"
    note = Note("n.md", (text + "x" * (size - len(text.encode()))).encode())
    assert len(note.raw) == size
    edit = _edit_at(note.text, "a", "a-d9")
    new_text = apply_edits(note.text, [edit], path="n.md")
    monkeypatch.setattr(planning, "_byte_offset", lambda *_: pytest.fail("spliced a short note"))
    assert planning.encoded(note, new_text, [edit]) == note.encode(new_text)
