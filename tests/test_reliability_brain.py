"""The real corpus (issue 8): on a copy of ../shared/corpora/brain, `check` runs, renaming each of its 20
most-linked notes changes only link targets, and `undo` puts every byte back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import git, snapshot
from tests.helpers import masked
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.normalize import plan_normalize
from vaulttools.note import Note
from vaulttools.rename import plan_renames
from vaulttools.resolve import RESOLVED, stem_of
from vaulttools.vault import Vault

RunCli = Callable[..., Result]


def most_linked(vault: Vault, count: int) -> list[str]:
    """The notes with the most resolved inbound links (code, comments and unquoted YAML do not count)."""
    inbound: Counter[str] = Counter()
    for note in vault.notes():
        for link in note.links:
            if link.opaque is None and link.target:
                resolution = vault.index.resolve(link.target, note.path)
                if resolution.status == RESOLVED and resolution.path != note.path:
                    inbound[resolution.path] += 1
    notes = [(n, path) for path, n in inbound.items() if path.lower().endswith(".md")]
    return [path for _, path in sorted(notes, key=lambda item: (-item[0], item[1]))[:count]]


def comparable(data: bytes) -> str:
    return data.decode("utf-8").lower()


def assert_only_links_changed(old: bytes, new: bytes, path: str) -> None:
    before, after = Note(path, old), Note(path, new)
    assert masked(before) == masked(after), f"{path}: bytes outside links changed"


@pytest.mark.slow
def test_rename_the_twenty_most_linked_notes_and_undo_each(brain_vault: Path, run_cli: RunCli) -> None:
    check = run_cli(brain_vault, "check", "--json")
    assert check.exit_code in (0, 1) and check.output.startswith("{")
    original = snapshot(brain_vault)
    targets = most_linked(Vault(brain_vault), 20)
    assert len(targets) == 20
    rewritten_files = 0
    for path in targets:
        old_stem = stem_of(path)
        new_stem = f"{old_stem} renamed"
        plan = plan_renames(Vault(brain_vault), [("/" + path, new_stem)])
        # Taken before the batch writes: a rewritten note's old bytes are read back from its file.
        written = [(change.path, change.new_path, change.old, change.new) for change in plan.changes]
        run_batch(Vault(brain_vault), plan, BatchOptions())
        for change_path, new_path, old, new in written:
            assert old is not None and new is not None
            if new_path is None:
                rewritten_files += 1
                assert_only_links_changed(old, new, change_path)
        # Undoing the name change in every touched file gives back the original bytes (letter case aside).
        renamed_path = path[: len(path) - len(old_stem) - 3] + new_stem + ".md"
        back = plan_renames(Vault(brain_vault), [("/" + renamed_path, old_stem)])
        restored = {c.final_path: c.new for c in back.changes}
        for change_path, _, old, new in written:
            again = restored.get(change_path, new)
            assert again is not None and old is not None
            assert comparable(again) == comparable(old), change_path
        result = run_cli(brain_vault, "undo")
        assert result.exit_code == 0, result.output
        assert snapshot(brain_vault) == original, path
    assert rewritten_files > 20
    assert git(brain_vault, "status", "--porcelain") == ""


def test_normalize_links_on_the_real_corpus_changes_only_links(brain_vault: Path) -> None:
    plan = plan_normalize(Vault(brain_vault))
    for change in plan.changes:
        assert change.new_path is None and change.old is not None and change.new is not None
        assert_only_links_changed(change.old, change.new, change.path)
