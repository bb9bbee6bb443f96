"""Plan the edit that points one link at another target, keeping everything else the author wrote."""

from __future__ import annotations

from urllib.parse import quote as percent_quote
from urllib.parse import unquote

from vaulttools.edits import Edit
from vaulttools.links import BARE, MARKDOWN, PROPERTY, Link
from vaulttools.note import Note
from vaulttools.yamledit import format_scalar


def encode_markdown_target(target: str, angle: bool) -> str:
    """Markdown destinations need `%20` for spaces (unless written `<…>`); keep everything else readable."""
    if angle:
        return target.replace("<", "%3C").replace(">", "%3E")
    # Character by character: `quote` would also encode non-ASCII letters, which Obsidian writes as they are.
    return "".join(c if ord(c) > 127 else percent_quote(c, safe="/!$&'*+,;=:@-._~") for c in target)


def encode_like(written: str, new_target: str, angle: bool) -> str:
    """`new_target` as a markdown destination in the author's own spelling: path segments whose meaning
    did not change keep their exact characters (`//`, raw `¶` or `%C2%B6`, `%20`); changed segments are
    encoded the way the old segment was (non-ASCII percent-encoded only if the author did so)."""
    old_segments = written.split("/")
    new_segments = new_target.split("/")
    if len(old_segments) != len(new_segments):
        return encode_markdown_target(new_target, angle)
    out = []
    for raw, new in zip(old_segments, new_segments, strict=True):
        if unquote(raw) == new:
            out.append(raw)
        elif angle:
            out.append(encode_markdown_target(new, angle))
        elif any(ord(c) > 127 for c in unquote(raw)) and "%" in raw and not any(ord(c) > 127 for c in raw):
            out.append(percent_quote(new, safe="!$&'*+,;=:@-._~"))
        else:
            out.append(encode_markdown_target(new, angle))
    return "/".join(out)


def retarget(note: Note, link: Link, new_target: str, *, kind: str = "") -> Edit:
    """The edit that replaces only the target span of `link` with `new_target` (as Obsidian reads it)."""
    old = note.text[link.target_start : link.target_end]
    if link.kind == MARKDOWN:
        written = encode_like(old, new_target, link.angle)
    elif link.kind in (BARE, PROPERTY):
        written = in_yaml_style(note, link, new_target)
    else:
        written = new_target
    return Edit(link.target_start, link.target_end, old, written, kind or link.kind)


def in_yaml_style(note: Note, link: Link, text: str) -> str:
    """`text` written in the style of the frontmatter scalar that holds `link` (`''` inside single quotes,
    escapes inside double quotes, as it is in a plain value or a block), to replace a part of it; refuses
    (`RefusedEdit`) where that style cannot hold `text`."""
    where = f"{note.path}:{note.line_col(link.start)[0]}"
    return format_scalar(text, link.quote, in_flow=link.flow, where=where, inside=link.kind == PROPERTY)
