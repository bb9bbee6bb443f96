"""`sync-related`: rank notes of other groups and keep each note's "Related across articles" section.

Two halves, both pure:

* scoring (`related_rank`): per-note facts (groups, tags, resolved link targets, body words) go into
  inverted indexes; a note's candidates are gathered by walking only the postings of its own features,
  never by comparing all pairs. See `related_rank` for the evidence and how it is combined;
* section planning: where the section is (or goes) in a note's text and the one `Edit` that rewrites only its
  list, appends it after two blank lines, or removes it.

The facts come from `Vault.facts()` (cached in `.vaulttools/cache`, parsed on every core when stale), not from
parsed notes: a note is read only when its section may change, and forgotten once planned.

Groups: by a property (`related.group_by = "property"`, `related.group_property`; a list value puts the note
in every group it names) or by folder (`"folder"`, the first `related.folder_depth` folders of its path).
Candidates are notes sharing no group with the note. Links inside a "Related across articles" section are
never evidence, nor do they count as the note linking a candidate, so the output does not feed itself.
"""

from __future__ import annotations

import array
import itertools
import os
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from vaulttools.changes import BatchPlan, FileChange, PlanReport, Spool, spool_all
from vaulttools.config import RelatedConfig
from vaulttools.edits import Edit
from vaulttools.errors import VaultError
from vaulttools.facts import (
    LINK_OPAQUE,
    LINK_START,
    LINK_TARGET,
    LINK_WRITTEN,
    READ_AHEAD_NOTES,
    scan_view_of_record,
)
from vaulttools.facts import NoteFacts as FileFacts
from vaulttools.files import clock_mark, read_with_status, stamp_of_status
from vaulttools.git import ObjectStore
from vaulttools.linkedit import encode_markdown_target
from vaulttools.links import inline_tags
from vaulttools.note import Note
from vaulttools.parallel import forks_for, in_fork, iter_chunks, release_freed_memory
from vaulttools.planning import note_change
from vaulttools.related_rank import (
    COMMON_FRACTION,
    MIN_COMMON_CUTOFF,
    Candidate,
    IndexRow,
    LinkPlaces,
    Reason,
    Weights,
    WordNumbers,
    body_words,
    common_cutoff,
    pack_words,
    parse_words,
)
from vaulttools.resolve import RESOLVED, LinkIndex, fold, stem_of, strip_md
from vaulttools.sections import Section, find_section, section_at
from vaulttools.vault import Vault, gc_paused

# `related_index` (numpy and SciPy, ~0.25 s to import) is imported where it is first used: a big vault's
# scan first needs it in `assemble_scan`, while its forked workers read the facts, so the import leaves
# the serial start of the command (and the workers fork without it).
if TYPE_CHECKING:
    from vaulttools.record_file import FactRecords
    from vaulttools.related_index import RelatedIndex

__all__ = ["COMMON_FRACTION", "MIN_COMMON_CUTOFF", "Candidate", "Reason", "common_cutoff"]

ADDED = "added"
UPDATED = "updated"
REMOVED = "removed"
UNCHANGED = "unchanged"
ROOT_GROUP = "/"  # the folder group of notes at the vault root
NO_SECTION = (-1, -1)  # the facts' span of a note without a related section


# --- facts about one note ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringFacts:
    """What scoring needs from one grouped note."""

    path: str
    group: str | tuple[str, ...]  # one group, or every group of a list-valued group property
    tags: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()  # resolved paths it links, outside its related section
    words: str = ""  # the note's words as `word` or `word*count`, space-separated (`parse_words`)

    @property
    def stem(self) -> str:
        return stem_of(self.path)

    @property
    def groups(self) -> tuple[str, ...]:
        return (self.group,) if isinstance(self.group, str) else self.group


def _group_name(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        return None
    text = str(value).strip()
    return text or None


def groups_of(properties: Mapping[str, Any], group_property: str) -> tuple[str, ...]:
    """The note's groups: a non-empty scalar value of the group property, or every such item of a list."""
    value = properties.get(group_property)
    items = value if isinstance(value, list) else [value]
    return tuple(sorted({name for item in items if (name := _group_name(item)) is not None}))


def group_of(properties: Mapping[str, Any], group_property: str) -> str | None:
    """The note's group when the property holds one scalar, else None (kept for callers of one group)."""
    return _group_name(properties.get(group_property))


def folder_group(path: str, depth: int) -> str:
    """The first `depth` folders of a vault path (`ROOT_GROUP` for a note at the root)."""
    folders = path.split("/")[:-1]
    return "/".join(folders[:depth]) or ROOT_GROUP


def tags_of(properties: Mapping[str, Any], known: dict[str, str] | None = None) -> frozenset[str]:
    """`tags` (and the older `tag`) as a list or a comma/space separated string; `#` and case dropped.

    `known`: each tag as written (a string item) to what it counts as, filled as tags are met; a scan
    passes one for all its notes, since a vault's notes share a few thousand tags (a long note carries
    15-40 of them)."""
    known = {} if known is None else known
    found: set[str] = set()
    for key in ("tags", "tag"):
        value = properties.get(key)
        items = (
            value if isinstance(value, list) else re.split(r"[,\s]+", value) if isinstance(value, str) else []
        )
        for item in items:
            if isinstance(item, str):
                tag = known.get(item)
                if tag is None:
                    tag = known[item] = _tag_name(item)
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                tag = _tag_name(str(item))
            else:
                continue
            if tag:
                found.add(tag)
    return frozenset(found)


def _tag_name(written: str) -> str:
    return written.strip().lstrip("#").lower()


def note_facts(
    note: Note,
    properties: Mapping[str, Any],
    group: str | tuple[str, ...],
    resolve: Callable[[str, str], str | None],
    config: RelatedConfig,
) -> ScoringFacts:
    """The facts of a grouped note; links inside its own related section are left out."""
    section = find_section(note, config.heading)
    skip_from, skip_to = (section.heading_start, section.end) if section else (-1, -1)
    targets: set[str] = set()
    for link in note.links:
        if not link.is_link or skip_from <= link.start < skip_to:
            continue
        path = resolve(link.target, note.path)
        if path is not None and path != note.path:
            targets.add(path)
    tags = tags_of(properties) | inline_tags(note)
    words, counts = body_words(note, (skip_from, skip_to))
    written = " ".join(w if n == 1 else f"{w}*{n}" for w, n in zip(words.split(), counts, strict=True))
    return ScoringFacts(note.path, group, tags, frozenset(targets), written)


def cached_resolver(index: LinkIndex) -> Callable[[str, str], str | None]:
    """`index.resolve` to a path (None unless resolved), cached per target and linking folder."""
    cache: dict[tuple[str, str], str | None] = {}
    missing = object()

    def resolve(target: str, source: str) -> str | None:
        key = (target, source[: source.rfind("/") + 1])  # the folder, as `dirname` but cheaper
        found = cache.get(key, missing)
        if found is missing:
            resolution = index.resolve(target, source)
            found = cache[key] = resolution.path if resolution.status == RESOLVED else None
        return found  # type: ignore[return-value]  # never `missing` here

    return resolve


# --- scoring -----------------------------------------------------------------------------------------


def weights_of(config: RelatedConfig) -> Weights:
    return Weights(
        text=config.text_weight,
        mention=config.mention_weight,
        neighbours=config.target_weight,
        link=config.link_weight,
        tag=config.tag_weight,
        include_linked=config.include_linked,
    )


def index_row(facts: ScoringFacts) -> IndexRow:
    """One note's row of the related index, its words as text."""
    return IndexRow(
        facts.path,
        facts.groups,
        tuple(sorted(facts.tags)),
        tuple(sorted(facts.targets)),
        pack_words(parse_words(facts.words)),
    )


def build_index(all_facts: Iterable[ScoringFacts], common_share: float = COMMON_FRACTION) -> RelatedIndex:
    from vaulttools.related_index import RelatedIndex

    return RelatedIndex(
        [index_row(f) for f in all_facts],
        common_share,
    )


def score_candidates(
    index: RelatedIndex, path: str, config: RelatedConfig, *, explain: bool = False
) -> list[Candidate]:
    """Every note sharing no group with `path` that has any evidence, best first (score, then name).

    With `explain`, each candidate carries the reasons behind its score.
    """
    from vaulttools.related_index import ranked_candidates

    return ranked_candidates(index, index.number[path], weights_of(config), explain=explain)


def best_candidates(index: RelatedIndex, path: str, config: RelatedConfig, limit: int) -> list[Candidate]:
    return best_candidates_of(index, index.number[path], config, limit)


def best_candidates_of(
    index: RelatedIndex, number: int, config: RelatedConfig, limit: int
) -> list[Candidate]:
    """The `limit` best candidates scoring at least `min_score`: what the section lists."""
    from vaulttools.related_index import top_candidates

    return top_candidates(index, number, weights_of(config), limit, config.min_score)


def choose(candidates: list[Candidate], limit: int, min_score: float) -> list[Candidate]:
    return [c for c in candidates if c.score >= min_score][:limit]


# --- the section -------------------------------------------------------------------------------------


def _content_end(text: str, floor: int, before: int) -> int:
    """End of the last line with content before `before` (its trailing spaces kept, its newline not)."""
    last = len(text[floor:before].rstrip(" \t\r\n")) + floor
    if last <= floor:
        return floor
    newline = text.find("\n", last, before)
    if newline < 0:
        return before
    return newline - 1 if newline > last and text[newline - 1] == "\r" else newline


def _lead(text: str, start: int, body_start: int, nl: str) -> str:
    """What goes before a new heading: end the last line and leave two blank lines; nothing in an empty body."""
    if start > body_start:
        return nl * 3
    return "" if start == 0 or text[start - 1] == "\n" else nl


def _listing(entries: list[str], nl: str) -> str:
    return "".join(f"- {entry}{nl}" for entry in entries)


def _already_lists(text: str, nl: str, section: Section, listing: str) -> bool:
    """The section says exactly `listing` (no listing: keeps only editors' words), so it stays as it is."""
    current = text[section.list_start : section.list_end]
    if listing:
        # The same list; a missing final newline is not worth a diff.
        return current == listing or (section.list_end == len(text) and current + nl == listing)
    return not current and not section.only_list


def section_is_current(note: Note, span: tuple[int, int], entries: list[str]) -> bool:
    """Whether the section at `span` (heading start, end; from the facts cache) already lists `entries`,
    i.e. `section_edit` would change nothing; decided on the text alone, without parsing links or YAML."""
    text = note.text
    start, end = span
    if not (0 <= start < end <= len(text)) or text[start] != "#":
        return False  # the span does not fit this text: let `section_edit` look for itself
    return _already_lists(text, note.newline, section_at(text, start, end), _listing(entries, note.newline))


# `section_edit`'s default: the section is looked for in the note (`find_section`).
FIND = object()


def section_edit(
    note: Note, heading: str, entries: list[str], section: Section | object | None = FIND
) -> tuple[Edit | None, str]:
    """The one edit that makes the note's related section list `entries`, and what it does.

    Appends a new section after two blank lines, rewrites only the list lines of an existing one, or (no
    entries) removes a generated section with the blank lines before it. Returns (None, UNCHANGED) when the
    note already says exactly this. `section`: the note's section when already known (`_known_section`).
    """
    text, nl = note.text, note.newline
    listing = _listing(entries, nl)
    # A note that ends without a newline keeps ending without one: only the section's own bytes change.
    unterminated = bool(text) and not text.endswith("\n")
    section = find_section(note, heading) if section is FIND else cast(Section | None, section)
    if section is None:
        if not entries:
            return None, UNCHANGED
        start = _content_end(text, note.body_start, len(text))
        new = f"{_lead(text, start, note.body_start, nl)}## {heading}{nl}{listing}"
        new = new.removesuffix(nl) if unterminated else new
        return Edit(start, len(text), text[start:], new, "related-section"), ADDED
    if _already_lists(text, nl, section, listing):
        return None, UNCHANGED
    current = text[section.list_start : section.list_end]
    if entries:
        new = listing
        if section.list_start > 0 and text[section.list_start - 1] != "\n":
            new = nl + listing  # the heading is the last line and has no newline
        if unterminated and section.list_end == len(text):
            new = new.removesuffix(nl)
        return Edit(section.list_start, section.list_end, current, new, "related-list"), UPDATED
    if not section.only_list:
        # Editors wrote more than a list under the heading: empty the list, keep their words.
        return Edit(section.list_start, section.list_end, current, "", "related-list"), REMOVED
    if section.end == len(text):
        start = _content_end(text, note.body_start, section.heading_start)
        new = nl if start > note.body_start and not unterminated else ""
        return Edit(start, len(text), text[start:], new, "related-section"), REMOVED
    # Followed by more of the note: drop the heading and list, keep the spacing before it.
    old = text[section.heading_start : section.end]
    return Edit(section.heading_start, section.end, old, "", "related-section"), REMOVED


def entry_text(
    source: str,
    target: str,
    resolve: Callable[[str, str], str | None],
    markdown: bool,
    link_format: str = "shortest",
) -> str:
    """A link to `target` as Obsidian would write it from `source` (`.obsidian/app.json` `newLinkFormat`):
    `shortest` is the shortest text that reaches it (`[[stem]]`), `absolute` the vault path, `relative` the
    path from the note's folder; `[stem](….md)` instead when the vault uses markdown links."""
    stem = stem_of(target)
    name = stem
    if link_format == "absolute":
        name = strip_md(target)
    elif link_format == "relative":
        name = posixpath.relpath(strip_md(target), posixpath.dirname(source) or ".")
    else:
        for option in (stem, strip_md(target), target):
            if resolve(option, source) == target:
                name = option
                break
    if markdown:
        return f"[{stem}]({encode_markdown_target(strip_md(name) + '.md', angle=False)})"
    return f"[[{name}]]"


# --- the whole batch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnparsableNote:
    """A note that names its group but whose frontmatter (or encoding) does not parse: left alone."""

    path: str
    error: str


@dataclass(frozen=True)
class RelatedPlanReport(PlanReport):
    """`plan.report` of sync-related: how notes were grouped, the sections by what happened to them, and
    the notes left out."""

    heading: str
    group_property: str
    group_by: str
    grouping: str  # how notes are grouped, for messages (`grouping_text`)
    notes_scored: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    skipped_unparsable: tuple[UnparsableNote, ...]
    skipped_no_group: int


@dataclass(frozen=True)
class KnownSection:
    """What the facts cache says of a note's related section: where it is (heading start, end) and the
    links written in it, in order. Lets an unchanged section be recognised without parsing the note."""

    span: tuple[int, int]  # `NO_SECTION`: the facts found none
    listed: tuple[str, ...]
    # The facts were taken from these very bytes (the note's stamp is the cached one): the span is where
    # `find_section` finds the section, so the note's headings need not be looked through again.
    exact: bool = False


@dataclass
class RelatedScan:
    """The scoring index of the grouped notes, what their sections list now, and the notes left out."""

    index: RelatedIndex
    sections: dict[str, tuple[int, int]]  # grouped notes with a related section: (heading start, end)
    listed: dict[str, tuple[str, ...]]  # the links written inside that section, in order
    unparsable: list[UnparsableNote]
    ungrouped: int
    resolve: Callable[[str, str], str | None]
    link_paths: Iterable[str] = ()  # every file a link may reach (the link index's paths)
    # The stamp (`facts.stamp_of`) of the bytes each grouped note's section (or its lack of one) was
    # found in.
    section_stamps: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)
    _unique: frozenset[str] | None = field(default=None, repr=False, compare=False)
    # The entries written so far, by link style (`_entry_writer`): kept for every chunk a process plans.
    _entries: dict[tuple[bool, str], Callable[[str, str], str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def unique_names(self) -> frozenset[str]:
        """The names (folded, without `.md`) that only one file of the vault has: a link by such a name
        reaches the same file from every folder. Counted once (before planning forks its workers, which
        each plan many chunks of notes)."""
        if self._unique is None:
            counts = Counter(fold(stem_of(path)) for path in self.link_paths)
            self._unique = frozenset(name for name, count in counts.items() if count == 1)
        return self._unique


class ScanContext(NamedTuple):
    """What scanning notes' facts needs, built once before the scan forks its workers."""

    link_index: LinkIndex
    config: RelatedConfig
    read_raw: Callable[[str], bytes]
    link_places: LinkPlaces  # every file a link may reach: a resolved target travels as its place
    folder_places: dict[str, dict[str, int]]  # per folder: each target's place, -1 when it resolves to none
    # Each target whose place is the same from every folder: a vault of many folders (200, five levels
    # deep) links most names from many of them, each resolved once here rather than once per folder.
    anywhere_places: dict[str, int]

    @classmethod
    def of(
        cls, link_index: LinkIndex, config: RelatedConfig, read_raw: Callable[[str], bytes]
    ) -> ScanContext:
        return cls(link_index, config, read_raw, LinkPlaces.of(link_index.paths), {}, {})


@dataclass
class ScannedChunk:
    """What `scan_chunk` finds in some notes' facts, compact enough to come back from a forked worker:
    each row's words are numbers of the chunk's own `words`, its targets places in the `LinkPlaces`."""

    rows: list[IndexRow]
    words: list[str]  # the words of the chunk's word numbers, by number
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    section_stamps: dict[str, tuple[int, ...]] = field(default_factory=dict)
    unparsable: list[UnparsableNote] = field(default_factory=list)
    ungrouped: int = 0
    notes: int = 0  # the notes whose facts it read (`scan_related` lets go of their records)


def scan_facts(
    all_facts: Iterable[FileFacts],
    link_index: LinkIndex,
    config: RelatedConfig,
    read_raw: Callable[[str], bytes],
) -> RelatedScan:
    """Groups, tags, resolved targets, words and current section entries of every note, from its cached
    facts, in this process (`scan_related` reads a vault's on every core)."""
    context = ScanContext.of(link_index, config, read_raw)
    return assemble_scan([scan_chunk(all_facts, context)], context)


def scan_chunk(all_facts: Iterable[FileFacts], context: ScanContext) -> ScannedChunk:
    """`scan_facts` of some notes, before their rows join the vault's. No note is parsed here. Bytes are
    read only for the rare note that does not decode or whose frontmatter does not parse, to tell whether
    it names the group property (then it is reported)."""
    config = context.config
    by_folder = config.group_by == "folder"
    needle = config.group_property.encode("utf-8")
    found = ScannedChunk([], [])
    names: dict[str, str] = {}  # one string object per tag or group, however many notes carry it
    tag_names: dict[str, str] = {}  # each tag as written to its name (`tags_of`)
    numbers = WordNumbers()  # words kept as numbers, not text: half the memory on a big vault
    for facts in all_facts:
        path = facts.path
        properties = facts.properties
        error = facts.decode_error or (facts.yaml_error if properties is None else None)
        if error is not None:
            if by_folder or needle in context.read_raw(path):
                found.unparsable.append(UnparsableNote(path, error))
            else:
                found.ungrouped += 1
            continue
        properties = properties or {}
        groups = (
            (folder_group(path, config.folder_depth),)
            if by_folder
            else groups_of(properties, config.group_property)
        )
        if not groups:
            found.ungrouped += 1
            continue
        tags = tuple(
            sorted(
                names.setdefault(tag, tag) for tag in tags_of(properties, tag_names).union(facts.inline_tags)
            )
        )
        section = facts.section
        targets = _target_places(facts, section, context)
        groups = tuple(names.setdefault(g, g) for g in groups)
        found.rows.append(IndexRow(path, groups, tags, targets, numbers.numbered(facts.words)))
        found.section_stamps[path] = facts.stamp
        if section[0] >= 0:
            found.sections[path] = section
            inside = sorted(
                (link[LINK_START], link[LINK_WRITTEN])
                for link in facts.links
                if section[0] <= link[LINK_START] < section[1]
            )
            found.listed[path] = tuple(written for _, written in inside)
    found.words = list(numbers.number)
    return found


def assemble_scan(chunks: Iterable[ScannedChunk], context: ScanContext) -> RelatedScan:
    """The scan of a vault from its chunks, in order, each chunk's word numbers renumbered for the
    whole vault."""
    rows: list[IndexRow] = []
    sections: dict[str, tuple[int, int]] = {}
    listed: dict[str, tuple[str, ...]] = {}
    stamps: dict[str, tuple[int, ...]] = {}
    unparsable: list[UnparsableNote] = []
    ungrouped = 0
    names: dict[str, str] = {}  # one string per tag or group across chunks, as within one
    numbers = WordNumbers()
    for chunk in chunks:
        np = _ranking_modules()  # once the first chunk is in: the workers go on while it loads
        renumber = np.fromiter(map(numbers.number.__getitem__, chunk.words), np.intc, len(chunk.words))
        # The chunk's words renumbered at once, then cut back into rows: one numpy call, not one a note.
        chunk_words = [cast(bytes, row[4][0]) for row in chunk.rows]
        renumbered = renumber[np.frombuffer(b"".join(chunk_words), dtype=np.intc)].tobytes()
        ends = itertools.accumulate(map(len, chunk_words))
        start = 0
        for (path, groups, tags, targets, (_, counts)), end in zip(chunk.rows, ends, strict=True):
            numbered, start = renumbered[start:end], end
            intern = names.setdefault  # by `map`: no Python frame per tag (long notes carry 15-40)
            groups, tags = tuple(map(intern, groups, groups)), tuple(map(intern, tags, tags))
            rows.append(IndexRow(path, groups, tags, targets, (numbered, counts)))
        sections.update(chunk.sections)
        listed.update(chunk.listed)
        stamps.update(chunk.section_stamps)
        unparsable.extend(chunk.unparsable)
        ungrouped += chunk.ungrouped
    index = _built_index(rows, context.config.common_share, numbers, context.link_places)
    resolve = cached_resolver(context.link_index)
    paths = context.link_places.paths
    return RelatedScan(index, sections, listed, unparsable, ungrouped, resolve, paths, section_stamps=stamps)


def _ranking_modules() -> Any:
    """numpy, with `related_index` (and SciPy) imported beside it (see the imports at the top)."""
    import numpy

    import vaulttools.related_index  # noqa: F401  # imported for `_built_index`

    return numpy


def _built_index(
    rows: list[IndexRow], common_share: float, numbers: WordNumbers, link_places: LinkPlaces
) -> RelatedIndex:
    """The index of `rows` (emptied once it is built), with the memory freed on the way given back: the
    facts read before it, and the rows and intermediate arrays after, so planning's forked workers start
    with only what is kept."""
    release_freed_memory()
    aside = in_fork if forks_for(len(rows)) else None
    from vaulttools.related_index import RelatedIndex

    index = RelatedIndex(rows, common_share, numbers, link_places, aside)
    rows.clear()
    release_freed_memory()
    return index


def grouping_text(config: RelatedConfig) -> str:
    """How notes are grouped, for messages: `articleStem` or `folder (depth 1)`."""
    return f"folder (depth {config.folder_depth})" if config.group_by == "folder" else config.group_property


def require_groups(scan: RelatedScan, config: RelatedConfig) -> None:
    """A vault where notes exist but none is grouped gets told which setting to use, not "skipped N"."""
    if scan.index.total or not scan.ungrouped:
        return
    raise VaultError(
        f"no note has the {config.group_property} property, so sync-related has no groups to relate "
        f'({scan.ungrouped} notes read); group notes by folder with `[related] group_by = "folder"` '
        f"(and folder_depth) in .vaulttools.toml, or set related.group_property to the property that "
        f"names each note's group"
    )


def _target_places(facts: FileFacts, section: tuple[int, int], context: ScanContext) -> bytes:
    """The places (`LinkPlaces`) of the files a note links, sorted, itself left out, packed; links in its
    related section do not count. Each target is resolved once per folder (what an answer depends on),
    or once for all folders when its answer depends on none (`LinkIndex.answers_anywhere`), and remembered
    as its place, so most links cost a dictionary lookup."""
    path = facts.path
    skip_from, skip_to = section
    targets = {
        link[LINK_TARGET]
        for link in facts.links
        if link[LINK_OPAQUE] is None and link[LINK_TARGET] and not skip_from <= link[LINK_START] < skip_to
    }
    folder = path[: path.rfind("/") + 1]
    known = context.folder_places.get(folder)
    if known is None:
        known = context.folder_places[folder] = {}
    places: set[int | None] = set(map(known.get, targets))  # most targets were met in this folder before
    if None in places:
        places.discard(None)
        for target in targets:
            if target not in known and target.strip():  # a blank target is the note itself: never one
                place = context.anywhere_places.get(target)
                if place is None:
                    place = _place_of(context, target, path)
                known[target] = place
                places.add(place)
    places.discard(-1)
    places.discard(context.link_places.place[path])
    return array.array("i", sorted(cast(set[int], places))).tobytes()  # in path order, as paths sort


def _place_of(context: ScanContext, target: str, source: str) -> int:
    """The place of the one file `target` (written in `source`) resolves to, -1 for none; remembered for
    every folder when that is the answer from any of them."""
    index = context.link_index
    found = index.resolve(target, source)
    place = -1 if found.status != RESOLVED or found.path is None else context.link_places.place[found.path]
    if index.answers_anywhere(target):
        context.anywhere_places[target] = place
    return place


def related_section_change(
    note: Note, heading: str, entries: list[str], known: KnownSection | None = None
) -> tuple[str, Edit | None]:
    """The one note's part of sync-related, pure: (action, the edit that makes its related section list
    `entries`), or (`UNCHANGED`, None). With `known`, a section that already lists the entries is told
    from its text alone, without looking for headings, code or links."""
    if known is not None and known.listed == tuple(entries) and section_is_current(note, known.span, entries):
        return UNCHANGED, None
    edit, action = section_edit(note, heading, entries, _known_section(note, known))
    return action, edit


def _known_section(note: Note, known: KnownSection | None) -> Section | object | None:
    """The section at the span the facts found in these very bytes (`KnownSection.exact`), None when
    they found none there; `FIND` when the span is not known to fit them (no facts, or facts of other
    bytes): then `find_section` looks."""
    if known is None or not known.exact:
        return FIND
    if known.span == NO_SECTION:
        return None
    start, end = known.span
    text = note.text
    if not (0 <= start < end <= len(text)) or text[start] != "#":
        return FIND  # cannot happen for the bytes the span was found in; looked for rather than trusted
    return section_at(text, start, end)


# Bytes of planned changes sync-related holds in memory before it spools the rest (`Spool`): its workers
# spool what they plan themselves, so this bounds only a vault planned in one process (under
# `parallel.PARALLEL_THRESHOLD` notes); the planning's own memory comes on top of it.
RELATED_SPOOL_BUDGET = 128 * 2**20


def plan_related(vault: Vault, scan: RelatedScan, config: RelatedConfig) -> BatchPlan[RelatedPlanReport]:
    """One batch: every grouped note's section made to list its best candidates.

    A note is read only when its section may change: no section and entries to list, or a section whose
    links (from the facts cache) are not the entries; when they are, only its text is compared, unparsed.
    Each note is forgotten once planned, so memory holds the changes, not the notes. Big vaults are planned
    on every core: scoring (a block of notes per sparse product), reading and verifying are per chunk of
    notes, the index is shared by the forked workers.
    """
    # The most the spool can hold: old and new bytes of every grouped note, with room for the new sections.
    most = 3 * sum(stamp[0] for stamp in scan.section_stamps.values())
    settings, spool = vault.settings, Spool(vault.root, RELATED_SPOOL_BUDGET, expected_bytes=most)
    links = (settings.use_markdown_links, settings.new_link_format)
    paths = scan.index.paths
    if forks_for(len(paths)):
        spool.share()  # the workers spool what they plan: a change's bytes cross no pipe
    mark = clock_mark(vault.root)  # before any note is read (see `PlannedStatus.stamp`)
    objects = ObjectStore.of(vault.root) if spool.shared else None  # asked whether git holds the new bytes

    def plan_chunk(paths: list[str]) -> list[tuple[str, FileChange]]:
        planned = _plan_notes(vault, scan, config, paths, links)
        if spool.shared:  # in a forked worker: the batch's hashing done here too, on every core
            return _spooled_by_worker(vault.root, planned, spool, mark, objects)
        return [(action, change) for action, change, _ in planned]

    changes: list[FileChange] = []
    outcome: dict[str, list[str]] = {ADDED: [], UPDATED: [], REMOVED: []}
    if settings.new_link_format == "shortest":
        scan.unique_names()  # counted here, once, not by every chunk of the workers
    for planned in iter_chunks(
        plan_chunk, paths, label="Choosing related notes", on_progress=vault.on_progress
    ):
        for action, change in planned:
            changes.append(spool.keep(change))
            outcome[action].append(change.path)
    counts = {
        "sections_added": len(outcome[ADDED]),
        "sections_updated": len(outcome[UPDATED]),
        "sections_removed": len(outcome[REMOVED]),
        "skipped_unparsable": len(scan.unparsable),
    }
    summary = ", ".join(f"{len(v)} {k}" for k, v in outcome.items() if v) or "no change"
    report = RelatedPlanReport(
        heading=config.heading,
        group_property=config.group_property,
        group_by=config.group_by,
        grouping=grouping_text(config),
        notes_scored=scan.index.total,
        added=tuple(outcome[ADDED]),
        updated=tuple(outcome[UPDATED]),
        removed=tuple(outcome[REMOVED]),
        skipped_unparsable=tuple(scan.unparsable),
        skipped_no_group=scan.ungrouped,
    )
    return BatchPlan("sync-related", f"related sections ({summary})", changes, counts, report)


def _spooled_by_worker(
    root: Path,
    planned: list[tuple[str, FileChange, os.stat_result]],
    spool: Spool,
    mark: tuple[int, int] | None,
    objects: ObjectStore | None = None,
) -> list[tuple[str, FileChange]]:
    """A forked worker's planned changes, fingerprinted and spooled. A long note's old bytes stay in the
    note (the journal reads them there), only the new ones are spooled: on 30 KB notes, half the spool's
    writes and reads. The status the note was read with goes along: the batch checks its mode from it
    instead of an `lstat` per note, and its stamp, when settled before `mark` (`files.clock_mark`, taken
    before any note was read), instead of reading it again. A chunk's bytes go into the spool in one append (one lock, not
    two per note)."""
    changes = spool_all(
        [change.old_left_on_disk(root, status, mark, objects) for _, change, status in planned], spool
    )
    return [(action, change) for (action, _, _), change in zip(planned, changes, strict=True)]


def _plan_notes(
    vault: Vault, scan: RelatedScan, config: RelatedConfig, paths: list[str], links: tuple[bool, str]
) -> list[tuple[str, FileChange, os.stat_result]]:
    """(action, change, the note's status when read) for each of `paths` whose section changes. Each note
    is read here, once, and let go once planned."""
    index = scan.index
    numbers = [index.number[path] for path in paths]
    from vaulttools.related_index import top_candidates_of

    best = top_candidates_of(index, numbers, weights_of(config), config.limit, config.min_score)
    entries_of = _entry_writer(scan, links)
    wanted = []  # (path, entries, span) of each note whose section may change
    for path, chosen in zip(paths, best, strict=True):
        entries = [entries_of(path, candidate.path) for candidate in chosen]
        span = scan.sections.get(path)
        if span is not None or entries:
            wanted.append((path, entries, span))
    link_properties = vault.config.link_property_set  # a new set each time asked: once a chunk
    planned: list[tuple[str, FileChange, os.stat_result]] = []
    for start in range(0, len(wanted), READ_AHEAD_NOTES):
        group = wanted[start : start + READ_AHEAD_NOTES]
        # Read together, then planned: no system call between two notes' parsing (`facts.read_stamped_batches`).
        read = [_read_note(vault, path) for path, _, _ in group]
        for (path, entries, span), (status, raw) in zip(group, read, strict=True):
            note = Note(path, raw, link_properties)
            change = _planned_section(scan, config, (note, entries, span), status)
            if change is not None:
                planned.append((change[0], change[1], status))
    return planned


def _planned_section(
    scan: RelatedScan,
    config: RelatedConfig,
    wanted: tuple[Note, list[str], tuple[int, int] | None],
    status: os.stat_result,
) -> tuple[str, FileChange] | None:
    """(action, change) of the note of `wanted` (the note, its new entries and its section's span as the
    facts found it), read with `status`; None when its section stays as it is."""
    note, entries, span = wanted
    path = note.path
    stamp = stamp_of_status(status)  # as the facts key it
    exact = stamp == scan.section_stamps.get(path)
    known = None
    if span is not None:
        known = KnownSection(span, scan.listed[path], exact)
    elif exact:  # the facts found no section in these very bytes: none is looked for
        known = KnownSection(NO_SECTION, (), exact=True)
    action, edit = related_section_change(note, config.heading, entries, known)
    change = note_change(note, [edit]) if edit is not None else None
    return None if change is None else (action, change)


def _read_note(vault: Vault, path: str) -> tuple[os.stat_result, bytes]:
    """A note's status (taken before reading, as `Vault.read_stamped`'s stamp is) and bytes, with one open."""
    try:
        return read_with_status(f"{vault.root}/{path}")
    except OSError as exc:
        raise VaultError(f"{path}: cannot read ({exc.strerror}); check that the file is readable") from exc


def _entry_writer(scan: RelatedScan, links: tuple[bool, str]) -> Callable[[str, str], str]:
    """`entry_text` from a note to a candidate, cached: an entry depends only on the candidate and the
    linking note's folder, and most notes share a folder; with the `shortest` format, a candidate whose
    name no other file has is written the same from every folder. One writer per scan and link style, so
    a worker planning many chunks of notes writes each entry once."""
    writer = scan._entries.get(links)
    if writer is None:
        writer = scan._entries[links] = _new_entry_writer(scan, links)
    return writer


def _new_entry_writer(scan: RelatedScan, links: tuple[bool, str]) -> Callable[[str, str], str]:
    markdown, link_format = links
    unique = scan.unique_names() if link_format == "shortest" else frozenset()
    cache: dict[tuple[str, str], str] = {}
    anywhere: dict[str, str] = {}

    def entry(source: str, target: str) -> str:
        found = anywhere.get(target)
        if found is not None:
            return found
        key = (target, source[: source.rfind("/") + 1])
        found = cache.get(key)
        if found is None:
            found = cache[key] = entry_text(source, target, scan.resolve, markdown, link_format)
            if fold(stem_of(target)) in unique:
                anywhere[target] = found
        return found

    return entry


def related_config(config: RelatedConfig, limit: int | None) -> RelatedConfig:
    """The configured settings with `--limit` (when given) in place of `related.limit`."""
    if limit is None:
        return config
    if limit < 1:
        raise VaultError(f"--limit must be at least 1, got {limit}; pass a positive number of entries")
    return replace(config, limit=limit)


def scan_related(vault: Vault, config: RelatedConfig) -> RelatedScan:
    """The scan of a vault, from its facts (cached in `.vaulttools/cache`, parsed on every core if not),
    each chunk of notes scanned on every core; a vault where no note is grouped is refused with the
    setting to use."""
    saving: list[Callable[[], None]] = []  # the facts cache, written aside while the scan goes on
    try:
        scan = _scan_records(vault, vault.fact_records(saving=saving), config)
    finally:
        for wait in saving:
            wait()
    require_groups(scan, config)
    return scan


def _scan_records(vault: Vault, records: FactRecords, config: RelatedConfig) -> RelatedScan:
    """`scan_related` of the facts records of every note, each let go once scanned."""
    context = ScanContext.of(vault.index, config, vault.read_bytes)

    def scan_part(paths: list[str]) -> list[ScannedChunk]:
        # Each record is let go once read (in this process; a forked worker drops only its copy).
        taken = (record for record in map(records.take, paths) if record is not None)
        chunk = scan_chunk(map(scan_view_of_record, taken), context)
        chunk.notes = len(paths)
        return [chunk]

    def scanned() -> Iterator[ScannedChunk]:
        paths, done = list(records), 0
        for part in iter_chunks(scan_part, paths, label="Reading facts", on_progress=vault.on_progress):
            for chunk in part:
                # A forked worker let go of its copy only: the chunk's records go here as its rows come,
                # so the vault's facts and its index rows are not both held whole.
                for path in paths[done : done + chunk.notes]:
                    records.forget(path)
                done += chunk.notes
                yield chunk
        records.clear()

    return assemble_scan(scanned(), context)


def plan_sync_related(vault: Vault, limit: int | None = None) -> BatchPlan[RelatedPlanReport]:
    """The whole `sync-related` batch for a vault (what the CLI and `Vault.sync_related` run)."""
    config = related_config(vault.config.related, limit)
    with gc_paused():
        return plan_related(vault, scan_related(vault, config), config)
