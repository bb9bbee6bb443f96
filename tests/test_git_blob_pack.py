"""A big batch's files stored in git as one pack (`_BlobPacker`): the same commit as `git hash-object -w`
makes, only where git stores the files as they are, each object once, none that git holds already."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import vaulttools.git as git_module
from tests.conftest import git, git_vault_of
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.errors import BatchAborted
from vaulttools.git import Repository
from vaulttools.vault import Vault

NOTES = 120  # past PACK_FROM: the batch packs


def _files(count: int = NOTES) -> dict[str, bytes]:
    files = {f"n/note-{number:03}.md": f"note {number}\n".encode() * 40 for number in range(count)}
    files["top.md"] = b"top\r\nwith CRLF\r\n"
    return files


def _plan(root: Path, new: dict[str, bytes]) -> BatchPlan:
    changes = [FileChange(path, (root / path).read_bytes(), data, None) for path, data in new.items()]
    return BatchPlan("test", "a test batch", changes, counts={"notes": len(changes)})


def _edits(files: dict[str, bytes]) -> dict[str, bytes]:
    edited = {path: data + b"edited\n" for path, data in files.items()}
    edited["n/note-001.md"] = edited["n/note-002.md"]  # two files with the same bytes: one object
    return edited


def _commit(root: Path, new: dict[str, bytes]) -> str:
    result = run_batch(Vault(root), _plan(root, new), BatchOptions())
    assert result.committed is not None
    return git(root, "rev-parse", "HEAD^{tree}").strip()


def _packs(root: Path) -> list[str]:
    return sorted(path.name for path in (root / ".git/objects/pack").glob("*.pack"))


def test_a_packed_batch_commits_what_hash_object_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files()
    packed = git_vault_of(files, tmp_path / "packed")
    loose = git_vault_of(files, tmp_path / "loose")
    tree = _commit(packed, _edits(files))
    assert len(_packs(packed)) == 1
    monkeypatch.setattr(git_module, "PACK_FROM", 10**9)
    assert _commit(loose, _edits(files)) == tree
    assert _packs(loose) == []
    for root in (packed, loose):
        assert git(root, "status", "--porcelain") == ""
        git(root, "fsck", "--strict", "--no-dangling")


def test_a_small_batch_stores_loose_objects(tmp_path: Path) -> None:
    files = _files(count=3)
    root = git_vault_of(files, tmp_path / "v")
    _commit(root, _edits(files))
    assert _packs(root) == []


def test_objects_git_holds_are_not_packed_again(tmp_path: Path) -> None:
    """Loose ones are freshened, packed ones found in the pack's index: a rerun writes no new pack."""
    files = _files()
    root = git_vault_of(files, tmp_path / "v")
    tree = _commit(root, _edits(files))
    git(root, "reset", "-q", "--hard", "HEAD~1")
    assert _commit(root, _edits(files)) == tree
    assert len(_packs(root)) == 1  # every object was in the first batch's pack
    git(root, "reset", "-q", "--hard", "HEAD~1")
    git(root, "repack", "-a", "-d", "-q")  # now in one pack with the rest
    before = _packs(root)
    assert _commit(root, _edits(files)) == tree
    assert _packs(root) == before
    git(root, "fsck", "--strict", "--no-dangling")


@pytest.mark.parametrize(
    ("setting", "attributes", "as_they_are"),
    [
        ("", "", True),
        ("", "*.md -text\n", True),
        ("true", "", False),
        ("input", "", False),
        ("", "*.md text\n", False),
        ("", "*.md text=auto\n", False),
        ("", "*.md eol=crlf\n", False),
        ("", "*.md filter=lfs\n", False),
        ("", "*.md ident\n", False),
        ("", "*.md working-tree-encoding=UTF-16\n", False),
        ("", "n/*.md text\n", False),  # one path of the batch is enough
        ("", "other/*.md text\n", True),
    ],
)
def test_stores_files_as_they_are(tmp_path: Path, setting: str, attributes: str, as_they_are: bool) -> None:
    root = git_vault_of({"n/a.md": b"a\n", "b.md": b"b\n"}, tmp_path / "v")
    if setting:
        git(root, "config", "core.autocrlf", setting)
    if attributes:
        (root / ".gitattributes").write_text(attributes)
    repo = Repository.find(root)
    assert repo is not None
    assert repo.stores_files_as_they_are(["n/a.md", "b.md"]) is as_they_are


def test_a_batch_writing_gitattributes_is_not_packed(tmp_path: Path) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "v")
    repo = Repository.find(root)
    assert repo is not None
    assert repo.stores_files_as_they_are(["a.md", "sub/.gitattributes"]) is False


def test_converting_settings_leave_the_batch_to_hash_object(tmp_path: Path) -> None:
    """With `eol=lf`, git stores the CRLF note converted: the batch's commit holds git's blob, not ours."""
    files = {**_files(), "top.md": b"top\n"}
    root = git_vault_of(files, tmp_path / "v")
    (root / ".gitattributes").write_text("top.md text eol=lf\n")
    git(root, "add", ".gitattributes")
    git(root, "commit", "-q", "-m", "attributes")
    new = {**_edits(files), "top.md": b"top\r\nnow CRLF\r\n"}
    _commit(root, new)
    assert _packs(root) == []
    assert git(root, "show", "HEAD:top.md") == "top\nnow CRLF\n"
    assert (root / "top.md").read_bytes() == new["top.md"]


def test_a_blob_git_names_otherwise_stops_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard after `git index-pack`: every blob id computed here must be one git now holds, as a blob
    of that size; else nothing is committed and the files are put back."""
    files = _files()
    root = git_vault_of(files, tmp_path / "v")
    head = git(root, "rev-parse", "HEAD")
    real_blob_id = git_module._blob_id
    monkeypatch.setattr(git_module, "_blob_id", lambda data, name: real_blob_id(data + b"!", name))
    with pytest.raises(BatchAborted, match="another id"):
        run_batch(Vault(root), _plan(root, _edits(files)), BatchOptions())
    assert git(root, "rev-parse", "HEAD") == head
    assert all((root / path).read_bytes() == data for path, data in files.items())


def test_a_file_the_packer_cannot_read_stops_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files()
    root = git_vault_of(files, tmp_path / "v")
    head = git(root, "rev-parse", "HEAD")

    def unreadable(self: object, paths: list[str]) -> list:
        raise PermissionError(13, "Permission denied", paths[0])

    monkeypatch.setattr(git_module._BlobPacker, "_read_and_name", unreadable)
    with pytest.raises(BatchAborted, match="could not store the batch's files in git"):
        run_batch(Vault(root), _plan(root, _edits(files)), BatchOptions())
    assert git(root, "rev-parse", "HEAD") == head
    assert all((root / path).read_bytes() == data for path, data in files.items())


def test_pack_index_lookup(tmp_path: Path) -> None:
    root = git_vault_of(_files(count=300), tmp_path / "v")
    git(root, "repack", "-a", "-d", "-q")
    indexes = git_module._pack_indexes(str(root / ".git/objects/pack"), 20)
    assert len(indexes) == 1
    ids = git(root, "rev-list", "--objects", "--all").split()
    ids = [oid for oid in ids if len(oid) == 40]
    assert len(ids) > 300
    assert all(bytes.fromhex(oid) in indexes[0] for oid in ids)
    for oid in ids[:50]:  # a neighbour of each id: never found
        other = (int(oid, 16) ^ 1).to_bytes(20, "big")
        assert other not in indexes[0]
    assert bytes(20) not in indexes[0] and b"\xff" * 20 not in indexes[0]


def test_a_sha256_repository_packs_too(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    if subprocess.run(["git", "init", "-q", "--object-format=sha256"], cwd=root).returncode != 0:
        pytest.skip("this git cannot make SHA-256 repositories")
    files = _files()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    git(root, "config", "core.autocrlf", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    new = _edits(files)
    _commit(root, new)
    assert len(_packs(root)) == 1
    assert git(root, "show", "HEAD:n/note-007.md").encode() == new["n/note-007.md"]
    assert git(root, "status", "--porcelain") == ""
    git(root, "fsck", "--strict", "--no-dangling")


def test_a_packed_batch_of_a_vault_in_a_folder_of_the_repository(tmp_path: Path) -> None:
    """Blob paths (the attributes asked, the files read back) are the repository's, not the vault's."""
    files = _files()
    root = git_vault_of({f"vault/{path}": data for path, data in files.items()}, tmp_path / "repo")
    (root / ".gitattributes").write_text("other/*.md text\n")  # not the vault's notes: still packed
    git(root, "add", ".gitattributes")
    git(root, "commit", "-q", "-m", "attributes")
    new = _edits(files)
    _commit(root / "vault", new)
    assert len(_packs(root)) == 1
    assert git(root, "show", "HEAD:vault/n/note-005.md").encode() == new["n/note-005.md"]
    assert git(root, "status", "--porcelain") == ""
    git(root, "fsck", "--strict", "--no-dangling")


def test_a_packed_batch_in_a_linked_worktree(tmp_path: Path) -> None:
    """A `git worktree`: objects live in the main repository's folder (`git rev-parse --git-path`)."""
    files = _files()
    main = git_vault_of(files, tmp_path / "main")
    git(main, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    side = tmp_path / "side"
    new = _edits(files)
    _commit(side, new)
    assert len(_packs(main)) == 1
    assert git(side, "show", "HEAD:n/note-005.md").encode() == new["n/note-005.md"]
    assert git(side, "status", "--porcelain") == ""
    git(main, "fsck", "--strict", "--no-dangling")
