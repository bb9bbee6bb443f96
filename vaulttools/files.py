"""Files on disk, below every other disk module: the state folder, whole-file reads, and the writes a
batch (and `recover`) makes: in place over the old bytes, or atomic through a temporary file, with one
sync for a whole batch."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import itertools
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

STATE_DIR = ".vaulttools"


def state_dir(root: Path) -> Path:
    """`.vaulttools/` at the vault root, created with a `.gitignore` that hides it from git."""
    folder = root / STATE_DIR
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return folder


def read_all(handle: int, size: int) -> bytes:
    """An open file's bytes from its position: one read when its size is as stated, more while it grew
    or a read came up short."""
    data = os.read(handle, size + 1)
    if len(data) == size:
        return data
    chunks = [data]
    while chunks[-1]:
        chunks.append(os.read(handle, max(size, 1 << 16)))
    return b"".join(chunks)


def read_range(handle: int, start: int, length: int) -> bytes:
    """`length` bytes of an open file from offset `start` (positional reads: its position stays), fewer
    where it ends before."""
    chunks, read = [], 0
    while read < length:
        chunk = os.pread(handle, length - read, start + read)
        if not chunk:
            break
        chunks.append(chunk)
        read += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# How every note is opened for reading (no handle leaks into git processes; binary on Windows).
READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def read_with_status(path: str) -> tuple[os.stat_result, bytes]:
    """A file's status (`fstat` of the open file, taken before reading) and bytes, with one open: a planner
    keeps the status for the batch (`FileChange.planned_status`), which then needs no `lstat` of its own."""
    handle = os.open(path, READ_FLAGS)
    try:
        status = os.fstat(handle)
        return status, read_all(handle, status.st_size)
    finally:
        os.close(handle)


_EFFECTIVE_UID = os.geteuid() if hasattr(os, "geteuid") else -1


def status_writable(mode: int, owner: int, path: Path | str) -> bool:
    """Whether a file of this mode and owner may be written: by its mode bits as well as `os.access`, so a
    read-only note stays untouched even for root (who may write any file)."""
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    if writable_by_its_owner(mode, owner):
        return True  # the owner's write bit decides (what `os.access` would say, one system call less)
    return os.access(path, os.W_OK)


def writable_by_its_owner(mode: int, owner: int) -> bool:
    """This process owns a file of this mode and owner, and its mode lets the owner write it."""
    return owner == _EFFECTIVE_UID and bool(mode & stat.S_IWUSR)


# Inside `synced_once()` atomic writes skip their own fsync (about 1 ms each); the block ends with one sync.
_SYNC_DEFERRED: contextvars.ContextVar[bool] = contextvars.ContextVar("sync_deferred", default=False)


class BackgroundSync:
    """One `os.sync` on a thread: the caller does other work (a batch commits) until it must `wait`.

    A caller writing much may say so (`wrote`): every `EARLY_SYNC_EVERY` bytes an earlier sync starts on a
    thread of its own, so that the disk writes the first notes out while the next are written (the system
    would wait ~30 s before writing them); the last sync then has only the rest to do (20,000 notes of
    30 KB: ~0.55 s waited for after the commit)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._early: threading.Thread | None = None
        self._unsynced = 0

    def wrote(self, size: int) -> None:
        self._unsynced += size
        if self._unsynced < EARLY_SYNC_EVERY or not hasattr(os, "sync"):
            return
        if self._early is not None and self._early.is_alive():
            return  # one at a time: the next one flushes what this one missed
        self._unsynced = 0
        self._early = threading.Thread(target=lambda: os.sync(), name="vaulttools-early-sync", daemon=True)
        self._early.start()

    def start(self) -> None:
        if hasattr(os, "sync"):
            self._thread = threading.Thread(target=lambda: os.sync(), name="vaulttools-sync", daemon=True)
            self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._early is not None:
            self._early.join()


# Bytes written between two early syncs of a `BackgroundSync` (see `BackgroundSync.wrote`).
EARLY_SYNC_EVERY = 64 * 2**20


# The `os.sync` a command started before planning (`sync_in_background`), with the time it started.
_EARLY_SYNC: list[tuple[float, BackgroundSync]] = []


def sync_in_background() -> None:
    """Start an `os.sync` on a thread now: a command about to plan a batch calls it, so that the files
    already on disk (git's loose objects, which git does not sync) are durable by the time the batch writes,
    the sync having run while the plan was made (see `synced_before`, which takes it)."""
    if not hasattr(os, "sync"):
        return
    sync = BackgroundSync()
    _EARLY_SYNC[:] = [(time.time(), sync)]  # an older one no batch took is left to finish on its own
    sync.start()


def synced_before() -> float:
    """A time before which every file written is on disk: the start of the sync `sync_in_background`
    started (waited for here), or of one run now when none was."""
    if _EARLY_SYNC:
        started, sync = _EARLY_SYNC.pop()
        sync.wait()
        return started
    started = time.time()
    if hasattr(os, "sync"):
        os.sync()
    return started


@contextlib.contextmanager
def synced_once() -> Iterator[BackgroundSync]:
    """Make the writes of a block durable with one sync after it instead of one fsync per file.

    Only the moment each write is forced to disk moves to the end of the block (a batch of 20,000 files
    spends seconds in per-file fsyncs, a fraction of that in one). When the block completes, the sync starts
    on a thread; `wait()` on the yielded `BackgroundSync` before relying on the writes being on disk.
    """
    token = _SYNC_DEFERRED.set(True)
    sync = BackgroundSync()
    try:
        yield sync
    finally:
        _SYNC_DEFERRED.reset(token)
    sync.start()


_TEMP_NAMES = itertools.count()


@functools.cache
def _new_file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def rewrite_in_place(
    path: Path | str,
    data: bytes | Callable[[int], bytes | None],
    expected: bytes | Callable[[bytes], bool] | None = None,
    *,
    refuse_read_only: bool = False,
    unchanged_since: tuple[int, int, int, int] | None = None,
    same_until: int = 0,
) -> bool:
    """Give an existing file new bytes by writing over its old ones (then truncating any excess).

    Why not a temporary file and `os.replace`: ext4 and others start writing a file out once it is renamed
    over another (`auto_da_alloc`), 0.1-0.5 ms per file here (2-10 s for 20,000); overwriting costs ~15 µs.
    A batch does not rely on per-file atomicity: it fsyncs its journal (every original's bytes) before the
    first write, and `recover` or a rollback puts back any file a crash or failure leaves half-written.
    Overwriting also keeps the file's mode, owner, ACLs and extended attributes. A file with several hard
    links (an in-place write would change the other names too) or not regular gets `atomic_write` instead.

    With `expected`, the file's current bytes are read through the same open file first, and nothing is
    written (False is returned) unless they are exactly `expected` (or, given a function, unless it accepts
    them: a batch that kept only their fingerprint): another program may have saved it.

    `refuse_read_only`: a file whose mode forbids writing (`status_writable`, on the open file's status)
    raises `PermissionError` before any byte is written, root or not: a batch that checked the mode when the
    plan read the note (`FileChange.planned_status`) checks it again here, at the last moment.

    `unchanged_since`: the stamp (size, mtime, ctime, inode) the file had when its bytes were read and
    found to be `expected`, given only when nothing wrote the file since without changing that stamp
    (`PlannedStatus.stamp`): the open file's stamp equal to it, the bytes are not read and compared again.

    `same_until`: with `expected`, `data` holds only the new bytes from this offset on; the `expected` bytes
    before it are the new ones too, so once the file is proven to hold them only the rest is written (a long
    note whose edit lies near its end is written from there, not whole).

    `data` may be a function of the open file proven to hold `expected`, making the bytes out of it
    (`changes.NewFromOld`); None from it: not what was planned (False returned, nothing written)."""
    assert expected is not None or not same_until, "only bytes proven on disk may be left as they are"
    assert expected is not None or not callable(data), "new bytes are made only of bytes proven on disk"
    flags = (os.O_RDWR if expected is not None else os.O_WRONLY) | getattr(os, "O_NOFOLLOW", 0)
    try:
        handle = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if expected is not None or callable(data):
            return False
        atomic_write(Path(path), data)
        return True
    try:
        status = os.fstat(handle)
        if refuse_read_only and not status_writable(status.st_mode, status.st_uid, path):
            raise PermissionError(errno.EACCES, "the file was made read-only", str(path))
        if expected is not None and not _still_holds(handle, status, expected, unchanged_since):
            return False
        made = data(handle) if callable(data) else data
        if made is None:
            return False
        _write_proven(path, handle, status, made, same_until)
        return True
    finally:
        os.close(handle)


def _write_proven(
    path: Path | str, handle: int, status: os.stat_result, data: bytes, same_until: int
) -> None:
    """`rewrite_in_place`'s write, once the open file is proven to hold what was planned."""
    if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1:
        # Written whole: the shared start is the file's own (just proven to be the expected bytes).
        atomic_write(Path(path), _read_start(handle, same_until) + data if same_until else data)
    else:
        _write_over(handle, data, same_until, status.st_size)


def _write_over(handle: int, data: bytes, at: int, old_size: int) -> None:
    """`data` written into the open file from offset `at`, the file cut where it ends."""
    view = memoryview(data)
    while view:
        written = os.pwrite(handle, view, at)
        view, at = view[written:], at + written
    if at < old_size:
        os.ftruncate(handle, at)
    if not _SYNC_DEFERRED.get():
        os.fsync(handle)


def _read_start(handle: int, length: int) -> bytes:
    """The first `length` bytes of an open file (positional reads: its position stays)."""
    start = read_range(handle, 0, length)
    if len(start) != length:
        raise OSError(errno.EIO, "the file ended before its planned start", str(length))
    return start


Stamp = tuple[int, int, int, int]


def stamp_of_status(status: os.stat_result) -> Stamp:
    """What tells a file's bytes apart over time without reading them: size, mtime, ctime and inode (the
    key of every cache and of a batch's settled-stamp check)."""
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)


def clock_mark(root: Path) -> tuple[int, int] | None:
    """(device, change time) of a file made now in the vault's state folder: the file system's own clock,
    as it stamps a note changed from now on (None: no such file can be made, or no state folder, which a
    read-only run does not create). See `PlannedStatus.stamp`."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=root / STATE_DIR) as marker:
            status = os.fstat(marker.fileno())
    except OSError:
        return None
    return status.st_dev, status.st_ctime_ns


def _still_holds(
    handle: int,
    status: os.stat_result,
    expected: bytes | Callable[[bytes], bool],
    unchanged_since: tuple[int, int, int, int] | None,
) -> bool:
    """The open file holds `expected`: it still has the stamp it had when they were read, or its bytes
    (read through `handle`) are them."""
    if stamp_of_status(status) == unchanged_since:
        return True
    return _holds(read_all(handle, status.st_size), expected)


def _holds(current: bytes, expected: bytes | Callable[[bytes], bool]) -> bool:
    return expected(current) if callable(expected) else current == expected


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write via a temporary file in the same folder and `os.replace`, keeping the file's mode.

    The temporary name is `.NAME.<pid>-<n>.vt-tmp` (what `recover` cleans up), created with O_EXCL: as safe
    as `tempfile.mkstemp`, without its per-call overhead (a batch may write 20,000 files). A new file gets
    `mode` (a moved note passes its old mode), else the mode the user's umask gives new files.
    """
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = mode if mode is not None else _new_file_mode()
    temp_name = f"{path.parent}/.{path.name}.{os.getpid()}-{next(_TEMP_NAMES)}.vt-tmp"
    handle = os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            if not _SYNC_DEFERRED.get():
                temp.flush()
                os.fsync(temp.fileno())
            if mode != 0o600:
                os.fchmod(temp.fileno(), mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
