"""The click layer: argument parsing and output only. Every decision lives in the library modules."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from vaulttools import __version__, journal, lock
from vaulttools.check import check_vault
from vaulttools.config import KEY_DOCS, effective_values
from vaulttools.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, VaultError
from vaulttools.report import batch_document, echo_batch_summary, echo_diff, echo_json, terminal_progress
from vaulttools.vault import Vault, find_vault_root, gc_paused

if TYPE_CHECKING:  # the batch layer and git load only for the commands that use them (not `check`)
    from vaulttools.batch import BatchPlan
    from vaulttools.git import Repository

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class App:
    """What every command gets: the vault (opened on first use) and the global flags."""

    vault_option: str | None
    quiet: bool
    _vault: Vault | None = field(default=None, repr=False)

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = Vault(find_vault_root(self.vault_option))
            self._vault.on_progress = terminal_progress(self.show_progress)
        return self._vault

    @property
    def show_progress(self) -> bool:
        return not self.quiet


pass_app = click.make_pass_decorator(App)


class VaultGroup(click.Group):
    """Loads the batch commands' modules on first use (see `vaulttools.commands.LAZY_COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from vaulttools.commands import LAZY_COMMANDS

        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        from vaulttools.commands import LAZY_COMMANDS

        if name not in LAZY_COMMANDS:
            return None
        module_name, attribute = LAZY_COMMANDS[name]
        command = getattr(importlib.import_module(module_name), attribute)
        command.short_help = SHORT_HELP.get(name, command.short_help)
        self.add_command(command, name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Every `VaultError` becomes one line on stderr and its exit code; results become exit codes.

        Commands run with the cyclic garbage collector paused (`gc_paused`): they build many small objects
        that live to the end, and forked workers would otherwise run collections over the whole inherited
        heap (~0.09 s of a 20,000-note first `check`)."""
        try:
            with gc_paused():
                result = super().invoke(ctx)
        except VaultError as exc:
            click.echo(f"vaulttools: error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("vaulttools: interrupted; nothing was written", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            raise  # the reader went away (`| head`): `main` ends quietly
        except OSError as exc:  # a file the system refused (full disk, permissions): one line, no traceback
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"vaulttools: error: {exc.strerror or exc}{where}; nothing was written", err=True)
            ctx.exit(EXIT_USAGE)
        if isinstance(result, int) and result != EXIT_OK:
            ctx.exit(result)
        return result


@click.group(cls=VaultGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="vaulttools")
@click.option(
    "-C",
    "--vault",
    "vault_option",
    metavar="DIR",
    envvar="VAULTTOOLS_VAULT",
    help="The vault folder. Default: $VAULTTOOLS_VAULT, else the nearest folder up with .obsidian/, else here.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary lines on success.")
@click.pass_context
def cli(ctx: click.Context, vault_option: str | None, quiet: bool) -> None:
    """Byte-safe bulk refactoring for Obsidian vaults kept in git.

    Each writing command is one batch: every edit is planned and checked first, written atomically and
    committed as one git commit (unless --no-commit), so `git show` reviews it and `vaulttools undo`
    takes it back.

    \b
    Exit codes: 0 success (check: nothing found), 1 check found problems,
    2 usage, configuration or vault error (nothing written), 3 a batch failed and was rolled back.
    """
    ctx.obj = App(vault_option, quiet)
    # `log` reads only git's history, which a batch changes in one step: it runs beside anything.
    if ctx.invoked_subcommand not in (None, "recover", "demo", "config", "log"):
        journal.refuse_if_pending(find_vault_root(vault_option))


def batch_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every writing command shares."""
    options = [
        click.option("-n", "--dry-run", is_flag=True, help="Write nothing; print the diff of every edit."),
        click.option("--stat", is_flag=True, help="With --dry-run: only the per-file line counts."),
        click.option("--no-commit", is_flag=True, help="Write the files but do not commit."),
        click.option(
            "--no-verify", is_flag=True, help="Skip the repository's pre-commit and commit-msg hooks."
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Print one JSON document (schema in the README)."
        ),
    ]
    for option in reversed(options):  # as stacked decorators apply: the first listed shows first in --help
        func = option(func)
    return _holding_the_vault_lock(func)


# Flags that make a writing command only read: --dry-run, and `sync-related --explain SLUG`.
READ_ONLY_FLAGS = ("dry_run", "explain_slug")


def _holding_the_vault_lock(func: Callable[..., Any]) -> Callable[..., Any]:
    """A writing command plans and writes holding the vault's lock (see `vaulttools.lock`); with a
    read-only flag it never takes it."""

    @functools.wraps(func)
    def locked(*args: Any, **kwargs: Any) -> Any:
        if any(kwargs.get(flag) for flag in READ_ONLY_FLAGS):
            return func(*args, **kwargs)
        ctx = click.get_current_context()
        app = ctx.find_object(App)
        assert app is not None, "a writing command runs under the `cli` group"
        root = find_vault_root(app.vault_option)
        with lock.vault_lock(root, ctx.info_name or "batch") as stale:
            # Under the lock, any journal left is a dead batch's (the check before the lock may have raced).
            journal.refuse_if_pending(root)
            if stale is not None:
                click.echo(
                    f"vaulttools: note: an earlier `{stale.command}` (pid {stale.pid}, started "
                    f"{lock.format_time(stale.started)}) ended without releasing the vault's lock; "
                    "it left no unfinished batch",
                    err=True,
                )
            return func(*args, **kwargs)

    return locked


def execute_plan(
    app: App,
    plan: BatchPlan,
    *,
    dry_run: bool,
    stat: bool,
    no_commit: bool,
    no_verify: bool,
    as_json: bool,
    describe: Callable[[BatchPlan], list[str]] | None = None,
) -> int:
    """Run a planned batch and report it the same way for every command."""
    from vaulttools.batch import BatchOptions, run_batch

    options = BatchOptions(dry_run=dry_run, commit=not no_commit, no_verify=no_verify)
    result = run_batch(app.vault, plan, options)
    if as_json:
        echo_json(batch_document(plan, result))
        return EXIT_OK
    if dry_run and not plan.empty:
        echo_diff(plan, stat=stat)
    if describe is not None:
        for line in describe(plan):
            click.echo(line)
    if not app.quiet or dry_run or result.nothing_to_do:
        echo_batch_summary(plan, result)
    return EXIT_OK


# --- check -------------------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema in the README).")
@pass_app
def check(app: App, as_json: bool) -> int:
    """Report broken, ambiguous and suffixed links and unparsable frontmatter. Writes nothing.

    \b
    Examples:
      vaulttools check
      vaulttools -C ~/vault check --json | jq '.counts'
    """
    report = check_vault(app.vault)
    if as_json:
        echo_json(report.to_json(str(app.vault.root)))
    else:
        current = None
        for finding in report.findings:
            if finding.path != current:
                current = finding.path
                click.echo(click.style(finding.path, bold=True))
            click.echo(f"  {finding.line}:{finding.column}  {finding.kind}  {finding.message}")
            if finding.candidates and not finding.suggestion:
                click.echo(f"      candidates: {', '.join(finding.candidates)}")
        counts = ", ".join(f"{n} {k}" for k, n in report.counts().items() if n) or "no problems"
        click.echo(f"{report.notes_scanned} notes checked: {counts}.")
    return EXIT_FINDINGS if report.findings else EXIT_OK


# --- history -----------------------------------------------------------------------------------------


def _repository(app: App) -> Repository:
    from vaulttools.git import Repository

    repo = Repository.find(app.vault.root)
    if repo is None:
        raise VaultError(f"{app.vault.root} is not inside a git repository: there are no batches to show")
    return repo


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option("-n", "--limit", type=int, default=20, show_default=True, help="How many batches to list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def log(app: App, limit: int, as_json: bool) -> int:
    """List the batch commits vaulttools made, newest first.

    \b
    Examples:
      vaulttools log
      vaulttools log -n 5 --json
    """
    commits = _repository(app).batch_commits(limit)
    if as_json:
        echo_json({"version": 1, "batches": [c.__dict__ for c in commits]})
        return EXIT_OK
    if not commits:
        click.echo("No vaulttools batches in this repository yet.")
    for commit in commits:
        click.echo(f"{click.style(commit.sha[:10], fg='yellow')}  {commit.date[:19]}  {commit.subject}")
    return EXIT_OK


@cli.command(context_settings=CONTEXT_SETTINGS)
@batch_options
@pass_app
def undo(app: App, **flags: Any) -> int:
    """Revert the latest batch with a new commit, restoring every byte it changed.

    Refuses when later commits changed the same files, or those files have uncommitted changes.

    \b
    Examples:
      vaulttools undo --dry-run
      vaulttools undo
    """
    from vaulttools.history import latest_undoable, plan_undo

    repo = _repository(app)
    plan = plan_undo(repo, latest_undoable(repo))
    if flags["no_commit"]:
        raise VaultError("undo always commits (it is a revert); drop --no-commit")
    return execute_plan(app, plan, **flags)


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def recover(app: App, as_json: bool) -> int:
    """Put the vault back after a batch was killed midway (the journal says which files).

    \b
    Examples:
      vaulttools recover
      vaulttools -C ~/vault recover --json
    """
    from vaulttools.history import recover_interrupted

    outcome = recover_interrupted(find_vault_root(app.vault_option))
    if as_json:
        echo_json({"version": 1, **outcome._asdict()})
    elif outcome.status == "nothing":
        click.echo("No interrupted batch: nothing to recover.")
    elif outcome.status == "committed":
        click.echo(
            f"The interrupted {outcome.batch} had been committed as {(outcome.commit or '')[:10]}; "
            "nothing was reverted; journal cleared."
        )
    else:
        click.echo(
            f"Restored {len(outcome.restored)} file(s) of the interrupted {outcome.batch}; "
            "nothing was committed."
        )
    return EXIT_OK


@cli.command(name="config", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def config_command(app: App, as_json: bool) -> int:
    """Print the effective configuration and where each value came from.

    \b
    Examples:
      vaulttools config
      vaulttools config --json
    """
    rows = effective_values(app.vault.config)
    settings = app.vault.settings
    if as_json:
        echo_json(
            {
                "version": 1,
                "vault": str(app.vault.root),
                "config": {k: {"value": v, "source": s, "doc": KEY_DOCS[k]} for k, v, s in rows},
                "obsidian": settings.__dict__,
            }
        )
        return EXIT_OK
    click.echo(f"vault: {app.vault.root}")
    for key, value, source in rows:
        click.echo(f"{key} = {value!r}  ({source})")
    click.echo(
        f"obsidian: useMarkdownLinks={settings.use_markdown_links} newLinkFormat={settings.new_link_format}"
    )
    return EXIT_OK


# One line each for `vaulttools --help` (click would cut the docstrings' first sentences short).
SHORT_HELP = {
    "check": "Report broken, ambiguous, suffixed links and bad YAML.",
    "config": "Show the effective configuration and its sources.",
    "demo": "Run every batch on a git copy of the sample vault.",
    "duplicates": "List notes that are the same note (suffix or id).",
    "enrich": "Add enrichment paragraphs from a YAML/JSONL/CSV file.",
    "log": "List the batch commits vaulttools made, newest first.",
    "merge": "Merge duplicate notes into one; links follow.",
    "normalize-links": "Repair links that miss their note only by a suffix.",
    "property": "Rename, replace or delete frontmatter properties.",
    "recover": "Put the vault back after a batch was killed midway.",
    "rename": "Rename notes and update every reference to them.",
    "sync-related": 'Regenerate the "Related across articles" sections.',
    "tag": "List, rename or delete tags (frontmatter and inline).",
    "undo": "Revert the latest batch with a new commit.",
}


for _name, _text in SHORT_HELP.items():
    if _name in cli.commands:
        cli.commands[_name].short_help = _text


def command_names() -> list[str]:
    """Every command, loaded or not (for docs, tests and the benchmark runner)."""
    return cli.list_commands(click.Context(cli))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the command line, then ends the process (see `exit_now`)."""
    try:
        cli.main(args=argv, prog_name="vaulttools")
    except BrokenPipeError:
        exit_now(0)
    except SystemExit as exc:
        exit_now(exc.code)
    exit_now(0)


def exit_now(code: int | str | None) -> None:
    """End the process once its output is flushed, without tearing down the interpreter's objects.

    Every file a command writes is closed (and, for a batch, synced) before it returns; what is left is
    freeing millions of small objects one by one (a vault's parsed notes and indexes): ~0.1 s on 20,000
    notes, for nothing, since the operating system reclaims the memory at once.
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            code = code or 0  # a reader that went away (`| head`) is not an error
        except OSError:
            code = code or 1
    os._exit(code or 0)
