import pytest

from vaulttools.edits import Edit, apply_edits
from vaulttools.errors import EditConflict


@pytest.mark.parametrize(
    ("text", "edits", "expected"),
    [
        ("abc", [], "abc"),  # no-op
        ("abc", [Edit(1, 2, "b", "b")], "abc"),  # old == new is dropped
        ("abc", [Edit(1, 2, "b", "XY")], "aXYc"),
        ("[[a]] [[a]]", [Edit(8, 9, "a", "b"), Edit(2, 3, "a", "b")], "[[b]] [[b]]"),  # any order
        ("abc", [Edit(0, 0, "", ">")], ">abc"),  # insertion
        ("abc", [Edit(3, 3, "", "\n")], "abc\n"),  # append
        ("a\r\nb", [Edit(3, 4, "b", "c")], "a\r\nc"),
    ],
)
def test_apply_edits(text: str, edits: list[Edit], expected: str) -> None:
    assert apply_edits(text, edits) == expected


def test_stale_edit_is_refused() -> None:
    with pytest.raises(EditConflict, match="changed since it was read"):
        apply_edits("abc", [Edit(0, 1, "x", "y")], path="n.md")


def test_overlapping_edits_are_refused() -> None:
    with pytest.raises(EditConflict, match="overlap"):
        apply_edits("abcdef", [Edit(0, 3, "abc", "x"), Edit(2, 4, "cd", "y")])
