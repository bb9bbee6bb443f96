"""A batch's bytes in a spool: the same change, read back exactly, pickled as plain bytes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from vaulttools.batch import FileChange, Spool, spool_for


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
    assert list(tmp_path.iterdir()) == []  # the spool file has no name


def test_many_changes_read_back_in_any_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    changes = [FileChange(f"{n}.md", bytes([n % 256]) * n, b"x" * (n * 7 % 300)) for n in range(500)]
    spooled = [change.spooled(spool) for change in changes]
    assert list(reversed(spooled)) == list(reversed(changes))


def test_small_batches_are_not_spooled(tmp_path: Path) -> None:
    assert spool_for(tmp_path, 10) is None
    assert isinstance(spool_for(tmp_path, 10_000), Spool)
