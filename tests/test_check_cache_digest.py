"""`check`'s cache by content: a note whose stamp changed but whose bytes did not (`git checkout`, `undo`,
a sync tool) keeps its entry, in `check` and in `normalize-links`; a note whose bytes changed is checked
again even when its size did not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE_VAULT, make_git_vault, rewrite_same_bytes
from vaulttools import check, facts, normalize
from vaulttools.check import BrokenLinks, check_vault, quick_digest
from vaulttools.vault import Vault


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    checked: list[str] = []
    real = check.note_entry
    monkeypatch.setattr(check, "note_entry", lambda c, n, *a: checked.append(n.path) or real(c, n, *a))
    return checked


def test_a_note_with_the_same_bytes_under_a_new_stamp_keeps_its_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(SAMPLE_VAULT, tmp_path / "vault")
    first = check_vault(Vault(vault)).json_text(str(vault))
    for path in Vault(vault).note_paths:
        rewrite_same_bytes(vault, path)
    checked = _count_checks(monkeypatch)
    assert check_vault(Vault(vault)).json_text(str(vault)) == first
    assert checked == []
    assert check_vault(Vault(vault)).json_text(str(vault)) == first  # the new stamps were saved
    assert checked == []


def test_a_note_with_other_bytes_of_the_same_size_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(SAMPLE_VAULT, tmp_path / "vault")
    path = "concept-feedback-loops.md"
    before = check_vault(Vault(vault))
    assert any(f.path == path and "claim-peer-feedback" in (f.link or "") for f in before.findings)
    data = (vault / path).read_bytes()
    changed = data.replace(b"[[claim-peer-feedback]]", b"[[claim-peer-feedbacx]]")
    assert len(changed) == len(data) and changed != data
    (vault / path).write_bytes(changed)
    checked = _count_checks(monkeypatch)
    after = check_vault(Vault(vault))
    assert checked == [path]
    assert any(f.path == path and "claim-peer-feedbacx" in (f.link or "") for f in after.findings)


@pytest.mark.parametrize(
    ("stamp", "raw", "holds"),
    [
        ((5, 1, 1, 1), b"hello", True),  # the stamp it was found at
        ((5, 2, 2, 2), b"hello", True),  # a new stamp, the same bytes
        ((5, 2, 2, 2), b"hellx", False),  # the same size, other bytes
        ((6, 2, 2, 2), b"hello!", False),
    ],
)
def test_broken_links_hold_for(stamp: tuple[int, int, int, int], raw: bytes, holds: bool) -> None:
    places = BrokenLinks((5, 1, 1, 1), (), quick_digest(b"hello"))
    assert places.holds_for(stamp, raw) is holds


def test_normalize_links_takes_checks_places_for_the_same_bytes_under_a_new_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(SAMPLE_VAULT, tmp_path / "vault")
    check_vault(Vault(vault))
    decided: list[str] = []
    real = normalize.normalize_target
    monkeypatch.setattr(normalize, "normalize_target", lambda t, *a: decided.append(t) or real(t, *a))
    expected = normalize.plan_normalize(Vault(vault))
    decided_at_the_checked_stamps = list(decided)
    for path in Vault(vault).note_paths:
        rewrite_same_bytes(vault, path)
    decided.clear()
    plan = normalize.plan_normalize(Vault(vault))
    assert [(c.path, c.new) for c in plan.changes] == [(c.path, c.new) for c in expected.changes]
    assert plan.changes and decided == decided_at_the_checked_stamps  # no note decided in full


def test_normalize_links_decides_a_note_whose_bytes_changed_in_full(tmp_path: Path) -> None:
    """Other bytes of the same size under a new stamp: `check`'s places no longer hold; the link
    that now misses its note by a suffix, where `check` saw none, is found and fixed."""
    vault = make_git_vault(SAMPLE_VAULT, tmp_path / "vault")
    path = "concept-ai-as-teammate.md"
    check_vault(Vault(vault))
    data = (vault / path).read_bytes()
    changed = data.replace(b"[[claim-peer-feedback-d4]]", b"[[claim-peer-feedback]]   ", 1)
    assert len(changed) == len(data) and changed != data
    (vault / path).write_bytes(changed)
    plan = normalize.plan_normalize(Vault(vault))
    assert "claim-peer-feedback-d4" in [e.new_target for e in plan.report.fixed if e.note == path]


def test_unverified_entries_are_the_cache_itself_only_when_it_has_every_note_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: a cache (of the same vault listing) that lacks a note's entry, or holds one for a note
    that is not a note, is not taken whole; the missing note is checked, the other entry dropped."""
    vault = make_git_vault(SAMPLE_VAULT, tmp_path / "vault")
    check_vault(Vault(vault))
    checked = _count_checks(monkeypatch)
    complete = check.cached_entries(Vault(vault), verify_stamps=False)
    assert sorted(complete) == sorted(Vault(vault).note_paths) and checked == []
    fingerprint = check._check_fingerprint(Vault(vault))
    lacking = Vault(vault).note_paths[0]
    facts.save_cache(vault, fingerprint, {p: e for p, e in complete.items() if p != lacking}, name="check")
    assert sorted(check.cached_entries(Vault(vault), verify_stamps=False)) == sorted(complete)
    assert checked == [lacking]
    facts.save_cache(vault, fingerprint, {**complete, "not a note.md": complete[lacking]}, name="check")
    assert sorted(check.cached_entries(Vault(vault), verify_stamps=False)) == sorted(complete)
    swapped = {p: e for p, e in complete.items() if p != lacking} | {"not a note.md": complete[lacking]}
    facts.save_cache(vault, fingerprint, swapped, name="check")  # as many entries as notes, one not a note's
    checked.clear()
    assert sorted(check.cached_entries(Vault(vault), verify_stamps=False)) == sorted(complete)
    assert checked == [lacking]


def test_another_build_of_vaulttools_reads_no_cache_of_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caches' fingerprints hold the code's stamp (`facts.code_stamp`): a development build whose source
    changed checks every note again and collects every note's facts again, instead of reading what the
    old code cached under the same version."""
    vault = make_git_vault(SAMPLE_VAULT, tmp_path / "vault")
    first = check_vault(Vault(vault)).json_text(str(vault))
    Vault(vault).fact_records(Vault(vault).note_paths)
    notes = Vault(vault).note_paths
    checked = _count_checks(monkeypatch)
    parsed: list[str] = []
    real_facts = facts.facts_of_notes
    monkeypatch.setattr(
        facts, "facts_of_notes", lambda ns, *a: parsed.extend(n.path for n in ns) or real_facts(ns, *a)
    )
    assert check_vault(Vault(vault)).json_text(str(vault)) == first
    Vault(vault).fact_records(notes)
    assert (checked, parsed) == ([], [])  # the same build: both caches read
    monkeypatch.setattr(facts, "code_stamp", lambda: "another build")  # both fingerprints' `build_id`
    assert check_vault(Vault(vault)).json_text(str(vault)) == first
    Vault(vault).fact_records(notes)
    assert sorted(checked) == sorted(parsed) == sorted(notes)
