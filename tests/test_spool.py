"""A batch's bytes in a spool: the same change, read back exactly, pickled as plain bytes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from vaulttools.changes import FileChange, Spool


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
    assert list(tmp_path.rglob("*")) == [tmp_path / ".vaulttools", tmp_path / ".vaulttools" / ".gitignore"]


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
    assert [p.name for p in tmp_path.iterdir()] == [".vaulttools"]  # the spool's file: nameless inside it
    assert list((tmp_path / ".vaulttools").iterdir()) == [tmp_path / ".vaulttools" / ".gitignore"]


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
