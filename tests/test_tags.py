"""The tag planner: Obsidian's tag grammar, every frontmatter form, inline exclusions, merges, removals,
and (hypothesis) renaming a tag to a fresh name and back gives back every byte."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaulttools.note import Note
from vaulttools.tags import (
    TagOperation,
    inline_tags,
    is_tag_name,
    list_tags,
    matches,
    plan_tag_note,
)
from vaulttools.vault import Vault

RENAME = TagOperation(renames=(("old", "new"),))
DELETE = TagOperation(deleted=("old",))
REMOVE_INLINE = TagOperation(deleted=("old",), remove_inline=True)


def planned(text: str, operation: TagOperation) -> str:
    """The note's text after the operation (the text itself when nothing changes)."""
    note = Note("n.md", text.encode("utf-8"))
    outcome = plan_tag_note(note, operation)
    assert outcome.left_alone is None, outcome.left_alone
    return text if outcome.change is None else outcome.change.new.decode("utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("old", True),
        ("old/child", True),
        ("y1984", True),
        ("1984", False),
        ("2024/05", False),
        ("emoji🙂", True),
        ("tét", True),
        ("two words", False),
        ("a.b", False),
        ("“quoted", False),
        ("/lead", False),
        ("trail/", False),
        ("a//b", False),
        ("", False),
    ],
)
def test_tag_grammar(name: str, expected: bool) -> None:
    assert is_tag_name(name) is expected


@pytest.mark.parametrize(
    ("name", "old", "expected"),
    [("old", "old", True), ("OLD/x", "old", True), ("older", "old", False), ("ol", "old", False)],
)
def test_matching_is_case_insensitive_and_nested(name: str, old: str, expected: bool) -> None:
    assert matches(name, old) is expected


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("#old and #Old/x, #OLD.", ["old", "Old/x", "OLD"]),
        ("a#old page#old", []),
        ("# heading\n## also\n", []),
        ("#1984 #y1984", ["y1984"]),
        ("`#old` $#old$ <!-- #old -->", []),
        ("```\n#old\n```\n#old", ["old"]),
        ("[[note#old]] [t](x.md#old) https://e.com/p#old", []),
        ("[about #old](x.md) #old", ["old"]),
        ("#old/ #“quote #tét", ["old", "tét"]),
        ("no tags here", []),
    ],
)
def test_inline_tags(body: str, found: list[str]) -> None:
    note = Note("n.md", f"---\ntags: [x]\n---\n{body}\n".encode())
    assert [tag.name for tag in inline_tags(note)] == found


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("---\ntags: [a, old]\n---\n", "---\ntags: [a, new]\n---\n"),
        ("---\ntags: [\"#old\", 'Old/x']\n---\n", "---\ntags: [\"#new\", 'new/x']\n---\n"),
        ("---\ntags:\n  - old # c\n  - b\n---\n", "---\ntags:\n  - new # c\n  - b\n---\n"),
        ("---\ntags: old\n---\n", "---\ntags: new\n---\n"),
        ("---\ntags: a, old b\n---\n", "---\ntags: a, new b\n---\n"),
        ('---\ntag: "#old"\n---\n', '---\ntag: "#new"\n---\n'),
        ("---\ntags: [old, new]\n---\n", "---\ntags: [new]\n---\n"),
        ("---\ntags: [new, old]\n---\n", "---\ntags: [new]\n---\n"),
        ("---\ntags: [old, Old]\n---\n", "---\ntags: [new]\n---\n"),
        ("---\ntags: new, old\n---\n", "---\ntags: new\n---\n"),
        ("---\r\ntags:\r\n  - old\r\n---\r\n#old\r\n", "---\r\ntags:\r\n  - new\r\n---\r\n#new\r\n"),
        ("\ufeff#old text", "\ufeff#new text"),
        # no-ops: other tags, a YAML comment, a longer tag, a word, escapes elsewhere
        ("---\ntags: [older, bold]\n---\n#older\n", None),
        ("---\ntags: #old\n---\n", None),
        ("---\ntags: null\n---\nold words\n", None),
        ('---\ntags: ["\\u0061", b]\ntitle: old\n---\n', None),
    ],
)
def test_rename(before: str, after: str | None) -> None:
    assert planned(before, RENAME) == (before if after is None else after)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("---\ntags: [a, old, b]\n---\n", "---\ntags: [a, b]\n---\n"),
        ("---\ntags: [old, a]\n---\n", "---\ntags: [a]\n---\n"),
        ("---\ntags: [a, old]\n---\n", "---\ntags: [a]\n---\n"),
        ("---\ntags: [old, old/x]\n---\n", "---\ntags: []\n---\n"),
        ("---\ntags:\n  - a\n  - old # c\n---\n", "---\ntags:\n  - a\n---\n"),
        ("---\ntags:\n  - old\nx: 1\n---\n", "---\ntags: []\nx: 1\n---\n"),
        ("---\ntags: old\n---\n", "---\ntags: []\n---\n"),
        ("---\ntags: old, a\n---\n", "---\ntags: a\n---\n"),
        ("---\ntags: 'a old'\n---\n", "---\ntags: 'a'\n---\n"),
        ("x #old y\n", "x old y\n"),
        ("---\ntags: [a]\n---\n", None),
    ],
)
def test_delete(before: str, after: str | None) -> None:
    assert planned(before, DELETE) == (before if after is None else after)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("#old\nnext\n", "next\n"),
        ("#a #old #b\n", "#a #b\n"),
        ("#a #old\n", "#a\n"),
        ("#old #a\n", "#a\n"),
        ("#old #old/x\n", ""),
        ("#a #old #old/x\n", "#a\n"),
        ("prose #old here\n", "prose old here\n"),
        ("- #old\n", "- old\n"),
    ],
)
def test_delete_remove_inline(before: str, after: str) -> None:
    assert planned(before, REMOVE_INLINE) == after


def test_simultaneous_renames_take_the_most_specific() -> None:
    operation = TagOperation(renames=(("a", "b"), ("b", "a"), ("a/x", "z")))
    assert planned("#a #b #a/x/y #A/q\n", operation) == "#b #a #z/y #b/q\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntags: [old\n---\n#old\n", "does not parse"),
        ('---\ntags: ["\\x6fld"]\n---\n', "escapes"),
        ("---\ntags:\n  - old\n---\n", None),
    ],
)
def test_notes_left_alone(text: str, reason: str | None) -> None:
    outcome = plan_tag_note(Note("n.md", text.encode()), RENAME)
    if reason is None:
        assert outcome.left_alone is None
    else:
        assert outcome.change is None and reason in (outcome.left_alone or "")


def test_a_rename_that_would_change_a_type_is_left_alone() -> None:
    outcome = plan_tag_note(
        Note("n.md", b"---\ntags:\n  - old\n---\n"), TagOperation(renames=(("old", "true"),))
    )
    assert outcome.change is None and "unquoted" in (outcome.left_alone or "")


def test_list_tags_counts_spellings_and_implied_parents(tmp_path) -> None:
    (tmp_path / "a.md").write_text("---\ntags: [Proj/x, b]\n---\n#proj/x #c\n")
    (tmp_path / "b.md").write_text("---\ntag: proj/x\n---\n")
    rows = {row["tag"].lower(): row for row in list_tags(Vault(tmp_path))["tags"]}
    assert rows["proj/x"]["notes"] == 2
    assert (rows["proj/x"]["frontmatter"], rows["proj/x"]["inline"]) == (2, 1)
    assert set(rows["proj/x"]["spellings"]) == {"Proj/x", "proj/x"}
    assert rows["proj"]["implied"] and rows["proj"]["notes"] == 0
    assert rows["proj/x"]["parent"] == "proj" and rows["proj/x"]["depth"] == 1


# --- hypothesis: renaming to a fresh name and back is the identity ------------------------------------------

_WORD = st.text(alphabet="abcdefgh", min_size=1, max_size=5)
_TAG = st.builds(lambda parts: "/".join(parts), st.lists(_WORD, min_size=1, max_size=2)).filter(
    lambda t: not t.startswith("zz")
)
_QUOTE = st.sampled_from(["", '"', "'"])
_HASH = st.sampled_from(["", "#"])


@st.composite
def tagged_notes(draw: st.DrawFn) -> str:
    tags = draw(st.lists(_TAG, min_size=0, max_size=4, unique_by=str.lower))
    form = draw(st.sampled_from(["flow", "block", "string", "none"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ["---", "title: x"]
    if form == "flow":
        items = []
        for tag in tags:
            quote = draw(_QUOTE)
            items.append(f"{quote}{draw(_HASH) if quote else ''}{tag}{quote}")
        lines.append(f"tags: [{', '.join(items)}]")
    elif form == "block":
        lines.append("tags:")
        lines += [f"  - {tag}" for tag in tags] or ["  - keep"]
    elif form == "string" and tags:
        lines.append(f"tags: {draw(st.sampled_from([', ', ' '])).join(tags)}")
    lines.append("---")
    body_words = draw(st.lists(st.one_of(_WORD, _TAG.map(lambda t: "#" + t)), max_size=8))
    lines.append(" ".join(body_words))
    lines.append(draw(st.sampled_from(["`#a`", "[[n#a]]", "x#a", ""])))
    return newline.join(lines) + newline


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=tagged_notes(), old=_TAG)
def test_rename_to_a_fresh_name_and_back_is_the_identity(text: str, old: str) -> None:
    there = TagOperation(renames=((old, "zzfresh"),))
    back = TagOperation(renames=(("zzfresh", old),))
    # Tags are drawn in lower case, unique per list: every match is spelled as OLD and nothing merges.
    renamed = planned(text, there)
    assert planned(renamed, back) == text
    note = Note("n.md", renamed.encode())
    assert not any(matches(tag.name, old) for tag in inline_tags(note))


def test_edits_never_touch_bytes_outside_the_tags() -> None:
    text = "---\ntags: [old]   # keep me\nk: 'v'\n---\n#old, #old.\n"
    note = Note("n.md", text.encode())
    outcome = plan_tag_note(note, RENAME)
    assert outcome.change is not None
    assert outcome.change.new.decode() == text.replace("old", "new")


@pytest.mark.parametrize("frontmatter", ["", "# only a comment\n", "\n"])
def test_an_empty_frontmatter_has_no_tags_but_its_body_does(frontmatter: str) -> None:
    text = f"---\n{frontmatter}---\n#old\n"
    assert planned(text, RENAME) == text.replace("#old", "#new")


@pytest.mark.parametrize(
    ("body", "found"),
    [
        # a Dataview query, inline code, an HTML comment, math: left as written, each listed
        (
            "```dataview\nLIST FROM #old OR #Old/x\n```\n",
            [(5, 11, "#old", "code"), (5, 19, "#Old/x", "code")],
        ),
        ("see `#old` here\n", [(4, 6, "#old", "code")]),
        ("<!-- #old -->\n", [(4, 6, "#old", "html-comment")]),
        ("$$\n#old\n$$\n", [(5, 1, "#old", "math")]),
        ("```js\nx.search(/#old|#new/)\n```\n", [(5, 11, "#old", "code")]),
        # no-ops: a real tag (renamed, not listed), another tag, a longer word, `a#old`, digits, no code
        ("#old outside\n", []),
        ("```\n#older #new page#old &#38;\n```\n", []),
        ("no code at all\n", []),
    ],
)
def test_tags_in_code_are_left_and_listed(body: str, found: list[tuple[int, int, str, str]]) -> None:
    note = Note("n.md", f"---\ntags: [x]\n---\n{body}".encode())
    outcome = plan_tag_note(note, RENAME)
    assert [(m.line, m.column, m.text, m.reason) for m in outcome.mentions] == found
    if outcome.change is not None:  # only the real tag changed
        assert outcome.change.new == note.raw.replace(b"#old outside", b"#new outside")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # a query kept in a property, and `#old` after `tags:` (a YAML comment): listed; tag items are not
        (
            '---\nquery: |\n  LIST FROM #old\ntags: ["#old", old]\n---\n',
            [(3, 13, "#old", "frontmatter")],
        ),
        ("---\ntags: #old\n---\n", [(2, 7, "#old", "frontmatter")]),
        ("---\ntags:\n  - '#Old/x'\n---\n", []),
        ("---\ntitle: page#old\n---\n", []),
    ],
)
def test_tags_in_other_properties_are_listed(text: str, found: list[tuple[int, int, str, str]]) -> None:
    outcome = plan_tag_note(Note("n.md", text.encode()), RENAME)
    assert [(m.line, m.column, m.text, m.reason) for m in outcome.mentions] == found
