"""The edit core: every change to a note is an `Edit`, applied in exactly one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from vaulttools.errors import EditConflict


class Edit(NamedTuple):
    """Replace `old` (which must be `text[start:end]`) by `new`. Offsets index the decoded text."""

    start: int
    end: int
    old: str
    new: str
    # Free-form label of why the edit exists ("wikilink", "property", ...) for reports.
    kind: str = ""


def apply_edits(text: str, edits: Iterable[Edit], *, path: str = "<text>") -> str:
    """Splice `edits` into `text`, checking that each still matches and that none overlap.

    Applied back to front so earlier offsets stay valid; no-op edits (old == new) are dropped.
    """
    ordered = sorted((e for e in edits if e.old != e.new), key=lambda e: (e.start, e.end))
    previous_end = -1
    for edit in ordered:
        if edit.start < previous_end:
            raise EditConflict.in_file(path, f"two edits overlap at offset {edit.start}")
        if text[edit.start : edit.end] != edit.old:
            raise EditConflict.in_file(
                path,
                f"the text at offset {edit.start} changed since it was read (expected {edit.old!r})",
                "; run the command again",
            )
        previous_end = edit.end
    pieces: list[str] = []
    cursor = len(text)
    for edit in reversed(ordered):
        pieces.append(text[edit.end : cursor])
        pieces.append(edit.new)
        cursor = edit.start
    pieces.append(text[:cursor])
    return "".join(reversed(pieces))


class ByteEdit(NamedTuple):
    """`Edit` in a file's bytes: replace `old` (which must be the bytes at `start`) by `new`. A note's edits
    as byte edits let a batch rebuild its new bytes from the old ones left in the file, instead of carrying
    30 KB per note from the process that planned it (`changes.NewFromOld`)."""

    start: int
    old: bytes
    new: bytes


def apply_byte_edits(
    data: bytes, edits: Iterable[ByteEdit | tuple[int, bytes, bytes]], *, base: int = 0
) -> bytes | None:
    """Splice `edits` (in order, none overlapping; `ByteEdit`s or plain (start, old, new) tuples) into
    `data`, the bytes of a file from offset `base` on; None when an edit's old bytes are not where it says,
    or it starts before `base` or overlaps the one before: the bytes are not those the edits were planned on."""
    view = memoryview(data)  # the unchanged stretches are copied once, by the join
    pieces: list[bytes | memoryview] = []
    cursor = 0
    for at, old, new in edits:
        start = at - base
        end = start + len(old)
        if start < cursor or end > len(data) or view[start:end] != old:
            return None
        pieces += [view[cursor:start], new]
        cursor = end
    pieces.append(view[cursor:])
    return b"".join(pieces)
