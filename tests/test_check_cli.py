import json
from pathlib import Path

from tests.conftest import snapshot


def _findings(result) -> list[dict]:
    return json.loads(result.output)["findings"]


def test_check_json_on_sample_vault(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "check", "--json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["version"] == 1
    findings = document["findings"]
    by_link = {(f["path"], f["link"]): f for f in findings if f["kind"] == "broken-link"}
    fixable = by_link[("claim-reinvest-saved-time.md", "[[concept-ai-augmentation-strategy-d9|strategy]]")]
    assert fixable["suggestion"] == "concept-ai-augmentation-strategy"
    assert (
        by_link[("quote-feedback-is-a-gift.md", "[[claim-peer-feedback]]")]["suggestion"]
        == "claim-peer-feedback-d4"
    )
    async_links = [f for (path, link), f in by_link.items() if link == "[[claim-async-wins]]"]
    assert sorted(f["suggestion"] or "" for f in async_links) == ["", "claim-async-wins-d9"]
    assert by_link[("contrarian-office-still-matters.md", "[[concept-does-not-exist]]")]["suggestion"] is None
    kinds = {f["kind"] for f in findings}
    assert {"broken-link", "unparsable-frontmatter", "id-differs-from-name"} <= kinds
    bad = [f for f in findings if f["kind"] == "unparsable-frontmatter"]
    assert [f["path"] for f in bad] == ["concept-team-norms.md"]
    # links in code, inline code and HTML comments are never reported
    assert not any(f["link"] and "concept-humane-imperative]]" in f["link"] for f in findings)
    assert document["opaque_links"] >= 3
    assert snapshot(sample_vault) == before  # check writes nothing


def test_check_human_output_groups_by_note(sample_vault: Path, run_cli) -> None:
    result = run_cli(sample_vault, "check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "concept-feedback-loops.md" in lines
    assert any(line.startswith("  ") and "broken-link" in line for line in lines)
    assert lines[-1].startswith("40 notes checked:")


def test_check_clean_vault_exits_zero(tmp_path: Path, run_cli) -> None:
    (tmp_path / "a.md").write_text("---\nid: a\n---\nsee [[b]]\n")
    (tmp_path / "b.md").write_text("back to [[a]]\n")
    result = run_cli(tmp_path, "check")
    assert result.exit_code == 0
    assert "2 notes checked: no problems." in result.output


def test_check_findings_kinds(tmp_path: Path, run_cli) -> None:
    (tmp_path / "a.md").write_text('---\nid: "same"\nrelated: [[b]]\n---\n[[Tie]]\n')
    (tmp_path / "b.md").write_text('---\nid: "same"\n---\n')
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "Tie.md").write_text("tie\n")
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe\x00bin")
    findings = _findings(run_cli(tmp_path, "check", "--json"))
    kinds = sorted((f["path"], f["kind"]) for f in findings)
    assert ("a.md", "ambiguous-link") in kinds
    assert ("a.md", "unquoted-frontmatter-link") in kinds
    assert ("a.md", "duplicate-id") in kinds and ("b.md", "duplicate-id") in kinds
    assert ("bad.md", "unreadable-note") in kinds
    ambiguous = next(f for f in findings if f["kind"] == "ambiguous-link")
    assert ambiguous["candidates"] == ["x/Tie.md", "y/Tie.md"]


def test_bad_config_is_exit_2_with_one_line(tmp_path: Path, run_cli) -> None:
    (tmp_path / ".vaulttools.toml").write_text("nope = 1\n")
    result = run_cli(tmp_path, "check")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "unknown key 'nope'" in result.output
    assert "Traceback" not in result.output
