import importlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vaulttools import __version__
from vaulttools import batch as batch_module
from vaulttools import files as files_module
from vaulttools.cli import cli, command_names

EXPECTED_COMMANDS = [
    "check",
    "config",
    "demo",
    "enrich",
    "log",
    "normalize-links",
    "recover",
    "redo",
    "rename",
    "sync-related",
    "undo",
]


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_every_command() -> None:
    output = CliRunner().invoke(cli, ["--help"]).output
    for name in EXPECTED_COMMANDS:
        assert re.search(rf"^\s+{name}\s", output, re.MULTILINE), name


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_with_examples(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert result.output.count("vaulttools ") >= 2


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "vaulttools", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [(("check",), 1), (("check", "--json"), 1), (("no-such-command",), 2), (("--version",), 0)],
)
def test_the_process_ends_with_its_exit_code_and_every_byte_of_output(sample_vault, args, code) -> None:
    # `main` ends the process with `os._exit` once the output is flushed: nothing may be lost on the way.
    result = subprocess.run(
        [sys.executable, "-m", "vaulttools", "-C", str(sample_vault), *args], capture_output=True
    )
    assert result.returncode == code
    in_process = CliRunner().invoke(cli, ["-C", str(sample_vault), *args])
    assert result.stdout.decode() == in_process.stdout
    if args == ("check", "--json"):
        assert result.stdout.endswith(b"}\n")


def test_a_reader_that_stops_early_is_no_error(sample_vault) -> None:
    command = [sys.executable, "-m", "vaulttools", "-C", str(sample_vault), "check"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read(10)
        process.stdout.close()  # as `| head -c 10` does
        stderr = process.stderr.read()
        process.wait()
    assert b"Traceback" not in stderr
    assert process.returncode in (0, 1)


def test_python_dash_m_never_imports_from_the_vault_folder(sample_vault) -> None:
    (sample_vault / "json.py").write_text("raise SystemExit('a module from the vault folder was imported')\n")
    result = subprocess.run(
        [sys.executable, "-m", "vaulttools", "check", "--json"], cwd=sample_vault, capture_output=True
    )
    assert result.returncode == 1, result.stderr  # findings, and no hijacked import
    assert result.stdout.startswith(b'{"version"')


def test_config_command_shows_sources(tmp_path, run_cli) -> None:
    (tmp_path / ".vaulttools.toml").write_text("[related]\nlimit = 7\n")
    result = run_cli(tmp_path, "config")
    assert result.exit_code == 0
    assert "limit = 7  # .vaulttools.toml" in result.output
    assert "link_properties = ['related']  # default" in result.output


def test_python_api_reads_and_plans(sample_vault) -> None:
    from vaulttools import Vault

    vault = Vault(sample_vault)
    post = vault.post("concept-humane-imperative.md")
    assert post["id"] == "concept-humane-imperative"
    assert post.content.startswith("# ")
    plan = vault.rename("concept-humane-imperative", "concept-humane-core")
    assert not plan.empty
    assert (sample_vault / "concept-humane-imperative.md").exists()  # planning writes nothing
    result = vault.apply(plan)
    assert result.committed
    assert (sample_vault / "concept-humane-core.md").exists()


# What a command starts on threads before it plans (`shell.prepare_the_batch_meanwhile`): the sync that lets
# the journal name git's blobs, and git's listing of its index; nothing for a dry run or an explanation.
@pytest.mark.parametrize(
    ("args", "planner", "expected"),
    [
        (("sync-related",), "vaulttools.commands.related.plan_related", ["sync", "index", "plan"]),
        (("sync-related", "--dry-run"), "vaulttools.commands.related.plan_related", ["plan"]),
        (("sync-related", "--stat"), "vaulttools.commands.related.plan_related", ["plan"]),
        (
            ("sync-related", "--explain", "concept-humane-imperative"),
            "vaulttools.commands.related.plan_related",
            [],
        ),
        (("normalize-links",), "vaulttools.commands.normalize.plan_normalize", ["sync", "index", "plan"]),
        (("normalize-links", "--dry-run"), "vaulttools.commands.normalize.plan_normalize", ["plan"]),
        # rename: no index listing, whose git processes would slow the planning that keeps both cores busy
        (
            ("rename", "concept-humane-imperative", "renamed"),
            "vaulttools.commands.rename.plan_renames",
            ["sync", "plan"],
        ),
        (
            ("rename", "concept-humane-imperative", "renamed", "--stat"),
            "vaulttools.commands.rename.plan_renames",
            ["plan"],
        ),
    ],
)
def test_a_writing_command_starts_the_sync_and_the_index_listing_before_it_plans(
    sample_vault: Path,
    run_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    planner: str,
    expected: list[str],
) -> None:
    started: list[str] = []
    monkeypatch.setattr(files_module, "sync_in_background", lambda: started.append("sync"))
    monkeypatch.setattr(batch_module, "read_git_index_in_background", lambda root: started.append("index"))
    module_name, _, name = planner.rpartition(".")
    module = importlib.import_module(module_name)
    real_plan = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: started.append("plan") or real_plan(*a, **k))
    result = run_cli(sample_vault, *args)
    assert result.exit_code == 0, result.output
    assert started == expected
