"""`recover` never writes over what another program wrote after a killed batch (journal version 2).

The journal fingerprints every file's bytes before the batch and the bytes the batch writes; `recover`
puts the vault back only when every file holds one of them (or a torn in-place write of the batch's), and
otherwise refuses, file by file, writing nothing and keeping the journal.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import xxhash

from tests.conftest import git, snapshot
from tests.helpers import NEW, OLD, assert_clean, commits, git_blob_id, run_vaulttools
from vaulttools.batch import CRASH_AFTER_ENV
from vaulttools.journal import BLOCK, OLD_BLOB, fingerprints, holds_original, torn_by_the_batch

PLAN = Path(".vaulttools") / "journal" / "plan.json"

OLD_BYTES = b"a" * BLOCK + b"b" * BLOCK + b"c" * 100
NEW_BYTES = b"A" * BLOCK + b"B" * BLOCK + b"C" * 50  # shorter: the old tail stays until the truncation
GROWN = OLD_BYTES + b"d" * BLOCK
SECTION_ADDED = OLD_BYTES[:BLOCK] + b"B" * BLOCK + b"## Related\n" * 20  # the first block shared


@pytest.mark.parametrize(
    ("current", "new", "torn"),
    [
        (OLD_BYTES, NEW_BYTES, True),  # not written at all (no-op: the original)
        (NEW_BYTES[:BLOCK] + OLD_BYTES[BLOCK:], NEW_BYTES, True),  # killed after the first page
        (NEW_BYTES + OLD_BYTES[len(NEW_BYTES) :], NEW_BYTES, True),  # written, not yet truncated
        (
            OLD_BYTES[:BLOCK] + NEW_BYTES[BLOCK : 2 * BLOCK] + OLD_BYTES[2 * BLOCK :],
            NEW_BYTES,
            True,
        ),  # power cut
        (GROWN[: 2 * BLOCK] + OLD_BYTES[2 * BLOCK :], GROWN, True),  # growing note, killed between pages
        # written from the first block that changes (`same_until`), killed after its first page there
        (OLD_BYTES[:BLOCK] + SECTION_ADDED[BLOCK : 2 * BLOCK] + OLD_BYTES[2 * BLOCK :], SECTION_ADDED, True),
        (NEW_BYTES + b"typed meanwhile\n", NEW_BYTES, False),  # another program appended
        (NEW_BYTES[:10] + b"X" + NEW_BYTES[11:], NEW_BYTES, False),  # another program changed one byte
        (OLD_BYTES[:10] + b"X" + OLD_BYTES[11:], NEW_BYTES, False),  # ... of the original
        (NEW_BYTES[: 2 * BLOCK], NEW_BYTES, False),  # cut where no write of the batch ends
        (b"", NEW_BYTES, False),  # emptied
    ],
)
def test_a_torn_write_of_the_batch_is_told_from_another_programs_edit(
    current: bytes, new: bytes, torn: bool, with_xxhash: bool
) -> None:
    entry = fingerprints(OLD_BYTES, new)
    assert torn_by_the_batch(current, OLD_BYTES, entry) is torn


SMALL_OLD = b"a small note, longer before the batch\n"
SMALL_NEW = b"a small note\n"


@pytest.mark.parametrize(
    ("current", "torn"),
    [
        (SMALL_NEW + SMALL_OLD[len(SMALL_NEW) :], True),  # written, not yet truncated
        (SMALL_OLD, True),  # not written
        (b"A" + SMALL_NEW[1:] + SMALL_OLD[len(SMALL_NEW) :], False),  # another program's byte
        (SMALL_NEW + b"typed", False),
    ],
)
def test_a_note_of_one_block_is_told_torn_by_its_whole_digest(
    current: bytes, torn: bool, with_xxhash: bool
) -> None:
    entry = fingerprints(SMALL_OLD, SMALL_NEW)
    assert ("new_xxh3" in entry) is with_xxhash and ("new_sha256" in entry) is not with_xxhash
    assert torn_by_the_batch(current, SMALL_OLD, entry) is torn


@pytest.mark.parametrize(
    ("entry", "data", "holds"),
    [
        ({OLD_BLOB: git_blob_id(b"before")}, b"before", True),  # version 4
        ({OLD_BLOB: git_blob_id(b"before")}, b"befor!", False),
        ({"old_sha256": hashlib.sha256(b"before").hexdigest()}, b"before", True),  # versions 2-3
        ({"old_sha256": hashlib.sha256(b"before").hexdigest()}, b"befor!", False),
        ({"old_sha256": hashlib.sha256(b"before").hexdigest(), OLD_BLOB: git_blob_id(b"x")}, b"before", True),
        ({}, b"anything", True),  # version 1: no fingerprint to tell by
    ],
)
def test_an_original_is_told_by_the_fingerprint_its_journal_has(
    entry: dict[str, Any], data: bytes, holds: bool
) -> None:
    assert holds_original(data, entry) is holds


def test_fingerprints_record_hash_and_size_before_and_after(with_xxhash: bool) -> None:
    whole, blocks = ("new_xxh3", "new_blocks_xxh3") if with_xxhash else ("new_sha256", "new_blocks")
    recorded = fingerprints(b"before", b"after!")
    assert recorded["old_size"] == 6 and recorded["new_size"] == 6
    assert recorded[OLD_BLOB] == git_blob_id(b"before")  # version 4: the one hash of the old bytes
    expected = xxhash.xxh3_64_hexdigest(b"after!") if with_xxhash else hashlib.sha256(b"after!").hexdigest()
    assert recorded[whole] == expected
    assert "old_sha256" not in recorded
    assert set(recorded) & {"new_sha256", "new_xxh3", "new_blocks", "new_blocks_xxh3"} == {whole}
    assert fingerprints(None, b"x")[OLD_BLOB] is None
    assert fingerprints(b"x", None)["new_size"] is None
    assert fingerprints(b"x", None)["new_sha256"] is None  # no file, in every version
    assert len(fingerprints(OLD_BYTES, NEW_BYTES)[blocks]) == 3


def _killed_rename(vault: Path, after: int) -> dict[str, Any]:
    crashed = run_vaulttools(vault, "rename", OLD, NEW, env={CRASH_AFTER_ENV: str(after)})
    assert crashed.returncode == -9, crashed.stderr
    record: dict[str, Any] = json.loads((vault / PLAN).read_text(encoding="utf-8"))
    assert record["version"] == 5
    return record


def _rewritten(record: dict[str, Any]) -> list[str]:
    return [entry["path"] for entry in record["changes"] if entry["new_path"] is None]


def _assert_refused(vault: Path, files: list[str], advice: str) -> None:
    left = snapshot(vault)
    refused = run_vaulttools(vault, "recover")
    assert refused.returncode == 2
    lines = refused.stderr.splitlines()
    assert lines[:-1] == [f"{path}: {advice.format(path=shlex.quote(path))}" for path in files]
    assert re.fullmatch(
        rf"vaulttools: error: {len(files)} file\(s\) of the interrupted `vaulttools rename` batch \(id "
        r"[0-9a-f]{12}, started \d\d:\d\d:\d\d\) were changed by another program since it stopped; nothing "
        r"was restored and the journal is kept: do as each line says, or run `vaulttools recover "
        r"--keep-changed` to put back every other file and leave these as they are",
        lines[-1],
    ), lines[-1]
    assert snapshot(vault) == left  # nothing written, the other program's bytes included
    assert (vault / PLAN).is_file()


CHANGED = (
    "changed by another program since the batch stopped; copy your changes elsewhere, put back its bytes "
    "from before the batch (`git checkout -- {path}`) and run `vaulttools recover` again"
)


def test_recover_refuses_a_note_another_program_edited_after_the_batch_wrote_it(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    record = _killed_rename(sample_vault, 3)
    written = [p for p in _rewritten(record) if (sample_vault / p).read_bytes() != before[p]]
    edited = sample_vault / written[0]
    edited.write_bytes(edited.read_bytes() + b"typed in Obsidian after the crash\n")

    _assert_refused(sample_vault, [written[0]], CHANGED)
    assert run_vaulttools(sample_vault, "check").returncode == 2  # still pending: the journal is kept

    # Done as told: the note's bytes from before the batch, then recover again puts back everything else.
    git(sample_vault, "checkout", "--", written[0])
    recovered = run_vaulttools(sample_vault, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)
    assert commits(sample_vault) == 1


def test_recover_refuses_a_note_the_batch_had_not_reached_yet(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    record = _killed_rename(sample_vault, 2)
    untouched = [p for p in _rewritten(record) if (sample_vault / p).read_bytes() == before[p]]
    edited = sample_vault / untouched[-1]
    edited.write_bytes(b"rewritten by a sync client\n")
    (sample_vault / untouched[-2]).unlink()

    refused = run_vaulttools(sample_vault, "recover")
    assert refused.returncode == 2
    assert f"{untouched[-1]}: changed by another program since the batch stopped" in refused.stderr
    assert (
        f"{untouched[-2]}: deleted by another program since the batch stopped; put it back" in refused.stderr
    )
    assert edited.read_bytes() == b"rewritten by a sync client\n"
    assert not (sample_vault / untouched[-2]).exists()


def test_recover_refuses_a_file_another_program_put_where_the_batch_moves_a_note(sample_vault: Path) -> None:
    record = _killed_rename(sample_vault, 1)
    move = next(entry for entry in record["changes"] if entry["new_path"] not in (None, entry["path"]))
    destination = sample_vault / move["new_path"]
    destination.unlink(missing_ok=True)  # as if the batch had not got there: then another program did
    destination.write_bytes(b"a note of the same name, made by hand\n")

    _assert_refused(
        sample_vault,
        [move["new_path"]],
        "written by another program since the batch stopped; move it out of the vault and run "
        "`vaulttools recover` again",
    )
    assert destination.read_bytes() == b"a note of the same name, made by hand\n"


def test_an_old_journal_without_fingerprints_still_recovers(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    record = _killed_rename(sample_vault, 3)
    # A version 1 journal, as vaulttools wrote it before fingerprints: only a move's new bytes hashed.
    del record["version"]
    for entry in record["changes"]:
        moves = entry["new_path"] not in (None, entry["path"])
        for key in ("old_sha256", OLD_BLOB, "old_size", "new_size", "new_blocks"):
            entry.pop(key, None)
        if not moves:
            entry.pop("new_xxh3", None)
            entry.pop("new_blocks_xxh3", None)
            entry["new_sha256"] = None
    (sample_vault / PLAN).write_text(json.dumps(record), encoding="utf-8")

    recovered = run_vaulttools(sample_vault, "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert snapshot(sample_vault) == before
    assert_clean(sample_vault)


def test_recover_json_lists_each_changed_file_as_a_problem(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    record = _killed_rename(sample_vault, 3)
    written = [p for p in _rewritten(record) if (sample_vault / p).read_bytes() != before[p]]
    (sample_vault / written[1]).write_bytes(b"saved by Obsidian\n")
    refused = run_vaulttools(sample_vault, "recover", "--json")
    assert refused.returncode == 2
    document = json.loads(refused.stdout)
    assert document["error"]["exit_code"] == 2
    assert document["problems"] == [f"{written[1]}: {CHANGED.format(path=shlex.quote(written[1]))}"]


def test_keep_changed_puts_back_every_other_file_and_saves_the_original(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    record = _killed_rename(sample_vault, 3)
    written = [p for p in _rewritten(record) if (sample_vault / p).read_bytes() != before[p]]
    edited = sample_vault / written[0]
    typed = edited.read_bytes() + b"typed in Obsidian after the crash\n"
    edited.write_bytes(typed)

    recovered = run_vaulttools(sample_vault, "recover", "--keep-changed")
    assert recovered.returncode == 0, recovered.stderr
    assert snapshot(sample_vault) == {**before, written[0]: typed}  # everything else as before the batch
    saved = Path(".vaulttools") / "recovered" / record["batch_id"]
    assert (sample_vault / saved / written[0]).read_bytes() == before[written[0]]
    assert recovered.stdout.splitlines()[1:] == [
        f"kept as another program left it: {written[0]}",
        f"their bytes from before the batch: {saved.as_posix()}/",
    ]
    assert not (sample_vault / PLAN).exists()  # done: the journal is gone
    assert git(sample_vault, "status", "--porcelain", "-z").split("\0")[:-1] == [f" M {written[0]}"]
    assert commits(sample_vault) == 1


def test_keep_changed_leaves_a_deletion_and_a_file_on_a_move_destination(sample_vault: Path) -> None:
    before = snapshot(sample_vault)
    record = _killed_rename(sample_vault, 1)
    move = next(entry for entry in record["changes"] if entry["new_path"] not in (None, entry["path"]))
    destination = sample_vault / move["new_path"]
    destination.unlink(missing_ok=True)
    destination.write_bytes(b"a note of the same name, made by hand\n")
    untouched = [p for p in _rewritten(record) if (sample_vault / p).read_bytes() == before[p]]
    (sample_vault / untouched[-1]).unlink()

    recovered = run_vaulttools(sample_vault, "recover", "--keep-changed", "--json")
    assert recovered.returncode == 0, recovered.stderr
    document = json.loads(recovered.stdout)
    assert document["kept"] == sorted([move["new_path"], untouched[-1]])
    expected = {**before, move["new_path"]: b"a note of the same name, made by hand\n"}
    del expected[untouched[-1]]
    assert snapshot(sample_vault) == expected  # the moved note is back where it was, beside the hand-made one
    saved_to = sample_vault / document["saved_to"]
    assert (saved_to / untouched[-1]).read_bytes() == before[untouched[-1]]
    assert sorted(p.relative_to(saved_to).as_posix() for p in saved_to.rglob("*") if p.is_file()) == [
        untouched[-1]
    ]
