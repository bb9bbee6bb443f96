"""`vaulttools check`: read-only findings about links and frontmatter."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import json.encoder
import marshal
import operator
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple

from vaulttools import digests
from vaulttools.canvas import Canvas, CanvasError, is_canvas
from vaulttools.facts import (
    CacheWriter,
    GitVouch,
    build_id,
    digest_of_sum,
    key_line,
    load_cache,
    read_as_git_saw,
    read_stamped_batches,
    stamp_of,
)
from vaulttools.findings import (
    AMBIGUOUS_LINK,
    BAD_CANVAS,
    BAD_FRONTMATTER,
    BROKEN_CANVAS_LINK,
    BROKEN_LINK,
    DUPLICATE_ID,
    FINDING_KINDS,
    ID_MISMATCH,
    MISSING_ATTACHMENT,
    PROPERTY_TYPE,
    UNQUOTED_LINK,
    UNREADABLE,
)
from vaulttools.links import (
    UNQUOTED_YAML,
    Link,
    QuickLinks,
    find_frontmatter_links,
    quick_links_of,
    wikilink_spans_at,
)
from vaulttools.note import Note, from_fields
from vaulttools.parallel import forks_for, iter_chunks
from vaulttools.resolve import AMBIGUOUS, BROKEN, fold
from vaulttools.suffixes import SuffixMatcher, note_day, propose
from vaulttools.vault import Vault

if TYPE_CHECKING:
    from vaulttools.git import IndexWords

SCHEMA_VERSION = 1

_YAML_ERROR_PLACE_RE = re.compile(r"line (\d+), column (\d+):")

_UNRESOLVED = (BROKEN, AMBIGUOUS)
_TO_NO_FILE = (BROKEN_LINK, MISSING_ATTACHMENT)  # the links `normalize-links` looks at (and reports)

# File types Obsidian opens or embeds, and the documents vaults commonly link: a broken link to such a name
# is a missing attachment (an image not copied in), not a link to a note that does not exist.
ATTACHMENT_EXTENSIONS = frozenset(
    [
        "avif",
        "bmp",
        "gif",
        "heic",
        "ico",
        "jpeg",
        "jpg",
        "png",
        "svg",
        "tif",
        "tiff",
        "webp",
        "3gp",
        "flac",
        "m4a",
        "mp3",
        "ogg",
        "opus",
        "wav",
        "mkv",
        "mov",
        "mp4",
        "ogv",
        "webm",
        "pdf",
        "canvas",
        "base",
        "excalidraw",
        "epub",
        "csv",
        "json",
        "txt",
        "zip",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "odt",
        "ods",
        "odp",
        "html",
        "htm",
    ]
)


def is_attachment_target(target: str) -> bool:
    """Whether a link target names a non-note file by its extension (`img/a.png`, `paper.PDF`)."""
    name = target.rpartition("/")[2]
    stem, dot, extension = name.rpartition(".")
    return bool(dot and stem) and extension.lower() in ATTACHMENT_EXTENSIONS


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
    # With a suggestion: the file it resolves to and the suffix rule that found it (what `normalize-links`
    # reports of the fix, decided here once). Not part of the report: `to_json` leaves it out.
    fix: tuple[str, str] | None = None

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


class CheckReport:
    """The findings of a check, and what it counted. A report `_assemble` made from the notes' check
    entries keeps their findings packed (`marshal`) until `findings` is first read: `check --json` writes
    the notes' JSON texts and counts their kinds, and never needs a `Finding` (22,000 of them on the dense
    bench vault: ~0.06 s to unpack, ~0.03 s to build and sort)."""

    def __init__(
        self, notes_scanned: int = 0, findings: list[Finding] | None = None, opaque_links: int = 0
    ) -> None:
        self.notes_scanned = notes_scanned
        self.opaque_links = opaque_links  # `[[…]]` inside code, math or HTML comments: not links, counted
        self._findings: list[Finding] = [] if findings is None else findings
        self._unpack: Callable[[], list[Finding]] | None = None  # set by `_assemble` while still packed
        self._packed_counts: Counter[str] = Counter()  # the kinds of the packed findings
        # The JSON of the findings as `_assemble` made them (items of the array), and, once unpacked, the
        # findings it is for: `json_text` uses it while `findings` holds those very objects in order.
        self.made_json: str | None = None
        self._made_for: list[Finding] | None = None

    @classmethod
    def packed(
        cls,
        notes_scanned: int,
        opaque_links: int,
        unpack: Callable[[], list[Finding]],
        kinds: Counter[str],
        made_json: str,
    ) -> CheckReport:
        """A report whose findings `unpack` gives when first read, of these `kinds`, in JSON `made_json`."""
        report = cls(notes_scanned, None, opaque_links)
        report._unpack, report._packed_counts, report.made_json = unpack, kinds, made_json
        return report

    @property
    def findings(self) -> list[Finding]:
        if self._unpack is not None:
            self._findings, self._unpack = self._unpack(), None
            if self.made_json is not None:
                self._made_for = list(self._findings)
        return self._findings

    @findings.setter
    def findings(self, findings: list[Finding]) -> None:
        self._findings, self._unpack, self.made_json = findings, None, None

    def __repr__(self) -> str:
        return f"CheckReport({self.notes_scanned} notes, {self.counts()}, {self.opaque_links} opaque)"

    def has_findings(self) -> bool:
        return bool(self._packed_counts if self._unpack is not None else self._findings)

    def counts(self) -> dict[str, int]:
        counter = self._packed_counts if self._unpack is not None else Counter(f.kind for f in self._findings)
        return {kind: counter.get(kind, 0) for kind in FINDING_KINDS}

    def only_kinds(self, kinds: frozenset[str]) -> CheckReport:
        """The report with only the findings of these kinds (`check --kind` / `--ignore-kind`)."""
        kept = [f for f in self.findings if f.kind in kinds]
        return CheckReport(self.notes_scanned, kept, self.opaque_links)

    def to_json(self, vault_root: str) -> dict:
        return {**self._head(vault_root), "findings": [f.to_json() for f in self.findings]}

    def json_text(self, vault_root: str) -> str:
        """`json.dumps(self.to_json(vault_root), ensure_ascii=False)`, byte for byte, in half the time: a big
        vault's report holds tens of thousands of findings (10 MB of JSON on the dense bench vault), and
        writing each from a template saves building a dict per finding and encoding its keys each time."""
        head = json.dumps({**self._head(vault_root), "findings": []}, ensure_ascii=False, default=str)
        made = self._made_text()
        if made is not None:
            return f"{head[:-3]}[{made}]}}"
        return f"{head[:-3]}[{', '.join(map(_finding_json, self.findings))}]}}"

    def _made_text(self) -> str | None:
        """`made_json` while it is the findings' JSON: they are still packed, or unpacked and unchanged."""
        if self.made_json is None or self._unpack is not None:
            return self.made_json
        made, findings = self._made_for, self._findings
        if made is not None and len(made) == len(findings) and all(map(operator.is_, made, findings)):
            return self.made_json
        return None

    def _head(self, vault_root: str) -> dict:
        return {
            "version": SCHEMA_VERSION,
            "vault": vault_root,
            "notes_scanned": self.notes_scanned,
            "counts": self.counts(),
            "opaque_links": self.opaque_links,
        }


def _finding_json(finding: Finding) -> str:
    """`json.dumps(finding.to_json(), ensure_ascii=False)`: the same string encoder json uses, no dict."""
    kind, path, line, column, message, link, target, suggestion, candidates, _ = finding
    try:
        if (
            type(line) is not int or type(column) is not int
        ):  # json writes a bool or an int subclass otherwise
            raise TypeError
        return (
            f'{{"kind": {_encode(kind)}, "path": {_encode(path)}, "line": {line}, "column": {column}, '
            f'"message": {_encode(message)}, "link": {_encode_or_null(link)}, '
            f'"target": {_encode_or_null(target)}, "suggestion": {_encode_or_null(suggestion)}, '
            f'"candidates": [{", ".join(map(_encode, candidates))}]}}'
        )
    except TypeError:  # a field of another type than the report writes: json itself
        return json.dumps(finding.to_json(), ensure_ascii=False, default=str)


_encode = json.encoder.encode_basestring  # what `json.dumps(..., ensure_ascii=False)` writes a str with


def _encode_or_null(text: str | None) -> str:
    return "null" if text is None else _encode(text)


def check_vault(vault: Vault, *, use_cache: bool = True) -> CheckReport:
    """Findings for every note. Per-note results are cached while the note and the vault's file list are
    unchanged: a note's findings depend only on its own bytes, the set of file paths and the configuration."""
    tallies: list[ChunkTally] = []
    entries = cached_entries(vault, use_cache=use_cache, tallies=tallies)
    report = _report_of_tallies(tallies) if tallies else _assemble(vault.note_paths, entries)
    canvas_findings = [f for path in vault.scan.files if is_canvas(path) for f in check_canvas(vault, path)]
    if canvas_findings:
        report.findings.extend(canvas_findings)
        report.findings.sort(key=_FINDING_ORDER)
    _add_property_type_findings(vault, report)
    return report


def check_canvas(vault: Vault, path: str) -> list[Finding]:
    """A canvas's file nodes, group backgrounds and text-node links that reach no file (or several)."""
    try:
        canvas = Canvas(path, vault.read_bytes(path))
    except CanvasError as exc:
        return [Finding(BAD_CANVAS, path, 1, 1, f"canvas does not parse: {exc}")]
    findings = []
    for ref in canvas.references():
        if ref.link is None or ref.text_note is None:
            resolution = vault.index.resolve("/" + ref.target, "")
            (line, column), written = canvas.line_col(ref.string.start), ref.target
        elif ref.link.opaque is None:
            resolution = vault.index.resolve(ref.target, path)
            line, column = ref.text_note.line_col(ref.link.start)
            written = ref.text_note.text[ref.link.start : ref.link.end]
        else:
            continue  # in code: not a link
        if resolution.status not in _UNRESOLVED:
            continue
        where = f"node {ref.node_id!r} ({'text' if ref.link else ref.kind})"
        if resolution.status == AMBIGUOUS:
            message = (
                f"{where}: {written} matches several files equally well; write a folder path to pick one"
            )
            kind = AMBIGUOUS_LINK
        else:
            message, kind = f"{where}: {written} points to no file", BROKEN_CANVAS_LINK
        findings.append(
            Finding(kind, path, line, column, message, written, ref.target, None, resolution.candidates)
        )
    return findings


def _add_property_type_findings(vault: Vault, report: CheckReport) -> None:
    """Values of another type than `.obsidian/types.json` declares (only read when that file exists)."""
    if not (vault.root / ".obsidian" / "types.json").is_file():
        return
    from vaulttools.property_types import property_type_findings

    for path, line, message in property_type_findings(vault):
        report.findings.append(Finding(PROPERTY_TYPE, path, line, 1, message))
    report.findings.sort(key=_FINDING_ORDER)


# One place of a link to no file: (line, column, the link as written, the suggested target or None, the
# suffix candidates' paths, and with a suggestion the file it resolves to and the rule: `Finding.fix`).
Place = tuple[int, int, str, str | None, tuple[str, ...], tuple[str, str] | None]


class BrokenLinks(NamedTuple):
    """Where a note's links to no file are, as `check` found them in the note at `stamp`."""

    stamp: tuple[int, int, int, int]
    places: tuple[Place, ...]
    digest: int | None = None  # `quick_digest` of those bytes: they may come back under another stamp

    def holds_for(self, stamp: tuple[int, int, int, int], raw: bytes) -> bool:
        """Whether the places are those of a note read with this stamp and these bytes."""
        return stamp == self.stamp or (stamp[0] == self.stamp[0] and quick_digest(raw) == self.digest)


def broken_links_by_note(vault: Vault) -> BrokenLinksByNote:
    """Each readable note (in vault order) with where its links that resolve to no file are (often
    nowhere), from the check cache (notes it lacks checked now): all that `normalize-links` must look at,
    since its suffix fixes touch only such links.

    The cached stamps are not compared with the notes here: `normalize-links`' workers compare each with
    the note they read (or, for a note without such links, stat) anyway, and decide every link of a note
    that changed since. 20,000 `stat`s before its workers fork cost ~0.07 s of one core."""
    return BrokenLinksByNote(vault.note_paths, cached_entries(vault, verify_stamps=False))


class BrokenLinksByNote(Mapping[str, BrokenLinks]):
    """`broken_links_by_note`'s answer, each note's entry taken apart when asked for: by the worker that
    plans the note, not for 20,000 notes before the workers fork (~0.04 s)."""

    def __init__(self, paths: list[str], entries: dict[str, tuple]) -> None:
        self._paths = [path for path in paths if path in entries]
        self._entries = entries

    def __getitem__(self, path: str) -> BrokenLinks:
        entry = self._entries[path]
        places: tuple[Place, ...] = ()
        if any(kind in _TO_NO_FILE for kind in entry[1]):
            found = marshal.loads(entry[_PACKED])
            places = tuple((f[2], f[3], f[5], f[7], tuple(f[8]), f[9]) for f in found if f[0] in _TO_NO_FILE)
        return BrokenLinks(tuple(entry[0]), places, entry[_DIGEST])

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def size_with_places(self) -> int:
        """The summed sizes (at `check`'s stamps) of the notes with a link to no file, read off the entries
        without taking them apart (every note's `__getitem__` before the workers fork: ~0.03 s)."""
        entries = self._entries
        return sum(
            entry[0][0]
            for entry in (entries[path] for path in self._paths)
            if any(kind in _TO_NO_FILE for kind in entry[1])
        )

    def size_of_all(self) -> int:
        """The summed sizes (at `check`'s stamps) of every note with an entry: at least `size_with_places`,
        and cheaper to take."""
        entries = self._entries
        return sum(entries[path][0][0] for path in self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def cached_entries(
    vault: Vault,
    *,
    use_cache: bool = True,
    verify_stamps: bool = True,
    tallies: list[ChunkTally] | None = None,
) -> dict[str, tuple]:
    """Each readable note's check entry (see `note_entry`), from the cache where the note is unchanged.

    `verify_stamps=False`: every cached entry is taken as it is, its stamp (`entry[0]`) unchecked; the
    caller compares it with the note before relying on the entry (`broken_links_by_note`). `tallies`: when
    no entry is kept (a first `check`), the entries are left packed and the workers' `ChunkTally` of each
    chunk, in path order, goes there instead: the result is then empty (`check_vault` reports from the
    tallies). The cache file is written as the checked chunks come (`CacheWriter`)."""
    use_cache = use_cache and not os.environ.get("VAULTTOOLS_NO_CACHE")
    fingerprint = _check_fingerprint(vault)
    cached = load_cache(vault.root, fingerprint, name="check", stamp_field=0) if use_cache else {}
    paths = vault.note_paths
    if not verify_stamps and len(cached) == len(paths) and all(map(cached.__contains__, paths)):
        return cached  # every note has its entry, and no other (normalize-links: 20,000 notes, ~0.01 s less)
    entries, stale, moved = _kept_and_stale(vault, cached, verify_stamps)
    if not (stale or len(cached) != len(entries)):
        return entries
    vouch = GitVouch.ask(vault.root, vault.index_words, moved, len(paths)) if use_cache else None
    if vouch is not None:
        kept, stale = vouch.split(stale, moved, lambda path: _entry_digest(cached[path]))
        for path, current in kept.items():
            entries[path] = (current, *cached[path][1:])
    writer = CacheWriter(vault.root, fingerprint, "check") if use_cache else None
    try:
        # The cache's parts: the kept records, and the checked notes' as the workers marshalled them.
        if entries and writer is not None:
            writer.append(marshal.dumps(entries))
        if stale:
            # A changed stamp with the same bytes (`git checkout`, `undo`, a sync tool touching files) keeps
            # the note's entry: it is read and summed, not checked again (`quick_digest`).
            known = {path: cached[path] for path in stale if path in cached}
            learned: dict[bytes, bytes] = {}
            words = None if vouch is None else vouch.words
            tallying = tallies is not None and not entries
            checked = _check_stale(vault, stale, known, words, learned, tallying)
            keep = _no_part if writer is None else writer.append
            _gather_checked(checked, entries, keep, tallies if tallying else None)
            if vouch is not None:
                vouch.save(learned, len(paths))
    except BaseException:
        if writer is not None:
            writer.abandon()  # no half-written file left behind
        raise
    if writer is not None:
        writer.finish()
    return entries


def _no_part(part: bytes) -> None:
    """Where a checked chunk's part goes when there is no cache to write."""


def _kept_and_stale(
    vault: Vault, cached: Mapping[str, tuple], verify_stamps: bool
) -> tuple[dict[str, tuple], list[str], dict[str, tuple[int, int, int, int]]]:
    """The cached entries kept (of notes unchanged, or every one without `verify_stamps`), the notes to
    check again (in path order), and the current stamps of those among them with a cached entry."""
    entries: dict[str, tuple] = {}
    stale: list[str] = []
    moved: dict[str, tuple[int, int, int, int]] = {}
    root = str(vault.root)
    for path in vault.note_paths:
        record = cached.get(path)
        if record is not None and not verify_stamps:
            entries[path] = record
            continue
        if record is not None:
            try:
                current = stamp_of(f"{root}/{path}")
            except OSError:
                continue
            if tuple(record[0]) == current:
                entries[path] = record
                continue
            moved[path] = current
        stale.append(path)
    return entries, stale, moved


def _gather_checked(
    checked: Iterator[tuple[bytes, ChunkTally | None]],
    entries: dict[str, tuple],
    keep: Callable[[bytes], None],
    tallies: list[ChunkTally] | None,
) -> None:
    """Each checked chunk's part to `keep` (the cache file), and its entries into `entries`; with `tallies`
    (no entry was kept), its tally there instead: its entries stay packed (`_report_of_tallies`)."""
    for part, tally in checked:
        keep(part)
        if tallies is not None and tally is not None:
            tallies.append(tally)
        else:
            entries.update(marshal.loads(part))


def _entry_digest(entry: tuple) -> bytes:
    """The `facts.content_digest` of the bytes a check entry was made of: their size and `quick_digest`."""
    digest = entry[_DIGEST]
    return digest_of_sum(entry[0][0], digest) if isinstance(digest, int) else b""


# The shape of a check entry (`note_entry`): a cache of another shape is not read.
ENTRY_FORMAT = 6


def quick_digest(raw: bytes) -> int:
    """A sum of a note's bytes, kept in its check entry: a note whose stamp changed (`git checkout`,
    `undo`, a sync tool) but whose size and sum did not keeps its entry instead of being checked again.
    Every note of a first check is summed: XXH3-64 (`digests.quick_sum`) costs ~0.3 µs on 30 KB, CRC-32
    ~5 µs, SHA-256 ~20 µs (+0.5x the read floor of a first check on such notes). An edit that keeps a
    note's size has one chance in 2**64 (CRC-32, without the xxhash package: 2**32) to keep its sum too;
    its findings would then be those of its old bytes until it changes again, and normalize-links still
    fixes only links it finds exactly where the entry says."""
    return digests.quick_sum(raw)


def _check_fingerprint(vault: Vault) -> str:
    config = vault.config
    listing = "\0".join([*vault.scan.notes, "", *vault.scan.files])
    files_hash = hashlib.sha1(listing.encode("utf-8", "surrogatepass")).hexdigest()
    settings = (sorted(config.link_properties), config.suffix_rules, config.day_property, config.id_property)
    sums = digests.quick_sum_name()  # a cache summed one way is not read by a process summing another
    return f"{build_id()}|{ENTRY_FORMAT}|{sums}|{','.join(FINDING_KINDS)}|{settings}|{files_hash}"


# Notes to check from their bytes past which the index first learns every target only one file matches.
UNIQUE_TARGETS_FROM = 1000


def _check_stale(
    vault: Vault,
    paths: list[str],
    known: Mapping[str, tuple] | None = None,
    words: IndexWords | None = None,
    learned: dict[bytes, bytes] | None = None,
    tallying: bool = False,
) -> Iterator[tuple[bytes, ChunkTally | None]]:
    """Check whole notes, on every core for a big first run; workers send back only the small results,
    each chunk's as `marshal.dumps` of its entries by path (a part of the check cache as it is), given
    as each arrives: the caller reads one while the workers check the next ones. `learned` gets the
    digest of each blob git's index (`words`) vouched a read note's bytes to be. `tallying`: each part
    comes with the chunk's `ChunkTally`, made by the worker (else None)."""
    matcher = vault.suffix_matcher
    index = vault.index  # built once, before the workers inherit it
    if len(paths) >= UNIQUE_TARGETS_FROM:
        index.learn_unique_targets()
    if forks_for(len(paths)):
        matcher.tables()  # built once here rather than in each worker (their broken links search it)
    answers: LinkAnswers = {}  # forked workers each grow their own copy

    def check_chunk(chunk: list[str]) -> list[tuple[bytes, dict[bytes, bytes], ChunkTally | None]]:
        taught: dict[bytes, bytes] = {}
        checked = check_notes(vault, matcher, chunk, answers, known, words, taught)
        part = marshal.dumps(dict(checked))
        return [(part, taught, _tally(part, checked) if tallying else None)]

    for parts in iter_chunks(check_chunk, paths, label="Checking notes", on_progress=vault.on_progress):
        for part, taught, tally in parts:
            if learned is not None:
                learned.update(taught)
            yield part, tally


# What a link to a target means from a folder (see `link_answer`): None when the target resolves, else
# (kind, the message after the link as written, the suggested target, candidates' paths, and with a
# suggestion the file it resolves to and the rule that found it: `Finding.fix`).
LinkAnswer = tuple[str, str, str | None, tuple[str, ...], tuple[str, str] | None] | None
# Answers by (target, the linking note's folder), remembered only when the linking note cannot change them.
LinkAnswers = dict[tuple[str, str], LinkAnswer]


class CheckContext(NamedTuple):
    """What checking a note needs besides the note: the vault (its index, its configuration), the suffix
    matcher, and the link answers remembered in this run (the vault unchanged meanwhile)."""

    vault: Vault
    matcher: SuffixMatcher
    answers: LinkAnswers


def check_notes(
    vault: Vault,
    matcher: SuffixMatcher,
    paths: list[str],
    answers: LinkAnswers | None = None,
    known: Mapping[str, tuple] | None = None,
    words: IndexWords | None = None,
    learned: dict[bytes, bytes] | None = None,
) -> list[tuple[str, tuple]]:
    """(path, check entry) of each of `paths` readable now, checked from its bytes on disk; `known`: earlier
    entries by path, one kept (under the new stamp) where the note's bytes are still those it was made of.
    `learned` gets the digest of each blob git's index (`words`) vouched a read note's bytes to be."""
    link_properties = vault.config.link_property_set
    context = CheckContext(vault, matcher, {} if answers is None else answers)
    known = known or {}
    checked = []
    root = str(vault.root)
    for batch in read_stamped_batches(root, paths):
        digests = [quick_digest(raw) for _, _, raw in batch]
        if words is not None and learned is not None:
            _learn_vouched(root, batch, digests, words, learned)
        kept = [
            _kept(known.get(path), stamp, digest)
            for (path, stamp, _), digest in zip(batch, digests, strict=True)
        ]
        notes = [
            Note(path, raw, link_properties)
            for (path, _, raw), entry in zip(batch, kept, strict=True)
            if entry is None
        ]
        # The notes parsed a step at a time, all of them (`quick_links_of`), then checked one by one.
        parsed = zip(notes, quick_links_of(notes), strict=True)
        for (path, stamp, _), digest, entry in zip(batch, digests, kept, strict=True):
            if entry is None:
                note, quick = next(parsed)
                entry = note_entry(context, note, stamp, digest, quick)
            checked.append((path, entry))
    return checked


def _kept(earlier: tuple | None, stamp: tuple[int, int, int, int], digest: int) -> tuple | None:
    """An earlier check entry of a note under its new stamp, where the note's bytes are still those it was
    made of (same sum and size); None: check the note again."""
    if earlier is not None and earlier[_DIGEST] == digest and earlier[0][0] == stamp[0]:
        return (stamp, *earlier[1:])
    return None


def _learn_vouched(
    root: str,
    batch: list[tuple[str, tuple[int, int, int, int], bytes]],
    digests: list[int],
    words: IndexWords,
    learned: dict[bytes, bytes],
) -> None:
    """The digest of each blob git's index (`words`) vouches a read note's bytes to be, into `learned`."""
    for (path, stamp, raw), digest in zip(batch, digests, strict=True):
        blob = read_as_git_saw(root, path, stamp, words)
        if blob is not None:
            learned[blob] = digest_of_sum(len(raw), digest)


def note_entry(
    context: CheckContext,
    note: Note,
    stamp: tuple[int, int, int, int],
    digest: int,
    quick: QuickLinks | None,
) -> tuple:
    """(stamp, the findings' kinds, opaque link count, id value, id line, the findings' JSON, `quick_digest`
    of the bytes, the findings packed, where a duplicate-id finding goes in the JSON): everything `check`
    needs of one note. The JSON (`_findings_json`) is written here, on the workers of a first check, and
    cached: the report's JSON is then mostly these texts joined, a duplicate-id finding (which only all the
    notes' ids tell) put in at its place (`_duplicate_id_at`). The findings themselves are packed
    (`marshal`, b"" for none): loading the cache, or a first check's results, unpacks them only where they
    are read (`_unpacked`, `BrokenLinksByNote`)."""
    config = context.vault.config
    # The id is read once, for its finding and for the entry (duplicate ids are found across entries).
    note_id = note.property_value(config.id_property) if note.editable and note.frontmatter_editable else None
    note_findings, opaque = _note_findings(context, note, note_id, quick)
    kinds = tuple(map(_KIND, note_findings))  # C-level maps: no generator step per finding
    packed = marshal.dumps(tuple(map(tuple, note_findings))) if note_findings else b""
    text = _findings_json(note_findings)
    if not note.editable:
        return (stamp, kinds, 0, None, 1, text, digest, packed, 0)
    id_line = key_line(note, config.id_property) or 1
    duplicate_at = _duplicate_id_at(note_findings, id_line, text) if note_id is not None and text else 0
    value = None if note_id is None else str(note_id)
    return (stamp, kinds, opaque, value, id_line, text, digest, packed, duplicate_at)


def _duplicate_id_at(findings: list[Finding], id_line: int, text: str) -> int:
    """Where in `text` (the JSON of the note's `findings`, `_findings_json`) a duplicate-id finding of the
    note (at its id's line, column 1) goes in report order: the offset of the item it goes before, or
    `len(text) + 2` (where a next item would start) after them all."""
    place = (id_line, 1, DUPLICATE_ID)
    if min(map(_LINE_COLUMN_KIND, findings)) > place:  # the usual note: its findings all further down
        return 0
    before = [finding for finding in findings if _LINE_COLUMN_KIND(finding) < place]
    if len(before) == len(findings):
        return len(text) + 2
    return len(_findings_json(before)) + 2  # the items before it, and the ", " after them


_KIND = operator.itemgetter(0)  # `Finding.kind`
_LINE_COLUMN_KIND = operator.itemgetter(2, 3, 0)  # a finding's place in its note's report order
_TEXT = 5  # where a check entry holds its findings' JSON
_DIGEST = 6  # its `quick_digest`
_PACKED = 7  # its findings, packed
_DUPLICATE_AT = 8  # and where a duplicate-id finding goes in the JSON (`_duplicate_id_at`)


def entry_findings(entry: tuple) -> list[Finding]:
    """A check entry's findings, unpacked."""
    return list(map(_finding_of, marshal.loads(entry[_PACKED]))) if entry[_PACKED] else []


def _findings_json(findings: list[Finding]) -> str:
    """The JSON of one note's findings in report order (`_FINDING_ORDER`), as items of an array."""
    if len(findings) < 2:
        return _finding_json(findings[0]) if findings else ""
    return ", ".join(map(_finding_json, sorted(findings, key=_FINDING_ORDER)))


class ChunkTally(NamedTuple):
    """What a first `check`'s report needs of a chunk of notes, made by the worker that checked them: the
    parent then neither unpacks the chunk's entries nor walks them note by note (`_report_of_tallies`;
    on the `code` bench vault ~0.03 s of unpacking beside the workers, and ~0.02 s of `_assemble` after)."""

    part: bytes  # the chunk's entries by path, marshalled (a part of the check cache)
    scanned: int  # its readable notes
    opaque_links: int
    kinds: list[str]  # each finding's kind, note after note
    id_keys: list[str]  # each note's id, folded as `_assemble` compares them
    # Those notes' paths, id lines and where in `text` a duplicate-id finding of each would go (the offset
    # of the item it would go before, past the end for none): three lists marshalled, which cross the pipe
    # as one bytes object and are read only when two notes share an id.
    id_places: bytes
    text: str  # the JSON of its findings, note after note (items of the array; "" for none)


def _tally(part: bytes, checked: list[tuple[str, tuple]]) -> ChunkTally:
    """The `ChunkTally` of a chunk's entries (`checked`, in path order; `part`: them marshalled), as
    `_assemble` counts and joins them."""
    kinds: list[str] = []
    texts: list[str] = []
    keys: list[str] = []
    id_paths: list[str] = []
    id_lines: list[int] = []
    id_offsets: list[int] = []
    opaque_links = 0
    at = 0  # where the next note's findings start in the chunk's JSON
    for path, (_, note_kinds, opaque, note_id, id_line, text, _, _, duplicate_at) in checked:
        opaque_links += opaque
        if note_id is not None:
            keys.append(note_id.lower() if note_id.isascii() else fold(note_id))
            id_paths.append(path)
            id_lines.append(id_line)
            id_offsets.append(at + duplicate_at)
        if note_kinds:
            kinds += note_kinds
            texts.append(text)
            at += len(text) + 2
    places = marshal.dumps((id_paths, id_lines, id_offsets))
    return ChunkTally(part, len(checked), opaque_links, kinds, keys, places, ", ".join(texts))


def _report_of_tallies(tallies: list[ChunkTally]) -> CheckReport:
    """The report of notes checked in chunks (their tallies, in path order), as `_assemble` makes it from
    their entries: the chunks' JSON joined, with the duplicate-id findings put in where two notes share an
    id (a vault of folders often repeats a name, and with it the id), found from the ids alone."""
    kinds: Counter[str] = Counter()
    for tally in tallies:
        kinds.update(tally.kinds)
    duplicates = _duplicate_ids_of_tallies(tallies)
    texts = [tally.text for tally in tallies]
    if duplicates:
        texts = [_text_with_duplicate_ids(tally, duplicates) for tally in tallies]
        kinds[DUPLICATE_ID] += sum(map(len, duplicates.values()))
    unpack = functools.partial(_unpacked_parts, [tally.part for tally in tallies], duplicates)
    return CheckReport.packed(
        sum(tally.scanned for tally in tallies),
        sum(tally.opaque_links for tally in tallies),
        unpack,
        kinds,
        ", ".join(filter(None, texts)),
    )


def _duplicate_ids_of_tallies(tallies: list[ChunkTally]) -> dict[str, list[Finding]]:
    """The duplicate-id findings by path (`_duplicate_id_findings`) of the notes the tallies hold, in path
    order; none without a shared id, found at C speed (the usual vault: every id its note's own)."""
    keys = [key for tally in tallies for key in tally.id_keys]
    if len(set(keys)) == len(keys):
        return {}
    shared_keys = {key for key, count in Counter(keys).items() if count > 1}
    places: dict[str, list[tuple[str, int]]] = defaultdict(list)  # of each shared id, in path order
    for tally in tallies:  # the notes of the shared ids picked at C speed: a vault of folders has many
        paths, lines, _ = marshal.loads(tally.id_places)
        sharing = map(shared_keys.__contains__, tally.id_keys)
        for key, path, line in itertools.compress(zip(tally.id_keys, paths, lines, strict=True), sharing):
            places[key].append((path, line))
    return _duplicate_id_findings(places)


def _text_with_duplicate_ids(tally: ChunkTally, duplicates: dict[str, list[Finding]]) -> str:
    """The chunk's JSON with the duplicate-id findings of its notes put in at their places (`id_places`;
    the notes come in path order, and their places do not decrease)."""
    paths, _, offsets = marshal.loads(tally.id_places)
    insertions = [
        (at, finding)
        for path, at in zip(paths, offsets, strict=True)
        if path in duplicates
        for finding in duplicates[path]
    ]
    return _with_findings_inserted(tally.text, insertions) if insertions else tally.text


def _with_findings_inserted(text: str, insertions: list[tuple[int, Finding]]) -> str:
    """`text` (findings' JSON, items joined by ", ") with each finding's JSON put before the item starting
    at its offset, or after the last item for an offset past the end; `insertions` in order of offset, two
    at one offset in the order they come."""
    padded = f"{text}, " if text else ""  # every item followed by ", ": one rule for every place
    pieces: list[str] = []
    taken = 0
    for at, finding in insertions:  # an offset past the end slices all that is left, then nothing
        pieces += (padded[taken:at], _finding_json(finding), ", ")
        taken = at
    pieces.append(padded[taken:])
    return "".join(pieces)[:-2]


def _unpacked_parts(parts: list[bytes], duplicates: dict[str, list[Finding]]) -> list[Finding]:
    """Every finding of the entries marshalled in `parts`, and the `duplicates`, in report order."""
    packed = [entry[_PACKED] for part in parts for entry in marshal.loads(part).values() if entry[_PACKED]]
    return _unpacked(packed, duplicates)


def _assemble(paths: list[str], entries: dict[str, tuple]) -> CheckReport:
    # Each id's first note, and the notes of the few ids several notes share (no list per id).
    first: dict[str, tuple[str, int]] = {}
    shared: dict[str, list[tuple[str, int]]] = defaultdict(list)
    kinds: list[str] = []  # every finding's kind
    packed: list[bytes] = []  # the findings of each note with some, packed
    # The notes' JSON texts, while the notes come in report order (`paths` sorted, as the vault lists them).
    texts: list[str] | None = []
    text_paths: list[str] = []  # the note of each text
    previous = ""
    scanned = opaque_links = 0
    for path in paths:  # once per note: locals, C-level calls, and findings only when there are some
        entry = entries.get(path)
        if entry is None:
            continue
        _, note_kinds, opaque, note_id, id_line, text, _, note_packed, _ = entry
        scanned += 1
        if opaque:
            opaque_links += opaque
        if note_kinds:
            kinds += note_kinds
            packed.append(note_packed)
            if texts is not None and path > previous:
                texts.append(text)
                text_paths.append(path)
                previous = path
            else:
                texts = None
        if note_id is not None:
            key = note_id.lower() if note_id.isascii() else fold(note_id)  # `fold`, inlined for most ids
            place = (path, id_line)
            if first.setdefault(key, place) is not place:
                shared[key].append(place)
    duplicates = _duplicate_id_findings({key: [first[key], *later] for key, later in shared.items()})
    unpack = functools.partial(_unpacked, packed, duplicates)
    if texts is None:  # out of report order: the findings sorted are the report
        return CheckReport(scanned, unpack(), opaque_links)
    if duplicates:
        texts = _texts_with_duplicates(text_paths, texts, duplicates, entries)
        kinds += [DUPLICATE_ID] * sum(map(len, duplicates.values()))
    return CheckReport.packed(scanned, opaque_links, unpack, Counter(kinds), ", ".join(texts))


def _duplicate_id_findings(shared: dict[str, list[tuple[str, int]]]) -> dict[str, list[Finding]]:
    """The duplicate-id findings by path, of the ids in `shared`: each id's notes (path, id line), in path
    order."""
    duplicates: dict[str, list[Finding]] = defaultdict(list)
    for note_id, places in sorted(shared.items()):
        others = _notes_sharing(places)
        message = f"id {note_id!r} is also used by: {others}"
        for path, line in places:
            duplicates[path].append(
                _finding_of((DUPLICATE_ID, path, line, 1, message, None, note_id, None, (), None))
            )
    return duplicates


def _unpacked(packed: list[bytes], duplicates: dict[str, list[Finding]]) -> list[Finding]:
    """Every finding, in report order: the notes' (`packed`) and the duplicate ids'."""
    found: list[Finding] = []
    for note_packed in packed:
        found += map(_finding_of, marshal.loads(note_packed))
    for duplicate in duplicates.values():
        found += duplicate
    found.sort(key=_FINDING_ORDER)
    return found


# The notes a duplicate-id finding names at most: a folder note's id (`index`) repeated in 2,000 folders
# made each of its 2,000 findings name all 2,000 notes (a 120 MB report).
DUPLICATE_ID_LISTED = 10


def _notes_sharing(places: list[tuple[str, int]]) -> str:
    """The notes that share an id, as a duplicate-id finding lists them: every one, or the first
    `DUPLICATE_ID_LISTED` and how many more (`check --json` gives each of them its own finding)."""
    if len(places) <= DUPLICATE_ID_LISTED:
        return ", ".join(path for path, _ in places)
    listed = ", ".join(path for path, _ in places[:DUPLICATE_ID_LISTED])
    return f"{listed} and {len(places) - DUPLICATE_ID_LISTED:,} more"


def _texts_with_duplicates(
    paths: list[str], texts: list[str], duplicates: dict[str, list[Finding]], entries: dict[str, tuple]
) -> list[str]:
    """The findings' JSON texts of the notes (`texts` of `paths`, in path order) with the duplicate-id
    findings put in at their place (`note_entry`'s offset); the rest keep theirs. A vault of folders often
    repeats a name, and with it the id, in several notes."""
    by_path = dict(zip(paths, texts, strict=True))
    for path, found in duplicates.items():
        entry = entries[path]
        by_path[path] = _with_findings_inserted(
            entry[_TEXT], [(entry[_DUPLICATE_AT], finding) for finding in found]
        )
    return [by_path[path] for path in sorted(by_path)]


# (path, line, column, kind), by a C-level getter: 20,000 notes can have as many findings.
_FINDING_ORDER = operator.itemgetter(1, 2, 3, 0)


# A finding from its plain tuple (a worker's result or a check cache record, both made by `note_entry`, the
# cache's only of this entry format), or from all its fields (`span_finding`): no Python call per finding.
_finding_of = from_fields(Finding)


def _note_findings(
    context: CheckContext, note: Note, note_id: object, quick: QuickLinks | None
) -> tuple[list[Finding], int]:
    """The note's findings, and how many `[[…]]` it has inside code, math or HTML comments; `note_id`:
    its id property's value (None without one, or when its frontmatter cannot be read); `quick`: its
    `quick_links`."""
    path = note.path
    if note.decode_error:
        unreadable = f"{note.decode_error}; vaulttools leaves this file alone"
        return [Finding(UNREADABLE, path, 1, 1, unreadable)], 0
    findings: list[Finding] = []
    has_frontmatter = note.frontmatter is not None or note.frontmatter_problem is not None
    if has_frontmatter and note.yaml_error:
        place = _YAML_ERROR_PLACE_RE.match(note.yaml_error)
        line, column = (int(place.group(1)), int(place.group(2))) if place else (1, 1)
        message = f"frontmatter does not parse: {note.yaml_error}"
        findings.append(Finding(BAD_FRONTMATTER, path, line, column, message))
    elif note_id is not None:  # read only from a frontmatter that parses
        findings.extend(_id_findings(context.vault, note, note_id))

    def day() -> object:  # read only when two suffixed candidates tie
        return note_day(note, context.vault.config.day_property)

    found = _quick_link_findings(context, note, day, quick)
    if found is not None:
        findings.extend(found[0])
        return findings, found[1]
    link_findings, opaque = _full_link_findings(context, note, day)
    findings.extend(link_findings)
    return findings, opaque


def _full_link_findings(
    context: CheckContext, note: Note, day: Callable[[], object]
) -> tuple[list[Finding], int]:
    """The findings of the note's links from its parsed `Link`s, and its count of opaque links."""
    path = note.path
    findings: list[Finding] = []
    # Resolved all at once (most links resolve, and cost a set lookup); only the others get a finding.
    unresolved = set(
        context.vault.index.unresolved_positions(
            [link.target for link in note.links if link.opaque is None and link.target], path
        )
    )
    position = 0
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
            finding = link_finding(context, note, link, day) if position in unresolved else None
            position += 1
            if finding:
                findings.append(finding)
    opaque = sum(1 for link in note.links if link.opaque and link.opaque != UNQUOTED_YAML)
    return findings, opaque


def _quick_link_findings(
    context: CheckContext, note: Note, day: Callable[[], object], quick: QuickLinks | None
) -> tuple[list[Finding], int] | None:
    """The findings of the note's links without building its `Link`s, and its count of opaque links, from
    its `quick_links` (`quick`); None when the note needs its `Link`s.

    Most notes have a simple frontmatter and links that do not overlap: their links are the body's
    wikilinks and markdown links (those outside code, math and comments; `quick_links`) and the link
    properties' values. Each target is resolved (memoised by the index); only an unresolved one costs a
    position and a message, as in `link_finding`.
    """
    if quick is None:
        return None
    found = _quick_findings(context, note, day, quick)
    return found, quick.opaque


def _quick_findings(
    context: CheckContext, note: Note, day: Callable[[], object], quick: QuickLinks
) -> list[Finding]:
    """`_quick_link_findings`' findings, from the note's `quick_links`."""
    # Apart, a link's span is found only if it does not resolve; mixed, the spans came with the targets.
    targets, body_targets, parts, markdown, spans, _, gaps = quick
    unresolved = context.vault.index.unresolved_positions([*targets, *body_targets], note.path)
    if not unresolved:
        return []
    findings: list[Finding] = []
    if unresolved[0] < len(targets):
        # Rare: a frontmatter link is broken, so parse the frontmatter's links for their positions.
        for link in find_frontmatter_links(note):
            finding = link_finding(context, note, link, day) if link.target else None
            if finding:
                findings.append(finding)
    body_unresolved = [i - len(targets) for i in unresolved if i >= len(targets)]
    if not body_unresolved:
        return findings
    if spans is None:  # the links apart: the spans of those asked for only
        apart = (parts, markdown, gaps)
        body_findings = _apart_findings(context, note, apart, body_targets, body_unresolved, day)
        return findings + body_findings
    for i in body_unresolved:
        start, end = spans[i]
        finding = span_finding(context, note, start, end, body_targets[i], day)
        if finding:
            findings.append(finding)
    return findings


def _apart_findings(
    context: CheckContext,
    note: Note,
    apart: tuple[list[tuple[str, str]], list[tuple[int, int, str]], list[tuple[int, int]] | None],
    targets: list[str],
    positions: list[int],
    day: Callable[[], object],
) -> list[Finding]:
    """The findings of the body links at `positions` of `targets` (the wikilinks', then the markdown links',
    as `body_links_apart` gives them), in text order."""
    spans = _unresolved_spans(note, *apart, positions)
    findings = []
    for i in positions:
        start, end = spans[i]
        finding = span_finding(context, note, start, end, targets[i], day)
        if finding:
            findings.append(finding)
    if len(findings) > 1:  # back in text order, as the links are written
        findings.sort(key=_LINE_COLUMN)
    return findings


def _unresolved_spans(
    note: Note,
    parts: list[tuple[str, str]],
    markdown: list[tuple[int, int, str]],
    gaps: list[tuple[int, int]] | None,
    positions: list[int],
) -> dict[int, tuple[int, int]]:
    """(start, end) of the body links at `positions` (of the wikilinks, then the markdown links, as
    `body_links_apart` gives them), as found (`wikilink_spans_at`); `gaps`: where the wikilinks of each gap
    between opaque regions start (`BodyLinksApart.gaps`), each gap's found from its start."""
    wikilinks = [i for i in positions if i < len(parts)]
    spans: dict[int, tuple[int, int]] = {}
    if wikilinks and gaps is None:  # the usual body, without regions: all from its start
        spans = wikilink_spans_at(note.text, note.body_start, parts, wikilinks)
    elif wikilinks and gaps is not None:
        for first, after, start in _gap_bounds(gaps, len(parts)):
            asked = [i - first for i in wikilinks if first <= i < after]
            if asked:
                found = wikilink_spans_at(note.text, start, parts[first:after], asked)
                spans.update((i + first, span) for i, span in found.items())
    for i in positions:
        if i >= len(parts):
            start, end, _ = markdown[i - len(parts)]
            spans[i] = (start, end)
    return spans


def _gap_bounds(gaps: list[tuple[int, int]], count: int) -> list[tuple[int, int, int]]:
    """(first, after, start) of each gap's wikilinks (`BodyLinksApart.gaps`, of `count` in all):
    `parts[first:after]`, found from `start`."""
    afters = [first for first, _ in gaps[1:]] + [count] if gaps else []
    return [(first, after, start) for (first, start), after in zip(gaps, afters, strict=True)]


# A finding's (line, column): the body's links do not overlap, so their findings' places are all different.
_LINE_COLUMN = operator.itemgetter(2, 3)


def link_finding(context: CheckContext, note: Note, link: Link, day: object) -> Finding | None:
    return span_finding(context, note, link.start, link.end, link.target, day)


def span_finding(
    context: CheckContext, note: Note, start: int, end: int, target: str, day: object
) -> Finding | None:
    """The finding for the link at `note.text[start:end]` to `target`, or None when it resolves."""
    path = note.path
    key = (target, path.rpartition("/")[0])
    answers = context.answers
    if key in answers:  # a dangling target is often linked from many notes of a folder
        answer = answers[key]
    else:
        answer, for_the_folder = link_answer(context, target, path, day)
        if for_the_folder:
            answers[key] = answer
    if answer is None:
        return None
    kind, message_tail, suggestion, candidates, fix = answer
    line, column = note.line_col(start)
    written = note.text[start:end]
    # every field, made from C (`_finding_of`): one finding per unresolved link, on a big vault many thousands
    return _finding_of(
        (kind, path, line, column, written + message_tail, written, target, suggestion, candidates, fix)
    )


def link_answer(context: CheckContext, target: str, source: str, day: object) -> tuple[LinkAnswer, bool]:
    """What a link to `target` in the note at `source` is (see `LinkAnswer`), and whether every note in
    the folder of `source` gets that answer: all but a suffix tie that the linking note's day decides."""
    vault = context.vault
    resolution = vault.index.resolve(target, source)  # the same from anywhere in a folder
    if resolution.status not in _UNRESOLVED:
        return None, True
    if resolution.status == AMBIGUOUS:
        tail = " matches several notes equally well; write a folder path to pick one"
        return (AMBIGUOUS_LINK, tail, None, resolution.candidates, None), True
    if is_attachment_target(target):
        tail = " points to no file: the attachment is missing (add it, or fix the link)"
        return (MISSING_ATTACHMENT, tail, None, (), None), True
    proposed, suggestion = propose(context.matcher, vault.index, target, source, day)
    tail = " points to no note"
    if proposed:
        tail += f"; did you mean {proposed!r}? (`vaulttools normalize-links` fixes it)"
    elif suggestion.candidates:
        tail += "; several notes differ only by a suffix"
    # Only a tie between candidates asks for the linking note's day (`suffixes.pick`).
    found = suggestion.candidates
    candidates = tuple(map(_CANDIDATE_PATH, found))  # not a generator: ~15,000 dangling targets a big vault
    fix = None
    if proposed and suggestion.path is not None:
        chosen = (
            found[0]
            if found[0].path == suggestion.path
            else next(c for c in found if c.path == suggestion.path)
        )
        fix = (suggestion.path, chosen.rule)
    return (BROKEN_LINK, tail, proposed, candidates, fix), len(candidates) < 2


_CANDIDATE_PATH = operator.itemgetter(0)  # `Candidate.path`


def _id_findings(vault: Vault, note: Note, note_id: object) -> list[Finding]:
    """A finding when the note's id (`note_id`, its id property's value) is not its file name."""
    key = vault.config.id_property
    value = str(note_id)
    if fold(value) == fold(note.stem):
        return []
    line = key_line(note, key) or 1
    return [
        Finding(ID_MISMATCH, note.path, line, 1, f"{key} {value!r} differs from the file name {note.stem!r}")
    ]
