"""Byte-safe frontmatter edits: format one scalar in its existing style, verify the YAML after a splice.

We never dump YAML. A value is located by the link scanner (offsets into the note), replaced in the
original text, and the result is loaded again to prove that nothing but the intended values changed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from vaulttools.errors import EditConflict, VaultError
from vaulttools.note import load_frontmatter_yaml, load_simple_yaml, simple_line_values

_PLAIN_UNSAFE_START = set("-?:,[]{}#&*!|>'\"%@`")
_NEEDS_QUOTES_RE = re.compile(r":(\s|$)|\s#|^\s|\s$|[\x00-\x1f\x7f]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class RefusedEdit(VaultError):
    """A value cannot be written in the style it already has without changing its meaning."""


def format_scalar(value: str, quote: str, *, in_flow: bool, where: str, inside: bool = False) -> str:
    """The characters that write `value` in a scalar of style `quote` (`"`, `'`, "" for plain, `|` or `>`
    for a block): between the existing quotes, in place of a plain value, or inside a longer scalar when
    `inside` (a link's target within a string: it neither starts nor ends the scalar). Refuses, with the
    reason, where that style cannot hold `value` with the same meaning."""
    if quote == '"':
        if _CONTROL_RE.search(value):
            raise RefusedEdit(f"{where}: {value!r} has control characters; edit this value by hand")
        return value.replace("\\", "\\\\").replace('"', '\\"')
    if quote == "'":
        if "\n" in value or "\r" in value:
            raise RefusedEdit(f"{where}: {value!r} cannot be written in single quotes; edit it by hand")
        return value.replace("'", "''")
    if quote in "|>" and quote:
        if _CONTROL_RE.search(value):
            raise RefusedEdit(f"{where}: {value!r} cannot be written in a {quote} block; edit it by hand")
        return value  # a block has no escapes: any one-line text reads as written
    if inside:
        unsafe = bool(_NEEDS_QUOTES_RE.search(value)) or (in_flow and any(c in value for c in ",[]{}"))
    else:
        unsafe = bool(
            not value
            or value[0] in _PLAIN_UNSAFE_START
            or _NEEDS_QUOTES_RE.search(value)
            or (in_flow and any(c in value for c in ",[]{}"))
            or _looks_like_non_string(value)
        )
    if unsafe:
        raise RefusedEdit(
            f"{where}: {value!r} would change meaning as an unquoted YAML value; quote the old value and run again"
        )
    return value


def _looks_like_non_string(value: str) -> bool:
    loaded, error = load_frontmatter_yaml(f"v: {value}\n")
    return error is not None or not isinstance(loaded, dict) or loaded.get("v") != value


def verify_yaml_edit(
    path: str, old_yaml: str, new_yaml: str, appended: Mapping[str, str] | None = None
) -> None:
    """Load both versions; they must have the same shape and differ only in string values.

    `appended` names list properties that gained exactly one string item at their end (a new key
    holding a one-item list counts too), e.g. `rename --keep-alias` adding the old name to `aliases`.
    """
    old_data, old_error = load_frontmatter_yaml(old_yaml)
    new_data, new_error = load_frontmatter_yaml(new_yaml)
    if old_error is not None:
        raise EditConflict.in_file(
            path, f"refusing to edit frontmatter that does not parse ({old_error})", ""
        )
    if new_error is not None:
        raise EditConflict.in_file(path, f"the edited frontmatter would not parse ({new_error})")
    if appended:
        new_data = _without_appended(path, old_data, new_data, appended)
    problem = _shape_difference(old_data, new_data, "")
    if problem is None and not appended:
        problem = _node_difference(old_yaml, new_yaml)
    if problem:
        raise EditConflict.in_file(path, f"the edit would change more than link values ({problem})")


def _node_difference(old_yaml: str, new_yaml: str) -> str | None:
    """Compose both texts with ruamel.yaml: every node must keep its kind, tag and quoting style.

    The data comparison above cannot see style: this is what proves that a splice kept `"…"` as `"…"`
    and that a plain value did not turn into a number or a boolean. In the one-key-per-line frontmatter
    most vaults have, every line is a YAML document of its own, so only the changed lines are composed.
    """
    old_lines, new_lines = old_yaml.split("\n"), new_yaml.split("\n")
    one_key_per_line = len(old_lines) == len(new_lines) and load_simple_yaml(old_yaml) is not None
    if one_key_per_line and load_simple_yaml(new_yaml) is not None:
        for old_line, new_line in zip(old_lines, new_lines, strict=True):
            if old_line != new_line and not _same_simple_nodes(old_line, new_line):
                problem = _composed_difference(old_line, new_line)
                if problem:
                    return problem
        return None
    return _composed_difference(old_yaml, new_yaml)


def _same_simple_nodes(old_line: str, new_line: str) -> bool:
    """True when two lines of the simple grammar (`note.load_simple_yaml`) surely compose to nodes of the
    same kind, tag and style, so that ruamel.yaml need not compose them (~1 ms a line; a rename rewrites
    the `related` lists of hundreds of notes): both values a double-quoted string, both a plain word (never
    a YAML boolean or null there), both an integer, or both a flow list of as many double-quoted strings.
    Keys are plain strings in that grammar. False sends the pair to ruamel, which also words a difference."""
    old_values, new_values = simple_line_values(old_line), simple_line_values(new_line)
    if old_values is None or new_values is None:
        return False
    if [bool(value) for value in old_values] != [bool(value) for value in new_values]:
        return False
    old_list, new_list = old_values[1], new_values[1]
    # A flow list's items are double-quoted strings without quotes inside: two quotes an item.
    return not old_list or old_list.count('"') == new_list.count('"')


def _composed_difference(old_yaml: str, new_yaml: str) -> str | None:
    from ruamel.yaml.error import YAMLError

    composer = _composer()
    try:
        old_root = composer.compose(old_yaml)
    except YAMLError:
        return None  # ruamel is stricter than the loader that already accepted both versions
    try:
        new_root = composer.compose(new_yaml)
    except YAMLError as exc:
        return f"ruamel.yaml cannot read the result: {exc}"
    return _compare_nodes(old_root, new_root, "")


@functools.cache
def _composer() -> Any:
    """One ruamel.yaml instance (its C-backed safe composer) for the whole run: building one costs more
    than composing a frontmatter."""
    from ruamel.yaml import YAML

    return YAML(typ="safe")


def _compare_nodes(old: Any, new: Any, where: str) -> str | None:
    if old is None or new is None:
        return None if old is new else f"{where or 'the frontmatter'} appeared or disappeared"
    if type(old) is not type(new) or old.tag != new.tag:
        return f"{where or 'a value'} changed type"
    if getattr(old, "style", None) != getattr(new, "style", None) and not isinstance(old.value, list):
        return f"{where or 'a value'} changed its quoting style"
    if isinstance(old.value, list):
        if len(old.value) != len(new.value):
            return f"{where} changed length"
        for i, (a, b) in enumerate(zip(old.value, new.value, strict=True)):
            if isinstance(a, tuple):  # a mapping entry: (key node, value node)
                name = f"{where}.{a[0].value}" if where else str(a[0].value)
                pairs = [(a[0], b[0], name), (a[1], b[1], name)]
            else:
                pairs = [(a, b, f"{where}[{i}]")]
            for x, y, place in pairs:
                problem = _compare_nodes(x, y, place)
                if problem:
                    return problem
    return None


def _without_appended(path: str, old: Any, new: Any, appended: Mapping[str, str]) -> Any:
    """`new` with each expected appended item taken off again (so the shape check sees the rest)."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    result = dict(new)
    for key, value in appended.items():
        items = result.get(key)
        if not isinstance(items, list) or not items or items[-1] != value:
            raise EditConflict.in_file(path, f"{key!r} did not gain {value!r} as planned")
        if key in old:
            result[key] = items[:-1]
        elif len(items) == 1:
            del result[key]
    return result


def _shape_difference(old: Any, new: Any, where: str) -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        if list(old) != list(new):
            return f"keys changed at {where or 'top level'}"
        for key in old:
            if old[key] == new[key]:  # most keys: one C-level comparison, no walk
                continue
            problem = _shape_difference(old[key], new[key], f"{where}.{key}" if where else str(key))
            if problem:
                return problem
        return None
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return f"list length changed at {where}"
        if all(type(item) is str for item in old) and all(type(item) is str for item in new):
            return None  # a list of names (`related`): any string may become any other
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            problem = _shape_difference(a, b, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if old == new or (isinstance(old, str) and isinstance(new, str)):
        return None
    return f"{where} changed from {old!r} to {new!r}"
