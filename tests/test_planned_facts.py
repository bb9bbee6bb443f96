"""Every planner declares what it read and decided on but does not change; the batch re-checks those facts
before its first write, so another program's change between planning and writing refuses the batch with
one line and nothing written (not a rollback after some writes)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git, snapshot
from tests.helpers import commits
from vaulttools import journal
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan
from vaulttools.enrich import plan_enrich_file
from vaulttools.errors import EditConflict
from vaulttools.files import stamp_of_status
from vaulttools.merge import plan_merges, resolve_merge
from vaulttools.properties import plan_property_rename
from vaulttools.rename import plan_renames
from vaulttools.tags import plan_tag_rename
from vaulttools.vault import ScanResult, Vault, folder_status

BROKEN_YAML = "---\ntags: [draft\ntopic: x\n---\n#draft body\n"
NOTES = {
    "a.md": "---\ntags: [draft]\ntopic: x\n---\nSee [[b 1]] and [[c]].\n",
    "b.md": "# B\n\nSame body.\n",
    "b 1.md": "# B\n\nSame body.\n",
    "c.md": "# C\n",
    "broken.md": BROKEN_YAML,
    "enrich.yaml": "a:\n  context: 'Like [[c]].'\n  counterpoint: 'Not always.'\n",
}


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    root.mkdir()
    for name, text in NOTES.items():
        (root / name).write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def _rename(vault: Vault) -> BatchPlan:
    return plan_renames(vault, [("c", "d")])


def _merge(vault: Vault) -> BatchPlan:
    return plan_merges(vault, [resolve_merge(vault, ["b 1"], "b")])


def _tag(vault: Vault) -> BatchPlan:
    return plan_tag_rename(vault, [("draft", "wip")])


def _property(vault: Vault) -> BatchPlan:
    return plan_property_rename(vault, "topic", "subject")


def _enrich(vault: Vault) -> BatchPlan:
    return plan_enrich_file(vault, vault.root / "enrich.yaml")


def _write(name: str, data: str) -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(data, encoding="utf-8")


def _delete(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).unlink()


CHANGED = "was changed by another program"
GONE = "no longer exists (another program moved or deleted it)"


@pytest.mark.parametrize(
    ("planner", "meanwhile", "refused"),
    [
        # rename c → d: the new name must still be free (in any letter case), the renamed note unchanged
        (
            _rename,
            _write("D.md", "# made by hand\n"),
            "d.md, which this batch's plan relies on, was a free name, but D.md was created",
        ),
        (_rename, _write("c.md", "# C, edited\n"), f"c.md, which this batch's plan relies on, {CHANGED}"),
        (_rename, _delete("c.md"), f"c.md, which this batch's plan relies on, {GONE}"),
        # merge "b 1" into b: the target gains nothing (same body), but the links now point to it
        (
            _merge,
            _write("b.md", "# B\n\nRewritten.\n"),
            f"b.md, which this batch's plan relies on, {CHANGED}",
        ),
        (_merge, _delete("b.md"), f"b.md, which this batch's plan relies on, {GONE}"),
        (
            _merge,
            _write("b 1.md", "# B\n\nNew text.\n"),
            f"b 1.md, which this batch's plan relies on, {CHANGED}",
        ),
        # tag/property: a note they report as left alone (its YAML does not parse) was fixed meanwhile
        (
            _tag,
            _write("broken.md", "---\ntags: [draft]\n---\n"),
            f"broken.md, which this batch's plan relies on, {CHANGED}",
        ),
        (
            _property,
            _write("broken.md", "---\ntopic: y\n---\n"),
            f"broken.md, which this batch's plan relies on, {CHANGED}",
        ),
        # enrich: the paragraph links [[c]]
        (_enrich, _delete("c.md"), f"c.md, which this batch's plan relies on, {GONE}"),
    ],
)
def test_a_planned_fact_changed_before_writing_refuses_with_nothing_written(
    vault_dir: Path, planner: Callable[[Vault], BatchPlan], meanwhile: Callable[[Path], None], refused: str
) -> None:
    vault = Vault(vault_dir)
    plan = planner(vault)
    assert not plan.empty
    meanwhile(vault_dir)  # another program, between planning and writing
    git(vault_dir, "add", "-A")
    git(vault_dir, "commit", "-q", "-m", "another program")  # committed: only the plan's facts can tell
    before = snapshot(vault_dir)
    with pytest.raises(EditConflict) as raised:
        run_batch(vault, plan, BatchOptions())
    assert raised.value.message == (
        f"{refused} since vaulttools read the vault; nothing was written: run the command again"
    )
    assert snapshot(vault_dir) == before
    assert journal.pending(vault_dir) is None and commits(vault_dir) == 2


@pytest.mark.parametrize("planner", [_rename, _merge, _tag, _property, _enrich])
def test_with_nothing_changed_meanwhile_every_plan_is_written(
    vault_dir: Path, planner: Callable[[Vault], BatchPlan]
) -> None:
    vault = Vault(vault_dir)
    plan = planner(vault)
    result = run_batch(vault, plan, BatchOptions())
    assert result.committed and commits(vault_dir) == 2


def test_the_declared_facts(vault_dir: Path) -> None:
    vault = Vault(vault_dir)
    assert list(_rename(vault).expects) == ["d.md"]
    assert list(_merge(vault).expects) == ["b.md"]  # "b 1.md" is deleted: its bytes are checked as a change's
    assert list(_tag(vault).expects) == list(_property(vault).expects) == ["broken.md"]
    assert _enrich(vault).relies_on == ["c.md"]


def test_a_swap_of_names_does_not_expect_its_own_destinations_free(vault_dir: Path) -> None:
    vault = Vault(vault_dir)
    plan = plan_renames(vault, [("c", "b"), ("b", "c")])
    assert plan.expects == {}
    assert run_batch(vault, plan, BatchOptions()).committed


def test_missing_paths_lists_a_crowded_folder_once_and_asks_for_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaulttools.batch as batch_module

    monkeypatch.setattr(batch_module, "LIST_FOLDER_FROM", 3)
    (tmp_path / "f").mkdir()
    for name in ("a.md", "b.md", "c.md", "d.md"):
        (tmp_path / name).write_text("x")
        (tmp_path / "f" / name).write_text("x")
    (tmp_path / "gone-link.md").symlink_to(tmp_path / "nowhere.md")  # lexists: a dangling symlink is there
    present = ["a.md", "b.md", "c.md", "f/a.md", "f/b.md", "gone-link.md"]
    assert batch_module._missing_paths(tmp_path, present) is None
    assert batch_module._missing_paths(tmp_path, [*present, "f/x.md", "e.md"]) == "f/x.md"
    assert batch_module._missing_paths(tmp_path, ["a.md", "b.md", "e.md", "c.md"]) == "e.md"
    assert batch_module._missing_paths(tmp_path, ["g/a.md", "g/b.md", "g/c.md"]) == "g/a.md"
    assert batch_module._missing_paths(tmp_path, []) is None


_LISTDIR = os.listdir  # the tests below spy on `os.listdir`


def _folder_scan(root: Path, folder: str, mark_after_stamp: int = 1) -> ScanResult:
    """A scan of `folder` as it is now, its clock mark `mark_after_stamp` ns past the folder's ctime (a
    mark not past it says the folder may have changed in the scan's own clock tick)."""
    status = folder_status(root, folder)
    listed = sorted(f"{folder}/{name}" if folder else name for name in _LISTDIR(root / folder))
    return ScanResult(
        notes=listed,
        folder_stamps={folder: stamp_of_status(status)},
        mark=(status.st_dev, status.st_ctime_ns + mark_after_stamp),
    )


@pytest.fixture
def crowded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str], list[str]]:
    """A folder of four notes; `listed` records each folder `_missing_paths` lists."""
    import vaulttools.batch as batch_module

    monkeypatch.setattr(batch_module, "LIST_FOLDER_FROM", 3)
    (tmp_path / "f").mkdir()
    for name in ("a.md", "b.md", "c.md", "d.md"):
        (tmp_path / "f" / name).write_text("x")
    listed: list[str] = []
    real_listdir = os.listdir

    def spy(path: str) -> list[str]:
        listed.append(path)
        return real_listdir(path)

    monkeypatch.setattr(batch_module.os, "listdir", spy)
    return tmp_path, ["f/a.md", "f/b.md", "f/c.md"], listed


def test_a_folder_the_scan_proves_unchanged_is_not_listed_again(
    crowded: tuple[Path, list[str], list[str]],
) -> None:
    import vaulttools.batch as batch_module

    root, paths, listed = crowded
    scan = _folder_scan(root, "f")
    assert scan.listed_as_it_is(root, "f")
    assert batch_module._missing_paths(root, paths, scan) is None
    assert batch_module._missing_paths(root, [*paths, "f/x.md"], scan) == "f/x.md"  # not scanned: asked for
    assert listed == []


@pytest.mark.parametrize(
    "fault",
    [
        "removed after the scan",  # the folder's stamp changed
        "stamp not settled",  # the folder changed in the scan's clock tick: it may change again unseen
        "no mark",  # no state folder to take the clock's time in
        "not scanned",
    ],
)
def test_a_folder_the_scan_cannot_vouch_for_is_listed(
    crowded: tuple[Path, list[str], list[str]], fault: str
) -> None:
    import vaulttools.batch as batch_module

    root, paths, listed = crowded
    scan = _folder_scan(root, "f", mark_after_stamp=0 if fault == "stamp not settled" else 1)
    if fault == "no mark":
        scan.mark = None
    if fault == "not scanned":
        scan.folder_stamps = {}
    if fault == "removed after the scan":
        (root / "f" / "a.md").unlink()
        assert batch_module._missing_paths(root, paths, scan) == "f/a.md"
    else:
        assert batch_module._missing_paths(root, paths, scan) is None
    assert not scan.listed_as_it_is(root, "f")
    assert listed == [f"{root}/f"]


def test_a_relied_on_note_deleted_after_a_proven_scan_refuses_the_batch(
    vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the batch: the vault's own scan (state folder there, so it has a clock mark) vouches for the
    folder until another program deletes the note the plan's link points to."""
    import vaulttools.batch as batch_module

    monkeypatch.setattr(batch_module, "LIST_FOLDER_FROM", 1)
    (vault_dir / ".vaulttools").mkdir()
    time.sleep(0.05)  # the folder's last change settles before the scan's clock mark
    vault = Vault(vault_dir)
    plan = _enrich(vault)
    assert vault.scan.mark is not None and vault.scan.listed_as_it_is(vault_dir, "")
    (vault_dir / "c.md").unlink()
    before = snapshot(vault_dir)
    with pytest.raises(EditConflict, match=r"c\.md, which this batch's plan relies on, no longer exists"):
        run_batch(vault, plan, BatchOptions())
    assert snapshot(vault_dir) == before and commits(vault_dir) == 1


def test_the_scan_takes_its_clock_mark_before_any_folder_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order `listed_as_it_is` relies on: a change after a stamp sets the folder's ctime to at least the
    mark's time only if the mark was taken first; and each folder is stamped before it is listed."""
    import vaulttools.vault as vault_module

    (tmp_path / ".vaulttools").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "n.md").write_text("x")
    events: list[str] = []
    real_mark, real_status, real_scandir = vault_module.clock_mark, vault_module.folder_status, os.scandir

    def mark(root: Path) -> tuple[int, int] | None:
        events.append("mark")
        return real_mark(root)

    def status(root: Path | str, folder: str) -> os.stat_result:
        events.append(f"stamp {folder}")
        return real_status(root, folder)

    def scandir(path: Path) -> object:
        events.append(f"list {Path(path).relative_to(tmp_path).as_posix()}")
        return real_scandir(path)

    monkeypatch.setattr(vault_module, "clock_mark", mark)
    monkeypatch.setattr(vault_module, "folder_status", status)
    monkeypatch.setattr(vault_module.os, "scandir", scandir)
    scan = vault_module.scan_vault(tmp_path)
    assert events == ["mark", "stamp ", "list .", "stamp a", "list a", "stamp a/b", "list a/b"]
    assert (
        scan.notes == ["a/b/n.md"] and scan.mark is not None and set(scan.folder_stamps) == {"", "a", "a/b"}
    )


def test_free_names_are_checked_against_one_listing_per_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rename --map` of many notes in one big folder: each name is looked up in the folder's listing,
    listed once (it was listed, and every name folded, once per renamed note)."""
    from vaulttools import batch

    (tmp_path / "notes").mkdir()
    for name in ("Alpha.md", "ÉTÉ.md", "x.md"):
        (tmp_path / "notes" / name).write_text("x\n", encoding="utf-8")
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(batch.os, "listdir", lambda path: listed.append(str(path)) or real_listdir(path))
    listings: dict[str, dict[str, str] | None] = {}
    answers = {
        path: batch._taken_in_any_case(tmp_path, path, listings)
        for path in (
            "notes/alpha.md",
            "notes/beta.md",
            "notes/été.md",
            "notes/x.md",
            "gone/y.md",
            "gone/z.md",
        )
    }
    assert answers == {
        "notes/alpha.md": "notes/Alpha.md",
        "notes/beta.md": None,
        "notes/été.md": "notes/ÉTÉ.md",
        "notes/x.md": "notes/x.md",  # the name itself, found without a listing
        "gone/y.md": None,  # no such folder: no file in it
        "gone/z.md": None,
    }
    assert sorted(listed) == sorted([str(tmp_path / "notes"), str(tmp_path / "gone")])
