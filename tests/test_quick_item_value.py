"""`yamlnodes.quick_item_value`: a list item's string read without YAML, only where YAML reads the same."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from vaulttools.merge import _interleaved
from vaulttools.yamlnodes import quick_item_value


def yaml_item(raw: str) -> object:
    return yaml.safe_load(f"[{raw}]")[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"claim-async-wins"', "claim-async-wins"),
        ('"[[claim-async-wins|shown]]"', "[[claim-async-wins|shown]]"),
        ("'concept x'", "concept x"),
        ("claim-async-wins", "claim-async-wins"),
        ("Note_2", "Note_2"),
        ('"ünïcode ✓"', "ünïcode ✓"),
        ('""', ""),
        # YAML decides: escapes, doubled quotes, resolved words, numbers, dates, odd characters
        ('"a\\tb"', None),
        ("'it''s'", None),
        ('"say "hi""', None),
        ("yes", None),
        ("Off", None),
        ("null", None),
        ("12", None),
        ("2024-01-02", None),
        (".inf", None),
        ("a b", None),
        ('"tab\there"', None),
        ('"\ufeffbom"', None),
        ('"a', None),
        ("'", None),
    ],
)
def test_quick_item_value_examples(raw: str, expected: str | None) -> None:
    assert quick_item_value(raw) == expected
    if expected is not None:
        assert yaml_item(raw) == expected


@given(st.text(max_size=12))
def test_a_quick_reading_is_yamls_reading(inner: str) -> None:
    for raw in (f'"{inner}"', f"'{inner}'", inner):
        quick = quick_item_value(raw)
        if quick is not None:
            assert yaml_item(raw) == quick


@pytest.mark.parametrize(
    ("paths", "heavy", "expected"),
    [
        (list("abcdefg"), list("XYZ"), list("XabYcdeZfg")),
        (list("ab"), [], list("ab")),
        ([], ["X"], ["X"]),
        (list("a"), list("XYZ"), list("XYaZ")),
    ],
)
def test_heavy_items_are_spread_among_the_others(
    paths: list[str], heavy: list[str], expected: list[str]
) -> None:
    assert _interleaved(paths, heavy) == expected
