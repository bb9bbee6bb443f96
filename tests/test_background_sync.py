"""`files.BackgroundSync`: the batch's one sync after its writes, with earlier syncs while it writes much."""

from __future__ import annotations

import threading

import pytest

from vaulttools import files
from vaulttools.files import BackgroundSync


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every `os.sync` called, by the name of the thread that called it (stretches of 100 bytes)."""
    called: list[str] = []
    monkeypatch.setattr(files.os, "sync", lambda: called.append(threading.current_thread().name))
    monkeypatch.setattr(files, "EARLY_SYNC_EVERY", 100)
    return called


@pytest.mark.parametrize(
    ("sizes", "early"),
    [
        ([], 0),  # nothing written: only the last sync
        ([99], 0),  # under the stretch: no early sync
        ([60, 40], 1),  # a stretch written over two files
        ([100, 100, 100], 3),  # each stretch, once the one before has ended
    ],
)
def test_an_early_sync_starts_each_stretch_written_and_the_last_one_always(
    syncs: list[str], sizes: list[int], early: int
) -> None:
    sync = BackgroundSync()
    for size in sizes:
        sync.wrote(size)
        if sync._early is not None:
            sync._early.join()  # as if the disk were quick: each early sync has ended before the next write
    sync.start()
    sync.wait()
    assert syncs.count("vaulttools-early-sync") == early
    assert syncs[-1] == "vaulttools-sync"


def test_one_early_sync_at_a_time_and_wait_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    release = threading.Event()

    def slow_sync() -> None:
        started.append(threading.current_thread().name)
        release.wait(5)

    monkeypatch.setattr(files.os, "sync", slow_sync)
    monkeypatch.setattr(files, "EARLY_SYNC_EVERY", 100)
    sync = BackgroundSync()
    for _ in range(5):
        sync.wrote(100)  # the first early sync is still running: no second one
    assert started == ["vaulttools-early-sync"]
    sync.start()
    release.set()
    sync.wait()
    assert sync._early is not None and not sync._early.is_alive()
    assert started == ["vaulttools-early-sync", "vaulttools-sync"]
