"""What every command module shares (shell layer, beside `cli.py`, which loads the command modules): the
`App` a command gets, the options of every writing command (`@batch_options`), and `execute_plan`, which runs
a plan and reports it the same way for every command. Command modules import these from here, never from
`cli.py`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import click.shell_completion

from vaulttools import journal, lock
from vaulttools.errors import EXIT_OK, EXIT_USAGE, VaultError
from vaulttools.report import batch_document, echo_batch_summary, echo_diff, echo_json, terminal_progress
from vaulttools.vault import Vault, find_vault_root

if TYPE_CHECKING:  # the batch layer loads only for the commands that use it
    from vaulttools.changes import BatchPlan, ReportT

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# Commands that never read the vault's notes: they run in a folder without notes.
NO_NOTES_NEEDED = frozenset({"log", "undo", "redo", "config", "recover", "demo"})
# `log` reads only git's history, which a batch changes in one step: it runs beside anything.
JOURNAL_EXEMPT = frozenset({"recover", "demo", "config", "log"})


@dataclass
class App:
    """What every command gets: the vault (opened on first use) and the global flags.

    The global flags may also follow the subcommand (`vaulttools check -C dir -q`); they are parsed after
    the group ran, so the vault is opened, and the journal checked, only when a command first asks for it.
    """

    vault_option: str | None
    quiet: bool
    command: str | None = None
    as_json: bool = False  # the running command's --json: errors then go out as a JSON document too
    _vault: Vault | None = field(default=None, repr=False)
    # What a command leaves to the end of the process: freeing a big plan's objects one by one when the
    # command returns (~35 ms for 13,000 changed notes) buys nothing, since `cli.exit_now` ends the process.
    _kept: list[object] = field(default_factory=list, repr=False)

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            root = find_vault_root(self.vault_option)
            if self.command not in JOURNAL_EXEMPT:
                journal.refuse_if_pending(root)
            vault = Vault(root)
            if self.command not in NO_NOTES_NEEDED and not vault.note_paths:
                raise VaultError(
                    f"no notes in {root} (is this the vault?); pass the vault folder with -C DIR "
                    "or run vaulttools inside it"
                )
            vault.on_progress = terminal_progress(self.show_progress)
            self._vault = vault
        return self._vault

    @property
    def show_progress(self) -> bool:
        return not self.quiet

    def keep_to_the_end(self, value: object) -> None:
        """Hold `value` as long as the App lives (to the end of the process, in the CLI)."""
        self._kept.append(value)

    def close_progress(self) -> None:
        """Take any progress bar off the terminal, so that a message lands on its own line."""
        progress = self._vault.on_progress if self._vault is not None else None
        close = getattr(progress, "close", None)
        if close is not None:
            close()


pass_app = click.make_pass_decorator(App)


VAULT_META_KEY = "vaulttools.vault_option"  # where `-C` after the subcommand is kept for shell completion


def complete_note_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """Shell completion of note names from the vault (`shell_complete=complete_note_names` on any argument or
    option that takes a note): file stems starting with what was typed (letter case ignored), or vault paths
    once a `/` was typed. Never fails: a vault that cannot be opened completes nothing."""
    from vaulttools.resolve import fold, stem_of

    option = ctx.meta.get(VAULT_META_KEY) or ctx.find_root().params.get("vault_option")
    try:
        paths = Vault(find_vault_root(option)).note_paths
    except (VaultError, OSError):
        return []
    typed = fold(incomplete)
    by_path = "/" in incomplete
    names = sorted({path[:-3] if by_path else stem_of(path) for path in paths})
    return [click.shell_completion.CompletionItem(name) for name in names if fold(name).startswith(typed)]


def batch_options(func: Callable[..., Any] | None = None, *, no_commit: bool = True) -> Callable[..., Any]:
    """The options every writing command shares (`@batch_options`, or `@batch_options(no_commit=False)`
    for a command that must commit, such as `undo`)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option(
                "-n", "--dry-run", is_flag=True, help="Write nothing; print the diff of every edit."
            ),
            click.option(
                "--stat",
                is_flag=True,
                help="Write nothing; print only the per-file line counts (a --dry-run).",
            ),
        ]
        if no_commit:
            options.append(
                click.option("--no-commit", is_flag=True, help="Write the files but do not commit.")
            )
        else:
            func = _no_commit_false(func)
        options += [
            click.option(
                "--no-verify", is_flag=True, help="Skip the repository's pre-commit and commit-msg hooks."
            ),
            click.option(
                "--json", "as_json", is_flag=True, help="Print one JSON document (schema in the README)."
            ),
        ]
        for option in reversed(
            options
        ):  # as stacked decorators apply: the first listed shows first in --help
            func = option(func)
        return _holding_the_vault_lock(func)

    return decorate if func is None else decorate(func)


def _no_commit_false(func: Callable[..., Any]) -> Callable[..., Any]:
    """For a command without --no-commit: `execute_plan(**flags)` still gets `no_commit=False`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, no_commit=False, **kwargs)

    return wrapper


# Flags that make a writing command only read: --dry-run (and --stat, a dry run), `sync-related --explain`.
READ_ONLY_FLAGS = ("dry_run", "stat", "explain_slug")


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


def prepare_the_batch_meanwhile(vault: Vault, flags: dict[str, Any], *, git_index: bool = True) -> None:
    """Before a command plans a batch that will write: start, on threads, an `os.sync` (the journal then
    names git's blobs for the clean notes it rewrites instead of copying them or waiting for a sync of its
    own) and, with `git_index`, git's listing of its index (the batch's checks then take it instead of
    asking git). Both run while the notes are planned, not after. Nothing for a dry run (`--dry-run`,
    `--stat`)."""
    if flags.get("dry_run") or flags.get("stat"):
        return
    from vaulttools.batch import read_git_index_in_background
    from vaulttools.files import sync_in_background

    sync_in_background()
    if git_index:
        read_git_index_in_background(vault.root)


def execute_plan(
    app: App,
    plan: BatchPlan[ReportT],
    *,
    dry_run: bool,
    stat: bool,
    no_commit: bool,
    no_verify: bool,
    as_json: bool,
    describe: Callable[[BatchPlan[ReportT]], list[str]] | None = None,
) -> int:
    """Run a planned batch and report it the same way for every command.

    `--stat` is a dry run that prints only the per-file counts. With `--quiet` a successful run prints
    nothing on stdout (a dry run still prints the diff it was asked for); warnings stay on stderr."""
    from vaulttools.batch import BatchOptions, run_batch

    app.keep_to_the_end(plan)
    dry_run = dry_run or stat
    options = BatchOptions(dry_run=dry_run, commit=not no_commit, no_verify=no_verify)
    result = run_batch(app.vault, plan, options)
    detached = result.detached_head
    if detached is not None and result.committed:
        result.warnings.append(
            f"HEAD is detached (at {detached[:10]}): the batch was committed as {result.committed[:10]} on no "
            "branch; `git switch -c NAME` keeps it on a new branch"
        )
    if as_json:
        document = batch_document(plan, result)
        if result.would_refuse is not None:
            document["would_refuse"] = result.would_refuse
        echo_json(document)
        if result.would_refuse is None:
            return EXIT_OK
        click.echo(f"vaulttools: error: the real run would refuse: {result.would_refuse}", err=True)
        return EXIT_USAGE
    if dry_run and not plan.empty:
        echo_diff(plan, stat=stat)
    if describe is not None and not app.quiet:
        for line in describe(plan):
            click.echo(line)
    if not app.quiet:
        in_git = _in_git(app) if result.written and not result.committed else True
        echo_batch_summary(plan, result, in_git=in_git)
    else:
        for warning in result.warnings:
            click.echo(f"vaulttools: warning: {warning}", err=True)
    if result.would_refuse is not None:
        raise VaultError(f"the real run would refuse: {result.would_refuse}")
    return EXIT_OK


def _in_git(app: App) -> bool:
    from vaulttools.git import Repository

    return Repository.find(app.vault.root) is not None


def pairs_from_arguments(
    old: str | None,
    new: str | None,
    map_file: Path | None,
    read_map: Callable[[str, bytes], list[tuple[str, str]]],
    example: str,
) -> list[tuple[str, str]]:
    """OLD NEW, or the pairs of a `--map` file read by `read_map(path, bytes)`; never both."""
    if map_file is not None:
        if old is not None:
            raise VaultError("give either OLD NEW or --map FILE, not both")
        try:
            data = map_file.read_bytes()
        except OSError as exc:
            raise VaultError(f"cannot read the map {map_file} ({exc.strerror}); check the path") from exc
        return read_map(str(map_file), data)  # as it comes: a rename map carries its deferred problems
    if old is None or new is None:
        raise VaultError(f"give OLD and NEW (e.g. `{example}`), or --map FILE")
    return [(old, new)]
