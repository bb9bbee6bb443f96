"""`vaulttools merge`: the click layer over `vaulttools.merge` (parsing and output only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from vaulttools.errors import VaultError
from vaulttools.files import sync_in_background
from vaulttools.shell import CONTEXT_SETTINGS, App, batch_options, complete_note_names, execute_plan, pass_app

if TYPE_CHECKING:  # the planner loads when the command runs
    from vaulttools.changes import BatchPlan
    from vaulttools.duplicates import ParsedLinks
    from vaulttools.merge import MergePlanReport


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("sources", nargs=-1, metavar="[SOURCE]...", shell_complete=complete_note_names)
@click.option(
    "--into",
    "target",
    metavar="TARGET",
    shell_complete=complete_note_names,
    help="The note the SOURCEs are merged into (it stays).",
)
@click.option(
    "--all",
    "merge_all",
    is_flag=True,
    help="Merge every family `vaulttools duplicates` lists into its kept note.",
)
@click.option(
    "--prefer-source",
    "prefer_source",
    metavar="KEY",
    multiple=True,
    help="Take this scalar property's value from the SOURCE where the notes differ (repeatable).",
)
@batch_options
@pass_app
def merge(
    app: App,
    sources: tuple[str, ...],
    target: str | None,
    merge_all: bool,
    prefer_source: tuple[str, ...],
    **flags: Any,
) -> int:
    """Merge SOURCE notes into TARGET: links follow, frontmatter and paragraphs are combined, SOURCEs go.

    Every reference to a SOURCE (all the forms `rename` handles) points at TARGET; a link list that then
    names TARGET twice keeps one entry. TARGET's lists gain the SOURCEs' new items in its own style, its
    `aliases` the SOURCEs' names; its scalars stay (differences are listed). The SOURCEs' paragraphs it
    lacks go after its own text, before its enrichment paragraph and related section. One commit;
    `vaulttools undo` restores every byte.

    \b
    Examples:
      vaulttools merge entity-deloitte-d5 entity-deloitte-d9 --into entity-deloitte --dry-run
      vaulttools merge "entity-slack 1" --into entity-slack --prefer-source definition
      vaulttools merge --all
    """
    from vaulttools.merge import Merge, MergeOptions, plan_merges, resolve_merge

    vault = app.vault
    merges: list[Merge]
    spelling_notes: list[str] | None = None
    parsed_links: dict[str, ParsedLinks] = {}
    if merge_all and (sources or target):
        raise VaultError("give either SOURCE... --into TARGET or --all, not both")
    if not (flags.get("dry_run") or flags.get("stat")):
        sync_in_background()  # while planning: the batch's journal then names git's blobs at once
    if merge_all:
        from vaulttools.duplicates import scan_families

        scan = scan_families(vault, count_every_link=False)  # only the kept members are needed
        merges = [Merge(family.keep, tuple(family.sources)) for family in scan.families]
        spelling_notes, parsed_links = scan.spelling_notes, scan.parsed_links
    else:
        if not target:
            raise VaultError(
                "missing --into TARGET: say which note the SOURCEs are merged into (or use --all)"
            )
        merges = [resolve_merge(vault, sources, target)]
    plan = plan_merges(
        vault, merges, MergeOptions(prefer_source), spelling_notes=spelling_notes, parsed_links=parsed_links
    )
    return execute_plan(app, plan, **flags, describe=describe)


def _short(value: Any, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 2] + "…" + text[-1]


def describe(plan: BatchPlan[MergePlanReport]) -> list[str]:
    """The human report printed after a merge (the same facts as `--json`'s `report`)."""
    report, counts = plan.report, plan.counts
    if not report.merges:
        return ["No duplicate notes to merge (see `vaulttools duplicates`)."]
    lines = [f"merged: {', '.join(m.sources)} → {m.target}" for m in report.merges]
    kinds = ", ".join(f"{n} {kind}" for kind, n in report.redirected_by_kind.items())
    lines.append(f"links redirected: {counts.get('links_redirected', 0)}" + (f" ({kinds})" if kinds else ""))
    extra = [
        ("suffixed_links_fixed", "links that missed the family by a suffix, fixed"),
        ("duplicate_entries_removed", "duplicate list entries removed"),
        ("list_items_added", "list items added"),
        ("aliases_added", "aliases added"),
        ("properties_added", "properties added"),
        ("paragraphs_added", "paragraphs added"),
        ("body_list_items_added", "items added to the target's lists"),
    ]
    lines += [f"{text}: {counts[key]}" for key, text in extra if counts.get(key)]
    for entry in report.differing_scalars:
        taken = entry.source if entry.source_taken else entry.target
        lines.append(
            f"differs: {entry.key}: {_short(entry.target_value)} in {entry.target}, "
            f"{_short(entry.source_value)} in {entry.source}; kept {taken}'s"
            + (f" (--prefer-source {entry.key} takes the source's)" if not entry.source_taken else "")
        )
    for place in report.left_alone:
        lines.append(f"left alone ({place.reason}): {place.path}:{place.line}  [[{place.target}]]")
    lines += [f"warning: {warning}" for warning in report.warnings]
    return lines
