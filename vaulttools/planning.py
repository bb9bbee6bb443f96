"""Turn a note plus its edits into a verified `FileChange`: the one path every command's edits take; and
`plan_each_note`, the loop of the planners that edit notes one by one on their own bytes."""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vaulttools.changes import LEFT_ON_DISK_FROM, BatchPlan, FileChange, Mention, ReportT, SkippedNote, Spool
from vaulttools.edits import ByteEdit, Edit, apply_byte_edits, apply_edits
from vaulttools.errors import EditConflict, VaultError
from vaulttools.files import clock_mark
from vaulttools.git import ObjectStore
from vaulttools.note import Frontmatter, Note, load_frontmatter_yaml, split_frontmatter
from vaulttools.parallel import iter_chunks
from vaulttools.vault import Vault
from vaulttools.yamledit import verify_yaml_edit

# (old YAML, new YAML) -> None, raising `EditConflict` when the new YAML is not exactly what was planned.
YamlCheck = Callable[[str, str], None]


def note_change(
    note: Note,
    edits: Sequence[Edit],
    new_path: str | None = None,
    *,
    appended: Mapping[str, str] | None = None,
    expected_properties: Mapping[str, Any] | None = None,
    yaml_check: YamlCheck | None = None,
) -> FileChange | None:
    """Apply `edits` to `note`, verify the result, and return the change (None when nothing changes).

    `appended`: list properties the edits extend by one item (see `yamledit.verify_yaml_edit`).
    `expected_properties`: the frontmatter's exact data after the edits, for edits that reshape it (a
    merge adds and removes list items and keys): the edited YAML must load to exactly this.
    `yaml_check(old_yaml, new_yaml)`: the caller's own proof for reshaping edits that exact data cannot
    state (`tags` items compared as the tags they hold, whatever YAML reads them as); raises `EditConflict`.
    """
    if not note.editable:
        raise EditConflict.in_file(note.path, str(note.decode_error), "; vaulttools does not edit this file")
    new_text = apply_edits(note.text, edits, path=note.path)
    if new_text == note.text and (new_path is None or new_path == note.path):
        return None
    verify_edited(note, new_text, edits, appended, expected_properties, yaml_check)
    if len(note.raw) < LEFT_ON_DISK_FROM or new_path not in (None, note.path):
        return FileChange(note.path, note.raw, encoded(note, new_text, edits), new_path)
    # A long note rewritten in place: its byte edits go with it, so that the batch may make its new bytes
    # from the old ones it leaves in the file (`FileChange.old_left_on_disk`).
    byte_edits = note_byte_edits(note, edits)
    spliced = None if byte_edits is None or note.text.isascii() else apply_byte_edits(note.raw, byte_edits)
    if spliced is None and not note.text.isascii():
        byte_edits = None  # placed by their old bytes, and not found there: the note is encoded whole
    new = note.encode(new_text) if spliced is None else spliced
    return FileChange(note.path, note.raw, new, new_path, byte_edits=byte_edits)


# Occurrences of an edit's old text before it that `encoded` walks past; more, and it encodes the whole note.
SPLICE_SEARCH_LIMIT = 64
# Notes of fewer bytes are encoded whole: UTF-8 encoding costs ~0.3-0.5 µs a KB whatever the script (Latin,
# CJK, emoji), splicing ~5 µs a note (a 4 KB note: 2.7 µs whole, 5.5 µs spliced; 30 KB: 12 µs, 8.5 µs).
SPLICE_FROM = 12 * 1024


def encoded(note: Note, new_text: str, edits: Sequence[Edit]) -> bytes:
    """`note.encode(new_text)`, for a long note by splicing each edit's new text into the note's old bytes.

    Encoding a whole 30 KB note with non-ASCII text costs more than splicing into it (the workers of
    `normalize-links` and `sync-related` edit thousands of long notes); an ASCII note encodes at copy speed,
    and a short one (`SPLICE_FROM`) faster than it is spliced: both are encoded whole."""
    if len(note.raw) < SPLICE_FROM or note.text.isascii():
        return note.encode(new_text)
    byte_edits = note_byte_edits(note, edits)
    spliced = None if byte_edits is None else apply_byte_edits(note.raw, byte_edits)
    return note.encode(new_text) if spliced is None else spliced


def note_byte_edits(note: Note, edits: Sequence[Edit]) -> tuple[ByteEdit, ...] | None:
    """The note's edits in its bytes, in order (None: an edit's place in them cannot be told cheaply).

    In an ASCII text a character is a byte (after the BOM). Otherwise an edit's place in the bytes is found
    from its old text: UTF-8 is self-synchronising, so the k-th occurrence of a text (overlapping ones
    counted) in the decoded note is the k-th occurrence of its bytes in the file; an edit nearer the end is
    placed by the length of the bytes after it."""
    real = sorted((e for e in edits if e.old != e.new), key=lambda e: e.start)
    cursor = _bom_length(note)
    if note.text.isascii():
        return tuple(ByteEdit(cursor + e.start, e.old.encode("ascii"), e.new.encode("utf-8")) for e in real)
    byte_edits = []
    for edit in real:
        old = edit.old.encode("utf-8")
        start = _byte_offset(note, edit.start, edit.old, old, cursor)
        if start is None:
            return None
        byte_edits.append(ByteEdit(start, old, edit.new.encode("utf-8")))
        cursor = start + len(old)
    return tuple(byte_edits)


def _bom_length(note: Note) -> int:
    return 3 if note.bom else 0


def _byte_offset(note: Note, start: int, old_text: str, old: bytes, from_byte: int) -> int | None:
    """Where the text `old_text` at character `start` begins in the note's bytes (None: an insertion near
    the start, or too many occurrences before it to walk)."""
    text, raw = note.text, note.raw
    end = start + len(old_text)
    if len(text) - end < start:
        # Nearer the end (a related section, an appended line): the bytes are the text's, encoded, so the
        # text after the edit, encoded, is how far from the end it is. No search, insertions included.
        at = len(raw) - len(text[end:].encode("utf-8")) - len(old)
        return at if at >= from_byte and raw[at : at + len(old)] == old else None
    if not old_text:
        return None
    found = text.find(old_text)
    occurrence = 0
    while found != start:
        if found < 0 or found > start or occurrence >= SPLICE_SEARCH_LIMIT:
            return None
        occurrence += 1
        found = text.find(old_text, found + 1)
    at = raw.find(old, _bom_length(note))
    for _ in range(occurrence):
        at = raw.find(old, at + 1)
    return at if at >= from_byte else None


def verify_edited(
    note: Note,
    new_text: str,
    edits: Sequence[Edit],
    appended: Mapping[str, str] | None = None,
    expected_properties: Mapping[str, Any] | None = None,
    yaml_check: YamlCheck | None = None,
) -> None:
    """Re-parse the edited note: same frontmatter block, valid YAML, and every other byte where it was."""
    real = sorted((e for e in edits if e.old != e.new), key=lambda e: e.start)
    _verify_untouched_bytes(note, new_text, real)
    fm = note.frontmatter
    new_fm = _verify_frontmatter_bounds(note, new_text, real)
    if fm is None or new_fm is None:
        return
    if any(e.start < fm.block_end for e in real):
        if not note.frontmatter_editable:
            raise EditConflict.in_file(
                note.path,
                f"its frontmatter does not parse ({note.yaml_error}), so vaulttools will not edit it",
                "",
            )
        old_yaml, new_yaml = note.text[fm.start : fm.end], new_text[new_fm.start : new_fm.end]
        if expected_properties is not None:
            _verify_properties(note.path, new_yaml, expected_properties)
        elif yaml_check is not None:
            yaml_check(old_yaml, new_yaml)
        else:
            verify_yaml_edit(note.path, old_yaml, new_yaml, appended)


def _verify_properties(path: str, new_yaml: str, expected: Mapping[str, Any]) -> None:
    """The edited frontmatter loads to exactly `expected`, keys in the same order."""
    data, error = load_frontmatter_yaml(new_yaml)
    if error is not None:
        raise EditConflict.in_file(path, f"the edited frontmatter would not parse ({error})")
    if data != dict(expected) or list(data or {}) != list(expected):
        raise EditConflict.in_file(path, "the edited frontmatter differs from the planned values")


def _verify_untouched_bytes(note: Note, new_text: str, edits: Sequence[Edit]) -> None:
    """Walk both texts segment by segment: outside the edits they must be identical. Each segment of the
    new text is compared where it lies (`startswith` at an offset), not sliced out: a 30 KB note is copied
    once less."""
    text = note.text
    old_cursor = new_cursor = 0
    for edit in edits:
        if not new_text.startswith(text[old_cursor : edit.start], new_cursor):
            raise EditConflict.in_file(note.path, "bytes outside the planned edits changed")
        new_cursor += edit.start - old_cursor
        if not new_text.startswith(edit.new, new_cursor):
            raise EditConflict.in_file(note.path, "an edit did not land where planned")
        new_cursor += len(edit.new)
        old_cursor = edit.end
    if len(new_text) - new_cursor != len(text) - old_cursor or not new_text.startswith(
        text[old_cursor:], new_cursor
    ):
        raise EditConflict.in_file(note.path, "bytes outside the planned edits changed")


def _verify_frontmatter_bounds(note: Note, new_text: str, edits: Sequence[Edit]) -> Frontmatter | None:
    """Re-find the frontmatter in the result: it must close (or not) as before, with the same closer, exactly
    where the old one did once the edits inside it are counted. An edit that writes a `---` line into a
    value would otherwise end the frontmatter early and turn the rest of it into body text."""
    fm = note.frontmatter
    if _bounds_kept(note, edits):
        return fm
    new_fm, problem = split_frontmatter(new_text)
    # A frontmatter that never closes is body text to Obsidian (its links are links): it may stay unclosed.
    moved = (fm is None) != (new_fm is None) or bool(problem and problem != note.frontmatter_problem)
    if not moved and fm is not None and new_fm is not None:
        shift = sum(len(e.new) - (e.end - e.start) for e in edits if e.start < fm.block_end)
        moved = (new_fm.end, new_fm.block_end, new_fm.closer) != (
            fm.end + shift,
            fm.block_end + shift,
            fm.closer,
        )
    if moved:
        raise EditConflict.in_file(note.path, "the edit would change where the frontmatter ends")
    return new_fm


def _bounds_kept(note: Note, edits: Sequence[Edit]) -> bool:
    """Whether the frontmatter's bounds are provably those of the edited text without finding them again:
    it closes with a line ending and every edit starts after that line (the untouched-bytes check has
    then proved `text[:block_end]` unchanged, and the opener and the first closer lie in it). A body edit
    of a note whose frontmatter never closes, or whose closer ends the file, may still close or move it:
    those are searched for (a link fix writes ~13,000 notes, each with its frontmatter scanned again)."""
    fm = note.frontmatter
    return (
        fm is not None
        and note.text[fm.block_end - 1 : fm.block_end] == "\n"
        and all(edit.start >= fm.block_end for edit in edits)
    )


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Planning notes without the cyclic garbage collector: a planner's objects (notes, links, edits,
    changes) form no reference cycles, yet every few hundred of them start a collection, and the oldest
    generation's walk the whole heap a process inherits (the vault's index, `check`'s cached findings):
    ~10 % of normalize-links' planning. Reference counting still frees everything at once; a cycle made
    meanwhile (an exception's traceback) waits for the next collection after this block."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


Reader = Callable[[str], bytes]


class NoteOutcome(NamedTuple):
    """What a planner that edits notes one by one (`tag`, `property`) decides for one note: its verified
    change, or why it is left alone."""

    path: str
    change: FileChange | None
    counts: dict[str, int]
    left_alone: str | None = None  # why the note is left alone (reported with its path)
    refuses: bool = False  # the reason refuses the whole batch (`property rename`: NEW already there)
    mentions: tuple[Mention, ...] = ()  # what the note writes where it is not read, left as written


def left_alone(note: Note, why: str | VaultError) -> NoteOutcome:
    """A note left alone: because it cannot be decoded (`note.decode_error`), its frontmatter cannot be
    read ("…; edit it by hand"), or an edit was refused (the refusal's message, without its path and its
    "nothing was written": the report gives the path and the batch goes on)."""
    if isinstance(why, VaultError):
        why = why.message.removeprefix(f"{note.path}: ").removesuffix("; nothing was written")
    return NoteOutcome(note.path, None, {}, left_alone=why)


def unreadable(note: Note, why: str) -> NoteOutcome:
    """A note whose bytes or frontmatter vaulttools cannot read: the user edits it by hand."""
    return NoteOutcome(note.path, None, {}, left_alone=f"{why}; edit it by hand")


@dataclass
class NotesPlanned:
    """Every note's outcome, gathered in note order."""

    changes: list[FileChange] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)  # each changed note: its path and counts
    left_alone: list[SkippedNote] = field(default_factory=list)
    refusals: list[SkippedNote] = field(default_factory=list)  # left alone, and refusing the whole batch
    totals: Counter[str] = field(default_factory=Counter)
    mentions: list[Mention] = field(default_factory=list)

    def batch(
        self, command: str, summary: str, counts: dict[str, int], report: ReportT, read: Reader
    ) -> BatchPlan[ReportT]:
        """The plan of these changes; the notes left alone must still be as read when it is written."""
        plan = BatchPlan(command, summary, self.changes, counts, report)
        plan.expect_left_alone_unchanged([entry.path for entry in self.left_alone], read)
        return plan


def plan_each_note(
    vault: Vault, may_hold: Callable[[bytes], bool], plan_note: Callable[[Note], NoteOutcome]
) -> NotesPlanned:
    """`plan_note` on every note whose bytes `may_hold` what it edits (on every core for big vaults); the
    changes' bytes are spooled as they arrive."""
    link_properties = vault.config.link_property_set
    mark = clock_mark(vault.root)  # before any note is read (see `PlannedStatus.stamp`)
    objects = ObjectStore.of(vault.root)

    def plan_chunk(paths: list[str]) -> list[NoteOutcome]:
        outcomes = []
        for path in paths:
            status, raw = vault.read_with_status(path)
            if may_hold(raw):
                outcome = plan_note(Note(path, raw, link_properties))
                if outcome.change is not None:
                    # Fingerprinted here, on every core, as `rename` and `normalize-links` do: the batch then
                    # knows a clean note by its git blob (no `git status` of the work tree), its journal
                    # names that blob instead of copying the note, and its commit names the new bytes'.
                    change = outcome.change.old_left_on_disk(vault.root, status, mark, objects)
                    outcome = outcome._replace(change=change)
                if outcome.change is not None or outcome.left_alone or outcome.mentions:
                    outcomes.append(outcome)
        return outcomes

    spool = Spool(vault.root)
    planned = NotesPlanned()
    for outcomes in iter_chunks(plan_chunk, vault.note_paths, on_progress=vault.on_progress):
        for outcome in outcomes:
            planned.mentions += outcome.mentions
            if outcome.left_alone:
                listing = planned.refusals if outcome.refuses else planned.left_alone
                listing.append(SkippedNote(outcome.path, outcome.left_alone))
            elif outcome.change is not None:
                planned.changes.append(spool.keep(outcome.change))
                planned.notes.append({"path": outcome.path, **outcome.counts})
                planned.totals.update(outcome.counts)
    return planned
