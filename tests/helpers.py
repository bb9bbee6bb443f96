"""Helpers shared by several test modules (test modules never import each other)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tests.conftest import REPO_ROOT, git
from vaulttools import planning, yamledit
from vaulttools.note import Note

if TYPE_CHECKING:
    from vaulttools.git import Repository

# The sample vault's rename that the crash and lock tests interrupt.
OLD, NEW = "concept-humane-imperative", "concept-humane-differentiation"
FILES_IN_BATCH = 22  # the sample vault's rename of OLD touches 22 files


def run_vaulttools(vault: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real CLI in its own process, so it can be killed for real."""
    return subprocess.run(
        [sys.executable, "-m", "vaulttools", "--vault", str(vault), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def assert_clean(vault: Path) -> None:
    assert git(vault, "status", "--porcelain", "--untracked-files=all") == ""


def commits(vault: Path) -> int:
    return int(git(vault, "rev-list", "--count", "HEAD"))


def generate_vault(out: Path, notes: int, seed: int) -> Path:
    """A vault from the benchmark generator: hub, suffixed links, groups, related sections."""
    spec = importlib.util.spec_from_file_location(
        "bench_generate_for_tests", REPO_ROOT / "bench" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.generate(out, notes, seed)
    return out


def masked(note: Note) -> list[str]:
    """The note's text cut at its real links: the pieces a rename must leave exactly as they were."""
    pieces, cursor = [], 0
    for link in sorted(note.links, key=lambda lk: lk.start):
        if link.opaque is None and link.start >= cursor:
            pieces.append(note.text[cursor : link.start])
            cursor = link.end
    return [*pieces, note.text[cursor:]]


# --- the verify step's guards (tests/test_verify_guards.py and the mutation script) -----------------


def _no_parse_errors(real: Callable[[str], tuple[Any, Any]]) -> Callable[[str], tuple[Any, Any]]:
    def load(text: str) -> tuple[Any, Any]:
        data, error = real(text)
        return (data, None) if error is None else ({}, None)

    return load


# Each guard of the verify step, and how to turn it off.
GUARDS: dict[str, tuple[Any, str, Callable[[Any], Any]]] = {
    "bytes outside the edits": (planning, "_verify_untouched_bytes", lambda real: lambda *a, **k: None),
    "frontmatter bounds": (
        planning,
        "_verify_frontmatter_bounds",
        lambda real: lambda note, new_text, edits: planning.split_frontmatter(new_text)[0],
    ),
    "YAML re-parse": (yamledit, "load_frontmatter_yaml", _no_parse_errors),
    "YAML shape": (yamledit, "_shape_difference", lambda real: lambda *a, **k: None),
    "node kinds, tags and styles": (yamledit, "_node_difference", lambda real: lambda *a, **k: None),
}


def git_blob_id(data: bytes) -> str:
    """What git itself names these bytes (the oracle for the workers' `old_blob`)."""
    return (
        subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )


BOM = "\ufeff".encode()
# A big note (several blocks) among hostile small ones: CRLF, BOM, no final newline; the notes a
# normalize-links batch rewrites among them (the journal, blob and planned-status tests share them).
HOSTILE_NOTES = {
    "target-d9.md": b"---\nid: target-d9\n---\nThe target.\n",
    "crlf.md": b"---\r\nid: crlf\r\n---\r\nSee [[target]].\r\n",
    "bom.md": BOM + b"See [[target|the target]].\n",
    "no-final-newline.md": b"See [[target]].",
    "big.md": b"x" * 9000 + b"\nSee [[target]].\n" + b"y" * 5000,
}
HOSTILE_REWRITTEN = ["big.md", "bom.md", "crlf.md", "no-final-newline.md"]


class GitRun(NamedTuple):
    """One git command vaulttools ran (`git.run_git`): its arguments (without `-c` settings), the index
    it ran on (None: the repository's own) and the thread that ran it."""

    args: tuple[str, ...]
    index_file: str | None
    thread: str


def git_runs(monkeypatch: Any) -> list[GitRun]:
    """Every git command vaulttools runs from now on, in order (the real commands still run)."""
    from vaulttools import git as git_module

    runs: list[GitRun] = []
    real_run_git = git_module.run_git

    def spy(where: Path, args: tuple[str, ...], *rest: Any, **options: Any) -> bytes:
        runs.append(GitRun(tuple(args), options.get("index_file"), threading.current_thread().name))
        return real_run_git(where, args, *rest, **options)

    monkeypatch.setattr(git_module, "run_git", spy)
    return runs


def git_args(runs: list[GitRun]) -> list[tuple[str, ...]]:
    return [run.args for run in runs]


def found_repository(root: Path) -> Repository:
    """The git work tree holding `root`, which the test made."""
    from vaulttools.git import Repository

    repo = Repository.find(root)
    assert repo is not None
    return repo


def age_git_objects(vault_dir: Path, seconds: float = 60) -> None:
    """As if the vault had been committed `seconds` ago: its loose objects are older than the sync a batch
    starts, so its journal may name them (`batch._originals_in_git`)."""
    then = time.time() - seconds
    for loose in (vault_dir / ".git" / "objects").glob("??/*"):
        os.utime(loose, (then, then))
