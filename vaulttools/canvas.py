"""Canvas files (`*.canvas`, JSON Canvas 1.0): where their references are, with exact offsets.

A canvas is JSON, written with the indentation, spacing and key order of the tool that saved it, so it is
never re-dumped: a small scanner finds each string's span in the file's text, and an edit replaces only the
characters of one reference inside one string (tags-properties-canvas.md).

References:
- a `file` node's `file` (a vault path, to a note or an attachment; its `subpath` is a separate key, kept);
- a `group` node's `background` (an image path);
- the links inside a `text` node's `text`: JSON-escaped markdown, decoded (with a map from each decoded
  character back to its offset in the file) and read with `links.find_links`, as a note's body is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from vaulttools.edits import Edit, apply_edits
from vaulttools.errors import EditConflict
from vaulttools.links import Link, find_links
from vaulttools.note import Note

CANVAS_SUFFIX = ".canvas"
FILE_NODE = "file"  # the reference kinds of a canvas (text-node links keep their links.py kind)
BACKGROUND = "background"
_BOM = "\ufeff"
_MAX_DEPTH = 200  # a canvas nests objects two or three deep; deeper input is refused, not recursed into


def is_canvas(path: str) -> bool:
    return path.lower().endswith(CANVAS_SUFFIX)


class CanvasError(ValueError):
    """The canvas is not JSON vaulttools can read; the message says where."""


class JsonString(NamedTuple):
    """A JSON string literal: `text[start:end]` is what lies between its quotes; `value` is it decoded."""

    start: int
    end: int
    value: str


# A string literal exactly as JSON allows it: no raw control characters, only the defined escapes.
_STRING_RE = re.compile(r'"((?:[^"\\\x00-\x1f]+|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*)"')
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SPACE_RE = re.compile(r"[ \t\n\r]*")
_LITERALS = {"true": True, "false": False, "null": None}


class _Scanner:
    """Recursive descent over JSON text: objects become dicts, string values `JsonString`s."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def document(self) -> Any:
        value = self.value(0)
        self.skip_space()
        if self.position != len(self.text):
            self.fail("unexpected text after the JSON value")
        return value

    def skip_space(self) -> None:
        match = _SPACE_RE.match(self.text, self.position)
        self.position = match.end() if match else self.position

    def fail(self, what: str) -> None:
        line = self.text.count("\n", 0, self.position) + 1
        column = self.position - (self.text.rfind("\n", 0, self.position) + 1) + 1
        raise CanvasError(f"line {line}, column {column}: {what}")

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            self.fail("nested too deeply")
        self.skip_space()
        char = self.text[self.position : self.position + 1]
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        if char == '"':
            return self.string()
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.position):
                self.position += len(word)
                return literal
        number = _NUMBER_RE.match(self.text, self.position)
        if number is None or not number.group():
            self.fail("expected a JSON value")
        assert number is not None
        self.position = number.end()
        return json.loads(number.group())

    def string(self) -> JsonString:
        match = _STRING_RE.match(self.text, self.position)
        if match is None:
            self.fail("a string is not closed or holds an invalid escape")
        assert match is not None
        self.position = match.end()
        raw = match.group(1)
        value = json.loads(match.group()) if "\\" in raw else raw
        return JsonString(match.start(1), match.end(1), value)

    def object(self, depth: int) -> dict[str, Any]:
        self.position += 1
        result: dict[str, Any] = {}
        self.skip_space()
        if self.text.startswith("}", self.position):
            self.position += 1
            return result
        while True:
            self.skip_space()
            if not self.text.startswith('"', self.position):
                self.fail("expected a key in double quotes")
            key = self.string().value
            self.skip_space()
            if not self.text.startswith(":", self.position):
                self.fail("expected ':' after a key")
            self.position += 1
            result[key] = self.value(depth + 1)
            self.skip_space()
            if self.text.startswith(",", self.position):
                self.position += 1
                continue
            if self.text.startswith("}", self.position):
                self.position += 1
                return result
            self.fail("expected ',' or '}'")

    def array(self, depth: int) -> list[Any]:
        self.position += 1
        result: list[Any] = []
        self.skip_space()
        if self.text.startswith("]", self.position):
            self.position += 1
            return result
        while True:
            result.append(self.value(depth + 1))
            self.skip_space()
            if self.text.startswith(",", self.position):
                self.position += 1
                continue
            if self.text.startswith("]", self.position):
                self.position += 1
                return result
            self.fail("expected ',' or ']'")


def scan_json(text: str) -> Any:
    """The JSON value of `text`, strings as `JsonString` spans; raises `CanvasError` on invalid JSON."""
    return _Scanner(text).document()


def decoded_offsets(text: str, string: JsonString) -> list[int]:
    """For each character of `string.value`, its offset in `text`; one more entry: the closing quote's.

    An escape (`\\n`, `\\"`, `\\u00e9`, a surrogate pair `\\ud83d\\ude00`) is one decoded character that
    spans several characters of the file.
    """
    offsets: list[int] = []
    position, end = string.start, string.end
    while position < end:
        offsets.append(position)
        if text[position] != "\\":
            position += 1
        elif text[position + 1] != "u":
            position += 2
        else:
            unit = int(text[position + 2 : position + 6], 16)
            follows_low = (
                text.startswith("\\u", position + 6) and 0xDC00 <= _hex(text, position + 8) <= 0xDFFF
            )
            position += 12 if 0xD800 <= unit <= 0xDBFF and follows_low else 6
    offsets.append(end)
    return offsets


def _hex(text: str, at: int) -> int:
    try:
        return int(text[at : at + 4], 16)
    except ValueError:
        return -1


_UNICODE_ESCAPE_RE = re.compile(r"(?<!\\)(?:\\\\)*\\u([0-9a-fA-F]{4})")


def encode_json_fragment(value: str, written_like: str) -> str:
    """`value` as characters inside a JSON string, in the style of `written_like` (the string's raw text):
    non-ASCII as `\\uXXXX` only if the author wrote it so, `/` as `\\/` only if the author escaped it."""
    ascii_only = any(int(code, 16) > 0x7F for code in _UNICODE_ESCAPE_RE.findall(written_like))
    encoded = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
    if "\\/" in written_like:
        encoded = encoded.replace("/", "\\/")
    return encoded


# --- the references of a canvas ---------------------------------------------------------------------


class CanvasText(Note):
    """A text node's markdown read as a note at the canvas's own path (its links resolve from the canvas's
    folder, as in Obsidian); positions (`line_col`) are those of the characters in the canvas file."""

    def __init__(self, canvas: Canvas, string: JsonString, raw: bytes) -> None:
        super().__init__(canvas.path, raw, frozenset())
        self.canvas = canvas
        self.string = string
        self._offsets: list[int] | None = None

    def file_offset(self, offset: int) -> int:
        """Where the decoded character at `offset` (or the end, at `len(text)`) starts in the canvas file."""
        if self._offsets is None:
            self._offsets = decoded_offsets(self.canvas.text, self.string)
        return self._offsets[offset + (1 if self.bom else 0)]  # `text` has a leading U+FEFF stripped

    def line_col(self, offset: int) -> tuple[int, int]:
        return self.canvas.line_col(self.file_offset(offset))


class CanvasRef(NamedTuple):
    """One reference of a canvas: `kind` is `file`, `background` or a text-node link's kind."""

    kind: str
    node_id: str
    target: str  # as Obsidian reads it: a vault path for file nodes and backgrounds
    string: JsonString  # the JSON string that holds it
    link: Link | None = None  # for a text-node link: the link, offsets in `text_note.text`
    text_note: CanvasText | None = None  # the decoded text node


class Canvas:
    """A parsed canvas: its text (BOM stripped, as `Note.text`), nodes and references."""

    def __init__(self, path: str, raw: bytes) -> None:
        self.path = path
        self.raw = raw
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CanvasError(f"not valid UTF-8 at byte {exc.start}") from exc
        self.bom = decoded.startswith(_BOM)
        self.text = decoded[1:] if self.bom else decoded
        document = scan_json(self.text) if self.text.strip() else {}
        if not isinstance(document, dict):
            raise CanvasError("the top level is not a JSON object")
        nodes = document.get("nodes", [])
        self.nodes: list[dict[str, Any]] = (
            [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []
        )

    def encode(self, text: str) -> bytes:
        return ((_BOM if self.bom else "") + text).encode("utf-8")

    def line_col(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def references(self) -> Iterator[CanvasRef]:
        """Every reference, in node order."""
        for node in self.nodes:
            node_id = _string_value(node.get("id"))
            kind = _string_value(node.get("type"))
            if kind == "file" and isinstance(node.get("file"), JsonString) and node["file"].value:
                yield CanvasRef(FILE_NODE, node_id, node["file"].value, node["file"])
            elif kind == "group" and isinstance(node.get("background"), JsonString):
                background = node["background"]
                if background.value and not _is_url(background.value):
                    yield CanvasRef(BACKGROUND, node_id, background.value, background)
            elif kind == "text" and isinstance(node.get("text"), JsonString):
                yield from self._text_links(node_id, node["text"])

    def _text_links(self, node_id: str, string: JsonString) -> Iterator[CanvasRef]:
        value = string.value
        if "[" not in value:
            return
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape: not text Obsidian can show either
            return
        note = CanvasText(self, string, raw)
        for link in find_links(note):  # links in code are kept, marked `opaque`: reports count them
            if link.target:
                yield CanvasRef(link.kind, node_id, link.target, string, link, note)

    def target_edit(self, ref: CanvasRef, new_target: str) -> Edit:
        """The edit that writes `new_target` as a file node's (or background's) path."""
        string = ref.string
        old = self.text[string.start : string.end]
        return Edit(string.start, string.end, old, encode_json_fragment(new_target, old), ref.kind)

    def text_edit(self, ref: CanvasRef, edit: Edit) -> Edit:
        """An edit planned on a text node's decoded note, as an edit of the canvas file."""
        assert ref.text_note is not None
        start, end = ref.text_note.file_offset(edit.start), ref.text_note.file_offset(edit.end)
        old = self.text[start:end]
        written_like = self.text[ref.string.start : ref.string.end]
        return Edit(start, end, old, encode_json_fragment(edit.new, written_like), edit.kind)


def _string_value(value: object) -> str:
    return value.value if isinstance(value, JsonString) else ""


def _is_url(value: str) -> bool:
    return re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", value) is not None


def edited_canvas(canvas: Canvas, edits: list[Edit]) -> str:
    """The canvas text with `edits` applied, verified: still JSON, and the same JSON but for the contents
    of strings (no key, number, structure or other string's bytes moved)."""
    new_text = apply_edits(canvas.text, edits, path=canvas.path)
    try:
        before, after = json.loads(canvas.text), json.loads(new_text)
    except ValueError as exc:
        raise EditConflict(
            f"{canvas.path}: the edit would make the canvas invalid JSON; nothing was written"
        ) from exc
    if _shape(before) != _shape(after):
        raise EditConflict(
            f"{canvas.path}: the edit would change the canvas's structure; nothing was written"
        )
    return new_text


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return "" if isinstance(value, str) else value
