"""A note last changed well before a planner read it keeps its stamp in the plan (`changes.settled_stamp`);
while the open file still has that stamp, the batch writes it without reading and comparing its bytes
(`files.rewrite_in_place(unchanged_if=...)`). Any other stamp, or a note changed just before it was read,
is compared byte for byte as before. (sync-related's batches on settled notes: `test_related_workers`.)"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from vaulttools.changes import SETTLED_NS, settled_stamp
from vaulttools.files import rewrite_in_place, stamp_of_status


def _never(_: bytes) -> bool:
    raise AssertionError("the bytes were read and compared")


def _refuses(_: bytes) -> bool:
    return False


@pytest.mark.parametrize(
    ("after_last_change", "settled"),
    [
        (SETTLED_NS + 1, True),
        (SETTLED_NS, True),  # exactly the margin: still a tick and more behind the read
        (SETTLED_NS - 1, False),
        (0, False),  # read in the very tick of its last change
        (-SETTLED_NS, False),  # changed after the moment (a clock set back): never trusted
    ],
)
def test_a_stamp_is_kept_only_when_the_last_change_is_well_before_the_read(
    tmp_path: Path, after_last_change: int, settled: bool
) -> None:
    note = tmp_path / "a.md"
    note.write_bytes(b"old\n")
    status = os.stat(note)
    last = max(status.st_mtime_ns, status.st_ctime_ns)
    expected = stamp_of_status(status) if settled else None
    assert settled_stamp(status, last + after_last_change) == expected


def test_a_recent_mtime_alone_makes_a_stamp_unsettled(tmp_path: Path) -> None:
    """mtime can be later than ctime's (a tool setting it ahead): the later of the two decides."""
    note = tmp_path / "a.md"
    note.write_bytes(b"old\n")
    ahead = os.stat(note).st_ctime_ns + 10 * SETTLED_NS
    os.utime(note, ns=(ahead, ahead))
    status = os.stat(note)
    assert status.st_mtime_ns > status.st_ctime_ns
    assert settled_stamp(status, status.st_ctime_ns + 2 * SETTLED_NS) is None
    assert settled_stamp(status, ahead + SETTLED_NS) == stamp_of_status(status)


def test_a_file_with_its_stamp_is_written_without_reading_it(tmp_path: Path) -> None:
    note = tmp_path / "a.md"
    note.write_bytes(b"old bytes\n")
    stamp = stamp_of_status(os.stat(note))
    assert rewrite_in_place(note, b"new\n", expected=_never, unchanged_if=stamp)
    assert note.read_bytes() == b"new\n"


def _grown(note: Path) -> None:
    note.write_bytes(note.read_bytes() + b"typed meanwhile\n")


def _replaced_alike(note: Path) -> None:
    """Same size, same mtime, another file (the stamp differs only in its inode, or ctime)."""
    status = os.stat(note)
    spare = note.with_name("spare.md")
    spare.write_bytes(b"NEW bytes\n")
    os.utime(spare, ns=(status.st_atime_ns, status.st_mtime_ns))
    os.replace(spare, note)


@pytest.mark.parametrize("meanwhile", [_grown, _replaced_alike])
def test_a_file_with_another_stamp_is_compared_and_refused(
    tmp_path: Path, meanwhile: Callable[[Path], None]
) -> None:
    note = tmp_path / "a.md"
    note.write_bytes(b"old bytes\n")
    stamp = stamp_of_status(os.stat(note))
    meanwhile(note)
    changed = note.read_bytes()
    assert not rewrite_in_place(note, b"new\n", expected=_refuses, unchanged_if=stamp)
    assert note.read_bytes() == changed
    assert rewrite_in_place(note, b"new\n", expected=changed, unchanged_if=stamp)  # compared: the same
    assert note.read_bytes() == b"new\n"
