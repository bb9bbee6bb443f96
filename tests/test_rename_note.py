"""`rename.rename_note_edits`, the pure per-note planner of a rename: a note's text and the renames in, its
edits out, with no vault on disk (the link indexes are built from a list of paths)."""

from __future__ import annotations

import pytest

from vaulttools.edits import apply_edits
from vaulttools.note import Note
from vaulttools.rename import Rename, RenameContext, RenameReport, rename_note_edits, renamed_index
from vaulttools.resolve import LinkIndex

VAULT = ["a.md", "b.md", "deep/c.md", "img/p.png", "n.md"]


def context(renames: dict[str, str], *, keep_alias: bool = False) -> RenameContext:
    before = LinkIndex(VAULT)
    after = renamed_index(before, [Rename(old, new) for old, new in renames.items()])
    return RenameContext(before, after, renames, keep_alias=keep_alias)


def renamed_text(text: str, renames: dict[str, str], path: str = "n.md", *, keep_alias: bool = False) -> str:
    note = Note(path, text.encode("utf-8"))
    own = Rename(path, renames[path]) if path in renames else None
    edits, _ = rename_note_edits(note, context(renames, keep_alias=keep_alias), RenameReport(), rename=own)
    return apply_edits(note.text, edits)


A_TO_Z = {"a.md": "z.md"}


@pytest.mark.parametrize(
    ("text", "renames", "expected"),
    [
        # no-op: nothing points at a renamed file, or the link is not a link
        ("no links at all\n", A_TO_Z, "no links at all\n"),
        ("[[b]] and [[deep/c]]\n", A_TO_Z, "[[b]] and [[deep/c]]\n"),
        ("`[[a]]` and <!-- [[a]] -->\n", A_TO_Z, "`[[a]]` and <!-- [[a]] -->\n"),
        ("```\n[[a]]\n```\n", A_TO_Z, "```\n[[a]]\n```\n"),
        ("[[#heading]]\n", A_TO_Z, "[[#heading]]\n"),
        ("[[a]]\n", {}, "[[a]]\n"),
        # every form of a link to the renamed note, in its own syntax
        ("[[a]]\n", A_TO_Z, "[[z]]\n"),
        ("[[A]]\n", A_TO_Z, "[[z]]\n"),
        ("[[a|shown]] [[a#part]] ![[a]]\n", A_TO_Z, "[[z|shown]] [[z#part]] ![[z]]\n"),
        ("[x](a.md) [y](a)\n", A_TO_Z, "[x](z.md) [y](z)\n"),
        ("---\nrelated: '[[a]]'\n---\nbody\r\n", A_TO_Z, "---\nrelated: '[[z]]'\n---\nbody\r\n"),
        # a move keeps the name: a bare link still reaches the note; a path link follows it
        ("[[a]] [[deep/c]]\n", {"deep/c.md": "other/c.md"}, "[[a]] [[other/c]]\n"),
        ("![[img/p.png]]\n", {"img/p.png": "img/q.png"}, "![[img/q.png]]\n"),
    ],
)
def test_links_follow_the_rename(text: str, renames: dict[str, str], expected: str) -> None:
    assert renamed_text(text, renames) == expected


@pytest.mark.parametrize(
    ("text", "keep_alias", "expected"),
    [
        ("no frontmatter\n", False, "no frontmatter\n"),
        ("---\nid: other\n---\n", False, "---\nid: other\n---\n"),
        ('---\nid: "a"\n---\n', False, '---\nid: "z"\n---\n'),
        ("---\nid: a\naliases: [x]\n---\n", True, '---\nid: z\naliases: [x, "a"]\n---\n'),
    ],
)
def test_the_renamed_note_updates_its_own_id_and_aliases(text: str, keep_alias: bool, expected: str) -> None:
    assert renamed_text(text, A_TO_Z, path="a.md", keep_alias=keep_alias) == expected


def test_the_report_counts_what_the_note_planned() -> None:
    report = RenameReport()
    note = Note("n.md", b"[[a]] `[[a]]` [[a|a]]\n")
    edits, appended = rename_note_edits(note, context(A_TO_Z), report)
    assert apply_edits(note.text, edits) == "[[z]] `[[a]]` [[z|z]]\n"
    assert (dict(report.rewritten), dict(report.left_alone), report.display_updated) == (
        {"wikilink": 2},
        {"code": 1},
        1,
    )
    assert appended == {}


DEEP_TO_WIDE = {"deep/c.md": "wide/c.md"}


@pytest.mark.parametrize(
    ("body", "renames", "folders", "listed"),
    [
        # a renamed folder named by a query's source, or a place inside it; a renamed note by its path
        (
            '```dataview\nLIST FROM "deep" AND !"deep/c"\n```\n',
            DEEP_TO_WIDE,
            ("deep",),
            ['"deep"', '"deep/c"'],
        ),
        ("```dataviewjs\ndv.pages('\"Deep/\"')\n```\n", DEEP_TO_WIDE, ("deep",), ['"Deep/"']),
        ("Count: `$= dv.pages('\"a\"').length`\n", A_TO_Z, (), ['"a"']),
        ('```dataview\nTABLE FROM "a.md"\n```\n', A_TO_Z, (), ['"a.md"']),
        ('~~~dataview\nLIST FROM "a"\n~~~\n', A_TO_Z, (), ['"a"']),  # no backtick in the note
        ('Inline: `= link("a")`\n', A_TO_Z, (), ['"a"']),
        ('Dataview reads "a" only in code: FROM "a".\n', A_TO_Z, (), []),  # neither backtick nor fence
        # no-ops: another folder, a longer name, a quoted string outside a query, a query of other notes
        ('```dataview\nLIST FROM "deeper" OR "b"\n```\n', DEEP_TO_WIDE, ("deep",), []),
        ('```js\nload("deep")\n```\nSay "deep".\n', DEEP_TO_WIDE, ("deep",), []),
        ('```dataview\nLIST FROM "deep"\n```\n', A_TO_Z, (), []),
    ],
)
def test_dataview_sources_naming_a_renamed_path_are_listed(
    body: str, renames: dict[str, str], folders: tuple[str, ...], listed: list[str]
) -> None:
    before = LinkIndex(VAULT)
    after = renamed_index(before, [Rename(old, new) for old, new in renames.items()])
    report = RenameReport()
    note = Note("n.md", body.encode())
    edits, _ = rename_note_edits(note, RenameContext(before, after, renames, folders=folders), report)
    assert edits == []  # the query's text is never rewritten
    assert [place.target for place in report.left_alone_places] == listed
    assert {place.reason for place in report.left_alone_places} <= {"dataview"}
    assert report.left_alone["dataview"] == len(listed)
