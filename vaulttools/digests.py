"""Fast digests of note bytes, where no one relies on them against an adversary: a cache's check that a
note whose stamp changed still holds the same bytes, and a batch journal's fingerprints of the bytes it
writes (how `recover` tells the batch's writes from another program's).

XXH3 (the `xxhash` package, a dependency) digests 4 KB in ~0.08 µs where SHA-256 takes ~2.4 µs and zlib's
CRC-32 ~0.7 µs: normalize-links on 10,000 notes of 30 KB spent ~0.2 s of its workers' time on SHA-256
block digests alone. Its 64 bits match the 16 hex digits of SHA-256 the journal kept per block, and are
wider than CRC-32's 32. Without the package (an install that lacks it) the older digests are used, and
every cache and journal says which one it holds.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

from vaulttools.errors import VaultError

try:
    import xxhash
except ImportError:  # a dependency; tests hide it to cover the fallback (tests/test_digests.py)
    xxhash = None  # type: ignore[assignment]


def has_xxh3() -> bool:
    return xxhash is not None


def quick_sum(raw: bytes | memoryview) -> int:
    """A note's bytes summed for a cache: XXH3-64, or CRC-32 without `xxhash` (`quick_sum_name`)."""
    return xxhash.xxh3_64_intdigest(raw) if xxhash is not None else zlib.crc32(raw)


def quick_sum_name() -> str:
    """Which `quick_sum` this process takes: part of every cache's fingerprint."""
    return "xxh3-64" if xxhash is not None else "crc32"


def xxh3_hex(data: bytes | memoryview) -> str:
    """The XXH3-64 digest of `data` in 16 hex digits (only with `xxhash`: see `has_xxh3`)."""
    if xxhash is None:  # a journal written with the package, read without it: one line, no traceback
        raise VaultError(
            "this batch journal's fingerprints need the xxhash package: `pip install xxhash`, then run "
            "`vaulttools recover` again"
        )
    return xxhash.xxh3_64_hexdigest(data)


def sha256_hex(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_block(data: bytes | memoryview) -> str:
    """A block's digest as journals up to version 4 keep it: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:16]


Digest = Callable[[bytes | memoryview], str]


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a file (`git hash-object`, SHA-1 repositories): a worker computes it
    beside its other fingerprints, and `git.Repository.stored_blobs` tells whether git already holds them.
    Here, not in `git`, so that the journal (which every command reads) names blobs without loading git."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()
