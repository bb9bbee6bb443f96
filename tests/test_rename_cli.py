"""`vaulttools rename` end to end: golden vaults, git commits, refusals, undo, the brain corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, git, git_vault_of, make_git_vault, snapshot
from vaulttools import batch
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.errors import BatchAborted
from vaulttools.rename import plan_renames
from vaulttools.vault import Vault

GOLDEN = FIXTURES / "rename"
HUB = "concept-humane-imperative"


def _head(vault: Path) -> str:
    return git(vault, "rev-parse", "HEAD").strip()


def _committed_vault(vault: Path, files: dict[str, str]) -> Path:
    return git_vault_of({path: text.encode() for path, text in files.items()}, vault)


def _args(case: Path) -> list[str]:
    lines = (case / "args.txt").read_text(encoding="utf-8").splitlines()
    return [line.replace("{here}", str(case)) for line in lines if line]


# Notes (rename/), canvases (canvas/) and folder moves (folders/): each case a vault before and after.
GOLDEN_CASES = sorted(
    f"{root}/{case.name}"
    for root in ("rename", "canvas", "folders")
    for case in (FIXTURES / root).iterdir()
    if case.is_dir()
)


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_vaults(tmp_path: Path, run_cli, case: str) -> None:
    vault = make_git_vault(FIXTURES / case / "before", tmp_path / "vault")
    result = run_cli(vault, *_args(FIXTURES / case))
    assert result.exit_code == 0, result.output
    assert snapshot(vault) == snapshot(FIXTURES / case / "after")
    assert git(vault, "status", "--porcelain") == ""
    message = git(vault, "log", "-1", "--format=%B")
    assert message.startswith("vaulttools rename: ")
    assert "Vaulttools-Batch: rename" in message


def test_git_records_a_rename_and_a_second_run_commits_nothing(sample_vault: Path, run_cli) -> None:
    result = run_cli(sample_vault, "rename", HUB, "concept-humane-differentiation")
    assert result.exit_code == 0, result.output
    status = git(sample_vault, "show", "-M", "--name-status", "--format=", "HEAD")
    assert (
        f"R\t{HUB}.md\tconcept-humane-differentiation.md" in status.replace("R100", "R").replace("R099", "R")
        or f"{HUB}.md\tconcept-humane-differentiation.md" in status
    )
    head = _head(sample_vault)
    again = run_cli(sample_vault, "rename", HUB, "concept-humane-differentiation")
    assert again.exit_code == 2
    assert _head(sample_vault) == head


def test_trash_and_traps_are_untouched(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    assert run_cli(sample_vault, "rename", HUB, "concept-humane-differentiation").exit_code == 0
    after = snapshot(sample_vault)
    for untouched in (
        ".trash/concept-old-humane-draft.md",
        "templates/note-template.md",
        "claim-humane-work-is-measurable.md",
        "concept-humane-imperative-extended.md",
    ):
        assert after[untouched] == before[untouched]


def test_json_report(sample_vault: Path, run_cli) -> None:
    result = run_cli(sample_vault, "rename", HUB, "concept-humane-differentiation", "--dry-run", "--json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["command"] == "rename"
    assert (
        document["counts"]["links_rewritten"] == 43
    )  # 41 in notes, the file node and a text link in the canvas
    assert document["report"]["rewritten_by_kind"]["canvas-file"] == 1
    assert document["report"]["rewritten_by_kind"]["canvas-text"] == 1
    assert document["report"]["left_alone_by_reason"] == {
        "code": 2,
        "html-comment": 1,
        "unparsable-frontmatter": 1,
    }
    assert document["report"]["renames"] == [{"old": f"{HUB}.md", "new": "concept-humane-differentiation.md"}]
    assert git(sample_vault, "status", "--porcelain") == ""


def test_undo_restores_every_byte(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    assert run_cli(sample_vault, "rename", HUB, "x/humane", "--keep-alias").exit_code == 0
    assert snapshot(sample_vault) != before
    assert run_cli(sample_vault, "undo").exit_code == 0
    assert snapshot(sample_vault) == before


def test_map_from_demo_data(sample_vault: Path, run_cli) -> None:
    data = Path(__file__).resolve().parent.parent / "vaulttools" / "demo_data" / "renames.csv"
    result = run_cli(sample_vault, "rename", "--map", str(data))
    assert result.exit_code == 0, result.output
    assert (sample_vault / "entity-copilot.md").read_bytes().startswith(b'---\nid: "entity-copilot"')
    assert len(git(sample_vault, "log", "--format=%H").split()) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["rename", HUB, "concept-ai-as-teammate"],
        ["rename", HUB, "CONCEPT-AI-AS-TEAMMATE"],
        ["rename", HUB, "bad:name"],
        ["rename", HUB, "bad#name"],
        ["rename", HUB, ""],
        ["rename", HUB, ".hidden"],
        ["rename", HUB, "../outside"],
        ["rename", "concept-does-not-exist", "x"],
        ["rename", HUB],
        ["rename", "--map", "{map}"],
        ["rename", "concept-team-norms", "x", "--keep-alias"],
    ],
)
def test_refusals_change_nothing(sample_vault: Path, tmp_path: Path, run_cli, args: list[str]) -> None:
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"{HUB},a\nconcept-ai-as-teammate,A\n", encoding="utf-8")
    before, head = snapshot(sample_vault), _head(sample_vault)
    result = run_cli(sample_vault, *[a.replace("{map}", str(mapping)) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert snapshot(sample_vault) == before
    assert _head(sample_vault) == head


def test_ambiguous_old_asks_for_the_path(tmp_path: Path, run_cli) -> None:
    source = tmp_path / "src"
    for folder in ("a", "b"):
        (source / folder).mkdir(parents=True)
        (source / folder / "dup.md").write_text("x\n")
    vault = make_git_vault(source, tmp_path / "vault")
    result = run_cli(vault, "rename", "dup", "one")
    assert result.exit_code == 2
    assert "a/dup.md, b/dup.md" in result.output
    assert run_cli(vault, "rename", "a/dup", "one").exit_code == 0
    assert (vault / "a" / "one.md").exists()


def test_uncommitted_changes_are_refused(sample_vault: Path, run_cli) -> None:
    (sample_vault / "entity-i-human-book.md").write_bytes(b"edited\n[[concept-humane-imperative]]\n")
    before, head = snapshot(sample_vault), _head(sample_vault)
    result = run_cli(sample_vault, "rename", HUB, "x")
    assert result.exit_code == 2
    assert "uncommitted" in result.output
    assert snapshot(sample_vault) == before and _head(sample_vault) == head


def test_swap_is_rolled_back_when_a_write_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.md").write_bytes(b"A [[b]]\n")
    (source / "b.md").write_bytes(b"B [[a]]\r\n")
    vault = make_git_vault(source, tmp_path / "vault")
    before = snapshot(vault)
    plan = plan_renames(Vault(vault), [("a", "b"), ("b", "a")])
    calls = []
    original = batch._write_change

    def failing(root: Path, change, **kwargs) -> None:
        calls.append(change.path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(root / change.final_path))
        original(root, change, **kwargs)

    monkeypatch.setattr(batch, "_write_change", failing)
    with pytest.raises(BatchAborted):
        run_batch(Vault(vault), plan, BatchOptions())
    assert snapshot(vault) == before
    monkeypatch.setattr(batch, "_write_change", original)
    run_batch(Vault(vault), plan_renames(Vault(vault), [("a", "b"), ("b", "a")]), BatchOptions())
    assert (vault / "a.md").read_bytes() == b"B [[b]]\r\n"
    assert (vault / "b.md").read_bytes() == b"A [[a]]\n"


# --- the real corpus ----------------------------------------------------------------------------------

BRAIN_NOTES = ["Map of Content", "§ Writing", "Finite-state automata", "Finite-state transducer"]


@pytest.mark.slow
def test_brain_corpus_only_link_targets_change(brain_vault: Path) -> None:
    """Rename some of the most-linked notes; putting the old name back into each rewritten link target
    (and nowhere else) must give back every original byte."""
    vault = Vault(brain_vault)
    for name in BRAIN_NOTES:
        new = f"{name} zq"
        plan = plan_renames(vault, [(name, new)])
        assert plan.counts["links_rewritten"] > 0
        assert plan.counts["links_left_alone"] == 0
        for change in plan.changes:
            assert change.old is not None and change.new is not None
            old_text, new_text = change.old.decode("utf-8"), change.new.decode("utf-8")
            assert new_text.replace(new, name).lower() == old_text.lower(), change.path
            if name in old_text and name.lower() not in old_text.replace(name, ""):
                assert new_text.replace(new, name) == old_text, change.path


@pytest.mark.slow
def test_brain_corpus_rename_commits_and_undoes(brain_vault: Path, run_cli) -> None:
    before = snapshot(brain_vault)
    result = run_cli(brain_vault, "rename", "Map of Content", "Maps/Map of Content")
    assert result.exit_code == 0, result.output
    changed = {p for p, data in snapshot(brain_vault).items() if before.get(p) != data}
    assert "Maps/Map of Content.md" in changed
    assert run_cli(brain_vault, "undo").exit_code == 0
    assert snapshot(brain_vault) == before
    shutil.rmtree(brain_vault / ".vaulttools", ignore_errors=True)


def test_hand_written_percent_escapes_are_found(tmp_path, run_cli) -> None:
    """`concept%2Dhub.md` spells `concept-hub` only once decoded; the byte prefilter must still find it."""
    files = {
        "concept-hub.md": "hub\n",
        "a.md": "see [the hub](concept%2Dhub.md) and [again](Concept%2dHub.md#H)\n",
    }
    vault = _committed_vault(tmp_path / "v", files)
    result = run_cli(vault, "rename", "concept-hub", "concept-core")
    assert result.exit_code == 0, result.output
    assert (vault / "a.md").read_text() == "see [the hub](concept-core.md) and [again](concept-core.md#H)\n"


def test_a_new_path_through_a_file_is_refused_in_one_line(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    note = sorted(p.name for p in sample_vault.glob("*.md"))[0]
    result = run_cli(sample_vault, "rename", "concept-team-norms", f"{note}/inside")
    assert result.exit_code == 2, result.output
    assert f"{note} is a file, not a folder; choose another path (nothing was written)" in result.output
    assert "Traceback" not in result.output
    assert snapshot(sample_vault) == before
    assert git(sample_vault, "status", "--porcelain") == ""


def test_a_leading_slash_moves_a_note_to_the_vault_top(tmp_path: Path, run_cli) -> None:
    files = {"deep/er/hub.md": "hub\n", "a.md": "see [[deep/er/hub]] and [t](deep/er/hub.md)\n"}
    vault = _committed_vault(tmp_path / "v", files)
    result = run_cli(vault, "rename", "deep/er/hub", "/hub")
    assert result.exit_code == 0, result.output
    assert (vault / "hub.md").read_text() == "hub\n"
    assert (vault / "a.md").read_text() == "see [[hub]] and [t](hub.md)\n"


def test_a_new_spelled_as_a_path_on_disk_is_refused(sample_vault: Path, run_cli) -> None:
    before = snapshot(sample_vault)
    on_disk = f"{sample_vault.resolve().as_posix()}/archive/norms"
    result = run_cli(sample_vault, "rename", "concept-team-norms", on_disk)
    assert result.exit_code == 2, result.output
    assert "is a path on disk; give it from the vault's top: 'archive/norms'" in result.output
    assert snapshot(sample_vault) == before
