"""The facts cache's keyed file: keys read up front, records only when taken, a part at a time, through
the descriptor the keys were read from; whatever cannot be read back is parsed again."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ended_process_id, make_git_vault
from vaulttools import facts, parallel, record_file
from vaulttools.record_file import FactRecords, OnDisk
from vaulttools.vault import Vault

# Records as the cache holds them: path first, stamp second, content digest last.
RECORDS = {f"n{n:04d}.md": (f"n{n:04d}.md", (n, 2, 3, 4), f"facts {n}", bytes([n]) * 16) for n in range(23)}


def _saved(root: Path, monkeypatch: pytest.MonkeyPatch, part: int = 5) -> facts.FactsCacheFile:
    monkeypatch.setattr(facts, "CACHE_PART", part)
    facts.save_facts_cache(root, "print", dict(RECORDS), None)
    return facts.read_facts_cache(root, "print")


def _reparsed_as(cache: facts.FactsCacheFile, made: list[str]) -> None:
    assert cache.source is not None

    def reparse(path: str) -> tuple:
        made.append(path)
        return (path, (0, 0, 0, 0), "parsed again", b"")

    cache.source.reparse = reparse


@pytest.mark.parametrize("part", [1, 5, 23, 4096])
def test_the_keys_come_first_and_the_records_when_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: int
) -> None:
    cache = _saved(tmp_path, monkeypatch, part)
    assert list(cache.entries) == list(RECORDS)
    assert all(isinstance(entry, OnDisk) for entry in cache.entries.values())
    assert {p: (e.stamp, e.digest) for p, e in cache.entries.items()} == {
        p: (r[1], r[-1]) for p, r in RECORDS.items()
    }
    assert cache.source is not None and record_file.held_parts(cache.source) == 0  # no record read yet
    records = FactRecords(dict(cache.entries), cache.source)
    assert records == RECORDS and list(records) == list(RECORDS)
    taken = {path: records.pop(path) for path in list(records)}
    assert taken == RECORDS and len(records) == 0
    assert record_file.held_parts(cache.source) == 0  # every part let go once its records were taken


def test_a_worker_taking_its_notes_in_order_holds_one_part_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = _saved(tmp_path, monkeypatch, part=5)
    assert cache.source is not None
    records = FactRecords(dict(cache.entries), cache.source)
    most = 0
    for path in list(records):
        records.pop(path)
        most = max(most, record_file.held_parts(cache.source))
    assert most == 1


def test_forgotten_records_are_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent lets go of the records its forked workers took: it reads none of them."""
    cache = _saved(tmp_path, monkeypatch)
    assert cache.source is not None
    read: list[int] = []
    real = record_file.RecordSource._read_part
    monkeypatch.setattr(
        record_file.RecordSource, "_read_part", lambda self, n: read.append(n) or real(self, n)
    )
    records = FactRecords(dict(cache.entries), cache.source)
    for path in list(RECORDS)[:12]:
        records.forget(path)
    assert read == [] and len(records) == 11
    assert records.pop(list(RECORDS)[12]) == RECORDS[list(RECORDS)[12]]
    assert read == [2]  # the part of the record taken, only


def test_a_stamp_moved_since_the_record_was_written_comes_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = _saved(tmp_path, monkeypatch)
    path = "n0003.md"
    facts.save_stamps(tmp_path, "print", cache, {path: (9, 9, 9, 9)})
    again = facts.read_facts_cache(tmp_path, "print")
    assert again.restamped == {path: (9, 9, 9, 9)}
    records = FactRecords(dict(again.entries), again.source)
    assert records[path] == (path, (9, 9, 9, 9), *RECORDS[path][2:])
    assert records["n0004.md"] == RECORDS["n0004.md"]


@pytest.mark.parametrize("damage", ["cut", "garbage length", "empty", "dict parts", "another layout"])
def test_a_damaged_or_foreign_facts_cache_reads_as_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    _saved(tmp_path, monkeypatch)
    file = tmp_path / ".vaulttools" / "cache" / f"facts-v{facts.CACHE_FORMAT}.marshal"
    data = file.read_bytes()
    if damage == "dict parts":  # the layout before keys came first: every record in one dict per part
        facts.save_cache(tmp_path, "print", RECORDS)
    else:
        header = marshal.loads(data[8:])
        rest = data[8 + int.from_bytes(data[:8], "little") :]  # the parts, after the header
        file.write_bytes(
            {
                "cut": data[: len(data) - 7],  # the last part ends early
                "garbage length": data[: len(data) - len(rest)] + b"\xff" * 8 + rest[8:],  # past the end
                "empty": b"",
                "another layout": _blob(marshal.dumps((*header[:4], "another"))) + rest,
            }[damage]
        )
    assert facts.read_facts_cache(tmp_path, "print") == ({}, None, None, {})


def _blob(blob: bytes) -> bytes:
    return len(blob).to_bytes(8, "little") + blob


@pytest.mark.parametrize("damage", ["garbage", "not a tuple", "another note's record", "another digest"])
def test_records_that_cannot_be_read_back_are_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """A part damaged after its keys were read, or a record that is not its key's: its notes are parsed
    again, never given another note's facts or stale ones."""
    cache = _saved(tmp_path, monkeypatch, part=5)
    file = tmp_path / ".vaulttools" / "cache" / f"facts-v{facts.CACHE_FORMAT}.marshal"
    assert cache.source is not None
    _, offset, size = cache.source._parts[1]  # the records of n0005..n0009
    part = list(marshal.loads(file.read_bytes()[offset : offset + size]))
    if damage == "another note's record":
        part[0] = part[1]  # n0005's record gone, n0006's twice
    elif damage == "another digest":
        part[0] = (*part[0][:-1], b"\x00" * 16)
    replacement = {
        "garbage": b"\xff" * size,
        "not a tuple": marshal.dumps({"n0005.md": part[0]}),
    }.get(damage, marshal.dumps(tuple(part)))
    assert len(replacement) <= size  # marshal ignores the zeros after it
    with open(file, "r+b") as handle:  # in place: the cache's descriptor sees it
        handle.seek(offset)
        handle.write(replacement[:size].ljust(size, b"\x00"))
    made: list[str] = []
    _reparsed_as(cache, made)
    reads: list[int] = []
    real = record_file.RecordSource._read_part
    monkeypatch.setattr(
        record_file.RecordSource, "_read_part", lambda self, n: reads.append(n) or real(self, n)
    )
    records = FactRecords(dict(cache.entries), cache.source)
    taken = {path: records.pop(path) for path in list(records)}
    assert reads == [0, 1, 2, 3, 4]  # each part read once, the damaged one too (not once a note)
    expected = {"garbage": 5, "not a tuple": 5, "another note's record": 1, "another digest": 1}[damage]
    assert made == list(RECORDS)[5 : 5 + expected]
    for path, record in taken.items():
        assert record == (RECORDS[path] if path not in made else (path, (0, 0, 0, 0), "parsed again", b""))


def test_a_cache_file_replaced_meanwhile_is_still_read_through_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache written aside (`facts._save`) replaces the file while records are still being taken: they
    come from the file whose keys were read."""
    cache = _saved(tmp_path, monkeypatch)
    facts.save_facts_cache(tmp_path, "print", {"other.md": ("other.md", (1, 1, 1, 1), "x", b"d")}, None)
    made: list[str] = []
    _reparsed_as(cache, made)
    records = FactRecords(dict(cache.entries), cache.source)
    assert {path: records.pop(path) for path in list(records)} == RECORDS and made == []


def test_sync_related_s_parent_reads_no_record_of_a_big_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked, the scan's workers read the cache's records, each its own notes'; the parent only the keys."""
    from vaulttools.related import scan_related

    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    monkeypatch.setattr(facts, "CACHE_PART", 2)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    first = scan_related(Vault(vault), Vault(vault).config.related)
    log = tmp_path / "reads"
    real = record_file.RecordSource._read_part

    def logged(self: record_file.RecordSource, number: int) -> dict[str, tuple]:
        with open(log, "a") as out:
            out.write(f"{os.getpid()}\n")
        return real(self, number)

    monkeypatch.setattr(record_file.RecordSource, "_read_part", logged)
    again = scan_related(Vault(vault), Vault(vault).config.related)
    readers = log.read_text().split()
    assert readers and str(os.getpid()) not in readers
    assert again.index.paths == first.index.paths and again.sections == first.sections


def _forked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    monkeypatch.setattr(facts, "CACHE_PART", 2)


def _unheld(records: FactRecords) -> bool:
    return all(isinstance(entry, OnDisk) for entry in records._entries.values())


def test_a_big_first_run_writes_its_records_as_the_cache_and_holds_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsed on forked workers, the records go to the new cache file as they come: the parent holds
    each as an entry to read back, and the file is the cache as written (no second writing)."""
    _forked(monkeypatch)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    expected = dict(Vault(vault).fact_records(use_cache=False))

    def no_second_writing(*args: object) -> None:
        raise AssertionError("the cache was written again")

    monkeypatch.setattr(facts, "save_facts_cache", no_second_writing)
    records = Vault(vault).fact_records()
    assert _unheld(records) and records == expected and list(records) == list(expected)
    assert [p.name for p in (vault / ".vaulttools" / "cache").iterdir()] == [
        f"facts-v{facts.CACHE_FORMAT}.marshal"
    ]
    again = Vault(vault).fact_records()
    assert _unheld(again) and again == expected  # read from the cache: nothing parsed


def test_a_big_run_that_changed_some_notes_spills_them_and_saves_the_whole_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forked(monkeypatch)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    Vault(vault).fact_records()
    paths = Vault(vault).note_paths
    for path in paths[::3]:
        note = vault / path
        note.write_bytes(note.read_bytes() + b"\nSee [[somewhere-new]].\n")
    expected = dict(Vault(vault).fact_records(use_cache=False))
    records = Vault(vault).fact_records()
    assert _unheld(records) and records == expected
    assert sorted(p.name for p in (vault / ".vaulttools" / "cache").iterdir()) == [
        f"facts-v{facts.CACHE_FORMAT}.marshal"
    ]
    cached = facts.read_facts_cache(vault, next(iter(_fingerprints(vault))))
    assert {p: e.stamp for p, e in cached.entries.items()} == {p: r[1] for p, r in expected.items()}


def _fingerprints(vault: Path) -> list[str]:
    [file] = (vault / ".vaulttools" / "cache").glob("facts-*")
    return [marshal.loads(file.read_bytes()[8:])[1]]


@pytest.mark.parametrize("fails_at", [0, 1, 3])
def test_a_spill_that_cannot_be_written_keeps_the_rest_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_at: int
) -> None:
    """A full disk while the records are written: those written are read back, the others (the part that
    failed among them) are kept in memory, and nothing is lost or wrong."""
    _forked(monkeypatch)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    expected = dict(Vault(vault).fact_records(use_cache=False))
    real = record_file.KeyedWriter._flush
    flushed: list[int] = []

    def failing(self: record_file.KeyedWriter) -> None:
        if len(flushed) == fails_at:
            raise OSError(28, "No space left on device")
        flushed.append(1)
        real(self)

    monkeypatch.setattr(record_file.KeyedWriter, "_flush", failing)
    records = Vault(vault).fact_records()
    assert records == expected and list(records) == list(expected)
    held = [path for path, entry in records._entries.items() if not isinstance(entry, OnDisk)]
    assert held == list(expected)[2 * fails_at :]
    assert not list((vault / ".vaulttools" / "cache").glob(f"{facts.SPILL_PREFIX}*"))


def test_a_run_stopped_while_it_parses_leaves_no_spill_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forked(monkeypatch)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(facts, "parse_records", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Vault(vault).fact_records()
    assert list((vault / ".vaulttools" / "cache").iterdir()) == []


def test_spill_files_of_processes_that_ended_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed while it parsed leaves its spill file: the next big run removes it, never a running
    process's."""
    _forked(monkeypatch)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    cache = vault / ".vaulttools" / "cache"
    cache.mkdir(parents=True)
    ended = ended_process_id()
    orphan = cache / f"{facts.SPILL_PREFIX}{ended}"
    running = cache / f"{facts.SPILL_PREFIX}{os.getppid()}"
    orphan.write_bytes(b"x" * 100)
    running.write_bytes(b"y")
    Vault(vault).fact_records()
    assert not orphan.exists() and running.exists()
