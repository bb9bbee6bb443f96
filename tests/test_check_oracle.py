"""`check` against an independent oracle (tests/oracle.py), on generated hostile vaults: the links it
reports as broken or ambiguous are exactly those the oracle cannot resolve, or resolves to a tie, each at
its line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from tests.oracle import AMBIGUOUS, ANY_LINK, link_targets, oracle_resolve, vaults, without_code, write_vault
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
        if finding["kind"] in REPORTED
    )
    assert reported == expected_findings(texts)
    assert (result.exit_code == 1) == bool(report["findings"])
