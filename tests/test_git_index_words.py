"""git's word on the work tree's files, read from its index file (`git.index_words`, `read_index_words`):
real repositories after `git add`, `reset` and `update-index`, and the index shapes it declines to read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import git, git_vault_of
from vaulttools.facts import stamp_of
from vaulttools.git import IndexWords, index_words, read_index_words

NOTES = {"a.md": b"# A\n\n[[b]]\n", "sub/b.md": b"# B\n", "sub/deeper/c.md": b"c" * 300}
PAST_NS = 1_600_000_000 * 1_000_000_000


def settle(repo: Path, paths: list[str]) -> None:
    """Give the files an mtime well before now and let git take their stat data again: its entries are then
    older than the index file, not racily clean (a file written in the tick git wrote the index is)."""
    for number, path in enumerate(paths):
        os.utime(repo / path, ns=(PAST_NS, PAST_NS + number))
    git(repo, "update-index", "-q", "--refresh")


def blob_of(repo: Path, path: str) -> bytes:
    return bytes.fromhex(git(repo, "hash-object", path).strip())


def settled_repo(tmp_path: Path) -> Path:
    repo = git_vault_of(NOTES, tmp_path / "repo")
    settle(repo, list(NOTES))
    return repo


def vouched(
    root: Path, paths: list[str] | dict[str, bytes], words: IndexWords | None = None
) -> dict[str, bytes]:
    """The blob git's index vouches each file of `paths` under `root` is (those it vouches for)."""
    words = words or read_index_words(root)
    assert words is not None
    blobs = {path: words.blob_for(path, stamp_of(root / path)) for path in paths if (root / path).exists()}
    return {path: blob for path, blob in blobs.items() if blob is not None}


def test_each_clean_file_is_vouched_to_be_its_blob(tmp_path: Path) -> None:
    repo = settled_repo(tmp_path)
    assert vouched(repo, NOTES) == {path: blob_of(repo, path) for path in NOTES}


def test_a_file_git_does_not_list_gets_no_word(tmp_path: Path) -> None:
    repo = settled_repo(tmp_path)
    (repo / "untracked.md").write_bytes(b"new\n")
    assert vouched(repo, ["a.md", "untracked.md", "missing.md"]) == {"a.md": blob_of(repo, "a.md")}


def test_a_vault_in_a_subfolder_of_the_repository_is_asked_by_its_own_paths(tmp_path: Path) -> None:
    repo = settled_repo(tmp_path)
    (repo / "sub" / "a.md").write_bytes((repo / "a.md").read_bytes())  # untracked: its own path is asked
    assert vouched(repo / "sub", ["b.md", "deeper/c.md", "a.md"]) == {
        "b.md": blob_of(repo, "sub/b.md"),
        "deeper/c.md": blob_of(repo, "sub/deeper/c.md"),
    }


def test_a_file_changed_since_git_took_its_stat_is_not_vouched_for(tmp_path: Path) -> None:
    repo = settled_repo(tmp_path)
    words = read_index_words(repo)
    (repo / "a.md").write_bytes(b"# A, changed\n")
    assert vouched(repo, ["a.md"], words) == {}
    os.utime(repo / "a.md", ns=(PAST_NS, PAST_NS))  # the old mtime back: the ctime and size still tell
    assert vouched(repo, ["a.md"], words) == {}
    (repo / "sub/b.md").write_bytes(b"# C\n")  # the same size
    os.utime(repo / "sub/b.md", ns=(PAST_NS + 1, PAST_NS + 1))
    assert vouched(repo, ["sub/b.md"], words) == {}


def test_a_racily_clean_entry_is_left_out(tmp_path: Path) -> None:
    """An entry whose mtime is not before the index file's: git may have hashed the file in the tick it was
    changed again, and checks its bytes itself; so must the reader."""
    repo = settled_repo(tmp_path)
    index = repo / ".git" / "index"
    b_mtime = PAST_NS + 1  # as `settle` set it: a.md's is one ns older, sub/deeper/c.md's one newer
    os.utime(index, ns=(b_mtime, b_mtime))
    assert list(vouched(repo, NOTES)) == ["a.md"]
    os.utime(index, ns=(PAST_NS, PAST_NS))
    assert vouched(repo, NOTES) == {}


@pytest.mark.parametrize(
    "flag",
    [
        ("--assume-unchanged",),  # git trusts the entry without a look at the file
        ("--skip-worktree",),  # an extended flag: the index is written as version 3
    ],
    ids=["assume-unchanged", "skip-worktree"],
)
def test_entries_git_does_not_check_against_the_file_are_left_out(tmp_path: Path, flag: tuple[str]) -> None:
    repo = settled_repo(tmp_path)
    git(repo, "update-index", *flag, "sub/b.md")
    assert vouched(repo, NOTES) == {  # sub/deeper/c.md read past the extended entry
        "a.md": blob_of(repo, "a.md"),
        "sub/deeper/c.md": blob_of(repo, "sub/deeper/c.md"),
    }


def test_an_intent_to_add_entry_and_a_symlink_are_left_out(tmp_path: Path) -> None:
    repo = settled_repo(tmp_path)
    (repo / "new.md").write_bytes(b"new\n")
    git(repo, "add", "-N", "new.md")
    (repo / "link.md").symlink_to("a.md")
    git(repo, "add", "link.md")
    os.utime(repo / "new.md", ns=(PAST_NS, PAST_NS))
    os.utime(repo / "link.md", ns=(PAST_NS, PAST_NS), follow_symlinks=False)
    assert sorted(vouched(repo, [*NOTES, "new.md", "link.md"])) == sorted(NOTES)


@pytest.mark.parametrize(
    "change",
    [("update-index", "--index-version", "4"), ("update-index", "--split-index")],
    ids=["version 4", "split index"],
)
def test_an_index_this_does_not_read_gives_no_word(tmp_path: Path, change: tuple[str, ...]) -> None:
    repo = settled_repo(tmp_path)
    git(repo, *change)
    assert read_index_words(repo) is None


def test_outside_git_there_is_no_word(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"a")
    assert read_index_words(tmp_path) is None


def _entry(name: bytes, *, flags: int = 0, mode: int = 0o100644, size: int = 5, mtime: int = 7) -> bytes:
    stat = (1, 2, mtime, 3, 0, 9, mode, 0, 0, size)
    fixed = b"".join(value.to_bytes(4, "big") for value in stat) + bytes(range(20))
    flags_field = (flags | min(len(name), 0xFFF)).to_bytes(2, "big")
    extended = b"\0\0" if flags & 0x4000 else b""
    body = fixed + flags_field + extended + name
    return body + b"\0" * (8 - len(body) % 8)


def _index(*entries: bytes, version: int = 2, extensions: bytes = b"") -> bytes:
    header = b"DIRC" + version.to_bytes(4, "big") + len(entries).to_bytes(4, "big")
    return header + b"".join(entries) + extensions + b"\xcc" * 20


BLOB = bytes(range(20))
STAMP = (5, 7_000_000_003, 1_000_000_002, 9)  # as `_entry` writes it


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_index(_entry(b"a.md")), {"a.md": BLOB}),
        (_index(_entry(b"a.md"), _entry(b"bb.md", size=0)), {"a.md": BLOB}),  # smudged by git
        (_index(_entry(b"a.md", mode=0o120000)), {}),  # a symlink
        (_index(_entry(b"a.md", mode=0o160000)), {}),  # a submodule
        (_index(_entry(b"a.md", flags=0x1000)), {}),  # a conflict's stage 1
        (_index(_entry(b"a.md", flags=0x8000)), {}),  # assume-valid
        (_index(_entry(b"x" * 5000, flags=0x4000), _entry(b"a.md"), version=3), {"a.md": BLOB}),
        (_index(_entry(b"b" * 5000), _entry(b"a.md")), {"a.md": BLOB, "b" * 5000: BLOB}),
        (_index(_entry(b"a.md", mtime=8)), {}),  # not before the index file: racy
        (_index(_entry(b"a.md"), extensions=b"TREE" + (4).to_bytes(4, "big") + b"abcd"), {"a.md": BLOB}),
        (_index(_entry(b"a.md"), extensions=b"link" + (4).to_bytes(4, "big") + b"abcd"), None),
        (_index(_entry(b"a.md"), extensions=b"sdir" + (0).to_bytes(4, "big")), None),
        (_index(_entry(b"a.md"), extensions=b"TREE" + (99).to_bytes(4, "big") + b"abcd"), None),  # cut short
        (_index(_entry(b"a.md"))[:40], None),
        (_index(_entry(b"a.md"), version=4), None),
        (b"DIRX" + _index(_entry(b"a.md"))[4:], None),
        (b"", None),
    ],
    ids=[
        "one entry",
        "smudged",
        "symlink",
        "submodule",
        "stage 1",
        "assume-valid",
        "long name, extended",
        "long name",
        "racy",
        "known extension",
        "split index",
        "sparse index",
        "extension past the end",
        "cut short",
        "version 4",
        "not an index",
        "empty",
    ],
)
def test_index_words_of_index_bytes(data: bytes, expected: dict[str, bytes] | None) -> None:
    words = index_words(data, 20, 8_000_000_000)
    if expected is None:
        assert words is None
        return
    assert words is not None
    names = ["a.md", "bb.md", "x" * 5000, "b" * 5000]
    assert {name: words.blob_for(name, STAMP) for name in names if words.blob_for(name, STAMP)} == expected


@pytest.mark.parametrize(
    "stamp",
    [(6, *STAMP[1:]), (5, 7_000_000_004, *STAMP[2:]), (*STAMP[:2], 1_000_000_003, 9), (*STAMP[:3], 10)],
    ids=["size", "mtime", "ctime", "inode"],
)
def test_a_file_of_another_stamp_is_not_vouched_for(stamp: tuple[int, int, int, int]) -> None:
    words = index_words(_index(_entry(b"a.md")), 20, 8_000_000_000)
    assert words is not None and words.blob_for("a.md", STAMP) == BLOB
    assert words.blob_for("a.md", stamp) is None


def test_an_empty_file_of_a_smudged_entry_is_not_vouched_for() -> None:
    """git marks an entry it found racy (the file changed in the tick it was hashed) by a size of 0: an
    empty file then matches its stat data, but not its blob."""
    words = index_words(_index(_entry(b"a.md", size=0)), 20, 8_000_000_000)
    assert words is not None and words.blob_for("a.md", (0, *STAMP[1:])) is None


def test_a_name_length_that_does_not_end_at_a_nul_is_damage() -> None:
    entry = bytearray(_entry(b"a.md"))
    entry[61] = 3  # the name's length in the flags: one short
    assert index_words(_index(bytes(entry)), 20, 8_000_000_000) is None


def test_git_keeps_the_low_32_bits_of_size_and_inode() -> None:
    words = index_words(_index(_entry(b"a.md")), 20, 8_000_000_000)
    assert words is not None
    assert words.blob_for("a.md", (5 + 2**32, STAMP[1], STAMP[2], 9 + 2**33)) == BLOB


def test_a_vault_folder_prefixes_the_paths_asked() -> None:
    words = index_words(_index(_entry(b"notes/a.md")), 20, 8_000_000_000, "notes/")
    assert words is not None and words.blob_for("a.md", STAMP) == BLOB
