"""`property rename` and `property delete` against an oracle that builds each note from pieces.

A note's frontmatter is a shuffle of entries: the key OLD in a form that is the property (plain, quoted
either way, a block list under it, a block scalar, a flow map, a comment on its line, a value of several
words) and near misses that are not (`old_x`, `older`, a nested `old:` under another key, `old:` in a
comment line or inside another key's block scalar). The body holds `old: x` too. `property rename old new`
must change only the key's characters; `property delete old` must drop exactly the entry's lines.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaulttools.cli import cli

# The property: each is (lines with OLD as the key, the same lines with `new`), {k} marks the key.
PROPERTY_FORMS = [
    "{k}: value",
    '"{k}": "quoted value"',
    "'{k}': 'single'",
    "{k}:\n  - a\n  - b",
    "{k}:\n- a\n- b",
    "{k}: |\n  line one\n  other: x",
    "{k}: >-\n  folded\n  text",
    "{k}: {{a: 1, b: [x, y]}}",
    "{k}: value  # a comment",
    "{k}: several words, and more",
    "{k}:",
    "{k}: 2024-05-01",
]
NEAR_MISSES = [
    "old_x: 1",
    "older: 2",
    "parent:\n  old: nested",
    "# old: in a comment",
    "notes: |\n  old: inside a block scalar",
    "title: old",
]
SEPARATORS = ["\n", "\r\n"]


@st.composite
def notes(draw: st.DrawFn) -> tuple[str, str, str]:
    """(note with OLD, the note after `property rename old new`, the note after `property delete old`)."""
    form = draw(st.sampled_from(PROPERTY_FORMS))
    misses = draw(st.lists(st.sampled_from(NEAR_MISSES), max_size=4, unique=True))
    position = draw(st.integers(min_value=0, max_value=len(misses)))
    line_end = draw(st.sampled_from(SEPARATORS))

    def note(entry: str | None) -> str:
        entries = [*misses[:position], *([entry] if entry is not None else []), *misses[position:]]
        lines = ["---", *entries, "---", "Body with old: x and [[link]]."]
        return line_end.join("\n".join(lines).split("\n")) + line_end

    return note(form.format(k="old")), note(form.format(k="new")), note(None)


def run(folder: str, *args: str) -> int:
    return CliRunner().invoke(cli, ["-C", folder, "property", *args, "--no-commit", "-q"]).exit_code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(notes(), min_size=1, max_size=3))
def test_property_rename_and_delete_touch_only_the_property(cases: list[tuple[str, str, str]]) -> None:
    for command, expected_at in ((["rename", "old", "new"], 1), (["delete", "old"], 2)):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            for number, case in enumerate(cases):
                (root / f"n{number}.md").write_bytes(case[0].encode())
            assert run(folder, *command) == 0, command
            written = [(root / f"n{number}.md").read_bytes().decode() for number in range(len(cases))]
        assert written == [case[expected_at] for case in cases], command
