"""`check` remembers what an unresolved link means per (target, linking folder) within a run
(`check.LinkAnswers`): every note must still get the very answer it would get alone, so what depends on
the linking note itself (a suffix tie its day decides) or on its folder (which file a name reaches) is
answered per note or per folder. Hostile notes: CRLF, BOM, links in code, NFD names, `.md.md` names."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaulttools import check
from vaulttools.suffixes import SuffixMatcher
from vaulttools.vault import Vault

BOM = "\ufeff"
NFD_NAME = "Cafe\u0301"  # "Café", decomposed

# Files the links below aim at: a day tie, a name a note and two other files share (what `report`
# reaches depends on the linking folder), three notes named `x`, an NFD name, a `.md.md` name.
TARGET_FILES = [
    "claim-async-wins-d3.md",
    "claim-async-wins-d9.md",
    "a/report.md",
    "b/report",
    "c/report",
    "a/x.md",
    "b/x.md",
    "notes/x.md",
    f"{NFD_NAME}.md",
    "z/Report.md.md",
]

# (linking note, its text, the (kind, suggestion, candidates) of each finding, in order)
CASES: list[tuple[str, str, list[tuple[str, str | None, tuple[str, ...]]]]] = [
    (
        "day3.md",
        "---\noriginDay: 3\n---\n[[claim-async-wins]]\n",
        [("broken-link", "claim-async-wins-d3", ("claim-async-wins-d3.md", "claim-async-wins-d9.md"))],
    ),
    (
        "day9.md",
        "---\r\noriginDay: 9\r\n---\r\nSee [[claim-async-wins|wins]].\r\n",
        [("broken-link", "claim-async-wins-d9", ("claim-async-wins-d3.md", "claim-async-wins-d9.md"))],
    ),
    (
        "noday.md",
        BOM + "[[claim-async-wins]] and ![[claim-async-wins]]\n",
        [("broken-link", None, ("claim-async-wins-d3.md", "claim-async-wins-d9.md"))] * 2,
    ),
    ("a/r1.md", "[[report-d9]]\n", [("broken-link", "report", ("a/report.md",))]),
    ("b/r2.md", "[[report-d9]]\n", [("broken-link", None, ("a/report.md",))]),
    (
        "a/r3.md",
        "```\n[[report-d9]]\n```\n\n    [[report-d9]]\n\nthen [[report-d9]]\n",
        [("broken-link", "report", ("a/report.md",))],
    ),
    ("c/x1.md", "[[x]]\n", [("ambiguous-link", None, ("a/x.md", "b/x.md"))]),
    ("a/x2.md", "[[x]] [[x#h]]\n", []),
    ("c/x3.md", "[[x#h|y]]\n", [("ambiguous-link", None, ("a/x.md", "b/x.md"))]),
    ("n/cafe1.md", "[[Café-d2]]\n", [("broken-link", NFD_NAME, (f"{NFD_NAME}.md",))]),
    ("n/cafe2.md", f"[[{NFD_NAME}-d2]]\n", [("broken-link", NFD_NAME, (f"{NFD_NAME}.md",))]),
    ("z/md1.md", "[[Report.md-d9]]\n", [("broken-link", "Report.md", ("z/Report.md.md",))]),
    ("n/md2.md", "[[Report.md-d9]]\n", [("broken-link", None, ("z/Report.md.md",))]),
    ("n/att.md", "![[pic-d9.png]] [[pic-d9.png]]\n", [("missing-attachment", None, ())] * 2),
]


def _write_vault(root: Path) -> None:
    for path in TARGET_FILES:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"---\nid: target\n---\n" if path.endswith(".md") else b"x")
    for path, text, _ in CASES:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(text.encode("utf-8"))


def _findings(entries: list[tuple[str, tuple]]) -> dict[str, list[tuple[str, str | None, tuple[str, ...]]]]:
    return {
        path: [
            (f[0], f[7], tuple(f[8])) for f in check.entry_findings(entry) if f[0] != "id-differs-from-name"
        ]
        for path, entry in entries
    }


@pytest.mark.parametrize("order", ["vault order", "reversed"])
def test_remembered_answers_are_each_notes_own(tmp_path: Path, order: str) -> None:
    _write_vault(tmp_path)
    vault = Vault(tmp_path)
    matcher = SuffixMatcher(vault.note_paths, vault.config.suffix_rules)
    linking = [path for path, _, _ in CASES]
    paths = linking if order == "vault order" else linking[::-1]
    answers: check.LinkAnswers = {}
    # One note per call, the answers shared: each note meets what the notes before it left.
    entries = [entry for path in paths for entry in check.check_notes(vault, matcher, [path], answers)]
    found = _findings(entries)
    assert found == {path: expected for path, _, expected in CASES}
    # The tie the linking note's day decides is never remembered; the folder's answers are.
    assert ("claim-async-wins", "") not in answers
    assert answers[("report-d9", "a")] != answers[("report-d9", "b")]
    assert answers[("Report.md-d9", "z")] != answers[("Report.md-d9", "n")]


def test_answers_match_a_run_that_remembers_nothing(tmp_path: Path) -> None:
    _write_vault(tmp_path)
    vault = Vault(tmp_path)
    matcher = SuffixMatcher(vault.note_paths, vault.config.suffix_rules)
    remembered = check.check_notes(vault, matcher, vault.note_paths, {})
    alone = [entry for path in vault.note_paths for entry in check.check_notes(vault, matcher, [path], {})]
    assert remembered == alone
