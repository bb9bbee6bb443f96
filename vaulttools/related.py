"""`sync-related`: score notes of other articles and keep each note's "Related across articles" section.

Two halves, both pure:

* scoring: per-note facts (group, tags, resolved link targets, title/definition words) go into inverted indexes
  (tag → notes, target → notes, word → notes); a note's candidates are gathered by walking only the postings of
  its own features, never by comparing all pairs;
* section planning: where the section is (or goes) in a note's text and the one `Edit` that rewrites only its
  list, appends it after two blank lines, or removes it.

The score of candidate B for note A (both with a group, different groups) is the sum of
  link_weight                                 if A links B or B links A (body or link properties),
  tag_weight    · log(N / notes with tag)     for every shared tag,
  target_weight · log(N / notes linking it)   for every shared link target,
  text_weight   · Σ log(N / df(word)) / √(|words A| · |words B|)   over shared title/definition words,
where N is the number of grouped notes. Features on more than `common_cutoff(N)` notes are ignored: they say
almost nothing and are what would make the walk quadratic. Links inside a "Related across articles" section
are never evidence, so the output does not feed itself.
"""

from __future__ import annotations

import heapq
import math
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from posixpath import dirname
from typing import Any, NamedTuple

from vaulttools.batch import BatchPlan, FileChange
from vaulttools.config import RelatedConfig
from vaulttools.edits import Edit
from vaulttools.errors import VaultError
from vaulttools.linkedit import encode_markdown_target
from vaulttools.note import DEFAULT_LINK_PROPERTIES, Note
from vaulttools.planning import note_change
from vaulttools.resolve import RESOLVED, LinkIndex, strip_md
from vaulttools.vault import Vault

ADDED = "added"
UPDATED = "updated"
REMOVED = "removed"
UNCHANGED = "unchanged"

# Features shared by more notes than this are too common to be evidence (and too costly to walk).
MIN_COMMON_CUTOFF = 50
COMMON_FRACTION = 0.02
# Scores are rounded to 6 decimals before ranking; anything closer than this may tie.
TIE_TOLERANCE = 1e-5


def common_cutoff(total: int) -> int:
    """The most notes a tag, target or word may be on and still count: 2% of the vault, at least 50."""
    return max(MIN_COMMON_CUTOFF, int(total * COMMON_FRACTION))


# --- facts about one note ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteFacts:
    """What scoring needs from one grouped note."""

    path: str
    group: str
    tags: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()  # resolved paths it links, outside its related section
    words: frozenset[str] = frozenset()  # title and definition words (only when text scoring is on)

    @property
    def stem(self) -> str:
        return strip_md(self.path.rsplit("/", 1)[-1])


def group_of(properties: Mapping[str, Any], group_property: str) -> str | None:
    """The note's group: a non-empty scalar value of the group property, else None."""
    value = properties.get(group_property)
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        return None
    text = str(value).strip()
    return text or None


def tags_of(properties: Mapping[str, Any]) -> frozenset[str]:
    """`tags` (and the older `tag`) as a list or a comma/space separated string; `#` and case dropped."""
    found: set[str] = set()
    for key in ("tags", "tag"):
        value = properties.get(key)
        items = (
            value if isinstance(value, list) else re.split(r"[,\s]+", value) if isinstance(value, str) else []
        )
        for item in items:
            if isinstance(item, (str, int, float)) and not isinstance(item, bool):
                tag = str(item).strip().lstrip("#").lower()
                if tag:
                    found.add(tag)
    return frozenset(found)


_WORD_RE = re.compile(r"[^\W_]{3,}")
_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "that",
        "with",
        "from",
        "this",
        "are",
        "was",
        "were",
        "not",
        "but",
        "its",
        "into",
        "than",
        "then",
        "them",
        "they",
        "their",
        "there",
        "these",
        "those",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "has",
        "have",
        "had",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "must",
        "one",
        "two",
        "all",
        "any",
        "each",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "very",
        "also",
        "about",
        "over",
        "under",
        "between",
        "while",
    ]
)
_TITLE_RE = re.compile(r"^# +(.+?)[ \t#]*\r?$", re.MULTILINE)


def words_of(note: Note, properties: Mapping[str, Any]) -> frozenset[str]:
    """Lower-case words of the title (first `# ` heading, else the stem) and the `definition` property."""
    title = _TITLE_RE.search(note.text, note.body_start)
    text = title.group(1) if title else note.stem.replace("-", " ")
    definition = properties.get("definition")
    if isinstance(definition, str):
        text += " " + definition
    return frozenset(w for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS)


def note_facts(
    note: Note,
    properties: Mapping[str, Any],
    group: str,
    resolve: Callable[[str, str], str | None],
    config: RelatedConfig,
) -> NoteFacts:
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
    words = words_of(note, properties) if config.text_weight else frozenset()
    return NoteFacts(note.path, group, tags_of(properties), frozenset(targets), words)


def cached_resolver(index: LinkIndex) -> Callable[[str, str], str | None]:
    """`index.resolve` to a path (None unless resolved), cached per target and linking folder."""
    cache: dict[tuple[str, str], str | None] = {}

    def resolve(target: str, source: str) -> str | None:
        key = (target, dirname(source))
        if key not in cache:
            resolution = index.resolve(target, source)
            cache[key] = resolution.path if resolution.status == RESOLVED else None
        return cache[key]

    return resolve


# --- scoring -----------------------------------------------------------------------------------------


class Reason(NamedTuple):
    kind: str  # "link", "tag", "target", "text"
    detail: str
    points: float


@dataclass(frozen=True)
class Candidate:
    path: str
    stem: str
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass
class RelatedIndex:
    """Every grouped note's facts and the inverted indexes scoring walks."""

    facts: dict[str, NoteFacts]
    by_tag: dict[str, list[str]] = field(default_factory=dict)
    by_target: dict[str, list[str]] = field(default_factory=dict)
    linked_from: dict[str, list[str]] = field(default_factory=dict)
    by_word: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.facts)

    @cached_property
    def members(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for path, fact in self.facts.items():
            found[fact.group].append(path)
        return dict(found)

    @cached_property
    def stems(self) -> dict[str, str]:
        return {path: fact.stem for path, fact in self.facts.items()}

    def rarity(self, notes_with_feature: int) -> float:
        return math.log(self.total / notes_with_feature) if notes_with_feature else 0.0


def build_index(all_facts: Iterable[NoteFacts]) -> RelatedIndex:
    facts = {f.path: f for f in sorted(all_facts, key=lambda f: f.path)}
    by_tag: dict[str, list[str]] = defaultdict(list)
    by_target: dict[str, list[str]] = defaultdict(list)
    by_word: dict[str, list[str]] = defaultdict(list)
    for path, fact in facts.items():
        for tag in fact.tags:
            by_tag[tag].append(path)
        for target in fact.targets:
            by_target[target].append(path)
        for word in fact.words:
            by_word[word].append(path)
    # A note B linking A is direct evidence for A: the target index read backwards, among grouped notes.
    linked_from = {t: sources for t, sources in by_target.items() if t in facts}
    return RelatedIndex(facts, dict(by_tag), dict(by_target), linked_from, dict(by_word))


def score_candidates(
    index: RelatedIndex, path: str, config: RelatedConfig, *, explain: bool = False
) -> list[Candidate]:
    """Every note of another group with any evidence for `path`, best first (score, then name).

    With `explain`, each candidate carries the reasons behind its score.
    """
    reasons: dict[str, list[Reason]] | None = defaultdict(list) if explain else None
    scores = _accumulate(index, path, config, reasons)
    ranked = [
        Candidate(other, index.stems[other], round(score, 6), tuple(reasons[other]) if reasons else ())
        for other, score in scores.items()
        if score > 0
    ]
    ranked.sort(key=_rank)
    return ranked


def best_candidates(index: RelatedIndex, path: str, config: RelatedConfig, limit: int) -> list[Candidate]:
    """The `limit` best candidates scoring at least `min_score`: what the section lists.

    Same order as `score_candidates`, without sorting every candidate: the top scores are found by
    score alone, then every candidate tied with the last of them joins before the name breaks ties.
    """
    scores = _accumulate(index, path, config, None)
    top = heapq.nlargest(limit, scores.values())
    if not top:
        return []
    floor = max(config.min_score, top[-1] - TIE_TOLERANCE, 1e-9)
    pool = [
        Candidate(other, index.stems[other], round(score, 6))
        for other, score in scores.items()
        if score >= floor
    ]
    pool.sort(key=_rank)
    return [c for c in pool if c.score >= config.min_score and c.score > 0][:limit]


def _rank(candidate: Candidate) -> tuple[float, str, str]:
    return (-candidate.score, candidate.stem, candidate.path)


def _accumulate(
    index: RelatedIndex, path: str, config: RelatedConfig, reasons: dict[str, list[Reason]] | None
) -> dict[str, float]:
    """Walk the postings of the note's own features; only notes of other groups are kept.

    Features are walked in sorted order and postings are in path order, so float sums do not depend on
    set iteration order (which changes between runs).
    """
    me = index.facts[path]
    cutoff = common_cutoff(index.total)
    scores: dict[str, float] = defaultdict(float)
    if config.link_weight:
        outgoing = {t for t in me.targets if t in index.facts}
        incoming = set(index.linked_from.get(path, ()))
        for other in sorted(outgoing | incoming):
            scores[other] += config.link_weight
            if reasons is not None:
                both = other in outgoing and other in incoming
                way = "both ways" if both else "links to" if other in outgoing else "linked from"
                reasons[other].append(Reason("link", way, config.link_weight))
    for kind, features, postings, weight in (
        ("tag", me.tags, index.by_tag, config.tag_weight),
        ("target", me.targets, index.by_target, config.target_weight),
    ):
        if not weight:
            continue
        for feature in sorted(features):
            notes = postings.get(feature, ())
            if len(notes) > cutoff:
                continue  # too common to say anything, and the walk would turn quadratic
            points = weight * index.rarity(len(notes))
            for other in notes:
                scores[other] += points
            if reasons is not None:
                detail = f"{feature} (on {len(notes)} notes)"
                for other in notes:
                    reasons[other].append(Reason(kind, detail, points))
    if config.text_weight and me.words:
        _accumulate_text(index, me, config.text_weight, cutoff, scores, reasons)
    for same_group in index.members[me.group]:  # ~one article's notes: cheaper than filtering every score
        scores.pop(same_group, None)
    return scores


def _accumulate_text(
    index: RelatedIndex,
    me: NoteFacts,
    weight: float,
    cutoff: int,
    scores: dict[str, float],
    reasons: dict[str, list[Reason]] | None,
) -> None:
    """Shared title/definition words, each by rarity, over the geometric mean of the two word counts."""
    shared: dict[str, float] = defaultdict(float)
    words: dict[str, list[str]] = defaultdict(list)
    for word in sorted(me.words):
        notes = index.by_word.get(word, ())
        if len(notes) > cutoff:
            continue
        rarity = index.rarity(len(notes))
        for other in notes:
            shared[other] += rarity
            if reasons is not None:
                words[other].append(word)
    for other, total in shared.items():
        points = weight * total / math.sqrt(len(me.words) * len(index.facts[other].words))
        scores[other] += points
        if reasons is not None:
            reasons[other].append(Reason("text", ", ".join(words[other]), points))


def choose(candidates: list[Candidate], limit: int, min_score: float) -> list[Candidate]:
    return [c for c in candidates if c.score >= min_score][:limit]


# --- the section -------------------------------------------------------------------------------------


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


def _heading_re(heading: str) -> re.Pattern[str]:
    return re.compile(
        rf"^(#{{2,6}})[ \t]+{re.escape(heading)}[ \t]*#*[ \t]*\r?$", re.MULTILINE | re.IGNORECASE
    )


def find_section(note: Note, heading: str) -> Section | None:
    """The last heading (level 2 to 6) reading `heading` outside code, with its list lines."""
    text = note.text
    if heading.lower() not in text.lower():
        return None
    matches = [
        m for m in _heading_re(heading).finditer(text, note.body_start) if note.region_at(m.start()) is None
    ]
    if not matches:
        return None
    match = matches[-1]
    level = len(match.group(1))
    after_heading = _line_after(text, match.end())
    end = len(text)
    for other in _ANY_HEADING_RE.finditer(text, after_heading):
        if len(other.group(1)) <= level and note.region_at(other.start()) is None:
            end = other.start()
            break
    lines = _lines(text, after_heading, end)
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
    return Section(match.start(), list_start, list_end, end, only_list)


def _line_after(text: str, position: int) -> int:
    newline = text.find("\n", position)
    return len(text) if newline < 0 else newline + 1


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each line in text[start:end], newline included."""
    spans = []
    while start < end:
        stop = min(_line_after(text, start), end)
        spans.append((start, stop))
        start = stop
    return spans


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


def section_edit(note: Note, heading: str, entries: list[str]) -> tuple[Edit | None, str]:
    """The one edit that makes the note's related section list `entries`, and what it does.

    Appends a new section after two blank lines, rewrites only the list lines of an existing one, or (no
    entries) removes a generated section with the blank lines before it. Returns (None, UNCHANGED) when the
    note already says exactly this.
    """
    text, nl = note.text, note.newline
    listing = "".join(f"- {entry}{nl}" for entry in entries)
    section = find_section(note, heading)
    if section is None:
        if not entries:
            return None, UNCHANGED
        start = _content_end(text, note.body_start, len(text))
        new = f"{_lead(text, start, note.body_start, nl)}## {heading}{nl}{listing}"
        return Edit(start, len(text), text[start:], new, "related-section"), ADDED
    current = text[section.list_start : section.list_end]
    if entries:
        if current == listing or (section.list_end == len(text) and current + nl == listing):
            return None, UNCHANGED  # the same list (a missing final newline is not worth a diff)
        new = listing
        if section.list_start > 0 and text[section.list_start - 1] != "\n":
            new = nl + listing  # the heading is the last line and has no newline
        return Edit(section.list_start, section.list_end, current, new, "related-list"), UPDATED
    if not section.only_list:
        # Editors wrote more than a list under the heading: empty the list, keep their words.
        if not current:
            return None, UNCHANGED
        return Edit(section.list_start, section.list_end, current, "", "related-list"), REMOVED
    if section.end == len(text):
        start = _content_end(text, note.body_start, section.heading_start)
        new = nl if start > note.body_start else ""
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
    stem = strip_md(target.rsplit("/", 1)[-1])
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


@dataclass
class RelatedScan:
    """The grouped notes (parsed) and the notes left out, for planning, explaining and reporting."""

    notes: dict[str, Note]
    index: RelatedIndex
    unparsable: list[dict[str, str]]
    ungrouped: int
    resolve: Callable[[str, str], str | None]


def scan_related(
    note_paths: Iterable[str],
    read_raw: Callable[[str], bytes],
    link_index: LinkIndex,
    config: RelatedConfig,
    link_properties: frozenset[str] = DEFAULT_LINK_PROPERTIES,
) -> RelatedScan:
    """Parse only notes whose bytes mention the group property (each file read once); collect their facts."""
    needle = config.group_property.encode("utf-8")
    resolve = cached_resolver(link_index)
    notes: dict[str, Note] = {}
    facts: list[NoteFacts] = []
    unparsable: list[dict[str, str]] = []
    ungrouped = 0
    for path in note_paths:
        raw = read_raw(path)
        if needle not in raw:
            ungrouped += 1
            continue
        note = Note(path, raw, link_properties)
        if not note.editable:
            unparsable.append({"path": path, "error": note.decode_error or "unreadable"})
            continue
        properties = note.properties
        if properties is None:
            if note.yaml_error:
                unparsable.append({"path": path, "error": note.yaml_error})
            else:
                ungrouped += 1
            continue
        group = group_of(properties, config.group_property)
        if group is None:
            ungrouped += 1
            continue
        notes[path] = note
        facts.append(note_facts(note, properties, group, resolve, config))
    return RelatedScan(notes, build_index(facts), unparsable, ungrouped, resolve)


def plan_related(
    scan: RelatedScan, config: RelatedConfig, *, markdown_links: bool = False, link_format: str = "shortest"
) -> BatchPlan:
    """One batch: every grouped note's section made to list its best candidates."""
    changes: list[FileChange] = []
    outcome: dict[str, list[str]] = {ADDED: [], UPDATED: [], REMOVED: []}
    for path, note in scan.notes.items():
        chosen = best_candidates(scan.index, path, config, config.limit)
        entries = [entry_text(path, c.path, scan.resolve, markdown_links, link_format) for c in chosen]
        edit, action = section_edit(note, config.heading, entries)
        if edit is None:
            continue
        change = note_change(note, [edit])
        if change is not None:
            changes.append(change)
            outcome[action].append(path)
    counts = {
        "sections_added": len(outcome[ADDED]),
        "sections_updated": len(outcome[UPDATED]),
        "sections_removed": len(outcome[REMOVED]),
        "skipped_unparsable": len(scan.unparsable),
    }
    summary = ", ".join(f"{len(v)} {k}" for k, v in outcome.items() if v) or "no change"
    report = {
        "heading": config.heading,
        "group_property": config.group_property,
        "notes_scored": scan.index.total,
        **outcome,
        "skipped_unparsable": scan.unparsable,
        "skipped_no_group": scan.ungrouped,
    }
    return BatchPlan("sync-related", f"related sections ({summary})", changes, counts, report)


def related_config(config: RelatedConfig, limit: int | None) -> RelatedConfig:
    """The configured settings with `--limit` (when given) in place of `related.limit`."""
    if limit is None:
        return config
    if limit < 1:
        raise VaultError(f"--limit must be at least 1, got {limit}; pass a positive number of entries")
    return replace(config, limit=limit)


def scan_vault(vault: Vault, config: RelatedConfig) -> RelatedScan:
    return scan_related(
        vault.note_paths, vault.read_bytes, vault.index, config, vault.config.link_property_set
    )


def plan_sync_related(vault: Vault, limit: int | None = None) -> BatchPlan:
    """The whole `sync-related` batch for a vault (what the CLI and `Vault.sync_related` run)."""
    config = related_config(vault.config.related, limit)
    settings = vault.settings
    return plan_related(
        scan_vault(vault, config),
        config,
        markdown_links=settings.use_markdown_links,
        link_format=settings.new_link_format,
    )
