"""A batch's journal names a rewritten note's original by its git blob instead of copying it, when git's
object store already holds those bytes durably (`batch._originals_in_git`): the index holds exactly that
blob, and it was written before the sync the batch waits for (or it is packed). `recover` and a rollback
read such originals back through `git cat-file`; a blob git no longer has refuses the recovery, nothing
put back."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of
from tests.helpers import (
    BOM,
    HOSTILE_NOTES,
    HOSTILE_REWRITTEN,
    age_git_objects,
    assert_clean,
    commits,
    run_vaulttools,
)
from vaulttools import batch as batch_module
from vaulttools import changes as changes_module
from vaulttools import journal
from vaulttools.batch import CRASH_AFTER_ENV, BatchOptions, run_batch
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.digests import blob_id
from vaulttools.errors import BatchAborted, DirtyFilesError, EditConflict, GitError
from vaulttools.files import rewrite_in_place
from vaulttools.git import Repository, read_blobs_lazily
from vaulttools.normalize import plan_normalize
from vaulttools.vault import Vault

JOURNAL_PLAN = Path(".vaulttools") / "journal" / "plan.json"

NOTES, REWRITTEN = HOSTILE_NOTES, HOSTILE_REWRITTEN


def _vault(tmp_path: Path) -> Path:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    age_git_objects(vault_dir)
    return vault_dir


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.md"))}


@pytest.mark.parametrize("data", [b"", b"a\r\nb\r\n", BOM + b"x", b"no final newline", b"z" * 70_000])
def test_blob_id_is_what_git_names_the_bytes(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "f").write_bytes(data)
    assert blob_id(data) == git(tmp_path, "hash-object", str(tmp_path / "f")).strip()


def _clean(root: Path) -> None:
    pass


def _edited_and_staged(root: Path) -> None:
    (root / "crlf.md").write_bytes(b"staged\r\n")
    git(root, "add", "crlf.md")


def _edited_not_staged(root: Path) -> None:
    (root / "crlf.md").write_bytes(b"typed\r\n")


def _packed(root: Path) -> None:
    git(root, "gc", "-q")


def _borrowing(root: Path) -> None:
    (root / ".git" / "objects" / "info" / "alternates").write_text("/nowhere\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("how", "stored", "loose"),
    [
        (_clean, {"crlf.md", "bom.md"}, True),  # no-op: what the index holds is what the notes hold
        (_edited_and_staged, {"bom.md"}, True),  # the index holds other bytes than the plan read
        (_edited_not_staged, {"crlf.md", "bom.md"}, True),  # the index's blob is the plan's bytes
        (_packed, {"crlf.md", "bom.md"}, False),  # packed: no loose file, git synced the pack
        (_borrowing, set(), True),  # alternates: loose objects may be another repository's files
    ],
)
def test_stored_blobs_are_the_index_entries_holding_the_planned_bytes(
    tmp_path: Path, how: Callable[[Path], None], stored: set[str], loose: bool
) -> None:
    vault_dir = _vault(tmp_path)
    wanted = {name: blob_id(NOTES[name]) for name in ("crlf.md", "bom.md")} | {"untracked.md": blob_id(b"u")}
    (vault_dir / "untracked.md").write_bytes(b"u")
    how(vault_dir)
    repo = Repository.find(vault_dir)
    assert repo is not None
    found = repo.stored_blobs(wanted)
    assert set(found) == stored
    assert all(blob.oid == wanted[path] for path, blob in found.items())
    assert all((blob.loose_since is not None) == loose for blob in found.values())


def test_stored_blobs_by_folder_give_the_object_folders_last_change(tmp_path: Path) -> None:
    vault_dir = _vault(tmp_path)
    wanted = {name: blob_id(NOTES[name]) for name in ("crlf.md", "bom.md")}
    objects = vault_dir / ".git" / "objects"
    for folder in objects.glob("??"):
        os.utime(folder, (1000.0, 1000.0))
    repo = Repository.find(vault_dir)
    assert repo is not None
    found = repo.stored_blobs(wanted, by_folder=True)
    assert {path: blob.loose_since for path, blob in found.items()} == {"crlf.md": 1000.0, "bom.md": 1000.0}
    exact = repo.stored_blobs(wanted)
    assert all(repo.loose_object_time(blob.oid) == exact[path].loose_since for path, blob in found.items())
    assert all(blob.loose_since is not None and blob.loose_since > 1000.0 for blob in exact.values())


@pytest.mark.parametrize(("folder_age", "object_age", "named"), [(60, 0, True), (0, 60, True), (0, 0, False)])
def test_a_blob_counts_as_synced_by_its_folder_or_else_by_its_own_file(
    tmp_path: Path, folder_age: float, object_age: float, named: bool
) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    age_git_objects(vault_dir, object_age)
    then = time.time() - folder_age
    for folder in (vault_dir / ".git" / "objects").glob("??"):
        os.utime(folder, (then, then))
    plan = _plan(vault_dir)
    in_git = batch_module._originals_in_git(Repository.find(vault_dir), plan)
    assert bool(in_git) == named


def test_read_blobs_lazily_gives_none_for_a_blob_git_does_not_have(tmp_path: Path) -> None:
    vault_dir = _vault(tmp_path)
    present = blob_id(NOTES["crlf.md"])
    readers = read_blobs_lazily(vault_dir, [present, "0" * 40, present])
    read = {oid: None if reader is None else reader() for oid, reader in readers.items()}
    assert read == {present: NOTES["crlf.md"], "0" * 40: None}


def _plan(vault_dir: Path) -> BatchPlan:
    return plan_normalize(Vault(vault_dir))


@pytest.mark.parametrize(
    ("age", "named"),
    [
        (60, True),  # written well before the batch's sync: durable, named
        (0, False),  # written as the sync began: maybe renamed into place after it, copied
        (-60, False),  # a clock ahead or a blob touched since: copied
    ],
)
def test_only_blobs_written_before_the_sync_are_named(tmp_path: Path, age: float, named: bool) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    age_git_objects(vault_dir, age)
    plan = _plan(vault_dir)
    in_git = batch_module._originals_in_git(Repository.find(vault_dir), plan)
    expected = {i: blob_id(NOTES[c.path]) for i, c in enumerate(plan.changes)} if named else {}
    assert in_git == expected


def test_nothing_is_named_outside_git_or_for_changes_that_move_create_or_lack_a_blob(tmp_path: Path) -> None:
    vault_dir = _vault(tmp_path)
    plan = _plan(vault_dir)
    assert batch_module._originals_in_git(None, plan) == {}
    moved = FileChange("crlf.md", NOTES["crlf.md"], b"moved\n", "elsewhere.md").old_left_on_disk(vault_dir)
    created = FileChange("new.md", None, b"new\n").old_left_on_disk(vault_dir)
    unfingerprinted = FileChange("bom.md", NOTES["bom.md"], b"changed\n")  # not from a normalize worker
    other = BatchPlan("test", "x", [moved, created, unfingerprinted])
    assert batch_module._originals_in_git(Repository.find(vault_dir), other) == {}


def test_the_sync_ends_before_the_first_note_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_dir = _vault(tmp_path)
    plan = _plan(vault_dir)
    events: list[str] = []
    real_synced_before, real_write = batch_module.synced_before, batch_module.rewrite_in_place

    def synced_before() -> float:
        started = real_synced_before()
        events.append("synced")
        return started

    def write(path: str, data: bytes, expected: object = None, **options: bool) -> bool:
        events.append("write")
        return real_write(path, data, expected, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module, "synced_before", synced_before)
    monkeypatch.setattr(batch_module, "rewrite_in_place", write)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert events == ["synced"] + ["write"] * len(REWRITTEN)


@pytest.mark.parametrize(
    ("current", "accepts", "written"),
    [
        (b"old\r\n", True, True),
        (b"old\r\n", False, False),  # the check refuses: another program's bytes stay
        (BOM + b"old", True, True),
    ],
)
def test_rewrite_in_place_asks_a_check_function_for_the_current_bytes(
    tmp_path: Path, current: bytes, accepts: bool, written: bool
) -> None:
    note = tmp_path / "n.md"
    note.write_bytes(current)
    seen: list[bytes] = []

    def check(data: bytes) -> bool:
        seen.append(data)
        return accepts

    assert rewrite_in_place(note, b"new", expected=check) is written
    assert seen == [current]
    assert note.read_bytes() == (b"new" if written else current)


def _kill_after(vault_dir: Path, count: int) -> dict:
    killed = run_vaulttools(vault_dir, "normalize-links", env={CRASH_AFTER_ENV: str(count)})
    assert killed.returncode == -9, killed.stderr
    record: dict = json.loads((vault_dir / JOURNAL_PLAN).read_text(encoding="utf-8"))
    return record


@pytest.mark.parametrize("after", [1, len(REWRITTEN)])
def test_recover_puts_back_the_originals_named_as_blobs_byte_for_byte(tmp_path: Path, after: int) -> None:
    vault_dir = _vault(tmp_path)
    record = _kill_after(vault_dir, after)
    assert {entry["backup"] for entry in record["changes"]} == {journal.GIT_BACKUP}
    assert not (vault_dir / JOURNAL_PLAN).with_name(journal.ORIGINALS_FILE).read_bytes()  # nothing copied
    assert _snapshot(vault_dir) != NOTES
    recovered = run_vaulttools(vault_dir, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert _snapshot(vault_dir) == NOTES
    assert commits(vault_dir) == 1
    assert_clean(vault_dir)


def test_recover_refuses_when_git_lost_a_named_blob(tmp_path: Path) -> None:
    vault_dir = _vault(tmp_path)
    record = _kill_after(vault_dir, 1)
    lost = record["changes"][-1]
    (vault_dir / ".git" / "objects" / lost["blob"][:2] / lost["blob"][2:]).unlink()
    killed_state = _snapshot(vault_dir)
    refused = run_vaulttools(vault_dir, "recover")
    assert refused.returncode == 2
    assert (
        f"{lost['path']}: the journal keeps its bytes from before the batch as git object" in refused.stderr
    )
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert _snapshot(vault_dir) == killed_state  # nothing put back
    assert (vault_dir / JOURNAL_PLAN).is_file()  # the journal stays for the next try


def test_a_rollback_puts_back_the_originals_named_as_blobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes_module, "LEFT_ON_DISK_FROM", 0)
    vault_dir = _vault(tmp_path)
    plan = _plan(vault_dir)
    assert all(change.old_on_disk is not None for change in plan.changes)  # every note: only git has it
    last = plan.changes[-1].path

    def fail_on_last(written: str) -> None:
        if written == last:
            raise OSError(28, "No space left on device", written)

    with pytest.raises(BatchAborted, match=r"No space left on device.*every file was put back"):
        run_batch(Vault(vault_dir), plan, BatchOptions(), after_write=fail_on_last)
    assert _snapshot(vault_dir) == NOTES
    assert commits(vault_dir) == 1
    assert_clean(vault_dir)


def test_a_note_deleted_while_the_batch_writes_stops_it_and_the_written_ones_come_back_from_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes_module, "LEFT_ON_DISK_FROM", 0)
    vault_dir = _vault(tmp_path)
    plan = _plan(vault_dir)
    first, last = plan.changes[0].path, plan.changes[-1].path

    def another_program_deletes(written: str) -> None:
        if written == first:
            (vault_dir / last).unlink()

    with pytest.raises(EditConflict, match=f"{last} was changed by another program"):
        run_batch(Vault(vault_dir), plan, BatchOptions(), after_write=another_program_deletes)
    assert _snapshot(vault_dir) == {name: data for name, data in NOTES.items() if name != last}
    assert commits(vault_dir) == 1
    assert not (vault_dir / JOURNAL_PLAN).exists()


def test_a_git_that_cannot_list_its_index_leaves_every_original_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_dir = _vault(tmp_path)
    plan = _plan(vault_dir)

    def broken(self: Repository, wanted: dict[str, str], **options: object) -> dict:
        raise GitError("git ls-files failed: index file corrupt")

    monkeypatch.setattr(Repository, "stored_blobs", broken)
    assert batch_module._originals_in_git(Repository.find(vault_dir), plan) == {}
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert commits(vault_dir) == 2
    assert_clean(vault_dir)


def _index_read_early(vault_dir: Path) -> None:
    batch_module.read_git_index_in_background(vault_dir)
    batch_module._EARLY_INDEX[0][1]()[1]  # read, as while a command plans


def test_an_index_read_while_planning_is_taken_when_nothing_changed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_dir = _vault(tmp_path)
    plan = _plan(vault_dir)
    _index_read_early(vault_dir)
    listed: list[str] = []
    real = Repository._list_index
    monkeypatch.setattr(Repository, "_list_index", lambda self: listed.append("now") or real(self))
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert listed == []  # the batch listed no index of its own
    assert commits(vault_dir) == 2
    assert_clean(vault_dir)


def _staged_otherwise(root: Path) -> None:
    """The index now holds other bytes for a planned note (its file on disk untouched): dirty."""
    (root / "other.bin").write_bytes(b"staged elsewhere\n")
    oid = git(root, "hash-object", "-w", "other.bin").strip()
    (root / "other.bin").unlink()
    git(root, "update-index", "--cacheinfo", f"100644,{oid},crlf.md")


def _head_moved_otherwise(root: Path) -> None:
    """HEAD moved to a commit whose planned note differs from the index (which no program wrote): that
    note is now a staged change against HEAD, dirty."""
    other = root / "other.bin"
    other.write_bytes(b"committed elsewhere\n")
    oid = git(root, "hash-object", "-w", "other.bin").strip()
    other.unlink()
    listing = git(root, "ls-tree", "HEAD")
    entries = [line for line in listing.splitlines() if not line.endswith("\tcrlf.md")]
    entries.append(f"100644 blob {oid}\tcrlf.md")
    tree = subprocess.run(
        ["git", "mktree"],
        cwd=root,
        input="\n".join(entries) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    commit = git(root, "commit-tree", tree, "-p", "HEAD", "-m", "meanwhile").strip()
    stamp = os.stat(root / ".git" / "index").st_mtime_ns
    git(root, "update-ref", "HEAD", commit)
    assert os.stat(root / ".git" / "index").st_mtime_ns == stamp  # the index file untouched


@pytest.mark.parametrize("meanwhile", [_staged_otherwise, _head_moved_otherwise])
def test_an_index_read_while_planning_is_read_again_once_git_changed_it(
    tmp_path: Path, meanwhile: Callable[[Path], None]
) -> None:
    vault_dir = _vault(tmp_path)
    plan = _plan(vault_dir)
    assert any(change.path == "crlf.md" for change in plan.changes)
    _index_read_early(vault_dir)
    repo = Repository.find(vault_dir)
    assert repo is not None
    listing = batch_module._EARLY_INDEX[0][1]()[1]
    assert listing is not None and repo.index_unchanged(listing)
    meanwhile(vault_dir)
    assert not repo.index_unchanged(listing)
    before = _snapshot(vault_dir)
    with pytest.raises(DirtyFilesError, match=r"crlf\.md"):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert _snapshot(vault_dir) == before  # refused before the first write


def test_recover_reads_each_original_blob_only_as_it_puts_its_note_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every named blob is known present before any note is put back, but each one's bytes are read only
    for its own note: a recover of 50,000 long notes held all of them at once (1.7 GB)."""
    from vaulttools import git as git_module
    from vaulttools.history import recover_interrupted

    vault_dir = _vault(tmp_path)
    _kill_after(vault_dir, len(REWRITTEN))
    read: list[int] = []
    real_read = git_module._read_span
    monkeypatch.setattr(git_module, "_read_span", lambda *args: read.append(1) or real_read(*args))
    reads_before_write: list[int] = []
    real_write = journal.rewrite_in_place
    monkeypatch.setattr(
        journal,
        "rewrite_in_place",
        lambda *a, **k: reads_before_write.append(len(read)) or real_write(*a, **k),
    )
    recovered = recover_interrupted(vault_dir)
    assert recovered.restored and _snapshot(vault_dir) == NOTES
    assert reads_before_write == list(
        range(1, len(reads_before_write) + 1)
    )  # one blob read per note put back


def test_read_blobs_lazily_refuses_a_cut_short_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaulttools import git as git_module

    vault_dir = _vault(tmp_path)
    present = blob_id(NOTES["crlf.md"])
    real = git_module.run_git

    def cut(cwd: Path, args: tuple, **kwargs: object) -> object:
        out = real(cwd, args, **kwargs)  # type: ignore[arg-type]
        stdout = kwargs["stdout"]
        stdout.truncate(stdout.tell() - 5)  # type: ignore[attr-defined]
        return out

    monkeypatch.setattr(git_module, "run_git", cut)
    with pytest.raises(GitError, match="cut short"):
        git_module.read_blobs_lazily(vault_dir, [present])
