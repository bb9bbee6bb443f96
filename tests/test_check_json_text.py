"""`CheckReport.json_text` writes, byte for byte, what `json.dumps(report.to_json(root), ensure_ascii=False)`
writes (the compact report `check --json` prints to a program), for hostile fields too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from vaulttools.check import CheckReport, Finding, check_vault
from vaulttools.vault import Vault

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


def _vault(tmp_path: Path, notes: dict[str, str]) -> Vault:
    for name, text in notes.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return Vault(tmp_path)


NOTES = {
    "b.md": "---\nid: other\nrelated: [x-d3]\n---\n[[gone]] and [[a-d9]]\n",  # a property link after the id
    "a-d1.md": "---\nid: a-d1\n---\n[[b]] [[nowhere|shown]]\n",
    "sub/c.md": "[[a]] [[a-d2]]\n\n```\n[[in code]]\n```\n",
}


@pytest.mark.parametrize("duplicate", [False, True])
def test_the_notes_json_texts_make_the_report_json(tmp_path: Path, duplicate: bool) -> None:
    """The findings' JSON written per note (and cached) is what the report's own findings give, with duplicate
    ids (which come between the notes' findings) and on a warm run alike."""
    notes = {**NOTES, "d.md": "---\nid: other\n---\n"} if duplicate else NOTES
    for _ in range(2):  # first from the notes, then from the cache
        report = check_vault(_vault(tmp_path, notes))
        # Made from the notes' texts, the duplicate ids' findings put in their place (`b.md` has findings
        # of its own, `d.md` none).
        assert report.made_json is not None
        assert [f.kind for f in report.findings].count("duplicate-id") == (2 if duplicate else 0)
        root = str(tmp_path)
        assert report.json_text(root) == json.dumps(report.to_json(root), ensure_ascii=False, default=str)


def test_a_changed_findings_list_is_written_from_itself(tmp_path: Path) -> None:
    report = check_vault(_vault(tmp_path, NOTES))
    assert report.made_json is not None
    root = str(tmp_path)
    for change in (list.reverse, list.pop, lambda found: found.append(HOSTILE[0])):
        change(report.findings)
        assert report.json_text(root) == json.dumps(report.to_json(root), ensure_ascii=False, default=str)


def test_check_json_never_unpacks_the_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check --json` counts the findings' kinds and joins the notes' JSON texts: the findings stay packed
    (first from the notes, then from the cache), and unpacked later they give the same JSON."""
    from vaulttools import check

    unpacked: list[int] = []
    real = check._unpacked
    monkeypatch.setattr(check, "_unpacked", lambda *args: unpacked.append(1) or real(*args))
    for _ in range(2):
        report = check_vault(_vault(tmp_path, {**NOTES, "d.md": "---\nid: other\n---\n"}))
        text = report.json_text(str(tmp_path))
        assert report.has_findings() and report.counts()["duplicate-id"] == 2
        assert unpacked == []
        assert text == json.dumps(report.to_json(str(tmp_path)), ensure_ascii=False, default=str)
        assert unpacked == [1] and len(report.findings) == sum(report.counts().values())
        unpacked.clear()


def test_check_json_prints_the_report_text_as_it_is(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    """Off a terminal, `check --json` prints the report's compact JSON and a line break, byte for byte:
    a note named with a colour code keeps it (JSON escapes ESC, so there is nothing to strip)."""
    notes = {**NOTES, "\x1b[31mred\x1b[0m.md": "[[gone-d4]] and [[a-d9]]\n"}
    report = check_vault(_vault(tmp_path, notes))
    result = run_cli(tmp_path, "check", "--json")
    assert result.exit_code == 1, result.output
    assert result.stdout == report.json_text(str(tmp_path)) + "\n"
    assert "\x1b[31mred\x1b[0m.md" in {finding["path"] for finding in json.loads(result.stdout)["findings"]}


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_a_document_reaches_a_stream_of_any_encoding(monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    """Written as it is where the stream can encode it; through click (UTF-8) where it cannot (an ASCII
    locale), with nothing written twice."""
    import io

    from vaulttools.report import write_document

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)
    monkeypatch.setattr("sys.stdout", stream)
    write_document('{"path": "Café 🙂.md"}')
    stream.flush()
    assert raw.getvalue() == '{"path": "Café 🙂.md"}\n'.encode()
