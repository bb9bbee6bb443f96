"""Find every link of a note as a span with exact offsets.

Body: wikilinks, embeds and markdown links (those inside code, math or HTML comments are kept but marked
`opaque`: they are counted, never resolved or rewritten). Frontmatter: `[[…]]` inside quoted or plain
strings, and bare values under link properties such as `related`.
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import NamedTuple
from urllib.parse import unquote

from vaulttools.note import Note

WIKILINK = "wikilink"
EMBED = "embed"
MARKDOWN = "markdown"
PROPERTY = "property"  # a quoted "[[…]]" (or plain [[…]] inside a longer string) in the frontmatter
BARE = "bare"  # a bare slug under a link property


class Link(NamedTuple):
    kind: str
    start: int  # the whole link, `text[start:end]`
    end: int
    target: str  # the target as Obsidian reads it: trimmed, percent-decoded for markdown links
    target_start: int  # `text[target_start:target_end]` is the target exactly as written
    target_end: int
    subpath: str = ""  # "#Heading" or "#^block", as written
    display: str | None = None  # the display text (or embed size) after the separator
    display_start: int = -1
    display_end: int = -1
    opaque: str | None = None  # "code", "math" or "html-comment": not a link, only counted
    quote: str = ""  # for property links: the quote character around the value ('"', "'" or "")
    property_name: str = ""
    embed: bool = False
    angle: bool = False  # markdown destination written as <…>
    in_string: bool = False  # a property link inside a longer string

    @property
    def is_link(self) -> bool:
        return self.opaque is None and bool(self.target)


# Only `]]` closes a wikilink; a line break or a second `[[` means it was not a link. (Written as an
# unrolled loop with a literal prefix: several times faster than a per-character lookahead.)
_WIKILINK_RE = re.compile(r"\[\[([^\[\]\n\r]*(?:(?:\[(?!\[)|\](?!\]))[^\[\]\n\r]*)*)\]\]")
_MD_LINK_RE = re.compile(
    r"(!?)\[((?:[^\[\]\n\\]|\\.|\[[^\[\]\n]*\])*)\]\(\s*"
    r"(?:<([^<>\n]*)>|((?:[^\s()<>\\]|\\.|\([^\s()]*\))+))"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
_URL_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def find_links(note: Note) -> list[Link]:
    """All links of a note, frontmatter first, in text order."""
    if not note.editable:
        return []
    links: list[Link] = []
    if note.frontmatter is not None:
        links.extend(find_frontmatter_links(note))
    body_start = note.body_start
    text = note.text
    if text.find("[", body_start) < 0:
        return links
    body_links = _wikilinks(text, body_start, len(text))
    markdown_links = _markdown_links(text, body_start, len(text))
    if markdown_links:  # wikilinks alone come in text order and never overlap
        body_links = _drop_nested(
            sorted([*body_links, *markdown_links], key=lambda link: (link.start, -link.end))
        )
    if not note.regions:  # the usual note: no code, math or comment, so no link is opaque
        links.extend(body_links)
        return links
    for link in body_links:
        region = note.region_at(link.start)
        links.append(link._replace(opaque=region.kind) if region else link)
    return links


# --- targets without spans: `check`'s fast path -------------------------------------------------------


# `_WIKILINK_RE` with its inside split in two: the longest start free of `|`, `#` and `\`, then the rest. The
# same matches (a link's end is its first `]]`); a link whose rest is empty has the stripped start as target.
_WIKILINK_PARTS_RE = re.compile(
    r"\[\[([^\[\]\n\r|#\\]*)([^\[\]\n\r]*(?:(?:\[(?!\[)|\](?!\]))[^\[\]\n\r]*)*)\]\]"
)


def plain_wikilink_targets(note: Note) -> list[str] | None:
    """The target of each wikilink of the body ("" for none), for a body without opaque regions and without
    markdown links: then its wikilinks are all its body links, none opaque, as `find_links` has them.
    None for any other body (and for a note that cannot be read): ask `find_links`. One findall, no
    match objects: `wikilink_spans` gives the positions, for the few links that need them."""
    text = note.text
    body_start = note.body_start
    if not note.editable or _may_hold_markdown_links(text, body_start, len(text)) or note.regions:
        return None
    return [
        head.strip() if not rest else wikilink_target(head + rest)
        for head, rest in _WIKILINK_PARTS_RE.findall(text, body_start)
    ]


def wikilink_spans(note: Note, count: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each wikilink of the body (the first `count` of them), in the order of
    `plain_wikilink_targets`; an embed's span includes its `!`, as in `find_links`."""
    text = note.text
    body_start = note.body_start
    spans = []
    for match in itertools.islice(_WIKILINK_PARTS_RE.finditer(text, body_start), count):
        start = match.start()
        if start > body_start and text[start - 1] == "!":
            start -= 1
        spans.append((start, match.end()))
    return spans


def frontmatter_targets(note: Note) -> list[str] | None:
    """The targets of the frontmatter's links with a target, read off the properties; None when only
    `find_frontmatter_links` can tell. A frontmatter in the simple grammar (`Note.simple_yaml`) without
    `[[` has bare values only, and its properties hold them exactly as written: no escapes, no comments."""
    fm = note.frontmatter
    if fm is None:
        return []
    if not note.simple_yaml or note.text.find("[[", fm.start, fm.end) >= 0:
        return None
    properties = note.properties or {}
    targets = []
    for name in note.link_properties:
        value = properties.get(name)
        if value is None:
            continue
        for item in value if isinstance(value, list) else (value,):
            target = _bare_target(str(item))
            if target:
                targets.append(target)
    return targets


def _bare_target(value: str) -> str:
    """`_bare_link(...).target` of an unquoted or double-quoted value without escapes."""
    if value.startswith("[") or "](" in value:
        return ""
    return value.partition("#")[0].strip()


def _drop_nested(links: list[Link]) -> list[Link]:
    """A markdown link found inside a wikilink's span (or the reverse) is not a second link."""
    kept: list[Link] = []
    for link in links:
        if kept and link.start < kept[-1].end:
            continue
        kept.append(link)
    return kept


# The common shape of a wikilink's inside, split in one regex call: the hot path on big vaults.
_INNER_RE = re.compile(r"([^|#\\]*)(#[^|\\]*)?(?:(\\?\|)(.*))?", re.DOTALL)


def wikilinks_in(text: str, start: int, end: int) -> list[Link]:
    """The wikilinks and embeds of `text[start:end]` (an embed whose `!` is at `start` is an embed)."""
    return _wikilinks(text, start, end)


def _wikilinks(text: str, start: int, end: int) -> list[Link]:
    found = []
    for match in _WIKILINK_RE.finditer(text, start, end):
        inner_start = match.start(1)
        inner = match.group(1)
        parts = _INNER_RE.fullmatch(inner)
        if parts is None:
            link = parse_wikilink_inner(inner, inner_start)
            if link is None:
                continue
            target, target_start, target_end = link.target, link.target_start, link.target_end
            subpath, display, display_start, display_end = (
                link.subpath,
                link.display,
                link.display_start,
                link.display_end,
            )
        else:
            raw_target, raw_subpath, _, display = parts.groups()
            target = raw_target.strip()
            subpath = raw_subpath.rstrip() if raw_subpath else ""
            if not target and not subpath:
                continue
            target_start = inner_start + len(raw_target) - len(raw_target.lstrip())
            target_end = target_start + len(target)
            if display is None:
                display_start = display_end = -1
            else:
                display_start, display_end = inner_start + parts.start(4), match.end(1)
        link_start = match.start()
        embed = link_start > start and text[link_start - 1] == "!"
        found.append(
            Link(
                EMBED if embed else WIKILINK,
                link_start - 1 if embed else link_start,
                match.end(),
                target,
                target_start,
                target_end,
                subpath,
                display,
                display_start,
                display_end,
                None,
                "",
                "",
                embed,
            )
        )
    return found


def wikilink_target(inner: str) -> str:
    """The `.target` of the wikilink whose text between `[[` and `]]` is `inner` ("" if it has none):
    the same answer as `_wikilinks` and `parse_wikilink_inner`, without building a `Link`."""
    head, pipe, _ = inner.partition("|")
    if pipe and head.endswith("\\"):  # a table's escaped pipe `\|`: the backslash is not the target's
        head = head[:-1]
    return head.partition("#")[0].strip()


def parse_wikilink_inner(inner: str, offset: int) -> Link | None:
    """Split the text between `[[` and `]]` (starting at `offset`) into target, subpath and display."""
    display = None
    display_start = display_end = -1
    pipe = inner.find("|")
    head = inner
    if pipe >= 0:
        # A table escapes the pipe as `\|`; the backslash belongs to the separator, not the target.
        head_end = pipe - 1 if pipe > 0 and inner[pipe - 1] == "\\" else pipe
        head = inner[:head_end]
        display = inner[pipe + 1 :]
        display_start, display_end = offset + pipe + 1, offset + len(inner)
    hash_at = head.find("#")
    target_part = head if hash_at < 0 else head[:hash_at]
    subpath = "" if hash_at < 0 else head[hash_at:]
    stripped = target_part.strip()
    if not stripped and not subpath:
        return None
    lead = len(target_part) - len(target_part.lstrip())
    target_start = offset + lead
    return Link(
        WIKILINK,
        offset,
        offset + len(inner),
        stripped,
        target_start,
        target_start + len(stripped),
        subpath.rstrip(),
        display,
        display_start,
        display_end,
    )


_MARKDOWN_OPENER_RE = re.compile(r"\]\(")


def _may_hold_markdown_links(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` holds a `](`, which every markdown link has. A lone `(` is looked for
    first at memchr speed; the regex's literal search is then faster than `str.find` for two characters."""
    return text.find("(", start, end) >= 0 and _MARKDOWN_OPENER_RE.search(text, start, end) is not None


def _markdown_links(text: str, start: int, end: int) -> list[Link]:
    if not _may_hold_markdown_links(text, start, end):
        return []
    found = []
    for match in _MD_LINK_RE.finditer(text, start, end):
        angle = match.group(3) is not None
        group = 3 if angle else 4
        destination = match.group(group)
        if not destination or destination.startswith("#") or _URL_SCHEME_RE.match(destination):
            continue
        hash_at = destination.find("#")
        raw_target = destination if hash_at < 0 else destination[:hash_at]
        dest_start = match.start(group)
        embed = match.group(1) == "!"
        found.append(
            Link(  # positional: keyword construction of a 16-field tuple costs more on big vaults
                MARKDOWN,
                match.start(),
                match.end(),
                unquote(raw_target).strip(),
                dest_start,
                dest_start + len(raw_target),
                "" if hash_at < 0 else destination[hash_at:],
                match.group(2),
                match.start(2),
                match.end(2),
                None,
                "",
                "",
                embed,
                angle,
            )
        )
    return found


# --- frontmatter ----------------------------------------------------------------------------------

_KEY_LINE_RE = re.compile(r"^([A-Za-z_][\w\- .]*?)[ \t]*:(?:[ \t]+|(?=\r?\n)|$)", re.MULTILINE)


def find_frontmatter_links(note: Note) -> list[Link]:
    """Wikilinks anywhere in the YAML, plus bare values under the note's link properties."""
    text = note.text
    fm = note.frontmatter
    assert fm is not None
    links: list[Link] = []
    if "[[" in text[fm.start : fm.end]:
        links.extend(_frontmatter_wikilinks(text, fm.start, fm.end))
    link_properties = note.link_properties
    if link_properties:
        links.extend(_bare_property_values(text, fm.start, fm.end, link_properties))
    links.sort(key=lambda link: link.start)
    return links


def _frontmatter_wikilinks(text: str, start: int, end: int) -> list[Link]:
    found = []
    for link in _wikilinks(text, start, end):
        line_start = text.rfind("\n", start, link.start) + 1
        quote = _quote_around(text, line_start, link.start)
        before = text[link.start - 1] if link.start > start else ""
        after = text[link.end] if link.end < end else ""
        exact = bool(quote) and before == quote and after == quote
        if not quote and _is_yaml_flow_position(text, line_start, link.start):
            # `related: [[a]]` is a nested YAML list, not a link: `check` reports it.
            found.append(link._replace(kind=PROPERTY, opaque="unquoted-yaml"))
            continue
        found.append(
            link._replace(
                kind=PROPERTY,
                quote=quote,
                in_string=not exact,
                property_name=_property_name(text, start, link.start),
            )
        )
    return found


def _quote_around(text: str, line_start: int, position: int) -> str:
    """The quote character that is open at `position` on its line, or ""."""
    open_quote = ""
    i = line_start
    while i < position:
        char = text[i]
        if open_quote == '"':
            if char == "\\":
                i += 1
            elif char == '"':
                open_quote = ""
        elif open_quote == "'":
            if char == "'":
                if i + 1 < position and text[i + 1] == "'":
                    i += 1
                else:
                    open_quote = ""
        elif char in "\"'" and (i == line_start or text[i - 1] in " \t[,:-{"):
            open_quote = char
        elif char == "#" and i > line_start and text[i - 1] in " \t":
            return ""
        i += 1
    return open_quote


def _is_yaml_flow_position(text: str, line_start: int, position: int) -> bool:
    before = text[line_start:position].rstrip(" \t")
    return before.endswith((":", "[", ",", "- ", "-")) or not before.strip()


def _property_name(text: str, start: int, position: int) -> str:
    for match in reversed(list(_KEY_LINE_RE.finditer(text, start, position))):
        return match.group(1)
    return ""


@functools.lru_cache(maxsize=32)
def _property_line_re(properties: frozenset[str]) -> re.Pattern[str]:
    """`_KEY_LINE_RE`, tried only where a line starts with one of `properties` and a colon: a C-level skip
    over every other key line. The key it matches is still `_KEY_LINE_RE`'s, so callers check the name."""
    names = "|".join(re.escape(name) for name in sorted(properties))
    return re.compile(
        rf"^(?=(?:{names})[ \t]*:(?:[ \t]+|(?=\r?\n)|$)){_KEY_LINE_RE.pattern[1:]}", re.MULTILINE
    )


def _bare_property_values(text: str, start: int, end: int, properties: frozenset[str]) -> list[Link]:
    found: list[Link] = []
    for match in _property_line_re(properties).finditer(text, start, end):
        name = match.group(1)
        if name not in properties:
            continue
        value_start = match.end()
        line_end = _line_end(text, value_start, end)
        rest = text[value_start:line_end]
        stripped = rest.strip()
        if stripped.startswith("["):
            found.extend(_flow_items(text, value_start + rest.index("["), end, name))
        elif not stripped or stripped.startswith("#"):
            found.extend(_block_items(text, line_end, end, name))
        else:
            item = _scalar_item(text, value_start + (len(rest) - len(rest.lstrip())), line_end, name)
            if item:
                found.append(item)
    return found


def _line_end(text: str, position: int, end: int) -> int:
    newline = text.find("\n", position, end)
    line_end = end if newline < 0 else newline
    return line_end - 1 if line_end > position and text[line_end - 1] == "\r" else line_end


# One item of a flow list: a double-quoted string (escapes allowed), a single-quoted one, or a plain value.
_FLOW_TOKEN_RE = re.compile(
    r"""[ \t\r\n,]*(?:(?P<close>\])|(?P<comment>#[^\n]*)|"(?P<dq>(?:[^"\\\n]|\\.)*)"|'(?P<sq>(?:[^'\n]|'')*)'"""
    r"""|(?P<nested>[\[{])|(?P<plain>[^,\]\r\n]+?)(?=[ \t]*(?:[,\]\r\n]|[ \t]\#)))"""
)


# The usual one-line list of plain double-quoted strings: its items in one findall.
_SIMPLE_FLOW_RE = re.compile(r'\[[ ]*(?:"[^"\\\n]*"[ ]*,[ ]*)*(?:"[^"\\\n]*"[ ]*)?\]')
_QUOTED_ITEM_RE = re.compile(r'"([^"\\\n]*)"')


def _flow_items(text: str, bracket: int, end: int, name: str) -> list[Link]:
    """Items of a flow list `[a, "b", 'c']`, possibly over several lines."""
    simple = _SIMPLE_FLOW_RE.match(text, bracket, end)
    if simple is not None:
        links = [
            _bare_link(text, item.start(1), item.end(1), '"', name)
            for item in _QUOTED_ITEM_RE.finditer(text, bracket, simple.end())
        ]
        return [link for link in links if link.target]
    items: list[Link] = []
    position = bracket + 1
    while position < end:
        token = _FLOW_TOKEN_RE.match(text, position, end)
        if token is None or token.group("close") or token.group("nested"):
            break
        position = token.end()
        if token.group("comment") is not None:
            continue
        for group, quote in (("dq", '"'), ("sq", "'"), ("plain", "")):
            if token.group(group) is not None:
                items.append(_bare_link(text, token.start(group), token.end(group), quote, name))
                break
    return [item for item in items if item.target]


_BLOCK_ITEM_RE = re.compile(r"([ \t]*)-[ \t]+(.*)")


def _block_items(text: str, position: int, end: int, name: str) -> list[Link]:
    """Items of a block list (`- a` lines) following a key line that ends at `position`."""
    items: list[Link] = []
    cursor = position
    while cursor < end:
        line_start = cursor + 1 if text.startswith("\n", cursor) else cursor
        line_end = _line_end(text, line_start, end)
        line = text[line_start:line_end]
        next_cursor = text.find("\n", line_start, end)
        item = _BLOCK_ITEM_RE.match(line)
        if item:
            value_start = line_start + item.start(2)
            link = _scalar_item(text, value_start, line_end, name)
            if link:
                items.append(link)
        elif line.strip() and not line.lstrip().startswith("#"):
            break
        if next_cursor < 0:
            break
        cursor = next_cursor
    return items


def _scalar_item(text: str, value_start: int, line_end: int, name: str) -> Link | None:
    char = text[value_start] if value_start < line_end else ""
    if char in "\"'":
        close = _closing_quote(text, value_start, line_end)
        if close < 0:
            return None
        link = _bare_link(text, value_start + 1, close, char, name)
    elif char in "[{|>&*!" or not char:
        return None
    else:
        stop = line_end
        comment = re.search(r"[ \t]#", text[value_start:line_end])
        if comment:
            stop = value_start + comment.start()
        while stop > value_start and text[stop - 1] in " \t":
            stop -= 1
        link = _bare_link(text, value_start, stop, "", name)
    return link if link.target else None


def _closing_quote(text: str, open_at: int, end: int) -> int:
    quote = text[open_at]
    i = open_at + 1
    while i < end:
        char = text[i]
        if quote == '"' and char == "\\":
            i += 2
            continue
        if char == quote:
            if quote == "'" and i + 1 < end and text[i + 1] == "'":
                i += 2
                continue
            return i
        if char == "\n":
            return -1
        i += 1
    return -1


def _bare_link(text: str, start: int, end: int, quote: str, name: str) -> Link:
    value = text[start:end]
    # Values that are themselves links are found as PROPERTY links; escapes we do not decode are skipped.
    if value.startswith(("[[", "[")) or "](" in value or (quote == '"' and "\\" in value):
        value = ""
    if quote == "'" and "''" in value:
        value = ""  # the decoded value would not line up with the written span
    target, _, subpath = value.partition("#")
    return Link(
        BARE,
        start,
        end,
        target.strip(),
        start,
        start + len(target),
        ("#" + subpath) if subpath else "",
        None,
        -1,
        -1,
        None,
        quote,
        name,
    )


# An inline tag: `#` then letters, digits, `_`, `-` or `/` (nested tags), after whitespace or at a line start.
_TAG_RE = re.compile(r"#([\w/-]+)")


def inline_tags(note: Note) -> frozenset[str]:
    """The body's `#tags` as Obsidian counts them, without `#` and in lower case (as `tags` values are
    compared): not in code, math or comments, not inside a link, not all digits (`#1984` is no tag), not a
    heading's `#` (it is followed by a space)."""
    text = note.text
    body_start = note.body_start
    if text.find("#", body_start) < 0:
        return frozenset()
    spans: list[tuple[int, int]] | None = None
    found: set[str] = set()
    for match in _TAG_RE.finditer(text, body_start):
        start = match.start()
        if start > body_start and not text[start - 1].isspace():
            continue
        tag = match.group(1).rstrip("/")
        if not tag or tag.isdigit():
            continue
        if note.region_at(start) is not None:
            continue
        if spans is None:
            spans = [(link.start, link.end) for link in note.links if link.start >= body_start]
        if any(link_start <= start < link_end for link_start, link_end in spans):
            continue
        found.add(tag.lower())
    return frozenset(found)
