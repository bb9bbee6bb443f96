"""Plan `vaulttools merge`: fold duplicate notes (SOURCEs) into one (TARGET), as one batch.

Pure planning: a vault and a list of merges in, a `BatchPlan` out; nothing is written here.

1. Links: a merge is, for every link, a rename of each SOURCE onto TARGET, so `rename.link_edits` points
   every reference (all forms, display text, path style) at TARGET. Broken links that miss only family
   members by a suffix (`[[claim-async-wins]]` when `-d3` and `-d9` exist) are pointed at TARGET too.
   A link property list that then names a TARGET twice keeps its first entry.
2. TARGET: its frontmatter lists gain the SOURCEs' new items (in TARGET's style and quoting), its
   `aliases` the SOURCEs' names; scalars stay (differences are reported, or taken with `prefer_source`);
   the SOURCEs' body paragraphs it lacks go after its own body, before its enrichment paragraph and
   "Related across articles" section; a SOURCE list sharing items with a list of TARGET adds only its
   missing items, at the end of that list (`bodylists.py`).
3. SOURCEs are deleted (a `FileChange` without new bytes; git records the deletion, `undo` restores it).

Each TARGET is planned in two verified steps: its link edits (checked like any batch's), then the merge
edits on that text, checked by loading the new frontmatter and comparing it with the planned data.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from vaulttools.bodylists import TargetList, best_match, flat_list_items, target_list
from vaulttools.changes import BatchPlan, FileChange, PlanReport
from vaulttools.config import Config
from vaulttools.duplicates import ParsedLinks, suffix_base
from vaulttools.edits import Edit, apply_edits
from vaulttools.enrich import find_enrichment_paragraph
from vaulttools.errors import VaultError
from vaulttools.files import read_with_status
from vaulttools.linkedit import retarget
from vaulttools.links import Link, links_from_fields, quick_link_targets, wikilink_target
from vaulttools.note import Note
from vaulttools.parallel import map_notes
from vaulttools.planning import note_change
from vaulttools.rename import (
    LeftAlone,
    RenameReport,
    find_old_note,
    link_edits,
    plan_canvases,
    searches_in_one_pass,
    spelling_test,
    widened_target,
)
from vaulttools.resolve import BROKEN, RESOLVED, LinkIndex, fold, stem_of
from vaulttools.sections import find_section
from vaulttools.suffixes import SuffixMatcher, written_like
from vaulttools.vault import Vault
from vaulttools.yamledit import RefusedEdit
from vaulttools.yamlnodes import BLOCK, FLOW, KeyValue, empty_key_line, format_item, list_edits, locate

COMMAND = "merge"
ALIASES = "aliases"
_H1_RE = re.compile(r"#[ \t]+\S")


@dataclass(frozen=True)
class Merge:
    """SOURCE notes folded into TARGET (vault paths)."""

    target: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class DifferingScalar:
    """A scalar property TARGET and a SOURCE give different values; `taken` says whose value the merged
    note keeps ("target", or "source" with `--prefer-source KEY`)."""

    target: str
    source: str
    key: str
    target_value: Any  # a plain JSON value (str, int, float, bool or None); anything else as its str()
    source_value: Any
    taken: str

    @property
    def source_taken(self) -> bool:
        return self.taken == "source"


@dataclass
class MergeReport:
    """What the planner did; becomes `plan.counts` and `plan.report`."""

    links: RenameReport = field(default_factory=RenameReport)
    suffixed_links_fixed: int = 0
    duplicates_removed: int = 0
    items_added: int = 0
    aliases_added: int = 0
    keys_added: int = 0
    paragraphs_added: int = 0
    paragraphs_already_present: int = 0
    body_list_items_added: int = 0
    differing: list[DifferingScalar] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (target, key) pairs whose SOURCE value is taken: `--prefer-source` takes the first SOURCE's value only,
    # and a lookup here keeps `merge --all` linear where a scan of `differing` per scalar was quadratic.
    source_values_taken: set[tuple[str, str]] = field(default_factory=set)

    def absorb(self, other: MergeReport) -> None:
        """Add a worker's report (of linking notes or of TARGETs) after this one's: counts add up, lists
        follow on, sets join."""
        for name in (f.name for f in fields(self)):
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, RenameReport):
                mine.absorb(theirs)
            elif isinstance(mine, set):
                mine |= theirs
            else:
                setattr(self, name, mine + theirs)


@dataclass(frozen=True)
class MergedNotes:
    target: str
    sources: list[str]


@dataclass(frozen=True)
class MergePlanReport(PlanReport):
    """`plan.report` of merge: the merges, the links redirected or left alone, the scalars that differed."""

    merges: list[MergedNotes]
    redirected_by_kind: dict[str, int]
    differing_scalars: list[DifferingScalar]
    paragraphs_already_present: int
    left_alone: list[LeftAlone]
    warnings: list[str]
    notes_read: int
    notes_parsed: int


# --- input ------------------------------------------------------------------------------------------


def resolve_merge(vault: Vault, sources: Iterable[str], into: str) -> Merge:
    """SOURCE and TARGET names (or vault paths) to a `Merge`; refuses what cannot be merged."""
    index = vault.index
    target = find_old_note(index, into)
    paths: list[str] = []
    for source in sources:
        path = find_old_note(index, source)
        if path == target:
            raise VaultError(
                f"TARGET {target} is also given as a SOURCE; a note cannot be merged into itself"
            )
        if path in paths:
            raise VaultError(f"{path} is given twice as a SOURCE; name it once")
        paths.append(path)
    if not paths:
        raise VaultError("nothing to merge: give at least one SOURCE, e.g. `vaulttools merge a-d9 --into a`")
    return Merge(target, tuple(paths))


def check_merges(vault: Vault, merges: list[Merge]) -> None:
    """Every refusal that needs the notes' contents, all listed at once: unreadable notes, frontmatter that
    does not parse, a property that is a list in one member and a scalar in another."""
    seen: dict[str, str] = {}
    for merge in merges:
        for path in (merge.target, *merge.sources):
            if path in seen:
                raise VaultError(f"{path} is in two merges ({seen[path]} and {merge.target}); merge it once")
            seen[path] = merge.target
    unparsable: list[str] = []
    mismatched: list[str] = []
    for merge in merges:
        notes = [vault.note(path) for path in (merge.target, *merge.sources)]
        for note in notes:
            if not note.editable:
                unparsable.append(f"{note.path} ({note.decode_error})")
            elif note.frontmatter_problem or (note.frontmatter is not None and note.properties is None):
                unparsable.append(f"{note.path} ({note.yaml_error})")
        if unparsable:
            continue
        mismatched += _shape_mismatches(notes)
        target = notes[0]
        if target.frontmatter is None and any(n.properties for n in notes[1:]):
            raise VaultError(
                f"{target.path} has no frontmatter to merge the properties of {', '.join(merge.sources)} "
                "into; add a `---` block to it first"
            )
    if unparsable:
        raise VaultError(
            f"cannot merge: the frontmatter does not parse in {'; '.join(unparsable)}; fix it first "
            "(nothing was written)"
        )
    if mismatched:
        raise VaultError(
            f"cannot merge: {'; '.join(mismatched)}; make the property the same kind in every note first "
            "(nothing was written)"
        )


def _shape_mismatches(notes: list[Note]) -> list[str]:
    kinds: dict[str, dict[str, bool]] = {}
    for note in notes:
        for key, value in (note.properties or {}).items():
            if value is not None:  # an empty `key:` goes with a list or a scalar
                kinds.setdefault(str(key), {})[note.path] = isinstance(value, list)
    problems = []
    for key, by_path in kinds.items():
        if len(set(by_path.values())) > 1:
            lists = [p for p, is_list in by_path.items() if is_list]
            others = [p for p, is_list in by_path.items() if not is_list]
            problems.append(f"{key!r} is a list in {', '.join(lists)} but not in {', '.join(others)}")
    return problems


# --- planning ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeContext:
    """What planning one note of a merge needs, all in memory: how links resolve before and after the
    SOURCEs go, the merges, the suffix rules and the config. Built from a vault by `plan_merges`, or from a
    list of paths in a test (`merge_context`)."""

    before: LinkIndex  # every file of the vault, SOURCEs included
    after: LinkIndex  # the link index once the SOURCEs are gone
    moved: dict[str, str]  # SOURCE path -> TARGET path
    family_of: dict[str, str]  # every member (SOURCEs and TARGETs) -> its TARGET
    targets: frozenset[str]
    interesting: Callable[[str], bool]  # whether a link target may name a SOURCE or miss a member by a suffix
    suffix_matcher: Callable[[], SuffixMatcher]  # built on first use: only a broken link needs it
    config: Config


def merge_context(
    index: LinkIndex, merges: list[Merge], config: Config, suffix_matcher: Callable[[], SuffixMatcher]
) -> MergeContext:
    """The context of `merges` in a vault whose files `index` holds (`suffix_matcher`: the vault's)."""
    moved = {source: merge.target for merge in merges for source in merge.sources}
    after = index.copy()
    for source in moved:
        after.remove(source)
    family_of = {**moved, **{merge.target: merge.target for merge in merges}}
    targets = frozenset(m.target for m in merges)
    interesting = _names_of_interest(config.suffix_rules, family_of)
    return MergeContext(index, after, moved, family_of, targets, interesting, suffix_matcher, config)


@dataclass(frozen=True)
class MergeOptions:
    """`prefer_source`: the scalar properties whose value is taken from the SOURCE where the notes differ
    (TARGET's value stays otherwise)."""

    prefer_source: tuple[str, ...] = ()


def plan_merges(
    vault: Vault,
    merges: list[Merge],
    options: MergeOptions | None = None,
    *,
    spelling_notes: list[str] | None = None,
    parsed_links: Mapping[str, ParsedLinks] | None = None,
) -> BatchPlan[MergePlanReport]:
    """The batch that folds every merge's SOURCEs into its TARGET; writes nothing.

    `spelling_notes`: the notes whose bytes spell a member's name (or its name without the suffix), when
    a scan already found them (`duplicates.scan_families`); otherwise every note's bytes are searched.
    `parsed_links`: links that scan parsed, reused for a note whose bytes are still the same.
    """
    if not merges:
        return _batch([], [], MergeReport())
    check_merges(vault, merges)
    context = merge_context(vault.index, merges, vault.config, lambda: vault.suffix_matcher)
    preferred = frozenset((options or MergeOptions()).prefer_source)
    changes, report, planned_targets = _plan_notes(
        vault, context, merges, preferred, (spelling_notes, parsed_links or {})
    )
    # Canvases as a rename updates them: file nodes and text-node links to a SOURCE now name its TARGET.
    changes += plan_canvases(vault, context.moved, context.after, report.links)
    for merge in merges:
        change, target_report = planned_targets[merge.target]
        report.absorb(target_report)
        if change is not None:
            changes.append(change)
        for source in merge.sources:  # the bytes the TARGET's planning read (`check_merges` cached them)
            changes.append(FileChange(source, vault.note(source).raw, None))
    taken = {entry.key for entry in report.differing if entry.source_taken}
    for key in sorted(preferred - taken):
        report.warnings.append(
            f"--prefer-source {key}: no SOURCE has another value for {key!r}; nothing taken"
        )
    plan = _batch(merges, changes, report)
    _declare_merge_facts(vault, merges, plan)
    return plan


NoteReader = Callable[[list[str], MergeReport], Iterator[tuple[str, bytes, os.stat_result]]]


def _note_reader(vault: Vault, family_of: Mapping[str, str], *, searched: bool) -> NoteReader:
    """What reads the notes to plan of a list of paths: each note's bytes and status, where it may link a
    member. `searched`: no scan found the notes that spell a member's name, so their bytes are searched
    here; otherwise every note of the list is one."""
    names = _spelled_names(vault.config.suffix_rules, family_of) if searched else set()
    spells = spelling_test(names) if searched else None
    # With hundreds of names (`merge --all`), searching a note's bytes costs ~4 µs a KB (lowering them, then
    # an automaton): on a long note more than reading its links' targets (`may_need_edits`), which a
    # spelling note pays for anyway. A few names are found by `in`, far cheaper on every note.
    searched_size = _SEARCHED_NOTE_SIZE if searched and searches_in_one_pass(names) else None

    def read_notes(paths: list[str], report: MergeReport) -> Iterator[tuple[str, bytes, os.stat_result]]:
        for path in paths:
            report.links.notes_read += 1
            raw, status = _read_note(vault, path)
            if spells is None or (searched_size is not None and len(raw) > searched_size) or spells(raw):
                yield path, raw, status

    return read_notes


# A TARGET's change with what planning it found (see `_plan_notes`).
PlannedTarget = tuple[FileChange | None, MergeReport]


def _plan_notes(
    vault: Vault,
    context: MergeContext,
    merges: list[Merge],
    prefer_source: frozenset[str],
    scanned: tuple[list[str] | None, Mapping[str, ParsedLinks]],
) -> tuple[list[FileChange], MergeReport, dict[str, PlannedTarget]]:
    """Every other note that may link a member, its links repointed, and each TARGET with its SOURCEs
    folded in: one pass on every core for big vaults (a TARGET with its SOURCEs is the heavier item, and
    `merge --all` may have hundreds). The linking notes' changes and report, and each TARGET's."""
    spelling_notes, parsed_links = scanned
    notes_to_plan = _note_reader(vault, context.family_of, searched=spelling_notes is None)
    searched = vault.note_paths if spelling_notes is None else spelling_notes
    merge_of = {merge.target: merge for merge in merges}
    others = [path for path in searched if path not in context.family_of]

    def plan_chunk(paths: list[str]) -> list[tuple[list[FileChange], MergeReport, dict[str, PlannedTarget]]]:
        report = MergeReport()
        changes = []
        for path, raw, status in notes_to_plan([path for path in paths if path not in merge_of], report):
            note = _with_parsed_links(Note(path, raw, vault.config.link_property_set), parsed_links.get(path))
            if "links" not in note.__dict__ and not may_need_edits(note, context):
                continue  # it links a TARGET, which stays: no `Link` of it is built
            report.links.notes_parsed += 1
            change = plan_linking_note(note, context, report)
            if change is not None:  # fingerprinted here, on every core; the journal may name git's blob
                changes.append(change.old_left_on_disk(vault.root, status))
        targets = {}
        for path in (path for path in paths if path in merge_of):
            target_report = MergeReport()
            change = _plan_target(vault, context, merge_of[path], prefer_source, target_report, parsed_links)
            targets[path] = (change and change.old_left_on_disk(vault.root), target_report)
        return [(changes, report, targets)]

    report = MergeReport()
    changes: list[FileChange] = []
    planned_targets: dict[str, PlannedTarget] = {}
    work = _interleaved(others, list(merge_of))
    for chunk_changes, chunk_report, chunk_targets in map_notes(
        plan_chunk, work, on_progress=vault.on_progress
    ):
        changes += chunk_changes
        report.absorb(chunk_report)
        planned_targets.update(chunk_targets)
    return changes, report, planned_targets


# A note longer than this is planned by its link targets without searching its bytes for hundreds of names
# first (see `_note_reader`): at ~4 µs a KB, the search of a note of 8 KB costs as much as reading its links'
# targets when a third of the notes spell a name, as in `merge --all` on the benchmark's vaults.
_SEARCHED_NOTE_SIZE = 8192


def _with_parsed_links(note: Note, parsed: ParsedLinks | None) -> Note:
    """`note` with the links the family scan parsed from the same bytes (their sha256 tells), instead of
    parsing them again (bringing them back costs a tenth as much): `Note.links` is a lazy property whose
    value lives in the note's `__dict__`. The fields are the scan's own, marshalled by this vault's workers."""
    if parsed is not None and parsed[0] == hashlib.sha256(note.raw).digest():
        note.__dict__["links"] = links_from_fields(marshal.loads(parsed[1]))
    return note


def _read_note(vault: Vault, path: str) -> tuple[bytes, os.stat_result]:
    """A note's bytes and its status when read (the batch then needs no `lstat` of its own)."""
    try:
        status, raw = read_with_status(f"{vault.root}/{path}")
    except OSError as exc:
        raise VaultError(f"{path}: cannot read ({exc.strerror}); check that the file is readable") from exc
    return raw, status


def _interleaved(paths: list[str], heavy: list[str]) -> list[str]:
    """`paths` with the `heavy` items spread evenly among them (in order), so that every chunk of a
    parallel run gets its share of them and no worker is left with all the TARGETs at the end."""
    if not heavy:
        return list(paths)
    step = len(paths) / len(heavy)
    work: list[str] = []
    taken = 0
    for i, item in enumerate(heavy):
        until = round(i * step)
        work += paths[taken:until]
        taken = until
        work.append(item)
    return work + paths[taken:]


def _declare_merge_facts(vault: Vault, merges: list[Merge], plan: BatchPlan) -> None:
    """What the merge decided on and the batch must find unchanged before it writes: each SOURCE (deleted by
    the batch, so checked with its bytes) and each TARGET that gains nothing (its bytes decided what the
    sources add, and the redirected links point to it)."""
    edited = {change.path for change in plan.changes}
    for merge in merges:
        if merge.target not in edited:
            plan.expect_unchanged(merge.target, vault.read_bytes(merge.target))


def _names_of_interest(suffix_rules: Iterable[str], family_of: Mapping[str, str]) -> Callable[[str], bool]:
    """A quick test of a link target: can it point at a SOURCE, or be a broken link that a suffix rule
    relates to a member? Only such links are resolved (a linking note has ten others on average)."""
    rules = [re.compile(f"(?:{rule})$") for rule in suffix_rules]
    sources = {fold(stem_of(path)) for path, target in family_of.items() if path != target}
    members = {fold(stem_of(path)) for path in family_of}
    bases = {fold(base) for base in (suffix_base(stem_of(path), rules) for path in family_of) if base}

    answers: dict[str, bool] = {}  # a vault's links name the same few thousand targets again and again

    def interesting(target: str) -> bool:
        known = answers.get(target)
        if known is None:
            known = answers[target] = _interesting(target)
        return known

    def _interesting(target: str) -> bool:
        name = fold(stem_of(target))
        # `[[Report.md]]` names the note `Report.md.md` too: its last part, `.md` kept, is a name as well.
        written = fold(target.rpartition("/")[2].strip())
        if name in sources or name in bases or written in sources:
            return True
        base = suffix_base(name, rules)
        return base is not None and base in members

    return interesting


def _spelled_names(suffix_rules: Iterable[str], family_of: Mapping[str, str]) -> set[str]:
    """Names whose spelling marks a note that may link a SOURCE: each SOURCE's name, and each member's
    name without its suffix (a broken `[[claim-async-wins]]` that only the family can mean)."""
    rules = [re.compile(f"(?:{rule})$") for rule in suffix_rules]
    names = {stem_of(path) for path, target in family_of.items() if path != target}
    names |= {base for base in (suffix_base(stem_of(path), rules) for path in family_of) if base}
    return names


def _link_stage(
    context: MergeContext, note: Note, report: MergeReport, *, new_source: str | None = None
) -> list[Edit]:
    """The edits that point every link to a SOURCE (or, by a suffix, to the family) at its TARGET."""
    edits: list[Edit] = []
    source = new_source or note.path
    moved = context.moved if new_source is None else {**context.moved, note.path: new_source}
    # A link resolves alike from any note of one folder (relative paths and Obsidian's tie-break go by the
    # folder): a SOURCE beside its TARGET (a day-suffixed copy) reaches every other note as before, so
    # only the links that may name a member need planning, as in a linking note.
    in_place = new_source is None or new_source.rpartition("/")[0] == note.path.rpartition("/")[0]
    interesting = context.interesting if in_place else None
    for link in note.links:
        if interesting is not None and not interesting(link.target):
            continue  # its note stays where it is, and no SOURCE can be meant
        found = link_edits(context.before, note, link, moved, source, context.after, report.links)
        if found:
            edits.extend(found)
            continue
        fix = _suffix_fix(context, note, link, source)
        if fix is not None:
            report.suffixed_links_fixed += 1
            edits.append(fix)
    return edits


def _suffix_fix(context: MergeContext, note: Note, link: Link, source: str) -> Edit | None:
    """A broken link whose suffix candidates are all members of one family goes to that family's TARGET."""
    if not link.is_link or (link.start < note.body_start and not note.frontmatter_editable):
        return None
    if context.before.resolve(link.target, note.path).status != BROKEN:
        return None
    candidates = context.suffix_matcher().candidates(link.target)
    families = {context.family_of.get(c.path) for c in candidates}
    if not candidates or len(families) != 1 or None in families:
        return None
    target = families.pop()
    assert target is not None
    wanted, _ = widened_target(written_like(link.target, target), target, source, context.after)
    try:
        return retarget(note, link, wanted, kind="suffixed")
    except RefusedEdit:
        return None


def may_need_edits(note: Note, context: MergeContext) -> bool:
    """Whether `plan_linking_note` may find an edit in the note, told from its link targets alone
    (`quick_link_targets`, a third of the cost of its `Link`s on a long note); True where only its
    `Link`s can tell. Most notes that spell a member's name link a TARGET, which stays: a link gets an
    edit (or a warning) only where its target may name a member (`interesting`: `_link_stage` skips the
    others) and it does not resolve to one and the same note before the merge and after it. A link to a
    SOURCE does not (the SOURCE is gone after it), nor one that is broken (a suffix fix) or ambiguous
    (left alone with a warning when a SOURCE ties), nor one that the SOURCEs' going would re-point."""
    targets = quick_link_targets(note)
    if targets is None:
        return True
    path = note.path
    interesting, before, after = context.interesting, context.before, context.after
    for target in targets:
        if interesting(target):
            reached = after.resolve(target, path)
            if reached.status != RESOLVED or reached.path != before.resolve(target, path).path:
                return True
    return False


def plan_linking_note(note: Note, context: MergeContext, report: MergeReport) -> FileChange | None:
    """The pure per-note planner of a merge, for a note that is not merged: its links to a SOURCE (or
    that miss a member by a suffix) repointed at the TARGET, then later entries naming the same TARGET
    dropped (from link property lists and from its "Related across articles" list); verified, in two
    steps. None when nothing changes or the note cannot be read."""
    if not note.editable:
        return None
    first = note_change(note, _link_stage(context, note, report))
    if first is None:
        return None
    edited = Note(note.path, first.new or b"", note.link_properties)
    heading = context.config.related.heading
    removals = []
    if _section_may_repeat(context, note, heading):
        removals = _section_duplicates(context, edited, heading, keep_self=True)
    report.duplicates_removed += len(removals)
    duplicates = _duplicate_entries(context, edited, keep_self=True)
    expected = dict(edited.properties or {}) if duplicates else None
    for key, (found, removed) in duplicates.items():
        removals += list_edits(edited, found, removed, [], edited.newline)
        assert expected is not None
        expected[key] = [item.value for i, item in enumerate(found.items) if i not in removed]
        report.duplicates_removed += len(removed)
    if not removals:
        return first
    second = note_change(edited, removals, expected_properties=expected)
    return FileChange(note.path, note.raw, second.new if second else first.new)


def _section_may_repeat(context: MergeContext, note: Note, heading: str) -> bool:
    """Whether the related list of a linking note can name one TARGET twice once its links are repointed,
    judged on the note as it was (its links are parsed already; the edited note's are not): only where a
    link in the list does not resolve (a suffix fix may make it a TARGET's) or two name members of one
    family (each then names its TARGET). The edits change link targets only, never where the list is."""
    section = find_section(note, heading)
    if section is None or section.list_start == section.list_end:
        return False
    families: set[str] = set()
    for link in note.links:
        if not (section.list_start <= link.start < section.list_end and link.is_link):
            continue
        resolved = context.before.resolve(link.target, note.path)
        if resolved.status != RESOLVED or resolved.path is None:
            return True
        family = context.family_of.get(resolved.path)
        if family in families:
            return True
        if family is not None:
            families.add(family)
    return False


def _section_duplicates(context: MergeContext, note: Note, heading: str, *, keep_self: bool) -> list[Edit]:
    """Lines of the "Related across articles" list that name a TARGET an earlier line names (or, in the
    TARGET itself, the note itself): each removed with its line break. The list is never emptied."""
    section = find_section(note, heading)
    if section is None or section.list_start == section.list_end:
        return []
    text = note.text
    links = [
        link for link in note.links if section.list_start <= link.start < section.list_end and link.is_link
    ]
    lines: list[tuple[int, int]] = []
    cursor = section.list_start
    while cursor < section.list_end:
        newline = text.find("\n", cursor, section.list_end)
        end = section.list_end if newline < 0 else newline + 1
        lines.append((cursor, end))
        cursor = end
    seen: set[str] = set()
    dropped: list[tuple[int, int]] = []
    for start, end in lines:
        in_line = [link for link in links if start <= link.start < end]
        if len(in_line) != 1:
            continue
        path = context.after.resolve(in_line[0].target, note.path).path
        if path is None or path not in context.targets:
            continue
        if path in seen or (not keep_self and path == note.path):
            dropped.append((start, end))
        seen.add(path)
    if len(dropped) == len(lines):
        return []
    joined: list[tuple[int, int]] = []
    for start, end in dropped:  # neighbouring lines go in one edit
        if joined and joined[-1][1] == start:
            start = joined.pop()[0]
        joined.append((start, end))
    edits = []
    for start, end in joined:
        if not text[start:end].endswith("\n"):  # the last line, without a line break: take the one before
            start -= 2 if text[:start].endswith("\r\n") else 1
        edits.append(Edit(start, end, text[start:end], "", "merge-related"))
    return edits


def _duplicate_entries(
    context: MergeContext, note: Note, *, keep_self: bool
) -> dict[str, tuple[KeyValue, set[int]]]:
    """Per link property: the later entries that name the same TARGET as an earlier one (and, in a
    TARGET itself, entries naming the note itself). A block list is never emptied (that would turn it
    into a null value)."""
    if not note.frontmatter_editable:
        return {}
    properties = note.properties or {}
    found_by_key: dict[str, tuple[KeyValue, set[int]]] = {}
    for key in sorted(note.link_properties):
        values = properties.get(key)
        if not isinstance(values, list) or not values:
            continue
        removed = _repeated_targets(context, values, note.path, keep_self=keep_self)
        if not removed:
            continue  # the common case: no need to find the list in the text
        found = locate(note, key)
        if found is None or found.style not in (FLOW, BLOCK) or [i.value for i in found.items] != values:
            continue
        if not (found.style == BLOCK and len(removed) == len(found.items)):
            found_by_key[key] = (found, removed)
    return found_by_key


def _repeated_targets(context: MergeContext, values: list[Any], path: str, *, keep_self: bool) -> set[int]:
    """The positions of a link list's values that name a TARGET an earlier value names (or, with
    `keep_self` false, the note `path` itself)."""
    seen: set[str] = set()
    removed: set[int] = set()
    for i, value in enumerate(values):
        named = _item_note(context.after, value, path)
        if named is None or named not in context.targets:
            continue
        if named in seen or (not keep_self and named == path):
            removed.add(i)
        seen.add(named)
    return removed


def _item_note(index: LinkIndex, value: Any, source: str) -> str | None:
    """The note a link property value names (bare `slug` or `"[[slug|shown]]"`), if it resolves."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("[[") and text.endswith("]]"):
        text = wikilink_target(text[2:-2])
    if not text:
        return None
    return index.resolve(text, source).path


# --- the TARGET --------------------------------------------------------------------------------------


def _source_material(context: MergeContext, merge: Merge, note: Note, report: MergeReport) -> Note:
    """A SOURCE as it reads once its links are pointed at TARGET (and planned from TARGET's folder)."""
    scratch = MergeReport()
    edits = _link_stage(context, note, scratch, new_source=merge.target)
    report.links.left_alone += scratch.links.left_alone
    report.links.left_alone_places += scratch.links.left_alone_places
    text = apply_edits(note.text, edits, path=note.path)
    return Note(note.path, note.encode(text), note.link_properties)


def _plan_target(
    vault: Vault,
    context: MergeContext,
    merge: Merge,
    prefer_source: frozenset[str],
    report: MergeReport,
    parsed_links: Mapping[str, ParsedLinks],
) -> FileChange | None:
    """`plan_target_note` on the vault's notes, with the links the family scan parsed (a member often
    links another family: on the deep profile the scan parsed ~4,000 members' links)."""
    notes = [
        _with_parsed_links(vault.note(path), parsed_links.get(path))
        for path in (merge.target, *merge.sources)
    ]
    return plan_target_note(notes[0], notes[1:], context, prefer_source, report)


def plan_target_note(
    target: Note,
    sources: list[Note],
    context: MergeContext,
    prefer_source: frozenset[str],
    report: MergeReport,
) -> FileChange | None:
    """TARGET's verified change once SOURCES fold into it (its links, frontmatter and body): the pure
    per-note planner of a merge's TARGET, given the notes' texts."""
    heading = context.config.related.heading
    first = note_change(target, _link_stage(context, target, report))
    note = Note(target.path, first.new or b"", target.link_properties) if first else target
    merge = Merge(target.path, tuple(source.path for source in sources))
    material = [_source_material(context, merge, source, report) for source in sources]
    edits, expected = _frontmatter_merge(context, note, material, prefer_source, report)
    edits += _body_merge(note, material, heading, report)
    self_lines = _section_duplicates(context, note, heading, keep_self=False)
    report.duplicates_removed += len(self_lines)
    edits += self_lines
    second = note_change(note, edits, expected_properties=expected if note.frontmatter else None)
    if second is None:
        return first
    return FileChange(target.path, target.raw, second.new)


@dataclass
class _FrontmatterDraft:
    """TARGET's frontmatter edits as they are planned, and the data they must give."""

    note: Note
    expected: dict[str, Any]
    edits: list[Edit] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)  # keys TARGET lacks, written at the end of its frontmatter


def _frontmatter_merge(
    context: MergeContext, note: Note, sources: list[Note], prefer_source: frozenset[str], report: MergeReport
) -> tuple[list[Edit], dict[str, Any]]:
    """TARGET's frontmatter edits and the data they must produce (see the module docstring)."""
    fm = note.frontmatter
    if fm is None:
        report.warnings.append(f"{note.path}: no frontmatter; the SOURCEs' names were not added as aliases")
        return [], {}
    draft = _FrontmatterDraft(note, dict(note.properties or {}))
    removals = _duplicate_entries(context, note, keep_self=False)
    first_differing = len(report.differing)  # this TARGET's entries are the ones `_new_items` appends
    additions, new_keys = _new_items(context, note, sources, prefer_source, removals, report)
    for key in [*removals, *(k for k in additions if k not in removals)]:
        _merge_list(draft, key, additions.get(key, []), removals, new_keys, report)
    for key, (source, located) in new_keys.items():
        if key not in additions:
            _copy_one_line_value(draft, key, source, located, report)
    sources_by_path = {source.path: source for source in sources}
    for entry in report.differing[first_differing:]:
        if entry.source_taken:
            source = sources_by_path[entry.source]
            draft.edits.append(_preferred_value(note, source, entry.key))
            draft.expected[entry.key] = (source.properties or {})[entry.key]
    if draft.tail:
        draft.edits.append(Edit(fm.end, fm.end, "", "".join(draft.tail), "merge-key"))
    return draft.edits, draft.expected


def _merge_list(
    draft: _FrontmatterDraft,
    key: str,
    items: list[tuple[Any, str | None]],
    removals: Mapping[str, tuple[KeyValue, set[int]]],
    new_keys: Mapping[str, tuple[Note, KeyValue | None]],
    report: MergeReport,
) -> None:
    """One list of TARGET: the SOURCEs' new items appended, its duplicate entries dropped (a list TARGET
    lacks is written at the end of its frontmatter; an empty `key:` line becomes the list)."""
    note = draft.note
    target_props = note.properties or {}
    if key not in target_props:
        _, located = new_keys[key]
        draft.tail.append(_new_list_text(key, items, located, note.newline, note.path))
        draft.expected[key] = [value for value, _ in items]
        report.keys_added += 1
    elif target_props[key] is None:  # `aliases:` left empty (a template's): the line becomes the list
        draft.edits.append(_fill_empty_key(note, key, items, new_keys))
        draft.expected[key] = [value for value, _ in items]
    else:
        found, removed = removals.get(key) or (_located_list(note, key), set())
        quote, in_flow = found.quote, found.style == FLOW
        written = [format_item(v, raw, quote, in_flow=in_flow, where=note.path) for v, raw in items]
        draft.edits += list_edits(note, found, removed, written, note.newline)
        kept = [item.value for i, item in enumerate(found.items) if i not in removed]
        draft.expected[key] = kept + [value for value, _ in items]
        report.duplicates_removed += len(removed)
    if key == ALIASES:
        report.aliases_added += len(items)
    else:
        report.items_added += len(items)


def _copy_one_line_value(
    draft: _FrontmatterDraft, key: str, source: Note, located: KeyValue | None, report: MergeReport
) -> None:
    """A key TARGET lacks (or has empty), copied as the first SOURCE that has it wrote it, when that is
    one line; else a warning."""
    note = draft.note
    target_props = note.properties or {}
    empty_line = empty_key_line(note, key) if key in target_props else None
    if located is None or located.style == BLOCK or (key in target_props and empty_line is None):
        report.warnings.append(f"{source.path}: {key!r} is not a one-line value; not copied to {note.path}")
        return
    value_text = source.text[located.value_start : located.value_end]
    if empty_line is not None:  # TARGET has the key with no value: the SOURCE's fills it in
        draft.edits.append(Edit(empty_line[0], empty_line[0], "", " " + value_text, "merge-key"))
    else:
        draft.tail.append(f"{key}: {value_text}{note.newline}")
        report.keys_added += 1
    draft.expected[key] = (source.properties or {})[key]


def _new_items(
    context: MergeContext,
    note: Note,
    sources: list[Note],
    prefer_source: frozenset[str],
    removals: Mapping[str, tuple[KeyValue, set[int]]],
    report: MergeReport,
) -> tuple[dict[str, list[tuple[Any, str | None]]], dict[str, tuple[Note, KeyValue | None]]]:
    """The list items the SOURCEs add (value and spelling, in SOURCE order; each SOURCE's name first, as
    an alias), and the keys TARGET lacks (with the first SOURCE that has each). Differing scalars are
    recorded in the report."""
    target_props = note.properties or {}
    id_key = context.config.id_property
    additions: dict[str, list[tuple[Any, str | None]]] = {}
    new_keys: dict[str, tuple[Note, KeyValue | None]] = {}
    present: dict[str, set[Any]] = {}

    def add(key: str, value: Any, raw: str | None) -> None:
        if key not in present:
            values = target_props.get(key) or []
            removed = removals[key][1] if key in removals else set()
            present[key] = {
                _identity(context, key, v, note.path) for i, v in enumerate(values) if i not in removed
            }
            present[key].add(("note", note.path))  # a note never lists itself
        identity = _identity(context, key, value, note.path)
        if identity not in present[key]:
            present[key].add(identity)
            additions.setdefault(key, []).append((value, raw))

    for source in sources:
        add(ALIASES, source.stem, None)
        for key, value in (source.properties or {}).items():
            key = str(key)
            if key == id_key or value is None:
                continue  # the id stays TARGET's; an empty value adds nothing
            if (key not in target_props or target_props[key] is None) and key not in new_keys:
                new_keys[key] = (source, locate(source, key))
            if isinstance(value, list):
                located = locate(source, key)
                spelled = located is not None and [i.value for i in located.items] == value
                for i, item in enumerate(value):
                    add(key, item, located.items[i].raw if spelled and located else None)
            elif target_props.get(key) is not None and value != target_props[key]:
                _differing_scalar(note, source, key, value, key in prefer_source, report)
    if ALIASES not in target_props and ALIASES not in new_keys:
        new_keys[ALIASES] = (note, None)
    return additions, new_keys


def _fill_empty_key(
    note: Note,
    key: str,
    items: list[tuple[Any, str | None]],
    new_keys: Mapping[str, tuple[Note, KeyValue | None]],
) -> Edit:
    """`key:` with no value gets the list after its colon (a comment beside it stays) or under it."""
    span = empty_key_line(note, key)
    if span is None:
        raise VaultError(f"{note.path}: {key!r} has no value but is not one empty line; merge it by hand")
    located = new_keys[key][1] if key in new_keys else None
    inline, lines = _list_value_text(items, located, note.newline, note.path)
    at = span[1] if lines else span[0]
    if lines and not note.text[:at].endswith("\n"):
        lines = note.newline + lines
    return Edit(at, at, "", inline or lines, "merge-list")


def _located_list(note: Note, key: str) -> KeyValue:
    found = locate(note, key)
    values = (note.properties or {}).get(key)
    if found is None or found.style not in (FLOW, BLOCK) or [i.value for i in found.items] != values:
        if found is not None and found.style == FLOW and values == []:
            return found
        raise VaultError(
            f"{note.path}: {key!r} is written in a shape vaulttools cannot extend safely (a list over "
            "several lines, comments or anchors); merge it by hand (nothing was written)"
        )
    return found


def _preferred_value(note: Note, source: Note, key: str) -> Edit:
    """`--prefer-source KEY`: TARGET's one-line value replaced by the SOURCE's, as the SOURCE wrote it."""
    found, theirs = locate(note, key), locate(source, key)
    if found is None or theirs is None or found.style != "scalar" or theirs.style != "scalar":
        raise VaultError(
            f"--prefer-source {key}: {key!r} is not a one-line value in both {note.path} and {source.path}; "
            "edit it by hand (nothing was written)"
        )
    old = note.text[found.value_start : found.value_end]
    return Edit(
        found.value_start,
        found.value_end,
        old,
        source.text[theirs.value_start : theirs.value_end],
        "prefer-source",
    )


def _identity(context: MergeContext, key: str, value: Any, source: str) -> Any:
    """What makes two list items the same: the note a link names, an alias in any letter case, else the value."""
    if isinstance(value, str):
        if key in context.config.link_property_set or value.strip().startswith("[["):
            path = _item_note(context.after, value, source)
            if path is not None:
                return ("note", path)
        if key == ALIASES:
            return ("alias", fold(value))
        return ("value", value)
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return ("value", type(value).__name__, value)


def _differing_scalar(
    note: Note, source: Note, key: str, value: Any, prefer: bool, report: MergeReport
) -> None:
    take_source = prefer and (note.path, key) not in report.source_values_taken
    if take_source:
        report.source_values_taken.add((note.path, key))
    report.differing.append(
        DifferingScalar(
            target=note.path,
            source=source.path,
            key=key,
            target_value=_plain(note.properties.get(key) if note.properties else None),
            source_value=_plain(value),
            taken="source" if take_source else "target",
        )
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _new_list_text(
    key: str, items: list[tuple[Any, str | None]], located: KeyValue | None, newline: str, where: str
) -> str:
    """A key the TARGET lacks, in the first SOURCE's list style: its items as that SOURCE spelled them,
    others (a SOURCE's name as an alias) in its quoting; `key: ["…"]` when no SOURCE had the key."""
    inline, lines = _list_value_text(items, located, newline, where)
    return f"{key}:{inline}{newline}{lines}"


def _list_value_text(
    items: list[tuple[Any, str | None]], located: KeyValue | None, newline: str, where: str
) -> tuple[str, str]:
    """(text after `key:` on its line, the block item lines after it) for a list in `located`'s style."""
    quote = located.quote if located is not None else '"'
    block = located is not None and located.style == BLOCK
    written = [
        raw if raw is not None else format_item(v, raw, quote, in_flow=not block, where=where)
        for v, raw in items
    ]
    if block and located is not None:
        return "", "".join(f"{located.indent}- {item}{newline}" for item in written)
    return f" [{', '.join(written)}]", ""


# --- the body -----------------------------------------------------------------------------------------


def _blocks(note: Note, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the paragraphs (runs of non-blank lines) of text[start:end]; a blank line inside code
    does not end one."""
    text = note.text
    spans: list[tuple[int, int]] = []
    cursor = start
    block_start = -1
    while cursor < end:
        newline = text.find("\n", cursor, end)
        line_end = end if newline < 0 else newline + 1
        blank = not text[cursor:line_end].strip()
        if blank and block_start >= 0 and note.region_at(cursor) is None:
            spans.append((block_start, _content_end(text, block_start, cursor)))
            block_start = -1
        elif not blank and block_start < 0:
            block_start = cursor
        cursor = line_end
    if block_start >= 0:
        spans.append((block_start, _content_end(text, block_start, end)))
    return spans


def _content_end(text: str, start: int, end: int) -> int:
    return start + len(text[start:end].rstrip())


def _own_end(note: Note, heading: str) -> tuple[int, tuple[int, int] | None]:
    """Where TARGET's own text ends (its enrichment paragraph or related section, whichever comes first)
    and the enrichment paragraph's span."""
    section = find_section(note, heading)
    enrichment = find_enrichment_paragraph(note)
    if enrichment is not None and section is not None and enrichment[0] > section.heading_start:
        enrichment = None
    stops = [s for s in (enrichment[0] if enrichment else None, section.heading_start if section else None)]
    known = [s for s in stops if s is not None]
    return (min(known) if known else len(note.text)), enrichment


def _source_blocks(note: Note, heading: str) -> tuple[list[str], str | None]:
    """A SOURCE's paragraphs without its enrichment paragraph and related section, and that paragraph."""
    section = find_section(note, heading)
    enrichment = find_enrichment_paragraph(note)
    spans = [(note.body_start, len(note.text))]
    if section is not None:
        spans = [(note.body_start, section.heading_start), (section.end, len(note.text))]
        if enrichment is not None and section.heading_start <= enrichment[0] < section.end:
            enrichment = None
    blocks = [
        note.text[start:end]
        for span_start, span_end in spans
        for start, end in _blocks(note, span_start, span_end)
        if enrichment is None or start != enrichment[0]
    ]
    return blocks, note.text[enrichment[0] : enrichment[1]] if enrichment else None


def _normalized(text: str) -> str:
    return " ".join(text.split())


def _body_merge(note: Note, sources: list[Note], heading: str, report: MergeReport) -> list[Edit]:
    """The SOURCEs' paragraphs TARGET lacks, after its own body (see module docstring); a SOURCE's list that
    shares items with a list of TARGET adds only its missing items, at the end of that list."""
    own_end, enrichment = _own_end(note, heading)
    present = _normalized(note.text[note.body_start :])
    has_title = any(_H1_RE.match(note.text, s) for s, _ in _blocks(note, note.body_start, own_end))
    lists = _target_lists(note, own_end)
    paragraphs: list[str] = []
    borrowed_enrichment: str | None = None
    for source in sources:
        blocks, source_enrichment = _source_blocks(source, heading)
        for number, block in enumerate(blocks):
            if number == 0 and has_title and _H1_RE.match(block) and "\n" not in block:
                continue  # the SOURCE's title: TARGET has its own
            normalized = _normalized(block)
            added = None if normalized in present else _merged_into_list(lists, block, report)
            if normalized in present or added == 0:
                report.paragraphs_already_present += 1
                continue
            present += " " + normalized
            if added is not None:
                continue
            paragraphs.append(_with_newline(block, note.newline))
        if source_enrichment is not None and enrichment is None and borrowed_enrichment is None:
            borrowed_enrichment = _with_newline(source_enrichment, note.newline)
    report.paragraphs_added += len(paragraphs)
    if borrowed_enrichment is not None:
        paragraphs.append(borrowed_enrichment)
    edits = [
        Edit(t.end, t.end, "", note.newline + note.newline.join(t.added), "merge-body")
        for t in lists
        if t.added
    ]
    return edits + ([_insertion(note, own_end, paragraphs)] if paragraphs else [])


def _target_lists(note: Note, own_end: int) -> list[TargetList]:
    """TARGET's own flat lists (not inside code), which a SOURCE's copy of a list adds its new items to."""
    lists: list[TargetList] = []
    for start, end in _blocks(note, note.body_start, own_end):
        items = flat_list_items(note.text[start:end]) if note.region_at(start) is None else None
        if items:
            lists.append(target_list(end, items))
    return lists


def _merged_into_list(lists: list[TargetList], block: str, report: MergeReport) -> int | None:
    """How many items BLOCK adds to the list of TARGET it shares items with (its missing ones, added at the
    end of that list; the block itself is then not appended); None if BLOCK is no such list."""
    items = flat_list_items(block)
    into = best_match(lists, items) if items else None
    if into is None or items is None:
        return None
    before = report.body_list_items_added
    for item in items:
        if item.content not in into.contents:
            into.contents.add(item.content)
            into.added += into.styled(item)
            report.body_list_items_added += 1
    return report.body_list_items_added - before


def _with_newline(block: str, newline: str) -> str:
    return block.replace("\r\n", "\n").replace("\n", newline)


def _insertion(note: Note, stop: int, paragraphs: list[str]) -> Edit:
    """The paragraphs after the last non-blank line before `stop`, each after one blank line; the blank
    lines that stood before `stop` stay after them."""
    text, nl = note.text, note.newline
    joined = (nl + nl).join(paragraphs)
    content_end = note.body_start + len(text[note.body_start : stop].rstrip())
    if content_end == note.body_start:  # no text of its own: the paragraphs open the body
        return Edit(
            content_end, content_end, "", joined + nl + (nl if stop < len(text) else ""), "merge-body"
        )
    newline = text.find("\n", content_end)
    if newline < 0:  # the note ends without a line break: so does the merged note
        return Edit(content_end, content_end, "", nl + nl + joined, "merge-body")
    return Edit(newline + 1, newline + 1, "", nl + joined + nl, "merge-body")


# --- the batch ----------------------------------------------------------------------------------------


def _batch(merges: list[Merge], changes: list[FileChange], report: MergeReport) -> BatchPlan[MergePlanReport]:
    sources = sum(len(m.sources) for m in merges)
    if len(merges) == 1:
        summary = f"{', '.join(stem_of(s) for s in merges[0].sources)} → {stem_of(merges[0].target)}"
    else:
        summary = f"{sources} notes merged into {len(merges)}"
    links = report.links
    counts = {
        "notes_merged": sources,
        "files_changed": len(changes),
        "links_redirected": sum(links.rewritten.values()),
        "suffixed_links_fixed": report.suffixed_links_fixed,
        "duplicate_entries_removed": report.duplicates_removed,
        "list_items_added": report.items_added,
        "aliases_added": report.aliases_added,
        "properties_added": report.keys_added,
        "paragraphs_added": report.paragraphs_added,
        "body_list_items_added": report.body_list_items_added,
        "scalars_differing": len(report.differing),
        "links_left_alone": sum(links.left_alone.values()),
    }
    plan_report = MergePlanReport(
        merges=[MergedNotes(m.target, list(m.sources)) for m in merges],
        redirected_by_kind=dict(sorted(links.rewritten.items())),
        differing_scalars=report.differing,
        paragraphs_already_present=report.paragraphs_already_present,
        left_alone=links.left_alone_places,
        warnings=links.warnings + report.warnings,
        notes_read=links.notes_read,
        notes_parsed=links.notes_parsed,
    )
    return BatchPlan(COMMAND, summary, changes, counts, plan_report)
