"""normalize-links' workers keep each note's mode and owner from the `fstat` they took when they read it
(`FileChange.planned_status`): the batch judges the note writable by it, with no `lstat` of its own, and
checks the mode again on the open file as it writes (`rewrite_in_place(refuse_read_only=True)`). A note
made read-only, replaced by a symlink, changed or deleted between plan and write is still never written."""

from __future__ import annotations

import os
import pickle
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of
from tests.helpers import BOM, HOSTILE_NOTES, HOSTILE_REWRITTEN, assert_clean, commits
from vaulttools import batch as batch_module
from vaulttools import changes as changes_module
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import FileChange, PlannedStatus, Spool, status_when_read
from vaulttools.errors import VaultError
from vaulttools.facts import read_with_stamp
from vaulttools.files import clock_mark, rewrite_in_place
from vaulttools.normalize import _read_note, plan_normalize
from vaulttools.vault import Vault

NOTES, REWRITTEN = HOSTILE_NOTES, HOSTILE_REWRITTEN


def _vault(tmp_path: Path) -> Path:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    then = time.time() - 60  # committed a minute ago: the journal names the blobs
    for loose in (vault_dir / ".git" / "objects").glob("??/*"):
        os.utime(loose, (then, then))
    return vault_dir


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.md")) if not p.is_symlink()}


def test_every_rewritten_note_carries_its_planned_status(tmp_path: Path) -> None:
    vault_dir = _vault(tmp_path)
    (vault_dir / "crlf.md").chmod(0o640)
    plan = plan_normalize(Vault(vault_dir))
    statuses = {change.path: change.planned_status for change in plan.changes}
    assert sorted(statuses) == REWRITTEN
    assert statuses["crlf.md"][:2] == (stat.S_IFREG | 0o640, os.geteuid())
    for change in plan.changes:  # across a process boundary and into a spool, as workers send them
        travelled = pickle.loads(pickle.dumps(change)).planned_status  # as a plain tuple, rebuilt
        assert isinstance(travelled, PlannedStatus) and travelled == change.planned_status
        assert change.spooled(Spool(memory_budget=0)).planned_status == change.planned_status


@pytest.mark.parametrize("name", sorted(NOTES))
def test_the_workers_stamp_is_the_one_checks_cache_keys(tmp_path: Path, name: str) -> None:
    vault_dir = _vault(tmp_path)
    stamp, status, raw = _read_note(Vault(vault_dir), name)
    assert (stamp, raw) == read_with_stamp(str(vault_dir / name))
    assert status.st_mode == os.stat(vault_dir / name).st_mode


def test_a_note_the_worker_could_not_read_is_one_line_of_advice(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match=r"^gone\.md: cannot read \(No such file or directory\); check that"):
        _read_note(Vault(_vault(tmp_path)), "gone.md")


def _status(*, dev: int = 7, ctime_ns: int = 1_000) -> os.stat_result:
    # mode, ino, dev, nlink, uid, gid, size, three float times, then mtime_ns at 14, ctime_ns at 15
    return os.stat_result(
        (stat.S_IFREG | 0o644, 5, dev, 1, 0, 0, 10, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1, 2, ctime_ns)
    )


@pytest.mark.parametrize(
    ("status", "mark", "stamp"),
    [
        (_status(ctime_ns=999), (7, 1_000), (10, 2, 999, 5)),  # changed before the mark: kept
        (_status(ctime_ns=1_000), (7, 1_000), None),  # in the mark's own clock tick: may change unseen
        (_status(ctime_ns=1_001), (7, 1_000), None),  # after the mark (the clock stepped back?)
        (_status(dev=8, ctime_ns=999), (7, 1_000), None),  # another file system, maybe another clock
        (_status(ctime_ns=999), None, None),  # no mark could be made
    ],
)
def test_a_stamp_is_kept_only_for_a_note_settled_before_the_mark(
    status: os.stat_result, mark: tuple[int, int] | None, stamp: tuple[int, int, int, int] | None
) -> None:
    assert status_when_read(status, mark) == PlannedStatus(stat.S_IFREG | 0o644, 0, stamp)


def test_the_mark_is_the_file_systems_clock_now(tmp_path: Path) -> None:
    assert clock_mark(tmp_path) is None  # no state folder (a dry run makes none): no mark, no stamps
    assert not (tmp_path / ".vaulttools").exists()
    (tmp_path / ".vaulttools").mkdir()
    (tmp_path / ".vaulttools" / ".gitignore").write_text("*\n")
    (tmp_path / "before.md").write_bytes(b"x")
    time.sleep(0.05)  # a clock tick or more
    mark = clock_mark(tmp_path)
    time.sleep(0.05)
    (tmp_path / "after.md").write_bytes(b"x")
    before, after = os.stat(tmp_path / "before.md"), os.stat(tmp_path / "after.md")
    assert mark is not None and mark[0] == before.st_dev
    assert before.st_ctime_ns < mark[1] < after.st_ctime_ns
    assert sorted(p.name for p in (tmp_path / ".vaulttools").iterdir()) == [".gitignore"]  # nothing left


@pytest.mark.parametrize("off", [None, 0, 1, 2, 3])  # which field of the stamp differs (None: none)
def test_an_unchanged_stamp_spares_the_comparison_and_any_other_forces_it(
    tmp_path: Path, off: int | None
) -> None:
    note = tmp_path / "a.md"
    note.write_bytes(b"old bytes\n")
    status = os.stat(note)
    stamp = [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]
    if off is not None:
        stamp[off] += 1
    never: Callable[[bytes], bool] = lambda _: False  # noqa: E731 - compared: refused
    written = rewrite_in_place(note, b"new\n", expected=never, unchanged_since=tuple(stamp))  # type: ignore[arg-type]
    assert written is (off is None)
    assert note.read_bytes() == (b"new\n" if off is None else b"old bytes\n")


def test_a_settled_note_rewritten_in_place_with_its_mtime_put_back_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same size, same inode, the mtime set back to the one planned: only the ctime tells, and it does. git
    told not to trust ctimes finds the note clean, so the journal names its planned blob and reads nothing:
    the stamp compared as the batch writes is the one guard left."""
    vault_dir = _vault(tmp_path)
    git(vault_dir, "config", "core.trustctime", "false")
    victim = "big.md"
    then = time.time() - 60  # an mtime git's index does not find racy
    os.utime(vault_dir / victim, (then, then))
    git(vault_dir, "update-index", "--refresh")
    time.sleep(0.05)  # the notes settle before the plan's mark
    plan = plan_normalize(Vault(vault_dir))
    planned = next(change.planned_status for change in plan.changes if change.path == victim)
    assert planned is not None and planned.stamp is not None
    data = (vault_dir / victim).read_bytes()
    with open(vault_dir / victim, "r+b") as handle:  # in place: the inode stays
        handle.write(b"#" + data[1:])
    os.utime(vault_dir / victim, ns=(planned.stamp[1], planned.stamp[1]))
    assert os.stat(vault_dir / victim).st_mtime_ns == planned.stamp[1]
    assert git(vault_dir, "status", "--porcelain") == ""
    refused = []
    real_rewrite = batch_module.rewrite_in_place

    def rewrite(path: str, data: bytes, **kwargs: object) -> bool:
        done = real_rewrite(path, data, **kwargs)  # type: ignore[arg-type]
        refused.extend([] if done else [path.rpartition("/")[2]])
        return done

    monkeypatch.setattr(batch_module, "rewrite_in_place", rewrite)
    with pytest.raises(VaultError, match=f"{victim} was changed by another program"):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert refused == [victim]  # by the write's own check: the journal named the blob, read nothing
    assert (vault_dir / victim).read_bytes() == b"#" + data[1:]
    assert commits(vault_dir) == 1


def _planned(path: str, mode: int) -> FileChange:
    change = FileChange(path, b"old\n", b"new\n").old_left_on_disk("/nowhere")
    change._planned_status = PlannedStatus(stat.S_IFREG | mode, os.geteuid())
    return change


@pytest.mark.parametrize(
    ("mode", "refused"),
    [
        (0o644, False),
        (0o600, False),
        (0o444, True),  # read-only when the plan read it: refused, even for root
        (0o400, True),
        (0o000, True),
    ],
)
def test_the_planned_mode_decides_with_no_lstat_of_the_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int, refused: bool
) -> None:
    (tmp_path / "folder").mkdir()
    looked_up: list[str] = []
    real_lstat = os.lstat

    def lstat(path: str | Path) -> os.stat_result:
        looked_up.append(str(path))
        return real_lstat(path)

    monkeypatch.setattr(os, "lstat", lstat)
    changes = [_planned("folder/note.md", mode)]
    if refused:
        with pytest.raises(VaultError, match=r"^folder/note\.md is read-only; make it writable"):
            batch_module._check_writable(tmp_path, changes)
    else:
        batch_module._check_writable(tmp_path, changes)
    assert not any(path.endswith("note.md") for path in looked_up)


def test_a_symlinked_folder_is_refused_for_a_planned_note_too(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "folder").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(VaultError, match=r"folder is a symlink, and vaulttools never writes through"):
        batch_module._check_writable(tmp_path, [_planned("folder/note.md", 0o644)])


@pytest.mark.parametrize(
    ("data", "mode", "written"),
    [
        (b"---\r\nid: a\r\n---\r\nCRLF\r\n", 0o644, True),
        (BOM + b"bom\n", 0o600, True),
        (b"no final newline", 0o644, True),
        (b"---\r\nid: a\r\n---\r\nCRLF\r\n", 0o444, False),
        (BOM + b"bom\n", 0o400, False),
        (b"no final newline", 0o000, False),
    ],
)
def test_rewrite_in_place_refuses_a_read_only_file_on_the_open_file(
    tmp_path: Path, data: bytes, mode: int, written: bool
) -> None:
    note = tmp_path / "note.md"
    note.write_bytes(data)
    note.chmod(mode)
    if written:
        assert rewrite_in_place(note, b"new", expected=data, refuse_read_only=True)
        assert note.read_bytes() == b"new"
    else:
        with pytest.raises(PermissionError):
            rewrite_in_place(note, b"new", expected=data, refuse_read_only=True)
        note.chmod(0o644)
        assert note.read_bytes() == data
    assert rewrite_in_place(note, data, refuse_read_only=False)  # the rollback's write: no such check


def _made_read_only(path: Path) -> None:
    path.chmod(0o444)


def _made_a_symlink(path: Path) -> None:
    outside = path.parent.parent / f"outside-{path.name}"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)


def _changed(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"typed meanwhile\n")


def _deleted(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("left_on_disk_from", [0, changes_module.LEFT_ON_DISK_FROM])
@pytest.mark.parametrize("when", ["before the batch", "while it writes"])
@pytest.mark.parametrize(
    ("meanwhile", "name"),
    [
        (_made_read_only, "crlf.md"),
        (_made_read_only, "big.md"),
        (_made_a_symlink, "bom.md"),
        (_made_a_symlink, "big.md"),
        (_changed, "no-final-newline.md"),
        (_deleted, "big.md"),
    ],
)
def test_a_note_changed_between_plan_and_write_is_never_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    meanwhile: Callable[[Path], None],
    name: str,
    when: str,
    left_on_disk_from: int,
) -> None:
    monkeypatch.setattr(changes_module, "LEFT_ON_DISK_FROM", left_on_disk_from)
    vault_dir = _vault(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    assert all(change.planned_status is not None for change in plan.changes)
    first = next(change.path for change in plan.changes if change.path != name)
    assert [change.path for change in plan.changes][-1] != first
    after_write = None
    if when == "before the batch":
        meanwhile(vault_dir / name)
    else:
        plan.changes.sort(key=lambda change: change.path != first)  # `first` first, `name` after it

        def after_write(written: str) -> None:
            if written == first:
                meanwhile(vault_dir / name)

    outside = vault_dir.parent / f"outside-{name}"
    with pytest.raises(VaultError):
        run_batch(Vault(vault_dir), plan, BatchOptions(), after_write=after_write)
    expected = dict(NOTES)
    if meanwhile is _changed:
        expected[name] += b"typed meanwhile\n"
    if meanwhile in (_deleted, _made_a_symlink):
        del expected[name]
    assert (
        _snapshot(vault_dir) == expected
    )  # every other note put back; that one as the other program left it
    if meanwhile is _made_a_symlink:
        assert outside.read_bytes() == NOTES[name]  # never written through
    if meanwhile is _made_read_only:
        assert stat.S_IMODE((vault_dir / name).stat().st_mode) == 0o444
    assert commits(vault_dir) == 1
    assert not (vault_dir / ".vaulttools" / "journal" / "plan.json").exists()
    if meanwhile is _made_read_only:
        (vault_dir / name).chmod(0o644)
        git(vault_dir, "status", "--porcelain")
        assert_clean(vault_dir)
