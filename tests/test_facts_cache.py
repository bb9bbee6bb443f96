"""The facts cache: kept by stamp, and by content when only the stamp changed (checkout, undo, touch); its
file written and read in parts."""

from __future__ import annotations

import functools
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import FIXTURES, ended_process_id, make_git_vault, rewrite_same_bytes
from vaulttools import facts
from vaulttools.vault import Vault


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from vaulttools import links

    parsed: list[str] = []
    real = links.find_links
    monkeypatch.setattr(links, "find_links", lambda n, *a, **k: parsed.append(n.path) or real(n, *a, **k))
    return parsed


def test_rewritten_with_the_same_bytes_is_not_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    first = Vault(vault).facts()
    _touch_every_note(vault)
    parsed = _count_parses(monkeypatch)
    again = Vault(vault).facts()
    assert parsed == []
    assert [f._replace(stamp=None) for f in again] == [f._replace(stamp=None) for f in first]
    assert all(a.stamp != b.stamp for a, b in zip(first, again, strict=True))
    parsed.clear()
    assert Vault(vault).facts() == again  # the new stamps were saved: a plain cache hit now
    assert parsed == []


def test_changed_bytes_are_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    Vault(vault).facts()
    victim = vault / paths[0]
    victim.write_bytes(victim.read_bytes() + b"\nSee [[somewhere-new]].\n")
    os.utime(victim, ns=(1, 1))
    parsed = _count_parses(monkeypatch)
    facts = {f.path: f for f in Vault(vault).facts()}
    assert parsed == [paths[0]]
    assert "somewhere-new" in [link.target for link in facts[paths[0]].links]


@pytest.mark.parametrize("forked", [False, True])
def test_stale_records_are_replaced_as_the_new_ones_come(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """Notes changed in their bytes, touched only, or left alone, read back a chunk at a time (on forked
    workers too): the facts of a parse without the cache, in path order, and saved for the next run."""
    from vaulttools import parallel

    if forked:
        monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
        monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
        monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    Vault(vault).facts()
    for number, path in enumerate(paths):
        data = (vault / path).read_bytes()
        if number % 3 == 0:
            data += f"\nSee [[new-{number}]].\n".encode()
        if number % 3 != 2:
            (vault / path).unlink()
            (vault / path).write_bytes(data)
    parsed = _count_parses(monkeypatch)
    got = Vault(vault).facts()
    if not forked:  # (forked workers parse in their own processes, unseen here)
        assert sorted(parsed) == [path for number, path in enumerate(paths) if number % 3 == 0]
    assert got == list(Vault(vault).iter_facts(use_cache=False))
    assert [f.path for f in got] == paths
    parsed.clear()
    assert Vault(vault).facts() == got and parsed == []  # saved: every note a plain cache hit now


def _touch_every_note(vault: Path) -> None:
    """New stamps (mtime, ctime, for some the inode), the same bytes: what `git checkout` or `undo` does."""
    for path in Vault(vault).note_paths:
        rewrite_same_bytes(vault, path)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = facts.read_stamped_batches
    monkeypatch.setattr(
        facts, "read_stamped_batches", lambda root, paths: read.extend(paths) or real(root, paths)
    )
    return read


def test_new_stamps_alone_go_to_a_stamps_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notes touched with the same bytes keep their records, and the cache file stays as it is: only their
    new stamps are written, beside it. The next run takes them from there and reads no note."""
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    first = Vault(vault).facts()
    cache_file = vault / ".vaulttools" / "cache" / f"facts-v{facts.CACHE_FORMAT}.marshal"
    stamps_file = cache_file.with_name(f"facts-v{facts.CACHE_FORMAT}.stamps.marshal")
    cached = cache_file.read_bytes()
    _touch_every_note(vault)
    again = Vault(vault).facts()
    assert [f._replace(stamp=None) for f in again] == [f._replace(stamp=None) for f in first]
    assert cache_file.read_bytes() == cached and stamps_file.exists()
    read = _count_reads(monkeypatch)
    assert Vault(vault).facts() == again and read == []  # every stamp from the stamps file
    _touch_every_note(vault)  # and again: the stamps file is written over, the cache file kept
    assert [f._replace(stamp=None) for f in Vault(vault).facts()] == [f._replace(stamp=None) for f in first]
    assert cache_file.read_bytes() == cached
    read.clear()
    assert Vault(vault).facts() == list(Vault(vault).iter_facts(use_cache=False)) and read != []
    read.clear()
    Vault(vault).facts()
    assert read == []


@pytest.mark.parametrize("change", ["bytes", "deleted"])
def test_a_changed_or_deleted_note_writes_the_whole_cache_and_drops_the_stamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A note parsed again (or one gone) besides notes only touched: the whole cache is written, under a
    new nonce, and the stamps file of the old one is removed."""
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    Vault(vault).facts()
    _touch_every_note(vault)
    Vault(vault).facts()
    folder = vault / ".vaulttools" / "cache"
    stamps_file = folder / f"facts-v{facts.CACHE_FORMAT}.stamps.marshal"
    assert stamps_file.exists()
    header = marshal.loads((folder / f"facts-v{facts.CACHE_FORMAT}.marshal").read_bytes()[8:])
    _touch_every_note(vault)
    victim = vault / Vault(vault).note_paths[0]
    if change == "bytes":
        victim.write_bytes(victim.read_bytes() + b"\nSee [[somewhere-new]].\n")
    else:
        victim.unlink()
    got = Vault(vault).facts()
    assert got == list(Vault(vault).iter_facts(use_cache=False))
    assert not stamps_file.exists()
    new_header = marshal.loads((folder / f"facts-v{facts.CACHE_FORMAT}.marshal").read_bytes()[8:])
    assert new_header[:2] == header[:2] and new_header[3] != header[3]  # the same fingerprint, a new nonce
    read = _count_reads(monkeypatch)
    assert Vault(vault).facts() == got and read == []


@pytest.mark.parametrize(
    "damage", ["another nonce", "another fingerprint", "garbage", "not a dict", "no note"]
)
def test_a_stamps_file_of_another_cache_or_damaged_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """A stamps file gives a record a new stamp only for the cache file it names; else (or damaged) the
    records keep the cache file's stamps, and touched notes are read and summed again."""
    monkeypatch.setattr(facts, "CACHE_PART", 5)
    facts.save_cache(tmp_path, "print", RECORDS)
    cache = facts.read_cache(tmp_path, "print")
    assert cache.nonce is not None and cache.restamped == {}
    new_stamps = {path: (9, 9, 9, 9) for path in list(RECORDS)[:4]}
    facts.save_stamps(tmp_path, "print", cache, new_stamps)
    restamped = facts.read_cache(tmp_path, "print")
    assert restamped.restamped == new_stamps
    assert restamped.records == {p: (r[0], new_stamps.get(p, r[1]), *r[2:]) for p, r in RECORDS.items()}
    stamps_file = tmp_path / ".vaulttools" / "cache" / f"facts-v{facts.CACHE_FORMAT}.stamps.marshal"
    content = marshal.loads(stamps_file.read_bytes())
    stamps_file.write_bytes(
        {
            "another nonce": marshal.dumps((*content[:2], b"12345678", content[3])),
            "another fingerprint": marshal.dumps((content[0], "another print", *content[2:])),
            "garbage": b"\xff" * 30,
            "not a dict": marshal.dumps((*content[:3], [1, 2])),
            "no note": marshal.dumps((*content[:3], {"gone.md": (1, 2, 3, 4)})),
        }[damage]
    )
    assert facts.read_cache(tmp_path, "print") == (RECORDS, cache.nonce, {})


def test_check_entries_take_their_stamps_first(tmp_path: Path) -> None:
    """A check entry holds its note's stamp first, a facts record second: the stamps go where each keeps it."""
    entries = {"a.md": ((1, 2, 3, 4), "kinds", 0)}
    facts.save_cache(tmp_path, "print", entries, name="check")
    cache = facts.read_cache(tmp_path, "print", "check", stamp_field=0)
    facts.save_stamps(tmp_path, "print", cache, {"a.md": (5, 6, 7, 8)}, name="check")
    assert facts.load_cache(tmp_path, "print", "check", stamp_field=0) == {"a.md": ((5, 6, 7, 8), "kinds", 0)}


RECORDS = {f"n{n:04d}.md": (f"n{n:04d}.md", (n, 2, 3, 4), None, b"\x00" * n) for n in range(23)}


@pytest.mark.parametrize("part", [1, 5, 23, 4096])
def test_the_cache_is_written_and_read_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: int
) -> None:
    """However many parts the records take, they read back whole and in their order."""
    monkeypatch.setattr(facts, "CACHE_PART", part)
    facts.save_cache(tmp_path, "print", RECORDS)
    loaded = facts.load_cache(tmp_path, "print")
    assert loaded == RECORDS and list(loaded) == list(RECORDS)
    assert facts.load_cache(tmp_path, "another print") == {}
    facts.save_cache(tmp_path, "print", {})
    assert facts.load_cache(tmp_path, "print") == {}


def _last_part_said_longer(data: bytes) -> bytes:
    """A cache file whose last part's length says five bytes more than the file holds (its bytes intact)."""
    at, starts = 0, []
    while at < len(data):
        starts.append(at)
        at += 8 + int.from_bytes(data[at : at + 8], "little")
    last = starts[-1]
    longer = int.from_bytes(data[last : last + 8], "little") + 5
    return data[:last] + longer.to_bytes(8, "little") + data[last + 8 :]


@pytest.mark.parametrize(
    "damage", ["cut", "cut in a length", "a length past the end", "garbage", "empty", "old format"]
)
def test_a_damaged_or_foreign_cache_reads_as_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    monkeypatch.setattr(facts, "CACHE_PART", 5)
    facts.save_cache(tmp_path, "print", RECORDS)
    [file] = (tmp_path / ".vaulttools" / "cache").iterdir()
    data = file.read_bytes()
    damaged = {
        "cut": data[: len(data) - 7],  # the last part ends early
        "cut in a length": data[:5],  # not even the header's length whole
        "a length past the end": _last_part_said_longer(data),
        "garbage": data[:40] + b"\xff" * 20 + data[60:],
        "empty": b"",
        "old format": marshal.dumps((facts.CACHE_FORMAT, "print", RECORDS)),  # one blob, no lengths
    }[damage]
    file.write_bytes(damaged)
    assert facts.load_cache(tmp_path, "print") == {}


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        (b"hello", b"hello", True),
        (b"hello", b"hellx", False),  # the same size, other bytes
        (b"hello", b"hello!", False),
        (b"", b"", True),
        (b"\x16a\xc0\n", b"\xb3\xadl\xaa\x8a", False),  # the same CRC-32: the size tells them apart
    ],
)
def test_content_digest(before: bytes, after: bytes, same: bool) -> None:
    assert (facts.content_digest(before) == facts.content_digest(after)) is same


def test_other_bytes_of_the_same_size_under_a_new_stamp_are_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    Vault(vault).facts()
    victim = vault / paths[0]
    data = victim.read_bytes()
    changed = data.replace(b"[[", b"[[x", 1)[:-1]  # a link renamed, the size kept
    assert len(changed) == len(data) and changed != data
    victim.unlink()
    victim.write_bytes(changed)
    parsed = _count_parses(monkeypatch)
    Vault(vault).facts()
    assert parsed == [paths[0]]


@pytest.mark.parametrize("forked", [False, True])
def test_sync_related_waits_for_the_cache_it_writes_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """A big run's scan writes the facts cache in a forked copy while it goes on (`facts._save`), and
    waits for it before it returns: the cache then holds every note under its new stamp, however slow
    the copy is."""
    import time

    from vaulttools import parallel
    from vaulttools.related import scan_related

    if forked:
        monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
        monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
        monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    Vault(vault).facts()
    _touch_every_note(vault)  # new stamps, the same bytes ...
    changed = vault / Vault(vault).note_paths[0]  # ... but one: the cache is written again
    changed.write_bytes(changed.read_bytes() + b"\nOne more line.\n")
    real = facts.save_facts_cache
    saved_in: list[int] = []

    def slow_save(*args: object) -> None:
        time.sleep(0.3)
        real(*args)  # type: ignore[arg-type]
        saved_in.append(os.getpid())

    monkeypatch.setattr(facts, "save_facts_cache", slow_save)
    opened = Vault(vault)
    scan_related(opened, opened.config.related)
    assert (saved_in == [os.getpid()]) is not forked  # a forked copy's list is its own
    [file] = (vault / ".vaulttools" / "cache").glob("facts-*")
    fingerprint = marshal.loads(file.read_bytes()[8:])[1]  # the header: format, fingerprint, parts, nonce
    cached = facts.read_facts_cache(vault, fingerprint).entries
    assert {path: tuple(entry.stamp) for path, entry in cached.items()} == {
        path: facts.stamp_of(vault / path) for path in opened.note_paths
    }


def test_a_cache_copy_that_dies_fails_nothing_but_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forked copy that writes the facts cache ends without a word (killed, out of memory): the scan
    goes on, and the next run finds the cache stale and parses again."""
    from vaulttools import parallel
    from vaulttools.related import scan_related

    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 2)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    Vault(vault).facts()  # a first run: its parsed records become the cache file as they are written
    [file] = (vault / ".vaulttools" / "cache").glob("facts-*")
    before = file.read_bytes()
    changed = vault / Vault(vault).note_paths[0]
    changed.write_bytes(changed.read_bytes() + b"\nOne more line.\n")
    monkeypatch.setattr(facts, "save_facts_cache", lambda *args: os._exit(9))
    opened = Vault(vault)
    assert scan_related(opened, opened.config.related).index.total > 0
    assert [path.name for path in (vault / ".vaulttools" / "cache").glob("facts-*")] == [file.name]
    assert file.read_bytes() == before  # the old cache: the changed note is stale in it, parsed next time


def _writev_of_at_most(limit: int) -> Callable[[int, list[Any]], int]:
    """An `os.writev` that writes at most `limit` bytes a call, as a system may under pressure."""

    def writev(fd: int, buffers: list[Any]) -> int:
        return os.write(fd, b"".join(bytes(buffer) for buffer in buffers)[:limit])

    return writev


@pytest.mark.parametrize(("limit", "iov_max"), [(10**9, 1024), (7, 1024), (1, 16), (10**9, 2), (5, 3)])
def test_write_all_goes_on_from_where_a_short_write_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, iov_max: int
) -> None:
    """Every byte, in order, however few bytes or buffers each system call takes."""
    buffers = [b"", b"abc", b"d" * 40, b"", b"efgh", bytes(range(256)), b"z"]
    monkeypatch.setattr(facts.os, "writev", _writev_of_at_most(limit))
    monkeypatch.setattr(facts, "_IOV_MAX", iov_max)
    target = tmp_path / "out"
    with open(target, "wb") as file:
        facts.write_all(file.fileno(), buffers)
    assert target.read_bytes() == b"".join(buffers)


def test_write_all_refuses_a_write_that_makes_no_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that writes nothing raises instead of looping forever; the cache is then not written."""
    monkeypatch.setattr(facts.os, "writev", lambda fd, buffers: 0)
    with open(tmp_path / "out", "wb") as file, pytest.raises(OSError, match="made no progress"):
        facts.write_all(file.fileno(), [b"abc"])
    facts.save_cache_parts(tmp_path, "print", [marshal.dumps({"a.md": (1,)})], name="check")
    assert facts.load_cache(tmp_path, "print", "check") == {}


def _noted(events: list[str], event: str, function: Callable[..., Any], *args: Any) -> Any:
    events.append(event)
    return function(*args)


def test_check_writes_each_part_of_its_cache_as_the_chunks_come(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Result]
) -> None:
    """`check` writes each checked chunk's part as it comes (`CacheWriter`), before the next chunk is checked
    and before its report: nothing of the cache is left to write after the workers. The file is in place
    when it ends, with every note's entry, and no half-written file beside it."""
    from vaulttools import check, parallel

    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    monkeypatch.setattr(parallel, "SERIAL_CHUNK", 1)  # a chunk a note
    events: list[str] = []
    real_check_notes = check.check_notes
    monkeypatch.setattr(check, "check_notes", functools.partial(_noted, events, "checked", real_check_notes))
    real_append = facts.CacheWriter.append
    monkeypatch.setattr(
        facts.CacheWriter, "append", lambda writer, part: _noted(events, "written", real_append, writer, part)
    )
    real_report = check._report_of_tallies
    monkeypatch.setattr(
        check, "_report_of_tallies", functools.partial(_noted, events, "reported", real_report)
    )
    result = run_cli(vault, "check", "--json")
    assert result.exit_code in (0, 1), result.output
    opened = Vault(vault)
    assert len(opened.note_paths) > 2
    assert events == ["checked", "written"] * len(opened.note_paths) + ["reported"]
    cached = facts.load_cache(vault, check._check_fingerprint(opened), name="check", stamp_field=0)
    assert sorted(cached) == sorted(opened.note_paths)
    assert not list((vault / ".vaulttools" / "cache").glob("*.writing-*"))


def _parts(count: int) -> list[bytes]:
    return [marshal.dumps({f"n{number}.md": (number,)}) for number in range(count)]


def test_a_cache_written_part_by_part_reads_back_whole(tmp_path: Path) -> None:
    writer = facts.CacheWriter(tmp_path, "print", "check")
    for part in _parts(300):  # a count marshalled apart from the small ints the header's others are
        writer.append(part)
    assert list((tmp_path / ".vaulttools" / "cache").glob("*.writing-*"))  # in the making, under its own name
    writer.finish()
    assert facts.load_cache(tmp_path, "print", "check") == {f"n{n}.md": (n,) for n in range(300)}
    assert not list((tmp_path / ".vaulttools" / "cache").glob("*.writing-*"))
    facts.save_cache_parts(tmp_path, "print", [], name="check")  # no part: an empty cache, still a cache
    assert facts.load_cache(tmp_path, "print", "check") == {}
    assert facts.read_cache(tmp_path, "print", "check").nonce is not None


def test_two_caches_written_at_once_never_mix(tmp_path: Path) -> None:
    """Two commands writing the cache at once (a `check` beside a batch) each write a file of their own;
    the one put in place last is whole."""
    first, second = (
        facts.CacheWriter(tmp_path, "print", "check"),
        facts.CacheWriter(tmp_path, "print", "check"),
    )
    for number, part in enumerate(_parts(6)):
        (first if number % 2 else second).append(part)
    second.finish()
    assert facts.load_cache(tmp_path, "print", "check") == {"n0.md": (0,), "n2.md": (2,), "n4.md": (4,)}
    first.finish()
    assert facts.load_cache(tmp_path, "print", "check") == {"n1.md": (1,), "n3.md": (3,), "n5.md": (5,)}


def _cache_folder_files(root: Path) -> list[str]:
    return sorted(path.name for path in (root / ".vaulttools" / "cache").iterdir())


def test_a_failed_write_leaves_no_cache_and_no_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts.save_cache_parts(tmp_path, "print", _parts(1), name="check")
    before = _cache_folder_files(tmp_path)
    writes: list[int] = []

    def failing_writev(fd: int, buffers: list[bytes]) -> int:
        writes.append(fd)
        if len(writes) == 3:
            raise OSError(28, "No space left on device")
        return os.writev(fd, buffers)

    writer = facts.CacheWriter(tmp_path, "other", "check")
    monkeypatch.setattr(facts.os, "writev", failing_writev)
    for part in _parts(4):
        writer.append(part)
    writer.finish()
    assert len(writes) == 3  # nothing written after the failure
    assert _cache_folder_files(tmp_path) == before  # the earlier cache kept, nothing else
    assert facts.load_cache(tmp_path, "print", "check") == {"n0.md": (0,)}


def test_a_header_that_changed_size_drops_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header is written last into the room kept for it: one that no longer fits is never written over
    the first part."""
    writer = facts.CacheWriter(tmp_path, "print", "check")
    writer.append(_parts(1)[0])
    real_header = facts.CacheWriter._header
    monkeypatch.setattr(facts.CacheWriter, "_header", lambda self: real_header(self) + b"x")
    writer.finish()
    assert facts.load_cache(tmp_path, "print", "check") == {}
    assert _cache_folder_files(tmp_path) == []


def test_no_cache_folder_writes_nothing_and_fails_nothing(tmp_path: Path) -> None:
    (tmp_path / ".vaulttools").mkdir()
    (tmp_path / ".vaulttools" / "cache").write_text("a file where the folder goes")
    writer = facts.CacheWriter(tmp_path, "print", "check")
    writer.append(_parts(1)[0])
    writer.finish()
    assert facts.load_cache(tmp_path, "print", "check") == {}


def test_a_check_that_fails_midway_leaves_the_old_cache_and_no_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Result]
) -> None:
    from vaulttools import check, parallel

    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    assert run_cli(vault, "check").exit_code in (0, 1)
    cache_file = facts._cache_file(vault, "check")
    old = cache_file.read_bytes()
    for note in Vault(vault).note_paths:
        (vault / note).write_bytes((vault / note).read_bytes() + b"\nchanged\n")
    monkeypatch.setattr(parallel, "SERIAL_CHUNK", 1)
    calls: list[int] = []

    def failing_check_notes(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the first chunk's part is written by then
            raise KeyboardInterrupt
        return real_check_notes(*args)

    real_check_notes = check.check_notes
    monkeypatch.setattr(check, "check_notes", failing_check_notes)
    with pytest.raises(KeyboardInterrupt):
        check.check_vault(Vault(vault))
    assert cache_file.read_bytes() == old
    assert not list(cache_file.parent.glob("*.writing-*"))


def test_half_written_cache_files_of_killed_commands_are_removed(tmp_path: Path) -> None:
    """A command killed while it wrote the cache leaves its file: the next writer removes it, never the file
    of a process still running (another command writing at this moment)."""
    folder = tmp_path / ".vaulttools" / "cache"
    folder.mkdir(parents=True)
    ended = ended_process_id()
    prefix = facts._writing_prefix(tmp_path, "check")
    orphan, running = folder / f"{prefix}{ended}-abcd", folder / f"{prefix}{os.getppid()}-ef01"
    orphan.write_bytes(b"killed")
    running.write_bytes(b"another command's, being written")
    facts.save_cache_parts(tmp_path, "print", _parts(1), name="check")
    assert not orphan.exists()
    assert running.exists()
    assert facts.load_cache(tmp_path, "print", "check") == {"n0.md": (0,)}


def test_no_process_is_asked_about_where_asking_would_signal_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows `os.kill(pid, 0)` sends the process Ctrl-C instead of asking whether it runs: every
    leftover's process counts as running there, and nothing is signalled."""
    signalled: list[int] = []
    monkeypatch.setattr(facts, "_CAN_ASK_PROCESSES", False)
    monkeypatch.setattr(facts.os, "kill", lambda pid, signal: signalled.append(pid))
    assert facts._running(999_999_999)
    assert signalled == []


def test_facts_of_notes_are_each_notes_facts_found_a_step_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """`facts_of_notes` gives what `facts_of` gives each note alone, and finds every note's links before any
    note's properties (a step at a time, not note after note)."""
    from vaulttools.note import Note

    texts = [
        b"---\nid: a\ntags: [x]\nrelated: [b]\n---\n# A\n[[b]] #tag `[[c]]`\n\n## Related across articles\n- [[b]]\n",
        b"no frontmatter [[a|A]] ![[pic.png]] [m](a.md)\n",
        b"---\nid: [unclosed\n---\nbody [[a]]\n",
        b"\xff\xfe not utf-8",
        b"",
    ]
    options = facts.FactsOptions(frozenset({"related"}))
    stamps = [(i, i, i, i) for i in range(len(texts))]
    alone = [facts.facts_of(Note(f"n{i}.md", text), stamps[i], options) for i, text in enumerate(texts)]
    steps: list[str] = []
    real_links, real_properties = facts._link_facts, facts._kept_properties
    monkeypatch.setattr(facts, "_link_facts", lambda n: steps.append("links") or real_links(n))
    monkeypatch.setattr(
        facts, "_kept_properties", lambda n, k: steps.append("properties") or real_properties(n, k)
    )
    notes = [Note(f"n{i}.md", text) for i, text in enumerate(texts)]
    assert facts.facts_of_notes(notes, stamps, options) == alone
    assert steps == ["links"] * len(texts) + ["properties"] * len(texts)
    assert facts.facts_of_notes([], [], options) == []
