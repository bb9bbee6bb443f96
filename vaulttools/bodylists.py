"""Markdown lists in a note's body, item by item: what `merge` needs to add a SOURCE's missing items to
TARGET's own list instead of appending the SOURCE's whole list as a second copy.

Only *flat* lists are read (every item starts at column 0; an item's continuation lines follow it).
A nested list gives None: adding a missing child at the end of the list would give it the wrong parent,
so such a block is merged as a whole paragraph, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ITEM_RE = re.compile(
    r"(?:(?P<bullet>[-*+])|(?P<number>\d{1,9})(?P<delimiter>[.)]))(?P<space>[ \t]+)(?P<rest>\S.*)"
)
_NESTED_RE = re.compile(r"[ \t]+(?:[-*+]|\d{1,9}[.)])[ \t]")
_THEMATIC_BREAK_RE = re.compile(r"(?:[-*_][ \t]*){3,}")  # `* * *` is a rule, not a list


@dataclass(frozen=True)
class ListItem:
    """One item: its lines as written (without line breaks) and the words after its marker, the same in
    every copy of the item whatever its marker or number."""

    lines: tuple[str, ...]
    content: str


@dataclass
class TargetList:
    """A flat list of TARGET's body: where it ends, its marker style, the items it holds (updated as items
    are added to it, so that two SOURCEs do not add the same item twice)."""

    end: int
    first_line: str
    contents: set[str]
    next_number: int | None  # the number the next item gets in a numbered list, None for bullets
    added: list[str] = field(default_factory=list)

    def styled(self, item: ListItem) -> list[str]:
        """ITEM's lines with this list's marker (bullet, or the next number and delimiter) and spacing."""
        marker = _ITEM_RE.fullmatch(self.first_line)
        assert marker is not None  # a TargetList is only made from a list item
        own = _ITEM_RE.fullmatch(item.lines[0])
        rest = own["rest"] if own else item.lines[0]
        if self.next_number is None:
            prefix = marker["bullet"]
        else:
            prefix = f"{self.next_number}{marker['delimiter']}"
            self.next_number += 1
        return [f"{prefix}{marker['space']}{rest}", *item.lines[1:]]


def flat_list_items(block: str) -> list[ListItem] | None:
    """The items of BLOCK if it is a flat markdown list (see the module docstring), else None."""
    items: list[list[str]] = []
    for line in block.splitlines():
        if _THEMATIC_BREAK_RE.fullmatch(line):
            return None
        if _ITEM_RE.fullmatch(line):
            items.append([line])
        elif not items or _NESTED_RE.match(line):
            return None
        else:
            items[-1].append(line)
    return [ListItem(tuple(lines), _content(lines)) for lines in items] if items else None


def target_list(end: int, items: list[ListItem]) -> TargetList:
    """TARGET's list ending at END, ready to take new items."""
    last = _ITEM_RE.fullmatch(items[-1].lines[0])
    number = last["number"] if last else None
    return TargetList(
        end, items[0].lines[0], {item.content for item in items}, int(number) + 1 if number else None
    )


def best_match(lists: list[TargetList], items: list[ListItem]) -> TargetList | None:
    """The list of TARGET sharing the most items with ITEMS (the first on a tie); None if none shares one."""
    best: TargetList | None = None
    best_shared = 0
    for candidate in lists:
        shared = sum(1 for item in items if item.content in candidate.contents)
        if shared > best_shared:
            best, best_shared = candidate, shared
    return best


def _content(lines: list[str]) -> str:
    match = _ITEM_RE.fullmatch(lines[0])
    first = match["rest"] if match else lines[0]
    return " ".join(" ".join([first, *lines[1:]]).split())
