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


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        ([Edit(0, 1, "x", "b")], "the text at offset 0 changed since it was read (expected 'x')"),
        ([Edit(0, 2, "ab", "X"), Edit(1, 3, "bc", "Y")], "two edits overlap at offset 1"),
    ],
)
def test_a_conflict_carries_its_file_and_bare_reason(edits: list[Edit], reason: str) -> None:
    # normalize reports the reason of a skipped note from these fields, never by taking the message apart.
    with pytest.raises(EditConflict) as raised:
        apply_edits("abc", edits, path="a.md")
    assert (raised.value.path, raised.value.reason) == ("a.md", reason)
    assert raised.value.message.startswith(f"a.md: {reason}; ")


def test_a_conflict_raised_without_in_file_has_no_reason() -> None:
    error = EditConflict("a.md: something else")
    assert (error.path, error.reason, error.message) == (None, None, "a.md: something else")
