"""`Repository.find`: the work tree that holds a vault, found with `git rev-parse` (no GitPython import)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of
from vaulttools.errors import GitError
from vaulttools.git import Repository


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
