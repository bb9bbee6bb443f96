"""A batch's bytes in a spool: the same change, read back exactly, pickled as plain bytes (or, from a
forked worker sharing the spool, as places in it)."""

from __future__ import annotations

import errno
import multiprocessing
import os
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from vaulttools.changes import FileChange, Spool, spool_all
from vaulttools.errors import EditConflict
from vaulttools.journal import fingerprints


def _left_by_a_spool(vault: Path) -> list[Path]:
    """What opening a spool whose size is not known leaves in the vault: the state folder its unlinked file
    was made in."""
    return [vault / ".vaulttools", vault / ".vaulttools" / ".gitignore"]


@pytest.mark.parametrize(
    "change",
    [
        FileChange("a.md", b"old\r\n", b"new\n"),
        FileChange("a.md", None, b"created"),
        FileChange("a.md", b"deleted", None),
        FileChange("a.md", b"", b"", "b/a.md"),
        FileChange("\u00e9.md", "caf\u00e9 \U0001f600".encode(), b"\xef\xbb\xbfbom", None),
    ],
)
def test_a_spooled_change_is_the_same_change(change: FileChange, tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spooled = change.spooled(spool)
    assert spooled._spool is spool
    assert (spooled.path, spooled.old, spooled.new, spooled.new_path) == (
        change.path,
        change.old,
        change.new,
        change.new_path,
    )
    assert spooled == change and hash(spooled) == hash(change)
    assert spooled.spooled(spool) is spooled
    assert pickle.loads(pickle.dumps(spooled)) == change
    assert pickle.loads(pickle.dumps(spooled))._spool is None
    assert list(tmp_path.rglob("*")) == _left_by_a_spool(tmp_path)


def test_many_changes_read_back_in_any_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    changes = [FileChange(f"{n}.md", bytes([n % 256]) * n, b"x" * (n * 7 % 300)) for n in range(500)]
    spooled = [change.spooled(spool) for change in changes]
    assert list(reversed(spooled)) == list(reversed(changes))


def test_changes_are_kept_in_memory_within_the_budget_then_spooled(tmp_path: Path) -> None:
    spool = Spool(tmp_path, memory_budget=10)
    first = FileChange("a.md", b"1234", b"5678")  # 8 bytes: within the budget
    second = FileChange("b.md", b"1234", b"5678")  # 16 in all: over it
    assert spool.keep(first) is first
    kept = spool.keep(second)
    assert kept._spool is spool and kept == second
    assert list(tmp_path.rglob("*")) == _left_by_a_spool(tmp_path)  # its file nameless, or in memory


def test_a_spool_within_budget_creates_no_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.keep(FileChange("a.md", b"old", b"new")) == FileChange("a.md", b"old", b"new")
    assert list(tmp_path.iterdir()) == []


def test_two_threads_read_the_spool_at_once(tmp_path: Path) -> None:
    """The batch's journal thread reads originals while its writing thread reads new bytes: each read gets
    its own bytes (a shared file position made both read the wrong place: false "changed by another
    program" refusals on 20,000 spooled 30 KB notes)."""
    import threading

    spool = Spool(tmp_path, memory_budget=0)
    blobs = [bytes([n % 251]) * (16_384 + n) for n in range(300)]
    places = [spool.put(blob) for blob in blobs]
    wrong: list[int] = []

    def read_all() -> None:
        for _ in range(5):
            wrong.extend(n for n, place in enumerate(places) if spool.get(place) != blobs[n])

    reader = threading.Thread(target=read_all)
    reader.start()
    read_all()
    reader.join()
    assert wrong == []


def test_forked_workers_spool_into_a_shared_spool(tmp_path: Path) -> None:
    """After `share()`, changes spooled by forked processes come back as places in the same file (no
    bytes cross the pipe) and read back exactly; appends from both processes never overlap."""
    spool = Spool(tmp_path)
    spool.share()
    changes = [FileChange(f"{n}.md", bytes([n % 256]) * (n * 13 % 700), b"new" * n) for n in range(60)]
    spool.keep(changes[0])  # the parent spools too, while the workers do
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        returned = list(pool.map(_spooled_in_worker, [(spool, changes[i : i + 7]) for i in range(0, 60, 7)]))
    sent = [change for part in returned for change, _ in part]
    assert all(size < 400 for _, size in (pair for part in returned for pair in part))  # places, not bytes
    assert [change._spool for change in sent] == [spool] * len(changes)
    assert sent == changes


@pytest.mark.parametrize("shared", [True, False])
def test_spool_all_puts_a_chunk_of_changes_in_one_append(shared: bool, tmp_path: Path) -> None:
    """`spool_all` (a worker's chunk of changes at once) gives the changes `spooled` gives, each side at
    its own place: created, deleted, moved, already spooled and left-on-disk changes mixed."""
    spool = Spool(tmp_path)
    if shared:
        spool.share()
    (tmp_path / "big.md").write_bytes(b"o" * 9000)
    changes = [
        FileChange("a.md", b"old\r\n", b"new\n"),
        FileChange("b.md", None, b"created"),
        FileChange("c.md", b"deleted", None),
        FileChange("d.md", b"", b"", "e/d.md"),
        FileChange("f.md", b"before", b"after").spooled(spool),
        FileChange("big.md", b"o" * 9000, b"n" * 9001).old_left_on_disk(tmp_path),
        FileChange("g.md", b"x" * 5000, b"y" * 7000),
    ]
    spooled = spool_all(changes, spool)
    assert [change._spool for change in spooled] == [spool] * len(changes)
    assert spooled == changes
    assert spooled[4] is changes[4] and spooled[5].old_on_disk == changes[5].old_on_disk
    assert spool_all([], spool) == []


def test_a_worker_spools_a_chunks_long_notes_in_one_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`take_from_worker`: the long notes' changes (old bytes left on disk for their length) spooled, in one
    locked append for the chunk; short notes' changes returned as they are; the order kept. An unshared
    spool (no workers) leaves every change as it is."""
    import vaulttools.changes as changes_module

    for name in ("long1.md", "long2.md"):
        (tmp_path / name).write_bytes(b"o" * 9000)
    chunk = [
        FileChange("short1.md", b"old", b"new"),
        FileChange("long1.md", b"o" * 9000, b"n" * 9001).old_left_on_disk(tmp_path),
        FileChange("short2.md", b"x" * 5000, b"y" * 5001).old_left_on_disk(tmp_path),
        FileChange("long2.md", b"o" * 9000, b"m" * 8999).old_left_on_disk(tmp_path),
    ]
    unshared = Spool(tmp_path)
    assert unshared.take_from_worker(chunk) is chunk

    spool = Spool(tmp_path)
    spool.share()
    appends: list[int] = []
    real_append = changes_module._append_locked

    def counted(descriptor: int, pieces: list[bytes]) -> int:
        appends.append(len(pieces))
        return real_append(descriptor, pieces)

    monkeypatch.setattr(changes_module, "_append_locked", counted)
    taken = spool.take_from_worker(chunk)
    assert appends == [2]  # the two long notes' new bytes, in one append
    assert [change.path for change in taken] == [change.path for change in chunk]
    assert [change._spool for change in taken] == [None, spool, None, spool]
    assert taken[0] is chunk[0] and taken[2] is chunk[2]
    assert taken == chunk and [change.new for change in taken] == [change.new for change in chunk]
    assert spool.take_from_worker([chunk[0], chunk[2]]) == [chunk[0], chunk[2]] and appends == [2]


def _spooled_in_worker(job: tuple[Spool, list[FileChange]]) -> list[tuple[FileChange, int]]:
    spool, changes = job
    # Half the chunks one change at a time, half at once (`spool_all`): the appends interleave either way.
    at_once = int(changes[0].path.split(".")[0]) % 2 == 0
    spooled = spool_all(changes, spool) if at_once else [change.spooled(spool) for change in changes]
    return [(change, len(pickle.dumps(change))) for change in spooled]


def test_only_a_shared_spool_crosses_a_process_boundary(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="shared spool"):
        pickle.dumps(Spool(tmp_path))
    unshared = FileChange("a.md", b"old", b"new").spooled(Spool(tmp_path))
    assert pickle.loads(pickle.dumps(unshared))._spool is None  # sent as its bytes


@pytest.mark.parametrize(
    "change",
    [
        FileChange("a.md", b"a\r\nb\r\n", b"a\r\nc\r\n"),
        FileChange("a.md", b"\xef\xbb\xbfold", b"\xef\xbb\xbfnew"),
        FileChange("a.md", b"x" * 10_000, b"no final newline"),
        FileChange("a.md", None, b"created"),
    ],
)
def test_fingerprints_taken_in_a_worker_are_the_journals(change: FileChange, tmp_path: Path) -> None:
    """A worker takes the batch's journal fingerprints (`fingerprinted`); they travel with the spooled
    change and are exactly what the journal would take from its bytes."""
    spool = Spool(tmp_path)
    spool.share()
    taken = change.fingerprinted()
    assert change.fingerprints is None and taken.fingerprinted() is taken
    assert taken.fingerprints == fingerprints(change.old, change.new) and taken == change
    travelled = pickle.loads(pickle.dumps(taken.spooled(spool)))
    assert (travelled._spool, travelled.fingerprints, travelled) == (spool, taken.fingerprints, change)


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="no memfd on this system")
def test_a_spool_lives_in_memory_where_the_system_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's syncs write every file's dirty pages to disk: a spool on the vault's disk was written
    out with them, for nothing."""
    from vaulttools import changes

    monkeypatch.setattr(changes, "_memory_to_spare", lambda: 4 * 1000)
    spool = Spool(tmp_path, expected_bytes=1000)  # a quarter of the memory available: in memory
    spool.share()
    descriptor = spool._open().fileno()
    assert os.readlink(f"/proc/self/fd/{descriptor}").startswith("/memfd:vaulttools-spool")
    place = spool.put(b"bytes")
    assert spool.get(place) == b"bytes"


def test_a_spool_falls_back_to_a_file_without_memfd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object) -> int:
        raise OSError(errno.ENOSYS, "no memfd here")

    monkeypatch.setattr(os, "memfd_create", refused, raising=False)
    spool = Spool(tmp_path, expected_bytes=5)
    place = spool.put(b"bytes")
    assert spool.get(place) == b"bytes"
    assert not os.readlink(f"/proc/self/fd/{spool._open().fileno()}").startswith("/memfd:")


def test_a_spool_stays_on_disk_when_memory_is_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written out by the batch's syncs, a spool file can leave memory under pressure; one in memory cannot:
    a spool that may take more than a quarter of the memory available, or whose size is not known, is a
    file."""
    from vaulttools import changes

    monkeypatch.setattr(changes, "_memory_to_spare", lambda: 4 * 1000)
    for spool in (Spool(tmp_path, expected_bytes=1001), Spool(tmp_path)):
        place = spool.put(b"bytes")
        assert spool.get(place) == b"bytes"
        assert not os.readlink(f"/proc/self/fd/{spool._open().fileno()}").startswith("/memfd:")


@pytest.mark.parametrize("start", [0, 3, 9])
def test_a_spooled_change_gives_its_new_bytes_from_an_offset(tmp_path: Path, start: int) -> None:
    """What a batch writes of a long note after the start its old bytes share: read from the spool alone."""
    change = FileChange("a.md", b"old bytes", b"new bytes")
    for kept in (change, change.spooled(Spool(tmp_path))):
        assert kept.new_bytes_from(start) == b"new bytes"[start:]


def _long_note_left_on_disk(tmp_path: Path, old: bytes, new: bytes) -> tuple[FileChange, Path]:
    """A long note's change as a planner's worker makes it: old bytes left in the note, fingerprints taken."""
    note = tmp_path / "long.md"
    note.write_bytes(old)
    return FileChange("long.md", old, new).old_left_on_disk(tmp_path), note


LONG_OLD = b"x" * 20_000 + b"\n## Related\n- [[a]]\n"
LONG_NEW = LONG_OLD + b"- [[b]]\n"


@pytest.mark.parametrize("shared", [True, False], ids=["from a worker (spool_all)", "kept by the batch"])
def test_a_long_note_spools_only_what_follows_the_start_left_on_disk(tmp_path: Path, shared: bool) -> None:
    """sync-related appends a section to each long note: its spool holds the last block or so, not 20 KB."""
    change, note = _long_note_left_on_disk(tmp_path, LONG_OLD, LONG_NEW)
    head = change.same_until
    assert head == 16_384
    spool = Spool(tmp_path)
    spooled = spool_all([change], spool)[0] if shared else change.spooled(spool)
    spooled_bytes = os.fstat(spool._open().fileno()).st_size if shared else spool._end
    assert spooled_bytes == len(LONG_NEW) - head
    assert spooled._new is not None and spooled._new[2:] == (head,)
    assert spooled.new == LONG_NEW  # its start read from the note, checked by the new bytes' blob id
    assert spooled.old == LONG_OLD
    for start in (0, 1, head - 1, head, head + 3, len(LONG_NEW)):
        assert spooled.new_bytes_from(start) == LONG_NEW[start:]
    note.write_bytes(LONG_NEW)  # written by the batch: the start is still the one left on disk
    assert spooled.new == LONG_NEW


@pytest.mark.parametrize(
    "meanwhile",
    [
        lambda note: note.write_bytes(b"y" + LONG_OLD[1:]),  # its start edited by another program
        lambda note: note.write_bytes(LONG_OLD[:100]),  # cut short
        lambda note: note.unlink(),
    ],
    ids=["edited", "cut short", "deleted"],
)
def test_a_long_note_whose_start_changed_never_passes_for_its_new_bytes(
    tmp_path: Path, meanwhile: Callable[[Path], object]
) -> None:
    """The guard of the start left on disk: the whole is checked against the new bytes' blob id."""
    change, note = _long_note_left_on_disk(tmp_path, LONG_OLD, LONG_NEW)
    spooled = change.spooled(Spool(tmp_path))
    meanwhile(note)
    with pytest.raises(EditConflict, match="changed by another program"):
        _ = spooled.new_bytes
    # What the batch writes (from the shared start on) comes from the spool alone.
    assert spooled.new_bytes_from(change.same_until) == LONG_NEW[change.same_until :]
    from vaulttools.batch import _writes_crlf

    assert not _writes_crlf(spooled)  # the line-ending warning after a commit asks, and is answered


def test_a_long_note_without_its_new_blob_id_is_spooled_whole(tmp_path: Path) -> None:
    """No blob id to check a start read back by: the new bytes go into the spool whole."""
    change, _ = _long_note_left_on_disk(tmp_path, LONG_OLD, LONG_NEW)
    assert change._fingerprints is not None
    del change._fingerprints["new_blob"]
    spooled = change.spooled(Spool(tmp_path))
    assert spooled._new is not None and len(spooled._new) == 2
    assert spooled.new == LONG_NEW
