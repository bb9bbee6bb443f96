"""What a batch is made of: the planned `FileChange`s of one command in a `BatchPlan`, their bytes held in
memory or in a `Spool`. Planners build these (through `planning.note_change`); `batch.run_batch` writes them.
Nothing here touches a note."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import os
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from vaulttools.digests import blob_id, quick_sum
from vaulttools.edits import ByteEdit, apply_byte_edits
from vaulttools.errors import EditConflict
from vaulttools.files import read_range, stamp_of_status, state_dir
from vaulttools.git import BATCH_TRAILER, ObjectStore
from vaulttools.journal import OLD_BLOB, fingerprints, fingerprints_of_blob
from vaulttools.resolve import fold


class Spool:
    """Where a big batch keeps its changes' bytes: in memory up to a budget, then in an anonymous file.

    A batch that rewrites 100,000 notes holds ~650 MB of old and new bytes; spooled, a change holds two
    (offset, length) pairs and the bytes sit in the page cache, read back (a `pread` each) when the batch
    journals, compares and writes them. Batches within the budget (10,000 rewritten notes: ~70 MB) never
    touch the file. The file has no name (or loses it at once) and vanishes with the process, so a crash
    leaves nothing behind. It is created on first use in `root`'s state folder (on the vault's disk rather
    than in a RAM-backed /tmp), or the system's temporary folder if that folder cannot be made; or in
    memory, given the most it will hold (`expected_bytes`), when that is a small share of the memory the
    system has available (see `_open`).

    After `share()`, processes forked from this one spool into the same file (each append under a lock),
    and a change they send back names this spool: its bytes stay in the file instead of crossing a pipe.
    """

    def __init__(
        self, root: Path | None = None, memory_budget: int | None = None, expected_bytes: int | None = None
    ) -> None:
        self._root = root
        self._expected = expected_bytes
        self._budget = SPOOL_MEMORY_BUDGET if memory_budget is None else memory_budget
        self._held = 0
        self._file: Any = None
        self._end = 0
        self._shared = False
        self._token = next(_SPOOL_TOKENS)
        _SPOOLS[self._token] = self

    def __reduce__(self) -> tuple[Callable[[int], Spool], tuple[int]]:
        # A change sent back by a forked worker names the spool they share, not a copy of it.
        if not self._shared:
            raise TypeError("only a shared spool (`Spool.share`) may cross a process boundary")
        return _spool_numbered, (self._token,)

    def keep(self, change: FileChange) -> FileChange:
        """`change` as it is while the bytes held stay within the budget, else spooled."""
        size = _held_size(change._old) + _held_size(change._new)  # unspooled (checked next)
        if change._spool is None and self._held + size <= self._budget:
            self._held += size
            return change
        return change.spooled(self)

    def take_from_worker(self, changes: list[FileChange]) -> list[FileChange]:
        """In a forked worker, after `share`: a chunk's changes, in order, each long note's
        (`long_old_on_disk`) spooled, so that its new bytes reach the parent through this spool's file
        instead of a pipe and a pickle into its memory (10,000 30 KB notes: ~0.25 s of the parent's time);
        any other change as it is: a short note's bytes cross the pipe. The long ones go in as one append
        (`spool_all`): an append per note (lock, stat, write, unlock), contended by the other workers,
        took 0.23-0.32 s of each worker's 1.25-1.6 s on 9,800 long notes, one per chunk 0.11-0.16 s."""
        # Asked once: a property of three tests. A change made from the old bytes has none to spool.
        long = [change.long_old_on_disk and not change.new_made_from_old for change in changes]
        if not self._shared or not any(long):
            return changes
        spooled = iter(spool_all(list(itertools.compress(changes, long)), self))
        return [next(spooled) if is_long else change for change, is_long in zip(changes, long, strict=True)]

    def share(self) -> None:
        """Open the file now, so that processes forked after this spool into it too."""
        self._open()
        self._shared = True

    @property
    def shared(self) -> bool:
        return self._shared

    def _open(self) -> Any:
        if self._file is None and self._fits_in_memory():
            # In memory, not on the vault's disk: the batch's syncs (`os.sync`, which writes out every
            # file's dirty pages) would otherwise write the whole spool to disk for nothing (sync-related
            # on 20,000 notes of 30 KB spools ~600 MB). Only with memory to spare: a spool on disk, once
            # written out, can be dropped from memory under pressure; one in memory cannot (but to swap).
            with contextlib.suppress(OSError):
                descriptor = os.memfd_create("vaulttools-spool", os.MFD_CLOEXEC)
                self._file = open(descriptor, "r+b", buffering=0)  # noqa: SIM115 - lives with the spool
        if self._file is None:
            import tempfile

            directory = None
            if self._root is not None:
                with contextlib.suppress(OSError):
                    directory = state_dir(self._root)
            # Unbuffered: every read sees every write, with no buffer to flush in between.
            self._file = tempfile.TemporaryFile(dir=directory, buffering=0)  # noqa: SIM115 - lives with the spool
        return self._file

    def _fits_in_memory(self) -> bool:
        """The spool's most (`expected_bytes`) is known and at most `1 / IN_MEMORY_SHARE` of the memory the
        system has available, where it can make an anonymous memory file."""
        return self._expected is not None and fits_in_memory(self._expected)

    def put(self, data: bytes) -> tuple[int, int]:
        descriptor = self._open().fileno()
        if self._shared:
            return _append_locked(descriptor, [data]), len(data)
        place = (self._end, len(data))
        written = 0
        while written < len(data):
            written += os.pwrite(descriptor, memoryview(data)[written:], self._end + written)
        self._end += len(data)
        return place

    def put_all(self, pieces: list[bytes]) -> list[tuple[int, int]]:
        """`put` of each of `pieces`, in order, as one append: a forked worker spooling a chunk of changes
        takes the shared file's lock once, not twice per change (two `lockf` calls, contended by the other
        workers, cost more than the write of a 30 KB note)."""
        if not self._shared:
            return [self.put(piece) for piece in pieces]
        start = _append_locked(self._open().fileno(), pieces)
        ends = list(itertools.accumulate(map(len, pieces), initial=start))
        return [(at, len(piece)) for at, piece in zip(ends, pieces, strict=False)]

    def get(self, place: tuple[int, int]) -> bytes:
        """The bytes at `place`: a positional read (no shared file position), so the batch's journal thread
        and its writing thread can read the spool at once."""
        offset, length = place
        descriptor = self._open().fileno()
        chunks, read = [], 0
        while read < length:
            chunk = os.pread(descriptor, length - read, offset + read)
            if not chunk:
                raise OSError(f"the batch's spool ended early at byte {offset + read}")
            chunks.append(chunk)
            read += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# A spool lives in memory only if this many times the most it can hold is available (see `Spool._open`).
IN_MEMORY_SHARE = 4


def fits_in_memory(spooled_bytes: int) -> bool:
    """Whether a spool that holds at most this many bytes is kept in memory (see `Spool`): at most
    `1 / IN_MEMORY_SHARE` of the memory the system has available, where it can make an anonymous file."""
    return hasattr(os, "memfd_create") and spooled_bytes * IN_MEMORY_SHARE <= _memory_to_spare()


def _memory_to_spare() -> int:
    """The memory the system can give without swapping, in bytes (Linux's `MemAvailable`: free memory and
    the cache it can drop), else its free memory; 0 where it cannot tell."""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", "rb") as meminfo:
        for line in meminfo:
            if line.startswith(b"MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 0


_SPOOL_TOKENS = itertools.count()
_SPOOLS: weakref.WeakValueDictionary[int, Spool] = weakref.WeakValueDictionary()


def spool_all(changes: list[FileChange], spool: Spool) -> list[FileChange]:
    """`change.spooled(spool)` of each change, their bytes put in the spool at once (`Spool.put_all`)."""
    places = iter(spool.put_all([piece for change in changes for piece in change._unspooled()]))
    return [change.spooled(spool, places) for change in changes]


def _spool_numbered(token: int) -> Spool:
    return _SPOOLS[token]


def _append_locked(descriptor: int, pieces: list[bytes]) -> int:
    """Write `pieces`, one after the other, at the end of a file other processes append to as well: the end
    is read and written under an exclusive lock (a record lock, held per process), so no two appends
    overlap. Returns where the first piece starts."""
    import fcntl

    fcntl.lockf(descriptor, fcntl.LOCK_EX)
    try:
        start = end = os.fstat(descriptor).st_size
        for piece in pieces:
            written = 0
            while written < len(piece):
                written += os.pwrite(descriptor, memoryview(piece)[written:], end + written)
            end += len(piece)
    finally:
        fcntl.lockf(descriptor, fcntl.LOCK_UN)
    return start


# Bytes of planned changes a batch holds in memory before it spools the rest (see `Spool`): the new bytes
# of 10,000 rewritten 30 KB notes (whose old bytes stay on disk, see `FileChange.old_left_on_disk`).
SPOOL_MEMORY_BUDGET = 320 * 2**20


def _held_size(value: bytes | tuple[int, ...] | OnDisk | NewFromOld | None) -> int:
    """Bytes an unspooled change holds in memory for one side (none for a side left on disk or made from it)."""
    return len(value) if isinstance(value, bytes) else 0


# Old bytes from this size on are left on disk by `FileChange.old_left_on_disk`; smaller ones stay with the
# change (their fingerprints still taken by the worker): for a note of a few KB, opening, reading and hashing
# it again in the journal costs more than the memory it holds (`normalize-links` on 20,000 short notes).
LEFT_ON_DISK_FROM = 8 * 1024


# The fingerprint that names a change's new bytes as a git blob (see `FileChange.old_left_on_disk`; the old
# bytes' is the journal's `OLD_BLOB`), and whether git held that blob when the planner looked
# (`git.ObjectStore.holds`).
NEW_BLOB = "new_blob"
NEW_BLOB_HELD = "new_blob_held"
# The fingerprint that says how many leading bytes the old and new bytes share, in whole blocks of
# `SAME_BLOCK` (see `FileChange.same_until`).
SAME_UNTIL = "same_until"
SAME_BLOCK = 4096


def shared_blocks_length(old: bytes, new: bytes) -> int:
    """The length of the leading whole `SAME_BLOCK` blocks `old` and `new` share: each block compared at
    memory speed, the first that differs ends it (a related section appended to a 30 KB note: 7 blocks)."""
    at, end = 0, min(len(old), len(new)) - SAME_BLOCK
    while at <= end and old[at : at + SAME_BLOCK] == new[at : at + SAME_BLOCK]:
        at += SAME_BLOCK
    return at


class OnDisk(NamedTuple):
    """A change's old bytes left in the file they were read from (see `FileChange.old_left_on_disk`): the
    file, and the git blob id and size of the bytes the plan was made from."""

    file: str
    blob: str
    size: int


class PlannedStatus(NamedTuple):
    """A file's mode and owner when a planner read it (see `FileChange.planned_status`), and its stamp when
    that proves its bytes at write time.

    `stamp` (size, mtime, ctime, inode, as `os.fstat` gave them before the bytes were read) is kept only
    for a file last changed before `mark`, a file the command made on the same file system before planning
    (`files.clock_mark`): any write since, by any program, sets the file's ctime to that clock's time, so at
    least to the mark's, past the stamp's (ctime cannot be set back; a file replaced by rename has another
    inode). The same stamp at write time then says the bytes are those read, and the batch does not read
    and hash them again (`files.rewrite_in_place(unchanged_since=...)`: 10,000 30 KB notes, ~0.2 s). A file
    changed in the mark's own clock tick, or on another device, keeps no stamp: its bytes are compared.
    This is git's own test for a racily clean file, with the mark in place of the index file."""

    mode: int
    uid: int
    stamp: tuple[int, int, int, int] | None = None


def status_when_read(status: os.stat_result, mark: tuple[int, int] | None = None) -> PlannedStatus:
    """The `PlannedStatus` of a file read with `status`, its stamp kept when it settled before `mark`."""
    settled = mark is not None and status.st_dev == mark[0] and status.st_ctime_ns < mark[1]
    stamp = stamp_of_status(status) if settled else None
    return PlannedStatus(status.st_mode, status.st_uid, stamp)


class NewFromOld:
    """The new bytes of a long note rewritten in place, as byte edits of its old bytes, which stay in the
    file (see `FileChange.old_left_on_disk`): a planner's worker sends these few bytes back instead of the
    note's 30 KB (through a pipe or a spool), and the batch makes the new bytes as it writes the note, out
    of the old ones it has just proven the file holds (`FileChange.new_over_old`). They are checked against
    `tail_sum`, the `quick_sum` of the planned new bytes from `start`, the first edit's offset (the bytes
    before it are old and new alike). Only where git already holds the new bytes: nothing else needs them
    before the batch writes over the old ones (the blobs git lacks are stored while it writes, see `batch`)."""

    __slots__ = ("edits", "start", "tail_sum")

    def __init__(self, edits: tuple[tuple[int, bytes, bytes], ...], start: int, tail_sum: int) -> None:
        self.edits = edits  # (start, old, new) of each `ByteEdit`, as plain tuples: pickled in C, not Python
        self.start = start
        self.tail_sum = tail_sum

    @classmethod
    def of(cls, edits: tuple[ByteEdit, ...], new: bytes) -> NewFromOld:
        """These edits, which made `new` from the old bytes."""
        start = edits[0].start if edits else len(new)
        return cls(tuple(map(tuple, edits)), start, quick_sum(memoryview(new)[start:]))  # type: ignore[arg-type]

    def __reduce__(self) -> tuple[type[NewFromOld], tuple[tuple[tuple[int, bytes, bytes], ...], int, int]]:
        return (NewFromOld, (self.edits, self.start, self.tail_sum))

    def __repr__(self) -> str:
        return f"NewFromOld({len(self.edits)} edits from byte {self.start})"


class FileChange:
    """One file of a batch: modified (old and new), created (old None), deleted (new None), or renamed.

    `old` and `new` are bytes, held in memory or (`spooled`) in a `Spool` and read back on each use; or the
    old bytes are left in the file they were read from (`old_left_on_disk`), known by their git blob id until
    they are needed, and read back (and checked) then.
    """

    __slots__ = (
        "_byte_edits",
        "_fingerprints",
        "_new",
        "_old",
        "_planned_status",
        "_spool",
        "new_path",
        "path",
    )

    def __init__(
        self,
        path: str,
        old: bytes | None,
        new: bytes | None,
        new_path: str | None = None,
        *,
        byte_edits: tuple[ByteEdit, ...] | None = None,
    ) -> None:
        self.path = path
        self.new_path = new_path
        self._old: bytes | tuple[int, int] | OnDisk | None = old
        # A place in the spool; with a third number, the spool holds the new bytes from there on and the
        # note on disk holds the ones before (`_head_left_on_disk`); or made from the old ones on disk.
        self._new: bytes | tuple[int, int] | tuple[int, int, int] | NewFromOld | None = new
        # `old` made `new` by these (`planning.note_byte_edits`): kept by `old_left_on_disk` as `NewFromOld`.
        self._byte_edits = byte_edits
        self._spool: Spool | None = None
        self._fingerprints: dict[str, Any] | None = None
        self._planned_status: PlannedStatus | None = None

    def old_left_on_disk(
        self,
        root: Path | str,
        status: os.stat_result | None = None,
        mark: tuple[int, int] | None = None,
        objects: ObjectStore | None = None,
    ) -> FileChange:
        """The same change without its old bytes in memory: a file rewritten in place keeps them on disk
        until the batch writes, and the batch reads them there (into its journal) and checks them against
        the git blob id taken here. Its journal fingerprints are taken here too, once: a planner's worker
        process calls this, so the hashing runs on every core and only the new bytes travel back.
        Old bytes under `LEFT_ON_DISK_FROM` stay with the change (fingerprints still taken here) unless git's
        object store (`objects`) holds them.
        The old bytes' fingerprint is their git blob id (`OLD_BLOB`): where git's object store holds them,
        the batch's journal names that blob instead of copying the bytes (see `batch._originals_in_git`).
        The new bytes' blob id (`NEW_BLOB`) is taken too, by which the commit names them (`git.KnownBlobs`),
        and, given the vault's `objects`, whether git already holds it (`NEW_BLOB_HELD`).
        `status`: the file's status when its old bytes were read (`planned_status`); `mark`: see
        `PlannedStatus.stamp`."""
        if not isinstance(self._old, bytes) or self.deletes or self.new_path not in (None, self.path):
            return self  # created, deleted, moved or spooled: kept as it is
        new = self.new
        twin = FileChange(self.path, None, new, self.new_path)
        twin._fingerprints = fingerprints(self._old, new)
        # The new bytes' id: the commit names them without git reading the written file back.
        new_blob = twin._fingerprints[NEW_BLOB] = blob_id(new) if new is not None else None
        if objects is not None and new_blob is not None:
            # `objects`: the vault's git store; the new blobs and the old ones (below) each in a lane of their own.
            twin._fingerprints[NEW_BLOB_HELD] = objects.holds(new_blob, "new")
        if status is not None:
            twin._planned_status = status_when_read(status, mark)
        long = len(self._old) >= LEFT_ON_DISK_FROM
        if not long and (objects is None or not objects.holds(twin._fingerprints[OLD_BLOB], "old")):
            twin._old = self._old  # small and not in git: cheaper to hold than to read back and hash again
            return twin
        # Long, or short and in git (a committed vault): the journal names the blob and the batch proves
        # the file by its planned stamp, so the bytes are not read again; a worker need not send them back.
        twin._old = OnDisk(f"{root}/{self.path}", twin._fingerprints[OLD_BLOB], len(self._old))
        if long and new is not None and self._byte_edits and twin._fingerprints.get(NEW_BLOB_HELD):
            twin._new = NewFromOld.of(self._byte_edits, new)  # nor the new ones: the batch makes them
            return twin
        shared = shared_blocks_length(self._old, new) if long and new is not None else 0
        if shared:  # a long note: the batch writes only from the first block that changes
            twin._fingerprints[SAME_UNTIL] = shared
        return twin

    @classmethod
    def rewrite_of_blob(cls, path: str, old: OnDisk, new: bytes, new_blob: str) -> FileChange:
        """A file rewritten in place whose bytes now are a blob git holds, known by its id and size (`old`),
        not read: an undo puts back the bytes of the batch commit's parent over those of the commit. The
        batch proves the file holds them as for a planner's `old_left_on_disk` change (its journal names
        the blob while git's index holds it, else copies and checks the file). `new_blob`: the git blob id
        of `new`, by which the commit names them."""
        change = cls(path, None, new)
        change._old = old
        change._fingerprints = fingerprints_of_blob(old.blob, old.size, new)
        change._fingerprints[NEW_BLOB] = new_blob
        return change

    def fingerprinted(self) -> FileChange:
        """The same change with its journal fingerprints taken now (see `old_left_on_disk`): a planner's
        worker process calls this, so the hashing runs on every core, not in the batch."""
        if self._fingerprints is not None:
            return self
        twin = FileChange(self.path, None, None, self.new_path)
        twin._old, twin._new, twin._spool = self._old, self._new, self._spool
        twin._planned_status = self._planned_status
        twin._fingerprints = fingerprints(self.old, self.new)
        return twin

    def spooled(self, spool: Spool, places: Iterator[tuple[int, int]] | None = None) -> FileChange:
        """The same change with its bytes moved into `spool` (old bytes left on disk stay there). `places`:
        where `spool_all` already put its `_unspooled` bytes, in order."""
        if self._spool is not None:
            return self
        twin = FileChange(self.path, None, None, self.new_path)

        def put(data: bytes) -> tuple[int, int]:
            return spool.put(data) if places is None else next(places)

        old = self._old  # not spooled yet (checked above): bytes, left on disk, or None
        twin._old = put(old) if isinstance(old, bytes) else old
        if isinstance(self._new, NewFromOld):
            twin._new = self._new  # a few bytes, made into the new ones from the old ones on disk
        else:
            new, head = self.new, self._head_left_on_disk()
            twin._new = None if new is None else (*put(new[head:]), head) if head else put(new)
        twin._spool = spool
        twin._fingerprints, twin._planned_status = self._fingerprints, self._planned_status
        return twin

    def _unspooled(self) -> list[bytes]:
        """The bytes `spooled` puts in a spool, in the order it puts them."""
        if self._spool is not None:
            return []
        old, new = self._old, None if isinstance(self._new, NewFromOld) else self.new
        if isinstance(new, bytes):
            new = new[self._head_left_on_disk() :]
        return [piece for piece in (old, new) if isinstance(piece, bytes)]

    def _head_left_on_disk(self) -> int:
        """How many leading new bytes `spooled` leaves out of the spool: those the new bytes share with old
        ones left in the note (`same_until`, a long note), which the batch never writes over. The note
        holds them before the batch writes it and after; read back whole (`_new_with_head`), the new bytes
        are checked against their blob id. Why: sync-related appends a section to each of 20,000 30 KB
        notes; spooling them whole wrote ~600 MB into the spool that the batch never read back."""
        recorded = self._fingerprints
        if recorded is None or not isinstance(self._old, OnDisk) or not recorded.get(NEW_BLOB):
            return 0
        return int(recorded.get(SAME_UNTIL, 0))

    @property
    def old(self) -> bytes | None:
        if isinstance(self._old, OnDisk):
            return self._read_old_from_disk(self._old)
        return self._load(self._old)

    @property
    def new(self) -> bytes | None:
        return self._load(self._new)

    @property
    def old_on_disk(self) -> OnDisk | None:
        """Where the old bytes were left and what they were (None: they are held with the change)."""
        return self._old if isinstance(self._old, OnDisk) else None

    @property
    def long_old_on_disk(self) -> bool:
        """Its old bytes are left on disk because they are long (`LEFT_ON_DISK_FROM`), not only because git
        holds them (see `old_left_on_disk`)."""
        left = self.old_on_disk
        return left is not None and left.size >= LEFT_ON_DISK_FROM

    @property
    def planned_status(self) -> PlannedStatus | None:
        """The mode and owner of the file when the plan read it (None: not taken). The batch checks them
        instead of taking its own `lstat` of the note, and checks the mode again as it writes the note."""
        return self._planned_status

    @property
    def fingerprints(self) -> dict[str, Any] | None:
        """The journal's fingerprints of this change, when they were taken with `old_left_on_disk`."""
        return self._fingerprints

    def holds_old(self, data: bytes | None) -> bool:
        """`data` (None: no file) is exactly the old bytes the change was planned from."""
        on_disk = self.old_on_disk
        if on_disk is None:
            return data == self.old
        return data is not None and len(data) == on_disk.size and blob_id(data) == on_disk.blob

    def _read_old_from_disk(self, on_disk: OnDisk) -> bytes:
        """The old bytes, read back from their file: before the batch writes it (the journal, a diff)."""
        try:
            with open(on_disk.file, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            data = None
        if data is None or not self.holds_old(data):
            how = "was deleted" if data is None else "was changed"
            conflict = EditConflict(
                f"{self.path} {how} by another program since vaulttools read it; nothing was written: "
                "run the command again"
            )
            conflict.path = self.path
            raise conflict
        return data

    @property
    def new_made_from_old(self) -> bool:
        """Its new bytes are made from the old ones left in the file, as the batch writes it (`NewFromOld`)."""
        return isinstance(self._new, NewFromOld)

    def new_over_old(self) -> tuple[int, int, Callable[[int], bytes | None]] | None:
        """For a change whose new bytes are made from the old ones (`NewFromOld`), what writes them over the
        old ones: where they first differ (the file holds the bytes before it, old and new alike), how many
        bytes are written from there, and the function that makes them out of the open file once it is
        proven to hold the old bytes (`files.rewrite_in_place`): it reads the old bytes from that start,
        splices the edits in and checks the result against the planned sum (None where it is not those
        bytes). None for any other change."""
        made = self._new
        on_disk, recorded = self._old, self._fingerprints
        if not isinstance(made, NewFromOld) or not isinstance(on_disk, OnDisk) or recorded is None:
            return None
        start, edits, tail_sum = made.start, made.edits, made.tail_sum
        old_size, size = on_disk.size, int(recorded["new_size"]) - made.start

        def make(handle: int) -> bytes | None:
            new = apply_byte_edits(read_range(handle, start, old_size - start), edits, base=start)
            return new if new is not None and quick_sum(new) == tail_sum else None

        return start, size, make

    def _new_made_from_old(self, made: NewFromOld) -> bytes:
        """The new bytes of a `NewFromOld` change: the file itself once the batch wrote them, else its old
        bytes with the edits spliced in; either way checked against the new bytes' blob id."""
        on_disk, recorded = self._old, self._fingerprints
        assert isinstance(on_disk, OnDisk) and recorded is not None
        try:
            with open(on_disk.file, "rb") as handle:
                data: bytes | None = handle.read()
        except OSError:
            data = None
        new_blob = recorded[NEW_BLOB]
        if data is not None and len(data) == recorded["new_size"] and blob_id(data) == new_blob:
            return data  # written already
        if data is not None and self.holds_old(data):
            data = apply_byte_edits(data, made.edits)
        if data is None or blob_id(data) != new_blob:
            raise EditConflict.in_file(
                self.path,
                "changed by another program since vaulttools planned the batch",
                "; run the command again",
            )
        return data

    @property
    def same_until(self) -> int:
        """How many leading bytes the old and new bytes share (whole blocks; 0 when not taken): a rewrite in
        place, which first proves the file holds the old bytes, need write only the rest."""
        recorded = self._fingerprints
        return recorded.get(SAME_UNTIL, 0) if recorded is not None else 0

    def new_bytes_from(self, start: int) -> bytes:
        """`new_bytes[start:]`, of a spooled change read from the spool alone."""
        place = self._new
        if start and isinstance(place, tuple) and self._spool is not None:
            head = place[2] if len(place) == 3 else 0
            if start >= head:  # read from the spool alone (a long note's start left on disk is not there)
                return self._spool.get((place[0] + start - head, place[1] - start + head))
        return self.new_bytes[start:]

    @property
    def new_bytes(self) -> bytes:
        """`new` of a change that writes the file (not a deletion)."""
        new = self.new
        if new is None:
            raise ValueError(f"{self.path}: a deletion has no new bytes")
        return new

    @property
    def old_bytes(self) -> bytes:
        """`old` of a change to a file that exists (not a creation)."""
        old = self.old
        if old is None:
            raise ValueError(f"{self.path}: a new file has no old bytes")
        return old

    def _load(
        self, value: bytes | tuple[int, int] | tuple[int, int, int] | NewFromOld | None
    ) -> bytes | None:
        if isinstance(value, NewFromOld):
            return self._new_made_from_old(value)
        if isinstance(value, tuple):
            assert self._spool is not None  # a place in a spool is only ever set with the spool
            if len(value) == 3:
                return self._new_with_head(value)
            return self._spool.get(value)
        return value

    def _new_with_head(self, place: tuple[int, int, int]) -> bytes:
        """The new bytes of a change whose spool holds them from `head` on (`_head_left_on_disk`): the
        first `head` bytes read from the note, which holds them both before and after the batch writes it;
        the whole checked against the new bytes' blob id, so that a note another program changed since
        never passes for them."""
        offset, length, head = place
        on_disk = self._old
        assert isinstance(on_disk, OnDisk) and self._spool is not None and self._fingerprints is not None
        try:
            with open(on_disk.file, "rb") as handle:
                start = handle.read(head)
        except OSError:
            start = b""
        data = start + self._spool.get((offset, length))
        if len(start) != head or blob_id(data) != self._fingerprints[NEW_BLOB]:
            raise EditConflict.in_file(
                self.path,
                "changed by another program since vaulttools planned the batch",
                "; run the command again",
            )
        return data

    @property
    def creates(self) -> bool:
        """The file is new (no old bytes); known without reading a spool."""
        return self._old is None

    @property
    def deletes(self) -> bool:
        """The file goes away (no new bytes); known without reading a spool."""
        return self._new is None

    @property
    def in_place(self) -> bool:
        """The file keeps its path and gets new bytes (the bulk of every batch); one attribute test per
        side, as the batch asks it of every change several times."""
        return (
            self._old is not None
            and self._new is not None
            and (self.new_path is None or self.new_path == self.path)
        )

    @property
    def vacates(self) -> bool:
        """The change moves its file away or deletes it."""
        return self._new is None or (self.new_path is not None and self.new_path != self.path)

    @property
    def final_path(self) -> str:
        return self.new_path or self.path

    @property
    def touched_paths(self) -> list[str]:
        return [self.path] if self.new_path is None else [self.path, self.new_path]

    def _key(self) -> tuple[str, bytes | OnDisk | None, bytes | None, str | None]:
        return (self.path, self.old_on_disk or self.old, self.new, self.new_path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FileChange):
            return False
        if (self.old_on_disk is None) != (other.old_on_disk is None):  # compared as the bytes they hold
            return (self.path, self.old, self.new, self.new_path) == (
                other.path,
                other.old,
                other.new,
                other.new_path,
            )
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.path, self.new, self.new_path))

    def __repr__(self) -> str:
        old = self.old_on_disk or self.old
        new = self._new if isinstance(self._new, NewFromOld) else self.new  # not read from the file
        return f"FileChange(path={self.path!r}, old={old!r}, new={new!r}, new_path={self.new_path!r})"

    def __reduce__(self) -> tuple:
        # Worker processes send changes back by pickling: as bytes (a spool belongs to one process), unless
        # they sit in a spool the worker shares with the process it sends them to: then as places in it.
        # Old bytes left on disk stay there, and the fingerprints taken with them travel along.
        # The planned status and the old bytes' place on disk travel as plain tuples: a named tuple is
        # pickled through a Python call each (13,000 changes of a worker; `OnDisk`'s took ~1 µs a change).
        status = self._planned_status
        taken = (self._fingerprints, None if status is None else tuple(status))
        if self._spool is not None and self._spool.shared:
            places = (self._old, self._new, self._spool)
            return (_shared_spool_change, (self.path, *places, self.new_path, *taken))
        new = self._new if isinstance(self._new, NewFromOld) else self.new
        on_disk = self.old_on_disk  # `_rebuilt_change` tells the tuple from bytes
        old = self.old if on_disk is None else tuple(on_disk)
        return (_rebuilt_change, (self.path, old, new, self.new_path, *taken))


def _rebuilt_change(
    path: str,
    old: bytes | tuple[str, str, int] | None,
    new: bytes | NewFromOld | None,
    new_path: str | None,
    taken: dict[str, Any] | None,
    status: tuple[int, int, tuple[int, int, int, int] | None] | None = None,
) -> FileChange:
    change = FileChange(path, None, None, new_path)
    change._old = OnDisk._make(old) if isinstance(old, tuple) else old
    change._new = new
    change._fingerprints = taken
    change._planned_status = None if status is None else PlannedStatus._make(status)
    return change


def _shared_spool_change(
    path: str,
    old: tuple[int, int] | OnDisk | None,
    new: tuple[int, int] | tuple[int, int, int] | None,
    spool: Spool,
    new_path: str | None,
    taken: dict[str, Any] | None,
    status: tuple[int, int, tuple[int, int, int, int] | None] | None = None,
) -> FileChange:
    change = FileChange(path, None, None, new_path)
    change._old, change._new, change._spool, change._fingerprints = old, new, spool, taken
    change._planned_status = None if status is None else PlannedStatus._make(status)
    return change


@dataclass(frozen=True)
class PlanReport:
    """What a planner saw and decided beyond the file changes: each planner's report is a frozen subclass,
    read by attribute in its command's `describe` and written as `--json`'s `report` object by `to_json`
    (the field names are its keys; see `plain_json` for the items)."""

    def to_json(self) -> dict[str, Any]:
        return {item.name: plain_json(getattr(self, item.name)) for item in dataclasses.fields(self)}


def plain_json(value: Any) -> Any:
    """`value` as JSON data: an item with its own `to_json` gives that, a dataclass an object of its fields,
    a tuple or list an array, a dict an object; anything else is already JSON."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: plain_json(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class SkippedNote:
    """A note a planner left alone, and why (a report item of tag and property)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Mention:
    """What a batch changes everywhere else, written where Obsidian does not read it as such (a `#tag` in
    code, math or an HTML comment: a Dataview `FROM #tag` query, a code sample), so it is left as written
    and listed for the user to review."""

    path: str
    line: int
    column: int
    text: str
    reason: str  # the kind of part it is in: `code`, `math` or `html-comment`


def report_json(report: object) -> Any:
    """`--json`'s `report` object of any plan's report (a planner not yet typed still hands over a dict)."""
    return report.to_json() if isinstance(report, PlanReport) else report


def _no_report() -> Any:
    # Typed `Any` so that `BatchPlan(...)` without a report fits any `BatchPlan[R]`: a plan built only to be
    # written (tests, `Vault.apply`) reports nothing and is never described.
    return PlanReport()


ReportT = TypeVar("ReportT")


@dataclass
class BatchPlan(Generic[ReportT]):
    """One command's planned changes. `ReportT`: the planner's `PlanReport` subclass."""

    command: str
    summary: str  # the commit subject after "vaulttools <command>: "
    changes: list[FileChange] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    report: ReportT = field(default_factory=_no_report)
    trailers: dict[str, str] = field(default_factory=dict)
    # Vault paths the plan read but does not change and that must still exist when it is written: the notes
    # its rewritten links now resolve to (see `_refuse_if_planned_facts_changed`).
    relies_on: list[str] = field(default_factory=list)
    # Files the plan read and decided on but does not change, and what each must still be when the plan is
    # written: the sha256 of the bytes it read, or None for a path that must still be free (no file of that
    # name, in any letter case). Declared with `expect_unchanged` / `expect_free`; checked with `relies_on`.
    expects: dict[str, str | None] = field(default_factory=dict)
    # What the planner made and no longer needs, held by the plan only to be freed with it, not on the way
    # to the first write (normalize-links' copy of check's findings: 20,000 notes' entries, ~0.02 s to
    # free). The CLI keeps its plan to the end of the process, which exits without freeing anything.
    spent: list[object] = field(default_factory=list, repr=False, compare=False)

    def expect_unchanged(self, path: str, data: bytes) -> None:
        self.expects[path] = hashlib.sha256(data).hexdigest()

    def expect_free(self, path: str) -> None:
        self.expects[path] = None

    def expect_left_alone_unchanged(self, paths: list[str], read: Callable[[str], bytes]) -> None:
        """Notes the plan reports as left alone for a reason (frontmatter that does not parse, a value it
        cannot write) must still be as read when the batch writes: changed meanwhile, one may hold what the
        command changes after all, and the report would give a reason the note no longer has."""
        for path in paths:
            self.expect_unchanged(path, read(path))

    def expect_destinations_free(self) -> None:
        """Every path a change moves a file to must still be free, unless the batch vacates it itself (a
        chain, a swap, a change of letter case)."""
        vacated = {fold(c.path) for c in self.changes if c.deletes or c.new_path not in (None, c.path)}
        for change in self.changes:
            if change.new_path not in (None, change.path) and fold(change.new_path or "") not in vacated:
                self.expect_free(change.new_path or "")

    @property
    def empty(self) -> bool:
        return not self.changes

    def commit_message(self) -> str:
        lines = [f"vaulttools {self.command}: {self.summary}", ""]
        lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in self.counts.items() if value]
        lines += ["", f"{BATCH_TRAILER}: {self.command}"]
        lines += [f"{key}: {value}" for key, value in self.trailers.items()]
        return "\n".join(lines) + "\n"
