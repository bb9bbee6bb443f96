"""`Repository.find`: the work tree that holds a vault, found with `git rev-parse` (no GitPython import)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of
from tests.helpers import git_args, git_runs
from vaulttools import git as git_module
from vaulttools.errors import GitError
from vaulttools.git import Repository, _names_a_branch


def test_a_vault_in_a_folder_of_the_work_tree(tmp_path: Path) -> None:
    root = git_vault_of({"vault/a.md": b"a\n"}, tmp_path / "repo")
    repo = Repository.find(root / "vault")
    assert repo is not None
    assert repo.root == root.resolve()
    assert repo.to_repo_path("a.md") == "vault/a.md"
    assert repo.head() == git(root, "rev-parse", "HEAD").strip()
    assert repo.detached_head() is None
    git(root, "checkout", "-q", "--detach")
    assert repo.detached_head() == repo.head()


@pytest.mark.parametrize(
    ("content", "names_a_branch"),
    [
        (b"ref: refs/heads/main\n", True),
        (b"ref: refs/heads/topic/x", True),
        (b"ref: refs/heads/.invalid\n", False),  # the reftable backend's stub: HEAD is in its tables
        (b"0123456789abcdef0123456789abcdef01234567\n", False),  # detached
        (b"ref: refs/remotes/origin/main\n", False),  # not a branch of ours: git decides
        (b"", False),
        (None, False),  # no HEAD file
    ],
)
def test_the_head_file_answers_only_for_a_branch(
    tmp_path: Path, content: bytes | None, names_a_branch: bool
) -> None:
    if content is not None:
        (tmp_path / "HEAD").write_bytes(content)
    assert _names_a_branch(tmp_path / "HEAD") is names_a_branch


def test_git_is_asked_unless_the_head_file_names_a_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: only a HEAD file naming a branch answers without git. The reftable stub (written here
    over a files-backend HEAD, which git 2.39 cannot make) and a detached HEAD are asked of git."""
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    repo = Repository.find(root)
    assert repo is not None
    asked = git_runs(monkeypatch)
    assert repo.detached_head() is None
    assert asked == []
    (root / ".git" / "HEAD").write_text("ref: refs/heads/.invalid\n")
    assert repo.detached_head() is None  # git 2.39 reads no commit there: no HEAD, so none detached
    assert asked[0].args == ("symbolic-ref", "--quiet", "HEAD")
    commit = git(root, "rev-parse", "main").strip()
    (root / ".git" / "HEAD").write_text(commit + "\n")
    assert repo.detached_head() == commit


def test_a_linked_work_tree_has_its_own_head(tmp_path: Path) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    git(root, "worktree", "add", "-q", "--detach", str(tmp_path / "other"))
    other = Repository.find(tmp_path / "other")
    main = Repository.find(root)
    assert other is not None and main is not None
    assert other.detached_head() == git(root, "rev-parse", "HEAD").strip()
    assert main.detached_head() is None


@pytest.mark.parametrize("kind", ["no repository", "bare", "no such folder"])
def test_no_work_tree(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "v"
    if kind != "no such folder":
        folder.mkdir()
    if kind == "bare":
        git(folder, "init", "-q", "--bare")
    assert Repository.find(folder) is None


def test_a_repository_before_its_first_commit(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    git(tmp_path / "v", "init", "-q")
    repo = Repository.find(tmp_path / "v")
    assert repo is not None and repo.head() is None and repo.detached_head() is None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give files away")
def test_a_repository_git_will_not_work_in_is_an_error_not_no_repository(tmp_path: Path) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    for path in [root, *root.rglob("*")]:
        os.lchown(path, 12345, 12345)
    with pytest.raises(GitError, match="dubious ownership"):
        Repository.find(root)


def test_run_git_carries_input_and_output_larger_than_a_pipe(tmp_path: Path) -> None:
    """git reads its input from a file and writes its output to one (`run_git`): 3 MB each way, no pipe
    to fill, and the output is exactly git's."""
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    paths = [f"folder-{n:05}/note-{n:05}.md" for n in range(40_000)]
    output = git_module.run_git(
        root, ("check-attr", "-z", "--stdin", "text"), stdin="\0".join(paths).encode() + b"\0"
    )
    assert output == b"".join(path.encode() + b"\0text\0unspecified\0" for path in paths)
    assert git_module.run_git(root, ("rev-parse", "HEAD")) == git(root, "rev-parse", "HEAD").encode()


def test_run_git_quotes_what_git_said_when_it_fails(tmp_path: Path) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    with pytest.raises(GitError, match=r"git cat-file failed: .*nonexistent"):
        git_module.run_git(root, ("cat-file", "-p", "nonexistent"), stdin=b"ignored\n")


def test_run_git_without_a_temporary_folder_goes_through_pipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback: no temporary file can be made; git still answers, through pipes, and still fails with
    what it said."""
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")

    def no_temporary_file(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    given_output = tempfile.TemporaryFile()  # noqa: SIM115 - a caller's own file, made beforehand
    monkeypatch.setattr(git_module.tempfile, "TemporaryFile", no_temporary_file)
    with given_output:
        assert (
            git_module.run_git(root, ("cat-file", "--batch-check"), stdin=b"HEAD\n", stdout=given_output)
            == b""
        )
        given_output.seek(0)
        head = git(root, "rev-parse", "HEAD").strip()
        assert given_output.read().decode().startswith(f"{head} commit ")
    paths = [f"note-{n:05}.md" for n in range(20_000)]  # more than a pipe holds, both ways
    output = git_module.run_git(
        root, ("check-attr", "-z", "--stdin", "text"), stdin="\0".join(paths).encode() + b"\0"
    )
    assert output == b"".join(path.encode() + b"\0text\0unspecified\0" for path in paths)
    with pytest.raises(GitError, match=r"git cat-file failed: .*nonexistent"):
        git_module.run_git(root, ("cat-file", "-p", "nonexistent"))


def test_head_is_read_from_a_loose_or_packed_branch_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    repo = Repository.find(root)
    assert repo is not None
    commit = git(root, "rev-parse", "HEAD").strip()
    git(root, "tag", "-a", "-m", "a tag", "v1")  # a peeled line in packed-refs
    git(root, "update-ref", "refs/remotes/origin/main", commit)
    asked = git_runs(monkeypatch)
    assert repo.head() == commit
    git(root, "pack-refs", "--all")
    assert not (root / ".git" / "refs" / "heads" / "main").exists()
    assert repo.head() == commit
    assert asked == []


@pytest.mark.parametrize(
    ("packed", "found"),
    [
        (b"# pack-refs with: peeled fully-peeled sorted \n%s refs/heads/main\n", True),
        (b"%s refs/heads/main", True),  # no final newline
        (b"%s refs/remotes/origin/refs/heads/main\n", False),  # another ref ending the same way
        (b"%s refs/heads/mainline\n", False),
        (b"^%s refs/heads/main\n", False),  # a peeled id is no ref's own
        (b"#%s refs/heads/main\n", False),
        (b"", False),
    ],
)
def test_packed_refs_give_a_branch_by_its_exact_name(tmp_path: Path, packed: bytes, found: bool) -> None:
    oid = b"0123456789abcdef0123456789abcdef01234567"
    (tmp_path / "packed-refs").write_bytes(packed.replace(b"%s", oid))
    assert git_module._packed_ref(tmp_path, b"refs/heads/main") == (oid if found else None)


@pytest.mark.parametrize(
    "head_file",
    [
        "ref: refs/heads/.invalid\n",  # the reftable stub
        "{commit}\n",  # detached
        "ref: refs/heads/alias\n",  # a branch that is itself a symbolic ref
        "ref: refs/heads/garbage\n",  # a ref file holding no object id
        "ref: refs/heads/unborn\n",  # no commit yet: git says there is no HEAD
    ],
)
def test_git_is_asked_for_head_where_the_files_do_not_tell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head_file: str
) -> None:
    """The guard: only a branch whose loose or packed ref holds an object id is read from the files."""
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    repo = Repository.find(root)
    assert repo is not None
    commit = git(root, "rev-parse", "HEAD").strip()
    (root / ".git" / "refs" / "heads" / "alias").write_text("ref: refs/heads/main\n")
    (root / ".git" / "refs" / "heads" / "garbage").write_text("not an id\n")
    (root / ".git" / "refs" / "heads" / ".invalid").write_text(commit + "\n")  # no ref git would read
    (root / ".git" / "HEAD").write_text(head_file.format(commit=commit))
    asked = git_runs(monkeypatch)
    expected = None if "unborn" in head_file or ".invalid" in head_file or "garbage" in head_file else commit
    assert repo.head() == expected
    assert git_args(asked) == [("rev-parse", "--verify", "--quiet", "HEAD^{commit}")]


def test_a_linked_work_tree_reads_its_branch_from_the_common_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "repo")
    git(root, "worktree", "add", "-q", "-b", "topic", str(tmp_path / "other"))
    (tmp_path / "other" / "a.md").write_bytes(b"on topic\n")
    git(tmp_path / "other", "commit", "-q", "-am", "topic")
    other = Repository.find(tmp_path / "other")
    main = Repository.find(root)
    assert other is not None and main is not None
    asked = git_runs(monkeypatch)
    assert other.head() == git(tmp_path / "other", "rev-parse", "HEAD").strip()
    assert main.head() == git(root, "rev-parse", "HEAD").strip() != other.head()
    assert asked == []
