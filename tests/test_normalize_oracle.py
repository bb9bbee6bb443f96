"""`normalize-links` against the independent link oracle (tests/oracle.py), on generated hostile vaults
whose links also miss their note by a day suffix (`[[Alpha-d4]]`) or lack the suffix the only note has
(`[[x]]` for `x-d9.md`, `[[Note]]` for `Note 1.md`):

- a link that resolved keeps every byte; so does everything outside the links;
- a link it rewrites now resolves to a note whose name is the written name with one suffix stripped or
  added;
- a bare broken link that exactly one note's name relates to that way is repaired.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from tests.oracle import (
    ANY_LINK,
    fold,
    link_targets,
    oracle_resolve,
    outside_links,
    read_vault,
    vaults,
    without_code,
    write_vault,
)
from vaulttools.cli import cli

SUFFIX = re.compile(r"(-d\d+| \d+)$")


def related_notes(files: list[str], written: str) -> set[str]:
    """Notes whose name is the written name's last part with one suffix stripped, or with one added."""
    name = fold(written.rpartition("/")[2].removesuffix(".md"))
    related = set()
    for path in files:
        if not path.endswith(".md"):
            continue
        stem = fold(path.rpartition("/")[2].removesuffix(".md"))
        if (SUFFIX.sub("", name) == stem and SUFFIX.search(name)) or SUFFIX.sub("", stem) == name != stem:
            related.add(path)
    return related


def links_of(text: str) -> list[tuple[str, str]]:
    """(link as written, its target) of each link, in order."""
    return [(m.group(0), link_targets(m.group(0))[0]) for m in ANY_LINK.finditer(without_code(text))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vaults())
def test_normalize_links_repairs_only_suffix_misses(case: tuple[dict[str, str], str, str]) -> None:
    texts, _, _ = case
    with tempfile.TemporaryDirectory() as folder:
        write_vault(Path(folder), texts)
        result = CliRunner().invoke(cli, ["-C", folder, "normalize-links", "--no-commit", "-q"])
        after = read_vault(Path(folder))
    assert result.exit_code == 0, result.output
    files = sorted(texts)
    assert sorted(after) == files
    for source, text in texts.items():
        if not source.endswith(".md"):
            continue
        assert outside_links(after[source]) == outside_links(text), source
        before, now = links_of(text), links_of(after[source])
        assert len(now) == len(before), source
        for (link, target), (new_link, new_target) in zip(before, now, strict=True):
            was = oracle_resolve(files, target, source)
            if was is not None:  # resolved or ambiguous: not normalize-links' to touch
                assert new_link == link, (source, link)
                continue
            related = related_notes(files, target)
            if new_link != link:
                assert oracle_resolve(files, new_target, source) in related, (source, link, new_link)
            elif len(related) == 1 and "/" not in target and not target.startswith("."):
                (only,) = related
                # Left alone only where the repaired name would open another file (a closer namesake).
                # The repair keeps the link's `.md` habit: `[text](Report-d4.md)` would become `Report.md`,
                # which opens `Report.md.md` beside it rather than `a/Report.md`.
                repaired = only.rpartition("/")[2].removesuffix(".md")
                repaired += ".md" if target.lower().endswith(".md") else ""
                assert oracle_resolve(files, repaired, source) not in (only,), (source, link)
