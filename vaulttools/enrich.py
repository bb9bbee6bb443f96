"""`vaulttools enrich`: read an enrichment file, validate it, and place one paragraph per note.

Pure planning: the input text becomes `EnrichmentEntry`s (or a list of `InputProblem`s with line numbers),
and each note plus its entry becomes at most one `Edit`. Nothing here writes; `plan_enrich` returns a
`BatchPlan` for `shell.execute_plan` / `Vault.apply`.

Placement (vault-format.md, "Enrichment"): the paragraph stands after the note's text, separated from it by
one blank line, and before a "Related across articles" section when there is one. Only inserted bytes are
new; the blank lines that were there stay where they were.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from vaulttools.changes import BatchPlan, FileChange, PlanReport
from vaulttools.edits import Edit
from vaulttools.errors import VaultError
from vaulttools.links import Link, find_links
from vaulttools.note import Note
from vaulttools.planning import note_change
from vaulttools.resolve import AMBIGUOUS, BROKEN, RESOLVED, Resolution, fold, strip_md
from vaulttools.sections import find_section
from vaulttools.suffixes import note_day, propose
from vaulttools.vault import Vault

CONTEXT_MARKER = "**Enrichment context:**"
COUNTERPOINT_MARKER = "**Counterpoint:**"
FIELDS = ("context", "counterpoint")

YAML_FORMAT = "yaml"
JSONL_FORMAT = "jsonl"
CSV_FORMAT = "csv"
FORMAT_BY_SUFFIX = {
    ".yaml": YAML_FORMAT,
    ".yml": YAML_FORMAT,
    ".jsonl": JSONL_FORMAT,
    ".ndjson": JSONL_FORMAT,
    ".csv": CSV_FORMAT,
}

# What happened to one note.
ENRICHED = "enriched"
REPLACED = "replaced"
SKIPPED_EXISTING = "skipped-existing"  # a different paragraph is there and --replace was not given
UNCHANGED = "unchanged"  # the very same paragraph is already there: re-running a file is a no-op


# --- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrichmentEntry:
    slug: str
    context: str
    counterpoint: str
    line: int | None = None  # 1-based line of the entry in the input file, when the format has lines

    @property
    def paragraph(self) -> str:
        return enrichment_paragraph(self.context, self.counterpoint)


class InputProblem(NamedTuple):
    line: int | None
    message: str

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.message}" if self.line else f"{source}: {self.message}"


class EnrichInputError(VaultError):
    """The input file (or what it asks for) is wrong; `problems` lists every problem, one per line."""

    def __init__(self, source: str, problems: list[InputProblem], what_to_do: str) -> None:
        self.source = source
        self.problems = problems
        self.summary = (
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {source}; {what_to_do} "
            "(nothing was written)"
        )
        super().__init__("\n".join([self.summary, *self.lines]))

    @property
    def lines(self) -> list[str]:
        return [problem.render(self.source) for problem in self.problems]


def enrichment_paragraph(context: str, counterpoint: str) -> str:
    return f"{CONTEXT_MARKER} {context} {COUNTERPOINT_MARKER} {counterpoint}"


def input_format(path: Path | str) -> str:
    """The input format named by the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMAT_BY_SUFFIX:
        known = ", ".join(FORMAT_BY_SUFFIX)
        raise VaultError(
            f"{Path(path).name}: unknown input format {suffix or '(no extension)'!r}; "
            f"name the file with one of {known}"
        )
    return FORMAT_BY_SUFFIX[suffix]


def read_enrichment_file(path: Path) -> str:
    """The file's text (a UTF-8 BOM, as spreadsheets write it, is dropped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VaultError(f"{path}: cannot read ({exc.strerror}); check the path") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise VaultError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc


class ParsedInput(NamedTuple):
    entries: list[EnrichmentEntry]  # the sound entries, in file order
    problems: list[InputProblem]
    slugs: list[tuple[str, int | None]]  # every slug named, even by an unsound entry, to check them all


def parse_enrichment(text: str, fmt: str) -> ParsedInput:
    """Every entry and every problem of the file (an entry with a problem is left out of `entries`)."""
    parser: Callable[[str, _Collector], None] = {
        YAML_FORMAT: parse_yaml,
        JSONL_FORMAT: parse_jsonl,
        CSV_FORMAT: parse_csv,
    }[fmt]
    collector = _Collector()
    parser(text, collector)
    if not collector.slugs and not collector.problems:
        collector.problems.append(
            InputProblem(None, "no entries; expected at least one slug with context and counterpoint")
        )
    problems = sorted(collector.problems, key=lambda p: p.line or 0)
    return ParsedInput(collector.entries, problems, collector.slugs)


def clean_text(value: str) -> str:
    """One paragraph needs one line: trim, and fold line breaks (YAML `>`/`|` blocks, CSV cells) to spaces."""
    return re.sub(r"[ \t]*\r?\n[ \t\r\n]*", " ", value.strip())


class _Field(NamedTuple):
    value: Any  # str when well-formed; anything else is reported
    line: int | None
    kind: str = ""  # a description of a non-string value ("int 12", "a list"), "" for strings/null


@dataclass
class _Collector:
    """What the format parsers hand over: one `add` per entry, `problem` for anything else."""

    entries: list[EnrichmentEntry] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    slugs: list[tuple[str, int | None]] = field(default_factory=list)
    _first_line: dict[str, int | None] = field(default_factory=dict)

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(InputProblem(line, message))

    def add(self, slug: str, fields: dict[str, _Field], line: int | None) -> None:
        """Check one entry (its slug is unique, context and counterpoint are non-empty strings)."""
        key = fold(slug)
        duplicate = key in self._first_line
        if duplicate:
            first = self._first_line[key]
            self.problem(line, f"duplicate slug {slug!r}" + (f" (first on line {first})" if first else ""))
        else:
            self._first_line[key] = line
            self.slugs.append((slug, line))
        values: dict[str, str] = {}
        for name in FIELDS:
            found = fields.get(name)
            if found is None:
                self.problem(line, f"{slug!r}: missing field {name!r}")
            elif found.kind:
                self.problem(found.line, f"{slug!r}: {name} must be a string, got {found.kind}")
            elif found.value is None or not clean_text(found.value):
                self.problem(found.line, f"{slug!r}: empty field {name!r}")
            else:
                values[name] = clean_text(found.value)
        for name, found in fields.items():
            if name not in FIELDS:
                self.problem(
                    found.line, f"{slug!r}: unknown field {name!r}; expected context and counterpoint"
                )
        if len(values) == len(FIELDS) and not duplicate:
            self.entries.append(EnrichmentEntry(slug, values["context"], values["counterpoint"], line))


# YAML: `slug: {context: ..., counterpoint: ...}`. Composed (not loaded) so every key keeps its line and
# duplicate keys, which a loader would silently merge, are seen.

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_STR = "tag:yaml.org,2002:str"
_YAML_NULL = "tag:yaml.org,2002:null"


def parse_yaml(text: str, out: _Collector) -> None:
    try:
        root = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        out.problem(
            mark.line + 1 if mark is not None else None, f"not valid YAML: {exc.problem or exc.context}"
        )
        return
    except yaml.YAMLError as exc:
        out.problem(None, f"not valid YAML: {' '.join(str(exc).split())}")
        return
    if root is None:
        return
    if not isinstance(root, yaml.MappingNode):
        out.problem(_line(root), "expected a mapping of slug: {context: ..., counterpoint: ...}")
        return
    for key_node, value_node in root.value:
        line = _line(key_node)
        if not isinstance(key_node, yaml.ScalarNode) or not key_node.value.strip():
            out.problem(line, "a slug must be a plain name")
            continue
        slug = key_node.value.strip()
        if not isinstance(value_node, yaml.MappingNode):
            out.problem(line, f"{slug!r}: expected a mapping with context and counterpoint")
            continue
        fields: dict[str, _Field] = {}
        for field_key, field_value in value_node.value:
            name = str(field_key.value) if isinstance(field_key, yaml.ScalarNode) else "?"
            if name in fields:
                out.problem(_line(field_key), f"{slug!r}: field {name!r} given twice")
                continue
            fields[name] = _yaml_field(field_value, _line(field_key))
        out.add(slug, fields, line)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _yaml_field(node: yaml.Node, line: int) -> _Field:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _YAML_STR:
            return _Field(node.value, line)
        if node.tag == _YAML_NULL:
            return _Field(None, line)
        return _Field(node.value, line, f"{node.tag.rsplit(':', 1)[-1]} {node.value}")
    return _Field(None, line, "a list" if isinstance(node, yaml.SequenceNode) else "a mapping")


# JSON Lines: one object per line; blank lines are allowed.


def parse_jsonl(text: str, out: _Collector) -> None:
    # split("\n"), not splitlines(): a JSON string may hold U+2028 and friends, which are not line breaks here.
    for number, raw_line in enumerate(text.split("\n"), start=1):
        if not raw_line.strip():
            continue
        duplicates: list[str] = []
        try:
            data = json.loads(raw_line, object_pairs_hook=functools.partial(_pairs, duplicates=duplicates))
        except json.JSONDecodeError as exc:
            out.problem(number, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(data, dict):
            out.problem(number, 'expected an object {"slug": ..., "context": ..., "counterpoint": ...}')
            continue
        for name in duplicates:
            out.problem(number, f"key {name!r} given twice")
        slug = data.pop("slug", None)
        if slug is None or (isinstance(slug, str) and not slug.strip()):
            out.problem(number, "missing field 'slug'")
        elif not isinstance(slug, str):
            out.problem(number, f"slug must be a string, got {_json_kind(slug)}")
        else:
            out.add(slug.strip(), {name: _json_field(value, number) for name, value in data.items()}, number)


def _pairs(pairs: list[tuple[str, Any]], duplicates: list[str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            duplicates.append(key)
        seen[key] = value
    return seen


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    return "a list" if isinstance(value, list) else "an object"


def _json_field(value: Any, line: int) -> _Field:
    if value is None or isinstance(value, str):
        return _Field(value, line)
    return _Field(value, line, _json_kind(value))


# CSV: a header row naming slug, context and counterpoint; cells may span lines when quoted.

CSV_COLUMNS = ("slug", *FIELDS)


def parse_csv(text: str, out: _Collector) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    while True:
        start_line = reader.line_num + 1  # a quoted cell may span lines: report where the row starts
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            out.problem(reader.line_num or start_line, f"not valid CSV: {exc}")
            return
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            header_problems = _csv_header_problems(header, start_line)
            if header_problems:
                out.problems.extend(header_problems)
                return
            continue
        if len(row) != len(header):
            out.problem(start_line, f"the row has {len(row)} fields, the header {len(header)}")
            continue
        cells = dict(zip(header, row, strict=True))
        slug = cells.pop("slug").strip()
        if not slug:
            out.problem(start_line, "empty field 'slug'")
            continue
        out.add(slug, {name: _Field(value, start_line) for name, value in cells.items()}, start_line)


def _csv_header_problems(header: list[str], line: int) -> list[InputProblem]:
    problems = [
        InputProblem(line, f"the header has no {name!r} column (expected slug,context,counterpoint)")
        for name in CSV_COLUMNS
        if name not in header
    ]
    problems += [
        InputProblem(line, f"unknown column {name!r}; expected slug, context and counterpoint")
        for name in dict.fromkeys(header)
        if name not in CSV_COLUMNS
    ]
    problems += [
        InputProblem(line, f"column {name!r} appears twice")
        for name in dict.fromkeys(header)
        if header.count(name) > 1
    ]
    return problems


# --- placement in one note --------------------------------------------------------------------------


class Placement(NamedTuple):
    status: str  # ENRICHED, REPLACED, SKIPPED_EXISTING or UNCHANGED
    edits: list[Edit]


def find_related_heading(note: Note, heading: str) -> int | None:
    """Offset of the note's "Related across articles" heading line, found exactly as sync-related finds it."""
    section = find_section(note, heading)
    return None if section is None else section.heading_start


_PARAGRAPH_START_RE = re.compile(rf"^[ ]{{0,3}}({re.escape(CONTEXT_MARKER)})", re.MULTILINE)


def find_enrichment_paragraph(note: Note) -> tuple[int, int] | None:
    """Span of the first paragraph starting with the marker: from the marker to the end of its last line.

    The paragraph ends at a blank line, a heading or the end of the note; the span stops before the line
    break (and any `\\r`), so a replacement keeps the note's own line endings.
    """
    text = note.text
    if CONTEXT_MARKER not in text:
        return None
    for match in _PARAGRAPH_START_RE.finditer(text, note.body_start):
        start = match.start(1)
        if note.region_at(start) is not None:
            continue
        return start, _paragraph_end(text, start)
    return None


def _paragraph_end(text: str, start: int) -> int:
    end = _line_content_end(text, start)
    while end < len(text):
        next_start = end + (2 if text.startswith("\r\n", end) else 1)
        next_end = _line_content_end(text, next_start)
        line = text[next_start:next_end]
        if not line.strip() or line.lstrip(" ").startswith("#"):
            break
        end = next_end
    return end


def _line_content_end(text: str, position: int) -> int:
    newline = text.find("\n", position)
    end = len(text) if newline < 0 else newline
    return end - 1 if end > position and text[end - 1] == "\r" else end


def _same_words(a: str, b: str) -> bool:
    return a.split() == b.split()


def plan_placement(note: Note, paragraph: str, *, heading: str, replace: bool) -> Placement:
    """Where `paragraph` goes in `note` (one insertion, one replacement, or nothing)."""
    existing = find_enrichment_paragraph(note)
    if existing is not None:
        start, end = existing
        old = note.text[start:end]
        # Compared word by word: a paragraph an editor re-wrapped over several lines is still the same text.
        if _same_words(old, paragraph):
            return Placement(UNCHANGED, [])
        if not replace:
            return Placement(SKIPPED_EXISTING, [])
        return Placement(REPLACED, [Edit(start, end, old, paragraph, "enrichment")])
    heading_at = find_related_heading(note, heading)
    if heading_at is not None:
        return Placement(ENRICHED, [_insert_before_heading(note, paragraph, heading_at)])
    return Placement(ENRICHED, [_insert_at_end(note, paragraph)])


def _end_of_text_before(text: str, stop: int) -> int:
    """Where the text before `stop` ends: after its last non-blank character (0 when there is none)."""
    return len(text[:stop].rstrip(" \t\r\n"))


def _insert_before_heading(note: Note, paragraph: str, heading_at: int) -> Edit:
    """After the last text line before the heading: the blank lines above the heading stay above it."""
    text, nl = note.text, note.newline
    content_end = _end_of_text_before(text, heading_at)
    if content_end == 0:
        at, new = 0, paragraph + nl
        blank_lines_kept = heading_at > 0
    else:
        at = text.index("\n", content_end) + 1
        new = nl + paragraph + nl
        blank_lines_kept = at < heading_at
    if not blank_lines_kept:
        # The heading followed the text directly: give the paragraph its own blank line before it.
        new += nl
    return Edit(at, at, "", new, "enrichment")


def _insert_at_end(note: Note, paragraph: str) -> Edit:
    """At the end of the note, one blank line after its text; trailing blank lines are reused, not removed."""
    text, nl = note.text, note.newline
    end = len(text)
    content_end = _end_of_text_before(text, end)
    if content_end == 0:
        return Edit(0, 0, "", paragraph + nl, "enrichment") if not text else _append(end, nl, paragraph)
    line_break = text.find("\n", content_end)
    if line_break < 0:
        # No final newline: end the last line first, then the blank line; the note still ends without one
        # (as `sync-related` leaves it): only the paragraph's own bytes are new.
        return Edit(end, end, "", nl + nl + paragraph, "enrichment")
    after_text = line_break + 1
    if after_text == end:
        return _append(end, nl, paragraph)
    first_blank_end = text.find("\n", after_text)
    if first_blank_end < 0:
        return _append(end, nl, paragraph, final_newline=False)  # a last blank line of spaces, no newline
    at = first_blank_end + 1
    return Edit(at, at, "", paragraph + nl, "enrichment")


def _append(end: int, nl: str, paragraph: str, *, final_newline: bool = True) -> Edit:
    return Edit(end, end, "", nl + paragraph + (nl if final_newline else ""), "enrichment")


# --- the batch -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkWarning:
    """A link in an enrichment paragraph that resolves to no note, or to several."""

    line: int | None  # of the entry in the input file
    slug: str
    path: str  # the note the paragraph goes into
    link: str  # as written
    target: str
    status: str  # BROKEN or AMBIGUOUS
    suggestion: str | None
    candidates: list[str]
    message: str


@dataclass(frozen=True)
class EnrichPlanReport(PlanReport):
    """`plan.report` of enrich: the input file, the notes by what happened to them, and link warnings."""

    source: str
    enriched: list[str]
    replaced: list[str]
    skipped_existing: list[str]
    already_present: list[str]
    warnings: list[LinkWarning]


@dataclass
class EnrichOutcome:
    """Per-entry results, in input order, for the report."""

    by_status: dict[str, list[str]] = field(
        default_factory=lambda: {ENRICHED: [], REPLACED: [], SKIPPED_EXISTING: [], UNCHANGED: []}
    )
    warnings: list[LinkWarning] = field(default_factory=list)
    linked: set[str] = field(default_factory=set)  # the files the written paragraphs link to


def resolve_slugs(
    vault: Vault, slugs: Iterable[tuple[str, int | None]]
) -> tuple[dict[str, str], list[InputProblem]]:
    """Each slug's note path, resolved like a link; unknown, ambiguous and repeated notes are problems."""
    paths: dict[str, str] = {}
    problems: list[InputProblem] = []
    claimed: dict[str, tuple[str, int | None]] = {}
    for slug, line in slugs:
        resolution = vault.index.resolve(slug, "")
        if resolution.status == BROKEN:
            hint = suffix_hint(vault, slug, "")
            text = hint.text or _similar_names_text(vault, slug)
            problems.append(InputProblem(line, f"unknown slug {slug!r}: no note has that name{text}"))
            continue
        named = [] if "/" in slug else vault.index.notes_named(strip_md(slug))
        if resolution.status == RESOLVED and len(named) > 1:
            # A link would pick the shortest path; a slug that silently picks one note of several is a trap.
            problems.append(
                InputProblem(
                    line,
                    f"ambiguous slug {slug!r}: {len(named)} notes have that name ({', '.join(sorted(named))}); "
                    "write the path of the one to enrich (`/name` for the one at the vault root)",
                )
            )
            continue
        if resolution.status == AMBIGUOUS:
            candidates = ", ".join(resolution.candidates)
            problems.append(
                InputProblem(
                    line, f"ambiguous slug {slug!r}: matches {candidates}; write the note's folder path"
                )
            )
            continue
        path = resolution.path
        assert path is not None
        if not path.lower().endswith(".md"):
            problems.append(InputProblem(line, f"slug {slug!r} names {path}, which is not a note"))
            continue
        if path in claimed:
            first_slug, first_line = claimed[path]
            problems.append(
                InputProblem(line, f"slug {slug!r} names {path}, like {first_slug!r} on line {first_line}")
            )
            continue
        note = vault.note(path)
        if not note.editable:
            problems.append(InputProblem(line, f"{path}: {note.decode_error}; vaulttools does not edit it"))
            continue
        claimed[path] = (slug, line)
        paths[slug] = path
    return paths, problems


def _paragraph_links(vault: Vault, entry: EnrichmentEntry, path: str) -> Iterator[tuple[Link, Resolution]]:
    """Each link written inside the entry's texts, resolved from its note."""
    paragraph = entry.paragraph
    if "[" not in paragraph:
        return
    for link in find_links(Note(path, paragraph.encode("utf-8"), frozenset())):
        if link.is_link:
            yield link, vault.index.resolve(link.target, path)


def linked_notes(vault: Vault, entry: EnrichmentEntry, path: str) -> list[str]:
    """The files the entry's links reach: the batch must still find them when it writes."""
    return [
        resolution.path
        for _, resolution in _paragraph_links(vault, entry, path)
        if resolution.status == RESOLVED and resolution.path
    ]


def link_warnings(vault: Vault, entry: EnrichmentEntry, path: str) -> list[LinkWarning]:
    """Broken and ambiguous links written inside the entry's texts, resolved from its note."""
    paragraph = entry.paragraph
    warnings = []
    for link, resolution in _paragraph_links(vault, entry, path):
        if resolution.status not in (BROKEN, AMBIGUOUS):
            continue
        written = paragraph[link.start : link.end]
        candidates = resolution.candidates
        suggestion = None
        if resolution.status == BROKEN:
            hint = suffix_hint(vault, link.target, path)
            message = f"{path}: broken link {written}: no file named {link.target!r}{hint.text}"
            suggestion, candidates = hint.suggestion, hint.candidates
        else:
            message = f"{path}: ambiguous link {written}: matches {', '.join(candidates)}"
        warnings.append(
            LinkWarning(
                entry.line,
                entry.slug,
                path,
                written,
                link.target,
                resolution.status,
                suggestion,
                list(candidates),
                message,
            )
        )
    return warnings


def _similar_names_text(vault: Vault, slug: str) -> str:
    similar = vault.index.similar_note_names(slug)
    return f"; did you mean {' or '.join(repr(name) for name in similar)}?" if similar else ""


class SuffixHint(NamedTuple):
    suggestion: str | None  # the name `normalize-links` would write, as `check` suggests it
    candidates: tuple[str, ...]  # notes whose names differ from it only by a suffix

    @property
    def text(self) -> str:
        """What to add to a "no such note" message ("" when no note is close)."""
        if self.suggestion:
            return f"; did you mean {self.suggestion!r}?"
        if self.candidates:
            return f"; notes that differ only by a suffix: {', '.join(self.candidates)}"
        return ""


def suffix_hint(vault: Vault, target: str, source: str) -> SuffixHint:
    """`check`'s suffix suggestion for a name no note has, written from `source` ("": the vault root,
    where the linking note's day property cannot break a tie)."""
    day = (lambda: note_day(vault.note(source), vault.config.day_property)) if source else None
    proposed, suggestion = propose(vault.suffix_matcher, vault.index, target, source, day)
    return SuffixHint(proposed, tuple(c.path for c in suggestion.candidates))


@dataclass(frozen=True)
class EnrichOptions:
    """What enrich does with a note that already has a different enrichment paragraph: skip it (the
    default), overwrite it (`replace`), or refuse the whole batch (`fail_on_existing`)."""

    replace: bool = False
    fail_on_existing: bool = False


def plan_enrich(
    vault: Vault,
    entries: list[EnrichmentEntry],
    options: EnrichOptions | None = None,
    *,
    source: str,
) -> BatchPlan[EnrichPlanReport]:
    """Validate the entries against the vault, then plan one paragraph per note as one batch."""
    options = options or EnrichOptions()
    replace, fail_on_existing = options.replace, options.fail_on_existing
    if replace and fail_on_existing:
        raise VaultError("--replace and --fail-on-existing contradict each other; pass one of them")
    paths, problems = resolve_slugs(vault, [(entry.slug, entry.line) for entry in entries])
    if problems:
        raise EnrichInputError(source, problems, "fix them and run again")
    heading = vault.config.related.heading
    outcome = EnrichOutcome()
    changes: list[FileChange] = []
    refused: list[InputProblem] = []
    for entry in entries:
        path = paths[entry.slug]
        note = vault.note(path)
        placement = plan_placement(note, entry.paragraph, heading=heading, replace=replace)
        outcome.by_status[placement.status].append(path)
        if placement.status == SKIPPED_EXISTING:
            if fail_on_existing:
                refused.append(
                    InputProblem(entry.line, f"{path} already has a different enrichment paragraph")
                )
            continue  # its text is not written, so its links are not checked
        outcome.warnings.extend(link_warnings(vault, entry, path))
        change = note_change(note, placement.edits) if placement.edits else None
        if change is not None:
            changes.append(change)
            outcome.linked.update(linked_notes(vault, entry, path))
    if refused:
        raise EnrichInputError(source, refused, "pass --replace to overwrite them, or leave them out")
    plan = _batch_plan(source, changes, outcome)
    plan.relies_on = sorted(outcome.linked)  # the written links' notes must still be there
    return plan


def _batch_plan(
    source: str, changes: list[FileChange], outcome: EnrichOutcome
) -> BatchPlan[EnrichPlanReport]:
    statuses = outcome.by_status
    enriched, replaced = len(statuses[ENRICHED]), len(statuses[REPLACED])
    parts = [f"add enrichment to {enriched} note{'s' if enriched != 1 else ''}"] if enriched else []
    if replaced:
        parts.append(f"replace it in {replaced} note{'s' if replaced != 1 else ''}")
    summary = f"{' and '.join(parts) or 'no enrichment changes'} from {Path(source).name}"
    return BatchPlan(
        command="enrich",
        summary=summary,
        changes=sorted(changes, key=lambda change: change.path),
        counts={
            "notes_enriched": enriched,
            "paragraphs_replaced": replaced,
            "skipped_existing": len(statuses[SKIPPED_EXISTING]),
            "already_present": len(statuses[UNCHANGED]),
            "link_warnings": len(outcome.warnings),
        },
        report=EnrichPlanReport(
            source=source,
            enriched=statuses[ENRICHED],
            replaced=statuses[REPLACED],
            skipped_existing=statuses[SKIPPED_EXISTING],
            already_present=statuses[UNCHANGED],
            warnings=outcome.warnings,
        ),
    )


def plan_enrich_file(
    vault: Vault, path: Path, options: EnrichOptions | None = None
) -> BatchPlan[EnrichPlanReport]:
    """Read, parse and validate `path`, then plan the batch; every input problem is raised at once."""
    fmt = input_format(path)
    source = str(path)
    parsed = parse_enrichment(read_enrichment_file(path), fmt)
    # Slugs are checked even when fields are wrong, so one run lists every problem of the file.
    _, slug_problems = resolve_slugs(vault, parsed.slugs)
    problems = sorted([*parsed.problems, *slug_problems], key=lambda p: p.line or 0)
    if problems:
        raise EnrichInputError(source, problems, "fix them and run again")
    return plan_enrich(vault, parsed.entries, options, source=source)
