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
    if count >= 4 * jobs * size and size >= 4 * parallel.MIN_CHUNK:
        assert len(chunks[-1]) <= size // 4  # the last chunks are small, so the workers finish together


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
