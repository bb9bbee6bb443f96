"""Find every link of a note as a span with exact offsets.

Body: wikilinks, embeds and markdown links (those inside code, math or HTML comments are kept but marked
`opaque`: they are counted, never resolved or rewritten). Frontmatter: `[[…]]` inside quoted or plain
strings, and bare values under link properties such as `related`.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple
from urllib.parse import unquote

from vaulttools.note import Note, Region, from_fields
from vaulttools.yamlscalars import Scalar, compose_frontmatter, source_starts

WIKILINK = "wikilink"
EMBED = "embed"
MARKDOWN = "markdown"
PROPERTY = "property"  # a `[[…]]` inside a string of the frontmatter (any YAML style)
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
    flow: bool = False  # a frontmatter value inside a flow list or mapping (`,[]{}` end plain values there)

    @property
    def is_link(self) -> bool:
        return self.opaque is None and bool(self.target)


# Only `]]` closes a wikilink; a line break or a second `[[` means it was not a link. (Written as an
# unrolled loop with a literal prefix: several times faster than a per-character lookahead.)
_WIKILINK_RE = re.compile(r"\[\[([^\[\]\n\r]*(?:(?:\[(?!\[)|\](?!\]))[^\[\]\n\r]*)*)\]\]")
# A literal `[` first (an embed's `!` is the character before it): the regex engine then skips to each `[`
# at C speed; a leading `(!?)` made it try the whole pattern at every character of the body. Runs of plain
# characters and possessive repeats: giving back part of a label or a destination never lets the rest
# match (the next character would have to be `]`, whitespace or `)`, which those parts never take), so the
# same matches without backtracking over every `[[wikilink]]` (tests/test_links_fast.py compares them).
_MD_LINK_RE = re.compile(
    r"\[((?:[^\[\]\n\\]++|\\.|\[[^\[\]\n]*\])*+)\]\(\s*"
    r"(?:<([^<>\n]*)>|((?:[^\s()<>\\]++|\\.|\([^\s()]*\))++))"
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
# Possessive repeats (a tenth faster on a body of ~20 links): giving back part of the start only hands it
# to the rest, which takes those characters too; giving back part of a run of plain characters leaves a
# plain one next, and a lone bracket (the step of the outer repeat) is never where `]]` starts.
_WIKILINK_PARTS_RE = re.compile(
    r"\[\[([^\[\]\n\r|#\\]*+)([^\[\]\n\r]*+(?:(?:\[(?!\[)|\](?!\]))[^\[\]\n\r]*+)*+)\]\]"
)


def plain_wikilinks(note: Note) -> list[tuple[str, str]] | None:
    """The findall parts (see `_WIKILINK_PARTS_RE`) of each wikilink of the body, for a body without opaque
    regions and without markdown links: then its wikilinks are all its body links, none opaque, as
    `find_links` has them. None for any other body (and for a note that cannot be read): ask `find_links`.
    One findall, no match objects: `wikilink_targets` and `wikilink_spans` read the parts."""
    text = note.text
    body_start = note.body_start
    if not note.editable or _may_hold_markdown_links(text, body_start, len(text)) or note.link_regions:
        return None
    return _WIKILINK_PARTS_RE.findall(text, body_start)


def wikilink_targets(parts: list[tuple[str, str]]) -> list[str]:
    """The target of each wikilink from its findall parts ("" for none), as `_wikilinks` reads it."""
    # `head` holds no `|`, `#` or backslash: when `rest` starts with `#` or `|`, the target is `head` itself.
    return [
        head.strip() if not rest or rest[0] in "#|" else wikilink_target(head + rest) for head, rest in parts
    ]


def wikilink_spans(text: str, body_start: int, parts: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """(start, end) of each wikilink of `text[body_start:]` whose findall parts are `parts` (the body's
    first `len(parts)` wikilinks, in order); an embed's span includes its `!`, as in `find_links`.

    Each link is found by `str.find` of its exact text from the end of the previous one, not by a second
    regex pass: the text is "[[" + head + rest + "]]", which holds no "]]" before its end, so wherever it
    occurs the regex matches exactly it there; and none of it occurs before the regex's leftmost match."""
    spans = []
    position = body_start
    find = text.find
    for head, rest in parts:
        written = f"[[{head}{rest}]]"
        start = find(written, position)
        position = start + len(written)
        spans.append((start - 1 if start > body_start and text[start - 1] == "!" else start, position))
    return spans


def wikilink_spans_at(
    text: str, body_start: int, parts: list[tuple[str, str]], positions: list[int]
) -> dict[int, tuple[int, int]]:
    """`wikilink_spans` of the wikilinks at `positions` only (in order), by position: a first `check`
    asks for the few links that do not resolve, often late in a long body.

    A link whose text occurs once in the body is found by that one occurrence: every wikilink's text
    occurs where the link is, and no two occurrences of one text overlap (one would hold a `]]` before its
    end). A text occurring more often (the same link twice, or inside a link with a third bracket) sends
    all of them to `wikilink_spans`' walk from the first link."""
    spans: dict[int, tuple[int, int]] = {}
    find = text.find
    for position in positions:
        head, rest = parts[position]
        written = f"[[{head}{rest}]]"
        start = find(written, body_start)
        end = start + len(written)
        if find(written, end) >= 0:  # occurs again after the first: one scan of the body in all
            walked = wikilink_spans(text, body_start, parts[: positions[-1] + 1])
            return {position: walked[position] for position in positions}
        spans[position] = (start - 1 if start > body_start and text[start - 1] == "!" else start, end)
    return spans


def _plain_body_parts(note: Note) -> tuple[str, int, list[tuple[str, str]]] | None:
    """A readable body without opaque regions: the note's text, where its body starts, and its wikilinks'
    findall parts (`_WIKILINK_PARTS_RE`); None for any other note."""
    text = note.text
    if not note.editable or note.link_regions:
        return None
    return text, note.body_start, _WIKILINK_PARTS_RE.findall(text, note.body_start)


def plain_body_links(note: Note) -> tuple[list[str], list[tuple[int, int]]] | None:
    """The target and (start, end) of each link of a body with markdown links among its wikilinks, in text
    order, as `find_links` has them; None for a body with opaque regions, for a note that cannot be read,
    and when a markdown link and a wikilink overlap (`find_links` keeps only the first: ask it).
    For the notes `plain_wikilinks` turns away only for their markdown links."""
    plain = _plain_body_parts(note)
    if plain is None:
        return None
    text, body_start, parts = plain
    targets = wikilink_targets(parts)
    spans = wikilink_spans(text, body_start, parts)
    markdown = _markdown_spans(text, body_start, len(text))
    if not markdown:
        return targets, spans
    return _merge_markdown_links(targets, spans, markdown)


def body_links_apart(note: Note) -> tuple[list[tuple[str, str]], list[tuple[int, int, str]]] | None:
    """The body's wikilinks (their findall parts, see `_WIKILINK_PARTS_RE`) and its markdown links (start,
    end, target, as `_markdown_spans` gives them), apart, each in text order, for a body without opaque
    regions where no markdown link can overlap a wikilink (`_may_overlap_wikilink`): then they are all its
    body links, none opaque, as `find_links` has them. None for any other body: ask `plain_body_links`.

    Apart rather than merged: a caller resolving the targets needs a link's span only for the few that do
    not resolve, and merging in text order needs every wikilink's span (a tenth of a first `check` of a
    vault of folders, whose notes link by path)."""
    plain = _plain_body_parts(note)
    if plain is None:
        return None
    text, body_start, parts = plain
    markdown = _markdown_links_apart(text, body_start)
    return None if markdown is None else (parts, markdown)


def _markdown_links_apart(text: str, body_start: int) -> list[tuple[int, int, str]] | None:
    """The body's markdown links (start, end, target, as `_markdown_spans` gives them), or None when one
    may overlap a wikilink (`_may_overlap_wikilink`)."""
    end = len(text)
    if not _may_hold_markdown_links(text, body_start, end):
        return []
    markdown = _markdown_spans(text, body_start, end)
    for start, stop, _ in markdown:
        if _may_overlap_wikilink(text, body_start, start, stop):
            return None
    return markdown


class BodyLinksApart(NamedTuple):
    """A body's links outside opaque regions, apart (`body_links_apart_of_regions`)."""

    parts: list[tuple[str, str]]  # the wikilinks' findall parts (`_WIKILINK_PARTS_RE`), in text order
    markdown: list[tuple[int, int, str]]  # the markdown links (start, end, target), in text order
    opaque: int  # how many of the links `find_links` finds start inside a region (not links, only counted)
    gaps: list[tuple[int, int]]  # (index in `parts` of its first wikilink, start) of each gap holding some


_new_body_links_apart = from_fields(BodyLinksApart)


class QuickLinks(NamedTuple):
    """A note's link targets read without building its `Link`s (`quick_links`)."""

    frontmatter: list[str]  # the frontmatter's link targets (`frontmatter_targets`)
    body: list[str]  # the body's: the wikilinks', then the markdown links' (apart), or in text order (mixed)
    parts: list[tuple[str, str]]  # apart: the wikilinks' findall parts (`body_links_apart`); mixed: []
    markdown: list[tuple[int, int, str]]  # apart: the markdown links (start, end, target); mixed: []
    spans: list[tuple[int, int]] | None  # mixed: each body link's (start, end), in text order; apart: None
    opaque: int = 0  # the body's links inside code, math or comments, left out of the above
    # apart, for a body with opaque regions: where the wikilinks of each gap between them are found
    # (`BodyLinksApart.gaps`); None: all from the body's start
    gaps: list[tuple[int, int]] | None = None


_new_quick_links = from_fields(QuickLinks)  # every field given, the defaults too


def quick_links(note: Note) -> QuickLinks | None:
    """The note's link targets as its `Link`s would have them, read without building them: the simple
    frontmatter's values (`frontmatter_targets`), the body's wikilinks and markdown links apart where none
    can overlap another (`body_links_apart`), else in text order with their spans (`plain_body_links`).
    None when only `find_links` can tell (opaque regions, a frontmatter beyond the simple grammar or
    holding `[[`, overlapping links, a note that cannot be read). A body link without a target
    (`[[#Heading]]`) gives ""."""
    return quick_links_of([note])[0]


def quick_links_of(notes: list[Note]) -> list[QuickLinks | None]:
    """`quick_links` of each note, found a step at a time for all of them: every frontmatter's targets, then
    every body's opaque regions, then every body's links. Each step's code and data then stay in the
    processor's caches from one note to the next; note after note, each step left them cold for the next
    one (a first `check`, 32 notes at a time: ~94 µs a note of the `code` bench vault instead of ~114, ~62
    of `article` instead of ~74)."""
    targets = [frontmatter_targets(note) for note in notes]
    around = [
        found is not None and note.editable and bool(note.link_regions)
        for note, found in zip(notes, targets, strict=True)
    ]
    return [_quick_links(*parts) for parts in zip(notes, targets, around, strict=True)]


def _quick_links(note: Note, targets: list[str] | None, around_regions: bool) -> QuickLinks | None:
    """`quick_links` of a note, its frontmatter's targets known (`frontmatter_targets`) and whether its body
    has opaque regions where a link can start (`Note.link_regions`)."""
    if targets is None:
        return None
    if around_regions:
        return _quick_links_around_regions(note, targets)
    apart = body_links_apart(note)
    if apart is not None:
        parts, markdown = apart
        return _new_quick_links((targets, _apart_targets(parts, markdown), parts, markdown, None, 0, None))
    mixed = plain_body_links(note)
    return None if mixed is None else _new_quick_links((targets, mixed[0], [], [], mixed[1], 0, None))


def _quick_links_around_regions(note: Note, frontmatter: list[str]) -> QuickLinks | None:
    """`quick_links` of a readable body with opaque regions, its frontmatter's targets known."""
    apart = body_links_apart_of_regions(note)
    if apart is not None:
        parts, markdown, opaque, gaps = apart
        body = _apart_targets(parts, markdown)
        return _new_quick_links((frontmatter, body, parts, markdown, None, opaque, gaps))
    outside = body_links_outside_regions(note)
    if outside is None:
        return None
    return _new_quick_links((frontmatter, outside[0], [], [], outside[1], outside[2], None))


def _apart_targets(parts: list[tuple[str, str]], markdown: list[tuple[int, int, str]]) -> list[str]:
    """The targets of the body links found apart: the wikilinks', then the markdown links'."""
    targets = wikilink_targets(parts)
    if markdown:
        targets += [target for _, _, target in markdown]
    return targets


def body_links_apart_of_regions(note: Note) -> BodyLinksApart | None:
    """`body_links_apart` for a readable body with opaque regions: its links outside them, wikilinks and
    markdown links apart, and how many start inside one; None when a wikilink reaches from one region or gap
    into the next, or a markdown link may overlap a wikilink (ask `body_links_outside_regions`).

    The body is cut at the start and end of each region holding a `[[` (where no link can start, the region
    changes nothing), and each piece holding a `[[` scanned on its own: a scan from any offset finds the
    links of the whole body's scan that start there or later (a wikilink holds no `[[` but where it starts,
    so none starts inside one), so the pieces' links are the body's unless one reaches past its piece's end,
    which the match at the piece's last `[[` shows. A region starts with a backtick, `$`, `<`, `~` or
    whitespace, and ends with none of `!` and `[` before a `[[`: no embed's `!` and no `[[` lies across a
    cut. Finding which links lie inside regions by every link's span took a first `check` of a vault of
    notes holding code a fifth of its time."""
    text, body_start, regions = note.text, note.body_start, note.link_regions
    end = len(text)
    cuts = [body_start]
    for region in regions:
        if text.find("[[", region.start, region.end + 1) >= 0:  # a `[[` starts inside it
            cuts += (region.start, region.end)
    cuts.append(end)
    parts: list[tuple[str, str]] = []
    gaps: list[tuple[int, int]] = []
    opaque = 0
    for piece in range(len(cuts) - 1):
        start, stop = cuts[piece], cuts[piece + 1]
        last = text.rfind("[[", start, stop + 1)  # the last `[[` starting in the piece
        if last < 0:
            continue
        if stop < end:
            reaching = _WIKILINK_PARTS_RE.match(text, last)
            if reaching is not None and reaching.end() > stop:
                return None
        found = _WIKILINK_PARTS_RE.findall(text, start, stop)
        if piece % 2:  # a region's
            opaque += sum(itertools.starmap(_wikilink_kept, found))
        elif found:
            gaps.append((len(parts), start))
            parts += found
    markdown = _markdown_links_apart(text, body_start)
    if not markdown:
        return None if markdown is None else _new_body_links_apart((parts, markdown, opaque, gaps))
    inside = _inside_regions([start for start, _, _ in markdown], regions)
    if inside:
        outside = [link for index, link in enumerate(markdown) if not any(a <= index < b for a, b in inside)]
        opaque += len(markdown) - len(outside)
        markdown = outside
    return _new_body_links_apart((parts, markdown, opaque, gaps))


def body_links_outside_regions(note: Note) -> tuple[list[str], list[tuple[int, int]], int] | None:
    """For a readable body with opaque regions (code, math, HTML comments): the target and (start, end) of
    each of its links outside them, in text order, and how many of the links `find_links` finds start inside
    one (opaque: not links, only counted); None when a markdown link and a wikilink overlap (ask
    `find_links`). Found as `find_links` finds them: every link of the body, then each one whose start
    (an embed's `!`) lies in a region (`Note.region_at`) set apart. A vault of notes with a code block or
    inline math each took the full parse: a first `check` 4 times slower than on the same notes without."""
    text, body_start = note.text, note.body_start
    parts = _WIKILINK_PARTS_RE.findall(text, body_start)
    targets = wikilink_targets(parts)
    spans = wikilink_spans(text, body_start, parts)
    end = len(text)
    markdown = (
        _markdown_spans(text, body_start, end) if _may_hold_markdown_links(text, body_start, end) else []
    )
    if markdown and _merge_markdown_links(targets, spans, markdown) is None:
        return None  # overlapping links: `find_links` keeps the first of each pair
    regions = note.link_regions
    opaque = 0
    kept_targets: list[str] = []
    kept_spans: list[tuple[int, int]] = []
    taken = 0
    for first, after in _inside_regions([start for start, _ in spans], regions):
        kept_targets += targets[taken:first]
        kept_spans += spans[taken:first]
        opaque += sum(itertools.starmap(_wikilink_kept, parts[first:after]))
        taken = after
    kept_targets += targets[taken:]
    kept_spans += spans[taken:]
    outside = markdown
    if markdown:
        inside = _inside_regions([start for start, _, _ in markdown], regions)
        outside = [link for index, link in enumerate(markdown) if not any(a <= index < b for a, b in inside)]
        opaque += len(markdown) - len(outside)
    if not outside:
        return kept_targets, kept_spans, opaque
    merged = _merge_markdown_links(kept_targets, kept_spans, outside)
    assert merged is not None  # links that do not overlap in the whole body do not overlap among some
    return merged[0], merged[1], opaque


def _inside_regions(starts: list[int], regions: list[Region]) -> list[tuple[int, int]]:
    """For links starting at `starts` (in order) and a note's opaque regions (in order, none overlapping
    another): the index range [first, after) of the links starting inside each region that has some, in
    order. Two binary searches a region, where `Note.region_at` took one a link."""
    inside = []
    for region in regions:
        first = bisect.bisect_left(starts, region.start)
        after = bisect.bisect_left(starts, region.end, first)
        if first < after:
            inside.append((first, after))
    return inside


def _wikilink_kept(head: str, rest: str) -> bool:
    """Whether `_wikilinks` makes a `Link` of the wikilink with these findall parts (it drops those with
    neither target nor subpath: `[[]]`, `[[ |x]]`)."""
    if not rest or rest[0] == "|":
        return bool(head.strip())
    return _inner_parts(head + rest, 0) is not None


def quick_link_targets(note: Note) -> list[str] | None:
    """Every link target of the note (the frontmatter's, then the body's; see `quick_links`), or None: for a
    caller that needs to know only whether any link may matter."""
    quick = quick_links(note)
    return None if quick is None else [*quick.frontmatter, *quick.body]


def _may_overlap_wikilink(text: str, body_start: int, start: int, end: int) -> bool:
    """Whether a wikilink of the body (from `body_start`) may overlap `text[start:end]`, a markdown link
    (its last character a `)`); False only when none does. A wikilink starting inside it has its `[[`
    inside it (an embed's `!` is followed by its `[[`, and `)` is none of them); one starting before it
    and reaching past its start has its `[[` before `start + 1` with no `]]` (which would close it) and no
    line break (which no wikilink holds) from there to `start`."""
    if text.find("[[", start, end) >= 0:
        return True
    before = text.rfind("[[", body_start, start + 1)
    return before >= 0 and text.find("]]", before + 2, start) < 0 and text.find("\n", before, start) < 0


def _merge_markdown_links(
    targets: list[str], spans: list[tuple[int, int]], markdown: list[tuple[int, int, str]]
) -> tuple[list[str], list[tuple[int, int]]] | None:
    """The wikilinks (targets and spans, in text order) with the markdown links (start, end, target; in
    text order, none overlapping another) put in place; None when a markdown link overlaps a wikilink.
    A binary search per markdown link: a note has a few of them among many wikilinks."""
    starts = [start for start, _ in spans]
    merged_targets: list[str] = []
    merged_spans: list[tuple[int, int]] = []
    taken = 0
    for start, end, target in markdown:
        before = bisect.bisect_left(starts, start)  # the wikilinks starting before this link
        if (before and spans[before - 1][1] > start) or (before < len(starts) and starts[before] < end):
            return None
        merged_targets += targets[taken:before]
        merged_targets.append(target)
        merged_spans += spans[taken:before]
        merged_spans.append((start, end))
        taken = before
    merged_targets += targets[taken:]
    merged_spans += spans[taken:]
    return merged_targets, merged_spans


def frontmatter_targets(note: Note) -> list[str] | None:
    """The targets of the frontmatter's links with a target, read off the properties; None when only
    `find_frontmatter_links` can tell. A frontmatter in the simple grammar (`Note.simple_yaml`) without
    `[[` has bare values only, and its properties hold them exactly as written: no escapes, no comments."""
    fm = note.frontmatter
    if fm is None:
        return []
    if not note.simple_yaml or _DOUBLE_BRACKET_RE.search(note.text, fm.start, fm.end) is not None:
        return None
    targets: list[str] = []
    for name in note.link_properties:
        value = note.property_value(name)  # not the whole frontmatter's data: its big lists stay unsplit
        if value is None:
            continue
        if isinstance(value, list) and _plain_items(value):
            stripped = list(map(str.strip, value))  # a long `related` list: no Python call per item
            targets += stripped if "" not in stripped else filter(None, stripped)
            continue
        for item in value if isinstance(value, list) else (value,):
            target = _bare_target(str(item))
            if target:
                targets.append(target)
    return targets


# `[[` as a regex: its literal search is faster than `str.find` for two characters (a 1 KB frontmatter without
# one: ~0.4 µs against ~0.9; every note's is asked).
_DOUBLE_BRACKET_RE = re.compile(r"\[\[")


def _plain_items(items: list[Any]) -> bool:
    """Whether every item is a string whose `_bare_target` is the item stripped: no `[`, `](` or `#` in
    any (one test over them all, joined by a line break, which makes no `](` across two items)."""
    try:
        joined = "\n".join(items)
    except TypeError:  # an item that is no string
        return False
    return "[" not in joined and "](" not in joined and "#" not in joined


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
    """Each wikilink and embed of `text[start:end]` as a `Link`. One regex pass splits each into the start
    free of `|`, `#` and `\\` and the rest (`_WIKILINK_PARTS_RE`): a link whose rest is empty or starts with
    `|` (most are) has its target and display read off those two parts; the others are split by
    `_inner_parts`. (A vault of 20,000 notes with 20 links each has 400,000 of them to parse.)"""
    found: list[Link] = []
    append = found.append
    for match in _WIKILINK_PARTS_RE.finditer(text, start, end):
        head, rest = match.groups()
        link_start, link_end = match.span()
        if not rest or rest[0] == "|":
            target = head.strip()
            if not target:
                continue
            target_start = link_start + 2 + len(head) - len(head.lstrip())
            target_end = target_start + len(target)
            subpath = ""
            if rest:
                display, display_start, display_end = rest[1:], link_start + 3 + len(head), link_end - 2
            else:
                display, display_start, display_end = None, -1, -1
        else:
            parts = _inner_parts(head + rest, link_start + 2)
            if parts is None:
                continue
            target, target_start, target_end, subpath, display, display_start, display_end = parts
        embed = link_start > start and text[link_start - 1] == "!"
        append(
            _new_link(
                (
                    EMBED if embed else WIKILINK,
                    link_start - 1 if embed else link_start,
                    link_end,
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
                    False,
                    False,
                    False,
                )
            )
        )
    return found


# A `Link` from all its fields in order (`from_fields`).
_new_link = from_fields(Link)


def links_from_fields(rows: Iterable[tuple[Any, ...]]) -> list[Link]:
    """`Link`s from their fields in order, as `tuple(link)` gives them (a worker's marshalled results)."""
    return list(map(_new_link, rows))


def _inner_parts(inner: str, inner_start: int) -> tuple[str, int, int, str, str | None, int, int] | None:
    """(target, its start and end, subpath, display, its start and end) of the wikilink whose text between
    `[[` and `]]` is `inner`, starting at `inner_start`; None when it has neither target nor subpath."""
    parts = _INNER_RE.fullmatch(inner)
    if parts is None:
        link = parse_wikilink_inner(inner, inner_start)
        if link is None:
            return None
        return (
            link.target,
            link.target_start,
            link.target_end,
            link.subpath,
            link.display,
            link.display_start,
            link.display_end,
        )
    raw_target, raw_subpath, _, display = parts.groups()
    target = raw_target.strip()
    subpath = raw_subpath.rstrip() if raw_subpath else ""
    if not target and not subpath:
        return None
    target_start = inner_start + len(raw_target) - len(raw_target.lstrip())
    if display is None:
        return target, target_start, target_start + len(target), subpath, None, -1, -1
    display_end = inner_start + len(inner)
    return (
        target,
        target_start,
        target_start + len(target),
        subpath,
        display,
        inner_start + parts.start(4),
        display_end,
    )


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
    """Whether `text[start:end]` holds a `](`, which every markdown link has. Its first few `(` are looked
    at one by one, each found at memchr speed: a note with code has a couple (`print(x)`, `$O(n)$`), and
    the regex's literal search, faster than `str.find` for two characters, scans the whole body (~1 µs on
    4 KB). Past them, the regex from there."""
    at = text.find("(", start, end)
    for _ in range(_PARENTHESES_LOOKED_AT):
        if at < 0:
            return False
        if at > start and text[at - 1] == "]":
            return True
        at = text.find("(", at + 1, end)
    return at >= 0 and _MARKDOWN_OPENER_RE.search(text, at - 1, end) is not None


# How many `(` `_may_hold_markdown_links` looks at before it searches for `](` with the regex.
_PARENTHESES_LOOKED_AT = 4


def _markdown_links(text: str, start: int, end: int) -> list[Link]:
    if not _may_hold_markdown_links(text, start, end):
        return []
    found = []
    for match in _markdown_matches(text, start, end):  # `_MD_LINK_RE.finditer`'s matches, found sooner
        angle = match.group(2) is not None
        group = 2 if angle else 3
        destination = match.group(group)
        if not destination or destination.startswith("#") or _URL_SCHEME_RE.match(destination):
            continue
        hash_at = destination.find("#")
        raw_target = destination if hash_at < 0 else destination[:hash_at]
        dest_start = match.start(group)
        link_start = match.start()
        embed = link_start > start and text[link_start - 1] == "!"
        found.append(
            _new_link(
                (
                    MARKDOWN,
                    link_start - 1 if embed else link_start,
                    match.end(),
                    (unquote(raw_target) if "%" in raw_target else raw_target).strip(),
                    dest_start,
                    dest_start + len(raw_target),
                    "" if hash_at < 0 else destination[hash_at:],
                    match.group(1),
                    match.start(1),
                    match.end(1),
                    None,
                    "",
                    "",
                    embed,
                    angle,
                    False,
                    False,
                )
            )
        )
    return found


def _markdown_matches(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    """`_MD_LINK_RE.finditer(text, start, end)`, its search started only on lines holding a `](`.

    A match's label runs from its `[` to its `](` without a line break, so no match starts on a line
    before the line of the next `](`: searching from that line's start finds the same leftmost match. The
    regex engine then tries the pattern at the `[`s of a few lines, not at every `[` of the body (each
    wikilink has two): ~3x faster on a body of wikilinks with a markdown link or two."""
    position = start
    search = _MD_LINK_RE.search
    find = text.find
    while True:
        # The next `](` at or after `position`: each `(` at memchr speed (prose has few), then its `]`.
        paren = find("(", position + 1, end)
        while paren > 0 and text[paren - 1] != "]":
            paren = find("(", paren + 1, end)
        if paren < 0:
            return
        match = search(text, max(position, text.rfind("\n", position, paren) + 1), end)
        if match is None:
            return
        yield match
        position = match.end()


def _markdown_spans(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """(start, end, target) of each link `_markdown_links` finds, without building its `Link`: what
    `check`'s fast path needs of a body's markdown links (tests/test_check_fast_path.py compares them)."""
    found = []
    for match in _markdown_matches(text, start, end):
        destination = match.group(2)
        if destination is None:
            destination = match.group(3)
        if not destination or destination[0] == "#" or _URL_SCHEME_RE.match(destination):
            continue
        hash_at = destination.find("#")
        link_start = match.start()
        if link_start > start and text[link_start - 1] == "!":
            link_start -= 1
        raw_target = destination if hash_at < 0 else destination[:hash_at]
        found.append(
            (link_start, match.end(), (unquote(raw_target) if "%" in raw_target else raw_target).strip())
        )
    return found


# --- frontmatter ----------------------------------------------------------------------------------

_KEY_LINE_RE = re.compile(r"^([A-Za-z_][\w\- .]*?)[ \t]*:(?:[ \t]+|(?=\r?\n)|$)", re.MULTILINE)
UNQUOTED_YAML = "unquoted-yaml"  # the `opaque` mark of `related: [[a]]`: a nested YAML list, not a link
UNDECODED_YAML = "undecoded-yaml"  # a scalar whose source could not be mapped: its links are never edited


def find_frontmatter_links(note: Note) -> list[Link]:
    """Wikilinks in any string of the YAML, plus bare values under the note's link properties, read
    through the YAML composer (`yamlscalars`): what YAML reads, mapped back to where it is written.

    Only a frontmatter holding `[[` or a link property is read; one in the simple one-key-per-line grammar
    without `[[` (`Note.simple_yaml`: no escapes, no folding) has its values located by that grammar.
    YAML that does not compose gives its `[[…]]` as written, for callers to leave alone with a reason
    (`Note.frontmatter_editable` is False then)."""
    text = note.text
    fm = note.frontmatter
    assert fm is not None
    has_brackets = text.find("[[", fm.start, fm.end) >= 0
    properties = note.link_properties
    keys = note.simple_keys
    if keys is not None:
        lines = _simple_key_lines(text, fm.start, fm.end, [name for name in properties if name in keys])
        if not has_brackets and not lines:
            return []
        bare = _simple_bare_values(text, lines, fm.end, properties) if lines else []
        wikilinks = _simple_wikilinks(text, fm.start, fm.end) if has_brackets else []
        if wikilinks is not None:
            return sorted([*bare, *wikilinks], key=lambda link: link.start) if wikilinks else bare
    elif not has_brackets and not (
        properties and _property_line_re(properties).search(text, fm.start, fm.end)
    ):
        return []
    composed = compose_frontmatter(text, fm.start, fm.end, properties)
    if composed is None:
        return [
            link._replace(kind=PROPERTY, property_name=_property_name(text, fm.start, link.start))
            for link in _wikilinks(text, fm.start, fm.end)
        ]
    links: list[Link] = []
    for scalar in composed.scalars:
        if "[[" in scalar.value:
            links.extend(_scalar_wikilinks(text, scalar))
        elif scalar.direct and scalar.key in properties and scalar.tag != _NULL_TAG:
            bare_link = _bare_value(text, scalar)
            if bare_link is not None:
                links.append(bare_link)
    for nested in composed.nested_lists:
        found = _wikilinks(text, nested.start, nested.end)
        if len(found) == 1 and (found[0].start, found[0].end) == (nested.start, nested.end):
            links.append(found[0]._replace(kind=PROPERTY, opaque=UNQUOTED_YAML, property_name=nested.key))
    links.sort(key=lambda link: link.start)
    return links


_NULL_TAG = "tag:yaml.org,2002:null"


def _scalar_wikilinks(text: str, scalar: Scalar) -> list[Link]:
    """The wikilinks of a scalar's value, each span mapped back to the source."""
    value = scalar.value
    found = _wikilinks(value, 0, len(value))
    if not found:
        return []
    starts = source_starts(text, scalar)
    if starts is None:
        return [
            Link(
                PROPERTY,
                scalar.start,
                scalar.end,
                link.target,
                scalar.start,
                scalar.end,
                opaque=UNDECODED_YAML,
            )
            for link in found
        ]
    return [
        Link(
            PROPERTY,
            starts[link.start],
            starts[link.end],
            link.target,
            starts[link.target_start],
            starts[link.target_end],
            link.subpath,
            link.display,
            starts[link.display_start] if link.display_start >= 0 else -1,
            starts[link.display_end] if link.display_start >= 0 else -1,
            None,
            scalar.style,
            scalar.key,
            link.embed,
            False,
            (link.start, link.end) != (0, len(value)),
            scalar.flow,
        )
        for link in found
    ]


def _bare_value(text: str, scalar: Scalar) -> Link | None:
    """A value under a link property as a link to the note it names (`related: [a, "b#H"]`)."""
    value = scalar.value
    if not value or value.startswith("[") or "](" in value:
        return None
    head, _, subpath = value.partition("#")
    target = head.strip()
    if not target:
        return None
    starts = source_starts(text, scalar)
    lead = len(head) - len(head.lstrip())
    if starts is None:
        return Link(BARE, scalar.start, scalar.end, target, scalar.start, scalar.end, opaque=UNDECODED_YAML)
    return Link(
        BARE,
        starts[0],
        starts[len(value)],
        target,
        starts[lead],
        starts[lead + len(target)],
        ("#" + subpath) if subpath else "",
        None,
        -1,
        -1,
        None,
        scalar.style,
        scalar.key,
        flow=scalar.flow,
    )


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


# A value of the simple grammar (`note._SIMPLE_LINE_RE`): a string without escapes, a list of them, a
# number or a word; nothing in it is escaped or folded, so each value is written exactly as it reads.
_SIMPLE_VALUE_RE = re.compile(
    r'"([^"]*)"|(\[[ ]*(?:"[^"\n]*"[ ]*,[ ]*)*(?:"[^"\n]*"[ ]*)?\])|([^\s"\[][^\s]*)'
)
_QUOTED_ITEM_RE = re.compile(r'"([^"\\\n]*)"')


def _simple_key_lines(text: str, start: int, end: int, names: list[str]) -> list[int]:
    """Where the lines of these keys start in a frontmatter (`text[start:end]`) in the simple grammar, in
    text order: each key is there once, on a line of its own, its colon right after it."""
    found = []
    for name in names:
        line = start if text.startswith(f"{name}:", start) else text.find(f"\n{name}:", start, end) + 1
        if line > 0:
            found.append(line)
    return sorted(found)


def _simple_bare_values(text: str, lines: list[int], end: int, properties: frozenset[str]) -> list[Link]:
    """The link properties' values of a frontmatter in the simple grammar, on their key lines (`lines`:
    where each starts, in text order)."""
    found: list[Link] = []
    line_re = _property_line_re(properties)
    for line in lines:
        match = line_re.match(text, line, end)
        if match is None:
            continue
        name = match.group(1)
        if name not in properties:
            continue
        value = _SIMPLE_VALUE_RE.match(text, match.end(), end)
        if value is None:
            continue
        if value.group(2) is not None:
            spans = [
                (item.start(1), item.end(1), '"') for item in _QUOTED_ITEM_RE.finditer(text, *value.span(2))
            ]
        elif value.group(1) is not None:
            spans = [(value.start(1), value.end(1), '"')]
        else:
            spans = [(value.start(3), value.end(3), "")]
        for span_start, span_end, quote in spans:
            link = _simple_bare_link(text, span_start, span_end, quote, name, value.group(2) is not None)
            if link is not None:
                found.append(link)
    return found


def _simple_bare_link(text: str, start: int, end: int, quote: str, name: str, flow: bool) -> Link | None:
    value = text[start:end]
    if value.startswith("[") or "](" in value:
        return None
    head, _, subpath = value.partition("#")
    target = head.strip()
    if not target:
        return None
    target_start = start + len(head) - len(head.lstrip())
    return _new_link(
        (
            BARE,
            start,
            end,
            target,
            target_start,
            target_start + len(target),
            ("#" + subpath) if subpath else "",
            None,
            -1,
            -1,
            None,
            quote,
            name,
            False,
            False,
            False,
            flow,
        )
    )


def _simple_wikilinks(text: str, start: int, end: int) -> list[Link] | None:
    """The wikilinks of a frontmatter in the simple grammar: there `[[` can only be inside a double-quoted
    string without escapes, written as it reads. None when a link's span crosses a quote (`["[[a", "b]]"]`
    holds no link): the composer must tell."""
    found = []
    for link in _wikilinks(text, start, end):
        if text.find('"', link.start, link.end) >= 0:
            return None
        line_start = text.rfind("\n", start, link.start) + 1
        colon = text.index(":", line_start)
        exact = text[link.start - 1] == '"' and text[link.end] == '"'
        flow = text[colon + 1 : link.start].lstrip(" ").startswith("[")
        found.append(
            link._replace(
                kind=PROPERTY, quote='"', property_name=text[line_start:colon], in_string=not exact, flow=flow
            )
        )
    return found


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
