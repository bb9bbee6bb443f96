"""One module per batch command; `COMMANDS` is what the CLI registers."""

from __future__ import annotations

import click

from vaulttools.commands.demo import demo

COMMANDS: list[click.Command] = [demo]
