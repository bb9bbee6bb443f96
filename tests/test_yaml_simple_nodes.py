"""`yamledit._same_simple_nodes` lets a changed frontmatter line skip ruamel.yaml's composer only when the
composer would find no difference of kind, tag or style (table and hypothesis), and every edit the
composer refuses is still refused (`verify_yaml_edit` on whole frontmatters)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools.errors import EditConflict
from vaulttools.note import simple_line_values
from vaulttools.yamledit import _composed_difference, _same_simple_nodes, verify_yaml_edit

# (old line, new line, whether the lines may skip the composer)
PAIRS = [
    ('related: ["a", "b"]', 'related: ["a", "c-d9"]', True),
    ('related: ["a", "b"]\r', 'related: [ "a" , "x y" ]\r', True),
    ('id: "old"', 'id: "new"', True),
    ("id: old", "id: new", True),
    ("day: 3", "day: 12", True),
    ("related: []", "related: [ ]", True),
    ('related: ["a", "b"]', 'related: ["a"]', False),  # one item less
    ('related: ["a"]', 'related: ["a", "b"]', False),
    ("related: []", 'related: ["a"]', False),
    ('id: "old"', "id: old", False),  # quoting style
    ("id: old", 'id: "old"', False),
    ("id: old", "id: 12", False),  # str to int
    ("id: old", "id: true", False),  # a YAML boolean: outside the simple grammar
    ("id: old", "id: null", False),
    ("id: old", "id: 1.5", False),  # a float: outside the grammar
    ('id: "old"', 'related: ["old"]', False),
    ("id: old", "", False),
    ("id: old", "# comment", False),
    ('id: "a\\"b"', 'id: "c"', False),  # an escape: outside the grammar
]


@pytest.mark.parametrize(("old", "new", "skips"), PAIRS)
def test_lines_skip_the_composer_only_when_it_would_find_nothing(old: str, new: str, skips: bool) -> None:
    assert _same_simple_nodes(old, new) is skips
    if skips:
        assert _composed_difference(old, new) is None


def test_simple_line_values_examples() -> None:
    assert simple_line_values('id: "x"') == ('"x"', "", "", "")
    assert simple_line_values('related: ["a", "b"]') == ("", '["a", "b"]', "", "")
    assert simple_line_values("day: 12") == ("", "", "12", "")
    assert simple_line_values("kind: claim") == ("", "", "", "claim")
    assert simple_line_values("kind: yes") is None
    assert simple_line_values("  - item") is None
    assert simple_line_values('related: ["a", "b\\"]') is None  # a backslash: outside the grammar
    assert simple_line_values('id: "tab\there"') is None


_TEXT = st.text(alphabet='ab -_.:#"\\[],', max_size=6)
_WORD = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,5}", fullmatch=True)
_VALUE = st.one_of(
    _TEXT.map(lambda t: f'"{t}"'),
    _WORD,
    st.integers(-(10**17), 10**17).map(str),
    st.lists(_TEXT, max_size=3).map(lambda items: "[" + ", ".join(f'"{i}"' for i in items) + "]"),
    st.sampled_from(["[]", "[ ]", "1.5", "~", "'q'", "{a: 1}", "yes", "Null", "0x1F", "2024-01-01"]),
)
_LINE = st.tuples(
    st.sampled_from(["id", "related", "_k", "no", "a-b"]), _VALUE, st.sampled_from(["", "\r", " "])
)


@settings(max_examples=300, deadline=None)
@given(old=_LINE, new=_LINE)
def test_skipping_lines_never_hides_a_difference(
    old: tuple[str, str, str], new: tuple[str, str, str]
) -> None:
    old_line, new_line = (f"{key}: {value}{end}" for key, value, end in (old, new))
    if _same_simple_nodes(old_line, new_line):
        assert _composed_difference(old_line, new_line) is None


# Whole frontmatters in the simple grammar: the edits the composer refuses are still refused.
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('id: "a"\nrelated: ["x"]\n', 'id: a\nrelated: ["x"]\n'),
        ('id: "a"\nday: 3\n', 'id: "a"\nday: "3"\n'),
    ],
)
def test_style_and_type_changes_are_still_refused(old: str, new: str) -> None:
    with pytest.raises(EditConflict):
        verify_yaml_edit("n.md", old, new)


def test_a_link_value_change_goes_through() -> None:
    verify_yaml_edit("n.md", 'id: "a"\nrelated: ["x", "y-d9"]\n', 'id: "a"\nrelated: ["x", "y"]\n')
