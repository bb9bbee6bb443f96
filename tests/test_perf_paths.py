"""The faster write and git paths keep their guarantees (issue 7): one `cat-file --batch` for undo, a plain
commit only when nothing else is staged, one originals file in the journal, one sync per batch."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git, snapshot
from vaulttools import files as files_module
from vaulttools import journal
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.errors import GitError
from vaulttools.git import Repository, read_batch_blob
from vaulttools.history import latest_undoable, plan_undo
from vaulttools.vault import Vault

FILES = {
    "plain.md": b"plain [[b]]\n",
    "with space.md": b"no final newline",
    "crlf.md": b"\xef\xbb\xbf---\r\nid: x\r\n---\r\nbody\r\n",
    "empty.md": b"",
    "binary.bin": bytes(range(256)) * 3,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "v"
    root.mkdir()
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def _head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def _blob(root: Path, name: str) -> bytes:
    return git(root, "rev-parse", f"HEAD:{name}").strip().encode()


def test_blob_contents_returns_every_file_byte_for_byte_in_order(repo: Path) -> None:
    repository = Repository.find(repo)
    assert repository is not None
    names = [*FILES, "plain.md"]  # a repeat is read again, in place
    assert list(repository.blob_contents([_blob(repo, name) for name in names])) == [FILES[n] for n in names]
    assert list(repository.blob_contents([])) == []


def test_blob_sizes_gives_each_size_and_refuses_an_unknown_object(repo: Path) -> None:
    repository = Repository.find(repo)
    assert repository is not None
    ids = {name: _blob(repo, name).decode() for name in FILES}
    assert repository.blob_sizes(ids.values()) == {ids[name]: len(data) for name, data in FILES.items()}
    assert repository.blob_sizes([]) == {}
    with pytest.raises(GitError, match=r"object 0{40} is not a file"):
        repository.blob_sizes([ids["plain.md"], "0" * 40])


def test_blob_contents_refuses_an_object_missing_from_the_repository(repo: Path) -> None:
    """A damaged repository (the blob's object deleted): `cat-file` answers `missing`, and undo stops."""
    repository = Repository.find(repo)
    assert repository is not None
    oid = git(repo, "rev-parse", "HEAD:plain.md").strip()
    (repo / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    with pytest.raises(GitError, match=rf"object {oid} is not a file"):
        list(repository.blob_contents([oid.encode()]))


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (b"abc blob 3\nxyz\n", b"xyz"),
        (b"abc blob 0\n\n", b""),
        (b"abc missing\n", "not a file"),
        (b"abc tree 3\nxyz\n", "not a file"),
        (b"abc blob 5\nxy", "cut short"),
    ],
)
def test_read_batch_blob(output: bytes, expected: bytes | str) -> None:
    if isinstance(expected, bytes):
        assert read_batch_blob(io.BytesIO(output), b"abc") == expected
        return
    with pytest.raises(GitError, match=expected):
        read_batch_blob(io.BytesIO(output), b"abc")


def _batch(root: Path) -> BatchPlan:
    changes = [
        FileChange("plain.md", FILES["plain.md"], b"plain [[c]]\n"),
        FileChange("with space.md", FILES["with space.md"], b"moved", "folder/new name.md"),
        FileChange("empty.md", FILES["empty.md"], None),
        FileChange("created.md", None, b"new\n"),
    ]
    return BatchPlan("test", "a test batch", changes)


def test_undo_restores_modified_moved_deleted_and_created_files(repo: Path) -> None:
    before = snapshot(repo)
    run_batch(Vault(repo), _batch(repo), BatchOptions())
    repository = Repository.find(repo)
    assert repository is not None
    plan = plan_undo(repository, latest_undoable(repository))
    run_batch(Vault(repo), plan, BatchOptions())
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == ""


def test_plain_commit_when_nothing_else_is_staged_records_exactly_the_batch(repo: Path) -> None:
    parent = _head(repo)
    result = run_batch(Vault(repo), _batch(repo), BatchOptions())
    assert result.committed == _head(repo) != parent
    changed = git(repo, "diff-tree", "-r", "--name-status", "--no-renames", parent, "HEAD").split("\n")
    assert sorted(line for line in changed if line) == [
        "A\tcreated.md",
        "A\tfolder/new name.md",
        "D\tempty.md",
        "D\twith space.md",
        "M\tplain.md",
    ]
    assert git(repo, "status", "--porcelain") == ""


def test_something_else_staged_stays_staged_and_out_of_the_commit(repo: Path) -> None:
    (repo / "crlf.md").write_bytes(b"user work\n")
    git(repo, "add", "crlf.md")
    parent = _head(repo)
    run_batch(Vault(repo), _batch(repo), BatchOptions())
    assert "crlf.md" not in git(repo, "diff-tree", "-r", "--name-only", parent, "HEAD")
    assert git(repo, "diff", "--cached", "--name-only") == "crlf.md\n"


def test_journal_keeps_every_original_in_one_file_and_restores_from_it(repo: Path) -> None:
    plan = _batch(repo)
    journal.begin(repo, plan)
    folder = repo / ".vaulttools" / "journal"
    assert sorted(p.name for p in folder.iterdir()) == ["originals.bin", "plan.json"]
    record = journal.pending(repo)
    assert record is not None
    for change in plan.changes:  # simulate a batch killed after writing everything
        if change.new_path:
            (repo / change.new_path).parent.mkdir(parents=True, exist_ok=True)
            (repo / change.new_path).write_bytes(change.new or b"")
            (repo / change.path).unlink()
        elif change.new is None:
            (repo / change.path).unlink()
        else:
            (repo / change.path).write_bytes(change.new)
    journal.restore(repo, record)
    journal.finish(repo)
    restored = {path: data for path, data in snapshot(repo).items() if not path.startswith(".vaulttools/")}
    assert restored == FILES


def test_a_batch_syncs_its_journal_then_once_instead_of_once_per_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"fsync": 0, "sync": 0}
    real_fsync = files_module.os.fsync
    real_fdatasync = getattr(files_module.os, "fdatasync", real_fsync)

    def counting(real: Callable[[int], None]) -> Callable[[int], None]:
        def counted(fd: int) -> None:
            calls["fsync"] += 1
            real(fd)

        return counted

    monkeypatch.setattr(files_module.os, "fsync", counting(real_fsync))
    monkeypatch.setattr(files_module.os, "fdatasync", counting(real_fdatasync), raising=False)
    monkeypatch.setattr(files_module.os, "sync", lambda: calls.__setitem__("sync", calls["sync"] + 1))
    plan = _batch(repo)
    assert len(plan.changes) > 3
    run_batch(Vault(repo), plan, BatchOptions(commit=False))
    # The journal's plan file, its folder and its originals file (one stretch of `SYNC_EVERY` bytes at
    # most): durable before any note is rewritten.
    assert calls == {"fsync": 3, "sync": 1}
    files_module.atomic_write(repo / "plain.md", b"outside a batch\n")  # still durable on its own
    files_module.rewrite_in_place(repo / "plain.md", b"again\n")
    assert calls == {"fsync": 5, "sync": 1}


def test_rename_and_undo_on_the_real_corpus_restore_every_byte(brain_vault: Path, run_cli) -> None:
    """The fast paths end to end on the brain corpus: plain commit, one-sync writes, batched blob reads."""
    before = snapshot(brain_vault)
    base = _head(brain_vault)
    renamed = run_cli(brain_vault, "-q", "rename", "Map of Content", "Map of Content renamed")
    assert renamed.exit_code == 0, renamed.output
    changed = git(brain_vault, "diff-tree", "-r", "--name-only", "--no-renames", base, "HEAD").split()
    assert len(changed) > 2  # the note moved and notes linking to it were rewritten
    undone = run_cli(brain_vault, "-q", "undo")
    assert undone.exit_code == 0, undone.output
    assert snapshot(brain_vault) == before
    assert git(brain_vault, "diff", "--stat", base, "HEAD") == ""
    assert git(brain_vault, "status", "--porcelain") == ""
