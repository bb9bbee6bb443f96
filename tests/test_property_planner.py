"""The property planner, text in and text out: renames, merges, replacements, deletions and no-ops, and
`check`'s type rules."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaulttools.note import Note
from vaulttools.properties import PropertyOperation, plan_property_note
from vaulttools.property_types import type_mismatch

RENAME = PropertyOperation("rename", "old", new_key="new")
MERGE = PropertyOperation("rename", "old", new_key="new", merge=True)
DELETE = PropertyOperation("delete", "old")


def replace(old: str, new: str) -> PropertyOperation:
    return PropertyOperation("replace", "k", old_value=old, new_value=new)


def planned(text: str, operation: PropertyOperation) -> str:
    outcome = plan_property_note(Note("n.md", text.encode("utf-8")), operation)
    assert outcome.left_alone is None, outcome.left_alone
    return text if outcome.change is None else outcome.change.new.decode("utf-8")


@pytest.mark.parametrize(
    ("operation", "before", "after"),
    [
        (RENAME, "---\na: 1\nold: x # c\nb: 2\n---\n", "---\na: 1\nnew: x # c\nb: 2\n---\n"),
        (RENAME, '---\n"old": [a]\n---\n', '---\n"new": [a]\n---\n'),
        (
            RENAME,
            "---\r\nold:\r\n  - a\r\n---\r\nold: in the body\r\n",
            "---\r\nnew:\r\n  - a\r\n---\r\nold: in the body\r\n",
        ),
        (DELETE, "---\na: 1\nold:\n  - x\n  # c\n  - y\nb: 2\n---\n", "---\na: 1\nb: 2\n---\n"),
        (DELETE, "---\nold: |\n  text\n  more\nb: 2\n---\n", "---\nb: 2\n---\n"),
        # a comment or blank line after a block value is not the value's: it stays
        (DELETE, "---\nold:\n  - x\n# about b\nb: 2\n---\n", "---\n# about b\nb: 2\n---\n"),
        (DELETE, "---\nold:\n  k: v\n\n# end\n---\n", "---\n\n# end\n---\n"),
        (DELETE, "---\nold:\n- x\n  # among\n- y\n---\n", "---\n---\n"),
        (DELETE, "---\na: 1\nold: x\n---\n", "---\na: 1\n---\n"),
        (MERGE, "---\nnew: [a]\nold: [b, a]\n---\n", "---\nnew: [a, b]\n---\n"),
        (MERGE, "---\nnew:\n  - a\nold: 'b'\n---\n", "---\nnew:\n  - a\n  - 'b'\n---\n"),
        (MERGE, "---\nold: x\nnew: x\n---\n", "---\nnew: x\n---\n"),
        (MERGE, "---\nold:\nnew: x\n---\n", "---\nnew: x\n---\n"),
        (MERGE, "---\nnew: []\nold: [a]\n---\n", "---\nnew: [a]\n---\n"),
        (replace("draft", "done"), "---\nk: draft # c\n---\n", "---\nk: done # c\n---\n"),
        (replace("draft", "done"), "---\nk: ['draft', x]\n---\n", "---\nk: ['done', x]\n---\n"),
        (replace("draft", "2024"), "---\nk: draft\n---\n", '---\nk: "2024"\n---\n'),
        (replace("3", "4"), "---\nk: 3\n---\n", "---\nk: 4\n---\n"),
        (replace("a", "b, c"), "---\nk: [a]\n---\n", '---\nk: ["b, c"]\n---\n'),
        (replace("it's", "its"), "---\nk: 'it''s'\n---\n", None),  # written with an escape: see below
        # no-ops: another key, a nested key, a value that differs, an empty value
        (RENAME, "---\nolder: 1\n---\n", None),
        (DELETE, "---\nmeta:\n  old: 1\n---\n", None),
        (replace("draft", "done"), "---\nk: drafts\n---\n", None),
        (replace("", "x"), "---\nk:\n---\n", None),
    ],
)
def test_planner(operation: PropertyOperation, before: str, after: str | None) -> None:
    if "''" in before:
        outcome = plan_property_note(Note("n.md", before.encode()), operation)
        assert outcome.change is None and "escapes" in (outcome.left_alone or "")
        return
    assert planned(before, operation) == (before if after is None else after)


@pytest.mark.parametrize(
    ("operation", "text", "conflict"),
    [
        (RENAME, "---\nold: 1\nnew: 2\n---\n", True),
        (MERGE, "---\nold: 1\nnew: 2\n---\n", True),
        (MERGE, "---\nold: [a]\nnew: b\n---\n", True),
        (MERGE, "---\nold: [[a]]\nnew: [b]\n---\n", True),
        (RENAME, "---\nold: [a\n---\n", False),
    ],
)
def test_refusals(operation: PropertyOperation, text: str, conflict: bool) -> None:
    outcome = plan_property_note(Note("n.md", text.encode()), operation)
    assert outcome.change is None and outcome.left_alone and outcome.refuses is conflict


@pytest.mark.parametrize(
    ("value", "declared", "fits"),
    [
        (3, "number", True),
        (2.5, "number", True),
        (True, "number", False),
        ("three", "number", False),
        (True, "checkbox", True),
        ("yes", "checkbox", False),
        (datetime.date(2024, 5, 1), "date", True),
        ("2024-05-01", "date", True),
        (datetime.datetime(2024, 5, 1, 10, 30), "date", False),
        ("soon", "date", False),
        ("2024-05-01T10:30", "datetime", True),
        (["a"], "multitext", True),
        ("a", "tags", True),
        ([["a"]], "aliases", False),
        (5, "multitext", False),
        (["a"], "text", False),
        ("words", "text", True),
        (None, "number", True),
    ],
)
def test_property_types(value: object, declared: str, fits: bool) -> None:
    assert (type_mismatch(value, declared) is None) is fits


# --- hypothesis: renaming a key to a fresh name and back, or replacing a value and back, is the identity ----

_KEY = st.sampled_from(["old", "status", "k", "title"])
_VALUE = st.sampled_from(["draft", '"draft"', "'draft'", "[draft, x]", "['draft']", "3", "", '"a: b"'])


@st.composite
def frontmatters(draw: st.DrawFn) -> str:
    keys = draw(st.lists(_KEY, min_size=1, max_size=4, unique=True))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ["---"]
    for key in keys:
        value = draw(_VALUE)
        if draw(st.booleans()) and value.startswith("["):
            lines.append(f"{key}:")  # the same items as a block list
            lines += [f"  - {item.strip()}" for item in value[1:-1].split(",")]
        else:
            lines.append(f"{key}: {value}".rstrip() + draw(st.sampled_from(["", " # comment"])))
    lines += ["---", "body old: draft"]
    return newline.join(lines) + newline


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=frontmatters(), key=_KEY)
def test_round_trips_are_the_identity(text: str, key: str) -> None:
    there = PropertyOperation("rename", key, new_key="zzfresh")
    back = PropertyOperation("rename", "zzfresh", new_key=key)
    renamed = planned(text, there)
    assert (renamed != text) == (f"\n{key}:" in text.split("\n---")[0].replace("\r", ""))
    assert planned(renamed, back) == text
    replace_there = PropertyOperation("replace", key, old_value="draft", new_value="zzvalue")
    replace_back = PropertyOperation("replace", key, old_value="zzvalue", new_value="draft")
    assert planned(planned(text, replace_there), replace_back) == text


RENAME_STATUS = PropertyOperation("rename", "status", new_key="state")
DELETE_DUE = PropertyOperation("delete", "Due Date")
REPLACE_DRAFT = PropertyOperation("replace", "status", old_value="draft", new_value="done")


@pytest.mark.parametrize(
    ("operation", "body", "found"),
    [
        # a Dataview block, a dataviewjs block (`p.status`), an inline query: each place listed
        (RENAME_STATUS, '```dataview\nTABLE status WHERE status = "draft"\n```\n', [(2, 7), (2, 20)]),
        (RENAME_STATUS, "~~~ dataviewjs\ndv.pages().where(p => p.status)\n~~~\n", [(2, 25)]),
        (RENAME_STATUS, "Now: `= this.status` and `$= dv.current().status`\n", [(1, 14), (1, 43)]),
        # Dataview's own spelling of a key with spaces and capitals
        (DELETE_DUE, "```dataview\nLIST WHERE due-date < date(today)\n```\n", [(2, 12)]),
        # replace: OLD as a quoted string in a query
        (
            REPLACE_DRAFT,
            "```dataview\nLIST WHERE status = \"draft\" OR status = 'draft'\n```\n",
            [(2, 21), (2, 41)],
        ),
        # no-ops: other code, longer words, prose, an unquoted word for replace
        (RENAME_STATUS, "```python\nstatus = 1\n```\n", []),
        (RENAME_STATUS, "```dataview\nLIST WHERE statuses or status-code or my_status\n```\n", []),
        (RENAME_STATUS, "The status is `x`.\n", []),
        (REPLACE_DRAFT, "```dataview\nLIST WHERE draft\n```\n", []),
    ],
)
def test_queries_naming_the_property_are_listed(
    operation: PropertyOperation, body: str, found: list[tuple[int, int]]
) -> None:
    note = Note("n.md", f"---\nstatus: draft\nDue Date: 2024-01-01\n---\n{body}".encode())
    outcome = plan_property_note(note, operation)
    assert [(m.line - 4, m.column) for m in outcome.mentions] == found
    assert {m.reason for m in outcome.mentions} <= {"dataview"}
    assert outcome.change is not None  # the frontmatter still changes as planned
