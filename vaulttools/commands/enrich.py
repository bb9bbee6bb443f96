"""`vaulttools enrich FILE`: add one enrichment paragraph to many notes as one batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vaulttools.changes import BatchPlan
from vaulttools.enrich import EnrichInputError, EnrichOptions, EnrichPlanReport, LinkWarning, plan_enrich_file
from vaulttools.errors import VaultError
from vaulttools.shell import CONTEXT_SETTINGS, App, batch_options, execute_plan, pass_app

SHOWN_SKIPPED = 20  # a long list of skipped notes would bury the summary; --json has them all


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace an existing enrichment paragraph in place (default: skip the note).",
)
@click.option(
    "--fail-on-existing",
    is_flag=True,
    help="Refuse the whole batch if a note already has a different enrichment paragraph.",
)
@batch_options
@pass_app
def enrich(app: App, file: Path, replace: bool, fail_on_existing: bool, **flags: Any) -> int:
    """Add "**Enrichment context:** … **Counterpoint:** …" paragraphs to notes, from FILE.

    FILE is YAML (slug: {context: …, counterpoint: …}), JSON Lines ({"slug": …, "context": …,
    "counterpoint": …} per line) or CSV with the columns slug,context,counterpoint. Every entry is checked
    first; any problem is listed with its line and nothing is written. The paragraph goes after the note's
    text, before its "Related across articles" section if it has one. Notes that already have an enrichment
    paragraph are skipped (--replace overwrites it); the same file run twice changes nothing.

    \b
    Examples:
      vaulttools enrich research/enrichment.yaml --dry-run
      vaulttools enrich batch-7.jsonl --replace
      vaulttools enrich edits.csv --fail-on-existing --json
    """
    try:
        plan = plan_enrich_file(app.vault, file, EnrichOptions(replace, fail_on_existing))
    except EnrichInputError as exc:
        # One problem per line on stderr, then the one-line error (exit 2) the CLI prints for every failure.
        raise VaultError(exc.summary, lines=exc.lines) from exc
    if not flags["as_json"]:
        for warning in plan.report.warnings:
            click.echo(f"warning: {_where(plan, warning)}{warning.message}", err=True)
    return execute_plan(app, plan, **flags, describe=None if app.quiet else describe_enrich)


def _where(plan: BatchPlan[EnrichPlanReport], warning: LinkWarning) -> str:
    line = f":{warning.line}" if warning.line else ""
    return f"{plan.report.source}{line}: "


def describe_enrich(plan: BatchPlan[EnrichPlanReport]) -> list[str]:
    """The human report: what happened to each kind of note."""
    report, counts = plan.report, plan.counts
    lines = [
        f"Enriched {counts['notes_enriched']} note(s), replaced {counts['paragraphs_replaced']}, "
        f"skipped {counts['skipped_existing']} with an existing paragraph, "
        f"{counts['already_present']} already up to date; {counts['link_warnings']} link warning(s)."
    ]
    skipped = report.skipped_existing
    if skipped:
        lines.append("Skipped (already enriched; pass --replace to overwrite):")
        lines += [f"  {path}" for path in skipped[:SHOWN_SKIPPED]]
        if len(skipped) > SHOWN_SKIPPED:
            lines.append(f"  ... and {len(skipped) - SHOWN_SKIPPED} more (--json lists them all)")
    return lines
