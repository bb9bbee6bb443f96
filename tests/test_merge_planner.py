"""The pieces of `merge`: frontmatter lists located, extended and shortened byte-safely; kill and Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, make_git_vault, snapshot
from tests.helpers import run_vaulttools
from vaulttools.batch import CRASH_AFTER_ENV, CRASH_MODE_ENV
from vaulttools.duplicates import find_families
from vaulttools.edits import apply_edits
from vaulttools.note import Note
from vaulttools.resolve import strip_md
from vaulttools.vault import Vault
from vaulttools.yamllists import BLOCK, FLOW, format_item, list_edits, locate


def note_of(yaml_text: str) -> Note:
    return Note("n.md", f"---\n{yaml_text}---\nbody\n".encode())


# yaml, key, removed indexes, added (already formatted) -> expected yaml after the edits
LIST_CASES = [
    ('tags: ["a", "b"]\n', "tags", set(), [], 'tags: ["a", "b"]\n'),  # no-op
    ('tags: ["a", "b"]\n', "tags", set(), ['"c"'], 'tags: ["a", "b", "c"]\n'),
    ("tags: [a,b]  # kept\n", "tags", set(), ["c"], "tags: [a,b,c]  # kept\n"),
    ('tags: ["a"]\n', "tags", set(), ['"c"', '"d"'], 'tags: ["a", "c", "d"]\n'),
    ("tags: []\n", "tags", set(), ['"c"'], 'tags: ["c"]\n'),
    ('tags: ["a", "b", "a"]\n', "tags", {2}, [], 'tags: ["a", "b"]\n'),
    ('tags: ["a", "b", "c"]\n', "tags", {0}, ['"d"'], 'tags: ["b", "c", "d"]\n'),
    ("tags:\n  - a\n  - 'b'\nx: 1\n", "tags", set(), ["c"], "tags:\n  - a\n  - 'b'\n  - c\nx: 1\n"),
    ("tags:\n- a  # one\n- b\n- a\n", "tags", {2}, [], "tags:\n- a  # one\n- b\n"),
    ("tags:\n  - a\n  - b\n", "tags", {0}, ["c"], "tags:\n  - b\n  - c\n"),
]


@pytest.mark.parametrize(("yaml_text", "key", "removed", "added", "expected"), LIST_CASES)
def test_list_edits(yaml_text: str, key: str, removed: set[int], added: list[str], expected: str) -> None:
    note = note_of(yaml_text)
    found = locate(note, key)
    assert found is not None and found.style in (FLOW, BLOCK)
    new_text = apply_edits(note.text, list_edits(note, found, removed, added, "\n"))
    assert new_text == f"---\n{expected}---\nbody\n"


@pytest.mark.parametrize(
    ("yaml_text", "key", "style", "values"),
    [
        ("tags: [\"a\", 'b', c]\n", "tags", FLOW, ["a", "b", "c"]),
        ("days: [1, 2]\n", "days", FLOW, [1, 2]),
        ('title: "x" # c\n', "title", "scalar", []),
        ('tags:\n  - a\n  # a comment line\n  - "b, c"\n', "tags", BLOCK, ["a", "b, c"]),
    ],
)
def test_locate_reads_items(yaml_text: str, key: str, style: str, values: list[object]) -> None:
    found = locate(note_of(yaml_text), key)
    assert found is not None and found.style == style
    assert [item.value for item in found.items] == values


@pytest.mark.parametrize(
    "yaml_text",
    [
        "tags: [a,\n  b]\n",  # a flow list over several lines
        "tags:\n  - a\n    b\n",  # an item over several lines
        "tags:\n  - a:\n      b\n",  # a nested mapping
        "tags: [[a], b]\n",  # a nested list
        "other: 1\n",  # no such key
    ],
)
def test_locate_refuses_shapes_it_cannot_edit(yaml_text: str) -> None:
    assert locate(note_of(yaml_text), "tags") is None


@pytest.mark.parametrize(
    ("value", "raw", "quote", "in_flow", "written"),
    [
        ("ai", None, '"', True, '"ai"'),
        ("ai", None, "'", True, "'ai'"),
        ("ai", None, "", True, "ai"),
        ("a, b", None, "", True, '"a, b"'),  # plain would split the item
        ("yes", None, "", False, '"yes"'),  # plain would be a boolean
        ("it's", None, "'", False, "'it''s'"),
        (3, "3", '"', True, "3"),
    ],
)
def test_format_item(value: object, raw: str | None, quote: str, in_flow: bool, written: str) -> None:
    assert format_item(value, raw, quote, in_flow=in_flow, where="n.md") == written


def test_ctrl_c_mid_merge_puts_every_file_back(tmp_path: Path) -> None:
    vault = make_git_vault(FIXTURES / "merge" / "day-suffix" / "before", tmp_path / "v")
    before = snapshot(vault)
    # The last write of the batch is a SOURCE's deletion.
    result = run_vaulttools(vault, "merge", "--all", env={CRASH_AFTER_ENV: "5", CRASH_MODE_ENV: "interrupt"})
    assert result.returncode == 3, result.stderr
    assert snapshot(vault) == before


def test_killed_mid_merge_then_recover_restores_deleted_sources(tmp_path: Path) -> None:
    vault = make_git_vault(FIXTURES / "merge" / "day-suffix" / "before", tmp_path / "v")
    before = snapshot(vault)
    assert run_vaulttools(vault, "merge", "--all", env={CRASH_AFTER_ENV: "5"}).returncode == -9
    assert not (vault / "entity-deloitte-d9.md").exists()
    assert run_vaulttools(vault, "recover").returncode == 0
    assert snapshot(vault) == before


def test_empty_keys_of_the_target_are_filled(tmp_path: Path) -> None:
    """`aliases:` and `owner:` left empty (as templates leave them) take the SOURCE's values in place."""
    from vaulttools import Vault

    root = tmp_path / "v"
    root.mkdir()
    (root / "x.md").write_text('---\nid: "x"\naliases:\nowner:  # who\ntags: [a]\n---\nBody.\n')
    (root / "x-d2.md").write_text(
        '---\nid: "x-d2"\naliases: ["X two"]\nowner: "jane"\ntags: [b]\n---\nOther.\n'
    )
    plan = Vault(root).merge(["x-d2"], into="x")
    [target] = [c for c in plan.changes if c.path == "x.md"]
    assert target.new == (
        b'---\nid: "x"\naliases: ["x-d2", "X two"]\nowner: "jane"  # who\ntags: [a, b]\n---\nBody.\n\nOther.\n'
    )
    assert plan.report.differing_scalars == []


@pytest.mark.parametrize(
    "vault_dir",
    [FIXTURES / "merge" / "day-suffix" / "before", FIXTURES.parent / "vaulttools" / "sample_vault"],
)
def test_merge_all_shortcut_plans_what_the_full_search_plans(tmp_path: Path, vault_dir: Path) -> None:
    """`merge --all` parses only the notes the family scan saw spelling a member's name; planning from
    every note's bytes must give the very same batch."""
    from vaulttools import Vault
    from vaulttools.duplicates import find_families
    from vaulttools.merge import Merge, plan_merges

    root = make_git_vault(vault_dir, tmp_path / "v")
    shortcut = Vault(root).merge(all_families=True)
    vault = Vault(root)
    merges = [Merge(family.keep, tuple(family.sources)) for family in find_families(vault)]
    full = plan_merges(vault, merges)
    assert shortcut.changes and sorted(shortcut.changes, key=str) == sorted(full.changes, key=str)
    assert shortcut.counts == full.counts


@pytest.mark.parametrize(
    ("notes", "families"),
    [
        # a numbered series, no unsuffixed member: only copies (near-identical bodies) are a family
        ({"m 1": "# M\n\nMonday.\n", "m 2": "# M\n\nTuesday.\n"}, []),
        (
            {"m 1": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "m 2": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n"},
            [["m 1", "m 2"]],
        ),
        (
            {"m 1": "---\nx: 1\n---\nsame\n", "m 2": "---\nx: 2\n---\n  same  \n", "m 3": "other\n"},
            [["m 1", "m 2"]],
        ),
        ({"m 1": "", "m 2": ""}, []),  # empty bodies are no evidence
        ({"m 1": "---\nid: m\n---\nA\n", "m 2": "---\nid: m\n---\nB\n"}, [["m 1", "m 2"]]),  # one id
        # an unsuffixed member, or a day suffix: as before, by name alone
        ({"m": "# M\n\nMonday.\n", "m 1": "# M\n\nTuesday.\n"}, [["m 1", "m"]]),
        ({"m-d2": "Monday.\n", "m-d4": "Tuesday.\n"}, [["m-d2", "m-d4"]]),
        ({"m 1": "Monday.\n", "m-d4": "Tuesday.\n"}, [["m 1", "m-d4"]]),
    ],
)
def test_a_numbered_series_is_a_family_only_with_evidence(
    tmp_path: Path, notes: dict[str, str], families: list[list[str]]
) -> None:
    for name, text in notes.items():
        (tmp_path / f"{name}.md").write_text(text, encoding="utf-8")
    found = [[strip_md(m.path) for m in family.members] for family in find_families(Vault(tmp_path))]
    assert found == families
