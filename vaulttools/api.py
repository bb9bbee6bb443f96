"""The Python API: `from vaulttools import Vault`.

vault = Vault("~/notes")
report = vault.check()            # findings, nothing written
plan = vault.rename("a", "b")     # a BatchPlan: the planned file changes, nothing written yet
vault.apply(plan, commit=True)    # write atomically and commit, like the CLI
"""

from __future__ import annotations

from pathlib import Path

from vaulttools import vault as _vault
from vaulttools.batch import BatchOptions, BatchPlan, BatchResult, run_batch
from vaulttools.check import CheckReport, check_vault


class Vault(_vault.Vault):
    """A vault with one method per command; planning methods return a `BatchPlan` and write nothing."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(Path(root).expanduser().resolve())

    def check(self) -> CheckReport:
        return check_vault(self)

    def apply(self, plan: BatchPlan, *, commit: bool = True, dry_run: bool = False) -> BatchResult:
        return run_batch(self, plan, BatchOptions(dry_run=dry_run, commit=commit))
