"""The facts cache's file, read a part at a time by whoever needs a record: its keys up front, its records
only when taken.

A file is a header, then per part two blobs, each preceded by its length: the part's keys (paths, stamps,
content digests) and its records (a tuple, in the keys' order). `read_keyed` reads every header and keys
blob and only steps over the records blobs, so a process that decides which notes are fresh holds ~200
bytes a note, not the record (on 100,000 long notes, 30 MB instead of ~800 MB, and none of the heap
that 800 MB of small objects leaves behind once freed). A record is read when it is taken
(`FactRecords.pop`): `sync-related`'s forked scan workers each read the parts of their own notes, so no
process ever holds every record.

The file is read through one descriptor opened with the keys: a newer cache file that replaces it while
records are still being taken (the cache is written aside, `facts._save`) leaves this one readable. A
record that cannot be read back (a part damaged since, a record that is not its key's) is made again by
parsing its note (`RecordSource.reparse`): the cache is an accelerator, never a source of other facts.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO

Stamp = tuple[int, int, int, int]

# What a record holds where (`facts.record_of_facts`): its path first, its stamp second, its digest last.
RECORD_PATH = 0
RECORD_STAMP = 1


class OnDisk:
    """A record left in the cache file: the part that holds it, the stamp its note has now (newer than
    the record's when only the note's stamp moved), and the content digest of the bytes it was made of."""

    __slots__ = ("digest", "part", "stamp")

    def __init__(self, part: int, stamp: Stamp, digest: bytes) -> None:
        self.part = part
        self.stamp = stamp
        self.digest = digest

    def restamped(self, stamp: Stamp) -> OnDisk:
        return OnDisk(self.part, stamp, self.digest)


Entry = tuple | OnDisk  # a record in memory, or one to read from the file when taken


class RecordSource:
    """Where the records of `OnDisk` entries are read: an open cache file and where each part's records
    blob is in it. A part is read whole when one of its records is first taken, and let go once every
    entry expected of it (`expect`) is taken or forgotten: a worker taking its notes in order holds about
    one part at a time."""

    def __init__(self, fd: int, parts: list[tuple[int, int]], counts: list[int]) -> None:
        self._parts: list[tuple[int, int, int]] = []  # (file, offset, size) of each part's records blob
        self._left: list[int] = []  # entries of each part not taken yet
        self._held: dict[int, dict[str, tuple]] = {}
        self._popped: dict[int, int] = {}  # records taken from each held part since it was read
        self._fds: list[int] = []
        self.reparse: Callable[[str], tuple | None] | None = None  # set by the cache's reader
        self._closer = weakref.finalize(self, _close_all_quietly, self._fds)
        self.add_file(fd, parts, counts)

    def add_file(self, fd: int, parts: list[tuple[int, int]], counts: list[int]) -> int:
        """Take records from the parts of one more file (the source closes `fd`); returns the number of its
        first part here."""
        first = len(self._parts)
        self._fds.append(fd)
        self._parts.extend((fd, offset, size) for offset, size in parts)
        self._left.extend(counts)
        return first

    @property
    def part_count(self) -> int:
        return len(self._parts)

    def expect(self, entries: Iterable[Entry]) -> None:
        """Count, per part, the entries that will be taken from now on (parts read so far are let go)."""
        self._held.clear()
        self._popped.clear()
        self._left = [0] * len(self._parts)
        for entry in entries:
            if isinstance(entry, OnDisk):
                self._left[entry.part] += 1

    def take(self, path: str, entry: OnDisk, *, keep: bool = False) -> tuple | None:
        """The record of `entry` under its current stamp; `keep`: left in the held part, to be taken
        again. None when it is neither in the file nor parsed again (its note is gone)."""
        number = entry.part
        held = self._held.get(number)
        # Read when not held, or again when this record may have been taken from the held copy (a saver
        # took every record first); a part damaged or lacking the record is read once, not once a note.
        if held is None or (path not in held and self._popped.get(number)):
            held = self._held[number] = self._read_part(number)
            self._popped[number] = 0
        record = held.get(path)
        if not keep:
            if held.pop(path, None) is not None:
                self._popped[number] += 1
            self.taken(entry)
        if not _is_record_of(record, path, entry.digest):
            return self.reparse(path) if self.reparse is not None else None
        assert record is not None
        if record[RECORD_STAMP] == entry.stamp:
            return record
        return (*record[:RECORD_STAMP], entry.stamp, *record[RECORD_STAMP + 1 :])

    def taken(self, entry: OnDisk) -> None:
        """One entry of its part taken (or forgotten): the part is let go once none is left."""
        number = entry.part
        self._left[number] -= 1
        if self._left[number] <= 0:
            self._held.pop(number, None)
            self._popped.pop(number, None)

    def close(self) -> None:
        self._held.clear()
        self._popped.clear()
        self._closer()

    def _read_part(self, number: int) -> dict[str, tuple]:
        fd, offset, size = self._parts[number]
        try:
            records = marshal.loads(_read_at(fd, offset, size))
        except (OSError, EOFError, ValueError, TypeError):
            return {}  # read back as damaged: each of its notes is parsed again
        if not isinstance(records, tuple):
            return {}
        return {
            record[RECORD_PATH]: record
            for record in records
            if isinstance(record, tuple) and len(record) > RECORD_STAMP and isinstance(record[0], str)
        }


def _is_record_of(record: tuple | None, path: str, digest: bytes) -> bool:
    return record is not None and record[RECORD_PATH] == path and record[-1] == digest


def _close_all_quietly(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def _read_at(fd: int, offset: int, size: int) -> bytes:
    """`size` bytes at `offset`, without moving a file position a forked copy shares (`os.pread`; where
    there is none, as on Windows, no process forks)."""
    if hasattr(os, "pread"):
        data = os.pread(fd, size, offset)
    else:
        os.lseek(fd, offset, os.SEEK_SET)
        data = os.read(fd, size)
    if len(data) != size:
        raise EOFError("a cache part ends early")
    return data


class FactRecords(Mapping[str, tuple]):
    """Cache records by path, in order, each held (parsed this run) or read from the cache file when
    taken. `pop` takes one for good (its memory is the taker's); `forget` lets one go unread (a forked
    worker took it); reading one by key keeps it."""

    def __init__(self, entries: dict[str, Entry], source: RecordSource | None = None) -> None:
        self._entries = entries
        self._source = source
        if source is not None:
            source.expect(entries.values())

    def __getitem__(self, path: str) -> tuple:
        return self._record(path, self._entries[path], keep=True)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def pop(self, path: str) -> tuple:
        return self._record(path, self._entries.pop(path), keep=False)

    def take(self, path: str) -> tuple | None:
        """`pop`, or None when the note went away since the cache was read (its record with it)."""
        try:
            return self.pop(path)
        except KeyError:
            return None

    def forget(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if isinstance(entry, OnDisk) and self._source is not None:
            self._source.taken(entry)

    def clear(self) -> None:
        self._entries.clear()
        if self._source is not None:
            self._source.close()

    def _record(self, path: str, entry: Entry, *, keep: bool) -> tuple:
        if isinstance(entry, OnDisk):
            record = self._source.take(path, entry, keep=keep) if self._source is not None else None
            if record is None:
                raise KeyError(path)  # its note went away between the cache's reading and now
            return record
        return entry


def read_keyed(file: BinaryIO, parts: int) -> tuple[dict[str, OnDisk], RecordSource]:
    """The entries and record source of a keyed file whose header was just read (`parts` of them). The
    source reads through a duplicate of `file`'s descriptor, so `file` may be closed. Raises ValueError
    (or EOFError, TypeError) on a file cut short or not of this layout."""
    entries: dict[str, OnDisk] = {}
    places: list[tuple[int, int]] = []
    counts: list[int] = []
    end = os.fstat(file.fileno()).st_size
    for number in range(parts):
        keys = marshal.loads(file.read(_blob_size(file, end)))
        if not isinstance(keys, tuple) or len(keys) != 3:
            raise ValueError("a cache part's keys are not paths, stamps and digests")
        paths, stamps, digests = keys
        size = _blob_size(file, end)
        places.append((file.tell(), size))
        file.seek(size, os.SEEK_CUR)
        counts.append(len(paths))
        for path, stamp, digest in zip(paths, stamps, digests, strict=True):
            entries[path] = OnDisk(number, stamp, digest)
    return entries, RecordSource(os.dup(file.fileno()), places, counts)


def _blob_size(file: BinaryIO, end: int) -> int:
    size = int.from_bytes(file.read(8), "little")
    if size > end - file.tell():
        raise EOFError("a cache part runs past the end of its file")  # cut short, or not a length at all
    return size


def write_keyed(
    file: BinaryIO,
    header: tuple,
    entries: Mapping[str, Entry],
    source: RecordSource | None,
    part_size: int,
) -> None:
    """Write `entries` (the header's parts of them: `parts_of(len(entries), part_size)`) in parts of
    `part_size`; each `OnDisk` entry's record is taken from `source` as its part is written."""
    writer = KeyedWriter(file, header, part_size)
    for path, entry in entries.items():
        record = entry if not isinstance(entry, OnDisk) else None
        if isinstance(entry, OnDisk) and source is not None:
            record = source.take(path, entry)
        if record is not None:  # else its note is gone: nothing to cache
            writer.add(record)
    writer.finish()


class KeyedWriter:
    """A keyed file written as its records come, a part at a time: a big first run's parsed records go to
    the file as the workers send them, and each is held as an `OnDisk` entry, not as the record. The
    header names `parts_of(expected, part_size)` parts; fewer records than expected (notes that could
    not be read) leave empty parts at the end."""

    def __init__(self, file: BinaryIO, header: tuple, part_size: int, first_part: int = 0) -> None:
        self.file = file
        self._part_size = part_size
        self._first_part = first_part  # the number of this file's first part in the source it joins
        self._parts = header[2]
        self.pending: list[tuple] = []  # the records of the part being filled
        self.places: list[tuple[int, int]] = []
        self.counts: list[int] = []
        self.written = 0
        _write_blob(file, header)

    def add(self, record: tuple) -> OnDisk:
        """Write `record` (with its part, once full); its entry, to take it back from the file."""
        entry = OnDisk(self._first_part + len(self.places), record[RECORD_STAMP], record[-1])
        self.pending.append(record)
        if len(self.pending) == self._part_size:
            self._flush()
        return entry

    def finish(self) -> None:
        """Write the last records and the empty parts the header still owes."""
        if self.pending:
            self._flush()
        while len(self.places) < self._parts:
            self._flush()
        self.file.flush()

    def _flush(self) -> None:
        if len(self.places) >= self._parts:
            raise ValueError("more records than the keyed file's header expects")
        records = self.pending
        keys = (
            tuple(record[RECORD_PATH] for record in records),
            tuple(record[RECORD_STAMP] for record in records),
            tuple(record[-1] for record in records),
        )
        _write_blob(self.file, keys)
        blob = marshal.dumps(tuple(records))
        self.file.write(len(blob).to_bytes(8, "little"))
        offset = self.file.tell()
        self.file.write(blob)
        self.places.append((offset, len(blob)))  # only once written: a failed write adds no part
        self.counts.append(len(records))
        self.written += len(records)
        self.pending = []


def parts_of(records: int, part_size: int) -> int:
    return -(-records // part_size)


def _write_blob(file: BinaryIO, value: Any) -> None:
    blob = marshal.dumps(value)
    file.write(len(blob).to_bytes(8, "little"))
    file.write(blob)


def held_parts(source: RecordSource) -> int:
    """How many parts `source` holds read (for tests: memory follows the parts being taken)."""
    return len(source._held)
