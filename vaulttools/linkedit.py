"""Plan the edit that points one link at another target, keeping everything else the author wrote."""

from __future__ import annotations

from urllib.parse import quote as percent_quote

from vaulttools.edits import Edit
from vaulttools.frontmatter import format_scalar
from vaulttools.links import BARE, MARKDOWN, PROPERTY, Link
from vaulttools.note import Note


def encode_markdown_target(target: str, angle: bool) -> str:
    """Markdown destinations need `%20` for spaces (unless written `<…>`); keep everything else readable."""
    if angle:
        return target.replace("<", "%3C").replace(">", "%3E")
    return percent_quote(target, safe="/!$&'*+,;=:@-._~" + "".join(c for c in target if ord(c) > 127))


def retarget(note: Note, link: Link, new_target: str, *, kind: str = "") -> Edit:
    """The edit that replaces only the target span of `link` with `new_target` (as Obsidian reads it)."""
    old = note.text[link.target_start : link.target_end]
    where = f"{note.path}:{note.line_col(link.start)[0]}"
    if link.kind == MARKDOWN:
        written = encode_markdown_target(new_target, link.angle)
    elif link.kind == BARE:
        written = format_scalar(new_target, link.quote, in_flow=_in_flow(note, link), where=where)
    elif link.kind == PROPERTY and link.quote:
        written = format_scalar(new_target, link.quote, in_flow=False, where=where)
    else:
        written = new_target
    return Edit(link.target_start, link.target_end, old, written, kind or link.kind)


def _in_flow(note: Note, link: Link) -> bool:
    line_start = note.text.rfind("\n", 0, link.start) + 1
    return "[" in note.text[line_start : link.start]


def redisplay(note: Note, link: Link, new_display: str) -> Edit | None:
    """Replace the display text of a link (used when it equals the old name)."""
    if link.display is None or link.display_start < 0:
        return None
    return Edit(
        link.display_start, link.display_end, note.text[link.display_start : link.display_end], new_display
    )
