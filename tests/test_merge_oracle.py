"""`merge` against the independent link oracle (tests/oracle.py), on generated hostile vaults: after
`vaulttools merge SOURCE --into TARGET --no-commit`, SOURCE is gone, every link that led to SOURCE leads to
TARGET, every other link still leads to its file, and no byte outside the links changes in the notes that
are neither SOURCE nor TARGET (a frontmatter list may drop an entry that now names TARGET twice)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from tests.oracle import (
    AMBIGUOUS,
    link_targets,
    oracle_resolve,
    outside_links,
    read_vault,
    vaults,
    write_vault,
)
from vaulttools.cli import cli


def split_frontmatter(text: str) -> tuple[str, str]:
    """(frontmatter, body) of a generated note: its frontmatter is the lines up to the second `---`."""
    start = text.find("---")
    if start < 0 or text[:start].strip("\ufeff"):
        return "", text
    end = text.find("---", start + 3)
    return text[: end + 3], text[end + 3 :]


def resolved(files: list[str], targets: list[str], source: str, moved: dict[str, str]) -> list[str | None]:
    answers = []
    for target in targets:
        answer = oracle_resolve(files, target, source)
        answers.append(None if answer in (None, AMBIGUOUS) else moved.get(answer, answer))
    return answers


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vaults())
def test_merge_keeps_every_link_on_its_file(case: tuple[dict[str, str], str, str]) -> None:
    texts, source, _ = case
    notes = sorted(p for p in texts if p.endswith(".md"))
    into = next(p for p in notes if p != source)
    with tempfile.TemporaryDirectory() as folder:
        write_vault(Path(folder), texts)
        args = ["-C", folder, "merge", "/" + source, "--into", "/" + into, "--no-commit", "-q"]
        result = CliRunner().invoke(cli, args)
        after = read_vault(Path(folder))
    if result.exit_code == 2 and "has no frontmatter to merge the properties" in result.output:
        assert after == texts  # a refusal writes nothing
        return
    assert result.exit_code == 0, result.output
    assert sorted(after) == sorted(p for p in texts if p != source)
    files_before, files_after = sorted(texts), sorted(after)
    moved = {source: into}
    for path in notes:
        if path in (source, into):
            continue
        (front, body), (new_front, new_body) = split_frontmatter(texts[path]), split_frontmatter(after[path])
        assert outside_links(new_body) == outside_links(body), path
        expected = resolved(files_before, link_targets(body), path, moved)
        now = resolved(files_after, link_targets(new_body), path, {})
        assert [a for a, b in zip(expected, now, strict=True) if a is not None and a != b] == [], path
        expected_front = resolved(files_before, link_targets(front), path, moved)
        now_front = resolved(files_after, link_targets(new_front), path, {})
        # A list may drop an entry that now names TARGET twice; a link that was ambiguous may now resolve.
        assert {a for a in expected_front if a} <= {a for a in now_front if a}, path
        assert len(now_front) <= len(expected_front), path
