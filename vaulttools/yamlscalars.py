"""Frontmatter scalars as YAML itself reads them, each decoded character mapped back to where it is written.

The frontmatter is composed by PyYAML (its C composer when libyaml is there): every scalar node comes with
its source span and its style. A scalar's value is then decoded again here, by YAML's rules (quote doubling,
backslash escapes, line folding of plain and quoted scalars, `|`/`>` blocks with their chomping), this time
keeping for each decoded character the offset where its source begins. The decoding is checked against the
value YAML gave: where they differ the scalar has no map (`Scalar.starts` is None) and its links cannot be
edited, never guessed at.

Only the composer's spans and the map are used to edit: a link found in the decoded value is replaced at its
exact source span, in the scalar's own style (see `yamledit.format_scalar`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if (
    TYPE_CHECKING
):  # PyYAML loads on first use: `check` of the simple frontmatter most vaults write never needs it
    import yaml

PLAIN = ""
SINGLE = "'"
DOUBLE = '"'
LITERAL = "|"
FOLDED = ">"
_STYLES = frozenset({PLAIN, SINGLE, DOUBLE, LITERAL, FOLDED})


class Scalar(NamedTuple):
    """One scalar node of the frontmatter; offsets index the note's text."""

    value: str  # as YAML reads it
    style: str  # PLAIN, SINGLE, DOUBLE, LITERAL or FOLDED
    start: int  # the node as written, quotes or block header included
    end: int
    flow: bool  # inside a flow collection (`[…]`, `{…}`): `,[]{}` end a plain value there
    key: str  # the top-level property it belongs to ("" for none)
    direct: bool  # the property's value itself, or an item of the list that is its value
    tag: str  # the resolved tag (`tag:yaml.org,2002:str`, `…:int`, …)


class NestedList(NamedTuple):
    """`key: [[a]]` written unquoted: YAML reads a list inside a list, not a link."""

    start: int
    end: int
    key: str


class ComposedFrontmatter(NamedTuple):
    scalars: list[Scalar]
    nested_lists: list[NestedList]


def compose_frontmatter(
    text: str, start: int, end: int, link_properties: frozenset[str]
) -> ComposedFrontmatter | None:
    """The scalars of the YAML `text[start:end]` that may hold links (a value with `[[`, or the value or a
    list item of one of `link_properties`), and every `[[…]]` YAML reads as nested lists; None when the
    YAML does not compose (its links cannot be read)."""
    import yaml

    try:
        root = yaml.compose(text[start:end], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError):
        return None
    scalars: list[Scalar] = []
    nested: list[NestedList] = []
    if root is None:
        return ComposedFrontmatter(scalars, nested)
    seen: set[int] = set()  # an alias is the anchored node again: read it once
    # (node, inside a flow collection, top-level key, role: "value" of a property, "item" of that value, "")
    stack: list[tuple[yaml.Node, bool, str, str]] = [(root, False, "", "")]
    while stack:
        node, flow, key, role = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            value = node.value
            if "[[" in value or (role and key in link_properties):
                style = node.style or PLAIN
                if style in _STYLES:
                    node_start, node_end = start + node.start_mark.index, start + node.end_mark.index
                    scalars.append(
                        Scalar(value, style, node_start, node_end, flow, key, bool(role), node.tag)
                    )
            continue
        inner_flow = flow or (isinstance(node, yaml.CollectionNode) and bool(node.flow_style))
        children: list[tuple[yaml.Node, bool, str, str]] = []
        if isinstance(node, yaml.SequenceNode):
            if inner_flow and _is_nested_pair(node):
                nested.append(NestedList(start + node.start_mark.index, start + node.end_mark.index, key))
            item_role = "item" if role == "value" else ""
            children = [(item, inner_flow, key, item_role) for item in node.value]
        else:
            top = node is root
            for key_node, value_node in node.value:
                name = key
                if top:
                    name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
                children.append((key_node, inner_flow, name, ""))
                children.append((value_node, inner_flow, name, "value" if top else ""))
        stack.extend(children)  # the caller orders what it finds: no need to keep text order here
    return ComposedFrontmatter(scalars, nested)


def _is_nested_pair(node: yaml.SequenceNode) -> bool:
    """A flow list whose first item is a flow list opening right after its `[`: `[[…` written bare."""
    import yaml

    if not node.value:
        return False
    first = node.value[0]
    return isinstance(first, yaml.SequenceNode) and first.start_mark.index == node.start_mark.index + 1


# --- decoding with a source map -------------------------------------------------------------------------


def source_starts(text: str, scalar: Scalar) -> list[int] | None:
    """`starts[i]`: where the source of the value's character i begins in `text`; `starts[len(value)]` is
    where the value's source ends. None when our decoding does not give YAML's value (never guess)."""
    value = scalar.value
    style = scalar.style
    node_start = _after_properties(text, scalar.start, scalar.end)
    if style in (SINGLE, DOUBLE):
        inner_start, inner_end = node_start + 1, scalar.end - 1
    else:
        inner_start, inner_end = node_start, scalar.end
    if style in (PLAIN, SINGLE, DOUBLE) and text[inner_start:inner_end] == value:
        return list(range(inner_start, inner_end + 1))  # written as read: the usual case
    if style in (LITERAL, FOLDED):
        decoded = _decode_block(text, node_start, scalar.end, value)
    else:
        decoded = _fold_flow(_flow_units(text, inner_start, inner_end, style), inner_start, inner_end)
    if decoded is None or decoded[0] != value:
        return None
    return decoded[1]


def _after_properties(text: str, start: int, end: int) -> int:
    """Where the scalar itself begins: after its anchor (`&a`) and tag (`!!str`), which the node's span
    includes."""
    position = start
    while position < end and text[position] in "&!":
        while position < end and text[position] not in " \t\r\n":
            position += 1
        while position < end and text[position] in " \t\r\n":
            position += 1
    return position


class _Unit(NamedTuple):
    """A piece of a flow scalar's source: one decoded character, whitespace, or a line break."""

    char: str
    start: int
    end: int
    kind: str  # "c" content, "w" white space, "b" line break, "j" escaped line break (joins lines)


_SIMPLE_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _flow_units(text: str, start: int, end: int, style: str) -> list[_Unit]:
    units: list[_Unit] = []
    i = start
    while i < end:
        char = text[i]
        if char == "\r" and i + 1 < end and text[i + 1] == "\n":
            units.append(_Unit("\n", i, i + 2, "b"))
            i += 2
        elif char == "\n":
            units.append(_Unit("\n", i, i + 1, "b"))
            i += 1
        elif char in " \t":
            units.append(_Unit(char, i, i + 1, "w"))
            i += 1
        elif style == SINGLE and char == "'" and i + 1 < end and text[i + 1] == "'":
            units.append(_Unit("'", i, i + 2, "c"))
            i += 2
        elif style == DOUBLE and char == "\\" and i + 1 < end:
            i = _escape_unit(text, i, end, units)
        else:
            units.append(_Unit(char, i, i + 1, "c"))
            i += 1
    return units


def _escape_unit(text: str, i: int, end: int, units: list[_Unit]) -> int:
    """Decode the escape at `text[i]` (a backslash) into `units`; the offset after it."""
    code = text[i + 1]
    if code in _SIMPLE_ESCAPES:
        units.append(_Unit(_SIMPLE_ESCAPES[code], i, i + 2, "c"))
        return i + 2
    if code in _HEX_ESCAPES:
        digits = text[i + 2 : i + 2 + _HEX_ESCAPES[code]]
        try:
            units.append(_Unit(chr(int(digits, 16)), i, i + 2 + len(digits), "c"))
        except ValueError:
            units.append(_Unit("\\", i, i + 1, "c"))  # not YAML's reading: the final check refuses it
            return i + 1
        return i + 2 + len(digits)
    if code in "\r\n":
        stop = i + 3 if text.startswith("\r\n", i + 1) else i + 2
        units.append(_Unit("", i, stop, "j"))
        return stop
    units.append(_Unit("\\", i, i + 1, "c"))
    return i + 1


def _fold_flow(units: list[_Unit], start: int, end: int) -> tuple[str, list[int]]:
    """Line folding of plain and quoted scalars: a line break between two lines becomes a space, each
    empty line between them a "\\n"; white space around breaks goes (an escaped break keeps what is
    before it). The break's characters map to where the folded white space begins."""
    lines: list[tuple[list[_Unit], str, int]] = []  # (units, how it ends: "b", "j" or "" last, its start)
    current: list[_Unit] = []
    line_start = start
    for unit in units:
        if unit.kind in "bj":
            lines.append((current, unit.kind, line_start))
            current, line_start = [], unit.end
        else:
            current.append(unit)
    lines.append((current, "", line_start))
    chars: list[str] = []
    starts: list[int] = []
    pending: tuple[int, str, int] | None = None  # (where the fold begins, "b" or "j", empty lines seen)
    for number, (line, ending, line_at) in enumerate(lines):
        low, high = 0, len(line)
        if number > 0:
            while low < high and line[low].kind == "w":
                low += 1
        if ending == "b":
            while high > low and line[high - 1].kind == "w":
                high -= 1
        kept = line[low:high]
        if pending is not None:
            fold_at, kind, empties = pending
            if not kept and ending == "b":
                pending = (fold_at, kind, empties + 1)
                continue
            joiner = ("\n" * empties if empties else " ") if kind == "b" else "\n" * empties
            chars.extend(joiner)
            starts.extend([fold_at] * len(joiner))
            pending = None
        for unit in kept:
            chars.append(unit.char)
            starts.append(unit.start)
        if ending:
            fold_at = kept[-1].end if kept else (line[low].start if low < len(line) else line_at)
            pending = (fold_at, ending, 0)
    starts.append(end)
    return "".join(chars), starts


def _decode_block(text: str, start: int, end: int, value: str) -> tuple[str, list[int]] | None:
    """A `|` or `>` block: its header, then lines at one indentation. The indentation is the first text
    line's, or (with an explicit indentation indicator) the one that gives YAML's value."""
    header_end = text.find("\n", start, end)
    if header_end < 0:
        return None
    header = text[start:header_end].split("#", 1)[0].strip()
    folded = header.startswith(FOLDED)
    chomping = "-" if "-" in header else "+" if "+" in header else ""
    lines = _block_lines(text, header_end + 1, end)
    text_indents = [len(raw) - len(raw.lstrip(" ")) for raw, *_ in lines if raw.strip(" ")]
    detected = text_indents[0] if text_indents else 0
    candidates = [detected] if not any(c.isdigit() for c in header) else range(detected, -1, -1)
    for indent in candidates:
        decoded = _block_value(lines, indent, folded, chomping, end)
        if decoded[0] == value:
            return decoded
    return None


def _block_lines(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """(line without its break, where it starts, where its break starts) of each line of `text[start:end]`."""
    lines = []
    position = start
    while position < end:
        newline = text.find("\n", position, end)
        stop = end if newline < 0 else newline
        line_end = stop - 1 if stop > position and text[stop - 1] == "\r" else stop
        if newline < 0 and position == line_end:
            break
        lines.append((text[position:line_end], position, line_end))
        position = stop + 1
    return lines


def _block_value(
    lines: list[tuple[str, int, int]], indent: int, folded: bool, chomping: str, end: int
) -> tuple[str, list[int]]:
    contents = [
        (raw[indent:] if len(raw) > indent else "", at + indent, break_at) for raw, at, break_at in lines
    ]
    last_text = max((i for i, (content, *_) in enumerate(contents) if content), default=-1)
    chars: list[str] = []
    starts: list[int] = []
    previous: tuple[str, int] | None = None  # the previous text line's content and where its break starts
    empties = 0
    for content, content_at, break_at in contents[: last_text + 1]:
        if not content:
            empties += 1
            continue
        if previous is None:
            joiner = "\n" * empties
            fold_at = content_at
        else:
            both_plain = folded and previous[0][0] not in " \t" and content[0] not in " \t"
            joiner = (("\n" * empties) or " ") if both_plain else "\n" * (empties + 1)
            fold_at = previous[1]
        chars.extend(joiner)
        starts.extend([fold_at] * len(joiner))
        chars.extend(content)
        starts.extend(range(content_at, content_at + len(content)))
        previous, empties = (content, break_at), 0
    if previous is not None and chomping != "-":
        trailing = 1 + (len(contents) - last_text - 1 if chomping == "+" else 0)
        chars.extend("\n" * trailing)
        starts.extend([previous[1]] * trailing)
    elif previous is None and chomping == "+":
        chars.extend("\n" * len(contents))
        starts.extend(break_at for *_, break_at in contents)
    starts.append(end)
    return "".join(chars), starts
