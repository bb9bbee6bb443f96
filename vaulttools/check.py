"""`vaulttools check`: read-only findings about links and frontmatter."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from vaulttools.links import Link
from vaulttools.note import Note
from vaulttools.resolve import AMBIGUOUS, BROKEN, fold
from vaulttools.suffixes import SuffixMatcher, written_like
from vaulttools.vault import Vault

SCHEMA_VERSION = 1

BROKEN_LINK = "broken-link"
AMBIGUOUS_LINK = "ambiguous-link"
BAD_FRONTMATTER = "unparsable-frontmatter"
UNREADABLE = "unreadable-note"
DUPLICATE_ID = "duplicate-id"
ID_MISMATCH = "id-differs-from-name"
UNQUOTED_LINK = "unquoted-frontmatter-link"

FINDING_KINDS = (
    BROKEN_LINK,
    AMBIGUOUS_LINK,
    BAD_FRONTMATTER,
    UNREADABLE,
    DUPLICATE_ID,
    ID_MISMATCH,
    UNQUOTED_LINK,
)


@dataclass(frozen=True)
class Finding:
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
        data = asdict(self)
        data["candidates"] = list(self.candidates)
        return data


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


def check_vault(vault: Vault) -> CheckReport:
    report = CheckReport()
    matcher = SuffixMatcher(vault.note_paths, vault.config.suffix_rules)
    ids: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for note in vault.notes():
        report.notes_scanned += 1
        report.findings.extend(check_note(vault, note, matcher, ids))
        report.opaque_links += sum(1 for link in note.links if link.opaque and link.opaque != "unquoted-yaml")
    for note_id, places in sorted(ids.items()):
        if len(places) > 1:
            others = ", ".join(p for p, _ in places)
            for path, line in places:
                report.findings.append(
                    Finding(
                        DUPLICATE_ID,
                        path,
                        line,
                        1,
                        f"id {note_id!r} is also used by: {others}",
                        target=note_id,
                    )
                )
    report.findings.sort(key=lambda f: (f.path, f.line, f.column, f.kind))
    return report


def check_note(
    vault: Vault, note: Note, matcher: SuffixMatcher, ids: dict[str, list[tuple[str, int]]]
) -> list[Finding]:
    findings: list[Finding] = []
    if note.decode_error:
        return [
            Finding(UNREADABLE, note.path, 1, 1, f"{note.decode_error}; vaulttools leaves this file alone")
        ]
    if note.frontmatter is not None or note.frontmatter_problem:
        error = note.yaml_error
        if error:
            findings.append(Finding(BAD_FRONTMATTER, note.path, 1, 1, f"frontmatter does not parse: {error}"))
        else:
            findings.extend(_id_findings(vault, note, ids))
    day = (note.properties or {}).get(vault.config.day_property) if note.frontmatter_editable else None
    for link in note.links:
        if link.opaque == "unquoted-yaml":
            line, column = note.line_col(link.start)
            findings.append(
                Finding(
                    UNQUOTED_LINK,
                    note.path,
                    line,
                    column,
                    "unquoted [[…]] in frontmatter is a nested YAML list, not a link: put it in double quotes",
                    link=note.text[link.start : link.end],
                )
            )
            continue
        if not link.is_link:
            continue
        finding = link_finding(vault, note, link, matcher, day)
        if finding:
            findings.append(finding)
    return findings


def link_finding(vault: Vault, note: Note, link: Link, matcher: SuffixMatcher, day: object) -> Finding | None:
    resolution = vault.index.resolve(link.target, note.path)
    if resolution.status not in (BROKEN, AMBIGUOUS):
        return None
    line, column = note.line_col(link.start)
    written = note.text[link.start : link.end]
    if resolution.status == AMBIGUOUS:
        return Finding(
            AMBIGUOUS_LINK,
            note.path,
            line,
            column,
            f"{written} matches several notes equally well; write a folder path to pick one",
            link=written,
            target=link.target,
            candidates=resolution.candidates,
        )
    suggestion = matcher.suggest(link.target, day)
    proposed = written_like(link.target, suggestion.path) if suggestion.path else None
    message = f"{written} points to no note"
    if proposed:
        message += f"; did you mean {proposed!r}? (`vaulttools normalize-links` fixes it)"
    elif suggestion.candidates:
        message += "; several notes differ only by a suffix"
    return Finding(
        BROKEN_LINK,
        note.path,
        line,
        column,
        message,
        link=written,
        target=link.target,
        suggestion=proposed,
        candidates=tuple(c.path for c in suggestion.candidates),
    )


def _id_findings(vault: Vault, note: Note, ids: dict[str, list[tuple[str, int]]]) -> list[Finding]:
    properties = note.properties or {}
    key = vault.config.id_property
    if key not in properties or properties[key] is None:
        return []
    value = str(properties[key])
    line = _key_line(note, key)
    ids[fold(value)].append((note.path, line))
    if fold(value) != fold(note.stem):
        return [
            Finding(
                ID_MISMATCH, note.path, line, 1, f"{key} {value!r} differs from the file name {note.stem!r}"
            )
        ]
    return []


def _key_line(note: Note, key: str) -> int:
    assert note.frontmatter is not None
    text = note.text
    position = text.find(f"\n{key}:", note.frontmatter.start - 1, note.frontmatter.end)
    return note.line_col(position + 1)[0] if position >= 0 else 1
