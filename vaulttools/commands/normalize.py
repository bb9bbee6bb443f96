"""`vaulttools normalize-links`: the click layer over `vaulttools.normalize` (parsing and output only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from vaulttools.changes import BatchPlan
from vaulttools.normalize import LinkEntry, NormalizeOptions, NormalizePlanReport, plan_normalize
from vaulttools.shell import (
    CONTEXT_SETTINGS,
    App,
    batch_options,
    execute_plan,
    pass_app,
    prepare_the_batch_meanwhile,
)

# Long vaults have thousands of broken attachment links: list a few, the JSON report has them all.
LISTED = 20


@click.command(name="normalize-links", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--fix-case",
    is_flag=True,
    help="Also rewrite links written in another letter case or Unicode form to the file's exact name.",
)
@click.option("--drop-md", is_flag=True, help="Also drop a redundant `.md` from wikilinks and embeds.")
@click.option(
    "--shorten-paths",
    is_flag=True,
    help="Also drop a folder path that a unique file name does not need (not markdown links).",
)
@batch_options
@pass_app
def normalize_links(app: App, fix_case: bool, drop_md: bool, shorten_paths: bool, **flags: Any) -> int:
    """Repair links that miss their note only by a suffix (`-d9`, Obsidian's ` 1`), as one commit.

    Only links that do not resolve are repaired: the target becomes the one note named like it with a
    suffix stripped or added (rules: `suffix_rules` in .vaulttools.toml). Several candidates: the one whose
    day suffix equals the note's `originDay` (`day_property`); still several, or none: the link is left
    and reported. `#heading`, display text, `!`, `.md`, folder path and quoting are kept.
    `vaulttools check` shows the same suggestions.

    \b
    Examples:
      vaulttools normalize-links --dry-run
      vaulttools normalize-links
      vaulttools normalize-links --fix-case --drop-md --shorten-paths --json
    """
    options = NormalizeOptions(fix_case=fix_case, drop_md=drop_md, shorten_paths=shorten_paths)
    prepare_the_batch_meanwhile(app.vault, flags)
    plan = plan_normalize(app.vault, options)
    return execute_plan(app, plan, **flags, describe=describe)


def describe(plan: BatchPlan[NormalizePlanReport]) -> list[str]:
    """Links fixed per rule, then the links left ambiguous and those still broken."""
    report = plan.report
    per_rule = ", ".join(f"{n} by `{rule}`" for rule, n in report.fixed_per_rule.items())
    lines = [f"Fixed {len(report.fixed)} link(s): {per_rule}."]
    lines += _listing("Left ambiguous", report.ambiguous, _ambiguous_line)
    lines += _listing("Still broken", report.broken, _broken_line)
    lines += _listing("Not edited", report.skipped, _skipped_line)
    return lines


def _listing(title: str, entries: list[LinkEntry], line: Callable[[LinkEntry], str]) -> list[str]:
    if not entries:
        return []
    lines = [f"{title} ({len(entries)}):"]
    lines += [line(entry) for entry in entries[:LISTED]]
    if len(entries) > LISTED:
        lines.append(f"  … and {len(entries) - LISTED} more (all of them with --json)")
    return lines


def _ambiguous_line(entry: LinkEntry) -> str:
    return f"  {entry.note}:{entry.line}  {entry.link}  candidates: {', '.join(entry.candidates)}"


def _broken_line(entry: LinkEntry) -> str:
    return f"  {entry.note}:{entry.line}  {entry.link}"


def _skipped_line(entry: LinkEntry) -> str:
    return f"  {entry.note}:{entry.line}  {entry.link} → {entry.new_target}: {entry.reason}"
