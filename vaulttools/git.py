"""All git access, through the git command line driven by GitPython. No other module imports `git`."""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaulttools.errors import GitError


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


@dataclass(frozen=True)
class BatchCommit:
    sha: str
    date: str
    subject: str
    command: str
    undoes: str | None  # the batch an undo commit reverted


class Repository:
    """A git work tree that contains the vault; paths given to it are relative to the vault root."""

    def __init__(self, repo: gitpython.Repo, vault_root: Path) -> None:
        self._repo = repo
        self.root = Path(repo.working_tree_dir).resolve()
        self.vault_root = vault_root.resolve()
        prefix = self.vault_root.relative_to(self.root).as_posix()
        self._prefix = "" if prefix == "." else prefix + "/"

    @classmethod
    def find(cls, vault_root: Path) -> Repository | None:
        try:
            repo = gitpython.Repo(vault_root, search_parent_directories=True)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
            return None
        if repo.bare or repo.working_tree_dir is None:
            return None
        return cls(repo, vault_root)

    def to_repo_path(self, vault_path: str) -> str:
        return self._prefix + vault_path

    def to_vault_path(self, repo_path: str) -> str | None:
        return repo_path[len(self._prefix) :] if repo_path.startswith(self._prefix) else None

    # --- running git -----------------------------------------------------------------------------

    def _run(self, *args: str, stdin: bytes | None = None, binary: bool = False, config: Sequence[str] = ()):
        command = ["git", "--literal-pathspecs", *config, *args]
        self._wait_for_index_lock()
        env = {"GIT_LITERAL_PATHSPECS": "1", "GIT_TERMINAL_PROMPT": "0"}
        try:
            if stdin is None:
                return self._repo.git.execute(
                    command, stdout_as_string=not binary, env=env, strip_newline_in_stdout=False
                )
            with tempfile.TemporaryFile() as stream:
                stream.write(stdin)
                stream.seek(0)
                return self._repo.git.execute(
                    command,
                    istream=stream,
                    stdout_as_string=not binary,
                    env=env,
                    strip_newline_in_stdout=False,
                )
        except gitpython.GitCommandError as exc:
            detail = _stderr_line(exc)
            raise GitError(f"git {args[0]} failed: {detail}") from exc

    def _wait_for_index_lock(self) -> None:
        lock = Path(self._repo.git_dir) / "index.lock"
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
        """Which of these paths have staged, unstaged or untracked changes."""
        wanted = {self.to_repo_path(p): p for p in vault_paths}
        if not wanted:
            return []
        output = self._run(
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", binary=True
        )
        dirty = []
        for entry in output.split(b"\0"):
            if len(entry) < 4:
                continue
            path = os.fsdecode(entry[3:])
            if path in wanted:
                dirty.append(wanted[path])
        return sorted(dirty)

    def identity_config(self) -> list[str]:
        """`-c user.name=… -c user.email=…` for whatever identity git itself cannot find."""
        config = []
        for key, env, fallback in (
            ("user.name", "GIT_COMMITTER_NAME", FALLBACK_NAME),
            ("user.email", "GIT_COMMITTER_EMAIL", FALLBACK_EMAIL),
        ):
            if not os.environ.get(env) and not self._config_value(key):
                config += ["-c", f"{key}={fallback}"]
        return config

    def _config_value(self, key: str) -> str:
        try:
            return self._repo.git.execute(["git", "config", "--get", key], strip_newline_in_stdout=True)
        except gitpython.GitCommandError:
            return ""

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

    def head(self) -> str | None:
        try:
            return self._repo.head.commit.hexsha
        except ValueError:
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
        output = self._run(*args)
        commits = []
        for record in output.split("\x1d"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) < 5:
                continue
            sha, date, subject, command, undoes = fields[:5]
            commits.append(BatchCommit(sha, date, subject, command.strip(), undoes.strip() or None))
        return commits

    def changed_paths(self, sha: str) -> list[tuple[str, str, str | None]]:
        """(status, vault path, new vault path) for each file a commit touched, renames detected."""
        output = self._run(
            "diff-tree", "-r", "-z", "--no-commit-id", "-M", "--name-status", "-l0", sha, binary=True
        )
        parts = [os.fsdecode(p) for p in output.split(b"\0") if p]
        changes: list[tuple[str, str, str | None]] = []
        i = 0
        while i < len(parts):
            status = parts[i]
            if status.startswith(("R", "C")):
                old, new = parts[i + 1], parts[i + 2]
                i += 3
                changes.append(("R", self.to_vault_path(old) or old, self.to_vault_path(new) or new))
            else:
                changes.append((status[0], self.to_vault_path(parts[i + 1]) or parts[i + 1], None))
                i += 2
        return changes

    def blobs(self, wanted: Sequence[tuple[str, str]]) -> list[bytes]:
        """The bytes of many (commit, vault path) files: one `ls-tree` per commit, one `cat-file --batch`.

        Undoing a batch of 1,000 files read 2,000 blobs with a process each; asking `cat-file` for
        `commit:path` instead re-reads the commit's tree per file (seconds on a 20,000-file folder).
        """
        if not wanted:
            return []
        trees = {sha: self._blob_ids(sha) for sha in {sha for sha, _ in wanted}}
        oids = []
        for sha, path in wanted:
            oid = trees[sha].get(self.to_repo_path(path))
            if oid is None:
                raise GitError(f"git cat-file: {path} is not a file in {sha}")
            oids.append(oid)
        output = self._run("cat-file", "--batch", stdin=b"\n".join(oids) + b"\n", binary=True)
        contents = []
        position = 0
        for oid in oids:
            header_end = output.index(b"\n", position)
            header = output[position:header_end].split(b" ")
            if len(header) != 3 or header[1] != b"blob":
                raise GitError(f"git cat-file: object {oid.decode()} is not a file")
            size = int(header[2])
            contents.append(output[header_end + 1 : header_end + 1 + size])
            position = header_end + 1 + size + 1  # the content is followed by a newline
        return contents

    def _blob_ids(self, sha: str) -> dict[str, bytes]:
        """Repository path → blob id of every file in a commit."""
        listing = self._run("ls-tree", "-r", "-z", "--full-tree", sha, binary=True)
        ids = {}
        for entry in listing.split(b"\0"):
            meta, _, path = entry.partition(b"\t")
            fields = meta.split(b" ")
            if len(fields) == 3 and fields[1] == b"blob":
                ids[os.fsdecode(path)] = fields[2]
        return ids

    def commits_touching_since(self, sha: str, vault_paths: Iterable[str]) -> list[str]:
        """Commits after `sha` that touched any of these paths, newest first."""
        wanted = {self.to_repo_path(p) for p in vault_paths}
        output = self._run("log", "--format=%x1e%H", "--name-only", "-z", "--no-renames", f"{sha}..HEAD")
        touching = []
        for record in output.split("\x1e")[1:]:
            # With -z the commit line and each name end in NUL (a newline may precede the names).
            fields = [f.strip("\n") for f in record.split("\0")]
            if wanted & {name for name in fields[1:] if name}:
                touching.append(fields[0].strip())
        return touching

    def commit_message(self, ref: str) -> str:
        return self._run("log", "-1", "--format=%B", ref)

    def tracked(self, vault_paths: Iterable[str]) -> list[str]:
        """Which of these paths git tracks (in HEAD or the index)."""
        wanted = {self.to_repo_path(p): p for p in vault_paths}
        output = self._run("ls-files", "-z", "--cached", binary=True)
        known = {os.fsdecode(p) for p in output.split(b"\0") if p}
        if self.head() is not None:
            output = self._run("ls-tree", "-r", "-z", "--name-only", "HEAD", binary=True)
            known |= {os.fsdecode(p) for p in output.split(b"\0") if p}
        return [vault for repo_path, vault in wanted.items() if repo_path in known]

    def stage_if_tracked(self, vault_paths: Iterable[str]) -> None:
        self.stage(self.tracked(vault_paths))

    # --- changes ---------------------------------------------------------------------------------

    def stage(self, vault_paths: Iterable[str]) -> None:
        """Stage exactly these paths (added, modified or deleted); paths are literal, never patterns."""
        paths = [self.to_repo_path(p) for p in vault_paths]
        if paths:
            self._run(
                "update-index",
                "-z",
                "--add",
                "--remove",
                "--stdin",
                stdin=b"\0".join(p.encode() for p in paths),
            )

    def stager(self) -> Stager:
        """A `git update-index --stdin` that stages paths as they are given (see `Stager`)."""
        self._wait_for_index_lock()
        return Stager(self)

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
                self._run(*args, config=self.identity_config())
            else:
                args += ["--only", "--pathspec-from-file=-", "--pathspec-file-nul"]
                self._run(*args, stdin=b"\0".join(p.encode() for p in paths), config=self.identity_config())
        finally:
            os.unlink(message_file.name)
        head = self.head()
        assert head is not None
        return head

    def _staged_only(self, repo_paths: set[str]) -> bool:
        """The index differs from HEAD in none but these paths (False before the first commit)."""
        if self.head() is None:
            return False
        output = self._run("diff-index", "--cached", "--name-only", "-z", "--no-renames", "HEAD", binary=True)
        return {os.fsdecode(p) for p in output.split(b"\0") if p} <= repo_paths


class Stager:
    """Stages paths while a batch is still writing: one `git update-index -z --add --remove --stdin` runs
    beside the batch and hashes each file as soon as its path arrives, on the second core, while the next
    file is written. Staging 20,000 rewritten files afterwards took ~0.5 s; overlapped, it is mostly hidden.
    The process holds git's index lock until `finish` (or `abort`, after which the batch restages).
    """

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._broken = False
        self._process = subprocess.Popen(
            ["git", "update-index", "-z", "--add", "--remove", "--stdin"],
            cwd=repo.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )

    def add(self, vault_paths: Iterable[str]) -> None:
        if self._broken:
            return
        stream = self._process.stdin
        assert stream is not None
        try:
            for path in vault_paths:
                stream.write(self._repo.to_repo_path(path).encode() + b"\0")
        except BrokenPipeError:
            self._broken = True  # git stopped early: `finish` reports why

    def finish(self) -> None:
        """Wait until every path given is staged; a GitError if git failed."""
        stderr = self._close()
        if self._process.returncode != 0:
            detail = "; ".join(line.strip() for line in stderr.splitlines()[-3:] if line.strip())
            raise GitError(f"git update-index failed: {detail or f'exit code {self._process.returncode}'}")

    def abort(self) -> None:
        """Stop quietly (the batch is being rolled back and restages its paths itself)."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self._close()

    def _close(self) -> str:
        assert self._process.stdin is not None and self._process.stderr is not None
        if self._process.stderr.closed:
            return ""  # closed already (`abort` after a `finish` whose commit failed)
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        stderr = self._process.stderr.read()
        self._process.stderr.close()
        self._process.wait()
        return stderr.decode("utf-8", "replace")


def _stderr_line(exc: gitpython.GitCommandError) -> str:
    stderr = exc.stderr if isinstance(exc.stderr, str) else (exc.stderr or b"").decode("utf-8", "replace")
    lines = [line.strip() for line in stderr.replace("stderr:", "").splitlines() if line.strip().strip("'")]
    return "; ".join(line.strip("'") for line in lines[-3:]) or f"exit code {exc.status}"


def init_repository(folder: Path) -> Repository:
    """`git init` a folder (used by `vaulttools demo`)."""
    repo = gitpython.Repo.init(folder)
    return Repository(repo, folder)


def commit_everything(repo: Repository, message: str, name: str, email: str) -> None:
    """Stage and commit every file of a fresh repository (the demo's first commit)."""
    repo._run("add", "--all")
    repo._run(
        "commit", "--quiet", "-m", message, config=["-c", f"user.name={name}", "-c", f"user.email={email}"]
    )
