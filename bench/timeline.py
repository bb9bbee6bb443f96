"""Where one vaulttools command spends its time, in-process: a timeline of chosen functions and the workers.

    python bench/timeline.py normalize-links                      # in the vault (or: -C VAULT first)
    python bench/timeline.py --wrap vaulttools.check:cached_entries -- check --json

Each wrapped function's calls in the main process, in order of their start: seconds since the command
started, when it ended, its wall time and the CPU time of the thread that ran it (threads of one process
share the GIL: a thread's CPU beside its wall time shows how long it waited). Then, for each forked worker
(`vaulttools.parallel`), its chunks' work (wall and CPU), the pickling and sending of their results, and
how many megabytes it sent. Nothing is timed in the test suite; bench/run.py times whole processes.

Why a script of its own: `cProfile` sees only the main process and inflates small calls, and py-spy
overweights system calls (it gave the spool's appends 40 % of normalize-links' workers where they took
12 %). Wrapping a few functions costs a few microseconds per call.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# What `--wrap` defaults to per command: the phases bench/RESULTS.md names.
BATCH_PHASES = (
    "vaulttools.batch:run_batch",
    "vaulttools.batch:_check_and_journal",
    "vaulttools.batch:_planned_blobs_in_index",
    "vaulttools.batch:_blobs_to_store",
    "vaulttools.journal:start",
    "vaulttools.batch:_write_changes",
    "vaulttools.git:Repository.commit_batch",
)
DEFAULT_WRAPS: dict[str, tuple[str, ...]] = {
    "normalize-links": (
        "vaulttools.normalize:plan_normalize",
        "vaulttools.normalize:broken_links_by_note",
        *BATCH_PHASES,
    ),
    "check": (
        "vaulttools.vault:scan_vault",
        "vaulttools.check:cached_entries",
        "vaulttools.resolve:LinkIndex.__init__",
        "vaulttools.resolve:LinkIndex.learn_unique_targets",
        "vaulttools.suffixes:SuffixMatcher.tables",
    ),
    "rename": ("vaulttools.rename:plan_renames", *BATCH_PHASES),
    "sync-related": ("vaulttools.related:plan_sync_related", *BATCH_PHASES),
}


@dataclass
class Call:
    name: str
    start: float  # seconds since the timeline began
    end: float
    cpu: float  # CPU seconds of the thread that made the call

    def row(self) -> str:
        return f"{self.start:8.3f} {self.end:8.3f} {self.end - self.start:8.3f} {self.cpu:8.3f}  {self.name}"


@dataclass
class Timeline:
    began: float = field(default_factory=time.perf_counter)
    calls: list[Call] = field(default_factory=list)
    pid: int = field(default_factory=os.getpid)

    def wrap(self, spec: str) -> None:
        """Wrap `module:function` or `module:Class.method` so that each call in this process is recorded."""
        owner, attribute, original = resolve(spec)
        timeline = self

        @functools.wraps(original)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            if os.getpid() != timeline.pid:  # a forked worker: its calls are not the main process's
                return original(*args, **kwargs)
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                end = time.perf_counter()
                timeline.calls.append(
                    Call(spec, start - timeline.began, end - timeline.began, time.thread_time() - cpu)
                )

        setattr(owner, attribute, recorded)

    def report(self) -> str:
        header = f"{'start':>8} {'end':>8} {'wall':>8} {'cpu':>8}  function"
        rows = [call.row() for call in sorted(self.calls, key=lambda call: call.start)]
        return "\n".join([header, *rows, f"total {time.perf_counter() - self.began:.3f} s"])


def resolve(spec: str) -> tuple[Any, str, Callable[..., Any]]:
    """(the object holding it, the attribute's name, the function) of `module:function` or
    `module:Class.method`; a clear error for anything else."""
    module_name, _, dotted = spec.partition(":")
    if not module_name or not dotted:
        raise SystemExit(f"--wrap {spec!r}: write module:function or module:Class.method")
    owner: Any = importlib.import_module(module_name)
    *outer, attribute = dotted.split(".")
    for name in outer:
        owner = getattr(owner, name, None)
    original = getattr(owner, attribute, None)
    if not callable(original) or isinstance(original, property):
        raise SystemExit(f"--wrap {spec!r}: not a function")
    return owner, attribute, original


def account_workers(out: Any) -> None:
    """Time the forked workers' loop (`vaulttools.parallel._serve`, left as it is): its waits for a chunk's
    number, its work on each chunk, and its writes of the results; the rest of its time is pickling. Each
    worker writes one line to `out` when its loop ends."""
    import vaulttools.parallel as parallel

    serve, read_exactly, write_all = parallel._serve, parallel._read_exactly, parallel._write_all
    spent: dict[str, float] = {}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - began

        return call

    def timed_read(descriptor: int, size: int) -> bytearray:
        return timed("waiting", read_exactly)(descriptor, size)

    def timed_write(descriptor: int, data: bytes) -> None:
        spent["MB sent"] = spent.get("MB sent", 0.0) + len(data) / 1e6
        timed("send", write_all)(descriptor, data)

    def accounted(
        work: Callable[[list[str]], list[Any]], chunks: list[list[str]], tasks: int, results: int
    ) -> None:
        spent.clear()  # a worker of a later fork inherits the counts of the earlier ones
        spent.update(dict.fromkeys(("work", "work cpu", "waiting", "send", "MB sent", "chunks"), 0.0))

        def timed_work(chunk: list[str]) -> list[Any]:
            cpu = time.process_time()
            try:
                return timed("work", work)(chunk)
            finally:
                spent["work cpu"] += time.process_time() - cpu
                spent["chunks"] += 1

        began = time.perf_counter()
        try:
            serve(timed_work, chunks, tasks, results)
        finally:
            whole = time.perf_counter() - began
            pickling = whole - spent["work"] - spent["waiting"] - spent["send"]
            figures = " ".join(
                f"{name} {spent[name]:.3f}" for name in ("work", "work cpu", "send", "waiting")
            )
            out.write(
                f"worker {os.getpid()}: {spent['chunks']:.0f} chunks, {figures}, pickle {pickling:.3f} s, "
                f"{spent['MB sent']:.1f} MB sent\n"
            )
            out.flush()

    parallel._serve = accounted
    parallel._read_exactly = timed_read  # the parent's reads too: counted only in a worker's loop
    parallel._write_all = timed_write


def parse(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the functions to wrap, the vaulttools arguments): leading `--wrap SPEC` options, an optional `--`,
    then the command line as vaulttools takes it (`-C VAULT` included)."""
    words, wraps = list(argv), []
    while words and (words[0] == "--wrap" or words[0].startswith("--wrap=")):
        if words[0] == "--wrap":
            if len(words) < 2:
                raise SystemExit("--wrap needs a module:function")
            wraps.append(words[1])
            del words[:2]
        else:
            wraps.append(words.pop(0).partition("=")[2])
    if words[:1] == ["--"]:
        del words[0]
    if not words or words[0] in ("-h", "--help"):
        raise SystemExit(__doc__)
    known = [word for word in words if word in DEFAULT_WRAPS]  # past `-C VAULT` and other options
    return wraps or list(DEFAULT_WRAPS[known[0]] if known else ()), words


def main(argv: Sequence[str] | None = None) -> None:
    wraps, command = parse(sys.argv[1:] if argv is None else argv)
    timeline = Timeline()
    for spec in wraps:
        timeline.wrap(spec)
    account_workers(sys.stderr)
    # vaulttools ends with os._exit (no interpreter teardown): the report is written on the way out.
    real_exit = os._exit

    def exit_with_report(code: int) -> None:
        if os.getpid() == timeline.pid:
            sys.stderr.write(timeline.report() + "\n")
            sys.stderr.flush()
        real_exit(code)

    os._exit = exit_with_report  # type: ignore[assignment]
    from vaulttools.cli import main as vaulttools_main

    vaulttools_main(command)


if __name__ == "__main__":
    main()
