"""`vaulttools sync-related` end to end: golden vault, CLI flags, git, the sample vault and the brain corpus."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from tests.conftest import FIXTURES, git, make_git_vault, snapshot

GOLDEN = FIXTURES / "related"
RunCli = Callable[..., Result]


def test_golden_before_after(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    result = run_cli(vault, "sync-related")
    assert result.exit_code == 0, result.output
    assert snapshot(vault) == snapshot(GOLDEN / "after")
    assert "Skipped quote-broken.md: frontmatter does not parse" in result.output


def test_one_commit_then_nothing(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    run_cli(vault, "sync-related")
    message = git(vault, "log", "-1", "--format=%B")
    assert message.startswith("vaulttools sync-related: related sections (3 added, 1 updated, 2 removed)")
    assert "Vaulttools-Batch: sync-related" in message
    changed = git(vault, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == [
        "claim-delta.md",
        "claim-gamma.md",
        "concept-alpha.md",
        "concept-beta.md",
        "entity-epsilon.md",
        "quote-stale.md",
    ]
    head = git(vault, "rev-parse", "HEAD")
    again = run_cli(vault, "sync-related")
    assert again.exit_code == 0
    assert "Nothing to change" in again.output
    assert git(vault, "rev-parse", "HEAD") == head
    assert git(vault, "status", "--porcelain") == ""


def test_dry_run_writes_nothing(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    before = snapshot(vault)
    result = run_cli(vault, "sync-related", "--dry-run")
    assert result.exit_code == 0
    assert "+- [[claim-delta]]" in result.output
    assert "Dry run: 6 files would change" in result.output
    assert snapshot(vault) == before
    assert len(git(vault, "log", "--format=%H").split()) == 1


def test_json_report(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    result = run_cli(vault, "sync-related", "--json", "--no-commit")
    document = json.loads(result.output)
    assert document["command"] == "sync-related"
    assert document["committed"] is None
    assert document["counts"] == {
        "sections_added": 3,
        "sections_updated": 1,
        "sections_removed": 2,
        "skipped_unparsable": 1,
    }
    report = document["report"]
    assert report["added"] == ["claim-delta.md", "claim-gamma.md", "concept-alpha.md"]
    assert report["updated"] == ["concept-beta.md"]
    assert report["removed"] == ["entity-epsilon.md", "quote-stale.md"]  # epsilon: editors' words stay
    assert [item["path"] for item in report["skipped_unparsable"]] == ["quote-broken.md"]
    assert report["skipped_no_group"] == 1
    assert report["notes_scored"] == 6


def test_limit_overrides_config(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    run_cli(vault, "sync-related", "--limit", "1", "--no-commit")
    text = (vault / "claim-gamma.md").read_text()
    assert text.endswith("## Related across articles\n- [[concept-alpha]]")  # no final newline added


def test_bad_limit_is_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    result = run_cli(vault, "sync-related", "--limit", "0")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "vaulttools: error: --limit must be at least 1, got 0; pass a positive number of entries"
    )


def test_explain_prints_reasons_and_writes_nothing(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    before = snapshot(vault)
    result = run_cli(vault, "sync-related", "--explain", "concept-alpha", "--limit", "1")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "concept-alpha.md (articleStem: article-a): 2 candidates from other groups; limit 1, min score 0.5.",
        "Chosen:",
        "  1. [[claim-delta]]  score 2.07",
        "       +0.97  text: cosine 0.097 over shared words: alpha, concept, claim",
        "       +1.00  neighbours: 1 shared link neighbours: concept-beta",
        "       +0.10  tag: #common (on 4 notes)",
        "Runners-up:",
        "  2. [[entity-epsilon]]  score 0.17  (below min score)",
        "       +0.17  tag: #rare-topic (on 3 notes)",
        "Nothing was written.",
    ]
    assert snapshot(vault) == before


def test_explain_json(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    document = json.loads(run_cli(vault, "sync-related", "--explain", "claim-gamma", "--json").output)
    assert [row["entry"] for row in document["chosen"]] == ["[[concept-alpha]]", "[[concept-beta]]"]
    kinds = [reason["kind"] for reason in document["chosen"][0]["reasons"]]
    assert kinds == ["text", "neighbours", "link", "tag"]
    assert [row["entry"] for row in document["runners_up"]] == ["[[entity-epsilon]]"]


def test_explain_refuses_unknown_and_ungrouped(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    missing = run_cli(vault, "sync-related", "--explain", "no-such-note")
    assert missing.exit_code == 2
    assert "names no note" in missing.output
    ungrouped = run_cli(vault, "sync-related", "--explain", "shared-target")
    assert ungrouped.exit_code == 2
    assert "has no articleStem property" in ungrouped.output
    broken = run_cli(vault, "sync-related", "--explain", "quote-broken")
    assert "frontmatter does not parse" in broken.output


def test_markdown_links_when_obsidian_says_so(tmp_path: Path, run_cli: RunCli) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / ".obsidian").mkdir()
    (source / ".obsidian" / "app.json").write_text('{"useMarkdownLinks": true}')
    (source / "a.md").write_text('---\narticleStem: "one"\n---\nNames My Note, unlinked.\n')
    (source / "My Note.md").write_text('---\narticleStem: "two"\n---\nBody.\n')
    (source / "loner.md").write_text('---\narticleStem: "three"\n---\nBody.\n')
    vault = make_git_vault(source, tmp_path / "vault")
    run_cli(vault, "sync-related")
    assert (vault / "a.md").read_bytes() == (
        b'---\narticleStem: "one"\n---\nNames My Note, unlinked.\n\n\n## Related across articles\n'
        b"- [My Note](My%20Note.md)\n"
    )


def test_sample_vault_runs_twice_stable(sample_vault: Path, run_cli: RunCli) -> None:
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "sync-related")
    assert result.exit_code == 0, result.output
    after = snapshot(sample_vault)
    for path, data in after.items():
        old = before[path]
        if data == old:
            continue
        # Only the end of a note changes: everything before the section (or where it goes) is kept.
        kept = old.split(b"## Related across articles")[0].rstrip(b"\r\n")
        assert data.startswith(kept), path
        assert b"## Related across articles" in data, path
    assert after["concept-team-norms.md"] == before["concept-team-norms.md"]  # broken YAML
    assert after["Meeting Notes 2024.md"] == before["Meeting Notes 2024.md"]  # no articleStem
    head = git(sample_vault, "rev-parse", "HEAD")
    assert "Nothing to change" in run_cli(sample_vault, "sync-related").output
    assert git(sample_vault, "rev-parse", "HEAD") == head


def test_brain_corpus_has_no_groups_until_grouped_by_folder(brain_vault: Path, run_cli: RunCli) -> None:
    head = git(brain_vault, "rev-parse", "HEAD")
    result = run_cli(brain_vault, "sync-related")
    assert result.exit_code == 2
    assert result.output.startswith("vaulttools: error: no note has the articleStem property")
    assert 'group_by = "folder"' in result.output and len(result.output.splitlines()) == 1
    assert git(brain_vault, "rev-parse", "HEAD") == head
    assert git(brain_vault, "status", "--porcelain") == ""
    (brain_vault / ".vaulttools.toml").write_text('[related]\ngroup_by = "folder"\n')
    git(brain_vault, "add", ".vaulttools.toml")
    git(brain_vault, "commit", "-q", "-m", "config")
    result = run_cli(brain_vault, "sync-related")
    assert result.exit_code == 0, result.output
    assert "grouped by folder (depth 1) scored" in result.output
    head = git(brain_vault, "rev-parse", "HEAD")
    assert "Nothing to change" in run_cli(brain_vault, "sync-related").output
    assert git(brain_vault, "rev-parse", "HEAD") == head


def test_brain_corpus_grouped_by_quadrant(brain_vault: Path, run_cli: RunCli) -> None:
    (brain_vault / ".vaulttools.toml").write_text('[related]\ngroup_property = "quadrant"\nmin_score = 0.5\n')
    git(brain_vault, "add", ".vaulttools.toml")
    git(brain_vault, "commit", "-q", "-m", "config")
    before = snapshot(brain_vault)
    result = run_cli(brain_vault, "sync-related", "--json")
    document = json.loads(result.output)
    assert document["committed"]
    after = snapshot(brain_vault)
    changed = {path for path in after if after[path] != before[path]}
    assert changed == {f["path"] for f in document["files"]}
    assert changed and all(path.startswith("_radar/") for path in changed)
    for path in changed:
        assert b"quadrant:" in before[path]
        assert after[path].startswith(before[path].rstrip(b"\r\n")), path
    head = git(brain_vault, "rev-parse", "HEAD")
    assert "Nothing to change" in run_cli(brain_vault, "sync-related").output
    assert git(brain_vault, "rev-parse", "HEAD") == head


def test_inline_tags_count_like_tags_properties(tmp_path: Path, run_cli: RunCli) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / ".obsidian").mkdir()
    notes = {
        "a.md": '---\narticleStem: "one"\n---\n# A\nAbout #Rare-Topic here.\n',
        "b.md": '---\narticleStem: "two"\ntags: ["rare-topic"]\n---\n# B\n',
        "c.md": '---\narticleStem: "three"\n---\n# C\n`#rare-topic` in code is no tag.\n',
        **{f"f{i}.md": f'---\narticleStem: "f{i}"\ntags: ["other"]\n---\n# F\n' for i in range(3)},
    }
    for name, text in notes.items():
        (source / name).write_text(text)
    only_tags = "[related]\ntext_weight = 0\nmention_weight = 0\ntarget_weight = 0\nlink_weight = 0\n"
    (source / ".vaulttools.toml").write_text(only_tags)
    vault = make_git_vault(source, tmp_path / "vault")
    result = run_cli(vault, "sync-related", "--explain", "a", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    entries = document["chosen"] + document["runners_up"]
    assert [entry["path"] for entry in entries] == ["b.md"]  # not c.md: its `#rare-topic` is code
    assert [reason["detail"] for reason in entries[0]["reasons"]] == ["#rare-topic (on 2 notes)"]
