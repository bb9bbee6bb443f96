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
import stat
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

# Forking two workers pays for itself only past this many notes.
PARALLEL_THRESHOLD = 3000
# Notes per task: small enough to balance the workers, show progress and bound the results waiting in
# memory, big enough to amortise a task.
MIN_CHUNK = 200
MAX_CHUNK = 1000
# One process works through a big vault in slices of this many notes (see `iter_chunks`).
SERIAL_CHUNK = 5000
# Tests set this (with the two above at their minimum) to run the parallel path on a one-core machine.
FORCED_JOBS = 0

R = TypeVar("R")
T = TypeVar("T")
_WORKER_JOB: tuple[Callable[[list[str]], list[Any]]] | None = None


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
    global _WORKER_JOB
    jobs = max(os.cpu_count() or 1, FORCED_JOBS)
    if not forks_for(len(paths)):
        for start in range(0, len(paths), SERIAL_CHUNK):
            yield work(paths[start : start + SERIAL_CHUNK])
        if not paths:
            yield work(paths)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = _chunks(paths, min(MAX_CHUNK, max(MIN_CHUNK, len(paths) // (jobs * 8))), jobs)
    _WORKER_JOB = (work,)
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            # A few chunks in flight per worker, not all: finished results wait in memory until taken, and
            # a batch's results hold the bytes of every note it changes.
            pending: collections.deque = collections.deque()
            queued = iter(chunks)
            for chunk in itertools.islice(queued, jobs * 2):
                pending.append((chunk, pool.submit(_run_chunk, chunk)))
            done = 0
            while pending:
                chunk, future = pending.popleft()
                chunk_results = future.result()
                following = next(queued, None)
                if following is not None:
                    pending.append((following, pool.submit(_run_chunk, following)))
                yield chunk_results
                done += len(chunk)
                if on_progress is not None:
                    on_progress(label, done, len(paths))
    finally:
        _WORKER_JOB = None


def _chunks(paths: list[str], size: int, jobs: int) -> list[list[str]]:
    """`paths` in chunks of `size`, but the last `jobs` chunks' worth in quarters: the workers then finish
    within a small chunk of each other, instead of one idling while another works through a whole one."""
    tail = max(0, len(paths) - jobs * size)
    tail -= tail % size  # whole chunks before the small ones
    small = min(size, max(MIN_CHUNK, size // 4))
    return [paths[i : i + size] for i in range(0, tail, size)] + [
        paths[i : i + small] for i in range(tail, len(paths), small)
    ]


def forks_for(count: int) -> bool:
    """Whether `iter_chunks` works through `count` notes in forked workers (else in this process)."""
    if max(os.cpu_count() or 1, FORCED_JOBS) < 2 or count < PARALLEL_THRESHOLD:
        return False
    import multiprocessing  # only big runs need it: keep start-up light

    return "fork" in multiprocessing.get_all_start_methods()


def _run_chunk(paths: list[str]) -> list[Any]:
    assert _WORKER_JOB is not None, "map_notes workers are forked with their job set"
    return _WORKER_JOB[0](paths)


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
            _close_inherited_pipes(keep=writer)
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
            raise RuntimeError("a forked worker ended without a result (killed, or out of memory)")
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


def _close_inherited_pipes(keep: int) -> None:
    """In a forked copy: close every pipe it inherited but `keep`. A copy forked while another thread of
    the parent talks to a git process holds that pipe's ends too, so the parent would wait for an end of
    file the copy never gives, while the copy waits for the parent to read its (large) result: each waits
    for the other. Files (the vault's lock, the journal) stay open."""
    try:
        descriptors = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return  # no /proc: only the parent's own pipes, which it closes itself
    for descriptor in descriptors:
        if descriptor > 2 and descriptor != keep:
            with contextlib.suppress(OSError):
                if stat.S_ISFIFO(os.fstat(descriptor).st_mode):
                    os.close(descriptor)
