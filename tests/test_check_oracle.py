"""`check` against an independent oracle (tests/oracle.py), on generated hostile vaults and on the real
corpus: the links it reports as broken or ambiguous are exactly those the oracle cannot resolve, or
resolves to a tie, each at its line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from tests.conftest import BRAIN
from tests.oracle import (
    AMBIGUOUS,
    ANY_LINK,
    NOT_FOR_THE_ORACLE,
    URL,
    body_start,
    link_targets,
    oracle_resolve,
    vaults,
    without_code,
    writable_copy,
    write_vault,
)
from vaulttools.cli import cli

REPORTED = {
    "broken-link": "broken-link",
    "missing-attachment": "broken-link",
    "ambiguous-link": "ambiguous-link",
}


def expected_findings(texts: dict[str, str]) -> list[tuple[str, int, str]]:
    """(path, line, kind) of every link the oracle cannot resolve to one file."""
    files = sorted(texts)
    found = []
    for source, text in texts.items():
        if not source.endswith(".md"):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for match in ANY_LINK.finditer(without_code(line)):
                (target,) = link_targets(match.group(0))
                resolved = oracle_resolve(files, target, source)
                if resolved is None:
                    found.append((source, number, "broken-link"))
                elif resolved == AMBIGUOUS:
                    found.append((source, number, "ambiguous-link"))
    return sorted(found)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vaults())
def test_check_reports_what_the_oracle_cannot_resolve(case: tuple[dict[str, str], str, str]) -> None:
    texts, _, _ = case
    with tempfile.TemporaryDirectory() as folder:
        write_vault(Path(folder), texts)
        result = CliRunner().invoke(cli, ["-C", folder, "check", "--json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    reported = sorted(
        (finding["path"], finding["line"], REPORTED[finding["kind"]])
        for finding in report["findings"]
        if finding["kind"] in REPORTED and finding["path"].endswith(".md")  # canvases: tests/test_canvas.py
    )
    assert reported == expected_findings(texts)
    assert (result.exit_code == 1) == bool(report["findings"])


def test_check_agrees_with_the_oracle_on_the_real_corpus(tmp_path: Path) -> None:
    if not BRAIN.is_dir():
        pytest.skip("the shared brain corpus is not beside this checkout")
    vault = writable_copy(BRAIN, tmp_path / "brain")  # `check` keeps a cache in the vault
    paths = sorted(p.relative_to(BRAIN).as_posix() for p in BRAIN.rglob("*") if p.is_file())
    files = [p for p in paths if not any(part.startswith(".") for part in p.split("/"))]
    texts = {p: (BRAIN / p).read_text(errors="replace") for p in files if p.endswith(".md")}
    usable = {p: body_start(t) for p, t in texts.items() if not NOT_FOR_THE_ORACLE.search(t)}
    expected = set()
    for source, start in usable.items():
        for number, line in enumerate(texts[source].splitlines()[start - 1 :], start=start):
            for match in ANY_LINK.finditer(without_code(line)):
                (target,) = link_targets(match.group(0))
                if target and not target.startswith("#") and not URL.match(target):
                    resolved = oracle_resolve(files, target, source)
                    if resolved in (None, AMBIGUOUS):
                        expected.add(
                            (source, number, "broken-link" if resolved is None else "ambiguous-link")
                        )
    result = CliRunner().invoke(cli, ["-C", str(vault), "check", "--json"])
    reported = {
        (f["path"], f["line"], REPORTED[f["kind"]])
        for f in json.loads(result.output)["findings"]
        if f["kind"] in REPORTED and f["path"] in usable and f["line"] >= usable[f["path"]]
    }
    assert len(usable) > 500 and len(expected) > 100
    assert reported == expected
