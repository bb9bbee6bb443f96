"""Planning on every core gives exactly the plan of one process (forked workers, chunks merged in order)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import make_git_vault
from tests.helpers import generate_vault
from vaulttools import changes, parallel
from vaulttools.changes import BatchPlan
from vaulttools.check import check_vault
from vaulttools.normalize import NormalizeOptions, plan_normalize
from vaulttools.related import plan_sync_related
from vaulttools.rename import RenameOptions, plan_renames
from vaulttools.vault import Vault


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_vault(tmp_path_factory.mktemp("generated") / "vault", 300, 3)


def _serial_and_parallel(
    monkeypatch: pytest.MonkeyPatch, vault: Path, plan: Callable[[Vault], object]
) -> tuple[object, object]:
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 10**9)
    serial = plan(Vault(vault))
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 7)  # many small chunks, merged in order
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    monkeypatch.setattr(changes, "SPOOL_MEMORY_BUDGET", 0)  # and the bytes of the changes kept in a spool
    return serial, plan(Vault(vault))


def _comparable(plan: BatchPlan) -> tuple:
    return (plan.summary, plan.changes, plan.counts, plan.report)


PLANNERS: dict[str, Callable[[Vault], BatchPlan]] = {
    "rename": lambda v: plan_renames(
        v, [("concept-hub-note", "concept-hub-renamed")], RenameOptions(keep_alias=True)
    ),
    "normalize-links": lambda v: plan_normalize(v, NormalizeOptions(fix_case=True, shorten_paths=True)),
    "sync-related": plan_sync_related,
}


@pytest.mark.parametrize("command", sorted(PLANNERS))
def test_parallel_plan_is_the_serial_plan(
    command: str, generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(generated, tmp_path / "vault")
    monkeypatch.setenv("VAULTTOOLS_NO_CACHE", "1")
    serial, parallel_plan = _serial_and_parallel(monkeypatch, vault, PLANNERS[command])
    assert isinstance(serial, BatchPlan) and isinstance(parallel_plan, BatchPlan)
    assert serial.changes  # the generated vault gives every command work to do
    assert _comparable(parallel_plan) == _comparable(serial)
    if command != "rename":  # a rename's few changes are never spooled
        assert all(change._spool is not None for change in parallel_plan.changes)


def test_parallel_check_is_the_serial_check(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_git_vault(generated, tmp_path / "vault")
    serial, parallel_report = _serial_and_parallel(
        monkeypatch, vault, lambda v: check_vault(v, use_cache=False).to_json("x")
    )
    assert serial == parallel_report
    assert serial["findings"]  # type: ignore[index]


@pytest.mark.parametrize("count", [0, 1, 17, 299, 300, 301, 20_000])
@pytest.mark.parametrize(("size", "jobs"), [(1, 2), (18, 2), (1000, 2), (50, 3)])
def test_chunks_cover_every_path_once_in_order_ending_small(count: int, size: int, jobs: int) -> None:
    paths = [f"n{i}.md" for i in range(count)]
    chunks = parallel._chunks(paths, size, jobs)
    assert [path for chunk in chunks for path in chunk] == paths
    assert all(0 < len(chunk) <= size for chunk in chunks)
    tail = [len(chunk) for chunk in chunks if len(chunk) < size]
    assert tail == sorted(tail, reverse=True)  # ever smaller towards the end
    if count >= 4 * jobs * size:  # the last chunks are small, so the workers finish together
        assert len(chunks[-1]) <= min(size, parallel.LAST_CHUNK)
        assert len(chunks) - len(tail) >= count // size - jobs - 1  # whole chunks before them


def _fails() -> int:
    raise ValueError("from the forked copy")


def test_in_fork_gives_the_value_or_the_exception_of_its_work() -> None:
    from vaulttools.parallel import in_fork

    table = {"inherited": list(range(1000))}  # forked: the copy sees this process's objects
    assert in_fork(lambda: sum(table["inherited"]))() == 499500
    assert in_fork(lambda: b"x" * 300_000)() == b"x" * 300_000  # more than a pipe holds at once
    with pytest.raises(ValueError, match="from the forked copy"):
        in_fork(_fails)()


def test_in_fork_says_so_when_its_copy_ends_without_a_value() -> None:
    import os

    from vaulttools.parallel import in_fork

    with pytest.raises(RuntimeError, match="ended without a result"):
        in_fork(lambda: os._exit(3))()


def test_a_forked_copy_holds_none_of_the_pipes_it_inherited() -> None:
    """A copy forked while this process talks through a pipe (another thread's git process) must not keep
    that pipe open: this process waits for its end of file before it reads the copy's large result."""
    import os
    import select

    from vaulttools.parallel import in_fork

    reader, writer = os.pipe()
    try:
        result = in_fork(lambda: b"x" * 300_000)  # blocks on its pipe until its result is read
        os.close(writer)
        writer = -1
        ready, _, _ = select.select([reader], [], [], 20)
        assert ready and os.read(reader, 1) == b""  # end of file: the copy closed its end too
        assert result() == b"x" * 300_000
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)


# --- the forked workers of `iter_chunks` ------------------------------------------------------------------


@pytest.fixture
def forced_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """`iter_chunks` forks two workers for any number of paths, in chunks of 7."""
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 7)
    monkeypatch.setattr(parallel, "MAX_CHUNK", 7)
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)


def _children() -> set[int]:
    """This process's children still on the process table (a worker not waited for would stay there)."""
    import os

    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as listing:
            return {int(pid) for pid in listing.read().split()}
    except OSError:
        pytest.skip("no /proc here to list a process's children")


def _slow_on_odd_chunks(chunk: list[str]) -> list[tuple[str, int]]:
    import time

    if int(chunk[0][1:]) // 7 % 2:
        time.sleep(0.002)  # the other worker finishes later chunks first: the results still come in order
    return [(path, len(path)) for path in chunk]


@pytest.mark.usefixtures("forced_workers")
def test_forked_workers_give_every_chunk_in_order_and_end() -> None:
    paths = [f"n{i}" for i in range(300)]
    progress: list[int] = []
    chunks = list(
        parallel.iter_chunks(_slow_on_odd_chunks, paths, on_progress=lambda _, d, t: progress.append(d))
    )
    assert [path for results in chunks for path, _ in results] == paths
    assert progress == sorted(progress) and progress[-1] == 300
    assert big_results_cross_the_pipe() == [b"x" * 200_000] * 14
    assert _children() == set()  # every worker waited for


def big_results_cross_the_pipe() -> list[bytes]:
    """More bytes a chunk than a pipe holds at once, from both workers."""
    return parallel.map_notes(lambda chunk: [b"x" * 200_000 for _ in chunk[:1]], [f"n{i}" for i in range(98)])


def _fails_on_chunk_three(chunk: list[str]) -> list[str]:
    if chunk[0] == "n21":
        raise ValueError(f"cannot read {chunk[0]}")
    return chunk


def _dies_on_chunk_three(chunk: list[str]) -> list[str]:
    import os

    if chunk[0] == "n21":
        os._exit(9)  # killed mid-chunk (the out-of-memory killer, a signal)
    return chunk


class _Unpicklable(Exception):
    def __reduce__(self) -> tuple:
        raise TypeError("no pickling")


def _fails_unpicklably(chunk: list[str]) -> list[str]:
    raise _Unpicklable(f"odd failure at {chunk[0]}")


@pytest.mark.usefixtures("forced_workers")
@pytest.mark.parametrize(
    ("work", "error", "message"),
    [
        (_fails_on_chunk_three, ValueError, "cannot read n21"),
        (_dies_on_chunk_three, RuntimeError, "ended without a result"),
        (_fails_unpicklably, RuntimeError, "_Unpicklable: odd failure at n"),
    ],
)
def test_a_workers_failure_is_raised_and_no_worker_is_left(
    work: Callable[[list[str]], list[str]], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parallel.map_notes(work, [f"n{i}" for i in range(70)])
    assert _children() == set()


@pytest.mark.usefixtures("forced_workers")
def test_a_consumer_that_stops_early_leaves_no_worker() -> None:
    for results in parallel.iter_chunks(_slow_on_odd_chunks, [f"n{i}" for i in range(700)]):
        assert results
        break
    assert _children() == set()


def test_a_worker_that_ended_with_nothing_handed_to_it_loses_nothing() -> None:
    import collections
    import os

    reader, writer = os.pipe()
    os.close(writer)  # the worker's end: gone
    try:
        assert parallel._Inbox().receive(reader, collections.deque()) is None
        with pytest.raises(RuntimeError, match="ended without a result"):
            parallel._Inbox().receive(reader, collections.deque([4]))
    finally:
        os.close(reader)


def test_a_worker_that_ended_mid_message_is_an_error() -> None:
    import collections
    import os

    reader, writer = os.pipe()
    os.write(writer, (100).to_bytes(8, "little") + b"x" * 10)  # a message of 100 bytes, cut at 10
    os.close(writer)
    try:
        with pytest.raises(RuntimeError, match="ended without a result"):
            parallel._Inbox().receive(reader, collections.deque([4]))
    finally:
        os.close(reader)


def _slow_after_the_first_chunk(chunk: list[str]) -> list[str]:
    import time

    if chunk[0] != "n0":
        time.sleep(60)  # a long chunk the consumer no longer wants
    return chunk


@pytest.mark.usefixtures("forced_workers")
def test_a_consumer_that_stops_early_does_not_wait_for_the_chunks_in_hand() -> None:
    import time

    started = time.monotonic()
    for _ in parallel.iter_chunks(_slow_after_the_first_chunk, [f"n{i}" for i in range(70)]):
        break
    assert time.monotonic() - started < 30  # the workers were stopped, not waited for (60 s a chunk)
    assert _children() == set()


def test_a_chunk_handed_to_a_worker_that_already_ended_is_still_counted() -> None:
    """A worker that failed on its first chunk may be gone before its second is handed out: the hand-out
    does not fail on the closed pipe, and the chunk counts as the worker's, so its result pipe tells why."""
    import collections
    import os

    reader, writer = os.pipe()
    os.close(reader)  # the worker ended
    assigned: collections.deque[int] = collections.deque([0])
    try:
        parallel._hand_out(2, writer, assigned)
        parallel._hand_out(None, writer, assigned)
    finally:
        os.close(writer)
    assert list(assigned) == [0, 2]
