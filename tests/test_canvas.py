"""The canvas layer: JSON string spans, escapes mapped back to file offsets, references, verified edits."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vaulttools.canvas import (
    BACKGROUND,
    FILE_NODE,
    Canvas,
    CanvasError,
    JsonString,
    decoded_offsets,
    edited_canvas,
    encode_json_fragment,
    scan_json,
)
from vaulttools.edits import Edit
from vaulttools.errors import EditConflict
from vaulttools.links import EMBED, MARKDOWN, WIKILINK


def _strings(value: object) -> list[JsonString]:
    if isinstance(value, JsonString):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[]",
        ' { "a" : [ 1, -2.5e3, true, false, null ] } ',
        '{"nodes":[{"id":"x","text":"a\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00"}]}',
        '{\n\t"nodes":[\n\t\t{"id":"1","type":"file","file":"a.md"}\n\t],\n\t"edges":[]\n}',
        '"just a string"',
    ],
)
def test_scanner_agrees_with_json_and_spans_are_exact(text: str) -> None:
    scanned = scan_json(text)
    assert _plain(scanned) == json.loads(text)
    for string in _strings(scanned):
        assert json.loads('"' + text[string.start : string.end] + '"') == string.value


def _plain(value: object) -> object:
    if isinstance(value, JsonString):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a":1,}', "line 1, column 8"),
        ('{"a" 1}', "line 1, column 6"),
        ('{"a":"tab\there"}', "line 1, column 6"),
        ('{"a":"\\x"}', "line 1, column 6"),
        ("{'a':1}", "line 1, column 2"),
        ('{"a":1}\n{}', "line 2, column 1"),
        ('{"a":\n[1 2]}', "line 2, column 4"),
        ("", "line 1, column 1"),
        ("[" * 300 + "]" * 300, "nested too deeply"),
    ],
)
def test_invalid_json_is_refused_with_its_place(text: str, where: str) -> None:
    with pytest.raises(CanvasError, match=where):
        scan_json(text)


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("plain", "plain"),  # no escape: one file character per decoded character
        ('a\\"b', 'a"b'),
        ("caf\\u00e9!", "café!"),
        ("x\\ud83d\\ude00y", "x\U0001f600y"),  # a surrogate pair is one character
        ("\\n\\t\\\\", "\n\t\\"),
        ("", ""),
    ],
)
def test_decoded_offsets_map_each_character_to_its_escape(raw: str, decoded: str) -> None:
    text = '{"k":"' + raw + '"}'
    string = scan_json(text)["k"]
    assert string.value == decoded
    offsets = decoded_offsets(text, string)
    assert len(offsets) == len(decoded) + 1 and offsets[-1] == string.end
    for index, char in enumerate(decoded):
        assert json.loads('"' + text[offsets[index] : offsets[index + 1]] + '"') == char


@pytest.mark.parametrize(
    ("value", "written_like", "expected"),
    [
        ("new/name.md", "old/name.md", "new/name.md"),
        ("new/name.md", "old\\/name.md", "new\\/name.md"),  # the author escaped slashes
        ("café", "plain", "café"),
        ("café", "caf\\u00e9", "caf\\u00e9"),  # the author escaped non-ASCII
        ("café", "a\\\\u00e9", "café"),  # an escaped backslash before `u` is no \u escape
        ('say "hi"\n', "x", 'say \\"hi\\"\\n'),
        ("", "x", ""),
    ],
)
def test_encode_json_fragment_keeps_the_authors_style(value: str, written_like: str, expected: str) -> None:
    assert encode_json_fragment(value, written_like) == expected
    assert json.loads(f'"{expected}"') == value


BOARD = (
    "{\n"
    '\t"nodes":[\n'
    '\t\t{"id":"g","type":"group","label":"G","background":"img/bg.png"},\n'
    '\t\t{"id":"u","type":"group","background":"https://example.com/bg.png"},\n'
    '\t\t{"id":"f","type":"file","file":"dir/note.md","subpath":"#H"},\n'
    '\t\t{"id":"e","type":"file","file":""},\n'
    '\t\t{"id":"t","type":"text","text":"[[a|A]] \\u2014 ![[p.png|300]] [m](dir/note.md#H) `[[code]]`"},\n'
    '\t\t{"id":"n","type":"text","text":"no links here"},\n'
    '\t\t{"id":"l","type":"link","url":"https://example.com/a.md"}\n'
    "\t],\n"
    '\t"edges":[{"id":"x","fromNode":"f","toNode":"t","label":"[[not a link]]"}]\n'
    "}"
)


def test_references_are_file_nodes_backgrounds_and_text_links() -> None:
    canvas = Canvas("boards/b.canvas", BOARD.encode())
    found = [(ref.kind, ref.node_id, ref.target, ref.link and ref.link.opaque) for ref in canvas.references()]
    assert found == [
        (BACKGROUND, "g", "img/bg.png", None),
        (FILE_NODE, "f", "dir/note.md", None),
        (WIKILINK, "t", "a", None),
        (EMBED, "t", "p.png", None),
        (MARKDOWN, "t", "dir/note.md", None),
        (WIKILINK, "t", "code", "code"),  # in inline code: kept so reports can count it, never edited
    ]
    text_link = next(ref for ref in canvas.references() if ref.text_note is not None and ref.link is not None)
    assert text_link.text_note is not None and text_link.link is not None
    assert text_link.text_note.line_col(text_link.link.start) == (7, 35)  # the place in the canvas file


def test_edits_land_on_the_escaped_text_and_nothing_else_changes() -> None:
    canvas = Canvas("b.canvas", BOARD.encode())
    edits = []
    for ref in canvas.references():
        if ref.link is None:
            edits.append(canvas.target_edit(ref, ref.target.replace("dir", "dür")))
        elif ref.link.opaque is None:
            link = ref.link
            planned = Edit(link.target_start, link.target_end, link.target, link.target + "-x")
            edits.append(canvas.text_edit(ref, planned))
    new_text = edited_canvas(canvas, edits)
    assert new_text == (
        BOARD.replace(
            '"file":"dir/note.md"', '"file":"dür/note.md"'
        )  # the background has no "dir": as it was
        .replace("[[a|A]]", "[[a-x|A]]")
        .replace("![[p.png|300]]", "![[p.png-x|300]]")
        .replace("[m](dir/note.md#H)", "[m](dir/note.md-x#H)")
    )


def test_a_text_node_with_escapes_keeps_them() -> None:
    raw = '{"nodes":[{"id":"t","type":"text","text":"\\u00e9 \\"[[caf\\u00e9]]\\"\\n"}]}'
    canvas = Canvas("c.canvas", raw.encode())
    (ref,) = list(canvas.references())
    assert ref.target == "café"
    link = ref.link
    assert link is not None
    edit = canvas.text_edit(ref, Edit(link.target_start, link.target_end, "café", "thé"))
    assert edit.old == "caf\\u00e9" and edit.new == "th\\u00e9"
    assert edited_canvas(canvas, [edit]) == raw.replace("caf\\u00e9]]", "th\\u00e9]]")


def test_a_bom_is_kept_and_offsets_skip_it() -> None:
    raw = '\ufeff{"nodes":[{"id":"f","type":"file","file":"a.md"}]}'.encode()
    canvas = Canvas("c.canvas", raw)
    (ref,) = list(canvas.references())
    new_text = edited_canvas(canvas, [canvas.target_edit(ref, "b.md")])
    assert canvas.encode(new_text) == raw.replace(b'"a.md"', b'"b.md"')


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\xff{}", "not valid UTF-8"),
        (b'["nodes"]', "not a JSON object"),
        (b'{"nodes":[}', "expected a JSON value"),
    ],
)
def test_unreadable_canvases_are_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(CanvasError, match=problem):
        Canvas("c.canvas", raw)


def test_an_empty_canvas_file_has_no_references() -> None:
    assert list(Canvas("c.canvas", b"").references()) == []
    assert list(Canvas("c.canvas", b'{"nodes":"odd","edges":[]}').references()) == []


def test_an_edit_that_breaks_the_json_is_refused() -> None:
    canvas = Canvas("c.canvas", b'{"nodes":[{"id":"f","type":"file","file":"a.md"}]}')
    (ref,) = list(canvas.references())
    string = ref.string
    unescaped = Edit(string.start, string.end, "a.md", 'a".md')  # an unescaped quote ends the string
    with pytest.raises(EditConflict, match="invalid JSON"):
        edited_canvas(canvas, [unescaped])
    closing = Edit(string.end, string.end + 1, '"', '", "x": "y"')
    with pytest.raises(EditConflict, match="structure"):
        edited_canvas(canvas, [closing])
    assert edited_canvas(canvas, []) == canvas.text  # no edit: the same text


NAME = st.text(
    alphabet=st.characters(blacklist_characters="[]|#^\\\n\r", blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
).filter(lambda name: name.strip() == name)
PROSE = st.text(  # line breaks, tabs, quotes and backslashes too: what JSON escapes
    alphabet=st.characters(
        blacklist_characters="[]`$<%", blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\t"
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    before=PROSE,
    old=NAME,
    new=NAME,
    after=PROSE,
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2, "\t"]),
)
def test_a_text_node_edit_lands_on_the_link_whatever_the_escapes(
    before: str, old: str, new: str, after: str, ascii_only: bool, indent: int | str | None
) -> None:
    """Any text around the link, any name, written by any JSON writer: the edit changes the decoded text
    exactly at the link's target, and the canvas stays the same JSON but for that."""
    # `[[a|shown]](b)` reads as a markdown link to `b` whose text is `[a|shown]` (links.py), not a wikilink.
    assume(not after.startswith("("))
    text = f"{before}[[{old}|shown]]{after}"
    raw = json.dumps(
        {"nodes": [{"id": "t", "type": "text", "text": text, "x": 0}]}, ensure_ascii=ascii_only, indent=indent
    )
    canvas = Canvas("c.canvas", raw.encode())
    refs = [ref for ref in canvas.references() if ref.link is not None and ref.link.target == old.strip()]
    assert len(refs) == 1
    ref = refs[0]
    assert ref.link is not None
    edit = canvas.text_edit(ref, Edit(ref.link.target_start, ref.link.target_end, ref.link.target, new))
    new_text = edited_canvas(canvas, [edit])
    assert json.loads(new_text)["nodes"][0]["text"] == f"{before}[[{new}|shown]]{after}"
    assert new_text[: edit.start] == raw[: edit.start]  # every byte before and after the edit stays
    assert new_text[edit.start + len(edit.new) :] == raw[edit.end :]
