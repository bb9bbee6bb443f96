import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaulttools.config import Config, config_from_dict, load_config
from vaulttools.errors import ConfigError, VaultError
from vaulttools.files import atomic_write, rewrite_in_place
from vaulttools.vault import Vault, find_vault_root, scan_vault


def test_scan_skips_dot_folders_trash_and_ignored(tmp_path: Path) -> None:
    for name in [
        "a.md",
        ".obsidian/x.md",
        ".trash/t.md",
        ".git/g.md",
        "sub/b.md",
        "tpl/t.md",
        "img.png",
        ".hidden.md",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".obsidian" / "app.json").write_text(json.dumps({"userIgnoreFilters": ["tpl/"]}))
    vault = Vault(tmp_path)
    assert vault.note_paths == ["a.md", "sub/b.md"]
    assert vault.scan.files == ["img.png"]


def test_exclude_globs(tmp_path: Path) -> None:
    for name in ["a.md", "archive/old.md", "archive/deep/older.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".vaulttools.toml").write_text('exclude = ["archive"]\n')
    assert Vault(tmp_path).note_paths == ["a.md"]


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("x")
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "a.md").write_text("x")
    os.symlink(outside / "secret.md", vault / "link.md")
    os.symlink(outside, vault / "dirlink")
    os.symlink(vault, vault / "loop")
    result = scan_vault(vault)
    assert result.notes == ["a.md"]
    assert sorted(result.skipped_symlinks) == ["dirlink", "link.md", "loop"]


def test_vault_root_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".obsidian").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_vault_root(None, deep) == tmp_path.resolve()
    monkeypatch.setenv("VAULTTOOLS_VAULT", str(deep))
    assert find_vault_root(None, tmp_path) == deep.resolve()
    assert find_vault_root(str(tmp_path), deep) == tmp_path.resolve()
    with pytest.raises(VaultError, match="does not exist"):
        find_vault_root(str(tmp_path / "nope"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": 1}, "unknown key 'colour'"),
        ({"link_properties": "related"}, "must be a list of strings"),
        ({"suffix_rules": ["("]}, "not a valid regular expression"),
        ({"related": {"limit": "five"}}, "must be an integer"),
        ({"related": {"limit": 0}}, "at least 1"),
        ({"related": {"nope": 1}}, "unknown key 'related.nope'"),
        ({"related": {"common_share": 0}}, "common_share must be above 0 and at most 1"),
        ({"related": {"common_share": 2}}, "common_share must be above 0 and at most 1"),
        ({"day_property": 3}, "must be a str"),
    ],
)
def test_bad_config_is_a_clear_error(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_config_file_values_and_sources(tmp_path: Path) -> None:
    (tmp_path / ".vaulttools.toml").write_text('link_properties = ["related", "up"]\n[related]\nlimit = 3\n')
    config = load_config(tmp_path)
    assert config.link_properties == ("related", "up")
    assert config.related.limit == 3
    assert dict(config.sources) == {
        "link_properties": ".vaulttools.toml",
        "related.limit": ".vaulttools.toml",
    }
    assert load_config(tmp_path / "missing") == Config()


def test_broken_toml(tmp_path: Path) -> None:
    (tmp_path / ".vaulttools.toml").write_text("link_properties = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path)


@pytest.mark.parametrize("with_file", [False, True])
def test_the_toml_parser_loads_only_for_a_config_file(tmp_path: Path, with_file: bool) -> None:
    # Every command reads the configuration at start-up; a vault without `.vaulttools.toml` (most of them)
    # should not pay for importing the parser. A fresh interpreter: pytest itself imports tomllib.
    if with_file:
        (tmp_path / ".vaulttools.toml").write_text('link_properties = ["related"]\n')
    code = (
        "import sys; from pathlib import Path; from vaulttools.config import load_config; "
        f"load_config(Path({str(tmp_path)!r})); print('tomllib' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == str(with_file)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"old bytes\n", b"new\n"),  # shorter: the excess is cut
        (b"old\n", b"much longer new bytes\n"),
        (b"same length", b"SAME LENGTH"),
        (b"something", b""),
        (b"", b"from nothing"),
    ],
)
def test_rewrite_in_place_leaves_exactly_the_new_bytes_on_the_same_file(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    target = tmp_path / "n.md"
    target.write_bytes(old)
    target.chmod(0o640)
    inode = target.stat().st_ino
    rewrite_in_place(target, new)
    assert target.read_bytes() == new
    assert target.stat().st_ino == inode  # written over, not replaced
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["n.md"]


@pytest.mark.parametrize(
    ("on_disk", "expected", "written"),
    [
        (b"planned on", b"planned on", True),
        (b"planned on plus a line typed meanwhile", b"planned on", False),
        (b"planned", b"planned on", False),  # shorter
        (b"", b"planned on", False),
    ],
)
def test_rewrite_in_place_writes_only_over_the_expected_bytes(
    tmp_path: Path, on_disk: bytes, expected: bytes, written: bool
) -> None:
    target = tmp_path / "n.md"
    target.write_bytes(on_disk)
    assert rewrite_in_place(target, b"new bytes", expected=expected) is written
    assert target.read_bytes() == (b"new bytes" if written else on_disk)


def test_rewrite_in_place_expecting_bytes_of_a_missing_file_writes_nothing(tmp_path: Path) -> None:
    assert rewrite_in_place(tmp_path / "gone.md", b"new", expected=b"old") is False
    assert not (tmp_path / "gone.md").exists()


def test_rewrite_in_place_does_not_write_through_a_hard_link(tmp_path: Path) -> None:
    target = tmp_path / "n.md"
    target.write_bytes(b"shared")
    os.link(target, tmp_path / "other.md")
    rewrite_in_place(target, b"changed")
    assert target.read_bytes() == b"changed"
    assert (tmp_path / "other.md").read_bytes() == b"shared"


def test_rewrite_in_place_creates_a_missing_file(tmp_path: Path) -> None:
    rewrite_in_place(tmp_path / "new.md", b"created")
    assert (tmp_path / "new.md").read_bytes() == b"created"


def test_rewrite_in_place_refuses_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_bytes(b"real")
    (tmp_path / "link.md").symlink_to(tmp_path / "real.md")
    with pytest.raises(OSError):
        rewrite_in_place(tmp_path / "link.md", b"through the link")
    assert (tmp_path / "real.md").read_bytes() == b"real"


def test_atomic_write_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "n.md"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["n.md"]
