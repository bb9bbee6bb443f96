"""The Python API: `from vaulttools import Vault`.

vault = Vault("~/notes")
report = vault.check()            # findings, nothing written
plan = vault.rename("a", "b")     # a BatchPlan: the planned file changes, nothing written yet
vault.apply(plan, commit=True)    # write atomically and commit, like the CLI
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vaulttools import vault as _vault
from vaulttools.batch import BatchOptions, BatchResult, run_batch
from vaulttools.changes import BatchPlan
from vaulttools.check import CheckReport, check_vault
from vaulttools.errors import VaultError

if TYPE_CHECKING:
    import frontmatter

    from vaulttools.duplicates import Family
    from vaulttools.enrich import EnrichPlanReport
    from vaulttools.merge import MergePlanReport
    from vaulttools.normalize import NormalizePlanReport
    from vaulttools.properties import PropertyPlanReport
    from vaulttools.rename import RenamePlanReport
    from vaulttools.tags import TagPlanReport


class Vault(_vault.Vault):
    """A vault with one method per command; planning methods return a `BatchPlan` and write nothing."""

    def __init__(self, root: str | Path) -> None:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise VaultError(f"vault folder {str(root)!r} does not exist; pass an existing folder")
        super().__init__(folder.resolve())

    def check(self) -> CheckReport:
        return check_vault(self)

    def post(self, path: str) -> frontmatter.Post:
        """A note as python-frontmatter's `Post` (metadata + content), for scripts that only read.

        Reading only: python-frontmatter re-dumps YAML on write (keys re-sorted, quotes dropped), so every
        change goes through a planning method and `apply` instead.
        """
        import frontmatter  # only scripts that read posts pay for importing it

        note = self.note(path)
        if note.properties is None and note.frontmatter is not None:
            raise VaultError(f"{path}: frontmatter does not parse ({note.yaml_error}); fix it first")
        return frontmatter.Post(note.body, **(note.properties or {}))

    def normalize_links(
        self, *, fix_case: bool = False, drop_md: bool = False, shorten_paths: bool = False
    ) -> BatchPlan[NormalizePlanReport]:
        from vaulttools.normalize import NormalizeOptions, plan_normalize

        return plan_normalize(self, NormalizeOptions(fix_case, drop_md, shorten_paths))

    def enrich(
        self, file: str | Path, *, replace: bool = False, fail_on_existing: bool = False
    ) -> BatchPlan[EnrichPlanReport]:
        from vaulttools.enrich import EnrichOptions, plan_enrich_file

        return plan_enrich_file(self, Path(file), EnrichOptions(replace, fail_on_existing))

    def rename(
        self,
        old: str | None = None,
        new: str | None = None,
        *,
        renames: list[tuple[str, str]] | None = None,
        keep_alias: bool = False,
    ) -> BatchPlan[RenamePlanReport]:
        """Rename OLD to NEW (or every pair of `renames`, simultaneously) and rewrite every reference."""
        from vaulttools.rename import RenameOptions, plan_renames

        pairs = list(renames or [])
        if old is not None and new is not None:
            pairs.insert(0, (old, new))
        return plan_renames(self, pairs, RenameOptions(keep_alias))

    def duplicates(self) -> list[Family]:
        """The families of notes that are the same note (one name up to a suffix rule, or one `id`)."""
        from vaulttools.duplicates import find_families

        return find_families(self)

    def merge(
        self,
        sources: list[str] | None = None,
        *,
        into: str | None = None,
        all_families: bool = False,
        prefer_source: list[str] | None = None,
    ) -> BatchPlan[MergePlanReport]:
        """Merge SOURCE notes into `into` (or, with `all_families`, every family into its kept note)."""
        from vaulttools.duplicates import scan_families
        from vaulttools.merge import Merge, MergeOptions, plan_merges, resolve_merge

        options = MergeOptions(tuple(prefer_source or ()))
        if all_families:
            scan = scan_families(self, count_every_link=False)
            merges = [Merge(family.keep, tuple(family.sources)) for family in scan.families]
            return plan_merges(
                self, merges, options, spelling_notes=scan.spelling_notes, parsed_links=scan.parsed_links
            )
        if into is None:
            raise VaultError("merge: say which note the sources go into (into=...)")
        return plan_merges(self, [resolve_merge(self, sources or [], into)], options)

    def sync_related(self, limit: int | None = None) -> BatchPlan:
        """Plan `sync-related`: every grouped note's "Related across articles" section."""
        from vaulttools.related import plan_sync_related

        return plan_sync_related(self, limit)

    def rename_tag(
        self, old: str | None = None, new: str | None = None, *, renames: list[tuple[str, str]] | None = None
    ) -> BatchPlan[TagPlanReport]:
        """Plan `tag rename`: OLD (and its nested tags) to NEW, or every pair of `renames` at once."""
        from vaulttools.tags import plan_tag_rename

        pairs = list(renames or [])
        if old is not None and new is not None:
            pairs.insert(0, (old, new))
        return plan_tag_rename(self, pairs)

    def delete_tag(self, tag: str, *, remove_inline: bool = False) -> BatchPlan[TagPlanReport]:
        """Plan `tag delete`."""
        from vaulttools.tags import plan_tag_delete

        return plan_tag_delete(self, tag, remove_inline=remove_inline)

    def tags(self) -> dict:
        """`tag list --json`'s document: every tag with its counts."""
        from vaulttools.tags import list_tags

        return list_tags(self)

    def rename_property(self, old: str, new: str, *, merge: bool = False) -> BatchPlan[PropertyPlanReport]:
        """Plan `property rename` (raises `VaultError` when a note has NEW already, unless `merge`)."""
        from vaulttools.properties import plan_property_rename

        return plan_property_rename(self, old, new, merge=merge)

    def replace_property_value(self, key: str, old: str, new: str) -> BatchPlan[PropertyPlanReport]:
        """Plan `property replace`."""
        from vaulttools.properties import plan_property_replace

        return plan_property_replace(self, key, old, new)

    def delete_property(self, key: str) -> BatchPlan[PropertyPlanReport]:
        """Plan `property delete`."""
        from vaulttools.properties import plan_property_delete

        return plan_property_delete(self, key)

    def apply(self, plan: BatchPlan, *, commit: bool = True, dry_run: bool = False) -> BatchResult:
        return run_batch(self, plan, BatchOptions(dry_run=dry_run, commit=commit))
