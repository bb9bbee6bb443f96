"""One module per batch command. The CLI imports a command's module only when that command runs (or when
the whole command list is shown), so `vaulttools check` does not pay for the others' start-up."""

from __future__ import annotations

# command name -> (module, attribute)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("vaulttools.commands.demo", "demo"),
    "duplicates": ("vaulttools.commands.duplicates", "duplicates"),
    "enrich": ("vaulttools.commands.enrich", "enrich"),
    "merge": ("vaulttools.commands.merge", "merge"),
    "normalize-links": ("vaulttools.commands.normalize", "normalize_links"),
    "property": ("vaulttools.commands.property", "property_group"),
    "rename": ("vaulttools.commands.rename", "rename"),
    "sync-related": ("vaulttools.commands.related", "sync_related"),
    "tag": ("vaulttools.commands.tag", "tag"),
}
