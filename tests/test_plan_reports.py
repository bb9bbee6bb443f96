"""Typed plan reports: each command's report is a frozen `PlanReport` whose `to_json` is `--json`'s
`report` object, key for key (the CLI tests check whole documents; these check the mapping itself)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from vaulttools.changes import BatchPlan, Mention, PlanReport, SkippedNote, plain_json, report_json
from vaulttools.enrich import LinkWarning
from vaulttools.history import RevertedBatch, RevertPlanReport
from vaulttools.merge import DifferingScalar, MergedNotes, MergePlanReport
from vaulttools.normalize import LinkEntry, NormalizeOptions, NormalizePlanReport
from vaulttools.properties import PropertyPlanReport
from vaulttools.rename import LeftAlone, RenamedFile, RenamedFolder, RenamePlanReport
from vaulttools.tags import TagPlanReport

FIXED = LinkEntry("n.md", 3, "[[a-d9]]", "a-d9", "a", ("-d\\d+",), ())


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        # no-op: a plan without a report, and a planner that still hands over a dict
        (PlanReport(), {}),
        ({"kept": [1]}, {"kept": [1]}),
        (
            RevertPlanReport(RevertedBatch("abc", "rename", "a → b")),
            {"reverted": {"sha": "abc", "command": "rename", "subject": "a → b"}},
        ),
        (
            TagPlanReport(
                [["a", "b"]],
                [],
                [{"path": "n.md", "inline_renamed": 1}],
                [SkippedNote("x.md", "why")],
                [Mention("q.md", 4, 8, "#a", "code")],
            ),
            {
                "renames": [["a", "b"]],
                "deleted": [],
                "notes": [{"path": "n.md", "inline_renamed": 1}],
                "skipped": [{"path": "x.md", "reason": "why"}],
                "left_as_written": [{"path": "q.md", "line": 4, "column": 8, "text": "#a", "reason": "code"}],
            },
        ),
        (
            PropertyPlanReport({"kind": "delete", "key": "k"}, [], []),
            {"operation": {"kind": "delete", "key": "k"}, "notes": [], "skipped": [], "left_as_written": []},
        ),
        (
            RenamePlanReport(
                [RenamedFile("d/a.md", "e/a.md")],
                [RenamedFolder("d", "e", 1)],
                {"wikilink": 2},
                {},
                [],
                [],
                3,
                1,
            ),
            {
                "renames": [{"old": "d/a.md", "new": "e/a.md"}],
                "folders": [{"old": "d", "new": "e", "files": 1}],
                "rewritten_by_kind": {"wikilink": 2},
                "left_alone_by_reason": {},
                "left_alone": [],
                "warnings": [],
                "notes_read": 3,
                "notes_parsed": 1,
            },
        ),
        (
            MergePlanReport(
                [MergedNotes("a.md", ["a-d9.md"])],
                {"wikilink": 1},
                [DifferingScalar("a.md", "a-d9.md", "status", "done", None, "target")],
                0,
                [],
                [],
                2,
                1,
            ),
            {
                "merges": [{"target": "a.md", "sources": ["a-d9.md"]}],
                "redirected_by_kind": {"wikilink": 1},
                "differing_scalars": [
                    {
                        "target": "a.md",
                        "source": "a-d9.md",
                        "key": "status",
                        "target_value": "done",
                        "source_value": None,
                        "taken": "target",
                    }
                ],
                "paragraphs_already_present": 0,
                "left_alone": [],
                "warnings": [],
                "notes_read": 2,
                "notes_parsed": 1,
            },
        ),
        (
            NormalizePlanReport(NormalizeOptions(fix_case=True), {"-d\\d+": 1}, [FIXED], [], [], []),
            {
                "options": {"fix_case": True, "drop_md": False, "shorten_paths": False},
                "fixed_per_rule": {"-d\\d+": 1},
                "fixed": [FIXED.to_json()],
                "ambiguous": [],
                "broken": [],
                "skipped": [],
            },
        ),
    ],
)
def test_a_report_becomes_the_json_report_object(report: object, expected: dict[str, Any]) -> None:
    document = report_json(report)
    assert document == expected
    assert json.loads(json.dumps(document)) == expected  # plain JSON: tuples become arrays, nothing else


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            LeftAlone("n.md", 2, 5, "code", "a"),
            {"path": "n.md", "line": 2, "column": 5, "reason": "code", "target": "a"},
        ),
        (
            LeftAlone("n.md", 1, 1, "unreadable-note", "a", ""),
            {
                "path": "n.md",
                "line": 1,
                "column": 1,
                "reason": "unreadable-note",
                "target": "a",
                "detail": "",
            },
        ),
        (
            DifferingScalar("a.md", "b.md", "n", 1, 2.5, "source"),
            {
                "target": "a.md",
                "source": "b.md",
                "key": "n",
                "target_value": 1,
                "source_value": 2.5,
                "taken": "source",
            },
        ),
        (
            LinkWarning(None, "s", "n.md", "[[x]]", "x", "broken", None, [], "m"),
            {
                "line": None,
                "slug": "s",
                "path": "n.md",
                "link": "[[x]]",
                "target": "x",
                "status": "broken",
                "suggestion": None,
                "candidates": [],
                "message": "m",
            },
        ),
    ],
)
def test_report_items_keep_their_json_keys(item: object, expected: dict[str, Any]) -> None:
    assert plain_json(item) == expected


def test_a_report_is_read_only() -> None:
    report = RevertPlanReport(RevertedBatch("abc", "rename", "a → b"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.reverted = RevertedBatch("def", "merge", "x")  # type: ignore[misc]


def test_a_plan_without_a_report_reports_nothing() -> None:
    assert report_json(BatchPlan("test", "x").report) == {}
