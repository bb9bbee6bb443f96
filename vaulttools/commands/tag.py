"""`vaulttools tag list|rename|delete`: the click layer over `vaulttools.tags`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vaulttools.changes import BatchPlan
from vaulttools.errors import EXIT_OK
from vaulttools.rename import decode_map, parse_rename_map
from vaulttools.report import echo_json, left_alone_lines, mention_lines
from vaulttools.shell import (
    CONTEXT_SETTINGS,
    App,
    batch_options,
    execute_plan,
    pairs_from_arguments,
    pass_app,
)
from vaulttools.tags import TagPlanReport, list_tags, plan_tag_delete, plan_tag_rename


@click.group(context_settings=CONTEXT_SETTINGS)
def tag() -> None:
    """List, rename and delete tags: frontmatter `tags`/`tag` in every form and inline `#tags`.

    Matching is case-insensitive, as in Obsidian, and takes nested tags along (`old` matches `old/child`).

    \b
    Examples:
      vaulttools tag list
      vaulttools tag rename todo task --dry-run
      vaulttools tag delete draft
    """


@tag.command(
    name="list", context_settings=CONTEXT_SETTINGS, short_help="Every tag with its note counts, as a tree."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema in the README).")
@pass_app
def list_command(app: App, as_json: bool) -> int:
    """Every tag with the notes it is on (frontmatter and inline), nested tags as a tree. Writes nothing.

    \b
    Examples:
      vaulttools tag list
      vaulttools tag list --json | jq '.tags[] | select(.notes > 10) | .tag'
    """
    document = list_tags(app.vault)
    if as_json:
        echo_json(document)
        return EXIT_OK
    for row in document["tags"]:
        indent = "  " * row["depth"]
        name = row["tag"].rsplit("/", 1)[-1] if row["depth"] else row["tag"]
        if row["implied"]:
            click.echo(f"{indent}#{name}")
            continue
        where = f"frontmatter {row['frontmatter']}, inline {row['inline']}"
        variants = f"  [also {', '.join(row['spellings'][1:])}]" if len(row["spellings"]) > 1 else ""
        click.echo(f"{indent}#{name}  {row['notes']} note(s) ({where}){variants}")
    shown = sum(1 for row in document["tags"] if not row["implied"])
    click.echo(f"{shown} tag(s) in {document['notes_scanned']} notes.")
    return EXIT_OK


@tag.command(context_settings=CONTEXT_SETTINGS, short_help="Rename a tag (and its nested tags) everywhere.")
@click.argument("old", required=False)
@click.argument("new", required=False)
@click.option(
    "--map",
    "map_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Many renames in one batch: CSV `old,new` (header optional, tags without `#`) or YAML `old: new`.",
)
@batch_options
@pass_app
def rename(app: App, old: str | None, new: str | None, map_file: Path | None, **flags: Any) -> int:
    """Rename tag OLD to NEW everywhere: frontmatter `tags`/`tag` values and inline `#tags`.

    Nested tags move along (`#old/child` becomes `#new/child`); `old/child` alone moves one branch. NEW is
    written as typed; a `#` and the quoting of each value stay. A note that has NEW already loses OLD from
    its list instead of holding NEW twice (counted as merged). Tags in code, math, comments, links and URLs
    are not tags and stay.

    \b
    Examples:
      vaulttools tag rename todo task --dry-run
      vaulttools tag rename project/old project/archive
      vaulttools tag rename --map tags.csv --json
    """
    plan = plan_tag_rename(
        app.vault, pairs_from_arguments(old, new, map_file, _read_tag_map, "vaulttools tag rename todo task")
    )
    return execute_plan(app, plan, **flags, describe=describe)


@tag.command(context_settings=CONTEXT_SETTINGS, short_help="Delete a tag from every note.")
@click.argument("name", metavar="TAG")
@click.option(
    "--remove-inline",
    is_flag=True,
    help="Remove inline tags that stand on a line of tags only (elsewhere they still just lose their `#`).",
)
@batch_options
@pass_app
def delete(app: App, name: str, remove_inline: bool, **flags: Any) -> int:
    """Delete tag TAG (and its nested tags) from every note.

    Frontmatter: the item goes with its comma or its line; a list left empty becomes `tags: []`. Inline:
    `#tag` loses its `#` and the word stays in the prose; with --remove-inline, a tag on a line that holds
    only tags is removed with its space (the line too, when no tag is left on it).

    \b
    Examples:
      vaulttools tag delete draft --dry-run
      vaulttools tag delete old/unused --remove-inline
    """
    plan = plan_tag_delete(app.vault, name, remove_inline=remove_inline)
    return execute_plan(app, plan, **flags, describe=describe)


def _read_tag_map(path: str, data: bytes) -> list[tuple[str, str]]:
    return parse_rename_map(decode_map(path, data), path)


UNREAD_TITLE = "Left as written where Obsidian reads no tag (a query may name it: review them)"


def describe(plan: BatchPlan[TagPlanReport]) -> list[str]:
    """What changed, then the notes left alone and why."""
    counts = plan.counts
    parts = [
        f"{counts.get(key, 0)} {label}"
        for key, label in (
            ("frontmatter_renamed", "frontmatter value(s) renamed"),
            ("inline_renamed", "inline tag(s) renamed"),
            ("merged", "merged into an existing tag"),
            ("frontmatter_deleted", "frontmatter value(s) removed"),
            ("inline_unhashed", "inline tag(s) left as words"),
            ("inline_removed", "inline tag(s) removed"),
        )
        if counts.get(key)
    ]
    lines = [f"{counts.get('notes_changed', 0)} note(s): {', '.join(parts) or 'nothing to change'}."]
    return (
        lines
        + left_alone_lines(plan.report.skipped)
        + mention_lines(UNREAD_TITLE, plan.report.left_as_written)
    )
