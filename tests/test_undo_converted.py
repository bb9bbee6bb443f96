"""`undo` and `redo` where git converts line ends on the way in (`core.autocrlf`, `.gitattributes`).

git then keeps every note with LF in its blobs while the notes on disk keep their own line ends, so a blob
is not the bytes a note had. `history._reverted_converted` takes the line ends from the note as the batch
wrote it; a note whose bytes are neither the blob nor the blob with CRLF is refused with what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import git, snapshot

CRLF_NOTE = b"---\r\ntags: [alpha, beta]\r\n---\r\nbody #alpha, see [[other]]\r\n"
BOM_NOTE = b"\xef\xbb\xbf---\ntags:\n  - alpha\n---\ntext #alpha/child and [[other]]\n"
NO_FINAL_NEWLINE = b"---\ntags: [alpha]\n---\n[[other]] #alpha"
OTHER = b"plain #beta\n"


def _vault(root: Path, config: tuple[str, str] | None, attributes: bytes | None) -> Path:
    root.mkdir()
    notes = {"crlf.md": CRLF_NOTE, "bom.md": BOM_NOTE, "sub/nonl.md": NO_FINAL_NEWLINE, "other.md": OTHER}
    for path, data in notes.items():
        (root / path).parent.mkdir(exist_ok=True)
        (root / path).write_bytes(data)
    if attributes is not None:
        (root / ".gitattributes").write_bytes(attributes)
    git(root, "init", "-q", "-b", "main")
    if config is not None:
        git(root, "config", *config)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "notes")
    return root


@pytest.mark.parametrize(
    ("config", "attributes"),
    [
        (("core.autocrlf", "true"), None),  # Git for Windows' default
        (("core.autocrlf", "input"), None),
        (None, b"*.md text=auto\n"),
        (None, b"*.md text eol=crlf\n"),
    ],
)
@pytest.mark.parametrize("args", [("tag", "rename", "alpha", "gamma"), ("rename", "other", "other-renamed")])
def test_undo_and_redo_give_back_every_byte_where_git_converts_line_ends(
    tmp_path: Path,
    run_cli: Callable[..., Result],
    config: tuple[str, str] | None,
    attributes: bytes | None,
    args: tuple[str, ...],
) -> None:
    vault = _vault(tmp_path / "vault", config, attributes)
    before = snapshot(vault)
    result = run_cli(vault, *args)
    assert result.exit_code == 0, result.output
    after = snapshot(vault)
    assert after != before
    assert b"\n" not in after["crlf.md"].replace(b"\r\n", b"")  # the batch kept its line ends
    undone = run_cli(vault, "undo")
    assert undone.exit_code == 0, undone.output
    assert snapshot(vault) == before
    redone = run_cli(vault, "redo")
    assert redone.exit_code == 0, redone.output
    assert snapshot(vault) == after


def test_undo_refuses_a_note_whose_line_ends_git_cannot_give_back(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    """Mixed line ends: git keeps the note with LF, and neither LF nor CRLF gives the bytes back."""
    vault = _vault(tmp_path / "vault", ("core.autocrlf", "true"), None)
    (vault / "mixed.md").write_bytes(b"---\r\ntags: [alpha]\n---\r\n#alpha\n")
    git(vault, "add", "mixed.md")
    git(vault, "commit", "-q", "-m", "a note with mixed line ends")
    assert run_cli(vault, "tag", "rename", "alpha", "gamma").exit_code == 0
    before, head = snapshot(vault), git(vault, "rev-parse", "HEAD")
    result = run_cli(vault, "undo")
    assert result.exit_code == 2
    assert "mixed.md: git converts this file on the way in" in result.output
    assert "git revert" in result.output and "Traceback" not in result.output
    assert snapshot(vault) == before and git(vault, "rev-parse", "HEAD") == head


def test_undo_of_a_note_deleted_since_is_refused_as_uncommitted_not_as_unconvertible(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    vault = _vault(tmp_path / "vault", ("core.autocrlf", "true"), None)
    assert run_cli(vault, "tag", "rename", "alpha", "gamma").exit_code == 0
    (vault / "crlf.md").unlink()
    before, head = snapshot(vault), git(vault, "rev-parse", "HEAD")
    result = run_cli(vault, "undo")
    assert result.exit_code == 2
    assert "uncommitted changes in crlf.md" in result.output
    assert "git converts" not in result.output
    assert snapshot(vault) == before and git(vault, "rev-parse", "HEAD") == head
