"""Frontmatter links through the YAML node model: every scalar style x link form, found and decoded as YAML
reads it, and renamed byte-exactly in the node's own style (issue 15)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import git
from vaulttools.edits import apply_edits
from vaulttools.linkedit import retarget
from vaulttools.links import BARE, PROPERTY, UNQUOTED_YAML, find_frontmatter_links
from vaulttools.note import Note
from vaulttools.yamledit import RefusedEdit, verify_yaml_edit
from vaulttools.yamlscalars import compose_frontmatter, source_starts

BODY = "---\nbody [[z]] stays\n"

# (frontmatter YAML, [(kind, target, style)] found, old target, new target, the YAML after the rename)
CASES = [
    # plain scalars: a link after `,` `:` or at a line start is still inside the string
    ("summary: see [[b]], [[c]]\n", [(PROPERTY, "b", ""), (PROPERTY, "c", "")], "c", "c-new",
     "summary: see [[b]], [[c-new]]\n"),
    ("summary: see [[b]],\n  [[c]] and\n\n  more\n", [(PROPERTY, "b", ""), (PROPERTY, "c", "")], "c", "c-new",
     "summary: see [[b]],\n  [[c-new]] and\n\n  more\n"),
    ("summary: x - [[c]]\n", [(PROPERTY, "c", "")], "c", "Café",
     "summary: x - [[Café]]\n"),
    # single quotes: `''` is one quote, both ways
    ("up: '[[Pa''u]]'\n", [(PROPERTY, "Pa'u", "'")], "Pa'u", "Pa'u Form",
     "up: '[[Pa''u Form]]'\n"),
    ("up: '[[b]]'\n", [(PROPERTY, "b", "'")], "b", "b'c", "up: '[[b''c]]'\n"),
    ("up: 'a\n\n  [[c]] b'\n", [(PROPERTY, "c", "'")], "c", "d", "up: 'a\n\n  [[d]] b'\n"),
    # double quotes: escapes are decoded, the new target escaped where it must be
    ('up: "[[Caf\\u00e9]]"\n', [(PROPERTY, "Café", '"')], "Café", "Cafe", 'up: "[[Cafe]]"\n'),
    ('up: "see [[a\\"b]] x"\n', [(PROPERTY, 'a"b', '"')], 'a"b', "c\\d", 'up: "see [[c\\\\d]] x"\n'),
    ('up: "x\\ty [[c]]\\\n  z"\n', [(PROPERTY, "c", '"')], "c", 'q"', 'up: "x\\ty [[q\\"]]\\\n  z"\n'),
    # folded and literal blocks, with strip and keep chomping
    ("description: >\n  Uses [[b]], [[c]] and more.\n", [(PROPERTY, "b", ">"), (PROPERTY, "c", ">")], "c",
     "c-new", "description: >\n  Uses [[b]], [[c-new]] and more.\n"),
    ("d: >-\n  x [[c]]\n\n", [(PROPERTY, "c", ">")], "c", "e", "d: >-\n  x [[e]]\n\n"),
    ("d: >+\n  x\n  [[c]]\n\n\n", [(PROPERTY, "c", ">")], "c", "e", "d: >+\n  x\n  [[e]]\n\n\n"),
    ("d: |\n  [[c]] first\n  [[c|c]]\n", [(PROPERTY, "c", "|"), (PROPERTY, "c", "|")], "c", "it's",
     "d: |\n  [[it's]] first\n  [[it's|it's]]\n"),
    ("d: |-\n    [[c]]\n", [(PROPERTY, "c", "|")], "c", "e", "d: |-\n    [[e]]\n"),
    ("d: |+ # keep\n  [[c]]\n\n", [(PROPERTY, "c", "|")], "c", "e", "d: |+ # keep\n  [[e]]\n\n"),
    # a link split across a folded line reads as one line; its rename joins it
    ("d: >\n  see [[the\n  c]] x\n", [(PROPERTY, "the c", ">")], "the c", "new", "d: >\n  see [[new]] x\n"),
    ("s: see [[the\n   c|the\n   c]]\n", [(PROPERTY, "the c", "")], "the c", "n", "s: see [[n|n]]\n"),
    # flow and block sequences; bare values under the link property
    ("related: [\"[[c]]\", '[[c]]', c, \"c#H\"]\n",
     [(PROPERTY, "c", '"'), (PROPERTY, "c", "'"), (BARE, "c", ""), (BARE, "c", '"')], "c", "e",
     "related: [\"[[e]]\", '[[e]]', e, \"e#H\"]\n"),
    ("related:\n  - \"[[c]]\"\n  - c # why\n  - 'c'\n", [(PROPERTY, "c", '"'), (BARE, "c", ""), (BARE, "c", "'")],
     "c", "O'Brien", "related:\n  - \"[[O'Brien]]\"\n  - O'Brien # why\n  - 'O''Brien'\n"),
    ('related: ["Caf\\u00e9"]\n', [(BARE, "Café", '"')], "Café", "Tea", 'related: ["Tea"]\n'),
    # CRLF, anchors: the source spans stay exact
    ("d: >\r\n  Uses [[c]]\r\n  x\r\n", [(PROPERTY, "c", ">")], "c", "e", "d: >\r\n  Uses [[e]]\r\n  x\r\n"),
    ('k: &x "[[c]]"\nl: *x\n', [(PROPERTY, "c", '"')], "c", "e", 'k: &x "[[e]]"\nl: *x\n'),
    # no-op cases: nothing to find, nothing to change
    ('other: "c"\n', [], "c", "e", 'other: "c"\n'),
    ('url: "https://x.org/[c]"\nrelated: []\n', [], "c", "e", 'url: "https://x.org/[c]"\nrelated: []\n'),
    ("summary: see [[b]]\n", [(PROPERTY, "b", "")], "c", "e", "summary: see [[b]]\n"),
]  # fmt: skip


def _note(yaml_text: str) -> Note:
    newline = "\r\n" if "\r\n" in yaml_text else "\n"
    return Note("n.md", f"---{newline}{yaml_text}{BODY}".encode())


def _renamed(note: Note, old: str, new: str) -> str:
    edits = []
    for link in note.links:
        if link.opaque is None and link.start < note.body_start and link.target == old:
            edits.append(retarget(note, link, new))
            if link.display is not None and link.display.strip() == old:
                start, end = link.display_start, link.display_end
                edits.append(retarget(note, link._replace(target_start=start, target_end=end), new))
    return apply_edits(note.text, edits, path=note.path)


@pytest.mark.parametrize(("yaml_text", "found", "old", "new", "expected"), CASES)
def test_found_and_decoded(yaml_text: str, found: list, old: str, new: str, expected: str) -> None:
    note = _note(yaml_text)
    links = [link for link in note.links if link.start < note.body_start]
    assert [(link.kind, link.target, link.quote) for link in links] == found
    assert all(link.is_link for link in links)
    data = yaml.safe_load(yaml_text)
    for link in links:  # the link as written lies inside its property's text, inside the YAML
        assert note.frontmatter.start <= link.target_start <= link.target_end <= note.frontmatter.end
        assert link.property_name in data


@pytest.mark.parametrize(("yaml_text", "found", "old", "new", "expected"), CASES)
def test_renamed_byte_exactly(yaml_text: str, found: list, old: str, new: str, expected: str) -> None:
    note = _note(yaml_text)
    after = _renamed(note, old, new)
    newline = note.newline
    assert after == f"---{newline}{expected}{BODY}"  # the rest of the file identical
    verify_yaml_edit(note.path, yaml_text, expected)
    again = _note(expected)
    assert [link.target for link in again.links if link.start < again.body_start] == [
        new if target == old else target for _, target, _ in found
    ]


@pytest.mark.parametrize(
    ("yaml_text", "reason"),
    [
        ("summary: see [[b]], [[c]]\n", "a new target with ': ' in a plain value"),
        ("up: '[[c]]'\n", "a line break in single quotes"),
    ],
)
def test_a_style_that_cannot_hold_the_new_target_refuses(yaml_text: str, reason: str) -> None:
    note = _note(yaml_text)
    link = next(link for link in note.links if link.target == "c")
    new = "a: b" if "plain" in reason else "a\nb"
    with pytest.raises(RefusedEdit):
        retarget(note, link, new)


@pytest.mark.parametrize(
    ("yaml_text", "opaque"),
    [
        ("related: [[c]]\n", [UNQUOTED_YAML]),
        ("related:\n  - [[c]]\n", [UNQUOTED_YAML]),
        ('related: ["[[c]]"]\n', [None]),
        ("summary: [[c]] is a string here, not a list\n", [None]),
    ],
)
def test_only_a_nested_flow_list_is_an_unquoted_link(yaml_text: str, opaque: list) -> None:
    note = _note(yaml_text)
    assert [link.opaque for link in note.links if link.start < note.body_start] == opaque


# --- rename to a random target and back --------------------------------------------------------------

_TARGET_CHARS = st.characters(
    blacklist_categories=("Cc", "Cs", "Cn", "Co", "Zl", "Zp"), blacklist_characters="[]|#\x85\ufeff"
)
# A target never ends in `\`: before `|` that would be a table's escaped pipe, in any note.
_TARGETS = st.text(st.one_of(st.sampled_from("'\"\\ é日ß-:"), _TARGET_CHARS), min_size=1, max_size=12).filter(
    lambda t: t == t.strip() and t.strip() and not t.endswith("\\")
)

_STYLES = [
    "up: '[[base]]'\n",
    'up: "see [[base|x]] \\u00e9"\n',
    "up: see [[base]] here\n",
    "up: >\n  see [[base]]\n  here\n",
    "up: |-\n  [[base]] here\n",
    "related: ['[[base]]', x]\n",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=_TARGETS, style=st.sampled_from(_STYLES))
def test_rename_to_a_random_target_and_back_is_the_identity(target: str, style: str) -> None:
    assume(target != "x")  # the display text of one style: it would follow the rename there
    note = _note(style)
    try:
        there = _renamed(note, "base", target)
    except RefusedEdit:
        assume(False)  # the style cannot hold this target (a plain value and `: `): refused, not guessed
        return
    moved = Note("n.md", there.encode())
    assert [link.target for link in moved.links if link.kind == PROPERTY] == [target]
    yaml_there = there[4 : there.index("\n---\n") + 1]
    assert yaml.safe_load(yaml_there)["up" if "up" in style else "related"] is not None
    assert _renamed(moved, target, "base") == note.text


# --- from the command line -------------------------------------------------------------------------------


def _repo(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    vault = tmp_path / "vault"
    vault.mkdir()
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (vault / name).write_bytes(data)
    git(vault, "init", "-q", "-b", "main")
    git(vault, "add", "-A")
    git(vault, "commit", "-q", "-m", "init")
    return vault


def test_issue_reproduction_folded_block(tmp_path: Path, run_cli) -> None:
    vault = _repo(
        tmp_path,
        {
            "a.md": "---\ndescription: >\n  Uses [[b]], [[c]] and more.\n---\nbody\n",
            "b.md": "b\n",
            "c.md": "c\n",
        },
    )
    check = json.loads(run_cli(vault, "check", "--json").output)
    assert check["findings"] == []
    result = run_cli(vault, "rename", "c", "c-new")
    assert result.exit_code == 0, result.output
    assert "left alone" not in result.output
    assert (
        vault / "a.md"
    ).read_text() == "---\ndescription: >\n  Uses [[b]], [[c-new]] and more.\n---\nbody\n"


def test_issue_reproduction_quotes_there_and_back(tmp_path: Path, run_cli) -> None:
    vault = _repo(tmp_path, {"a.md": "---\nup: '[[b]]'\nrelated: ['b']\n---\nsee [[b]]\n", "b.md": "x\n"})
    assert run_cli(vault, "rename", "b", "b'c").exit_code == 0
    assert (vault / "a.md").read_text() == "---\nup: '[[b''c]]'\nrelated: ['b''c']\n---\nsee [[b'c]]\n"
    assert json.loads(run_cli(vault, "check", "--json").output)["findings"] == []
    result = run_cli(vault, "rename", "b'c", "d")
    assert result.exit_code == 0, result.output
    assert "links rewritten: 3" in result.output
    assert (vault / "a.md").read_text() == "---\nup: '[[d]]'\nrelated: ['d']\n---\nsee [[d]]\n"


def test_check_flags_only_the_nested_list(tmp_path: Path, run_cli) -> None:
    vault = _repo(
        tmp_path,
        {
            "a.md": "---\nrelated: [[b]]\nsummary: see [[b]], [[b]]\nd: |\n  [[b]] x\n---\n",
            "b.md": "b\n",
        },
    )
    findings = json.loads(run_cli(vault, "check", "--json").output)["findings"]
    assert [(f["kind"], f["line"]) for f in findings] == [("unquoted-frontmatter-link", 2)]


def test_display_text_follows_only_an_exact_match(tmp_path: Path, run_cli) -> None:
    vault = _repo(
        tmp_path,
        {"a.md": "[[Properties|properties]] [[Properties|Properties]]\n", "Properties.md": "x\n"},
    )
    result = run_cli(vault, "rename", "Properties", "Props")
    assert result.exit_code == 0, result.output
    assert (vault / "a.md").read_text() == "[[Props|properties]] [[Props|Props]]\n"
    assert "display texts followed the rename: 1" in result.output
    assert "display texts left as written (the old name in other letter case): 1" in result.output


def test_notes_that_cannot_be_read_are_listed_not_skipped(tmp_path: Path, run_cli) -> None:
    vault = _repo(
        tmp_path,
        {
            "latin1.md": "caf\xe9 [[b]]\n".encode("latin-1"),
            "broken.md": "---\nrelated: b\ntags: [unclosed\n---\nbody\n",
            "broken-link.md": '---\nup: "[[b]]"\ntags: [unclosed\n---\nbody\n',
            "b.md": "x\n",
        },
    )
    result = run_cli(vault, "rename", "b", "c")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "left alone (unreadable-note: not valid UTF-8 at byte 3): latin1.md:1  mentions 'b'" in out
    assert "left alone (unparsable-frontmatter: " in out and "broken.md:2  mentions 'b'" in out
    assert "left alone (unparsable-frontmatter): broken-link.md:2  [[b]]" in out


# --- the decoder agrees with YAML on whatever PyYAML writes ------------------------------------------------

_VALUES = st.text(st.one_of(st.sampled_from(" \n\t'\"\\[]#:-é日"), st.characters(codec="utf-8")), max_size=40)


@settings(max_examples=150, deadline=None)
@given(value=_VALUES, style=st.sampled_from([None, "'", '"', "|", ">"]), width=st.integers(8, 40))
def test_every_scalar_pyyaml_writes_maps_back_to_its_source(
    value: str, style: str | None, width: int
) -> None:
    try:
        text = yaml.safe_dump({"k": value}, default_style=style, width=width, allow_unicode=True)
    except yaml.YAMLError:
        return
    composed = compose_frontmatter(text, 0, len(text), frozenset({"k"}))
    assert composed is not None
    scalar = next(s for s in composed.scalars if s.key == "k" and s.direct)
    starts = source_starts(text, scalar)
    if scalar.value != value:  # a value PyYAML cannot write as it is (a lone `\r`, say): nothing to map
        return
    assert starts is not None, (text, scalar.style)
    assert len(starts) == len(value) + 1
    assert all(a <= b for a, b in itertools.pairwise(starts))
    for i, char in enumerate(value):
        if starts[i + 1] - starts[i] == 1 and char not in " \n":
            assert text[starts[i]] == char


@pytest.mark.parametrize(
    "yaml_text",
    [
        'id: "n"\nrelated: ["a", "b#H", " c ", "", "[x]", "d](e"]\n',
        'related: "a"\nup: "[[b]]"\nlinks: ["[[c|C]]", "see ![[d]] here", "e"]\n',
        "related: word\ncount: 12\n",
        'related: []\nnote: "no link [here]"\n',
        'tags: ["[[a", "b]]"]\n',  # a span across two strings: no link, the composer says so
        'relatedness: "x"\nup_related: "y"\nrelated: "a"\n',  # keys the link property's name starts or ends
        'related_to: ["x"]\nrelated: ["a", "b"]\nup: "c"\n',
        'up: "c"\r\nrelated: ["a"]\r\n',  # CRLF
        '\nrelated: "a"\n',  # a blank line first
        'title: "related: no"\nrelated: "a"\n',  # the name and a colon inside a value
    ],
)
def test_the_simple_grammar_reads_as_the_composer_does(
    yaml_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = _note(yaml_text)
    assert note.simple_yaml
    fast = find_frontmatter_links(note)
    monkeypatch.setattr(Note, "simple_yaml", property(lambda self: False))
    monkeypatch.setattr(Note, "simple_keys", property(lambda self: None))
    composed = find_frontmatter_links(_note(yaml_text))
    assert fast == composed
    assert fast or yaml_text.startswith(("related: []", "tags:"))  # the cases hold links to compare
