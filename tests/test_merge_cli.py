"""`vaulttools duplicates` and `vaulttools merge` end to end: golden vaults, git, undo, refusals, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import FIXTURES, git, git_vault_of, make_git_vault, snapshot
from vaulttools import Vault

GOLDEN = FIXTURES / "merge"
RunCli = Callable[..., Result]

# case -> extra arguments of `merge --all`
CASES = {
    "day-suffix": (),
    "obsidian-copy": (),
    "same-id": (),
    "crlf-bom": ("--prefer-source", "definition"),
    "canvas": (),  # file nodes and text-node links to "entity-slack 1" now name entity-slack
    "numbered-series": (),  # "Weekly Catchup 1..3" stay; the copied "Reading List 2" and id-twin "Standup 1" go
}


def head(vault: Path) -> str:
    return git(vault, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_vault_and_undo(tmp_path: Path, run_cli: RunCli, case: str) -> None:
    vault = make_git_vault(GOLDEN / case / "before", tmp_path / case)
    before = snapshot(vault)
    result = run_cli(vault, "merge", "--all", *CASES[case])
    assert result.exit_code == 0, result.output
    assert snapshot(vault) == snapshot(GOLDEN / case / "after")
    assert git(vault, "status", "--porcelain") == ""
    deleted = git(vault, "show", "--diff-filter=D", "--name-only", "--format=", "HEAD").split("\n")
    assert set(before) - set(snapshot(vault)) == {p for p in deleted if p}
    assert run_cli(vault, "undo").exit_code == 0
    assert snapshot(vault) == before


def test_second_run_finds_nothing(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "day-suffix" / "before", tmp_path / "v")
    assert run_cli(vault, "merge", "--all").exit_code == 0
    commit = head(vault)
    again = run_cli(vault, "merge", "--all")
    assert again.exit_code == 0, again.output
    assert head(vault) == commit
    assert run_cli(vault, "duplicates").exit_code == 0


def test_sample_vault_end_to_end(sample_vault: Path, run_cli: RunCli) -> None:
    """The issue's "done when": duplicates finds the suffix family, merge --all merges it in one commit,
    check then reports no suffixed link for it, and undo restores every byte."""
    before = snapshot(sample_vault)
    listed = run_cli(sample_vault, "duplicates", "--json")
    assert listed.exit_code == 1
    families = json.loads(listed.output)["families"]
    assert [(f["keep"], [m["path"] for m in f["members"]]) for f in families] == [
        ("claim-async-wins-d3.md", ["claim-async-wins-d3.md", "claim-async-wins-d9.md"])
    ]
    members = {m["path"] for f in families for m in f["members"]}
    start = head(sample_vault)
    merged = run_cli(sample_vault, "merge", "--all")
    assert merged.exit_code == 0, merged.output
    assert git(sample_vault, "rev-list", "--count", f"{start}..HEAD").strip() == "1"
    assert not (sample_vault / "claim-async-wins-d9.md").exists()
    report = json.loads(run_cli(sample_vault, "check", "--json").output)
    about_family = [
        f
        for f in report["findings"]
        if f["suggestion"] in {m.removesuffix(".md") for m in members} or set(f["candidates"] or []) & members
    ]
    assert about_family == []
    assert "claim-async-wins" not in json.dumps(report["findings"])
    assert run_cli(sample_vault, "duplicates").exit_code == 0
    assert run_cli(sample_vault, "undo").exit_code == 0
    assert snapshot(sample_vault) == before


def test_merge_named_sources_json(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "day-suffix" / "before", tmp_path / "v")
    result = run_cli(vault, "merge", "entity-deloitte-d9", "--into", "entity-deloitte", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["command"] == "merge"
    assert document["report"]["merges"] == [
        {"target": "entity-deloitte.md", "sources": ["entity-deloitte-d9.md"]}
    ]
    assert document["counts"]["notes_merged"] == 1
    assert {d["key"] for d in document["report"]["differing_scalars"]} == {
        "definition",
        "originDay",
        "articleStem",
    }
    assert not (vault / "entity-deloitte-d9.md").exists()
    assert (vault / "entity-deloitte-d5.md").exists()
    # d5 still exists, so its links stay; d9's moved to the target
    audit = (vault / "concept-audit.md").read_text()
    assert "[[entity-deloitte-d5]]" in audit and "![[entity-deloitte]]" in audit


def test_dry_run_writes_nothing(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "obsidian-copy" / "before", tmp_path / "v")
    before, commit = snapshot(vault), head(vault)
    result = run_cli(vault, "merge", "entity-slack 1", "--into", "entity-slack", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+++ /dev/null" in result.output
    assert snapshot(vault) == before and head(vault) == commit


def _break_yaml(vault: Path) -> None:
    (vault / "entity-deloitte-d9.md").write_text("---\nid: [unclosed\n---\nbody\n")
    git(vault, "commit", "-qam", "break")


def _mismatch(vault: Path) -> None:
    path = vault / "entity-deloitte-d9.md"
    path.write_text(path.read_text().replace('sources: ["hbr-9", "hbr-5"]', 'sources: "hbr-9"'))
    git(vault, "commit", "-qam", "scalar")


def _not_utf8(vault: Path) -> None:
    (vault / "entity-deloitte-d9.md").write_bytes(b"---\nid: x\n---\n\xff\xfe\n")
    git(vault, "commit", "-qam", "binary")


def _dirty(vault: Path) -> None:
    (vault / "concept-audit.md").write_text("edited by hand\n[[entity-deloitte-d5]]\n")


REFUSALS = [
    (("entity-deloitte", "--into", "entity-deloitte"), None, "cannot be merged into itself"),
    (("entity-deloitte-d5", "--into", "entity-deloitte-d5.md"), None, "cannot be merged into itself"),
    (("entity-deloitte-d5", "entity-deloitte-d5", "--into", "entity-deloitte"), None, "given twice"),
    (("entity-deloitte-d5",), None, "missing --into"),
    (("--into", "entity-deloitte"), None, "nothing to merge"),
    (("no-such-note", "--into", "entity-deloitte"), None, "no note named"),
    (("entity-deloitte-d5", "--all"), None, "not both"),
    (("entity-deloitte-d9", "--into", "entity-deloitte"), _break_yaml, "entity-deloitte-d9.md (line"),
    (
        ("entity-deloitte-d9", "--into", "entity-deloitte"),
        _mismatch,
        "'sources' is a list in entity-deloitte.md",
    ),
    (("--all",), _dirty, "uncommitted changes in concept-audit.md"),
    (
        ("entity-deloitte-d9", "--into", "entity-deloitte"),
        _not_utf8,
        "entity-deloitte-d9.md (not valid UTF-8",
    ),
]


@pytest.mark.parametrize(("args", "prepare", "message"), REFUSALS)
def test_refusals_write_nothing(
    tmp_path: Path,
    run_cli: RunCli,
    args: tuple[str, ...],
    prepare: Callable[[Path], None] | None,
    message: str,
) -> None:
    vault = make_git_vault(GOLDEN / "day-suffix" / "before", tmp_path / "v")
    if prepare is not None:
        prepare(vault)
    before, commit = snapshot(vault), head(vault)
    result = run_cli(vault, "merge", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert snapshot(vault) == before and head(vault) == commit


def test_duplicates_lists_families(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "day-suffix" / "before", tmp_path / "v")
    text = run_cli(vault, "duplicates")
    assert text.exit_code == 1
    assert "keep  entity-deloitte.md" in text.output and "merge entity-deloitte-d5.md" in text.output
    document = json.loads(run_cli(vault, "duplicates", "--json").output)
    assert document["version"] == 1
    [family] = document["families"]
    assert family["keep"] == "entity-deloitte.md" and family["rules"] == ["suffix"]
    by_path = {m["path"]: m for m in family["members"]}
    assert by_path["entity-deloitte-d5.md"] == {
        "path": "entity-deloitte-d5.md",
        "origin_day": 5,
        "inbound_links": 9,
        "suffixed": True,
    }
    assert by_path["entity-deloitte.md"]["suffixed"] is False


@pytest.mark.parametrize(
    ("names", "kept"),
    [
        (["x-d4", "x-d2"], "x-d2.md"),  # no unsuffixed member, no links: the lowest day
        (["x-d4", "x-d2", "x"], "x.md"),  # the unsuffixed member
        (["x-d4", "x-d2", "linker"], "x-d4.md"),  # the most linked
        (["x-d4", "y"], None),  # no family
    ],
)
def test_kept_member(tmp_path: Path, names: list[str], kept: str | None) -> None:
    tmp_path.joinpath(".obsidian").mkdir()
    for name in names:
        day = name.rpartition("-d")[2] if "-d" in name else "1"
        body = "[[x-d4]]" if name == "linker" else ""
        tmp_path.joinpath(f"{name}.md").write_text(f"---\noriginDay: {day}\n---\n{body}\n")
    families = Vault(tmp_path).duplicates()
    assert [f.keep for f in families] == ([kept] if kept else [])


def test_python_api(tmp_path: Path) -> None:
    root = make_git_vault(GOLDEN / "obsidian-copy" / "before", tmp_path / "v")
    vault = Vault(root)
    [family] = vault.duplicates()
    assert family.keep == "entity-slack.md" and family.rules == ("id", "suffix")
    plan = vault.merge(["entity-slack 1"], into="entity-slack")
    assert [c.path for c in plan.changes if c.deletes] == ["entity-slack 1.md"]
    result = vault.apply(plan)
    assert result.committed
    assert snapshot(root) == snapshot(GOLDEN / "obsidian-copy" / "after")
    assert Vault(root).merge(all_families=True).empty


def test_prefer_source_takes_the_source_value_or_says_why_not(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "day-suffix" / "before", tmp_path / "v")
    result = run_cli(
        vault,
        "merge",
        "entity-deloitte-d9",
        "--into",
        "entity-deloitte",
        "--prefer-source",
        "definition",
        "--prefer-source",
        "type",
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert (
        "--prefer-source type: no SOURCE has another value for 'type'; nothing taken"
        in document["report"]["warnings"]
    )
    text = (vault / "entity-deloitte.md").read_text()
    assert 'definition: "Deloitte, as a firm under regulatory review."\n' in text
    assert "originDay: 2\n" in text


@pytest.mark.slow
def test_real_corpus_numbered_meeting_notes_are_no_family(brain_vault: Path, run_cli: RunCli) -> None:
    """`brain` numbers distinct meeting notes "Labs Weekly Catchup 1".."5" (no unsuffixed one): not copies.
    A real copy among them (Obsidian's "Labs Weekly Catchup 6" made from "… 3") is found."""
    listed = run_cli(brain_vault, "duplicates", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["families"] == []
    folder = brain_vault / "01_literature"
    (folder / "Labs Weekly Catchup 6.md").write_bytes((folder / "Labs Weekly Catchup 3.md").read_bytes())
    git(brain_vault, "add", "-A")
    git(brain_vault, "commit", "-q", "-m", "an Obsidian copy")
    [family] = json.loads(run_cli(brain_vault, "duplicates", "--json").output)["families"]
    assert [m["path"] for m in family["members"]] == [
        "01_literature/Labs Weekly Catchup 3.md",
        "01_literature/Labs Weekly Catchup 6.md",
    ]
    assert family["rules"] == ["suffix"]


def test_real_corpus_merge_all_then_undo(brain_vault: Path, run_cli: RunCli) -> None:
    """The real `brain` vault with an Obsidian copy of one of its notes: the family merges in one commit,
    every edit verified, and undo restores every byte."""
    folder = brain_vault / "01_literature"
    (folder / "Labs Weekly Catchup 6.md").write_bytes((folder / "Labs Weekly Catchup 3.md").read_bytes())
    git(brain_vault, "add", "-A")
    git(brain_vault, "commit", "-q", "-m", "an Obsidian copy")
    before = snapshot(brain_vault)
    families = json.loads(run_cli(brain_vault, "duplicates", "--json").output)["families"]
    assert families
    result = run_cli(brain_vault, "merge", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["notes_merged"] == sum(len(f["members"]) - 1 for f in families)
    assert git(brain_vault, "status", "--porcelain") == ""
    assert run_cli(brain_vault, "undo").exit_code == 0
    assert snapshot(brain_vault) == before


def test_no_commit_writes_and_leaves_the_deletion_to_commit(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "obsidian-copy" / "before", tmp_path / "v")
    commit = head(vault)
    result = run_cli(vault, "merge", "entity-slack 1", "--into", "entity-slack", "--no-commit")
    assert result.exit_code == 0, result.output
    assert head(vault) == commit
    assert snapshot(vault) == snapshot(GOLDEN / "obsidian-copy" / "after")
    assert ' D "entity-slack 1.md"' in git(vault, "status", "--porcelain").splitlines()


def test_a_numbered_series_needs_evidence_of_copies(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "numbered-series" / "before", tmp_path / "v")
    families = json.loads(run_cli(vault, "duplicates", "--json").output)["families"]
    assert [(f["keep"], f["rules"], [m["path"] for m in f["members"]]) for f in families] == [
        (
            "Reading List 1.md",
            ["suffix"],
            ["Reading List 1.md", "Reading List 2.md"],
        ),  # near-identical bodies
        ("Standup 2.md", ["id"], ["Standup 1.md", "Standup 2.md"]),  # one id, different bodies
    ]  # "Weekly Catchup 1..3": distinct notes, no family


def test_duplicates_without_families_exits_zero(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "day-suffix" / "after", tmp_path / "v")
    result = run_cli(vault, "duplicates", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["families"] == []


def test_merge_all_leaves_every_folders_own_folder_note_alone(tmp_path: Path, run_cli: RunCli) -> None:
    """A vault of folder notes (`index.md`, `id: index`, in every folder) and one day-suffixed copy beside
    its folder's: `merge --all` merges that copy alone, and every folder keeps its note."""
    files = {f"{area}/index.md": f"---\nid: index\n---\n# {area}\n".encode() for area in ("a", "b", "c/d")}
    files["a/index-d3.md"] = b"---\nid: index-d3\n---\n# a\n"
    files["x.md"] = b"[[a/index-d3]] [[b/index]]\n"
    vault = git_vault_of(files, tmp_path / "v")
    families = json.loads(run_cli(vault, "duplicates", "--json").output)["families"]
    assert [[m["path"] for m in f["members"]] for f in families] == [["a/index-d3.md", "a/index.md"]]
    assert run_cli(vault, "merge", "--all").exit_code == 0
    assert sorted(p.relative_to(vault).as_posix() for p in vault.rglob("*.md")) == [
        "a/index.md",
        "b/index.md",
        "c/d/index.md",
        "x.md",
    ]
    assert (vault / "x.md").read_bytes() == b"[[a/index]] [[b/index]]\n"
    assert (vault / "b/index.md").read_bytes() == files["b/index.md"]


def test_a_note_in_two_merges_is_refused(tmp_path: Path) -> None:
    from vaulttools.errors import VaultError
    from vaulttools.merge import Merge, plan_merges

    vault = Vault(make_git_vault(GOLDEN / "day-suffix" / "before", tmp_path / "v"))
    merges = [
        Merge("entity-deloitte.md", ("entity-deloitte-d5.md",)),
        Merge("entity-deloitte-d9.md", ("entity-deloitte-d5.md",)),
    ]
    with pytest.raises(VaultError, match=r"entity-deloitte-d5\.md is in two merges"):
        plan_merges(vault, merges)


def test_merge_reports_the_canvas_references_it_redirects(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "canvas" / "before", tmp_path / "v")
    result = run_cli(vault, "merge", "entity-slack 1", "--into", "entity-slack", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["report"]["redirected_by_kind"] == {"canvas-file": 1, "canvas-text": 3, "wikilink": 1}
    assert {"path": "board.canvas", "new_path": None} in document["files"]
    assert snapshot(vault) == snapshot(GOLDEN / "canvas" / "after")
