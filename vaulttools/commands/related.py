"""`vaulttools sync-related`: generate the "Related across articles" section of every grouped note."""

from __future__ import annotations

from typing import Any

import click

from vaulttools.changes import BatchPlan
from vaulttools.config import RelatedConfig
from vaulttools.errors import EXIT_OK, VaultError
from vaulttools.related import (
    Candidate,
    RelatedPlanReport,
    RelatedScan,
    choose,
    entry_text,
    grouping_text,
    plan_related,
    related_config,
    scan_related,
    score_candidates,
)
from vaulttools.report import echo_json
from vaulttools.resolve import RESOLVED
from vaulttools.shell import (
    App,
    batch_options,
    complete_note_names,
    execute_plan,
    pass_app,
    prepare_the_batch_meanwhile,
)
from vaulttools.vault import Vault

RUNNERS_UP = 5


@click.command(name="sync-related", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--limit", type=int, default=None, help="Entries per section (default: related.limit, 5).")
@click.option(
    "--explain",
    "explain_slug",
    metavar="SLUG",
    shell_complete=complete_note_names,
    help="Print why each entry of SLUG's section was chosen, and the runners-up; writes nothing.",
)
@batch_options
@pass_app
def sync_related(app: App, limit: int | None, explain_slug: str | None, **flags: Any) -> int:
    """Write each note's "Related across articles" section: the best notes from other articles.

    Notes are grouped by a property (related.group_property, default articleStem; a list names several
    groups) or by folder (related.group_by = "folder"); candidates are notes of other groups that the note
    does not link yet, scored by body-text similarity, the note naming them, shared link neighbours
    (co-citation, shared targets; rarer ones count more), backlinks and shared rare tags. Links already
    inside such a section are never evidence. Ungrouped notes, and notes whose frontmatter does not
    parse, are left alone.

    \b
    Examples:
      vaulttools sync-related --dry-run
      vaulttools sync-related --limit 3
      vaulttools sync-related --explain concept-humane-imperative
    """
    vault = app.vault
    config = related_config(vault.config.related, limit)
    # No `gc_paused` here: the `cli` group already runs every command with the collector paused.
    scan = scan_related(vault, config)
    # Freed by the exit, not object by object when this returns (20,000 notes: ~0.02-0.04 s).
    app.keep_to_the_end(scan)
    if explain_slug is not None:
        return explain(vault, scan, config, explain_slug, as_json=flags["as_json"])
    prepare_the_batch_meanwhile(vault, flags)
    plan = plan_related(vault, scan, config)
    return execute_plan(app, plan, **flags, describe=describe)


def describe(plan: BatchPlan[RelatedPlanReport]) -> list[str]:
    report = plan.report
    lines = [
        f"{report.notes_scored} notes grouped by {report.grouping} scored: "
        f"{len(report.added)} sections added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed."
    ]
    if report.skipped_no_group:
        lines.append(f"Skipped {report.skipped_no_group} notes without {report.grouping}.")
    for item in report.skipped_unparsable:
        lines.append(f"Skipped {item.path}: frontmatter does not parse ({item.error}).")
    return lines


def explain(vault: Vault, scan: RelatedScan, config: RelatedConfig, slug: str, *, as_json: bool) -> int:
    path = _grouped_note(vault, scan, config, slug)
    candidates = score_candidates(scan.index, path, config, explain=True)
    chosen = choose(candidates, config.limit, config.min_score)
    runners_up = candidates[len(chosen) : len(chosen) + RUNNERS_UP]
    markdown = vault.settings.use_markdown_links

    def row(candidate: Candidate) -> dict[str, Any]:
        return {
            "path": candidate.path,
            "entry": entry_text(path, candidate.path, scan.resolve, markdown),
            "score": candidate.score,
            "reasons": [r._asdict() for r in candidate.reasons],
        }

    group = scan.index.group(path)
    if as_json:
        echo_json(
            {
                "version": 1,
                "command": "sync-related",
                "note": path,
                "group": group,
                "limit": config.limit,
                "min_score": config.min_score,
                "candidates": len(candidates),
                "chosen": [row(c) for c in chosen],
                "runners_up": [row(c) for c in runners_up],
            }
        )
        return EXIT_OK
    click.echo(
        f"{path} ({grouping_text(config)}: {group}): {len(candidates)} candidates from other groups; "
        f"limit {config.limit}, min score {config.min_score:g}."
    )
    click.echo("Chosen:" if chosen else "Chosen: none (the note gets no section).")
    for number, candidate in enumerate(chosen, start=1):
        _echo_candidate(number, row(candidate))
    if runners_up:
        click.echo("Runners-up:")
        for number, candidate in enumerate(runners_up, start=len(chosen) + 1):
            note = "" if candidate.score >= config.min_score else "  (below min score)"
            _echo_candidate(number, row(candidate), note)
    click.echo("Nothing was written.")
    return EXIT_OK


def _echo_candidate(number: int, row: dict[str, Any], note: str = "") -> None:
    click.echo(f"  {number}. {row['entry']}  score {row['score']:.2f}{note}")
    for reason in row["reasons"]:
        click.echo(f"       +{reason['points']:.2f}  {reason['kind']}: {reason['detail']}")


def _grouped_note(vault: Vault, scan: RelatedScan, config: RelatedConfig, slug: str) -> str:
    resolution = vault.index.resolve(slug, "")
    if resolution.status != RESOLVED or resolution.path is None:
        why = "is ambiguous" if resolution.candidates else "names no note"
        raise VaultError(f"--explain {slug!r} {why}; pass a note's file name (or its path) as the slug")
    path = resolution.path
    if path not in scan.index.number:
        unparsable = {item.path: item.error for item in scan.unparsable}
        if path in unparsable:
            raise VaultError(f"{path}: frontmatter does not parse ({unparsable[path]}); fix it first")
        raise VaultError(
            f"{path} has no {config.group_property} property, so it gets no related section; "
            f"pick a note that has one"
        )
    return path
