"""`vaulttools rename`: rename or move notes and rewrite every reference to them, singly or from a map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vaulttools.rename import describe, plan_renames, read_rename_map
from vaulttools.shell import (
    CONTEXT_SETTINGS,
    App,
    batch_options,
    complete_note_names,
    execute_plan,
    pairs_from_arguments,
    pass_app,
)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("old", required=False, shell_complete=complete_note_names)
@click.argument("new", required=False)
@click.option(
    "--map",
    "map_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Many renames in one batch: CSV `old,new` (header optional) or YAML `old: new`.",
)
@click.option("--keep-alias", is_flag=True, help="Add the old name to the renamed note's `aliases`.")
@batch_options
@pass_app
def rename(
    app: App, old: str | None, new: str | None, map_file: Path | None, keep_alias: bool, **flags: Any
) -> int:
    """Rename OLD to NEW and update every link, id, `related` value and canvas node that points to it.

    OLD is a note name (any letter case) or its vault path, an attachment's path or name with its
    extension, or a folder's vault path (`topic/` when a note `topic.md` sits beside it). NEW is a name
    (it stays in its folder) or a vault path (it moves; `name/` puts a folder at the vault's top); an
    attachment's NEW without an extension keeps the old one. A folder moves with everything below it.
    Renames in one --map happen simultaneously, so chains (a→b, b→c) and swaps (a→b, b→a) work. Links in
    code, inline code and HTML comments are not links and are left alone (the report counts them).

    \b
    Examples:
      vaulttools rename concept-humane-imperative concept-humane-differentiation --dry-run
      vaulttools rename "Old Name" archive/old-name --keep-alias
      vaulttools rename projects/alpha archive/alpha
      vaulttools rename img/diagram.png flow
      vaulttools rename --map renames.csv --json
    """
    pairs = pairs_from_arguments(old, new, map_file, read_rename_map, "vaulttools rename old-name new-name")
    plan = plan_renames(app.vault, pairs, keep_alias=keep_alias)
    return execute_plan(app, plan, **flags, describe=describe)
