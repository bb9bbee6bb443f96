"""sync-related planned in forked workers: each worker spools the changes it plans into the batch's shared
spool and takes their journal fingerprints, so only places and digests cross the pipe. The batch then
writes exactly the bytes one process would have, and still refuses a note another program changed after
the plan read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of, snapshot
from tests.helpers import assert_clean, commits, git_blob_id
from vaulttools import changes, parallel, related
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan, PlannedStatus
from vaulttools.errors import EditConflict, VaultError
from vaulttools.journal import fingerprints
from vaulttools.related import plan_sync_related
from vaulttools.vault import Vault

BOM = "\ufeff".encode()
FRONTMATTER = b'---\narticleStem: "a"\n---\n'
# Group "a" names both notes of group "b" in its text, so every note of "a" gets a section: each in its
# own hostile shape (CRLF, a BOM, no final newline, non-ASCII text, a note larger than a journal block
# whose stale section is rewritten).
NOTES = {
    "b/target-one.md": b'---\narticleStem: "b"\n---\nThe first target.\n',
    "b/target-two.md": b'---\narticleStem: "b"\n---\nThe second target.\n',
    "c/other.md": b'---\narticleStem: "c"\n---\nUnrelated words entirely.\n',
    "a/crlf.md": b'---\r\narticleStem: "a"\r\n---\r\nOn target one and target two.\r\n',
    "a/bom.md": BOM + FRONTMATTER + b"On target one and target two.\n",
    "a/no-final-newline.md": FRONTMATTER + b"On target one and target two.",
    "a/accents.md": FRONTMATTER + "Caf\u00e9 \u2014 target one, target two \U0001f600\n".encode(),
    "a/big.md": FRONTMATTER
    + b"word " * 3000
    + b"\ntarget one, target two\n\n## Related across articles\n- [[old-entry]]\n",
}
ENTRIES = b"## Related across articles\n- [[target-one]]\n- [[target-two]]\n"
EXPECTED = {
    **NOTES,
    "a/crlf.md": NOTES["a/crlf.md"] + b"\r\n\r\n" + ENTRIES.replace(b"\n", b"\r\n"),
    "a/bom.md": NOTES["a/bom.md"] + b"\n\n" + ENTRIES,
    "a/no-final-newline.md": NOTES["a/no-final-newline.md"] + b"\n\n\n" + ENTRIES.removesuffix(b"\n"),
    "a/accents.md": NOTES["a/accents.md"] + b"\n\n" + ENTRIES,
    "a/big.md": NOTES["a/big.md"].replace(b"- [[old-entry]]\n", ENTRIES.split(b"\n", 1)[1]),
}
REWRITTEN = sorted(path for path in NOTES if EXPECTED[path] != NOTES[path])


def _in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan on forked workers, as a big vault is, with the spool's memory budget spent at once."""
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    monkeypatch.setattr(changes, "SPOOL_MEMORY_BUDGET", 0)


def _planned_in_workers(
    vault_dir: Path, monkeypatch: pytest.MonkeyPatch, *, settled: bool = False
) -> BatchPlan:
    """`settled`: every note was last changed before the plan's clock mark (`PlannedStatus.stamp`)."""
    _in_workers(monkeypatch)
    device = vault_dir.stat().st_dev
    monkeypatch.setattr(related, "clock_mark", lambda root: (device, 2**62 if settled else 0))
    plan = plan_sync_related(Vault(vault_dir))
    assert sorted(change.path for change in plan.changes) == REWRITTEN
    spools = {id(change._spool) for change in plan.changes}
    assert len(spools) == 1 and plan.changes[0]._spool is not None and plan.changes[0]._spool.shared
    for change in plan.changes:  # hashed by the workers: the batch hashes nothing
        assert change.old is not None
        expected = fingerprints(change.old, change.new) | {
            changes.OLD_BLOB: git_blob_id(change.old),
            changes.NEW_BLOB: git_blob_id(change.new_bytes),
            changes.NEW_BLOB_HELD: "",  # asked of the vault's git store: the new bytes are new to it
        }
        if change.long_old_on_disk:  # a long note: written from the first block that changes
            old, new = change.old, change.new_bytes
            shared = next(
                (at for at, pair in enumerate(zip(old, new, strict=False)) if pair[0] != pair[1]), len(new)
            )
            expected[changes.SAME_UNTIL] = shared // changes.SAME_BLOCK * changes.SAME_BLOCK
            assert expected[changes.SAME_UNTIL] > 0  # the section is added at the end of a long note
        assert change.fingerprints == expected
        # The mode the worker read the note with: the batch takes no `lstat` of its own.
        status = (vault_dir / change.path).stat()
        stamp = (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino) if settled else None
        assert change.planned_status == PlannedStatus(status.st_mode, status.st_uid, stamp)
    # Every note's old bytes stay in the note: git holds them (a short note's would be spooled otherwise);
    # only the long one is written from its first changed block.
    assert all(change.old_on_disk is not None for change in plan.changes)
    assert [change.path for change in plan.changes if change.long_old_on_disk] == ["a/big.md"]
    return plan


def test_workers_spool_and_fingerprint_every_hostile_note_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    plan = _planned_in_workers(vault_dir, monkeypatch)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert snapshot(vault_dir) == EXPECTED
    assert_clean(vault_dir)
    for path in REWRITTEN:  # committed exactly as written
        assert git(vault_dir, "rev-parse", f"HEAD:{path}") == git(vault_dir, "hash-object", path)
    assert plan_sync_related(Vault(vault_dir)).changes == []  # a second run writes nothing


def test_serial_planning_keeps_changes_in_memory_within_its_budget(tmp_path: Path) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    plan = plan_sync_related(Vault(vault_dir))
    assert all(change._spool is None and change.fingerprints is None for change in plan.changes)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert snapshot(vault_dir) == EXPECTED


def _typed(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"typed meanwhile\n")


def _same_size(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-2] + (b"!!" if data[-2:] != b"!!" else b"??"))


@pytest.mark.parametrize("meanwhile", [_typed, _same_size, Path.unlink])
@pytest.mark.parametrize("victim", ["a/crlf.md", "a/big.md", "a/no-final-newline.md"])
def test_a_note_changed_after_the_workers_read_it_refuses_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[Path], None], victim: str
) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    plan = _planned_in_workers(vault_dir, monkeypatch)
    meanwhile(vault_dir / victim)
    git(vault_dir, "add", "-A")
    git(vault_dir, "commit", "-q", "-m", "another program")  # committed: only the bytes can tell
    before = snapshot(vault_dir)
    with pytest.raises(EditConflict, match=f"{victim} was changed by another program since vaulttools"):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert snapshot(vault_dir) == before  # the other program's bytes (or deletion) stay, ours are put back
    assert commits(vault_dir) == 2
    assert not (vault_dir / ".vaulttools" / "journal").exists()


@pytest.mark.parametrize("victim", ["a/crlf.md", "a/big.md"])
def test_a_note_made_read_only_after_the_workers_read_it_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    plan = _planned_in_workers(vault_dir, monkeypatch)
    (vault_dir / victim).chmod(0o444)
    before = snapshot(vault_dir)
    # The mode is checked again on the open file as the batch writes it: refused there, all put back.
    with pytest.raises(
        VaultError, match=f"{victim} failed \\(the file was made read-only\\); every file was"
    ):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert snapshot(vault_dir) == before
    assert commits(vault_dir) == 1
    (vault_dir / victim).chmod(0o644)


def test_a_section_span_is_trusted_only_for_the_bytes_it_was_found_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planning takes an existing section from the span the facts cache found (no second look through the
    note's headings) only when the note's stamp is still the cached one: a note saved after the scan is
    looked through again, and its section planned from its new bytes."""
    from vaulttools import related
    from vaulttools.related import plan_related, related_config, scan_related

    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    seen: dict[str, bool] = {}
    real = related.related_section_change

    def spying(note, heading, entries, known=None):  # type: ignore[no-untyped-def]
        if known is not None:
            seen[note.path] = known.exact
        return real(note, heading, entries, known)

    monkeypatch.setattr(related, "related_section_change", spying)
    vault = Vault(vault_dir)
    config = related_config(vault.config.related, None)
    scan = scan_related(vault, config)
    saved = NOTES["a/big.md"].replace(b"word word", b"A heading moved:\n\n## Related across articles\n", 1)
    (vault_dir / "a/big.md").write_bytes(saved)  # the stamp changes (size, mtime or ctime)
    plan = plan_related(vault, scan, config)
    assert seen.pop("a/big.md") is False
    assert seen and all(seen.values())  # notes without a section, unchanged: none is looked for
    seen.clear()
    [change] = [change for change in plan.changes if change.path == "a/big.md"]
    assert change.old == saved and change.new == saved.replace(
        b"- [[old-entry]]\n", ENTRIES.split(b"\n", 1)[1]
    )
    seen.clear()
    git(vault_dir, "checkout", "a/big.md")
    fresh = Vault(vault_dir)
    plan = plan_related(fresh, scan_related(fresh, config), config)
    assert seen["a/big.md"] is True
    assert [change.new for change in plan.changes if change.path == "a/big.md"] == [EXPECTED["a/big.md"]]


def test_a_note_without_a_section_is_looked_through_again_once_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The facts' "no section here" holds only for the bytes they were taken from: a section written into
    the note after the scan is found and its list rewritten, not a second section appended."""
    from vaulttools.related import plan_related, related_config, scan_related

    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    vault = Vault(vault_dir)
    config = related_config(vault.config.related, None)
    scan = scan_related(vault, config)
    saved = NOTES["a/accents.md"] + b"\n## Related across articles\n- [[written-meanwhile]]\n"
    (vault_dir / "a/accents.md").write_bytes(saved)
    plan = plan_related(vault, scan, config)
    [change] = [change for change in plan.changes if change.path == "a/accents.md"]
    assert change.new == NOTES["a/accents.md"] + b"\n" + ENTRIES
    assert plan.report.updated.count("a/accents.md") == 1


def test_settled_notes_are_written_byte_for_byte_without_a_second_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    plan = _planned_in_workers(vault_dir, monkeypatch, settled=True)
    run_batch(Vault(vault_dir), plan, BatchOptions())
    assert snapshot(vault_dir) == EXPECTED
    assert_clean(vault_dir)


@pytest.mark.parametrize("meanwhile", [_typed, _same_size, Path.unlink])
@pytest.mark.parametrize("victim", ["a/crlf.md", "a/big.md"])
def test_a_settled_note_changed_after_the_plan_refuses_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[Path], None], victim: str
) -> None:
    vault_dir = git_vault_of(NOTES, tmp_path / "vault")
    plan = _planned_in_workers(vault_dir, monkeypatch, settled=True)
    meanwhile(vault_dir / victim)
    git(vault_dir, "add", "-A")
    git(vault_dir, "commit", "-q", "-m", "another program")  # committed: only the note's file can tell
    before = snapshot(vault_dir)
    with pytest.raises(EditConflict, match=f"{victim} was changed by another program since vaulttools"):
        run_batch(Vault(vault_dir), plan, BatchOptions())
    assert snapshot(vault_dir) == before
    assert commits(vault_dir) == 2
