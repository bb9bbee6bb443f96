"""A first `check` reports from the tallies its workers make of each chunk of notes (`ChunkTally`), not from
every note's entry unpacked: the same report, byte for byte, and when two notes share an id (which only
the entries tell apart) the entries are unpacked and `_assemble` makes it."""

from __future__ import annotations

import json
import marshal
from pathlib import Path

import pytest

from vaulttools import check, parallel
from vaulttools.vault import Vault


def _note(note_id: str, body: str) -> str:
    return f"---\nid: {note_id}\nrelated: [x-d3]\n---\n{body}\n"


# Eight notes, two a chunk (`SERIAL_CHUNK`, `MIN_CHUNK`): the ids named here replace the notes' own.
BODIES = {
    "a.md": "[[gone]] and [[b-d9]] and `[[in code]]`",
    "b.md": "[[a]] fine",
    "c.md": "no links",
    "d.md": "[[c]] [[nowhere|shown]]",
    "e.md": "```\n[[in a block]]\n```\n[[e-d1]]",
    "f.md": "[[Café]]",
    "g.md": "",
    "h.md": "[[h]] [[a#x]]",
}


def _vault(root: Path, ids: dict[str, str]) -> Vault:
    for name, body in BODIES.items():
        (root / name).write_text(_note(ids.get(name, name[:-3]), body), encoding="utf-8")
    (root / "unreadable.md").write_bytes(b"\xff\xfe broken")
    return Vault(root)


def _report_from_entries(root: Path) -> tuple[str, dict[str, int], list[check.Finding]]:
    vault = Vault(root)
    report = check._assemble(vault.note_paths, check.cached_entries(vault, use_cache=False))
    return report.json_text(str(root)), report.counts(), report.findings


@pytest.mark.parametrize("forked", [False, True])
@pytest.mark.parametrize(
    ("ids", "tallied"),
    [
        ({}, True),  # every id its own: the tallies make the report
        ({"b.md": "Other", "g.md": "other"}, False),  # shared (folded alike) across chunks: the entries
        ({"c.md": "same", "d.md": "same"}, False),  # shared within one chunk
        ({"h.md": "Café"}, True),  # an id that folds away from ASCII, shared with none
    ],
)
def test_first_check_report_is_the_entries_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ids: dict[str, str], tallied: bool, forked: bool
) -> None:
    monkeypatch.setattr(parallel, "SERIAL_CHUNK", 2)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    if forked:
        monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
        monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    vault = _vault(tmp_path, ids)
    expected_json, expected_counts, expected_findings = _report_from_entries(tmp_path)
    assembled: list[int] = []
    real_assemble = check._assemble
    monkeypatch.setattr(check, "_assemble", lambda *args: assembled.append(1) or real_assemble(*args))
    report = check.check_vault(vault, use_cache=False)
    assert report.json_text(str(tmp_path)) == expected_json
    assert report.counts() == expected_counts
    assert report.findings == expected_findings  # unpacked from the parts, in report order
    assert bool(assembled) is not tallied
    document = json.loads(expected_json)
    assert document["notes_scanned"] == len(BODIES) + 1
    assert document["opaque_links"] == 2
    assert document["counts"]["duplicate-id"] == (0 if tallied else 2)


def test_a_shared_id_after_tallied_chunks_unpacks_them_as_entries(tmp_path: Path) -> None:
    """Chunks tallied before the first shared id turns up are unpacked then: the entries hold every note."""
    parts: list[bytes] = []
    entries: dict[str, tuple] = {}
    tallies: list[check.ChunkTally] = []
    vault = _vault(tmp_path, {"h.md": "a"})
    matcher = vault.suffix_matcher
    chunks = [vault.note_paths[i : i + 3] for i in range(0, len(vault.note_paths), 3)]
    checked = []
    for chunk in chunks:
        found = check.check_notes(vault, matcher, chunk)
        part = marshal.dumps(dict(found))
        checked.append((part, check._tally(part, found)))
    check._gather_checked(iter(checked), entries, parts.append, tallies)
    assert tallies == []
    assert list(entries) == vault.note_paths  # the unreadable note has its entry (its finding) too
    assert parts == [part for part, _ in checked]
