"""A batch killed between preparing its copy of git's index and its commit leaves the copy in the git folder
(`.git/index.vaulttools-<pid>`, as big as the index). `recover`, and the next batch that prepares a copy of
its own, remove the copies whose process is gone, and only those."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of, snapshot
from tests.helpers import NEW, OLD, assert_clean, commits, found_repository, git_blob_id, run_vaulttools
from vaulttools.batch import CRASH_AFTER_ENV
from vaulttools.git import PREPARED_INDEX_PREFIX, stale_prepared_indexes


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped): no process has it now."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def _copies(root: Path) -> list[str]:
    return sorted(name for name in os.listdir(root / ".git") if name.startswith(PREPARED_INDEX_PREFIX))


def _plant(root: Path, pid: int | str) -> str:
    """A copy of git's index under the name a batch of process `pid` gives it."""
    name = f"{PREPARED_INDEX_PREFIX}{pid}"
    (root / ".git" / name).write_bytes((root / ".git" / "index").read_bytes())
    return name


@pytest.mark.parametrize(
    ("names", "live", "expected"),
    [
        ([], set(), []),  # nothing there
        (["index", "HEAD", "config", "packed-refs"], set(), []),  # git's own files
        (["index.vaulttools-41"], {41}, []),  # a running batch's copy is left alone
        (["index.vaulttools-41"], set(), ["index.vaulttools-41"]),
        (
            ["index.vaulttools-9", "index.vaulttools-41", "index.vaulttools-7"],
            {41},
            ["index.vaulttools-7", "index.vaulttools-9"],
        ),
        (["index.vaulttools-", "index.vaulttools-4a", "index.vaulttools--3"], set(), []),  # not a process id
        (["index.vaulttools-\u0664\u0661"], set(), []),  # Arabic-Indic digits: not a name vaulttools writes
        (["index.lock", "index.vaulttools-41.lock", "sharedindex.41"], set(), []),  # other programs' files
    ],
)
def test_stale_prepared_indexes_are_the_copies_of_processes_gone(
    names: list[str], live: set[int], expected: list[str]
) -> None:
    assert stale_prepared_indexes(names, live.__contains__) == expected


def test_the_repository_removes_only_the_copies_of_processes_gone(tmp_path: Path) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "vault")
    dead = _plant(root, _dead_pid())
    running = _plant(root, os.getpid())
    other = _plant(root, "notes")
    repo = found_repository(root)
    assert repo.remove_stale_prepared_indexes() == [dead]
    assert _copies(root) == sorted([running, other])
    assert repo.remove_stale_prepared_indexes() == []  # nothing more to remove
    assert git(root, "status", "--porcelain") == ""


def test_a_batch_preparing_its_copy_removes_a_killed_batchs(tmp_path: Path) -> None:
    root = git_vault_of({"a.md": b"a\n"}, tmp_path / "vault")
    _plant(root, _dead_pid())
    repo = found_repository(root)
    prepared = repo.prepare_index(b"100644 %s\ta.md\0" % git_blob_id(b"new\n").encode())
    assert prepared is not None
    assert _copies(root) == [prepared.path.name] == [f"{PREPARED_INDEX_PREFIX}{os.getpid()}"]
    prepared.discard()
    assert _copies(root) == []


def test_recover_after_a_kill_leaves_no_copy_of_the_index(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    crashed = run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: "1"})
    assert crashed.returncode == -9, crashed.stderr
    left = _plant(sample_vault, _dead_pid())  # what a batch killed after preparing its copy leaves
    assert left in _copies(sample_vault)

    recovered = run_vaulttools(sample_vault, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert _copies(sample_vault) == []
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)
    assert commits(sample_vault) == 1
    assert git(sample_vault, "fsck", "--no-progress") == ""
