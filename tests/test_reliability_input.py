"""Hostile and odd input (issue 8): each one gets a clear message or a correct result, never a traceback
or damage. Every test runs the real CLI on a small vault in a temporary git repository."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import git, snapshot
from vaulttools.facts import FactsOptions, facts_of
from vaulttools.note import MAX_EXPANDED_VALUES, Note, load_frontmatter_yaml

RunCli = Callable[..., Result]
TARGET = b"# Target\n"


def make_vault(root: Path, files: dict[str, bytes]) -> Path:
    """A committed git vault holding exactly these files (plus `target.md`, the note the tests rename)."""
    root.mkdir()
    for relative, data in {"target.md": TARGET, **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "core.autocrlf", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def rename_target(vault: Path, run_cli: RunCli) -> dict[str, bytes]:
    """Rename target → goal, check it committed cleanly, and return the vault's files afterwards."""
    result = run_cli(vault, "rename", "target", "goal")
    assert result.exit_code == 0, result.output
    assert git(vault, "status", "--porcelain", "--untracked-files=all") == ""
    return snapshot(vault)


def check_lines(vault: Path, run_cli: RunCli) -> list[str]:
    result = run_cli(vault, "check")
    assert "Traceback" not in result.output
    return result.output.splitlines()


# --- files vaulttools cannot read -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"caf\xe9 [[target]]\n", "not valid UTF-8 at byte 3"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR [[target]]", "not valid UTF-8 at byte 0"),
        (b"\x00\x00\x01\x02 [[target]]", "looks like a binary file (NUL bytes)"),
    ],
    ids=["latin-1", "png", "nul-bytes"],
)
def test_unreadable_note_is_reported_and_never_touched(
    tmp_path: Path, run_cli: RunCli, raw: bytes, reason: str
) -> None:
    vault = make_vault(tmp_path / "v", {"odd.md": raw, "fine.md": b"[[target]]\n"})
    assert check_lines(vault, run_cli) == [
        "odd.md",
        f"  1:1  unreadable-note  {reason}; vaulttools leaves this file alone",
        "3 notes checked: 1 unreadable-note.",
    ]
    after = rename_target(vault, run_cli)
    assert after["odd.md"] == raw
    assert after["fine.md"] == b"[[goal]]\n"


def test_empty_note_checks_renames_and_keeps_zero_bytes(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_vault(tmp_path / "v", {"empty.md": b"", "links.md": b"[[empty]]"})
    assert check_lines(vault, run_cli) == ["3 notes checked: no problems."]
    assert run_cli(vault, "rename", "empty", "blank").exit_code == 0
    after = snapshot(vault)
    assert after["blank.md"] == b"" and "empty.md" not in after
    assert after["links.md"] == b"[[blank]]"  # no final newline added


# --- big notes -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_twenty_megabyte_note_is_edited_only_at_its_links(tmp_path: Path, run_cli: RunCli) -> None:
    paragraph = b"Lorem ipsum dolor sit amet, [[other]] consectetur `[[target]]` adipiscing.\r\n" * 200
    raw = (
        b'\xef\xbb\xbf---\r\nrelated: "[[target]]"\r\n---\r\n'
        + (paragraph + b"See [[target|it]].\r\n") * 1400
    )
    assert len(raw) > 20_000_000
    vault = make_vault(tmp_path / "v", {"huge.md": raw})
    after = rename_target(vault, run_cli)
    expected = raw.replace(b"[[target", b"[[goal").replace(b"`[[goal]]`", b"`[[target]]`")
    assert after["huge.md"] == expected


def test_one_megabyte_single_line(tmp_path: Path, run_cli: RunCli) -> None:
    chunk = b"word [[target]] and [target](target.md) `[[target]]` " * 20_000
    vault = make_vault(tmp_path / "v", {"line.md": chunk})
    assert len(chunk) > 1_000_000 and b"\n" not in chunk
    after = rename_target(vault, run_cli)
    # The markdown link's text was the note's name, so it follows the rename too.
    expected = chunk.replace(b"word [[target]]", b"word [[goal]]").replace(
        b"[target](target.md)", b"[goal](goal.md)"
    )
    assert after["line.md"] == expected


# --- frontmatter that is not ordinary YAML ---------------------------------------------------------------


def test_frontmatter_that_never_closes_is_reported_and_its_links_still_follow(
    tmp_path: Path, run_cli: RunCli
) -> None:
    raw = b"---\ntitle: x\nsee [[target]]\n"
    vault = make_vault(tmp_path / "v", {"open.md": raw})
    assert check_lines(vault, run_cli)[:2] == [
        "open.md",
        "  1:1  unparsable-frontmatter  frontmatter does not parse: the frontmatter opened by '---' on line 1 "
        "never closes",
    ]
    # Obsidian reads an unclosed frontmatter as body text, where [[target]] is a link.
    assert rename_target(vault, run_cli)["open.md"] == b"---\ntitle: x\nsee [[goal]]\n"


def test_duplicate_keys_leave_the_frontmatter_alone_and_fix_the_body(tmp_path: Path, run_cli: RunCli) -> None:
    raw = b'---\nrelated: "[[target]]"\nrelated: "[[target]]"\n---\nbody [[target]]\n'
    vault = make_vault(tmp_path / "v", {"dup.md": raw})
    assert (
        "  1:1  unparsable-frontmatter  frontmatter does not parse: duplicate key 'related'"
        in check_lines(vault, run_cli)
    )
    result = run_cli(vault, "rename", "target", "goal")
    assert "left alone (unparsable-frontmatter): dup.md:2  [[target]]" in result.output
    assert snapshot(vault)["dup.md"] == raw.replace(b"body [[target]]", b"body [[goal]]")


def test_anchors_and_aliases_are_edited_at_the_anchor(tmp_path: Path, run_cli: RunCli) -> None:
    raw = b'---\nbase: &b "[[target]]"\nrelated: *b\n---\n[[target]]\n'
    vault = make_vault(tmp_path / "v", {"anchored.md": raw})
    assert rename_target(vault, run_cli)["anchored.md"] == raw.replace(b"[[target]]", b"[[goal]]")


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + f"\ntags: *{chr(ord('a') + levels - 1)}\n"


def test_billion_laughs_is_refused_without_expanding_it(tmp_path: Path, run_cli: RunCli) -> None:
    yaml_text = billion_laughs()  # 9**9 ≈ 387 million strings once expanded
    data, error = load_frontmatter_yaml(yaml_text)
    assert data is None
    assert error == (
        f"YAML aliases expand to more than {MAX_EXPANDED_VALUES} values (a 'billion laughs' bomb?); "
        "vaulttools will not read this frontmatter"
    )
    raw = f'---\n{yaml_text}related: "[[target]]"\n---\n[[target]]\n'.encode()
    note = Note("bomb.md", raw)
    assert facts_of(note, (0, 0, 0, 0), FactsOptions(frozenset())).properties is None  # nothing walks it
    vault = make_vault(tmp_path / "v", {"bomb.md": raw})
    assert "  1:1  unparsable-frontmatter  frontmatter does not parse: " + error in check_lines(
        vault, run_cli
    )
    after = rename_target(vault, run_cli)
    assert after["bomb.md"] == raw.replace(b"---\n[[target]]", b"---\n[[goal]]")


def test_small_alias_structures_still_load() -> None:
    data, error = load_frontmatter_yaml(billion_laughs(levels=3) + "related: x\n")
    assert error is None and data is not None and len(data["tags"]) == 9


def test_tabs_in_yaml_are_reported_and_tab_indented_code_is_left_alone(
    tmp_path: Path, run_cli: RunCli
) -> None:
    raw = b'---\nrelated:\n\t- "[[target]]"\n---\nText [[target]]\n\n\t[[target]] in code\n\nx\t[[target]]\n'
    vault = make_vault(tmp_path / "v", {"tabs.md": raw})
    assert (
        "  1:1  unparsable-frontmatter  frontmatter does not parse: tabs used for indentation (YAML forbids them)"
        in check_lines(vault, run_cli)
    )
    expected = raw.replace(b"Text [[target]]", b"Text [[goal]]").replace(b"x\t[[target]]", b"x\t[[goal]]")
    assert rename_target(vault, run_cli)["tabs.md"] == expected


# --- names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "link", "new_link"),
    [
        ("my note", "your note", b"[[my note]] [x](my%20note.md)", b"[[your note]] [x](your%20note.md)"),
        (
            "100% sure",
            "50% sure",
            b"[[100% sure]] [x](100%25%20sure.md)",
            b"[[50% sure]] [x](50%25%20sure.md)",
        ),
        (
            "party \U0001f389",
            "fiesta \U0001f38a",
            "[[party \U0001f389]]".encode(),
            "[[fiesta \U0001f38a]]".encode(),
        ),
        ("C# tricks", "csharp tricks", b"[[csharp tricks]]", b"[[csharp tricks]]"),
    ],
    ids=["spaces", "percent", "emoji", "hash"],
)
def test_odd_names_rename_and_their_links_follow(
    tmp_path: Path, run_cli: RunCli, old: str, new: str, link: bytes, new_link: bytes
) -> None:
    vault = make_vault(tmp_path / "v", {f"{old}.md": b"body\n", "links.md": link + b"\n"})
    result = run_cli(vault, "rename", old, new)
    assert result.exit_code == 0, result.output
    after = snapshot(vault)
    assert after[f"{new}.md"] == b"body\n" and f"{old}.md" not in after
    if new != "csharp tricks":
        assert after["links.md"] == new_link + b"\n"


def test_a_new_name_with_hash_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_vault(tmp_path / "v", {})
    before = snapshot(vault)
    result = run_cli(vault, "rename", "target", "C# tricks")
    assert result.exit_code == 2
    assert result.output.startswith(
        "vaulttools: error: NEW 'C# tricks' contains #; note names cannot contain"
    )
    assert snapshot(vault) == before


def test_decomposed_unicode_name_matches_composed_links(tmp_path: Path, run_cli: RunCli) -> None:
    nfd_name = unicodedata.normalize("NFD", "café") + ".md"
    vault = make_vault(tmp_path / "v", {nfd_name: b"x\n", "links.md": "[[café]] [[Café]]\n".encode()})
    assert nfd_name in os.listdir(vault)
    result = run_cli(vault, "rename", "café", "coffee")
    assert result.exit_code == 0, result.output
    after = snapshot(vault)
    assert after["coffee.md"] == b"x\n"
    assert after["links.md"] == b"[[coffee]] [[coffee]]\n"


def test_two_notes_differing_only_in_case(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_vault(tmp_path / "v", {"Case.md": b"upper\n", "case.md": b"lower\n", "l.md": b"[[Case]]\n"})
    before = snapshot(vault)
    result = run_cli(vault, "rename", "case", "other")
    assert result.exit_code == 2
    assert result.output == (
        "vaulttools: error: 'case' is ambiguous: Case.md, case.md; give the path of the one to rename instead\n"
    )
    assert snapshot(vault) == before
    assert (
        "  1:1  ambiguous-link  [[Case]] matches several notes equally well; write a folder path to pick one"
        in (check_lines(vault, run_cli))
    )


# --- symlinks --------------------------------------------------------------------------------------------


def test_symlink_loop_is_skipped(tmp_path: Path, run_cli: RunCli) -> None:
    vault = make_vault(tmp_path / "v", {"a.md": b"[[target]]\n"})
    os.symlink("loop2", vault / "loop1")
    os.symlink("loop1", vault / "loop2")
    os.symlink("loop.md", vault / "loop.md")
    assert check_lines(vault, run_cli) == ["2 notes checked: no problems."]
    assert run_cli(vault, "rename", "target", "goal").exit_code == 0


def test_symlink_to_a_file_outside_the_vault_is_never_written_through(
    tmp_path: Path, run_cli: RunCli
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "private.md").write_bytes(b"[[target]]\n")
    vault = make_vault(tmp_path / "v", {"a.md": b"[[target]]\n"})
    os.symlink(outside / "private.md", vault / "private.md")
    os.symlink(outside, vault / "linked-folder")
    git(vault, "add", "-A")
    git(vault, "commit", "-qm", "symlinks")

    assert rename_target(vault, run_cli)["a.md"] == b"[[goal]]\n"
    assert (outside / "private.md").read_bytes() == b"[[target]]\n"
    result = run_cli(vault, "rename", "private", "public")
    assert result.output == "vaulttools: error: no note named 'private' in the vault; check the name\n"
    # Moving a note into a symlinked folder would write outside the vault.
    result = run_cli(vault, "rename", "a", "linked-folder/a")
    assert result.exit_code == 2
    assert result.output == (
        "vaulttools: error: linked-folder/a.md: linked-folder is a symlink, and vaulttools never writes "
        "through symlinks; move the real file into the vault (nothing was written)\n"
    )
    assert sorted(os.listdir(outside)) == ["private.md"]
