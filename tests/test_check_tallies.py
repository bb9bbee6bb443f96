"""A first `check` reports from the tallies its workers make of each chunk of notes (`ChunkTally`), not from
every note's entry unpacked: the same report, byte for byte, also where notes share an id (the duplicate-id
findings, which only all the ids tell, are put into the chunks' JSON at their places)."""

from __future__ import annotations

import json
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


def _chunked(monkeypatch: pytest.MonkeyPatch, size: int, forked: bool) -> None:
    monkeypatch.setattr(parallel, "SERIAL_CHUNK", size)
    monkeypatch.setattr(parallel, "MIN_CHUNK", size)
    monkeypatch.setattr(parallel, "LAST_CHUNK", size)
    if forked:
        monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
        monkeypatch.setattr(parallel, "FORCED_JOBS", 2)


def _first_and_again(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[check.CheckReport, str, str]:
    """A first check (from the tallies, never `_assemble`), its JSON, and the JSON of a check again (from
    the cache's entries, `_assemble`)."""
    assembled: list[int] = []
    real_assemble = check._assemble
    monkeypatch.setattr(check, "_assemble", lambda *args: assembled.append(1) or real_assemble(*args))
    first = check.check_vault(Vault(root))
    first_json = first.json_text(str(root))
    assert not assembled
    again_json = check.check_vault(Vault(root)).json_text(str(root))
    assert assembled
    return first, first_json, again_json


def _expected_json(root: Path, report: check.CheckReport) -> str:
    """The report's JSON the plain way: every finding unpacked, sorted and encoded by `json` itself."""
    return json.dumps(report.to_json(str(root)), ensure_ascii=False)


@pytest.mark.parametrize("forked", [False, True])
@pytest.mark.parametrize(
    ("ids", "duplicates"),
    [
        ({}, 0),  # every id its own
        ({"b.md": "Other", "g.md": "other"}, 2),  # shared (folded alike) across chunks
        ({"c.md": "same", "d.md": "same"}, 2),  # shared within one chunk
        ({"h.md": "Café"}, 0),  # an id that folds away from ASCII, shared with none
        ({"a.md": "x", "b.md": "x", "c.md": "x", "h.md": "X"}, 4),  # the first chunk's two, and more
    ],
)
def test_first_check_report_is_the_entries_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ids: dict[str, str], duplicates: int, forked: bool
) -> None:
    _chunked(monkeypatch, 2, forked)
    _vault(tmp_path, ids)
    report, first_json, again_json = _first_and_again(tmp_path, monkeypatch)
    assert first_json == again_json == _expected_json(tmp_path, report)
    document = json.loads(first_json)
    assert document["notes_scanned"] == len(BODIES) + 1
    assert document["opaque_links"] == 2
    assert document["counts"]["duplicate-id"] == duplicates == report.counts()["duplicate-id"]


# Notes sharing the id `same` (folded), each of them placing its duplicate-id finding (line 2 or 3, column
# 1) somewhere else among its own findings: first, between a frontmatter link before the id and a body link,
# before an `id-differs-from-name` finding of the same line (the kinds' order), after all of the note's
# (where the next note's would go first: one offset for both), alone in notes in a row, and last.
SHARING = {
    "a.md": "---\nid: same\n---\n[[gone-a]]\n",
    "b.md": "---\nrelated: [gone-b1]\nid: same\n---\n[[gone-b2]]\n",
    "c.md": "---\nrelated: [gone-c]\nid: same\n---\nfine\n",
    "d.md": "---\nid: Same\n---\n",
    "e.md": "---\nid: e\n---\n[[gone-e]]\n",
    "same.md": "---\nrelated: [gone-same]\nid: same\n---\nfine\n",
    "x/same.md": "---\nid: same\n---\n",
    "y/same.md": "---\nid: same\n---\n",
    "z/same.md": "---\nid: same\n---\n",
}


@pytest.mark.parametrize("forked", [False, True])
@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
def test_duplicate_id_findings_go_where_the_report_order_puts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, forked: bool
) -> None:
    _chunked(monkeypatch, chunk, forked)
    for path, text in SHARING.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    report, first_json, again_json = _first_and_again(tmp_path, monkeypatch)
    assert first_json == again_json == _expected_json(tmp_path, report)
    kinds_by_note = [
        (finding["path"], finding["line"], finding["kind"]) for finding in json.loads(first_json)["findings"]
    ]
    assert kinds_by_note == [
        ("a.md", 2, "duplicate-id"),
        ("a.md", 2, "id-differs-from-name"),
        ("a.md", 4, "broken-link"),
        ("b.md", 2, "broken-link"),
        ("b.md", 3, "duplicate-id"),
        ("b.md", 3, "id-differs-from-name"),
        ("b.md", 5, "broken-link"),
        ("c.md", 2, "broken-link"),
        ("c.md", 3, "duplicate-id"),
        ("c.md", 3, "id-differs-from-name"),
        ("d.md", 2, "duplicate-id"),
        ("d.md", 2, "id-differs-from-name"),
        ("e.md", 4, "broken-link"),
        ("same.md", 2, "broken-link"),
        ("same.md", 3, "duplicate-id"),
        ("x/same.md", 2, "duplicate-id"),
        ("y/same.md", 2, "duplicate-id"),
        ("z/same.md", 2, "duplicate-id"),
    ]


@pytest.mark.parametrize(
    ("text", "insertions", "expected"),
    [
        ("", [(0, "X")], "X"),
        ("", [(0, "X"), (0, "Y")], "X, Y"),
        ("A", [(0, "X")], "X, A"),
        ("A", [(3, "X")], "A, X"),  # past the end: after the last item
        ("A", [(99, "X"), (99, "Y")], "A, X, Y"),
        ("A, B", [(3, "X")], "A, X, B"),
        ("A, B", [(0, "X"), (3, "Y"), (6, "Z")], "X, A, Y, B, Z"),
        ("A, B", [(3, "X"), (3, "Y")], "A, X, Y, B"),
    ],
)
def test_findings_are_put_in_before_the_item_at_their_offset(
    monkeypatch: pytest.MonkeyPatch, text: str, insertions: list[tuple[int, str]], expected: str
) -> None:
    placed = [(at, check.Finding(name, "n.md", 1, 1, name)) for at, name in insertions]
    monkeypatch.setattr(check, "_finding_json", lambda finding: finding.kind)  # a finding is its JSON here
    assert check._with_findings_inserted(text, placed) == expected


@pytest.mark.parametrize(
    ("places", "id_line", "before"),
    [
        ([(4, 1, "broken-link")], 2, 0),  # the usual note: its findings below the id
        ([(2, 1, "id-differs-from-name")], 2, 0),  # same place, a kind after `duplicate-id`
        ([(1, 5, "broken-link"), (4, 1, "broken-link")], 2, 1),
        ([(3, 1, "broken-link"), (2, 1, "ambiguous-link"), (1, 5, "broken-link")], 2, 2),  # any order
        ([(1, 5, "broken-link"), (1, 9, "broken-link")], 2, 2),  # after them all
    ],
)
def test_a_notes_duplicate_id_place_in_its_json(
    places: list[tuple[int, int, str]], id_line: int, before: int
) -> None:
    """The offset of the item of the note's JSON that a duplicate-id finding goes before (past the end:
    where a next item would start), `before` of its findings ahead of it in report order."""
    findings = [
        check.Finding(kind, "n.md", line, column, f"m{i}") for i, (line, column, kind) in enumerate(places)
    ]
    text = check._findings_json(findings)
    ordered = sorted(findings, key=check._FINDING_ORDER)
    expected = len(check._findings_json(ordered[:before])) + 2 if before else 0
    assert check._duplicate_id_at(findings, id_line, text) == expected
    if before < len(findings):
        assert text[expected:].startswith(check._finding_json(ordered[before]))
    else:
        assert expected == len(text) + 2
