"""Crash safety and faults mid-batch (issue 8): a batch is all or nothing, whatever happens while it writes.

Real kills: the CLI runs in a subprocess with the test hook of `vaulttools.batch` (VAULTTOOLS_TEST_CRASH_AFTER=N
makes the process SIGKILL itself right after its Nth file write, `commit` right after the commit). In-process
faults (disk full, Ctrl-C, a concurrent edit, read-only files) go through `run_batch` and the CLI runner.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import git, snapshot
from tests.helpers import FILES_IN_BATCH, NEW, OLD, assert_clean, commits, run_vaulttools
from vaulttools import batch as batch_module
from vaulttools.batch import CRASH_AFTER_ENV, CRASH_MODE_ENV, BatchOptions, run_batch
from vaulttools.errors import EditConflict
from vaulttools.rename import plan_renames
from vaulttools.vault import Vault


@pytest.mark.parametrize("killed_after", [1, 2, FILES_IN_BATCH // 2, FILES_IN_BATCH])
def test_killed_mid_batch_then_recover_restores_every_byte(sample_vault: Path, killed_after: int) -> None:
    before = snapshot(sample_vault)
    crashed = run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: str(killed_after)})
    assert crashed.returncode == -9, crashed.stderr
    assert snapshot(sample_vault) != before  # the kill really left a half-written batch
    assert (sample_vault / ".vaulttools" / "journal" / "plan.json").is_file()

    for refused in (("check",), ("rename", NEW, "other-name"), ("undo",)):
        result = run_vaulttools(sample_vault, *refused)
        assert result.returncode == 2
        assert re.fullmatch(
            r"vaulttools: error: an earlier `vaulttools rename` batch \(id [0-9a-f]{12}, started "
            r"\d\d:\d\d:\d\d\) was interrupted before it finished: run `vaulttools recover` to put the "
            r"vault back as it was before that batch\n",
            result.stderr,
        ), result.stderr
        assert "Traceback" not in result.stderr

    recovered = run_vaulttools(sample_vault, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert "nothing was committed" in recovered.stdout
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)
    assert commits(sample_vault) == 1
    assert run_vaulttools(sample_vault, "recover").stdout == "No interrupted batch: nothing to recover.\n"
    # The vault works again: the same rename now goes through.
    assert run_vaulttools(sample_vault, "rename", OLD, NEW).returncode == 0
    assert commits(sample_vault) == 2


def test_killed_after_the_commit_recover_only_clears_the_journal(sample_vault: Path, tmp_path: Path) -> None:
    crashed = run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: "commit"})
    assert crashed.returncode == -9
    committed = snapshot(sample_vault)
    assert (sample_vault / f"{NEW}.md").is_file() and not (sample_vault / f"{OLD}.md").exists()
    assert commits(sample_vault) == 2
    assert run_vaulttools(sample_vault, "check").returncode == 2  # still refused: the journal is there

    recovered = run_vaulttools(sample_vault, "recover")
    head = git(sample_vault, "rev-parse", "HEAD").strip()
    assert re.fullmatch(
        r"The interrupted `vaulttools rename` batch \(id [0-9a-f]{12}, started \d\d:\d\d:\d\d\) had been "
        rf"committed as {head[:10]}; nothing was reverted; journal cleared.\n",
        recovered.stdout,
    ), recovered.stdout
    assert snapshot(sample_vault) == committed
    assert_clean(sample_vault)
    assert commits(sample_vault) == 2
    assert not (sample_vault / ".vaulttools" / "journal").exists()


def test_recover_removes_a_temporary_file_left_by_a_kill_inside_a_write(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    assert run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: "3"}).returncode == -9
    # What a kill between the temporary file's creation and its `os.replace` leaves behind.
    (sample_vault / f".{OLD}.md.k2j4x.vt-tmp").write_bytes(b"half a note")
    assert run_vaulttools(sample_vault, "recover").returncode == 0
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)


def test_recover_restores_a_note_torn_by_a_kill_inside_an_in_place_write(sample_vault: Path) -> None:
    import json

    before = snapshot(sample_vault)
    shorter = "concept-humane"  # every rewritten note shrinks: its old tail stays until the truncation
    assert run_vaulttools(sample_vault, "rename", OLD, shorter, env={CRASH_AFTER_ENV: "3"}).returncode == -9
    plan = json.loads((sample_vault / ".vaulttools" / "journal" / "plan.json").read_text())
    rewritten = [entry["path"] for entry in plan["changes"] if entry["new_path"] is None]
    written = [path for path in rewritten if (sample_vault / path).read_bytes() != before[path]]
    # What a kill (or power cut) in the middle of writing over a note leaves: new bytes, then old ones.
    torn = sample_vault / written[-1]
    new_bytes = torn.read_bytes()
    assert len(new_bytes) < len(before[written[-1]])
    torn.write_bytes(new_bytes + before[written[-1]][len(new_bytes) :])
    assert run_vaulttools(sample_vault, "recover").returncode == 0
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)


def test_ctrl_c_mid_batch_puts_every_file_back(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    result = run_vaulttools(
        sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: "5", CRASH_MODE_ENV: "interrupt"}
    )
    assert result.returncode == 3
    assert result.stderr == (
        "vaulttools: error: interrupted: every file was put back as it was; nothing was committed\n"
    )
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)
    assert commits(sample_vault) == 1
    assert not (sample_vault / ".vaulttools" / "journal").exists()


@pytest.fixture
def failing_write(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int, int], None]]:
    """fail_on(n, errno): the nth file write of a batch (a new file or one rewritten in place) raises
    OSError; later ones work, so the rollback's own writes succeed."""
    real_atomic = batch_module.atomic_write
    real_in_place = batch_module.rewrite_in_place

    def fail_on(number: int, code: int) -> None:
        calls = {"n": 0}

        def fail_if_nth(path: Path) -> None:
            calls["n"] += 1
            if calls["n"] == number:
                raise OSError(code, os.strerror(code), str(path))

        def flaky_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
            fail_if_nth(path)
            real_atomic(path, data, mode)

        def flaky_in_place(path: Path, data: bytes, expected: bytes | None = None, **options: bool) -> bool:
            fail_if_nth(path)
            return real_in_place(path, data, expected, **options)

        monkeypatch.setattr(batch_module, "atomic_write", flaky_atomic)
        monkeypatch.setattr(batch_module, "rewrite_in_place", flaky_in_place)

    yield fail_on


@pytest.mark.parametrize("failing_file", [1, 2, 12, FILES_IN_BATCH])
def test_disk_full_mid_batch_restores_every_written_file(
    sample_vault: Path,
    run_cli: Callable[..., Result],
    failing_write: Callable[[int, int], None],
    failing_file: int,
) -> None:
    before = snapshot(sample_vault)
    failing_write(failing_file, errno.ENOSPC)
    result = run_cli(sample_vault, "rename", OLD, NEW)
    assert result.exit_code == 3
    assert "No space left on device" in result.output
    assert "every file was put back as it was, nothing was committed" in result.output
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)
    assert commits(sample_vault) == 1


def test_note_changed_by_another_program_while_writing_is_detected_and_rolled_back(
    sample_vault: Path,
) -> None:
    vault = Vault(sample_vault)
    plan = plan_renames(vault, [(OLD, NEW)])
    before = snapshot(sample_vault)
    victim = plan.changes[-1].path
    edited_by_user = before[victim] + b"\nA line typed in Obsidian.\n"

    def obsidian_saves_a_note(written_path: str) -> None:
        if written_path == plan.changes[2].final_path:
            (sample_vault / victim).write_bytes(edited_by_user)

    with pytest.raises(
        EditConflict, match=f"{victim} was changed by another program since vaulttools read it"
    ):
        run_batch(vault, plan, BatchOptions(), after_write=obsidian_saves_a_note)
    after = snapshot(sample_vault)
    assert after == {**before, victim: edited_by_user}  # our writes undone, the user's edit kept
    assert commits(sample_vault) == 1
    assert not (sample_vault / ".vaulttools" / "journal").exists()


def test_note_changed_between_planning_and_writing_is_refused(sample_vault: Path) -> None:
    vault = Vault(sample_vault)
    plan = plan_renames(vault, [(OLD, NEW)])
    victim = sample_vault / plan.changes[0].path
    victim.write_bytes(victim.read_bytes() + b"typed meanwhile\n")
    git(sample_vault, "commit", "-qam", "user edit")  # committed, so only the content hash can tell
    before = snapshot(sample_vault)
    with pytest.raises(
        EditConflict, match="changed by another program since vaulttools read it; every file was put back"
    ):
        run_batch(vault, plan, BatchOptions())
    assert snapshot(sample_vault) == before


def test_read_only_note_is_refused_before_anything_is_written(
    sample_vault: Path, run_cli: Callable[..., Result]
) -> None:
    target = sample_vault / "concept-team-norms.md"  # one of the files the rename rewrites
    target.chmod(0o444)
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "rename", OLD, NEW)
    assert result.exit_code == 2
    assert result.output == (
        "vaulttools: error: concept-team-norms.md is read-only; make it writable (chmod u+w) and run again "
        "(nothing was written)\n"
    )
    assert snapshot(sample_vault) == before
    assert stat.S_IMODE(target.stat().st_mode) == 0o444


def test_read_only_folder_is_refused_before_anything_is_written(
    sample_vault: Path, run_cli: Callable[..., Result]
) -> None:
    folder = sample_vault / "sources"  # holds one file the rename rewrites
    folder.chmod(0o555)
    try:
        before = snapshot(sample_vault)
        result = run_cli(sample_vault, "rename", OLD, NEW)
        assert result.exit_code == 2
        assert "sources is a read-only folder; make it writable" in result.output
        assert snapshot(sample_vault) == before
    finally:
        folder.chmod(0o755)
    assert_clean(sample_vault)


def test_permission_error_mid_batch_rolls_back(
    sample_vault: Path, run_cli: Callable[..., Result], failing_write: Callable[[int, int], None]
) -> None:
    before = snapshot(sample_vault)
    failing_write(7, errno.EACCES)
    result = run_cli(sample_vault, "rename", OLD, NEW)
    assert result.exit_code == 3
    assert "(Permission denied); every file was put back as it was, nothing was committed" in result.output
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)


def test_rejected_commit_hook_rolls_back(sample_vault: Path, run_cli: Callable[..., Result]) -> None:
    hook = sample_vault / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'no commits today' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "rename", OLD, NEW)
    assert result.exit_code == 3
    assert "no commits today" in result.output
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)
    assert commits(sample_vault) == 1
