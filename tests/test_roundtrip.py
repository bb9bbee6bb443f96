"""Parse, apply no edits, write: the very same bytes, on every fixture note and every real note."""

from pathlib import Path

import pytest

from tests.conftest import BRAIN, SAMPLE_VAULT
from vaulttools.note import Note
from vaulttools.planning import note_change
from vaulttools.vault import scan_vault


def _all_md(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if p.is_file())


def _assert_round_trip(path: Path, root: Path) -> None:
    raw = path.read_bytes()
    note = Note(path.relative_to(root).as_posix(), raw)
    assert isinstance(note.links, list)  # parses everything
    assert note.encode() == raw
    if note.editable:
        assert note_change(note, []) is None


@pytest.mark.parametrize("path", _all_md(SAMPLE_VAULT), ids=lambda p: p.name)
def test_sample_vault_round_trip(path: Path) -> None:
    _assert_round_trip(path, SAMPLE_VAULT)


@pytest.mark.skipif(not BRAIN.is_dir(), reason="shared corpus not present")
def test_brain_corpus_round_trip(brain_vault: Path) -> None:
    notes = scan_vault(brain_vault).notes
    assert len(notes) > 800
    for relative in notes:
        _assert_round_trip(brain_vault / relative, brain_vault)


@pytest.mark.skipif(not BRAIN.is_dir(), reason="shared corpus not present")
def test_brain_bash_tests_in_code_are_not_links(brain_vault: Path) -> None:
    found = []
    for relative in scan_vault(brain_vault).notes:
        note = Note(relative, (brain_vault / relative).read_bytes())
        found += [lk for lk in note.links if lk.is_link and lk.target.startswith("-z ")]
    assert found == []
