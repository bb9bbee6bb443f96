"""`vaulttools enrich` end to end: golden vaults, exit codes, dry run, JSON, git, and the real corpus."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import FIXTURES, SAMPLE_VAULT, git, make_git_vault, snapshot
from vaulttools.api import Vault
from vaulttools.commands.demo import DEMO_STEPS, demo_data
from vaulttools.enrich import CONTEXT_MARKER, EnrichInputError, enrichment_paragraph

GOLDEN = FIXTURES / "enrich"
GOLDEN_INPUT = GOLDEN / "enrich.yaml"

RunCli = Callable[..., Result]


def _expect_same_tree(root: Path, expected: Path) -> None:
    actual = snapshot(root)
    wanted = snapshot(expected)
    assert sorted(actual) == sorted(wanted)
    for path, data in wanted.items():
        assert actual[path] == data, path


@pytest.mark.parametrize(
    ("flags", "after"),
    [([], "after"), (["--replace"], "after_replace")],
    ids=["default", "replace"],
)
def test_golden_vault(tmp_path: Path, run_cli: RunCli, flags: list[str], after: str) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    result = run_cli(vault, "enrich", str(GOLDEN_INPUT), *flags)
    assert result.exit_code == 0, result.output
    _expect_same_tree(vault, GOLDEN / after)
    # Same file again: nothing to do, nothing committed.
    head = git(vault, "rev-parse", "HEAD")
    again = run_cli(vault, "enrich", str(GOLDEN_INPUT), *flags)
    assert again.exit_code == 0
    assert "Nothing to change" in again.output
    assert git(vault, "rev-parse", "HEAD") == head
    _expect_same_tree(vault, GOLDEN / after)


def test_golden_report(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    result = run_cli(vault, "enrich", str(GOLDEN_INPUT), "--json")
    document = json.loads(result.stdout)
    assert document["counts"] == {
        "notes_enriched": 7,
        "paragraphs_replaced": 0,
        "skipped_existing": 1,
        "already_present": 1,
        "link_warnings": 1,
    }
    assert document["report"]["skipped_existing"] == ["contrarian-existing.md"]
    assert document["report"]["already_present"] == ["concept-done.md"]
    [warning] = document["report"]["warnings"]
    assert (warning["line"], warning["path"], warning["link"], warning["status"]) == (
        17,
        "entity-trailing-blank.md",
        "[[no-such-note]]",
        "broken",
    )
    assert document["committed"] == git(vault, "rev-parse", "HEAD").strip()
    assert "warning:" not in result.output.split("{", 1)[0]  # --json: stdout is only the document


def test_human_report_and_warning(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_git_vault(GOLDEN / "before", tmp_path / "vault")
    result = run_cli(vault, "enrich", str(GOLDEN_INPUT))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:3] == [
        "Enriched 7 note(s), replaced 0, skipped 1 with an existing paragraph, 1 already up to date; "
        "1 link warning(s).",
        "Skipped (already enriched; pass --replace to overwrite):",
        "  contrarian-existing.md",
    ]
    assert result.stderr == (
        f"warning: {GOLDEN_INPUT}:17: entity-trailing-blank.md: broken link [[no-such-note]]: "
        "no file named 'no-such-note'\n"
    )


def test_one_commit_with_trailer(sample_vault: Path, run_cli: RunCli) -> None:
    before = git(sample_vault, "rev-list", "--count", "HEAD")
    result = run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")))
    assert result.exit_code == 0, result.output
    assert int(git(sample_vault, "rev-list", "--count", "HEAD")) == int(before) + 1
    message = git(sample_vault, "log", "-1", "--format=%B")
    assert message.startswith("vaulttools enrich: add enrichment to 5 notes from enrich.yaml\n")
    assert "- notes enriched: 5\n" in message
    assert "Vaulttools-Batch: enrich\n" in message
    changed = git(sample_vault, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == sorted(
        [
            "concept-feedback-loops.md",
            "concept-ai-augmentation-strategy.md",
            "claim-overlap-hours-matter.md",
            "concept-deep-work-blocks.md",
            "quote-explaining-without-understanding.md",
        ]
    )
    assert git(sample_vault, "status", "--porcelain") == ""
    # The second run commits nothing, also with --replace.
    head = git(sample_vault, "rev-parse", "HEAD")
    for flags in ([], ["--replace"], ["--fail-on-existing"]):
        again = run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")), *flags)
        assert again.exit_code == 0
        assert git(sample_vault, "rev-parse", "HEAD") == head


def test_demo_data_targets_notes_without_enrichment() -> None:
    assert (
        "enrich: add enrichment paragraphs from a YAML file",
        ["enrich", "{data}enrich.yaml"],
    ) in DEMO_STEPS
    vault = Vault(SAMPLE_VAULT)
    plan = vault.enrich(demo_data("enrich.yaml"))
    assert plan.counts["notes_enriched"] == 5
    assert plan.counts["skipped_existing"] == plan.counts["already_present"] == 0
    assert plan.counts["link_warnings"] == 0


def test_crlf_and_bom_notes_in_sample_vault(sample_vault: Path, run_cli: RunCli) -> None:
    before = snapshot(sample_vault)
    run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")))
    after = snapshot(sample_vault)
    crlf = after["concept-deep-work-blocks.md"]
    assert b"\r\n\r\n## Related across articles" in crlf
    assert crlf.count(b"\n") == crlf.count(b"\r\n")
    assert after["claim-overlap-hours-matter.md"].startswith(b"\xef\xbb\xbf")
    unchanged = {p for p in before if before[p] == after[p]}
    assert len(before) - len(unchanged) == 5


def test_dry_run_writes_nothing(sample_vault: Path, run_cli: RunCli) -> None:
    before = snapshot(sample_vault)
    head = git(sample_vault, "rev-parse", "HEAD")
    result = run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")), "--dry-run")
    assert result.exit_code == 0
    assert "+**Enrichment context:** Matches the OODA loop" in result.output
    assert "Dry run: 5 files would change; nothing was written." in result.output
    assert snapshot(sample_vault) == before
    assert git(sample_vault, "rev-parse", "HEAD") == head


def test_dry_run_json(sample_vault: Path, run_cli: RunCli) -> None:
    result = run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")), "--dry-run", "--json")
    document = json.loads(result.output)
    assert document["dry_run"] is True
    assert document["committed"] is None
    assert len(document["files"]) == 5
    assert document["report"]["enriched"][0] == "concept-feedback-loops.md"


def test_no_commit(sample_vault: Path, run_cli: RunCli) -> None:
    head = git(sample_vault, "rev-parse", "HEAD")
    result = run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")), "--no-commit")
    assert result.exit_code == 0
    assert git(sample_vault, "rev-parse", "HEAD") == head
    assert len(git(sample_vault, "status", "--porcelain").splitlines()) == 5


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD_INPUTS = [
    (
        "bad.yaml",
        "concept-feedback-loops:\n  context: c\nno-such-note:\n  context: c\n  counterpoint: k\n"
        "claim-async-wins:\n  context: c\n  counterpoint: k\nconcept-feedback-loops:\n  context: c\n  counterpoint: 5\n",
        [
            "bad.yaml:1: 'concept-feedback-loops': missing field 'counterpoint'",
            "bad.yaml:3: unknown slug 'no-such-note': no note has that name",
            "bad.yaml:6: unknown slug 'claim-async-wins': no note has that name; notes that differ only by a "
            "suffix: claim-async-wins-d3.md, claim-async-wins-d9.md",
            "bad.yaml:9: duplicate slug 'concept-feedback-loops' (first on line 1)",
            "bad.yaml:11: 'concept-feedback-loops': counterpoint must be a string, got int 5",
        ],
    ),
    (
        "bad.jsonl",
        '{"slug": "concept-feedback-loops", "context": "c", "counterpoint": ""}\n'
        '{"slug": "diagram.png", "context": "c", "counterpoint": "k"}\nnot json\n',
        [
            "bad.jsonl:1: 'concept-feedback-loops': empty field 'counterpoint'",
            "bad.jsonl:2: slug 'diagram.png' names assets/diagram.png, which is not a note",
            "bad.jsonl:3: not valid JSON: Expecting value (column 1)",
        ],
    ),
    (
        "bad.csv",
        "slug,context,counterpoint\nconcept-feedback-loops,c,k\nentity-slack,c,k\nCONCEPT-FEEDBACK-LOOPS,c,k\n",
        [
            "bad.csv:3: unknown slug 'entity-slack': no note has that name; did you mean 'entity-slack 1'?",
            "bad.csv:4: duplicate slug 'CONCEPT-FEEDBACK-LOOPS' (first on line 2)",
        ],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_lists_every_problem(
    sample_vault: Path, tmp_path: Path, run_cli: RunCli, name: str, text: str, expected: list[str]
) -> None:
    path = _write(tmp_path, name, text)
    before = snapshot(sample_vault)
    head = git(sample_vault, "rev-parse", "HEAD")
    result = run_cli(sample_vault, "enrich", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[:-1] == [f"{tmp_path}/{line}" for line in expected]
    assert lines[-1] == (
        f"vaulttools: error: {len(expected)} problem{'s' if len(expected) > 1 else ''} in {path}; "
        "fix them and run again (nothing was written)"
    )
    assert "Traceback" not in result.output
    assert snapshot(sample_vault) == before
    assert git(sample_vault, "rev-parse", "HEAD") == head


def test_ambiguous_slug(tmp_path: Path, run_cli: RunCli) -> None:
    vault = tmp_path / "vault"
    for folder in ("a", "b"):
        (vault / folder).mkdir(parents=True)
        (vault / folder / "same.md").write_text("Body.\n", encoding="utf-8")
    git(vault, "init", "-q", "-b", "main")
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", "initial")
    path = _write(tmp_path, "in.yaml", "same:\n  context: c\n  counterpoint: k\n")
    result = run_cli(vault, "enrich", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{path}:1: ambiguous slug 'same': matches a/same.md, b/same.md; write the note's folder path"
    )
    fixed = _write(tmp_path, "in2.yaml", "b/same:\n  context: c\n  counterpoint: k\n")
    assert run_cli(vault, "enrich", str(fixed)).exit_code == 0
    assert (vault / "b" / "same.md").read_bytes() == b"Body.\n\n" + enrichment_paragraph(
        "c", "k"
    ).encode() + b"\n"


def test_fail_on_existing_refuses_the_batch(sample_vault: Path, tmp_path: Path, run_cli: RunCli) -> None:
    path = _write(
        tmp_path,
        "in.yaml",
        "concept-feedback-loops:\n  context: c\n  counterpoint: k\n"
        "concept-humane-imperative:\n  context: c\n  counterpoint: k\n",
    )
    before = snapshot(sample_vault)
    result = run_cli(sample_vault, "enrich", str(path), "--fail-on-existing")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}:4: concept-humane-imperative.md already has a different enrichment paragraph",
        f"vaulttools: error: 1 problem in {path}; pass --replace to overwrite them, or leave them out "
        "(nothing was written)",
    ]
    assert snapshot(sample_vault) == before
    # Without the flag the note is skipped and reported; the other note is enriched.
    result = run_cli(sample_vault, "enrich", str(path))
    assert result.exit_code == 0
    assert "  concept-humane-imperative.md" in result.stdout
    assert snapshot(sample_vault)["concept-humane-imperative.md"] == before["concept-humane-imperative.md"]


def test_replace_and_fail_on_existing_together(sample_vault: Path, run_cli: RunCli) -> None:
    result = run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")), "--replace", "--fail-on-existing")
    assert result.exit_code == 2
    assert "contradict" in result.stderr


def test_unknown_extension_and_missing_file(sample_vault: Path, tmp_path: Path, run_cli: RunCli) -> None:
    path = _write(tmp_path, "in.txt", "x")
    result = run_cli(sample_vault, "enrich", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        "vaulttools: error: in.txt: unknown input format '.txt'; name the file with one of "
        ".yaml, .yml, .jsonl, .ndjson, .csv\n"
    )
    assert run_cli(sample_vault, "enrich", str(tmp_path / "missing.yaml")).exit_code == 2


def test_not_utf8_input(sample_vault: Path, tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"slug,context,counterpoint\nconcept-feedback-loops,caf\xe9,k\n")
    result = run_cli(sample_vault, "enrich", str(path))
    assert result.exit_code == 2
    assert "not UTF-8 text" in result.stderr


def test_api_raises_all_problems(sample_vault: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, "in.jsonl", '{"slug": "nope", "context": "c", "counterpoint": "k"}\n')
    with pytest.raises(EnrichInputError) as caught:
        Vault(sample_vault).enrich(path)
    assert caught.value.lines == [f"{path}:1: unknown slug 'nope': no note has that name"]
    assert caught.value.exit_code == 2


def test_dirty_target_refused(sample_vault: Path, run_cli: RunCli) -> None:
    note = sample_vault / "concept-feedback-loops.md"
    note.write_bytes(note.read_bytes() + b"local edit\n")
    result = run_cli(sample_vault, "enrich", str(demo_data("enrich.yaml")))
    assert result.exit_code == 2
    assert "uncommitted changes in concept-feedback-loops.md" in result.stderr


# --- the real corpus --------------------------------------------------------------------------------

BRAIN_ENTRIES = {
    "01_literature/hr/mbti/Ne.md": "Ne",  # ends with one blank line
    "go/README.md": "go/README",  # no final newline; the vault has a root README.md too
    "§ Writing.md": "§ Writing",  # no final newline, non-ASCII name with a space
}


def test_brain_corpus(brain_vault: Path, tmp_path: Path, run_cli: RunCli) -> None:
    lines = ["slug,context,counterpoint"]
    lines += [
        f'"{slug}",Context for {slug} with [[Ne]].,Counterpoint for {slug}.'
        for slug in BRAIN_ENTRIES.values()
    ]
    path = _write(tmp_path, "brain.csv", "\n".join(lines) + "\n")
    before = snapshot(brain_vault)
    result = run_cli(brain_vault, "enrich", str(path))
    assert result.exit_code == 0, result.output
    assert "0 link warning(s)" in result.output
    after = snapshot(brain_vault)
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed == set(BRAIN_ENTRIES)
    for note_path, slug in BRAIN_ENTRIES.items():
        old, new = before[note_path], after[note_path]
        paragraph = enrichment_paragraph(f"Context for {slug} with [[Ne]].", f"Counterpoint for {slug}.")
        if old.endswith(b"\n\n"):
            expected = old + paragraph.encode() + b"\n"
        else:
            assert not old.endswith(b"\n")
            expected = old + b"\n\n" + paragraph.encode()  # and still no final newline
        assert new == expected, note_path
        assert new.count(CONTEXT_MARKER.encode()) == 1
    assert git(brain_vault, "status", "--porcelain") == ""
    head = git(brain_vault, "rev-parse", "HEAD")
    assert run_cli(brain_vault, "enrich", str(path)).exit_code == 0
    assert git(brain_vault, "rev-parse", "HEAD") == head


def test_brain_slug_two_notes_share_is_refused_and_a_path_picks_one(
    brain_vault: Path, tmp_path: Path
) -> None:
    # A link would pick the root README.md over go/README.md; a slug must not pick one silently.
    path = _write(tmp_path, "in.yaml", "README:\n  context: c\n  counterpoint: k\n")
    with pytest.raises(EnrichInputError) as refused:
        Vault(brain_vault).enrich(path)
    assert refused.value.lines == [
        f"{path}:1: ambiguous slug 'README': 2 notes have that name (README.md, go/README.md); "
        "write the path of the one to enrich (`/name` for the one at the vault root)"
    ]
    for slug, expected in (("/README", "README.md"), ("go/README", "go/README.md")):
        path = _write(tmp_path, "in.yaml", f"{slug}:\n  context: c\n  counterpoint: k\n")
        assert [change.path for change in Vault(brain_vault).enrich(path).changes] == [expected]


def test_sample_copy_is_untouched() -> None:
    # The golden inputs live outside the vaults they are applied to.
    assert not (GOLDEN / "before" / "enrich.yaml").exists()
    assert shutil.which("git")


def test_describe_caps_the_skipped_list() -> None:
    from vaulttools.changes import BatchPlan
    from vaulttools.commands.enrich import SHOWN_SKIPPED, describe_enrich
    from vaulttools.enrich import EnrichPlanReport

    skipped = [f"n{i}.md" for i in range(SHOWN_SKIPPED + 3)]
    counts = {
        "notes_enriched": 0,
        "paragraphs_replaced": 0,
        "skipped_existing": len(skipped),
        "already_present": 0,
        "link_warnings": 0,
    }
    report = EnrichPlanReport("batch.yaml", [], [], skipped, [], [])
    plan = BatchPlan("enrich", "x", counts=counts, report=report)
    lines = describe_enrich(plan)
    assert len(lines) == 2 + SHOWN_SKIPPED + 1
    assert lines[-1] == "  ... and 3 more (--json lists them all)"


def test_quiet_prints_nothing_on_success(sample_vault: Path, run_cli: RunCli) -> None:
    result = run_cli(sample_vault, "-q", "enrich", str(demo_data("enrich.yaml")))
    assert result.exit_code == 0
    assert result.output == ""


def test_broken_link_warnings_carry_checks_suffix_suggestion(sample_vault: Path, run_cli: RunCli) -> None:
    data = sample_vault.parent / "hints.yaml"
    data.write_text(
        "concept-team-norms:\n"
        "  context: See [[concept-feedback-loops-d3]] and [[claim-async-wins]].\n"
        "  counterpoint: Or [[no-such-note]].\n",
        encoding="utf-8",
    )
    result = run_cli(sample_vault, "enrich", str(data), "--json", "--no-commit")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["report"]["warnings"]
    assert [(w["link"], w["suggestion"], w["candidates"]) for w in warnings] == [
        ("[[concept-feedback-loops-d3]]", "concept-feedback-loops", ["concept-feedback-loops.md"]),
        ("[[claim-async-wins]]", None, ["claim-async-wins-d3.md", "claim-async-wins-d9.md"]),
        ("[[no-such-note]]", None, []),
    ]
    assert warnings[0]["message"].endswith(
        "no file named 'concept-feedback-loops-d3'; did you mean 'concept-feedback-loops'?"
    )
    assert warnings[1]["message"].endswith(
        "; notes that differ only by a suffix: claim-async-wins-d3.md, claim-async-wins-d9.md"
    )
    assert warnings[2]["message"].endswith("no file named 'no-such-note'")
