"""Batch safety under concurrency and interruption (issue 14): one writer per vault, a journal that tells a
live batch from an interrupted one, and a `recover` that decides what really happened.

Every scenario runs the real CLI in its own process on a real temporary git repository. The batch's test
hook (`vaulttools.batch._injected_fault`) kills it at a chosen point, or pauses it there (`pause` mode)
so that a test can run other commands beside a batch that is still writing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import git, snapshot
from tests.helpers import FILES_IN_BATCH, NEW, OLD, assert_clean, commits, run_vaulttools
from vaulttools import journal, lock
from vaulttools.batch import CRASH_AFTER_ENV, CRASH_MODE_ENV, PAUSE_DIR_ENV, BatchOptions, run_batch
from vaulttools.errors import EditConflict
from vaulttools.normalize import plan_normalize
from vaulttools.rename import plan_renames
from vaulttools.vault import Vault

TIME = r"\d\d:\d\d:\d\d"
BATCH_ID = r"[0-9a-f]{12}"


def writing_message(command: str) -> str:
    return (
        rf"vaulttools: error: another vaulttools command \({command}, pid \d+, started {TIME}\) "
        r"is writing this vault; wait for it\n"
    )


def start_vaulttools(vault: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vaulttools", "--vault", str(vault), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def pause_at(point: str, folder: Path) -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    return {CRASH_AFTER_ENV: point, CRASH_MODE_ENV: "pause", PAUSE_DIR_ENV: str(folder)}


def wait_until_paused(folder: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while not (folder / "paused").exists():
        if process.poll() is not None:
            pytest.fail(f"the batch ended before it paused: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail("the batch did not reach its pause point")
        time.sleep(0.01)


def release(folder: Path, process: subprocess.Popen) -> tuple[int, str, str]:
    (folder / "release").write_text("go")
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


def assert_fsck_clean(vault: Path) -> None:
    result = subprocess.run(
        ["git", "fsck", "--no-dangling", "--no-progress"], cwd=vault, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


# --- one writer per vault ----------------------------------------------------------------------------


def test_two_writers_started_together_one_refuses_at_once(sample_vault: Path, tmp_path: Path) -> None:
    pause = tmp_path / "pause"
    env = pause_at("start", pause)  # whichever takes the lock stops there, holding it
    first = start_vaulttools(sample_vault, "rename", OLD, NEW, env=env)
    second = start_vaulttools(sample_vault, "normalize-links", env=env)
    deadline = time.monotonic() + 30
    while first.poll() is None and second.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    loser, winner = (first, second) if first.poll() is not None else (second, first)
    winner_name = "normalize-links" if winner is second else "rename"
    _, loser_stderr = loser.communicate(timeout=30)
    assert loser.returncode == 2
    assert re.fullmatch(writing_message(winner_name), loser_stderr), loser_stderr
    wait_until_paused(pause, winner)
    code, _, stderr = release(pause, winner)
    assert code == 0, stderr
    assert commits(sample_vault) == 2
    assert_clean(sample_vault)
    assert_fsck_clean(sample_vault)


def test_commands_beside_a_batch_that_is_writing(
    sample_vault: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    """The issue's reproductions 1 and 2: a second writer, `check`, a dry run and `recover` beside a live
    batch that has written some notes. None reports it as interrupted; `recover` touches nothing."""
    pause = tmp_path / "pause"
    batch = start_vaulttools(sample_vault, "rename", OLD, NEW, env=pause_at("3", pause))
    wait_until_paused(pause, batch)
    half_written = snapshot(sample_vault)

    # In this process: the batch is another one, whose lock this process cannot take either.
    for args in (
        ("normalize-links",),
        ("rename", NEW, "other"),
        ("undo",),
        ("check",),
        ("normalize-links", "-n"),
    ):
        result = run_cli(sample_vault, *args)
        assert result.exit_code == 2, args
        assert re.fullmatch(writing_message("rename"), result.stderr), (args, result.stderr)
    still_running = run_cli(sample_vault, "recover")
    assert still_running.exit_code == 2
    assert re.fullmatch(
        rf"vaulttools: error: the `vaulttools rename` batch \(id {BATCH_ID}, started {TIME}\) is still running "
        r"\(pid \d+\): wait for it to finish; nothing was recovered\n",
        still_running.stderr,
    ), still_running.stderr
    assert run_cli(sample_vault, "log").exit_code == 0  # reads git only: runs beside anything
    assert snapshot(sample_vault) == half_written  # nobody touched the live batch's files

    code, _, stderr = release(pause, batch)
    assert code == 0, stderr
    assert commits(sample_vault) == 2
    assert (sample_vault / f"{NEW}.md").is_file()
    assert_clean(sample_vault)
    assert_fsck_clean(sample_vault)
    assert lock.holder(sample_vault) is None  # released cleanly
    assert run_vaulttools(sample_vault, "recover").stdout == "No interrupted batch: nothing to recover.\n"


# The 1st, 2nd and last writes are killed in tests/test_reliability_crash.py too; here the lock's side.
@pytest.mark.parametrize("point", ["start", str(FILES_IN_BATCH // 2), "commit"])
def test_killed_at_each_point_then_the_next_commands(sample_vault: Path, point: str) -> None:
    before = snapshot(sample_vault)
    crashed = run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: point})
    assert crashed.returncode == -9
    stale = lock.holder(sample_vault)
    assert stale is not None and stale.command == "rename" and not stale.alive  # the dead writer's record

    if point == "start":  # killed before its journal: nothing was written, the lock is merely stale
        assert snapshot(sample_vault) == before
        result = run_vaulttools(sample_vault, "rename", OLD, NEW)
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(
            rf"vaulttools: note: an earlier `rename` \(pid {stale.pid}, started {TIME}\) ended without "
            r"releasing the vault's lock; it left no unfinished batch\n",
            result.stderr,
        ), result.stderr
        assert commits(sample_vault) == 2
    else:
        refused = run_vaulttools(sample_vault, "normalize-links")
        assert refused.returncode == 2
        assert "batch (id " in refused.stderr and "was interrupted before it finished" in refused.stderr
        recovered = run_vaulttools(sample_vault, "recover")
        assert recovered.returncode == 0, recovered.stderr
        if point == "commit":
            assert "had been committed as" in recovered.stdout
            assert "nothing was reverted" in recovered.stdout
            assert commits(sample_vault) == 2
            assert (sample_vault / f"{NEW}.md").is_file()
        else:
            assert "nothing was committed" in recovered.stdout
            assert snapshot(sample_vault) == before
            assert commits(sample_vault) == 1
        assert run_vaulttools(sample_vault, "normalize-links").returncode == 0
    assert_clean(sample_vault)
    assert_fsck_clean(sample_vault)


def hold_the_lock(vault: Path, command: str) -> subprocess.Popen:
    """Another process holding the vault's lock (no batch, no journal) until its stdin closes."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from vaulttools.lock import vault_lock\n"
            "with vault_lock(Path(sys.argv[1]), sys.argv[2]):\n"
            "    print('held', flush=True); sys.stdin.read()",
            str(vault),
            command,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_a_lock_held_by_another_process_refuses_in_process(sample_vault: Path) -> None:
    holder = hold_the_lock(sample_vault, "sync-related")
    try:
        vault = Vault(sample_vault)
        plan = plan_renames(vault, [(OLD, NEW)])
        with pytest.raises(lock.VaultLocked, match=r"another vaulttools command \(sync-related, pid \d+"):
            run_batch(vault, plan, BatchOptions())
    finally:
        holder.communicate(input="", timeout=30)
    assert lock.holder(sample_vault) is None
    assert run_batch(
        Vault(sample_vault), plan_renames(Vault(sample_vault), [(OLD, NEW)]), BatchOptions()
    ).written


@pytest.mark.parametrize(
    ("record", "alive"),
    [
        ({"pid": os.getpid()}, True),
        ({"pid": os.getpid(), "process_start": lock.own_process_start()}, True),
        ({"pid": os.getpid(), "process_start": "1"}, False),  # the pid was reused by another process
        ({"pid": 0}, False),
        ({"pid": 2**22 + 12345}, False),  # above Linux's pid_max: never a process
        ({"pid": 1, "host": "another-machine"}, True),  # cannot tell from here: assumed live
    ],
)
def test_holder_alive(record: dict, alive: bool) -> None:
    import socket

    fields = {"host": socket.gethostname(), "command": "rename", "started": time.time()} | record
    assert lock.Holder(**fields).alive is alive


@pytest.mark.parametrize("has_uname", [True, False])
def test_host_name_is_the_one_socket_gives(has_uname: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locks and journals written by any version name the same host (the name is read without `socket`
    where `os.uname` exists, with it elsewhere)."""
    import socket

    if not has_uname:
        monkeypatch.delattr(os, "uname", raising=False)
    assert lock.host_name() == socket.gethostname()


# --- hooks that our own commit runs ------------------------------------------------------------------


def test_a_pre_commit_hook_running_check_sees_the_live_batch_as_its_own(tmp_path: Path) -> None:
    """The issue's reproduction 4: `vaulttools check` as the repository's pre-commit hook."""
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "a.md").write_text("See [[b]].\n")
    (vault / "b.md").write_text("# B\n")
    git(vault, "init", "-q", "-b", "main")
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", "initial")
    seen = tmp_path / "hook-saw"
    hook = vault / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        f'#!/bin/sh\necho "$VAULTTOOLS_BATCH_ID" >> "{seen}"\nexec "{sys.executable}" -m vaulttools check\n'
    )
    hook.chmod(0o755)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }

    result = run_vaulttools(vault, "rename", "b", "c", env=env)
    assert result.returncode == 0, result.stderr
    batch_id = seen.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", batch_id)  # the hook ran, and was told which batch is live
    assert f"Vaulttools-Batch-Id: {batch_id}" in git(vault, "log", "-1", "--format=%B")
    assert (vault / "a.md").read_text() == "See [[c]].\n"
    assert_clean(vault)
    assert_fsck_clean(vault)


def test_check_under_another_batch_id_still_sees_an_interrupted_batch(sample_vault: Path) -> None:
    assert run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: "2"}).returncode == -9
    record = journal.pending(sample_vault)
    assert record is not None
    other = run_vaulttools(sample_vault, "check", env={lock.BATCH_ENV: "0" * 32})
    assert other.returncode == 2 and "was interrupted" in other.stderr
    own = run_vaulttools(sample_vault, "check", env={lock.BATCH_ENV: record["batch_id"]})
    assert own.returncode in (0, 1), own.stderr  # as the batch's own hook would: it checks the vault


# --- planned facts re-checked at write time ----------------------------------------------------------


def test_a_link_target_removed_after_planning_refuses_with_nothing_written(tmp_path: Path) -> None:
    vault_dir = tmp_path / "vault"
    vault_dir.mkdir()
    (vault_dir / "a.md").write_text("See [[topic-d3]] and [[other-d3]].\n")
    (vault_dir / "topic.md").write_text("# Topic\n")
    (vault_dir / "other.md").write_text("# Other\n")
    git(vault_dir, "init", "-q", "-b", "main")
    git(vault_dir, "add", "-A")
    git(vault_dir, "commit", "-q", "-m", "initial")
    vault = Vault(vault_dir)
    plan = plan_normalize(vault)
    assert plan.relies_on == ["other.md", "topic.md"]
    (vault_dir / "topic.md").rename(vault_dir / "topic-renamed.md")  # another program, after planning
    before = snapshot(vault_dir)
    with pytest.raises(EditConflict, match=r"^topic.md, which this batch's plan relies on, no longer exists"):
        run_batch(vault, plan, BatchOptions())
    assert snapshot(vault_dir) == before
    assert journal.pending(vault_dir) is None and commits(vault_dir) == 1


def test_a_renamed_source_moved_away_after_planning_refuses_with_nothing_written(tmp_path: Path) -> None:
    # Outside git (--no-commit), where no `git status` would notice the move first.
    import shutil

    from tests.conftest import SAMPLE_VAULT

    vault_dir = Path(shutil.copytree(SAMPLE_VAULT, tmp_path / "vault"))
    vault = Vault(vault_dir)
    plan = plan_renames(vault, [(OLD, NEW)])
    (vault_dir / f"{OLD}.md").rename(vault_dir / "elsewhere.md")
    before = snapshot(vault_dir)
    with pytest.raises(
        EditConflict, match=rf"^{OLD}.md, which this batch's plan relies on, no longer exists"
    ):
        run_batch(vault, plan, BatchOptions(commit=False))
    assert snapshot(vault_dir) == before
    assert journal.pending(vault_dir) is None


# --- recover in time linear in the batch -------------------------------------------------------------


def test_recover_lists_each_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    names = [f"note-{i}.md" for i in range(300)]
    changes = [{"path": n, "new_path": None} for n in names] + [{"path": "sub/x.md", "new_path": "sub/y.md"}]
    leftovers = [".note-7.md.123-0.vt-tmp", ".note-299.md.x.vt-tmp", "sub/.y.md.9-4.vt-tmp"]
    kept = [".other.md.1-1.vt-tmp", "note-7.md.vt-tmp", ".note-7.md", "sub/.z.md.1-1.vt-tmp"]
    for name in leftovers + kept:
        (tmp_path / name).write_text("x")
    listed: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path: Path) -> object:
        listed.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(journal.os, "scandir", counting_scandir)
    journal._remove_temporary_files(tmp_path, {"changes": changes})
    assert sorted(listed) == sorted([str(tmp_path), str(tmp_path / "sub")])
    assert not any((tmp_path / name).exists() for name in leftovers)
    assert all((tmp_path / name).exists() for name in kept)


def test_journal_names_its_batch(sample_vault: Path) -> None:
    assert run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: "1"}).returncode == -9
    record = json.loads((sample_vault / ".vaulttools" / "journal" / "plan.json").read_text())
    assert record["command"] == "rename" and re.fullmatch(r"[0-9a-f]{32}", record["batch_id"])
    assert isinstance(record["pid"], int) and record["started"] <= time.time()
    assert re.fullmatch(
        rf"`vaulttools rename` batch \(id {BATCH_ID}, started {TIME}\)", journal.describe(record)
    )


def test_a_writer_holding_the_lock_reports_a_dead_batch_as_interrupted(sample_vault: Path) -> None:
    """Under its own lock a command finds only dead batches' journals: never "another command is writing"."""
    assert run_vaulttools(sample_vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: "2"}).returncode == -9
    with lock.vault_lock(sample_vault, "rename"), pytest.raises(journal.VaultError) as refused:
        journal.refuse_if_pending(sample_vault)
    assert "was interrupted before it finished" in refused.value.message


def test_read_only_commands_never_take_the_lock(sample_vault: Path, run_cli: Callable[..., Result]) -> None:
    holder = hold_the_lock(sample_vault, "enrich")
    try:
        for args in (
            ("check",),
            ("log",),
            ("rename", OLD, NEW, "--dry-run"),
            ("normalize-links", "-n"),
            ("sync-related", "--explain", OLD),
        ):
            result = run_cli(sample_vault, *args)
            assert result.exit_code in (0, 1), (args, result.stderr)
        refused = run_cli(sample_vault, "sync-related")
        assert refused.exit_code == 2 and re.fullmatch(writing_message("enrich"), refused.stderr)
    finally:
        holder.communicate(input="", timeout=30)
