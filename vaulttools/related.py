"""`sync-related`: score notes of other articles and keep each note's "Related across articles" section.

Two halves, both pure:

* scoring: per-note facts (group, tags, resolved link targets, title/definition words) go into inverted indexes
  (tag → notes, target → notes, word → notes); a note's candidates are gathered by walking only the postings of
  its own features, never by comparing all pairs;
* section planning: where the section is (or goes) in a note's text and the one `Edit` that rewrites only its
  list, appends it after two blank lines, or removes it.

The facts come from `Vault.facts()` (cached in `.vaulttools/cache`, parsed on every core when stale), not from
parsed notes: a note is read only when its section may change, and forgotten once planned. Notes are numbers in
the index (lists of ints and floats), so 100,000 of them stay small.

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

import math
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from vaulttools.changes import BatchPlan, FileChange, Spool
from vaulttools.config import RelatedConfig
from vaulttools.edits import Edit
from vaulttools.errors import VaultError
from vaulttools.facts import NoteFacts as FileFacts
from vaulttools.linkedit import encode_markdown_target
from vaulttools.links import inline_tags
from vaulttools.note import Note
from vaulttools.parallel import iter_chunks
from vaulttools.planning import note_change
from vaulttools.resolve import RESOLVED, LinkIndex, strip_md
from vaulttools.sections import Section, find_section, section_at
from vaulttools.vault import Vault, gc_paused

ADDED = "added"
UPDATED = "updated"
REMOVED = "removed"
UNCHANGED = "unchanged"

# Features shared by more notes than this are too common to be evidence (and too costly to walk).
MIN_COMMON_CUTOFF = 50
COMMON_FRACTION = 0.02
# Scores are rounded to 6 decimals before ranking; anything closer than this may tie.
TIE_TOLERANCE = 1e-5


def common_cutoff(total: int, share: float = COMMON_FRACTION) -> int:
    """The most notes a tag, target or word may be on and still count: `share` of the grouped notes
    (`related.common_share`, 2% by default), at least 50."""
    return max(MIN_COMMON_CUTOFF, int(total * share))


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
    tags = tags_of(properties) | inline_tags(note)
    return NoteFacts(note.path, group, tags, frozenset(targets), words)


def cached_resolver(index: LinkIndex) -> Callable[[str, str], str | None]:
    """`index.resolve` to a path (None unless resolved), cached per target and linking folder."""
    cache: dict[tuple[str, str], str | None] = {}

    def resolve(target: str, source: str) -> str | None:
        key = (target, source[: source.rfind("/") + 1])  # the folder, as `dirname` but cheaper
        try:
            return cache[key]  # a hit costs no more than `get` (the exception is only for a miss)
        except KeyError:
            resolution = index.resolve(target, source)
            found = cache[key] = resolution.path if resolution.status == RESOLVED else None
            return found

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


# Feature kinds, in the order their points are added to a score.
TAG, TARGET, WORD = 0, 1, 2
_KIND_NAMES = ("tag", "target", "text")


class RelatedIndex:
    """Every grouped note by number (path order) and the inverted indexes scoring walks.

    Plain lists of ints and floats, not objects per note: 100,000 notes must fit in little memory, and the
    scoring loop must do no more per (note, candidate) pair than one dict update. Features on more than
    `common_cutoff` notes never get a number, so nothing walks their postings.
    """

    def __init__(
        self,
        rows: list[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]],
        common_share: float = COMMON_FRACTION,
    ) -> None:
        """`rows`: (path, group, sorted tags, sorted targets, sorted words) of each grouped note."""
        rows.sort(key=lambda row: row[0])
        self.paths: list[str] = [row[0] for row in rows]
        self.stems: list[str] = [strip_md(path.rsplit("/", 1)[-1]) for path in self.paths]
        self.number: dict[str, int] = {path: number for number, path in enumerate(self.paths)}
        self.cutoff = common_cutoff(len(rows), common_share)
        group_numbers: dict[str, int] = {}
        self.group_of: list[int] = [group_numbers.setdefault(row[1], len(group_numbers)) for row in rows]
        self.group_names: list[str] = list(group_numbers)
        self.members: list[list[int]] = [[] for _ in group_numbers]
        for number, group in enumerate(self.group_of):
            self.members[group].append(number)
        self.feature_kind: list[int] = []
        self.feature_name: list[str] = []
        self.feature_notes: list[list[int]] = []  # postings, in note number (= path) order
        self.feature_rarity: list[float] = []
        tag_ids = self._number_features(TAG, (row[2] for row in rows))
        target_ids = self._number_features(TARGET, (row[3] for row in rows))
        word_ids = self._number_features(WORD, (row[4] for row in rows))
        # Per note: its uncommon tags then targets, each by name: the order old scores were summed in.
        self.features: list[tuple[int, ...]] = [
            tuple(tag_ids[t] for t in row[2] if t in tag_ids)
            + tuple(target_ids[t] for t in row[3] if t in target_ids)
            for row in rows
        ]
        self.words: list[tuple[int, ...]] = [
            tuple(word_ids[w] for w in row[4] if w in word_ids) for row in rows
        ]
        self.word_counts: list[int] = [len(row[4]) for row in rows]
        number_of = self.number
        self.links_out: list[tuple[int, ...]] = [
            tuple(sorted(number_of[t] for t in row[3] if t in number_of and t != row[0])) for row in rows
        ]
        self.linked_from: list[list[int]] = [[] for _ in rows]
        for source, targets in enumerate(self.links_out):
            for target in targets:
                self.linked_from[target].append(source)
        self._points: dict[tuple[float, float, float], list[float]] = {}

    def _number_features(self, kind: int, per_note: Iterable[tuple[str, ...]]) -> dict[str, int]:
        """Number every feature on at most `cutoff` notes; the others are too common to count."""
        postings: dict[str, list[int]] = {}
        for note, names in enumerate(per_note):
            for name in names:
                found = postings.get(name)
                if found is None:
                    postings[name] = [note]
                else:
                    found.append(note)
        ids: dict[str, int] = {}
        total = len(self.paths)
        for name, notes in postings.items():
            if len(notes) <= self.cutoff:
                ids[name] = len(self.feature_notes)
                self.feature_kind.append(kind)
                self.feature_name.append(name)
                self.feature_notes.append(notes)
                self.feature_rarity.append(math.log(total / len(notes)))
        return ids

    @property
    def total(self) -> int:
        return len(self.paths)

    def group(self, path: str) -> str:
        return self.group_names[self.group_of[self.number[path]]]

    def points(self, config: RelatedConfig) -> list[float]:
        """Each feature's points under this configuration (weight · rarity; 0 for words, scored apart)."""
        key = (config.tag_weight, config.target_weight, config.text_weight)
        found = self._points.get(key)
        if found is None:
            weights = (config.tag_weight, config.target_weight, 0.0)
            found = [
                weights[kind] * rarity
                for kind, rarity in zip(self.feature_kind, self.feature_rarity, strict=True)
            ]
            self._points[key] = found
        return found


def build_index(all_facts: Iterable[NoteFacts], common_share: float = COMMON_FRACTION) -> RelatedIndex:
    return RelatedIndex(
        [
            (f.path, f.group, tuple(sorted(f.tags)), tuple(sorted(f.targets)), tuple(sorted(f.words)))
            for f in all_facts
        ],
        common_share,
    )


def score_candidates(
    index: RelatedIndex, path: str, config: RelatedConfig, *, explain: bool = False
) -> list[Candidate]:
    """Every note of another group with any evidence for `path`, best first (score, then name).

    With `explain`, each candidate carries the reasons behind its score.
    """
    reasons: dict[int, list[Reason]] | None = defaultdict(list) if explain else None
    scores = _accumulate(index, index.number[path], config, reasons)
    paths, stems = index.paths, index.stems
    ranked = [
        Candidate(paths[other], stems[other], round(score, 6), tuple(reasons[other]) if reasons else ())
        for other, score in scores.items()
        if score > 0
    ]
    ranked.sort(key=_rank)
    return ranked


def best_candidates(index: RelatedIndex, path: str, config: RelatedConfig, limit: int) -> list[Candidate]:
    return best_candidates_of(index, index.number[path], config, limit)


def best_candidates_of(
    index: RelatedIndex, number: int, config: RelatedConfig, limit: int
) -> list[Candidate]:
    """The `limit` best candidates scoring at least `min_score`: what the section lists.

    Same order as `score_candidates`, without sorting every candidate: the top scores are found by
    score alone, then every candidate tied with the last of them joins before the name breaks ties.
    """
    scores = _accumulate(index, number, config, None)
    if not scores:
        return []
    values = sorted(scores.values(), reverse=True)  # C-speed; cheaper than heapq's Python-level loop
    floor = max(config.min_score, values[min(limit, len(values)) - 1] - TIE_TOLERANCE, 1e-9)
    if values[0] < floor:
        return []
    paths, stems = index.paths, index.stems
    # Plain tuples sort like `_rank` and cost far less than a Candidate each; ties make the pool large.
    pool = [
        (-round(score, 6), stems[other], paths[other]) for other, score in scores.items() if score >= floor
    ]
    pool.sort()
    chosen: list[Candidate] = []
    for negative, stem, path in pool[:limit]:
        score = -negative
        if score < config.min_score or score <= 0:
            break  # best first: the rest score no more
        chosen.append(Candidate(path, stem, score))
    return chosen


def _rank(candidate: Candidate) -> tuple[float, str, str]:
    return (-candidate.score, candidate.stem, candidate.path)


def _accumulate(
    index: RelatedIndex, me: int, config: RelatedConfig, reasons: dict[int, list[Reason]] | None
) -> dict[int, float]:
    """Scores by note number: walk the postings of the note's own features; other groups only.

    Each candidate's points are added in a fixed order (link, tags by name, targets by name, text), so
    float sums do not depend on set iteration order (which changes between runs).
    """
    scores: dict[int, float] = {}
    if config.link_weight:
        weight = config.link_weight
        outgoing = index.links_out[me]
        incoming = index.linked_from[me]
        for other in outgoing:
            scores[other] = weight
        for other in incoming:
            scores[other] = weight
        if reasons is not None:
            for other in sorted(scores):
                both = other in outgoing and other in incoming
                way = "both ways" if both else "links to" if other in outgoing else "linked from"
                reasons[other].append(Reason("link", way, weight))
    points = index.points(config)
    postings = index.feature_notes
    get = scores.get
    for feature in index.features[me]:
        worth = points[feature]
        if not worth:
            continue  # a kind weighted 0 (or a feature on every note) adds nothing
        notes = postings[feature]
        for other in notes:
            scores[other] = get(other, 0.0) + worth
        if reasons is not None:
            kind = _KIND_NAMES[index.feature_kind[feature]]
            detail = f"{index.feature_name[feature]} (on {len(notes)} notes)"
            for other in notes:
                reasons[other].append(Reason(kind, detail, worth))
    if config.text_weight and index.word_counts[me]:
        _accumulate_text(index, me, config.text_weight, scores, reasons)
    for same_group in index.members[index.group_of[me]]:  # ~one article's notes: cheaper than filtering
        scores.pop(same_group, None)
    return scores


def _accumulate_text(
    index: RelatedIndex,
    me: int,
    weight: float,
    scores: dict[int, float],
    reasons: dict[int, list[Reason]] | None,
) -> None:
    """Shared title/definition words, each by rarity, over the geometric mean of the two word counts."""
    shared: dict[int, float] = {}
    words: dict[int, list[str]] = defaultdict(list)
    rarity, postings = index.feature_rarity, index.feature_notes
    for feature in index.words[me]:
        worth = rarity[feature]
        for other in postings[feature]:
            shared[other] = shared.get(other, 0.0) + worth
            if reasons is not None:
                words[other].append(index.feature_name[feature])
    counts = index.word_counts
    mine = counts[me]
    for other, total in shared.items():
        points = weight * total / math.sqrt(mine * counts[other])
        scores[other] = scores.get(other, 0.0) + points
        if reasons is not None:
            reasons[other].append(Reason("text", ", ".join(words[other]), points))


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


def section_edit(note: Note, heading: str, entries: list[str]) -> tuple[Edit | None, str]:
    """The one edit that makes the note's related section list `entries`, and what it does.

    Appends a new section after two blank lines, rewrites only the list lines of an existing one, or (no
    entries) removes a generated section with the blank lines before it. Returns (None, UNCHANGED) when the
    note already says exactly this.
    """
    text, nl = note.text, note.newline
    listing = _listing(entries, nl)
    section = find_section(note, heading)
    if section is None:
        if not entries:
            return None, UNCHANGED
        start = _content_end(text, note.body_start, len(text))
        new = f"{_lead(text, start, note.body_start, nl)}## {heading}{nl}{listing}"
        return Edit(start, len(text), text[start:], new, "related-section"), ADDED
    if _already_lists(text, nl, section, listing):
        return None, UNCHANGED
    current = text[section.list_start : section.list_end]
    if entries:
        new = listing
        if section.list_start > 0 and text[section.list_start - 1] != "\n":
            new = nl + listing  # the heading is the last line and has no newline
        return Edit(section.list_start, section.list_end, current, new, "related-list"), UPDATED
    if not section.only_list:
        # Editors wrote more than a list under the heading: empty the list, keep their words.
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
    """The scoring index of the grouped notes, what their sections list now, and the notes left out."""

    index: RelatedIndex
    sections: dict[str, tuple[int, int]]  # grouped notes with a related section: (heading start, end)
    listed: dict[str, tuple[str, ...]]  # the links written inside that section, in order
    unparsable: list[dict[str, str]]
    ungrouped: int
    resolve: Callable[[str, str], str | None]


def scan_facts(
    all_facts: Iterable[FileFacts],
    link_index: LinkIndex,
    config: RelatedConfig,
    read_raw: Callable[[str], bytes],
    read_note: Callable[[str], Note] | None = None,
) -> RelatedScan:
    """Group, tags, resolved targets and current section entries of every note, from its cached facts.

    No note is parsed here, except that text scoring (off by default) needs each grouped note's title and
    `definition` (`read_note`). Bytes are read only for the rare note that does not decode or whose
    frontmatter does not parse, to tell whether it names the group property (then it is reported).
    """
    resolve = cached_resolver(link_index)
    needle = config.group_property.encode("utf-8")
    group_property = config.group_property
    rows: list[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    sections: dict[str, tuple[int, int]] = {}
    listed: dict[str, tuple[str, ...]] = {}
    unparsable: list[dict[str, str]] = []
    ungrouped = 0
    tag_names: dict[str, str] = {}  # one string object per tag, however many notes carry it
    for facts in all_facts:
        path = facts.path
        properties = facts.properties
        error = facts.decode_error or (facts.yaml_error if properties is None else None)
        if error is not None:
            if needle in read_raw(path):
                unparsable.append({"path": path, "error": error})
            else:
                ungrouped += 1
            continue
        group = group_of(properties, group_property) if properties is not None else None
        if properties is None or group is None:
            ungrouped += 1
            continue
        tags = tuple(
            sorted(tag_names.setdefault(tag, tag) for tag in tags_of(properties).union(facts.inline_tags))
        )
        section = facts.section
        targets = _resolved_targets(facts, section, resolve)
        words: tuple[str, ...] = ()
        if config.text_weight and read_note is not None:
            note = read_note(path)
            words = tuple(sorted(words_of(note, note.properties or {})))
        rows.append((path, group, tags, targets, words))
        if section[0] >= 0:
            sections[path] = section
            inside = sorted(
                (link.start, link.written) for link in facts.links if section[0] <= link.start < section[1]
            )
            listed[path] = tuple(written for _, written in inside)
    return RelatedScan(
        RelatedIndex(rows, config.common_share), sections, listed, unparsable, ungrouped, resolve
    )


def _resolved_targets(
    facts: FileFacts, section: tuple[int, int], resolve: Callable[[str, str], str | None]
) -> tuple[str, ...]:
    """The paths a note links (resolved, itself left out), by name; links in its related section do not count."""
    path = facts.path
    skip_from, skip_to = section
    found = {
        resolve(link.target, path)
        for link in facts.links
        if link.opaque is None and link.target and not skip_from <= link.start < skip_to
    }
    return tuple(sorted(target for target in found if target is not None and target != path))


def plan_related(
    scan: RelatedScan,
    config: RelatedConfig,
    read_note: Callable[[str], Note],
    forget: Callable[[str], None] = lambda path: None,
    *,
    markdown_links: bool = False,
    link_format: str = "shortest",
    on_progress: Callable[[str, int, int], None] | None = None,
    spool: Spool | None = None,
) -> BatchPlan:
    """One batch: every grouped note's section made to list its best candidates.

    A note is read only when its section may change: no section and entries to list, or a section whose
    links (from the facts cache) are not the entries; when they are, only its text is compared, unparsed.
    Each note is forgotten once planned, so memory holds the changes, not the notes. Big vaults are planned
    on every core: scoring, reading and verifying are per note, the index is shared by the forked workers.
    """
    index = scan.index

    def plan_chunk(paths: list[str]) -> list[tuple[str, FileChange]]:
        return _plan_notes(scan, config, read_note, forget, paths, markdown_links, link_format)

    changes: list[FileChange] = []
    outcome: dict[str, list[str]] = {ADDED: [], UPDATED: [], REMOVED: []}
    chunks = iter_chunks(plan_chunk, index.paths, label="Choosing related notes", on_progress=on_progress)
    for planned in chunks:
        for action, change in planned:
            changes.append(change if spool is None else spool.keep(change))
            outcome[action].append(change.path)
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
        "notes_scored": index.total,
        **outcome,
        "skipped_unparsable": scan.unparsable,
        "skipped_no_group": scan.ungrouped,
    }
    return BatchPlan("sync-related", f"related sections ({summary})", changes, counts, report)


def _plan_notes(
    scan: RelatedScan,
    config: RelatedConfig,
    read_note: Callable[[str], Note],
    forget: Callable[[str], None],
    paths: list[str],
    markdown_links: bool,
    link_format: str,
) -> list[tuple[str, FileChange]]:
    """(action, change) for each of `paths` whose section changes."""
    index = scan.index
    planned: list[tuple[str, FileChange]] = []
    # An entry depends only on the target and the linking note's folder; most notes share a folder.
    entry_cache: dict[tuple[str, str], str] = {}
    for path in paths:
        chosen = best_candidates_of(index, index.number[path], config, config.limit)
        folder = path[: path.rfind("/") + 1]
        entries = []
        for candidate in chosen:
            entry = entry_cache.get((candidate.path, folder))
            if entry is None:
                entry = entry_text(path, candidate.path, scan.resolve, markdown_links, link_format)
                entry_cache[candidate.path, folder] = entry
            entries.append(entry)
        span = scan.sections.get(path)
        if span is None and not entries:
            continue
        note = read_note(path)
        try:
            if (
                span is not None
                and scan.listed[path] == tuple(entries)
                and section_is_current(note, span, entries)
            ):
                continue
            edit, action = section_edit(note, config.heading, entries)
            change = note_change(note, [edit]) if edit is not None else None
        finally:
            forget(path)
        if change is not None:
            planned.append((action, change))
    return planned


def related_config(config: RelatedConfig, limit: int | None) -> RelatedConfig:
    """The configured settings with `--limit` (when given) in place of `related.limit`."""
    if limit is None:
        return config
    if limit < 1:
        raise VaultError(f"--limit must be at least 1, got {limit}; pass a positive number of entries")
    return replace(config, limit=limit)


def scan_vault(vault: Vault, config: RelatedConfig) -> RelatedScan:
    """The scan of a vault, from its facts (cached in `.vaulttools/cache`, parsed on every core if not)."""
    return scan_facts(vault.iter_facts(), vault.index, config, vault.read_bytes, _note_reader(vault))


def _note_reader(vault: Vault) -> Callable[[str], Note]:
    """`vault.note` without keeping the note: one grouped note at a time is all scoring text needs."""

    def read(path: str) -> Note:
        try:
            return vault.note(path)
        finally:
            vault.forget(path)

    return read


def plan_vault(vault: Vault, scan: RelatedScan, config: RelatedConfig) -> BatchPlan:
    settings = vault.settings
    return plan_related(
        scan,
        config,
        vault.note,
        vault.forget,
        markdown_links=settings.use_markdown_links,
        link_format=settings.new_link_format,
        on_progress=vault.on_progress,
        spool=Spool(vault.root),
    )


def plan_sync_related(vault: Vault, limit: int | None = None) -> BatchPlan:
    """The whole `sync-related` batch for a vault (what the CLI and `Vault.sync_related` run)."""
    config = related_config(vault.config.related, limit)
    with gc_paused():
        return plan_vault(vault, scan_vault(vault, config), config)
