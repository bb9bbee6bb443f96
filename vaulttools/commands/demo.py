"""`vaulttools demo`: copy the bundled sample vault, make it a git repository, run every batch on it."""

from __future__ import annotations

import os
import shlex
import shutil
from importlib import resources
from pathlib import Path

import click

from vaulttools.git import FALLBACK_EMAIL, FALLBACK_NAME, commit_everything, init_repository

# (what the step shows, the vaulttools arguments). Each command adds its own step here.
DEMO_STEPS: list[tuple[str, list[str]]] = [
    ("check: what is wrong with the sample vault (writes nothing)", ["check"]),
    ("sync-related: regenerate the 'Related across articles' sections", ["sync-related"]),
    ("normalize-links: repair links that miss their note by a suffix (-d9, ' 1')", ["normalize-links"]),
    ("enrich: add enrichment paragraphs from a YAML file", ["enrich", "{data}enrich.yaml"]),
    (
        "rename: rename the hub note and update every reference to it",
        ["rename", "concept-humane-imperative", "concept-humane-differentiation"],
    ),
    ("rename a folder: its notes move, path links and canvas nodes follow", ["rename", "people", "team"]),
    (
        "rename an attachment: every embed (its size kept) and canvas node follows",
        ["rename", "attachments/team-week.png", "hybrid-week"],
    ),
    ("rename --map: three renames in one batch", ["rename", "--map", "{data}renames.csv"]),
]


def sample_vault_source() -> Path:
    return Path(str(resources.files("vaulttools") / "sample_vault"))


def demo_data(name: str) -> Path:
    return Path(str(resources.files("vaulttools") / "demo_data" / name))


def demo_data_prefix() -> str:
    """What `{data}` in a step stands for: the demo_data folder with a trailing separator (`{data}x.yaml`)."""
    return os.path.join(str(demo_data("")), "")


def _default_target() -> Path:
    base = Path.cwd() / "vaulttools-demo"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"vaulttools-demo-{n}")
    return candidate


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def demo(directory: Path | None) -> int:
    """Copy the bundled sample vault to DIRECTORY, make it a git repo and run every batch command on it.

    DIRECTORY must not exist yet (default: a new ./vaulttools-demo folder).

    \b
    Examples:
      vaulttools demo
      vaulttools demo /tmp/my-demo && cd /tmp/my-demo && git log -p
    """
    from vaulttools.errors import VaultError

    target = (directory or _default_target()).resolve()
    if target.exists() and any(target.iterdir()):
        raise VaultError(f"{target} already exists and is not empty; name a new folder")
    shutil.copytree(sample_vault_source(), target, dirs_exist_ok=True)
    repo = init_repository(target)
    commit_everything(repo, "sample vault as shipped", FALLBACK_NAME, FALLBACK_EMAIL)
    click.echo(f"Sample vault copied to {target} and committed as a git repository.\n")
    for number, (title, args) in enumerate(DEMO_STEPS, start=1):
        argv = ["--vault", str(target), *[a.replace("{data}", demo_data_prefix()) for a in args]]
        click.echo(click.style(f"== step {number}: {title}", bold=True))
        click.echo(
            click.style(
                f"$ vaulttools {shlex.join(a.replace('{data}', demo_data_prefix()) for a in args)}", fg="cyan"
            )
        )
        code = _run_step(argv)
        if code not in (0, 1):
            raise VaultError(f"demo step {number} failed with exit code {code}")
        click.echo()
    folder = shlex.quote(str(target))  # copied into a shell as it is: a folder name may hold spaces
    click.echo(f"Done. Review every batch with:  cd {folder} && git log -p")
    click.echo(f"Take the last batch back with:  vaulttools -C {folder} undo")
    return 0


def _run_step(argv: list[str]) -> int:
    # The group that is running `demo` runs each step (this module never imports `cli`, which loads it).
    group = click.get_current_context().find_root().command
    try:
        group.main(args=argv, prog_name="vaulttools", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0
