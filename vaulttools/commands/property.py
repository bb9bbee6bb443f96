"""`vaulttools property rename|replace|delete`: the click layer over `vaulttools.properties`."""

from __future__ import annotations

from typing import Any

import click

from vaulttools.changes import BatchPlan
from vaulttools.properties import (
    PropertyPlanReport,
    plan_property_delete,
    plan_property_rename,
    plan_property_replace,
)
from vaulttools.report import left_alone_lines, mention_lines
from vaulttools.shell import CONTEXT_SETTINGS, App, batch_options, execute_plan, pass_app


@click.group(name="property", context_settings=CONTEXT_SETTINGS)
def property_group() -> None:
    """Rename a frontmatter key, replace a value, or delete a key in every note, as one commit.

    Only the key's or the value's characters change (a deleted key takes its lines); key order, quoting,
    comments and list style stay. `vaulttools check` reports values that do not fit .obsidian/types.json.

    \b
    Examples:
      vaulttools property rename cssclass cssclasses --dry-run
      vaulttools property replace status draft published
      vaulttools property delete obsolete-field
    """


@property_group.command(context_settings=CONTEXT_SETTINGS, short_help="Rename a key in every note.")
@click.argument("old")
@click.argument("new")
@click.option(
    "--merge",
    is_flag=True,
    help="Where a note has NEW already: join the lists (no duplicates) or drop an equal OLD.",
)
@batch_options
@pass_app
def rename(app: App, old: str, new: str, merge: bool, **flags: Any) -> int:
    """Rename frontmatter key OLD to NEW in every note (only the key's characters change).

    A note that has both OLD and NEW refuses the whole batch (the error lists them) unless --merge: list
    values are joined in NEW's list style without duplicates, an empty or equal OLD is dropped, unequal
    scalars still refuse.

    \b
    Examples:
      vaulttools property rename cssclass cssclasses --dry-run
      vaulttools property rename topics tags --merge
    """
    plan = plan_property_rename(app.vault, old, new, merge=merge)
    return execute_plan(app, plan, **flags, describe=describe)


@property_group.command(context_settings=CONTEXT_SETTINGS, short_help="Replace a value of a key.")
@click.argument("key")
@click.argument("old")
@click.argument("new")
@batch_options
@pass_app
def replace(app: App, key: str, old: str, new: str, **flags: Any) -> int:
    """Replace value OLD of KEY by NEW: the value itself or any list item written as OLD.

    NEW takes OLD's quoting; a plain value that would read as another type (`2024`, `true`) is put in
    double quotes, unless OLD was of that type too (`rating: 3` → `rating: 4`).

    \b
    Examples:
      vaulttools property replace status draft published --dry-run
      vaulttools property replace related "[[Old]]" "[[New]]"
    """
    plan = plan_property_replace(app.vault, key, old, new)
    return execute_plan(app, plan, **flags, describe=describe)


@property_group.command(context_settings=CONTEXT_SETTINGS, short_help="Delete a key and its value.")
@click.argument("key")
@batch_options
@pass_app
def delete(app: App, key: str, **flags: Any) -> int:
    """Delete KEY and its whole value (block lists and the comments among their items) from every note.

    \b
    Examples:
      vaulttools property delete obsolete-field --dry-run
    """
    plan = plan_property_delete(app.vault, key)
    return execute_plan(app, plan, **flags, describe=describe)


QUERIES_TITLE = "Left as written in Dataview queries (they name it: review them)"


def describe(plan: BatchPlan[PropertyPlanReport]) -> list[str]:
    counts = plan.counts
    done = ", ".join(
        f"{n} {key}" for key, n in counts.items() if key not in ("notes_changed", "notes_skipped")
    )
    lines = [f"{counts.get('notes_changed', 0)} note(s) changed{': ' + done if done else ''}."]
    return (
        lines
        + left_alone_lines(plan.report.skipped)
        + mention_lines(QUERIES_TITLE, plan.report.left_as_written)
    )
