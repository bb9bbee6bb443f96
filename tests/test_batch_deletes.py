"""A batch that deletes many files (`merge --all`) deletes them on threads: checked, staged and rolled back
as when it deleted them one by one."""

from pathlib import Path

import pytest

from tests.conftest import git, snapshot
from vaulttools import batch, journal
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.errors import BatchAborted, EditConflict
from vaulttools.vault import Vault

COPIES = batch.DELETE_THREADS_FROM + 4


@pytest.fixture
def vault_with_copies(tmp_path: Path) -> Path:
    root = tmp_path / "v"
    (root / "sub").mkdir(parents=True)
    (root / "keep.md").write_bytes(b"keep [[c0]]\n")
    for number in range(COPIES):
        (root / "sub" / f"c{number}.md").write_bytes(f"copy {number}\n".encode())
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def _plan(root: Path) -> BatchPlan:
    changes = [FileChange("keep.md", (root / "keep.md").read_bytes(), b"keep [[keep]]\n")]
    for number in range(COPIES):
        path = f"sub/c{number}.md"
        changes.append(FileChange(path, (root / path).read_bytes(), None))
    return BatchPlan("test", "deletes", changes)


@pytest.mark.parametrize("hooked", [False, True], ids=["blob-writer", "index-stager"])
def test_many_deletions_are_committed(vault_with_copies: Path, hooked: bool) -> None:
    root = vault_with_copies
    if hooked:  # a commit hook makes the batch stage through `git update-index` and run `git commit`
        hook = root / ".git" / "hooks" / "pre-commit"
        hook.write_text("#!/bin/sh\nexit 0\n")
        hook.chmod(0o755)
    result = run_batch(Vault(root), _plan(root), BatchOptions())
    assert result.committed
    assert snapshot(root) == {"keep.md": b"keep [[keep]]\n"}
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "ls-files").split() == ["keep.md"]
    assert journal.pending(root) is None


def test_a_deleted_file_changed_meanwhile_stops_the_batch_and_every_file_comes_back(
    vault_with_copies: Path,
) -> None:
    root = vault_with_copies
    before = snapshot(root)
    last = root / "sub" / f"c{COPIES - 1}.md"

    def edit_a_copy(path: str) -> None:  # after the first write, before the deletions
        if path == "keep.md":
            last.write_bytes(b"edited by the user\n")

    with pytest.raises(EditConflict, match=rf"sub/c{COPIES - 1}\.md was changed by another program"):
        run_batch(Vault(root), _plan(root), BatchOptions(), after_write=edit_a_copy)
    assert snapshot(root) == {**before, f"sub/c{COPIES - 1}.md": b"edited by the user\n"}
    assert git(root, "log", "--format=%s").splitlines() == ["initial"]
    assert journal.pending(root) is None


def test_an_interrupt_while_deleting_puts_every_file_back(vault_with_copies: Path) -> None:
    root = vault_with_copies
    before = snapshot(root)
    seen: list[str] = []

    def interrupt(path: str) -> None:
        seen.append(path)
        if len(seen) == COPIES // 2:  # deletions submitted, some perhaps under way
            raise KeyboardInterrupt

    with pytest.raises(BatchAborted, match="interrupted"):
        run_batch(Vault(root), _plan(root), BatchOptions(), after_write=interrupt)
    assert snapshot(root) == before
    assert git(root, "status", "--porcelain") == ""
