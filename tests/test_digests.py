"""`digests`: XXH3-64 from the xxhash package (a dependency), the older sums without it; a cache summed
one way is never read by a process summing the other way, and a journal fingerprinted one way still
recovers (tests/test_journal_blocks.py, tests/test_recover_fingerprints.py)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import xxhash

from tests.conftest import SAMPLE_VAULT, make_git_vault
from vaulttools import check, digests, facts
from vaulttools.errors import VaultError
from vaulttools.vault import Vault


@pytest.mark.parametrize("data", [b"", b"hello", b"\x00" * 4096, "caf\u00e9\n".encode() * 3000])
def test_quick_sum_is_xxh3_or_crc32_without_xxhash(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert digests.quick_sum(data) == xxhash.xxh3_64_intdigest(data)
    assert digests.quick_sum_name() == "xxh3-64"
    assert digests.xxh3_hex(data) == xxhash.xxh3_64_hexdigest(data) and len(digests.xxh3_hex(data)) == 16
    monkeypatch.setattr(digests, "xxhash", None)
    assert digests.quick_sum(data) == zlib.crc32(data)
    assert digests.quick_sum_name() == "crc32"
    with pytest.raises(VaultError, match="pip install xxhash"):
        digests.xxh3_hex(data)


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        (b"hello", b"hello", True),
        (b"hello", b"hellx", False),
        (b"\x16a\xc0\n", b"\xb3\xadl\xaa\x8a", False),  # the same CRC-32, another size
    ],
)
def test_content_digest_with_either_sum(before: bytes, after: bytes, same: bool, with_xxhash: bool) -> None:
    assert (facts.content_digest(before) == facts.content_digest(after)) is same
    assert len(facts.content_digest(before)) == 16


def test_a_check_cache_summed_otherwise_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard: the sum's name is part of the check cache's fingerprint. A cache of XXH3 sums read by a
    CRC-32 process would compare sums of two kinds and check every note whose stamp changed again (or,
    worse, keep an entry on a chance match); it is dropped and rebuilt instead."""
    vault = make_git_vault(SAMPLE_VAULT, tmp_path / "vault")
    check.check_vault(Vault(vault))
    summed_with_xxh3 = check._check_fingerprint(Vault(vault))
    assert check.cached_entries(Vault(vault))  # read back, as made
    monkeypatch.setattr(digests, "xxhash", None)
    assert check._check_fingerprint(Vault(vault)) != summed_with_xxh3
    checked: list[str] = []
    real_check_stale = check._check_stale

    def spy(vault: Vault, paths: list[str], *args: object):  # type: ignore[no-untyped-def]
        checked.extend(paths)
        return real_check_stale(vault, paths, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(check, "_check_stale", spy)
    check.cached_entries(Vault(vault))
    assert sorted(checked) == sorted(Vault(vault).note_paths)  # nothing taken from the other cache
