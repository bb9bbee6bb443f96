"""`vaulttools rename`: rename or move notes and rewrite every reference to them, singly or from a map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vaulttools.changes import BatchPlan
from vaulttools.rename import LeftAlone, RenameOptions, RenamePlanReport, plan_renames, read_rename_map
from vaulttools.shell import (
    CONTEXT_SETTINGS,
    App,
    batch_options,
    complete_note_names,
    execute_plan,
    pairs_from_arguments,
    pass_app,
    prepare_the_batch_meanwhile,
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
    (it stays in its folder) or a vault path (it moves; `/name` moves a note or folder to the vault's top,
    as does `name/` for a folder); an attachment's NEW without an extension keeps the old one. A folder
    moves with everything below it.
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
    # Not git's index: rename's planning keeps both cores busy reading every note for the name, and git's
    # listing (an attribute lookup of every path) slowed it more than it saved the checks (20,000 notes).
    prepare_the_batch_meanwhile(app.vault, flags, git_index=False)
    plan = plan_renames(app.vault, pairs, RenameOptions(keep_alias=keep_alias))
    return execute_plan(app, plan, **flags, describe=describe)


def describe(plan: BatchPlan[RenamePlanReport]) -> list[str]:
    """The human report printed after a rename (the same facts as `--json`'s `report`)."""
    report, counts = plan.report, plan.counts
    lines = [f"renamed folder: {f.old}/ → {f.new}/ ({f.files} files)" for f in report.folders]
    inside = tuple(f"{f.old}/" for f in report.folders)
    lines += [
        f"renamed: {r.old} → {r.new}" for r in report.renames if not (inside and r.old.startswith(inside))
    ]
    kinds = ", ".join(f"{n} {kind}" for kind, n in report.rewritten_by_kind.items())
    lines.append(f"links rewritten: {counts.get('links_rewritten', 0)}" + (f" ({kinds})" if kinds else ""))
    extra = [
        (counts.get("display_texts_updated", 0), "display texts followed the rename"),
        (
            counts.get("display_texts_left_alone", 0),
            "display texts left as written (the old name in other letter case)",
        ),
        (counts.get("links_widened", 0), "links widened to a unique path"),
        (counts.get("links_adjusted", 0), "links to other notes adjusted to keep their target"),
        (counts.get("ids_updated", 0), "id properties updated"),
        (counts.get("aliases_added", 0), "aliases added"),
    ]
    lines += [f"{text}: {n}" for n, text in extra if n]
    lines += [_left_alone_line(place) for place in report.left_alone]
    lines += [f"warning: {warning}" for warning in report.warnings]
    lines.append(f"notes read: {report.notes_read}, parsed: {report.notes_parsed}")
    return lines


def _left_alone_line(place: LeftAlone) -> str:
    where = f"{place.path}:{place.line}"
    if place.detail is not None:  # a mention in a part that cannot be read, maybe not a link at all
        return f"left alone ({place.reason}: {place.detail}): {where}  mentions {place.target!r}"
    return f"left alone ({place.reason}): {where}  [[{place.target}]]"
