"""Direct commits (`Repository._commit_blobs`): the same commit `git commit` would make, built from trees.

Each case runs a batch twice on copies of one repository: once as it runs normally (direct commit) and once
with a commit hook present, which makes vaulttools stage into the index and run `git commit`. The trees,
messages, index and status must come out the same.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import git
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.changes import BatchPlan, FileChange
from vaulttools.errors import BatchAborted
from vaulttools.git import BlobWriter, IndexStager, Repository, stripspace
from vaulttools.vault import Vault

FILES = {
    "top.md": b"top\n",
    "a/one.md": b"one\n",
    "a/two.md": b"two\n",
    "a/deep/three.md": b"three\n",
    "b/only.md": b"only\n",
    "b-c.md": b"sorts between b and b/\n",
    "tool.sh": b"#!/bin/sh\n",
}


def _repository(root: Path, *, with_hook: bool = False) -> Path:
    root.mkdir()
    for path, data in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    (root / "tool.sh").chmod(0o755)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "core.autocrlf", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    if with_hook:
        _hook(root, "post-commit", "exit 0")
    return root


def _hook(root: Path, name: str, body: str) -> Path:
    hook = root / ".git" / "hooks" / name
    hook.write_text(f"#!/bin/sh\n{body}\n")
    hook.chmod(0o755)
    return hook


def _plan(
    root: Path, changes: list[tuple[str, bytes | None, str | None]], counts: dict | None = None
) -> BatchPlan:
    files = [
        FileChange(path, (root / path).read_bytes() if (root / path).exists() else None, new, new_path)
        for path, new, new_path in changes
    ]
    return BatchPlan("test", "a test batch", files, counts=counts or {"notes": len(files)})


def _state(root: Path) -> tuple[str, ...]:
    return (
        git(root, "rev-parse", "HEAD^{tree}"),
        re.sub(r"Batch-Id: \w+", "Batch-Id: …", git(root, "log", "-1", "--format=%B")),  # random per batch
        git(root, "ls-files", "-s"),
        git(root, "status", "--porcelain"),
        git(root, "diff", "--cached", "--name-status"),
    )


def _both_ways(tmp_path: Path, changes: list[tuple[str, bytes | None, str | None]]) -> tuple[tuple, tuple]:
    direct = _repository(tmp_path / "direct")
    hooked = _repository(tmp_path / "hooked", with_hook=True)
    for root in (direct, hooked):
        run_batch(Vault(root), _plan(root, changes), BatchOptions())
    return _state(direct), _state(hooked)


CASES = {
    "modify at the top": [("top.md", b"new top\n", None)],
    "modify deep": [("a/deep/three.md", b"new three\n", None)],
    "create a file": [("a/new.md", b"new\n", None)],
    "move into new nested folders": [("top.md", b"top\n", "n/e/w.md")],
    "delete the last file of a folder": [("a/deep/three.md", None, None)],
    "delete the only file of a top folder": [("b/only.md", None, None)],
    "move between folders": [("a/one.md", b"one\n", "b/one.md")],
    "move and edit, folder emptied": [("b/only.md", b"edited\n", "c/only.md")],
    "executable file edited": [("tool.sh", b"#!/bin/sh\necho\n", None)],
    "a name that sorts after a folder": [("b-c.md", b"x\n", None), ("b/only.md", b"y\n", None)],
    "chain of renames": [("a/one.md", b"one\n", "a/two.md"), ("a/two.md", b"two\n", "a/three.md")],
    "swap": [("a/one.md", b"one\n", "a/two.md"), ("a/two.md", b"two\n", "a/one.md")],
    "a name with a quote, space and unicode": [('"q" é.md', b"q\n", None)],
}


@pytest.mark.parametrize("changes", list(CASES.values()), ids=list(CASES))
def test_direct_commit_equals_git_commit(tmp_path: Path, changes: list) -> None:
    direct, hooked = _both_ways(tmp_path, changes)
    assert direct == hooked
    assert direct[3] == ""  # nothing left modified or staged


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(FILES)),
            st.sampled_from(["edit", "delete", "move"]),
            st.sampled_from(["x.md", "a/x.md", "z/y/x.md", "a/deep/x.md", "b/x.md"]),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda change: change[0],
    )
)
def test_random_batches_commit_like_git_commit(tmp_path_factory: pytest.TempPathFactory, spec: list) -> None:
    changes: list[tuple[str, bytes | None, str | None]] = []
    destinations: set[str] = set()
    for path, action, destination in spec:
        if action == "edit":
            changes.append((path, FILES[path] + b"edited\n", None))
        elif action == "delete":
            changes.append((path, None, None))
        elif destination not in FILES and destination not in destinations:
            destinations.add(destination)
            changes.append((path, FILES[path], destination))
    direct, hooked = _both_ways(tmp_path_factory.mktemp("batch"), changes)
    assert direct == hooked


def test_the_index_keeps_what_the_user_staged(tmp_path: Path) -> None:
    root = _repository(tmp_path / "v")
    (root / "a" / "staged.md").write_bytes(b"user work\n")
    git(root, "add", "a/staged.md")
    run_batch(Vault(root), _plan(root, [("a/one.md", b"batch\n", None)]), BatchOptions())
    assert git(root, "show", "--name-only", "--format=", "HEAD") == "a/one.md\n"
    assert git(root, "status", "--porcelain") == "A  a/staged.md\n"


def test_reflog_and_branch_move_as_with_git_commit(tmp_path: Path) -> None:
    root = _repository(tmp_path / "v")
    result = run_batch(Vault(root), _plan(root, [("top.md", b"x\n", None)]), BatchOptions())
    assert git(root, "rev-parse", "main").strip() == result.committed
    assert (
        git(root, "reflog", "-1", "--format=%gs", "main").strip() == "commit: vaulttools test: a test batch"
    )
    assert git(root, "rev-parse", "HEAD~1^{tree}") != git(root, "rev-parse", "HEAD^{tree}")


def test_direct_commit_on_a_detached_head(tmp_path: Path) -> None:
    root = _repository(tmp_path / "v")
    git(root, "checkout", "-q", "--detach")
    result = run_batch(Vault(root), _plan(root, [("top.md", b"x\n", None)]), BatchOptions())
    assert git(root, "rev-parse", "HEAD").strip() == result.committed
    assert git(root, "rev-parse", "main").strip() != result.committed


@pytest.mark.parametrize(
    ("hook", "no_verify", "direct"),
    [
        (None, False, True),
        ("pre-commit", False, False),
        ("pre-commit", True, True),  # --no-verify skips it, so nothing needs `git commit`
        ("commit-msg", True, True),
        ("prepare-commit-msg", True, False),  # runs even with --no-verify
        ("post-commit", False, False),
        ("pre-push", False, True),  # not a commit hook
    ],
)
def test_commit_hooks_make_git_commit_run(
    tmp_path: Path, hook: str | None, no_verify: bool, direct: bool
) -> None:
    root = _repository(tmp_path / "v")
    if hook is not None:
        _hook(root, hook, f"echo ran >> '{root}/.git/{hook}.ran'")
    repo = Repository.find(root)
    assert repo is not None
    assert repo.commits_directly(no_verify=no_verify) is direct
    stager = repo.stager(no_verify=no_verify)
    stager.abort()
    assert isinstance(stager, BlobWriter if direct else IndexStager)
    run_batch(Vault(root), _plan(root, [("top.md", b"x\n", None)]), BatchOptions(no_verify=no_verify))
    ran = hook is not None and (root / ".git" / f"{hook}.ran").exists()
    assert ran is (not direct)
    assert git(root, "status", "--porcelain") == ""


def test_hooks_path_setting_is_honoured(tmp_path: Path) -> None:
    root = _repository(tmp_path / "v")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "post-commit").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "post-commit").chmod(0o755)
    repo = Repository.find(root)
    assert repo is not None and repo.commits_directly()
    git(root, "config", "core.hooksPath", str(hooks))
    assert not Repository.find(root).commits_directly()  # type: ignore[union-attr]
    (hooks / "post-commit").chmod(0o644)  # git skips a hook that is not executable
    assert Repository.find(root).commits_directly()  # type: ignore[union-attr]


def test_merge_in_progress_uses_git_commit(tmp_path: Path) -> None:
    root = _repository(tmp_path / "v")
    repo = Repository.find(root)
    assert repo is not None
    (root / ".git" / "MERGE_HEAD").write_text(git(root, "rev-parse", "HEAD"))
    assert not repo.commits_directly()


def test_first_commit_uses_git_commit(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    git(root, "init", "-q")
    assert not Repository.find(root).commits_directly()  # type: ignore[union-attr]


def test_new_executable_file_mode_follows_core_filemode(tmp_path: Path) -> None:
    for trust in ("true", "false"):
        root = _repository(tmp_path / trust)
        git(root, "config", "core.fileMode", trust)
        plan = _plan(root, [("tool.sh", b"#!/bin/sh\n", "bin/tool.sh")])
        run_batch(Vault(root), plan, BatchOptions())
        mode = git(root, "ls-tree", "HEAD", "bin/tool.sh").split()[0]
        assert mode == ("100755" if trust == "true" else "100644")


def test_sha256_repository(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    if subprocess.run(["git", "init", "-q", "--object-format=sha256"], cwd=root).returncode != 0:
        pytest.skip("this git cannot make SHA-256 repositories")
    (root / "a").mkdir()
    (root / "a" / "x.md").write_bytes(b"x\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    result = run_batch(Vault(root), _plan(root, [("a/x.md", b"y\n", "b/x.md")]), BatchOptions())
    assert result.committed is not None and len(result.committed) == 64
    assert git(root, "show", "HEAD:b/x.md") == "y\n"
    assert git(root, "status", "--porcelain") == ""
    git(root, "fsck", "--strict")


def test_direct_commit_objects_pass_fsck(tmp_path: Path) -> None:
    root = _repository(tmp_path / "v")
    run_batch(Vault(root), _plan(root, CASES["a name that sorts after a folder"]), BatchOptions())
    git(root, "fsck", "--strict", "--no-dangling")


@pytest.mark.parametrize(
    "message",
    [
        "subject\n\n- a: 1\n\nTrailer: x\n",
        "subject\n\n\n\nTrailer: x\n",  # no counts: two blank lines
        "\n\nsubject  \t\nbody \n\n",
        "subject\r\nwith cr\r\n",
        "no newline at the end",
        "",
    ],
)
def test_stripspace_matches_git(tmp_path: Path, message: str) -> None:
    expected = subprocess.run(
        ["git", "stripspace"], input=message.encode(), capture_output=True, check=True
    ).stdout.decode()
    assert stripspace(message) == expected


def test_a_vault_in_a_folder_of_the_repository_commits_repository_paths(tmp_path: Path) -> None:
    # The vault sits in a folder of the repository: blob paths are repository paths.
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(_repository(tmp_path / "src"), root / "vault", ignore=shutil.ignore_patterns(".git"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    vault = root / "vault"
    run_batch(Vault(vault), _plan(vault, [("a/one.md", b"moved\n", "c/one.md")]), BatchOptions())
    assert git(root, "show", "--name-status", "--format=", "HEAD").split() == [
        "D",
        "vault/a/one.md",
        "A",
        "vault/c/one.md",
    ]
    assert git(root, "status", "--porcelain") == ""


def test_signing_asked_for_makes_git_commit_sign(tmp_path: Path) -> None:
    from tests.conftest import snapshot
    from vaulttools.errors import BatchAborted

    root = _repository(tmp_path / "v")
    git(root, "config", "commit.gpgSign", "true")
    git(
        root, "config", "gpg.program", "false"
    )  # a signer that always fails: the batch must not commit unsigned
    repo = Repository.find(root)
    assert repo is not None and not repo.commits_directly()
    before, head = snapshot(root), git(root, "rev-parse", "HEAD")
    with pytest.raises(BatchAborted, match="gpg failed to sign"):
        run_batch(Vault(root), _plan(root, [("top.md", b"x\n", None)]), BatchOptions())
    assert snapshot(root) == before
    assert git(root, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(
    ("cleanup", "direct"), [("whitespace", True), ("default", True), ("verbatim", False)]
)
def test_a_message_clean_up_setting_other_than_the_default_uses_git_commit(
    tmp_path: Path, cleanup: str, direct: bool
) -> None:
    root = _repository(tmp_path / "v")
    git(root, "config", "commit.cleanup", cleanup)
    assert Repository.find(root).commits_directly() is direct  # type: ignore[union-attr]


def test_a_folder_git_stores_under_another_id_stops_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard after storing the trees: git names each object by its own hash of the bytes it got; an id
    computed here that git does not hold (here: git is handed other bytes) stops the batch before any
    commit, and the files are as they were."""
    import vaulttools.git as git_module

    real_pack_of = git_module._pack_of

    def other_bytes(trees: list[tuple[bytes, str]], hash_name: str) -> bytes:
        (_, first_oid), *rest = trees
        return real_pack_of([(b"", first_oid), *rest], hash_name)  # the deepest folder's bytes emptied

    monkeypatch.setattr(git_module, "_pack_of", other_bytes)
    root = _repository(tmp_path / "v")
    head = git(root, "rev-parse", "HEAD")
    with pytest.raises(BatchAborted, match="another id"):
        run_batch(Vault(root), _plan(root, CASES["modify deep"]), BatchOptions())
    assert git(root, "rev-parse", "HEAD") == head
    assert (root / "a/deep/three.md").read_bytes() == FILES["a/deep/three.md"]


@pytest.mark.parametrize(
    ("size", "header"),
    [(0, b"\x20"), (15, b"\x2f"), (16, b"\xa0\x01"), (2047, b"\xaf\x7f"), (2048, b"\xa0\x80\x01")],
)
def test_pack_entry_header(size: int, header: bytes) -> None:
    from vaulttools.git import _pack_entry_header

    assert _pack_entry_header(2, size) == header


def test_a_batch_over_many_big_folders_commits_like_git(tmp_path: Path) -> None:
    """Trees of more than 2 KB (a pack header of three bytes) in many folders, stored in one pack."""
    root = tmp_path / "v"
    for folder in range(30):
        for note in range(80):
            path = root / f"f{folder}" / "sub" / f"note-{note:03}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    changes = [(f"f{folder}/sub/note-007.md", b"y\n", None) for folder in range(30)]
    run_batch(Vault(root), _plan(root, changes), BatchOptions())
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "show", "HEAD:f29/sub/note-007.md") == "y\n"
    git(root, "fsck", "--strict", "--no-dangling")
