"""`log` and `undo`: the batch commits vaulttools made, and a plan that reverts the latest one."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from vaulttools import journal, lock
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.errors import VaultError
from vaulttools.git import UNDO_TRAILER, BatchCommit, Repository
from vaulttools.journal import BATCH_ID_TRAILER


def latest_undoable(repo: Repository) -> BatchCommit:
    """The newest batch commit that is neither an undo nor already undone."""
    undone: set[str] = set()
    for commit in repo.batch_commits():
        if commit.undoes:
            undone.add(commit.undoes)
            continue
        if commit.sha not in undone:
            return commit
    raise VaultError("there is no vaulttools batch to undo (see `vaulttools log`)")


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


def plan_undo(repo: Repository, commit: BatchCommit) -> BatchPlan:
    """Put every file the batch touched back to its bytes in the batch's parent commit."""
    changes = repo.changed_paths(commit.sha)
    paths = [p for _, path, new in changes for p in ([path] if new is None else [path, new])]
    later = _not_cancelled(repo, repo.commits_touching_since(commit.sha, paths))
    if later:
        raise VaultError(
            f"{len(later)} later commit(s) (newest {later[0][:10]}) changed files of batch {commit.sha[:10]}: "
            "undo those first or revert by hand with `git revert`"
        )
    parent = commit.sha + "^"
    # Every blob the plan needs, read by one git process: (bytes after the batch, bytes before it).
    wanted: list[tuple[str, str]] = []
    for status, path, new_path in changes:
        if status != "D":
            wanted.append((commit.sha, new_path if status == "R" and new_path is not None else path))
        if status != "A":
            wanted.append((parent, path))
    blobs = iter(repo.blobs(wanted))
    plan_changes: list[FileChange] = []
    for status, path, new_path in changes:
        after = None if status == "D" else next(blobs)
        before = None if status == "A" else next(blobs)
        if status == "R" and new_path is not None:
            plan_changes.append(FileChange(new_path, after, before, path))
        else:
            plan_changes.append(FileChange(path, after, before))
    plan = BatchPlan(
        command="undo",
        summary=f"revert {commit.sha[:10]} ({commit.subject})",
        changes=plan_changes,
        counts={"files_restored": len(plan_changes)},
    )
    plan.trailers[UNDO_TRAILER] = commit.sha
    return plan


class Recovery(NamedTuple):
    status: str  # "nothing" (no journal), "committed" (the batch had landed) or "restored"
    command: str | None
    restored: list[str]
    batch: str = ""  # how messages name the batch: command, id and start time
    commit: str | None = None  # the batch's commit, when it had landed


def recover_interrupted(root: Path) -> Recovery:
    """Finish what a killed batch left, after deciding what really happened to it.

    Still running (its process holds the vault's lock) → refuse. Its commit on HEAD (found by the batch id
    trailer) → the batch is done: clear the journal, revert nothing. Otherwise put back every file.
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
        landed = None
        if repo is not None and record.get("batch_id"):
            landed = repo.commit_with_trailer(BATCH_ID_TRAILER, record["batch_id"])
        if landed is not None:
            journal.finish(root)
            return Recovery("committed", command, [], batch, landed)
        restored = journal.restore(root, record)
        if repo is not None:
            # Only the files put back can differ from the index (a batch's own staging covers only files it
            # wrote), and every one of them is as in HEAD again: restage those alone.
            repo.stage_if_tracked(restored)
        journal.finish(root)
        return Recovery("restored", command, restored, batch)
