"""What read-only commands need from each note, computed once and cached between runs.

`NoteFacts` holds the outcome of parsing one note (its links with line and column, its properties, its
frontmatter problems) as plain tuples, so that:

- a first run can parse on every core (facts cross process boundaries cheaply), and
- a later run re-parses only notes whose size, mtime, ctime or inode changed: the rest come from
  `.vaulttools/cache/facts-v*.marshal`, a file git never sees (`.vaulttools/.gitignore` holds `*`). A note
  rewritten with the same bytes keeps its record; only its new stamp is written, to a small stamps file
  beside the cache file (`save_stamps`).

The cache is an accelerator only: unreadable, stale or foreign caches are ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import itertools
import marshal
import mmap
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, NamedTuple, cast

from vaulttools import digests
from vaulttools.config import RELATED_HEADING
from vaulttools.files import READ_FLAGS, read_all, stamp_of_status, state_dir
from vaulttools.links import inline_tags
from vaulttools.note import Note
from vaulttools.parallel import forks_for, in_fork, iter_chunks
from vaulttools.record_file import (
    Entry,
    FactRecords,
    KeyedWriter,
    OnDisk,
    RecordSource,
    parts_of,
    read_keyed,
    write_keyed,
)
from vaulttools.sections import find_section

if TYPE_CHECKING:
    from vaulttools.git import IndexWords

# 8: frontmatter links read through the YAML composer; 9: body words and counts; 10: written in parts;
# 11: the content digest is the size and CRC-32 (`content_digest`); 12: the size and `digests.quick_sum`;
# 13: the header names the file's writing (`CacheFile.nonce`), and a stamps file may hold newer stamps
CACHE_FORMAT = 13
# The facts cache's layout, named in its header: each part's keys, then its records (`record_file`).
FACTS_LAYOUT = "keys, then records"


class LinkFact(NamedTuple):
    kind: str
    start: int
    end: int
    target: str
    line: int
    column: int
    written: str  # the whole link as written
    opaque: str | None
    property_name: str


class FactsOptions(NamedTuple):
    """What parsing depends on besides the bytes; part of the cache fingerprint."""

    link_properties: frozenset[str]
    id_property: str = "id"
    keep: frozenset[str] | None = None  # properties to keep (None: all)
    related_heading: str = RELATED_HEADING


class NoteFacts(NamedTuple):
    path: str
    stamp: tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode
    decode_error: str | None
    has_frontmatter: bool
    yaml_error: str | None
    properties: dict[str, Any] | None
    links: tuple[LinkFact, ...]
    id_line: int  # line of the id property (for findings), 0 if absent
    section: tuple[int, int]  # the "Related across articles" section (heading to end), or (-1, -1)
    inline_tags: tuple[str, ...] = ()  # the body's `#tags`, sorted (see `links.inline_tags`)
    words: tuple[str, bytes] = ("", b"")  # the note's words and counts (`related_rank.body_words`)


def stamp_of(path: Path | str) -> tuple[int, int, int, int]:
    return stamp_of_status(os.stat(path))


def facts_of(note: Note, stamp: tuple[int, int, int, int], options: FactsOptions) -> NoteFacts:
    """The facts of one note; `options.keep` limits the properties kept to those commands read."""
    return facts_of_notes([note], [stamp], options)[0]


def facts_of_notes(
    notes: list[Note], stamps: list[tuple[int, int, int, int]], options: FactsOptions
) -> list[NoteFacts]:
    """`facts_of` each note (read at the stamp of the same place in `stamps`), found a step at a time for
    all of them: every note's links, then its properties, its related section, its tags, its words. Each
    step's code and data then stay in the processor's caches from one note to the next (as in
    `links.quick_links_of`): 32 notes of the `article` or `code` bench vault ~6-11 % faster than note after
    note, 30 KB notes ~3 %."""
    if not notes:  # `_body_words` imports its module on first use: not for a batch of unchanged notes
        return []
    links = [_link_facts(note) for note in notes]
    properties = [_kept_properties(note, options.keep) for note in notes]
    sections = [_section_span(note, options.related_heading) for note in notes]
    tags = [tuple(sorted(inline_tags(note))) if note.editable else () for note in notes]
    body_words = _body_words()
    words = [
        body_words(note, section) if note.editable else ("", b"")
        for note, section in zip(notes, sections, strict=True)
    ]
    facts = []
    for i, note in enumerate(notes):
        has_frontmatter = note.frontmatter is not None or note.frontmatter_problem is not None
        yaml_error = note.yaml_error if has_frontmatter else None
        id_line = key_line(note, options.id_property)
        facts.append(
            NoteFacts(
                note.path,
                stamps[i],
                note.decode_error,
                has_frontmatter,
                yaml_error,
                properties[i],
                links[i],
                id_line,
                sections[i],
                tags[i],
                words[i],
            )
        )
    return facts


def _link_facts(note: Note) -> tuple[LinkFact, ...]:
    """The note's links as facts: each with its line and column and its text as written."""
    return tuple(
        LinkFact(
            link.kind,
            link.start,
            link.end,
            link.target,
            *note.line_col(link.start),
            note.text[link.start : link.end],
            link.opaque,
            link.property_name,
        )
        for link in note.links
    )


def _kept_properties(note: Note, keep: frozenset[str] | None) -> dict[str, Any] | None:
    """The note's properties as plain values, only those in `keep` (None: all); None when its frontmatter
    cannot be read."""
    if not note.frontmatter_editable:
        return None
    data = note.properties or {}
    return _plain(data if keep is None else {k: v for k, v in data.items() if k in keep})


@functools.cache
def _body_words() -> Callable[[Note, tuple[int, int]], tuple[str, bytes]]:
    """`related_rank.body_words`, imported on the first note whose facts are built: `check` and
    `normalize-links` read this module but build no facts (~2 ms of their start-up), and an import inside
    `facts_of` would cost each note ~0.75 µs."""
    from vaulttools.related_rank import body_words

    return body_words


def _section_span(note: Note, heading: str) -> tuple[int, int]:
    if not note.editable:
        return (-1, -1)
    section = find_section(note, heading)
    return (-1, -1) if section is None else (section.heading_start, section.end)


def key_line(note: Note, key: str) -> int:
    """The line of a top-level property in the frontmatter, 0 if it is not there."""
    fm = note.frontmatter
    if fm is None:
        return 0
    position = note.text.find(f"\n{key}:", fm.start - 1, fm.end)
    return note.line_col(position + 1)[0] if position >= 0 else 0


def _plain(value: Any, depth: int = 0) -> Any:
    """Properties as marshal-able plain values (dates become ISO strings); deep or odd values become str."""
    if depth > 20:
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


# --- parsing many notes --------------------------------------------------------------------------------


def read_stamped_batches(
    root: str, paths: list[str]
) -> Generator[list[tuple[str, tuple[int, int, int, int], bytes]], None, None]:
    """(path, stamp, bytes) of each readable note (see `read_with_stamp`), unreadable ones left out, in
    batches: the notes of `READ_AHEAD_NOTES` paths are read together and handed on as a list (none where no
    note of them could be read), for the caller to parse a step at a time (`links.quick_links_of`).

    Each note is opened from the vault folder, opened once (`dir_fd`, where the system has it): the
    kernel then looks up the note's path within the vault, not every folder above it again (a first
    `check` opens every note: an open and close of 4.2 µs instead of 4.6-5.0, the vault four folders deep).
    Read together, the notes are parsed with no system call between two of them. Read one at a time, the
    four system calls of each note left the processor's caches and branch history cold for the parsing
    after them: a first `check` spent ~10 % more per note on the 20,000-note bench vaults (a host of
    2026-12: 95.6 µs a note read one by one, 85.7 read 64 at a time; the `code` vault 152.5 and 136.1)."""
    folder = None
    if os.open in os.supports_dir_fd:
        with contextlib.suppress(OSError):  # no folder to open: each note's own open says so
            folder = os.open(root, _FOLDER_FLAGS)
    try:
        for start in range(0, len(paths), READ_AHEAD_NOTES):
            batch = _read_ahead(root, paths[start : start + READ_AHEAD_NOTES], folder)
            if batch:
                yield batch
    finally:
        if folder is not None:
            os.close(folder)


# How many notes `read_stamped_batches` reads before it hands them on: 16-64 ran alike, 1-4 and 256 slower
# (the readahead's bytes no longer in the caches when parsed); 30 KB notes hold ~1 MB in memory at a time.
READ_AHEAD_NOTES = 32


def _read_ahead(
    root: str, paths: list[str], folder: int | None
) -> list[tuple[str, tuple[int, int, int, int], bytes]]:
    """(path, stamp, bytes) of each of `paths` that can be read (`read_stamped_batches`)."""
    read = []
    for path in paths:
        try:
            stamp, raw = read_with_stamp(path if folder is not None else f"{root}/{path}", folder)
        except OSError:
            continue
        read.append((path, stamp, raw))
    return read


# How `read_stamped_batches` opens the vault folder: for the lookups of the notes' paths only, and closed on exec
# (git's processes do not inherit it).
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_with_stamp(path: str, folder: int | None = None) -> tuple[tuple[int, int, int, int], bytes]:
    """A file's stamp and bytes with one path lookup: open, then `fstat` the open file (the stamp `stamp_of`
    gives, taken before reading, so a file changed meanwhile looks stale next time rather than fresh) and
    read it in one call. `folder`: an open folder a relative `path` starts from (None: the working one)."""
    handle = os.open(path, READ_FLAGS, dir_fd=folder)
    try:
        status = os.fstat(handle)
        raw = read_all(handle, status.st_size)
    finally:
        os.close(handle)
    return stamp_of_status(status), raw


def content_digest(raw: bytes) -> bytes:
    """What a cache entry remembers of a note's bytes: their size and sum (`digests.quick_sum`, as
    `check.quick_digest`).

    It decides only whether a note whose stamp changed (`git checkout`, `undo`, a sync tool rewriting the
    same bytes) keeps its record rather than being parsed again; a note whose stamp is the cached one is
    never read. Every such note is summed, and after a checkout that is every note: on notes of 30 KB
    SHA-256 costs ~20 µs a note, CRC-32 ~5 µs, XXH3-64 ~0.3 µs. A changed size always tells; any edit
    that keeps the size keeps the sum with one chance in 2**64 (2**32 for CRC-32, without the xxhash
    package), and the note's facts would then be those of its old bytes until it changes again."""
    return digest_of_sum(len(raw), digests.quick_sum(raw))


def digest_of_sum(size: int, quick_sum: int) -> bytes:
    """`content_digest` of bytes of this size and `digests.quick_sum` (as a check entry keeps them)."""
    return size.to_bytes(8, "little") + quick_sum.to_bytes(8, "little")


def _parse_chunk(
    root: str,
    paths: list[str],
    options: FactsOptions,
    known: dict[str, bytes],
    words: IndexWords | None,
) -> list[tuple[tuple, bytes | None]]:
    """Cache records of notes; a note whose bytes are those of its cached record (`known`: path → digest)
    comes back as (path, stamp, digest) only, and keeps its record under the new stamp. Each record comes
    with the blob id git's index gives its bytes (`words`), where the note was read as git saw it (see
    `read_as_git_saw`), else None."""
    records: list[tuple[tuple, bytes | None]] = []
    for batch in read_stamped_batches(root, paths):
        digests = [content_digest(raw) for _, _, raw in batch]
        # The changed notes' facts found a step at a time, all of them (`facts_of_notes`).
        changed = [
            (path, stamp, raw)
            for (path, stamp, raw), d in zip(batch, digests, strict=True)
            if known.get(path) != d
        ]
        notes = [Note(path, raw, options.link_properties) for path, _, raw in changed]
        stamps = [stamp for _, stamp, _ in changed]
        found = {facts.path: facts for facts in facts_of_notes(notes, stamps, options)}
        for (path, stamp, _), digest in zip(batch, digests, strict=True):
            facts = found.get(path)
            record: tuple = (path, stamp, digest) if facts is None else _to_marshal(facts, digest)
            blob = read_as_git_saw(root, path, stamp, words) if words is not None else None
            records.append((record, blob))
    return records


def read_as_git_saw(
    root: str, path: str, stamp: tuple[int, int, int, int], words: IndexWords
) -> bytes | None:
    """The blob id of the bytes just read under `stamp`, when git's index vouches for them: git's entry
    names this stamp (`IndexWords.blob_for`), and the file still has it after the read. The entry is not
    racy, so the file's mtime was older than the index file, which was read before the note: a write during
    the read would have given the file a newer mtime."""
    blob = words.blob_for(path, stamp)
    if blob is None:
        return None
    try:
        return blob if stamp_of(f"{root}/{path}") == stamp else None
    except OSError:
        return None


def _to_marshal(facts: NoteFacts, digest: bytes) -> tuple:
    # A note's links are kept as one marshal blob, unpacked only when its facts are built: loaded as
    # tuples, 100,000 notes' links took ~700 MB (a tuple and four ints per link); as blobs, ~180 MB.
    links = marshal.dumps(tuple(tuple(link) for link in facts.links))
    return (*facts[:6], links, facts.id_line, facts.section, facts.inline_tags, facts.words, digest)


def facts_of_record(record: tuple) -> NoteFacts:
    """The facts of one cache record (`collect_records`)."""
    (
        path,
        stamp,
        decode_error,
        has_fm,
        yaml_error,
        properties,
        links_blob,
        id_line,
        section,
        tags,
        words,
        _,
    ) = record
    links = tuple(LinkFact(*lk) for lk in marshal.loads(links_blob))
    return NoteFacts(
        path,
        tuple(stamp),
        decode_error,
        has_fm,
        yaml_error,
        properties,
        links,
        id_line,
        tuple(section),
        tuple(tags),
        tuple(words),
    )


def scan_view_of_record(record: tuple) -> NoteFacts:
    """`facts_of_record` for a reader of links by position: each link the plain tuple the cache holds
    (`LinkFact`'s fields in order, `link[LINK_TARGET]` …), not a `LinkFact`: sync-related's scan reads
    every note's links once, and building a named tuple per link was a fifth of it on long notes."""
    # The record is `facts_of_record`'s fields in order, the links marshalled, the digest last (dropped).
    return NoteFacts._make(
        (*record[:RECORD_LINKS], marshal.loads(record[RECORD_LINKS]), *record[RECORD_LINKS + 1 : -1])
    )


RECORD_LINKS = 6  # where a cache record holds its marshalled links (`record_of_facts`)


# Positions of a link's fields in a `LinkFact` (and in the plain tuples `scan_view_of_record` leaves).
LINK_START: Final = 1
LINK_TARGET: Final = 3
LINK_WRITTEN: Final = 6
LINK_OPAQUE: Final = 7


def parse_records(
    root: Path,
    paths: list[str],
    options: FactsOptions,
    on_progress: Callable[[str, int, int], None] | None = None,
    known: dict[str, bytes] | None = None,
    words: IndexWords | None = None,
    learned: dict[bytes, bytes] | None = None,
) -> Iterator[tuple]:
    """Parse notes into cache records (plain tuples), on every core when there are enough of them; a
    chunk's records at a time, so a caller can let go of the records they replace as they come. `learned`
    gets the digest of each blob git's index (`words`) vouched a read note's bytes to be."""
    known = known or {}
    for chunk_records in iter_chunks(
        lambda chunk: _parse_chunk(str(root), chunk, options, known, words), paths, on_progress=on_progress
    ):
        for record, blob in chunk_records:
            if blob is not None and learned is not None:
                learned[blob] = record[-1]
            yield record


# --- the cache ---------------------------------------------------------------------------------------


def build_id() -> str:
    """The build of vaulttools a cache's fingerprint names: its version and `code_stamp`."""
    from vaulttools import __version__  # the package imports this module: asked when first used

    return f"{__version__}+{code_stamp()}"


@functools.cache
def code_stamp() -> str:
    """What a cache's fingerprint holds of the running code besides its version: the size and modification
    time of each of vaulttools' source files, summed. A development build (an editable install, a checkout)
    whose code changes what a note's facts or findings are then makes them again, instead of reading what
    the old code cached; an installed release changes only with its version. Where a file cannot be
    listed: "" (the version alone decides, as before)."""
    package = Path(__file__).parent
    stamps = []
    try:
        for folder in (package, package / "commands"):
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(".py"):
                        status = entry.stat()
                        stamps.append(f"{folder.name}/{entry.name} {status.st_size} {status.st_mtime_ns}")
    except OSError:
        return ""
    return format(digests.quick_sum("\n".join(sorted(stamps)).encode()), "x")


def _cache_file(root: Path, name: str) -> Path:
    return root / ".vaulttools" / "cache" / f"{name}-v{CACHE_FORMAT}.marshal"


def _stamps_file(root: Path, name: str) -> Path:
    return root / ".vaulttools" / "cache" / f"{name}-v{CACHE_FORMAT}.stamps.marshal"


def _cache_header(fingerprint: str, parts: int, nonce: bytes | None = None) -> tuple:
    """A cache file's header; its nonce (new unless given) names this writing of the file (`save_stamps`)."""
    return (CACHE_FORMAT, fingerprint, parts, os.urandom(8) if nonce is None else nonce)


def _replace_cache_file(root: Path, name: str, temp: Path) -> None:
    """Put a newly written cache file in place; the stamps of the one it replaces go with it."""
    os.replace(temp, _cache_file(root, name))
    with contextlib.suppress(OSError):
        _stamps_file(root, name).unlink()


# Records per part of a cache file: the file is written and read a part at a time, so neither holds the
# whole file's bytes beside the records (one blob for 100,000 notes was ~300 MB more at both ends).
CACHE_PART = 4096


def load_cache(root: Path, fingerprint: str, name: str = "facts", stamp_field: int = 1) -> dict[str, tuple]:
    """The records a cache file holds (see `read_cache`), or none when it is missing, foreign, stale or
    damaged."""
    return read_cache(root, fingerprint, name, stamp_field).records


class CacheFile(NamedTuple):
    """What `read_cache` read: the records, the nonce of the cache file (None: no file was read), and the
    stamps its stamps file gave them (already in `records`)."""

    records: dict[str, tuple]
    nonce: bytes | None
    restamped: dict[str, tuple]


def no_cache() -> CacheFile:
    """A `CacheFile` of no file (a new one each time: its records are the caller's to fill)."""
    return CacheFile({}, None, {})


def read_cache(root: Path, fingerprint: str, name: str = "facts", stamp_field: int = 1) -> CacheFile:
    """The records of a cache file, each with the newer stamp its stamps file holds (`save_stamps`), if
    any. The file is a header (format, fingerprint, parts, nonce) and then the parts, each a dict of
    records, every blob preceded by its length; `stamp_field`: where a record holds its note's stamp."""
    records: dict[str, tuple] = {}
    try:
        # Mapped, not read: the parts are taken apart where the system keeps the file, not copied into fresh
        # memory first (the 22 MB `dense` cache: ~550 page faults and ~4 ms less, before a command's workers
        # fork). A cache file is only ever replaced whole (`_replace_cache_file`), never cut short under a
        # reader's mapping.
        with (
            open(_cache_file(root, name), "rb") as file,
            mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            header, at = _blob_at(data, 0)
            if not isinstance(header, tuple) or len(header) != 4 or header[:2] != (CACHE_FORMAT, fingerprint):
                return no_cache()
            for _ in range(header[2]):
                part, at = _blob_at(data, at)
                if not isinstance(part, dict):
                    return no_cache()
                records.update(part)
                _unmap_before(data, at)
    except (OSError, EOFError, ValueError, TypeError):  # ValueError: an empty file (no mapping) too
        return no_cache()
    nonce = header[3]
    restamped = _read_stamps(root, fingerprint, name, nonce, records)
    for path, stamp in restamped.items():
        record = records[path]
        records[path] = (*record[:stamp_field], stamp, *record[stamp_field + 1 :])
    return CacheFile(records, nonce, restamped)


def _read_stamps(
    root: Path, fingerprint: str, name: str, nonce: bytes, records: Mapping[str, object]
) -> dict[str, tuple]:
    """The stamps file's stamps by path, when it was written for the cache file of `nonce` (else none):
    only those of paths the cache file has a record of."""
    try:
        content = marshal.loads(_stamps_file(root, name).read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if (
        not isinstance(content, tuple)
        or len(content) != 4
        or content[:3] != (CACHE_FORMAT, fingerprint, nonce)
    ):
        return {}
    stamps = content[3]
    if not isinstance(stamps, dict):
        return {}
    return {path: stamp for path, stamp in stamps.items() if path in records and isinstance(stamp, tuple)}


def save_stamps(
    root: Path,
    fingerprint: str,
    cache: CacheFile | FactsCacheFile,
    stamps: dict[str, tuple],
    name: str = "facts",
) -> None:
    """Record newer stamps for notes whose bytes are still those of their records in the cache file `cache`
    was read from (`git checkout`, `undo`, a sync tool touching files), in a small stamps file beside it,
    instead of writing the whole cache again (~120 MB for 20,000 long notes). The stamps file names the
    cache file's nonce: once another writing replaces the cache file, it is ignored (and removed)."""
    if cache.nonce is None:
        return
    try:
        target = _stamps_file(root, name)
        temp = target.with_name(target.name + ".tmp")
        temp.write_bytes(
            marshal.dumps((CACHE_FORMAT, fingerprint, cache.nonce, {**cache.restamped, **stamps}))
        )
        os.replace(temp, target)
    except OSError:
        pass  # a read-only vault simply runs without a cache


class FactsCacheFile(NamedTuple):
    """What `read_facts_cache` read: each note's entry (its record left in the file), where the records are
    read, the file's nonce (None: no file was read) and the stamps its stamps file gave (already in the
    entries)."""

    entries: dict[str, Entry]
    source: RecordSource | None
    nonce: bytes | None
    restamped: dict[str, tuple]


def no_facts_cache() -> FactsCacheFile:
    """A `FactsCacheFile` of no file."""
    return FactsCacheFile({}, None, None, {})


def read_facts_cache(root: Path, fingerprint: str) -> FactsCacheFile:
    """The facts cache's keys (`record_file.read_keyed`), each with the newer stamp its stamps file holds,
    if any; the records stay in the file until taken. Missing, foreign, stale or damaged: no entries."""
    try:
        with open(_cache_file(root, "facts"), "rb") as file:
            header = _read_blob(file)
            if (
                not isinstance(header, tuple)
                or len(header) != 5
                or header[:2] != (CACHE_FORMAT, fingerprint)
                or header[4] != FACTS_LAYOUT
            ):
                return no_facts_cache()
            entries, source = read_keyed(file, header[2])
    except (OSError, EOFError, ValueError, TypeError):
        return no_facts_cache()
    nonce = header[3]
    restamped = _read_stamps(root, fingerprint, "facts", nonce, entries)
    for path, stamp in restamped.items():
        entries[path] = entries[path].restamped(stamp)
    return FactsCacheFile(dict(entries), source, nonce, restamped)


def save_facts_cache(
    root: Path, fingerprint: str, entries: Mapping[str, Entry], source: RecordSource | None
) -> None:
    """Write the facts cache: `entries`' records in parts, those left in the old file (`OnDisk`) read from
    `source` a part at a time as they are written."""
    try:
        folder = state_dir(root) / "cache"
        folder.mkdir(exist_ok=True)
        temp = _cache_file(root, "facts").with_suffix(".tmp")
        header = (*_cache_header(fingerprint, parts_of(len(entries), CACHE_PART)), FACTS_LAYOUT)
        with open(temp, "wb") as file:
            write_keyed(file, header, entries, source, CACHE_PART)
        _replace_cache_file(root, "facts", temp)
    except OSError:
        pass  # a read-only vault simply runs without a cache


def _blob_at(data: mmap.mmap, at: int) -> tuple[Any, int]:
    """The blob at offset `at` of a mapped cache file (see `_read_blob`), and the offset of the next."""
    start = at + 8
    end = start + int.from_bytes(data[at:start], "little")
    if start > len(data) or end > len(data):
        raise EOFError("a cache part runs past the end of its file")  # cut short, or not a length at all
    with memoryview(data) as view, view[start:end] as blob:
        return marshal.loads(blob), end


def _unmap_before(data: mmap.mmap, at: int) -> None:
    """Take the mapped file's pages before offset `at` (parts already read) out of the process: they count
    in its resident memory while mapped (a 100,000-note check cache is ~70 MB; read a part at a time, no
    more than a part was ever held). The system keeps them cached; nothing reads them again."""
    whole_pages = at - at % mmap.PAGESIZE
    if whole_pages and hasattr(mmap, "MADV_DONTNEED"):
        data.madvise(mmap.MADV_DONTNEED, 0, whole_pages)


def _read_blob(file: BinaryIO) -> Any:
    size = int.from_bytes(file.read(8), "little")
    if size > os.fstat(file.fileno()).st_size - file.tell():
        raise EOFError("a cache part runs past the end of its file")  # cut short, or not a length at all
    return marshal.loads(file.read(size))


def save_cache(root: Path, fingerprint: str, records: dict[str, tuple], name: str = "facts") -> None:
    """A cache file of dict parts (the check cache's layout) holding `records`, `CACHE_PART` to a part."""
    items = iter(records.items())
    parts = [
        marshal.dumps(dict(itertools.islice(items, CACHE_PART)))
        for _ in range(parts_of(len(records), CACHE_PART))
    ]
    save_cache_parts(root, fingerprint, parts, name)


def save_cache_parts(root: Path, fingerprint: str, parts: list[bytes], name: str = "facts") -> None:
    """`save_cache` of records already marshalled: each part is `marshal.dumps` of a dict of records."""
    writer = CacheWriter(root, fingerprint, name)
    for part in parts:
        writer.append(part)
    writer.finish()


class CacheWriter:
    """A cache file (see `read_cache`) written a part at a time, as the parts come, then put in place whole
    (`finish`). A first `check` hands it each chunk's part as its workers send them: the ~20 MB are written
    while they check the next chunks, not after them (30-45 ms at the end of a 1.1 s first `check` of 20,000
    notes). The file is written under a name of its own (this process's, and random), so two commands writing
    at once (a `check` beside a batch's) never write into one file; the one put in place last is kept. Those
    of processes that no longer run (killed while writing) are removed first, as the spill files are (see
    `_remove_orphans`). Any system error drops the file: a read-only vault simply runs without a cache."""

    def __init__(self, root: Path, fingerprint: str, name: str) -> None:
        self._root, self._fingerprint, self._name = root, fingerprint, name
        self._nonce = os.urandom(8)
        self._parts = 0
        self._handle = -1
        self._temp: Path | None = None
        # The header comes first but names the number of parts: room is kept for it, filled in at the end.
        self._header_size = len(self._header())
        try:
            folder = state_dir(root) / "cache"
            folder.mkdir(exist_ok=True)
            prefix = _writing_prefix(root, name)
            _remove_orphans(folder, prefix)
            self._temp = folder / f"{prefix}{os.getpid()}-{os.urandom(4).hex()}"
            self._handle = os.open(self._temp, _TEMP_FLAGS, 0o666)
            write_all(self._handle, [self._header()])
        except OSError:
            self.abandon()

    def _header(self) -> bytes:
        header = marshal.dumps(_cache_header(self._fingerprint, self._parts, self._nonce))
        return _length(header) + header

    def append(self, part: bytes) -> None:
        """Write the next part (`marshal.dumps` of a dict of records)."""
        if self._handle < 0:
            return
        try:
            write_all(self._handle, [_length(part), part])
            self._parts += 1
        except OSError:
            self.abandon()

    def finish(self) -> None:
        """Name the parts in the header and put the file in place (nothing when a write failed)."""
        if self._handle < 0 or self._temp is None:
            return
        try:
            header = self._header()
            # An int below 2**31 is marshalled in 5 bytes whatever its value: the room kept always fits.
            if len(header) != self._header_size:
                raise OSError("the cache header changed size")
            os.lseek(self._handle, 0, os.SEEK_SET)
            write_all(self._handle, [header])
            os.close(self._handle)
            self._handle = -1
            _replace_cache_file(self._root, self._name, self._temp)
        except OSError:
            self.abandon()

    def abandon(self) -> None:
        """Drop the file written so far (a failed write, or the command failed before `finish`)."""
        if self._handle >= 0:
            with contextlib.suppress(OSError):
                os.close(self._handle)
            self._handle = -1
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()


# How a cache file is created: new (never another writer's), closed on exec, binary on Windows.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _writing_prefix(root: Path, name: str) -> str:
    """The start of the name of a cache file `CacheWriter` is writing; the writer's process id follows."""
    return f"{_cache_file(root, name).stem}.writing-"


def _length(blob: bytes) -> bytes:
    """The length that precedes each blob of a cache file."""
    return len(blob).to_bytes(8, "little")


def write_all(fd: int, buffers: list[bytes]) -> None:
    """Write the buffers to `fd` in order, with as few `os.writev` calls as the system takes (each at most
    `IOV_MAX` buffers; a short write goes on from where it stopped): a part and its length without joining
    them first. One `os.write` a buffer where there is no `writev` (Windows)."""
    pending: list[bytes | memoryview] = [buffer for buffer in buffers if buffer]
    while pending:
        batch = pending[:_IOV_MAX]
        written = os.writev(fd, batch) if _WRITEV is not None else os.write(fd, batch[0])
        if written <= 0:  # a regular file takes something or fails: never loop on nothing written
            raise OSError(f"writing to file descriptor {fd} made no progress")
        done = 0
        while done < len(batch) and written >= len(batch[done]):
            written -= len(batch[done])
            done += 1
        if done < len(batch):
            batch[done] = memoryview(batch[done])[written:]
        pending = batch[done:] + pending[len(batch) :]


_WRITEV = getattr(os, "writev", None)  # None on Windows
# Buffers one `os.writev` takes (POSIX guarantees at least 16; Linux takes 1,024).
_IOV_MAX = max(16, os.sysconf("SC_IOV_MAX")) if "SC_IOV_MAX" in getattr(os, "sysconf_names", {}) else 16


def collect_records(
    root: Path,
    paths: Iterable[str],
    options: FactsOptions,
    fingerprint: str,
    *,
    use_cache: bool = True,
    complete: bool = True,
    on_progress: Callable[[str, int, int], None] | None = None,
    saving: list[Callable[[], None]] | None = None,
    index_words: GitAsker | None = None,
) -> FactRecords:
    """Facts for every path as plain cache records by path, in the order of `paths` (unreadable notes left
    out): cached ones whose stamp still matches, the rest parsed (and cached). `facts_of_record` turns one
    into `NoteFacts`; holding the records, not the facts, keeps one compact copy of a big vault in memory,
    and forked workers can each build the facts of their share. A cached record stays in the cache file
    until taken (`FactRecords.pop`, see `record_file`): forked workers each read their own. `complete`
    says `paths` is every note of the vault, so cache entries of other paths can be dropped. `saving`: see
    `_save`. `index_words`: git's word on notes whose stamp changed (see `GitVouch`)."""
    paths = list(paths)
    cache = read_facts_cache(root, fingerprint) if use_cache else no_facts_cache()
    cached, source = cache.entries, cache.source
    reparse = functools.partial(_parse_one, str(root), options)
    if source is not None:
        source.reparse = reparse
    in_cache = len(cached)
    records, stale, moved_stamps = _fresh_entries(root, paths, cached)
    restamped: dict[str, tuple] = {}
    spill = (
        _Spill.open(root, fingerprint, len(stale), source) if use_cache and forks_for(len(stale)) else None
    )
    if stale:
        notes = _StaleNotes(cached, records, moved_stamps, index_words, spill)
        try:
            stale, restamped = _parse_stale(root, stale, options, notes, on_progress)
        except BaseException:
            if spill is not None:
                spill.abandon()
            raise
    saved = False
    if spill is not None:
        source = spill.finish(source, records, reparse)
        saved = spill.settle(root, as_cache=complete and spill.holds_all(records))
    changed = restamped or stale or (complete and len(cached) != len(records))
    if use_cache and changed and not saved:
        if not stale and cache.nonce is not None and (not complete or len(records) == in_cache):
            # Every record is the cache file's, some under a newer stamp: only the stamps are written.
            save_stamps(root, fingerprint, cache, restamped)
        else:
            _save(root, fingerprint, records if complete else {**cached, **records}, source, saving)
    del cached
    if stale or restamped:
        records = {path: records[path] for path in paths if path in records}  # in the order of `paths`
    return FactRecords(records, source)


def _fresh_entries(
    root: Path, paths: list[str], cached: dict[str, Entry]
) -> tuple[dict[str, Entry], list[str], dict[str, tuple[int, int, int, int]]]:
    """The cached entries of `paths` whose note has their stamp, the other paths (stale, in order; a
    path that cannot be stamped is left out) and the current stamps of the stale ones the cache has."""
    records: dict[str, Entry] = {}
    stale: list[str] = []
    moved_stamps: dict[str, tuple[int, int, int, int]] = {}
    root_text = str(root)
    for path in paths:
        entry = cached.get(path)
        if entry is not None:
            try:
                current = stamp_of(f"{root_text}/{path}")
            except OSError:
                continue
            if tuple(cast(OnDisk, entry).stamp) == current:
                records[path] = entry
                continue
            moved_stamps[path] = current
        stale.append(path)
    return records, stale, moved_stamps


class _Spill:
    """A big run's parsed records, written to a new facts cache file as they come (`KeyedWriter`) and held
    as `OnDisk` entries: on 100,000 long notes the parent then never holds ~800 MB of records (nor the
    heap they leave behind), and the scan's forked workers read their own. When every record of the vault
    is in it (a first run, a checkout that changed every note), the file becomes the cache as it is; else
    it is read like the cache file beside it, and the cache is written as before. Where it cannot be
    written (a full disk), the records not yet written are kept in memory instead."""

    def __init__(self, temp: Path, file: BinaryIO, writer: KeyedWriter) -> None:
        self.temp = temp
        self.file = file
        self.writer = writer
        self.broken = False  # a write failed: the records since are kept in memory

    @classmethod
    def open(cls, root: Path, fingerprint: str, expected: int, source: RecordSource | None) -> _Spill | None:
        """A new spill file, named for this process: two runs at once never write one file. Those of
        processes that ended without removing theirs (killed) are removed first."""
        header = (*_cache_header(fingerprint, parts_of(expected, CACHE_PART)), FACTS_LAYOUT)
        try:
            (state_dir(root) / "cache").mkdir(exist_ok=True)
            _remove_orphan_spills(root)
            temp = _cache_file(root, "facts").with_name(f"{SPILL_PREFIX}{os.getpid()}")
            file = open(temp, "w+b")  # noqa: SIM115  # held until `finish`, across the parse
            first = source.part_count if source is not None else 0
            return cls(temp, file, KeyedWriter(file, header, CACHE_PART, first))
        except OSError:
            return None

    def abandon(self) -> None:
        """The run stopped before the spill was settled (Ctrl-C, an error): its file goes."""
        self.file.close()
        with contextlib.suppress(OSError):
            self.temp.unlink()

    def add(self, record: tuple, records: dict[str, Entry]) -> Entry:
        """`record`'s entry: on disk, or the record itself once writing failed (then the records of the
        part not written are put back in `records` too)."""
        if self.broken:
            return record
        try:
            return self.writer.add(record)
        except OSError:
            self._give_up(records)
            return record

    def finish(
        self, source: RecordSource | None, records: dict[str, Entry], reparse: Callable[[str], tuple | None]
    ) -> RecordSource | None:
        """The record source with the written parts in it (a new one if there was none)."""
        writer = self.writer
        if not self.broken:
            try:
                writer.finish()
            except OSError:
                self._give_up(records)
        if not writer.places:
            self.file.close()
            return source
        fd = os.dup(self.file.fileno())
        self.file.close()
        if source is None:
            source = RecordSource(fd, writer.places, writer.counts)
            source.reparse = reparse
        else:
            source.add_file(fd, writer.places, writer.counts)
        return source

    def holds_all(self, records: dict[str, Entry]) -> bool:
        return not self.broken and self.writer.written == len(records)

    def settle(self, root: Path, *, as_cache: bool) -> bool:
        """Put the file in place as the facts cache (`as_cache`), else remove its name (its records are
        still read through the open descriptor); whether it is the cache now."""
        try:
            if as_cache:
                _replace_cache_file(root, "facts", self.temp)
                return True
            self.temp.unlink()
        except OSError:
            with contextlib.suppress(OSError):
                self.temp.unlink()
        return False

    def _give_up(self, records: dict[str, Entry]) -> None:
        for record in self.writer.pending:
            records[record[0]] = record
        self.broken = True


# A spill file's name, before the id of the process writing it.
SPILL_PREFIX = f"facts-v{CACHE_FORMAT}.spill-"


def _remove_orphan_spills(root: Path) -> None:
    """Remove the spill files of processes that no longer run (a run killed while it parsed)."""
    _remove_orphans(state_dir(root) / "cache", SPILL_PREFIX)


def _remove_orphans(folder: Path, prefix: str) -> None:
    """Remove the files of `folder` named `prefix`, a process id and maybe `-` and more, whose process no
    longer runs (killed while it wrote them)."""
    for leftover in folder.glob(f"{prefix}*"):
        pid = leftover.name.removeprefix(prefix).partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                leftover.unlink()


# Whether `os.kill(pid, 0)` asks whether a process runs: on Windows it ends it (or sends Ctrl-C) instead.
_CAN_ASK_PROCESSES = os.name != "nt"


def _running(pid: int) -> bool:
    if not _CAN_ASK_PROCESSES:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: running
    return True


def _parse_one(root: str, options: FactsOptions, path: str) -> tuple | None:
    """A note's record parsed again (its cached one could not be read back), None when it cannot be read."""
    parsed = _parse_chunk(root, [path], options, {}, None)
    return parsed[0][0] if parsed else None


# Asks git's word on the vault's files (`git.read_index_words`); None when git cannot give it.
GitAsker = Callable[[], "IndexWords | None"]


class _StaleNotes(NamedTuple):
    """What `_parse_stale` works from: the cache file's entries, the entries kept so far (filled), the
    current stamps of the notes whose stamp moved, and where to ask git about them."""

    cached: dict[str, Entry]
    records: dict[str, Entry]
    moved_stamps: dict[str, tuple[int, int, int, int]]
    index_words: GitAsker | None
    spill: _Spill | None = None  # where parsed records go instead of memory (a big run's)


def _parse_stale(
    root: Path,
    stale: list[str],
    options: FactsOptions,
    notes: _StaleNotes,
    on_progress: Callable[[str, int, int], None] | None,
) -> tuple[list[str], dict[str, tuple]]:
    """Put the records of the `stale` notes in `notes.records`, each cached one let go as its replacement
    comes. Returns the notes parsed again and the new stamps of those whose bytes were still their cached
    record's (kept in the cache file, under the new stamp)."""
    cached, records = cast(dict[str, OnDisk], notes.cached), notes.records
    restamped: dict[str, tuple] = {}
    vouch = GitVouch.ask(root, notes.index_words, notes.moved_stamps, len(stale) + len(records))
    if vouch is not None:
        kept, stale = vouch.split(stale, notes.moved_stamps, lambda path: cached[path].digest)
        for path, current in kept.items():
            records[path] = cached.pop(path).restamped(current)
        restamped.update(kept)
    # A changed stamp with the same bytes (`git checkout`, `undo`, a sync tool touching files) keeps
    # its record: the note is read and hashed, not parsed again.
    known = {path: cached[path].digest for path in stale if path in cached}
    learned: dict[bytes, bytes] = {}
    parsed: list[str] = []
    words = None if vouch is None else vouch.words
    for record in parse_records(root, stale, options, on_progress, known, words, learned):
        path = record[0]
        old = cached.pop(path, None)
        if len(record) == 3:  # the bytes of `old`, the record it had: kept under the new stamp
            restamped[path] = record[1]
            records[path] = cast(OnDisk, old).restamped(record[1])
        else:
            parsed.append(path)
            records[path] = record if notes.spill is None else notes.spill.add(record, records)
    if vouch is not None:
        vouch.save(learned, len(records) + len(cached))
    return parsed, restamped


# What asking git costs (`git rev-parse`, then reading the index: ~1.5 µs an entry) and what it saves a
# note whose stamp moved (opening and reading it, ~10 µs, and its bytes at ~0.5 ns each).
GIT_ASK_SECONDS = 0.005
INDEX_ENTRY_SECONDS = 1.5e-6
NOTE_READ_SECONDS = 10e-6
BYTE_READ_SECONDS = 0.5e-9


class GitVouch:
    """git's word on the notes whose stamp moved (`git reset --hard` or a checkout that wrote them again)
    and what earlier runs learned of blobs: a cache (facts, check) keeps, without reading it, a note's
    record when git's index names the blob the file holds at its current stamp (`IndexWords.blob_for`)
    and a note read earlier as that blob had the record's digest (`read_blob_digests`). After a reset that
    rewrote 20,000 long notes with the same bytes, that is 600 MB not read again. Notes read meanwhile
    teach the digests of their blobs (`read_as_git_saw`), for the next time."""

    def __init__(self, root: Path, words: IndexWords, digests_of: dict[bytes, bytes]) -> None:
        self.root = root
        self.words = words
        self._digests_of = digests_of

    @classmethod
    def ask(
        cls, root: Path, asker: GitAsker | None, moved: dict[str, tuple[int, int, int, int]], vault_notes: int
    ) -> GitVouch | None:
        """git's word, asked only when reading the moved notes would cost more than reading git's index
        (~1,500 of 20,000 long notes, ~3,500 short ones); None when not asked or git cannot tell."""
        if asker is None or not moved:
            return None
        reading = (
            len(moved) * NOTE_READ_SECONDS + sum(stamp[0] for stamp in moved.values()) * BYTE_READ_SECONDS
        )
        if reading < GIT_ASK_SECONDS + vault_notes * INDEX_ENTRY_SECONDS:
            return None
        words = asker()
        return None if words is None else cls(root, words, read_blob_digests(root))

    def keeps(self, path: str, current: tuple[int, int, int, int], digest: bytes) -> bool:
        """Whether the note at `path`, of stamp `current`, holds bytes of this `content_digest` by git's word.
        The digest's size is checked against the whole size too: git keeps its low 32 bits."""
        blob = self.words.blob_for(path, current)
        return (
            blob is not None
            and self._digests_of.get(blob) == digest
            and int.from_bytes(digest[:8], "little") == current[0]
        )

    def split(
        self,
        stale: list[str],
        moved: dict[str, tuple[int, int, int, int]],
        digest_of: Callable[[str], bytes],
    ) -> tuple[dict[str, tuple[int, int, int, int]], list[str]]:
        """The stale notes git vouches still hold their cached bytes (path → current stamp) and the others,
        left to read, in order. `moved`: the current stamp of each note with a cached record, whose
        `content_digest` `digest_of` gives."""
        kept: dict[str, tuple[int, int, int, int]] = {}
        left = []
        for path in stale:
            current = moved.get(path)
            if current is not None and self.keeps(path, current, digest_of(path)):
                kept[path] = current
            else:
                left.append(path)
        return kept, left

    def save(self, learned: dict[bytes, bytes], notes: int) -> None:
        """Keep the blob digests learned this run (`parse_records`' `learned`), the newest last."""
        if not learned:
            return
        digests_of = self._digests_of
        for blob in learned:
            digests_of.pop(blob, None)  # learned again: it goes to the end, with the newest
        digests_of.update(learned)
        save_blob_digests(self.root, digests_of, notes)


def _blob_digests_file(root: Path) -> Path:
    return root / ".vaulttools" / "cache" / f"blob-digests-v{CACHE_FORMAT}.marshal"


def read_blob_digests(root: Path) -> dict[bytes, bytes]:
    """The `content_digest` of each blob id whose bytes a note was read as (`read_as_git_saw`): a fact about
    bytes, not about a note, so it holds across caches and runs. Empty when missing, damaged or of another
    `quick_sum`."""
    try:
        content = marshal.loads(_blob_digests_file(root).read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(content, tuple) or len(content) != 3 or content[:2] != (CACHE_FORMAT, _sum_name()):
        return {}
    return content[2] if isinstance(content[2], dict) else {}


# The digests file keeps at most this many blobs a note (older blobs are of bytes the notes no longer hold).
BLOB_DIGESTS_PER_NOTE = 3


def save_blob_digests(root: Path, digests_of: dict[bytes, bytes], notes: int) -> None:
    """Write the blob digests; past `BLOB_DIGESTS_PER_NOTE` a note, the first in `digests_of` go first (a dict
    keeps the order of insertion: `GitVouch.save` puts the newest last)."""
    excess = len(digests_of) - BLOB_DIGESTS_PER_NOTE * max(notes, 1)
    if excess > 0:
        digests_of = dict(itertools.islice(digests_of.items(), excess, None))
    try:
        target = _blob_digests_file(root)
        temp = target.with_name(target.name + ".tmp")
        temp.write_bytes(marshal.dumps((CACHE_FORMAT, _sum_name(), digests_of)))
        os.replace(temp, target)
    except OSError:
        pass  # a read-only vault simply runs without a cache


def _sum_name() -> str:
    return digests.quick_sum_name()


def _save(
    root: Path,
    fingerprint: str,
    entries: dict[str, Entry],
    source: RecordSource | None,
    saving: list[Callable[[], None]] | None,
) -> None:
    """`save_facts_cache` now, or, given `saving` and records enough for a big run, in a forked copy of
    this process, whose wait is appended to `saving`: the copy reads the records left in the old file
    itself, and the caller goes on (sync-related scans them on every core) while it writes ~120 MB for
    20,000 long notes. The caller waits for it before its command ends; a copy that fails (killed, out of
    memory) fails nothing but the cache, as a write that `save_facts_cache` cannot make."""
    if saving is None or not forks_for(len(entries)):
        save_facts_cache(root, fingerprint, entries, source)
        return
    saved = in_fork(lambda: save_facts_cache(root, fingerprint, entries, source))

    def wait() -> None:
        # The cache is only an accelerator: the next run finds it stale and rebuilds it.
        with contextlib.suppress(Exception):
            saved()

    saving.append(wait)
