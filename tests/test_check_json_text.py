"""`CheckReport.json_text` writes, byte for byte, what `json.dumps(report.to_json(root), ensure_ascii=False)`
writes (the compact report `check --json` prints to a program), for hostile fields too."""

from __future__ import annotations

import json

import pytest

from vaulttools.check import CheckReport, Finding

HOSTILE = [
    Finding("broken-link", 'a/Café "quoted".md', 3, 7, "[[x\\y]] points to no note", "[[x\\y]]", "x\\y"),
    Finding(
        "ambiguous-link",
        "tab\there.md",
        1,
        1,
        "line\nbreak \x00 \x1f \u2028",
        None,
        "t",
        None,
        ("a.md", "b.md"),
    ),
    Finding(
        "broken-link", "emoji 🙂.md", 10**20, 2, "surrogate \udcff kept", "[[s]]", "s", "s-d1", ("s-d1.md",)
    ),
    Finding("duplicate-id", "n.md", True, 1, "a bool where a line goes", target="id"),  # type: ignore[arg-type]
    Finding("property-type", "p.md", 4, 1, "a number where a target goes", target=12),  # type: ignore[arg-type]
    Finding("broken-link", "l.md", 2, 3, "candidates as a list", "[[l]]", "l", None, ["x.md"]),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("findings", [[], HOSTILE[:1], HOSTILE])
def test_json_text_is_json_dumps(findings: list[Finding]) -> None:
    report = CheckReport(notes_scanned=len(findings), findings=list(findings), opaque_links=2)
    root = '/vault/ü "x"'
    expected = json.dumps(report.to_json(root), ensure_ascii=False, default=str)
    assert report.json_text(root) == expected
    assert json.loads(report.json_text(root)) == json.loads(expected)
