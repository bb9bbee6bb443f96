"""`rename`'s byte prefilter: the fast `in` test gives the trie regex's answers, and planning with the
prefilter gives the plan of planning every note (no link the slow path rewrites is missed).

Hostile spellings: letter case, NFC and NFD, `%20` and hand-written `%2D` escapes in markdown links,
path-qualified and `.md` targets, `\\|` in tables, CRLF, a BOM, frontmatter lists.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools import rename
from vaulttools.rename import (
    FEW_SPELLINGS,
    mention_test,
    name_spellings,
    plan_renames,
    searches_in_one_pass,
    spelling_pattern,
    spelling_test,
)
from vaulttools.vault import Vault

STEMS = [
    ["concept-hub"],
    ["Old Name"],
    ["Café"],
    [unicodedata.normalize("NFD", "Café Crème")],
    ["日本語"],
    ["a"],
    ["concept-hub", "Old Name", "Café"],
    [f"note-{i}" for i in range(FEW_SPELLINGS + 2)],  # past the `in` limit: the trie regex
]
TEXTS = [
    b"",
    b"[[concept-hub]]",
    b"[[CONCEPT-HUB|x]]",
    b"[[f/Concept-Hub.md#h]]",
    b"[t](old%20name.md)",
    b"[t](Old%20Name.md)",
    b"| [[old name\\|alias]] |",
    b'\xef\xbb\xbf---\r\nrelated: ["concept-hub"]\r\n---\r\n',
    "[[CAFÉ]]".encode(),
    unicodedata.normalize("NFD", "[[café crème]]").encode(),
    "[[日本語]]".encode(),
    b"concept-hu b, old-name, caf\xc3",
    b"[[note-9]] [[note-10]]",
    b"nothing here",
]


@pytest.mark.parametrize("stems", STEMS, ids=lambda stems: "+".join(stems)[:30])
@pytest.mark.parametrize("text", TEXTS)
def test_mention_test_answers_as_the_trie_regex(stems: list[str], text: bytes) -> None:
    folded = text.lower()
    assert bool(mention_test(stems)(folded)) == bool(spelling_pattern(stems).search(folded))


def test_mention_test_uses_in_for_few_spellings_and_the_automaton_for_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ahocorasick

    assert len(name_spellings("concept-hub")) == 1
    assert mention_test(["concept-hub"])(b"see [[concept-hub]]")
    assert not mention_test(["concept-hub"])(b"see [[concept-hu]]")
    many = [f"note-{i}" for i in range(FEW_SPELLINGS + 1)]
    with mock.patch("ahocorasick.Automaton", wraps=ahocorasick.Automaton) as automaton:
        assert mention_test(many)(b"see [[note-8]]") and not mention_test(many)(b"see [[note-]]")
    assert automaton.call_count == 2
    # Without the package (an interpreter it has no wheel for), the trie regex answers.
    monkeypatch.setitem(sys.modules, "ahocorasick", None)
    assert isinstance(getattr(mention_test(many), "__self__", None), re.Pattern)
    assert mention_test(many)(b"see [[note-8]]") and not mention_test(many)(b"see [[note-]]")


@pytest.mark.parametrize("many", [False, True])
@pytest.mark.parametrize(
    ("raw", "spells"),
    [
        (b"see [[Concept-Hub]]", True),  # any letter case
        (b"see [x](concept%2Dhub.md)", True),  # a hand-written escape, decoded
        (b"see [x](concept%2Dhu.md)", False),
        (b"concept hub", False),
        (b"", False),
    ],
)
def test_spelling_test(raw: bytes, spells: bool, many: bool) -> None:
    stems = ["concept-hub", *(f"other-{i}" for i in range(FEW_SPELLINGS if many else 0))]
    assert searches_in_one_pass(stems) is many
    assert spelling_test(stems)(raw) is spells


def test_an_empty_name_among_many_leaves_the_trie_regex_to_answer() -> None:
    """The automaton refuses an empty spelling; the regex matches it everywhere, as a note names "" anyway."""
    many = ["", *(f"note-{i}" for i in range(FEW_SPELLINGS + 1))]
    assert isinstance(getattr(mention_test(many), "__self__", None), re.Pattern)
    assert mention_test(many)(b"anything")


MANY = [f"member-{i}" for i in range(FEW_SPELLINGS + 1)] + ["a-much-longer-member-name-" * 30]


@pytest.mark.parametrize("size", [511, 512, 513, 3000, 40_000])
@pytest.mark.parametrize("name", ["member-3", MANY[-1]])
def test_the_automaton_finds_a_name_anywhere_in_a_long_note(size: int, name: str) -> None:
    """A name at the start, at the end and around every power-of-two offset of a note of `size` bytes, among
    bytes outside ASCII (read as Latin-1 characters, never decoded as UTF-8)."""
    test = mention_test(MANY)
    spelled = name.encode()
    edges = [2**k for k in range(9, 17) if 2**k < size]
    places = {0, max(0, size - len(spelled))}
    places |= {
        at
        for edge in edges
        for at in range(edge - len(spelled) - 1, edge + 2)
        if 0 <= at <= size - len(spelled)
    }
    for at in sorted(places):
        text = bytearray(b"\xc3\xa9x\xff" * (size // 4 + 1))[:size]
        text[at : at + len(spelled)] = spelled
        assert test(bytes(text)), (size, at)
        assert not test(bytes(text).replace(spelled, spelled[:-1] + b"#")), (size, at)
    assert not test(b"\xc3\xa9x\xff" * (size // 4))


@settings(max_examples=200, deadline=None)
@given(
    stems=st.lists(
        st.text(alphabet="aAbB-é e\u0301%1日", min_size=1, max_size=4),
        min_size=FEW_SPELLINGS + 1,
        max_size=30,
    ),
    text=st.text(alphabet="aAbB-é e\u0301%1日[]()|\\\r\n", max_size=60),
)
def test_the_automaton_answers_as_the_trie_regex(stems: list[str], text: str) -> None:
    folded = text.encode("utf-8").lower()
    assert bool(mention_test(stems)(folded)) == bool(spelling_pattern(stems).search(folded))


@settings(max_examples=200, deadline=None)
@given(
    stems=st.lists(st.text(alphabet="aAbB-é e\u0301%1日", min_size=1, max_size=6), min_size=1, max_size=4),
    text=st.text(alphabet="aAbB-é e\u0301%1日[]()|\\\r\n", max_size=40),
)
def test_mention_test_is_the_trie_regex(stems: list[str], text: str) -> None:
    folded = text.encode("utf-8").lower()
    assert bool(mention_test(stems)(folded)) == bool(spelling_pattern(stems).search(folded))


# Notes that link `f/Old Name.md` in every hostile form, and notes that only look as if they did.
LINKING_NOTES = {
    "plain.md": "[[Old Name]]\n",
    "case.md": "[[OLD NAME|x]] and [[old name#h]]\n",
    "path.md": "[[f/Old Name.md]] ![[/f/Old Name]]\n",
    "md-link.md": "[t](f/Old%20Name.md) [u](<f/Old Name.md#h>)\n",
    "escaped.md": "[t](f/Old%20N%61me.md) [v](f/OLD%20NAME.md)\n",
    "table.md": "| a | [[Old Name\\|alias]] |\n",
    "crlf.md": '---\r\nrelated: ["Old Name"]\r\n---\r\n[[Old Name]]\r\n',
    "bom.md": "\ufeff---\nrelated:\n  - Old Name\n---\n[[Old Name]]\n",
    "nfd.md": unicodedata.normalize("NFD", "[[Old Name]] café\n"),
    "other.md": "[[Old Named]] [[Old-Name]] OldName\n",
    "unrelated.md": "[[Something]]\n",
}


def _write(root: Path, files: dict[str, str]) -> Vault:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))
    return Vault(root)


def _changes(vault: Vault) -> dict[str, tuple[bytes | None, str | None]]:
    plan = plan_renames(vault, [("Old Name", "New Name")])
    return {change.path: (change.new, change.new_path) for change in plan.changes}


@pytest.mark.parametrize("name", sorted(LINKING_NOTES))
def test_the_prefilter_keeps_every_note_the_slow_path_rewrites(tmp_path: Path, name: str) -> None:
    files = {"f/Old Name.md": "# Old Name\n", name: LINKING_NOTES[name]}
    fast = _changes(_write(tmp_path / "fast", files))
    with mock.patch.object(rename, "mention_test", return_value=lambda folded: True):
        slow = _changes(_write(tmp_path / "slow", files))
    assert fast == slow
    rewritten = name not in ("other.md", "unrelated.md")
    assert (name in fast) == rewritten


# --- links that name no renamed file are skipped without resolving them ----------------------------------

# (files of the vault, renames): every link form around the renamed names, in notes that stay and in notes
# that move, with traps (a new name another note already has, `.md.md`, attachments, folders, relative
# and absolute paths, `..` and trailing slashes, letter case, NFD).
SOURCE = (
    "[[Old Name]] [[old name|x]] [[f/Old Name.md#h]] ![[/f/Old Name]] [t](f/Old%20Name.md) [u](../f/Old%20Name.md)\n"
    "[[./f/Old Name]] [[f/x/../Old Name]] [[f/Old Name/]] [[Old Name.md]] [[Report.md]] [[New Name]]\n"
    "[[img.png]] ![[f/img.png]] [[Other]] [[g/Other]] [["
    + unicodedata.normalize("NFD", "Café")
    + "]] [[café]]\n"
    "| [[Old Name\\|alias]] | [[Nowhere]] | [[]] | [[#Heading]] |\n"
)
SKIP_SCENARIOS = {
    "note": (
        {"f/Old Name.md": "# Old\n", "src.md": SOURCE, "g/src.md": SOURCE, "g/Other.md": "x\n"},
        [("Old Name", "Renamed")],
    ),
    "new-name-taken": (
        {"f/Old Name.md": "# Old\n", "g/New Name.md": "x\n", "src.md": SOURCE, "g/src.md": SOURCE},
        [("Old Name", "New Name")],
    ),
    "md-md": ({"Report.md.md": "x\n", "src.md": SOURCE, "f/Old Name.md": "x\n"}, [("Report.md.md", "Paper")]),
    "attachment": ({"f/img.png": "PNG", "src.md": SOURCE, "g/src.md": SOURCE}, [("f/img.png", "picture")]),
    "accented": ({"Café.md": "x\n", "src.md": SOURCE, "g/src.md": SOURCE}, [("Café", "Coffee")]),
    "moved-source": (
        {"f/Old Name.md": "x\n", "src.md": SOURCE, "g/Other.md": "x\n"},
        [("src", "deep/er/src"), ("Old Name", "Renamed")],
    ),
    "folder": (
        {"f/Old Name.md": "x\n", "f/img.png": "PNG", "src.md": SOURCE, "f/src2.md": SOURCE},
        [("f", "h/f2")],
    ),
}


def _plan_json(vault: Vault, pairs: list[tuple[str, str]]) -> tuple[dict, dict]:
    plan = plan_renames(vault, pairs)
    return {c.path: (c.new, c.new_path) for c in plan.changes}, plan.report.to_json()


@pytest.mark.parametrize("scenario", sorted(SKIP_SCENARIOS))
def test_skipping_links_that_name_no_renamed_file_changes_nothing(tmp_path: Path, scenario: str) -> None:
    files, pairs = SKIP_SCENARIOS[scenario]
    fast = _plan_json(_write(tmp_path / "fast", files), pairs)
    never = mock.patch.object(rename.RenameContext, "reaches_no_renamed_name", lambda self, target: False)
    with never:
        slow = _plan_json(_write(tmp_path / "slow", files), pairs)
    assert fast == slow
    assert fast[0], "each scenario rewrites something"


@pytest.mark.parametrize(
    ("target", "skipped"),
    [
        ("Other", True),
        ("g/Other.md", True),
        ("Old Name", False),
        ("OLD NAME.md", False),
        ("f/Old Name", False),
        ("/f/Old Name", False),
        ("./Other", False),  # relative: never skipped
        ("../g/Other", False),
        ("", False),
        ("Renamed", False),  # the new name: links to another note of that name may change meaning
        (unicodedata.normalize("NFD", "Olé"), False),
    ],
)
def test_reaches_no_renamed_name_examples(target: str, skipped: bool) -> None:
    from vaulttools.resolve import LinkIndex

    index = LinkIndex(["f/Old Name.md", "g/Other.md", "Olé.md"])
    moved = {"f/Old Name.md": "f/Renamed.md", "Olé.md": "Ole2.md"}
    context = rename.RenameContext(index, index, moved)
    assert context.reaches_no_renamed_name(target) is skipped
