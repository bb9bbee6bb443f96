"""`report.unified_diff`: a unified diff with the shared start and end of long files left out of difflib's
matching. Where a file repeats lines, difflib may pair them otherwise once the shared lines are gone: the
diff is then another correct one (it turns the old lines into the new ones); with lines that do not repeat,
it is difflib's, line for line."""

from __future__ import annotations

import difflib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools.report import DIFF_CONTEXT, unified_diff

# Few distinct lines, so that files share runs of lines and the matcher has choices to make; the last line
# may lack its newline.
LINES = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "\n", "a", "b"]), max_size=14)


def _expected(old: list[str], new: list[str]) -> list[str]:
    return list(difflib.unified_diff(old, new, "a/n.md", "b/n.md", n=DIFF_CONTEXT))


def _applied(diff: list[str], old: list[str]) -> list[str]:
    """`old` with the diff's hunks applied, each at the line its header names (a strict `patch`)."""
    result: list[str] = []
    at = 0  # lines of `old` consumed
    for line in diff[2:]:
        if line.startswith("@@ "):
            start = int(line.split()[1][1:].split(",")[0])
            length = int(line.split()[1].split(",")[1]) if "," in line.split()[1] else 1
            first = start - 1 if length else start  # an empty range names the line before it
            result += old[at:first]
            at = first
        elif line[0] in " -":
            assert old[at] == line[1:], (at, line)
            if line[0] == " ":
                result.append(line[1:])
            at += 1
        else:
            result.append(line[1:])
    return result + old[at:]


@settings(max_examples=500, deadline=None)
@given(LINES, LINES, LINES, LINES)
def test_the_diff_turns_the_old_lines_into_the_new(
    prefix: list[str], old: list[str], new: list[str], suffix: list[str]
) -> None:
    before, after = prefix + old + suffix, prefix + new + suffix
    diff = unified_diff(before, after, "a/n.md", "b/n.md")
    assert _applied(diff, before) == after
    assert bool(diff) == (before != after)


UNIQUE = st.lists(st.integers(0, 40), max_size=30, unique=True).map(lambda ns: [f"line {n}\n" for n in ns])


@settings(max_examples=300, deadline=None)
@given(UNIQUE, st.data())
def test_without_repeated_lines_the_diff_is_difflibs(old: list[str], data: st.DataObject) -> None:
    new = data.draw(st.permutations(old).map(lambda lines: lines[: len(lines) // 2]) | UNIQUE)
    head, tail = [f"head {n}\n" for n in range(20)], [f"tail {n}\n" for n in range(20)]
    before, after = head + old + tail, head + new + tail
    assert unified_diff(before, after, "a/n.md", "b/n.md") == _expected(before, after)


LONG = [f"line {number}\n" for number in range(600)]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            LONG,
            [*LONG, "## Related\n", "- [[x]]\n"],
        ),  # appended at the end: one hunk, numbered as in the file
        (LONG, [*LONG[:300], "changed\n", *LONG[301:]]),  # in the middle
        (LONG, ["first\n", *LONG]),  # at the start: nothing shared before it
        (LONG, LONG[:-1]),  # the last line removed
        (LONG, [*LONG[:100], "x\n", *LONG[101:500], "y\n", *LONG[501:]]),  # two hunks far apart
        (LONG, LONG),  # no change: no diff
        ([], ["new\n"]),  # a new file
        (["gone\n"], []),  # a deleted one
    ],
)
def test_long_files_diff_as_difflib_diffs_them(old: list[str], new: list[str]) -> None:
    assert unified_diff(old, new, "a/n.md", "b/n.md") == _expected(old, new)
