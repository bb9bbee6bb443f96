"""plan → verify → write → commit. Every writing command hands a `BatchPlan` to `run_batch`."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import signal
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from vaulttools import journal, lock
from vaulttools.changes import NEW_BLOB, NEW_BLOB_HELD, OLD_BLOB, BatchPlan, FileChange
from vaulttools.digests import blob_id
from vaulttools.errors import BatchAborted, DirtyFilesError, EditConflict, GitError, VaultError
from vaulttools.files import (
    BackgroundSync,
    atomic_write,
    rewrite_in_place,
    status_writable,
    synced_before,
    synced_once,
    writable_by_its_owner,
)
from vaulttools.git import (
    IndexListing,
    KnownBlobs,
    ObjectStore,
    PrebuiltTree,
    Repository,
    Stager,
    StoredBlob,
    TreeRecords,
    tree_records,
)
from vaulttools.parallel import in_fork, in_thread
from vaulttools.resolve import fold
from vaulttools.vault import ScanResult, Vault

if TYPE_CHECKING:  # a batch that deletes many files loads it
    from concurrent.futures import Future, ThreadPoolExecutor


@dataclass
class BatchResult:
    written: bool
    committed: str | None = None  # commit sha
    dry_run: bool = False
    nothing_to_do: bool = False
    detached_head: str | None = None  # HEAD's commit when the batch committed on a detached HEAD
    warnings: list[str] = field(default_factory=list)
    would_refuse: str | None = None  # a dry run: why the real run would refuse before writing, if it would


@dataclass(frozen=True)
class BatchOptions:
    dry_run: bool = False
    commit: bool = True
    no_verify: bool = False


def run_batch(
    vault: Vault,
    plan: BatchPlan,
    options: BatchOptions,
    *,
    after_write: Callable[[str], None] | None = None,
) -> BatchResult:
    """Write a plan atomically and commit it as one commit; on any failure put every byte back.

    Holds the vault's lock throughout (the CLI took it before planning; an API caller gets it here), and
    names the batch to the hooks its commit runs (`lock.BATCH_ENV`)."""
    if plan.empty:
        return BatchResult(written=False, nothing_to_do=True, dry_run=options.dry_run)
    if options.dry_run:
        try:
            check_before_writing(vault, plan, options)
        except VaultError as refusal:
            return BatchResult(written=False, dry_run=True, would_refuse=refusal.message)
        return BatchResult(written=False, dry_run=True)
    batch_id = journal.new_batch_id(plan)
    with lock.vault_lock(vault.root, plan.command), lock.batch_environment(batch_id):
        return _write_and_commit(vault, plan, options, after_write)


def _write_and_commit(
    vault: Vault, plan: BatchPlan, options: BatchOptions, after_write: Callable[[str], None] | None
) -> BatchResult:
    _injected_fault("start")
    repo = _repository_for(vault, options)
    journal.refuse_if_pending(vault.root)
    touched = [p for change in plan.changes for p in change.touched_paths]
    # The changes that create, move or delete a file: few or none (most batches rewrite notes in place),
    # so the checks that concern only them look at them alone, not at every change again.
    moving = [change for change in plan.changes if not change.in_place]
    early = _early_index(repo) if repo is not None else None  # git's index, read while the plan was made
    # Asked before the first write, so the answer cannot be about the batch's own commit.
    detached = repo.detached_head() if options.commit and repo is not None else None
    blobs = (
        in_thread(lambda: _blobs_to_store(repo, plan, early, not moving), "vaulttools-git-objects")
        if options.commit and repo is not None and _writes_many_files(plan, moving)
        else None
    )
    directly = _commits_directly(repo, options) if options.commit and repo is not None else None
    journaling = _check_and_journal(vault.root, plan, repo, touched, moving, early, vault.scan)
    with _put_back_on_failure(vault.root, repo, touched, journaling) as progress:
        if options.commit and repo is not None:
            known = _known_blobs(repo, blobs, early) if blobs is not None else None
            answer = directly() if directly is not None else None
            progress.stager = repo.stager(no_verify=options.no_verify, known=known, directly=answer)
        _write_changes(vault, plan, progress, after_write, journaling, moving)
        journaling.stop()  # every original was on disk before the last write: the copy is done
        sha = None
        if progress.stager is not None and repo is not None:
            sha = repo.commit_batch(progress.stager, touched, plan.commit_message(), options.no_verify)
        progress.wait_for_sync()
    # Outside the rollback: once committed, the batch is done; a kill here leaves only the journal,
    # which `recover` recognises by the commit's batch id and clears.
    _injected_fault("commit")
    journal.finish(vault.root)
    _remove_emptied_folders(vault.root, moving)
    warnings = _line_ending_warnings(repo, plan) if sha and repo is not None else []
    return BatchResult(
        written=True, committed=sha, warnings=warnings, detached_head=detached if sha else None
    )


def _commits_directly(repo: Repository, options: BatchOptions) -> Callable[[], bool | None]:
    """Whether the commit can be made directly (`Repository.commits_directly`), and the identity it names
    (`identity_config`, kept by `repo`), asked of git on a thread while the batch checks its plan: five
    `git` processes (~0.015 s) no longer between the checks and the first write, or the writes and the
    commit. None: git could not tell; the stager asks again."""

    def ask() -> bool | None:
        try:
            answer = repo.commits_directly(no_verify=options.no_verify)
            repo.identity_config()
        except GitError:
            return None
        return answer

    return in_thread(ask, "vaulttools-git-config")


# Files a batch writes from which its commit names their blobs itself (`KnownBlobs`): below, one `git
# hash-object` costs less than asking git's attributes and forking a process to store them (git's own
# `transfer.unpackLimit`, past which a fetch keeps a pack rather than a file per object, is 100 too).
KNOWN_BLOBS_FROM = 100


def _writes_many_files(plan: BatchPlan, moving: list[FileChange]) -> bool:
    """At least `KNOWN_BLOBS_FROM` files to write (`moving`: the plan's changes not in place, which hold
    every deletion)."""
    return len(plan.changes) - sum(change.deletes for change in moving) >= KNOWN_BLOBS_FROM


class _BlobsFound(NamedTuple):
    """What `_blobs_to_store` found: every file the batch writes → its blob id, the changes whose blob git
    lacks, and (for a batch that only rewrites tracked files) what git builds the commit's trees from."""

    blobs: dict[str, str]
    lacking: list[FileChange]
    records: TreeRecords | None


def _blobs_to_store(
    repo: Repository, plan: BatchPlan, early: IndexListing | None = None, in_place_only: bool = False
) -> _BlobsFound | None:
    """Every file the batch writes (its final path) → the git blob id of its new bytes, the planner's
    (`NEW_BLOB`, taken on every core) or taken here; and the changes whose blob git lacks. None where the
    ids would not be git's: a SHA-256 repository, or files git converts on the way in. The blobs the
    planner found held are freshened now, as `git hash-object` does before a commit names them; one gone
    since is given again. `in_place_only`: the plan only rewrites files in place, whose commit's trees
    git may build while the batch writes (`git.tree_records`, made here, on the thread of the checks)."""
    store = ObjectStore.of(repo.root)
    writing = [change for change in plan.changes if not change.deletes]
    paths = [change.final_path for change in writing]
    if store is None or not repo.stores_files_as_they_are(paths, early):
        return None
    blobs: dict[str, str] = {}
    lacking = []
    freshen, holds = store.freshen, store.holds
    for change, path in zip(writing, paths, strict=True):  # 12,700 notes: ~1 µs each counts
        recorded = change.fingerprints or {}
        oid = recorded.get(NEW_BLOB) or blob_id(change.new_bytes)
        blobs[path] = oid
        if not freshen(oid, recorded.get(NEW_BLOB_HELD) or holds(oid)):
            lacking.append(change)
    records = tree_records(repo, blobs, early) if in_place_only and early is not None else None
    return _BlobsFound(blobs, lacking, records)


def _known_blobs(
    repo: Repository,
    blobs_to_store: Callable[[], _BlobsFound | None],
    early: IndexListing | None = None,
) -> Callable[[], KnownBlobs | None]:
    """What makes the batch's `KnownBlobs` (None where git would convert a file): forked processes store
    the blobs git lacks while this one writes the notes, with no lock or interpreter shared with it (a
    thread doing it slowed the writes: 0.3-0.45 s on 12,700 notes); none when git holds them all; and git
    builds the commit's trees on a thread meanwhile, where it can (`KnownBlobs.build_trees`). `early`:
    the index as read while the plan was made, whose HEAD's top folder the commit builds on."""

    def make() -> KnownBlobs | None:
        try:
            found = blobs_to_store()
        except (GitError, OSError):
            return None  # git or its object store cannot tell: `BlobWriter` asks git file by file
        if found is None:
            return None
        blobs, lacking, records = found
        reads = [(blobs[change.final_path], _new_bytes_of(change)) for change in lacking]
        root_tree = early.root_tree if early is not None else None  # HEAD's top folder, read while planning
        known = KnownBlobs(repo, blobs, _stored_in_forks(repo, reads) if reads else None, root_tree)
        if records is not None:
            known.prebuilt = _trees_built_meanwhile(known, records)
        return known

    return make


def _trees_built_meanwhile(known: KnownBlobs, records: TreeRecords) -> Callable[[], PrebuiltTree | None]:
    """The commit's trees, built by git on a thread while the batch writes (`KnownBlobs.build_trees`)."""
    return in_thread(lambda: known.build_trees(records), "vaulttools-git-trees")


def _new_bytes_of(change: FileChange) -> Callable[[], bytes]:
    """What gives a change's new bytes to the processes that store them while the batch writes. Those made
    from the old bytes (`NewFromOld`: the planner found git held them, and it no longer does) are made now,
    before the batch writes over the old ones."""
    if change.new_made_from_old:
        made = change.new_bytes
        return lambda: made
    return lambda: change.new_bytes


# Blobs to store from which a second forked process shares the deflating (one pack each): 10,000 new
# 30 KB notes take one process ~3 s to deflate, while the batch's own writes take ~0.6 s.
SECOND_STORER_FROM = 512


def _stored_in_forks(repo: Repository, reads: list[tuple[str, Callable[[], bytes]]]) -> Callable[[], int]:
    """Store `reads` (`Repository.store_blobs`) in forked processes, one per core for a big batch; the
    returned function waits for every one of them and raises the first failure."""
    jobs = max(1, min(os.cpu_count() or 1, len(reads) // SECOND_STORER_FROM))
    storers = [in_fork(functools.partial(repo.store_blobs, reads[turn::jobs])) for turn in range(jobs)]

    def stored() -> int:
        outcomes: list[int | BaseException] = []
        for storer in storers:
            try:
                outcomes.append(storer())
            except Exception as exc:  # every process is waited for; the first failure is raised
                outcomes.append(exc)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return sum(outcome for outcome in outcomes if isinstance(outcome, int))

    return stored


def _check_and_journal(
    root: Path,
    plan: BatchPlan,
    repo: Repository | None,
    touched: list[str],
    moving: list[FileChange],
    early: IndexListing | None = None,
    scan: ScanResult | None = None,
) -> journal.Journaling:
    """Everything that can refuse the batch, before the first write; on success the journal's plan is on
    disk and its originals are being copied (a note is written once its own is on disk: `wait_for`).

    git's index and status and the journal's plan run on threads while the checks proceed; none of them
    touches a note, and all are awaited before this returns. On a refusal the journal is removed again
    (nothing was written: it has nothing to guard)."""
    in_index = (
        in_thread(lambda: _planned_blobs_in_index(repo, plan, early), "vaulttools-git-index")
        if repo
        else None
    )
    dirty_paths = (
        in_thread(lambda: _dirty_paths(repo, touched, in_index, moving), "vaulttools-git-status")
        if repo is not None and in_index is not None
        else None
    )
    started: Callable[[], journal.Journaling] | None = None
    journaling: journal.Journaling | None = None
    try:
        _check_destinations_free(root, moving)
        started = in_thread(
            lambda: journal.start(root, plan, _originals_in_git(repo, plan, in_index)),
            "vaulttools-journal-plan",
        )
        _check_writable(root, plan.changes)
        dirty = dirty_paths() if dirty_paths is not None else []
        if dirty:
            raise _dirty_files_error(dirty)
        _refuse_if_planned_facts_changed(root, plan, moving, scan)  # while the journal's plan is written
        journaling = started()
    except BaseException:
        _stop_journal(root, started, journaling)
        if dirty_paths is not None:
            with contextlib.suppress(GitError):
                dirty_paths()  # let git finish; the first refusal is the one to report
        raise
    return journaling


# git's index read while a command planned (`read_git_index_in_background`): the vault's root, and what
# waits for the repository found and its listing.
_EARLY_INDEX: list[tuple[Path, Callable[[], tuple[Repository | None, IndexListing | None]]]] = []


def read_git_index_in_background(root: Path) -> None:
    """Start reading git's index on a thread now (`Repository.read_index`): a command about to plan a big
    batch calls it, so that git lists the index while the notes are planned instead of after (~0.05 s of
    the batch's checks, waited for before its journal). The batch takes the listing only if the index and
    HEAD are still as they were (`_early_index`), else reads them again, as before."""

    def read() -> tuple[Repository | None, IndexListing | None]:
        repo = Repository.find(root)
        if repo is None:
            return None, None
        ObjectStore.of(root)  # found now, not while the planner waits (it asks before its workers start)
        return repo, repo.read_index()

    _EARLY_INDEX[:] = [(root, in_thread(read, "vaulttools-git-index-early"))]


def _early_index(repo: Repository) -> IndexListing | None:
    """The listing `read_git_index_in_background` took for this vault, if it still describes the index."""
    if not _EARLY_INDEX:
        return None
    root, listing_read = _EARLY_INDEX.pop()
    if root != repo.vault_root and Path(root).resolve() != repo.vault_root:
        return None
    try:
        listing = listing_read()[1]
    except Exception:  # whatever stopped the early read: the index is read now, as it always was
        return None
    return listing if listing is not None and repo.index_unchanged(listing) else None


def _repository_found_early(root: Path) -> Repository | None:
    """The repository `read_git_index_in_background` found for this vault (None: none was looked for, or
    the search failed): the batch need not run `git rev-parse` again. The listing stays for `_early_index`."""
    if not _EARLY_INDEX or _EARLY_INDEX[0][0] != root:
        return None
    try:
        return _EARLY_INDEX[0][1]()[0]
    except Exception:  # the batch looks for it itself, as it always did
        return None


class _IndexFacts(NamedTuple):
    """What the batch's checks learn from git's index (see `_planned_blobs_in_index`)."""

    stored: dict[str, StoredBlob]
    listing: IndexListing | None  # the index read before planning, still current (None: read now)


def _planned_blobs_in_index(
    repo: Repository | None, plan: BatchPlan, early: IndexListing | None = None
) -> _IndexFacts:
    """The notes rewritten in place whose index entry is the git blob of the very bytes the plan read
    (`OLD_BLOB`, taken by the planner): vault path → that blob. None of git's work is needed to know such
    a note is clean (below) or that git holds its original (the journal). `early`: the index as read while
    the plan was made, still current (`_early_index`); else it is read now."""
    if repo is None:
        return _IndexFacts({}, None)
    wanted = {}
    for change in plan.changes:
        recorded = change.fingerprints
        old_blob = recorded.get(OLD_BLOB) if recorded is not None else None
        if old_blob is not None and change.in_place:
            wanted[change.path] = str(old_blob)
    listing = early if wanted else None
    try:
        return _IndexFacts(repo.stored_blobs(wanted, by_folder=True, listing=listing), listing)
    except GitError:  # git cannot list its index now: `git status` decides, the journal copies every original
        return _IndexFacts({}, None)


def _dirty_paths(
    repo: Repository,
    touched: list[str],
    in_index: Callable[[], _IndexFacts],
    moving: list[FileChange] | None = None,
) -> list[str]:
    """The batch's paths with staged, unstaged or untracked changes.

    A note is clean when the bytes the plan read are the index's blob (`_planned_blobs_in_index`) and the
    index holds no staged change of it (`git diff-index --cached`, which reads no work tree file): its
    bytes on disk when read were those committed, and the batch compares them again as it writes. Only the
    other paths are left to `git status`, which runs only when there are any. A blob computed from the raw
    bytes misses a file that git stores converted (line endings, filters): `git status` decides for it, as
    before. The paths of the changes that create, move or delete a file (`moving`) are never vouched for
    so: git looks at them while the index is read (a rename's old and new path: ~0.03 s less before the
    batch's first write on 20,000 notes)."""
    unvouched = sorted({path for change in moving or () for path in change.touched_paths})
    asked_first = (
        in_thread(lambda: repo.dirty_paths(unvouched), "vaulttools-git-status-moves") if unvouched else None
    )
    try:
        known, listing = in_index()
        staged = None if not known else listing.staged if listing is not None else repo.staged_paths()
        clean = set() if staged is None else known.keys() - staged
        asked = set(unvouched)
        rest = [path for path in touched if path not in clean and path not in asked]
        dirty = repo.dirty_paths(rest) if rest else []
    finally:
        first = asked_first() if asked_first is not None else []  # awaited whatever happened
    return sorted({*dirty, *first})


# Whether the journal may name a note's original by its git blob (see `_originals_in_git`); tests turn it
# off to run the copying path on a git vault.
NAME_GIT_BLOBS = True
# A loose object written this close to a sync may have been renamed into place after it began.
SYNC_MARGIN_SECONDS = 2.0


def _originals_in_git(
    repo: Repository | None, plan: BatchPlan, in_index: Callable[[], _IndexFacts] | None = None
) -> dict[int, str]:
    """The changes whose original git already holds, durably: index in the plan → blob id. The journal
    names those blobs instead of copying the bytes (320 MB and their syncs for 10,000 notes of 32 KB).

    A note qualifies when it is rewritten in place, its planner took the git blob id of the bytes it read
    (`FileChange.old_left_on_disk`), and the index holds exactly that blob (`_planned_blobs_in_index`: so
    the object exists and is not pruned). git does not sync loose objects by default: one `os.sync()` makes
    every one written before it durable (`files.synced_before`: normalize-links starts it before planning,
    so it runs meanwhile); loose objects written since (or just before) are copied as before. Packed objects
    were synced by git when it wrote the pack."""
    if repo is None or not NAME_GIT_BLOBS:
        return {}
    stored = (in_index() if in_index is not None else _planned_blobs_in_index(repo, plan)).stored
    if any(blob.loose_since is not None for blob in stored.values()):
        # No sync where the system has none (Windows): only packed objects count there.
        synced_from = synced_before() - SYNC_MARGIN_SECONDS if hasattr(os, "sync") else float("-inf")
        stored = {path: blob for path, blob in stored.items() if _written_before(repo, blob, synced_from)}
    return {index: stored[c.path].oid for index, c in enumerate(plan.changes) if c.path in stored}


def _written_before(repo: Repository, blob: StoredBlob, moment: float) -> bool:
    """The blob is packed or its loose object was written before `moment`: by its folder's last change
    (`stored_blobs(by_folder=True)`), else by the object's own file."""
    if blob.loose_since is None or blob.loose_since < moment:
        return True
    written = repo.loose_object_time(blob.oid)
    return written is None or written < moment


def _stop_journal(
    root: Path, started: Callable[[], journal.Journaling] | None, journaling: journal.Journaling | None
) -> None:
    """A refused batch's journal: stop copying originals and remove it (nothing was written)."""
    if journaling is None and started is not None:
        with contextlib.suppress(Exception):
            journaling = started()
    if journaling is not None:
        journaling.stop()
    if started is not None:
        journal.finish(root)


@dataclass
class _WriteProgress:
    """What a batch has done so far: what a rollback must undo, abort or wait for."""

    written: list[FileChange] = field(default_factory=list)
    stager: Stager | None = None
    sync: BackgroundSync | None = None
    deleter: _Deleter | None = None

    def wait_for_sync(self) -> None:
        if self.sync is not None:
            self.sync.wait()


# Deletions run on this many threads once a batch deletes `DELETE_THREADS_FROM` files or more: an `unlink`
# mostly waits on the file system's journal (0.3-5 ms each on ext4 with `discard`, 5,000 of them for
# `merge --all`), and waits overlap: 5,000 deletions took 6-11 s one by one, 0.4-0.6 s on 8 threads.
DELETE_THREADS = 8
DELETE_THREADS_FROM = 16


class _Deleter:
    """Deletes a batch's files, each checked against its planned bytes at the last moment as before, on
    threads when there are many. A file is listed in `written` (for a rollback) once its check passed, just
    before it is deleted. `finish` waits for them all and raises the first failure; `stop` (a rollback)
    lets the deletions under way end and drops those not started, so that nothing is deleted behind it."""

    def __init__(self, root: Path, written: list[FileChange], threads: int) -> None:
        self._root = root
        self._written = written
        self._pool: ThreadPoolExecutor | None = None
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="vaulttools-delete")
        self._pending: list[Future[None]] = []
        self.deleted: list[str] = []
        # What removes a moved file's source (`_write_change`): `remove_source`, or None (removed at once).
        self.source_remover: Callable[[Path], None] | None = self.remove_source

    def delete(self, change: FileChange) -> None:
        self.deleted.append(change.path)
        if self._pool is None:
            self._delete(change)
        else:
            self._pending.append(self._pool.submit(self._delete, change))

    def _delete(self, change: FileChange) -> None:
        _refuse_if_changed_since_planning(self._root, change)
        self._written.append(change)
        os.unlink(self._root / change.path)

    def remove_source(self, source: Path) -> None:
        """Remove the file a move left behind once its destination is written (the change is already in
        `written`: a rollback removes the destination and writes the source's old bytes back, whether or
        not it was removed yet). Staged with the deletions (`deleted`)."""
        self.deleted.append(source.relative_to(self._root).as_posix())
        if self._pool is None:
            source.unlink()
        else:
            self._pending.append(self._pool.submit(source.unlink))

    def finish(self) -> None:
        failures = [exc for exc in (future.exception() for future in self._pending) if exc is not None]
        self.stop()
        if failures:
            raise failures[0]

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _put_back_on_failure(
    root: Path, repo: Repository | None, touched: list[str], journaling: journal.Journaling
) -> Iterator[_WriteProgress]:
    """On any failure inside the block, every written file gets its old bytes back, git's index is
    restaged, the journal is cleared, and the failure is reported as a `BatchAborted` that says so."""
    progress = _WriteProgress()
    try:
        yield progress
    except BaseException as exc:
        journaling.stop()
        if progress.deleter is not None:
            progress.deleter.stop()  # before the rollback: nothing is deleted behind it
        progress.wait_for_sync()
        if progress.stager is not None:
            progress.stager.abort()
        _roll_back(root, progress.written)
        if repo is not None:
            _restage_quietly(repo, touched)
        journal.finish(root)
        aborted = _aborted_because(exc)
        if aborted is None:
            raise
        raise aborted from exc


def _aborted_because(exc: BaseException) -> BatchAborted | None:
    """The one-line report of a failure that was rolled back (None: re-raise it as it is)."""
    if isinstance(exc, KeyboardInterrupt):
        return BatchAborted("interrupted: every file was put back as it was; nothing was committed")
    if isinstance(exc, GitError):
        return BatchAborted(f"{exc.message}; every file was put back as it was, nothing was committed")
    if isinstance(exc, OSError):
        where = exc.filename or "a file"
        return BatchAborted(
            f"writing {where} failed ({exc.strerror}); every file was put back as it was, nothing was committed"
        )
    return None


def _write_changes(
    vault: Vault,
    plan: BatchPlan,
    progress: _WriteProgress,
    after_write: Callable[[str], None] | None,
    journaling: journal.Journaling,
    moving: list[FileChange],  # the changes not rewritten in place
) -> None:
    """Write every change once its original is in the journal on disk, handing each to the stager as it
    lands; one sync for them all, started when the last is written (it runs while git commits)."""
    # A chain or swap of renames (a→b, b→c / a→b, b→a) writes onto a path another change vacates: clear
    # every moving source first (its bytes are in the plan and the journal), then write the destinations.
    clear_first = _moves_onto_vacated_paths(moving)
    # Only notes rewritten in place are written while later originals are still copied (the bulk of a
    # batch); a batch that also moves, creates or deletes files waits for the whole journal first.
    if moving:
        _journaled(journaling, len(plan.changes), plan.changes[-1])
    vacated_modes = _clear_moving_sources(vault.root, plan.changes, progress) if clear_first else {}
    root = str(vault.root)
    fault_test = CRASH_AFTER_ENV in os.environ
    stager = progress.stager
    deleter = progress.deleter = _new_deleter(vault.root, moving, progress.written, fault_test)
    with synced_once() as progress.sync:
        wrote = progress.sync.wrote
        for number, change in enumerate(plan.changes, start=1):  # the hot loop: 20,000 notes at most
            _journaled(journaling, number, change)
            source_to_deleter = False
            vacated_first = clear_first and _vacates(change)
            in_place = not vacated_first and _rewrites_in_place(change)
            if vacated_first:
                if not change.deletes:
                    _write_change(
                        vault.root, change, source_cleared=True, mode=vacated_modes.get(change.path)
                    )
            elif in_place:
                wrote(_rewrite_in_place(root, change, progress.written, journaling, number - 1))
            elif change.deletes:
                deleter.delete(change)  # staged once deleted (below): git must not find the file there
            else:
                _refuse_if_changed_since_planning(vault.root, change)
                # Listed before writing: a rename can fail half-way (destination written, source not yet
                # removed), and rolling back a change that was never written is harmless.
                progress.written.append(change)
                source_to_deleter = _write_change(vault.root, change, remove_source=deleter.source_remover)
            if stager is not None and in_place:  # the bulk of a batch: no lists to build
                stager.add((change.path,))
            elif stager is not None and not (change.deletes and not vacated_first):
                # A source the deleter removes is staged with the deletions, once removed (below).
                vacated = [] if not vacated_first and source_to_deleter else _vacated_by(change)
                stager.add([] if change.deletes else [change.final_path], vacated)
            if vault.on_progress is not None:
                vault.on_progress("Writing files", number, len(plan.changes))
            if after_write is not None:
                after_write(change.final_path)
            if fault_test:
                _injected_fault(str(number))
        deleter.finish()
        if stager is not None and deleter.deleted:
            stager.add([], deleter.deleted)


def _new_deleter(
    root: Path, moving: list[FileChange], written: list[FileChange], fault_test: bool
) -> _Deleter:
    """The batch's deleter, on threads when it removes many files: deleted ones, and the sources moved
    files leave (`_Deleter.remove_source`). The crash tests kill the batch after its Nth write: there, each
    removal is done when it is counted."""
    removals = sum(change.deletes or _is_move(change) for change in moving)
    deleter = _Deleter(
        root, written, DELETE_THREADS if removals >= DELETE_THREADS_FROM and not fault_test else 0
    )
    # A created file on a path a move vacates must find the source gone: then each is removed at once.
    deleter.source_remover = None if _creates_on_vacated_paths(moving) else deleter.remove_source
    return deleter


def _creates_on_vacated_paths(changes: list[FileChange]) -> bool:
    vacated = _vacated_paths(changes)
    return any(change.creates and fold(change.final_path) in vacated for change in changes)


def _journaled(journaling: journal.Journaling, count: int, change: FileChange) -> None:
    """Wait until the originals of the plan's first `count` changes are in the journal on disk. A note
    that another program changed since planning stops the batch here, before it is written (the notes
    already written are put back)."""
    try:
        journaling.wait_for(count)
    except EditConflict as conflict:
        raise _changed_by_another_program(conflict.path or change.path) from conflict


def _rewrite_in_place(
    root: str, change: FileChange, written: list[FileChange], journaling: journal.Journaling, index: int
) -> int:
    """Listed before writing: a write can fail half-way. The bytes on disk are compared with the planned
    ones through the same open file, just before writing over them; a change whose old bytes were left on
    disk is compared with the copy in the journal (checked against the plan's fingerprint when it was copied).
    A note whose planned stamp is kept (`PlannedStatus.stamp`) and still its stamp is not read again.
    Returns the number of bytes written."""
    written.append(change)
    expected: bytes | Callable[[bytes], bool] | None
    if change.old_on_disk is None:
        expected = change.old
    elif journaling.names_git_blob(index):
        # Its size and git blob id as planned: the journal copied nothing to compare.
        expected = change.holds_old
    else:
        expected = journaling.saved_original(index)
    path = f"{root}/{change.path}"
    planned = change.planned_status
    unchanged_since = planned.stamp if planned is not None else None  # proves the bytes without reading
    data: bytes | Callable[[int], bytes | None]
    over_old = change.new_over_old()  # new bytes made from the old ones, once the file is proven to hold them
    if over_old is not None:
        same_until, size, data = over_old
    else:
        same_until = change.same_until  # the start old and new share: proven on disk, not written again
        data = change.new_bytes_from(same_until)
        size = len(data)
    if expected is None or not rewrite_in_place(
        path,
        data,
        expected=expected,
        refuse_read_only=True,
        unchanged_since=unchanged_since,
        same_until=same_until,
    ):
        written.pop()  # nothing was written: the file holds another program's bytes
        raise _changed_by_another_program(change.path)
    return size


def _clear_moving_sources(root: Path, changes: list[FileChange], progress: _WriteProgress) -> dict[str, int]:
    """Remove every source a change moves away or deletes; returns their file modes (a moved note keeps
    its mode)."""
    vacated_modes: dict[str, int] = {}
    for change in changes:
        if _vacates(change):
            _refuse_if_changed_since_planning(root, change)
            progress.written.append(change)
            source = root / change.path
            vacated_modes[change.path] = os.stat(source).st_mode & 0o7777
            source.unlink()
    return vacated_modes


def check_before_writing(vault: Vault, plan: BatchPlan, options: BatchOptions) -> None:
    """Every refusal the real run makes before its first write, one after the other (the real run runs
    them on threads beside its journal): what a dry run checks, so that it never promises a run that would
    then be refused."""
    repo = _repository_for(vault, options)
    journal.refuse_if_pending(vault.root)
    _check_destinations_free(vault.root, plan.changes)
    _check_writable(vault.root, plan.changes)
    if repo is not None:
        dirty = repo.dirty_paths([p for change in plan.changes for p in change.touched_paths])
        if dirty:
            raise _dirty_files_error(dirty)


def _repository_for(vault: Vault, options: BatchOptions) -> Repository | None:
    repo = _repository_found_early(vault.root) or Repository.find(vault.root)
    if options.commit and repo is None:
        raise VaultError(
            f"{vault.root} is not inside a git repository: run `git init` there first, or pass --no-commit"
        )
    return repo


def _dirty_files_error(dirty: list[str]) -> DirtyFilesError:
    shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    return DirtyFilesError(
        f"uncommitted changes in {shown}: commit or stash them first (nothing was written)"
    )


def _line_ending_warnings(repo: Repository, plan: BatchPlan) -> list[str]:
    """`core.autocrlf` or `.gitattributes` `eol`/`text` make git store CRLF files converted, so they can show
    as modified after the commit: say so once instead of leaving the user to chase a diff we did not make."""
    if not repo.converts_line_endings():  # the usual case: no need to look at every new file
        return []
    crlf = [c.final_path for c in plan.changes if not c.deletes and _writes_crlf(c)]
    if not crlf:
        return []
    shown = ", ".join(crlf[:3]) + (" …" if len(crlf) > 3 else "")
    return [
        f"git's line-ending settings (core.autocrlf or .gitattributes) convert the CRLF files of this batch "
        f"({shown}); vaulttools wrote them with CRLF as they were, so git may show them as modified"
    ]


def _writes_crlf(change: FileChange) -> bool:
    """Whether the bytes the batch wrote hold a CRLF. Asked after the commit: a long note whose start the
    batch left on disk (`FileChange.new_bytes_from`) may have been changed there since by another program;
    then what the batch wrote of it tells."""
    try:
        return b"\r\n" in change.new_bytes
    except EditConflict:
        return b"\r\n" in change.new_bytes_from(change.same_until)


def _is_move(change: FileChange) -> bool:
    return not change.deletes and change.new_path is not None and change.new_path != change.path


def _vacated_by(change: FileChange) -> list[str]:
    """The path a change removes (a deleted or moved note's), if any."""
    return [change.path] if _vacates(change) else []


def _vacates(change: FileChange) -> bool:
    """The change moves its file away or deletes it."""
    return change.vacates


def _vacated_paths(changes: list[FileChange]) -> set[str]:
    """Folded paths that the batch moves away from or deletes (a destination may reuse them)."""
    return {fold(c.path) for c in changes if _vacates(c)}


def _moves_onto_vacated_paths(changes: list[FileChange]) -> bool:
    vacated = _vacated_paths(changes)
    return any(_is_move(c) and fold(c.final_path) in vacated for c in changes)


def _remove_emptied_folders(root: Path, changes: list[FileChange]) -> None:
    """Remove the folders the batch's moves left empty (and their parents that are empty now), as a folder
    rename in Obsidian does; git keeps no empty folders, and an undo writes their files back into them."""
    folders = {c.path.rpartition("/")[0] for c in changes if _vacates(c)}
    for folder in sorted(folders, key=lambda f: f.count("/"), reverse=True):
        while folder:
            try:
                os.rmdir(root / folder)  # fails unless the folder is empty: nothing else is ever removed
            except OSError:
                break
            folder = folder.rpartition("/")[0]


def _check_destinations_free(root: Path, changes: list[FileChange]) -> None:
    """A move must not land on a file that exists and that the batch does not move away itself."""
    vacated = _vacated_paths(changes)
    for change in changes:
        if (
            change.new_path is not None
            and change.new_path != change.path
            and (root / change.new_path).exists()
            and fold(change.new_path) not in vacated
        ) and not _same_file(root / change.path, root / change.new_path):
            raise EditConflict(f"{change.new_path} already exists; nothing was written")


def _refuse_if_planned_facts_changed(
    root: Path, plan: BatchPlan, moving: list[FileChange], scan: ScanResult | None = None
) -> None:
    """Before the first write: what the plan read and decided on is still as it found it.

    The bytes of every rewritten note are compared as each is written; this covers what the plan read but
    does not rewrite, so that a change there refuses the batch with nothing written (not rolled back half
    way): the notes its rewritten links now point to (`plan.relies_on`: still there), the files it moves or
    deletes (still there with the bytes it read), and what a planner declared in `plan.expects` (a file it
    read still holds the same bytes; a name it found free is still free)."""
    missing = _missing_paths(root, plan.relies_on, scan)
    if missing is not None:
        raise _planned_fact_changed(missing, "no longer exists (another program moved or deleted it)")
    for change in moving:  # the plan's changes that are not in place: every one that vacates its path
        if _vacates(change) and not change.holds_old(_read_or_none(root / change.path)):
            raise _planned_fact_changed(change.path, _how_it_changed(root / change.path))
    listings: dict[str, dict[str, str] | None] = {}  # each folder listed once, however many names it frees
    for path, expected in plan.expects.items():
        if expected is None:
            taken = _taken_in_any_case(root, path, listings)
            if taken is not None:
                raise _planned_fact_changed(path, f"was a free name, but {taken} was created")
        elif _sha256_or_none(root / path) != expected:
            raise _planned_fact_changed(path, _how_it_changed(root / path))


# Paths in one folder from which listing the folder once is cheaper than asking for each path.
LIST_FOLDER_FROM = 32


def _missing_paths(root: Path, paths: list[str], scan: ScanResult | None = None) -> str | None:
    """The first of these vault paths (in order) with nothing at it, if any (`os.path.lexists`).

    A folder holding many of them is listed once instead (normalize-links relies on ~9,000 notes,
    mostly in a few folders: one `lexists` each cost ~0.1 s), or not even listed where the vault's `scan`
    proves the folder's entries unchanged since it listed them (`ScanResult.listed_as_it_is`: one `stat`
    for a 20,000-note folder, whose listing took ~0.01 s, 0.05 s beside the batch's threads). A name is
    found in a listing exactly as written; one that is not is asked for by `lexists` all the same (a
    case-insensitive disk finds it)."""
    by_folder: dict[str, list[str]] = {}
    for path in paths:
        by_folder.setdefault(path.rpartition("/")[0], []).append(path)
    present: set[str] = set()
    for folder, inside in by_folder.items():
        if len(inside) < LIST_FOLDER_FROM:
            continue
        if scan is not None and scan.listed_as_it_is(root, folder):
            scanned = scan.paths
            present.update(path for path in inside if path in scanned)
        else:
            with contextlib.suppress(OSError):  # no folder: each path is asked for below
                prefix = f"{folder}/" if folder else ""
                present.update(prefix + name for name in os.listdir(f"{root}/{folder}"))
    base = str(root)
    return next((p for p in paths if p not in present and not os.path.lexists(f"{base}/{p}")), None)


def _planned_fact_changed(path: str, how: str) -> EditConflict:
    return EditConflict(
        f"{path}, which this batch's plan relies on, {how} since vaulttools read the vault; nothing was "
        "written: run the command again"
    )


def _how_it_changed(path: Path) -> str:
    if not os.path.lexists(path):
        return "no longer exists (another program moved or deleted it)"
    return "was changed by another program"


def _sha256_or_none(path: Path) -> str | None:
    data = _read_or_none(path)
    return None if data is None else hashlib.sha256(data).hexdigest()


def _taken_in_any_case(root: Path, path: str, listings: dict[str, dict[str, str] | None]) -> str | None:
    """The vault path of a file named `path` in any letter case (Obsidian's names ignore case), if any.

    `listings`: each folder's names by their folded form, the first listed of each, filled on first use
    (None: no such folder, so no file in it). One listing serves every name a batch frees in the folder:
    `rename --map` of 1,000 notes of a 20,000-note folder listed and folded it 1,000 times (23 s)."""
    if os.path.lexists(root / path):
        return path
    folder, _, name = path.rpartition("/")
    if folder not in listings:
        try:
            names = os.listdir(root / folder if folder else root)
        except OSError:
            listings[folder] = None
        else:
            folded: dict[str, str] = {}
            for other in names:
                folded.setdefault(fold(other), other)
            listings[folder] = folded
    found = listings[folder]
    taken = None if found is None else found.get(fold(name))
    return None if taken is None else f"{folder}/{taken}" if folder else taken


def _refuse_if_changed_since_planning(root: Path, change: FileChange) -> None:
    """Compare the bytes on disk with those planned on just before writing: an editor (or Obsidian sync) may
    have saved the file since. Once per file, at the last moment (an earlier pass over every file would
    double the reads of a big batch and still leave this window open)."""
    if not change.holds_old(_read_or_none(root / change.path)):
        raise _changed_by_another_program(change.path)


def _changed_by_another_program(path: str) -> EditConflict:
    return EditConflict(
        f"{path} was changed by another program since vaulttools read it; every file was "
        "put back as it was, nothing was committed: run the command again"
    )


def _rewrites_in_place(change: FileChange) -> bool:
    """A note that keeps its path and gets new bytes (the bulk of every batch)."""
    return change.in_place


def _check_writable(root: Path, changes: list[FileChange]) -> None:
    """Refuse before writing anything: read-only files or folders, and paths through symlinks.

    Checked by mode bits as well as `os.access`, so a read-only note stays untouched even for root (which
    `os.replace` would otherwise let through, since replacing a file needs only its folder to be writable).
    """
    folders_seen: set[str] = set()  # thousands of notes share a few folders: check each folder once
    real_folders: set[str] = set()  # folders known not to be (or lie under) a symlink
    for change in changes:
        if not _writable_as_planned(root, change, real_folders):
            raise VaultError(
                f"{change.path} is read-only; make it writable (chmod u+w) and run again (nothing was written)"
            )
        # Vault-relative folders as strings ("" is the vault folder): no Path objects or sets per change.
        source = change.path.rpartition("/")[0]
        destination = source if change.new_path is None else change.new_path.rpartition("/")[0]
        for parent in (source, destination):
            if parent in folders_seen:
                continue
            folders_seen.add(parent)
            folder = _nearest_existing(root / parent if parent else root)
            if not _writable(folder):
                shown = folder.relative_to(root).as_posix() if folder != root else "the vault folder"
                raise VaultError(
                    f"{shown} is a read-only folder; make it writable (chmod u+w) and run again "
                    "(nothing was written)"
                )


def _writable_as_planned(root: Path, change: FileChange, real_folders: set[str]) -> bool:
    """The change's paths lead through no symlink, and a note it rewrites in place may be written.

    A note the planner read with `FileChange.planned_status` (normalize-links: 10,000 notes) is judged by
    that status, with no `lstat` here (~0.5 s): the scan found it a regular file, not a symlink; the write
    opens it with `O_NOFOLLOW` (a symlink put there since fails it) and checks its mode again on the open
    file (`rewrite_in_place(refuse_read_only=True)`), and its bytes are compared before any is written."""
    planned = change.planned_status
    if planned is not None and change.in_place:
        if "/" in change.path:  # a note at the top has no folder on the way
            _refuse_symlinked_path(root, change.path, real_folders, final=False)
        if writable_by_its_owner(planned.mode, planned.uid):
            return True  # `status_writable`'s first answer, without its path built (12,700 notes)
        return status_writable(planned.mode, planned.uid, f"{root}/{change.path}")
    statuses = [_refuse_symlinked_path(root, path, real_folders) for path in change.touched_paths]
    return not (
        not change.creates
        and change.new_path in (None, change.path)
        and not _status_writable(statuses[0], f"{root}/{change.path}")
    )


def _refuse_symlinked_path(
    root: Path, path: str, real_folders: set[str], *, final: bool = True
) -> os.stat_result | None:
    """vaulttools never writes through a symlink: it may lead out of the vault. Returns the file's own
    status (None if it does not exist), which tells the rest without a second system call; without
    `final`, only the folders on the way are checked (None)."""
    current = str(root)
    parts = path.split("/")
    for part in parts[:-1]:
        current = f"{current}/{part}"
        if current in real_folders:
            continue
        if os.path.islink(current):
            raise _symlink_refused(root, path, current)
        real_folders.add(current)
    if not final:
        return None
    current = f"{current}/{parts[-1]}"
    try:
        status = os.lstat(current)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        folder = _first_file_on_the_way(root, parts[:-1])
        raise VaultError(
            f"{path}: {folder} is a file, not a folder; choose another path (nothing was written)"
        ) from None
    if stat.S_ISLNK(status.st_mode):
        raise _symlink_refused(root, path, current)
    return status


def _first_file_on_the_way(root: Path, folders: list[str]) -> str:
    for depth in range(1, len(folders) + 1):
        if (root.joinpath(*folders[:depth])).is_file():
            return "/".join(folders[:depth])
    return "/".join(folders)


def _symlink_refused(root: Path, path: str, link: str) -> VaultError:
    return VaultError(
        f"{path}: {link[len(str(root)) + 1 :]} is a symlink, and vaulttools never writes "
        "through symlinks; move the real file into the vault (nothing was written)"
    )


def _writable(path: Path | str) -> bool:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return True
    return _status_writable(status, path)


def _status_writable(status: os.stat_result | None, path: Path | str) -> bool:
    """Whether a file with this status (None: it does not exist yet) may be written."""
    return status is None or status_writable(status.st_mode, status.st_uid, path)


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


# Test hook for crash-safety tests (tests/test_reliability_crash.py, tests/test_vault_lock.py).
# VAULTTOOLS_TEST_CRASH_AFTER=POINT acts at one point of a batch: `start` (planned and locked, nothing
# journaled yet), N (right after the batch's Nth file write) or `commit` (right after the commit, before the
# journal is cleared). VAULTTOOLS_TEST_CRASH_MODE says how: SIGKILL (the default), `interrupt` (raise
# KeyboardInterrupt, as Ctrl-C) or `pause` (create VAULTTOOLS_TEST_PAUSE_DIR/paused, then wait until
# VAULTTOOLS_TEST_PAUSE_DIR/release exists, 60 s at most: a test runs other commands meanwhile).
CRASH_AFTER_ENV = "VAULTTOOLS_TEST_CRASH_AFTER"
CRASH_MODE_ENV = "VAULTTOOLS_TEST_CRASH_MODE"
PAUSE_DIR_ENV = "VAULTTOOLS_TEST_PAUSE_DIR"


def _injected_fault(point: str) -> None:
    if os.environ.get(CRASH_AFTER_ENV) != point:
        return
    mode = os.environ.get(CRASH_MODE_ENV)
    if mode == "interrupt":
        raise KeyboardInterrupt
    if mode == "pause":
        _pause_for_test(Path(os.environ[PAUSE_DIR_ENV]))
        return
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(9)


def _pause_for_test(folder: Path) -> None:
    import time

    (folder / "paused").write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + 60
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write_change(
    root: Path,
    change: FileChange,
    *,
    source_cleared: bool = False,
    mode: int | None = None,
    remove_source: Callable[[Path], None] | None = None,
) -> bool:
    """Write one change. A move's source is removed by `remove_source` when given (True is returned: the
    deleter removes it, on its threads for a big batch), else here."""
    source = root / change.path
    if change.deletes:
        source.unlink()
        return False
    if change.new_path is None or change.new_path == change.path:
        rewrite_in_place(source, change.new_bytes)
        return False
    destination = root / change.new_path
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source_cleared:
        # The source was removed up front; its path may already hold another change's destination.
        atomic_write(destination, change.new_bytes, mode)
        return False
    if _same_file(source, destination):
        # A rename that changes only letter case on a case-insensitive file system.
        os.replace(source, destination)
        atomic_write(destination, change.new_bytes)
        return False
    atomic_write(
        destination, change.new_bytes, os.stat(source).st_mode & 0o7777
    )  # a moved note keeps its mode
    # An unlink mostly waits on the file system's journal (~0.3 ms on ext4 with `discard`): 2,000 moved
    # notes spent 0.54 s removing their sources one by one.
    if remove_source is None:
        source.unlink()
        return False
    remove_source(source)
    return True


def _roll_back(root: Path, written: list[FileChange]) -> None:
    # Two passes, so that chains and swaps of renames restore in any order: first remove every written
    # destination, then put every source's original bytes back (a destination may be another's source).
    # Old bytes the plan left on disk were overwritten: the journal holds them.
    journaled = journal.original_reader(root) if any(c.old_on_disk for c in written) else None
    for change in reversed(written):
        if change.new_path is not None and change.new_path != change.path:
            destination = root / change.new_path
            with contextlib.suppress(OSError):
                if destination.exists() and not _same_file(destination, root / change.path):
                    destination.unlink()
    for change in reversed(written):
        try:
            if change.creates:
                (root / change.path).unlink(missing_ok=True)
            elif journaled is not None and change.old_on_disk is not None:
                original = journaled(change.path)
                if original is not None:
                    rewrite_in_place(root / change.path, original)
            else:
                rewrite_in_place(root / change.path, change.old_bytes)
        except OSError:
            continue  # keep restoring the others; the journal still names this file


def _restage_quietly(repo: Repository, paths: list[str]) -> None:
    with contextlib.suppress(GitError):
        repo.stage(paths)
