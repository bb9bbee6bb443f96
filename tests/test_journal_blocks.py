"""Journal version 3: a rewritten note larger than a block is known after the batch by its size and its
blocks' digests (`journal.holds_new`), not by a whole-file sha256 of its new bytes (one hashing pass less
per note). Version 5: those digests (and a small note's whole one) are XXH3-64, or SHA-256 as version 4
without the xxhash package (`with_xxhash`). `recover` tells the batch's bytes from another program's as
before, and still reads the journals of every older version (a version 2 one: a whole-file hash beside the
blocks)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import git_vault_of
from tests.helpers import (
    BOM,
    HOSTILE_NOTES,
    HOSTILE_REWRITTEN,
    assert_clean,
    commits,
    git_blob_id,
    run_vaulttools,
)
from vaulttools import digests, journal
from vaulttools.batch import CRASH_AFTER_ENV
from vaulttools.errors import VaultError
from vaulttools.journal import BLOCK, fingerprints, holds_new

JOURNAL_PLAN = Path(".vaulttools") / "journal" / "plan.json"
OLD = b"---\r\nid: a\r\n---\r\n" + b"old line\r\n" * 900  # CRLF, several blocks
NEW = OLD.replace(b"old line", b"new line", 3)
NEW_NO_FINAL_NEWLINE = NEW[:-2]
NEW_BOM = BOM + NEW
EXACT = b"x" * (2 * BLOCK)

NOTES, REWRITTEN = HOSTILE_NOTES, HOSTILE_REWRITTEN
# The fields of the new bytes' fingerprints with and without xxhash (`with_xxhash`): (whole, blocks).
FIELDS = {True: (journal.NEW_XXH3, journal.NEW_BLOCKS_XXH3), False: (journal.NEW_SHA256, "new_blocks")}


@pytest.mark.parametrize(
    ("new", "current", "holds"),
    [
        (NEW, NEW, True),
        (NEW_NO_FINAL_NEWLINE, NEW_NO_FINAL_NEWLINE, True),
        (NEW_BOM, NEW_BOM, True),
        (EXACT, EXACT, True),  # a whole number of blocks
        (NEW, OLD, False),  # the original (same size): not the new bytes
        (NEW, NEW[:-1] + b"?", False),  # one byte of the last block changed
        (NEW, b"?" + NEW[1:], False),  # one byte of the first block changed
        (NEW, NEW + b"typed meanwhile\n", False),  # appended to
        (NEW, NEW[:-1], False),  # cut short
        (NEW, NEW.replace(b"\r\n", b"\n"), False),  # CRLF turned into LF
        (NEW_BOM, NEW, False),  # the BOM removed
        (NEW, BOM + NEW, False),  # a BOM added
        (EXACT, EXACT + b"x" * BLOCK, False),  # one more block of the same bytes
        (EXACT, EXACT[:BLOCK], False),  # one block less
        (NEW, b"", False),
    ],
)
def test_new_bytes_are_told_by_their_blocks(
    new: bytes, current: bytes, holds: bool, with_xxhash: bool
) -> None:
    whole, blocks = FIELDS[with_xxhash]
    entry = fingerprints(OLD, new)
    assert whole not in entry and "new_sha256" not in entry and len(entry[blocks]) == -(-len(new) // BLOCK)
    assert holds_new(current, entry) is holds


@pytest.mark.parametrize(
    ("old", "new", "hashed_whole"),
    [
        (OLD, NEW, False),  # rewritten, larger than a block: its blocks tell it
        (b"small\r\n", b"SMALL\r\n", True),  # one block: the hash is the block's
        (OLD, b"x" * BLOCK, True),  # exactly one block
        (None, NEW, True),  # created: nothing to tear, hashed whole
        (OLD, None, True),  # deleted: new_sha256 is None (no file)
    ],
)
def test_only_rewrites_larger_than_a_block_drop_the_whole_file_hash(
    old: bytes | None, new: bytes | None, hashed_whole: bool, with_xxhash: bool
) -> None:
    whole, blocks = FIELDS[with_xxhash]
    entry = fingerprints(old, new)
    if new is None:  # no file: said the same way in every version
        assert entry["new_sha256"] is None and whole in ("new_sha256", "new_xxh3")
    elif hashed_whole:
        expected = digests.xxh3_hex(new) if with_xxhash else hashlib.sha256(new).hexdigest()
        assert entry[whole] == expected and blocks not in entry
    else:
        assert whole not in entry and entry[blocks]
    if new is not None:  # told either way
        assert holds_new(new, entry)
        assert not holds_new(new + b"!", entry)


@pytest.mark.parametrize(
    "entry",
    [
        {"new_sha256": hashlib.sha256(NEW).hexdigest(), "new_size": len(NEW)},  # version 2
        {"new_sha256": hashlib.sha256(NEW).hexdigest()},  # version 1: a moved note's hash only
        {**fingerprints(OLD, NEW), "new_sha256": hashlib.sha256(NEW).hexdigest()},  # 2, blocks as well
    ],
)
def test_older_journal_entries_are_told_by_their_hash(entry: dict[str, Any]) -> None:
    assert holds_new(NEW, entry)
    assert not holds_new(OLD, entry)


def test_a_version_5_journal_without_xxhash_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = fingerprints(OLD, NEW)
    monkeypatch.setattr(digests, "xxhash", None)
    with pytest.raises(VaultError, match="need the xxhash package: `pip install xxhash`"):
        holds_new(NEW, entry)


def _age_objects(vault_dir: Path, seconds: float = 60) -> None:
    """As if the vault had been committed `seconds` ago (its blobs durable: the journal names them)."""
    then = time.time() - seconds
    for loose in (vault_dir / ".git" / "objects").glob("??/*"):
        os.utime(loose, (then, then))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.md"))}


def _vault(tmp_path: Path, name: str = "vault") -> Path:
    vault_dir = git_vault_of(NOTES, tmp_path / name)
    _age_objects(vault_dir)
    return vault_dir


def _killed(vault_dir: Path, after: int) -> dict[str, Any]:
    killed = run_vaulttools(vault_dir, "normalize-links", env={CRASH_AFTER_ENV: str(after)})
    assert killed.returncode == -9, killed.stderr
    record: dict[str, Any] = json.loads((vault_dir / JOURNAL_PLAN).read_text(encoding="utf-8"))
    return record


def _written_by_a_whole_run(tmp_path: Path) -> dict[str, bytes]:
    """Every note's bytes after the same batch, run to the end on a copy."""
    copy = _vault(tmp_path, "whole")
    assert run_vaulttools(copy, "normalize-links").returncode == 0
    return _snapshot(copy)


def test_journal_is_version_5_without_the_big_notes_new_hash(tmp_path: Path) -> None:
    record = _killed(_vault(tmp_path), 1)
    assert record["version"] == journal.JOURNAL_VERSION == 5
    assert all(entry[journal.OLD_BLOB] == git_blob_id(NOTES[entry["path"]]) for entry in record["changes"])
    assert not any("old_sha256" in entry for entry in record["changes"])  # one hash of the old bytes
    big = next(entry for entry in record["changes"] if entry["path"] == "big.md")
    assert "new_xxh3" not in big and len(big["new_blocks_xxh3"]) == -(-big["new_size"] // BLOCK)
    small = [entry for entry in record["changes"] if entry["path"] != "big.md"]
    assert small and all(set(entry) & {"new_xxh3", "new_blocks_xxh3"} == {"new_xxh3"} for entry in small)
    assert not any({"new_sha256", "new_blocks"} & set(entry) for entry in record["changes"])


@pytest.mark.parametrize("version", [5, 4, 3, 2])
def test_recover_refuses_a_big_note_another_program_edited_after_the_batch_wrote_it(
    tmp_path: Path, version: int
) -> None:
    vault_dir = _vault(tmp_path)
    record = _killed(vault_dir, len(REWRITTEN))  # every note written, the commit not made
    _as_version(version, vault_dir, record, tmp_path)
    big = vault_dir / "big.md"
    assert big.read_bytes() != NOTES["big.md"]
    edited = big.read_bytes()[:-3] + b"!\n"  # same size, one byte of the last block changed
    big.write_bytes(edited)
    refused = run_vaulttools(vault_dir, "recover")
    assert refused.returncode == 2
    assert "big.md: changed by another program since the batch stopped" in refused.stderr
    assert big.read_bytes() == edited
    assert (vault_dir / JOURNAL_PLAN).is_file()


@pytest.mark.parametrize("version", [5, 4, 3, 2])
@pytest.mark.parametrize("after", [1, 2, len(REWRITTEN)])
def test_recover_puts_back_every_note_byte_for_byte(tmp_path: Path, version: int, after: int) -> None:
    vault_dir = _vault(tmp_path)
    record = _killed(vault_dir, after)
    _as_version(version, vault_dir, record, tmp_path)
    recovered = run_vaulttools(vault_dir, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert _snapshot(vault_dir) == NOTES
    assert commits(vault_dir) == 1
    assert_clean(vault_dir)


def _as_version(version: int, vault_dir: Path, record: dict[str, Any], tmp_path: Path) -> None:
    """The journal of a killed batch as the code of `version` wrote it (5: as it is)."""
    if version <= 4:
        _as_version_4(vault_dir, record, _written_by_a_whole_run(tmp_path))
    if version <= 3:
        _as_version_3(vault_dir, record)
    if version == 2:
        _as_version_2(vault_dir, record, _written_by_a_whole_run(tmp_path))


def _as_version_4(vault_dir: Path, record: dict[str, Any], written: dict[str, bytes]) -> None:
    """The journal as the version 4 code (or a version 5 one without xxhash) wrote it: the new bytes by
    SHA-256, whole or block by block."""
    for entry in record["changes"]:
        new = written[entry["path"]]
        assert digests.xxh3_hex(new) == entry.pop("new_xxh3", digests.xxh3_hex(new))
        if entry.pop("new_blocks_xxh3", None) is not None:
            entry["new_blocks"] = [
                digests.sha256_block(new[at : at + BLOCK]) for at in range(0, len(new), BLOCK)
            ]
        else:
            entry["new_sha256"] = hashlib.sha256(new).hexdigest()
    record["version"] = 4
    (vault_dir / JOURNAL_PLAN).write_text(json.dumps(record), encoding="utf-8")


def _as_version_3(vault_dir: Path, record: dict[str, Any]) -> None:
    """The journal as the version 3 code wrote it: the old bytes known by their sha256 (their blob id as
    well, where a worker took it)."""
    for entry in record["changes"]:
        entry["old_sha256"] = hashlib.sha256(NOTES[entry["path"]]).hexdigest()
        if entry["backup"] != journal.GIT_BACKUP:
            del entry[journal.OLD_BLOB]
    record["version"] = 3
    (vault_dir / JOURNAL_PLAN).write_text(json.dumps(record), encoding="utf-8")


def _as_version_2(vault_dir: Path, record: dict[str, Any], written: dict[str, bytes]) -> None:
    """The journal as the version 2 code wrote it: every change's new bytes hashed whole."""
    for entry in record["changes"]:
        new = written[entry["path"]]
        assert entry.get("new_sha256", hashlib.sha256(new).hexdigest()) == hashlib.sha256(new).hexdigest()
        entry["new_sha256"] = hashlib.sha256(new).hexdigest()
    record["version"] = 2
    (vault_dir / JOURNAL_PLAN).write_text(json.dumps(record), encoding="utf-8")


def test_recover_of_a_moved_big_note_tells_its_destination_by_its_blocks(tmp_path: Path) -> None:
    notes = {
        "a.md": b"x" * 3 * BLOCK + b"\nSee [[b]].\n",
        "b.md": b"---\r\nid: b\r\n---\r\n" + b"y\r\n" * BLOCK,
    }
    vault_dir = git_vault_of(notes, tmp_path / "vault")
    killed = run_vaulttools(vault_dir, "rename", "b", "c", env={CRASH_AFTER_ENV: "2"})
    assert killed.returncode == -9, killed.stderr
    record = json.loads((vault_dir / JOURNAL_PLAN).read_text(encoding="utf-8"))
    moved = next(entry for entry in record["changes"] if entry["new_path"] == "c.md")
    assert "new_xxh3" not in moved and moved["new_blocks_xxh3"]
    assert (vault_dir / "c.md").is_file()
    recovered = run_vaulttools(vault_dir, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert not (vault_dir / "c.md").exists()  # the batch's destination, told by its blocks, removed
    assert {p.name: p.read_bytes() for p in vault_dir.glob("*.md")} == notes
    assert_clean(vault_dir)


@pytest.mark.parametrize(
    "record",
    [
        {"version": 4, "pid": 12345, "started": 1796142881.5607316, "changes": []},
        {
            "path": "caf\u00e9/\U0001f600 note.md",
            "new_path": None,
            "old_size": 2**40,
            "new_blocks": ["ab"] * 3,
        },
        {"path": 'quote " and back\\slash\n.md', "backup": None, "length": 0},
    ],
)
def test_the_plan_is_the_same_json_with_or_without_orjson(
    record: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = journal._json_bytes(record)
    monkeypatch.setattr(journal, "orjson", None)
    standard = journal._json_bytes(record)
    assert json.loads(fast) == json.loads(standard) == record
    assert standard == fast  # compact, UTF-8 as it is: byte for byte the same file either way


def test_recover_of_a_version_5_journal_without_xxhash_is_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Result]
) -> None:
    vault_dir = _vault(tmp_path)
    _killed(vault_dir, 2)
    before = _snapshot(vault_dir)
    monkeypatch.setattr(digests, "xxhash", None)  # the package gone since the batch ran
    result = run_cli(vault_dir, "recover")
    assert result.exit_code == 2
    assert (
        "need the xxhash package: `pip install xxhash`, then run `vaulttools recover` again" in result.stderr
    )
    assert "Traceback" not in result.output + result.stderr
    assert _snapshot(vault_dir) == before and (vault_dir / JOURNAL_PLAN).is_file()
