"""Plan `vaulttools rename`: rename (or move) notes and rewrite every reference to them, in one batch.

Pure planning: a vault and a list of (OLD, NEW) in, a `BatchPlan` out; nothing is written here.

How it works (obsidian-links.md §4):
1. Every OLD is found (a name in any letter case, or a vault path) and every NEW checked; renames of one
   map happen simultaneously, so chains (a→b, b→c) and swaps (a→b, b→a) are fine.
2. One byte-level pass over the vault keeps only the notes whose lowered bytes contain a spelling of an
   old name (NFC/NFD, `%20`-encoded); no other note is parsed.
3. Each link of those notes is resolved against the vault *before* the rename; it is a reference iff it
   resolves to a renamed note. Its target is rewritten in the author's style, and checked against an index
   with the renames applied (widened to the shortest unique path if the new name is ambiguous).
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote as percent_quote
from urllib.parse import unquote_to_bytes

import yaml

from vaulttools.batch import BatchPlan, FileChange
from vaulttools.edits import Edit
from vaulttools.errors import VaultError
from vaulttools.frontmatter import RefusedEdit, format_scalar
from vaulttools.linkedit import in_yaml_style, retarget
from vaulttools.links import PROPERTY, Link
from vaulttools.note import Note
from vaulttools.parallel import map_notes
from vaulttools.planning import note_change
from vaulttools.resolve import AMBIGUOUS, RESOLVED, LinkIndex, fold, strip_md
from vaulttools.vault import Vault

COMMAND = "rename"
FORBIDDEN_CHARACTERS = '*"\\/<>:|?#^[]'
ALIASES = "aliases"
UNPARSABLE_FRONTMATTER = "unparsable-frontmatter"
UNREADABLE_NOTE = "unreadable-note"


@dataclass(frozen=True)
class Rename:
    """One note's rename: vault paths before and after (both end in `.md`)."""

    old_path: str
    new_path: str

    @property
    def old_stem(self) -> str:
        return stem_of(self.old_path)

    @property
    def new_stem(self) -> str:
        return stem_of(self.new_path)

    @property
    def moves(self) -> bool:
        return posixpath.dirname(self.old_path) != posixpath.dirname(self.new_path)


@dataclass
class RenameReport:
    """What the planner saw and did; becomes `plan.report` and `plan.counts`."""

    rewritten: Counter[str] = field(default_factory=Counter)  # by link kind
    left_alone: Counter[str] = field(default_factory=Counter)  # by reason
    left_alone_places: list[dict[str, Any]] = field(default_factory=list)
    widened: int = 0
    adjusted: int = 0  # links to other notes re-pointed so they keep their meaning
    display_updated: int = 0
    display_left_alone: int = 0  # display text equal to the old name only ignoring letter case
    ids_updated: int = 0
    aliases_added: int = 0
    warnings: list[str] = field(default_factory=list)
    notes_read: int = 0
    notes_parsed: int = 0

    def absorb(self, other: RenameReport) -> None:
        """Add another part of the vault's report (a parse worker's) to this one: every field is a
        count, a Counter or a list, so each simply adds up."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def stem_of(path: str) -> str:
    return posixpath.basename(strip_md(path))


# --- input: the map file and the names -------------------------------------------------------------


def parse_rename_map(text: str, filename: str) -> list[tuple[str, str]]:
    """Pairs from a CSV (`old,new`, header optional) or YAML (`old: new`) map; refuses anything odd."""
    if filename.lower().endswith((".yaml", ".yml")):
        pairs = _yaml_pairs(text, filename)
    else:
        pairs = _csv_pairs(text, filename)
    if not pairs:
        raise VaultError(f"{filename}: the map holds no renames; add `old,new` lines")
    return pairs


def _csv_pairs(text: str, filename: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for number, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and [c.lower() for c in cells] == ["old", "new"]:
            continue  # the optional header
        if len(cells) != 2 or not all(cells):
            raise VaultError(f"{filename}:{number}: expected two cells `old,new`, got {row!r}")
        pairs.append((cells[0], cells[1]))
    return pairs


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (a map naming one OLD twice is ambiguous)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise VaultError(f"the map names {key!r} twice (line {key_node.start_mark.line + 1}); keep one")
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_pairs(text: str, filename: str) -> list[tuple[str, str]]:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise VaultError(f"{filename}: not valid YAML ({' '.join(str(exc).split())})") from exc
    if data is None:
        return []
    if not isinstance(data, dict):
        raise VaultError(f"{filename}: expected a mapping `old: new`, got a YAML {type(data).__name__}")
    pairs = []
    for old, new in data.items():
        if not isinstance(old, str) or not isinstance(new, str):
            raise VaultError(f"{filename}: {old!r}: {new!r} is not a pair of names; quote both names")
        pairs.append((old.strip(), new.strip()))
    return pairs


def find_old_note(index: LinkIndex, old: str) -> str:
    """The vault path of the note OLD names: a file stem (any case) or a vault path."""
    given = old.strip()
    if not given:
        raise VaultError("OLD is empty; name the note to rename")
    if "/" in given:
        path = given.lstrip("/")
        resolution = index.resolve("/" + path, "")
        if resolution.status != RESOLVED or not resolution.path.lower().endswith(".md"):
            raise VaultError(f"no note at {given!r}; check the path (see `vaulttools check`)")
        return resolution.path
    paths = sorted(index.notes_named(strip_md(given)))
    if not paths:
        raise VaultError(f"no note named {given!r} in the vault; check the name")
    if len(paths) > 1:
        raise VaultError(
            f"{given!r} is ambiguous: {', '.join(paths)}; give the path of the one to rename instead"
        )
    return paths[0]


def new_note_path(old_path: str, new: str) -> str:
    """Where NEW puts the note: a name keeps its folder, a path (with `/`) moves it. Refuses bad names."""
    given = new
    if given != given.strip():
        raise VaultError(f"NEW {given!r} starts or ends with spaces; remove them")
    if given.startswith("/"):
        raise VaultError(f"NEW {given!r} is absolute: give a name, or a path relative to the vault root")
    parts = given.split("/")
    if any(part in ("..", ".") for part in parts):
        raise VaultError(f"NEW {given!r} leads outside the vault folder; give a path inside the vault")
    name = strip_md(parts[-1])
    _check_name(name, given)
    for folder in parts[:-1]:
        _check_name(folder, given)
    folder = "/".join(parts[:-1]) if len(parts) > 1 else posixpath.dirname(old_path)
    return f"{folder}/{name}.md" if folder else f"{name}.md"


def _check_name(name: str, given: str) -> None:
    if not name:
        raise VaultError(f"NEW {given!r} has an empty name; give a name")
    if name.startswith("."):
        raise VaultError(f"NEW {given!r}: a name starting with '.' is hidden from Obsidian; choose another")
    bad = sorted({c for c in name if c in FORBIDDEN_CHARACTERS})
    if bad:
        raise VaultError(
            f"NEW {given!r} contains {' '.join(bad)}; note names cannot contain any of "
            f"{' '.join(FORBIDDEN_CHARACTERS)}"
        )
    if name != name.strip():
        raise VaultError(f"NEW {given!r} has a name that starts or ends with spaces; remove them")


def resolve_renames(
    vault: Vault, pairs: list[tuple[str, str]], skipped: list[str] | None = None
) -> list[Rename]:
    """Check the whole map before anything is planned: every refusal of issue 3 lives here.

    A pair whose note already has that name is left out (said in `skipped`) when the map has other
    renames to do, so a map can be run again after some of its names were applied by hand.
    """
    if not pairs:
        raise VaultError("nothing to rename: give OLD and NEW, or --map FILE")
    index = vault.index
    renames: list[Rename] = []
    unchanged: list[str] = []
    by_old: dict[str, str] = {}
    for old, new in pairs:
        old_path = find_old_note(index, old)
        if old_path in by_old:
            raise VaultError(f"{old_path} is renamed twice in the map ({by_old[old_path]!r} and {old!r})")
        by_old[old_path] = old
        new_path = new_note_path(old_path, new)
        if new_path == old_path:
            unchanged.append(f"{old!r} is already called {new!r}; left out")
            continue
        renames.append(Rename(old_path, new_path))
    if not renames:
        raise VaultError(f"{unchanged[0].removesuffix('; left out')}; nothing to rename")
    if skipped is not None:
        skipped += unchanged
    _refuse_taken_names(vault, renames)
    return renames


def _refuse_taken_names(vault: Vault, renames: list[Rename]) -> None:
    """NEW must be free (letter case ignored) once every OLD of the map has moved away."""
    vacated = {fold(r.old_path) for r in renames}
    remaining = {fold(path) for path in vault.index.paths} - vacated
    claimed: dict[str, str] = {}
    for rename in renames:
        key = fold(rename.new_path)
        if key in remaining or (key not in vacated and (vault.root / rename.new_path).exists()):
            raise VaultError(f"{rename.new_path} already exists (letter case ignored); choose another name")
        if key in claimed:
            raise VaultError(
                f"{claimed[key]} and {rename.old_path} would both become {rename.new_path}; "
                "give them different names"
            )
        claimed[key] = rename.old_path


# --- the byte-level prefilter -----------------------------------------------------------------------


def name_spellings(stem: str) -> set[bytes]:
    """Lowered byte strings of which at least one is in any note that can reference `stem`.

    A reference writes the name in some letter case, NFC or NFD, maybe `%`-encoded (markdown links).
    `bytes.lower()` folds ASCII only, so for a name with non-ASCII letters its longest ASCII run is used
    (any spelling contains it); a name with no usable ASCII run uses its forms in three letter cases.
    """
    forms: set[str] = set()
    for normal in ("NFC", "NFD"):
        form = unicodedata.normalize(normal, stem)
        forms |= {form, form.lower(), form.upper()}
    if stem.isascii():
        forms = {stem.lower()}
    else:
        # Runs of the NFC form: each is also in the NFD spelling (decomposing only lengthens ASCII runs,
        # e.g. NFD "cafe\u0301" holds NFC "caf"), while an NFD run ("cafe") may be missing from NFC.
        runs = sorted(re.findall(r"[\x00-\x7f]+", unicodedata.normalize("NFC", stem)), key=len, reverse=True)
        if runs and len(runs[0]) >= 3:
            forms = {runs[0].lower()}
    spellings: set[bytes] = set()
    for form in forms:
        spellings.add(form.encode("utf-8").lower())
        spellings.add(percent_quote(form, safe="!$&'()*+,;=:@-._~").encode("ascii").lower())
    return spellings


def spelling_pattern(stems: Iterable[str]) -> re.Pattern[bytes]:
    """One regex for all spellings of all names, built as a trie so that a 500-name map is one pass."""
    trie: dict[int, Any] = {}
    for stem in stems:
        for spelling in name_spellings(stem):
            node = trie
            for byte in spelling:
                node = node.setdefault(byte, {})
            node[-1] = {}  # end of a spelling: any longer spelling with this prefix is redundant
    return re.compile(_trie_regex(trie))


def _trie_regex(node: dict[int, Any]) -> bytes:
    if -1 in node:
        return b""
    branches = [re.escape(bytes([byte])) + _trie_regex(child) for byte, child in sorted(node.items())]
    if len(branches) == 1:
        return branches[0]
    return b"(?:" + b"|".join(branches) + b")"


# --- where each reference points after the rename ---------------------------------------------------


def renamed_index(index: LinkIndex, renames: list[Rename]) -> LinkIndex:
    """The vault's link index as it will be after every rename of the batch."""
    after = index.copy()
    for rename in renames:
        after.remove(rename.old_path)
    for rename in renames:
        after.add(rename.new_path)
    return after


def styled_target(
    target: str, old_dest: str, new_dest: str, new_source: str, old_source: str | None = None
) -> str:
    """`target` (pointing at `old_dest`) rewritten to point at `new_dest`, in the same path style.

    `/path` stays absolute, `./` and `../` stay relative to the (maybe moved) linking note, `folder/old`
    keeps the author's folder text when the note stays in its folder, a bare name stays bare; `.md` kept.
    """
    extension = ".md" if target.lower().endswith(".md") and new_dest.lower().endswith(".md") else ""
    base = strip_md(new_dest) if new_dest.lower().endswith(".md") else new_dest
    name = posixpath.basename(base)
    if target.startswith("/"):
        return "/" + base + extension
    same_folders = posixpath.dirname(old_dest) == posixpath.dirname(new_dest) and (
        old_source is not None and posixpath.dirname(old_source) == posixpath.dirname(new_source)
    )
    if target.startswith(("./", "../")) and same_folders and "/" in target:
        return f"{target.rpartition('/')[0]}/{name}{extension}"  # the author's folder text, `//` and all
    if target.startswith(("./", "../")):
        relative = posixpath.relpath(base, posixpath.dirname(new_source) or ".")
        if target.startswith("./") and not relative.startswith("../"):
            relative = "./" + relative
        return relative + extension
    if "/" in target:
        written_folder = target.rpartition("/")[0]
        if posixpath.dirname(old_dest) == posixpath.dirname(new_dest):
            return f"{written_folder}/{name}{extension}"
        return base + extension
    return name + extension


def widened_target(candidate: str, new_dest: str, new_source: str, after: LinkIndex) -> tuple[str, bool]:
    """`candidate` if it reaches `new_dest` after the rename, else the shortest path suffix that does."""
    if _reaches(after, candidate, new_source, new_dest):
        return candidate, False
    is_note = new_dest.lower().endswith(".md")
    extension = ".md" if is_note and candidate.lower().endswith(".md") else ""
    parts = (strip_md(new_dest) if is_note else new_dest).split("/")
    start = max(1, len(strip_md(candidate).lstrip("/").split("/")))
    for size in range(start, len(parts) + 1):
        wider = "/".join(parts[-size:]) + extension
        if _reaches(after, wider, new_source, new_dest):
            return wider, True
    return "/" + "/".join(parts) + extension, True


def _reaches(index: LinkIndex, target: str, source: str, dest: str) -> bool:
    resolution = index.resolve(target, source)
    return resolution.status == RESOLVED and resolution.path == dest


# --- planning ---------------------------------------------------------------------------------------


def plan_renames(vault: Vault, renames: list[tuple[str, str]], *, keep_alias: bool) -> BatchPlan:
    """The batch that renames every OLD to NEW and rewrites every reference; writes nothing.

    Reading every note for the byte prefilter and planning the notes it lets through run on every core
    for big vaults: each worker plans a slice of the notes with its own report, merged in note order.
    """
    unchanged: list[str] = []
    resolved = resolve_renames(vault, renames, unchanged)
    moved = {r.old_path: r.new_path for r in resolved}
    by_old_path = {r.old_path: r for r in resolved}
    after = renamed_index(vault.index, resolved)
    pattern = candidate_pattern(resolved, after)

    def plan_chunk(paths: list[str]) -> list[tuple[list[FileChange], RenameReport]]:
        report = RenameReport()
        changes: list[FileChange] = []
        for path, raw in candidate_notes(vault, paths, by_old_path, pattern, report):
            note = Note(path, raw, vault.config.link_property_set)
            report.notes_parsed += 1
            rename = by_old_path.get(path)
            change = plan_note(
                vault, note, moved, after, report, rename=rename, keep_alias=keep_alias, mentions=pattern
            )
            if change is not None:
                changes.append(change)
        return [(changes, report)]

    report = RenameReport(warnings=unchanged)
    changes: list[FileChange] = []
    for chunk_changes, chunk_report in map_notes(plan_chunk, vault.note_paths, on_progress=vault.on_progress):
        changes += chunk_changes
        report.absorb(chunk_report)
    return _batch(resolved, changes, report)


def candidate_pattern(renames: list[Rename], after: LinkIndex) -> re.Pattern[bytes]:
    """Every spelling of a name whose notes may hold a reference to rewrite.

    When a new name is shared with another note, links to that note may change meaning: the notes that
    spell the new name are read too, so their links can be kept on their note.
    """
    stems = [r.old_stem for r in renames]
    stems += [r.new_stem for r in renames if len(after.notes_named(r.new_stem)) > 1]
    return spelling_pattern(stems)


def candidate_notes(
    vault: Vault,
    paths: Iterable[str],
    renamed: Mapping[str, Rename],
    pattern: re.Pattern[bytes],
    report: RenameReport,
) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of the notes of `paths` that may hold a reference: the renamed notes, and those
    whose bytes spell an old name."""
    for path in paths:
        raw = vault.read_bytes(path)
        if path in renamed:
            yield path, raw
            continue
        report.notes_read += 1
        folded = raw.lower()
        # A hand-written escape (`concept%2Dx.md`) spells no name as it stands: decode, then look again.
        if pattern.search(folded) or (b"%" in folded and pattern.search(unquote_to_bytes(folded))):
            yield path, raw


def plan_note(
    vault: Vault,
    note: Note,
    moved: dict[str, str],
    after: LinkIndex,
    report: RenameReport,
    *,
    rename: Rename | None,
    keep_alias: bool,
    mentions: re.Pattern[bytes] | None = None,
) -> FileChange | None:
    """Every edit one note needs (links, and for a renamed note its id and aliases), verified.

    `mentions` (the spellings of the old names) lets a note that spells one in a part that cannot be read
    (not UTF-8, or a frontmatter that does not parse) be listed as left alone: a rename never skips silently.
    """
    new_source = moved.get(note.path, note.path)
    if not note.editable:
        if rename is not None:
            report.warnings.append(f"{note.path}: {note.decode_error}; moved without reading its links")
            return FileChange(note.path, note.raw, note.raw, rename.new_path)
        if mentions is not None:
            _leave_unread_mention(note, note.raw, UNREADABLE_NOTE, note.decode_error or "", mentions, report)
        return None
    edits: list[Edit] = []
    places_before = len(report.left_alone_places)
    for link in note.links:
        edits.extend(link_edits(vault, note, link, moved, new_source, after, report))
    fm = note.frontmatter
    if mentions is not None and fm is not None and not note.frontmatter_editable:
        listed = any(p["path"] == note.path for p in report.left_alone_places[places_before:])
        if not listed:
            yaml_bytes = note.text[: fm.end].encode("utf-8")
            detail = note.yaml_error or ""
            _leave_unread_mention(note, yaml_bytes, UNPARSABLE_FRONTMATTER, detail, mentions, report)
    appended: dict[str, str] = {}
    if rename is not None:
        edits.extend(identity_edits(vault, note, rename, report))
        if keep_alias:
            alias_edit = plan_alias(note, rename.old_stem, vault.config.id_property)
            if alias_edit is not None:
                edits.append(alias_edit)
                appended[ALIASES] = rename.old_stem
                report.aliases_added += 1
    return note_change(note, edits, rename.new_path if rename else None, appended=appended or None)


def link_edits(
    vault: Vault,
    note: Note,
    link: Link,
    moved: dict[str, str],
    new_source: str,
    after: LinkIndex,
    report: RenameReport,
) -> list[Edit]:
    """The edits for one link: its target (and display text) if it points at a renamed note, or a
    re-pointing that keeps a link to another note on that note."""
    if not link.target:
        return []  # `[[#Heading]]`: a link inside the note itself, path-less by design
    before = vault.index.resolve(link.target, note.path)
    if before.status == AMBIGUOUS and any(c in moved for c in before.candidates):
        _leave_alone(note, link, "ambiguous", report)
        report.warnings.append(
            f"{note.path}:{note.line_col(link.start)[0]}: [[{link.target}]] is ambiguous "
            f"({', '.join(before.candidates)}); left as it was"
        )
        return []
    if before.status != RESOLVED or before.path is None:
        return []
    is_reference = before.path in moved
    if link.opaque is not None:
        if is_reference:
            _leave_alone(note, link, link.opaque, report)
        return []
    if link.start < note.body_start and not note.frontmatter_editable:
        if is_reference:
            _leave_alone(note, link, UNPARSABLE_FRONTMATTER, report)
        return []
    new_dest = moved.get(before.path, before.path)
    if not is_reference:
        if _reaches(after, link.target, new_source, new_dest):
            return []
        # The link's own note moved (relative paths) or a new name now competes with its target.
        candidate = styled_target(link.target, before.path, new_dest, new_source, note.path)
        target, _ = widened_target(candidate, new_dest, new_source, after)
        report.adjusted += 1
        return [retarget(note, link, target, kind="adjusted")]
    candidate = styled_target(link.target, before.path, new_dest, new_source, note.path)
    target, widened = widened_target(candidate, new_dest, new_source, after)
    report.widened += widened
    report.rewritten[_kind_label(note, link)] += 1
    edits = [retarget(note, link, target)]
    old_stem = stem_of(before.path)
    display = display_edit(note, link, old_stem, stem_of(new_dest))
    if display is not None:
        report.display_updated += 1
        edits.append(display)
    elif display_differs(link, old_stem):
        report.display_left_alone += 1
    return edits


def _kind_label(note: Note, link: Link) -> str:
    """The link's kind for the report; a wikilink in a table (`\\|` separator) is counted apart."""
    if link.display_start > 0 and note.text[link.display_start - 2 : link.display_start] == "\\|":
        return f"{link.kind}-in-table"
    return link.kind


def display_edit(note: Note, link: Link, old_stem: str, new_stem: str) -> Edit | None:
    """Display text equal to the old name follows the rename (spacing kept). Only an exact match: text
    that differs, if only in letter case, is the author's prose and stays (`display_differs` says so)."""
    if display_differs(link, old_stem) is not False:
        return None
    shown = note.text[link.display_start : link.display_end]
    stripped = shown.strip()
    start = link.display_start + (len(shown) - len(shown.lstrip()))
    new_text = in_yaml_style(note, link, new_stem) if link.kind == PROPERTY else new_stem
    return Edit(start, start + len(stripped), stripped, new_text, "display")


def display_differs(link: Link, old_stem: str) -> bool | None:
    """False when the link's display text is the old name exactly, True when it is the old name in other
    letter case (left as written), None when it is something else or there is none."""
    if link.display is None or link.embed or link.display_start < 0:
        return None
    shown = link.display.strip()
    if shown == old_stem:
        return False
    return True if fold(shown) == fold(old_stem) else None


def _leave_unread_mention(
    note: Note,
    raw: bytes,
    reason: str,
    detail: str,
    mentions: re.Pattern[bytes],
    report: RenameReport,
) -> None:
    """List a note whose bytes `raw` spell an old name where vaulttools cannot read links."""
    match = mentions.search(raw.lower())
    if match is None:
        return
    report.left_alone[reason] += 1
    spelled = raw[match.start() : match.end()].decode("utf-8", "replace")
    line = raw.count(b"\n", 0, match.start()) + 1
    column = match.start() - raw.rfind(b"\n", 0, match.start())
    report.left_alone_places.append(
        {
            "path": note.path,
            "line": line,
            "column": column,
            "reason": reason,
            "target": spelled,
            "detail": detail,
        }
    )


def _leave_alone(note: Note, link: Link, reason: str, report: RenameReport) -> None:
    report.left_alone[reason] += 1
    line, column = note.line_col(link.start)
    report.left_alone_places.append(
        {"path": note.path, "line": line, "column": column, "reason": reason, "target": link.target}
    )


# --- the renamed note's own frontmatter -------------------------------------------------------------


def identity_edits(vault: Vault, note: Note, rename: Rename, report: RenameReport) -> list[Edit]:
    """The `id` property follows the rename when it equals the old name; only its characters change."""
    key = vault.config.id_property
    if note.frontmatter is None:
        return []
    if not note.frontmatter_editable:
        report.warnings.append(
            f"{note.path}: frontmatter does not parse ({note.yaml_error}); its {key!r} was not updated"
        )
        return []
    properties = note.properties or {}
    if properties.get(key) != rename.old_stem:
        return []
    located = _scalar_value_span(note, key)
    if located is None:
        report.warnings.append(f"{note.path}: {key!r} is not a one-line value; update it by hand")
        return []
    start, end, quote = located
    where = f"{note.path}:{note.line_col(start)[0]}"
    written = note.text[start:end]
    try:
        if written != format_scalar(rename.old_stem, quote, in_flow=False, where=where):
            report.warnings.append(f"{note.path}: {key!r} is written with escapes; update it by hand")
            return []
        new_value = format_scalar(rename.new_stem, quote, in_flow=False, where=where)
    except RefusedEdit as exc:
        report.warnings.append(exc.message)
        return []
    report.ids_updated += 1
    return [Edit(start, end, written, new_value, "id")]


def _key_line(note: Note, key: str) -> re.Match[str] | None:
    fm = note.frontmatter
    assert fm is not None
    pattern = re.compile(rf"^{re.escape(key)}[ \t]*:[ \t]*(?P<rest>[^\r\n]*)", re.MULTILINE)
    return pattern.search(note.text, fm.start, fm.end)


def _scalar_value_span(note: Note, key: str) -> tuple[int, int, str] | None:
    """(start, end, quote) of a one-line scalar value `key: value`, inside its quotes."""
    match = _key_line(note, key)
    if match is None:
        return None
    rest = match.group("rest")
    value = re.fullmatch(r"(?P<q>[\"']?)(?P<v>.*?)(?P=q)[ \t]*(?:[ \t]#.*)?", rest)
    if value is None or not value.group("v"):
        return None
    start = match.start("rest") + value.start("v")
    return start, start + len(value.group("v")), value.group("q")


def plan_alias(note: Note, old_stem: str, id_property: str = "id") -> Edit | None:
    """The insertion that appends `old_stem` to the note's `aliases` (None if it is already there)."""
    if note.frontmatter is None:
        raise VaultError(
            f"{note.path} has no frontmatter to hold aliases; add one by hand or drop --keep-alias"
        )
    if not note.frontmatter_editable:
        raise VaultError(
            f"{note.path}: its frontmatter does not parse ({note.yaml_error}); fix it or drop --keep-alias"
        )
    aliases = (note.properties or {}).get(ALIASES, None)
    has_key = ALIASES in (note.properties or {})
    if not has_key:
        return _new_aliases_line(note, old_stem, id_property)
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise VaultError(
            f"{note.path}: 'aliases' is not a list of names; make it a list or drop --keep-alias"
        )
    if any(fold(alias) == fold(old_stem) for alias in aliases):
        return None
    match = _key_line(note, ALIASES)
    if match is None:
        raise VaultError(f"{note.path}: 'aliases' is written in a shape vaulttools cannot extend safely")
    rest = match.group("rest")
    code = re.sub(r"[ \t]+#.*$", "", rest).rstrip()
    if code.startswith("[") and code.endswith("]"):
        close = match.start("rest") + len(code) - 1
        item = '"' + format_scalar(old_stem, '"', in_flow=True, where=note.path) + '"'
        separator = ", " if aliases else ""
        return Edit(close, close, "", separator + item, "alias")
    if not code:
        return _block_alias(note, match.end(), old_stem)
    raise VaultError(
        f"{note.path}: 'aliases' is written over several lines or in a form vaulttools cannot extend "
        "safely; add the alias by hand or drop --keep-alias"
    )


def _new_aliases_line(note: Note, old_stem: str, id_property: str) -> Edit:
    """`aliases: ["old"]` on its own line, after the id line or at the end of the frontmatter."""
    fm = note.frontmatter
    assert fm is not None
    item = format_scalar(old_stem, '"', in_flow=True, where=note.path)
    line = f'{ALIASES}: ["{item}"]{note.newline}'
    id_line = re.compile(rf"^{re.escape(id_property)}[ \t]*:[^\n]*\n", re.MULTILINE)
    found = id_line.search(note.text, fm.start, fm.end)
    position = found.end() if found else fm.end
    return Edit(position, position, "", line, "alias")


_BLOCK_ITEM_RE = re.compile(r"(?P<indent>[ \t]*)-[ \t]+(?P<value>[^\r\n]*)")


def _block_alias(note: Note, key_line_end: int, old_stem: str) -> Edit:
    """A `- old` line after the last item of a block list, with that item's indentation and quoting."""
    fm = note.frontmatter
    assert fm is not None
    text = note.text
    cursor = text.find("\n", key_line_end, fm.end) + 1
    last_item: re.Match[str] | None = None
    insert_at = -1
    while 0 < cursor < fm.end:
        line_end = text.find("\n", cursor, fm.end)
        line_end = fm.end if line_end < 0 else line_end + 1
        line = text[cursor:line_end].rstrip("\r\n")
        item = _BLOCK_ITEM_RE.fullmatch(line)
        if item:
            last_item, insert_at = item, line_end
        elif line.strip() and not line.lstrip().startswith("#"):
            if line[:1] in " \t":
                raise VaultError(
                    f"{note.path}: an 'aliases' item spans several lines; add the alias by hand or drop "
                    "--keep-alias"
                )
            break
        cursor = line_end
    if last_item is None:
        raise VaultError(f"{note.path}: 'aliases' has no items vaulttools can extend; add it by hand")
    quote = last_item.group("value")[:1] if last_item.group("value")[:1] in "\"'" else ""
    try:
        value = format_scalar(old_stem, quote, in_flow=False, where=note.path)
    except RefusedEdit:
        quote, value = '"', format_scalar(old_stem, '"', in_flow=False, where=note.path)
    line = f"{last_item.group('indent')}- {quote}{value}{quote}{note.newline}"
    if not text[:insert_at].endswith("\n"):
        line = note.newline + line  # the last item was the final line without a line break
    return Edit(insert_at, insert_at, "", line, "alias")


# --- the batch ----------------------------------------------------------------------------------------


def _batch(renames: list[Rename], changes: list[FileChange], report: RenameReport) -> BatchPlan:
    if len(renames) == 1:
        summary = (
            f"{renames[0].old_stem} → {renames[0].new_path if renames[0].moves else renames[0].new_stem}"
        )
    else:
        summary = f"{len(renames)} notes renamed"
    links = sum(report.rewritten.values())
    counts = {
        "notes_renamed": len(renames),
        "files_changed": len(changes),
        "links_rewritten": links,
        "display_texts_updated": report.display_updated,
        "display_texts_left_alone": report.display_left_alone,
        "links_widened": report.widened,
        "links_adjusted": report.adjusted,
        "ids_updated": report.ids_updated,
        "aliases_added": report.aliases_added,
        "links_left_alone": sum(report.left_alone.values()),
    }
    plan_report = {
        "renames": [{"old": r.old_path, "new": r.new_path} for r in renames],
        "rewritten_by_kind": dict(sorted(report.rewritten.items())),
        "left_alone_by_reason": dict(sorted(report.left_alone.items())),
        "left_alone": report.left_alone_places,
        "warnings": report.warnings,
        "notes_read": report.notes_read + len(renames),
        "notes_parsed": report.notes_parsed,
    }
    return BatchPlan(COMMAND, summary, changes, counts, plan_report)


def describe(plan: BatchPlan) -> list[str]:
    """The human report printed after a rename (the same facts as `--json`'s `report`)."""
    report = plan.report
    lines = [f"renamed: {r['old']} → {r['new']}" for r in report.get("renames", [])]
    kinds = ", ".join(f"{n} {kind}" for kind, n in report.get("rewritten_by_kind", {}).items())
    lines.append(
        f"links rewritten: {plan.counts.get('links_rewritten', 0)}" + (f" ({kinds})" if kinds else "")
    )
    extra = [
        (plan.counts.get("display_texts_updated", 0), "display texts followed the rename"),
        (
            plan.counts.get("display_texts_left_alone", 0),
            "display texts left as written (the old name in other letter case)",
        ),
        (plan.counts.get("links_widened", 0), "links widened to a unique path"),
        (plan.counts.get("links_adjusted", 0), "links to other notes adjusted to keep their target"),
        (plan.counts.get("ids_updated", 0), "id properties updated"),
        (plan.counts.get("aliases_added", 0), "aliases added"),
    ]
    lines += [f"{text}: {n}" for n, text in extra if n]
    for place in report.get("left_alone", []):
        where = f"{place['path']}:{place['line']}"
        if "detail" in place:  # a mention in a part that cannot be read, maybe not a link at all
            lines.append(
                f"left alone ({place['reason']}: {place['detail']}): {where}  mentions {place['target']!r}"
            )
        else:
            lines.append(f"left alone ({place['reason']}): {where}  [[{place['target']}]]")
    lines += [f"warning: {warning}" for warning in report.get("warnings", [])]
    lines.append(f"notes read: {report.get('notes_read', 0)}, parsed: {report.get('notes_parsed', 0)}")
    return lines
