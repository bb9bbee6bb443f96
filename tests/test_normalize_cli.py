"""`vaulttools normalize-links` end to end: golden vaults, git, JSON, `check` agreement, the real corpus."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import FIXTURES, git, make_git_vault, snapshot
from vaulttools.commands.demo import DEMO_STEPS
from vaulttools.note import Note

GOLDEN = FIXTURES / "normalize"
ALL_FLAGS = ("--fix-case", "--drop-md", "--shorten-paths")

RunCli = Callable[..., Result]


def head(vault: Path) -> str:
    return git(vault, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize(("case", "flags"), [("sample", ()), ("flags", ALL_FLAGS)])
def test_golden_vault(tmp_path: Path, run_cli: RunCli, case: str, flags: tuple[str, ...]) -> None:
    vault = make_git_vault(GOLDEN / case / "before", tmp_path / case)
    result = run_cli(vault, "normalize-links", *flags)
    assert result.exit_code == 0, result.output
    assert snapshot(vault) == snapshot(GOLDEN / case / "after")
    assert git(vault, "status", "--porcelain") == ""


def test_sample_vault_links(sample_vault: Path, run_cli: RunCli) -> None:
    """The bundled sample vault's documented cases, byte for byte (see fixtures/SAMPLE_VAULT.md)."""
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "normalize-links")
    assert result.exit_code == 0, result.output
    after = snapshot(sample_vault)
    expected_lines = {
        "concept-feedback-loops.md": [
            (b"[[claim-peer-feedback]]", b"[[claim-peer-feedback-d4]]"),
        ],
        "quote-feedback-is-a-gift.md": [(b"[[claim-peer-feedback]]", b"[[claim-peer-feedback-d4]]")],
        "concept-humane-imperative.md": [
            (b"[[concept-ai-augmentation-strategy-d9]]", b"[[concept-ai-augmentation-strategy]]")
        ],
        "claim-reinvest-saved-time.md": [
            (
                b"[[concept-ai-augmentation-strategy-d9|strategy]]",
                b"[[concept-ai-augmentation-strategy|strategy]]",
            )
        ],
        "concept-ai-as-teammate.md": [(b"[[claim-async-wins]]", b"[[claim-async-wins-d9]]")],
        "concept-meeting-free-days.md": [
            (b'"entity-slack"]', b'"entity-slack 1"]'),
            (b"[[entity-slack]]", b"[[entity-slack 1]]"),
        ],
        "concept-team-norms.md": [(b"[[entity-slack]]", b"[[entity-slack 1]]")],
        "claim-humane-work-is-measurable.md": [
            (b"[[concept-humane-imperative-d9]]", b"[[concept-humane-imperative]]")
        ],
    }
    changed = {path for path in before if before[path] != after[path]}
    assert changed == set(expected_lines)
    for path, replacements in expected_lines.items():
        expected = before[path]
        for old, new in replacements:
            assert old in expected
            expected = expected.replace(old, new)
        assert after[path] == expected, path
    # the day-4 note keeps its ambiguous link; the broken YAML block stays exactly as it was
    assert b"[[claim-async-wins]]" in after["concept-feedback-loops.md"]
    yaml_end = before["concept-team-norms.md"].index(b"\n---\n")
    assert after["concept-team-norms.md"][:yaml_end] == before["concept-team-norms.md"][:yaml_end]
    assert b"[[concept-does-not-exist]]" in after["contrarian-office-still-matters.md"]


def test_commit_and_second_run(sample_vault: Path, run_cli: RunCli) -> None:
    start = head(sample_vault)
    first = run_cli(sample_vault, "normalize-links")
    assert first.exit_code == 0, first.output
    assert "Fixed 9 link(s): 6 by `-d\\d+`, 3 by ` \\d+`." in first.output
    assert (
        "concept-feedback-loops.md:26  [[claim-async-wins]]  candidates: claim-async-wins-d3.md, claim-async-wins-d9.md"
        in first.output
    )
    assert "contrarian-office-still-matters.md:22  [[concept-does-not-exist]]" in first.output
    commit = head(sample_vault)
    assert commit != start
    assert git(sample_vault, "rev-list", "--count", f"{start}..HEAD").strip() == "1"
    message = git(sample_vault, "log", "-1", "--format=%B")
    assert message.startswith("vaulttools normalize-links: fix 9 links in 8 notes\n")
    assert "- fixed by `-d\\d+`: 6\n" in message
    assert "- fixed by ` \\d+`: 3\n" in message
    assert "Vaulttools-Batch: normalize-links" in message
    assert git(sample_vault, "status", "--porcelain") == ""
    files = git(sample_vault, "show", "--name-only", "--format=", "HEAD").split()
    assert "concept-team-norms.md" in files and len(set(files)) == 8

    second = run_cli(sample_vault, "normalize-links")
    assert second.exit_code == 0, second.output
    assert "Nothing to change" in second.output
    assert head(sample_vault) == commit


def test_dry_run_and_no_commit(sample_vault: Path, run_cli: RunCli) -> None:
    before = snapshot(sample_vault)
    start = head(sample_vault)
    dry = run_cli(sample_vault, "normalize-links", "--dry-run")
    assert dry.exit_code == 0
    assert (
        "+beats a polished review three months later. That is why [[claim-peer-feedback-d4]] holds"
        in dry.output
    )
    assert snapshot(sample_vault) == before and head(sample_vault) == start

    written = run_cli(sample_vault, "normalize-links", "--no-commit")
    assert written.exit_code == 0
    assert head(sample_vault) == start
    dirty = {line[3:] for line in git(sample_vault, "status", "--porcelain").splitlines()}
    assert "concept-feedback-loops.md" in dirty and len(dirty) == 8


def test_json_document(sample_vault: Path, run_cli: RunCli) -> None:
    result = run_cli(sample_vault, "normalize-links", "--dry-run", "--json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["command"] == "normalize-links"
    assert document["dry_run"] is True and document["changed"] is True
    assert document["counts"]["links_fixed"] == 9
    assert document["counts"]["notes_changed"] == 8
    report = document["report"]
    assert report["fixed_per_rule"] == {"-d\\d+": 6, " \\d+": 3}
    assert {
        "note": "concept-ai-as-teammate.md",
        "line": 22,
        "link": "[[claim-async-wins]]",
        "target": "claim-async-wins",
        "new_target": "claim-async-wins-d9",
        "rules": ["-d\\d+"],
        "candidates": [],
        "reason": "",
    } in report["fixed"]
    assert [(e["note"], e["line"], e["candidates"]) for e in report["ambiguous"]] == [
        ("concept-feedback-loops.md", 26, ["claim-async-wins-d3.md", "claim-async-wins-d9.md"])
    ]
    assert [(e["note"], e["line"], e["link"]) for e in report["broken"]] == [
        ("contrarian-office-still-matters.md", 22, "[[concept-does-not-exist]]")
    ]


def test_check_suggests_exactly_what_normalize_fixes(sample_vault: Path, run_cli: RunCli) -> None:
    findings = json.loads(run_cli(sample_vault, "check", "--json").output)["findings"]
    suggested = {(f["path"], f["line"], f["suggestion"]) for f in findings if f["suggestion"]}
    left = {
        (f["path"], f["line"])
        for f in findings
        if f["kind"] == "broken-link" and f["candidates"] and not f["suggestion"]
    }
    report = json.loads(run_cli(sample_vault, "normalize-links", "--dry-run", "--json").output)["report"]
    fixed = {(e["note"], e["line"], e["new_target"]) for e in report["fixed"]}
    assert fixed == suggested
    assert {(e["note"], e["line"]) for e in report["ambiguous"]} == left


def test_flags_are_off_by_default(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "flags" / "before", tmp_path / "flags")
    result = run_cli(vault, "normalize-links", "--json")
    report = json.loads(result.output)["report"]
    assert [(e["note"], e["link"], e["new_target"]) for e in report["fixed"]] == [
        ("linker.md", "[[claim-x.md|x]]", "claim-x-d4.md")
    ]
    assert report["fixed_per_rule"] == {"-d\\d+": 1, " \\d+": 0}


@pytest.mark.parametrize(
    ("flag", "line"),
    [
        ("--fix-case", b"Case: [[people/entity-jane-doe]] and [[Caf\xc3\xa9|caf\xc3\xa9]]"),
        ("--drop-md", b"Extension: [[hub#Heading]] and ![[notes/hub]]."),
        ("--shorten-paths", b"Case: [[Entity-Jane-Doe]] and"),
    ],
)
def test_each_flag_alone(tmp_path: Path, run_cli: RunCli, flag: str, line: bytes) -> None:
    vault = make_git_vault(GOLDEN / "flags" / "before", tmp_path / "flags")
    result = run_cli(vault, "normalize-links", flag, "--json")
    report = json.loads(result.output)["report"]
    assert report["fixed_per_rule"][flag[2:]] > 0
    assert all(set(e["rules"]) <= {flag[2:], "-d\\d+"} for e in report["fixed"])
    assert line in (vault / "linker.md").read_bytes()


def test_bad_config_is_one_line_and_writes_nothing(sample_vault: Path, run_cli: RunCli) -> None:
    (sample_vault / ".vaulttools.toml").write_text('suffix_rules = ["-d(\\\\d+"]\n', encoding="utf-8")
    git(sample_vault, "add", ".vaulttools.toml")
    git(sample_vault, "commit", "-q", "-m", "config")
    before, start = snapshot(sample_vault), head(sample_vault)
    result = run_cli(sample_vault, "normalize-links")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "suffix_rules" in result.output
    assert "Traceback" not in result.output
    assert snapshot(sample_vault) == before and head(sample_vault) == start


def test_dirty_file_refuses(sample_vault: Path, run_cli: RunCli) -> None:
    path = sample_vault / "concept-feedback-loops.md"
    path.write_bytes(path.read_bytes() + b"\nlocal edit\n")
    before, start = snapshot(sample_vault), head(sample_vault)
    result = run_cli(sample_vault, "normalize-links")
    assert result.exit_code == 2
    assert "uncommitted changes in concept-feedback-loops.md" in result.output
    assert snapshot(sample_vault) == before and head(sample_vault) == start


def test_custom_rules_and_day_property(tmp_path: Path, run_cli: RunCli) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / ".vaulttools.toml").write_text('suffix_rules = ["_v\\\\d+"]\nday_property = "day"\n')
    (source / "spec_v2.md").write_text("# v2\n")
    (source / "plan-d3.md").write_text("# not a rule any more\n")
    (source / "a.md").write_text("---\nday: 2\n---\n[[spec]] [[plan]]\n")
    vault = make_git_vault(source, tmp_path / "vault")
    result = run_cli(vault, "normalize-links")
    assert result.exit_code == 0, result.output
    assert (vault / "a.md").read_bytes() == b"---\nday: 2\n---\n[[spec_v2]] [[plan]]\n"


def test_demo_has_a_step() -> None:
    assert any(args == ["normalize-links"] for _, args in DEMO_STEPS)


def _changed_spans(old: str, new: str) -> list[tuple[int, int]]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [(i1, i2) for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal"]


@pytest.mark.slow
def test_brain_corpus_changes_only_link_targets(brain_vault: Path, run_cli: RunCli) -> None:
    before = snapshot(brain_vault)
    result = run_cli(brain_vault, "normalize-links", *ALL_FLAGS, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    after = snapshot(brain_vault)
    changed = {path for path in before if before[path] != after.get(path)}
    assert set(after) == set(before)
    assert changed == {entry["path"] for entry in document["files"]}
    assert changed == {entry["note"] for entry in document["report"]["fixed"]}
    for path in changed:
        note = Note(path, before[path])
        targets = [(link.target_start, link.target_end) for link in note.links if link.is_link]
        new_text = after[path].decode("utf-8").removeprefix("\ufeff")
        for start, end in _changed_spans(note.text, new_text):
            assert any(t_start <= start and end <= t_end for t_start, t_end in targets), (path, start, end)
    commit = head(brain_vault)
    again = run_cli(brain_vault, "normalize-links", *ALL_FLAGS)
    assert "Nothing to change" in again.output
    assert head(brain_vault) == commit
    assert snapshot(brain_vault) == after


def _every_link_of_every_note_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaulttools import normalize

    monkeypatch.setattr(normalize, "broken_links_by_note", lambda vault: dict.fromkeys(vault.note_paths))


@pytest.mark.parametrize("source", ["sample", "flags", "brain", "generated"])
def test_planning_only_broken_links_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """`check`'s broken links pick the notes to plan and the links to parse, with their outcomes: the plan
    is the one of deciding every link of every note."""
    from tests.conftest import BRAIN
    from tests.helpers import generate_vault
    from vaulttools.normalize import plan_normalize
    from vaulttools.vault import Vault

    if source == "generated":
        folder = generate_vault(tmp_path / "generated", 400, seed=5)
    else:
        folder = BRAIN if source == "brain" else GOLDEN / source / "before"
    if not folder.is_dir():
        pytest.skip("the shared brain corpus is not beside this checkout")
    vault = make_git_vault(folder, tmp_path / "vault")
    cold = plan_normalize(Vault(vault))  # the check cache filled now
    warm = plan_normalize(Vault(vault))  # and read
    with monkeypatch.context() as patch:
        _every_link_of_every_note_planned(patch)
        everything = plan_normalize(Vault(vault))
    assert everything.changes or source == "brain"
    for plan in (cold, warm):
        assert (plan.changes, plan.counts, plan.report) == (
            everything.changes,
            everything.counts,
            everything.report,
        )


def test_a_note_edited_after_check_is_planned(sample_vault: Path, run_cli: RunCli) -> None:
    assert run_cli(sample_vault, "check", "--json").exit_code == 1  # the check cache is warm now
    note = sample_vault / "concept-team-norms.md"
    note.write_bytes(note.read_bytes() + b"\nSee [[concept-feedback-loops-d3]].\n")
    git(sample_vault, "commit", "-qam", "a new suffixed link")
    result = run_cli(sample_vault, "normalize-links", "--json")
    fixed = [(e["note"], e["target"]) for e in json.loads(result.output)["report"]["fixed"]]
    assert ("concept-team-norms.md", "concept-feedback-loops-d3") in fixed


def test_a_note_failing_verification_is_skipped_not_the_batch(
    sample_vault: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaulttools.normalize as normalize_module
    from vaulttools.errors import EditConflict

    real = normalize_module.note_change
    odd = "concept-team-norms.md"

    def failing_for_one(note: Note, edits: list) -> object:
        if note.path == odd:
            raise EditConflict.in_file(note.path, "the edit would change where the frontmatter ends")
        return real(note, edits)

    expected = {
        e["note"]
        for e in json.loads(run_cli(sample_vault, "normalize-links", "--json", "--dry-run").output)["report"][
            "fixed"
        ]
    }
    assert odd in expected and len(expected) > 1
    monkeypatch.setattr(normalize_module, "note_change", failing_for_one)
    before = (sample_vault / odd).read_bytes()
    result = run_cli(sample_vault, "normalize-links", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["report"]
    assert {e["note"] for e in report["fixed"]} == expected - {odd}
    assert {e["note"] for e in report["skipped"]} == {odd}
    assert {e["reason"] for e in report["skipped"]} == {"the edit would change where the frontmatter ends"}
    assert (sample_vault / odd).read_bytes() == before
    assert odd not in git(sample_vault, "show", "--name-only", "--format=", "HEAD")
    assert git(sample_vault, "status", "--porcelain") == ""


def test_the_plan_holds_checks_findings_to_be_freed_with_it(sample_vault: Path) -> None:
    """check's findings (one entry per note) are freed with the plan, which the CLI keeps to the end of
    the process, not when the planner returns on the way to the batch's first write."""
    from vaulttools.changes import BatchPlan
    from vaulttools.check import BrokenLinksByNote
    from vaulttools.normalize import NormalizeOptions, plan_normalize
    from vaulttools.vault import Vault

    plan = plan_normalize(Vault(sample_vault))
    assert plan.changes and [type(kept) for kept in plan.spent] == [BrokenLinksByNote]
    assert plan == BatchPlan(**{**plan.__dict__, "spent": []})  # held, not part of what the plan is
    with_rules = plan_normalize(Vault(sample_vault), NormalizeOptions(fix_case=True))
    assert with_rules.spent == [{}]  # the optional rules decide every link: no findings were read
