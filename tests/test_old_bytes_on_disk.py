"""normalize-links leaves each note's old bytes on disk (`FileChange.old_left_on_disk`): only the new bytes
travel from the workers and are kept; the batch reads the old ones back into its journal, checks them
against the sha256 taken when the plan read them, and refuses (or rolls back from the journal) when
another program changed or deleted a note in between. Notes under `changes.LEFT_ON_DISK_FROM` keep their
old bytes with the change (fingerprints still taken in the worker) unless git holds them: the vault tests
run every way (`old_bytes_regime`): every note left on disk (threshold 0), the real threshold on the
committed vault (every note left on disk, only the long `big.md` spooled), and the real threshold where git
lacks the old bytes (small notes held, `big.md` left on disk)."""

from __future__ import annotations

import errno
import json
import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of
from tests.helpers import assert_clean, commits, git_blob_id, run_vaulttools
from vaulttools import batch as batch_module
from vaulttools import changes as changes_module
from vaulttools import git as git_module
from vaulttools import journal, parallel
from vaulttools.batch import CRASH_AFTER_ENV, BatchOptions, run_batch
from vaulttools.changes import FileChange, OnDisk, Spool
from vaulttools.errors import BatchAborted, EditConflict
from vaulttools.files import rewrite_in_place
from vaulttools.journal import fingerprints
from vaulttools.normalize import plan_normalize
from vaulttools.vault import Vault

BOM = "\ufeff".encode()
JOURNAL_DIR = Path(".vaulttools") / "journal"
# Notes whose links miss their `-d9` target: every one is rewritten by normalize-links, each in its own
# hostile shape (CRLF, a BOM, no final newline, non-ASCII text, a note larger than a journal block).
NOTES = {
    "target-d9.md": b"---\nid: target-d9\n---\nThe target.\n",
    "crlf.md": b"---\r\nid: crlf\r\n---\r\nSee [[target]].\r\n",
    "bom.md": BOM + b"---\nid: bom\n---\nSee [[target|the target]].\n",
    "no-final-newline.md": b"See [[target]].",
    "accents.md": "Caf\u00e9 \u2014 see [[target]] \U0001f600\n".encode(),
    "big.md": b"x" * 9000 + b"\nSee [[target]].\n" + b"y" * 5000,
    "untouched.md": b"Nothing to fix here.\n",
}
REWRITTEN = sorted(set(NOTES) - {"target-d9.md", "untouched.md"})


EVERY_NOTE = "every note left on disk"
SMALL_IN_GIT = "small notes left on disk where git holds them"
SMALL_HELD = "small notes git lacks held"


@pytest.fixture(params=[EVERY_NOTE, SMALL_IN_GIT, SMALL_HELD])
def old_bytes_regime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every way a rewritten note's old bytes can wait for the batch: the threshold 0; the real one, where
    a small note git holds is left on disk too (the committed test vault); the real one with git's object
    store lacking every blob (as for uncommitted notes), where small notes hold their old bytes."""
    if request.param == EVERY_NOTE:
        monkeypatch.setattr(changes_module, "LEFT_ON_DISK_FROM", 0)
    elif request.param == SMALL_HELD:
        monkeypatch.setattr(git_module.ObjectStore, "holds", lambda _store, _oid, _lane="": "")
    return str(request.param)


def _left_on_disk(regime: str) -> list[str]:
    """The rewritten notes whose old bytes the plan leaves on disk, in each `old_bytes_regime`."""
    return ["big.md"] if regime == SMALL_HELD else REWRITTEN


@pytest.fixture
def every_note_left_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changes_module, "LEFT_ON_DISK_FROM", 0)


def worker_fingerprints(
    old: bytes, new: bytes, held: str | None = None, *, left_on_disk: bool = False
) -> dict[str, object]:
    """The fingerprints a normalize worker takes: the journal's, the old and new bytes' git blob ids, and
    (`held`, asked of the vault's object store) whether git held the new bytes' blob; for old bytes
    `left_on_disk` and long, the whole blocks old and new share at their start, when any."""
    taken = fingerprints(old, new) | {
        changes_module.OLD_BLOB: git_blob_id(old),
        changes_module.NEW_BLOB: git_blob_id(new),
    }
    differs = next((at for at, pair in enumerate(zip(old, new, strict=False)) if pair[0] != pair[1]), None)
    shared = min(len(old), len(new)) if differs is None else differs
    if left_on_disk and len(old) >= changes_module.LEFT_ON_DISK_FROM and shared >= changes_module.SAME_BLOCK:
        taken[changes_module.SAME_UNTIL] = shared // changes_module.SAME_BLOCK * changes_module.SAME_BLOCK
    return taken if held is None else taken | {changes_module.NEW_BLOB_HELD: held}


def _vault(tmp_path: Path, *, objects_aged: bool = True) -> Path:
    """The hostile notes, committed; `objects_aged`: as if a minute ago (a batch's journal names git blobs
    written before its sync began; younger ones it copies, as it copies every original outside git)."""
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    if objects_aged:
        a_minute_ago = time.time() - 60
        for loose in (vault_dir / ".git" / "objects").glob("??/*"):
            os.utime(loose, (a_minute_ago, a_minute_ago))
    return vault_dir


@pytest.fixture(params=["named as git blobs", "copied"])
def journal_originals(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the journal keeps an original: the git blob that holds it, or a copy."""
    if request.param == "copied":
        monkeypatch.setattr(batch_module, "NAME_GIT_BLOBS", False)
    return str(request.param)


def _backups(vault_dir: Path) -> set[str | None]:
    """The kinds of original the running (or killed) batch's journal keeps."""
    record = json.loads((vault_dir / ".vaulttools" / "journal" / "plan.json").read_text(encoding="utf-8"))
    return {entry["backup"] for entry in record["changes"]}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.md"))}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"a\r\nb\r\n", b"a\r\nc\r\n"),  # CRLF
        (BOM + b"old", BOM + b"new"),  # a BOM
        (b"no final newline", b"no final newline!"),
        ("caf\u00e9 \U0001f600".encode(), "th\u00e9".encode()),
        (b"", b"grown from nothing\n"),  # an empty note
        (b"x" * 10_000, b"y" * 9_000),  # several journal blocks, shrinking
    ],
)
@pytest.mark.usefixtures("every_note_left_on_disk")
def test_a_change_left_on_disk_reads_back_its_exact_bytes(tmp_path: Path, old: bytes, new: bytes) -> None:
    (tmp_path / "a.md").write_bytes(old)
    change = FileChange("a.md", old, new).old_left_on_disk(tmp_path)
    assert change.old_on_disk == OnDisk(
        f"{tmp_path}/a.md", fingerprints(old, new)[changes_module.OLD_BLOB], len(old)
    )
    assert change.fingerprints == worker_fingerprints(old, new, left_on_disk=True)
    assert (change.old, change.new, change.creates, change.deletes) == (old, new, False, False)
    assert change.holds_old(old) and not change.holds_old(old + b"\n") and not change.holds_old(None)
    assert change == FileChange("a.md", old, new)
    travelled = pickle.loads(pickle.dumps(change))  # from a worker: only the new bytes and the digest
    assert isinstance(travelled.old_on_disk, OnDisk)  # sent as a plain tuple, rebuilt on arrival
    assert len(pickle.dumps(change)) < len(pickle.dumps(FileChange("a.md", old, new))) + 500 - len(old)
    assert (travelled.old_on_disk, travelled.fingerprints, travelled.new) == (
        change.old_on_disk,
        change.fingerprints,
        new,
    )
    spooled = change.spooled(Spool(tmp_path, memory_budget=0))
    assert (spooled.old_on_disk, spooled.new, spooled.fingerprints) == (
        change.old_on_disk,
        new,
        change.fingerprints,
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"a\r\nb\r\n", b"a\r\nc\r\n"),  # CRLF
        (BOM + b"old", BOM + b"new"),  # a BOM
        (b"no final newline", b"no final newline!"),
        ("caf\u00e9 \U0001f600".encode(), "th\u00e9".encode()),
        (b"", b"grown from nothing\n"),  # an empty note
        (b"x" * (changes_module.LEFT_ON_DISK_FROM - 1), b"y" * 9_000),  # the largest note held
    ],
)
def test_a_small_change_holds_its_old_bytes_with_the_worker_fingerprints(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    change = FileChange("a.md", old, new).old_left_on_disk(tmp_path)  # no file: never read back
    assert change.old_on_disk is None and change.fingerprints == worker_fingerprints(old, new)
    assert (change.old, change.new, change.creates, change.deletes) == (old, new, False, False)
    assert change.holds_old(old) and not change.holds_old(old + b"\n") and not change.holds_old(None)
    assert change == FileChange("a.md", old, new)
    travelled = pickle.loads(pickle.dumps(change))  # from a worker: both bytes and the fingerprints
    assert (travelled.old, travelled.new, travelled.fingerprints) == (old, new, change.fingerprints)
    spooled = change.spooled(Spool(tmp_path, memory_budget=0))
    assert (spooled.old, spooled.new, spooled.fingerprints) == (old, new, change.fingerprints)


@pytest.mark.parametrize(
    ("size", "left_on_disk"),
    [
        (0, False),
        (changes_module.LEFT_ON_DISK_FROM - 1, False),
        (changes_module.LEFT_ON_DISK_FROM, True),
        (changes_module.LEFT_ON_DISK_FROM * 4, True),
    ],
)
def test_only_notes_from_the_threshold_on_are_left_on_disk(
    tmp_path: Path, size: int, left_on_disk: bool
) -> None:
    old = b"o" * size
    (tmp_path / "a.md").write_bytes(old)
    change = FileChange("a.md", old, b"new\n").old_left_on_disk(tmp_path)
    assert (change.old_on_disk is not None) == left_on_disk
    assert change.old == old and change.fingerprints == worker_fingerprints(old, b"new\n")


@pytest.mark.parametrize(
    "change",
    [
        FileChange("a.md", None, b"created"),
        FileChange("a.md", b"deleted", None),
        FileChange("a.md", b"moved", b"moved", "b.md"),
    ],
)
def test_created_deleted_and_moved_files_keep_their_old_bytes(tmp_path: Path, change: FileChange) -> None:
    assert change.old_left_on_disk(tmp_path) is change
    assert change.old_on_disk is None and change.fingerprints is None


@pytest.mark.parametrize(
    ("meanwhile", "how"),
    [
        (lambda path: path.write_bytes(path.read_bytes() + b"typed\n"), "was changed"),
        (lambda path: path.write_bytes(path.read_bytes().replace(b"b", b"c")), "was changed"),  # same size
        (lambda path: path.unlink(), "was deleted"),
    ],
)
@pytest.mark.usefixtures("every_note_left_on_disk")
def test_reading_back_refuses_a_file_another_program_touched(
    tmp_path: Path, meanwhile: Callable[[Path], None], how: str
) -> None:
    (tmp_path / "a.md").write_bytes(b"abc\n")
    change = FileChange("a.md", b"abc\n", b"new\n").old_left_on_disk(tmp_path)
    meanwhile(tmp_path / "a.md")
    with pytest.raises(
        EditConflict, match=f"a.md {how} by another program since vaulttools read it; nothing"
    ):
        _ = change.old


def test_normalize_writes_every_hostile_note_byte_for_byte(
    tmp_path: Path, old_bytes_regime: str, journal_originals: str
) -> None:
    vault_dir = _vault(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    assert sorted(c.path for c in plan.changes) == REWRITTEN
    left = sorted(c.path for c in plan.changes if c.old_on_disk is not None)
    assert left == _left_on_disk(old_bytes_regime)
    # git lacks the new bytes (held: ""): the batch stores them, as one pack
    assert all(
        c.fingerprints
        == worker_fingerprints(NOTES[c.path], c.new, "", left_on_disk=c.old_on_disk is not None)
        for c in plan.changes
    )
    kept = []
    run_batch(Vault(vault_dir), plan, BatchOptions(), after_write=lambda _: kept.append(_backups(vault_dir)))
    named = journal_originals == "named as git blobs"
    assert kept[0] == ({journal.GIT_BACKUP} if named else {journal.ORIGINALS_FILE})
    originals = vault_dir / JOURNAL_DIR / "originals.bin"
    assert not originals.exists()  # the batch cleared its journal
    after = _snapshot(vault_dir)
    expected = {n: d.replace(b"[[target", b"[[target-d9") for n, d in NOTES.items() if n in REWRITTEN}
    assert after == {**NOTES, **expected}
    assert_clean(vault_dir)
    for name in REWRITTEN:  # committed exactly as written
        assert git(vault_dir, "rev-parse", f"HEAD:{name}") == git(vault_dir, "hash-object", name)


def test_forked_workers_spool_the_new_bytes_of_the_long_notes(
    tmp_path: Path, old_bytes_regime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planned on forked workers, a long note (whose old bytes stay on disk) sends its new bytes through the
    batch's shared spool (a place in it crosses the pipe); a short note sends its new bytes, and its old
    ones only where git lacks them."""
    vault_dir = _vault(tmp_path)
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    plan = plan_normalize(Vault(vault_dir))
    spooled = sorted(c.path for c in plan.changes if c._spool is not None)
    assert spooled == (REWRITTEN if old_bytes_regime == EVERY_NOTE else ["big.md"])  # the long ones
    assert all(c._spool is not None and c._spool.shared for c in plan.changes if c.path in spooled)
    assert sorted(c.path for c in plan.changes if c.old_on_disk is not None) == _left_on_disk(
        old_bytes_regime
    )
    assert all(
        c.fingerprints
        == worker_fingerprints(NOTES[c.path], c.new, "", left_on_disk=c.old_on_disk is not None)
        for c in plan.changes
    )
    run_batch(Vault(vault_dir), plan, BatchOptions())
    expected = {n: d.replace(b"[[target", b"[[target-d9") for n, d in NOTES.items() if n in REWRITTEN}
    assert _snapshot(vault_dir) == {**NOTES, **expected}
    assert_clean(vault_dir)


def test_forked_rename_workers_spool_the_new_bytes_of_the_long_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rename` as `normalize-links`: planned on forked workers, only a long note's new bytes go through
    the batch's shared spool, and the batch writes every note as planned."""
    from vaulttools.rename import plan_renames

    notes = {name: data.replace(b"[[target", b"[[target-d9") for name, data in NOTES.items()}
    vault_dir = git_vault_of(notes, tmp_path / "v")
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    plan = plan_renames(Vault(vault_dir), [("target-d9", "goal")])
    assert sorted(c.path for c in plan.changes if c._spool is not None) == ["big.md"]
    assert all(c._spool.shared for c in plan.changes if c._spool is not None)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    renamed = {n: d.replace(b"[[target-d9", b"[[goal") for n, d in notes.items() if n in REWRITTEN}
    del notes["target-d9.md"]
    assert _snapshot(vault_dir) == {**notes, **renamed, "goal.md": b"---\nid: goal\n---\nThe target.\n"}
    assert_clean(vault_dir)


def _changed(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"typed meanwhile\n")


def _same_size(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-2] + (b"!!" if data[-2:] != b"!!" else b"??"))


@pytest.mark.parametrize("meanwhile", [_changed, _same_size, Path.unlink])
@pytest.mark.parametrize("victim", ["crlf.md", "big.md", "no-final-newline.md"])
@pytest.mark.usefixtures("old_bytes_regime", "journal_originals")
def test_a_note_changed_between_planning_and_writing_refuses_the_batch(
    tmp_path: Path, meanwhile: Callable[[Path], None], victim: str
) -> None:
    vault_dir = _vault(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    meanwhile(vault_dir / victim)
    git(vault_dir, "add", "-A")
    git(vault_dir, "commit", "-q", "-m", "another program")  # committed: only the sha256 can tell
    before = _snapshot(vault_dir)
    with pytest.raises(
        EditConflict, match=f"{victim} was (changed|deleted) by another program since vaulttools"
    ):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert _snapshot(vault_dir) == before  # the other program's bytes (or deletion) stay, ours are put back
    assert commits(vault_dir) == 2
    assert not (vault_dir / ".vaulttools" / "journal").exists()


@pytest.mark.usefixtures("old_bytes_regime", "journal_originals")
def test_a_note_changed_while_the_batch_writes_is_put_back_from_the_journal(tmp_path: Path) -> None:
    vault_dir = _vault(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    first, last = plan.changes[0].path, plan.changes[-1].path
    edited = NOTES[last] + b"A line typed in Obsidian.\n"

    def obsidian_saves_a_note(written: str) -> None:
        if written == first:
            (vault_dir / last).write_bytes(edited)

    with pytest.raises(EditConflict, match=f"{last} was changed by another program since vaulttools read it"):
        run_batch(Vault(vault_dir), plan, BatchOptions(), after_write=obsidian_saves_a_note)
    assert _snapshot(vault_dir) == {**NOTES, last: edited}  # our writes undone from the journal
    assert commits(vault_dir) == 1
    assert not (vault_dir / ".vaulttools" / "journal").exists()


@pytest.mark.parametrize("failing", [1, 3, len(REWRITTEN)])
@pytest.mark.usefixtures("old_bytes_regime", "journal_originals")
def test_a_failed_write_puts_every_note_back_from_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    vault_dir = _vault(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    real = batch_module.rewrite_in_place
    calls = {"n": 0}

    def disk_full_once(path: str, data: bytes, expected: object = None, **options: bool) -> bool:
        if expected is not None:  # a batch write, not the rollback's
            calls["n"] += 1
            if calls["n"] == failing:
                real(path, data[: len(data) // 2])  # half written, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real(path, data, expected, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module, "rewrite_in_place", disk_full_once)
    with pytest.raises(BatchAborted, match="No space left on device"):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert _snapshot(vault_dir) == NOTES
    assert commits(vault_dir) == 1
    assert_clean(vault_dir)


@pytest.mark.parametrize("objects_aged", [True, False])
@pytest.mark.parametrize("after", ["1", "3"])
def test_recover_after_a_killed_normalize_puts_back_every_byte(
    tmp_path: Path, after: str, objects_aged: bool
) -> None:
    vault_dir = _vault(tmp_path, objects_aged=objects_aged)
    killed = run_vaulttools(vault_dir, "normalize-links", env={CRASH_AFTER_ENV: after})
    assert killed.returncode == -9, killed.stderr
    assert _snapshot(vault_dir) != NOTES
    # Blobs git wrote before the batch's sync are named; the commit just made is copied.
    assert _backups(vault_dir) == ({journal.GIT_BACKUP} if objects_aged else {journal.ORIGINALS_FILE})
    recovered = run_vaulttools(vault_dir, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert _snapshot(vault_dir) == NOTES
    assert commits(vault_dir) == 1
    assert_clean(vault_dir)


# --- the journal's originals are copied while the batch writes ------------------------------------------


def _killed_normalize(vault_dir: Path, after: int) -> dict:
    killed = run_vaulttools(vault_dir, "normalize-links", env={CRASH_AFTER_ENV: str(after)})
    assert killed.returncode == -9, killed.stderr
    record: dict = json.loads((vault_dir / JOURNAL_DIR / "plan.json").read_text(encoding="utf-8"))
    return record


def _cut_originals(vault_dir: Path, record: dict, kept: int, tail: bytes = b"") -> None:
    """The originals file as a kill (or power cut) leaves it when only the first `kept` were copied."""
    end = sum(entry["length"] for entry in record["changes"][:kept])
    originals = vault_dir / JOURNAL_DIR / "originals.bin"
    originals.write_bytes(originals.read_bytes()[:end] + tail)


@pytest.mark.parametrize(
    "tail", [b"", b"\0" * 5000, b"garbage"]
)  # ends early; zeros or junk after a power cut
def test_recover_leaves_the_notes_whose_originals_were_not_copied_yet(tmp_path: Path, tail: bytes) -> None:
    vault_dir = _vault(tmp_path, objects_aged=False)
    record = _killed_normalize(vault_dir, 1)
    _cut_originals(vault_dir, record, 1, tail)
    recovered = run_vaulttools(vault_dir, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert _snapshot(vault_dir) == NOTES
    assert_clean(vault_dir)


def test_recover_refuses_a_note_changed_after_the_kill_whose_original_was_not_copied(tmp_path: Path) -> None:
    vault_dir = _vault(tmp_path, objects_aged=False)
    record = _killed_normalize(vault_dir, 1)
    _cut_originals(vault_dir, record, 1)
    later = record["changes"][-1]["path"]
    (vault_dir / later).write_bytes(NOTES[later] + b"typed after the kill\n")
    refused = run_vaulttools(vault_dir, "recover")
    assert refused.returncode == 2
    assert f"{later}: changed by another program since the batch stopped" in refused.stderr
    assert (vault_dir / JOURNAL_DIR / "plan.json").is_file()


@pytest.mark.usefixtures("old_bytes_regime")
def test_no_note_is_written_before_its_original_is_in_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_dir = _vault(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    real_sync, real_write = journal._make_durable, batch_module.rewrite_in_place
    monkeypatch.setattr(batch_module, "NAME_GIT_BLOBS", False)  # every original copied
    monkeypatch.setattr(journal, "SYNC_EVERY", 1)  # a sync after every original

    def slow_sync(file: object, data_only: bool = False) -> None:
        time.sleep(0.05)  # the copy falls behind the writes
        real_sync(file, data_only)  # type: ignore[arg-type]

    checked = []

    def write_checking_the_journal(
        path: str, data: bytes, expected: bytes | None = None, **options: bool
    ) -> bool:
        if expected is not None:  # a batch write: its original must already be in the journal
            saved = journal.original_reader(vault_dir)(Path(path).relative_to(vault_dir).as_posix())
            assert saved == Path(path).read_bytes() == expected
            checked.append(path)
        return real_write(path, data, expected, **options)

    monkeypatch.setattr(journal, "_make_durable", slow_sync)
    monkeypatch.setattr(batch_module, "rewrite_in_place", write_checking_the_journal)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert len(checked) == len(REWRITTEN)
    assert sorted(n for n, d in _snapshot(vault_dir).items() if d != NOTES[n]) == REWRITTEN


@pytest.mark.usefixtures("old_bytes_regime")
def test_a_journal_that_fails_while_the_batch_writes_puts_every_note_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_dir = _vault(tmp_path)
    plan = plan_normalize(Vault(vault_dir))
    real_sync, syncs = journal._make_durable, {"n": 0}
    monkeypatch.setattr(batch_module, "NAME_GIT_BLOBS", False)  # every original copied
    monkeypatch.setattr(journal, "SYNC_EVERY", 1)

    def disk_full_on_the_third(file: object, data_only: bool = False) -> None:
        syncs["n"] += 1
        if syncs["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "originals.bin")
        real_sync(file, data_only)  # type: ignore[arg-type]

    monkeypatch.setattr(journal, "_make_durable", disk_full_on_the_third)
    with pytest.raises(BatchAborted, match=r"No space left on device.*every file was put back"):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert _snapshot(vault_dir) == NOTES
    assert commits(vault_dir) == 1
    assert not (vault_dir / JOURNAL_DIR).exists()


@pytest.mark.parametrize(
    ("old", "new", "shared"),
    [
        (b"", b"", 0),
        (b"a" * 100, b"b" * 100, 0),  # shorter than a block: nothing to leave
        (b"x" * 9000, b"x" * 9000, 8192),  # the same bytes: every whole block but the last partial one
        (b"x" * 9000 + b"old", b"x" * 9000 + b"new section", 8192),
        (b"x" * 5000 + b"old" + b"y" * 9000, b"x" * 5000 + b"new" + b"y" * 9000, 4096),  # in the 2nd block
        (b"z" + b"x" * 20000, b"y" + b"x" * 20000, 0),  # the first byte differs
        (b"x" * 12288, b"x" * 8192, 8192),  # cut at a block's end: only the truncation is left to do
    ],
)
def test_the_start_old_and_new_bytes_share_is_counted_in_whole_blocks(
    old: bytes, new: bytes, shared: int
) -> None:
    assert changes_module.shared_blocks_length(old, new) == shared
    assert old[:shared] == new[:shared]


def _written_from(tmp_path: Path, old: bytes, new: bytes, *, links: int = 1) -> bytes:
    path = tmp_path / "a.md"
    path.write_bytes(old)
    for number in range(1, links):
        os.link(path, tmp_path / f"link{number}.md")
    change = FileChange("a.md", old, new).old_left_on_disk(tmp_path)
    same = change.same_until
    assert same == changes_module.shared_blocks_length(old, new) > 0
    assert rewrite_in_place(path, change.new_bytes_from(same), expected=old, same_until=same)
    return path.read_bytes()


@pytest.mark.parametrize("links", [1, 2], ids=["written over", "hard-linked: written whole"])
def test_a_long_note_is_written_from_its_first_changed_block(tmp_path: Path, links: int) -> None:
    old = b"x" * 20000 + b"\n## Related\n- [[a]]\n"
    cut_at_a_block = old[: 2 * changes_module.SAME_BLOCK]  # nothing left to write: only the truncation
    for new in (old[:-3] + b"b]]\n", old + b"- [[c]]\n" * 50, old[:9000] + b"cut short\n", cut_at_a_block):
        folder = tmp_path / f"{links}-{len(new)}"
        folder.mkdir()
        assert _written_from(folder, old, new, links=links) == new


def test_a_note_changed_in_the_part_left_as_it_is_is_not_written(tmp_path: Path) -> None:
    """The shared start is left only once the whole file is proven to hold the planned old bytes."""
    old = b"x" * 20000 + b"end\n"
    new = old[:-4] + b"new end\n"
    path = tmp_path / "a.md"
    path.write_bytes(b"edited by hand" + old[14:])
    change = FileChange("a.md", old, new).old_left_on_disk(tmp_path)
    same = change.same_until
    assert not rewrite_in_place(path, new[same:], expected=old, same_until=same)
    assert path.read_bytes() == b"edited by hand" + old[14:]


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="no memfd on this system")
@pytest.mark.parametrize(("available", "in_memory"), [(10**12, True), (1000, False)])
def test_normalize_spools_in_memory_only_what_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, available: int, in_memory: bool
) -> None:
    """The spool's most is the old and new bytes of every note with a broken link: in memory when four times
    that is available, else a file on disk."""
    vault_dir = _vault(tmp_path)
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    monkeypatch.setattr(changes_module, "_memory_to_spare", lambda: available)
    plan = plan_normalize(Vault(vault_dir))
    spools = {id(c._spool): c._spool for c in plan.changes if c._spool is not None}
    assert len(spools) == 1
    (spool,) = spools.values()
    where = os.readlink(f"/proc/self/fd/{spool._open().fileno()}")
    assert where.startswith("/memfd:") is in_memory
    run_batch(Vault(vault_dir), plan, BatchOptions())
    expected = {n: d.replace(b"[[target", b"[[target-d9") for n, d in NOTES.items() if n in REWRITTEN}
    assert _snapshot(vault_dir) == {**NOTES, **expected}
