"""Crash safety: a batch writes its plan and the original bytes before touching the vault.

The journal lives in `.vaulttools/journal/` at the vault root (a dot-folder vaulttools never scans, with a
`.gitignore` of `*` so git never sees it). It is removed after the commit. If it is still there, a batch
was killed midway: every command refuses to run until `vaulttools recover` puts the vault back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from glob import escape as glob_escape
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vaulttools.errors import VaultError

if TYPE_CHECKING:
    from vaulttools.batch import BatchPlan

STATE_DIR = ".vaulttools"
JOURNAL = "journal"
PLAN_FILE = "plan.json"
ORIGINALS_FILE = "originals.bin"
BATCH_ID_TRAILER = "Vaulttools-Batch-Id"


def state_dir(root: Path) -> Path:
    """`.vaulttools/` at the vault root, created with a `.gitignore` that hides it from git."""
    folder = root / STATE_DIR
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return folder


def _journal_dir(root: Path) -> Path:
    return root / STATE_DIR / JOURNAL


def pending(root: Path) -> dict[str, Any] | None:
    plan_file = _journal_dir(root) / PLAN_FILE
    if not plan_file.is_file():
        return None
    try:
        return json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"command": "unknown", "changes": [], "damaged": True}


def refuse_if_pending(root: Path) -> None:
    record = pending(root)
    if record is not None:
        raise VaultError(
            f"an earlier `vaulttools {record.get('command', '?')}` batch was interrupted before it finished: "
            "run `vaulttools recover` to put the vault back as it was before that batch"
        )


def begin(root: Path, plan: BatchPlan) -> None:
    folder = _journal_dir(root)
    state_dir(root)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    batch_id = uuid.uuid4().hex
    plan.trailers[BATCH_ID_TRAILER] = batch_id
    entries = []
    # Every original goes into one file at a recorded offset: thousands of small backup files cost a
    # file creation and (in `finish`) a deletion each, which dominated large batches.
    offset = 0
    with open(folder / ORIGINALS_FILE, "wb") as originals:
        for change in plan.changes:
            old = change.old  # read once: a spooled change reads its bytes back on every access
            moves = change.new_path not in (None, change.path)
            entry = {
                "path": change.path,
                "new_path": change.new_path,
                # `restore` removes a moved note's destination only if it holds the batch's bytes.
                "new_sha256": _sha(change.new) if moves else None,
                "backup": None,
            }
            if old is not None:
                originals.write(old)
                entry |= {"backup": ORIGINALS_FILE, "offset": offset, "length": len(old)}
                offset += len(old)
            entries.append(entry)
        _make_durable(originals)
    record = {"command": plan.command, "batch_id": batch_id, "changes": entries}
    temp = folder / (PLAN_FILE + ".tmp")
    with open(temp, "w", encoding="utf-8") as plan_file:
        plan_file.write(json.dumps(record, separators=(",", ":")))
        _make_durable(plan_file)
    temp.replace(folder / PLAN_FILE)  # the plan appears whole or not at all
    _sync_folder(folder)


def _make_durable(file: IO[Any]) -> None:
    """On disk before the batch writes a note: notes are rewritten in place, so after a crash (even a power
    cut) the journal must hold every original. Two fsyncs per batch, ~30 ms for 60 MB of originals."""
    file.flush()
    os.fsync(file.fileno())


def _sync_folder(folder: Path) -> None:
    """Make the plan's rename durable (POSIX only: Windows cannot open a folder)."""
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def finish(root: Path) -> None:
    folder = _journal_dir(root)
    plan_file = folder / PLAN_FILE
    if plan_file.exists():
        plan_file.unlink()
    shutil.rmtree(folder, ignore_errors=True)


def restore(root: Path, record: dict[str, Any]) -> list[str]:
    """Put every file of an interrupted batch back to its original bytes; returns the paths restored."""
    folder = _journal_dir(root)
    restored = []
    backups: dict[str, bytes] = {}
    for entry in reversed(record.get("changes", [])):
        path = root / entry["path"]
        new_path = entry.get("new_path")
        if new_path and new_path != entry["path"]:
            destination = root / new_path
            if destination.exists() and _sha(destination.read_bytes()) == entry["new_sha256"]:
                destination.unlink()
                restored.append(new_path)
        backup = entry.get("backup")
        if backup is None:
            if path.exists():
                path.unlink()
                restored.append(entry["path"])
            continue
        original = _backup_bytes(folder, entry, backups)
        if not path.exists() or path.read_bytes() != original:
            path.parent.mkdir(parents=True, exist_ok=True)
            from vaulttools.vault import rewrite_in_place

            rewrite_in_place(path, original)
            restored.append(entry["path"])
    _remove_temporary_files(root, record)
    return restored


def _backup_bytes(folder: Path, entry: dict[str, Any], loaded: dict[str, bytes]) -> bytes:
    """An entry's original bytes: a slice of the shared originals file, or (older journals) a whole file."""
    name = entry["backup"]
    if "offset" not in entry:
        return (folder / name).read_bytes()
    if name not in loaded:
        loaded[name] = (folder / name).read_bytes()
    start = entry["offset"]
    return loaded[name][start : start + entry["length"]]


def _remove_temporary_files(root: Path, record: dict[str, Any]) -> None:
    """A kill during an atomic write leaves its `.NAME.*.vt-tmp` file beside the note: remove it."""
    for entry in record.get("changes", []):
        for relative in {entry["path"], entry.get("new_path") or entry["path"]}:
            target = root / relative
            if target.parent.is_dir():
                for temp in target.parent.glob(f".{glob_escape(target.name)}.*.vt-tmp"):
                    temp.unlink(missing_ok=True)


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()
