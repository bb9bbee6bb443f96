"""Rename detection for commits too big for git's exhaustive one: `moves.pair_moves` (pure) and
`Repository.changed_paths` past `EXHAUSTIVE_RENAME_PAIRS` (a real repository), as `undo` and `redo` use it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import git, git_vault_of, snapshot
from tests.helpers import found_repository, git_args, git_runs
from vaulttools import git as git_module
from vaulttools.history import latest_undoable, plan_undo
from vaulttools.moves import MIN_SIMILARITY, line_features, pair_moves, similarity


def _lines(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (b"", b"", 0.0),  # nothing to compare: never a pair
        (b"\n\n  \n", b"", 0.0),  # blank lines are not lines of the note
        (b"a\nb\n", b"a\nb\n", 1.0),
        (b"a\r\nb  \r\n", b"a\nb\n", 1.0),  # line endings and trailing spaces do not count
        (b"a\nb\nc\nd\n", b"a\nb\nc\nx\n", 0.75),
        (b"a\nb\n", b"a\nb\nc\nd\n", 0.5),  # the share of the larger file
        (b"a\na\na\nb\n", b"a\nb\n", 1.0),  # distinct lines
        (b"a\n", b"b\n", 0.0),
    ],
)
def test_similarity_of_two_files(first: bytes, second: bytes, expected: float) -> None:
    assert similarity(line_features(first), line_features(second)) == expected
    assert similarity(line_features(second), line_features(first)) == expected


NOTE = _lines("---", "id: alpha", "type: concept", "---", "# Alpha", "", "First [[b]] line.", "Second line.")
RENAMED = NOTE.replace(b"id: alpha", b"id: alpha-moved")
OTHER = _lines("---", "id: other", "type: concept", "---", "# Other", "", "Nothing alike.", "At all.")


@pytest.mark.parametrize(
    ("deleted", "added", "expected"),
    [
        ({}, {}, []),  # no-op
        ({"a.md": NOTE}, {}, []),
        ({}, {"b.md": NOTE}, []),
        ({"a.md": NOTE}, {"b.md": RENAMED}, [("a.md", "b.md")]),
        ({"a.md": NOTE}, {"b.md": OTHER}, []),  # alike only in the frontmatter's shared lines
        (
            {"a.md": NOTE, "o.md": OTHER},
            {"b.md": OTHER, "c.md": RENAMED},
            [("o.md", "b.md"), ("a.md", "c.md")],
        ),
        # Two added copies of one deleted note: the more similar one is the move, the other an addition.
        ({"a.md": NOTE}, {"b.md": RENAMED, "c.md": NOTE}, [("a.md", "c.md")]),
        # Equally similar: the paths that sort first pair.
        ({"a.md": NOTE, "z.md": NOTE}, {"b.md": NOTE, "c.md": NOTE}, [("a.md", "b.md"), ("z.md", "c.md")]),
        ({"a.md": b""}, {"b.md": b""}, []),  # empty files have no lines to pair by (git pairs them by id)
    ],
)
def test_pair_moves(
    deleted: dict[str, bytes], added: dict[str, bytes], expected: list[tuple[str, str]]
) -> None:
    old = {path: line_features(data) for path, data in deleted.items()}
    new = [(path, line_features(data)) for path, data in added.items()]
    assert pair_moves(old, new) == expected


def test_a_line_shared_by_many_deleted_files_suggests_no_pair_but_counts() -> None:
    """Nine deleted notes share one line (too common to look up); the added note that holds it and one
    rare line of the first pairs with that one, its similarity counting the common line too."""
    common = "A line every note has."
    deleted = {f"n{i}.md": line_features(_lines(common, f"own {i}")) for i in range(9)}
    added = [("moved.md", line_features(_lines(common, "own 0")))]
    assert pair_moves(deleted, added) == [("n0.md", "moved.md")]
    lone = [("lone.md", line_features(_lines(common, "new text")))]
    assert pair_moves(deleted, lone) == []  # half alike, but only by the common line: never looked up


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.sampled_from([f"d{i}.md" for i in range(8)]), st.lists(st.sampled_from("abcdefgh"))),
    st.dictionaries(st.sampled_from([f"a{i}.md" for i in range(8)]), st.lists(st.sampled_from("abcdefgh"))),
    st.randoms(use_true_random=False),
)
def test_pairs_are_one_to_one_alike_and_independent_of_order(
    deleted: dict[str, list[str]], added: dict[str, list[str]], shuffler: random.Random
) -> None:
    old = {path: line_features(_lines(*lines)) for path, lines in deleted.items()}
    new = [(path, line_features(_lines(*lines))) for path, lines in added.items()]
    pairs = pair_moves(old, new)
    assert len({d for d, _ in pairs}) == len({a for _, a in pairs}) == len(pairs)
    assert all(similarity(old[d], dict(new)[a]) >= MIN_SIMILARITY for d, a in pairs)
    shuffled_old = dict(shuffler.sample(sorted(old.items()), len(old)))
    assert pair_moves(shuffled_old, shuffler.sample(new, len(new))) == pairs


def _note(name: str, links: list[str]) -> bytes:
    body = "".join(f"See [[{link}]] for the {i}th point about {name}.\n" for i, link in enumerate(links))
    prose = "".join(f"Point {k} of what {name} says, at some length, as notes do.\n" for k in range(5))
    return f"---\nid: {name}\n---\n# {name}\n\n{prose}{body}".encode()


def _vault_for_renames(tmp_path: Path) -> Path:
    """Twelve notes in folders, each linking the next three; every link and id changes with a rename."""
    names = [f"note-{i:02d}" for i in range(12)]
    files = {
        f"{'deep/' if i % 2 else ''}{name}.md": _note(name, [names[(i + k) % 12] for k in (1, 2, 3)])
        for i, name in enumerate(names)
    }
    files["same-a.md"] = files["same-b.md"] = b"Two notes with the same bytes.\n"
    files["tiny.md"] = b"x\n"
    files["empty.md"] = b""  # no lines: paired by its blob id only
    return git_vault_of(files, tmp_path / "v")


def _rename_everything(vault: Path, run_cli) -> None:
    mapping = "old,new\n" + "".join(f"note-{i:02d},renamed-{i:02d}\n" for i in range(12))
    mapping += "same-a,moved-a\nsame-b,moved-b\ntiny,tiny-moved\nempty,empty-moved\n"
    (vault.parent / "map.csv").write_text(mapping)
    result = run_cli(vault, "-q", "rename", "--map", str(vault.parent / "map.csv"))
    assert result.exit_code == 0, result.output


def test_changed_paths_past_the_limit_pairs_the_renames_git_pairs(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = _vault_for_renames(tmp_path)
    _rename_everything(vault, run_cli)
    repository = found_repository(vault)
    head = git(vault, "rev-parse", "HEAD").strip()
    by_git = repository.changed_paths(head)
    monkeypatch.setattr(git_module, "EXHAUSTIVE_RENAME_PAIRS", 0)
    runs = git_runs(monkeypatch)
    ours = repository.changed_paths(head)
    assert not any("-M" in args for args in git_args(runs))  # git's own detection was not asked
    assert sorted(ours) == sorted(by_git)
    moves = sorted((change.path, change.new_path) for change in ours if change.status == "R")
    assert moves == sorted(
        [
            *[
                (
                    f"{'deep/' if i % 2 else ''}note-{i:02d}.md",
                    f"{'deep/' if i % 2 else ''}renamed-{i:02d}.md",
                )
                for i in range(12)
            ],
            ("empty.md", "empty-moved.md"),  # no lines: paired by blob id
            ("same-a.md", "moved-a.md"),  # the same bytes, paired by blob id in path order
            ("same-b.md", "moved-b.md"),
            ("tiny.md", "tiny-moved.md"),
        ]
    )


def test_undo_and_redo_past_the_limit_restore_every_byte_as_moves(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = _vault_for_renames(tmp_path)
    before = snapshot(vault)
    _rename_everything(vault, run_cli)
    after = snapshot(vault)
    monkeypatch.setattr(git_module, "EXHAUSTIVE_RENAME_PAIRS", 0)
    repository = found_repository(vault)
    plan = plan_undo(repository, latest_undoable(repository))
    assert sum(change.new_path not in (None, change.path) for change in plan.changes) == 16
    undone = run_cli(vault, "undo", "--json")
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.output)["counts"] == {"files_restored": 16}
    assert snapshot(vault) == before
    redone = run_cli(vault, "-q", "redo")
    assert redone.exit_code == 0, redone.output
    assert snapshot(vault) == after
    assert git(vault, "status", "--porcelain") == ""


def test_a_commit_without_renames_lists_every_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = git_vault_of({"a.md": b"a\n", "b.md": b"b\n", "c.md": b"c\n"}, tmp_path / "v")
    (vault / "a.md").write_bytes(b"changed\n")
    (vault / "b.md").unlink()
    (vault / "d.md").write_bytes(b"new\n")
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", "edit")
    monkeypatch.setattr(git_module, "EXHAUSTIVE_RENAME_PAIRS", 0)
    changes = found_repository(vault).changed_paths(git(vault, "rev-parse", "HEAD").strip())
    assert [(c.status, c.path, c.new_path) for c in changes] == [
        ("M", "a.md", None),
        ("D", "b.md", None),
        ("A", "d.md", None),
    ]
    blob = git(vault, "rev-parse", "HEAD:a.md").strip()
    assert (changes[0].new_blob, changes[1].new_blob, changes[2].old_blob) == (blob, None, None)
