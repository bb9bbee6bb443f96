"""The project's own .pre-commit-config.yaml: the checks CI runs, and its two pattern hooks applied here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
HOOKS: dict[str, dict[str, Any]] = {hook["id"]: hook for repo in CONFIG["repos"] for hook in repo["hooks"]}


def test_every_hook_is_local_so_it_runs_offline() -> None:
    assert [repo["repo"] for repo in CONFIG["repos"]] == ["local"]
    assert {hook["language"] for hook in HOOKS.values()} <= {"system", "pygrep"}


@pytest.mark.parametrize(
    ("hook", "command"),
    [
        ("ruff", "ruff check"),
        ("ruff-format", "ruff format"),
        ("mypy", "mypy"),
        ("vaulttools-check-sample-vault", "cp -R vaulttools/sample_vault"),
    ],
)
def test_the_hooks_run_what_ci_runs(hook: str, command: str) -> None:
    assert command in HOOKS[hook]["entry"]


def _tracked_text_files(hook: dict[str, Any]) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    excluded = re.compile(hook["exclude"])
    paths = [name for name in listed.decode("utf-8").split("\0") if name and not excluded.search(name)]
    return [
        ROOT / name for name in paths if (ROOT / name).is_file() and b"\0" not in (ROOT / name).read_bytes()
    ]


@pytest.mark.parametrize(
    ("text", "trailing", "end"),
    [
        ("clean\n", False, False),  # no-op case: nothing to report
        ("spaces  \nok\n", True, False),
        ("tab\t\r\nok\n", True, False),
        ("no final newline", False, True),
        ("blank line at the end\n\n", False, True),
    ],
)
def test_the_pattern_hooks_find_what_they_name(text: str, trailing: bool, end: bool) -> None:
    whitespace = re.compile(HOOKS["trailing-whitespace"]["entry"])
    assert any(whitespace.search(line) for line in text.splitlines(keepends=True)) is trailing
    assert (re.search(HOOKS["end-of-file"]["entry"], text) is not None) is end


@pytest.mark.parametrize("hook_id", ["trailing-whitespace", "end-of-file"])
def test_the_repository_passes_the_pattern_hooks(hook_id: str) -> None:
    hook = HOOKS[hook_id]
    pattern = re.compile(hook["entry"].encode())
    offending = []
    for path in _tracked_text_files(hook):
        data = path.read_bytes()
        parts = [data] if "--multiline" in hook.get("args", []) else data.splitlines(keepends=True)
        if any(pattern.search(part) for part in parts):
            offending.append(path.relative_to(ROOT).as_posix())
    assert offending == []
