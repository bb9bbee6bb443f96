"""`vaulttools duplicates`: list the families of notes that `merge --all` would fold together."""

from __future__ import annotations

import click

from vaulttools.errors import EXIT_FINDINGS, EXIT_OK
from vaulttools.report import echo_json
from vaulttools.shell import CONTEXT_SETTINGS, App, pass_app

SCHEMA_VERSION = 1


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema in the README).")
@pass_app
def duplicates(app: App, as_json: bool) -> int:
    """List families of notes that are the same note: one name up to a suffix rule, or one `id`
    (notes of one name in different folders are different notes).

    For each family: its members with their day (`day_property`) and inbound link count, and the member
    `vaulttools merge --all` keeps (the unsuffixed one, else the most linked, else the lowest day).
    Writes nothing. Exit code 1 when a family exists, 0 when none (for CI).

    \b
    Examples:
      vaulttools duplicates
      vaulttools duplicates --json
    """
    from vaulttools.duplicates import find_families

    vault = app.vault
    families = find_families(vault)
    if as_json:
        echo_json(
            {
                "version": SCHEMA_VERSION,
                "vault": str(vault.root),
                "families": [family.to_json() for family in families],
            }
        )
    else:
        day = vault.config.day_property
        for family in families:
            click.echo(f"{family.keep}  (by {' and '.join(family.rules)}; `merge --all` keeps it)")
            for member in family.members:
                mark = "keep " if member.path == family.keep else "merge"
                click.echo(
                    f"  {mark} {member.path}  {day}: {member.origin_day if member.origin_day is not None else '-'}"
                    f"  inbound links: {member.inbound_links}"
                )
        notes = sum(len(family.members) for family in families)
        click.echo(
            f"{len(families)} famil{'y' if len(families) == 1 else 'ies'} of duplicate notes ({notes} notes)."
            + (" `vaulttools merge --all` merges them." if families else "")
        )
    return EXIT_FINDINGS if families else EXIT_OK
