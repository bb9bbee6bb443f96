"""`log` and `undo`: the batch commits vaulttools made, and a plan that reverts the latest one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from vaulttools import journal, lock
from vaulttools.changes import BatchPlan, FileChange, OnDisk, PlanReport, Spool
from vaulttools.errors import VaultError
from vaulttools.git import UNDO_TRAILER, BatchCommit, ChangedFile, Repository
from vaulttools.journal import BATCH_ID_TRAILER


def latest_undoable(repo: Repository) -> BatchCommit:
    """The newest batch commit that is neither an undo nor already undone (a redo is an undo of an undo:
    it cancels that undo, so the batch the undo reverted counts again)."""
    undone: set[str] = set()
    for commit in repo.batch_commits():
        if commit.sha in undone:
            continue  # reverted by a later undo (or, for an undo, taken back by a redo)
        if commit.undoes and commit.command == "undo":
            undone.add(commit.undoes)
            continue
        return commit  # a batch, or a redo (undone as a batch of its own, which brings its undo back)
    raise VaultError("there is no vaulttools batch to undo (see `vaulttools log`)")


def latest_redoable(repo: Repository) -> BatchCommit:
    """The undo `redo` takes back: the newest batch commit still in effect, when it is an undo."""
    undone: set[str] = set()
    for commit in repo.batch_commits():
        if commit.sha in undone:
            continue
        if commit.undoes and commit.command == "undo":
            return commit
        if commit.undoes:  # a redo cancelled this undo
            undone.add(commit.undoes)
            continue
        raise VaultError(
            f"nothing to redo: the latest batch ({commit.sha[:10]} {commit.subject}) is not an undo; "
            "`vaulttools redo` takes back only the latest `vaulttools undo`"
        )
    raise VaultError("nothing to redo: there is no `vaulttools undo` to take back (see `vaulttools log`)")


def _not_cancelled(repo: Repository, later: list[str]) -> list[str]:
    """Later commits, less each batch that a later undo reverted and that undo itself: together they
    changed nothing, so undoing an older batch after them is safe."""
    if not later:
        return later
    undoes = {c.sha: c.undoes for c in repo.batch_commits() if c.undoes}
    pending = set(later)
    for undo_sha, batch_sha in undoes.items():
        if undo_sha in pending and batch_sha in pending:
            pending -= {undo_sha, batch_sha}
    return [sha for sha in later if sha in pending]


@dataclass(frozen=True)
class RevertedBatch:
    sha: str
    command: str
    subject: str


@dataclass(frozen=True)
class RevertPlanReport(PlanReport):
    """`plan.report` of undo and redo: the commit the plan reverts (for redo: the undo it takes back)."""

    reverted: RevertedBatch


def plan_undo(
    repo: Repository, commit: BatchCommit, *, command: str = "undo", vault_root: Path | None = None
) -> BatchPlan[RevertPlanReport]:
    """Put every file the batch touched back to its bytes in the batch's parent commit. `redo` is the
    same plan made from an undo commit (`command="redo"`): the files get the bytes the batch had written.
    The bytes are spooled (in `vault_root`'s state folder) past a budget, as every planner's are."""
    changes = repo.changed_paths(commit.sha)
    paths = [p for c in changes for p in ([c.path] if c.new_path is None else [c.path, c.new_path])]
    later = _not_cancelled(repo, repo.commits_touching_since(commit.sha, paths))
    if later:
        raise VaultError(
            f"{len(later)} later commit(s) (newest {later[0][:10]}) changed files of batch {commit.sha[:10]}: "
            "undo those first or revert by hand with `git revert`"
        )
    root = vault_root or repo.vault_root
    if not repo.stores_files_as_they_are(paths):
        # git converts these files (`core.autocrlf`, `eol`/`text`/`filter` attributes): its blobs need not
        # be the bytes on disk, and a blob written as it is would undo a CRLF note into LF.
        oids = sorted({blob for change in changes for blob in (change.old_blob, change.new_blob) if blob})
        by_oid = dict(zip(oids, repo.blob_contents([oid.encode() for oid in oids]), strict=True))
        converted = [_reverted_converted(repo, change, root, by_oid) for change in changes]
        return _undo_plan(repo, commit, command, converted)
    # A file the batch rewrote in place keeps the commit's bytes on disk until the undo writes over them:
    # known by their blob id and size, not read (an undo of 13,000 rewritten 30 KB notes read 400 MB).
    sizes = repo.blob_sizes(c.new_blob for c in changes if _rewritten_in_place(c) and c.new_blob)
    # Every blob the plan reads, by one git process, in order: (bytes after the batch, bytes before it).
    wanted: list[bytes] = []
    for change in changes:
        if change.new_blob is not None and not _rewritten_in_place(change):
            wanted.append(change.new_blob.encode())
        if change.old_blob is not None:
            wanted.append(change.old_blob.encode())
    blobs = repo.blob_contents(wanted)
    spool = Spool(vault_root)
    plan_changes: list[FileChange] = []
    for change in changes:
        plan_changes.append(spool.keep(_reverted(change, blobs, sizes, root)))
    return _undo_plan(repo, commit, command, plan_changes)


def _undo_plan(
    repo: Repository, commit: BatchCommit, command: str, plan_changes: list[FileChange]
) -> BatchPlan[RevertPlanReport]:
    summary = f"revert {commit.sha[:10]} ({commit.subject})"
    if command == "redo":  # named after the batch that returns, not the undo it takes back
        batch = next((c for c in repo.batch_commits() if c.sha == commit.undoes), commit)
        summary = f"redo {batch.sha[:10]} ({batch.subject})"
    plan = BatchPlan(
        command=command,
        summary=summary,
        changes=plan_changes,
        counts={"files_restored": len(plan_changes)},
        report=RevertPlanReport(RevertedBatch(commit.sha, commit.command, commit.subject)),
    )
    plan.trailers[UNDO_TRAILER] = commit.sha
    return plan


def _reverted_converted(
    repo: Repository, change: ChangedFile, root: Path, blobs: dict[str, bytes]
) -> FileChange:
    """`_reverted` for a file git converts on the way in. git keeps the bytes normalised (its blob after
    the batch, N), and the file on disk is N as it is or with CRLF line ends, as the batch wrote it (it keeps
    a note's line ends): the bytes before the batch (blob O) get the same line ends. A file that is
    neither (a filter: LFS, `ident`) is refused with what to do. A file the batch deleted comes back as
    `git checkout` writes it."""
    at = change.new_path or change.path
    old_bytes = None if change.old_blob is None else blobs[change.old_blob]
    if change.new_blob is None:  # the batch deleted it: nothing on disk to take the line ends from
        restored = None if change.old_blob is None else repo.blob_as_checked_out(change.old_blob, change.path)
        return FileChange(change.path, None, restored)
    after = blobs[change.new_blob]
    try:
        on_disk = (root / at).read_bytes()
    except OSError:
        on_disk = None
    if on_disk is None or on_disk == after:  # gone since: the batch refuses it as it does any other
        as_written, restored = after, old_bytes
    elif on_disk is not None and on_disk == _with_crlf(after):
        as_written, restored = on_disk, None if old_bytes is None else _with_crlf(old_bytes)
    else:
        raise VaultError(
            f"{at}: git converts this file on the way in (core.autocrlf, or a .gitattributes `eol`, "
            "`text` or `filter`) and it is not the batch's bytes with either line end, so undo cannot tell "
            "its bytes before the batch: take the batch back with `git revert` (nothing was written)"
        )
    if change.status == "R" and change.new_path is not None:
        return FileChange(change.new_path, as_written, restored, change.path)
    return FileChange(change.path, as_written, restored)


_LONE_LINE_FEED = re.compile(rb"(?<!\r)\n")


def _with_crlf(data: bytes) -> bytes:
    """`data` with every line feed not after a carriage return written as CRLF (git's LF → CRLF smudge)."""
    return _LONE_LINE_FEED.sub(b"\r\n", data)


def _rewritten_in_place(change: ChangedFile) -> bool:
    """A regular file the batch changed where it stays: the undo writes its old bytes over the new ones."""
    return change.status == "M" and change.regular


def _reverted(change: ChangedFile, blobs: Iterator[bytes], sizes: dict[str, int], root: Path) -> FileChange:
    """The change that takes one file of the batch back (its blobs taken from `blobs` in `plan_undo`'s
    order). A rename's files are read whole: the batch checks a moved file's bytes as they are held."""
    if _rewritten_in_place(change) and change.new_blob is not None and change.old_blob is not None:
        on_disk = OnDisk(f"{root}/{change.path}", change.new_blob, sizes[change.new_blob])
        return FileChange.rewrite_of_blob(change.path, on_disk, next(blobs), change.old_blob)
    after = None if change.new_blob is None else next(blobs)
    before = None if change.old_blob is None else next(blobs)
    if change.status == "R" and change.new_path is not None:
        return FileChange(change.new_path, after, before, change.path)
    return FileChange(change.path, after, before)


class Recovery(NamedTuple):
    status: str  # "nothing" (no journal), "committed" (the batch had landed) or "restored"
    command: str | None
    restored: list[str]
    batch: str = ""  # how messages name the batch: command, id and start time
    commit: str | None = None  # the batch's commit, when it had landed
    kept: tuple[str, ...] = ()  # files another program changed since, left as they are (--keep-changed)
    saved_to: str | None = None  # where their bytes from before the batch were copied (vault-relative)


def recover_interrupted(root: Path, *, keep_changed: bool = False) -> Recovery:
    """Finish what a killed batch left, after deciding what really happened to it.

    Still running (its process holds the vault's lock) → refuse. Its commit on HEAD (found by the batch id
    trailer) → the batch is done: clear the journal, revert nothing. Otherwise put back every file; a file
    another program changed since refuses the whole recovery, unless KEEP_CHANGED: then such files are left
    as they are and their bytes from before the batch are copied under `.vaulttools/recovered/`.
    """
    record = journal.pending(root)
    if record is not None and journal.is_live(record, root):
        raise lock.VaultLocked(
            f"the {journal.describe(record)} is still running (pid {record.get('pid', '?')}): "
            "wait for it to finish; nothing was recovered"
        )
    with lock.vault_lock(root, "recover"):
        record = journal.pending(root)  # read again under the lock: the batch may have finished meanwhile
        if record is None:
            return Recovery("nothing", None, [])
        command, batch = record.get("command"), journal.describe(record)
        repo = Repository.find(root)
        if repo is not None:
            repo.remove_stale_prepared_indexes()  # the copy of git's index a batch killed early left behind
        landed = None
        if repo is not None and record.get("batch_id"):
            landed = repo.commit_with_trailer(BATCH_ID_TRAILER, record["batch_id"])
        if landed is not None:
            journal.finish(root)
            return Recovery("committed", command, [], batch, landed)
        kept = _files_changed_since(root, record, batch, keep_changed)
        saved_to = journal.save_originals(root, record, kept) if kept else None
        restored = journal.restore(root, record, kept)
        if repo is not None:
            # Only the files put back can differ from the index (a batch's own staging covers only files it
            # wrote), and every one of them is as in HEAD again: restage those alone.
            repo.stage_if_tracked(restored)
        journal.finish(root)
        saved = saved_to.relative_to(root).as_posix() if saved_to else None
        return Recovery("restored", command, restored, batch, kept=tuple(sorted(kept)), saved_to=saved)


def _files_changed_since(
    root: Path, record: dict[str, Any], batch: str, keep_changed: bool
) -> frozenset[str]:
    """The files another program changed since the batch stopped, which are never written over. Without
    KEEP_CHANGED recover is all or nothing: the others are not put back without them (half the batch undone
    and one file still in the batch's state would be a vault neither before nor after the batch, with no
    journal left to say so), unless the user says so."""
    changed = journal.foreign_changes(root, record)
    if changed and not keep_changed:
        raise VaultError(
            f"{len(changed)} file(s) of the interrupted {batch} were changed by another program since it "
            "stopped; nothing was restored and the journal is kept: do as each line says, or run "
            "`vaulttools recover --keep-changed` to put back every other file and leave these as they are",
            lines=list(changed.values()),
        )
    return frozenset(changed)
