"""Sections of a note's body (text core, no I/O): the last heading that reads a given title, outside code,
with the list lines under it. `sync-related` rewrites its section's list; `enrich` inserts before it; the
facts cache records where it is."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from vaulttools.note import Note


@dataclass(frozen=True)
class Section:
    """An existing related section: heading line, its list lines, and where the section ends."""

    heading_start: int
    list_start: int  # the list lines are text[list_start:list_end]
    list_end: int
    end: int  # the next heading of the same or a higher level, or the end of the text
    only_list: bool  # nothing but list lines and blank lines under the heading: generated, safe to remove


_LIST_LINE_RE = re.compile(r"[ \t]*[-*+][ \t]+\S")
_ANY_HEADING_RE = re.compile(r"^(#{1,6})[ \t]", re.MULTILINE)


@functools.lru_cache(maxsize=16)
def _heading_re(heading: str) -> re.Pattern[str]:
    return re.compile(
        rf"^(#{{2,6}})[ \t]+{re.escape(heading)}[ \t]*#*[ \t]*\r?$", re.MULTILINE | re.IGNORECASE
    )


def find_section(note: Note, heading: str) -> Section | None:
    """The last heading (level 2 to 6) reading `heading` outside code, with its list lines."""
    text = note.text
    pattern = _heading_re(heading)
    matches = [
        found
        for start in _hash_line_starts(text, note.body_start)
        if (found := pattern.match(text, start)) is not None and note.region_at(start) is None
    ]
    if not matches:
        return None
    match = matches[-1]
    level = len(match.group(1))
    end = len(text)
    for other in _ANY_HEADING_RE.finditer(text, line_after(text, match.end())):
        if len(other.group(1)) <= level and note.region_at(other.start()) is None:
            end = other.start()
            break
    return section_at(text, match.start(), end)


def _hash_line_starts(text: str, start: int) -> Iterator[int]:
    """Where each line that starts with `#` starts, from `start` on (a line that starts before `start` does
    not count). Found with `str.find`, which skips a long note's prose far faster than a multi-line,
    case-blind regex search does: only these lines can be headings."""
    if text.startswith("#", start) and (start == 0 or text[start - 1] == "\n"):
        yield start
    position = text.find("\n#", start)
    while position >= 0:
        yield position + 1
        position = text.find("\n#", position + 1)


def section_at(text: str, heading_start: int, end: int) -> Section:
    """The section whose heading line starts at `heading_start` and which ends at `end`: its list lines.

    Needs no parsing, so a section already found (e.g. `NoteFacts.section` of the facts cache) can be
    read again from the note's text alone.
    """
    after_heading = line_after(text, heading_start)
    lines = line_spans(text, after_heading, end)
    first = 0
    while first < len(lines) and not text[lines[first][0] : lines[first][1]].strip():
        first += 1
    last = first
    while last < len(lines) and _LIST_LINE_RE.match(text, lines[last][0], lines[last][1]):
        last += 1
    if last == first:  # no list: an empty one sits right under the heading
        list_start = list_end = after_heading
    else:
        list_start, list_end = lines[first][0], lines[last - 1][1]
    only_list = all(not text[s:e].strip() for s, e in lines[last:])
    return Section(heading_start, list_start, list_end, end, only_list)


def line_after(text: str, position: int) -> int:
    newline = text.find("\n", position)
    return len(text) if newline < 0 else newline + 1


def line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each line in text[start:end], newline included."""
    spans = []
    while start < end:
        stop = min(line_after(text, start), end)
        spans.append((start, stop))
        start = stop
    return spans
