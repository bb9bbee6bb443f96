"""The vault on disk: where it is, which files are notes, reading them and writing them atomically."""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import gc
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vaulttools import digests
from vaulttools.config import Config, ObsidianSettings, load_config, load_obsidian_settings
from vaulttools.errors import VaultError
from vaulttools.facts import (
    FactsOptions,
    NoteFacts,
    build_id,
    collect_records,
    facts_of_record,
    read_with_stamp,
)
from vaulttools.files import Stamp, clock_mark, read_with_status, stamp_of_status
from vaulttools.note import Note
from vaulttools.record_file import FactRecords
from vaulttools.resolve import LinkIndex
from vaulttools.suffixes import SuffixMatcher

if TYPE_CHECKING:
    from vaulttools.git import IndexWords

VAULT_ENV = "VAULTTOOLS_VAULT"
# Folders that are never part of the vault's content, whatever the configuration says.
ALWAYS_SKIPPED = {".obsidian", ".trash", ".git"}


def find_vault_root(explicit: str | None, cwd: Path | None = None) -> Path:
    """`--vault`, else $VAULTTOOLS_VAULT, else the nearest ancestor holding `.obsidian/`, else the cwd."""
    chosen = explicit or os.environ.get(VAULT_ENV)
    if chosen:
        root = Path(chosen).expanduser()
        if not root.is_dir():
            raise VaultError(f"vault folder {chosen!r} does not exist; pass an existing folder with --vault")
        return root.resolve()
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / ".obsidian").is_dir():
            return folder
    return start


@dataclass
class ScanResult:
    notes: list[str] = field(default_factory=list)  # vault-relative posix paths of *.md files
    files: list[str] = field(default_factory=list)  # every other file (attachments), for resolution
    skipped_symlinks: list[str] = field(default_factory=list)
    # Each listed folder's stamp, taken just before it was listed, and the file system's clock before the
    # first of them (`files.clock_mark`; None: no state folder to take it in). See `listed_as_it_is`.
    folder_stamps: dict[str, Stamp] = field(default_factory=dict)
    mark: tuple[int, int] | None = None

    def listed_as_it_is(self, root: Path | str, folder: str) -> bool:
        """No entry of `folder` was added, removed or renamed since the scan listed it: the folder keeps the
        stamp it had then, and that stamp settled before the scan began. Any change to a folder's entries
        sets its ctime to the clock's time, at least the mark's, past a stamp taken before the mark (the
        test `changes.PlannedStatus` makes of a note). Every path the scan found there is then still there."""
        stamp = self.folder_stamps.get(folder)
        mark = self.mark
        if stamp is None or mark is None or stamp[2] >= mark[1]:
            return False
        try:
            status = folder_status(root, folder)
        except OSError:
            return False
        return status.st_dev == mark[0] and stamp_of_status(status) == stamp

    @functools.cached_property
    def paths(self) -> frozenset[str]:
        """Every note and file the scan found."""
        return frozenset(self.notes).union(self.files)


class Vault:
    """A vault root with its configuration; notes are read lazily and parsed once."""

    def __init__(
        self, root: Path, config: Config | None = None, settings: ObsidianSettings | None = None
    ) -> None:
        self.root = root
        self._root_text = str(root)
        self.config = config if config is not None else load_config(root)
        self.settings = settings if settings is not None else load_obsidian_settings(root)
        self._scan: ScanResult | None = None
        self._notes: dict[str, Note] = {}
        self._index: LinkIndex | None = None
        self._ignore = _ignore_matcher(self.config.exclude, self.settings.user_ignore_filters)
        # Set by the CLI on a terminal: called as on_progress(label, done, total) by long scans and writes.
        self.on_progress: Callable[[str, int, int], None] | None = None

    @classmethod
    def open(cls, explicit: str | None = None) -> Vault:
        return cls(find_vault_root(explicit))

    @property
    def scan(self) -> ScanResult:
        if self._scan is None:
            self._scan = scan_vault(self.root, self._ignore)
        return self._scan

    @property
    def note_paths(self) -> list[str]:
        return self.scan.notes

    @property
    def index(self) -> LinkIndex:
        if self._index is None:
            self._index = LinkIndex([*self.scan.notes, *self.scan.files])
        return self._index

    @functools.cached_property
    def suffix_matcher(self) -> SuffixMatcher:
        """Every note's name by its suffix-less base (`suffix_rules`): `check`'s suggestions and the fixes of
        `normalize-links` and hints of `enrich` all come from it. Built on first use."""
        return SuffixMatcher(self.note_paths, self.config.suffix_rules)

    def read_bytes(self, path: str) -> bytes:
        return self.read_stamped(path)[1]

    def read_stamped(self, path: str) -> tuple[tuple[int, int, int, int], bytes]:
        """A note's stamp (as the caches key it) and bytes, with one open."""
        try:
            return read_with_stamp(f"{self._root_text}/{path}")
        except OSError as exc:
            raise _unreadable(path, exc) from exc

    def read_with_status(self, path: str) -> tuple[os.stat_result, bytes]:
        """A note's status (`fstat` of the open file, taken before reading) and bytes, with one open: a
        planner keeps the status for the batch (`FileChange.old_left_on_disk`)."""
        try:
            return read_with_status(f"{self._root_text}/{path}")
        except OSError as exc:
            raise _unreadable(path, exc) from exc

    def note(self, path: str) -> Note:
        note = self._notes.get(path)
        if note is None:
            note = Note(path, self.read_bytes(path), self.config.link_property_set)
            self._notes[path] = note
        return note

    def notes(self) -> Iterator[Note]:
        for path in self.note_paths:
            yield self.note(path)

    def facts(self, paths: list[str] | None = None, *, use_cache: bool = True) -> list[NoteFacts]:
        """Parsed facts of every note: from the cache where a note is unchanged, else parsed (on all cores)."""
        return list(self.iter_facts(paths, use_cache=use_cache))

    def iter_facts(self, paths: list[str] | None = None, *, use_cache: bool = True) -> Iterator[NoteFacts]:
        """`facts()`, built one note at a time as they are consumed (one copy in memory, not two)."""
        records = self.fact_records(paths, use_cache=use_cache)
        # Each record is let go once its facts are built (on 100,000 notes, the records hold ~400 MB).
        taken = (records.take(path) for path in list(records))
        return (facts_of_record(record) for record in taken if record is not None)

    def fact_records(
        self,
        paths: list[str] | None = None,
        *,
        use_cache: bool = True,
        saving: list[Callable[[], None]] | None = None,
    ) -> FactRecords:
        """The facts of `paths` (every note) as plain cache records by path, in order (`facts_of_record`
        turns one into `NoteFacts`): for callers that hand them to forked workers. `saving`: the cache may
        be written aside; the caller then waits for what it appends (see `facts.collect_records`)."""
        config = self.config
        keep = frozenset(
            {config.id_property, config.day_property, config.related.group_property, "tags", "tag", "aliases"}
        )
        options = FactsOptions(config.link_property_set, config.id_property, keep, config.related.heading)
        # Sorted, never a set's repr: set order changes between processes (string hashing is randomised).
        fingerprint = (
            f"{build_id()}|{sorted(config.link_properties)}|{sorted(keep)}|"
            f"{options.id_property}|{options.related_heading}|{digests.quick_sum_name()}"
        )
        use_cache = use_cache and not os.environ.get("VAULTTOOLS_NO_CACHE")
        return collect_records(
            self.root,
            self.note_paths if paths is None else paths,
            options,
            fingerprint,
            use_cache=use_cache,
            complete=paths is None,
            on_progress=self.on_progress,
            saving=saving,
            index_words=self.index_words,
        )

    def index_words(self) -> IndexWords | None:
        """git's word on the vault's files (`git.read_index_words`): asked only when many notes' stamps
        moved (`facts.GitVouch.ask`)."""
        from vaulttools.git import read_index_words  # ~10 ms of imports a run that never asks need not pay

        return read_index_words(self.root)

    def forget(self, path: str) -> None:
        self._notes.pop(path, None)


def _ignore_matcher(excludes: tuple[str, ...], user_filters: tuple[str, ...]):
    """A predicate on vault-relative paths: `exclude` globs and Obsidian's `userIgnoreFilters`."""
    regexes = []
    prefixes = []
    for item in user_filters:
        if len(item) > 2 and item.startswith("/") and item.endswith("/"):
            try:
                regexes.append(re.compile(item[1:-1]))
            except re.error:
                continue
        else:
            prefixes.append(item)
    globs = [re.compile(fnmatch.translate(g)) for g in excludes]
    globs += [re.compile(fnmatch.translate(g.rstrip("/") + "/*")) for g in excludes]
    if not (prefixes or regexes or globs):
        return None  # nothing to ignore: the scan skips the per-file call

    def ignored(path: str) -> bool:
        if any(path.startswith(p) for p in prefixes):
            return True
        if any(r.search(path) for r in regexes):
            return True
        return any(g.match(path) for g in globs)

    return ignored


def folder_status(root: Path | str, folder: str) -> os.stat_result:
    """A vault folder's status: the root's as the path to it leads (it may be a symlink to the vault), any
    other folder's own (the scan follows no symlink below the root)."""
    return os.stat(root) if not folder else os.lstat(f"{root}/{folder}")


def _unreadable(path: str, exc: OSError) -> VaultError:
    return VaultError(f"{path}: cannot read ({exc.strerror}); check that the file is readable")


def scan_vault(root: Path, ignored: Callable[[str], bool] | None = None) -> ScanResult:
    """Walk the vault without following symlinks; dot-folders and ignored paths are skipped."""
    result = ScanResult(mark=clock_mark(root))
    notes, files, folders = result.notes, result.files, [""]
    while folders:
        relative = folders.pop()
        prefix = f"{relative}/" if relative else ""
        where = root / relative if relative else root
        try:
            result.folder_stamps[relative] = stamp_of_status(folder_status(root, relative))  # before listing
            entries = list(os.scandir(where))
        except OSError:
            continue
        for entry in entries:  # in any order: every list is sorted at the end
            name = entry.name
            if entry.is_symlink():
                # Never followed: a symlink may lead out of the vault, or into a loop.
                result.skipped_symlinks.append(prefix + name)
                continue
            if name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if name in ALWAYS_SKIPPED or (ignored is not None and ignored(prefix + name + "/")):
                    continue
                folders.append(prefix + name)
            elif entry.is_file(follow_symlinks=False):
                path = prefix + name
                if ignored is not None and ignored(path):
                    continue
                (notes if name[-3:].lower() == ".md" else files).append(path)
    result.skipped_symlinks.sort()
    result.notes.sort()
    result.files.sort()
    return result


@contextlib.contextmanager
def gc_paused(*, freeze_after: bool = False) -> Iterator[None]:
    """Run a block with the cyclic garbage collector off.

    Planning a batch over a big vault creates millions of small objects (facts, links, report entries)
    that live to the end; with the collector on, its passes over them cost more than the work itself
    (~1 s of 1.5 s for `sync-related` on 20,000 notes, ~50 ms of `normalize-links`). Nothing there makes
    reference cycles, so reference counting still frees each note once planned.

    `freeze_after`: for a caller that ends soon after (the CLI). The objects made in the block that are
    still alive go to the collector's permanent generation (`gc.freeze`, a list splice) instead of being
    walked by the first collection after the pause (normalize-links on 20,000 notes: 140,000 objects,
    ~0.05 s). The next such pause hands them back to the collector first (`gc.unfreeze`).
    """
    enabled = gc.isenabled()
    gc.disable()
    if freeze_after:
        gc.unfreeze()
    try:
        yield
    finally:
        if enabled:
            if freeze_after:
                gc.freeze()
            gc.enable()
