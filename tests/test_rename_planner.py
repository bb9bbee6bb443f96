"""`vaulttools rename`, the pure planner: link forms, traps, names, maps, aliases, prefilter."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaulttools.errors import VaultError
from vaulttools.rename import (
    RenameOptions,
    name_spellings,
    new_note_path,
    parse_rename_map,
    plan_renames,
    spelling_pattern,
)
from vaulttools.vault import Vault

FRONT = '---\nid: "src"\n---\n'


def _vault(tmp_path: Path, files: dict[str, str | bytes]) -> Vault:
    for path, content in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        target.write_bytes(data)
    return Vault(tmp_path)


def _rewritten(tmp_path: Path, files: dict[str, str], pairs: list[tuple[str, str]], path: str) -> str | None:
    """The new text of `path` after planning the renames (None when the note does not change)."""
    plan = plan_renames(_vault(tmp_path, files), pairs)
    for change in plan.changes:
        if change.path == path:
            assert change.new is not None
            return change.new.decode("utf-8")
    return None


# (old name, new name, a line of the linking note src.md, the expected line). The target note lives
# in f/ (so folder-path links have a folder to keep); `f/old-extended.md` exists as a trap.
LINK_FORMS = [
    ("old", "new", "[[old]]", "[[new]]"),
    ("old", "new", "[[old|text]]", "[[new|text]]"),
    ("old", "new", "[[old#Heading]]", "[[new#Heading]]"),
    ("old", "new", "[[old#^block|text]]", "[[new#^block|text]]"),
    ("old", "new", "![[old]]", "![[new]]"),
    ("old", "new", "![[old#Heading]]", "![[new#Heading]]"),
    ("old", "new", "[[Old]] and [[OLD]]", "[[new]] and [[new]]"),
    ("old", "New", "[[old]]", "[[New]]"),
    ("old", "new", "[[f/old]]", "[[f/new]]"),
    ("old", "new", "[[F/Old#H|x]]", "[[F/new#H|x]]"),
    ("old", "new", "[[/f/old]]", "[[/f/new]]"),
    ("old", "new", "[[old.md]]", "[[new.md]]"),
    ("old", "new", "[[f/old.md|t]]", "[[f/new.md|t]]"),
    ("old", "new", "[old](f/old.md)", "[new](f/new.md)"),
    ("old", "new", "[t](<f/old.md#H>)", "[t](<f/new.md#H>)"),
    ("Old Name", "New Name", "[t](Old%20Name.md)", "[t](New%20Name.md)"),
    ("Old Name", "New Name", "[t](<Old Name.md>)", "[t](<New Name.md>)"),
    ("Old Name", "New Name", "[[old name]]", "[[New Name]]"),
    ("old", "new", "| [[old\\|text]] | [[old\\|more]] |", "| [[new\\|text]] | [[new\\|more]] |"),
    ("old", "new", "%% see [[old]] %%", "%% see [[new]] %%"),
    (
        "old",
        "new",
        "**[[old]]** and [[old]] twice [[old|a]] [[old|b]]",
        "**[[new]]** and [[new]] twice [[new|a]] [[new|b]]",
    ),
    # display text follows only on an exact match: other letter case is the author's prose
    ("old", "new", "[[old|old]] [[old|OLD]] [[ old | old ]]", "[[new|new]] [[new|OLD]] [[ new | new ]]"),
    ("old", "new", "> [!note]\n> [[old]]", "> [!note]\n> [[new]]"),
    ("old", "new", "[[./f/old]]", "[[./f/new]]"),
    ("old", "new", "[[old]]\r", "[[new]]\r"),
    ("café", "thé", "[[CAFÉ]] [[cafe\u0301]]", "[[thé]] [[thé]]"),
]

# Lines that must come out exactly as they went in.
NOT_REFERENCES = [
    "[[old-d9]]",
    "[[old-extended]]",
    "the old plan, the old-school way",
    "https://example.com/?ref=old and [x](https://example.com/old.md)",
    "`[[old]]` inline code",
    "```\n[[old]]\n```",
    "~~~\n[[old]]\n~~~",
    "<!-- [[old]] -->",
    "$$ [[old]] $$",
    "[[#Heading]] [[#^block]]",
    "[[other]]",
]


@pytest.mark.parametrize(("old", "new", "line", "expected"), LINK_FORMS)
def test_each_link_form_is_rewritten(tmp_path: Path, old: str, new: str, line: str, expected: str) -> None:
    files = {
        f"f/{old}.md": "# Heading\n",
        "f/old-extended.md": "x\n",
        "other.md": "x\n",
        "src.md": f"{FRONT}{line}\n",
    }
    assert _rewritten(tmp_path, files, [(old, new)], "src.md") == f"{FRONT}{expected}\n"


@pytest.mark.parametrize("line", NOT_REFERENCES)
def test_look_alikes_are_not_touched(tmp_path: Path, line: str) -> None:
    files = {
        "old.md": "# Heading\n",
        "old-extended.md": "x\n",
        "other.md": "x\n",
        "src.md": f"---\nsourceUrl: https://example.com/?ref=old\n---\n{line}\n",
    }
    assert _rewritten(tmp_path, files, [("old", "new")], "src.md") is None


# Frontmatter forms: (the YAML lines before, after).
PROPERTY_FORMS = [
    ('up: "[[old]]"', 'up: "[[new]]"'),
    ("up: '[[old|old]]'", "up: '[[new|new]]'"),
    ('up: ["[[old#H]]", "[[other]]"]', 'up: ["[[new#H]]", "[[other]]"]'),
    ('related: ["old", "other"]', 'related: ["new", "other"]'),
    ("related: [old, other] # kept", "related: [new, other] # kept"),
    ("related:\n  - other\n  - old # the comment stays", "related:\n  - other\n  - new # the comment stays"),
    ("related: old", "related: new"),
    ("related: ['Old']", "related: ['new']"),
    ('note: "see old and [[other]]"', None),
    ("tags: [old]", None),
]


@pytest.mark.parametrize(("yaml_before", "yaml_after"), PROPERTY_FORMS)
def test_property_forms(tmp_path: Path, yaml_before: str, yaml_after: str | None) -> None:
    files = {"old.md": "x\n", "other.md": "x\n", "src.md": f"---\n{yaml_before}\n---\nbody\n"}
    expected = None if yaml_after is None else f"---\n{yaml_after}\n---\nbody\n"
    assert _rewritten(tmp_path, files, [("old", "new")], "src.md") == expected


def test_renamed_note_updates_its_id_and_self_links(tmp_path: Path) -> None:
    files = {"old.md": "---\nid: 'old' # same as the file\ntype: x\n---\n[[old#H]] [[#H]] [[Old|old]]\n"}
    plan = plan_renames(_vault(tmp_path, files), [("old", "new")])
    [change] = plan.changes
    assert (change.path, change.new_path) == ("old.md", "new.md")
    assert change.new == b"---\nid: 'new' # same as the file\ntype: x\n---\n[[new#H]] [[#H]] [[new|new]]\n"
    assert plan.counts["ids_updated"] == 1


def test_id_that_differs_from_the_name_is_kept(tmp_path: Path) -> None:
    files = {"old.md": "---\nid: something-else\n---\n"}
    plan = plan_renames(_vault(tmp_path, files), [("old", "new")])
    assert plan.changes[0].new == files["old.md"].encode()


def test_unparsable_frontmatter_keeps_yaml_but_body_links_change(tmp_path: Path) -> None:
    text = '---\ntags: ["a"\nrelated: ["old"]\n---\n[[old]]\n'
    files = {"old.md": "x\n", "src.md": text}
    plan = plan_renames(_vault(tmp_path, files), [("old", "new")])
    change = next(c for c in plan.changes if c.path == "src.md")
    assert change.new == b'---\ntags: ["a"\nrelated: ["old"]\n---\n[[new]]\n'
    assert plan.report.left_alone_by_reason == {"unparsable-frontmatter": 1}


@pytest.mark.parametrize("unparsable", [False, True])
def test_the_spelling_regex_is_compiled_only_for_a_note_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unparsable: bool
) -> None:
    """A map of many names: the prefilter is the automaton, and the regex that places an unread mention
    (~1.8 s to compile for 20,000 names) is built only when a note needs it, once."""
    from vaulttools import rename

    compiled: list[int] = []
    real = rename.spelling_pattern
    monkeypatch.setattr(rename, "spelling_pattern", lambda stems: compiled.append(1) or real(stems))
    files = {f"old-{i}.md": "x\n" for i in range(12)}
    files["src.md"] = ('---\ntags: ["a"\nrelated: ["old-4"]\n---\n' if unparsable else "") + "[[old-3]]\n"
    files["other.md"] = '---\ntags: ["a"\n---\nno names here\n' if unparsable else "nothing\n"
    plan = plan_renames(_vault(tmp_path, files), [(f"old-{i}", f"new-{i}") for i in range(12)])
    assert next(c for c in plan.changes if c.path == "src.md").new.endswith(b"[[new-3]]\n")
    assert compiled == ([1] if unparsable else [])
    assert plan.report.left_alone_by_reason == ({"unparsable-frontmatter": 1} if unparsable else {})


def test_left_alone_links_are_counted_by_reason(tmp_path: Path) -> None:
    files = {"old.md": "x\n", "src.md": "`[[old]]` <!-- [[old]] -->\n```\n[[old]]\n```\n"}
    plan = plan_renames(_vault(tmp_path, files), [("old", "new")])
    assert plan.report.left_alone_by_reason == {"code": 2, "html-comment": 1}
    assert [c.path for c in plan.changes] == ["old.md"]


def test_new_name_shared_with_another_note_widens_links(tmp_path: Path) -> None:
    # Renaming a/old to a/note while b/note exists: the bare name is now ambiguous for src.md (root).
    files = {"a/old.md": "x\n", "b/note.md": "x\n", "src.md": "[[old]] [[note]]\n"}
    plan = plan_renames(_vault(tmp_path, files), [("old", "note")])
    change = next(c for c in plan.changes if c.path == "src.md")
    # [[note]] was b/note.md; it must stay on b/note.md, and the renamed note gets a unique path.
    assert change.new == b"[[a/note]] [[b/note]]\n"
    assert plan.counts["links_widened"] == 1
    assert plan.counts["links_adjusted"] == 1


@pytest.mark.parametrize(
    ("files", "rename", "expected"),
    [
        # `[[Report.md]]` reached the note `Report.md.md`; a new note `Report.md` is an exact file name.
        (
            {"Alpha.md": "x\n", "Report.md.md": "[[Report.md]]\n"},
            ("Alpha", "Report.md"),
            b"[[Report.md.md]]\n",
        ),
        # `[[flow.png]]` reached the note `flow.png.md`; an attachment renamed to `flow.png` would take it.
        (
            {"img/a.png": "", "flow.png.md": "x\n", "s.md": "[[flow.png]]\n"},
            ("img/a.png", "/flow"),
            b"[[flow.png.md]]\n",
        ),
        # No other file answers to the new name: nothing to adjust.
        ({"Alpha.md": "x\n", "s.md": "[[Report.md]]\n"}, ("Alpha", "Other"), None),
    ],
)
def test_links_a_new_name_would_capture_keep_their_file(
    tmp_path: Path, files: dict[str, str], rename: tuple[str, str], expected: bytes | None
) -> None:
    plan = plan_renames(_vault(tmp_path, files), [rename])
    adjusted = [c.new for c in plan.changes if c.new_path is None]
    assert adjusted == ([expected] if expected else [])
    assert plan.counts["links_adjusted"] == (1 if expected else 0)


def test_moved_note_keeps_its_relative_links(tmp_path: Path) -> None:
    files = {"a/old.md": "[[../x.md]] [[./y]] [x](../x.md) [[old]]\n", "x.md": "x\n", "a/y.md": "y\n"}
    plan = plan_renames(_vault(tmp_path, files), [("old", "b/c/new")])
    [change] = plan.changes
    assert change.new_path == "b/c/new.md"
    assert change.new == b"[[../../x.md]] [[../../a/y]] [x](../../x.md) [[new]]\n"


def test_chain_and_swap_are_simultaneous(tmp_path: Path) -> None:
    files = {"a.md": "[[b]] [[c]]\n", "b.md": "[[a]]\n", "c.md": "[[a]] [[b]]\n"}
    plan = plan_renames(_vault(tmp_path, files), [("a", "b"), ("b", "a"), ("c", "d")])
    got = {(c.path, c.new_path): c.new for c in plan.changes}
    assert got == {
        ("a.md", "b.md"): b"[[a]] [[d]]\n",
        ("b.md", "a.md"): b"[[b]]\n",
        ("c.md", "d.md"): b"[[b]] [[a]]\n",
    }


# --- names ------------------------------------------------------------------------------------------

NEW_PATHS = [
    ("f/old.md", "new", "f/new.md"),
    ("f/old.md", "new.md", "f/new.md"),
    ("f/old.md", "g/h/new", "g/h/new.md"),
    ("old.md", "Café Notes", "Café Notes.md"),
    ("f/old.md", "/new", "new.md"),  # a leading `/`: from the vault's top
    ("f/old.md", "/g/new", "g/new.md"),
    ("old.md", "/old", "old.md"),  # no-op: the caller leaves it out
]


@pytest.mark.parametrize(("old_path", "new", "expected"), NEW_PATHS)
def test_new_note_path(old_path: str, new: str, expected: str) -> None:
    assert new_note_path(old_path, new) == expected


@pytest.mark.parametrize(
    "new",
    [
        "",
        "a*b",
        'a"b',
        "a\\b",
        "a<b",
        "a>b",
        "a:b",
        "a|b",
        "a?b",
        "a#b",
        "a^b",
        "a[b",
        "a]b",
        ".hidden",
        "../out",
        "//abs",
        "/",
        "/../x",
        "f/./x",
        "f//x",
        " padded",
        "x/.trash/y",
    ],
)
def test_bad_new_names_are_refused(new: str) -> None:
    with pytest.raises(VaultError):
        new_note_path("old.md", new)


def test_prefilter_spellings() -> None:
    assert name_spellings("Old Name") == {b"old name", b"old%20name"}
    pattern = spelling_pattern(["Old Name", "concept-x"])
    assert pattern.search(b"see [t](old%20name.md)")
    assert pattern.search(b"[[concept-x]]")
    assert not pattern.search(b"[[concept-y]] old-name")
    accented = spelling_pattern(["Café"])
    assert accented.search("[[CAFÉ]]".encode().lower())


def test_prefilter_reads_but_does_not_parse_unrelated_notes(tmp_path: Path) -> None:
    files = {"old.md": "x\n", "src.md": "[[old]]\n", **{f"n{i}.md": "[[other]]\n" for i in range(5)}}
    plan = plan_renames(_vault(tmp_path, files), [("old", "new")])
    assert plan.report.notes_parsed == 2


# --- maps -------------------------------------------------------------------------------------------


def test_csv_and_yaml_maps() -> None:
    assert parse_rename_map("old,new\na,b\n\n c , d \n", "m.csv") == [("a", "b"), ("c", "d")]
    assert parse_rename_map("a,b\n", "m.csv") == [("a", "b")]
    assert parse_rename_map('a: b\n"x y": z\n', "m.yaml") == [("a", "b"), ("x y", "z")]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("a,b,c\n", "m.csv"),
        ("a\n", "m.csv"),
        ("", "m.csv"),
        ("a: b\na: c\n", "m.yml"),
        ("- a\n", "m.yaml"),
        ("a: 7\n", "m.yaml"),
    ],
)
def test_bad_maps_are_refused(text: str, name: str) -> None:
    with pytest.raises(VaultError):
        parse_rename_map(text, name)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("missing", "x")], "no note named"),
        ([("dup", "x")], "ambiguous"),
        ([("old", "other")], "already exists"),
        ([("old", "OTHER")], "already exists"),
        ([("old", "x"), ("Old", "y")], "renamed twice"),
        ([("old", "x"), ("other", "X")], "would both become"),
        ([("old", "old")], "already called"),
    ],
)
def test_refused_maps(tmp_path: Path, pairs: list[tuple[str, str]], message: str) -> None:
    files = {"old.md": "x\n", "other.md": "x\n", "a/dup.md": "x\n", "b/dup.md": "x\n"}
    with pytest.raises(VaultError, match=message):
        plan_renames(_vault(tmp_path, files), pairs)


def test_a_map_entry_that_changes_nothing_is_left_out_with_a_warning(tmp_path: Path) -> None:
    files = {"old.md": "x\n", "other.md": "[[old]] [[other]]\n"}
    plan = plan_renames(_vault(tmp_path, files), [("old", "old"), ("other", "renamed")])
    assert sorted((c.path, c.new_path) for c in plan.changes) == [("other.md", "renamed.md")]
    assert plan.report.warnings == ["'old' is already called 'old'; left out"]


# --- --keep-alias -----------------------------------------------------------------------------------

ALIAS_FORMS = [
    ('---\nid: "old"\ntype: x\n---\n', '---\nid: "new"\naliases: ["old"]\ntype: x\n---\n'),
    ("---\ntype: x\n---\n", '---\ntype: x\naliases: ["old"]\n---\n'),
    ('---\r\naliases: ["A"] # c\r\n---\r\n', '---\r\naliases: ["A", "old"] # c\r\n---\r\n'),
    ("---\naliases: []\n---\n", '---\naliases: ["old"]\n---\n'),
    ("---\naliases:\n  - 'A'\ntype: x\n---\n", "---\naliases:\n  - 'A'\n  - 'old'\ntype: x\n---\n"),
    ("---\naliases:\n- A\n---\n", "---\naliases:\n- A\n- old\n---\n"),
    ("---\naliases: [old]\n---\n", "---\naliases: [old]\n---\n"),
]


@pytest.mark.parametrize(("before", "after"), ALIAS_FORMS)
def test_keep_alias(tmp_path: Path, before: str, after: str) -> None:
    plan = plan_renames(
        _vault(tmp_path, {"old.md": before}), [("old", "new")], RenameOptions(keep_alias=True)
    )
    assert plan.changes[0].new == after.encode()


@pytest.mark.parametrize(
    "before",
    ["no frontmatter\n", "---\naliases: A\n---\n", "---\naliases: [\n  A]\n---\n", '---\ntags: ["a"\n---\n'],
)
def test_keep_alias_refuses_shapes_it_cannot_edit(tmp_path: Path, before: str) -> None:
    with pytest.raises(VaultError):
        plan_renames(_vault(tmp_path, {"old.md": before}), [("old", "new")], RenameOptions(keep_alias=True))


@pytest.mark.parametrize(
    ("files", "rename", "expected"),
    [
        # `[[Report.md]]` named the note `Report.md.md`: its `.md` is part of the name, not an extension written.
        (
            {"Report.md.md": "x\n", "s.md": "[[Report.md]] [[Report.md.md]]\n"},
            ("Report.md", "X"),
            "[[X]] [[X.md]]\n",
        ),
        (
            {"Report.md.md": "x\n", "s.md": "[[/Report.md|r]] ![[Report.md#H]]\n"},
            ("Report.md", "X"),
            "[[/X|r]] ![[X#H]]\n",
        ),
        ({"Report.md.md": "x\n", "s.md": "[r](Report.md)\n"}, ("Report.md", "X"), "[r](X)\n"),
        # A plain note's `.md` written by the author stays; none written, none added.
        ({"Report.md": "x\n", "s.md": "[[Report.md]] [[report]]\n"}, ("Report", "X"), "[[X.md]] [[X]]\n"),
        # No-op: nothing links the renamed note.
        ({"Report.md.md": "x\n", "s.md": "[[Other]]\n"}, ("Report.md", "X"), None),
    ],
)
def test_written_md_extension_follows_what_the_author_wrote(
    tmp_path: Path, files: dict[str, str], rename: tuple[str, str], expected: str | None
) -> None:
    plan = plan_renames(_vault(tmp_path, files), [rename])
    linking = [c.new for c in plan.changes if c.path == "s.md"]
    assert linking == ([expected.encode()] if expected else [])
