"""Where frontmatter values are written, so that commands splice into them and never dump YAML.

Two views of the same frontmatter, for the editing each command does:

- Entries (tag and property commands): each top-level `key: value` from PyYAML's composer marks, its
  scalars with their exact offsets (into `Note.text`). A scalar is spliceable only when its characters
  between the quotes are exactly its value (no escapes, no `''`, no line folding): only then does an offset
  inside the value map to one in the text.
- Lists (`merge`): one top-level list (or scalar) located item by item with each item's exact characters,
  so that new items are written in the list's own style and quoting and duplicates are taken out without
  touching anything else. Only forms whose every byte is understood are located; any other shape (a
  multi-line flow list, an item over several lines, anchors) is None, and the caller refuses.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import yaml

from vaulttools.edits import Edit
from vaulttools.errors import VaultError
from vaulttools.note import Note
from vaulttools.yamledit import RefusedEdit, format_scalar

# The C composer gives the same marks (character offsets) at a tenth of the cost.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UnreadableFrontmatter(VaultError):
    """The frontmatter cannot be located node by node: the note is reported and left alone."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar as written: `text[start:end]` includes its quotes, `text[inner_start:inner_end]` does not."""

    start: int
    end: int
    inner_start: int
    inner_end: int
    value: str  # the composed string (before YAML resolves it to a number, a date, ...)
    style: str | None  # None (plain), "'", '"', "|" or ">"
    spliceable: bool  # `text[inner_start:inner_end]` is `value`, character for character


@dataclass(frozen=True, slots=True)
class Entry:
    """One top-level `key: value` of the frontmatter."""

    key: Scalar
    value: yaml.Node
    base: int  # where the YAML the nodes were composed from starts: their marks count from here
    line_start: int  # where the key's line starts
    end: int  # after the newline that ends the value's last line (or the end of the YAML)


def frontmatter_entries(note: Note, keys: Collection[str] | None = None) -> list[Entry]:
    """The top-level entries of the note's frontmatter ([] without one), only those named in `keys` when
    given (locating every key costs more than composing); raises `UnreadableFrontmatter`."""
    fm = note.frontmatter
    if fm is None:
        return []
    if not note.frontmatter_editable:
        raise UnreadableFrontmatter(f"its frontmatter does not parse ({note.yaml_error})")
    if keys is not None and note.simple_yaml:
        return _simple_entries(note, keys)
    root = _composed(note.text[fm.start : fm.end])
    if root is None:
        return []  # an empty frontmatter, or only comments
    # A mapping with scalar keys: the loader refuses any other frontmatter (`frontmatter_editable`).
    assert isinstance(root, yaml.MappingNode)
    return _entries(note, root, fm.start, keys)


# A key at a line start in the one-key-per-line grammar (`Note.simple_yaml`): plain, never quoted.
_SIMPLE_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*):", re.MULTILINE)


def _simple_entries(note: Note, keys: Collection[str]) -> list[Entry]:
    """In a one-key-per-line frontmatter each line is a YAML document of its own: only the lines of the
    wanted keys are composed (a tenth of the cost of composing the whole block)."""
    fm = note.frontmatter
    assert fm is not None
    text = note.text
    entries: list[Entry] = []
    for match in _SIMPLE_KEY_RE.finditer(text, fm.start, fm.end):
        if match.group(1) in keys:
            line_stop = line_end(text, match.start(), fm.end)
            root = _composed(text[match.start() : line_stop])
            assert isinstance(root, yaml.MappingNode)  # the line is `key: value`
            entries += _entries(note, root, match.start(), keys)
    return entries


def _composed(yaml_text: str) -> yaml.Node | None:
    try:
        return yaml.compose(yaml_text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise UnreadableFrontmatter(f"its frontmatter does not compose ({exc})".replace("\n", " ")) from exc


def _entries(note: Note, root: yaml.MappingNode, base: int, keys: Collection[str] | None) -> list[Entry]:
    """The entries of a mapping composed from YAML that starts at `base` in the note's text."""
    text = note.text
    limit = note.frontmatter.end if note.frontmatter else len(text)
    entries: list[Entry] = []
    # No key repeats and every key is a scalar: the note's loader refuses anything else (not `editable`).
    for key_node, value_node in root.value:
        if keys is not None and key_node.value not in keys:
            continue
        key = scalar_of(text, key_node, base)
        end = base + value_node.end_mark.index
        if end > base and text[end - 1] != "\n":
            end = line_end(text, end, limit)
        start = line_start(text, key.start)
        if isinstance(value_node, yaml.CollectionNode) and value_node.flow_style is False:
            end = _before_trailing_comments(text, start, end)
        entries.append(Entry(key, value_node, base, start, end))
    return entries


def _before_trailing_comments(text: str, start: int, end: int) -> int:
    """`end` moved back over the blank and comment-only lines that follow a block list or map: YAML ends
    the block at the next key, so a comment between the two would count as the value's (and go with it
    when the property is deleted). Comments among the items stay the value's."""
    while True:
        previous = text.rfind("\n", start, end - 1) + 1
        if previous <= start:
            return end
        stripped = text[previous:end].strip()
        if stripped and not stripped.startswith("#"):
            return end
        end = previous


def scalar_of(text: str, node: yaml.Node, base: int) -> Scalar:
    """The `Scalar` of a scalar node composed from YAML that starts at `base` in `text`."""
    start, end = base + node.start_mark.index, base + node.end_mark.index
    # The C composer writes a plain style as "", the Python one as None.
    style = (node.style or None) if isinstance(node, yaml.ScalarNode) else None
    quoted = style in ("'", '"') and end - start >= 2
    inner_start, inner_end = (start + 1, end - 1) if quoted else (start, end)
    value = node.value if isinstance(node, yaml.ScalarNode) else ""
    spliceable = style in (None, "'", '"') and text[inner_start:inner_end] == value
    return Scalar(start, end, inner_start, inner_end, value, style, spliceable)


def sequence_items(text: str, node: yaml.Node, base: int) -> list[Scalar] | None:
    """The items of a sequence of scalars; None when an item is a list or a mapping."""
    if not isinstance(node, yaml.SequenceNode):
        return None
    if any(not isinstance(item, yaml.ScalarNode) for item in node.value):
        return None
    return [scalar_of(text, item, base) for item in node.value]


def is_block_sequence(node: yaml.Node) -> bool:
    return isinstance(node, yaml.SequenceNode) and not node.flow_style


def line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def line_end(text: str, offset: int, limit: int) -> int:
    """After the newline that ends the line holding `offset` (or `limit`, the end of the YAML)."""
    newline = text.find("\n", offset, limit)
    return limit if newline < 0 else newline + 1


def colon_after(text: str, key: Scalar) -> int:
    """The offset just past the `:` that follows a key."""
    return text.index(":", key.end) + 1


# --- one list, item by item (merge) -------------------------------------------------------------------


FLOW = "flow"
BLOCK = "block"
# One flow item: a double- or single-quoted scalar, or a plain one (no flow indicators, no quotes).
_FLOW_ITEM_RE = re.compile(
    r"""[ \t]*("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^,\[\]{}"'#\s][^,\[\]{}\n]*?)[ \t]*(,|\])"""
)
_BLOCK_ITEM_RE = re.compile(r"(?P<indent>[ \t]*)-[ \t]+(?P<value>[^\r\n]*)")


@dataclass(frozen=True)
class Item:
    start: int  # text[start:end] is the item exactly as written (quotes included, comment excluded)
    end: int
    line_start: int  # block lists: the item's whole line, line break included
    line_end: int
    raw: str
    value: Any


@dataclass(frozen=True)
class KeyValue:
    """Where one top-level key's value sits. `style` is FLOW, BLOCK or "scalar"."""

    key: str
    key_start: int  # the start of the key's line
    block_end: int  # the end of the key's last line (its continuation lines included), line break included
    value_start: int  # scalars and flow lists: the value's text on the key line
    value_end: int
    style: str
    items: tuple[Item, ...] = ()
    close: int = -1  # flow: the offset of `]`
    indent: str = ""  # block: the items' indentation

    @property
    def quote(self) -> str:
        """The quoting the list's items use (the first string item's), "" for plain."""
        for item in self.items:
            if isinstance(item.value, str):
                return item.raw[0] if item.raw[:1] in "\"'" else ""
        return '"'


def _key_match(note: Note, key: str) -> re.Match[str] | None:
    fm = note.frontmatter
    if fm is None:
        return None
    pattern = re.compile(rf"^{re.escape(key)}[ \t]*:(?P<rest>[^\r\n]*)", re.MULTILINE)
    return pattern.search(note.text, fm.start, fm.end)


def _strip_comment(rest: str) -> str:
    """A line's value without a trailing ` # comment` (outside quotes) and trailing spaces."""
    quote = ""
    for i, c in enumerate(rest):
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or rest[i - 1] in " \t"):
            return rest[:i].rstrip()
    return rest.rstrip()


def locate(note: Note, key: str) -> KeyValue | None:
    """The value of top-level `key` as written, or None when it is absent or in a shape not handled."""
    match = _key_match(note, key)
    fm = note.frontmatter
    if match is None or fm is None:
        return None
    text = note.text
    rest_start = match.start("rest")
    code = _strip_comment(match.group("rest"))
    key_line_end = line_end(text, match.end(), fm.end)
    lead = len(code) - len(code.lstrip(" \t"))
    value_start, value_end = rest_start + lead, rest_start + len(code)
    stripped = code.strip()
    if stripped.startswith("["):
        return _flow(note, key, match.start(), key_line_end, value_start, value_end)
    if stripped:
        if _continues(text, key_line_end, fm.end):
            return None  # a scalar over several lines
        return KeyValue(key, match.start(), key_line_end, value_start, value_end, "scalar")
    return _block(note, key, match.start(), key_line_end, fm.end)


def empty_key_line(note: Note, key: str) -> tuple[int, int] | None:
    """A `key:` line with no value (YAML null): (just after the colon, the end of the line with its line
    break), or None."""
    match = _key_match(note, key)
    fm = note.frontmatter
    if match is None or fm is None or _strip_comment(match.group("rest")).strip():
        return None
    end = line_end(note.text, match.end(), fm.end)
    if _continues(note.text, end, fm.end) or note.text[end : end + 1] == "-":
        return None
    return match.start("rest"), end


def _continues(text: str, position: int, stop: int) -> bool:
    """Whether the next line is indented (a continuation of the key above)."""
    return (
        position < stop
        and text[position] in " \t"
        and bool(text[position : line_end(text, position, stop)].strip())
    )


def _flow(note: Note, key: str, key_start: int, key_line_end: int, start: int, end: int) -> KeyValue | None:
    text = note.text
    if not text[start:end].endswith("]"):
        return None
    close = end - 1
    items: list[Item] = []
    cursor = start + 1
    if text[cursor:close].strip():
        while True:
            match = _FLOW_ITEM_RE.match(text, cursor, close + 1)
            if match is None:
                return None
            raw = match.group(1).rstrip()
            value = _load_item(raw)
            if value is _BAD:
                return None
            items.append(Item(match.start(1), match.start(1) + len(raw), key_start, key_line_end, raw, value))
            cursor = match.end()
            if match.group(2) == "]":
                break
        if cursor != close + 1:
            return None
    return KeyValue(key, key_start, key_line_end, start, end, FLOW, tuple(items), close)


def _block(note: Note, key: str, key_start: int, key_line_end: int, stop: int) -> KeyValue | None:
    text = note.text
    items: list[Item] = []
    cursor = key_line_end
    indent = ""
    block_end = key_line_end
    while cursor < stop:
        end = line_end(text, cursor, stop)
        line = text[cursor:end].rstrip("\r\n")
        item = _BLOCK_ITEM_RE.fullmatch(line)
        if item:
            if items and item.group("indent") != indent:
                return None
            indent = item.group("indent")
            raw = _strip_comment(item.group("value"))
            value = _load_item(raw)
            if value is _BAD or not raw:
                return None
            start = cursor + item.start("value")
            items.append(Item(start, start + len(raw), cursor, end, raw, value))
            block_end = end
        elif line.strip() and not line.lstrip().startswith("#"):
            if line[:1] in " \t":
                return None  # an item over several lines, or a nested mapping
            break
        cursor = end
    if not items:
        return None
    return KeyValue(key, key_start, block_end, -1, -1, BLOCK, tuple(items), indent=indent)


class _Bad:
    pass


_BAD = _Bad()


# A plain item that YAML reads as the string it spells: a name (`claim-async-wins`), not a word YAML 1.1
# resolves to a boolean or null. Numbers, dates and `.inf` start with a digit, sign or dot, so never match.
_PLAIN_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_RESOLVED_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null"})


def quick_item_value(raw: str) -> str | None:
    """The string a list item spells, without loading YAML, where its reading is certain: a quoted item
    without escapes (a backslash, or the quote doubled) and only printable characters (those YAML accepts),
    or a plain name; None when YAML must decide. Link lists are mostly such items, and loading each costs
    far more (a `merge --all` reads tens of thousands)."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        inner = raw[1:-1]
        if raw[0] in inner or "\\" in inner or not inner.isprintable():
            return None
        return inner
    if _PLAIN_NAME_RE.fullmatch(raw) and raw.lower() not in _RESOLVED_WORDS:
        return raw
    return None


def _load_item(raw: str) -> Any:
    if not raw:
        return _BAD
    quick = quick_item_value(raw)
    if quick is not None:
        return quick
    try:
        loaded = yaml.load(f"[{raw}]", Loader=_LOADER)
    except yaml.YAMLError:
        return _BAD
    if not isinstance(loaded, list) or len(loaded) != 1 or isinstance(loaded[0], (list, dict)):
        return _BAD
    return loaded[0]


def format_item(value: Any, raw: str | None, quote: str, *, in_flow: bool, where: str) -> str:
    """One new list item in the list's quoting; a value that is not a string keeps its own spelling."""
    if not isinstance(value, str):
        if raw is None:
            raise RefusedEdit(f"{where}: cannot write {value!r} as a list item; add it by hand")
        return raw
    if quote in ("'", '"'):
        try:
            return quote + format_scalar(value, quote, in_flow=in_flow, where=where) + quote
        except RefusedEdit:
            pass
    else:
        try:
            return format_scalar(value, "", in_flow=in_flow, where=where)
        except RefusedEdit:
            pass
    return '"' + format_scalar(value, '"', in_flow=in_flow, where=where) + '"'


def list_edits(note: Note, found: KeyValue, removed: set[int], added: list[str], newline: str) -> list[Edit]:
    """Edits that drop the items at indexes `removed` and append the already formatted `added` items."""
    text = note.text
    if found.style == FLOW:
        kept = [item.raw for i, item in enumerate(found.items) if i not in removed]
        if removed:
            first, last = found.items[0], found.items[-1]
            separator = text[found.items[0].end : found.items[1].start] if len(found.items) > 1 else ", "
            new = separator.join(kept + added)
            return [Edit(first.start, last.end, text[first.start : last.end], new, "merge-list")]
        if not added:
            return []
        if found.items:
            last = found.items[-1]
            separator = text[found.items[0].end : found.items[1].start] if len(found.items) > 1 else ", "
            return [Edit(last.end, last.end, "", separator + separator.join(added), "merge-list")]
        inner_start = found.value_start + 1
        return [
            Edit(inner_start, found.close, text[inner_start : found.close], ", ".join(added), "merge-list")
        ]
    edits = [
        Edit(item.line_start, item.line_end, text[item.line_start : item.line_end], "", "merge-list")
        for i, item in enumerate(found.items)
        if i in removed
    ]
    if added:
        last = found.items[-1]
        lines = "".join(f"{found.indent}- {item}{newline}" for item in added)
        if not text[: last.line_end].endswith("\n"):
            lines = newline + lines.removesuffix(newline)
        edits.append(Edit(last.line_end, last.line_end, "", lines, "merge-list"))
    return edits
