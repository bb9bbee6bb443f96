"""Shared test fixtures: sample vaults in real temporary git repositories, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vaulttools import digests
from vaulttools.cli import cli

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_VAULT = REPO_ROOT / "vaulttools" / "sample_vault"
FIXTURES = REPO_ROOT / "fixtures"
BRAIN = REPO_ROOT.parent / "shared" / "corpora" / "brain"

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return its stdout (tests use the command line directly)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=_git_env()
    ).stdout


def _git_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(GIT_IDENTITY)
    env["GIT_CONFIG_GLOBAL"] = "/dev/null"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def make_git_vault(source: Path, target: Path) -> Path:
    """Copy a vault folder into `target`, `git init` it and commit everything."""
    shutil.copytree(source, target, symlinks=True)
    # The shared corpora are laid out read-only; a test copy is the user's own, writable vault.
    for path in [target, *target.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    return commit_everything(target)


def git_vault_of(files: dict[str, bytes], target: Path) -> Path:
    """A git repository at `target` holding `files` (vault path → bytes), all committed."""
    for path, data in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(data)
    return commit_everything(target)


def commit_everything(target: Path) -> Path:
    git(target, "init", "-q", "-b", "main")
    git(target, "config", "core.autocrlf", "false")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "initial")
    return target


def rewrite_same_bytes(root: Path, path: str) -> None:
    """The note's bytes again, under a new stamp (a new inode, mtime and ctime): what `git checkout` or `undo`
    does to a note it leaves as it was."""
    data = (root / path).read_bytes()
    (root / path).unlink()
    (root / path).write_bytes(data)


def ended_process_id() -> int:
    """The id of a process that ran and ended (its files are a killed command's leftovers)."""
    ended = os.fork()
    if ended == 0:
        os._exit(0)
    os.waitpid(ended, 0)
    return ended


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes under `root`, except git's and vaulttools' own folders."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".git/", ".vaulttools/")) or path.is_dir() or path.is_symlink():
            continue
        files[relative] = path.read_bytes()
    return files


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config leaks into tests; a fixed identity for commits made by tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("VAULTTOOLS_VAULT", raising=False)
    for key in GIT_IDENTITY:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def sample_vault(tmp_path: Path) -> Path:
    """The bundled sample vault in a fresh git repository (committed, clean)."""
    return make_git_vault(SAMPLE_VAULT, tmp_path / "vault")


@pytest.fixture
def brain_vault(tmp_path: Path) -> Path:
    if not BRAIN.is_dir():
        pytest.skip("the shared brain corpus is not beside this checkout")
    return make_git_vault(BRAIN, tmp_path / "brain")


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke the CLI in-process: run_cli(vault, "check", "--json")."""
    runner = CliRunner()

    def invoke(vault: Path | None, *args: str, input: str | None = None) -> Result:
        argv = (["--vault", str(vault)] if vault is not None else []) + list(args)
        return runner.invoke(cli, argv, input=input, catch_exceptions=False, standalone_mode=True)

    return invoke


@pytest.fixture(params=[True, False], ids=["xxhash", "no-xxhash"])
def with_xxhash(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Sums taken with the xxhash package (journal version 5, XXH3 caches) and as without it (the package
    hidden: version 4's SHA-256 fields, CRC-32 caches)."""
    if request.param:
        assert digests.has_xxh3(), "xxhash is a dependency: installed with the project"
    else:
        monkeypatch.setattr(digests, "xxhash", None)
    return bool(request.param)
