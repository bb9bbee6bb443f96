"""All git access. Every git command runs through `run_git` (or, fed while a batch writes, `_BackgroundGit`,
which starts the same command line with the same environment); GitPython only finds and creates
repositories. No other module runs git."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import mmap
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, NamedTuple, overload

from vaulttools.errors import GitError

# `os.fsencode`'s encoding, called directly in loops over a batch's paths (the function costs ~0.5 µs a call).
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


class _LazyModule:
    """GitPython, imported on first use: it costs ~30 ms, and read-only commands such as `check` never
    touch git."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self._name)
        return getattr(module, attribute)


if TYPE_CHECKING:
    import git as gitpython
else:
    gitpython = _LazyModule("git")

BATCH_TRAILER = "Vaulttools-Batch"
UNDO_TRAILER = "Vaulttools-Undo"
# Used only when the repository has no identity configured, so a batch never fails for want of one.
FALLBACK_NAME = "vaulttools"
FALLBACK_EMAIL = "vaulttools@localhost"
LOCK_WAIT_SECONDS = 3.0
# Every git command's environment: pathspecs are literal paths, git never prompts, and messages are in
# English (they are quoted in vaulttools' own).
GIT_ENVIRONMENT = {"GIT_LITERAL_PATHSPECS": "1", "GIT_TERMINAL_PROMPT": "0", "LANGUAGE": "C", "LC_ALL": "C"}


# Paths up to which `Repository.dirty_paths` names them to `git status` instead of reading the whole status.
STATUS_NAMES_PATHS_UP_TO = 100


def git_command_line(args: Sequence[str], config: Sequence[str] = ()) -> list[str]:
    """The one way vaulttools spells a git command: literal pathspecs, then `-c` settings, then `args`."""
    return ["git", "--literal-pathspecs", *config, *args]


def git_environment() -> dict[str, str]:
    return {**os.environ, **GIT_ENVIRONMENT}


def run_git(
    cwd: Path,
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    config: Sequence[str] = (),
    stdout: IO[bytes] | None = None,
    index_file: str | None = None,
) -> bytes:
    """Run one git command in `cwd` and return its output (or write it to `stdout`, a file, and return
    b""); a failure becomes a `GitError` that quotes the last lines git printed (pre-commit's
    `cmd_output_b`). `index_file`: an index of the caller's own instead of the repository's
    (`GIT_INDEX_FILE`).

    git reads its input from a file and writes its output to one, not to pipes: with several pipes Python
    shuttles the bytes in a loop that takes the interpreter's lock for every 32 KB, and a thread asking git
    while the batch's other threads run waited ~5 ms for it each time (`git check-attr` of 20,000 paths,
    7 MB of answers: 0.05 s alone, 0.8 s on a thread while normalize-links planned). With only git's
    messages on a pipe, the thread just waits for git. Where no temporary file can be made (a full or
    read-only temporary folder), the bytes go through pipes as before."""
    with contextlib.ExitStack() as files:
        feeding: dict[str, Any]
        output: IO[bytes] | None
        try:
            feeding = {"stdin": _file_of(files, stdin) if stdin else subprocess.DEVNULL}
            output = stdout if stdout is not None else files.enter_context(tempfile.TemporaryFile())
        except OSError:  # through pipes, as before
            feeding, output = {"input": stdin or b""}, stdout
        result = subprocess.run(
            git_command_line(args, config),
            cwd=cwd,
            stdout=subprocess.PIPE if output is None else output,
            stderr=subprocess.PIPE,
            env=git_environment()
            if index_file is None
            else {**git_environment(), "GIT_INDEX_FILE": index_file},
            check=False,
            **feeding,
        )
        _raise_if_failed(args, result)
        if stdout is not None:
            return b""
        if output is None:
            return result.stdout
        output.seek(0)
        return output.read()


def _file_of(files: contextlib.ExitStack, data: bytes) -> IO[bytes]:
    """A temporary file holding `data`, read from its start; closed with `files`."""
    given = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed with `files`
    given.write(data)
    given.seek(0)
    return given


def _raise_if_failed(args: Sequence[str], result: subprocess.CompletedProcess[bytes]) -> None:
    if result.returncode != 0:
        raise GitError(f"git {args[0]} failed: {_failure_detail(result.stderr, result.returncode)}")


def read_batch_blob(reader: IO[bytes], oid: bytes) -> bytes:
    """The next blob of `git cat-file --batch` output: `<oid> blob <size>`, the bytes, a newline."""
    return _blob_after(reader.readline().rstrip(b"\n").split(b" "), reader, oid)


def _blob_after(header: list[bytes], reader: IO[bytes], oid: bytes) -> bytes:
    """The bytes of a blob whose `cat-file --batch` header (split at spaces) was just read."""
    if len(header) != 3 or header[1] != b"blob":
        raise GitError(f"git cat-file: object {oid.decode()} is not a file")
    size = int(header[2])
    content = reader.read(size)
    reader.read(1)  # the newline after the content
    if len(content) != size:
        raise GitError(f"git cat-file: object {oid.decode()} was cut short")
    return content


class RawChange(NamedTuple):
    """One file of a commit's diff as `git diff-tree --raw` gives it (repository paths)."""

    status: str  # A, D, M, T, or R (a rename or copy, detected by git or paired by `moves.pair_moves`)
    path: str
    old_blob: bytes  # zeros for an added file
    new_blob: bytes  # zeros for a deleted file
    old_mode: str
    new_mode: str
    new_path: str | None = None  # where a rename took the file


class ChangedFile(NamedTuple):
    """One file a commit changed (`Repository.changed_paths`): status A, D, M, T or R, its vault path
    (before a rename), where a rename took it, and the blob ids of its bytes before and after (None where
    it had none)."""

    status: str
    path: str
    new_path: str | None
    old_blob: str | None
    new_blob: str | None
    regular: bool  # a regular file before and after (not a symbolic link or a submodule)


_REGULAR_MODES = ("100644", "100755")


# Past this many (deleted file, added file) pairs in a commit, `changed_paths` pairs its renames itself
# (`moves.pair_moves`) rather than by git's exhaustive detection, which compares every pair: undoing a
# `rename --map` of 5,000 notes spent 18.5 s of its 20 s there (4,998 pairs); 250,000 pairs cost git ~0.2 s.
EXHAUSTIVE_RENAME_PAIRS = 250_000


class PrebuiltTree(NamedTuple):
    """A commit's top tree built ahead (`KnownBlobs.build_trees`): on `head`, for these repository paths'
    blobs, with the mode each file gets."""

    head: str
    blobs: dict[str, str | None]
    tree: str
    modes: dict[str, str]
    records: bytes = b""  # the blobs as `git update-index -z --index-info` reads them (see `TreeRecords`)
    prepared_index: PreparedIndex | None = None  # git's index with them put in, made meanwhile


def _index_records(built: PrebuiltTree) -> bytes:
    """`built`'s blobs as `git update-index -z --index-info` reads them (a removed file: mode 0, no blob)."""
    zero = "0" * len(built.head)
    return "".join(
        f"0 {zero}\t{path}\0" if oid is None else f"{built.modes[path]} {oid}\t{path}\0"
        for path, oid in built.blobs.items()
    ).encode()


# The name of a batch's copy of git's index (`Repository.prepare_index`), its process id after it.
PREPARED_INDEX_PREFIX = "index.vaulttools-"


def stale_prepared_indexes(names: Iterable[str], alive: Callable[[int], bool]) -> list[str]:
    """Of a git folder's file names, the index copies whose batch's process is gone: a batch killed between
    `prepare_index` and its commit leaves its copy (as big as the index: 2 MB for 20,000 notes), which git
    never removes. A live process's copy is its own business; a wrong guess costs nothing (`put_index`
    finds no copy and the commit updates the index with git)."""
    stale = []
    for name in names:
        pid = name.removeprefix(PREPARED_INDEX_PREFIX)
        if pid != name and pid.isdigit() and pid.isascii() and not alive(int(pid)):
            stale.append(name)
    return sorted(stale)


class PreparedIndex(NamedTuple):
    """git's index with a batch's files put in, made beside it while the batch wrote
    (`Repository.prepare_index`): it becomes the index at the commit only if the index is still the one
    copied, by its `stamp` (`Repository.put_index`)."""

    path: Path
    stamp: tuple[int, int, int, int]

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


class TreeRecords(NamedTuple):
    """What `KnownBlobs.build_trees` gives git: a batch's files (repository path → new blob id) with the
    mode each keeps, as `git update-index --index-info` reads them (`text`), on `head`."""

    head: str
    blobs: dict[str, str | None]
    modes: dict[str, str]
    text: bytes


def tree_records(repo: Repository, blobs: Mapping[str, str], listing: IndexListing) -> TreeRecords | None:
    """The `TreeRecords` of a batch that rewrites these tracked files (vault path → new blob id), each with
    its mode in the index as `listing` read it while the command planned (the batch refuses a file staged
    or changed against HEAD, so it is HEAD's). None without HEAD, or for a file the index does not list as
    a regular file. Made on a thread while the batch checks its plan (12,700 files: ~0.015 s)."""
    if listing.head is None:
        return None
    prefix, entries = repo.to_repo_path(""), listing.entries
    repo_blobs: dict[str, str | None] = {}
    modes: dict[str, str] = {}
    for path, oid in blobs.items():
        repo_path = prefix + path
        meta = entries.get(repo_path.encode(_FS_ENCODING, _FS_ERRORS))
        mode = meta.split(b" ", 1)[0] if meta is not None else b""
        if mode not in (b"100644", b"100755"):
            return None
        repo_blobs[repo_path] = oid
        modes[repo_path] = mode.decode("ascii")
    text = "".join(f"{modes[path]} {oid}\t{path}\0" for path, oid in repo_blobs.items())
    return TreeRecords(listing.head, repo_blobs, modes, text.encode(_FS_ENCODING, _FS_ERRORS))


class HeadTree(NamedTuple):
    """The raw content of a commit's top folder (`git cat-file tree`), read ahead for `TreeBuilder`."""

    head: str
    content: bytes


class IndexListing(NamedTuple):
    """git's index read at one moment (`Repository.read_index`): the index file's stamp and HEAD then, the
    object folder, `git ls-files --stage -z`, the vault paths staged against HEAD (None: no HEAD), and
    whether any listed path has an attribute that converts it."""

    stamp: tuple[int, int, int, int] | None
    head: str | None
    objects: Path
    entries: dict[bytes, bytes]  # see `_index_entries`
    staged: set[str] | None
    # git stores every path the index lists as it is, by its attributes (`stores_files_as_they_are`,
    # without `core.autocrlf`, asked then): git is not asked again about each of a batch's paths.
    paths_stored_as_they_are: bool = False
    # HEAD's top folder, read then: the batch's commit need not read it again (`TreeBuilder`).
    root_tree: HeadTree | None = None


class StoredBlob(NamedTuple):
    """A file's bytes in git's object store: the blob id, and when its loose object file was last written
    (None: the blob is packed, and git made its pack durable when it wrote it)."""

    oid: str
    loose_since: float | None


def read_blobs_lazily(cwd: Path, oids: Sequence[str]) -> dict[str, Callable[[], bytes] | None]:
    """Each blob id's reader of its bytes (None: git does not have it), by one `git cat-file --batch` whose
    output waits in a temporary file: what `recover` and a rollback read where the journal named a note's
    original by its blob instead of copying it. Every blob is known present before any is read, and each
    is read only when asked: putting back 50,000 notes of 30 KB holds one note's bytes at a time, not 1.5 GB."""
    readers: dict[str, Callable[[], bytes] | None] = {}
    if not oids:
        return readers
    output = tempfile.TemporaryFile()  # noqa: SIM115  # closed once no reader is left
    run_git(cwd, ("cat-file", "--batch"), stdin="\n".join(oids).encode("ascii") + b"\n", stdout=output)
    end = output.seek(0, os.SEEK_END)
    output.seek(0)
    for oid in oids:
        header = output.readline().rstrip(b"\n").split(b" ")
        if header[-1] == b"missing":
            readers[oid] = None
            continue
        if len(header) != 3 or header[1] != b"blob":
            raise GitError(f"git cat-file: object {oid} is not a file")
        size, offset = int(header[2]), output.tell()
        if offset + size > end:
            raise GitError(f"git cat-file: object {oid} was cut short")
        output.seek(size + 1, os.SEEK_CUR)  # the content and the newline after it
        readers[oid] = functools.partial(_read_span, output, offset, size)
    return readers


def _read_span(file: IO[bytes], offset: int, size: int) -> bytes:
    file.seek(offset)
    return file.read(size)


def _failure_detail(stderr: bytes, returncode: int) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or f"exit code {returncode}"


# What the reftable backend writes into the HEAD file (git's `refs/reftable-backend.c`): HEAD is elsewhere.
_REFTABLE_HEAD_STUB = b"ref: refs/heads/.invalid"


def _names_a_branch(head_file: Path) -> bool:
    """The HEAD file says HEAD is a branch (see `Repository.detached_head`); False when it cannot tell."""
    return _branch_named(head_file) is not None


def _branch_named(head_file: Path) -> bytes | None:
    """The branch's ref (`refs/heads/...`) the HEAD file names; None for anything else, or no such file."""
    try:
        content = head_file.read_bytes().rstrip(b"\n")
    except OSError:
        return None
    if content.startswith(b"ref: refs/heads/") and content != _REFTABLE_HEAD_STUB:
        return content[len(b"ref: ") :]
    return None


def _head_in_files(git_dir: Path) -> str | None:
    """HEAD's commit id as git's files backend keeps it: the HEAD file names a branch, whose loose ref
    file (in the repository's common folder, for a linked work tree) or `packed-refs` line holds an object
    id. None where the files do not tell, and git is asked: a detached HEAD, the reftable backend, a branch
    that is itself a symbolic ref, an unborn branch, an unreadable file."""
    ref = _branch_named(git_dir / "HEAD")
    if ref is None:
        return None
    try:
        common = _common_dir(git_dir)
        oid: bytes | None
        try:
            oid = (common / os.fsdecode(ref)).read_bytes().rstrip(b"\n")
        except FileNotFoundError:
            oid = _packed_ref(common, ref)
    except OSError:
        return None
    return oid.decode("ascii") if oid is not None and _OBJECT_ID.fullmatch(oid) else None


_OBJECT_ID = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")


def _common_dir(git_dir: Path) -> Path:
    """Where a repository keeps its branches: a linked work tree's git folder names it in `commondir`."""
    try:
        named = (git_dir / "commondir").read_bytes().rstrip(b"\n")
    except FileNotFoundError:
        return git_dir
    return git_dir / os.fsdecode(named)  # relative to the git folder, or absolute


def _packed_ref(common: Path, ref: bytes) -> bytes | None:
    """The object id `packed-refs` gives this ref (None: not there, or no such file)."""
    try:
        packed = (common / "packed-refs").read_bytes()
    except FileNotFoundError:
        return None
    for line in packed.split(b"\n"):  # `<id> <ref>` lines; `#` starts the header, `^` a peeled id
        oid, _, name = line.partition(b" ")
        if name == ref and not oid.startswith((b"#", b"^")):
            return oid
    return None


@dataclass(frozen=True)
class BatchCommit:
    sha: str
    date: str
    subject: str
    command: str
    undoes: str | None  # the batch an undo commit reverted


class Repository:
    """A git work tree that contains the vault; paths given to it are relative to the vault root."""

    def __init__(self, root: Path, git_dir: Path, vault_root: Path) -> None:
        self.root = root.resolve()
        self._git_dir = git_dir
        self.vault_root = vault_root.resolve()
        prefix = self.vault_root.relative_to(self.root).as_posix()
        self._prefix = "" if prefix == "." else prefix + "/"
        self._file_mode: bool | None = None
        self._objects: Path | None = None  # the object folder, once `stored_blobs` found it
        self._config: dict[str, str] = {}  # the settings `_config_value` asked git for

    @classmethod
    def find(cls, vault_root: Path) -> Repository | None:
        """The work tree holding the vault (None outside one, or in a bare repository), found by one
        `git rev-parse`: importing GitPython to find it cost a batch ~50-90 ms before it began."""
        try:
            output = run_git(vault_root, ("rev-parse", "--show-toplevel", "--absolute-git-dir"))
        except GitError as exc:
            if "dubious ownership" in exc.message:
                raise  # a repository git will not work in: say so, not "no repository"
            return None  # not in a work tree (git exits 128)
        except OSError:
            return None  # no such folder
        lines = os.fsdecode(output).split("\n")
        if len(lines) < 2 or not lines[0] or not lines[1]:
            return None
        return cls(Path(lines[0]), Path(lines[1]), vault_root)

    def to_repo_path(self, vault_path: str) -> str:
        return self._prefix + vault_path

    def to_vault_path(self, repo_path: str) -> str | None:
        return repo_path[len(self._prefix) :] if repo_path.startswith(self._prefix) else None

    # --- running git -----------------------------------------------------------------------------

    @overload
    def run(
        self, *args: str, stdin: bytes | None = ..., binary: Literal[False] = ..., config: Sequence[str] = ()
    ) -> str: ...
    @overload
    def run(
        self, *args: str, stdin: bytes | None = ..., binary: Literal[True], config: Sequence[str] = ()
    ) -> bytes: ...
    def run(
        self, *args: str, stdin: bytes | None = None, binary: bool = False, config: Sequence[str] = ()
    ) -> str | bytes:
        """A git command in the work tree, once no other git program holds the index; text or bytes."""
        self._wait_for_index_lock()
        output = run_git(self.root, args, stdin=stdin, config=config)
        return output if binary else os.fsdecode(output)

    def start(self, *args: str) -> _BackgroundGit:
        """A git command fed on its standard input while the caller works (see `_BackgroundGit`)."""
        return _BackgroundGit(self.root, args)

    def _wait_for_index_lock(self) -> None:
        lock = self._git_dir / "index.lock"
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while lock.exists():
            if time.monotonic() > deadline:
                raise GitError(
                    f"{lock} exists: another git program (Obsidian's git plugin?) is working; "
                    "wait for it to finish and run again (vaulttools never deletes the lock)"
                )
            time.sleep(0.1)

    # --- queries ---------------------------------------------------------------------------------

    def dirty_paths(self, vault_paths: Iterable[str]) -> list[str]:
        """Which of these paths have staged, unstaged or untracked changes.

        Up to `STATUS_NAMES_PATHS_UP_TO` paths are named to `git status` (literal pathspecs, see
        `git_command_line`): it then looks at those files alone, not at every file of the work tree, which
        after a `git reset` that rewrote many notes it compares again (a rename's old and new path on 20,000
        notes: ~0.03-0.06 s less, before the batch's first write). More are matched against the whole
        status: git tests every file against every pathspec."""
        wanted = {self.to_repo_path(p): p for p in vault_paths}
        if not wanted:
            return []
        named = ["--", *wanted] if len(wanted) <= STATUS_NAMES_PATHS_UP_TO else []
        # `--no-optional-locks`: the answer only, without git writing the index it refreshed (after a
        # reset of 1,000 notes, ~0.02 s of a 0.04 s status) or taking its lock.
        output = self.run(
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
            *named,
            binary=True,
        )
        dirty = []
        for entry in output.split(b"\0"):
            if len(entry) < 4:
                continue
            path = os.fsdecode(entry[3:])
            if path in wanted:
                dirty.append(wanted[path])
        return sorted(dirty)

    def staged_paths(self) -> set[str] | None:
        """Vault paths whose index entry differs from HEAD's (staged changes); None when git cannot tell
        (no commit yet). Reads the index and HEAD's trees, no work tree file."""
        try:
            output = run_git(
                self.root, ("diff-index", "--cached", "--name-only", "-z", "--no-renames", "HEAD")
            )
        except GitError:
            return None
        paths = (self.to_vault_path(os.fsdecode(p)) for p in output.split(b"\0") if p)
        return {path for path in paths if path is not None}

    def read_index(self) -> IndexListing:
        """git's index as `stored_blobs` and `staged_paths` read it, taken now to be used later: a command
        reads it while it plans (on a thread), the batch takes it if `index_unchanged` says it still holds."""
        stamp = self._index_stamp()  # first: a change while git lists it makes the later stamp differ
        head = self.head()
        objects = self.root / os.fsdecode(run_git(self.root, ("rev-parse", "--git-path", "objects"))).strip()
        entries = _index_entries(self._list_index())
        prefix = os.fsencode(self._prefix)  # the vault's paths: a batch writes no other
        in_vault = [path for path in entries if path.startswith(prefix)] if prefix else list(entries)
        try:
            as_they_are = bool(in_vault) and self._stored_as_they_are(in_vault)
        except GitError:  # the batch asks again about its own paths, as it did before
            as_they_are = False
        root_tree = None
        if head is not None:
            with contextlib.suppress(GitError):  # the commit reads it then, as it did before
                root_tree = HeadTree(head, run_git(self.root, ("cat-file", "tree", f"{head}^{{tree}}")))
        return IndexListing(stamp, head, objects, entries, self.staged_paths(), as_they_are, root_tree)

    def _list_index(self) -> bytes:
        return run_git(self.root, ("ls-files", "--stage", "-z"))

    def index_unchanged(self, listing: IndexListing) -> bool:
        """No program wrote git's index or moved HEAD since `listing` was read. git replaces the index file
        whole (a new file under the lock's name, renamed over it) whenever it changes it, so its stamp
        (size, times, inode) tells; a `git status` that only refreshes its file times counts as a change."""
        return (
            listing.stamp is not None and listing.stamp == self._index_stamp() and listing.head == self.head()
        )

    def prepare_index(self, records: bytes) -> PreparedIndex | None:
        """A copy of git's index, beside it, with these `git update-index -z --index-info` records put in
        by git: what the commit's own `update-index` would make of the index, made while the batch writes
        (after the writes, with the system writing the notes out, git took 0.02-0.05 s for 12,700 notes).
        None where no copy can be made or git fails, or for a split index (`core.splitIndex`, told by its
        shared index files: a copy would write one more, left behind if the commit did not take the copy):
        the commit updates the index itself."""
        stamp = self._index_stamp()
        try:
            names = os.listdir(self._git_dir)
        except OSError:
            return None
        self._remove(stale_prepared_indexes(names, _process_alive))
        if stamp is None or any(name.startswith("sharedindex.") for name in names):
            return None
        copy = PreparedIndex(self._git_dir / f"{PREPARED_INDEX_PREFIX}{os.getpid()}", stamp)
        try:
            shutil.copyfile(self._git_dir / "index", copy.path)
            if self._index_stamp() != stamp:
                raise OSError("git's index changed while it was copied")
            info = ("update-index", "-z", "--index-info")
            run_git(self.root, info, stdin=records, index_file=str(copy.path))
        except (OSError, GitError):
            copy.discard()
            return None
        return copy

    def remove_stale_prepared_indexes(self) -> list[str]:
        """Remove the index copies killed batches left in the git folder (`stale_prepared_indexes`); their
        names. `recover` calls it; each batch that prepares an index does the same."""
        try:
            stale = stale_prepared_indexes(os.listdir(self._git_dir), _process_alive)
        except OSError:
            return []
        return self._remove(stale)

    def _remove(self, names: list[str]) -> list[str]:
        """Remove these files of the git folder; the names of those removed."""
        removed = []
        for name in names:
            try:
                os.unlink(self._git_dir / name)
            except OSError:
                continue  # removed meanwhile, or not ours to remove: left as it is
            removed.append(name)
        return removed

    def put_index(self, prepared: PreparedIndex) -> bool:
        """Make `prepared` git's index, as git replaces it: under `index.lock`, which this takes, and only if
        the index is still the one copied (another program may have staged since). False, and the index as
        it was, when the lock is taken or the index changed: the commit updates it with git instead."""
        lock = self._git_dir / "index.lock"
        try:
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666))
        except OSError:  # another program holds the lock (or none can be made): not ours to touch
            prepared.discard()
            return False
        placed = False
        try:
            if self._index_stamp() != prepared.stamp:
                return False
            os.replace(prepared.path, lock)  # the lock, ours, now holds the new index
            os.replace(lock, self._git_dir / "index")
            placed = True
        except OSError:
            return False
        finally:
            if not placed:
                with contextlib.suppress(OSError):
                    lock.unlink()  # ours: taken above and not yet renamed
                prepared.discard()
        return True

    def _index_stamp(self) -> tuple[int, int, int, int] | None:
        try:
            status = os.stat(self._git_dir / "index")
        except OSError:
            return None
        return (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)

    def stored_blobs(
        self, wanted: dict[str, str], *, by_folder: bool = False, listing: IndexListing | None = None
    ) -> dict[str, StoredBlob]:
        """Of these vault paths (each with the blob id of the bytes a batch will write over), those whose
        index entry is exactly that blob: git's object store holds their bytes, and the index keeps the
        blob from being pruned. Nothing for a repository that borrows objects (`objects/info/alternates`:
        loose objects there are another repository's files) or whose ids are SHA-256 (never equal).

        `by_folder`: each blob's `loose_since` is the last change of its object folder (`objects/12/`),
        one `stat` per folder instead of one per object (10,000 blobs: ~0.2 s): a loose object appears in
        its folder whole, by a rename or link, after its bytes were written, so no loose object there was
        written later. None when there is no such folder (the blob is packed). A recent time tells
        nothing: ask `loose_object_time` for that blob. `listing`: the index as `read_index` read it (still
        current: `index_unchanged`), else it is read now."""
        if not wanted:
            return {}
        # Read-only: no wait for the index lock (`git status` may hold it beside this while it refreshes).
        if listing is None:
            objects = (
                self.root / os.fsdecode(run_git(self.root, ("rev-parse", "--git-path", "objects"))).strip()
            )
        else:
            objects = listing.objects
        if (objects / "info" / "alternates").exists():
            return {}
        self._objects = objects
        loose_time = _FolderTimes(objects) if by_folder else functools.partial(_loose_object_time, objects)
        # Matched as bytes: only the wanted entries of the index (10,000 of 20,000) are taken apart.
        entries = listing.entries if listing is not None else _index_entries(self._list_index())
        prefix = self._prefix
        stored = {}
        for path, oid in wanted.items():  # 12,700 notes: the batch waits for this loop before its journal
            meta = entries.get((prefix + path).encode(_FS_ENCODING, _FS_ERRORS))
            if meta is None:
                continue
            fields = meta.split(b" ")  # mode, blob id, stage
            if len(fields) == 3 and fields[2] == b"0" and fields[1] == oid.encode("ascii"):
                stored[path] = StoredBlob(oid, loose_time(oid))
        return stored

    def loose_object_time(self, oid: str) -> float | None:
        """When the loose object of a blob `stored_blobs` found was last written (None: it is packed)."""
        assert self._objects is not None, "asked only of a blob that stored_blobs found"
        return _loose_object_time(self._objects, oid)

    def identity_config(self) -> list[str]:
        """`-c user.name=… -c user.email=…` for whatever identity git itself cannot find (the settings asked
        once per `Repository`: a batch asks while it checks its plan, not between its writes and commit)."""
        config = []
        for key, env, fallback in (
            ("user.name", "GIT_COMMITTER_NAME", FALLBACK_NAME),
            ("user.email", "GIT_COMMITTER_EMAIL", FALLBACK_EMAIL),
        ):
            if not os.environ.get(env) and not self._config_value(key):
                config += ["-c", f"{key}={fallback}"]
        return config

    def _config_value(self, key: str) -> str:
        """A git setting ("" when not set), asked of git once per `Repository`: a batch asks some twice
        (`core.autocrlf` before it writes and after it commits), each a `git` process."""
        value = self._config.get(key)
        if value is None:
            try:  # no wait for the index: reading a setting does not touch it
                value = os.fsdecode(run_git(self.root, ("config", "--get", key))).rstrip("\n")
            except GitError:
                value = ""  # not set (git exits 1)
            self._config[key] = value
        return value

    def converts_line_endings(self) -> bool:
        """Whether git rewrites line endings on commit here (autocrlf, or eol/text in .gitattributes)."""
        if self._config_value("core.autocrlf").lower() in ("true", "input"):
            return True
        attributes = self.root / ".gitattributes"
        try:
            text = attributes.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return any(
            ("eol=" in line or " text" in line) and "-text" not in line
            for line in text.splitlines()
            if not line.lstrip().startswith("#")
        )

    def stores_files_as_they_are(
        self, vault_paths: Sequence[str], listing: IndexListing | None = None
    ) -> bool:
        """Whether git would store each of these files' bytes unchanged (so that their blob ids are known
        from the bytes alone): no `core.autocrlf`, and no attribute that converts on the way in (`text`,
        `eol`, `crlf`, `filter`, `ident`, `working-tree-encoding`, from any `.gitattributes`,
        `info/attributes` or `core.attributesFile`), as `git check-attr` answers for each path.
        `listing`: the index read earlier (`read_index`), whose every path git was asked about then: paths
        it lists are not asked about again."""
        if self._config_value("core.autocrlf").lower() not in ("", "false", "no", "off", "0"):
            return False
        prefix = self._prefix
        repo_paths = [prefix + path for path in vault_paths] if prefix else list(vault_paths)
        if ".gitattributes" in "\n".join(repo_paths) and any(
            path.rpartition("/")[2] == ".gitattributes" for path in repo_paths
        ):
            return False  # the batch changes what the attributes are
        encoded = [path.encode(_FS_ENCODING, _FS_ERRORS) for path in repo_paths]
        if listing is not None and listing.paths_stored_as_they_are:
            # Answered while the command planned: only paths the index did not list are left to ask about.
            entries = listing.entries
            encoded = [path for path in encoded if path not in entries]
        return not encoded or self._stored_as_they_are(encoded)

    def _stored_as_they_are(self, repo_paths: Sequence[bytes]) -> bool:
        """`git check-attr` finds no converting attribute (see `stores_files_as_they_are`) for these paths."""
        output = run_git(
            self.root,
            ("check-attr", "-z", "--stdin", *_CONVERTING_ATTRIBUTES),
            stdin=b"\0".join(repo_paths) + b"\0",
        )
        # path, attribute, value, path, ...: searched whole, not split into 230,000 pieces (12,700 paths).
        # A file named like an attribute may look like one whose value is set: answered "no", which is safe.
        triples = len(repo_paths) * len(_CONVERTING_ATTRIBUTES)
        return output.count(b"\0") == 3 * triples and _CONVERTING_VALUE.search(output) is None

    def store_blobs(self, blobs: Iterable[tuple[str, Callable[[], bytes]]]) -> int:
        """Put these blobs (SHA-1 id, and how to get the bytes) into git's object store, as `git hash-object
        -w` would, and return how many were new: those git holds in none of its forms (`ObjectStore.holds`,
        freshened) are deflated into one pack that `git index-pack` checks and files under `objects/pack`,
        as `git fetch` keeps what it receives. Why: `hash-object -w` makes a file of each object, ~0.3 ms
        each (3-4 s of system time for 12,000 notes), a pack is two files. Then git must find each new id
        with its size."""
        store = ObjectStore.of(self.root)
        if store is None:
            raise GitError("git's object store is not one vaulttools can write a pack for")
        lacking: dict[str, Callable[[], bytes]] = {}
        for oid, read in blobs:
            if oid not in lacking and not store.freshen(oid, store.holds(oid)):
                lacking[oid] = read
        if not lacking:
            return 0
        # Streamed: git indexes each object as it arrives while the next is deflated here.
        indexer = self.start("index-pack", "--strict", "--stdin")  # refuses a pack of broken objects
        digest = hashlib.sha1(usedforsecurity=False)
        sizes: dict[str, int] = {}

        def send(piece: bytes) -> None:
            digest.update(piece)
            indexer.send(piece)

        try:
            send(b"PACK" + struct.pack(">II", 2, len(lacking)))
            for oid, read in lacking.items():
                data = read()
                sizes[oid] = len(data)
                send(_pack_entry_header(_PACK_BLOB, len(data)) + zlib.compress(data, 1))
            indexer.send(digest.digest())
        except BaseException:
            indexer.abort()
            raise
        indexer.finish()
        self.verify_objects("blob", sizes)
        return len(sizes)

    def verify_objects(self, kind: str, sizes: dict[str, int]) -> None:
        """That git holds each object id vaulttools computed (→ its size), as an object of this kind."""
        wanted = list(sizes)
        found = run_git(self.root, ("cat-file", "--batch-check"), stdin="\n".join(wanted).encode() + b"\n")
        if os.fsdecode(found).split("\n")[: len(wanted)] != [f"{oid} {kind} {sizes[oid]}" for oid in wanted]:
            what = "a folder" if kind == "tree" else f"a {kind}"
            raise GitError(
                f"git stored {what} under another id than vaulttools computed; nothing was committed"
            )

    def trusts_executable_bit(self) -> bool:
        """git's `core.fileMode` (true unless set otherwise): whether a file's executable bit is recorded."""
        if self._file_mode is None:
            self._file_mode = self._config_value("core.filemode").lower() not in ("false", "no", "off", "0")
        return self._file_mode

    def head(self) -> str | None:
        """HEAD's commit id; None before the first commit. Read-only: no wait for the index lock. Read
        from git's files where they tell (`_head_in_files`: a batch asks up to four times, ~3-7 ms a `git`
        process), else asked of git."""
        found = _head_in_files(self._git_dir)
        if found is not None:
            return found
        try:
            output = run_git(self.root, ("rev-parse", "--verify", "--quiet", "HEAD^{commit}"))
        except GitError:
            return None
        return os.fsdecode(output).strip() or None

    def detached_head(self) -> str | None:
        """HEAD's commit id when HEAD is detached (a commit there belongs to no branch), else None.

        A HEAD file that names a branch answers without git (a batch asks before its first write): git's
        files backend keeps HEAD there as `ref: refs/heads/...`; the reftable backend leaves a stub naming
        `refs/heads/.invalid` and keeps the real HEAD in its tables, so that stub, or anything else, asks git."""
        if _names_a_branch(self._git_dir / "HEAD"):
            return None
        try:
            run_git(self.root, ("symbolic-ref", "--quiet", "HEAD"))
        except GitError:
            return self.head()  # HEAD names no branch (git exits 1)
        return None

    def batch_commits(self, limit: int | None = None) -> list[BatchCommit]:
        if self.head() is None:
            return []
        fmt = (
            "%H%x1f%ad%x1f%s%x1f%(trailers:key="
            + BATCH_TRAILER
            + ",valueonly,separator=%x1e)%x1f%(trailers:key="
        )
        fmt += UNDO_TRAILER + ",valueonly,separator=%x1e)%x1d"
        args = ["log", f"--format={fmt}", "--date=iso-strict", f"--grep=^{BATCH_TRAILER}:"]
        if limit:
            args.append(f"-n{limit}")
        output = self.run(*args)
        commits = []
        for record in output.split("\x1d"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) < 5:
                continue
            sha, date, subject, command, undoes = fields[:5]
            commits.append(BatchCommit(sha, date, subject, command.strip(), undoes.strip() or None))
        return commits

    def changed_paths(self, sha: str) -> list[ChangedFile]:
        """Each file a commit touched (vault paths, blob ids), renames detected: by git (`-M -l0`) while it
        has few pairs to compare, else by `moves.pair_moves` (see `EXHAUSTIVE_RENAME_PAIRS`)."""
        entries = self._raw_changes(sha)
        deleted = [entry for entry in entries if entry.status == "D"]
        added = [entry for entry in entries if entry.status == "A"]
        if deleted and added and len(deleted) * len(added) <= EXHAUSTIVE_RENAME_PAIRS:
            entries = self._raw_changes(sha, renames=True)
        else:
            entries = self._with_moves(entries, self._paired_moves(deleted, added))
        return [self._changed_file(entry) for entry in entries]

    def _changed_file(self, entry: RawChange) -> ChangedFile:
        path = self.to_vault_path(entry.path) or entry.path
        new_path = None if entry.new_path is None else self.to_vault_path(entry.new_path) or entry.new_path
        old_blob = None if entry.status == "A" else entry.old_blob.decode()
        new_blob = None if entry.status == "D" else entry.new_blob.decode()
        regular = entry.new_mode in _REGULAR_MODES and (
            entry.status == "A" or entry.old_mode in _REGULAR_MODES
        )
        return ChangedFile(entry.status, path, new_path, old_blob, new_blob, regular)

    @staticmethod
    def _with_moves(entries: list[RawChange], moved_to: dict[str, str]) -> list[RawChange]:
        """The entries with each paired deletion and addition as one move (status R, at the deletion's
        place in the list), the addition's blob and mode its new side."""
        if not moved_to:
            return entries
        arrivals = {entry.path: entry for entry in entries if entry.status == "A"}
        paired = set(moved_to.values())
        merged = []
        for entry in entries:
            if entry.path in moved_to:
                arrival = arrivals[moved_to[entry.path]]
                merged.append(
                    entry._replace(
                        status="R",
                        new_path=arrival.path,
                        new_blob=arrival.new_blob,
                        new_mode=arrival.new_mode,
                    )
                )
            elif entry.status != "A" or entry.path not in paired:
                merged.append(entry)
        return merged

    def _raw_changes(self, sha: str, *, renames: bool = False) -> list[RawChange]:
        """Each file the commit changed in git's `--raw` form: status letter, repository path(s), blob ids
        and modes before and after; renames detected by git (`-M -l0`, every pair compared) or not looked
        for."""
        detection = ("-M", "-l0") if renames else ("--no-renames",)
        output = self.run("diff-tree", "-r", "-z", "--no-commit-id", "--raw", *detection, sha, binary=True)
        parts = output.split(b"\0")
        entries = []
        i = 0
        while i + 1 < len(parts):
            fields = parts[i].split(b" ")
            if len(fields) != 5 or not fields[0].startswith(b":"):
                break
            status = fields[4].decode()[:1]
            old_mode, new_mode = fields[0][1:].decode(), fields[1].decode()
            if status in ("R", "C"):
                old, new = os.fsdecode(parts[i + 1]), os.fsdecode(parts[i + 2])
                entries.append(RawChange("R", old, fields[2], fields[3], old_mode, new_mode, new))
                i += 3
            else:
                entries.append(
                    RawChange(status, os.fsdecode(parts[i + 1]), fields[2], fields[3], old_mode, new_mode)
                )
                i += 2
        return entries

    def _paired_moves(self, deleted: list[RawChange], added: list[RawChange]) -> dict[str, str]:
        """Deleted repository path → the added one it became: the same bytes first (by blob id, paths in
        order), then `moves.pair_moves` on the rest, whose blobs are read once each."""
        from vaulttools.moves import line_features, pair_moves

        arrivals_by_blob: defaultdict[bytes, list[str]] = defaultdict(list)
        for entry in added:
            arrivals_by_blob[entry.new_blob].append(entry.path)
        moved_to: dict[str, str] = {}
        for entry in deleted:
            same = arrivals_by_blob.get(entry.old_blob)
            if same:
                moved_to[entry.path] = same.pop(0)
        left = [entry for entry in deleted if entry.path not in moved_to]
        taken = set(moved_to.values())
        arriving = [entry for entry in added if entry.path not in taken]
        if not left or not arriving:
            return moved_to
        old_blobs = self.blob_contents([entry.old_blob for entry in left])
        old_features = dict(zip((e.path for e in left), map(line_features, old_blobs), strict=True))
        new_blobs = self.blob_contents([entry.new_blob for entry in arriving])
        new_features = zip((e.path for e in arriving), map(line_features, new_blobs), strict=True)
        moved_to.update(pair_moves(old_features, new_features))
        return moved_to

    def blob_sizes(self, oids: Iterable[str]) -> dict[str, int]:
        """The size of each of these blobs, from one `cat-file --batch-check` (no blob is read whole)."""
        wanted = list(dict.fromkeys(oids))
        if not wanted:
            return {}
        output = self.run("cat-file", "--batch-check", stdin="\n".join(wanted).encode() + b"\n", binary=True)
        sizes = {}
        for line in output.decode().splitlines():
            fields = line.split(" ")
            if len(fields) != 3 or fields[1] != "blob":
                raise GitError(f"git cat-file: object {fields[0]} is not a file")
            sizes[fields[0]] = int(fields[2])
        return sizes

    def blob_contents(self, oids: list[bytes]) -> Iterator[bytes]:
        """The bytes of these blobs, one at a time, in order, from one `cat-file --batch`. git writes them to
        a temporary file, read back blob by blob: undoing 100,000 rewritten notes held ~1.5 GB when the whole
        output (and a copy of each blob) stayed in memory."""
        if not oids:
            return
        self._wait_for_index_lock()
        with tempfile.TemporaryFile() as output:
            run_git(self.root, ("cat-file", "--batch"), stdin=b"\n".join(oids) + b"\n", stdout=output)
            output.seek(0)  # buffered: each blob is read in a few calls however small it is
            for oid in oids:
                yield read_batch_blob(output, oid)

    def blob_as_checked_out(self, oid: str, vault_path: str) -> bytes:
        """A blob's bytes as `git checkout` writes them at `vault_path`: through the smudge filters and the
        end-of-line conversion that path's attributes and `core.autocrlf` ask for (`cat-file --filters`,
        one process a blob: `--batch --filters` headers give the size before conversion in git 2.39)."""
        self._wait_for_index_lock()
        return run_git(self.root, ("cat-file", "--filters", f"--path={self.to_repo_path(vault_path)}", oid))

    def commits_touching_since(self, sha: str, vault_paths: Iterable[str]) -> list[str]:
        """Commits after `sha` that touched any of these paths, newest first."""
        wanted = {self.to_repo_path(p) for p in vault_paths}
        output = self.run("log", "--format=%x1e%H", "--name-only", "-z", "--no-renames", f"{sha}..HEAD")
        touching = []
        for record in output.split("\x1e")[1:]:
            # With -z the commit line and each name end in NUL (a newline may precede the names).
            fields = [f.strip("\n") for f in record.split("\0")]
            if wanted & {name for name in fields[1:] if name}:
                touching.append(fields[0].strip())
        return touching

    def commit_message(self, ref: str) -> str:
        return self.run("log", "-1", "--format=%B", ref)

    def commit_with_trailer(self, key: str, value: str, depth: int = 50) -> str | None:
        """The newest of HEAD's last `depth` commits whose trailer `key` is exactly `value`, if any."""
        if self.head() is None:
            return None
        output = self.run("log", f"-n{depth}", f"--format=%H%x1f%(trailers:key={key},valueonly)%x1e")
        for record in output.split("\x1e"):
            sha, _, values = record.strip("\n").partition("\x1f")
            if value in (line.strip() for line in values.splitlines()):
                return sha
        return None

    def tracked(self, vault_paths: Iterable[str]) -> list[str]:
        """Which of these paths git tracks (in HEAD or the index)."""
        wanted = {self.to_repo_path(p): p for p in vault_paths}
        output = self.run("ls-files", "-z", "--cached", binary=True)
        known = {os.fsdecode(p) for p in output.split(b"\0") if p}
        if self.head() is not None:
            output = self.run("ls-tree", "-r", "-z", "--name-only", "HEAD", binary=True)
            known |= {os.fsdecode(p) for p in output.split(b"\0") if p}
        return [vault for repo_path, vault in wanted.items() if repo_path in known]

    def stage_if_tracked(self, vault_paths: Iterable[str]) -> None:
        self.stage(self.tracked(vault_paths))

    # --- changes ---------------------------------------------------------------------------------

    def stage(self, vault_paths: Iterable[str]) -> None:
        """Stage exactly these paths (added, modified or deleted); paths are literal, never patterns."""
        paths = [self.to_repo_path(p) for p in vault_paths]
        if paths:
            self.run(
                "update-index",
                "-z",
                "--add",
                "--remove",
                "--stdin",
                stdin=b"\0".join(p.encode() for p in paths),
            )

    def stager(
        self,
        *,
        no_verify: bool = False,
        known: Callable[[], KnownBlobs | None] | None = None,
        directly: bool | None = None,
    ) -> Stager:
        """What records a batch's files for its commit while the batch writes them: when the commit can be
        made directly (see `commits_directly`; `directly`: its answer, asked while the batch checked its
        plan), what `known` makes (the blob ids the planner took, see `KnownBlobs`) or else a `BlobWriter`;
        otherwise an `IndexStager`."""
        self._wait_for_index_lock()
        if directly if directly is not None else self.commits_directly(no_verify=no_verify):
            made = known() if known is not None else None
            return made if made is not None else BlobWriter(self)
        return IndexStager(self)

    def commits_directly(self, *, no_verify: bool = False) -> bool:
        """Whether `git commit` would do nothing beyond writing the commit: there is a HEAD to build on, no
        commit hook to run, no signing asked for (`commit.gpgSign`), no message clean-up but the default
        (`commit.cleanup`), and no merge, cherry-pick or revert in progress (whose commit records more)."""
        if self.head() is None:
            return False
        git_dir = self._git_dir
        if any((git_dir / name).exists() for name in ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")):
            return False
        if self._config_value("commit.gpgsign").lower() in ("true", "yes", "on", "1"):
            return False  # `git commit-tree` does not sign by the setting: let `git commit` sign
        if self._config_value("commit.cleanup").lower() not in ("", "default", "whitespace"):
            return False  # `stripspace` is the default message clean-up of `git commit -F`, not another
        hooks = self.root / self.run("rev-parse", "--git-path", "hooks").strip()
        names = _COMMIT_HOOKS if no_verify else (*_COMMIT_HOOKS, *_VERIFY_HOOKS)
        return not any(os.access(hooks / name, os.X_OK) and (hooks / name).is_file() for name in names)

    def commit_batch(self, stager: Stager, vault_paths: Iterable[str], message: str, no_verify: bool) -> str:
        """Commit exactly the batch's paths, as recorded by `stager` (see `stager`)."""
        if isinstance(stager, KnownBlobs):
            blobs = stager.finish()
            prebuilt = stager.take_prebuilt()
            try:
                if not any("\n" in path for path in blobs):  # `git cat-file --batch` reads folders by line
                    return self._commit_blobs(blobs, message, stager.root_tree, prebuilt)
                return self.commit_paths(vault_paths, message, no_verify=no_verify)
            finally:
                if prebuilt is not None and prebuilt.prepared_index is not None:
                    prebuilt.prepared_index.discard()  # unless it became the index
        if isinstance(stager, BlobWriter):
            blobs = stager.finish()
            if not any("\n" in path for path in blobs):
                return self._commit_blobs(blobs, message)
            return self.commit_paths(vault_paths, message, no_verify=no_verify)
        stager.finish()
        return self.commit_paths(vault_paths, message, no_verify=no_verify, staged=True)

    def _commit_blobs(
        self,
        blobs: dict[str, str | None],
        message: str,
        root_tree: HeadTree | None = None,
        prebuilt: PrebuiltTree | None = None,
    ) -> str:
        """Commit HEAD's tree with `blobs` (repository path → blob id, None: removed) put in, as `git commit
        --only` of those paths would, then record the blobs in the index and move HEAD.

        Why not `git commit`: it first refreshes the whole index, and the files a batch just wrote are
        "racily clean" to git (written in the same second as the index), so it hashes every one of them
        again (0.14 s for 10,000 notes), and `git write-tree` does the same when it writes the index back.
        Here the commit's trees are built from HEAD's trees and the new blob ids: nothing is read twice.
        The index entries get no file status, so the next `git status` hashes those files once (as it did
        after `git commit` whenever the files and the index were written in the same second) and records it.
        """
        head = self.head()
        assert head is not None
        if prebuilt is None or prebuilt.head != head or prebuilt.blobs != blobs:
            builder = TreeBuilder(self, head, root_tree)
            prebuilt = PrebuiltTree(head, blobs, builder.build(blobs), builder.modes)
        subject = message.split("\n", 1)[0]
        with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as message_file:
            message_file.write(stripspace(message).encode("utf-8"))
        try:
            identity = self.identity_config()
            sha = self.run("commit-tree", prebuilt.tree, "-p", head, "-F", message_file.name, config=identity)
        finally:
            os.unlink(message_file.name)
        sha = sha.strip()
        # The index first: if moving HEAD then fails, the batch restages its restored files and all is as
        # before; the other order could leave a commit whose files the index still lists as they were. The
        # index prepared while the batch wrote, where there is one (a copy not taken: see `commit_batch`).
        if prebuilt.prepared_index is None or not self.put_index(prebuilt.prepared_index):
            self.run("update-index", "-z", "--index-info", stdin=prebuilt.records or _index_records(prebuilt))
        self.run("update-ref", "-m", f"commit: {subject}", "HEAD", sha, head)
        # As `git commit` does after each commit: pack loose objects once there are many (in the background).
        with contextlib.suppress(GitError):
            self.run("maintenance", "run", "--auto", "--quiet")
        return sha

    def commit_paths(
        self, vault_paths: Iterable[str], message: str, *, no_verify: bool = False, staged: bool = False
    ) -> str:
        """Commit only these paths (staged first, unless `staged` says a `Stager` did it), leaving anything
        else the user staged alone."""
        paths = sorted({self.to_repo_path(p) for p in vault_paths})
        if not staged:
            self.stage([self.to_vault_path(p) or p for p in paths])
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as message_file:
            message_file.write(message)
        try:
            args = ["commit", "--quiet", "-F", message_file.name]
            if no_verify:
                args.append("--no-verify")
            if self._staged_only(set(paths)):
                # Nothing else is staged, so a plain commit records exactly these paths; `--only` would
                # rebuild a temporary index of the whole work tree (0.5-1.5 s on 20,000 files).
                self.run(*args, config=self.identity_config())
            else:
                args += ["--only", "--pathspec-from-file=-", "--pathspec-file-nul"]
                self.run(*args, stdin=b"\0".join(p.encode() for p in paths), config=self.identity_config())
        finally:
            os.unlink(message_file.name)
        head = self.head()
        assert head is not None
        return head

    def _staged_only(self, repo_paths: set[str]) -> bool:
        """The index differs from HEAD in none but these paths (False before the first commit)."""
        if self.head() is None:
            return False
        output = self.run("diff-index", "--cached", "--name-only", "-z", "--no-renames", "HEAD", binary=True)
        return {os.fsdecode(p) for p in output.split(b"\0") if p} <= repo_paths


class IndexStager:
    """Stages paths while a batch is still writing: one `git update-index -z --add --remove --stdin` runs
    beside the batch and hashes each file as soon as its path arrives, on the second core, while the next
    file is written. Staging 20,000 rewritten files afterwards took ~0.5 s; overlapped, it is mostly hidden.
    The process holds git's index lock until `finish` (or `abort`, after which the batch restages).
    Used where `git commit` itself must run (commit hooks, a merge in progress, no commit yet).
    """

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._process = repo.start("update-index", "-z", "--add", "--remove", "--stdin")

    def add(self, written: Iterable[str], vacated: Iterable[str] = ()) -> None:
        """Files the batch has written with their final bytes, and paths it removed."""
        to_repo = self._repo.to_repo_path
        self._process.send(b"".join(to_repo(path).encode() + b"\0" for path in (*written, *vacated)))

    def finish(self) -> None:
        """Wait until every path given is staged; a GitError if git failed."""
        self._process.finish()

    def abort(self) -> None:
        """Stop quietly (the batch is being rolled back and restages its paths itself)."""
        self._process.abort()


class BlobWriter:
    """Writes each file of a batch into git's object store as soon as the batch has written it: `git
    hash-object -w --stdin-paths` beside the batch (clean filters and line-ending settings apply, as for
    `git add`). `finish` gives each path's blob id for `Repository.commit_batch`; the index is not touched
    until the commit is made.

    Why more than one such process on a big batch: storing a blob (hash, deflate, a new file) costs git
    ~0.5 ms for a 32 KB note, several times what writing the note costs the batch, so one process set
    the pace of the whole write phase (~5 s for 10,000 long notes). Past `SECOND_PROCESS_FROM` files a
    process per core shares the paths, taking turns.
    """

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._vacated: set[str] = set()
        self._processes: list[_BackgroundGit] = []
        self._written: list[str] = []  # repository paths, in the order the batch wrote them
        self._turns: list[int] = []  # the process each was given to
        self._unsent: list[list[bytes]] = []  # per process: lines not yet sent (see `SEND_EVERY`)
        self._start_process()

    def _start_process(self) -> None:
        self._processes.append(self._repo.start("hash-object", "-w", "--stdin-paths"))
        self._unsent.append([])

    def add(self, written: Iterable[str], vacated: Iterable[str] = ()) -> None:
        """Files the batch has written with their final bytes, and paths it removed."""
        to_repo = self._repo.to_repo_path
        self._vacated.update(to_repo(path) for path in vacated)
        for path in written:
            if len(self._written) == SECOND_PROCESS_FROM:
                while len(self._processes) < (os.cpu_count() or 1):
                    self._start_process()
            turn = len(self._written) % len(self._processes)
            repo_path = to_repo(path)
            self._written.append(repo_path)
            self._turns.append(turn)
            unsent = self._unsent[turn]
            unsent.append(_c_quoted(repo_path).encode() + b"\n")
            if len(unsent) >= SEND_EVERY:
                self._send(turn)

    def _send(self, turn: int) -> None:
        self._processes[turn].send(b"".join(self._unsent[turn]))
        self._unsent[turn].clear()

    def finish(self) -> dict[str, str | None]:
        """Repository path → blob id of every file given, None for each path removed and not written again."""
        for turn in range(len(self._processes)):
            self._send(turn)
        outputs: list[list[bytes]] = []
        failure: GitError | None = None
        for process in self._processes:
            try:
                outputs.append(process.finish().split())
            except GitError as exc:
                failure = failure or exc  # every process is waited for; the first failure is reported
        if failure is not None:
            raise failure
        given = [self._turns.count(turn) for turn in range(len(outputs))]
        if [len(oids) for oids in outputs] != given:
            raise GitError(
                f"git hash-object gave {sum(map(len, outputs))} ids for {len(self._written)} files"
            )
        each = [iter(oids) for oids in outputs]
        blobs: dict[str, str | None] = dict.fromkeys(self._vacated)
        blobs.update(
            (path, next(each[turn]).decode("ascii"))
            for path, turn in zip(self._written, self._turns, strict=True)
        )
        return blobs

    def abort(self) -> None:
        for process in self._processes:
            process.abort()


# Paths `BlobWriter` hands each git process at once: one pipe write per path cost ~10 µs of the batch's
# own time (20,000 notes: 0.2 s); a few paths later hardly delays git, which works through them meanwhile.
SEND_EVERY = 16
# Files a batch writes before `BlobWriter` shares them with more `git hash-object` processes: a small batch
# is done before a second process would have started.
SECOND_PROCESS_FROM = 256


# Folder → (its repository's object folder, id format), as `ObjectStore.of` found them.
_OBJECT_FOLDERS: dict[str, tuple[str, str]] = {}


class ObjectStore:
    """What a SHA-1 repository's object store holds, read from its files: a loose object's file, or an id
    in a pack's index (`.idx`, looked up by halving). Cheap enough for a planner's workers to ask of every
    note's new bytes (~1.5 µs an id); `holds` only reads, `freshen` (the batch) sets the time.

    A folder of loose objects is listed once, when first asked about (256 at most, instead of a failing
    `stat` per id asked: ~2 µs each). An object written or packed since is then misjudged either way, both
    safe: one taken for lacking is stored again, one gone from its loose file is given again by `freshen`."""

    LOOSE = "loose"
    PACKED = "packed"

    def __init__(self, objects: str) -> None:
        self._objects = objects
        self._indexes: list[_PackIndex] | None = None
        self._orders: dict[str, list[_PackIndex]] = {}  # the packs in the order each lane asks them
        self._packs_freshened = False
        self._loose: dict[str, frozenset[str]] = {}  # folder (the id's first two digits) → the rest's names

    @classmethod
    def of(cls, folder: Path) -> ObjectStore | None:
        """The object store of the repository holding `folder` (None outside git, or with SHA-256 ids). A
        fresh store each time (its listings are of the moment it is asked), but where it is, and its id
        format, are asked of git once per folder and process: a command asks up to three times, and a
        thread asks early (`batch.read_git_index_in_background`), before the command plans."""
        key = os.fspath(folder)
        found = _OBJECT_FOLDERS.get(key)
        if found is None:
            try:
                output = run_git(
                    folder,
                    ("rev-parse", "--path-format=absolute", "--git-path", "objects", "--show-object-format"),
                )
            except (GitError, OSError):
                return None  # not kept: the folder may be made a repository later
            lines = os.fsdecode(output).split("\n")
            if len(lines) < 2:
                return None
            found = _OBJECT_FOLDERS[key] = (lines[0], lines[1])
        objects, object_format = found
        return cls(objects) if object_format == "sha1" else None

    def holds(self, oid: str, lane: str = "") -> str:
        """`LOOSE`, `PACKED`, or "" when git lacks this object (as far as its files tell: an object only an
        alternate repository holds is "" and is stored again, which is safe).

        The pack that held one object is asked first for the next one of its `lane`: a planner asks in turn
        for a note's old bytes (in the pack of the commit they came from) and its new ones (in the pack an
        earlier run of the same batch stored), each in its own lane, so neither pushes the other's pack back
        (12 packs, 12,700 notes: one pack searched per id, not two)."""
        if oid[2:] in self._loose_in(oid[:2]):
            return self.LOOSE
        order = self._orders.get(lane)
        if order is None:
            if self._indexes is None:
                self._indexes = _pack_indexes(os.path.join(self._objects, "pack"))
            order = self._orders[lane] = list(self._indexes)
        raw = bytes.fromhex(oid)
        for place, index in enumerate(order):
            if raw in index:
                if place:  # the pack that held one blob of a batch holds the next ones: asked first
                    order.insert(0, order.pop(place))
                return self.PACKED
        return ""

    def _loose_in(self, folder: str) -> frozenset[str]:
        names = self._loose.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(f"{self._objects}/{folder}"))
            except OSError:
                names = frozenset()  # no loose object there (git makes the folder with the first)
            self._loose[folder] = names
        return names

    def freshen(self, oid: str, held: str) -> bool:
        """Set the time of what holds this object to now, as `git hash-object` does before the commit that
        names it (`git gc` prunes only old unreferenced objects); False when it is no longer there (a
        `gc` since `holds` looked): then it must be stored."""
        if held == self.LOOSE:
            try:
                os.utime(f"{self._objects}/{oid[:2]}/{oid[2:]}")
            except OSError:
                return False
            return True
        if held == self.PACKED:
            if not self._packs_freshened:
                self._freshen_packs()
            return True
        return False

    def _freshen_packs(self) -> None:
        """Every pack's time set to now (an object found in one was not packed again)."""
        folder = os.path.join(self._objects, "pack")
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                if name.endswith(".pack"):
                    with contextlib.suppress(OSError):
                        os.utime(os.path.join(folder, name))
        self._packs_freshened = True


class KnownBlobs:
    """The blob ids of a batch's files, known before they are written (taken from the new bytes by the
    planner's workers, `changes.NEW_BLOB`, or by the batch), so git need not read the written files back
    and hash them. Forked processes put the blobs git lacks into its object store while the batch writes
    (`Repository.store_blobs`: a pack instead of a file per object); `finish` waits for them, and falls
    back to `git hash-object` (whose ids must be these) if they failed. Only where git stores the files as
    they are (`Repository.stores_files_as_they_are`) in a SHA-1 repository: any conversion is git's to
    make, through `BlobWriter`."""

    def __init__(
        self,
        repo: Repository,
        blobs: dict[str, str],
        storing: Callable[[], int] | None,
        root_tree: HeadTree | None = None,
    ) -> None:
        self.root_tree = root_tree  # HEAD's top folder as read while planning (see `TreeBuilder`)
        self._repo = repo
        self._blobs = {repo.to_repo_path(path): oid for path, oid in blobs.items()}
        self._storing: Callable[[], int] | None = storing
        self._written: set[str] = set()
        self._vacated: set[str] = set()
        # The commit's trees being built ahead (`build_trees`, run by the batch in a forked process).
        self.prebuilt: Callable[[], PrebuiltTree | None] | None = None

    def build_trees(self, records: TreeRecords) -> PrebuiltTree | None:
        """The commit's trees, built and stored now by git from HEAD and the planned blob ids alone
        (`tree_records`): `git read-tree` of HEAD into an index of its own, the blobs put in
        (`update-index`), `git write-tree`. The batch runs this on a thread while it writes: git works on
        the core the writes leave idle while the thread waits for it (built after the writes, the trees of a
        20,000-note folder took ~0.08 s). The commit takes them only if HEAD and the blobs written are
        still these (`Repository._commit_blobs`); trees a failed batch leaves are unreferenced, and git
        prunes them. None where HEAD moved since the records were made, or they are for other blobs."""
        if self._repo.head() != records.head or records.blobs != self._blobs:
            return None
        # Its own index, whole: split, it would leave a shared index file behind in the repository.
        config = ("-c", "core.splitIndex=false")
        root = self._repo.root
        with tempfile.TemporaryDirectory(prefix="vaulttools-trees-") as folder:
            index = os.path.join(folder, "index")
            run_git(root, ("read-tree", records.head), config=config, index_file=index)
            info = ("update-index", "-z", "--index-info")
            run_git(root, info, stdin=records.text, config=config, index_file=index)
            # The new blobs may still be on their way into the store (`KnownBlobs`): the commit waits for them.
            tree = run_git(root, ("write-tree", "--missing-ok"), config=config, index_file=index)
        tree_id = os.fsdecode(tree).strip()
        prepared = self._repo.prepare_index(records.text)
        return PrebuiltTree(records.head, dict(records.blobs), tree_id, records.modes, records.text, prepared)

    def take_prebuilt(self) -> PrebuiltTree | None:
        """The trees `build_trees` built ahead, once done (None: none were, or building them failed: the
        commit builds them itself, as it always did)."""
        prebuilt, self.prebuilt = self.prebuilt, None
        if prebuilt is None:
            return None
        try:
            return prebuilt()
        except Exception:  # a git failure: nothing relies on its trees
            return None

    def abort(self) -> None:
        built = self.take_prebuilt()  # git building the trees is waited for; trees it stored are unreferenced
        if built is not None and built.prepared_index is not None:
            built.prepared_index.discard()
        self._abort_storing()

    def add(self, written: Iterable[str], vacated: Iterable[str] = ()) -> None:
        """Files the batch has written with their final bytes, and paths it removed."""
        self._written.update(written)
        self._vacated.update(vacated)

    def finish(self) -> dict[str, str | None]:
        """Repository path → blob id of every file written, once git holds them all."""
        to_repo = self._repo.to_repo_path
        written = {to_repo(path) for path in self._written}
        if written != self._blobs.keys():
            raise GitError("the batch wrote other files than it named for the commit; nothing was committed")
        storing, self._storing = self._storing, None
        if storing is not None:
            try:
                storing()
            except (GitError, OSError, RuntimeError):
                self._store_through_git(sorted(written))  # the pack could not be made: git's own way
        blobs: dict[str, str | None] = {to_repo(path): None for path in self._vacated}
        blobs.update(self._blobs)
        return blobs

    def _store_through_git(self, repo_paths: list[str]) -> None:
        """`git hash-object -w` of every written file, which must give the ids the planner took."""
        output = run_git(
            self._repo.root,
            ("hash-object", "-w", "--stdin-paths"),
            stdin="".join(_c_quoted(path) + "\n" for path in repo_paths).encode(),
        )
        if os.fsdecode(output).split() != [self._blobs[path] for path in repo_paths]:
            raise GitError("git named the batch's files otherwise than vaulttools did; nothing was committed")

    def _abort_storing(self) -> None:
        storing, self._storing = self._storing, None
        if storing is not None:
            with contextlib.suppress(Exception):
                storing()  # let the process end; a pack it filed holds objects nothing names: git prunes them


Stager = IndexStager | BlobWriter | KnownBlobs


class _BackgroundGit:
    """A git command fed on its standard input while the caller works; its output and errors go to
    temporary files (a pipe could fill up and stall both sides)."""

    def __init__(self, cwd: Path, args: Sequence[str]) -> None:
        self._name = args[0]
        self._broken = False
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115 - lives until finish or abort
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            git_command_line(args),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=self._stdout,
            stderr=self._stderr,
            env=git_environment(),
        )

    def send(self, data: bytes) -> None:
        if self._broken or not data:
            return
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(data)
        except BrokenPipeError:
            self._broken = True  # git stopped early: `finish` reports why

    def finish(self) -> bytes:
        """Wait for git; its output, or a GitError with the last lines it printed."""
        self._close()
        self._stderr.seek(0)
        stderr = self._stderr.read()
        self._stdout.seek(0)
        output = self._stdout.read()
        self._stdout.close()
        self._stderr.close()
        if self._process.returncode != 0:
            detail = _failure_detail(stderr, self._process.returncode)
            raise GitError(f"git {self._name} failed: {detail}")
        return output

    def abort(self) -> None:
        with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
            self._close()
            self._stdout.close()
            self._stderr.close()

    def _close(self) -> None:
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        self._process.wait()


class TreeBuilder:
    """HEAD's tree with some files changed, built the way `git commit` would store it.

    Only the folders on the way to a changed file are rebuilt: each is read from HEAD (one
    `git cat-file --batch` for all), changed, encoded in git's tree format and hashed here, deepest
    first; then one `git hash-object -t tree -w` stores them all and must give the same ids.
    """

    def __init__(self, repo: Repository, head: str, root_tree: HeadTree | None = None) -> None:
        self._repo = repo
        self._head = head
        self._hash_name = "sha1" if len(head) == 40 else "sha256"
        self.modes: dict[str, str] = {}  # the mode each written file gets (as `git update-index` gives it)
        # HEAD's top folder as read while the command planned (`read_index`), if HEAD is still that commit.
        self._root = root_tree.content if root_tree is not None and root_tree.head == head else None

    def build(self, blobs: dict[str, str | None]) -> str:
        folders = {""}
        for path in blobs:
            parts = path.split("/")
            folders.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
        removed = {path for path, oid in blobs.items() if oid is None}
        trees = self._read_trees(sorted(folders), removed)
        grown: set[str] = set()  # folders with a new name: only they need sorting again
        for path, oid in blobs.items():
            folder, _, name = path.rpartition("/")
            entries = trees[folder]
            key = name.encode()
            if oid is None:
                entries.pop(key, None)
                continue
            old = entries.get(key)
            if old is None or old[0] == b"40000":
                grown.add(folder)  # a new name, or a folder's name now a file's: its place may differ
            mode = (
                old[0] if old is not None and old[0] in (b"100644", b"100755") else self._new_file_mode(path)
            )
            self.modes[path] = mode.decode()
            entries[key] = (mode, bytes.fromhex(oid))
        encoded: list[tuple[bytes, str]] = []  # (content, id) of each new tree
        root_oid = ""
        for folder in sorted(folders, key=lambda f: f.count("/") + bool(f), reverse=True):
            content = _encode_tree(trees[folder], folder in grown)
            parent, _, name = folder.rpartition("/")
            key = name.encode()
            if folder and not content:
                # git keeps no empty folders; but a file the batch wrote under the folder's name stays
                if trees[parent].get(key, (b"40000",))[0] == b"40000":
                    trees[parent].pop(key, None)
                continue
            oid = hashlib.new(self._hash_name, b"tree %d\0" % len(content) + content).hexdigest()
            encoded.append((content, oid))
            if folder:
                if trees[parent].get(key, (b"",))[0] != b"40000":
                    grown.add(parent)  # a new folder, or one where HEAD has a file
                trees[parent][key] = (b"40000", bytes.fromhex(oid))
            else:
                root_oid = oid
        self._store(encoded)
        return root_oid

    def _read_trees(
        self, folders: list[str], removed: set[str]
    ) -> dict[str, dict[bytes, tuple[bytes, bytes]]]:
        """Each folder's entries in HEAD (name → (mode, raw id)); empty for a folder HEAD lacks (or where
        HEAD has a file the batch removes)."""
        trees: dict[str, dict[bytes, tuple[bytes, bytes]]] = {}
        if self._root is not None and "" in folders:
            trees[""] = _decode_tree(self._root, len(self._head) // 2)
            folders = [folder for folder in folders if folder]
        if not folders:
            return trees  # a vault in one folder: git is not asked again
        requests = [
            f"{self._head}^{{tree}}" if not folder else f"{self._head}:{folder}" for folder in folders
        ]
        output = self._repo.run(
            "cat-file", "--batch", stdin="\n".join(requests).encode() + b"\n", binary=True
        )
        position = 0
        for folder in folders:
            header_end = output.index(b"\n", position)
            header = output[position:header_end].split(b" ")
            position = header_end + 1
            if header[-1] == b"missing":
                trees[folder] = {}
                continue
            size = int(header[2])
            content = output[position : position + size]
            position += size + 1
            if header[1] == b"tree":
                trees[folder] = _decode_tree(content, len(self._head) // 2)
            elif folder in removed:
                trees[folder] = {}  # a file the batch replaces by a folder of the same name
            else:
                raise GitError(f"{folder} is a file in HEAD, not a folder; nothing was committed")
        return trees

    def _new_file_mode(self, path: str) -> bytes:
        """`git update-index --add`'s mode for a new file: executable only where git trusts the file's bit."""
        if self._repo.trusts_executable_bit():
            try:
                if os.stat(self._repo.root / path).st_mode & stat.S_IXUSR:
                    return b"100755"
            except OSError:
                pass
        return b"100644"

    def _store(self, trees: list[tuple[bytes, str]]) -> None:
        """Write the trees into the object store as one pack on `git unpack-objects`' standard input (git
        reads each tree's exact bytes and names it by its own hash; no file per tree, which cost ~0.3 ms
        each on a deep vault's 800 folders); then git must find every id computed here."""
        if not trees:
            return
        self._repo.run("unpack-objects", "-q", stdin=_pack_of(trees, self._hash_name), binary=True)
        self._repo.verify_objects("tree", {oid: len(content) for content, oid in trees})


_PACK_TREE = 2  # a pack entry's object type for a tree


_PACK_BLOB = 3
# The attributes that make git convert a file's bytes on the way into the object store.
_CONVERTING_ATTRIBUTES = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")
# In `git check-attr -z` output: one of those attributes with a value other than unspecified or unset.
_CONVERTING_VALUE = re.compile(
    rb"\0(?:%s)\0(?!unspecified\0|unset\0)" % b"|".join(re.escape(a.encode()) for a in _CONVERTING_ATTRIBUTES)
)


def _pack_of(trees: Sequence[tuple[bytes, str]], hash_name: str) -> bytes:
    """A version-2 pack of these trees (see `_pack_of_entries`), their zlib streams stored, not deflated:
    `git unpack-objects` inflates each and writes it as a loose object compressed its own way, so deflating
    here only cost time (a 20,000-entry folder's 1 MB tree: ~0.01 s)."""
    entries = [
        _pack_entry_header(_PACK_TREE, len(content)) + zlib.compress(content, 0) for content, _ in trees
    ]
    return _pack_of_entries(entries, hash_name)


def _pack_of_entries(entries: Sequence[bytes], hash_name: str) -> bytes:
    """A version-2 pack of these entries (each object's type-and-size header and zlib data, undeltified):
    `PACK`, the version, the count, the entries, and the hash of all that (git's pack format)."""
    body = b"".join([b"PACK" + struct.pack(">II", 2, len(entries)), *entries])
    return body + hashlib.new(hash_name, body).digest()


class _PackIndex:
    """The object ids of one pack, from its `.idx` file (version 2: a fan-out table of 256 counts, then
    the SHA-1 ids sorted), looked up by halving: no list of a big repository's million ids is built."""

    def __init__(self, data: mmap.mmap) -> None:
        self._data = data
        self._fanout = struct.unpack(">256I", data[8 : 8 + 1024])

    def __contains__(self, raw: bytes) -> bool:
        first = raw[0]
        low = self._fanout[first - 1] if first else 0
        high = self._fanout[first]
        data, base = self._data, 8 + 1024
        while high - low > _PACK_SCAN_BELOW:
            middle = (low + high) // 2
            at = base + middle * 20
            found = data[at : at + 20]
            if found == raw:
                return True
            if found < raw:
                low = middle + 1
            else:
                high = middle
        # A few hundred ids left: one search over their bytes in C beats halving in Python (~4 µs). A
        # match must start on an id's boundary; one spanning two neighbours is not this id.
        end = base + high * 20
        at = data.find(raw, base + low * 20, end)
        while at >= 0:
            if (at - base) % 20 == 0:
                return True
            at = data.find(raw, at + 1, end)
        return False


# The ids of a pack index searched at once rather than halved further (see `_PackIndex.__contains__`): a
# fan-out bucket of a 100,000-object pack holds ~400.
_PACK_SCAN_BELOW = 512


def _process_alive(pid: int) -> bool:
    from vaulttools.lock import process_alive  # the vault lock's test of a holder, on first use

    return process_alive(pid)


def _pack_indexes(folder: str) -> list[_PackIndex]:
    """Every readable version-2 `.idx` of the folder, the newest first (a batch's blobs are most likely in
    the pack a recent batch made; an object in another kind of index is packed again: always safe)."""
    indexes = []
    with contextlib.suppress(OSError):
        entries = [entry for entry in os.scandir(folder) if entry.name.endswith(".idx")]
        for entry in sorted(entries, key=lambda entry: entry.stat().st_mtime, reverse=True):
            with contextlib.suppress(OSError, ValueError), open(entry.path, "rb") as handle:
                data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)  # read only where looked up
                if data[:8] == b"\xfftOc\x00\x00\x00\x02" and len(data) >= 8 + 1024:
                    indexes.append(_PackIndex(data))
    return indexes


def _pack_entry_header(kind: int, size: int) -> bytes:
    """The type in bits 4-6 of the first byte with the size's low 4 bits; then 7 bits a byte, high bit set
    on each byte but the last."""
    header = bytearray()
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    while size:
        header.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    header.append(byte)
    return bytes(header)


# A tree entry: `<octal mode> <name>\0<raw id>` (20 bytes for SHA-1, 32 for SHA-256), back to back.
_TREE_ENTRY = {size: re.compile(rb"([0-7]+) ([^\0]*)\0(.{%d})" % size, re.DOTALL) for size in (20, 32)}


class _FolderTimes:
    """The last change of each loose object folder, one `stat` per folder (see `stored_blobs`)."""

    def __init__(self, objects: Path) -> None:
        self._objects = str(objects)
        self._times: dict[str, float | None] = {}

    def __call__(self, oid: str) -> float | None:
        folder = oid[:2]
        if folder not in self._times:
            try:
                self._times[folder] = os.stat(f"{self._objects}/{folder}").st_mtime
            except FileNotFoundError:
                self._times[folder] = None
        return self._times[folder]


def _loose_object_time(objects: Path, oid: str) -> float | None:
    """When a loose object's file was last written; None when it is not loose (packed)."""
    try:
        return os.stat(objects / oid[:2] / oid[2:]).st_mtime
    except FileNotFoundError:
        return None


def _index_entries(listing: bytes) -> dict[bytes, bytes]:
    """Repository path → `mode blob-id stage` of each entry of `git ls-files --stage -z`. A path in
    conflict is listed once per stage: it keeps the last, whose stage is not 0 (no blob is its own)."""
    entries = {}
    for entry in listing.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        if path:
            entries[path] = meta
    return entries


# --- git's own word on the work tree's files ----------------------------------------------------------


class IndexWords:
    """git's word on the work tree's files, as its index file says it (`index_words`): for each file git
    checks against the work tree, the stat data git took when it last hashed or wrote the file, and the blob
    those bytes are. A file whose stat data are still these holds that blob's bytes (as `git status`
    trusts), unless the entry is racily clean (`blob_for` says nothing of it then)."""

    def __init__(
        self, entries: dict[bytes, bytes], index_mtime_ns: int, oid_size: int, prefix: str = ""
    ) -> None:
        self._entries = entries  # repository path → the entry's stat data and blob id, as the index has them
        self._index_mtime_ns = index_mtime_ns
        self._oid_size = oid_size
        self._prefix = prefix  # the vault's folder in the repository ("" or ending in "/")

    def blob_for(self, vault_path: str, stamp: tuple[int, int, int, int]) -> bytes | None:
        """The blob id of a file of this stamp (`files.stamp_of_status`) when git's entry for it vouches for
        its bytes: a regular file whose size (its low 32 bits, as git keeps them), mtime, ctime and inode
        (low 32 bits) are the ones git took, older than the index file (git may have hashed a file in the
        tick it was changed again: a racily clean entry); None otherwise."""
        raw = self._entries.get((self._prefix + vault_path).encode(_FS_ENCODING, _FS_ERRORS))
        if raw is None:
            return None
        c_sec, c_nsec, m_sec, m_nsec, _, inode, mode, _, _, size = _INDEX_STAT.unpack_from(raw)
        mtime_ns = m_sec * 1_000_000_000 + m_nsec
        file_size, file_mtime_ns, file_ctime_ns, file_inode = stamp
        if (
            mode not in _REGULAR_FILE_MODES
            or size == 0  # also how git marks an entry it found racy when it wrote the index ("smudged")
            or mtime_ns >= self._index_mtime_ns
            or mtime_ns != file_mtime_ns
            or c_sec * 1_000_000_000 + c_nsec != file_ctime_ns
            or size != file_size & 0xFFFFFFFF
            or inode != file_inode & 0xFFFFFFFF
        ):
            return None
        return raw[_INDEX_STAT.size : _INDEX_STAT.size + self._oid_size]


_INDEX_HEADER = struct.Struct(">4sII")
_INDEX_STAT = struct.Struct(">IIIIIIIIII")  # ctime s, ns; mtime s, ns; dev, inode, mode, uid, gid, size
_INDEX_FLAGS = struct.Struct(">H")
_REGULAR_FILE_MODES = (0o100644, 0o100755)
_ASSUME_VALID = 0x8000  # git trusts the entry without looking at the file: so shall we not
_EXTENDED = 0x4000  # skip-worktree or intent-to-add follow: neither names the file's bytes
_STAGE = 0x3000
_NAME_LENGTH = 0x0FFF
# Extensions that make the file's entries not the whole index: a split index's shared part (`link`), a
# sparse index's folder entries (`sdir`).
_PARTIAL_INDEX_EXTENSIONS = (b"link", b"sdir")


def index_words(data: bytes, oid_size: int, index_mtime_ns: int, prefix: str = "") -> IndexWords | None:
    """git's word (`IndexWords`) from an index file's bytes (version 2 or 3): the entries at stage 0 that
    git checks against the file (not assume-valid, skip-worktree or intent-to-add), their stat data and
    blob kept as bytes and read only when asked about (20,000 entries in ~20 ms). None for what this does
    not read: version 4's compressed paths, a split or sparse index, a damaged file; the caller then reads
    the files as it would without git. `index_mtime_ns`: the index file's mtime."""
    if len(data) < _INDEX_HEADER.size + oid_size:
        return None
    signature, version, count = _INDEX_HEADER.unpack_from(data)
    if signature != b"DIRC" or version not in (2, 3):
        return None
    fixed = _INDEX_STAT.size + oid_size + 2
    end = len(data) - oid_size  # the trailing checksum
    position = _INDEX_HEADER.size
    entries: dict[bytes, bytes] = {}
    read_flags = _INDEX_FLAGS.unpack_from
    for _ in range(count):
        if position + fixed > end:
            return None
        (flags,) = read_flags(data, position + fixed - 2)
        name_start = position + fixed + (2 if flags & _EXTENDED else 0)
        length = flags & _NAME_LENGTH
        # A name of 4,095 bytes or more says so only by its NUL.
        name_end = name_start + length if length < _NAME_LENGTH else data.find(b"\0", name_start, end)
        if name_end < 0 or name_end >= end or data[name_end]:
            return None
        if not flags & (_ASSUME_VALID | _EXTENDED | _STAGE):
            entries[data[name_start:name_end]] = data[position : position + fixed - 2]
        position += (name_end - position + 8) & ~7  # the entry padded with 1-8 NULs to a multiple of 8
    if _partial_index(data, position, end):
        return None
    return IndexWords(entries, index_mtime_ns, oid_size, prefix)


def _partial_index(data: bytes, position: int, end: int) -> bool:
    """Whether the extensions after the entries (from `position`) say the entries are not the whole index;
    extensions that run past the checksum count as damage."""
    while position + 8 <= end:
        signature = data[position : position + 4]
        if signature in _PARTIAL_INDEX_EXTENSIONS:
            return True
        position += 8 + int.from_bytes(data[position + 4 : position + 8], "big")
    return position != end


# Where each vault's repository keeps its index (the repository's top folder, the index file, the id size),
# asked of git once per process.
_INDEX_PLACES: dict[str, tuple[str, str, int] | None] = {}


def read_index_words(vault_root: Path) -> IndexWords | None:
    """git's word (`IndexWords`) on the files of the repository holding the vault, asked by vault path;
    None outside git or where its index cannot be read so. Read-only: the index file is read as it is (git
    replaces it whole when it changes it)."""
    place = _index_place(vault_root)
    if place is None:
        return None
    top, index_file, oid_size = place
    prefix = os.path.relpath(vault_root.resolve(), top).replace(os.sep, "/")
    try:
        with open(index_file, "rb") as file:
            index_mtime_ns = os.fstat(file.fileno()).st_mtime_ns
            data = file.read()
    except OSError:
        return None
    return index_words(data, oid_size, index_mtime_ns, "" if prefix == "." else prefix + "/")


def _index_place(vault_root: Path) -> tuple[str, str, int] | None:
    key = os.fspath(vault_root)
    if key not in _INDEX_PLACES:
        try:
            output = run_git(
                vault_root,
                (
                    "rev-parse",
                    "--path-format=absolute",
                    "--show-toplevel",
                    "--git-path",
                    "index",
                    "--show-object-format",
                ),
            )
        except (GitError, OSError):
            return None  # not kept: the folder may be made a repository later
        lines = os.fsdecode(output).split("\n")
        if len(lines) < 3 or lines[2] not in ("sha1", "sha256"):
            return None
        _INDEX_PLACES[key] = (lines[0], lines[1], 20 if lines[2] == "sha1" else 32)
    return _INDEX_PLACES[key]


def _decode_tree(data: bytes, oid_size: int) -> dict[bytes, tuple[bytes, bytes]]:
    """A tree's entries, name → (mode, raw id), in the tree's (git's) order."""
    entries = {name: (mode, oid) for mode, name, oid in _TREE_ENTRY[oid_size].findall(data)}
    if sum(len(mode) + len(name) + 2 + oid_size for name, (mode, _) in entries.items()) != len(data):
        raise GitError("a folder of HEAD could not be read entry by entry; nothing was committed")
    return entries


def _encode_tree(entries: dict[bytes, tuple[bytes, bytes]], new_names: bool = True) -> bytes:
    """Git's tree format: entries sorted by name, a folder's name as if it ended in "/". Entries read from
    a tree keep its order, so only a folder with new names is sorted again."""
    items: Iterable[tuple[bytes, tuple[bytes, bytes]]] = entries.items()
    if new_names:
        items = sorted(items, key=lambda item: item[0] + b"/" if item[1][0] == b"40000" else item[0])
    return b"".join([mode + b" " + name + b"\0" + oid for name, (mode, oid) in items])


def _c_quoted(path: str) -> str:
    """A path as `--stdin-paths` reads it: as is, unless it starts with a quote or holds a line break or
    backslash-escape, which git reads C-style quoted."""
    if not path.startswith('"') and "\n" not in path:
        return path
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def stripspace(message: str) -> str:
    """The message as `git commit -F` stores it: trailing spaces and repeated or outer blank lines removed."""
    lines = [line.rstrip(" \t\r\v\f") for line in message.split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n" if kept else ""


_COMMIT_HOOKS = ("prepare-commit-msg", "post-commit")  # run even with --no-verify
_VERIFY_HOOKS = ("pre-commit", "commit-msg")


def init_repository(folder: Path) -> Repository:
    """`git init` a folder (used by `vaulttools demo`)."""
    gitpython.Repo.init(folder)
    repo = Repository.find(folder)
    if repo is None:
        raise GitError(f"git init made no work tree in {folder}")
    return repo


def commit_everything(repo: Repository, message: str, name: str, email: str) -> None:
    """Stage and commit every file of a fresh repository (the demo's first commit)."""
    repo.run("add", "--all")
    repo.run(
        "commit", "--quiet", "-m", message, config=["-c", f"user.name={name}", "-c", f"user.email={email}"]
    )
