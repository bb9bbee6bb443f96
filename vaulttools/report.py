"""Everything the user sees: diffs, summaries, JSON documents, progress. No decisions are made here."""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # annotations only: `check` prints through here without loading the batch layer
    from vaulttools.batch import BatchResult
    from vaulttools.changes import BatchPlan, FileChange, Mention, SkippedNote

JSON_SCHEMA_VERSION = 1


def echo_json(document: dict[str, Any]) -> None:
    """One JSON document on stdout: indented for a person at a terminal, compact (and fast) for programs."""
    if sys.stdout.isatty():
        click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    else:
        write_document(json.dumps(document, ensure_ascii=False, default=str))


def echo_report_json(compact: Callable[[], str], document: Callable[[], dict[str, Any]]) -> None:
    """`echo_json(document())`; for a program, `compact()`: the same text, from a report that writes its
    compact JSON faster than `json.dumps` does (`CheckReport.json_text`)."""
    if sys.stdout.isatty():
        echo_json(document())
    else:
        write_document(compact())


def write_document(text: str) -> None:
    """A compact JSON document and a line break on stdout, as they are. Not `click.echo`: off a terminal it
    first searches the text for colour codes to strip and copies it (~20 ms for the 10 MB report of a big
    vault's `check --json`), and JSON holds none: it escapes every control character, ESC included. A
    stream that cannot encode the text (an ASCII locale) gets it from `click.echo`, which writes UTF-8 there;
    a text stream encodes all of a write before it writes any, so nothing was written yet."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        click.echo(text)
        return
    sys.stdout.write("\n")
    sys.stdout.flush()


def change_diff(change: FileChange) -> list[str]:
    """A unified diff of one file change, line endings shown as they are."""
    old = _lines(change.old)
    new = _lines(change.new)
    from_name = f"a/{change.path}" if not change.creates else "/dev/null"
    to_name = f"b/{change.final_path}" if not change.deletes else "/dev/null"
    lines = unified_diff(old, new, from_name, to_name)
    if change.new_path and change.new_path != change.path and not lines:
        lines = [f"rename from {change.path}\n", f"rename to {change.new_path}\n"]
    elif change.new_path and change.new_path != change.path:
        lines = [f"rename from {change.path}\n", f"rename to {change.new_path}\n", *lines]
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]


# Lines of context around each change in a diff (`unified_diff`).
DIFF_CONTEXT = 2
_HUNK_HEADER = re.compile(r"@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@")


def unified_diff(old: list[str], new: list[str], from_name: str, to_name: str) -> list[str]:
    """`difflib.unified_diff(old, new, from_name, to_name, n=DIFF_CONTEXT)`, but the lines both files share
    at their start and end, beyond the context of the first and last change, are left out of difflib's
    matching (a related section appended to a 30 KB note: a few lines to match, not 600) and the hunks'
    line numbers are shifted back by as many lines. Where no line repeats it is difflib's diff line for
    line; where lines repeat, difflib may pair the changed lines with other copies (as correct a diff)."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1
    skip, keep_end = max(0, start - DIFF_CONTEXT), max(0, end - DIFF_CONTEXT)
    lines = list(
        difflib.unified_diff(
            old[skip : len(old) - keep_end],
            new[skip : len(new) - keep_end],
            from_name,
            to_name,
            n=DIFF_CONTEXT,
        )
    )
    if not skip:
        return lines
    return [_shifted(line, skip) if line.startswith("@@ ") else line for line in lines]


def _shifted(header: str, lines: int) -> str:
    """A hunk header with both ranges' first line numbers `lines` further on (an empty range's number is
    the line before it, which shifts alike)."""
    match = _HUNK_HEADER.match(header)
    assert match is not None, header
    old_start, old_length, new_start, new_length = match.groups()
    return f"@@ -{int(old_start) + lines}{old_length} +{int(new_start) + lines}{new_length} @@\n"


def _lines(data: bytes | None) -> list[str]:
    if data is None:
        return []
    return data.decode("utf-8", "replace").splitlines(keepends=True)


def echo_diff(plan: BatchPlan, *, stat: bool = False) -> None:
    if stat:
        for change in plan.changes:
            diff = change_diff(change)
            added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
            name = change.path if not change.new_path else f"{change.path} => {change.new_path}"
            click.echo(f" {name} | +{added} -{removed}")
        return
    for change in plan.changes:  # one write a file, not a line (20,000 files of a related section: ~3 s)
        click.echo("".join(map(_colour, change_diff(change))), nl=False)


def _colour(line: str) -> str:
    if line.startswith(("+++", "---")) or line.startswith("rename "):
        return click.style(line, bold=True)
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    return line


def batch_document(plan: BatchPlan[Any], result: BatchResult) -> dict[str, Any]:
    from vaulttools.changes import report_json  # loaded already: the plan was made of its types

    return {
        "version": JSON_SCHEMA_VERSION,
        "command": plan.command,
        "dry_run": result.dry_run,
        "changed": not plan.empty,
        "committed": result.committed,
        "files": [{"path": c.path, "new_path": c.new_path} for c in plan.changes],
        "counts": plan.counts,
        "report": report_json(plan.report),
        "warnings": result.warnings,
    }


def echo_batch_summary(plan: BatchPlan, result: BatchResult, *, in_git: bool = True) -> None:
    for warning in result.warnings:
        click.echo(f"vaulttools: warning: {warning}", err=True)
    files = len(plan.changes)
    if result.nothing_to_do:
        click.echo("Nothing to change: no file was written and nothing was committed.")
        return
    noun = "file" if files == 1 else "files"
    if result.dry_run:
        click.echo(f"Dry run: {files} {noun} would change; nothing was written.", err=False)
        return
    if result.committed:
        click.echo(f"{files} {noun} changed and committed as {result.committed[:10]}.")
        click.echo(f"Review it with `git show --stat HEAD` (or `git log -p -1`); {_take_back_hint(plan)}.")
    elif in_git:
        click.echo(
            f"{files} {noun} changed; not committed (--no-commit). Review with `git diff`; "
            "`git checkout -- .` drops the changes, `git commit -a` keeps them."
        )
    else:
        click.echo(
            f"{files} {noun} changed; not committed: the vault is not in a git repository, so there is no "
            "diff to review and `vaulttools undo` cannot take it back."
        )


def _take_back_hint(plan: BatchPlan) -> str:
    """What takes this commit back: `undo` for a batch (or a redo), `redo` for an undo."""
    if plan.command == "undo":
        return "`vaulttools redo` takes this undo back (the batch returns)"
    return "`vaulttools undo` takes it back"


class TerminalProgress:
    """`vault.on_progress`: a rich progress bar on stderr for long tasks (scans, writes), started the first
    time a task with at least `minimum` items reports and closed when it completes. Never used when stderr
    is not a terminal or with --quiet: the CLI only installs it then."""

    def __init__(self, minimum: int = 1000) -> None:
        self.minimum = minimum
        self._bar: Any = None
        self._task: Any = None
        self._label = ""

    def __call__(self, label: str, done: int, total: int) -> None:
        if total < self.minimum:
            return
        if self._bar is None or label != self._label:
            self.close()
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self._bar = Progress(*columns, console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)
            self._label = label
        self._bar.update(self._task, completed=done, total=total)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def terminal_progress(enabled: bool) -> TerminalProgress | None:
    return TerminalProgress() if enabled and sys.stderr.isatty() else None


# Notes listed as left alone in a command's text output; the JSON report has them all.
LISTED_LEFT_ALONE = 20


def mention_lines(title: str, mentions: list[Mention]) -> list[str]:
    """`TITLE (N):` and one `  path:line  text (part)` line per place a batch left as written though it names
    what the batch changed (the first `LISTED_LEFT_ALONE`): the user reviews them."""
    return _capped_listing(title, [f"  {m.path}:{m.line}  {m.text} ({m.reason})" for m in mentions])


def left_alone_lines(left_alone: list[SkippedNote]) -> list[str]:
    """`Left alone (N):` and one `  path: reason` line per note (the first `LISTED_LEFT_ALONE`)."""
    return _capped_listing("Left alone", [f"  {entry.path}: {entry.reason}" for entry in left_alone])


def _capped_listing(title: str, lines: list[str]) -> list[str]:
    """`TITLE (N):` and the first `LISTED_LEFT_ALONE` lines; nothing at all for no lines."""
    if not lines:
        return []
    shown = [f"{title} ({len(lines)}):", *lines[:LISTED_LEFT_ALONE]]
    if len(lines) > LISTED_LEFT_ALONE:
        shown.append(f"  … and {len(lines) - LISTED_LEFT_ALONE} more (all of them with --json)")
    return shown
