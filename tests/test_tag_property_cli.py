"""`vaulttools tag …` and `vaulttools property …` end to end: golden vaults byte for byte, one commit each,
undo, dry runs, JSON, refusals, the Python API, `check`'s property types, and the real corpus."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import FIXTURES, git, make_git_vault, snapshot
from vaulttools.api import Vault

RunCli = Callable[..., Result]

TAG_CASES = [
    ("after-rename", ("tag", "rename", "project", "work")),
    ("after-delete", ("tag", "delete", "project")),
    ("after-delete-inline", ("tag", "delete", "#project", "--remove-inline")),
]
PROPERTY_CASES = [
    ("after-rename", ("property", "rename", "status", "state")),
    ("after-replace", ("property", "replace", "status", "draft", "published")),
    ("after-delete", ("property", "delete", "obsolete")),
    ("after-merge", ("property", "rename", "topics", "keywords", "--merge")),
]


def head(vault: Path) -> str:
    return git(vault, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize(
    ("family", "case", "argv"),
    [("tags", case, argv) for case, argv in TAG_CASES]
    + [("properties", case, argv) for case, argv in PROPERTY_CASES],
)
def test_golden_vaults_then_undo(
    tmp_path: Path, run_cli: RunCli, family: str, case: str, argv: tuple
) -> None:
    before = FIXTURES / family / "before"
    vault = make_git_vault(before, tmp_path / case)
    start = head(vault)
    result = run_cli(vault, *argv)
    assert result.exit_code == 0, result.output
    assert snapshot(vault) == snapshot(FIXTURES / family / case)
    assert git(vault, "rev-list", "--count", f"{start}..HEAD").strip() == "1"
    assert git(vault, "status", "--porcelain") == ""
    assert "unparsable.md" in result.output  # reported and left alone
    assert run_cli(vault, "undo").exit_code == 0
    assert snapshot(vault) == snapshot(before)


@pytest.mark.parametrize(("case", "argv"), TAG_CASES[:1] + PROPERTY_CASES[:1])
def test_dry_run_writes_nothing_and_json_lists_the_notes(tmp_path: Path, run_cli: RunCli, case, argv) -> None:
    family = "tags" if argv[0] == "tag" else "properties"
    vault = make_git_vault(FIXTURES / family / "before", tmp_path / "v")
    before, start = snapshot(vault), head(vault)
    dry = run_cli(vault, *argv, "--dry-run")
    assert dry.exit_code == 0 and "+++ b/" in dry.output
    assert snapshot(vault) == before and head(vault) == start
    document = json.loads(run_cli(vault, *argv, "--dry-run", "--json").output)
    assert document["command"] == f"{argv[0]} {argv[1]}" and document["dry_run"] is True
    assert document["counts"]["notes_changed"] == len(document["files"]) == len(document["report"]["notes"])
    assert [entry["path"] for entry in document["report"]["skipped"]] == ["unparsable.md"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("tag", "rename", "a b", "c"), "is not a tag"),
        (("tag", "rename", "old", "1984"), "is not a tag"),
        (("tag", "rename", "old"), "give OLD and NEW"),
        (("tag", "delete", "#"), "is not a tag"),
        (("property", "rename", "topics", "keywords"), "pass --merge"),
        (("property", "rename", "status", "status"), "nothing to rename"),
        (("property", "delete", "a: b"), "is not a property name"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, run_cli: RunCli, argv, message) -> None:
    vault = make_git_vault(FIXTURES / "properties" / "before", tmp_path / "v")
    before, start = snapshot(vault), head(vault)
    result = run_cli(vault, *argv)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert snapshot(vault) == before and head(vault) == start


def test_tag_rename_map(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(FIXTURES / "tags" / "before", tmp_path / "v")
    mapping = tmp_path / "tags.csv"
    mapping.write_text("old,new\nproject,work\nreading,books\n")
    result = run_cli(vault, "tag", "rename", "--map", str(mapping))
    assert result.exit_code == 0, result.output
    assert (
        vault / "comma-string.md"
    ).read_text() == "---\ntags: books, work, work/Gamma\n---\nComma string.\n"
    assert "rename 2 tags" in git(vault, "log", "-1", "--format=%s")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"old,new\n\x00\x01", "is a binary file, not a rename map"),
        (b"old,new\nproject,w\xe9rk\n", "tags.csv:2: not UTF-8 text; save the map as UTF-8"),
    ],
)
def test_tag_rename_map_unreadable(tmp_path: Path, run_cli: RunCli, content: bytes, message: str) -> None:
    """A tag map is read like a rename map: binary or non-UTF-8 files refused in one line, nothing written."""
    vault = make_git_vault(FIXTURES / "tags" / "before", tmp_path / "v")
    before, start = snapshot(vault), head(vault)
    mapping = tmp_path / "tags.csv"
    mapping.write_bytes(content)
    result = run_cli(vault, "tag", "rename", "--map", str(mapping))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert snapshot(vault) == before and head(vault) == start


def test_tag_list(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(FIXTURES / "tags" / "before", tmp_path / "v")
    document = json.loads(run_cli(vault, "tag", "list", "--json").output)
    rows = {row["tag"].lower(): row for row in document["tags"]}
    # frontmatter: flow, block, scalar, comma string, legacy key, merge, only item, BOM/CRLF; inline: 2 notes
    assert rows["project"]["notes"] == 10
    assert rows["project/beta"]["parent"] == "project"
    assert "projectile" in rows and "1984" not in rows
    text = run_cli(vault, "tag", "list").output
    assert "#project  10 note(s)" in text and "\n  #beta  1 note(s)" in text


def test_api_methods_return_plans(tmp_path: Path) -> None:
    tags = Vault(make_git_vault(FIXTURES / "tags" / "before", tmp_path / "tags"))
    assert len(tags.rename_tag("project", "work").changes) == 9
    assert len(tags.rename_tag(renames=[("project", "work")]).changes) == 9
    assert len(tags.delete_tag("project", remove_inline=True).changes) == 9
    assert any(row["tag"] == "project" for row in tags.tags()["tags"])
    vault = Vault(make_git_vault(FIXTURES / "properties" / "before", tmp_path / "properties"))
    plans = [
        vault.rename_property("status", "state"),
        vault.replace_property_value("status", "draft", "done"),
        vault.delete_property("obsolete"),
    ]
    assert [len(plan.changes) for plan in plans] == [4, 4, 4]
    result = vault.apply(plans[0])
    assert result.committed and "state: draft" in (vault.root / "simple.md").read_text()


def test_check_reports_property_types(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(FIXTURES / "properties" / "before", tmp_path / "v")
    result = run_cli(vault, "check", "--json")
    findings = [f for f in json.loads(result.output)["findings"] if f["kind"] == "property-type"]
    assert [(f["path"], f["line"]) for f in findings] == [
        ("list-value.md", 5),
        ("list-value.md", 6),
        ("list-value.md", 7),
    ]
    assert "is not a number" in findings[0]["message"]
    (vault / ".obsidian" / "types.json").unlink()
    assert "property-type" not in run_cli(vault, "check").output


@pytest.mark.slow
def test_brain_corpus(brain_vault: Path, run_cli: RunCli) -> None:
    before = snapshot(brain_vault)
    for argv in (
        ("tag", "rename", "design", "ux/design"),
        ("tag", "delete", "ai", "--remove-inline"),
        ("property", "rename", "github_id", "github"),
        ("property", "replace", "status", "Adopt", "adopted"),
        ("property", "delete", "assign"),
    ):
        result = run_cli(brain_vault, *argv)
        assert result.exit_code == 0, result.output
        assert "Left alone" not in result.output
    changed = git(brain_vault, "diff", "--numstat", "HEAD~5", "HEAD").splitlines()
    assert len(changed) > 300
    # every removed or added line is a tags/property line, never anything else
    diff = git(brain_vault, "diff", "-U0", "HEAD~5", "HEAD")
    for line in diff.splitlines():
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            assert line[1:].startswith(("tags:", "tag:", "  - ", "- ", "github", "status:", "assign:")), line
    for _ in range(5):
        assert run_cli(brain_vault, "undo").exit_code == 0
    assert snapshot(brain_vault) == before


@pytest.mark.parametrize(
    ("count", "expected_tail"),
    [
        (0, None),  # nothing left alone: no lines at all
        (1, "  n0.md: why 0"),
        (20, "  n19.md: why 19"),
        (21, "  … and 1 more (all of them with --json)"),
    ],
)
def test_tag_and_property_list_the_notes_left_alone_alike(count: int, expected_tail: str | None) -> None:
    from vaulttools.changes import BatchPlan, SkippedNote
    from vaulttools.commands import property as property_command
    from vaulttools.commands import tag as tag_command
    from vaulttools.properties import PropertyPlanReport
    from vaulttools.tags import TagPlanReport

    skipped = [SkippedNote(f"n{i}.md", f"why {i}") for i in range(count)]
    tag_plan = BatchPlan("tag rename", "x", report=TagPlanReport([], [], [], skipped))
    property_plan = BatchPlan("property delete", "x", report=PropertyPlanReport({}, [], skipped))
    tag_lines, property_lines = (
        tag_command.describe(tag_plan)[1:],
        property_command.describe(property_plan)[1:],
    )
    assert tag_lines == property_lines
    if expected_tail is None:
        assert tag_lines == []
        return
    assert tag_lines[0] == f"Left alone ({count}):" and tag_lines[-1] == expected_tail
    assert len(tag_lines) == 1 + min(count, 20) + (count > 20)


def test_tag_rename_lists_the_tags_it_leaves_in_queries(tmp_path: Path, run_cli: RunCli) -> None:
    """A Dataview `FROM #project` query still names the old tag after the rename: the user is told where."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.md").write_text("---\ntags: [project]\n---\nText #project.\n")
    (source / "queries.md").write_text("```dataview\nLIST FROM #project/alpha\n```\n")
    vault = make_git_vault(source, tmp_path / "v")
    result = run_cli(vault, "tag", "rename", "project", "work")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:3] == [
        "Left as written where Obsidian reads no tag (a query may name it: review them) (1):",
        "  queries.md:2  #project/alpha (code)",
    ]
    assert (vault / "queries.md").read_bytes() == b"```dataview\nLIST FROM #project/alpha\n```\n"
    assert git(vault, "show", "--name-only", "--format=", "HEAD").split() == ["a.md"]
    document = json.loads(run_cli(vault, "tag", "rename", "work", "project", "--dry-run", "--json").output)
    assert document["report"]["left_as_written"] == []  # `#project/alpha` is no `#work`
