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
import os
import posixpath
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote as percent_quote
from urllib.parse import unquote_to_bytes

import yaml

from vaulttools.canvas import Canvas, CanvasError, edited_canvas, is_canvas
from vaulttools.changes import BatchPlan, FileChange, PlanReport, Spool
from vaulttools.edits import Edit
from vaulttools.errors import VaultError
from vaulttools.files import clock_mark, read_with_status
from vaulttools.git import ObjectStore
from vaulttools.linkedit import in_yaml_style, retarget
from vaulttools.links import PROPERTY, Link
from vaulttools.note import Note, dataview_queries
from vaulttools.parallel import forks_for, map_notes
from vaulttools.planning import note_change
from vaulttools.resolve import AMBIGUOUS, RESOLVED, LinkIndex, fold, stem_of, strip_md
from vaulttools.vault import Vault
from vaulttools.yamledit import RefusedEdit, format_scalar

COMMAND = "rename"
FORBIDDEN_CHARACTERS = '*"\\/<>:|?#^[]'
ALIASES = "aliases"
UNPARSABLE_FRONTMATTER = "unparsable-frontmatter"
UNREADABLE_NOTE = "unreadable-note"


@dataclass(frozen=True)
class Rename:
    """One file's rename: vault paths before and after (a note's both end in `.md`)."""

    old_path: str
    new_path: str
    folder: tuple[str, str] | None = None  # (old, new) of the folder rename this move is part of

    @property
    def old_stem(self) -> str:
        return stem_of(self.old_path)

    @property
    def new_stem(self) -> str:
        return stem_of(self.new_path)

    @property
    def moves(self) -> bool:
        return posixpath.dirname(self.old_path) != posixpath.dirname(self.new_path)


@dataclass(frozen=True)
class LeftAlone:
    """A reference to a renamed file that the rename did not rewrite, where it is, and why."""

    path: str
    line: int
    column: int
    reason: str  # the kind of part it is in (`code`, `ambiguous`, `unparsable-frontmatter`, …)
    target: str  # the link's target, or the spelling of a mention in a part that cannot be read
    detail: str | None = None  # for a mention: why that part cannot be read (maybe not a link at all)

    def to_json(self) -> dict[str, Any]:
        # `detail` only for a mention: --json has always told the two apart by its presence.
        data = {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
            "target": self.target,
        }
        return data if self.detail is None else {**data, "detail": self.detail}


@dataclass
class RenameReport:
    """What the planner saw and did; becomes `plan.report` and `plan.counts`."""

    rewritten: Counter[str] = field(default_factory=Counter)  # by link kind
    left_alone: Counter[str] = field(default_factory=Counter)  # by reason
    left_alone_places: list[LeftAlone] = field(default_factory=list)
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


@dataclass(frozen=True)
class RenamedFile:
    old: str
    new: str


@dataclass(frozen=True)
class RenamedFolder:
    old: str
    new: str
    files: int  # files moved with it


@dataclass(frozen=True)
class RenamePlanReport(PlanReport):
    """`plan.report` of a rename: what moved, which links were rewritten or left alone, and why."""

    renames: list[RenamedFile]  # every file, folder contents included
    folders: list[RenamedFolder]
    rewritten_by_kind: dict[str, int]
    left_alone_by_reason: dict[str, int]
    left_alone: list[LeftAlone]
    warnings: list[str]
    notes_read: int
    notes_parsed: int


# --- input: the map file and the names -------------------------------------------------------------


class RenameMap(list[tuple[str, str]]):
    """The (OLD, NEW) pairs of a map file, with the line each came from: problems name `FILE:LINE`."""

    def __init__(
        self, source: str, entries: Iterable[tuple[int, str, str]] = (), problems: Iterable[str] = ()
    ) -> None:
        entries = list(entries)
        super().__init__((old, new) for _, old, new in entries)
        self.source = source
        self.line_numbers = [line for line, _, _ in entries]
        self.problems = list(problems)  # the file's own problems, listed with the names' (resolve_renames)


def parse_rename_map(text: str, filename: str, *, defer_problems: bool = False) -> RenameMap:
    """Pairs from a CSV (`old,new`, header optional) or YAML (`old: new`) map; every problem of the file is
    listed (`FILE:LINE: …`) in one refusal, here or (`defer_problems`) with the names' problems when the
    map is resolved against the vault."""
    problems: list[str] = []
    if filename.lower().endswith((".yaml", ".yml")):
        entries = _yaml_pairs(text, filename, problems)
    else:
        entries = _csv_pairs(text, filename, problems)
    if problems and not (defer_problems and entries):
        raise map_problems(filename, problems)
    if not entries:
        raise VaultError(f"{filename}: the map holds no renames; add `old,new` lines")
    return RenameMap(filename, entries, problems)


def read_rename_map(path: str, data: bytes) -> RenameMap:
    """A rename map from a file's bytes; problems with its names are listed when it is resolved."""
    return parse_rename_map(decode_map(path, data), path, defer_problems=True)


def decode_map(path: str, data: bytes) -> str:
    """A map file's bytes as text: UTF-8 (a BOM allowed); anything else is refused in plain words."""
    if b"\0" in data:
        raise VaultError(
            f"{path} is a binary file, not a rename map; give a CSV (old,new) or YAML (old: new) file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise VaultError(f"{path}:{line}: not UTF-8 text; save the map as UTF-8") from exc
    return text


def map_problems(source: str, problems: list[str]) -> VaultError:
    """One refusal for every problem of a map: the lines go to stderr (and --json), then the summary."""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return VaultError(
        f"{count} in the map {source}; fix them and run again (nothing was written)", lines=problems
    )


def _csv_pairs(text: str, filename: str, problems: list[str]) -> list[tuple[int, str, str]]:
    entries: list[tuple[int, str, str]] = []
    seen_rows = False  # the header may come after comment lines, but only before the first rename
    for number, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not seen_rows and [c.lower() for c in cells] == ["old", "new"]:
            seen_rows = True
            continue  # the optional header
        seen_rows = True
        if len(cells) != 2 or not all(cells):
            problems.append(f"{filename}:{number}: expected two cells `old,new`, got {','.join(row)!r}")
            continue
        entries.append((number, cells[0], cells[1]))
    return entries


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (a map naming one OLD twice is ambiguous)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise VaultError(
                f"line {line}: the map names {key!r} again (first on line {seen[key]}); keep one"
            )
        seen[key] = line
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_pairs(text: str, filename: str, problems: list[str]) -> list[tuple[int, str, str]]:
    try:
        node = yaml.compose(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problems.append(f"{filename}{where}: not valid YAML ({' '.join(str(exc).split())})")
        return []
    except VaultError as exc:  # a duplicate key, with its line
        line, _, message = exc.message.partition(": ")
        problems.append(f"{filename}:{line.removeprefix('line ')}: {message}")
        return []
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        problems.append(f"{filename}:1: expected a mapping `old: new`, got a YAML {type(data).__name__}")
        return []
    entries = []
    for (key_node, _), (old, new) in zip(node.value, data.items(), strict=True):
        line = key_node.start_mark.line + 1
        if not isinstance(old, str) or not isinstance(new, str):
            problems.append(f"{filename}:{line}: {old!r}: {new!r} is not a pair of names; quote both names")
            continue
        entries.append((line, old.strip(), new.strip()))
    return entries


def find_old_note(index: LinkIndex, old: str) -> str:
    """The vault path of the note or file OLD names: a file stem (any case), a file name with its
    extension (an attachment, a canvas), or a vault path."""
    given = old.strip()
    if not given:
        raise VaultError("OLD is empty; name the note to rename")
    if "/" in given:
        path = given.lstrip("/")
        resolution = index.resolve("/" + path, "")
        if resolution.status != RESOLVED or resolution.path is None:
            raise VaultError(f"no note or file at {given!r}; check the path (see `vaulttools check`)")
        return resolution.path
    paths = sorted(index.notes_named(strip_md(given)))
    if not paths and strip_md(given) != given:
        paths = sorted(index.notes_named(given))  # `Report.md` names the note `Report.md.md`
    if not paths:
        # An attachment is named with its extension (`diagram.png`), in any letter case.
        paths = sorted(p for p in index.matches(given) if fold(posixpath.basename(p)) == fold(given))
    if not paths:
        similar = index.similar_note_names(strip_md(given))
        hint = f"did you mean {' or '.join(repr(name) for name in similar)}?" if similar else "check the name"
        raise VaultError(f"no note named {given!r} in the vault; {hint}")
    if len(paths) > 1:
        raise VaultError(
            f"{given!r} is ambiguous: {', '.join(paths)}; give the path of the one to rename instead"
        )
    return paths[0]


def is_note_path(path: str) -> bool:
    return path.lower().endswith(".md")


def find_old_folder(vault: Vault, old: str) -> str | None:
    """The vault path of the folder OLD names (a vault path, `/` at the end optional), or None.

    A folder and a note with the same path (`projects/` and `projects.md`) are told apart by the slash.
    """
    given = old.strip()
    folder = given.strip("/")
    if not folder or any(part in ("", ".", "..") or part.startswith(".") for part in folder.split("/")):
        return None
    if not (vault.root / folder).is_dir() or (vault.root / folder).is_symlink():
        return None
    if not given.endswith("/") and vault.index.exists(folder + ".md"):
        raise VaultError(
            f"{given!r} is both a folder and a note; write {folder + '/'!r} for the folder or "
            f"{folder + '.md'!r} for the note"
        )
    return folder


def new_folder_path(old_folder: str, new: str) -> str:
    """Where NEW puts the folder: a name keeps its parent folder, a path (with `/`; `name/` or `/name` for
    a folder at the vault's top) moves it."""
    as_path = "/" in new
    given, _ = from_vault_root(new.rstrip("/") if new.strip("/") else new)
    _check_path_text(given)
    parts = given.split("/")
    for part in parts:
        _check_name(part, given)
    if as_path:
        return given
    parent = posixpath.dirname(old_folder)
    return f"{parent}/{given}" if parent else given


def new_attachment_path(old_path: str, new: str) -> str:
    """Where NEW puts an attachment: as for notes, but its extension is its own (kept when NEW has none)."""
    new, rooted = from_vault_root(new)
    _check_path_text(new)
    parts = new.split("/")
    name = parts[-1]
    _check_name(name, new)
    for folder in parts[:-1]:
        _check_name(folder, new)
    if is_note_path(name):
        raise VaultError(f"NEW {new!r} would turn {old_path} into a note; keep a non-markdown extension")
    old_extension = posixpath.splitext(old_path)[1]
    if not posixpath.splitext(name)[1] and old_extension:
        name += old_extension
    folder = "/".join(parts[:-1]) if rooted or len(parts) > 1 else posixpath.dirname(old_path)
    return f"{folder}/{name}" if folder else name


def from_vault_root(new: str) -> tuple[str, bool]:
    """NEW without the one leading `/` that makes it a path from the vault's top (as in `[[/x]]`), and
    whether it had one: `/x` moves a note of any folder to the vault's top, where a bare `x` keeps its
    folder."""
    if new.startswith("/") and not new.startswith("//"):
        return new[1:], True
    return new, False


def _refuse_filesystem_path(vault: Vault, new: str) -> None:
    """A NEW spelled as the vault's own absolute path on disk would make folders named after it."""
    root = vault.root.resolve().as_posix().rstrip("/") + "/"
    if new.startswith(root):
        raise VaultError(f"NEW {new!r} is a path on disk; give it from the vault's top: {new[len(root) :]!r}")


def _check_path_text(given: str) -> None:
    """What NEW must be for any rename: trimmed, relative, inside the vault."""
    if given != given.strip():
        raise VaultError(f"NEW {given!r} starts or ends with spaces; remove them")
    if given.startswith("/"):
        raise VaultError(
            f"NEW {given!r} is absolute: give a name, or a path from the vault's top (`/name` for the top)"
        )
    if any(part in ("..", ".") for part in given.split("/")):
        raise VaultError(f"NEW {given!r} leads outside the vault folder; give a path inside the vault")


def new_note_path(old_path: str, new: str) -> str:
    """Where NEW puts the note: a name keeps its folder, a path (with `/`; `/name` for the vault's top)
    moves it. Refuses bad names."""
    given, rooted = from_vault_root(new)
    _check_path_text(given)
    parts = given.split("/")
    name = strip_md(parts[-1])
    _check_name(name, given)
    for folder in parts[:-1]:
        _check_name(folder, given)
    folder = "/".join(parts[:-1]) if rooted or len(parts) > 1 else posixpath.dirname(old_path)
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
    renames to do, so a map can be run again after some of its names were applied by hand. A folder's
    pair becomes one rename per file below it.
    """
    if not pairs:
        raise VaultError("nothing to rename: give OLD and NEW, or --map FILE")
    renames: list[Rename] = []
    unchanged: list[str] = []
    left_behind: list[str] = []
    by_old: dict[str, str] = {}
    # A map's problems are all collected, each with its `FILE:LINE`, before one refusal.
    source = pairs.source if isinstance(pairs, RenameMap) else None
    lines = pairs.line_numbers if isinstance(pairs, RenameMap) else [0] * len(pairs)
    problems: list[tuple[int, str]] = [(0, problem) for problem in getattr(pairs, "problems", ())]
    rename_lines: list[int] = []
    for (old, new), line in zip(pairs, lines, strict=True):
        try:
            moves = _moves_of_pair(vault, old, new, left_behind)
            if all(move.new_path == move.old_path for move in moves):
                unchanged.append(f"{old!r} is already called {new!r}; left out")
                continue
            _claim_old_paths(moves, old, by_old)
        except VaultError as exc:
            if source is None:
                raise
            problems.append((line, f"{source}:{line}: {exc.message}"))
            continue
        renames += moves
        rename_lines += [line] * len(moves)
    if source is not None:
        _refuse_map_problems(vault, source, renames, rename_lines, problems)
    if not renames:
        raise VaultError(f"{unchanged[0].removesuffix('; left out')}; nothing to rename")
    if skipped is not None:
        skipped += unchanged + left_behind
    for refusal, _ in _taken_names(vault, renames):
        raise refusal
    return renames


def _moves_of_pair(vault: Vault, old: str, new: str, left_behind: list[str]) -> list[Rename]:
    """The renames one (OLD, NEW) pair asks for: one per file of a folder, else the one note or attachment.

    Files a folder move cannot take along are said in `left_behind`."""
    _refuse_filesystem_path(vault, new)
    folder = find_old_folder(vault, old)
    if folder is None:
        old_path = find_old_note(vault.index, old)
        new_path = (
            new_note_path(old_path, new) if is_note_path(old_path) else new_attachment_path(old_path, new)
        )
        return [Rename(old_path, new_path)]
    moves = folder_renames(vault, folder, new_folder_path(folder, new))
    left = unmanaged_files(vault, folder)
    if left:
        left_behind.append(
            f"{folder}/ holds {len(left)} file(s) outside the vault's notes and attachments (hidden, "
            f"ignored or symlinks, e.g. {left[0]}): left where they are, so the folder stays"
        )
    return moves


def _claim_old_paths(moves: list[Rename], old: str, by_old: dict[str, str]) -> None:
    """Record which map entry moves each file; a file two entries move is refused."""
    for move in moves:
        if move.old_path in by_old:
            raise VaultError(
                f"{move.old_path} is renamed twice in the map ({by_old[move.old_path]!r} and {old!r})"
            )
        by_old[move.old_path] = old


def _refuse_map_problems(
    vault: Vault, source: str, renames: list[Rename], rename_lines: list[int], problems: list[tuple[int, str]]
) -> None:
    """One refusal listing every problem of a map file (taken names included), in line order, if any."""
    line_of = {rename.old_path: line for rename, line in zip(renames, rename_lines, strict=True)}
    for refusal, old_path in _taken_names(vault, renames):
        problems.append((line_of[old_path], f"{source}:{line_of[old_path]}: {refusal.message}"))
    if problems:
        raise map_problems(source, [problem for _, problem in sorted(problems, key=_problem_line)])


def unmanaged_files(vault: Vault, folder: str) -> list[str]:
    """Files and symlinks below `folder` that the vault scan leaves out (hidden, ignored): a folder rename
    moves only what vaulttools manages and says what it left."""
    managed = set(vault.scan.notes) | set(vault.scan.files)
    left = []
    for current, folders, files in os.walk(vault.root / folder):  # never follows symlinked folders
        relative = Path(current).relative_to(vault.root).as_posix()
        links = [name for name in folders if (Path(current) / name).is_symlink()]
        left += [
            f"{relative}/{name}" for name in sorted(files + links) if f"{relative}/{name}" not in managed
        ]
    return left


def folder_renames(vault: Vault, old_folder: str, new_folder: str) -> list[Rename]:
    """One rename per note and attachment below `old_folder` (at any depth), to the same place below
    `new_folder`. Refuses a destination that exists or lies inside the folder itself."""
    if new_folder == old_folder:
        return [Rename(old_folder, old_folder)]  # nothing to do: the caller leaves it out
    if fold(new_folder).startswith(fold(old_folder) + "/"):
        raise VaultError(f"cannot move {old_folder}/ into itself ({new_folder}/); choose a place outside it")
    case_only = fold(new_folder) == fold(old_folder)
    if not case_only and (vault.root / new_folder).exists():
        raise VaultError(f"{new_folder} already exists; choose another folder name (or move its files first)")
    prefix = old_folder + "/"
    paths = [p for p in (*vault.scan.notes, *vault.scan.files) if p.startswith(prefix)]
    if not paths:
        raise VaultError(f"{old_folder}/ holds no notes or attachments; nothing to rename")
    pair = (old_folder, new_folder)
    return [Rename(p, new_folder + p[len(old_folder) :], pair) for p in sorted(paths)]


def _problem_line(problem: tuple[int, str]) -> int:
    """A problem's line: given, or (the file's own problems) read back from its `FILE:LINE:` prefix."""
    line, text = problem
    if line:
        return line
    number = text.split(": ", 1)[0].rpartition(":")[2]
    return int(number) if number.isdigit() else 0


def _taken_names(vault: Vault, renames: list[Rename]) -> Iterator[tuple[VaultError, str]]:
    """NEW must be free (letter case ignored) once every OLD of the map has moved away: each refusal, with
    the old path of the rename it stops."""
    vacated = {fold(r.old_path) for r in renames}
    remaining = {fold(path) for path in vault.index.paths} - vacated
    claimed: dict[str, str] = {}
    for rename in renames:
        key = fold(rename.new_path)
        if key in remaining or (key not in vacated and (vault.root / rename.new_path).exists()):
            message = f"{rename.new_path} already exists (letter case ignored); choose another name"
            yield VaultError(message), rename.old_path
        elif key in claimed:
            message = (
                f"{claimed[key]} and {rename.old_path} would both become {rename.new_path}; "
                "give them different names"
            )
            yield VaultError(message), rename.old_path
        else:
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


# Up to this many spellings, the prefilter looks for each with `in` (a memchr-speed scan, ~3x faster than the
# regex engine's literal search on a 30 KB note); more (a 500-name map, `merge --all`'s families) are
# looked for in one pass of an Aho-Corasick automaton, or of the trie regex where the package is missing.
FEW_SPELLINGS = 8


def _spellings(stems: Iterable[str]) -> list[bytes]:
    return sorted({spelling for stem in stems for spelling in name_spellings(stem)})


def searches_in_one_pass(stems: Iterable[str]) -> bool:
    """Whether `mention_test(stems)` searches in one pass of an automaton (or of the trie regex), at ~4 µs
    a KB of lowered note, rather than by a few `in` tests at memchr speed."""
    return len(_spellings(stems)) > FEW_SPELLINGS


def mention_test(stems: Iterable[str]) -> Callable[[bytes], object]:
    """A test of lowered bytes, truthy exactly when `spelling_pattern(stems).search` finds a match."""
    stems = list(stems)
    spellings = _spellings(stems)
    if len(spellings) > FEW_SPELLINGS:
        return _automaton_test(spellings) or spelling_pattern(stems).search
    if len(spellings) == 1:  # one ASCII name, the usual rename: no generator per note
        only = spellings[0]
        return lambda folded: only in folded
    return lambda folded: any(spelling in folded for spelling in spellings)


def spelling_test(stems: Iterable[str]) -> Callable[[bytes], bool]:
    """Whether a note's bytes spell one of these names, in any letter case, `%`-escaped or not (a note that
    links a note spells its name): `mention_test` on the lowered bytes, and on them decoded where they
    hold a `%` (a hand-written escape, `concept%2Dx.md`, spells no name as it stands)."""
    mentions = mention_test(stems)

    def spells(raw: bytes) -> bool:
        folded = raw.lower()
        return bool(mentions(folded) or (b"%" in folded and mentions(unquote_to_bytes(folded))))

    return spells


def _automaton_test(spellings: list[bytes]) -> Callable[[bytes], object] | None:
    """Whether lowered bytes hold any of `spellings`, by one Aho-Corasick automaton (`pyahocorasick`):
    one pass over a note whatever the number of names, stopping at the first match as the regex does; on
    30 KB notes and 380 names, ~1.5x the trie regex's speed. The automaton matches text: each byte is read
    as the Latin-1 character of the same number, for the spellings and the note alike, so a match is a
    match of bytes. None where the package is not installed, or for an empty spelling (every note spells
    it), which it refuses."""
    if not all(spellings):
        return None
    try:
        import ahocorasick
    except ImportError:  # the trie regex gives the same answers
        return None
    automaton = ahocorasick.Automaton()
    for spelling in spellings:
        automaton.add_word(spelling.decode("latin-1"), None)
    automaton.make_automaton()
    matches = automaton.iter

    def mentions(folded: bytes) -> bool:
        return next(matches(folded.decode("latin-1")), None) is not None

    return mentions


class SpellingSearch:
    """`spelling_pattern(stems).search`, the regex compiled on first use: only a note vaulttools cannot read,
    or whose frontmatter does not parse, asks where it spells an old name (`_leave_unread_mention`), and the
    regex of a map of 20,000 names takes ~1.8 s to compile (the prefilter needs none: `mention_test`)."""

    def __init__(self, stems: Iterable[str]) -> None:
        self._stems = list(stems)
        self._pattern: re.Pattern[bytes] | None = None

    def search(self, data: bytes) -> re.Match[bytes] | None:
        if self._pattern is None:
            self._pattern = spelling_pattern(self._stems)
        return self._pattern.search(data)


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
    extension = ".md" if _writes_md_extension(target, old_dest) and new_dest.lower().endswith(".md") else ""
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


def _writes_md_extension(target: str, old_dest: str) -> bool:
    """Whether the author wrote the note's `.md`: `[[Report.md]]` naming the note `Report.md.md` wrote its name
    only (the `.md` is part of the name, so the renamed link gets none), `[[Report.md.md]]` wrote both."""
    if not target.lower().endswith(".md"):
        return False
    written_name = fold(posixpath.basename(target))
    return written_name != fold(posixpath.basename(strip_md(old_dest)))


def widened_target(candidate: str, new_dest: str, new_source: str, after: LinkIndex) -> tuple[str, bool]:
    """`candidate` if it reaches `new_dest` after the rename, else the shortest path suffix that does."""
    if _reaches(after, candidate, new_source, new_dest):
        return candidate, False
    is_note = new_dest.lower().endswith(".md")
    # The author's `.md` is kept; a note whose own name ends in an extension (`Report.md.md`, `flow.png.md`)
    # is reached past a file of that exact name only with its `.md` written.
    extensions = (
        [".md"] if is_note and candidate.lower().endswith(".md") else ["", ".md"] if is_note else [""]
    )
    parts = (strip_md(new_dest) if is_note else new_dest).split("/")
    start = max(1, len(strip_md(candidate).lstrip("/").split("/")))
    for size in range(start, len(parts) + 1):
        for extension in extensions:
            wider = "/".join(parts[-size:]) + extension
            if _reaches(after, wider, new_source, new_dest):
                return wider, True
    return "/" + new_dest, True


def _reaches(index: LinkIndex, target: str, source: str, dest: str) -> bool:
    resolution = index.resolve(target, source)
    return resolution.status == RESOLVED and resolution.path == dest


# --- planning ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenameOptions:
    """How a rename treats the renamed notes: `keep_alias` adds each old name to its note's `aliases`."""

    keep_alias: bool = False


def plan_renames(
    vault: Vault, renames: list[tuple[str, str]], options: RenameOptions | None = None
) -> BatchPlan[RenamePlanReport]:
    """The batch that renames every OLD to NEW and rewrites every reference; writes nothing.

    Reading every note for the byte prefilter and planning the notes it lets through run on every core
    for big vaults: each worker plans a slice of the notes with its own report, merged in note order.
    """
    options = options or RenameOptions()
    unchanged: list[str] = []
    resolved = resolve_renames(vault, renames, unchanged)
    moved = {r.old_path: r.new_path for r in resolved}
    by_old_path = {r.old_path: r for r in resolved}
    after = renamed_index(vault.index, resolved)
    stems = candidate_stems(resolved, after)
    pattern = SpellingSearch(stems)
    mentioned = mention_test(stems)
    folders = tuple(sorted({r.folder[0] for r in resolved if r.folder is not None}))
    context = RenameContext(vault.index, after, moved, vault.config.id_property, options.keep_alias, folders)
    mark = clock_mark(vault.root)  # before any note is read (see `PlannedStatus.stamp`)
    objects = ObjectStore.of(vault.root)
    spool = Spool(vault.root)
    if forks_for(len(vault.note_paths)):
        spool.share()  # the workers spool the new bytes of long notes (see `plan_chunk`)

    def plan_chunk(paths: list[str]) -> list[tuple[list[FileChange], RenameReport]]:
        report = RenameReport()
        changes: list[FileChange] = []
        for path, raw, status in candidate_notes(vault, paths, by_old_path, mentioned, report):
            note = Note(path, raw, vault.config.link_property_set)
            report.notes_parsed += 1
            change = plan_note(note, context, report, rename=by_old_path.get(path), mentions=pattern)
            if change is not None:
                # Fingerprinted here, on every core; a rewritten note's old bytes stay in its file where
                # long or in git (a rename of 2,000 long notes sent 800 MB of old and new bytes through the
                # workers' pipes, and hashed them all in the batch).
                changes.append(change.old_left_on_disk(vault.root, status, mark, objects))
        # A long note's new bytes go through the spool (that rename: 21,000 changed notes, 0.8 GB).
        return [(spool.take_from_worker(changes), report)]

    report = RenameReport(warnings=unchanged)
    changes: list[FileChange] = []
    for chunk_changes, chunk_report in map_notes(plan_chunk, vault.note_paths, on_progress=vault.on_progress):
        changes += map(spool.keep, chunk_changes)  # the rest within the spool's memory budget
        report.absorb(chunk_report)
    changes += plan_canvases(vault, moved, after, report)
    changes += attachment_moves(vault, resolved)
    return _batch(resolved, changes, report)


def plan_canvases(
    vault: Vault, moved: dict[str, str], after: LinkIndex, report: RenameReport
) -> list[FileChange]:
    """Every canvas's references to a renamed file (and, for a moved canvas, its relative links).

    Every canvas is read: a vault has few, and a file node spells the path JSON-escaped (`\\/`,
    `\\u00e9`), which the notes' byte prefilter would miss.
    """
    changes = []
    for path in vault.scan.files:
        if is_canvas(path):
            change = plan_canvas(vault, path, moved, after, report)
            if change is not None:
                changes.append(change)
    return changes


def plan_canvas(
    vault: Vault, path: str, moved: dict[str, str], after: LinkIndex, report: RenameReport
) -> FileChange | None:
    raw = vault.read_bytes(path)
    new_path = moved.get(path)
    try:
        canvas = Canvas(path, raw)
    except CanvasError as exc:
        report.warnings.append(
            f"{path}: not a canvas vaulttools can read ({exc}); its references were not updated"
        )
        return FileChange(path, raw, raw, new_path) if new_path else None
    new_source = new_path or path
    edits: list[Edit] = []
    for ref in canvas.references():
        if ref.link is None or ref.text_note is None:
            resolution = vault.index.resolve("/" + ref.target, "")
            if resolution.status == RESOLVED and resolution.path in moved:
                edits.append(canvas.target_edit(ref, moved[resolution.path]))
                report.rewritten[f"canvas-{ref.kind}"] += 1
            continue
        planned = link_edits(
            vault.index, ref.text_note, ref.link, moved, new_source, after, report, label="canvas-text"
        )
        edits += [canvas.text_edit(ref, edit) for edit in planned]
    new_text = edited_canvas(canvas, edits)
    if new_text == canvas.text and new_path is None:
        return None
    return FileChange(path, raw, canvas.encode(new_text), new_path)


def attachment_moves(vault: Vault, renames: list[Rename]) -> list[FileChange]:
    """The renamed files that are neither notes nor canvases: moved with their bytes as they are."""
    return [
        FileChange(r.old_path, raw, raw, r.new_path)
        for r in renames
        if not is_note_path(r.old_path) and not is_canvas(r.old_path)
        for raw in (vault.read_bytes(r.old_path),)
    ]


def candidate_stems(renames: list[Rename], after: LinkIndex) -> list[str]:
    """Every name whose spellings mark the notes that may hold a reference to rewrite.

    When a new name is shared with another file, links to that file may change meaning: the notes that
    spell the new name are read too, so their links can be kept on their file.
    """
    stems = [r.old_stem for r in renames]
    stems += [r.new_stem for r in renames if _new_name_is_shared(r, after)]
    # A renamed folder's name: a Dataview query (`FROM "labs"`) may name it and nothing inside it.
    stems += sorted({posixpath.basename(r.folder[0]) for r in renames if r.folder is not None})
    return stems


def _new_name_is_shared(rename: Rename, after: LinkIndex) -> bool:
    """Another file answers to a spelling of the renamed file's new name: a note of the same name in
    another folder, or `Report.md.md` (which `[[Report.md]]` reached) for a new `Report.md`, or the note
    `flow.png.md` for an attachment renamed to `flow.png`."""
    name = rename.new_path.rpartition("/")[2]
    answering = set(after.files_named(name)) | set(after.files_named(strip_md(name)))
    return bool(answering - {rename.new_path})


def candidate_notes(
    vault: Vault,
    paths: Iterable[str],
    renamed: Mapping[str, Rename],
    mentions: Callable[[bytes], object],
    report: RenameReport,
) -> Iterator[tuple[str, bytes, os.stat_result]]:
    """(path, bytes, status when read) of the notes of `paths` that may hold a reference: the renamed
    notes, and those whose lowered bytes spell an old name (`mentions`: `mention_test`, or a
    `spelling_pattern`'s search). The status goes with a change the batch writes (`old_left_on_disk`)."""
    root = str(vault.root)
    for path in paths:
        try:
            status, raw = read_with_status(f"{root}/{path}")
        except OSError as exc:
            raise VaultError(
                f"{path}: cannot read ({exc.strerror}); check that the file is readable"
            ) from exc
        if path in renamed:
            yield path, raw, status
            continue
        report.notes_read += 1
        folded = raw.lower()
        # A hand-written escape (`concept%2Dx.md`) spells no name as it stands: decode, then look again.
        if mentions(folded) or (b"%" in folded and mentions(unquote_to_bytes(folded))):
            yield path, raw, status


@dataclass(frozen=True)
class RenameContext:
    """What planning one note of a rename needs, all in memory: how links resolve before and after the
    renames, and the renames themselves. Built from a vault by `plan_renames`, or by hand in a test."""

    before: LinkIndex  # every file of the vault, before the renames
    after: LinkIndex  # the same files once renamed (`renamed_index`)
    moved: dict[str, str]  # old path → new path of every renamed file
    id_property: str = "id"
    keep_alias: bool = False
    folders: tuple[str, ...] = ()  # the old paths of the folders renamed (a query may name them)

    @cached_property
    def _old_note_paths(self) -> frozenset[str]:
        return frozenset(fold(strip_md(path)) for path in self.moved)

    def names_a_renamed_path(self, written: str) -> bool:
        """Whether a Dataview source (`FROM "labs"`, `"labs/note"`, `"labs/note.md"`) names a renamed note
        or a renamed folder (or a place inside it)."""
        key = strip_md(fold(written.strip().strip("/")))
        if key in self._old_note_paths:
            return True
        return any(key == folder or key.startswith(folder + "/") for folder in map(fold, self.folders))

    @cached_property
    def _renamed_names(self) -> frozenset[str]:
        """Folded file names (with and without `.md`) of every renamed file, before and after."""
        names = (fold(path.rpartition("/")[2]) for pair in self.moved.items() for path in pair)
        return frozenset(form for name in names for form in (name, strip_md(name)))

    def reaches_no_renamed_name(self, target: str) -> bool:
        """True when `target`, written in a note that does not move, resolves alike before and after the
        renames and never to a renamed file: then its link needs no edit (`link_edits` finds none).

        Every file a target can resolve to ends with the target's last part, folded, as its name (with or
        without `.md`: `LinkIndex` keys files by their folded path suffixes): a last part that names no
        renamed file gets the same candidates, and the same answer, from both indexes. Relative targets are
        normalised first (`./a/../b`), so they are never let through here."""
        key = fold(target.strip())
        if not key or key.startswith(("./", "../")):
            return False
        return key.rpartition("/")[2] not in self._renamed_names


def plan_note(
    note: Note,
    context: RenameContext,
    report: RenameReport,
    *,
    rename: Rename | None,
    mentions: SpellingSearch | None = None,
) -> FileChange | None:
    """Every edit one note needs (links, and for a renamed note its id and aliases), verified.

    `mentions` (the spellings of the old names) lets a note that spells one in a part that cannot be read
    (not UTF-8, or a frontmatter that does not parse) be listed as left alone: a rename never skips silently.
    """
    if not note.editable:
        if rename is not None:
            report.warnings.append(f"{note.path}: {note.decode_error}; moved without reading its links")
            return FileChange(note.path, note.raw, note.raw, rename.new_path)
        if mentions is not None:
            _leave_unread_mention(note, note.raw, UNREADABLE_NOTE, note.decode_error or "", mentions, report)
        return None
    edits, appended = rename_note_edits(note, context, report, rename=rename, mentions=mentions)
    return note_change(note, edits, rename.new_path if rename else None, appended=appended or None)


def rename_note_edits(
    note: Note,
    context: RenameContext,
    report: RenameReport,
    *,
    rename: Rename | None = None,
    mentions: SpellingSearch | None = None,
) -> tuple[list[Edit], dict[str, str]]:
    """The pure per-note planner of a rename: the edits of one readable note (`rename`: the note's own
    rename, if it is renamed) and the list properties they append to (see `note_change`'s `appended`)."""
    new_source = context.moved.get(note.path, note.path)
    edits: list[Edit] = []
    places_before = len(report.left_alone_places)
    # A note that stays where it is (most notes a rename reads) skips each link that names no renamed file
    # by one set lookup instead of resolving it in both indexes (a 30 KB note links ~40 other notes).
    stays = note.path not in context.moved
    for link in note.links:
        if stays and context.reaches_no_renamed_name(link.target):
            continue
        edits.extend(link_edits(context.before, note, link, context.moved, new_source, context.after, report))
    _leave_query_sources(note, context, report)
    fm = note.frontmatter
    if mentions is not None and fm is not None and not note.frontmatter_editable:
        listed = any(p.path == note.path for p in report.left_alone_places[places_before:])
        if not listed:
            yaml_bytes = note.text[: fm.end].encode("utf-8")
            detail = note.yaml_error or ""
            _leave_unread_mention(note, yaml_bytes, UNPARSABLE_FRONTMATTER, detail, mentions, report)
    appended: dict[str, str] = {}
    if rename is not None:
        edits.extend(identity_edits(context.id_property, note, rename, report))
        if context.keep_alias and rename.old_stem != rename.new_stem:  # a move keeps the name: no alias
            alias_edit = plan_alias(note, rename.old_stem, context.id_property)
            if alias_edit is not None:
                edits.append(alias_edit)
                appended[ALIASES] = rename.old_stem
                report.aliases_added += 1
    return edits, appended


def link_edits(
    index: LinkIndex,
    note: Note,
    link: Link,
    moved: dict[str, str],
    new_source: str,
    after: LinkIndex,
    report: RenameReport,
    *,
    label: str | None = None,
) -> list[Edit]:
    """The edits for one link: its target (and display text) if it points at a renamed note, or a
    re-pointing that keeps a link to another note on that note. `label`: the kind the report counts
    a rewritten link under (default: the link's own kind)."""
    if not link.target:
        return []  # `[[#Heading]]`: a link inside the note itself, path-less by design
    before = index.resolve(link.target, note.path)
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
        return _repointed(note, link, before.path, new_source, after, report)
    if stem_of(before.path) == stem_of(new_dest) and _reaches(after, link.target, new_source, new_dest):
        # A move that keeps the name, and a link that still reaches the file as written (a bare name that
        # stays unique, a path below a moved folder, a relative path between two moved files): kept.
        return []
    return _renamed_link_edits(note, link, before.path, new_dest, new_source, after, report, label)


def _repointed(
    note: Note, link: Link, dest: str, new_source: str, after: LinkIndex, report: RenameReport
) -> list[Edit]:
    """A link to a note that is not renamed, re-pointed only if it no longer reaches `dest`: the link's own
    note moved (relative paths) or a new name now competes with its target."""
    if _reaches(after, link.target, new_source, dest):
        return []
    candidate = styled_target(link.target, dest, dest, new_source, note.path)
    target, _ = widened_target(candidate, dest, new_source, after)
    report.adjusted += 1
    return [retarget(note, link, target, kind="adjusted")]


def _renamed_link_edits(
    note: Note,
    link: Link,
    old_dest: str,
    new_dest: str,
    new_source: str,
    after: LinkIndex,
    report: RenameReport,
    label: str | None,
) -> list[Edit]:
    """The edits of a link to a renamed note: its target, and its display text where that showed the old name."""
    candidate = styled_target(link.target, old_dest, new_dest, new_source, note.path)
    target, widened = widened_target(candidate, new_dest, new_source, after)
    edits = [retarget(note, link, target)]
    old_stem = stem_of(old_dest)
    display = display_edit(note, link, old_stem, stem_of(new_dest))
    report.widened += widened
    report.rewritten[label or _kind_label(note, link)] += 1
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
    if new_text == stripped:
        return None  # a move that keeps the name: the display text stays as it is
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


_QUOTED_RE = re.compile(r"\"([^\"\n]+)\"")
QUERY_DETAIL = "a Dataview query names the old path; its text is not rewritten"


def _leave_query_sources(note: Note, context: RenameContext, report: RenameReport) -> None:
    """List each Dataview query source (`FROM "labs"`) that names a renamed note or folder: the query
    language is not rewritten, so the user is told where to change it."""
    for region in dataview_queries(note):
        for match in _QUOTED_RE.finditer(note.text, region.start, region.end):
            if context.names_a_renamed_path(match.group(1)):
                line, column = note.line_col(match.start())
                report.left_alone["dataview"] += 1
                place = LeftAlone(note.path, line, column, "dataview", match.group(0), QUERY_DETAIL)
                report.left_alone_places.append(place)


def _leave_unread_mention(
    note: Note,
    raw: bytes,
    reason: str,
    detail: str,
    mentions: SpellingSearch,
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
    report.left_alone_places.append(LeftAlone(note.path, line, column, reason, spelled, detail))


def _leave_alone(note: Note, link: Link, reason: str, report: RenameReport) -> None:
    report.left_alone[reason] += 1
    line, column = note.line_col(link.start)
    report.left_alone_places.append(LeftAlone(note.path, line, column, reason, link.target))


# --- the renamed note's own frontmatter -------------------------------------------------------------


def identity_edits(key: str, note: Note, rename: Rename, report: RenameReport) -> list[Edit]:
    """The `id` property (`key`) follows the rename when it equals the old name; only its characters change."""
    if note.frontmatter is None or rename.old_stem == rename.new_stem:
        return []  # no frontmatter, or a move that keeps the name (and so the id)
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


def _batch(
    renames: list[Rename], changes: list[FileChange], report: RenameReport
) -> BatchPlan[RenamePlanReport]:
    folders = list(dict.fromkeys(r.folder for r in renames if r.folder is not None))
    if len(folders) == 1 and all(r.folder is not None for r in renames):
        summary = f"{folders[0][0]}/ → {folders[0][1]}/"
    elif len(renames) == 1:
        summary = (
            f"{renames[0].old_stem} → {renames[0].new_path if renames[0].moves else renames[0].new_stem}"
        )
    else:
        summary = (
            f"{len(renames)} {'notes' if all(is_note_path(r.old_path) for r in renames) else 'files'} renamed"
        )
    links = sum(report.rewritten.values())
    counts = {
        "folders_renamed": len(folders),
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
    plan_report = RenamePlanReport(
        renames=[RenamedFile(r.old_path, r.new_path) for r in renames],
        folders=[
            RenamedFolder(old, new, sum(1 for r in renames if r.folder == (old, new))) for old, new in folders
        ],
        rewritten_by_kind=dict(sorted(report.rewritten.items())),
        left_alone_by_reason=dict(sorted(report.left_alone.items())),
        left_alone=report.left_alone_places,
        warnings=report.warnings,
        notes_read=report.notes_read + sum(1 for r in renames if is_note_path(r.old_path)),
        notes_parsed=report.notes_parsed,
    )
    plan = BatchPlan(COMMAND, summary, changes, counts, plan_report)
    # The new names were free when planned; the renamed files must still be there (checked for every
    # batch's moves): another program may take a name or move a note before the batch writes.
    plan.expect_destinations_free()
    return plan
