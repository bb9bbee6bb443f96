"""sync-related's per-note function (a note's text and what the facts cache knows in, one section edit out),
called without a vault on disk, and the typed report of its plan."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, make_git_vault
from vaulttools.edits import apply_edits
from vaulttools.note import Note
from vaulttools.related import (
    ADDED,
    REMOVED,
    UNCHANGED,
    UPDATED,
    KnownSection,
    RelatedPlanReport,
    UnparsableNote,
    plan_sync_related,
    related_section_change,
)
from vaulttools.vault import Vault

HEADING = "Related across articles"
BODY = b'---\narticleStem: "a"\n---\nBody.\n'
WITH_SECTION = BODY + b"\n\n## Related across articles\n- [[x]]\n- [[y]]\n"
SPAN = (len(BODY) + 2, len(WITH_SECTION))  # heading start, end: as the facts cache records it

CASES = [
    # (raw, entries, known, expected action, expected bytes after)
    (BODY, ["[[x]]"], None, ADDED, BODY + b"\n\n## Related across articles\n- [[x]]\n"),
    (BODY, [], None, UNCHANGED, BODY),
    (WITH_SECTION, ["[[x]]", "[[y]]"], KnownSection(SPAN, ("[[x]]", "[[y]]")), UNCHANGED, WITH_SECTION),
    (WITH_SECTION, ["[[x]]", "[[y]]"], None, UNCHANGED, WITH_SECTION),
    (
        WITH_SECTION,
        ["[[z]]"],
        KnownSection(SPAN, ("[[x]]", "[[y]]")),
        UPDATED,
        BODY + b"\n\n## Related across articles\n- [[z]]\n",
    ),
    (WITH_SECTION, [], KnownSection(SPAN, ("[[x]]", "[[y]]")), REMOVED, BODY),
    # A span from a stale cache that no longer fits the text: the note is looked at afresh.
    (
        WITH_SECTION,
        ["[[z]]"],
        KnownSection((3, 9), ("[[z]]",)),
        UPDATED,
        BODY + b"\n\n## Related across articles\n- [[z]]\n",
    ),
    (
        WITH_SECTION.replace(b"\n", b"\r\n"),
        ["[[z]]"],
        None,
        UPDATED,
        (BODY + b"\n\n## Related across articles\n- [[z]]\n").replace(b"\n", b"\r\n"),
    ),
]


# The same cases with spans known to be found in these very bytes (`KnownSection.exact`): the section is
# taken from the span, not looked for, with the same outcome; a span that does not fit is still looked for.
EXACT_CASES = [
    (raw, entries, replace(known, exact=True), action, expected)
    for raw, entries, known, action, expected in CASES
    if known is not None
]


@pytest.mark.parametrize(("raw", "entries", "known", "action", "expected"), CASES + EXACT_CASES)
def test_related_section_change(
    raw: bytes, entries: list[str], known: KnownSection | None, action: str, expected: bytes
) -> None:
    note = Note("n.md", raw)
    got_action, edit = related_section_change(note, HEADING, entries, known)
    assert got_action == action
    assert (edit is None) == (action == UNCHANGED)
    after = note.encode(apply_edits(note.text, [edit] if edit else [], path=note.path))
    assert after == expected


def test_the_plan_report_is_typed(tmp_path: Path) -> None:
    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    plan = plan_sync_related(Vault(vault))
    report = plan.report
    assert isinstance(report, RelatedPlanReport)
    assert report.added == ("claim-delta.md", "claim-gamma.md", "concept-alpha.md")
    assert report.updated == ("concept-beta.md",)
    assert report.skipped_unparsable == (
        UnparsableNote("quote-broken.md", report.skipped_unparsable[0].error),
    )
    assert report.to_json()["skipped_unparsable"][0]["path"] == "quote-broken.md"
    assert report.notes_scored == 6 and report.skipped_no_group == 1
