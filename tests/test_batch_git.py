"""The batch layer on real temporary git repositories."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import git, snapshot
from tests.helpers import age_git_objects, found_repository, git_args, git_runs
from vaulttools import batch as batch_module
from vaulttools import git as git_module
from vaulttools import journal
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.errors import BatchAborted, DirtyFilesError, EditConflict, GitError, VaultError
from vaulttools.git import BATCH_TRAILER, BlobWriter, IndexStager, Repository
from vaulttools.vault import Vault


@pytest.fixture
def repo_vault(tmp_path: Path) -> Path:
    root = tmp_path / "v"
    root.mkdir()
    (root / "a.md").write_bytes(b"a [[b]]\n")
    (root / "b.md").write_bytes(b"b\r\n")
    (root / "x[1].md").write_bytes(b"bracket\n")
    (root / "x1.md").write_bytes(b"plain\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def _plan(root: Path, *changes: tuple[str, bytes, str | None]) -> BatchPlan:
    files = [FileChange(path, (root / path).read_bytes(), new, new_path) for path, new, new_path in changes]
    return BatchPlan("test", "a test batch", files, counts={"links_rewritten": 1})


def _head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def test_commit_contains_exactly_the_batch(repo_vault: Path) -> None:
    (repo_vault / "other.md").write_text("user work\n")
    git(repo_vault, "add", "other.md")  # staged by the user: must stay out of the batch commit
    plan = _plan(repo_vault, ("a.md", b"a [[c]]\n", None), ("x[1].md", b"bracket\n", "y[2].md"))
    result = run_batch(Vault(repo_vault), plan, BatchOptions())
    assert result.committed == _head(repo_vault)
    shown = git(repo_vault, "show", "--name-status", "-M", "--format=%B", "HEAD")
    assert "vaulttools test: a test batch" in shown
    assert f"{BATCH_TRAILER}: test" in shown
    assert "R100\tx[1].md\ty[2].md" in shown
    assert "other.md" not in shown
    assert "x1.md" not in shown
    assert git(repo_vault, "status", "--porcelain") == "A  other.md\n"


def test_fallback_identity_when_none_configured(repo_vault: Path) -> None:
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    assert git(repo_vault, "log", "-1", "--format=%an <%ae>").strip() == "vaulttools <vaulttools@localhost>"


def test_repository_identity_is_used(repo_vault: Path) -> None:
    git(repo_vault, "config", "user.name", "Ed Itor")
    git(repo_vault, "config", "user.email", "ed@example.com")
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    assert git(repo_vault, "log", "-1", "--format=%an <%ae>").strip() == "Ed Itor <ed@example.com>"


def test_dirty_file_is_refused(repo_vault: Path) -> None:
    (repo_vault / "a.md").write_bytes(b"edited by hand\n")
    before = snapshot(repo_vault)
    plan = BatchPlan("test", "x", [FileChange("a.md", b"edited by hand\n", b"new\n")])
    with pytest.raises(DirtyFilesError, match=r"a\.md"):
        run_batch(Vault(repo_vault), plan, BatchOptions())
    assert snapshot(repo_vault) == before
    assert not (repo_vault / ".vaulttools" / "journal").exists()  # written beside `git status`, then removed


def test_a_failing_git_status_leaves_no_journal(repo_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_status(self: Repository, paths: object) -> list[str]:
        raise GitError("git status failed: broken on purpose")

    monkeypatch.setattr(Repository, "dirty_paths", broken_status)
    before = snapshot(repo_vault)
    with pytest.raises(GitError, match="broken on purpose"):
        run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    assert snapshot(repo_vault) == before
    assert journal.pending(repo_vault) is None


def test_a_refusal_before_the_journal_waits_for_git_status(repo_vault: Path) -> None:
    (repo_vault / "a.md").chmod(0o444)
    try:
        with pytest.raises(VaultError, match="read-only"):
            run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    finally:
        (repo_vault / "a.md").chmod(0o644)
    assert journal.pending(repo_vault) is None
    assert not (repo_vault / ".vaulttools" / "journal").exists()  # begun beside the checks, then removed
    assert not (repo_vault / ".git" / "index.lock").exists()


def test_a_journal_that_cannot_be_written_stops_the_batch(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(root: Path, plan: BatchPlan, in_git: object = None) -> None:
        raise OSError(28, "No space left on device", str(root / ".vaulttools" / "journal"))

    monkeypatch.setattr(journal, "start", full_disk)
    before = snapshot(repo_vault)
    with pytest.raises(OSError, match="No space left"):
        run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    assert snapshot(repo_vault) == before
    assert journal.pending(repo_vault) is None
    assert git(repo_vault, "status", "--porcelain") == ""


def test_file_changed_after_planning_is_refused(repo_vault: Path) -> None:
    plan = BatchPlan("test", "x", [FileChange("a.md", b"stale\n", b"new\n")])
    with pytest.raises(EditConflict, match=r"a\.md was changed by another program since vaulttools read it"):
        run_batch(Vault(repo_vault), plan, BatchOptions(commit=False))
    assert (repo_vault / "a.md").read_bytes() != b"new\n"


def test_rollback_on_failure_mid_write(repo_vault: Path) -> None:
    before = snapshot(repo_vault)
    head = _head(repo_vault)
    plan = _plan(
        repo_vault, ("a.md", b"one\n", None), ("b.md", b"two\n", None), ("x1.md", b"three\n", "z.md")
    )
    calls = []

    def explode(path: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", path)

    with pytest.raises(BatchAborted, match="put back"):
        run_batch(Vault(repo_vault), plan, BatchOptions(), after_write=explode)
    assert snapshot(repo_vault) == before
    assert _head(repo_vault) == head
    assert git(repo_vault, "status", "--porcelain") == ""
    assert journal.pending(repo_vault) is None


def test_interrupt_mid_write_rolls_back(repo_vault: Path) -> None:
    before = snapshot(repo_vault)

    def interrupt(path: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(BatchAborted, match="interrupted"):
        run_batch(
            Vault(repo_vault),
            _plan(repo_vault, ("a.md", b"one\n", None)),
            BatchOptions(),
            after_write=interrupt,
        )
    assert snapshot(repo_vault) == before


def test_rejecting_hook_leaves_vault_as_it_was(repo_vault: Path) -> None:
    hook = repo_vault / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'no commits today' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(repo_vault)
    head = _head(repo_vault)
    with pytest.raises(BatchAborted, match="no commits today"):
        run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    assert snapshot(repo_vault) == before
    assert _head(repo_vault) == head
    assert git(repo_vault, "status", "--porcelain") == ""
    result = run_batch(
        Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions(no_verify=True)
    )
    assert result.committed


def test_outside_git_needs_no_commit(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"x\n")
    plan = BatchPlan("test", "x", [FileChange("a.md", b"x\n", b"y\n")])
    with pytest.raises(VaultError, match="git init"):
        run_batch(Vault(tmp_path), plan, BatchOptions())
    assert (tmp_path / "a.md").read_bytes() == b"x\n"
    run_batch(Vault(tmp_path), plan, BatchOptions(commit=False))
    assert (tmp_path / "a.md").read_bytes() == b"y\n"


def test_vault_in_a_subfolder_of_the_repository(tmp_path: Path) -> None:
    vault = tmp_path / "notes" / "vault"
    vault.mkdir(parents=True)
    (vault / "a.md").write_bytes(b"x\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    plan = BatchPlan("test", "x", [FileChange("a.md", b"x\n", b"y\n")])
    run_batch(Vault(vault), plan, BatchOptions())
    assert git(tmp_path, "show", "--name-only", "--format=", "HEAD").strip() == "notes/vault/a.md"


def test_empty_plan_writes_and_commits_nothing(repo_vault: Path) -> None:
    head = _head(repo_vault)
    result = run_batch(Vault(repo_vault), BatchPlan("test", "x"), BatchOptions())
    assert result.nothing_to_do and not result.written
    assert _head(repo_vault) == head


def test_killed_batch_is_recovered(repo_vault: Path, run_cli) -> None:
    """Simulate a process killed after writing one file: the journal stays, commands refuse, recover restores."""
    before = snapshot(repo_vault)
    plan = _plan(repo_vault, ("a.md", b"one\n", None), ("x1.md", b"moved\n", "moved.md"))
    journal.begin(repo_vault, plan)
    (repo_vault / "a.md").write_bytes(b"one\n")
    (repo_vault / "moved.md").write_bytes(b"moved\n")
    (repo_vault / "x1.md").unlink()
    result = run_cli(repo_vault, "check")
    assert result.exit_code == 2
    assert "vaulttools recover" in result.output
    result = run_cli(repo_vault, "recover")
    assert result.exit_code == 0, result.output
    assert snapshot(repo_vault) == before
    assert run_cli(repo_vault, "check").exit_code in (0, 1)


def test_undo_restores_every_byte(repo_vault: Path, run_cli) -> None:
    before = snapshot(repo_vault)
    plan = _plan(repo_vault, ("a.md", b"one\n", None), ("b.md", b"two\r\n", "c.md"))
    run_batch(Vault(repo_vault), plan, BatchOptions())
    result = run_cli(repo_vault, "undo")
    assert result.exit_code == 0, result.output
    assert snapshot(repo_vault) == before
    assert "Vaulttools-Undo:" in git(repo_vault, "log", "-1", "--format=%B")
    log = run_cli(repo_vault, "log")
    assert "vaulttools undo" in log.output and "vaulttools test" in log.output
    again = run_cli(repo_vault, "undo")
    assert again.exit_code == 2
    assert "no vaulttools batch to undo" in again.output


def test_undo_refuses_when_later_commits_touched_the_files(repo_vault: Path, run_cli) -> None:
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"one\n", None)), BatchOptions())
    (repo_vault / "a.md").write_bytes(b"hand edit\n")
    git(repo_vault, "commit", "-qam", "hand edit")
    result = run_cli(repo_vault, "undo")
    assert result.exit_code == 2
    assert "later commit" in result.output


def test_dirty_paths_parses_unicode_and_spaces(repo_vault: Path) -> None:
    (repo_vault / "Café note.md").write_text("x")
    repo = found_repository(repo_vault)
    assert repo.dirty_paths(["Café note.md", "a.md"]) == ["Café note.md"]


@pytest.mark.parametrize("names_them", [True, False])
def test_dirty_paths_are_the_same_whether_named_to_git_or_read_from_the_whole_status(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch, names_them: bool
) -> None:
    """A few paths are named to `git status` (`STATUS_NAMES_PATHS_UP_TO`), more are matched against the
    whole status: the same answer for every kind of change, and pathspec characters taken literally."""
    monkeypatch.setattr(git_module, "STATUS_NAMES_PATHS_UP_TO", 100 if names_them else 0)
    (repo_vault / "a.md").write_bytes(b"unstaged\n")
    (repo_vault / "b.md").write_bytes(b"staged\n")
    git(repo_vault, "add", "b.md")
    (repo_vault / "sub" / "deeper").mkdir(parents=True)
    (repo_vault / "sub" / "deeper" / "new.md").write_bytes(b"untracked in an untracked folder\n")
    (repo_vault / "x1.md").unlink()  # deleted, not staged
    (repo_vault / "x*.md").write_bytes(b"a glob character, untracked\n")
    asked = ["a.md", "b.md", "sub/deeper/new.md", "x1.md", "x*.md", "x[1].md", "gone.md", "sub/deeper/no.md"]
    repo = found_repository(repo_vault)
    runs = git_runs(monkeypatch)
    assert repo.dirty_paths(asked) == ["a.md", "b.md", "sub/deeper/new.md", "x*.md", "x1.md"]
    assert repo.dirty_paths(["x[1].md", "gone.md"]) == []  # clean, and a path no file has
    statuses = [args for args in git_args(runs) if "status" in args[:2]]
    assert len(statuses) == 2
    named = [args[args.index("--") + 1 :] for args in statuses if "--" in args]
    assert named == ([tuple(asked), ("x[1].md", "gone.md")] if names_them else [])


def test_autocrlf_conversion_is_reported_not_looped(repo_vault: Path) -> None:
    """b.md has CRLF; with core.autocrlf=input git stores LF, so the file shows modified after the commit."""
    git(repo_vault, "config", "core.autocrlf", "input")
    plan = _plan(repo_vault, ("b.md", b"changed\r\n", None))
    result = run_batch(Vault(repo_vault), plan, BatchOptions())
    assert result.committed
    assert (repo_vault / "b.md").read_bytes() == b"changed\r\n"
    assert any("line-ending" in w for w in result.warnings)


def test_undo_twice_takes_back_two_batches(repo_vault: Path, run_cli) -> None:
    """A batch and its undo cancel out: the batch before them can be undone next."""
    before = snapshot(repo_vault)
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"one\n", None)), BatchOptions())
    after_first = snapshot(repo_vault)
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"two\n", None)), BatchOptions())
    assert run_cli(repo_vault, "undo").exit_code == 0
    assert snapshot(repo_vault) == after_first
    result = run_cli(repo_vault, "undo")
    assert result.exit_code == 0, result.output
    assert snapshot(repo_vault) == before


def test_a_moved_note_keeps_its_file_mode(repo_vault: Path) -> None:
    (repo_vault / "x1.md").chmod(0o640)
    plan = _plan(repo_vault, ("x1.md", b"plain\n", "moved/x1.md"), ("a.md", b"a [[b]]\n", "b2.md"))
    run_batch(Vault(repo_vault), plan, BatchOptions())
    assert (repo_vault / "moved" / "x1.md").stat().st_mode & 0o777 == 0o640
    assert (repo_vault / "b2.md").stat().st_mode & 0o777 == 0o644


def _edited_by_hand(root: Path, created: str) -> Repository:
    """a.md changed, b.md deleted, `created` new: what a batch leaves for its stager to record."""
    repo = found_repository(root)
    (root / "a.md").write_bytes(b"changed\n")
    (root / "b.md").unlink()
    (root / created).write_bytes(b"created\n")
    return repo


def test_index_stager_stages_paths_as_they_come(repo_vault: Path) -> None:
    stager = IndexStager(_edited_by_hand(repo_vault, "new [x].md"))
    stager.add(["a.md"])
    stager.add(["new [x].md"], ["b.md"])
    stager.finish()
    assert git(repo_vault, "diff", "--cached", "--name-status") == "M\ta.md\nD\tb.md\nA\tnew [x].md\n"
    assert git(repo_vault, "status", "--porcelain") == 'M  a.md\nD  b.md\nA  "new [x].md"\n'


def test_blob_writer_gives_each_written_file_its_blob_and_each_removed_path_none(repo_vault: Path) -> None:
    writer = BlobWriter(_edited_by_hand(repo_vault, '"quoted".md'))
    writer.add(["a.md"])
    writer.add(['"quoted".md'], ["b.md"])
    blobs = writer.finish()
    assert blobs == {
        "b.md": None,
        "a.md": git(repo_vault, "hash-object", "a.md").strip(),
        '"quoted".md': git(repo_vault, "hash-object", '"quoted".md').strip(),
    }
    assert git(repo_vault, "cat-file", "-p", blobs["a.md"]) == "changed\n"  # written to the object store
    assert (
        git(repo_vault, "status", "--porcelain") == ' M a.md\n D b.md\n?? "\\"quoted\\".md"\n'
    )  # index untouched


def test_blob_writer_shares_a_big_batch_among_processes_and_keeps_the_order(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaulttools.git as git_module

    monkeypatch.setattr(git_module, "SECOND_PROCESS_FROM", 2)
    monkeypatch.setattr(git_module, "SEND_EVERY", 3)
    monkeypatch.setattr(git_module.os, "cpu_count", lambda: 3)
    names = [f"n{number}.md" for number in range(10)]
    for number, name in enumerate(names):
        (repo_vault / name).write_bytes(b"note %d\n" % number)
    repo = found_repository(repo_vault)
    writer = BlobWriter(repo)
    for name in names:
        writer.add([name])
    writer.add(["a.md"], ["b.md"])
    (repo_vault / "a.md").write_bytes(b"written again\n")
    writer.add(["a.md"])  # the same path again: its last blob counts
    blobs = writer.finish()
    assert list(blobs) == ["b.md", *names, "a.md"]
    assert blobs == {
        "b.md": None,
        **{name: git(repo_vault, "hash-object", name).strip() for name in names},
        "a.md": git(repo_vault, "hash-object", "a.md").strip(),
    }


def test_blob_writer_refuses_when_a_process_gives_fewer_ids_than_it_was_given_paths(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaulttools.git as git_module

    monkeypatch.setattr(git_module, "SECOND_PROCESS_FROM", 1)
    monkeypatch.setattr(git_module.os, "cpu_count", lambda: 2)
    repo = found_repository(repo_vault)
    writer = BlobWriter(repo)
    writer.add(["a.md", "b.md", "x1.md", "x[1].md"])
    second = writer._processes[1]
    finish = second.finish
    monkeypatch.setattr(second, "finish", lambda: b"\n".join(finish().split()[:-1]))  # one id lost
    with pytest.raises(GitError, match="gave 3 ids for 4 files"):
        writer.finish()


@pytest.mark.parametrize("hooks", [False, True])
def test_stager_failure_is_a_git_error_and_the_batch_rolls_back(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch, hooks: bool
) -> None:
    if hooks:  # a commit hook makes the batch stage into the index and run `git commit`
        hook = repo_vault / ".git" / "hooks" / "post-commit"
        hook.write_text("#!/bin/sh\nexit 0\n")
        hook.chmod(0o755)
    repo = found_repository(repo_vault)
    kind, command = (IndexStager, "update-index") if hooks else (BlobWriter, "hash-object")
    chosen = repo.stager()
    chosen.abort()
    assert isinstance(chosen, kind)
    (repo_vault / "folder").mkdir()
    (repo_vault / "folder" / "x.md").write_bytes(b"x\n")
    stager = kind(repo)
    stager.add(["folder"])  # git refuses to hash or stage a folder
    with pytest.raises(GitError, match=rf"git {command} failed: .*folder"):
        stager.finish()
    stager.abort()  # after a failed finish: harmless

    real_add = kind.add
    monkeypatch.setattr(kind, "add", lambda self, written, vacated=(): real_add(self, ["folder"]))
    before = snapshot(repo_vault)
    head = _head(repo_vault)
    with pytest.raises(BatchAborted, match=f"git {command} failed"):
        run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    assert snapshot(repo_vault) == before
    assert _head(repo_vault) == head
    assert git(repo_vault, "status", "--porcelain") == "?? folder/\n"  # the test's own folder only


def test_a_stager_that_cannot_start_leaves_no_journal(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_git(self: Repository, **options: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", "git")

    monkeypatch.setattr(Repository, "stager", no_git)
    before = snapshot(repo_vault)
    with pytest.raises(BatchAborted, match="nothing was committed"):
        run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"new\n", None)), BatchOptions())
    assert snapshot(repo_vault) == before
    assert journal.pending(repo_vault) is None


def test_a_full_disk_before_writing_is_one_line_from_the_command_line(
    sample_vault: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(root: Path, plan: BatchPlan, in_git: object = None) -> None:
        raise OSError(28, "No space left on device", str(root / ".vaulttools" / "journal" / "originals.bin"))

    monkeypatch.setattr(journal, "start", full_disk)
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "normalize-links")
    assert result.exit_code == 2
    assert "vaulttools: error: No space left on device (" in result.output
    assert "nothing was written" in result.output and "Traceback" not in result.output
    assert snapshot(sample_vault) == before


# The dirty check by blob (`batch._dirty_paths`): a note whose planned old bytes are the index's blob and
# that has no staged change is clean without `git status`; anything else is left to `git status`.


def _blob_plan(root: Path, *changes: tuple[str, bytes]) -> BatchPlan:
    """In-place changes as normalize-links plans them: the old bytes' git blob id taken when read."""
    files = [
        FileChange(path, (root / path).read_bytes(), new).old_left_on_disk(root) for path, new in changes
    ]
    return BatchPlan("test", "a test batch", files)


def _no_status(self: Repository, paths: object) -> list[str]:
    raise AssertionError(f"git status ran for {paths}")


def test_clean_notes_known_by_their_blob_need_no_git_status(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Repository, "dirty_paths", _no_status)
    result = run_batch(
        Vault(repo_vault), _blob_plan(repo_vault, ("a.md", b"new a\n"), ("b.md", b"new b\n")), BatchOptions()
    )
    assert result.committed == _head(repo_vault)
    assert git(repo_vault, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("how", "status_line"),
    [
        ("staged", "M  a.md"),  # the bytes read are the index's blob, but the index differs from HEAD
        ("edited", " M a.md"),  # the bytes read are not the index's blob
        ("staged, then edited", "MM a.md"),
    ],
)
def test_a_note_the_blob_does_not_prove_clean_is_refused(
    repo_vault: Path, how: str, status_line: str
) -> None:
    if how.startswith("staged"):
        (repo_vault / "a.md").write_bytes(b"staged by the user\n")
        git(repo_vault, "add", "a.md")
    if how.endswith("edited"):
        (repo_vault / "a.md").write_bytes(b"edited by the user\n")
    assert git(repo_vault, "status", "--porcelain", "a.md").rstrip("\n") == status_line
    before, start = snapshot(repo_vault), _head(repo_vault)
    plan = _blob_plan(repo_vault, ("a.md", b"new a\n"), ("b.md", b"new b\n"))
    with pytest.raises(DirtyFilesError, match=r"uncommitted changes in a\.md: "):
        run_batch(Vault(repo_vault), plan, BatchOptions())
    assert snapshot(repo_vault) == before and _head(repo_vault) == start
    assert journal.pending(repo_vault) is None


@pytest.mark.parametrize(
    ("dirty", "refused"),
    [
        (
            "",
            None,
        ),  # clean: the moved note's paths asked of git status, the rewritten note vouched by its blob
        ("x1.md", "x1.md"),  # the moved note edited
        ("x1.md staged", "x1.md"),  # the moved note edited and staged
        ("b.md", "b.md"),  # the note rewritten in place edited: its blob no longer proves it clean
    ],
)
def test_a_move_beside_rewrites_in_place_asks_git_status_for_its_own_paths(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch, dirty: str, refused: str | None
) -> None:
    """`batch._dirty_paths`: the paths of a change that moves a note are asked of `git status` while git's
    index is read; a note rewritten in place is asked only when its blob does not prove it clean."""
    if dirty:  # before the plan reads the notes
        path = dirty.split()[0]
        (repo_vault / path).write_bytes(b"the user's bytes\n")
        if dirty.endswith("staged"):
            git(repo_vault, "add", path)
    plan = _blob_plan(repo_vault, ("b.md", b"new b\n"))
    plan.changes.append(FileChange("x1.md", b"plain\n", b"plain, moved\n", "moved/x1.md"))
    runs = git_runs(monkeypatch)
    before, start = snapshot(repo_vault), _head(repo_vault)
    if refused is None:
        assert run_batch(Vault(repo_vault), plan, BatchOptions()).committed == _head(repo_vault)
        assert git(repo_vault, "status", "--porcelain") == ""
    else:
        with pytest.raises(DirtyFilesError, match=re.escape(refused)):
            run_batch(Vault(repo_vault), plan, BatchOptions())
        assert snapshot(repo_vault) == before and _head(repo_vault) == start
    statuses = [args[args.index("--") + 1 :] for args in git_args(runs) if "status" in args[:2]]
    assert statuses[0] == ("moved/x1.md", "x1.md")
    assert statuses[1:] == ([("b.md",)] if dirty == "b.md" else [])  # the rewritten note: by its blob


@pytest.mark.parametrize(
    "args",
    [("tag", "rename", "async", "asynchronous"), ("property", "rename", "definition", "meaning")],
)
def test_tag_and_property_batches_know_clean_notes_by_their_blob(
    sample_vault: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """`planning.plan_each_note` fingerprints each change where it plans it (`old_left_on_disk`): the batch
    asks no `git status` for notes whose planned bytes are git's blob, and its journal names those blobs."""
    age_git_objects(sample_vault)
    monkeypatch.setattr(Repository, "dirty_paths", _no_status)
    named: list[int] = []
    real_start = journal.start

    def start(root: Path, plan: Any, in_git: Any = None) -> Any:
        named.append(len(in_git or {}))
        return real_start(root, plan, in_git)

    monkeypatch.setattr(journal, "start", start)
    start_head = _head(sample_vault)
    result = run_cli(sample_vault, *args)
    assert result.exit_code == 0, result.output
    changed = git(sample_vault, "diff", "--name-only", start_head, "HEAD").splitlines()
    assert len(changed) >= 4 and named == [len(changed)]
    assert git(sample_vault, "status", "--porcelain") == ""


def test_when_git_cannot_list_staged_changes_git_status_decides(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo_vault / "a.md").write_bytes(b"staged by the user\n")
    git(repo_vault, "add", "a.md")
    monkeypatch.setattr(Repository, "staged_paths", lambda self: None)
    with pytest.raises(DirtyFilesError, match=r"a\.md"):
        run_batch(Vault(repo_vault), _blob_plan(repo_vault, ("a.md", b"new a\n")), BatchOptions())


def test_staged_paths_are_vault_paths(tmp_path: Path) -> None:
    (tmp_path / "vault").mkdir()
    for path in ("outside.md", "vault/in.md"):
        (tmp_path / path).write_bytes(b"x\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "initial")
    for path in ("outside.md", "vault/in.md"):
        (tmp_path / path).write_bytes(b"y\n")
    git(tmp_path, "add", "-A")
    repo = Repository.find(tmp_path / "vault")
    assert repo is not None and repo.staged_paths() == {"in.md"}


def test_the_repository_found_while_planning_is_not_looked_for_again(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_module.read_git_index_in_background(repo_vault)
    batch_module._EARLY_INDEX[0][1]()  # found and read, as while a command plans
    asked = git_runs(monkeypatch)
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"one\n", None)), BatchOptions())
    assert not any(args[:2] == ("rev-parse", "--show-toplevel") for args in git_args(asked))
    assert git(repo_vault, "show", "HEAD:a.md") == "one\n"


def test_a_failed_search_while_planning_leaves_the_batch_to_find_the_repository(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: the early search raised (here: its git failed); the batch finds the repository itself."""
    real_find = Repository.find.__func__  # type: ignore[attr-defined]
    calls: list[Path] = []

    def find_failing_once(cls: type[Repository], vault_root: Path) -> Repository | None:
        calls.append(vault_root)
        if len(calls) == 1:
            raise GitError("git rev-parse failed: a test")
        return real_find(cls, vault_root)

    monkeypatch.setattr(Repository, "find", classmethod(find_failing_once))
    batch_module.read_git_index_in_background(repo_vault)
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"one\n", None)), BatchOptions())
    assert len(calls) == 2 and git(repo_vault, "show", "HEAD:a.md") == "one\n"


def test_the_commits_settings_are_asked_of_git_once_while_the_batch_checks(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = git_runs(monkeypatch)
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"one\n", None)), BatchOptions())
    asked, where = git_args(runs), {run.args: run.thread for run in runs}
    for key in ("commit.gpgsign", "commit.cleanup", "user.name", "user.email"):
        assert asked.count(("config", "--get", key)) == 1, key
        assert where["config", "--get", key] == "vaulttools-git-config"
    assert asked.count(("rev-parse", "--git-path", "hooks")) == 1


def test_a_git_failure_asking_for_the_commits_settings_leaves_the_stager_to_ask(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: git could not answer on the thread (None); the stager asks again, and a hook present
    makes the batch commit through `git commit`, which runs it."""
    hooks = repo_vault / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "post-commit").write_text(f"#!/bin/sh\necho ran > '{repo_vault}/.git/hook.ran'\n")
    (hooks / "post-commit").chmod(0o755)
    real = Repository.commits_directly
    answers: list[str] = []

    def failing_once(self: Repository, *, no_verify: bool = False) -> bool:
        if not answers:
            answers.append("failed")
            raise GitError("git config failed: a test")
        answers.append("asked")
        return real(self, no_verify=no_verify)

    monkeypatch.setattr(Repository, "commits_directly", failing_once)
    run_batch(Vault(repo_vault), _plan(repo_vault, ("a.md", b"one\n", None)), BatchOptions())
    assert answers == ["failed", "asked"]
    assert (repo_vault / ".git" / "hook.ran").exists()
    assert git(repo_vault, "show", "HEAD:a.md") == "one\n"


def test_the_identity_is_asked_of_git_once_per_repository(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = found_repository(repo_vault)
    asked = git_runs(monkeypatch)
    first = repo.identity_config()
    first.append("changed by a caller")
    assert repo.identity_config() == first[:-1]
    assert git_args(asked).count(("config", "--get", "user.name")) == 1


def test_a_setting_is_asked_of_git_once_per_repository(
    repo_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = found_repository(repo_vault)
    asked = git_runs(monkeypatch)
    assert not repo.converts_line_endings()
    git(repo_vault, "config", "core.autocrlf", "true")
    assert not repo.converts_line_endings()  # this batch's answer holds for the batch
    assert git_args(asked).count(("config", "--get", "core.autocrlf")) == 1
    again = Repository.find(repo_vault)
    assert again is not None and again.converts_line_endings()
