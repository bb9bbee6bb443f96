"""Where each top-level frontmatter value is written, from PyYAML's composer marks.

The tag and property commands edit a value by splicing at these offsets (into `Note.text`), never by
dumping YAML. A scalar is spliceable only when its characters between the quotes are exactly its value
(no escapes, no `''`, no line folding): only then does an offset inside the value map to one in the text.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import yaml

from vaulttools.errors import VaultError
from vaulttools.note import Note

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
        entries.append(Entry(key, value_node, base, line_start(text, key.start), end))
    return entries


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
