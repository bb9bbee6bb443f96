"""Tags: find them as Obsidian does (frontmatter `tags`/`tag` in every form, inline `#tags`), list them,
and plan byte-safe renames and deletions as edits.

Frontmatter forms: a flow list (`tags: [a, "b"]`), a block list, one scalar, or the legacy comma/space
separated string (`tags: a, b`); any item may carry a leading `#` and any quoting, all kept as written.
Matching is case-insensitive (as in Obsidian) and covers nested tags: `old` matches `old` and `old/…`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from vaulttools.changes import BatchPlan, Mention, PlanReport, SkippedNote
from vaulttools.edits import Edit
from vaulttools.errors import EditConflict, VaultError
from vaulttools.note import Note, load_frontmatter_yaml
from vaulttools.parallel import map_notes
from vaulttools.planning import NoteOutcome, left_alone, note_change, plan_each_note, unreadable
from vaulttools.vault import Vault
from vaulttools.yamledit import RefusedEdit, format_scalar
from vaulttools.yamlnodes import (
    Entry,
    Scalar,
    UnreadableFrontmatter,
    colon_after,
    frontmatter_entries,
    is_block_sequence,
    line_end,
    line_start,
    scalar_of,
    sequence_items,
)

TAG_KEYS = ("tags", "tag")  # `tag`: the alias Obsidian read before 1.9; older vaults still carry it
# ASCII punctuation ends a tag, except `_`, `-` and `/` (nesting); any other character continues it:
# letters of every script, digits, emoji.
_TAG_CHAR = r"[^\s!-,.:-@\[-\^`{-~]"
_INLINE_TAG_RE = re.compile(rf"#({_TAG_CHAR}+)")
_WORD_BEFORE_HASH_RE = re.compile(r"[\w&]")  # `page#old`, `&#38;`: no tag mention in code
_TAG_NAME_RE = re.compile(rf"{_TAG_CHAR}+")
# The items of the legacy string form: `a, b c` is three tags.
_STRING_TOKEN_RE = re.compile(r"[^\s,]+")
# What a planned frontmatter value becomes: a new name, or removed from its list.
REMOVE = "\0remove"


def _cut_at_punctuation(name: str) -> str:
    """`name` up to its first non-ASCII punctuation mark (`“`, `。`, `…` end a tag as `.` does)."""
    if name.isascii():
        return name
    for index, char in enumerate(name):
        if not char.isascii() and unicodedata.category(char).startswith("P"):
            return name[:index]
    return name


def is_tag_name(name: str) -> bool:
    """Whether `name` (without `#`) is a tag Obsidian would read: tag characters only, no empty nesting
    level, and not digits alone (`#1984` is no tag)."""
    return (
        _TAG_NAME_RE.fullmatch(name) is not None
        and _cut_at_punctuation(name) == name
        and "//" not in name
        and not name.startswith("/")
        and not name.endswith("/")
        and not name.replace("/", "").isdigit()
    )


def checked_tag(name: str, role: str) -> str:
    """`name` without a leading `#`, or a `VaultError` saying why it is no tag."""
    bare = name.strip()
    bare = bare[1:] if bare.startswith("#") else bare
    if not is_tag_name(bare):
        raise VaultError(
            f"{role} {name!r} is not a tag: use letters, digits, `_`, `-` and `/` (no spaces, not only digits)"
        )
    return bare


def matches(name: str, old: str) -> bool:
    """`name` is `old` or nested under it, in any letter case."""
    head = name[: len(old)]
    return head.lower() == old.lower() and (len(name) == len(old) or name[len(old)] == "/")


# --- finding tags ---------------------------------------------------------------------------------------


class InlineTag(NamedTuple):
    start: int  # the `#`
    end: int
    name: str  # without `#`


def inline_tags(note: Note) -> list[InlineTag]:
    """The body's `#tags`: after whitespace or at a line start, not in code, math, HTML comments or links,
    not a heading's `#` (followed by a space), not digits alone. A trailing `/` is not part of the tag."""
    text = note.text
    body_start = note.body_start
    if text.find("#", body_start) < 0:
        return []
    link_spans: list[tuple[int, int]] | None = None
    found: list[InlineTag] = []
    for match in _INLINE_TAG_RE.finditer(text, body_start):
        start = match.start()
        if start > body_start and not text[start - 1].isspace():
            continue  # `a#b`, `page#frag`, `[[note#heading]]`
        name = _cut_at_punctuation(match.group(1)).rstrip("/")
        if not name or name.replace("/", "").isdigit() or note.region_at(start) is not None:
            continue
        if link_spans is None:
            # Only a note with a `[` can hold a link around a tag (`[see #x](…)`, `[[a #b]]`).
            has_links = text.find("[", body_start) >= 0
            link_spans = [(link.start, link.end) for link in note.links] if has_links else []
        if any(link_start <= start < link_end for link_start, link_end in link_spans):
            continue
        found.append(InlineTag(start, start + 1 + len(name), name))
    return found


def tags_in_opaque_parts(note: Note, touched: Callable[[str], bool]) -> list[Mention]:
    """`#tags` that `touched` says are to change, written where Obsidian does not read them as tags: in code,
    math, an HTML comment, or a frontmatter value other than `tags` (a query kept in a property). A rename
    leaves them, but a Dataview `FROM #old` query or a script's `#old` would stop finding the notes: each is
    listed for the user to review."""
    text = note.text
    if "#" not in text:
        return []
    fm = note.frontmatter
    spans = [(region.start, region.end, region.kind) for region in note.regions]
    if fm is not None:
        spans.insert(0, (fm.start, fm.end, "frontmatter"))
    mentions = []
    for start, end, kind in spans:
        for match in _INLINE_TAG_RE.finditer(text, start, end):
            mention = _mention(note, match, kind, touched)
            if mention is not None:
                mentions.append(mention)
    if fm is not None and mentions and mentions[0].reason == "frontmatter":
        real = _real_tag_hashes(note)
        mentions = [m for m in mentions if m.reason != "frontmatter" or (m.line, m.column) not in real]
    return mentions


def _mention(note: Note, match: re.Match[str], kind: str, touched: Callable[[str], bool]) -> Mention | None:
    start = match.start()
    if start > 0 and _WORD_BEFORE_HASH_RE.match(note.text, start - 1):
        return None  # `a#b`, `&#38;`; `/#old|` in a script's pattern is a mention
    name = _cut_at_punctuation(match.group(1)).rstrip("/")
    if not name or name.replace("/", "").isdigit() or not touched(name):
        return None
    line, column = note.line_col(start)
    return Mention(note.path, line, column, f"#{name}", kind)


def _real_tag_hashes(note: Note) -> set[tuple[int, int]]:
    """Where the `#` of a `tags` item written with one stands (line, column): a tag, not a mention."""
    try:
        values = frontmatter_tag_values(note, lambda _name: False)
    except UnreadableFrontmatter:
        return set()
    return {
        note.line_col(item.name_start - 1)
        for value in values
        for item in value.items
        if item.name_start > item.start
    }


def frontmatter_tag_names(properties: Mapping[str, Any] | None) -> list[str]:
    """The tags of loaded frontmatter (`tags` then `tag`), `#` dropped, as written otherwise."""
    names: list[str] = []
    for key in TAG_KEYS:
        for value in tag_values((properties or {}).get(key)):
            value = value.strip()
            name = value[1:] if value.startswith("#") else value
            if is_tag_name(name):
                names.append(name)
    return names


def tag_values(value: Any) -> list[str]:
    """A loaded `tags` value as its items: a list's items, a string's comma/space separated words."""
    if isinstance(value, list):
        return ["" if item is None else str(item) for item in value]
    if isinstance(value, str):
        return _STRING_TOKEN_RE.findall(value)
    if value is None or isinstance(value, dict):
        return []
    return [str(value)]


class FrontmatterTag(NamedTuple):
    """One item of a frontmatter tag value: `text[start:end]` is the item (the unit a removal takes),
    `text[name_start:name_start + len(name)]` its name without `#`."""

    start: int
    end: int
    name_start: int
    name: str
    value: str  # the item's value as loaded (with its `#`, if written)


@dataclass
class TagValue:
    """The tags under one frontmatter key, located."""

    entry: Entry
    form: str  # "flow", "block" or "string"
    items: list[FrontmatterTag]
    scalar: Scalar | None = None  # the string form's scalar


def frontmatter_tag_values(note: Note, touched: Callable[[str], bool]) -> list[TagValue]:
    """The located tag values of the note's frontmatter. Raises `UnreadableFrontmatter` when a value that
    holds a tag `touched` says is to change cannot be spliced (an escape, a folded or block scalar)."""
    text = note.text
    located: list[TagValue] = []
    for entry in frontmatter_entries(note, TAG_KEYS):
        items = sequence_items(text, entry.value, entry.base)
        if items is not None:
            form = "block" if is_block_sequence(entry.value) else "flow"
            for item in items:
                if not item.spliceable and _needs_edit(item.value, touched):
                    raise UnreadableFrontmatter(f"its tag {item.value!r} is written with escapes or folding")
            located.append(TagValue(entry, form, [_item_tag(item) for item in items]))
            continue
        scalar = _tag_scalar(text, entry)
        if scalar is None:
            continue
        if not scalar.spliceable:
            if _needs_edit(scalar.value, touched):
                raise UnreadableFrontmatter(f"its tags {scalar.value!r} are written with escapes or folding")
            continue
        tokens = [_token_tag(scalar, match) for match in _STRING_TOKEN_RE.finditer(scalar.value)]
        located.append(TagValue(entry, "string", tokens, scalar))
    return located


def _tag_scalar(text: str, entry: Entry) -> Scalar | None:
    if not isinstance(entry.value, yaml.ScalarNode) or not entry.value.value:
        return None
    if entry.value.tag != "tag:yaml.org,2002:str":
        return None  # `tags: null`, a number, a date: no tag Obsidian reads
    return scalar_of(text, entry.value, entry.base)


def _needs_edit(value: str, touched: Callable[[str], bool]) -> bool:
    return any(touched(token.lstrip("#")) for token in _STRING_TOKEN_RE.findall(value))


def _item_tag(item: Scalar) -> FrontmatterTag:
    """A list item as a tag (`name_start` -1: not spliceable, so never a tag to edit)."""
    hashed = item.value.startswith("#")
    name = item.value[1:] if hashed else item.value
    name_start = item.inner_start + hashed if item.spliceable else -1
    return FrontmatterTag(item.start, item.end, name_start, name, item.value)


def _token_tag(scalar: Scalar, match: re.Match[str]) -> FrontmatterTag:
    token = match.group(0)
    start = scalar.inner_start + match.start()
    hashed = token.startswith("#")
    return FrontmatterTag(start, start + len(token), start + hashed, token[hashed:], token)


# --- planning one note ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagPlanReport(PlanReport):
    """`plan.report` of tag rename and tag delete: the operation, what changed per note, what was left."""

    renames: list[list[str]]  # [OLD, NEW] pairs
    deleted: list[str]
    notes: list[dict[str, Any]]  # path and the note's counts
    skipped: list[SkippedNote]
    # `#OLD` in code, math or comments: not a tag to Obsidian, left as written and listed
    left_as_written: list[Mention] = field(default_factory=list)


@dataclass(frozen=True)
class TagOperation:
    """What happens to a tag: `renames` (OLD, NEW) pairs, applied simultaneously, or `deleted` tags."""

    renames: tuple[tuple[str, str], ...] = ()
    deleted: tuple[str, ...] = ()
    remove_inline: bool = False

    def target(self, name: str) -> str | None:
        """The new name of tag `name`, `REMOVE`, or None when the operation leaves it alone.
        The most specific OLD wins (`a/b → x` before `a → y` for `a/b/c`)."""
        best: tuple[str, str] | None = None
        for old, new in self.renames:
            if matches(name, old) and (best is None or len(old) > len(best[0])):
                best = (old, new)
        if best is not None:
            return best[1] + name[len(best[0]) :]
        if any(matches(name, tag) for tag in self.deleted):
            return REMOVE
        return None

    def touches(self, name: str) -> bool:
        return self.target(name) is not None

    @property
    def olds(self) -> list[str]:
        return [old for old, _ in self.renames] + list(self.deleted)


@dataclass
class NoteTagResult:
    edits: list[Edit] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    expected: dict[str, list[str]] = field(default_factory=dict)  # tag key -> its items after the edits


def plan_note_tags(note: Note, operation: TagOperation) -> NoteTagResult:
    """The edits of one note (raises `UnreadableFrontmatter` for a note left alone)."""
    result = NoteTagResult()
    values = frontmatter_tag_values(note, operation.touches) if note.frontmatter else []
    present = {
        item.name.lower() for value in values for item in value.items if not operation.touches(item.name)
    }
    for value in values:
        _plan_value(note, value, operation, present, result)
    _plan_inline(note, operation, result)
    return result


def _plan_value(
    note: Note, value: TagValue, operation: TagOperation, present: set[str], result: NoteTagResult
) -> None:
    removed: list[int] = []
    expected: list[str] = []
    # What the loader reads for each item (`- null` is "", `- 1.0` "1.0"): kept items must read the same.
    loaded = tag_values((note.properties or {}).get(value.entry.key.value))
    if len(loaded) != len(value.items):
        loaded = [item.value for item in value.items]
    for index, item in enumerate(value.items):
        target = operation.target(item.name)
        if target is None:
            expected.append(loaded[index])
        elif target == REMOVE:
            removed.append(index)
            result.counts["frontmatter_deleted"] += 1
        elif target.lower() in present and target != item.name:
            removed.append(index)  # the note has the new tag already: a merge, not a duplicate
            result.counts["merged"] += 1
        else:
            present.add(target.lower())
            end = item.name_start + len(item.name)
            new = _yaml_name(note, value, item, target)
            result.edits.append(Edit(item.name_start, end, item.name, new, "frontmatter-tag"))
            result.counts["frontmatter_renamed"] += item.name != target
            expected.append(item.value[: len(item.value) - len(item.name)] + target)
    result.edits += _removal_edits(note.text, value, removed)
    result.expected[value.entry.key.value] = expected


def _yaml_name(note: Note, value: TagValue, item: FrontmatterTag, target: str) -> str:
    """`target` as it must be written in place of the item's name (its quoting kept)."""
    quote = ""
    if value.form != "string":
        quote = note.text[item.start] if note.text[item.start] in "'\"" else ""
    elif value.scalar is not None and value.scalar.style:
        quote = value.scalar.style
    where = f"{note.path}: tag {item.value!r}"
    if quote:
        return format_scalar(target, quote, in_flow=value.form == "flow", where=where)
    hashed = item.name_start > item.start
    if hashed or value.form == "string":
        return target  # after a `#` (inside quotes) or inside a string of words: tag characters are safe
    return format_scalar(target, "", in_flow=value.form == "flow", where=where)


def _removal_edits(text: str, value: TagValue, removed: list[int]) -> list[Edit]:
    """Edits that take the `removed` items out of their list or string, with their separators or lines;
    an emptied value becomes `[]` (an empty list Obsidian reads, never an invalid one)."""
    if not removed:
        return []
    items = value.items
    if len(removed) == len(items):
        return [_emptied(text, value)]
    if value.form == "block":
        edits = []
        for index in removed:
            start = line_start(text, items[index].start)
            end = line_end(text, items[index].end, len(text))
            edits.append(Edit(start, end, text[start:end], "", "frontmatter-tag-removed"))
        return edits
    # Flow list or string of words: an item goes with the separator before it; items before the first
    # kept one go with the separator after them.
    removed_set = set(removed)
    first_kept = next(i for i in range(len(items)) if i not in removed_set)
    spans = []
    if first_kept > 0:
        spans.append((items[0].start, items[first_kept].start))
    spans += [(items[i - 1].end, items[i].end) for i in removed if i > first_kept]
    return [Edit(start, end, text[start:end], "", "frontmatter-tag-removed") for start, end in spans]


def _emptied(text: str, value: TagValue) -> Edit:
    items = value.items
    if value.form == "flow":
        start, end = items[0].start, items[-1].end
        return Edit(start, end, text[start:end], "", "frontmatter-tag-removed")
    if value.form == "string" and value.scalar is not None:
        start, end = value.scalar.start, value.scalar.end
        return Edit(start, end, text[start:end], "[]", "frontmatter-tag-removed")
    start = colon_after(text, value.entry.key)
    end = line_end(text, items[-1].end, len(text))
    end -= 2 if text[end - 2 : end] == "\r\n" else 1 if text[end - 1 : end] == "\n" else 0
    return Edit(start, end, text[start:end], " []", "frontmatter-tag-removed")


def _plan_inline(note: Note, operation: TagOperation, result: NoteTagResult) -> None:
    tags = inline_tags(note)
    targets = [operation.target(tag.name) for tag in tags]
    if not any(t is not None for t in targets):
        return
    removable = _alone_in_tag_runs(note.text, tags, targets) if operation.remove_inline else {}
    for tag, target in zip(tags, targets, strict=True):
        if target is None:
            continue
        if target != REMOVE:
            result.edits.append(Edit(tag.start + 1, tag.end, tag.name, target, "inline-tag"))
            result.counts["inline_renamed"] += tag.name != target
        elif tag.start in removable:
            start, end = removable[tag.start]
            if start >= 0:  # -1: another tag's edit already takes this one (its whole line)
                result.edits.append(Edit(start, end, note.text[start:end], "", "inline-tag-removed"))
            result.counts["inline_removed"] += 1
        else:
            result.edits.append(Edit(tag.start, tag.start + 1, "#", "", "inline-tag-unhashed"))
            result.counts["inline_unhashed"] += 1


def _alone_in_tag_runs(
    text: str, tags: list[InlineTag], targets: list[str | None]
) -> dict[int, tuple[int, int]]:
    """For each removed tag on a line that holds only tags: the span to delete (with the whitespace that
    separates it from its neighbours; the whole line when every tag on it goes)."""
    by_line: dict[int, list[int]] = {}
    for index, tag in enumerate(tags):
        by_line.setdefault(line_start(text, tag.start), []).append(index)
    spans: dict[int, tuple[int, int]] = {}
    for start_of_line, indexes in by_line.items():
        end_of_line = line_end(text, start_of_line, len(text))
        content_end = len(text[start_of_line:end_of_line].rstrip("\r\n")) + start_of_line
        rest = text[start_of_line:content_end]
        for index in reversed(indexes):
            tag = tags[index]
            rest = rest[: tag.start - start_of_line] + rest[tag.end - start_of_line :]
        if rest.strip():
            continue  # prose around the tags: they only lose their `#`
        gone = [i for i in indexes if targets[i] == REMOVE]
        if len(gone) == len(indexes):
            spans[tags[gone[0]].start] = (start_of_line, end_of_line)
            spans.update({tags[i].start: (-1, -1) for i in gone[1:]})
            continue
        last_kept = max(i for i in indexes if targets[i] != REMOVE)
        for i in gone:
            if i < last_kept:
                spans[tags[i].start] = (tags[i].start, tags[i + 1].start)
            else:
                spans[tags[i].start] = (tags[i - 1].end, tags[i].end)
    return spans


def yaml_check(path: str, expected: Mapping[str, list[str]]) -> Callable[[str, str], None]:
    """The proof that an edited frontmatter is the old one with exactly the planned tag items."""

    def check(old_yaml: str, new_yaml: str) -> None:
        old, _ = load_frontmatter_yaml(old_yaml)
        new, error = load_frontmatter_yaml(new_yaml)
        if new is None or old is None:
            raise EditConflict(
                f"{path}: the edited frontmatter would not parse ({error}); nothing was written"
            )
        if list(old) != list(new):
            raise EditConflict(f"{path}: the edit would change the frontmatter's keys; nothing was written")
        for key, old_value in old.items():
            if key in expected:
                same_form = isinstance(new[key], list) == isinstance(old_value, list) or new[key] == []
                if tag_values(new[key]) != expected[key] or not same_form:
                    raise EditConflict(
                        f"{path}: {key!r} would not hold the planned tags; nothing was written"
                    )
            elif new[key] != old_value:
                raise EditConflict(f"{path}: the edit would change {key!r}; nothing was written")

    return check


# --- planning the vault -----------------------------------------------------------------------------------


_UTF8_BOM = b"\xef\xbb\xbf"
# note.py's frontmatter lines, on bytes: the prefilter sees raw files, before any decoding.
_OPENER_BYTES_RE = re.compile(rb"---[ \t]*\r?\n")
_CLOSER_BYTES_RE = re.compile(rb"\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)")


def frontmatter_byte_end(raw: bytes) -> int:
    """Where a note's frontmatter ends in its bytes (0 without one; the whole file when it never closes),
    found as `Note` finds it: `---` on the first line (after a BOM), closed by a line of `---` or `...`."""
    opener = _OPENER_BYTES_RE.match(raw, len(_UTF8_BOM) if raw.startswith(_UTF8_BOM) else 0)
    if opener is None:
        return 0
    closer = _CLOSER_BYTES_RE.search(raw, opener.end() - 1)
    return len(raw) if closer is None else closer.end()


def _readable(raw: bytes) -> bool:
    """Whether `Note` can read the bytes (UTF-8, no NUL where a binary file has them)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return raw.find(b"\x00", 0, 8192) < 0


def _spelled_as_tag(needles: Sequence[bytes]) -> re.Pattern[bytes]:
    """The lowered ASCII names where they may be a whole tag or its head (`old/…`): no tag character (nor a
    `/` of a parent level) before them, none after them. `trust` in `concept-trust-bias` is no tag."""
    if not needles:
        return re.compile(rb"(?!)")
    names = b"|".join(re.escape(needle) for needle in needles)
    return re.compile(rb"(?<![a-z0-9_\-/\x80-\xff])(?:" + names + rb")(?![a-z0-9_\-\x80-\xff])")


_TAG_KEY_LINE_RE = re.compile(rb"tags?[ \t]*:")
_OTHER_KEY_LINE_RE = re.compile(rb"[a-z_][a-z0-9_ -]*:(?:[ \t]|\r?$)", re.MULTILINE)


def _in_tag_value(folded: bytes, at: int) -> bool:
    """Whether position `at` of a lowered frontmatter may lie in a `tags`/`tag` value: the key line it
    belongs to (the last line before it, or its own, that starts in column 0 with neither a space, a tab,
    a `-` nor a `#`) is a tag key's, or a line this byte scan cannot read (a quoted key, a flow mapping).
    Only a plain key line of another key (`definition: …lose trust…`) rules the position out."""
    line_start = folded.rfind(b"\n", 0, at) + 1
    while folded[line_start : line_start + 1] in (b" ", b"\t", b"-", b"#", b"\r", b"\n") and line_start > 0:
        line_start = folded.rfind(b"\n", 0, line_start - 1) + 1
    if _TAG_KEY_LINE_RE.match(folded, line_start):
        return True
    return _OTHER_KEY_LINE_RE.match(folded, line_start) is None


def frontmatter_may_name(folded: bytes, end: int, as_tag: re.Pattern[bytes]) -> bool:
    """Whether the lowered frontmatter `folded[:end]` may hold a tag `as_tag` spells, in a tag value."""
    if folded.find(b"\\", 0, end) >= 0:
        return True  # a backslash: an escape may stand before the name (`"\ttrust"`)
    return any(_in_tag_value(folded, match.start()) for match in as_tag.finditer(folded, 0, end))


def candidate_filter(olds: Iterable[str]) -> Callable[[bytes], bool]:
    """A byte prefilter: whether a note's bytes may hold one of the tags (ASCII letters folded). A tag is
    in the frontmatter or after a `#`: a note that spells an ASCII tag only as a word of its text (`trust`
    in most notes of a vault tagged `trust`) has nothing to edit, unless it cannot be read (then it is
    reported as left alone, as any note that may hold the tag)."""
    needles = [old.lower() for old in olds]
    ascii_needles = [n.encode() for n in needles if n.isascii()]
    other = [n for n in needles if not n.isascii()]
    as_tag = _spelled_as_tag(ascii_needles)
    hashed = re.compile(rb"#" + as_tag.pattern)  # `#trust` anywhere: an inline tag, or one in code or a query

    def may_hold(raw: bytes) -> bool:
        # A lowered copy and `in` run at C speed: ~7x faster than one `re.IGNORECASE` search.
        folded = raw.lower()
        if any(needle in folded for needle in ascii_needles):
            end = frontmatter_byte_end(raw)
            if hashed.search(folded):
                return True
            if frontmatter_may_name(folded, end, as_tag):
                return True
            if not _readable(raw):
                return True
        return bool(other) and any(n in raw.decode("utf-8", "replace").lower() for n in other)

    return may_hold


def plan_tags(vault: Vault, operation: TagOperation, command: str, summary: str) -> BatchPlan[TagPlanReport]:
    """Every note's tag edits as one batch; notes are read on every core for big vaults."""
    planned = plan_each_note(
        vault, candidate_filter(operation.olds), lambda note: plan_tag_note(note, operation)
    )
    counts = {"notes_changed": len(planned.changes)}
    counts.update({key: planned.totals[key] for key in _COUNT_KEYS})
    counts["notes_skipped"] = len(planned.left_alone)
    report = TagPlanReport(
        [list(pair) for pair in operation.renames],
        list(operation.deleted),
        planned.notes,
        planned.left_alone,
        planned.mentions,
    )
    return planned.batch(command, summary, counts, report, vault.read_bytes)


_COUNT_KEYS = (
    "frontmatter_renamed",
    "inline_renamed",
    "merged",
    "frontmatter_deleted",
    "inline_unhashed",
    "inline_removed",
)


def plan_tag_note(note: Note, operation: TagOperation) -> NoteOutcome:
    """One note's verified change, or why it is left alone."""
    if not note.editable:
        return unreadable(note, str(note.decode_error))
    try:
        result = plan_note_tags(note, operation)
        change = note_change(note, result.edits, yaml_check=yaml_check(note.path, result.expected))
    except UnreadableFrontmatter as exc:
        if not _mentions(note, operation):
            return NoteOutcome(note.path, None, {})  # the prefilter's match was no tag
        return unreadable(note, exc.message)
    except (RefusedEdit, EditConflict) as exc:
        return left_alone(note, exc)
    counts = {key: n for key, n in result.counts.items() if n}
    mentions = tuple(tags_in_opaque_parts(note, operation.touches))
    return NoteOutcome(note.path, change, counts if change is not None else {}, mentions=mentions)


def _mentions(note: Note, operation: TagOperation) -> bool:
    """Whether a note left alone must be reported: an inline tag to edit, or an OLD in its frontmatter."""
    if any(operation.touches(tag.name) for tag in inline_tags(note)):
        return True
    if any(operation.touches(name) for name in frontmatter_tag_names(note.properties)):
        return True  # written with escapes
    # The same test as the prefilter's: a name spelled where a tag value may be, not any word of the YAML.
    # Only where a name is spelled at all: a backslash alone (`\---`) is no mention, as in the prefilter.
    ascii_olds = [old.lower().encode() for old in operation.olds if old.isascii()]
    folded = note.raw.lower()
    if any(old in folded for old in ascii_olds) and frontmatter_may_name(
        folded, frontmatter_byte_end(note.raw), _spelled_as_tag(ascii_olds)
    ):
        return True
    fm = note.frontmatter
    yaml_text = note.text[fm.start : fm.end].lower() if fm else ""
    return any(old.lower() in yaml_text for old in operation.olds if not old.isascii())


def plan_tag_rename(vault: Vault, pairs: Sequence[tuple[str, str]]) -> BatchPlan[TagPlanReport]:
    """Rename every OLD tag (and its nested tags) to NEW, simultaneously for all pairs."""
    renames = tuple((checked_tag(old, "OLD"), checked_tag(new, "NEW")) for old, new in pairs)
    if not renames:
        raise VaultError("give OLD and NEW (e.g. `vaulttools tag rename todo task`), or --map FILE")
    folded = [old.lower() for old, _ in renames]
    duplicate = next((old for old in folded if folded.count(old) > 1), None)
    if duplicate is not None:
        raise VaultError(f"the tag {duplicate!r} is renamed twice; keep one NEW for it")
    if len(renames) == 1:
        summary = f"rename tag #{renames[0][0]} to #{renames[0][1]}"
    else:
        summary = f"rename {len(renames)} tags"
    return plan_tags(vault, TagOperation(renames=renames), "tag rename", summary)


def plan_tag_delete(vault: Vault, tag: str, *, remove_inline: bool = False) -> BatchPlan[TagPlanReport]:
    name = checked_tag(tag, "TAG")
    operation = TagOperation(deleted=(name,), remove_inline=remove_inline)
    return plan_tags(vault, operation, "tag delete", f"delete tag #{name}")


# --- listing ---------------------------------------------------------------------------------------------


@dataclass
class TagStats:
    spellings: Counter = field(default_factory=Counter)
    notes: int = 0
    frontmatter: int = 0
    inline: int = 0


def note_tags(note: Note) -> tuple[list[str], list[str]]:
    """(frontmatter tags, inline tags) of a note, as written (without `#`)."""
    if not note.editable:
        return [], []
    properties = note.properties if note.frontmatter_editable else None
    return frontmatter_tag_names(properties), [tag.name for tag in inline_tags(note)]


def list_tags(vault: Vault) -> dict[str, Any]:
    """Every tag with its counts; tags differing only in letter case are one (listed with each spelling).
    Parents of nested tags are listed too (`implied` when no note has the parent itself)."""
    link_properties = vault.config.link_property_set

    def chunk_tags(paths: list[str]) -> list[tuple[list[str], list[str]]]:
        results = []
        for path in paths:
            raw = vault.read_bytes(path)
            if b"tag" in raw or b"#" in raw:
                results.append(note_tags(Note(path, raw, link_properties)))
        return results

    stats: dict[str, TagStats] = {}
    for in_frontmatter, in_body in map_notes(chunk_tags, vault.note_paths, on_progress=vault.on_progress):
        for name in in_frontmatter:
            _stats_of(stats, name).frontmatter += 1
        for name in in_body:
            _stats_of(stats, name).inline += 1
        for folded in {name.lower() for name in (*in_frontmatter, *in_body)}:
            stats[folded].notes += 1
    return {"version": 1, "notes_scanned": len(vault.note_paths), "tags": list(_rows(stats))}


def _stats_of(stats: dict[str, TagStats], name: str) -> TagStats:
    entry = stats.setdefault(name.lower(), TagStats())
    entry.spellings[name] += 1
    return entry


def _rows(stats: dict[str, TagStats]) -> Iterator[dict[str, Any]]:
    folded_names = set(stats)
    for folded in list(folded_names):
        parts = folded.split("/")
        folded_names.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    for folded in sorted(folded_names):
        entry = stats.get(folded)
        spellings = [name for name, _ in entry.spellings.most_common()] if entry else []
        parent = folded.rpartition("/")[0]
        yield {
            "tag": spellings[0] if spellings else _implied_spelling(stats, folded),
            "spellings": spellings,
            "notes": entry.notes if entry else 0,
            "frontmatter": entry.frontmatter if entry else 0,
            "inline": entry.inline if entry else 0,
            "depth": folded.count("/"),
            "parent": parent or None,
            "implied": entry is None,
        }


def _implied_spelling(stats: dict[str, TagStats], folded: str) -> str:
    """A parent no note names by itself, spelled as its most common child spells it."""
    for child, entry in sorted(stats.items()):
        if child.startswith(folded + "/"):
            return entry.spellings.most_common(1)[0][0][: len(folded)]
    return folded
