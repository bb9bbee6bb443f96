"""One module per batch command; `COMMANDS` is what the CLI registers."""

from __future__ import annotations

import click

from vaulttools.commands.demo import demo
from vaulttools.commands.enrich import enrich
from vaulttools.commands.normalize import normalize_links
from vaulttools.commands.related import sync_related
from vaulttools.commands.rename import rename

COMMANDS: list[click.Command] = [demo]
COMMANDS.append(sync_related)
COMMANDS.append(enrich)
COMMANDS.append(normalize_links)
COMMANDS.append(rename)
