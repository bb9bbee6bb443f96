"""Run a per-note function over many notes on every core.

Workers are forked, so they inherit the caller's already-built state (the vault, its link index, the suffix
matcher) instead of receiving it pickled; each returns only its (small) results. Small jobs, one core, or a
platform without fork run in this process.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import signal
import stat
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

# Forking two workers pays for itself only past this many notes.
PARALLEL_THRESHOLD = 3000
# Notes per task: small enough to balance the workers, show progress and bound the results waiting in
# memory, big enough to amortise a task.
MIN_CHUNK = 200
MAX_CHUNK = 1000
# The smallest chunk the work ends with (see `_chunks`): a couple of milliseconds of a first `check`.
LAST_CHUNK = 25
# One process works through a big vault in slices of this many notes (see `iter_chunks`).
SERIAL_CHUNK = 5000
# Tests set this (with the two above at their minimum) to run the parallel path on a one-core machine.
FORCED_JOBS = 0

# Why a forked worker gave no result: every way a copy can end without one says this.
_WORKER_LOST = "a forked worker ended without a result (killed, or out of memory)"

R = TypeVar("R")
T = TypeVar("T")


def map_notes(
    work: Callable[[list[str]], list[R]],
    paths: list[str],
    *,
    label: str = "Reading notes",
    on_progress: Callable[[str, int, int], None] | None = None,
) -> list[R]:
    """`work(paths)` for chunks of `paths`, in order, on every core when there are enough notes."""
    results: list[R] = []
    for chunk_results in iter_chunks(work, paths, label=label, on_progress=on_progress):
        results.extend(chunk_results)
    return results


def iter_chunks(
    work: Callable[[list[str]], list[R]],
    paths: list[str],
    *,
    label: str = "Reading notes",
    on_progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[list[R]]:
    """`map_notes`, one chunk's results at a time: a caller can store each (e.g. spool a batch's bytes)
    before the next arrives, instead of holding every result at once."""
    jobs = max(os.cpu_count() or 1, FORCED_JOBS)
    if not forks_for(len(paths)):
        for start in range(0, len(paths), SERIAL_CHUNK):
            yield work(paths[start : start + SERIAL_CHUNK])
        if not paths:
            yield work(paths)
        return
    chunks = _chunks(paths, min(MAX_CHUNK, max(MIN_CHUNK, len(paths) // (jobs * 8))), jobs)
    done = 0
    with _ForkedWorkers(work, chunks, jobs) as workers:
        for chunk, chunk_results in zip(chunks, workers.results_in_order(), strict=True):
            yield chunk_results
            done += len(chunk)
            if on_progress is not None:
                on_progress(label, done, len(paths))


class _ForkedWorkers:
    """`jobs` forked copies of this process, each running `work` on the chunks the parent hands it, one at
    a time: a chunk's number down a pipe, its pickled results back up another.

    Not `concurrent.futures.ProcessPoolExecutor`: forked workers inherit `work` and the chunks, so only
    numbers and results cross a pipe, with no manager or feeder thread in the parent to compete with the
    workers for the GIL and two cores, and no `multiprocessing` to import (~16 ms of every big command's
    start). At most two chunks per worker are handed out but not yet taken: finished results wait in
    memory until taken, and a batch's results hold the bytes of every note it changes."""

    def __init__(self, work: Callable[[list[str]], list[Any]], chunks: list[list[str]], jobs: int) -> None:
        self._work = work
        self._chunks = chunks
        self._jobs = jobs
        self._workers: list[tuple[int, int, int]] = []  # (process id, task pipe, result pipe)

    def __enter__(self) -> _ForkedWorkers:
        # Imported once here, not after the fork by each worker (`pickle`, ~4-25 ms of a worker's start while
        # the others work) and by the parent as it starts reading (`selectors`).
        import pickle  # noqa: F401
        import selectors  # noqa: F401

        for _ in range(self._jobs):
            self._workers.append(self._fork())
        return self

    def __exit__(self, *exc_info: object) -> None:
        for _, tasks, _ in self._workers:
            with contextlib.suppress(OSError):
                os.close(tasks)  # an end of file: each worker's loop ends
        for pid, _, results in self._workers:
            if exc_info[0] is not None:  # stopped early: no result is waited for
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.close(results)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self._workers.clear()

    def _fork(self) -> tuple[int, int, int]:
        task_reader, task_writer = os.pipe()
        result_reader, result_writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the worker: measured by the parent's tests of its results
            try:
                os.close(task_writer)
                os.close(result_reader)
                _close_inherited_pipes(keep=(task_reader, result_writer))
                _serve(self._work, self._chunks, task_reader, result_writer)
            finally:
                os._exit(0)  # never back into the caller's code, its `finally` blocks or `atexit`
        os.close(task_reader)
        os.close(result_writer)
        return pid, task_writer, result_reader

    def results_in_order(self) -> Iterator[list[Any]]:
        """Each chunk's results, in chunk order; a worker's exception is raised here."""
        import selectors

        waiting: dict[int, list[Any]] = {}  # finished chunks by number, until their turn
        assigned: dict[int, collections.deque[int]] = {
            results: collections.deque() for _, _, results in self._workers
        }
        tasks_of = {results: tasks for _, tasks, results in self._workers}
        queued = iter(range(len(self._chunks)))
        taken = 0
        inbox = _Inbox()
        selector = selectors.DefaultSelector()
        with selector:
            for results in assigned:
                selector.register(results, selectors.EVENT_READ)
            for results in itertools.islice(itertools.cycle(list(assigned)), self._jobs * 2):
                _hand_out(next(queued, None), tasks_of[results], assigned[results])
            while taken < len(self._chunks):
                if taken in waiting:
                    yield waiting.pop(taken)
                    taken += 1
                    continue
                for key, _ in selector.select():
                    results = key.fd
                    received = inbox.receive(results, assigned[results])
                    if received is None:  # ended with nothing handed to it: nothing is lost
                        selector.unregister(results)
                        continue
                    waiting[received[0]] = received[1]
                    _hand_out(next(queued, None), tasks_of[results], assigned[results])


def _hand_out(number: int | None, tasks: int, assigned: collections.deque[int]) -> None:
    """Give a worker the chunk `number` (None: there is no chunk left). A worker that has already ended (it
    failed on an earlier chunk, or was killed) is still counted as holding it: its result pipe then says
    why, its error or its end without a result."""
    if number is None:
        return
    assigned.append(number)
    with contextlib.suppress(BrokenPipeError):
        os.write(tasks, number.to_bytes(4, "little"))


class _Inbox:
    """Reads the workers' messages, one whole message at a time, into one buffer kept for all of them: a
    new buffer of a megabyte or more per message left the parent's heap fragmented (check's first run on
    20,000 notes: 17 MB more at its peak than with one buffer)."""

    def __init__(self) -> None:
        self._buffer = bytearray(1 << 16)

    def receive(self, results: int, assigned: collections.deque[int]) -> tuple[int, list[Any]] | None:
        """The next message of a worker: the number of its oldest unfinished chunk and that chunk's
        results; its exception raised here. None for a worker that ended with no chunk handed to it; one
        that ended with a chunk unfinished is an error."""
        import pickle

        head = _read_exactly(results, 8)
        if not head and not assigned:
            return None
        if len(head) < 8 or not assigned:
            raise RuntimeError(_WORKER_LOST)
        size = int.from_bytes(head, "little")
        if len(self._buffer) < size:
            self._buffer = bytearray(size)
        with memoryview(self._buffer)[:size] as message:
            if _read_into(results, message) < size:
                raise RuntimeError(_WORKER_LOST)
            succeeded, value = pickle.loads(message)
        if not succeeded:
            raise value
        return assigned.popleft(), value


def _serve(work: Callable[[list[str]], list[Any]], chunks: list[list[str]], tasks: int, results: int) -> None:
    """A worker's loop: the results of each chunk whose number arrives, pickled and sent back in order,
    until the parent closes the task pipe; an exception is sent back instead, and ends the loop."""
    import pickle

    while True:
        number = _read_exactly(tasks, 4)
        if len(number) < 4:
            return
        chunk = chunks[int.from_bytes(number, "little")]
        try:
            message, failed = pickle.dumps((True, work(chunk)), pickle.HIGHEST_PROTOCOL), False
        except BaseException as exc:  # handed to the parent, raised there
            message, failed = _pickled_failure(exc), True
        _write_all(results, len(message).to_bytes(8, "little"))
        _write_all(results, message)
        if failed:
            return


def _pickled_failure(exc: BaseException) -> bytes:
    import pickle

    try:
        return pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle: its type and text
        return pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")), pickle.HIGHEST_PROTOCOL)


def _read_exactly(descriptor: int, size: int) -> bytearray:
    """`size` bytes from a pipe, fewer only at its end."""
    buffer = bytearray(size)
    with memoryview(buffer) as view:
        got = _read_into(descriptor, view)
    del buffer[got:]
    return buffer


def _read_into(descriptor: int, view: memoryview) -> int:
    """Fill `view` from a pipe; the number of bytes read, fewer than its size only at the pipe's end."""
    got = 0
    while got < len(view):
        count = os.readv(descriptor, [view[got:]])
        if count == 0:
            break
        got += count
    return got


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _chunks(paths: list[str], size: int, jobs: int) -> list[list[str]]:
    """`paths` in chunks of `size`, but the last `jobs` chunks' worth in ever smaller ones, each a `2 * jobs`th
    of the notes left, down to `LAST_CHUNK`: the workers then finish within a few milliseconds of each other.
    With the last two thousand notes in quarters, one worker of a first `check` of 20,000 notes idled ~15-20
    ms at its end while the other checked a quarter chunk."""
    tail = max(0, len(paths) - jobs * size)
    tail -= tail % size  # whole chunks before the small ones
    chunks = [paths[i : i + size] for i in range(0, tail, size)]
    least = min(size, MIN_CHUNK, LAST_CHUNK)
    at = tail
    while at < len(paths):
        piece = min(size, max(least, -(-(len(paths) - at) // (2 * jobs))))
        chunks.append(paths[at : at + piece])
        at += piece
    return chunks


def forks_for(count: int) -> bool:
    """Whether `iter_chunks` works through `count` notes in forked workers (else in this process)."""
    return max(os.cpu_count() or 1, FORCED_JOBS) >= 2 and count >= PARALLEL_THRESHOLD and hasattr(os, "fork")


def in_thread(work: Callable[[], T], name: str = "vaulttools-background") -> Callable[[], T]:
    """Start `work` on a thread; the returned function waits for it and gives its value (or raises its
    exception). For work that mostly waits on the system (a git process, an fsync) while the caller goes on."""
    import threading

    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the caller, raised on its own thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        succeeded, value = outcome[0]
        if not succeeded:
            raise value
        return value

    return result


def in_fork(work: Callable[[], T]) -> Callable[[], T]:
    """Start `work` in a forked copy of this process (it inherits every object, as `map_notes`' workers
    do); the returned function waits for it and gives its value, pickled back, or raises its exception.
    For a piece of work this process would otherwise do alone before it can go on. Where there is no
    fork, `work` runs in this process when its value is asked for."""
    if not hasattr(os, "fork"):
        return work
    import pickle

    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked copy: measured by the parent's tests of its value
        try:
            os.close(reader)
            _close_inherited_pipes(keep=(writer,))
            try:
                outcome = pickle.dumps((True, work()), pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:  # handed to the parent, raised there
                outcome = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
            with open(writer, "wb") as sink:
                sink.write(outcome)
        finally:
            os._exit(0)  # never back into the caller's code, its `finally` blocks or `atexit`
    os.close(writer)

    def result() -> T:
        with open(reader, "rb") as source:
            data = source.read()
        os.waitpid(child, 0)
        if not data:
            raise RuntimeError(_WORKER_LOST)
        succeeded, value = pickle.loads(data)
        if not succeeded:
            raise value
        return cast(T, value)

    return result


def release_freed_memory() -> None:
    """Give the memory the process has freed back to the system (glibc's `malloc_trim`; elsewhere nothing).

    After a big vault's facts are read and indexed, ~40 % of the heap is freed but kept by the allocator,
    and every forked worker would start with it resident. Called before a big fork; takes a few
    milliseconds."""
    if not _TRIM:
        _TRIM.append(_find_malloc_trim())
    trim = _TRIM[0]
    if trim is not None:
        trim(0)


def _find_malloc_trim() -> Callable[[int], int] | None:
    import ctypes

    try:  # the process's own symbols: glibc's, where it is the C library
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl, Windows): nothing to trim
        return None
    return trim


_TRIM: list[Callable[[int], int] | None] = []  # found on first use


def _close_inherited_pipes(keep: tuple[int, ...]) -> None:
    """In a forked copy: close every pipe it inherited but `keep`. A copy forked while another thread of
    the parent talks to a git process holds that pipe's ends too, so the parent would wait for an end of
    file the copy never gives, while the copy waits for the parent to read its (large) result: each waits
    for the other. Files (the vault's lock, the journal) stay open."""
    try:
        descriptors = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return  # no /proc: only the parent's own pipes, which it closes itself
    for descriptor in descriptors:
        if descriptor > 2 and descriptor not in keep:
            with contextlib.suppress(OSError):
                if stat.S_ISFIFO(os.fstat(descriptor).st_mode):
                    os.close(descriptor)
