"""A big undo and a big rename write less: an undo leaves the batch commit's bytes on disk, known by their
git blob (`FileChange.rewrite_of_blob`), and a batch of many moves removes their sources on the deleter's
threads. Each keeps its guarantees: bytes restored exactly, a file changed meanwhile refused, a failure
rolled back."""

from __future__ import annotations

import pathlib
import threading
from pathlib import Path

import pytest

from tests.conftest import git, snapshot
from tests.helpers import found_repository
from vaulttools import batch, journal
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.errors import BatchAborted, EditConflict
from vaulttools.history import latest_undoable, plan_undo
from vaulttools.vault import Vault

MOVES = batch.DELETE_THREADS_FROM + 4
LONG = b"x" * 9000 + b"\nend\n"  # past a block and `LEFT_ON_DISK_FROM`


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "v"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_bytes(b"a [[b]]\r\n")
    (root / "long.md").write_bytes(LONG)
    (root / "gone.md").write_bytes(b"deleted by the batch\n")
    for number in range(MOVES):
        (root / "sub" / f"n{number}.md").write_bytes(f"note {number}\nsecond line\n".encode())
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "core.autocrlf", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def _batch(root: Path) -> BatchPlan:
    changes = [
        FileChange("a.md", (root / "a.md").read_bytes(), b"a [[c]]\r\n"),
        FileChange("long.md", LONG, LONG.replace(b"end", b"END")),
        FileChange("gone.md", (root / "gone.md").read_bytes(), None),
        FileChange("created.md", None, b"new\n"),
    ]
    for number in range(MOVES):
        path = f"sub/n{number}.md"
        changes.append(FileChange(path, (root / path).read_bytes(), b"moved\n", f"sub/m{number}.md"))
    return BatchPlan("test", "a big batch", changes)


def test_undo_names_the_rewritten_files_by_blob_and_restores_every_byte(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(vault)
    run_batch(Vault(vault), _batch(vault), BatchOptions())
    after = snapshot(vault)
    # Packed, as git leaves a big batch's blobs: a loose object written a moment ago may not be on disk
    # yet, and the journal copies such a file instead of naming its blob (`batch._originals_in_git`).
    git(vault, "repack", "-adq")
    repository = found_repository(vault)
    plan = plan_undo(repository, latest_undoable(repository), vault_root=vault)
    on_disk = {change.path: change.old_on_disk for change in plan.changes if change.old_on_disk is not None}
    assert set(on_disk) == {"a.md", "long.md"}  # rewritten in place: their bytes were not read from git
    for path, left in on_disk.items():
        assert (left.blob, left.size) == (git(vault, "rev-parse", f"HEAD:{path}").strip(), len(after[path]))
        assert left.file == f"{vault}/{path}"
    named: list[dict[int, str]] = []
    real = batch._originals_in_git
    monkeypatch.setattr(batch, "_originals_in_git", lambda *a, **k: named.append(real(*a, **k)) or named[-1])
    run_batch(Vault(vault), plan, BatchOptions())
    assert snapshot(vault) == before
    assert git(vault, "status", "--porcelain") == ""
    in_place = [i for i, change in enumerate(plan.changes) if change.old_on_disk is not None]
    assert sorted(named[0]) == in_place  # the journal named git's blobs instead of copying the files


@pytest.mark.parametrize("packed", [True, False], ids=["blob-named", "original-copied"])
def test_undo_refuses_a_rewritten_file_changed_after_it_was_planned(vault: Path, packed: bool) -> None:
    """Checked where it is written (the journal names the blob: `FileChange.holds_old`) or where the
    journal copies it (a loose object just written)."""
    run_batch(Vault(vault), _batch(vault), BatchOptions())
    after = snapshot(vault)
    if packed:
        git(vault, "repack", "-adq")
    repository = found_repository(vault)
    plan = plan_undo(repository, latest_undoable(repository), vault_root=vault)
    (vault / "long.md").write_bytes(LONG + b"the user's line\n")  # between the plan and its writes
    with pytest.raises(EditConflict, match=r"long\.md was changed by another program"):
        run_batch(Vault(vault), plan, BatchOptions(commit=False))
    assert snapshot(vault) == {**after, "long.md": LONG + b"the user's line\n"}
    assert journal.pending(vault) is None


def test_undo_refuses_a_rewritten_file_with_uncommitted_changes(vault: Path, run_cli) -> None:
    run_batch(Vault(vault), _batch(vault), BatchOptions())
    (vault / "a.md").write_bytes(b"edited since the batch\n")
    head = git(vault, "rev-parse", "HEAD")
    result = run_cli(vault, "undo")
    assert result.exit_code != 0
    assert "a.md" in result.output
    assert (vault / "a.md").read_bytes() == b"edited since the batch\n"
    assert git(vault, "rev-parse", "HEAD") == head


@pytest.mark.parametrize("hooked", [False, True], ids=["known-blobs", "index-stager"])
def test_many_moves_remove_their_sources_on_the_deleter_threads(
    vault: Path, monkeypatch: pytest.MonkeyPatch, hooked: bool
) -> None:
    if hooked:  # a commit hook: the batch stages through `git update-index`, which must find no source
        hook = vault / ".git" / "hooks" / "pre-commit"
        hook.write_text("#!/bin/sh\nexit 0\n")
        hook.chmod(0o755)
    removed_on: dict[str, str] = {}
    real_unlink = pathlib.Path.unlink

    def unlink(path: pathlib.Path, missing_ok: bool = False) -> None:
        removed_on[path.name] = threading.current_thread().name
        real_unlink(path, missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    result = run_batch(Vault(vault), _batch(vault), BatchOptions())
    assert result.committed
    assert all(removed_on[f"n{number}.md"].startswith("vaulttools-delete") for number in range(MOVES))
    files = snapshot(vault)
    assert [f"sub/m{number}.md" for number in range(MOVES) if files.get(f"sub/m{number}.md") == b"moved\n"]
    assert not any(f"sub/n{number}.md" in files for number in range(MOVES))
    assert git(vault, "status", "--porcelain") == ""
    renamed = git(vault, "diff-tree", "-r", "--name-status", "--no-renames", "HEAD~1", "HEAD").split("\n")
    assert sum(line.startswith("D\tsub/n") for line in renamed) == MOVES


def test_a_move_source_that_cannot_be_removed_rolls_the_batch_back(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(vault)
    real_unlink = pathlib.Path.unlink

    def unlink(path: pathlib.Path, missing_ok: bool = False) -> None:
        if path.name == "n3.md":
            raise PermissionError(13, "Permission denied", str(path))
        real_unlink(path, missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    with pytest.raises(BatchAborted, match=r"n3\.md.*every file was put back"):
        run_batch(Vault(vault), _batch(vault), BatchOptions())
    assert snapshot(vault) == before
    assert git(vault, "log", "--format=%s").splitlines() == ["initial"]
    assert git(vault, "status", "--porcelain") == ""
    assert journal.pending(vault) is None


def test_a_file_created_where_a_move_left_keeps_the_removals_in_order(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note created on the path a move vacates must not meet a removal still pending on a thread: the
    sources are then removed one by one, each before the next change is written."""
    deferred: list[Path] = []
    real = batch._Deleter.remove_source
    monkeypatch.setattr(
        batch._Deleter, "remove_source", lambda self, path: deferred.append(path) or real(self, path)
    )
    plan = _batch(vault)
    plan.changes.append(FileChange("sub/n0.md", None, b"created where n0 was\n"))
    run_batch(Vault(vault), plan, BatchOptions())
    assert deferred == []
    assert (vault / "sub" / "n0.md").read_bytes() == b"created where n0 was\n"
    assert (vault / "sub" / "m0.md").read_bytes() == b"moved\n"
    assert git(vault, "status", "--porcelain") == ""
    assert git(vault, "show", "HEAD:sub/n0.md") == "created where n0 was\n"
