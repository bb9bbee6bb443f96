"""Frontmatter properties: rename a key, replace a value, delete a key (`check`'s property types: see
`property_types`).

Every edit splices the original text at the composer's marks (see `yamlnodes`): only the key's
characters, the value's characters, or the whole entry's lines change. Each edited frontmatter is loaded
again and must equal the expected data exactly (`planning.note_change(expected_properties=…)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from vaulttools.changes import BatchPlan, Mention, PlanReport, SkippedNote
from vaulttools.edits import Edit
from vaulttools.errors import EditConflict, VaultError
from vaulttools.note import Note, dataview_queries, load_frontmatter_yaml
from vaulttools.planning import NoteOutcome, left_alone, note_change, plan_each_note, unreadable
from vaulttools.vault import Vault
from vaulttools.yamledit import RefusedEdit, format_scalar
from vaulttools.yamlnodes import (
    Entry,
    Scalar,
    UnreadableFrontmatter,
    frontmatter_entries,
    is_block_sequence,
    line_end,
    line_start,
    scalar_of,
    sequence_items,
)


class PropertyConflict(VaultError):
    """The property cannot be changed in this note as asked (e.g. NEW is there already)."""


@dataclass(frozen=True)
class PropertyOperation:
    """One of: rename `key` to `new_key` (`merge`: join into an existing NEW), replace `old_value` by
    `new_value` under `key`, or delete `key`."""

    kind: str  # "rename", "replace" or "delete"
    key: str
    new_key: str = ""
    old_value: str = ""
    new_value: str = ""
    merge: bool = False


class PlannedNote(NamedTuple):
    edits: list[Edit]
    expected: dict[str, Any]  # the frontmatter's data after the edits
    counts: dict[str, int]


# --- one note ----------------------------------------------------------------------------------------------


def plan_note_property(note: Note, operation: PropertyOperation) -> PlannedNote | None:
    """The edits of one note, or None when the note does not hold what the operation changes.
    Raises `PropertyConflict` (NEW already there), `UnreadableFrontmatter` or `RefusedEdit`."""
    wanted = (operation.key, operation.new_key)
    entries = {entry.key.value: entry for entry in frontmatter_entries(note, wanted)}
    entry = entries.get(operation.key)
    if entry is None:
        return None
    data = dict(note.properties or {})
    if operation.kind == "delete":
        return PlannedNote([_entry_removal(note.text, entry)], _without(data, operation.key), {"deleted": 1})
    if operation.kind == "replace":
        return _plan_replace(note, entry, operation, data)
    return _plan_rename(note, entries, operation, data)


def _entry_removal(text: str, entry: Entry) -> Edit:
    """The entry's lines: its key, its whole value (block list items, comments among them)."""
    return Edit(entry.line_start, entry.end, text[entry.line_start : entry.end], "", "property-removed")


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def _plan_rename(
    note: Note, entries: dict[str, Entry], operation: PropertyOperation, data: dict[str, Any]
) -> PlannedNote:
    entry = entries[operation.key]
    existing = entries.get(operation.new_key)
    if existing is None:
        key = entry.key
        if not key.spliceable:
            raise UnreadableFrontmatter(f"its key {key.value!r} is written with escapes")
        new = format_scalar(operation.new_key, key.style or "", in_flow=False, where=f"{note.path}: key")
        edit = Edit(key.inner_start, key.inner_end, key.value, new, "property-key")
        expected = {(operation.new_key if k == operation.key else k): v for k, v in data.items()}
        return PlannedNote([edit], expected, {"renamed": 1})
    if not operation.merge:
        raise PropertyConflict(f"it has both {operation.key!r} and {operation.new_key!r}")
    return _plan_merge(note, entry, existing, operation, data)


def _plan_merge(
    note: Note, old: Entry, new: Entry, operation: PropertyOperation, data: dict[str, Any]
) -> PlannedNote:
    """Join OLD's value into NEW's and drop OLD: list items NEW lacks are appended in NEW's list style;
    scalars must be equal; an empty OLD just goes."""
    old_value, new_value = data.get(operation.key), data.get(operation.new_key)
    text = note.text
    removal = _entry_removal(text, old)
    expected = _without(data, operation.key)
    if old_value is None or old_value == [] or old_value == new_value:
        return PlannedNote([removal], expected, {"merged": 1})
    if not isinstance(new_value, list):
        raise PropertyConflict(
            f"{operation.key!r} ({old_value!r}) and {operation.new_key!r} ({new_value!r}) differ "
            "and are not lists to join"
        )
    if isinstance(old.value, yaml.ScalarNode):
        old_items: list[Scalar] | None = [scalar_of(text, old.value, old.base)]
        old_values = [old_value]
    else:
        old_items = sequence_items(text, old.value, old.base)
        old_values = old_value if isinstance(old_value, list) else []
    new_items = sequence_items(text, new.value, new.base)
    if old_items is None or new_items is None or len(old_items) != len(old_values):
        raise PropertyConflict(f"{operation.key!r} or {operation.new_key!r} holds nested values")
    joined = list(new_value)
    sources: list[str] = []
    for item, value in zip(old_items, old_values, strict=True):
        if value not in joined:
            joined.append(value)
            sources.append(text[item.start : item.end])
    if any("\n" in source for source in sources):
        raise PropertyConflict(f"a value of {operation.key!r} spans lines")
    expected[operation.new_key] = joined
    edits = [removal]
    if sources:
        # First: an insertion where the removed entry starts must be verified before that removal.
        edits.insert(0, _appended(text, new, new_items, sources, note.newline))
    return PlannedNote(edits, expected, {"merged": 1})


def _appended(text: str, entry: Entry, items: list[Scalar], sources: list[str], newline: str) -> Edit:
    """An insertion that adds `sources` (values as written) at the end of the list of `entry`."""
    if is_block_sequence(entry.value):
        first_line = line_start(text, items[0].start)
        prefix = text[first_line : items[0].start]  # e.g. "  - ": the same indentation and marker
        after = line_end(text, items[-1].end, len(text))
        lines = "".join(prefix + source + newline for source in sources)
        if not text[:after].endswith("\n"):
            lines = newline + lines
        return Edit(after, after, "", lines, "property-merged")
    if items:
        return Edit(items[-1].end, items[-1].end, "", "".join(", " + s for s in sources), "property-merged")
    opening = entry.base + entry.value.start_mark.index  # an empty flow list: right after its `[`
    return Edit(opening + 1, opening + 1, "", ", ".join(sources), "property-merged")


def _plan_replace(
    note: Note, entry: Entry, operation: PropertyOperation, data: dict[str, Any]
) -> PlannedNote:
    """Each scalar of the value (the value itself, or a list's items) equal to OLD as written becomes NEW,
    in its own quoting style."""
    text = note.text
    if isinstance(entry.value, yaml.ScalarNode):
        scalars = [scalar_of(text, entry.value, entry.base)]
        in_flow = False
    else:
        scalars = sequence_items(text, entry.value, entry.base) or []
        in_flow = not is_block_sequence(entry.value)
    edits: list[Edit] = []
    written: dict[int, Any] = {}  # index of the scalar -> the value YAML reads from what is written
    for index, scalar in enumerate(scalars):
        is_null = scalar.style is None and scalar.start == scalar.end  # `key:` with nothing after it
        if scalar.value != operation.old_value or is_null:
            continue
        if not scalar.spliceable:
            raise UnreadableFrontmatter(f"its value {scalar.value!r} is written with escapes or folding")
        new = _formatted_value(operation.new_value, scalar, in_flow, f"{note.path}: {operation.key}")
        edits.append(Edit(scalar.inner_start, scalar.inner_end, scalar.value, new, "property-value"))
        written[index] = _loaded(new, scalar.style)
    if not edits:
        return PlannedNote([], data, {})
    expected = dict(data)
    value = data.get(operation.key)
    if isinstance(value, list):
        expected[operation.key] = [written.get(i, item) for i, item in enumerate(value)]
    else:
        expected[operation.key] = written[0]
    return PlannedNote(edits, expected, {"replaced": len(edits)})


def _formatted_value(value: str, scalar: Scalar, in_flow: bool, where: str) -> str:
    """NEW as it goes between the old value's quotes. A plain value stays plain when NEW reads back as
    what was typed, or as the same kind of value the old one was (a number for a number); else it is
    put in double quotes, so `status: 3` can become `status: 4` and `status: draft` `status: "2024"`."""
    if scalar.style:
        return format_scalar(value, scalar.style, in_flow=in_flow, where=where)
    try:
        return format_scalar(value, "", in_flow=in_flow, where=where)
    except RefusedEdit:
        pass
    old_loaded, new_loaded = _loaded(scalar.value, None), _loaded(value, None)
    plain_ok = (
        not isinstance(old_loaded, str)
        and type(new_loaded) is type(old_loaded)
        and not (in_flow and any(c in value for c in ",[]{}"))
    )
    if plain_ok:
        return value
    return '"' + format_scalar(value, '"', in_flow=in_flow, where=where) + '"'


def _loaded(written: str, style: str | None) -> Any:
    """What YAML reads from a value written as `written` between `style` quotes."""
    quote = style or ""
    data, _ = load_frontmatter_yaml(f"v: {quote}{written}{quote}\n")
    return data.get("v") if isinstance(data, dict) else None


# --- the vault ---------------------------------------------------------------------------------------------


def queries_naming(note: Note, operation: PropertyOperation) -> list[Mention]:
    """Where a Dataview query in the note names what the operation changes (the key, for rename and
    delete; OLD as a quoted string, for replace): Obsidian's properties change, the query's text does not,
    so each place is listed for the user to review."""
    pattern = _query_pattern(operation)
    mentions = []
    for region in dataview_queries(note):
        for match in pattern.finditer(note.text, region.start, region.end):
            line, column = note.line_col(match.start())
            mentions.append(Mention(note.path, line, column, match.group(0), "dataview"))
    return mentions


def _query_pattern(operation: PropertyOperation) -> re.Pattern[str]:
    if operation.kind == "replace":
        value = re.escape(operation.old_value)
        return re.compile(rf"\"{value}\"|'{value}'")
    # As written, and as Dataview also names a key with spaces or capitals (`Due Date` → `due-date`).
    spellings = {operation.key, operation.key.lower().replace(" ", "-")}
    alternatives = "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def plan_property_note(note: Note, operation: PropertyOperation) -> NoteOutcome:
    outcome = _planned_outcome(note, operation)
    mentions = tuple(queries_naming(note, operation)) if note.editable else ()
    return outcome._replace(mentions=mentions) if mentions else outcome


def _planned_outcome(note: Note, operation: PropertyOperation) -> NoteOutcome:
    if not note.editable:
        return unreadable(note, str(note.decode_error))
    try:
        planned = plan_note_property(note, operation)
        if planned is None or not planned.edits:
            return NoteOutcome(note.path, None, {})
        change = note_change(note, planned.edits, expected_properties=planned.expected)
    except PropertyConflict as exc:
        return NoteOutcome(note.path, None, {}, left_alone=exc.message, refuses=True)
    except UnreadableFrontmatter as exc:
        return unreadable(note, exc.message)
    except (RefusedEdit, EditConflict) as exc:
        return left_alone(note, exc)
    return NoteOutcome(note.path, change, planned.counts if change else {})


@dataclass(frozen=True)
class PropertyPlanReport(PlanReport):
    """`plan.report` of the property commands: the operation, what changed per note, what was left."""

    operation: dict[str, Any]  # kind, key, and the kind's own arguments
    notes: list[dict[str, Any]]  # path and the note's counts
    skipped: list[SkippedNote]
    # Dataview queries naming the key (or, for replace, OLD): their text is not changed, review them
    left_as_written: list[Mention] = field(default_factory=list)


def plan_properties(
    vault: Vault, operation: PropertyOperation, summary: str
) -> BatchPlan[PropertyPlanReport]:
    """The operation over every note whose bytes name the key, as one batch."""
    # The key as written, or as a query names it (`due-date` for `Due Date`).
    needles = {
        spelling.encode("utf-8") for spelling in (operation.key, operation.key.lower().replace(" ", "-"))
    }
    planned = plan_each_note(
        vault,
        lambda raw: any(raw.find(needle) >= 0 for needle in needles),
        lambda note: plan_property_note(note, operation),
    )
    if planned.refusals:
        raise _refusal(planned.refusals, operation)
    counts = {
        "notes_changed": len(planned.changes),
        **planned.totals,
        "notes_skipped": len(planned.left_alone),
    }
    report = PropertyPlanReport(_describe(operation), planned.notes, planned.left_alone, planned.mentions)
    return planned.batch(f"property {operation.kind}", summary, counts, report, vault.read_bytes)


def _refusal(conflicts: list[SkippedNote], operation: PropertyOperation) -> VaultError:
    listed = ", ".join(c.path for c in conflicts[:5]) + (" …" if len(conflicts) > 5 else "")
    hint = "pass --merge to join them" if not operation.merge else "merge those notes by hand"
    first = conflicts[0].reason
    return VaultError(
        f"{len(conflicts)} note(s) cannot take the rename ({listed}: {first}); {hint}; nothing was written"
    )


def _describe(operation: PropertyOperation) -> dict[str, Any]:
    described: dict[str, Any] = {"kind": operation.kind, "key": operation.key}
    if operation.kind == "rename":
        described.update(new_key=operation.new_key, merge=operation.merge)
    if operation.kind == "replace":
        described.update(old_value=operation.old_value, new_value=operation.new_value)
    return described


def _checked_key(key: str, role: str) -> str:
    if not key or key != key.strip() or "\n" in key or ":" in key or key.startswith("#"):
        raise VaultError(f"{role} {key!r} is not a property name: give the key as it is written, without `:`")
    return key


def plan_property_rename(
    vault: Vault, old: str, new: str, *, merge: bool = False
) -> BatchPlan[PropertyPlanReport]:
    old, new = _checked_key(old, "OLD"), _checked_key(new, "NEW")
    if old == new:
        raise VaultError(f"OLD and NEW are both {old!r}: nothing to rename")
    operation = PropertyOperation("rename", old, new_key=new, merge=merge)
    return plan_properties(vault, operation, f"rename property {old} to {new}")


def plan_property_replace(vault: Vault, key: str, old: str, new: str) -> BatchPlan[PropertyPlanReport]:
    key = _checked_key(key, "KEY")
    operation = PropertyOperation("replace", key, old_value=old, new_value=new)
    return plan_properties(vault, operation, f"replace {key} {old!r} with {new!r}")


def plan_property_delete(vault: Vault, key: str) -> BatchPlan[PropertyPlanReport]:
    key = _checked_key(key, "KEY")
    return plan_properties(vault, PropertyOperation("delete", key), f"delete property {key}")
