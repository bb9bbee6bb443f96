"""`vaulttools check`: read-only findings about links and frontmatter."""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from vaulttools.facts import key_line, load_cache, read_stamped, save_cache, stamp_of
from vaulttools.links import Link
from vaulttools.note import Note
from vaulttools.parallel import map_notes
from vaulttools.resolve import AMBIGUOUS, BROKEN, fold
from vaulttools.suffixes import SuffixMatcher, note_day, propose
from vaulttools.vault import Vault

SCHEMA_VERSION = 1

BROKEN_LINK = "broken-link"
AMBIGUOUS_LINK = "ambiguous-link"
BAD_FRONTMATTER = "unparsable-frontmatter"
UNREADABLE = "unreadable-note"
DUPLICATE_ID = "duplicate-id"
ID_MISMATCH = "id-differs-from-name"
UNQUOTED_LINK = "unquoted-frontmatter-link"
UNQUOTED_YAML = "unquoted-yaml"
_YAML_ERROR_PLACE_RE = re.compile(
    r"line (\d+), column (\d+):"
)  # the `opaque` mark links.py gives `related: [[a]]`

FINDING_KINDS = (
    BROKEN_LINK,
    AMBIGUOUS_LINK,
    BAD_FRONTMATTER,
    UNREADABLE,
    DUPLICATE_ID,
    ID_MISMATCH,
    UNQUOTED_LINK,
)


class Finding(NamedTuple):
    kind: str
    path: str
    line: int
    column: int
    message: str
    link: str | None = None  # the link exactly as written
    target: str | None = None
    suggestion: str | None = None  # the target a fix would write
    candidates: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "link": self.link,
            "target": self.target,
            "suggestion": self.suggestion,
            "candidates": list(self.candidates),
        }


@dataclass
class CheckReport:
    notes_scanned: int = 0
    findings: list[Finding] = field(default_factory=list)
    opaque_links: int = 0  # `[[…]]` inside code, math or HTML comments: not links, counted

    def counts(self) -> dict[str, int]:
        counter = Counter(f.kind for f in self.findings)
        return {kind: counter.get(kind, 0) for kind in FINDING_KINDS}

    def to_json(self, vault_root: str) -> dict:
        return {
            "version": SCHEMA_VERSION,
            "vault": vault_root,
            "notes_scanned": self.notes_scanned,
            "counts": self.counts(),
            "opaque_links": self.opaque_links,
            "findings": [f.to_json() for f in self.findings],
        }


def check_vault(vault: Vault, *, use_cache: bool = True) -> CheckReport:
    """Findings for every note. Per-note results are cached while the note and the vault's file list are
    unchanged: a note's findings depend only on its own bytes, the set of file paths and the configuration."""
    use_cache = use_cache and not os.environ.get("VAULTTOOLS_NO_CACHE")
    fingerprint = _check_fingerprint(vault)
    cached = load_cache(vault.root, fingerprint, name="check") if use_cache else {}
    entries: dict[str, tuple] = {}
    stale: list[str] = []
    root = str(vault.root)
    for path in vault.note_paths:
        record = cached.get(path)
        if record is not None:
            try:
                if tuple(record[0]) == stamp_of(f"{root}/{path}"):
                    entries[path] = record
                    continue
            except OSError:
                continue
        stale.append(path)
    if stale:
        entries.update(_check_stale(vault, stale))
    if use_cache and (stale or len(cached) != len(entries)):
        save_cache(vault.root, fingerprint, entries, name="check")
    return _assemble(vault.note_paths, entries)


def _check_fingerprint(vault: Vault) -> str:
    from vaulttools import __version__

    config = vault.config
    listing = "\0".join([*vault.scan.notes, "", *vault.scan.files])
    files_hash = hashlib.sha1(listing.encode("utf-8", "surrogatepass")).hexdigest()
    settings = (sorted(config.link_properties), config.suffix_rules, config.day_property, config.id_property)
    return f"{__version__}|{settings}|{files_hash}"


def _check_stale(vault: Vault, paths: list[str]) -> dict[str, tuple]:
    """Check whole notes, on every core for a big first run; workers send back only the small results."""
    matcher = SuffixMatcher(vault.note_paths, vault.config.suffix_rules)
    vault.index  # noqa: B018 - build the index once, before the workers inherit it
    entries = map_notes(
        lambda chunk: _check_entries(vault, matcher, chunk),
        paths,
        label="Checking notes",
        on_progress=vault.on_progress,
    )
    return dict(entries)


def _check_entries(vault: Vault, matcher: SuffixMatcher, paths: list[str]) -> list[tuple[str, tuple]]:
    link_properties = vault.config.link_property_set
    return [
        (path, check_entry(vault, Note(path, raw, link_properties), stamp, matcher))
        for path, stamp, raw in read_stamped(str(vault.root), paths)
    ]


def check_entry(vault: Vault, note: Note, stamp: tuple[int, int, int, int], matcher: SuffixMatcher) -> tuple:
    """(stamp, findings, opaque link count, id value, id line): everything `check` needs of one note."""
    findings = tuple(tuple(f) for f in check_note(vault, note, matcher))
    if not note.editable:
        return (stamp, findings, 0, None, 1)
    opaque = sum(1 for link in note.links if link.opaque and link.opaque != UNQUOTED_YAML)
    note_id = (note.properties or {}).get(vault.config.id_property) if note.frontmatter_editable else None
    id_line = key_line(note, vault.config.id_property) or 1
    return (stamp, findings, opaque, None if note_id is None else str(note_id), id_line)


def _assemble(paths: list[str], entries: dict[str, tuple]) -> CheckReport:
    report = CheckReport()
    ids: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path in paths:
        entry = entries.get(path)
        if entry is None:
            continue
        _, findings, opaque, note_id, id_line = entry
        report.notes_scanned += 1
        report.opaque_links += opaque
        report.findings.extend(Finding(*f[:8], tuple(f[8])) for f in findings)
        if note_id is not None:
            ids[fold(note_id)].append((path, id_line))
    for note_id, places in sorted(ids.items()):
        if len(places) > 1:
            others = ", ".join(p for p, _ in places)
            for path, line in places:
                message = f"id {note_id!r} is also used by: {others}"
                report.findings.append(Finding(DUPLICATE_ID, path, line, 1, message, target=note_id))
    report.findings.sort(key=lambda f: (f.path, f.line, f.column, f.kind))
    return report


def check_note(vault: Vault, note: Note, matcher: SuffixMatcher) -> list[Finding]:
    path = note.path
    if note.decode_error:
        return [Finding(UNREADABLE, path, 1, 1, f"{note.decode_error}; vaulttools leaves this file alone")]
    findings: list[Finding] = []
    has_frontmatter = note.frontmatter is not None or note.frontmatter_problem is not None
    if has_frontmatter and note.yaml_error:
        place = _YAML_ERROR_PLACE_RE.match(note.yaml_error)
        line, column = (int(place.group(1)), int(place.group(2))) if place else (1, 1)
        message = f"frontmatter does not parse: {note.yaml_error}"
        findings.append(Finding(BAD_FRONTMATTER, path, line, column, message))
    elif note.frontmatter is not None:
        findings.extend(_id_findings(vault, note))

    def day() -> object:  # read only when two suffixed candidates tie
        return note_day(note, vault.config.day_property)

    for link in note.links:
        if link.opaque == UNQUOTED_YAML:
            line, column = note.line_col(link.start)
            message = (
                "unquoted [[…]] in frontmatter is a nested YAML list, not a link: put it in double quotes"
            )
            findings.append(
                Finding(UNQUOTED_LINK, path, line, column, message, link=note.text[link.start : link.end])
            )
        elif link.opaque is None and link.target:
            finding = link_finding(vault, note, link, matcher, day)
            if finding:
                findings.append(finding)
    return findings


def link_finding(vault: Vault, note: Note, link: Link, matcher: SuffixMatcher, day: object) -> Finding | None:
    path = note.path
    resolution = vault.index.resolve(link.target, path)
    if resolution.status not in (BROKEN, AMBIGUOUS):
        return None
    line, column = note.line_col(link.start)
    written = note.text[link.start : link.end]
    if resolution.status == AMBIGUOUS:
        return Finding(
            AMBIGUOUS_LINK,
            path,
            line,
            column,
            f"{written} matches several notes equally well; write a folder path to pick one",
            link=written,
            target=link.target,
            candidates=resolution.candidates,
        )
    proposed, suggestion = propose(matcher, vault.index, link.target, path, day)
    message = f"{written} points to no note"
    if proposed:
        message += f"; did you mean {proposed!r}? (`vaulttools normalize-links` fixes it)"
    elif suggestion.candidates:
        message += "; several notes differ only by a suffix"
    return Finding(
        BROKEN_LINK,
        path,
        line,
        column,
        message,
        link=written,
        target=link.target,
        suggestion=proposed,
        candidates=tuple(c.path for c in suggestion.candidates),
    )


def _id_findings(vault: Vault, note: Note) -> list[Finding]:
    properties = note.properties or {}
    key = vault.config.id_property
    if properties.get(key) is None:
        return []
    value = str(properties[key])
    if fold(value) == fold(note.stem):
        return []
    line = key_line(note, key) or 1
    return [
        Finding(ID_MISMATCH, note.path, line, 1, f"{key} {value!r} differs from the file name {note.stem!r}")
    ]
