"""Each guarantee of the verify step refuses a deliberately wrong edit, and nothing is written (issue 14).

Every case hands vaulttools one wrong edit: a faulty splice (bytes outside the edits change, or an edit
lands other than planned), or an edit that writes a `---` line into the frontmatter, breaks its YAML,
changes its shape, a value's quoting style, or a value's type. Each is checked twice: at the core
(`planning.note_change`), and end to end, where a real `rename b c` gets the wrong edit for the note `a.md`
and must exit 3 with the vault, its history and its journal untouched.

The mutation check at the end turns each guard off in turn (monkeypatched to a no-op) and asserts that at
least one case then stops being refused as planned: no guard can be removed with every test still green.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, snapshot
from tests.helpers import GUARDS
from vaulttools import planning, rename
from vaulttools.edits import Edit, apply_edits
from vaulttools.errors import EditConflict
from vaulttools.note import Note

NOTE_A = '---\nrelated: "[[b]]"\nn: 1\n---\nSee [[b]].\n'


@dataclass(frozen=True)
class Case:
    """A wrong edit for `a.md` (NOTE_A): `old` at its first place becomes `new`; or, with `splice`, the right
    edits with a faulty splicer in place of `apply_edits`."""

    name: str
    old: str
    new: str
    refusal: str  # what the refusal must say (after "a.md: ")
    splice: Callable[[str, Any], str] | None = None

    def wrong_edit(self, text: str) -> Edit:
        start = text.index(self.old)
        return Edit(start, start + len(self.old), self.old, self.new, "wrong")


def _drops_last_byte(text: str, edits: Any, **kwargs: Any) -> str:
    return apply_edits(text, edits, **kwargs)[:-1]


def _writes_other_text(text: str, edits: Any, **kwargs: Any) -> str:
    return apply_edits(text, [e._replace(new=e.new.upper()) for e in edits], **kwargs)


CASES = [
    Case("bytes outside the edits", "", "", "bytes outside the planned edits changed", _drops_last_byte),
    Case("an edit lands as planned", "", "", "an edit did not land where planned", _writes_other_text),
    Case(
        "frontmatter bounds",
        "n: 1\n",
        "n: 1\n---\nn: 1\n",
        "the edit would change where the frontmatter ends",
    ),
    Case("YAML re-parse", '"[[b]]"', '"[[c]]"x"', "the edited frontmatter would not parse"),
    Case(
        "YAML shape",
        '"[[b]]"',
        '["[[c]]"]',
        "the edit would change more than link values (related changed from",
    ),
    Case(
        "node style",
        '"[[b]]"',
        "'[[c]]'",
        "the edit would change more than link values (related changed its quoting style)",
    ),
    Case("node kind/tag", "n: 1", "n: 1.0", "the edit would change more than link values (n changed type)"),
]


@contextmanager
def faulty_splicer(case: Case) -> Iterator[None]:
    if case.splice is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(planning, "apply_edits", case.splice)
        yield


def core_edits(case: Case, note: Note) -> list[Edit]:
    if case.splice is not None:  # the right edit: the splicer is what goes wrong
        start = note.text.index("[[b]]", note.body_start)
        return [Edit(start + 2, start + 3, "b", "c")]
    return [case.wrong_edit(note.text)]


def refused_as_planned(case: Case) -> bool:
    """The core assertion: `note_change` refuses the case with its own reason."""
    note = Note("a.md", NOTE_A.encode(), frozenset({"related"}))
    with faulty_splicer(case):
        try:
            planning.note_change(note, core_edits(case, note))
        except EditConflict as exc:
            return exc.message.startswith(f"a.md: {case.refusal}")
    return False


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_core_refuses_the_wrong_edit(case: Case) -> None:
    assert refused_as_planned(case)


def test_the_right_edit_goes_through() -> None:
    """The no-op case of the table: the same note and a right edit pass every guard."""
    note = Note("a.md", NOTE_A.encode(), frozenset({"related"}))
    start = note.text.index("[[b]]")
    change = planning.note_change(note, [Edit(start + 2, start + 3, "b", "c")])
    assert change is not None and change.new == NOTE_A.replace('"[[b]]"', '"[[c]]"', 1).encode()


@pytest.fixture
def small_vault(tmp_path: Path) -> Path:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "a.md").write_text(NOTE_A)
    (vault / "b.md").write_text("# B\n")
    git(vault, "init", "-q", "-b", "main")
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", "initial")
    return vault


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_batch_given_the_wrong_edit_refuses_with_nothing_written(
    case: Case, small_vault: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_retarget = rename.retarget

    def wrong_retarget(note: Note, link: Any, target: str, **kwargs: Any) -> Edit:
        edit = real_retarget(note, link, target, **kwargs)
        if note.path == "a.md" and edit.start < note.body_start and case.splice is None:
            return case.wrong_edit(note.text)
        return edit

    monkeypatch.setattr(rename, "retarget", wrong_retarget)
    before = snapshot(small_vault)
    with faulty_splicer(case):
        result = run_cli(small_vault, "rename", "b", "c")
    assert result.exit_code == 3, result.output
    assert f"a.md: {case.refusal}" in result.output
    assert snapshot(small_vault) == before
    assert git(small_vault, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(small_vault, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (small_vault / ".vaulttools" / "journal").exists()


@pytest.mark.parametrize("guard", list(GUARDS))
def test_turning_a_guard_off_makes_a_case_fail(guard: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, name, mutant = GUARDS[guard]
    monkeypatch.setattr(module, name, mutant(getattr(module, name)))  # raises if the guard was renamed
    survivors = [case.name for case in CASES if not refused_as_planned(case)]
    assert survivors, f"with the {guard} guard off, every wrong edit is still refused: the guard is untested"


# Body edits whose frontmatter bounds must still be searched for: the shortcut that keeps them without a
# search (a closed frontmatter whose closer ends with a line ending, every edit after it) must not apply.
BODY_EDITS_THAT_MOVE_THE_FRONTMATTER = [
    # (note, text the edit replaces in the body, what it writes)
    ("---\nid: a\nSee [[b]].\n", "[[b]]", "[[b]]\n---\n"),  # never closed: the edit would close it
    ("---\nid: a\n---", "", "x"),  # the closer ends the file: text after it is no closer
    ("---\r\nid: a\r\n---", "", "\r\n"),  # a line ending after it moves where the block ends
]


@pytest.mark.parametrize(("text", "old", "new"), BODY_EDITS_THAT_MOVE_THE_FRONTMATTER)
def test_a_body_edit_that_would_move_the_frontmatter_is_refused(text: str, old: str, new: str) -> None:
    note = Note("a.md", text.encode())
    start = text.rindex(old) if old else len(text)
    assert start >= note.body_start
    with pytest.raises(EditConflict, match="the edit would change where the frontmatter ends"):
        planning.note_change(note, [Edit(start, start + len(old), old, new)])


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("---\nid: a\n---\nSee [[b]].\n", True),
        ("---\r\nid: a\r\n---\r\nSee [[b]].\r\n", True),
        ("---\nid: a\n---", False),
        ("---\nid: a\nSee [[b]].\n", False),
        ("See [[b]].\n", False),
    ],
)
def test_the_bounds_are_kept_without_a_search_only_after_a_closed_line(text: str, kept: bool) -> None:
    note = Note("a.md", text.encode())
    edit = Edit(len(text), len(text), "", "x")
    assert planning._bounds_kept(note, [edit]) is kept
    assert planning._bounds_kept(note, [edit, Edit(0, 0, "", "x")]) is False  # one edit before the closer
