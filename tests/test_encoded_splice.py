"""`planning.encoded`: a note's new bytes spliced from its old ones, edit by edit, equal to encoding the whole
edited text (`Note.encode`), on every hostile shape: non-ASCII text before, inside and after an edit, an
edit's old text repeated before it (overlapping too), a BOM, CRLF, no final newline, an insertion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaulttools import planning
from vaulttools.edits import ByteEdit, Edit, apply_byte_edits, apply_edits
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


# --- byte edits: a note's edits placed in its bytes (`planning.note_byte_edits`, `edits.apply_byte_edits`)


@pytest.mark.parametrize(("text", "changes"), CASES)
def test_byte_edits_make_the_whole_text_encoded(text: str, changes: list[tuple[str, str, int]]) -> None:
    """ASCII or not: the byte edits, spliced into the old bytes, give the edited text encoded whole."""
    note = Note("n.md", text.encode("utf-8"))
    edits = [
        Edit(0, 0, "", new) if old == "" else _edit_at(note.text, old, new, occurrence)
        for old, new, occurrence in changes
    ]
    byte_edits = planning.note_byte_edits(note, edits)
    expected = note.encode(apply_edits(note.text, edits, path="n.md"))
    if byte_edits is None:  # an insertion at the start of a non-ASCII note: not placed by its bytes
        assert not note.text.isascii() and any(not edit.old for edit in edits)
        return
    assert [e.start for e in byte_edits] == sorted(e.start for e in byte_edits)
    assert all(note.raw[e.start : e.start + len(e.old)] == e.old for e in byte_edits)
    assert apply_byte_edits(note.raw, byte_edits) == expected


@given(
    words=st.lists(st.sampled_from(["a", "[[x]]", "é", "😀", " ", "\r\n", "\n", "xx", "[[é]]"]), max_size=30),
    bom=st.booleans(),
    picks=st.lists(st.tuples(st.integers(0, 29), st.sampled_from(["", "y", "ü", "[[z]]"])), max_size=4),
)
def test_byte_edits_of_any_note_make_its_edited_text_encoded(
    words: list[str], bom: bool, picks: list[tuple[int, str]]
) -> None:
    text = (BOM if bom else "") + "".join(words)
    note = Note("n.md", text.encode("utf-8"))
    body = note.text
    starts = sorted({sum(map(len, words[:at])) for at, _ in picks if at < len(words)})
    edits = []
    for start, (at, new) in zip(starts, picks, strict=False):
        old = words[at] if at < len(words) else ""
        if body.startswith(old, start) and old != new:
            edits.append(Edit(start, start + len(old), old, new))
    edits = [e for i, e in enumerate(edits) if i == 0 or e.start >= edits[i - 1].end]
    byte_edits = planning.note_byte_edits(note, edits)
    if byte_edits is not None:
        assert apply_byte_edits(note.raw, byte_edits) == note.encode(apply_edits(body, edits, path="n.md"))


RAW = b"0123456789"


@pytest.mark.parametrize(
    ("edits", "base", "expected"),
    [
        ([], 0, RAW),  # no edit: the same bytes
        ([ByteEdit(2, b"23", b"ab")], 0, b"01ab456789"),
        ([ByteEdit(0, b"", b">"), ByteEdit(10, b"", b"<")], 0, b">0123456789<"),  # inserted at both ends
        ([ByteEdit(1, b"1", b""), ByteEdit(5, b"56", b"xyz")], 0, b"0234xyz789"),
        ([ByteEdit(12, b"23", b"ab")], 10, b"01ab456789"),  # `data` is the file from offset 10 on
        ([ByteEdit(2, b"24", b"ab")], 0, None),  # the old bytes are not there
        ([ByteEdit(9, b"9x", b"ab")], 0, None),  # past the end
        ([ByteEdit(11, b"", b"!")], 0, None),  # an insertion past the end
        ([ByteEdit(3, b"34", b""), ByteEdit(4, b"4", b"")], 0, None),  # overlapping the one before
        ([ByteEdit(5, b"5", b""), ByteEdit(2, b"2", b"")], 0, None),  # out of order
        ([ByteEdit(9, b"9", b"")], 10, None),  # before `base`
    ],
)
def test_apply_byte_edits(edits: list[ByteEdit], base: int, expected: bytes | None) -> None:
    assert apply_byte_edits(RAW, edits, base=base) == expected
