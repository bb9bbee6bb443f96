"""Plan `normalize-links`: repair links that miss their note only by a suffix, plus optional tidy-ups.

Pure planning: notes and the vault's indexes in, edits and a `BatchPlan` out; nothing here writes.

Suffix fixes touch only links that do not resolve, and take their answer from `suffixes.propose`, the
same function behind `check`'s suggestions. The optional rules (`--fix-case`, `--drop-md`,
`--shorten-paths`) touch only links that resolve, and each rewrite must still resolve to the same file.
Every rewrite replaces the target span alone (`linkedit.retarget`), so `#subpath`, display text, `!`,
quoting and the link's syntax stay as written.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vaulttools.changes import BatchPlan, FileChange, PlanReport, Spool, fits_in_memory
from vaulttools.check import BrokenLinks, BrokenLinksByNote, Place, broken_links_by_note
from vaulttools.edits import Edit
from vaulttools.errors import EditConflict
from vaulttools.facts import READ_AHEAD_NOTES, stamp_of
from vaulttools.files import clock_mark, stamp_of_status
from vaulttools.git import ObjectStore
from vaulttools.linkedit import retarget
from vaulttools.links import (
    BARE,
    EMBED,
    MARKDOWN,
    PROPERTY,
    WIKILINK,
    Link,
    wikilinks_in,
)
from vaulttools.note import Note
from vaulttools.parallel import forks_for, iter_chunks
from vaulttools.planning import cyclic_gc_paused, note_change
from vaulttools.resolve import BROKEN, RESOLVED, LinkIndex, fold, strip_md
from vaulttools.suffixes import SuffixMatcher, note_day, propose
from vaulttools.vault import Vault
from vaulttools.yamledit import RefusedEdit

COMMAND = "normalize-links"

RULE_CASE = "fix-case"
RULE_DROP_MD = "drop-md"
RULE_SHORTEN = "shorten-paths"
OPTIONAL_RULES = (RULE_CASE, RULE_DROP_MD, RULE_SHORTEN)

# Which link kinds each optional rule rewrites. A markdown link needs its `.md` and its path in
# renderers other than Obsidian, so only the letter case of a markdown link is ever normalized.
RULE_KINDS: dict[str, frozenset[str]] = {
    RULE_CASE: frozenset({WIKILINK, EMBED, MARKDOWN, PROPERTY, BARE}),
    RULE_DROP_MD: frozenset({WIKILINK, EMBED, PROPERTY}),
    RULE_SHORTEN: frozenset({WIKILINK, EMBED, PROPERTY, BARE}),
}

UNCHANGED = "unchanged"
FIXED = "fixed"
AMBIGUOUS = "ambiguous"
STILL_BROKEN = "broken"

# A note without any of these bytes has no link to look at: it is never parsed.
LINK_MARKERS = (b"[[", b"](")


@dataclass(frozen=True)
class NormalizeOptions:
    fix_case: bool = False
    drop_md: bool = False
    shorten_paths: bool = False

    def enabled(self, rule: str) -> bool:
        return {RULE_CASE: self.fix_case, RULE_DROP_MD: self.drop_md, RULE_SHORTEN: self.shorten_paths}[rule]

    @property
    def any_optional(self) -> bool:
        return self.fix_case or self.drop_md or self.shorten_paths


class LinkContext:
    """What deciding one link needs: the vault's resolution and suffix indexes, and the options.

    `index`: the vault's link index, or how to build it on first use. A worker that takes every link's
    answer from `check`'s findings (`_known_result`) never resolves a link, so the index is built, where
    at all, by the process that needs it (20,000 notes: ~0.03 s before the workers fork)."""

    def __init__(
        self,
        index: LinkIndex | Callable[[], LinkIndex],
        matcher: SuffixMatcher,
        options: NormalizeOptions | None = None,
    ) -> None:
        self._index = index
        self.matcher = matcher
        self.options = options or NormalizeOptions()

    @property
    def index(self) -> LinkIndex:
        if not isinstance(self._index, LinkIndex):
            self._index = self._index()
        return self._index


Places = tuple[Place, ...]


class Outcome(NamedTuple):
    status: str  # UNCHANGED, FIXED, AMBIGUOUS or STILL_BROKEN
    target: str  # the target to write (the old one unless FIXED)
    rules: tuple[str, ...] = ()  # the rules that changed it, in the order applied
    candidates: tuple[str, ...] = ()  # for AMBIGUOUS: the notes it may have meant
    path: str | None = None  # for FIXED: the file the new target resolves to


class LinkEntry(NamedTuple):
    """One line of the report: a link that was fixed, or left alone and why."""

    note: str
    line: int
    link: str  # the whole link as written
    target: str
    new_target: str = ""
    rules: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        data = self._asdict()
        data["rules"] = list(self.rules)
        data["candidates"] = list(self.candidates)
        return data


@dataclass(frozen=True)
class NormalizePlanReport(PlanReport):
    """`plan.report` of normalize-links: the options, the fixes per rule, and every link it fixed or left."""

    options: NormalizeOptions
    fixed_per_rule: dict[str, int]
    fixed: list[LinkEntry]
    ambiguous: list[LinkEntry]
    broken: list[LinkEntry]
    skipped: list[LinkEntry]


@dataclass
class LinkReport:
    """What normalize-links says about links: of one note, or summed over the vault."""

    fixed: list[LinkEntry] = field(default_factory=list)
    ambiguous: list[LinkEntry] = field(default_factory=list)
    broken: list[LinkEntry] = field(default_factory=list)
    skipped: list[LinkEntry] = field(default_factory=list)  # fixable, but not editable in place

    def __bool__(self) -> bool:
        return bool(self.fixed or self.ambiguous or self.broken or self.skipped)

    def absorb(self, other: LinkReport) -> None:
        self.fixed += other.fixed
        self.ambiguous += other.ambiguous
        self.broken += other.broken
        self.skipped += other.skipped

    def to_wire(self) -> tuple[tuple[tuple, ...], ...]:
        """The entries as plain tuples, for a worker to send: pickling 13,000 named tuples (their class is
        looked up and called for each) cost ~10x more than plain ones, on the parent's critical path."""
        return tuple(
            tuple(map(tuple, entries)) for entries in (self.fixed, self.ambiguous, self.broken, self.skipped)
        )

    def absorb_wire(self, wire: tuple[tuple[tuple, ...], ...]) -> None:
        fixed, ambiguous, broken, skipped = wire
        self.fixed += map(LinkEntry._make, fixed)
        self.ambiguous += map(LinkEntry._make, ambiguous)
        self.broken += map(LinkEntry._make, broken)
        self.skipped += map(LinkEntry._make, skipped)


@dataclass
class NoteResult(LinkReport):
    edits: list[Edit] = field(default_factory=list)
    fixed_paths: list[str] = field(default_factory=list)  # the files the fixed links now point to


# --- one target ------------------------------------------------------------------------------------


def normalize_target(
    target: str, kind: str, source: str, day: Callable[[], object], context: LinkContext
) -> Outcome:
    """Decide what one link target should become. `day` is called only when a tie needs it."""
    resolution = context.index.resolve(target, source)
    rules: tuple[str, ...] = ()
    if resolution.status == BROKEN:
        proposal = propose(context.matcher, context.index, target, source, day)
        suggestion = proposal.suggestion
        if proposal.target is None or suggestion.path is None:  # no fix: no unique note to point to
            candidates = tuple(c.path for c in suggestion.candidates)
            return Outcome(AMBIGUOUS if candidates else STILL_BROKEN, target, (), candidates)
        rule = next(c.rule for c in suggestion.candidates if c.path == suggestion.path)
        target, path, rules = proposal.target, suggestion.path, (rule,)  # the target resolves to `path`
    elif resolution.status == RESOLVED and resolution.path is not None:
        if not context.options.any_optional:
            return Outcome(UNCHANGED, target)  # the common case, decided without further work
        path = resolution.path
    else:
        return Outcome(UNCHANGED, target)  # an Obsidian tie: `check` reports it, no rule can pick
    target, optional = _apply_optional_rules(target, kind, path, source, context)
    rules += optional
    return Outcome(FIXED, target, rules, (), path) if rules else Outcome(UNCHANGED, target)


def _apply_optional_rules(
    target: str, kind: str, path: str, source: str, context: LinkContext
) -> tuple[str, tuple[str, ...]]:
    """Case, then `.md`, then path: each step sees the previous one's result, so a rerun is a no-op."""
    applied: list[str] = []
    if not context.options.any_optional:
        return target, ()  # the common run: skip the per-link work below
    for rule, step in ((RULE_CASE, exact_case), (RULE_DROP_MD, without_md), (RULE_SHORTEN, shortest_path)):
        if not context.options.enabled(rule) or kind not in RULE_KINDS[rule]:
            continue
        new = step(target, path, context.index)
        if new != target and context.index.resolve(new, source).path == path:
            target = new
            applied.append(rule)
    return target, tuple(applied)


def exact_case(target: str, path: str, index: LinkIndex) -> str:
    """`target` with each name written exactly as the file's path spells it (case, Unicode form)."""
    parts = target.split("/")
    lead = 0
    while lead < len(parts) - 1 and parts[lead] in ("", ".", ".."):
        lead += 1  # `/`, `./`, `../` are kept as written; the names after them map onto the path's tail
    named = parts[lead:]
    path_parts = path.split("/")
    if len(named) > len(path_parts):
        return target
    exact = path_parts[len(path_parts) - len(named) :]
    if fold(named[-1]) != fold(exact[-1]):
        exact[-1] = strip_md(exact[-1])  # the link leaves out `.md`
    if any(fold(written) != fold(actual) for written, actual in zip(named, exact, strict=True)):
        return target
    return "/".join([*parts[:lead], *exact])


def without_md(target: str, path: str, index: LinkIndex) -> str:
    """`note.md` → `note`: Obsidian reads both the same way (the caller checks it still resolves)."""
    name = target.rpartition("/")[2]
    if len(name) > 3 and name.lower().endswith(".md"):
        return target[:-3]
    return target


def shortest_path(target: str, path: str, index: LinkIndex) -> str:
    """The shortest tail of a folder path that matches this one file and no other."""
    parts = target.split("/")
    if len(parts) < 2 or parts[0] in ("", ".", ".."):
        return target  # a bare name, or an explicit vault-absolute or relative path the author chose
    for keep in range(1, len(parts)):
        shorter = "/".join(parts[-keep:])
        if index.matches(shorter) == [path]:
            return shorter
    return target


# --- one note --------------------------------------------------------------------------------------


def may_hold_links(raw: bytes, link_properties: Iterable[str]) -> bool:
    """A cheap byte test: could this note hold a link at all?"""
    return any(marker in raw for marker in LINK_MARKERS) or any(
        name.encode("utf-8") in raw for name in link_properties
    )


def normalize_note(
    note: Note, context: LinkContext, day_property: str, broken: BrokenLinks | None = None
) -> NoteResult:
    """The edits for one note and what it reports; links inside code, math or comments are not links.

    Without the optional rules, only links that resolve to nothing can change. Where `check` found them
    (`broken`, for the very bytes read: same stamp), they are decided at its places alone
    (`_known_result`). Anything else (an optional rule, a broken link in the frontmatter or a markdown
    link, a note changed since `check`) decides every link of the note."""
    day_cache: list[object] = []

    def day() -> object:
        if not day_cache:
            day_cache.append(note_day(note, day_property))  # parses YAML only when a tie needs it
        return day_cache[0]

    if broken is not None and not context.options.any_optional:
        known = _known_result(note, broken.places, context, day)
        if known is not None:
            return known
    result = NoteResult()
    for link in note.links:
        if link.is_link:
            outcome = normalize_target(link.target, link.kind, note.path, day, context)
            if outcome.status != UNCHANGED:
                _report_link(note, link, note.line_col(link.start)[0], outcome, result)
    return result


def _report_link(note: Note, link: Link, line: int, outcome: Outcome, result: NoteResult) -> None:
    """Add a decided link (not UNCHANGED) to `result`: reported as ambiguous or broken, or fixed with its
    edit, or skipped with the reason it cannot be edited in place."""
    written = note.text[link.start : link.end]
    if outcome.status == AMBIGUOUS:
        reason = _ambiguity_reason(outcome.candidates)
        result.ambiguous.append(
            LinkEntry(note.path, line, written, link.target, "", (), outcome.candidates, reason)
        )
        return
    if outcome.status == STILL_BROKEN:
        result.broken.append(LinkEntry(note.path, line, written, link.target, candidates=outcome.candidates))
        return
    entry = LinkEntry(
        note.path, line, written, link.target, outcome.target, outcome.rules, outcome.candidates
    )
    if link.start < note.body_start and not note.frontmatter_editable:
        result.skipped.append(entry._replace(reason=f"frontmatter does not parse ({note.yaml_error})"))
        return
    try:
        result.edits.append(retarget(note, link, outcome.target))
    except RefusedEdit as exc:
        result.skipped.append(entry._replace(reason=exc.message))
        return
    result.fixed.append(entry)
    if outcome.path is not None:
        result.fixed_paths.append(outcome.path)


def _known_result(
    note: Note, places: Places, context: LinkContext, day: Callable[[], object]
) -> NoteResult | None:
    """`normalize_note` from `check`'s places of the note's links to no file: each body wikilink there is
    parsed alone, and its outcome is the finding's (the suggestion and candidates come from the same
    `propose` on the same note, and `rule_between` names the rule `propose` used; where it names none, the
    link is decided here). None unless each place holds exactly its link (a frontmatter or markdown link,
    or a note that changed, needs the full parse)."""
    result = NoteResult()
    for place in places:
        link = _link_at(note, place)
        if link is None:
            return None
        if link.is_link:
            outcome = _known_outcome(link, place) or normalize_target(
                link.target, link.kind, note.path, day, context
            )
            if outcome.status != UNCHANGED:
                _report_link(note, link, place[0], outcome, result)
    return result


def _known_outcome(link: Link, place: Place) -> Outcome | None:
    """`normalize_target`'s outcome for a broken link from `check`'s finding, which holds the same
    `propose`'s answer for the same note in the same vault (its cache is of this file list): the suggested
    target, the file it resolves to and the rule (`check.Finding.fix`). None when it cannot tell."""
    suggestion, candidates, fix = place[3], place[4], place[5]
    if suggestion is None:
        return Outcome(AMBIGUOUS if candidates else STILL_BROKEN, link.target, (), candidates)
    if fix is None:
        return None
    path, rule = fix
    return Outcome(FIXED, suggestion, (rule,), (), path)


def _link_at(note: Note, place: Place) -> Link | None:
    """The body wikilink written at this (line, column, text) place; None unless the place holds exactly
    that link."""
    line, column, written = place[0], place[1], place[2]
    start = _offset_of_written(note, line, column, written)
    if start is None or start < note.body_start:  # a frontmatter link needs its property kind
        return None
    end = start + len(written)
    found = wikilinks_in(note.text, start, end) if note.text[start:end] == written else []
    if len(found) != 1 or (found[0].start, found[0].end) != (start, end):
        return None
    return found[0]


def _offset_of_written(note: Note, line: int, column: int, written: str) -> int | None:
    """Where `written` starts at this line and column. Its first occurrence usually is that place, found
    at memchr speed and confirmed by counting newlines before it (no table of every line start)."""
    text = note.text
    start = text.find(written)
    if start >= 0 and text.count("\n", 0, start) + 1 == line and start - text.rfind("\n", 0, start) == column:
        return start
    return note.offset_of(line, column)


def _ambiguity_reason(candidates: tuple[str, ...]) -> str:
    if len(candidates) == 1:
        return "the only candidate would not resolve to that note"
    return "several notes differ only by a suffix and the day property does not pick one"


# --- the batch -------------------------------------------------------------------------------------


@dataclass
class VaultResult(LinkReport):
    changes: list[FileChange] = field(default_factory=list)


def plan_normalize(vault: Vault, options: NormalizeOptions | None = None) -> BatchPlan[NormalizePlanReport]:
    """Every link fix of the vault as one batch (notes are planned on every core on big vaults)."""
    options = options or NormalizeOptions()
    config = vault.config
    # Without the optional rules the workers take most links' answers from `check` and resolve none.
    context = LinkContext(
        vault.index if options.any_optional else lambda: vault.index, vault.suffix_matcher, options
    )
    totals = VaultResult()
    # Suffix fixes touch only links that resolve to nothing: without the optional rules, only notes `check`
    # finds a broken link in are parsed (its cache answers for unchanged notes; it checks the others).
    broken = {} if options.any_optional else broken_links_by_note(vault)
    spool = Spool(vault.root, expected_bytes=_most_spooled(broken, options))
    paths = vault.note_paths if options.any_optional else list(broken)
    if options.any_optional and forks_for(len(paths)):
        # Every broken link is searched for then: the workers inherit the tables. Without the optional
        # rules `check`'s findings usually decide every link, and a worker builds them only if it must.
        context.matcher.tables()
    if forks_for(len(paths)):
        spool.share()  # the workers spool the new bytes of long notes: they cross no pipe (`_plan_notes`)
    mark = clock_mark(vault.root)  # before any note is read (see `PlannedStatus.stamp`)
    objects = ObjectStore.of(vault.root)
    chunks = iter_chunks(
        lambda chunk: _plan_notes(vault, context, chunk, broken, spool, mark, objects),
        paths,
        on_progress=vault.on_progress,
    )
    relied_on: set[str] = set()
    keep = spool.keep
    for results in chunks:
        for changes, wire, targets in results:  # one per chunk
            totals.changes += map(keep, changes)
            totals.absorb_wire(wire)
            relied_on.update(targets)
    plan = build_plan(totals, config.suffix_rules, options)
    plan.relies_on = sorted(relied_on)
    plan.spent.append(broken)
    return plan


def _most_spooled(broken: Mapping[str, BrokenLinks | None], options: NormalizeOptions) -> int | None:
    """About the most the batch's spool holds: the old and new bytes of every note `check` found a broken
    link in. Unknown (None: the spool is then a file) with the optional rules, which may touch any note, or
    without `check`'s findings to size the notes by."""
    if options.any_optional or not isinstance(broken, BrokenLinksByNote):
        return None
    # Every note's size first (~3 ms for 20,000): where even that fits in memory, the notes with a link to
    # no file need not be told apart (~0.025 s more, before the workers fork).
    every_note = 2 * broken.size_of_all()
    return every_note if fits_in_memory(every_note) else 2 * broken.size_with_places()


def _plan_notes(
    vault: Vault,
    context: LinkContext,
    paths: list[str],
    broken: Mapping[str, BrokenLinks],
    spool: Spool | None = None,
    mark: tuple[int, int] | None = None,
    objects: ObjectStore | None = None,
) -> list[tuple[list[FileChange], tuple[tuple[tuple, ...], ...], set[str]]]:
    """The changes, the report (`LinkReport.to_wire`) and the notes the fixed links now point to, of the
    notes of `paths`, in their order; as one entry, so that the parent takes a chunk's reports in a few
    steps, not each note's (12,700 notes: ~0.03 s of its time while the workers plan). `spool`: the batch's
    spool, which a forked worker gives the chunk's long notes in one append (`Spool.take_from_worker`; at
    most a chunk's new bytes, ~30 MB of 30 KB notes, wait in the worker until then). `mark`:
    `files.clock_mark` taken before planning; `objects`: the vault's git object store, asked whether it
    holds each note's new bytes."""
    changes: list[FileChange] = []
    report = LinkReport()  # the chunk's, made plain tuples once (`to_wire`), not note by note
    targets: set[str] = set()  # the notes the fixed links now point to: the batch checks they still exist
    with cyclic_gc_paused():
        for start in range(0, len(paths), READ_AHEAD_NOTES):
            group = [(path, broken.get(path)) for path in paths[start : start + READ_AHEAD_NOTES]]
            # Read together, then planned: no system call between two notes' parsing (`facts.read_stamped_batches`).
            read = [
                (path, places, _read_note(vault, path))
                for path, places in group
                if _to_read(vault, path, places)
            ]
            # Each note's edits, then each note's change: a step at a time for the notes read together.
            decided = [
                _decide_note(vault, context, path, places, note_read) for path, places, note_read in read
            ]
            for found, (_, _, note_read) in zip(decided, read, strict=True):
                if found is None:
                    continue
                planned = _note_change(vault, *found, note_read[1], mark, objects)
                if planned is None:
                    continue
                change, result = planned
                if change is not None:
                    changes.append(change)
                report.absorb(result)
                targets.update(result.fixed_paths)
    if spool is not None:
        changes = spool.take_from_worker(changes)  # the chunk's long notes in one append
    return [(changes, report.to_wire(), targets)]


def _to_read(vault: Vault, path: str, places: BrokenLinks | None) -> bool:
    """Whether `_plan_note` needs the note's bytes: not where `check` found no link to no file in the note
    at the stamp it still has (nothing to do unless it changed), nor where it is gone since the scan (as
    `check` skips it)."""
    if places is None or places.places:
        return True
    try:
        return stamp_of(f"{vault.root}/{path}") != places.stamp
    except OSError:
        return False


def _decide_note(
    vault: Vault,
    context: LinkContext,
    path: str,
    places: BrokenLinks | None,
    note_read: tuple[tuple[int, int, int, int], os.stat_result, bytes],
) -> tuple[Note, NoteResult] | None:
    """The note read as `note_read` (`_read_note`) since `_to_read` asked for it, and its edits (None:
    nothing to report)."""
    config = vault.config
    stamp, _, raw = note_read
    # Where `check` saw the broken links holds only for the bytes it saw: same stamp (taken before
    # reading), or the same bytes under a new one (`git checkout`, `undo`).
    if places is not None and not places.holds_for(stamp, raw):
        places = None
    elif places is not None and not places.places:
        return None  # the bytes `check` found no link to no file in
    note = Note(path, raw, config.link_property_set)  # not kept: the change holds the bytes it needs
    if not note.editable or (places is None and not may_hold_links(note.raw, config.link_properties)):
        return None
    return note, normalize_note(note, context, config.day_property, places)


def _note_change(
    vault: Vault,
    note: Note,
    result: NoteResult,
    status: os.stat_result,
    mark: tuple[int, int] | None,
    objects: ObjectStore | None,
) -> tuple[FileChange | None, NoteResult] | None:
    """The change of a note whose edits are decided (`_decide_note`), verified, and what it reports (None:
    nothing to report)."""
    change = _verified_change(note, result)
    if change is not None:  # the old bytes stay in the note: only the new ones travel and are kept
        # Its old bytes cross only where git lacks them (12,700 dense notes: ~55 MB less through the pipes).
        change = change.old_left_on_disk(vault.root, status, mark, objects)
    if change is None and not result:
        return None
    return change, result


def _read_note(vault: Vault, path: str) -> tuple[tuple[int, int, int, int], os.stat_result, bytes]:
    """A note's stamp (as `Vault.read_stamped` and `check`'s cache give it), its status and bytes, with one
    open: the batch takes the note's mode from that status (`FileChange.planned_status`) instead of an
    `lstat` of its own."""
    status, raw = vault.read_with_status(path)
    return stamp_of_status(status), status, raw


def _verified_change(note: Note, result: NoteResult) -> FileChange | None:
    """The note's change; when re-reading the edited note fails its checks, the note is left as it is and
    its fixes are reported as skipped with the reason (one odd note does not stop the other fixes)."""
    if not result.edits:
        return None
    try:
        return note_change(note, result.edits)
    except EditConflict as exc:
        reason = exc.reason if exc.reason is not None else exc.message
        result.skipped += [entry._replace(reason=reason) for entry in result.fixed]
        result.fixed, result.fixed_paths = [], []
        return None


def fixes_per_rule(
    fixed: Iterable[LinkEntry], suffix_rules: Iterable[str], options: NormalizeOptions
) -> dict[str, int]:
    """Fixed links per rule: every suffix rule, and each optional rule that was turned on."""
    counter = Counter(rule for entry in fixed for rule in entry.rules)
    rules = [*suffix_rules, *(rule for rule in OPTIONAL_RULES if options.enabled(rule))]
    return {rule: counter.get(rule, 0) for rule in rules}


def build_plan(
    totals: VaultResult, suffix_rules: Iterable[str], options: NormalizeOptions
) -> BatchPlan[NormalizePlanReport]:
    per_rule = fixes_per_rule(totals.fixed, suffix_rules, options)
    links, notes = len(totals.fixed), len(totals.changes)
    counts = {
        "links_fixed": links,
        "notes_changed": notes,
        **{f"fixed_by `{rule}`": n for rule, n in per_rule.items()},
        "links_ambiguous": len(totals.ambiguous),
        "links_still_broken": len(totals.broken),
        "links_skipped": len(totals.skipped),
    }
    report = NormalizePlanReport(
        options, per_rule, totals.fixed, totals.ambiguous, totals.broken, totals.skipped
    )
    summary = f"fix {links} link{'s' if links != 1 else ''} in {notes} note{'s' if notes != 1 else ''}"
    return BatchPlan(COMMAND, summary, totals.changes, counts, report)
