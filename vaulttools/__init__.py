"""vaulttools: byte-safe bulk refactoring for Obsidian vaults kept in git."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"  # the single source: pyproject.toml reads it (tool.setuptools.dynamic)

if TYPE_CHECKING:
    from vaulttools.api import Vault

__all__ = ["Vault", "__version__"]


def __getattr__(name: str) -> object:
    # `from vaulttools import Vault` loads the API on first use, so the CLI starts without it.
    if name == "Vault":
        from vaulttools.api import Vault

        return Vault
    raise AttributeError(f"module 'vaulttools' has no attribute {name!r}")
