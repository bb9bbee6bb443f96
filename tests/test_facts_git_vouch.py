"""The facts cache keeps the records of notes whose stamp moved without reading them when git's index
vouches for their bytes (`facts.GitVouch`), and learns which blob holds which bytes as it reads
(`facts.read_as_git_saw`). Real repositories; every guard fed the fault it exists for."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, cast

import pytest
from click.testing import Result

from tests.conftest import FIXTURES, git, make_git_vault
from vaulttools import check, facts
from vaulttools.git import IndexWords
from vaulttools.vault import Vault

PAST_NS = 1_600_000_000 * 1_000_000_000


@pytest.fixture(autouse=True)
def _git_always_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small vault never pays for asking git (`facts.GitVouch.ask`): these tests ask it whatever the cost."""
    monkeypatch.setattr(facts, "GIT_ASK_SECONDS", 0.0)
    monkeypatch.setattr(facts, "INDEX_ENTRY_SECONDS", 0.0)


def reset_by_git(vault: Path, paths: list[str], epoch: int) -> None:
    """What `git reset --hard` does after a batch: every note written again with its committed bytes (here
    each changed, then put back by git), and git's index holding the new files' stat data; their mtimes
    well before the index file's, so no entry is racily clean."""
    for path in paths:
        (vault / path).write_bytes((vault / path).read_bytes() + b"\nchanged\n")
    git(vault, "reset", "-q", "--hard")
    for number, path in enumerate(paths):
        os.utime(vault / path, ns=(PAST_NS + epoch, PAST_NS + epoch + number))
    git(vault, "update-index", "-q", "--refresh")


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = facts.read_stamped_batches
    monkeypatch.setattr(
        facts, "read_stamped_batches", lambda root, paths: read.extend(paths) or real(root, paths)
    )
    return read


def records_without_stamps(vault: Path) -> dict[str, tuple]:
    return {path: (*record[:1], *record[2:]) for path, record in Vault(vault).fact_records().items()}


def learned_vault(tmp_path: Path) -> tuple[Path, list[str]]:
    """A vault whose facts are cached and whose blobs' digests were learned by one read after a reset."""
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    Vault(vault).fact_records()
    reset_by_git(vault, paths, 0)
    Vault(vault).fact_records()  # reads each note once more, and learns its blob's digest
    return vault, paths


def test_a_reset_is_read_once_then_vouched_for_by_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    expected = records_without_stamps(vault)
    reset_by_git(vault, paths, 0)
    read = count_reads(monkeypatch)
    assert records_without_stamps(vault) == expected
    assert sorted(read) == sorted(paths)  # the first time, read and summed
    assert len(facts.read_blob_digests(vault)) == len(paths)
    reset_by_git(vault, paths, 1000)
    read.clear()
    again = Vault(vault).fact_records()
    assert read == []  # git vouched for every note
    assert {path: (*r[:1], *r[2:]) for path, r in again.items()} == expected
    assert list(again) == list(paths)
    assert all(record[1] == facts.stamp_of(vault / path) for path, record in again.items())
    read.clear()
    assert Vault(vault).fact_records() == again  # the new stamps were saved: a plain cache hit now
    assert read == []


def test_a_note_changed_after_git_took_its_stat_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, paths = learned_vault(tmp_path)
    reset_by_git(vault, paths, 1000)
    victim = vault / paths[0]
    victim.write_bytes(victim.read_bytes().replace(b"]]", b"x]]", 1)[:-1])  # the same size
    assert victim.stat().st_size == len(git(vault, "show", f"HEAD:{paths[0]}").encode())
    read = count_reads(monkeypatch)
    records = Vault(vault).fact_records()
    assert read == [paths[0]]
    assert records[paths[0]] == Vault(vault).fact_records(use_cache=False)[paths[0]]


def test_a_note_changed_since_git_took_its_stat_teaches_nothing(tmp_path: Path) -> None:
    """Its bytes are not the blob git's entry names: that blob's digest is not learned from them."""
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    Vault(vault).fact_records()
    reset_by_git(vault, paths, 0)
    victim = vault / paths[0]
    victim.write_bytes(victim.read_bytes() + b"more\n")
    Vault(vault).fact_records()
    learned = facts.read_blob_digests(vault)
    assert len(learned) == len(paths) - 1
    assert _index_blob(vault, paths[0]) not in learned


def _index_blob(vault: Path, path: str) -> bytes:
    return bytes.fromhex(git(vault, "ls-files", "-s", path).split()[1])


def test_a_blob_whose_digest_is_not_the_records_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, paths = learned_vault(tmp_path)
    reset_by_git(vault, paths, 1000)
    learned = facts.read_blob_digests(vault)
    blob = bytes.fromhex(git(vault, "hash-object", paths[1]).strip())
    learned[blob] = b"\0" * 16
    facts.save_blob_digests(vault, learned, len(paths))
    read = count_reads(monkeypatch)
    Vault(vault).fact_records()
    assert read == [paths[1]]


def test_a_racily_clean_entry_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault, paths = learned_vault(tmp_path)
    reset_by_git(vault, paths, 1000)
    index = vault / ".git" / "index"
    # After the first note's mtime, not after the others' (`reset_by_git` gave them one ns apart).
    os.utime(index, ns=(PAST_NS + 1001, PAST_NS + 1001))
    read = count_reads(monkeypatch)
    Vault(vault).fact_records()
    assert read == paths[1:]


def test_a_note_whose_stamp_moved_during_its_read_teaches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes read while another program wrote the note are not the blob git named: the stat after the read
    differs from the one before, and the blob's digest is not learned."""
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    Vault(vault).fact_records()
    reset_by_git(vault, paths, 0)
    real = facts.stamp_of
    moved = os.fspath(vault / paths[0])

    def stamp_after_a_write(path: Path | str) -> tuple[int, int, int, int]:
        stamp = real(path)
        return (stamp[0], stamp[1] + 1, *stamp[2:]) if os.fspath(path) == moved else stamp

    monkeypatch.setattr(facts, "stamp_of", stamp_after_a_write)
    Vault(vault).fact_records()
    learned = facts.read_blob_digests(vault)
    assert len(learned) == len(paths) - 1
    assert _index_blob(vault, paths[0]) not in learned


def test_few_moved_notes_are_read_without_asking_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading git's index costs more than reading a few notes: it is not asked for them."""
    monkeypatch.setattr(facts, "GIT_ASK_SECONDS", 1.0)
    vault, paths = learned_vault(tmp_path)
    reset_by_git(vault, paths, 1000)
    asked: list[list[str]] = []
    monkeypatch.setattr(Vault, "index_words", lambda self: asked.append(True) or None)
    read = count_reads(monkeypatch)
    Vault(vault).fact_records()
    assert asked == [] and sorted(read) == sorted(paths)


def test_blob_digests_keep_the_newest_few_a_note(tmp_path: Path) -> None:
    (tmp_path / ".vaulttools" / "cache").mkdir(parents=True)
    digests = {bytes([n]) * 20: bytes([n]) * 16 for n in range(10)}
    facts.save_blob_digests(tmp_path, digests, 2)  # room for 3 a note: 6
    assert list(facts.read_blob_digests(tmp_path)) == list(digests)[4:]
    (tmp_path / ".vaulttools" / "cache" / f"blob-digests-v{facts.CACHE_FORMAT}.marshal").write_bytes(b"junk")
    assert facts.read_blob_digests(tmp_path) == {}


class _Words(NamedTuple):
    """git's word as `GitVouch.keeps` reads it, vouching for any stamp."""

    blob: bytes

    def blob_for(self, path: str, stamp: tuple[int, int, int, int]) -> bytes:
        return self.blob


@pytest.mark.parametrize(
    ("size", "vouched"), [(5, True), (5 + 2**32, False)], ids=["same size", "git's 32 bits only"]
)
def test_a_vouched_note_has_its_records_whole_size(size: int, vouched: bool) -> None:
    """git keeps the low 32 bits of a size: a note of 4 GB more than its record's is read."""
    digest = (5).to_bytes(8, "little") + (77).to_bytes(8, "little")
    vouch = facts.GitVouch(Path("."), cast(IndexWords, _Words(b"b" * 20)), {b"b" * 20: digest})
    assert vouch.keeps("a.md", (size, 2, 2, 2), digest) is vouched


def count_check_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = check.read_stamped_batches
    monkeypatch.setattr(
        check, "read_stamped_batches", lambda root, paths: read.extend(paths) or real(root, paths)
    )
    return read


def without_stamps(entries: dict[str, tuple]) -> dict[str, tuple]:
    return {path: entry[1:] for path, entry in entries.items()}


def test_check_after_a_reset_reads_once_then_git_vouches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    expected = without_stamps(check.cached_entries(Vault(vault)))
    report = check.check_vault(Vault(vault)).to_json(str(vault))
    reset_by_git(vault, paths, 0)
    read = count_check_reads(monkeypatch)
    assert without_stamps(check.cached_entries(Vault(vault))) == expected
    assert sorted(read) == sorted(paths)  # read and summed, each blob's digest learned
    reset_by_git(vault, paths, 1000)
    read.clear()
    again = check.cached_entries(Vault(vault))
    assert read == [] and without_stamps(again) == expected
    assert all(entry[0] == facts.stamp_of(vault / path) for path, entry in again.items())
    assert check.check_vault(Vault(vault)).to_json(str(vault)) == report
    assert read == []  # the new stamps were saved


def test_check_reads_a_note_whose_blob_digest_is_not_its_entrys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    check.cached_entries(Vault(vault))
    reset_by_git(vault, paths, 0)
    check.cached_entries(Vault(vault))
    reset_by_git(vault, paths, 1000)
    learned = facts.read_blob_digests(vault)
    learned[_index_blob(vault, paths[1])] = b"\0" * 16
    facts.save_blob_digests(vault, learned, len(paths))
    read = count_check_reads(monkeypatch)
    check.cached_entries(Vault(vault))
    assert read == [paths[1]]


def test_what_check_learned_serves_the_facts_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    Vault(vault).fact_records()
    check.cached_entries(Vault(vault))
    reset_by_git(vault, paths, 0)
    check.cached_entries(Vault(vault))  # learns
    read = count_reads(monkeypatch)
    Vault(vault).fact_records()
    assert read == []


def test_the_command_line_after_resets_reads_each_note_once_and_reports_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Result]
) -> None:
    """`check --json` and `sync-related --dry-run` as a user runs them after `git reset --hard` rewrote every
    note: the same report each time; the notes read once after the first reset, then vouched for by git."""
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    paths = Vault(vault).note_paths
    report = run_cli(vault, "check", "--json").output
    preview = run_cli(vault, "sync-related", "--dry-run").output
    read = count_check_reads(monkeypatch)
    read_facts = count_reads(monkeypatch)
    for epoch in (0, 1000, 2000):
        reset_by_git(vault, paths, epoch)
        read.clear()
        read_facts.clear()
        assert run_cli(vault, "check", "--json").output == report
        assert run_cli(vault, "sync-related", "--dry-run").output == preview
        assert (sorted(read), read_facts) == ((sorted(paths), []) if epoch == 0 else ([], []))
    assert git(vault, "status", "--porcelain") == ""
