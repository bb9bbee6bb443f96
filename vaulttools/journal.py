"""Crash safety: a batch writes its plan and the original bytes before touching the vault.

The journal lives in `.vaulttools/journal/` at the vault root (a dot-folder vaulttools never scans, with a
`.gitignore` of `*` so git never sees it). It is removed after the commit. It names its batch (command, id,
pid, start time). While it is there, either the batch is still running (its process holds the vault's lock,
see `lock.py`: other commands are told to wait) or it was killed midway: every command but `recover` then
refuses until `vaulttools recover` finishes it (clears the journal of a batch whose commit landed, or puts
back every file of one that did not).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

try:  # a dependency on CPython; elsewhere the standard library writes the same JSON, slower
    import orjson
except ImportError:  # pragma: no cover - PyPy
    orjson = None  # type: ignore[assignment]

from vaulttools import digests, lock
from vaulttools.digests import blob_id
from vaulttools.errors import VaultError
from vaulttools.files import STATE_DIR, rewrite_in_place, state_dir, synced_once


class JournaledChange(Protocol):
    """What the journal reads of one planned change (`changes.FileChange` has it)."""

    @property
    def path(self) -> str: ...
    @property
    def new_path(self) -> str | None: ...
    @property
    def old(self) -> bytes | None: ...
    @property
    def new(self) -> bytes | None: ...
    @property
    def fingerprints(self) -> dict[str, Any] | None: ...


class JournaledPlan(Protocol):
    """What the journal reads of a plan (`changes.BatchPlan` has it): the journal sits below the plan types,
    on the disk layer, so it names only the fields it uses."""

    @property
    def command(self) -> str: ...
    @property
    def trailers(self) -> dict[str, str]: ...
    @property
    def changes(self) -> Sequence[JournaledChange]: ...


JOURNAL = "journal"
# 2: every change carries the fingerprints of its bytes before and after the batch (`fingerprints`), so
# that `recover` can tell the batch's writes from another program's. 1 (no "version"): only a moved
# note's new bytes were fingerprinted; such a journal still recovers, as it always did.
# 3: a rewritten file larger than a block has no `new_sha256`: its `new_blocks` (and `new_size`) tell its
# new bytes (`holds_new`), one hashing pass fewer per note. Version 2 journals (with it) still recover.
# 4: a change's bytes from before the batch are known by their git blob id (`old_blob`, SHA-1) instead of
# their sha256: the one hash its planner takes of them, and the one `batch._originals_in_git` needs (a
# 30 KB note hashed once instead of twice). Journals of versions 1-3 (`old_sha256`) still recover.
# 5: the new bytes are fingerprinted with XXH3-64 (`digests`), ~30 times faster than SHA-256: a file of at
# most a block by `new_xxh3`, a larger one by `new_blocks_xxh3`. Without the xxhash package the batch
# writes version 4's SHA-256 fields; journals of every earlier version still recover.
JOURNAL_VERSION = 5
# Blocks of a rewritten file fingerprinted one by one: a kill or power cut inside an in-place write
# leaves some blocks new and the others old (`torn_by_the_batch`).
BLOCK = 4096
PLAN_FILE = "plan.json"
ORIGINALS_FILE = "originals.bin"
# The `backup` of a change whose original the journal names by its git blob (`blob`) instead of copying it:
# git's object store already holds those bytes, durably (see `batch._originals_in_git`). A vaulttools from
# before this reads such a journal as a backup file that is missing and stops, without writing.
GIT_BACKUP = "git-blob"
BATCH_ID_TRAILER = "Vaulttools-Batch-Id"


RECOVERED = "recovered"  # where `recover --keep-changed` saves the bytes it did not put back


def _journal_dir(root: Path) -> Path:
    return root / STATE_DIR / JOURNAL


def pending(root: Path) -> dict[str, Any] | None:
    plan_file = _journal_dir(root) / PLAN_FILE
    if not plan_file.is_file():
        return None
    try:
        return json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"command": "unknown", "changes": [], "damaged": True}


def describe(record: dict[str, Any]) -> str:
    """`rename` batch (id 1a2b3c4d5e6f, started 10:31:07): how every message names a journaled batch."""
    details = []
    if record.get("batch_id"):
        details.append(f"id {str(record['batch_id'])[:12]}")
    if record.get("started"):
        details.append(f"started {lock.format_time(float(record['started']))}")
    named = f"`vaulttools {record.get('command', '?')}` batch"
    return f"{named} ({', '.join(details)})" if details else named


def is_live(record: dict[str, Any], root: Path) -> bool:
    """The journaled batch's process still runs: it holds the vault's lock (or, for a journal without a
    pid, some live process does)."""
    current = lock.live_holder(root)
    if current is None:
        return False
    return not record.get("pid") or (current.pid == record["pid"] and current.host == record.get("host"))


def refuse_if_pending(root: Path) -> None:
    """Refuse to run beside a batch that is writing, or after one that was interrupted.

    A hook that our own commit runs (`check` in a pre-commit hook) sees `BATCH_ENV` naming the live batch:
    that journal is its caller's, and the vault is the one about to be committed.
    """
    record = pending(root)
    if record is None:
        return
    if record.get("batch_id") and record["batch_id"] == os.environ.get(lock.BATCH_ENV):
        return
    current = lock.live_holder(root)
    if current is not None and current.pid != os.getpid():  # ourselves: we took the lock over a dead batch
        raise lock.VaultLocked(
            f"another vaulttools command ({current.describe()}) is writing this vault; wait for it"
        )
    raise VaultError(
        f"an earlier {describe(record)} was interrupted before it finished: "
        "run `vaulttools recover` to put the vault back as it was before that batch"
    )


def new_batch_id(plan: JournaledPlan) -> str:
    """Give the plan a new batch id (its commit's trailer, the journal's name for it) and return it."""
    import uuid  # only batches: read-only commands start without it

    batch_id = uuid.uuid4().hex
    plan.trailers[BATCH_ID_TRAILER] = batch_id
    return batch_id


def begin(root: Path, plan: JournaledPlan, in_git: Mapping[int, str] | None = None) -> None:
    """The whole journal of a batch, on disk when this returns."""
    journaling = Journaling(root, plan, in_git)
    try:
        journaling.wait_for(len(plan.changes))
    finally:
        journaling.stop()


def start(root: Path, plan: JournaledPlan, in_git: Mapping[int, str] | None = None) -> Journaling:
    """Write the batch's journal plan and start copying its originals (see `Journaling`)."""
    return Journaling(root, plan, in_git)


# Bytes of originals copied between two syncs of the journal: a note may be rewritten once its original is
# on disk, so the first notes wait for one such stretch only, not for every original of the batch.
SYNC_EVERY = 8 * 2**20


class Journaling:
    """A batch's journal being written: its plan (every change's fingerprints, and where its original will
    be) on disk when this is made; the originals are then copied on a thread, in the plan's order, synced
    every `SYNC_EVERY` bytes. The batch rewrites a note once `wait_for` says its original is on disk, while
    later originals are still being copied and synced (one long copy and sync before the first write took
    seconds on big batches). A kill before the copying is done leaves originals that end early: `recover`
    tells them by their sha256 and leaves their notes alone (the batch never wrote them).

    A change whose old bytes were left on disk is read back there and checked against the plan's sha256;
    another program's change makes `wait_for` raise the `EditConflict`.

    `in_git` (index of a change in the plan → blob id): originals that git's object store already holds
    durably. The plan names their blob and nothing is copied (the batch compares such a note with the
    plan's fingerprint just before writing it)."""

    def __init__(self, root: Path, plan: JournaledPlan, in_git: Mapping[int, str] | None = None) -> None:
        self._changes = plan.changes
        self._in_git = dict(in_git or {})
        self._durable = 0  # changes whose originals (if any) are on disk
        self._failure: BaseException | None = None
        self._stopped = False
        self._condition = threading.Condition()
        folder = _journal_dir(root)
        state_dir(root)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self._originals = open(folder / ORIGINALS_FILE, "wb")  # noqa: SIM115 - closed by the thread
        try:
            self._places = _write_plan(root, folder, plan, self._in_git)
            self._reader = os.open(folder / ORIGINALS_FILE, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except BaseException:
            self._originals.close()
            raise
        self._thread = threading.Thread(target=self._copy, name="vaulttools-journal", daemon=True)
        self._thread.start()

    def wait_for(self, count: int) -> None:
        """Return once the originals of the plan's first `count` changes are on disk."""
        if self._durable >= count:  # the usual case once the copy is ahead: no lock
            return
        with self._condition:
            while self._durable < count and self._failure is None:
                self._condition.wait()
            if self._failure is not None:
                raise self._failure

    def names_git_blob(self, index: int) -> bool:
        """The original of the plan's change at `index` is a git blob (nothing was copied)."""
        return index in self._in_git

    def saved_original(self, index: int) -> bytes | None:
        """The original of the plan's change at `index` as the journal holds it (None: a new file), once
        `wait_for(index + 1)` returned: what the batch compares the note with just before writing it."""
        place = self._places[index]
        if place is None:
            return None
        offset, length = place
        chunks, read = [], 0
        while read < length:
            chunk = os.pread(self._reader, length - read, offset + read)
            if not chunk:
                break
            chunks.append(chunk)
            read += len(chunk)
        return b"".join(chunks)

    def stop(self) -> None:
        """Stop copying (if it still runs) and wait for the thread."""
        self._stopped = True
        self._thread.join()
        if self._reader >= 0:
            os.close(self._reader)
            self._reader = -1

    def _copy(self) -> None:
        unsynced = 0
        try:
            with self._originals as originals:
                in_git = self._in_git
                for number, change in enumerate(self._changes, start=1):
                    if self._stopped:
                        return
                    # A change left on disk is read back and checked here; git holds the others' originals.
                    old = change.old if number - 1 not in in_git else None
                    if old is not None:
                        originals.write(old)
                        unsynced += len(old)
                    if unsynced >= SYNC_EVERY or number == len(self._changes):
                        _make_durable(originals, data_only=True)
                        unsynced = 0
                        self._publish(number)
        except BaseException as exc:  # handed to the batch by `wait_for`
            with self._condition:
                self._failure = exc
                self._condition.notify_all()

    def _publish(self, durable: int) -> None:
        with self._condition:
            self._durable = durable
            self._condition.notify_all()


def _write_plan(
    root: Path, folder: Path, plan: JournaledPlan, in_git: Mapping[int, str]
) -> list[tuple[int, int] | None]:
    """The plan file, whole and on disk: each change's fingerprints and the place of its original in the
    originals file (sizes are known before the originals are copied), or the git blob that holds it.
    Returns those places (None: nothing copied)."""
    batch_id = plan.trailers.get(BATCH_ID_TRAILER) or new_batch_id(plan)
    entries = []
    places: list[tuple[int, int] | None] = []
    # Every original goes into one file at a recorded offset: thousands of small backup files cost a
    # file creation and (in `finish`) a deletion each, which dominated large batches.
    offset = 0
    for index, change in enumerate(plan.changes):
        recorded = change.fingerprints
        if recorded is None:  # read once: a spooled change reads its bytes back on every access
            recorded = fingerprints(change.old, change.new)
        size = recorded["old_size"]
        blob = in_git.get(index)
        places.append(None if size is None or blob is not None else (offset, size))
        # One dict per change, built whole (12,700 changes: the batch waits for this plan before writing).
        if blob is not None:
            entry = {"path": change.path, "new_path": change.new_path, **recorded, "backup": GIT_BACKUP}
            entry["blob"], entry["length"] = blob, size
        elif size is not None:
            entry = {"path": change.path, "new_path": change.new_path, **recorded, "backup": ORIGINALS_FILE}
            entry["offset"], entry["length"] = offset, size
            offset += size
        else:
            entry = {"path": change.path, "new_path": change.new_path, **recorded, "backup": None}
        entries.append(entry)
    holder = lock.held_here(root)
    record = {
        "version": JOURNAL_VERSION,
        "command": plan.command,
        "batch_id": batch_id,
        "pid": os.getpid(),
        "host": lock.host_name(),
        "started": holder.started if holder is not None else time.time(),
        "changes": entries,
    }
    temp = folder / (PLAN_FILE + ".tmp")
    with open(temp, "wb") as plan_file:
        plan_file.write(_json_bytes(record))
        _make_durable(plan_file)
    temp.replace(folder / PLAN_FILE)  # the plan appears whole or not at all
    _sync_folder(folder)
    return places


def _json_bytes(record: dict[str, Any]) -> bytes:
    """`record` as compact UTF-8 JSON: by orjson where it is installed (a 12,700-note plan in ~0.01 s, not
    the standard library's ~0.035 s, on the batch's way to its first write), else by `json`."""
    if orjson is not None:
        return orjson.dumps(record)
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# Originals read so far: a file's bytes by name, or a git blob's reader (`git.read_blobs_lazily`) by key.
Loaded = dict[str, bytes | Callable[[], bytes]]


def original_reader(root: Path) -> Callable[[str], bytes | None]:
    """The bytes the running batch's journal saved for a path from before the batch (None: it had none):
    what a rollback puts back when the plan did not keep them in memory. The journal is read once."""
    folder = _journal_dir(root)
    record = pending(root) or {}
    entries = {entry["path"]: entry for entry in record.get("changes", [])}

    blobs: Loaded = {}

    def original(path: str) -> bytes | None:
        entry = entries.get(path)
        if entry is None or entry.get("backup") is None:
            return None
        if entry["backup"] == GIT_BACKUP:
            with contextlib.suppress(VaultError, OSError):  # git lost it: this note cannot be put back
                _load_git_blobs(folder, list(entries.values()), blobs)  # all at once, on first use
                return _saved_original(folder, entry, blobs)
            return None
        if "offset" not in entry:
            return (folder / entry["backup"]).read_bytes()
        with open(folder / entry["backup"], "rb") as originals:  # one slice, not the whole file
            originals.seek(entry["offset"])
            data = originals.read(entry["length"])
        return data if len(data) == entry["length"] and holds_original(data, entry) else None

    return original


def _make_durable(file: IO[Any], data_only: bool = False) -> None:
    """On disk before the batch writes a note: notes are rewritten in place, so after a crash (even a power
    cut) the journal must hold the original of every note written. `data_only`: the file's bytes (its size
    included), not its times (`fdatasync`, where there is one)."""
    file.flush()
    if data_only and hasattr(os, "fdatasync"):
        os.fdatasync(file.fileno())
    else:
        os.fsync(file.fileno())


def _sync_folder(folder: Path) -> None:
    """Make the plan's rename durable (POSIX only: Windows cannot open a folder)."""
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def finish(root: Path) -> None:
    folder = _journal_dir(root)
    plan_file = folder / PLAN_FILE
    if plan_file.exists():
        plan_file.unlink()
    shutil.rmtree(folder, ignore_errors=True)


def restore(root: Path, record: dict[str, Any], keep: frozenset[str] = frozenset()) -> list[str]:
    """Put every file of an interrupted batch back to its original bytes; returns the paths restored.
    A path in KEEP (a file another program changed since, `recover --keep-changed`) is left as it is; a
    move onto such a path still puts its note back where it was.

    Linear in the batch: each file is read once (and written once if it differs), every folder it touched
    is listed once for temporary files, and the writes are made durable by one sync, not one per file."""
    with synced_once() as sync:
        restored = _restore_files(root, record, keep)
        _remove_temporary_files(root, record)
    sync.wait()
    return restored


def _restore_files(root: Path, record: dict[str, Any], keep: frozenset[str]) -> list[str]:
    folder = _journal_dir(root)
    restored = []
    backups: Loaded = {}
    # Every blob first: a missing one refuses the recovery before any file is put back.
    _load_git_blobs(folder, [e for e in record.get("changes", []) if e["path"] not in keep], backups)
    for entry in reversed(record.get("changes", [])):
        path = root / entry["path"]
        new_path = entry.get("new_path")
        if new_path and new_path != entry["path"] and new_path not in keep:
            destination = root / new_path
            if destination.exists() and holds_new(destination.read_bytes(), entry):
                destination.unlink()
                restored.append(new_path)
        if entry["path"] in keep:  # another program's bytes (or its deletion) stay
            continue
        backup = entry.get("backup")
        if backup is None:
            if path.exists():
                path.unlink()
                restored.append(entry["path"])
            continue
        original = _saved_original(folder, entry, backups)
        if original is None:  # its original was not on disk yet: the batch never wrote this note
            continue
        current = _read_or_none(path)
        if current != original:
            if current is None:
                path.parent.mkdir(parents=True, exist_ok=True)  # a moved note's folder may be gone
            rewrite_in_place(path, original)
            restored.append(entry["path"])
    return restored


def save_originals(root: Path, record: dict[str, Any], paths: frozenset[str]) -> Path | None:
    """Copy the bytes from before the batch of every file in PATHS that had any to
    `.vaulttools/recovered/<batch id>/<path>` (the journal that holds them is removed once recover is done);
    returns that folder, None when there was nothing to copy."""
    folder = _journal_dir(root)
    saved_to = state_dir(root) / RECOVERED / str(record.get("batch_id") or record.get("started", "batch"))
    backups: Loaded = {}
    _load_git_blobs(folder, [e for e in record.get("changes", []) if e["path"] in paths], backups)
    saved = False
    for entry in record.get("changes", []):
        if entry["path"] not in paths or entry.get("backup") is None:
            continue
        original = _saved_original(folder, entry, backups)
        if original is None:  # not reached by the batch: the note had its own bytes, git has the original
            continue
        copy = saved_to / entry["path"]
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(original)
        saved = True
    return saved_to if saved else None


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _backup_bytes(folder: Path, entry: dict[str, Any], loaded: Loaded) -> bytes:
    """An entry's original bytes: a slice of the shared originals file, a git blob, or (older journals) a
    whole file."""
    name = entry["backup"]
    if name == GIT_BACKUP:
        _load_git_blobs(folder, [entry], loaded)
        blob = loaded[_git_key(entry)]
        return blob() if callable(blob) else blob
    if "offset" not in entry:
        return (folder / name).read_bytes()
    originals = loaded.get(name)
    if not isinstance(originals, bytes):
        originals = loaded[name] = (folder / name).read_bytes()
    start = entry["offset"]
    return originals[start : start + entry["length"]]


def _git_key(entry: dict[str, Any]) -> str:
    return f"{GIT_BACKUP}:{entry['blob']}"


def _load_git_blobs(folder: Path, entries: Sequence[dict[str, Any]], loaded: Loaded) -> None:
    """Put a reader of each git blob these entries name into `loaded` (one `git cat-file` for them all;
    each blob's bytes read when used), or refuse with what to do when git no longer has one: nothing can
    put that note back."""
    wanted = {_git_key(e): e for e in entries if e.get("backup") == GIT_BACKUP and _git_key(e) not in loaded}
    if not wanted:
        return
    from vaulttools.git import read_blobs_lazily  # only `recover` and rollbacks: `check` starts without git

    blobs = read_blobs_lazily(folder, [entry["blob"] for entry in wanted.values()])
    for key, entry in wanted.items():
        data = blobs.get(entry["blob"])
        if data is None:
            raise VaultError(
                f"{entry['path']}: the journal keeps its bytes from before the batch as git object "
                f"{entry['blob']}, which this repository no longer has (`git fsck` tells what else is "
                "missing); restore that object from a clone or backup and run `vaulttools recover` again"
            )
        loaded[key] = data


def _saved_original(folder: Path, entry: dict[str, Any], loaded: Loaded) -> bytes | None:
    """An entry's original as the journal saved it, or None when the batch stopped before it was copied
    whole (see `Journaling`: the batch writes a note only once its original is on disk). An old journal
    (version 1, no fingerprint of the original) saved every original before the first write."""
    original = _backup_bytes(folder, entry, loaded)
    if len(original) != entry.get("length", len(original)) or not holds_original(original, entry):
        return None
    return original


def holds_original(data: bytes, entry: Mapping[str, Any]) -> bool:
    """`data` is the entry's bytes from before the batch, by the fingerprint the entry has of them: their
    sha256 (versions 2-3), else their git blob id (version 4); True for an entry with neither (version 1)."""
    if entry.get("old_sha256") is not None:
        return _sha(data) == entry["old_sha256"]
    if entry.get(OLD_BLOB) is not None:
        return blob_id(data) == entry[OLD_BLOB]
    return True


def _had_file(entry: Mapping[str, Any]) -> bool:
    """Whether the entry's path held a file before the batch (a fingerprint of its bytes was taken)."""
    return entry.get("old_sha256", entry.get(OLD_BLOB)) is not None


TEMP_SUFFIX = ".vt-tmp"


def _remove_temporary_files(root: Path, record: dict[str, Any]) -> None:
    """A kill during an atomic write leaves its `.NAME.<pid>-<n>.vt-tmp` file beside the note: remove it.

    The journal names every file the batch could have written; each of their folders is listed once (a
    glob per note listed a 20,000-note folder 10,000 times: minutes) and only temporary files of those
    names are removed."""
    names_by_folder: dict[str, set[str]] = defaultdict(set)
    for entry in record.get("changes", []):
        for relative in (entry["path"], entry.get("new_path") or entry["path"]):
            folder, _, name = relative.rpartition("/")
            names_by_folder[folder].add(name)
    for folder, names in names_by_folder.items():
        try:
            listing = os.scandir(root / folder if folder else root)
        except OSError:
            continue  # the folder is gone: nothing was left in it
        with listing:
            for item in listing:
                if _temporary_of(item.name) in names:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(item.path)


def _temporary_of(file_name: str) -> str | None:
    """The note a temporary file `.NAME.<tag>.vt-tmp` was written for (NAME), else None."""
    if not (file_name.startswith(".") and file_name.endswith(TEMP_SUFFIX)):
        return None
    stem = file_name[1 : -len(TEMP_SUFFIX)]
    name, dot, _tag = stem.rpartition(".")
    return name if dot else None


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


# The fingerprint of a change's bytes from before the batch: their git blob id (see `JOURNAL_VERSION`).
OLD_BLOB = "old_blob"


def fingerprints(old: bytes | None, new: bytes | None) -> dict[str, Any]:
    """A change's journal fingerprints: its bytes before the batch by their git blob id (`OLD_BLOB`), after
    it by their XXH3-64 (`new_xxh3`; None in `new_sha256` for a file that does not exist), and for a
    rewritten file larger than a block, by each of its new blocks (`new_blocks_xxh3`); and both sizes.
    Without the xxhash package, by SHA-256 as version 4 (`new_sha256`, `new_blocks`)."""
    if old is None:
        return fingerprints_of_blob(None, None, new)
    return fingerprints_of_blob(blob_id(old), len(old), new)


def fingerprints_of_blob(old_blob: str | None, old_size: int | None, new: bytes | None) -> dict[str, Any]:
    """`fingerprints` of a change whose bytes before the batch are known by their git blob id and size
    (None, None: no file), without the bytes (an undo: the batch commit's blobs)."""
    recorded: dict[str, Any] = {
        OLD_BLOB: old_blob,
        "old_size": old_size,
        "new_size": None if new is None else len(new),
    }
    fast = digests.has_xxh3()
    if old_size is not None and new is not None and len(new) > BLOCK:
        # The blocks tell the new bytes whole (`holds_new`): no second pass over them for a file hash.
        view = memoryview(new)  # each block hashed where it lies, not copied out first
        digest = digests.xxh3_hex if fast else digests.sha256_block
        recorded[NEW_BLOCKS_XXH3 if fast else NEW_BLOCKS_SHA256] = [
            digest(view[at : at + BLOCK]) for at in range(0, len(new), BLOCK)
        ]
    elif new is not None and fast:
        recorded[NEW_XXH3] = digests.xxh3_hex(new)
    else:
        recorded[NEW_SHA256] = _sha(new)
    return recorded


# The fields that fingerprint a change's new bytes: whole (a file of at most a block, or any file before
# version 3) or block by block, each with its digest. A field of a block's digest of the whole file (its
# only block) is the whole field's digest cut to a block digest's length.
NEW_SHA256 = "new_sha256"
NEW_XXH3 = "new_xxh3"
NEW_BLOCKS_SHA256 = "new_blocks"
NEW_BLOCKS_XXH3 = "new_blocks_xxh3"
_WHOLE_DIGESTS: dict[str, digests.Digest] = {NEW_SHA256: digests.sha256_hex, NEW_XXH3: digests.xxh3_hex}
_BLOCK_DIGESTS: dict[str, digests.Digest] = {
    NEW_BLOCKS_SHA256: digests.sha256_block,
    NEW_BLOCKS_XXH3: digests.xxh3_hex,
    NEW_SHA256: digests.sha256_block,
    NEW_XXH3: digests.xxh3_hex,
}


def holds_new(data: bytes, entry: Mapping[str, Any]) -> bool:
    """`data` is the bytes the journal's change writes: by their whole digest, or (version 3 on, a file
    larger than a block) by their size and every block's digest."""
    for name, digest in _WHOLE_DIGESTS.items():
        if name in entry:
            return entry[name] is not None and digest(data) == entry[name]
    found = _new_blocks(entry)
    if found is None:
        return False
    blocks, digest = found
    view = memoryview(data)
    return (
        len(blocks) == -(-len(data) // BLOCK)
        and all(  # the last block's digest covers the exact size
            digest(view[n * BLOCK : (n + 1) * BLOCK]) == block for n, block in enumerate(blocks)
        )
    )


def _new_blocks(entry: Mapping[str, Any]) -> tuple[list[str], digests.Digest] | None:
    """The digest of each block of the entry's new bytes, and the function that took them; None for no new
    bytes. A whole-file field stands for the one block of a file no larger than a block."""
    for name, digest in _BLOCK_DIGESTS.items():
        value = entry.get(name)
        if value is None:
            continue
        if name in _WHOLE_DIGESTS:
            return [str(value)[:16]], digest
        return list(value), digest
    return None


def torn_by_the_batch(current: bytes, original: bytes, entry: dict[str, Any]) -> bool:
    """`current` is what an in-place write of the entry's new bytes over `original` leaves when it is cut
    short: each block either the original's or the new one's (a kill stops the write between pages, a power
    cut keeps some pages and loses others), and the tail of a shrinking note not yet truncated."""
    new_size = entry["new_size"]
    sizes = (len(original), new_size)
    if not min(sizes) <= len(current) <= max(sizes):
        return False
    found = _new_blocks(entry)
    if found is None:
        return False
    new_blocks, digest = found
    for at in range(0, len(current), BLOCK):
        block, before = current[at : at + BLOCK], original[at : at + BLOCK]
        if block == before:
            continue
        new_length = max(0, min(BLOCK, new_size - at))
        if (
            not new_length
            or at // BLOCK >= len(new_blocks)
            or digest(block[:new_length]) != new_blocks[at // BLOCK]
        ):
            return False
        if block[new_length:] != before[new_length:]:
            return False
    return True


def foreign_changes(root: Path, record: dict[str, Any]) -> dict[str, str]:
    """Files of an interrupted batch that hold bytes neither from before the batch nor written by it: another
    program changed them since. Each path with one line saying what to do. An old journal (version 1) has no
    fingerprints for rewritten notes: nothing can be told, and `restore` puts back every file as before."""
    if record.get("version", 1) < 2:
        return {}
    lines = {}
    originals: Loaded = {}
    folder = _journal_dir(root)
    for path, expected in _expected_states(record).items():
        current = _read_or_none(root / path)
        if current is None and None in expected.hashes:
            continue
        if current is not None and expected.holds_known_bytes(current):
            continue
        if current is not None and any(holds_new(current, entry) for entry in expected.known_by_blocks):
            continue
        if current is not None and any(
            _torn(current, folder, entry, originals) for entry in expected.rewrites
        ):
            continue
        lines[path] = _what_to_do(path, current is None, expected)
    return lines


def _torn(current: bytes, folder: Path, entry: dict[str, Any], originals: Loaded) -> bool:
    """`current` is a torn write of the entry's (never, if its original was not saved whole: not written)."""
    original = _saved_original(folder, entry, originals)
    return original is not None and torn_by_the_batch(current, original, entry)


@dataclass
class _ExpectedState:
    """What a file may hold after an interrupted batch: its bytes before the batch or the batch's (a hash,
    None for no file), or a torn in-place write of one of `rewrites`."""

    hashes: set[str | None] = field(default_factory=set)
    # Bytes from before a batch known by their git blob id (version 4).
    blobs: set[str] = field(default_factory=set)
    # New bytes known by their XXH3-64 (version 5).
    xxh3s: set[str] = field(default_factory=set)
    rewrites: list[dict[str, Any]] = field(default_factory=list)
    # Entries whose new bytes have no whole-file hash (version 3): told by `holds_new`.
    known_by_blocks: list[dict[str, Any]] = field(default_factory=list)

    def add_old(self, entry: dict[str, Any]) -> None:
        """The entry's bytes from before the batch (None: no file), by their sha256 or (version 4) blob id."""
        if "old_sha256" in entry or entry.get(OLD_BLOB) is None:
            self.hashes.add(entry.get("old_sha256"))
        else:
            self.blobs.add(entry[OLD_BLOB])

    def holds_known_bytes(self, data: bytes) -> bool:
        """`data` is bytes known by a whole-file hash: from before the batch, or its new bytes."""
        return (
            _sha(data) in self.hashes
            or (bool(self.xxh3s) and digests.xxh3_hex(data) in self.xxh3s)
            or (bool(self.blobs) and blob_id(data) in self.blobs)
        )

    def add_new(self, entry: dict[str, Any]) -> None:
        """The entry's new bytes (None: no file), by their hash or (version 3) their blocks."""
        if NEW_SHA256 in entry:
            self.hashes.add(entry[NEW_SHA256])
        elif NEW_XXH3 in entry:
            self.xxh3s.add(entry[NEW_XXH3])
        else:
            self.known_by_blocks.append(entry)


def _expected_states(record: dict[str, Any]) -> dict[str, _ExpectedState]:
    states: dict[str, _ExpectedState] = defaultdict(_ExpectedState)
    for entry in record.get("changes", []):
        path, new_path = entry["path"], entry.get("new_path")
        if new_path and new_path != path:  # moved: the source goes, the destination comes
            states[path].add_old(entry)
            states[path].hashes.add(None)
            states[new_path].hashes.add(None)
            states[new_path].add_new(entry)
            continue
        # Created (no old bytes), deleted (no new bytes) or rewritten: either hash, None for "no file".
        states[path].add_old(entry)
        states[path].add_new(entry)
        if _had_file(entry) and entry["new_size"] is not None:
            states[path].rewrites.append(entry)
    return states


def _what_to_do(path: str, missing: bool, expected: _ExpectedState) -> str:
    if missing:
        return (
            f"{path}: deleted by another program since the batch stopped; put it back "
            f"(`git checkout -- {shlex.quote(path)}`) and run `vaulttools recover` again"
        )
    if expected.rewrites:
        return (
            f"{path}: changed by another program since the batch stopped; copy your changes elsewhere, put "
            f"back its bytes from before the batch (`git checkout -- {shlex.quote(path)}`) and run "
            "`vaulttools recover` again"
        )
    return (
        f"{path}: written by another program since the batch stopped; move it out of the vault "
        "and run `vaulttools recover` again"
    )
