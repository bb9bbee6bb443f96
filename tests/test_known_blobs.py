"""A batch whose planner took its notes' new blob ids commits them without git reading the files back
(`git.KnownBlobs`): the blobs git lacks go into one pack (`Repository.store_blobs`), those it holds are
freshened; where git would convert a file, or the pack fails, git's own `hash-object` decides. A batch
that only rewrites tracked files has git build its commit's trees while it writes (`build_trees`)."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, git_vault_of, snapshot
from tests.helpers import GitRun, assert_clean, commits, found_repository, git_blob_id, git_runs
from vaulttools import batch as batch_module
from vaulttools import changes as changes_module
from vaulttools import git as git_module
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import NEW_BLOB, NEW_BLOB_HELD, BatchPlan, FileChange
from vaulttools.errors import BatchAborted, GitError
from vaulttools.git import (
    IndexListing,
    KnownBlobs,
    ObjectStore,
    PrebuiltTree,
    Repository,
    TreeBuilder,
    TreeRecords,
    tree_records,
)
from vaulttools.vault import Vault

NOTES = {
    "a.md": b"---\ntags: [x]\n---\na [[b]]\n",
    "b.md": b"b\r\nwith CRLF\r\n",
    "sub/c.md": b"\xef\xbb\xbfc with a BOM\n",
    "d.md": b"d, no final newline",
}
NEW = {path: data + b"\nedited\n" for path, data in NOTES.items()}


@pytest.fixture(autouse=True)
def every_batch_names_its_blobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "KNOWN_BLOBS_FROM", 1)


def _vault(tmp_path: Path) -> Path:
    return git_vault_of(NOTES, tmp_path / "vault")


def _plan(root: Path, new: dict[str, bytes] | None = None) -> BatchPlan:
    """In-place changes as normalize-links' workers plan them: blob ids taken, the object store asked."""
    objects = ObjectStore.of(root)
    files = [
        FileChange(path, (root / path).read_bytes(), data).old_left_on_disk(root, objects=objects)
        for path, data in (new or NEW).items()
    ]
    return BatchPlan("test", "a test batch", files)


def _packs(root: Path) -> set[str]:
    return {name for name in os.listdir(root / ".git" / "objects" / "pack") if name.endswith(".pack")}


def _loose_objects(root: Path) -> int:
    return int(git(root, "count-objects").split()[0])


def _committed_as_git_names_them(root: Path, paths: list[str]) -> None:
    for path in paths:
        assert git(root, "rev-parse", f"HEAD:{path}").strip() == git(root, "hash-object", path).strip()


def _spy(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    name: str,
    record: Callable[[tuple[Any, ...], dict[str, Any], Any], None],
) -> None:
    """`owner.name` replaced by itself, each call's arguments and result handed to `record` as well."""
    real = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        record(args, kwargs, result)
        return result

    monkeypatch.setattr(owner, name, spy)


def _stagers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kind of stager each batch commits through."""
    made: list[str] = []
    _spy(monkeypatch, Repository, "stager", lambda _args, _kwargs, stager: made.append(type(stager).__name__))
    return made


def test_new_blobs_go_into_one_pack_and_are_committed_as_git_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    made = _stagers(monkeypatch)
    packs, loose = _packs(root), _loose_objects(root)
    plan = _plan(root)
    assert all(change.fingerprints is not None for change in plan.changes)
    assert [c.fingerprints[NEW_BLOB_HELD] for c in plan.changes if c.fingerprints] == [""] * len(NEW)
    assert [c.fingerprints[NEW_BLOB] for c in plan.changes if c.fingerprints] == [
        git_blob_id(data) for data in NEW.values()
    ]
    result = run_batch(Vault(root), plan, BatchOptions())
    assert made == ["KnownBlobs"]
    assert result.committed is not None and commits(root) == 2
    assert len(_packs(root) - packs) == 1  # one pack for the batch's blobs
    assert _loose_objects(root) == loose + 3  # the commit and its two trees, not one file per blob
    _committed_as_git_names_them(root, list(NEW))
    assert_clean(root)
    git(root, "fsck", "--strict", "--no-dangling")


def test_blobs_git_holds_are_not_packed_again(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    run_batch(Vault(root), _plan(root), BatchOptions())
    git(root, "reset", "-q", "--hard", "HEAD~1")  # the blobs stay in git's pack
    packs = _packs(root)
    plan = _plan(root)
    assert {c.fingerprints[NEW_BLOB_HELD] for c in plan.changes if c.fingerprints} == {ObjectStore.PACKED}
    run_batch(Vault(root), plan, BatchOptions())
    assert _packs(root) == packs
    _committed_as_git_names_them(root, list(NEW))
    git(root, "fsck", "--strict", "--no-dangling")


def test_a_loose_blob_is_freshened_and_one_gone_since_planning_is_stored_again(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    for path, data in NEW.items():  # git holds the new bytes as loose objects, with an old time
        (root / path).write_bytes(data)
    stored = git(root, "hash-object", "-w", *NEW).split()
    git(root, "checkout", "-q", "--", ".")
    objects = root / ".git" / "objects"
    for oid in stored:
        os.utime(objects / oid[:2] / oid[2:], (1000.0, 1000.0))
    plan = _plan(root)
    assert {c.fingerprints[NEW_BLOB_HELD] for c in plan.changes if c.fingerprints} == {ObjectStore.LOOSE}
    (objects / stored[0][:2] / stored[0][2:]).unlink()  # pruned by a `git gc` after planning
    packs = _packs(root)
    run_batch(Vault(root), plan, BatchOptions())
    assert all(os.stat(objects / oid[:2] / oid[2:]).st_mtime > 1000.0 for oid in stored[1:])
    assert len(_packs(root) - packs) == 1  # the one gone, packed
    _committed_as_git_names_them(root, list(NEW))
    git(root, "fsck", "--strict", "--no-dangling")


@pytest.mark.parametrize(
    "convert",
    [
        lambda root: git(root, "config", "core.autocrlf", "true"),
        lambda root: (root / ".git" / "info" / "attributes").write_text("*.md text eol=lf\n"),
        lambda root: (root / ".git" / "info" / "attributes").write_text("sub/** filter=upper\n"),
    ],
    ids=["autocrlf", "eol attribute", "filter attribute"],
)
def test_where_git_converts_files_it_names_them_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, convert: object
) -> None:
    root = _vault(tmp_path)
    (root / ".git" / "info").mkdir(exist_ok=True)
    git(root, "config", "filter.upper.clean", "tr a-z A-Z")
    convert(root)  # type: ignore[operator]
    made = _stagers(monkeypatch)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert made == ["BlobWriter"]
    _committed_as_git_names_them(root, list(NEW))  # converted as git converts them


@pytest.mark.parametrize(
    ("attributes", "paths", "as_they_are"),
    [
        ("", ["a.md", "sub/c.md"], True),
        ("*.md -text -eol\n", ["a.md", "sub/c.md"], True),  # unset
        ("*.md binary\n", ["a.md", "sub/c.md"], True),  # a macro: -text -diff -merge
        ("*.md text\n", ["a.md", "sub/c.md"], False),
        ("*.md eol=crlf\n", ["a.md"], False),
        ("*.md crlf\n", ["a.md"], False),
        ("*.md ident\n", ["a.md"], False),
        ("*.md working-tree-encoding=UTF-16\n", ["a.md"], False),
        ("sub/c.md filter=upper\n", ["a.md", "b.md", "sub/c.md", "d.md"], False),  # the last of several
        ("a.md diff=markdown\n", ["a.md"], True),  # an attribute that converts nothing
        # A file named like an attribute reads, in git's output, like a value that is set: "no" is safe.
        ("", ["text", "a.md"], False),
    ],
)
def test_stores_files_as_they_are_answers_from_every_converting_attribute(
    tmp_path: Path, attributes: str, paths: list[str], as_they_are: bool
) -> None:
    root = _vault(tmp_path)
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "attributes").write_text(attributes)
    repo = found_repository(root)
    assert repo.stores_files_as_they_are(paths) is as_they_are


def _attribute_questions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many paths each `git check-attr` the process runs from now on is asked about."""
    asked: list[int] = []

    def record(args: tuple[Any, ...], options: dict[str, Any], _output: object) -> None:
        if args[1][0] == "check-attr":  # run_git(root, args, stdin=...)
            asked.append(options["stdin"].count(b"\0"))

    _spy(monkeypatch, git_module, "run_git", record)
    return asked


def _vault_read_early(tmp_path: Path) -> Path:
    """The test vault, its index read as while a command plans."""
    root = _vault(tmp_path)
    _index_read_early(root)
    return root


def _index_read_early(root: Path) -> IndexListing:
    """git's index read as while a command plans (`batch.read_git_index_in_background`)."""
    batch_module.read_git_index_in_background(root)
    listing = batch_module._EARLY_INDEX[0][1]()[1]
    assert listing is not None
    return listing


def test_an_index_read_while_planning_answers_for_its_paths_attributes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    asked = _attribute_questions(monkeypatch)
    assert _index_read_early(root).paths_stored_as_they_are
    assert asked == [len(NOTES)]  # every path of the index, once, while planning
    made = _stagers(monkeypatch)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert made == ["KnownBlobs"] and asked == [len(NOTES)]  # the batch asked git nothing more
    _committed_as_git_names_them(root, list(NEW))


def test_an_index_read_while_planning_gives_the_commit_heads_top_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vault in one folder: the commit builds its tree from the top folder git listed while the command
    planned, and asks git for no folder of HEAD again; one in folders asks only for those. (Where git
    built the trees while the batch wrote, the commit builds none: off here.)"""
    monkeypatch.setattr(batch_module, "tree_records", lambda *_args: None)
    flat = git_vault_of({"a.md": b"a\n", "b.md": b"b\n"}, tmp_path / "flat")
    listing = _index_read_early(flat)
    assert listing.root_tree is not None and listing.root_tree.head == listing.head
    asked: list[tuple[str, ...]] = []
    folders: list[bytes] = []  # what each `cat-file --batch` was asked for

    def record(args: tuple[Any, ...], options: dict[str, Any], _output: object) -> None:
        asked.append(args[1:])  # Repository.run(self, *args, stdin=...)
        if args[1:3] == ("cat-file", "--batch"):
            folders.append(options["stdin"])

    _spy(monkeypatch, Repository, "run", record)
    run_batch(Vault(flat), _plan(flat, {"a.md": b"a\nedited\n"}), BatchOptions())
    assert not any(args[:2] == ("cat-file", "--batch") for args in asked)
    _committed_as_git_names_them(flat, ["a.md"])
    root = _vault(tmp_path)  # sub/c.md: its folder is read, the top one is not
    _index_read_early(root)
    asked.clear()
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert len(folders) == 1 and folders[0].endswith(b":sub\n") and b"^{tree}" not in folders[0]
    _committed_as_git_names_them(root, list(NEW))


def test_an_index_read_while_planning_with_a_converting_attribute_leaves_git_to_name_the_blobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "attributes").write_text("sub/** text eol=crlf\n")
    assert not _index_read_early(root).paths_stored_as_they_are
    made = _stagers(monkeypatch)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert made == ["BlobWriter"]
    _committed_as_git_names_them(root, list(NEW))  # converted as git converts them


def test_an_early_index_whose_attribute_question_failed_leaves_the_batch_to_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    real = Repository._stored_as_they_are

    def failing(self: Repository, paths: list[bytes]) -> bool:
        raise GitError("git check-attr failed: killed")

    monkeypatch.setattr(Repository, "_stored_as_they_are", failing)
    listing = _index_read_early(root)  # the listing itself is still taken
    assert not listing.paths_stored_as_they_are and listing.entries
    monkeypatch.setattr(Repository, "_stored_as_they_are", real)
    asked = _attribute_questions(monkeypatch)
    made = _stagers(monkeypatch)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert made == ["KnownBlobs"] and asked == [len(NEW)]  # the batch asked about its own paths
    _committed_as_git_names_them(root, list(NEW))


def test_a_path_the_early_index_does_not_list_is_asked_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    listing = _index_read_early(root)
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "attributes").write_text("new.md filter=upper\n")  # only the new path's
    repo = found_repository(root)
    asked = _attribute_questions(monkeypatch)
    assert repo.stores_files_as_they_are(["a.md", "sub/c.md"], listing)
    assert asked == []  # both listed: answered while planning
    assert not repo.stores_files_as_they_are(["a.md", "new.md"], listing)
    assert asked == [1]  # only the path the index did not list


def test_a_pack_git_cannot_index_falls_back_to_git_hash_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    monkeypatch.setattr(git_module, "_PACK_BLOB", 2)  # the blobs sent as folders: `index-pack` refuses them
    before = commits(root)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert commits(root) == before + 1
    _committed_as_git_names_them(root, list(NEW))
    git(root, "fsck", "--strict", "--no-dangling")


def test_ids_git_does_not_confirm_abort_the_batch(tmp_path: Path) -> None:
    """Both guards: after `index-pack`, git must hold every id the planner took (with its size); failing
    that, `git hash-object` of the written files must give those ids; failing that, nothing is committed."""
    root = _vault(tmp_path)
    plan = _plan(root)
    wrong = plan.changes[0].fingerprints
    assert wrong is not None
    wrong[NEW_BLOB] = git_blob_id(b"other bytes\n")  # as if the planner had named other bytes
    before, start = snapshot(root), commits(root)
    with pytest.raises(BatchAborted, match="named the batch's files otherwise"):
        run_batch(Vault(root), plan, BatchOptions())
    assert snapshot(root) == before and commits(root) == start


def test_verify_objects_names_what_git_lacks(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    repo = found_repository(root)
    repo.verify_objects("blob", {git_blob_id(NOTES["a.md"]): len(NOTES["a.md"])})
    with pytest.raises(GitError, match="git stored a blob under another id"):
        repo.verify_objects("blob", {git_blob_id(NOTES["a.md"]): len(NOTES["a.md"]) + 1})
    with pytest.raises(GitError, match="git stored a blob under another id"):
        repo.verify_objects("blob", {git_blob_id(b"nowhere\n"): 8})


def test_files_the_planner_did_not_name_are_named_by_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A created and a moved note (no id taken by a worker), beside notes rewritten in place."""
    root = _vault(tmp_path)
    plan = _plan(root)
    plan.changes.append(FileChange("new.md", None, b"created\n"))
    plan.changes.append(FileChange("d.md", NOTES["d.md"], NOTES["d.md"] + b"!", "moved/e.md"))
    plan.changes = [c for c in plan.changes if c.path != "d.md" or c.new_path]
    made = _stagers(monkeypatch)
    packs = _packs(root)
    run_batch(Vault(root), plan, BatchOptions())
    assert made == ["KnownBlobs"] and len(_packs(root) - packs) == 1
    _committed_as_git_names_them(root, ["a.md", "b.md", "sub/c.md", "new.md", "moved/e.md"])
    assert "d.md" not in git(root, "ls-files")
    assert_clean(root)
    git(root, "fsck", "--strict", "--no-dangling")


def test_known_blobs_refuse_a_batch_that_wrote_other_files(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    repo = found_repository(root)
    known = KnownBlobs(repo, {"a.md": git_blob_id(NEW["a.md"])}, None)
    known.add(["a.md", "b.md"])
    with pytest.raises(GitError, match="other files than it named"):
        known.finish()


def test_the_object_store_tells_loose_packed_and_lacking(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    store = ObjectStore.of(root / "sub")  # from a folder of the vault
    assert store is not None
    committed = git_blob_id(NOTES["a.md"])
    assert store.holds(committed) == ObjectStore.LOOSE
    assert store.holds(git_blob_id(b"nowhere\n")) == ""
    git(root, "gc", "-q")
    packed = ObjectStore(str(root / ".git" / "objects"))
    assert [packed.holds(git_blob_id(data)) for data in NOTES.values()] == [ObjectStore.PACKED] * len(NOTES)
    assert packed.holds(git_blob_id(b"nowhere\n")) == ""
    assert ObjectStore.of(tmp_path) is None  # not in git


def test_the_planner_takes_no_held_flag_without_an_object_store(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"old\n")
    change = FileChange("a.md", b"old\n", b"new\n").old_left_on_disk(tmp_path)
    assert change.fingerprints is not None and NEW_BLOB_HELD not in change.fingerprints
    assert change.fingerprints[changes_module.NEW_BLOB] == git_blob_id(b"new\n")


def test_a_small_batch_leaves_its_blobs_to_git_hash_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    monkeypatch.setattr(batch_module, "KNOWN_BLOBS_FROM", len(NEW) + 1)
    made = _stagers(monkeypatch)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert made == ["BlobWriter"]
    _committed_as_git_names_them(root, list(NEW))


def test_a_big_batch_stores_its_blobs_from_a_process_per_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    monkeypatch.setattr(batch_module, "SECOND_STORER_FROM", 2)
    monkeypatch.setattr(batch_module.os, "cpu_count", lambda: 2)
    packs = _packs(root)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert len(_packs(root) - packs) == 2  # one pack each
    _committed_as_git_names_them(root, list(NEW))
    git(root, "fsck", "--strict", "--no-dangling")


def test_a_vault_in_a_folder_of_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths asked of `git check-attr` and committed are the repository's, not the vault's."""
    repo_root = git_vault_of({f"vault/{path}": data for path, data in NOTES.items()}, tmp_path / "repo")
    (repo_root / ".gitattributes").write_text("other/*.md text\n")  # not the vault's notes
    git(repo_root, "add", ".gitattributes")
    git(repo_root, "commit", "-q", "-m", "attributes")
    root = repo_root / "vault"
    made = _stagers(monkeypatch)
    packs = _packs(repo_root)
    run_batch(Vault(root), _plan(root), BatchOptions())
    assert made == ["KnownBlobs"] and len(_packs(repo_root) - packs) == 1
    _committed_as_git_names_them(root, [f"./{path}" for path in NEW])
    git(repo_root, "fsck", "--strict", "--no-dangling")


def test_a_linked_worktree_stores_into_the_main_repository(tmp_path: Path) -> None:
    main = _vault(tmp_path)
    side = tmp_path / "side"
    git(main, "worktree", "add", "-q", "-b", "side", str(side))
    packs = _packs(main)
    run_batch(Vault(side), _plan(side), BatchOptions())
    assert len(_packs(main) - packs) == 1
    _committed_as_git_names_them(side, list(NEW))
    assert_clean(side)
    git(main, "fsck", "--strict", "--no-dangling")


def _vault_in_two_packs(tmp_path: Path) -> Path:
    """The test vault with its notes' blobs in one pack and their edited versions (`NEW`) in a newer one."""
    root = _vault(tmp_path)
    git(root, "gc", "-q")
    for path, data in NEW.items():
        (root / path).write_bytes(data)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "edited")
    git(root, "repack", "-q", "-d")
    return root


def test_the_object_store_finds_blobs_in_any_of_several_packs(tmp_path: Path) -> None:
    root = _vault_in_two_packs(tmp_path)
    assert len(_packs(root)) == 2
    store = ObjectStore(str(root / ".git" / "objects"))
    asked = [*NEW.values(), *NOTES.values(), *NEW.values(), b"nowhere\n"]
    assert [store.holds(git_blob_id(data)) for data in asked] == [ObjectStore.PACKED] * (len(asked) - 1) + [
        ""
    ]


def test_each_lane_asks_first_the_pack_that_held_its_last_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planner asks in turn for a note's old blob (in one pack) and its new one (in another): in lanes of
    their own, each id after the first of its lane is found in the first pack searched."""
    root = _vault_in_two_packs(tmp_path)
    searched: list[object] = []
    real = git_module._PackIndex.__contains__
    monkeypatch.setattr(
        git_module._PackIndex, "__contains__", lambda index, raw: searched.append(index) or real(index, raw)
    )
    old, new = list(NOTES.values())[: len(NEW)], list(NEW.values())
    for lanes, first_ids in [(False, None), (True, 2)]:
        store = ObjectStore(str(root / ".git" / "objects"))
        searched.clear()
        for old_bytes, new_bytes in zip(old, new, strict=True):
            assert store.holds(git_blob_id(new_bytes), "new" if lanes else "") == ObjectStore.PACKED
            assert store.holds(git_blob_id(old_bytes), "old" if lanes else "") == ObjectStore.PACKED
        if first_ids:
            assert len(searched) <= 2 * len(old) + first_ids  # one pack a blob, but each lane's first
        else:
            assert len(searched) >= 4 * len(old) - 2  # in one lane, each pushes the other's pack back


@pytest.mark.parametrize("scan_below", [0, 512], ids=["halved to the id", "searched in a bucket"])
def test_a_pack_index_finds_exactly_its_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan_below: int
) -> None:
    root = _vault(tmp_path)
    for number in range(300):  # enough ids for the halving to take several steps
        (root / f"many/{number}.md").parent.mkdir(exist_ok=True)
        (root / f"many/{number}.md").write_bytes(b"note %d\n" % number)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "many")
    git(root, "gc", "-q")
    monkeypatch.setattr(git_module, "_PACK_SCAN_BELOW", scan_below)
    store = ObjectStore(str(root / ".git" / "objects"))
    held = [b"note %d\n" % number for number in range(300)]
    lacking = [b"never %d\n" % number for number in range(300)]
    assert all(store.holds(git_blob_id(data)) == ObjectStore.PACKED for data in held)
    assert not any(store.holds(git_blob_id(data)) for data in lacking)


def test_a_pack_index_match_across_two_ids_is_not_an_id() -> None:
    """The bytes asked for appear in the index, but straddling two neighbouring ids: not held."""
    ids = [bytes([7]) + bytes(9) + bytes([7]) + b"A" * 9, bytes([7]) + b"B" * 19]  # both in bucket 7
    fanout = b"".join((0 if bucket < 7 else 2).to_bytes(4, "big") for bucket in range(256))
    index = git_module._PackIndex(b"\xfftOc\x00\x00\x00\x02" + fanout + b"".join(ids))  # type: ignore[arg-type]
    straddling = ids[0][10:] + ids[1][:10]  # starts with 7 too: searched for in the same bucket
    assert all(raw in index for raw in ids)
    assert straddling in b"".join(ids) and straddling not in index
    assert bytes([7]) + b"C" * 19 not in index


def test_a_loose_object_folder_is_read_once(tmp_path: Path) -> None:
    """An object stored after its folder was listed is taken for lacking: stored again, which is safe."""
    root = _vault(tmp_path)
    store = ObjectStore(str(root / ".git" / "objects"))
    assert store.holds(git_blob_id(NOTES["a.md"])) == ObjectStore.LOOSE
    late = b"stored after the look\n"
    late_id = git_blob_id(late)
    folder = root / ".git" / "objects" / late_id[:2]
    listed_before = store.holds(late_id) == ""
    (root / "late.md").write_bytes(late)
    git(root, "hash-object", "-w", "late.md")
    assert (folder / late_id[2:]).exists()
    assert listed_before and store.holds(late_id) == ""
    assert ObjectStore(str(root / ".git" / "objects")).holds(late_id) == ObjectStore.LOOSE


# --- the commit's trees, built by git while the batch writes (`KnownBlobs.build_trees`, fed by
# `git.tree_records`): taken only for the same HEAD and the same blobs, else built by the commit itself.


def _watch(monkeypatch: pytest.MonkeyPatch) -> tuple[list[PrebuiltTree | None], list[list[str]]]:
    """What each commit was given by `take_prebuilt`, and the paths each `TreeBuilder.build` built."""
    taken: list[PrebuiltTree | None] = []
    built: list[list[str]] = []
    _spy(monkeypatch, KnownBlobs, "take_prebuilt", lambda _args, _kw, prebuilt: taken.append(prebuilt))
    _spy(monkeypatch, TreeBuilder, "build", lambda args, _kw, _tree: built.append(sorted(args[1])))
    return taken, built


def _head_tree_as_git_makes_it(root: Path) -> None:
    """HEAD's tree is the one `git add -A && git write-tree` makes of the work tree."""
    tree = git(root, "rev-parse", "HEAD^{tree}").strip()
    git(root, "add", "-A")
    assert git(root, "write-tree").strip() == tree
    git(root, "fsck", "--strict", "--no-dangling")


def test_git_builds_the_commits_trees_while_the_batch_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault_read_early(tmp_path)
    taken, built = _watch(monkeypatch)
    runs = git_runs(monkeypatch)
    assert run_batch(Vault(root), _plan(root), BatchOptions()).committed
    assert len(taken) == 1 and taken[0] is not None and built == []  # the commit built no tree itself
    assert taken[0].modes == dict.fromkeys(NEW, "100644")
    assert taken[0].prepared_index is not None
    updates = _index_updates(runs)
    assert len(updates) == 2 and all(index is not None for index in updates)  # the trees', the copy's
    assert _prepared_indexes(root) == []
    _committed_as_git_names_them(root, sorted(NEW))
    assert_clean(root)
    _head_tree_as_git_makes_it(root)


def _index_updates(runs: list[GitRun]) -> list[str | None]:
    """The index each `git update-index` of these ran on (None: the repository's own)."""
    return [run.index_file for run in runs if run.args[:1] == ("update-index",)]


def _prepared_indexes(root: Path) -> list[str]:
    return [name for name in os.listdir(root / ".git") if name.startswith("index.")]


def test_an_index_staged_meanwhile_is_updated_by_git_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: another program stages a file after the index was copied; the copy is not taken, git
    updates the index, and that program's staged file stays staged (and out of the batch's commit)."""
    root = _vault_read_early(tmp_path)
    runs = git_runs(monkeypatch)

    def stage_meanwhile(_args: tuple[Any, ...], _kw: dict[str, Any], prebuilt: PrebuiltTree | None) -> None:
        assert prebuilt is not None and prebuilt.prepared_index is not None
        (root / "staged.md").write_bytes(b"staged meanwhile\n")
        git(root, "add", "staged.md")

    _spy(monkeypatch, KnownBlobs, "build_trees", stage_meanwhile)
    assert run_batch(Vault(root), _plan(root), BatchOptions()).committed
    assert _index_updates(runs)[-1] is None  # the repository's own index, by git
    assert git(root, "diff", "--cached", "--name-only") == "staged.md\n"
    assert "staged.md" not in git(root, "show", "--name-only", "--format=", "HEAD")
    _committed_as_git_names_them(root, sorted(NEW))
    assert _prepared_indexes(root) == []


def test_an_index_lock_held_at_the_commit_is_left_to_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: another git program holds `index.lock` when the batch would put its index in place; the
    lock is not touched, and the commit waits for it to go, then has git update the index."""
    root = _vault_read_early(tmp_path)
    runs = git_runs(monkeypatch)
    lock = root / ".git" / "index.lock"
    seen: list[bool] = []
    real_put = Repository.put_index

    def put_while_locked(self: Repository, prepared: Any) -> bool:
        lock.write_bytes(b"another program's\n")
        placed = real_put(self, prepared)
        seen.append(lock.read_bytes() == b"another program's\n")
        threading.Timer(0.3, lock.unlink).start()
        return placed

    monkeypatch.setattr(Repository, "put_index", put_while_locked)
    assert run_batch(Vault(root), _plan(root), BatchOptions()).committed
    assert seen == [True] and _index_updates(runs)[-1] is None and not lock.exists()
    _committed_as_git_names_them(root, sorted(NEW))
    assert_clean(root)
    assert _prepared_indexes(root) == []


def test_an_index_git_cannot_update_is_not_prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _vault(tmp_path)
    repo = found_repository(root)
    assert repo.prepare_index(b"not a record\0") is None
    assert _prepared_indexes(root) == []
    blob = git_blob_id(b"new\n")
    prepared = repo.prepare_index(b"100644 %s\ta.md\0" % blob.encode())
    assert prepared is not None and _prepared_indexes(root) == [prepared.path.name]
    (root / "a.md").write_bytes(b"new\n")
    assert repo.put_index(prepared)
    assert git(root, "diff", "--cached", "--name-only") == "a.md\n" and _prepared_indexes(root) == []


def test_prebuilt_trees_are_not_taken_once_head_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: another program commits after git built the trees; the batch's commit is built again on
    the new HEAD, so it keeps that program's file."""
    root = _vault_read_early(tmp_path)
    taken, built = _watch(monkeypatch)

    def another_commit(_args: tuple[Any, ...], _kw: dict[str, Any], prebuilt: PrebuiltTree | None) -> None:
        assert prebuilt is not None
        (root / "other.md").write_bytes(b"committed meanwhile\n")
        git(root, "add", "other.md")
        git(root, "commit", "-q", "-m", "another program")

    _spy(monkeypatch, KnownBlobs, "build_trees", another_commit)
    assert run_batch(Vault(root), _plan(root), BatchOptions()).committed
    assert taken[0] is not None and built == [sorted(NEW)]  # prebuilt, then built at the commit
    assert git(root, "show", "HEAD:other.md") == "committed meanwhile\n"
    _committed_as_git_names_them(root, sorted(NEW))
    assert commits(root) == 3
    assert _prepared_indexes(root) == []  # the copy of the index made for the old HEAD is gone


def test_prebuilt_trees_for_other_blobs_are_not_taken(tmp_path: Path) -> None:
    """The guard: the files the batch wrote are not those the trees were built for; the commit is built
    from what was written."""
    root = _vault(tmp_path)
    repo = found_repository(root)
    planned = {path: git_blob_id(data) for path, data in NEW.items()}
    records = tree_records(repo, planned, _index_read_early(root))
    assert records is not None
    prebuilt = KnownBlobs(repo, planned, None).build_trees(records)
    assert prebuilt is not None and prebuilt.head == repo.head()
    written: dict[str, str | None] = {**planned, "a.md": git_blob_id(NOTES["a.md"])}  # a.md as it was
    for path, data in NEW.items():
        (root / path).write_bytes(data)
    (root / "a.md").write_bytes(NOTES["a.md"])
    git(root, "add", "-A")
    sha = repo._commit_blobs(written, "other blobs", prebuilt=prebuilt)
    assert git(root, "rev-parse", f"{sha}^{{tree}}").strip() == git(root, "write-tree").strip()
    assert git(root, "rev-parse", f"{sha}^{{tree}}").strip() != prebuilt.tree


def test_git_builds_no_trees_for_records_of_another_head_or_other_blobs(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    repo = found_repository(root)
    planned = {path: git_blob_id(data) for path, data in NEW.items()}
    records = tree_records(repo, planned, _index_read_early(root))
    assert records is not None
    other_head = records._replace(head="0" * 40)
    assert KnownBlobs(repo, planned, None).build_trees(other_head) is None
    assert KnownBlobs(repo, {**planned, "a.md": git_blob_id(b"else\n")}, None).build_trees(records) is None
    assert KnownBlobs(repo, planned, None).build_trees(records) is not None


def test_tree_records_only_for_regular_files_the_index_lists(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    os.symlink("a.md", root / "link.md")
    git(root, "add", "link.md")
    git(root, "commit", "-q", "-m", "a symlink")
    repo = found_repository(root)
    listing = _index_read_early(root)
    blob = git_blob_id(b"new\n")
    records = tree_records(repo, {"a.md": blob, "sub/c.md": blob}, listing)
    assert records is not None and records.head == repo.head()
    assert records.text == b"100644 %s\ta.md\x00100644 %s\tsub/c.md\x00" % (blob.encode(), blob.encode())
    assert tree_records(repo, {"a.md": blob, "untracked.md": blob}, listing) is None
    assert tree_records(repo, {"a.md": blob, "link.md": blob}, listing) is None
    assert tree_records(repo, {"a.md": blob}, listing._replace(head=None)) is None


def test_a_vault_in_a_folder_of_the_repository_gets_its_trees_from_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = tmp_path / "notes" / "vault"
    vault.mkdir(parents=True)
    for path, data in NOTES.items():
        (vault / path).parent.mkdir(parents=True, exist_ok=True)
        (vault / path).write_bytes(data)
    (tmp_path / "outside.md").write_bytes(b"not the vault's\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    _index_read_early(vault)
    taken, built = _watch(monkeypatch)
    assert run_batch(Vault(vault), _plan(vault), BatchOptions()).committed
    assert taken[0] is not None and built == [] and set(taken[0].blobs) == {f"notes/vault/{p}" for p in NEW}
    assert git(tmp_path, "show", "HEAD:outside.md") == "not the vault's\n"
    _head_tree_as_git_makes_it(tmp_path)


def test_a_git_failure_building_the_trees_leaves_them_to_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault_read_early(tmp_path)
    real_run_git = git_module.run_git

    def failing_read_tree(cwd: Path, args: tuple[str, ...], **options: Any) -> bytes:
        if "read-tree" in args:
            raise GitError("git read-tree failed: fatal: a test")
        return real_run_git(cwd, args, **options)

    monkeypatch.setattr(git_module, "run_git", failing_read_tree)
    taken, built = _watch(monkeypatch)
    assert run_batch(Vault(root), _plan(root), BatchOptions()).committed
    assert taken == [None] and built == [sorted(NEW)]
    _committed_as_git_names_them(root, sorted(NEW))
    _head_tree_as_git_makes_it(root)


def test_a_batch_that_fails_while_writing_waits_for_git_and_leaves_no_index_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault(tmp_path)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    _index_read_early(root)
    taken, _built = _watch(monkeypatch)
    head = git(root, "rev-parse", "HEAD")

    def fail_on_second(path: str) -> None:
        if path == "b.md":
            raise OSError(5, "Input/output error", path)

    with pytest.raises(BatchAborted, match="put back"):
        run_batch(Vault(root), _plan(root), BatchOptions(), after_write=fail_on_second)
    assert len(taken) == 1  # the thread was waited for before the rollback
    assert list(temporary.iterdir()) == []
    assert {path: (root / path).read_bytes() for path in NOTES} == NOTES
    assert git(root, "rev-parse", "HEAD") == head
    assert_clean(root)
    assert _prepared_indexes(root) == []


def test_a_batch_that_moves_a_file_builds_its_own_trees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault_read_early(tmp_path)
    taken, built = _watch(monkeypatch)
    plan = _plan(root)
    plan.changes.append(FileChange("d.md", NOTES["d.md"], NOTES["d.md"], "moved/d.md"))
    plan.changes = [c for c in plan.changes if c.path != "d.md" or c.new_path]
    assert run_batch(Vault(root), BatchPlan("test", "moves", plan.changes), BatchOptions()).committed
    assert taken == [None] and len(built) == 1
    _head_tree_as_git_makes_it(root)


def test_tree_records_carry_each_files_mode(tmp_path: Path) -> None:
    root = _vault(tmp_path)
    (root / "a.md").chmod(0o755)
    git(root, "add", "a.md")
    git(root, "commit", "-q", "-m", "executable")
    records = tree_records(
        found_repository(root), {"a.md": "1" * 40, "b.md": "2" * 40}, _index_read_early(root)
    )
    assert records == TreeRecords(
        found_repository(root).head() or "",
        {"a.md": "1" * 40, "b.md": "2" * 40},
        {"a.md": "100755", "b.md": "100644"},
        b"100755 " + b"1" * 40 + b"\ta.md\x00100644 " + b"2" * 40 + b"\tb.md\x00",
    )


def test_git_builds_the_trees_in_an_index_of_its_own_and_leaves_the_repository_as_it_was(
    tmp_path: Path,
) -> None:
    """The guard: a repository that splits its index (`core.splitIndex`) would get a shared index file for
    the trees' own index, left behind in `.git`; that index is written whole."""
    root = _vault(tmp_path)
    for number in range(300):  # enough entries for git to split the index
        (root / f"n{number}.md").write_bytes(b"%d\n" % number)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "many")
    git(root, "config", "core.splitIndex", "true")
    git(root, "update-index", "--split-index")
    repo = found_repository(root)
    planned = {path: git_blob_id(data) for path, data in NEW.items()}
    records = tree_records(repo, planned, _index_read_early(root))
    assert records is not None

    def repository_files() -> dict[str, int]:
        git_dir = root / ".git"
        return {
            str(path.relative_to(git_dir)): path.stat().st_mtime_ns
            for path in git_dir.rglob("*")
            if path.is_file() and "objects" not in path.parts
        }

    before = repository_files()
    assert KnownBlobs(repo, planned, None).build_trees(records) is not None
    assert repository_files() == before


def test_a_commit_that_fails_leaves_no_copy_of_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault_read_early(tmp_path)
    taken, _built = _watch(monkeypatch)
    real_run_git = git_module.run_git

    def failing_commit_tree(where: Path, args: tuple[str, ...], **options: Any) -> bytes:
        if args[:1] == ("commit-tree",):
            raise GitError("git commit-tree failed: a test")
        return real_run_git(where, args, **options)

    monkeypatch.setattr(git_module, "run_git", failing_commit_tree)
    with pytest.raises(BatchAborted, match="commit-tree"):
        run_batch(Vault(root), _plan(root), BatchOptions())
    assert taken[0] is not None and taken[0].prepared_index is not None
    assert _prepared_indexes(root) == []
    assert {path: (root / path).read_bytes() for path in NOTES} == NOTES
    assert_clean(root)


def test_an_index_changed_while_it_is_copied_is_not_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard: another program replaced the index while it was copied; the copy may hold either."""
    root = _vault(tmp_path)
    repo = found_repository(root)
    real_copy = git_module.shutil.copyfile

    def copy_while_staging(source: Path, target: Path) -> Any:
        copied = real_copy(source, target)
        (root / "staged.md").write_bytes(b"staged meanwhile\n")
        git(root, "add", "staged.md")
        return copied

    monkeypatch.setattr(git_module.shutil, "copyfile", copy_while_staging)
    assert repo.prepare_index(b"100644 %s\ta.md\0" % git_blob_id(b"new\n").encode()) is None
    assert _prepared_indexes(root) == []


def test_where_the_object_store_is_is_asked_of_git_once_per_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert ObjectStore.of(plain) is None
    git(plain, "init", "-q")
    first = ObjectStore.of(plain)  # a folder made a repository since is found: no answer was kept
    assert first is not None
    asked = git_runs(monkeypatch)
    second = ObjectStore.of(plain)
    assert second is not None and second is not first and asked == []
    blob = git_blob_id(b"late\n")
    assert first.holds(blob) == ""  # its listing is of the moment it was asked
    (plain / "late.md").write_bytes(b"late\n")
    git(plain, "add", "late.md")
    assert ObjectStore.of(plain).holds(blob) == ObjectStore.LOOSE  # type: ignore[union-attr]


def test_the_object_store_is_found_while_the_command_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _vault_read_early(tmp_path)
    asked = git_runs(monkeypatch)
    assert ObjectStore.of(root) is not None
    assert asked == []
