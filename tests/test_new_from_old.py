"""New bytes made from the old ones (`changes.NewFromOld`): a long note rewritten in place whose new bytes git
already holds (a batch run again after `undo`) travels from the planner's worker as its byte edits, and the
batch makes the new bytes as it writes the note, out of the old ones it has just proven the file holds,
checked against the planned fingerprints. Every byte as planned, on every hostile shape; every guard tripped
once: edits that do not make the planned bytes, a note changed meanwhile, git losing the blob before the
commit."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of
from tests.helpers import assert_clean, commits
from vaulttools import batch as batch_module
from vaulttools import parallel
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import LEFT_ON_DISK_FROM, FileChange, NewFromOld
from vaulttools.edits import ByteEdit
from vaulttools.errors import EditConflict
from vaulttools.files import rewrite_in_place
from vaulttools.git import ObjectStore
from vaulttools.normalize import plan_normalize
from vaulttools.vault import Vault

BOM = "\ufeff".encode()
FILLER = b"A line of prose that links nothing, long enough to fill blocks.\n" * 160  # ~10 KB
NOTES = {
    "target-d9.md": b"---\nid: target-d9\n---\nThe target.\n",
    "ascii.md": b"See [[target]].\n" + FILLER + b"And [[target|again]] at the end.\n",
    "accents.md": "Caf\u00e9 \u2014 [[target]] \U0001f600\n".encode()
    + FILLER
    + "\u00fc [[target]]\n".encode(),
    "crlf-bom.md": BOM + b"---\r\nid: crlf\r\n---\r\n" + FILLER.replace(b"\n", b"\r\n") + b"[[target]]\r\n",
    "late.md": FILLER
    + FILLER
    + b"Only here: [[target]]",  # the first edit in a later block, no final newline
    "short.md": b"See [[target]].\n",  # short: its new bytes travel as they are
}
LONG = ["accents.md", "ascii.md", "crlf-bom.md", "late.md"]
FIXED = {name: data.replace(b"[[target", b"[[target-d9") for name, data in NOTES.items()}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.md"))}


def _vault_git_holds_the_new_bytes_of(tmp_path: Path) -> Path:
    """The notes committed, with git's object store holding every fixed note's bytes already (as after a
    batch and its `undo`)."""
    assert all(len(NOTES[name]) >= LEFT_ON_DISK_FROM for name in LONG)
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    staging = tmp_path / "fixed"
    staging.mkdir()
    for name, data in FIXED.items():
        (staging / name).write_bytes(data)
        subprocess.run(
            ["git", "hash-object", "-w", str(staging / name)], cwd=vault_dir, check=True, capture_output=True
        )
    return vault_dir


def _assert_fixed_and_committed(vault_dir: Path) -> None:
    assert _snapshot(vault_dir) == FIXED
    assert_clean(vault_dir)
    assert commits(vault_dir) == 2
    for name in FIXED:  # committed exactly as written
        assert git(vault_dir, "rev-parse", f"HEAD:{name}") == git(vault_dir, "hash-object", name)


@pytest.fixture(params=["in this process", "forked workers"])
def planned_on(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Planned here and committed by git from the written files (a small batch); or planned on forked
    workers and committed from the planner's blob ids (as a big batch is)."""
    if request.param == "forked workers":
        monkeypatch.setattr(batch_module, "KNOWN_BLOBS_FROM", 0)
        monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
        monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
        monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    return str(request.param)


@pytest.mark.usefixtures("with_xxhash")
def test_long_notes_git_holds_the_new_bytes_of_travel_as_their_byte_edits(
    tmp_path: Path, planned_on: str
) -> None:
    vault_dir = _vault_git_holds_the_new_bytes_of(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    assert sorted(c.path for c in plan.changes if c.new_made_from_old) == LONG
    assert all(c._spool is None for c in plan.changes if c.new_made_from_old)  # nothing spooled for them
    for change in plan.changes:
        twin = pickle.loads(pickle.dumps(change))  # as a worker sends it: the edits, not the bytes
        assert twin.new_made_from_old == change.new_made_from_old
        assert twin.new == FIXED[change.path]  # made from the old bytes on disk
    run_batch(Vault(vault_dir), plan, BatchOptions())
    _assert_fixed_and_committed(vault_dir)


def test_git_lacking_the_new_bytes_sends_them_as_before(tmp_path: Path) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    plan = plan_normalize(Vault(vault_dir))
    assert not any(c.new_made_from_old for c in plan.changes)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    _assert_fixed_and_committed(vault_dir)


def test_the_new_bytes_read_back_before_and_after_the_write(tmp_path: Path) -> None:
    """Before the write, made from the old bytes; after it, the file itself; another program's bytes never
    pass for them."""
    vault_dir = _vault_git_holds_the_new_bytes_of(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    change = next(c for c in plan.changes if c.path == "accents.md")
    assert change.new == FIXED["accents.md"]
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert change.new == FIXED["accents.md"]
    (vault_dir / "accents.md").write_bytes(FIXED["accents.md"] + b"typed meanwhile\n")
    with pytest.raises(
        EditConflict, match=re.escape("accents.md: changed by another program since vaulttools planned")
    ):
        _ = change.new


def _tampered(change: FileChange, how: str) -> FileChange:
    made = change._new
    assert isinstance(made, NewFromOld)
    at, old, new = made.edits[0]
    wrong = (at, old, new + b"!") if how == "new bytes" else (at, b"[[nowhere", new)
    change._new = NewFromOld((wrong, *made.edits[1:]), made.start, made.tail_sum)
    return change


@pytest.mark.parametrize("how", ["new bytes", "old bytes"])
@pytest.mark.parametrize("victim", ["ascii.md", "late.md"])
def test_byte_edits_that_do_not_make_the_planned_bytes_refuse_the_batch(
    tmp_path: Path, how: str, victim: str
) -> None:
    """The guard of `FileChange.new_over_old`: whatever the edits make is checked against the planned
    fingerprints before a byte is written; the batch stops and puts back what it wrote."""
    vault_dir = _vault_git_holds_the_new_bytes_of(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    _tampered(next(c for c in plan.changes if c.path == victim), how)
    with pytest.raises(EditConflict, match=re.escape(f"{victim} was changed by another program")):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert _snapshot(vault_dir) == NOTES
    assert commits(vault_dir) == 1
    assert not (vault_dir / ".vaulttools" / "journal").exists()


def test_a_long_note_changed_before_the_batch_writes_it_refuses_the_batch(tmp_path: Path) -> None:
    vault_dir = _vault_git_holds_the_new_bytes_of(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    victim = vault_dir / "late.md"
    data = victim.read_bytes()
    victim.write_bytes(data[:-2] + b"!!")  # same size, after the note's only edit
    with pytest.raises(EditConflict, match=re.escape("late.md was changed by another program")):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert _snapshot(vault_dir) == {**NOTES, "late.md": data[:-2] + b"!!"}
    assert commits(vault_dir) == 1


def test_a_blob_git_lost_before_the_commit_is_stored_from_bytes_made_before_the_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held when planned, gone by the batch (a `git gc` meanwhile): the blob is stored again, from new bytes
    made before the batch writes over the old ones they are made of."""
    vault_dir = _vault_git_holds_the_new_bytes_of(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    assert any(c.new_made_from_old for c in plan.changes)
    monkeypatch.setattr(
        batch_module, "KNOWN_BLOBS_FROM", 0
    )  # the planner's blob ids used, as for big batches
    monkeypatch.setattr(ObjectStore, "freshen", lambda _store, _oid, _held: False)
    made_early = []
    real = batch_module._new_bytes_of

    def spy(change: FileChange):  # type: ignore[no-untyped-def]
        if change.new_made_from_old:
            made_early.append((change.path, (vault_dir / change.path).read_bytes() == NOTES[change.path]))
        return real(change)

    monkeypatch.setattr(batch_module, "_new_bytes_of", spy)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert sorted(made_early) == [(name, True) for name in LONG]  # asked while the old bytes were there
    _assert_fixed_and_committed(vault_dir)
    assert (
        "error"
        not in subprocess.run(
            ["git", "fsck", "--no-dangling"], cwd=vault_dir, capture_output=True, text=True
        ).stderr.lower()
    )


@pytest.mark.parametrize(
    ("on_disk", "made"),
    [
        (NOTES["ascii.md"], FIXED["ascii.md"]),
        (NOTES["ascii.md"][:-1] + b"?", None),  # changed after the last edit
        (NOTES["ascii.md"][:-1], None),  # a byte short
        (NOTES["ascii.md"].replace(b"[[target|again", b"[[target|agaim"), None),  # changed between two edits
        (b"x" + NOTES["ascii.md"][1:], FIXED["ascii.md"]),  # before the first edit: never read (proven there)
    ],
)
@pytest.mark.usefixtures("with_xxhash")
def test_new_bytes_are_made_only_from_the_planned_old_bytes(
    tmp_path: Path, on_disk: bytes, made: bytes | None
) -> None:
    """What `new_over_old` makes from the open file: the planned new bytes from the first edit on, or None.
    (A file grown past its planned size is told before, by the proof that it holds the old bytes.)"""
    old = NOTES["ascii.md"]
    (tmp_path / "ascii.md").write_bytes(old)
    change = FileChange("ascii.md", old, FIXED["ascii.md"], byte_edits=_ascii_edits()).old_left_on_disk(
        tmp_path,
        objects=_HoldsEverything(),  # type: ignore[arg-type]
    )
    over_old = change.new_over_old()
    assert over_old is not None
    start, size, make = over_old
    assert start == old.index(b"[[target") + 2 and size == len(FIXED["ascii.md"]) - start
    (tmp_path / "ascii.md").write_bytes(on_disk)
    handle = os.open(tmp_path / "ascii.md", os.O_RDONLY)
    try:
        assert make(handle) == (None if made is None else made[start:])
    finally:
        os.close(handle)


def _ascii_edits() -> tuple[ByteEdit, ...]:
    old = NOTES["ascii.md"]
    return tuple(
        ByteEdit(at + 2, b"target", b"target-d9")
        for at in (old.index(b"[[target]]"), old.index(b"[[target|again"))
    )


class _HoldsEverything:
    """An object store that holds every blob asked about."""

    def holds(self, _oid: str, _lane: str = "") -> str:
        return ObjectStore.PACKED


def test_a_note_is_written_only_where_its_made_bytes_say(tmp_path: Path) -> None:
    """`rewrite_in_place` with a function of the open file: called once the file is proven, and None from it
    writes nothing."""
    path = tmp_path / "a.md"
    old = b"x" * 9000 + b"[[a]]\n"
    path.write_bytes(old)
    assert not rewrite_in_place(path, lambda _handle: None, expected=old, same_until=8192)
    assert path.read_bytes() == old
    calls = []

    def made(handle: int) -> bytes:
        calls.append(os.pread(handle, 5, 9000))
        return b"x" * (9000 - 8192) + b"[[b]]\n"

    assert rewrite_in_place(path, made, expected=old, same_until=8192)
    assert calls == [b"[[a]]"] and path.read_bytes() == b"x" * 9000 + b"[[b]]\n"
    assert not rewrite_in_place(path, made, expected=old)  # no longer the expected bytes: not called
    assert calls == [b"[[a]]"]


def test_byte_edits_travel_without_the_old_bytes_in_memory(tmp_path: Path) -> None:
    """A change keeps its byte edits only to become `NewFromOld` with its old bytes left on disk and the new
    ones held by git; what a worker pickles then is a few hundred bytes."""
    old, new = NOTES["ascii.md"], FIXED["ascii.md"]
    (tmp_path / "ascii.md").write_bytes(old)
    change = FileChange("ascii.md", old, new, byte_edits=_ascii_edits())
    made = change.old_left_on_disk(tmp_path, objects=_HoldsEverything())  # type: ignore[arg-type]
    assert made.new_made_from_old and len(pickle.dumps(made)) < 1500
    assert not change.old_left_on_disk(tmp_path).new_made_from_old  # git's store not asked: the bytes travel


def test_new_bytes_for_the_blob_storers_are_made_when_asked_not_when_stored(tmp_path: Path) -> None:
    """The processes that store blobs git lacks run while the batch writes: the new bytes they get are made
    when the batch asks (before its first write), not read from a note the batch may be writing over."""
    vault_dir = _vault_git_holds_the_new_bytes_of(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    change = next(c for c in plan.changes if c.path == "ascii.md")
    give = batch_module._new_bytes_of(change)
    (vault_dir / "ascii.md").write_bytes(b"half written")
    assert give() == FIXED["ascii.md"]
