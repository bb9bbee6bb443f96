"""One writer per vault: a batch holds `.vaulttools/lock` from before it plans until after it commits.

Two batches that plan on the same vault at once each plan against notes the other is about to change (a
`normalize-links` that planned before a `rename` committed writes links to the old name). So every writing
command takes this lock first, and a second one refuses at once instead of waiting.

The lock is an advisory `flock` on a file that stays in the state folder: the kernel drops it when the
holder's process ends, however it ends (`kill -9` included), so a lock can never outlive its writer and
taking it is race-free. The file's text says who holds it (pid, host, command, start time) for the
messages of the commands it turns away; after a crash it still names the dead writer, which is how the
next command knows the lock went stale. Read-only commands never take the lock: they only read that text.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from vaulttools.errors import VaultError
from vaulttools.files import STATE_DIR, state_dir

LOCK_FILE = "lock"
# Names the batch whose commit runs the repository's hooks: `check` in a pre-commit hook then knows the
# journal it finds is that live batch's own, not an interrupted one.
BATCH_ENV = "VAULTTOOLS_BATCH_ID"

try:
    import fcntl
except ImportError:  # Windows: no flock; the holder's pid alone tells whether the lock is live
    fcntl = None  # type: ignore[assignment]


class VaultLocked(VaultError):
    """Another vaulttools command holds the vault's lock."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or, after a crash, last held) a vault's lock."""

    pid: int
    host: str
    command: str
    started: float  # seconds since the epoch
    process_start: str = ""  # the kernel's start time of `pid` (Linux), so a reused pid is not taken as alive

    def describe(self) -> str:
        where = "" if self.host == host_name() else f" on {self.host}"
        return f"{self.command}, pid {self.pid}{where}, started {format_time(self.started)}"

    @property
    def alive(self) -> bool:
        """The holder's process still runs (on another host we cannot tell: assume it does)."""
        if self.host != host_name():
            return True
        return process_alive(self.pid, self.process_start)


def format_time(seconds: float) -> str:
    """A local time of day, with the date when it is not today."""
    moment = time.localtime(seconds)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


def process_alive(pid: int, process_start: str = "") -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    state = _proc_stat(pid)
    if state is None:
        return True  # no /proc: the signal said it exists
    status, started = state
    # A zombie has ended (its parent has not reaped it yet); a different start time is another process.
    return status != "Z" and (not process_start or started == process_start)


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc/PID/stat, None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return (fields[0], fields[19]) if len(fields) > 19 else None


def own_process_start() -> str:
    state = _proc_stat(os.getpid())
    return state[1] if state is not None else ""


def host_name() -> str:
    """This machine's name, as `socket.gethostname()` gives it: on POSIX systems from `os.uname()`, which
    needs no `socket` module (~2 ms of every command's start-up, for a lock that is taken by them all)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


def lock_path(root: Path) -> Path:
    return root / STATE_DIR / LOCK_FILE


def holder(root: Path) -> Holder | None:
    """Who holds or last held the lock; None when it is free (or was released cleanly)."""
    try:
        text = lock_path(root).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.strip():
        return None
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return None  # a holder still writing its record: it announces itself in a moment


def live_holder(root: Path) -> Holder | None:
    """The holder, if its process still runs."""
    current = holder(root)
    return current if current is not None and current.alive else None


# Locks this process holds: root -> (file descriptor, holder). A batch run inside a command that took the
# lock (the CLI takes it before planning) finds it here and does not take it again.
_HELD: dict[Path, tuple[int, Holder]] = {}


def held_here(root: Path) -> Holder | None:
    entry = _HELD.get(root.resolve())
    return entry[1] if entry is not None else None


@contextlib.contextmanager
def vault_lock(root: Path, command: str) -> Iterator[Holder | None]:
    """Hold the vault's lock for the block; yields the dead holder it took over (a stale lock), if any.

    Re-entrant within one process. Raises `VaultLocked` (exit 2) at once if another process holds it.
    """
    key = root.resolve()
    if key in _HELD:
        yield None
        return
    state_dir(root)
    handle = os.open(lock_path(root), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        stale = _take(handle, root)
        me = Holder(os.getpid(), host_name(), command, time.time(), own_process_start())
        _write(handle, json.dumps(asdict(me)).encode())
        _HELD[key] = (handle, me)
        try:
            yield stale
        finally:
            del _HELD[key]
            _write(handle, b"")  # released cleanly: nothing stale for the next command to report
    finally:
        os.close(handle)  # closing drops the flock


def _take(handle: int, root: Path) -> Holder | None:
    """Lock `handle` or refuse; returns the previous holder when its process is gone (a stale lock)."""
    previous = holder(root)
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _locked_by(_announced_holder(root)) from None
        return previous  # the kernel let us lock it: whoever wrote that record has ended
    if previous is not None and previous.alive:
        raise _locked_by(previous)
    return previous


def _announced_holder(root: Path) -> Holder | None:
    """The live holder's record: a process that has just taken the lock writes it a moment later."""
    for _ in range(50):
        current = holder(root)
        if current is not None:
            return current
        time.sleep(0.01)
    return None


def _locked_by(current: Holder | None) -> VaultLocked:
    who = current.describe() if current is not None else "starting up"
    return VaultLocked(f"another vaulttools command ({who}) is writing this vault; wait for it")


def _write(handle: int, data: bytes) -> None:
    os.ftruncate(handle, 0)
    os.lseek(handle, 0, os.SEEK_SET)
    os.write(handle, data)


@contextlib.contextmanager
def batch_environment(batch_id: str) -> Iterator[None]:
    """Name the live batch to the processes it starts (git and the hooks `git commit` runs)."""
    previous = os.environ.get(BATCH_ENV)
    os.environ[BATCH_ENV] = batch_id
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(BATCH_ENV, None)
        else:
            os.environ[BATCH_ENV] = previous
