"""`rename.find_old_note`: what OLD names, as a user types it."""

from __future__ import annotations

import pytest

from vaulttools.errors import VaultError
from vaulttools.rename import find_old_note
from vaulttools.resolve import LinkIndex

VAULT = ["Report.md.md", "a.md", "deep/B.md", "img/p.png", "x/dup.md", "y/dup.md"]


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        ("a", "a.md"),
        ("A.md", "a.md"),
        ("b", "deep/B.md"),
        ("deep/B.md", "deep/B.md"),
        ("p.png", "img/p.png"),
        # a note whose own name ends in `.md`: by its name, or by its file name
        ("Report.md", "Report.md.md"),
        ("report.md.md", "Report.md.md"),
        # refused: missing, ambiguous, empty
        ("nothing", "no note named 'nothing'"),
        ("dup", "'dup' is ambiguous"),
        (" ", "OLD is empty"),
    ],
)
def test_find_old_note(old: str, expected: str) -> None:
    index = LinkIndex(VAULT)
    if expected.endswith((".md", ".png")) and " " not in expected:
        assert find_old_note(index, old) == expected
        return
    with pytest.raises(VaultError, match=expected):
        find_old_note(index, old)
