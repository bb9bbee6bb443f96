"""vaulttools: byte-safe bulk refactoring for Obsidian vaults kept in git."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vaulttools")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from vaulttools.api import Vault

__all__ = ["Vault", "__version__"]
