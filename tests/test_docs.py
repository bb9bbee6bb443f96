"""The README documents every command, option group and configuration key the code has."""

from pathlib import Path

import pytest

from vaulttools.cli import command_names
from vaulttools.config import KEY_DOCS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", command_names())
def test_readme_mentions_every_command(name: str) -> None:
    assert f"vaulttools {name}" in README


@pytest.mark.parametrize("key", sorted(KEY_DOCS))
def test_readme_documents_every_config_key(key: str) -> None:
    assert key.split(".")[-1] in README


def test_readme_has_the_two_setup_commands() -> None:
    assert 'pip install -e ".[test]" && vaulttools demo' in README
    assert "python -m pytest" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "python -m pytest" in ci


@pytest.mark.parametrize("check", ["ruff check .", "ruff format --check .", "mypy"])
def test_ci_runs_the_lint_and_type_checks_the_readme_names(check: str) -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert f"\n{check}\n" in ci
    assert f"`{check}`" in README


def _long_options() -> list[tuple[str, str]]:
    import click

    from vaulttools.cli import cli

    context = click.Context(cli)
    found = []
    for name in command_names():
        command = cli.get_command(context, name)
        assert command is not None
        for param in command.params:
            found += [(name, opt) for opt in getattr(param, "opts", []) if opt.startswith("--")]
    return found


@pytest.mark.parametrize(("command", "option"), _long_options())
def test_readme_documents_every_option(command: str, option: str) -> None:
    assert option in README, f"{command} {option}"
